/* Start/stop orchestration; see profiler.h. */
#include "capture/profiler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "capture/capture.h"
#include "capture/capture_link.h"
#include "capture/heap.h"
#include "abi/link_proto.h"
#include "base/log.h"
#include "capture/sighandler.h"
#include "capture/threads.h"

/* Thread slots in the shared arena: threads beyond are not sampled (and
 * counted). 2,048 rings of 128 KiB are 264 MiB of address space, of which
 * only the pages a ring has filled are ever backed. */
#define SP_ARENA_SLOTS 2048

static pthread_mutex_t life_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int running;
static sp_config cfg;
static pthread_key_t exit_key;
static bool once_done;

static void on_thread_exit_key(void *v)
{
	(void)v;
	sp_threads_unregister_self();
}

static void atfork_prepare(void)
{
	if (atomic_load(&running))
		sp_threads_atfork_prepare();
}

static void atfork_parent(void)
{
	if (atomic_load(&running))
		sp_threads_atfork_parent();
}

static void atfork_child(void)
{
	pthread_mutex_init(&life_mu, NULL);
	sp_heap_atfork_child();
	sp_signal_atfork_child();
	if (!atomic_load(&running))
		return;
	/* Own events and own arena, registered with the same consumer; the
	 * parent's rings stay the parent's. */
	sp_threads_atfork_child();
	if (!cfg.follow_fork || sp_link_atfork_child() < 0) {
		atomic_store(&sp_capture_armed, 0);
		atomic_store(&running, 0);
		sp_link_stop();
		return;
	}
	sp_threads_register_self();
	sp_signal_mask_check(); /* forked with signals blocked (as around a spawn) */
	pthread_setspecific(exit_key, (void *)1);
}

/* The thread's mask is its creator's, and is left as it is: when it blocks
 * our signal the thread is not sampled until it unblocks it. */
static void register_self(void)
{
	if (sp_threads_register_self() == 0)
		pthread_setspecific(exit_key, (void *)1);
	sp_signal_mask_check();
}

int sp_profiler_start(const spanprof_options *opts)
{
	sp_capture_params p;
	sp_error err = { "" };
	const char *engine;
	int r = 0, signo;

	pthread_mutex_lock(&life_mu);
	sp_tls_heap_busy++; /* the profiler's own allocations are not sampled */
	if (atomic_load(&running)) {
		r = -EALREADY;
		goto out;
	}
	sp_config_load(&cfg, opts);
	sp_log_set_quiet(cfg.quiet);
	/* The consumer writes the counters file; the handler's own timing (two
	 * clock reads a sample) fills the arena's histogram only when asked. */
	sp_handler_timing = cfg.debug_counts[0] != '\0';
	if (!once_done) {
		if (pthread_key_create(&exit_key, on_thread_exit_key) ||
		    pthread_atfork(atfork_prepare, atfork_parent, atfork_child)) {
			sp_log("cannot set up thread and fork hooks; profiling is off");
			r = -ENOMEM;
			goto out;
		}
		once_done = true;
	}
	/* Kept across stop/start, unless the application took it meanwhile. */
	signo = sp_signal_current();
	if (!signo || !sp_signal_guarded(signo)) {
		signo = sp_signal_pick(cfg.signo);
		if (!signo) {
			sp_log("no free real-time signal (the application uses them all); profiling is off");
			r = -EBUSY;
			goto out;
		}
		if (cfg.signo && cfg.signo != signo)
			sp_log("SPANPROF_SIGNAL=%d is not a free real-time signal; using %d",
			       cfg.signo, signo);
		r = sp_signal_install(signo);
		if (r) {
			sp_log("cannot install the handler for signal %d: %s; profiling is off",
			       signo, strerror(-r));
			goto out;
		}
	}
	/* With perf events, a full real-time queue turns into SIGIO. */
	sp_signal_guard_sigio();

	memset(&p, 0, sizeof(p));
	p.signo = signo;
	p.period_ns = 1000000000ull / (unsigned)cfg.hz;
	p.stack_bytes = cfg.stack_bytes;
	p.ring_bytes = cfg.ring_bytes;
	p.engine = cfg.engine == SP_ENGINE_TIMER ? SP_TE_TIMER : SP_TE_PERF;
	p.engine_fixed = cfg.engine == SP_ENGINE_PERF;
	p.cpu = cfg.cpu;
	sp_threads_setup(&p);
	sp_threads_set_announced(false);
	r = sp_link_start(&cfg, SP_ARENA_SLOTS, &err);
	if (r) {
		sp_log("%s; profiling is off", err.msg);
		goto out;
	}
	atomic_store(&sp_link_arena()->signo, signo);
	atomic_store(&sp_capture_armed, 1);

	register_self();
	sp_threads_scan();
	atomic_store(&running, 1);
	if (cfg.heap) {
		sp_heap_check_allocator(sp_link_arena()->heap_note,
					sizeof(sp_link_arena()->heap_note));
		sp_heap_arm(cfg.heap_rate);
	}

	engine = sp_threads_engine_name();
	/* Registered with a host-wide agent: its output directory, not ours. */
	const char *addr = sp_getenv(SP_CONSUMER_ENV), *out = cfg.output_dir;

	if (addr && !strncmp(addr, "@spanprof-agent-", 16))
		out = "the host-wide agent's output";
	if (cfg.engine == SP_ENGINE_TIMER)
		sp_log_info("sampling at %d Hz with POSIX CPU timers (SPANPROF_ENGINE=timer); "
			    "profiles to %s every %d s", cfg.hz, out,
			    cfg.upload_interval_s);
	else if (sp_threads_engine_reason()[0])
		sp_log_info("sampling at %d Hz with POSIX CPU timers, because %s; "
			    "profiles to %s every %d s", cfg.hz, sp_threads_engine_reason(),
			    out, cfg.upload_interval_s);
	else
		sp_log_info("sampling at %d Hz with %s (one fd per thread); profiles to %s every %d s",
			    cfg.hz, engine, out, cfg.upload_interval_s);
	if (sp_perf_user_only())
		sp_log("%s", SP_PERF_USER_ONLY_HINT);
	if (cfg.heap)
		sp_log_info("sampling allocations every %lld bytes on average%s%s",
			    (long long)cfg.heap_rate, sp_link_arena()->heap_note[0] ? ": " : "",
			    sp_link_arena()->heap_note);
	sp_threads_set_announced(true);
out:
	sp_tls_heap_busy--;
	pthread_mutex_unlock(&life_mu);
	return r;
}

