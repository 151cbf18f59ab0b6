/* The sampling signal handler. It only copies: registers from the signal
 * context, a bounded slice of the stack, tid, time and the span slot, into
 * the thread's ring. No allocation, lock, stdio or unwinding here.
 * Also which signal is ours (sighandler.h): picking it, moving off a number
 * the application takes, the SIGIO guard, and the look at masks (at thread starts)
 * set behind our back. */
#include "capture/sighandler.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "base/clock.h"
#include "capture/capture.h"
#include "base/log.h"
#include "abi/raw_sample.h"
#include "abi/ring.h"
#include "abi/span.h"
#include "capture/threads.h"
#include "capture/capture_link.h"
#include "capture/heap.h"

/* glibc's own entry: the preload layer interposes sigaction() and would
 * take our own registration for an application's. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

#define SIG_BIT(s) (1ULL << ((s) - 1))

bool sp_handler_timing;
static _Atomic int cur_sig;          /* the sampling signal */
static _Atomic uint64_t guarded;     /* our handler is the real action */
static _Atomic uint64_t claimed;     /* the application's: never sampled on */
/* What the application set on a guarded signal (NULL: SIG_DFL); two slots
 * so a handler reading one is not torn by the next update. */
static struct sigaction view_slots[65][2];
static _Atomic(struct sigaction *) view[65];
static _Atomic int view_next[65];
static _Atomic uint64_t sigio_dropped;
static _Atomic int overflowed;       /* a kernel SIGIO since the last watch */
static _Atomic int move_busy;        /* the move lock */
static _Atomic int moved_from, moved_to; /* the last move, for the worker's log line */
static int logged_move_to;
static bool logged_overflow;

static bool in_range(int sig)
{
	return sig > 0 && sig <= 64;
}

/* The calling thread's mask, bypassing the interposed sigprocmask. */
static void own_mask(sigset_t *set)
{
	sigemptyset(set);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, set, _NSIG / 8);
}

static bool usable(int s, const sigset_t *avoid, const sigset_t *mine)
{
	struct sigaction old;

	if ((atomic_load(&claimed) | atomic_load(&guarded)) & SIG_BIT(s))
		return false;
	if ((avoid && sigismember(avoid, s)) || sigismember(mine, s))
		return false;
	if (__sigaction(s, NULL, &old))
		return false;
	return old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO);
}

/* From the top: applications and libraries tend to take SIGRTMIN+n, and
 * SIGRTMAX, SIGRTMAX-1. */
static int pick_free(const sigset_t *avoid, const sigset_t *mine)
{
	for (int s = SIGRTMAX - 2; s > SIGRTMIN + 1; s--)
		if (usable(s, avoid, mine))
			return s;
	return 0;
}

int sp_signal_pick(int wanted)
{
	sigset_t mine;

	own_mask(&mine);
	/* A mask inherited across exec that blocks a signal says it is taken. */
	if (wanted >= SIGRTMIN && wanted <= SIGRTMAX && usable(wanted, NULL, &mine))
		return wanted;
	return pick_free(NULL, &mine);
}

int sp_signal_current(void)
{
	return atomic_load(&cur_sig);
}

bool sp_signal_guarded(int sig)
{
	return in_range(sig) && (atomic_load(&guarded) & SIG_BIT(sig));
}

void sp_signal_claim(int sig)
{
	if (in_range(sig))
		atomic_fetch_or(&claimed, SIG_BIT(sig));
}

void sp_signal_claim_set(const sigset_t *set)
{
	for (int s = SIGRTMIN; s <= SIGRTMAX && s <= 64; s++)
		if (sigismember(set, s))
			sp_signal_claim(s);
}

/* Not through memcpy: ASan's interceptor would check the raw stack
 * bytes (red zones of live frames) and report them. */
