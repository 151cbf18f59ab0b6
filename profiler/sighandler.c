/* The sampling signal handler. It only copies: registers from the signal
 * context, a bounded slice of the stack, tid, time and the span slot, into
 * the thread's ring. No allocation, lock, stdio or unwinding here. */
#include "sighandler.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "capture.h"
#include "raw_sample.h"
#include "ring.h"
#include "span.h"
#include "threads.h"
#include "capture_link.h"

/* glibc's own entry: the preload layer interposes sigaction() and would
 * take our own registration for an application's. */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

bool sp_handler_timing;
/* An application handler on our signal, called for what is not a sample. */
static struct sigaction chain_slots[2];
static _Atomic(struct sigaction *) chain;
static _Atomic int chain_next;

int sp_signal_pick(int wanted)
{
	struct sigaction old;

	if (wanted > 0) {
		if (wanted >= SIGRTMIN && wanted <= SIGRTMAX && !__sigaction(wanted, NULL, &old) &&
		    old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
			return wanted;
	}
	/* From the top: applications and libraries tend to take SIGRTMIN+n. */
	for (int s = SIGRTMAX - 2; s > SIGRTMIN + 1; s--) {
		if (__sigaction(s, NULL, &old))
			continue;
		if (old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO))
			return s;
	}
	return 0;
}

void sp_signal_unblock(int signo)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, signo);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

/* Not through memcpy: ASan's interceptor would check the raw stack
 * bytes (red zones of live frames) and report them. */
__attribute__((no_sanitize_address)) static void copy_bytes(void *dst, const void *src,
							     size_t n)
{
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
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

static void take_sample(sp_thread *t, const ucontext_t *uc, uint64_t weight)
{
	uint64_t sp = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	uint64_t start = sp - SP_REDZONE;
	uintptr_t lo = atomic_load_explicit(&t->stack_lo, memory_order_relaxed);
	uintptr_t hi = atomic_load_explicit(&t->stack_hi, memory_order_relaxed);
	size_t max = sp_capture.stack_bytes, len;
	bool in_stack = lo < hi && sp >= lo && sp < hi;
	sp_raw_sample *s;
	uint8_t *buf;

	if (in_stack) {
		if (start < lo)
			start = lo;
		len = hi - start < max ? hi - start : max;
	} else {
		len = max;
	}
	s = sp_ring_reserve(t->ring, len, &buf);
	if (!s) {
		/* Full: the consumer is slow, or gone (then say so, once). */
		if (sp_link_consumer_lost()) {
			sp_shm_header *h = sp_link_arena();
			if (h)
				atomic_fetch_add_explicit(&h->dropped, 1, memory_order_relaxed);
		}
		return;
	}
	s->time_ns = now_ns();
	s->pid = sp_capture_pid;
	s->tid = t->tid;
	s->kind = SP_SAMPLE_CPU;
	s->weight = weight;
	s->count = 1;
	fill_regs(s, uc);
	s->stack_base = start;
	s->stack = NULL;
	if (in_stack) {
		copy_bytes(buf, (const void *)start, len);
		s->stack_len = (uint32_t)len;
	} else {
		/* sigaltstack, a coroutine stack, or bounds not known: read
		 * through the kernel so an unmapped page cannot fault. */
		struct iovec local = { buf, len }, remote = { (void *)start, len };
		ssize_t n = syscall(SYS_process_vm_readv, sp_capture_pid, &local, 1UL,
				    &remote, 1UL, 0UL);
		s->stack_len = n > 0 ? (uint32_t)n : 0;
	}
	sp_span_read_current(&s->span);
	/* Once per fill-up: the consumer sleeps until then (or its plan). */
	if (sp_ring_commit(t->ring))
		sp_link_wake();
}

static void on_sample(int sig, siginfo_t *si, void *ucv)
{
	int saved_errno = errno;
	uint64_t weight = sp_capture.period_ns;
	uint64_t t0 = 0;
	sp_thread *t;

	if (sp_handler_timing)
		t0 = now_ns();
	/* Only our sources: a perf overflow (POLL_IN / POLL_HUP) or our timer.
	 * kill/sigqueue/tgkill give si_code <= 0 and are ignored. */
	if (si->si_code == SI_TIMER) {
		if (si->si_value.sival_ptr != SP_TIMER_COOKIE)
			goto not_ours;
		if (si->si_overrun > 0)
			weight *= 1 + (uint64_t)si->si_overrun;
	} else if (si->si_code == SI_TKILL && sp_link_is_consumer(si->si_pid)) {
		/* The consumer's nudge: this thread runs but sends no samples. */
		sp_threads_rearm_self();
		goto out;
	} else if (si->si_code <= 0) {
		goto not_ours;
	}
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
	if (si->si_code != SI_TIMER && (t->engine != SP_TE_PERF || si->si_fd != t->perf_fd))
		goto not_ours;
	take_sample(t, (const ucontext_t *)ucv, weight);
	if (t0) {
		sp_shm_header *h = sp_link_arena();
		uint64_t b = (now_ns() - t0) / SP_HIST_NS;
		if (b >= SP_HIST_BUCKETS)
			b = SP_HIST_BUCKETS - 1;
		if (h)
			atomic_fetch_add_explicit(&h->hist[b], 1, memory_order_relaxed);
	}
	goto out;
not_ours:
	{
		struct sigaction *c = atomic_load_explicit(&chain, memory_order_acquire);
		if (c && (c->sa_flags & SA_SIGINFO) && c->sa_sigaction) {
			errno = saved_errno;
			c->sa_sigaction(sig, si, ucv);
		} else if (c && c->sa_handler != SIG_DFL && c->sa_handler != SIG_IGN) {
			errno = saved_errno;
			c->sa_handler(sig);
		}
	}
out:
	errno = saved_errno;
}

void sp_signal_set_chain(const struct sigaction *act)
{
	int i = atomic_fetch_add(&chain_next, 1) & 1;

	chain_slots[i] = *act;
	atomic_store_explicit(&chain, &chain_slots[i], memory_order_release);
}

bool sp_signal_get_chain(struct sigaction *out)
{
	struct sigaction *c = atomic_load(&chain);

	if (!c)
		return false;
	*out = *c;
	return true;
}

int sp_signal_install(int signo)
{
	struct sigaction sa;

	/* Bind what the handler calls through the PLT now: lazy binding inside
	 * the handler would run the dynamic linker there. */
	(void)now_ns();
	(void)syscall(SYS_gettid);
	errno = errno;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sample;
	/* SA_ONSTACK: Go (and any runtime with small stacks) requires handlers
	 * to run on the alternate stack it sets up for each thread; without one
	 * the flag is ignored. */
	sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	if (__sigaction(signo, &sa, NULL) < 0)
		return -errno;
	return 0;
}