int sp_profiler_stop(void)
{
	int r = 0;

	pthread_mutex_lock(&life_mu);
	if (!atomic_load(&running)) {
		r = -ESRCH;
		goto out;
	}
	/* No new samples; what is in the rings goes into the last interval,
	 * written by the consumer (waited for, within the flush timeout). */
	sp_heap_disarm();
	sp_threads_disarm_all();
	atomic_store(&sp_capture_armed, 0);
	sp_link_set_state(SP_SHM_STOPPED, cfg.flush_timeout_ms);
	sp_threads_forget_all();
	sp_link_stop();
	atomic_store(&running, 0);
out:
	pthread_mutex_unlock(&life_mu);
	return r;
}

bool sp_profiler_running(void)
{
	return atomic_load(&running);
}

const sp_config *sp_profiler_config(void)
{
	return &cfg;
}

int sp_profiler_signo(void)
{
	return sp_signal_current();
}

/* What a worker thread used to do about once a second, now done by the
 * threads the application starts (the library has none of its own): drop
 * entries of threads that exited unseen, and look at masks for raw blocks
 * of our signal. */
static void maintenance(void)
{
	static _Atomic int64_t last;
	int64_t now = sp_mono_ns();

	if (now - atomic_load(&last) < 1000000000)
		return;
	atomic_store(&last, now);
	sp_threads_reap_foreign();
	sp_signal_watch();
}

void sp_profiler_thread_start(void)
{
	if (atomic_load(&running) && !sp_tls_internal) {
		sp_tls_heap_busy++;
		maintenance();
		register_self();
		sp_tls_heap_busy--;
	}
}

void sp_profiler_thread_exit(void)
{
	sp_threads_unregister_self();
}

void sp_profiler_before_dlclose(void)
{
	if (atomic_load(&running))
		sp_link_before_dlclose();
}

void sp_profiler_modules_changed(void)
{
	if (atomic_load(&running))
		sp_link_scan_modules();
}

/* Async-signal-safe: the process is about to die of the signal; the
 * consumer would drain after its death anyway, this only lets the files be
 * there when the exit status is. */
void sp_profiler_flush_from_signal(void)
{
	if (!atomic_load(&running))
		return;
	atomic_store(&sp_capture_armed, 0);
	sp_link_set_state(SP_SHM_EXITED, cfg.flush_timeout_ms);
}

void sp_profiler_exit(void)
{
	if (!atomic_load(&running))
		return;
	sp_heap_disarm();
	atomic_store(&sp_capture_armed, 0);
	sp_threads_disarm_all();
	sp_link_set_state(SP_SHM_EXITED, cfg.flush_timeout_ms);
	atomic_store(&running, 0);
}