__attribute__((no_sanitize_address)) static void copy_bytes(void *dst, const void *src,
							     size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static void fill_regs(sp_raw_sample *s, const ucontext_t *uc)
{
	const greg_t *g = uc->uc_mcontext.gregs;

	/* DWARF numbering (raw_sample.h), from the ucontext REG_* layout. */
	s->regs[0] = (uint64_t)g[REG_RAX];
	s->regs[1] = (uint64_t)g[REG_RDX];
	s->regs[2] = (uint64_t)g[REG_RCX];
	s->regs[3] = (uint64_t)g[REG_RBX];
	s->regs[4] = (uint64_t)g[REG_RSI];
	s->regs[5] = (uint64_t)g[REG_RDI];
	s->regs[6] = (uint64_t)g[REG_RBP];
	s->regs[7] = (uint64_t)g[REG_RSP];
	s->regs[8] = (uint64_t)g[REG_R8];
	s->regs[9] = (uint64_t)g[REG_R9];
	s->regs[10] = (uint64_t)g[REG_R10];
	s->regs[11] = (uint64_t)g[REG_R11];
	s->regs[12] = (uint64_t)g[REG_R12];
	s->regs[13] = (uint64_t)g[REG_R13];
	s->regs[14] = (uint64_t)g[REG_R14];
	s->regs[15] = (uint64_t)g[REG_R15];
	s->regs[16] = (uint64_t)g[REG_RIP];
}

size_t sp_stack_slice(const sp_thread *t, uint64_t sp, uint64_t *start, bool *in_stack)
{
	uintptr_t lo = atomic_load_explicit(&t->stack_lo, memory_order_relaxed);
	uintptr_t hi = atomic_load_explicit(&t->stack_hi, memory_order_relaxed);
	size_t max = sp_capture.stack_bytes;

	*in_stack = lo < hi && sp >= lo && sp < hi;
	if (!*in_stack)
		return max;
	if (*start < lo)
		*start = lo;
	return hi - *start < max ? hi - *start : max;
}

uint32_t sp_stack_copy(uint8_t *buf, uint64_t start, size_t len, bool in_stack)
{
	struct iovec local = { buf, len }, remote = { (void *)start, len };
	ssize_t n;

	if (in_stack) {
		copy_bytes(buf, (const void *)start, len);
		return (uint32_t)len;
	}
	/* sigaltstack, a coroutine stack, or bounds not known: read through
	 * the kernel so an unmapped page cannot fault. */
	n = syscall(SYS_process_vm_readv, sp_capture_pid, &local, 1UL, &remote, 1UL, 0UL);
	return n > 0 ? (uint32_t)n : 0;
}

sp_raw_sample *sp_capture_reserve(sp_thread *t, size_t stack_len, uint8_t **stack_buf,
				  uint32_t kind, uint64_t weight, uint64_t addr, uint32_t flags)
{
	sp_raw_sample *s = sp_ring_reserve(t->ring, stack_len, stack_buf);

	if (!s) {
		/* Full: the consumer is slow, or gone (then say so, once). */
		if (sp_link_consumer_lost()) {
			sp_shm_header *h = sp_link_arena();
			if (h)
				atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
		}
		return NULL;
	}
	s->time_ns = (uint64_t)sp_mono_ns();
	s->pid = sp_capture_pid;
	s->tid = t->tid;
	s->kind = kind;
	s->weight = weight;
	s->count = 1;
	s->addr = addr;
	s->flags = flags;
	s->stack = NULL;
	s->stack_len = 0;
	return s;
}

void sp_capture_publish(sp_thread *t)
{
	/* Once per fill-up: the consumer sleeps until then (or its plan). */
	if (sp_ring_commit(t->ring))
		sp_link_wake();
}

static void take_sample(sp_thread *t, const ucontext_t *uc, uint64_t weight)
{
	uint64_t sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	uint64_t start = sp - SP_REDZONE;
	bool in_stack;
	size_t len = sp_stack_slice(t, sp, &start, &in_stack);
	sp_raw_sample *s;
	uint8_t *buf;

	s = sp_capture_reserve(t, len, &buf, SP_SAMPLE_CPU, weight, 0, 0);
	if (!s)
		return;
	fill_regs(s, uc);
	s->stack_base = start;
	s->stack_len = sp_stack_copy(buf, start, len, in_stack);
	sp_span_read_current(&s->span);
	sp_capture_publish(t);
}

/* One of our perf events, by descriptor: the calling thread's, or any
 * thread's (an entry being torn down, a signal that was queued late). */
static bool our_perf_fd(int fd)
{
	sp_thread *t = sp_tls_thread;

	if (fd < 0)
		return false;
	if (t && t->engine == SP_TE_PERF && t->perf_fd == fd)
		return true;
	for (t = sp_threads_first(); t; t = t->next)
		if (t->engine == SP_TE_PERF && t->perf_fd == fd)
			return true;
	return false;
}

/* Only our sources: our timer (SI_TIMER with our cookie) or one of our
 * perf events (POLL_IN..POLL_HUP naming its descriptor). kill, sigqueue,
 * tgkill, the application's timers and its own O_ASYNC descriptors are the
 * application's. */
static bool from_our_event(const siginfo_t *si)
{
	if (si->si_code == SI_TIMER)
		return si->si_value.sival_ptr == SP_TIMER_COOKIE;
	return si->si_code >= POLL_IN && si->si_code <= POLL_HUP && our_perf_fd(si->si_fd);
}

/* The default action of a signal the application left at SIG_DFL, for one
 * it sent itself: the same death it would have without us. The signal is
 * blocked while this handler runs, so it is taken again on return. */
static void act_default(int sig)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	atomic_fetch_and(&guarded, ~SIG_BIT(sig));
	__sigaction(sig, &dfl, NULL);
	syscall(SYS_tgkill, getpid(), (pid_t)syscall(SYS_gettid), sig);
}

