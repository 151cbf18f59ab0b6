/* Registry of profiled threads: each has an entry with its sampling event
 * (perf fd or POSIX timer), its sample ring and its cached stack bounds.
 *
 * Entries are never freed while the library is loaded (the signal handler
 * may hold a pointer); a thread that exits releases its event and, once
 * the consumer has drained its ring and freed the slot, the entry is
 * reused.
 *
 * A thread registers itself (from the pthread_create wrapper, or at start)
 * and finds its entry through an initial-exec TLS pointer. Threads that
 * existed before start (and threads made by raw clone) are registered by
 * tid from /proc/self/task; their handler finds the entry by tid once. */
#ifndef SPANPROF_THREADS_H
#define SPANPROF_THREADS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "abi/ring.h"

enum sp_thread_state {
	SP_THREAD_FREE = 0,   /* reusable */
	SP_THREAD_CLAIMED,    /* being set up */
	SP_THREAD_LIVE,       /* sampled */
	SP_THREAD_DEAD,       /* thread gone; ring waits for the worker */
};

enum sp_thread_engine {
	SP_TE_NONE = 0,
	SP_TE_PERF,
	SP_TE_TIMER,
	SP_TE_OFF,            /* CPU sampling off (SPANPROF_CPU=0): a ring for the heap hooks only */
};

typedef struct sp_thread {
	_Atomic int state;
	pid_t tid;
	int engine;             /* enum sp_thread_engine */
	int perf_fd;
	uint64_t perf_id;
	timer_t timer;
	sp_ring *ring;          /* in the shared arena's slot `slot` */
	int slot;               /* -1: none */
	_Atomic uintptr_t stack_lo, stack_hi; /* [lo, hi); 0 when unknown */
	bool self_registered;   /* TLS points here; exit is seen */
	/* Its mask blocks our signal: engine paused (sighandler.c). */
	_Atomic int mask_paused;
	uint64_t watch_cpu_ns, watch_seen; /* the worker's last look (sp_signal_watch) */
	struct sp_thread *next; /* all entries, append-only */
} sp_thread;

/* The calling thread's entry (NULL when not registered). */
extern __thread sp_thread *sp_tls_thread __attribute__((tls_model("initial-exec")));
/* The tid sp_tls_thread was registered for: an entry freed by a stop and
 * claimed by another thread after a restart is not this thread's. */
extern __thread pid_t sp_tls_tid __attribute__((tls_model("initial-exec")));
/* Non-zero on the profiler's own threads (never sampled). */
extern __thread int sp_tls_internal __attribute__((tls_model("initial-exec")));

/* Everything the handler and registration need; set by sp_threads_setup(). */
typedef struct sp_capture_params {
	int signo;
	uint64_t period_ns;
	size_t stack_bytes;
	size_t ring_bytes;
	int engine;             /* enum sp_thread_engine for new threads */
	bool engine_fixed;      /* SPANPROF_ENGINE=perf: no fallback */
	bool cpu;               /* false: threads get rings but no sampling event */
} sp_capture_params;

extern sp_capture_params sp_capture;
extern _Atomic int sp_capture_armed; /* 0: handler drops everything */
extern pid_t sp_capture_pid;         /* getpid(), updated in fork children */

void sp_threads_setup(const sp_capture_params *p);

/* Register the calling thread (stack bounds via pthread_getattr_np).
 * Returns 0 or a negative errno (message logged once). */
int sp_threads_register_self(void);
/* Register another thread of this process by tid (bounds unknown). */
int sp_threads_register_tid(pid_t tid);
/* Register every thread in /proc/self/task not yet known. */
void sp_threads_scan(void);
/* The calling thread is exiting: stop its event, leave its ring to drain. */
void sp_threads_unregister_self(void);

/* Async-signal-safe: every entry, in a list that only grows; follow ->next. */
sp_thread *sp_threads_first(void);
/* Async-signal-safe: the LIVE entry of tid, or NULL. */
sp_thread *sp_threads_find(pid_t tid);

/* Threads registered by tid that exited (checked with tgkill 0) become
 * DEAD; called at thread starts, at most once a second. */
void sp_threads_reap_foreign(void);

/* Stop every event (the fds stay open) / close them all (at stop). */
void sp_threads_pause_all(void);
/* In the signal handler, on the consumer's nudge: re-arm the calling
 * thread's perf event if it is no longer ours. */
void sp_threads_rearm_self(void);
void sp_threads_disarm_all(void);
/* After stop: every entry FREE, no ring (the next start has a new arena). */
void sp_threads_forget_all(void);

/* Engine summary for telemetry: "perf_event cpu-clock", "posix timer" or
 * both joined by '+'. */
const char *sp_threads_engine_name(void);
/* Why new threads use timers ("" when they use perf events). */
const char *sp_threads_engine_reason(void);
/* After the start line: later engine switches are logged as they happen. */
void sp_threads_set_announced(bool on);


/* fork: prepare / parent / child. The child drops every inherited entry
 * (closing the parent's perf fds, discarding undrained samples) and
 * registers its only thread afresh. */
void sp_threads_atfork_prepare(void);
void sp_threads_atfork_parent(void);
void sp_threads_atfork_child(void);

/* Around an exec of this image (preload_exec.c): pause the calling thread's
 * engine and drop its queued sample signals, so the new image, whose
 * handlers are SIG_DFL, is not killed by one; resume if exec fails. */
void sp_threads_exec_prepare(void);
void sp_threads_exec_failed(void);

/* Signal every event with signo from now on (sighandler.c moves off a
 * number the application took); new threads get it too. */
void sp_threads_resignal(int signo);
/* Pause (or resume) t's engine because its mask blocks our signal, and
 * say so in t->mask_paused; t NULL: the calling thread. */
void sp_threads_mask_pause(sp_thread *t, bool pause);

#endif