static void to_application(int sig, siginfo_t *si, void *ucv, int saved_errno)
{
	struct sigaction *v = atomic_load_explicit(&view[sig], memory_order_acquire);

	if (v && (v->sa_flags & SA_SIGINFO) && v->sa_sigaction) {
		errno = saved_errno;
		v->sa_sigaction(sig, si, ucv);
	} else if (v && v->sa_handler != SIG_DFL && v->sa_handler != SIG_IGN) {
		errno = saved_errno;
		v->sa_handler(sig);
	} else if ((!v || v->sa_handler == SIG_DFL) && sig != atomic_load(&cur_sig) &&
		   si->si_code <= 0) {
		/* On the sampling signal itself a stray one is dropped, as it
		 * always was: a late sample can look like anything there. */
		act_default(sig);
	}
}

static void on_signal(int sig, siginfo_t *si, void *ucv)
{
	int saved_errno = errno;
	uint64_t weight = sp_capture.period_ns;
	uint64_t t0 = 0;
	sp_thread *t;

	if (sig == SIGIO && sig != atomic_load_explicit(&cur_sig, memory_order_relaxed)) {
		/* The kernel's: a real-time queue overflow (SI_KERNEL; it does
		 * not say whose) or an O_ASYNC descriptor; either would have
		 * killed the process. Sent by someone: the default action. */
		if (si->si_code > 0) {
			atomic_fetch_add_explicit(&sigio_dropped, 1, memory_order_relaxed);
			atomic_store_explicit(&overflowed, 1, memory_order_relaxed);
		} else {
			to_application(sig, si, ucv, saved_errno);
		}
		goto out;
	}
	if (sp_handler_timing)
		t0 = (uint64_t)sp_mono_ns();
	if (si->si_code == SI_TKILL && sp_link_is_consumer(si->si_pid)) {
		/* The consumer's nudge: this thread runs but sends no samples. */
		sp_threads_rearm_self();
		goto out;
	}
	if (!from_our_event(si))
		goto not_ours;
	if (si->si_code == SI_TIMER && si->si_overrun > 0)
		weight *= 1 + (uint64_t)si->si_overrun;
	if (!atomic_load_explicit(&sp_capture_armed, memory_order_relaxed) || sp_tls_internal)
		goto out;
	t = sp_tls_thread;
	if (t && t->tid != sp_tls_tid)
		t = NULL;
	if (!t) {
		t = sp_threads_find((pid_t)syscall(SYS_gettid));
		if (!t) {
			sp_shm_header *h = sp_link_arena();
			if (h)
				atomic_fetch_add_explicit(&h->orphans, 1, memory_order_relaxed);
			goto out;
		}
		sp_tls_thread = t;
		sp_tls_tid = t->tid;
	}
	if (atomic_load_explicit(&t->state, memory_order_acquire) != SP_THREAD_LIVE || !t->ring)
		goto out;
	if (sp_tls_heap_busy) {
		/* An allocation hook of this thread is writing its ring (or
		 * the profiler's own code runs): one writer at a time. */
		sp_shm_header *h = sp_link_arena();
		if (h)
			atomic_fetch_add_explicit(&h->heap_cpu_dropped, 1, memory_order_relaxed);
		goto out;
	}
	/* Another thread's event, or queued before this thread's mask paused
	 * it (the mask blocked it until now): not a sample of this moment. */
	if ((si->si_code != SI_TIMER && (t->engine != SP_TE_PERF || si->si_fd != t->perf_fd)) ||
	    atomic_load_explicit(&t->mask_paused, memory_order_relaxed))
		goto out;
	take_sample(t, (const ucontext_t *)ucv, weight);
	if (t0) {
		sp_shm_header *h = sp_link_arena();
		uint64_t b = ((uint64_t)sp_mono_ns() - t0) / SP_HIST_NS;
		if (b >= SP_HIST_BUCKETS)
			b = SP_HIST_BUCKETS - 1;
		if (h)
			atomic_fetch_add_explicit(&h->hist[b], 1, memory_order_relaxed);
	}
	goto out;
not_ours:
	to_application(sig, si, ucv, saved_errno);
out:
	errno = saved_errno;
}

void sp_signal_view_set(int sig, const struct sigaction *act)
{
	int i;

	if (!in_range(sig))
		return;
	i = atomic_fetch_add(&view_next[sig], 1) & 1;
	view_slots[sig][i] = *act;
	atomic_store_explicit(&view[sig], &view_slots[sig][i], memory_order_release);
}

void sp_signal_view_get(int sig, struct sigaction *out)
{
	struct sigaction *v = in_range(sig) ? atomic_load(&view[sig]) : NULL;

	if (v) {
		*out = *v;
		return;
	}
	memset(out, 0, sizeof(*out));
	out->sa_handler = SIG_DFL;
}

void sp_signal_unguard(int sig)
{
	if (!in_range(sig))
		return;
	atomic_fetch_and(&guarded, ~SIG_BIT(sig));
	atomic_store(&view[sig], NULL);
}

static int install_handler(int signo)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	/* SA_ONSTACK: Go (and any runtime with small stacks) requires handlers
	 * to run on the alternate stack it sets up for each thread; without one
	 * the flag is ignored. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (__sigaction(signo, &sa, NULL) < 0)
		return -errno;
	atomic_fetch_or(&guarded, SIG_BIT(signo));
	return 0;
}

int sp_signal_install(int signo)
{
	int r;

	/* Bind what the handler calls through the PLT now: lazy binding inside
	 * the handler would run the dynamic linker there. */
	(void)(uint64_t)sp_mono_ns();
	(void)syscall(SYS_gettid);
	errno = errno;

	r = install_handler(signo);
	if (!r)
		atomic_store(&cur_sig, signo);
	return r;
}

void sp_signal_guard_sigio(void)
{
	struct sigaction old;

	if (sp_signal_guarded(SIGIO) || __sigaction(SIGIO, NULL, &old) ||
	    old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
		return;
	if (install_handler(SIGIO) == 0)
		atomic_store(&view[SIGIO], NULL);
}

/* A spin lock taken with every signal blocked (moves run in the
 * application's handlers too): a thread cannot be interrupted by a move
 * of its own while it holds it. */
static void move_lock(sigset_t *saved)
{
	sigset_t all;

	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, saved, _NSIG / 8);
	while (atomic_exchange_explicit(&move_busy, 1, memory_order_acquire))
		sched_yield();
}

static void move_unlock(const sigset_t *saved)
{
	atomic_store_explicit(&move_busy, 0, memory_order_release);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, saved, NULL, _NSIG / 8);
}

void sp_signal_atfork_child(void)
{
	atomic_store(&move_busy, 0);
}

/* mine: a mask that must not block the new signal (NULL: the caller's). */
static int move_to_free(const sigset_t *avoid, const sigset_t *mine)
{
	sigset_t saved;
	int from, to, r = -EBUSY;

	move_lock(&saved);
	from = atomic_load(&cur_sig);
	/* saved: this thread's mask, which may block more than `avoid`. */
	to = from ? pick_free(avoid, mine ? mine : &saved) : 0;
	if (to && install_handler(to) == 0) {
		/* From here a late sample on `from` is still taken (it is one
		 * of ours, by its source), and `from` stays guarded so none
		 * reaches the application's default action. */
		atomic_store(&cur_sig, to);
		sp_threads_resignal(to);
		sp_signal_claim(from);
		atomic_store(&moved_from, from);
		atomic_store(&moved_to, to);
		r = 0;
	}
	move_unlock(&saved);
	return r;
}

int sp_signal_move(const sigset_t *avoid)
{
	uint64_t taken = atomic_load(&claimed) | atomic_load(&guarded);
	bool any = false;

	/* Masks that block everything (sigfillset around a fork or a thread's
	 * creation) are common: say no without a system call. */
	for (int s = SIGRTMAX - 2; s > SIGRTMIN + 1 && !any; s--)
		any = !(taken & SIG_BIT(s)) && !(avoid && sigismember(avoid, s));
	if (!any)
		return -EBUSY;
	return move_to_free(avoid, NULL);
}

/* Ignoring a signal discards every queued instance of it, in all threads,
 * blocked or not (POSIX; the kernel's flush on SIG_IGN). */
static void purge(int sig)
{
	struct sigaction ign;
	sigset_t saved;

	move_lock(&saved);
	if (sig == atomic_load(&cur_sig)) {
		memset(&ign, 0, sizeof(ign));
		ign.sa_handler = SIG_IGN;
		sigemptyset(&ign.sa_mask);
		__sigaction(sig, &ign, NULL);
		install_handler(sig);
	}
	move_unlock(&saved);
}

/* The calling thread's entry: threads found at start learn theirs at their
 * first sample. */
static sp_thread *self_entry(void)
{
	return sp_tls_thread ? sp_tls_thread : sp_threads_find((pid_t)syscall(SYS_gettid));
}

void sp_signal_pause_self(void)
{
	sp_thread *t = self_entry();

	if (t && !sp_tls_internal)
		sp_threads_mask_pause(t, true);
}

void sp_signal_mask_check(void)
{
	int cur = atomic_load(&cur_sig);
	sp_thread *t;
	sigset_t mine;
	bool blocked;

	if (!cur || sp_tls_internal || !(t = self_entry()))
		return;
	own_mask(&mine);
	blocked = sigismember(&mine, cur);
	if (blocked != (bool)atomic_load(&t->mask_paused))
		sp_threads_mask_pause(t, blocked);
}

/* Thread tid's mask, from its status (SigBlk). 0 or -1. */
static int thread_mask(pid_t tid, sigset_t *out)
{
	char path[64], buf[2048], *p;
	unsigned long long bits;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nSigBlk:");
	if (!p)
		return -1;
	bits = strtoull(p + 9, NULL, 16);
	sigemptyset(out);
	for (int s = 1; s <= 64; s++)
		if (bits & SIG_BIT(s))
			sigaddset(out, s);
	return 0;
}

/* 1 when thread tid's mask blocks sig, 0 when not, -1 when unknown. */
static int thread_blocks(pid_t tid, int sig)
{
	sigset_t m;

	return thread_mask(tid, &m) ? -1 : sigismember(&m, sig);
}

void sp_signal_watch(void)
{
	int cur = atomic_load(&cur_sig), to = atomic_load(&moved_to);
	bool overflow = atomic_exchange(&overflowed, 0), stale = false;
	uint64_t period = sp_capture.period_ns;

	if (to && to != logged_move_to) {
		logged_move_to = to;
		sp_log_info("the application uses signal %d: sampling on signal %d now",
			    atomic_load(&moved_from), to);
	}
	if (overflow && !logged_overflow) {
		logged_overflow = true;
		sp_log_info("the real-time signal queue overflowed (a thread blocks signal %d "
			    "without an interposed call); the kernel's SIGIO was dropped", cur);
	}
	if (!cur)
		return;
	for (sp_thread *t = sp_threads_first(); t; t = t->next) {
		sigset_t blk, none;
		uint64_t cpu, seen;
		bool ran, stuck;

		if (atomic_load(&t->state) != SP_THREAD_LIVE || t->engine == SP_TE_NONE ||
		    t->engine == SP_TE_OFF || !t->ring)
			continue;
		/* A blocked thread runs without samples: only such a thread
		 * (or any, after a queue overflow) costs a read of its status;
		 * a paused one only when it ran (a sleeping thread queues
		 * nothing, and will be looked at when it runs). */
		cpu = sp_timer_thread_cpu_ns(t->tid);
		seen = sp_ring_taken(t->ring) + sp_ring_lost(t->ring);
		ran = cpu >= t->watch_cpu_ns + 3 * period;
		stuck = ran && seen == t->watch_seen;
		t->watch_cpu_ns = cpu;
		t->watch_seen = seen;
		if (atomic_load(&t->mask_paused)) {
			if (ran && thread_blocks(t->tid, cur) == 0)
				sp_threads_mask_pause(t, false);
			continue;
		}
		if ((stuck || overflow) && thread_mask(t->tid, &blk) == 0 && sigismember(&blk, cur)) {
			/* Blocked by a raw system call: the number is the
			 * application's, as with an interposed one, and what
			 * is already queued behind the mask is left to it. A
			 * mask that blocks every free signal stops the thread's
			 * sampling instead. */
			sigemptyset(&none);
			if (move_to_free(&blk, &none) == 0) {
				sp_signal_claim_set(&blk);
				cur = atomic_load(&cur_sig);
				continue;
			}
			sp_threads_mask_pause(t, true);
			stale = true;
		}
	}
	/* The paused threads' queued samples: read by their sigwaitinfo or
	 * signalfd, or filling the real-time queue. Ignoring the signal for a
	 * moment discards them (and a sample or two in flight elsewhere). */
	if (stale)
		purge(cur);
}

uint64_t sp_signal_sigio_dropped(void)
{
	return atomic_load(&sigio_dropped);
}

