/* Thread registry and per-thread engine arming; see threads.h. */
#include "capture/threads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "base/asan_compat.h"
#include "capture/capture.h"
#include "capture/capture_link.h"
#include "base/log.h"
#include "capture/sighandler.h"

__thread sp_thread *sp_tls_thread __attribute__((tls_model("initial-exec")));
__thread int sp_tls_internal __attribute__((tls_model("initial-exec")));
__thread pid_t sp_tls_tid __attribute__((tls_model("initial-exec")));

sp_capture_params sp_capture;
_Atomic int sp_capture_armed;
pid_t sp_capture_pid;

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(sp_thread *) all_threads;
/* In a fork child until its thread registers: the forking thread's stack. */
static uintptr_t fork_stack_lo, fork_stack_hi;
static pid_t fork_stack_pid;
static _Atomic int new_engine;       /* engine for threads registered next */
static _Atomic int perf_fds;         /* open perf events */
static bool used_perf, used_timer;   /* for the engine name */
static bool logged_arm_error;

static char engine_reason[256];
static bool announced;

/* reg_mu is held with every signal blocked: a handler that runs while this
 * thread holds it and calls exit() would reach sp_threads_disarm_all() from
 * the destructor and wait forever on a lock its own thread holds. The raw
 * syscall bypasses the interposed sigprocmask. reg_saved is the mask to
 * restore, written only by the holder. */
static sigset_t reg_saved;

static void reg_lock(void)
{
	sigset_t all, saved;

	sigfillset(&all);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &all, &saved, _NSIG / 8);
	pthread_mutex_lock(&reg_mu);
	reg_saved = saved;
}

static void reg_unlock(void)
{
	sigset_t saved = reg_saved;

	pthread_mutex_unlock(&reg_mu);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, _NSIG / 8);
}

/* A signal frame takes AT_MINSIGSTKSZ (3.6 KB with AVX-512 state): a
 * thread with less stack left would fault on our signal alone. A thread that
 * registers itself and has no alternate stack gets one of its own, mapped
 * here (never in the handler); one the application or its runtime already
 * set is left alone, and a later sigaltstack() of theirs replaces ours. */
#define SP_ALTSTACK_EXTRA (64 * 1024)
static __thread void *alt_stack __attribute__((tls_model("initial-exec")));
static __thread size_t alt_size __attribute__((tls_model("initial-exec")));

static void give_alt_stack(void)
{
	stack_t cur, ss;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = (size_t)getauxval(AT_MINSIGSTKSZ);

	if (alt_stack || sigaltstack(NULL, &cur) || !(cur.ss_flags & SS_DISABLE))
		return;
	if (size < (size_t)MINSIGSTKSZ)
		size = MINSIGSTKSZ;
	size = (size + SP_ALTSTACK_EXTRA + page - 1) / page * page;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
		       -1, 0);
	if (p == MAP_FAILED)
		return;
	memset(&ss, 0, sizeof(ss));
	ss.ss_sp = p;
	ss.ss_size = size;
	if (sigaltstack(&ss, NULL)) {
		munmap(p, size);
		return;
	}
	alt_stack = p;
	alt_size = size;
}

static void drop_alt_stack(void)
{
	stack_t cur, off;

	if (!alt_stack || sigaltstack(NULL, &cur))
		return;
	if (cur.ss_flags & SS_ONSTACK)
		return; /* exiting from a handler running on it: keep it mapped */
	if (cur.ss_sp == alt_stack) {
		memset(&off, 0, sizeof(off));
		off.ss_flags = SS_DISABLE;
		if (sigaltstack(&off, NULL))
			return;
	}
	munmap(alt_stack, alt_size);
	alt_stack = NULL;
}

/* The stack pointer at process entry (/proc/self/stat "startstack"; not
 * ld.so's __libc_stack_end, which would add ld.so to DT_NEEDED). 0 when
 * unknown. */
static uintptr_t start_stack(void)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may hold spaces */
	/* Fields after comm: state is field 3, startstack field 28. */
	for (int field = 2; p && field < 28; field++)
		p = strchr(p + 1, ' ');
	return p ? (uintptr_t)strtoull(p + 1, NULL, 10) : 0;
}

static pid_t my_tid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

void sp_threads_setup(const sp_capture_params *p)
{
	sp_capture = *p;
	atomic_store(&new_engine, p->engine);
	used_perf = used_timer = false;
	sp_perf_reset_user_only();
	engine_reason[0] = '\0';
	sp_capture_pid = getpid();
}

static bool engine_fallback_errno(int err)
{
	switch (-err) {
	case EACCES: case EPERM: case ENOSYS: case ENOENT: case EOPNOTSUPP:
	case EMFILE: case ENFILE: case EINVAL: case E2BIG:
		return true;
	}
	return false;
}

/* The perf events' descriptors: at most SP_PERF_FD_BUDGET of them (and
 * never more than 1/8 of RLIMIT_NOFILE), numbered from the top of the
 * range the application can use, capped at SP_PERF_FD_TOP (a high number
 * enlarges the kernel's fd table, which fork copies). Threads beyond the
 * budget get POSIX timers, which need no descriptor. */
#define SP_PERF_FD_BUDGET 64
#define SP_PERF_FD_TOP 4096

static bool perf_fd_range(int *lo, int *hi, int *budget)
{
	struct rlimit rl;
	rlim_t top, n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return false;
	top = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SP_PERF_FD_TOP ?
		SP_PERF_FD_TOP : rl.rlim_cur;
	n = rl.rlim_cur == RLIM_INFINITY ? SP_PERF_FD_BUDGET : rl.rlim_cur / 8;
	if (n > SP_PERF_FD_BUDGET)
		n = SP_PERF_FD_BUDGET;
	if (n < 1 || top <= n)
		return false;
	*lo = (int)(top - n);
	*hi = (int)top;
	*budget = (int)n;
	return true;
}

/* Before the start line is printed the reason is only recorded (the start
 * line says it); later switches are reported on their own. */
static void switch_to_timers(const char *why)
{
	if (atomic_exchange(&new_engine, SP_TE_TIMER) == SP_TE_TIMER)
		return;
	snprintf(engine_reason, sizeof(engine_reason), "%s", why);
	if (announced)
		sp_log("switching to POSIX CPU timers for new threads: %s", why);
}

const char *sp_threads_engine_reason(void)
{
	return engine_reason;
}

void sp_threads_set_announced(bool on)
{
	announced = on;
}

/* The engine summary, for the consumer's telemetry. Under reg_mu. */
static void publish_engine(void)
{
	sp_shm_header *h = sp_link_arena();

	if (!h)
		return;
	snprintf(h->engine, sizeof(h->engine), "%s", sp_threads_engine_name());
	snprintf(h->engine_reason, sizeof(h->engine_reason), "%s", engine_reason);
}

static int arm_engine(sp_thread *t);

/* Under reg_mu. */
static int arm(sp_thread *t)
{
	int r = arm_engine(t);

	if (!r)
		publish_engine();
	return r;
}

/* Under reg_mu. */
static int arm_engine(sp_thread *t)
{
	int r = 0;

	if (!sp_capture.cpu) {
		t->engine = SP_TE_OFF;
		return 0;
	}
	if (atomic_load(&new_engine) == SP_TE_PERF) {
		int lo, hi, budget;
		char why[256];

		if (!perf_fd_range(&lo, &hi, &budget)) {
			switch_to_timers("RLIMIT_NOFILE is too low for perf events");
		} else if (perf_fds >= budget) {
			snprintf(why, sizeof(why), "perf events use their budget of %d descriptors",
				 budget);
			switch_to_timers(why);
		} else {
			/* Only a fixed perf engine settles for user time only;
			 * auto prefers timers, which count system time. */
			r = sp_perf_arm(t->tid, sp_capture.signo, sp_capture.period_ns,
					sp_capture.engine_fixed, lo, hi, &t->perf_fd, &t->perf_id);
			if (!r) {
				t->engine = SP_TE_PERF;
				perf_fds++;
				used_perf = true;
				return 0;
			} else if (r == -ESRCH) {
				return r;
			} else if (sp_capture.engine_fixed || !engine_fallback_errno(r)) {
				sp_perf_strerror(r, why, sizeof(why));
				if (!logged_arm_error)
					sp_log("cannot sample thread %d: %s", (int)t->tid, why);
				logged_arm_error = true;
				return r;
			} else {
				sp_perf_strerror(r, why, sizeof(why));
				switch_to_timers(why);
			}
		}
	}
	r = sp_timer_arm(t->tid, sp_capture.signo, sp_capture.period_ns, &t->timer);
	if (r) {
		if (r != -ESRCH && !logged_arm_error)
			sp_log("cannot sample thread %d: timer_create: %s", (int)t->tid,
			       strerror(-r));
		logged_arm_error = true;
		return r;
	}
	t->engine = SP_TE_TIMER;
	used_timer = true;
	return 0;
}

/* Under reg_mu. */
static void disarm(sp_thread *t)
{
	if (t->engine == SP_TE_PERF) {
		sp_perf_disarm(t->perf_fd, t->perf_id);
		perf_fds--;
	} else if (t->engine == SP_TE_TIMER) {
		sp_timer_disarm(t->timer);
	}
	t->engine = SP_TE_NONE;
	t->perf_fd = -1;
}

/* A FREE slot of the shared arena, made CLAIMED-by-us by a CAS: the
 * consumer only ever turns DEAD slots into FREE ones. -1 when all are taken
 * (counted: those threads are not sampled). */
static int claim_slot(sp_shm_header *h, pid_t tid)
{
	sp_shm_slot *sl = sp_shm_slots(h);

	for (uint32_t i = 0; i < h->slots_cap; i++) {
		uint32_t expect = SP_SLOT_FREE;

		if (atomic_load_explicit(&sl[i].state, memory_order_relaxed) != SP_SLOT_FREE)
			continue;
		if (!atomic_compare_exchange_strong(&sl[i].state, &expect, SP_SLOT_CLAIMED))
			continue;
		sl[i].tid = tid;
		atomic_store(&sl[i].nudge, 0);
		if (i + 1 > atomic_load(&h->slots_used))
			atomic_store(&h->slots_used, i + 1);
		return (int)i;
	}
	atomic_fetch_add(&h->no_slot, 1);
	return -1;
}

static void set_slot(int slot, uint32_t state)
{
	sp_shm_header *h = sp_link_arena();

	if (h && slot >= 0 && (uint32_t)slot < h->slots_cap)
		atomic_store_explicit(&sp_shm_slots(h)[slot].state, state, memory_order_release);
}

static uint32_t slot_state(int slot)
{
	sp_shm_header *h = sp_link_arena();

	if (!h || slot < 0 || (uint32_t)slot >= h->slots_cap)
		return SP_SLOT_FREE;
	return atomic_load_explicit(&sp_shm_slots(h)[slot].state, memory_order_acquire);
}

/* Under reg_mu: a FREE entry (or a DEAD one whose slot the consumer has
 * drained and freed) or a new one, with a ring in a fresh slot. */
static sp_thread *claim(pid_t tid)
{
	sp_shm_header *h = sp_link_arena();
	sp_thread *t;
	int expect, slot;

	if (!h)
		return NULL;
	for (t = atomic_load(&all_threads); t; t = t->next) {
		expect = SP_THREAD_FREE;
		if (atomic_compare_exchange_strong(&t->state, &expect, SP_THREAD_CLAIMED))
			break;
		expect = SP_THREAD_DEAD;
		if (slot_state(t->slot) == SP_SLOT_FREE &&
		    atomic_compare_exchange_strong(&t->state, &expect, SP_THREAD_CLAIMED))
			break;
	}
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (!t)
			return NULL;
		atomic_store(&t->state, SP_THREAD_CLAIMED);
		t->slot = -1;
		t->next = atomic_load(&all_threads);
		atomic_store(&all_threads, t);
	}
	t->ring = NULL;
	t->slot = -1;
	slot = claim_slot(h, tid);
	if (slot >= 0)
		t->ring = sp_ring_init_at(sp_shm_ring(h, (uint32_t)slot), sp_shm_ring_footprint(h),
					  sp_capture.stack_bytes);
	if (!t->ring) {
		set_slot(slot, SP_SLOT_FREE);
		atomic_store(&t->state, SP_THREAD_FREE);
		return NULL;
	}
	t->slot = slot;
	t->tid = tid;
	t->engine = SP_TE_NONE;
	t->perf_fd = -1;
	atomic_store(&t->stack_lo, 0);
	atomic_store(&t->stack_hi, 0);
	t->self_registered = false;
	atomic_store(&t->mask_paused, 0);
	t->watch_cpu_ns = t->watch_seen = 0;
	return t;
}

/* Under reg_mu: give back an entry that never sampled. */
static void unclaim(sp_thread *t)
{
	set_slot(t->slot, SP_SLOT_FREE);
	t->slot = -1;
	t->ring = NULL;
	atomic_store(&t->state, SP_THREAD_FREE);
}

/* Under reg_mu: the thread is gone; the consumer drains its ring and frees
 * the slot, after which the entry may be claimed again. */
static void mark_dead(sp_thread *t)
{
	disarm(t);
	atomic_store(&t->state, SP_THREAD_DEAD);
	set_slot(t->slot, SP_SLOT_DEAD);
	sp_link_wake();
}

static sp_thread *find_live_tid(pid_t tid)
{
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next) {
		int st = atomic_load(&t->state);
		if ((st == SP_THREAD_LIVE || st == SP_THREAD_CLAIMED) && t->tid == tid)
			return t;
	}
	return NULL;
}

int sp_threads_register_self(void)
{
	pthread_attr_t attr;
	void *addr = NULL;
	size_t size = 0;
	pid_t tid = my_tid();
	bool inherited = false;
	sp_thread *t;
	int r;

	if (sp_tls_internal)
		return 0;
	give_alt_stack();
	if (fork_stack_hi && fork_stack_pid == tid) {
		/* A fork child's only thread runs on the stack of the thread
		 * that forked, whose bounds are known: no /proc/self/maps and
		 * /proc/self/stat reads in every child. */
		addr = (void *)fork_stack_lo;
		size = fork_stack_hi - fork_stack_lo;
		fork_stack_lo = fork_stack_hi = 0;
		inherited = true;
	} else if (pthread_getattr_np(pthread_self(), &attr) == 0) {
		/* Outside the lock: pthread_getattr_np may allocate and read maps. */
		if (pthread_attr_getstack(&attr, &addr, &size))
			addr = NULL, size = 0;
		pthread_attr_destroy(&attr);
	}

	reg_lock();
	t = sp_tls_thread;
	if (t && (atomic_load(&t->state) != SP_THREAD_LIVE || t->tid != tid))
		t = NULL;
	if (!t)
		t = find_live_tid(tid);
	if (!t) {
		t = claim(tid);
		if (!t) {
			r = -ENOMEM;
			goto out;
		}
	}
	atomic_store(&t->stack_lo, (uintptr_t)addr);
	/* The main thread's frames end at the stack pointer _start was given
	 * (argc); above it lie argv, the environment and the aux vector,
	 * kilobytes no unwinder reads, copied by every sample otherwise. */
	if (tid == getpid() && !inherited) {
		uintptr_t start = start_stack();
		if (start > (uintptr_t)addr && start < (uintptr_t)addr + size)
			size = start + 64 - (uintptr_t)addr;
	}
	atomic_store(&t->stack_hi, (uintptr_t)addr + size);
	t->self_registered = true;
	if (t->engine == SP_TE_NONE) {
		r = arm(t);
		if (r) {
			unclaim(t);
			goto out;
		}
	}
	atomic_store(&t->state, SP_THREAD_LIVE);
	set_slot(t->slot, SP_SLOT_LIVE);
	sp_tls_tid = tid;
	sp_tls_thread = t;
	r = 0;
out:
	reg_unlock();
	return r;
}

int sp_threads_register_tid(pid_t tid)
{
	sp_thread *t;
	int r = 0;

	reg_lock();
	t = find_live_tid(tid);
	if (t) {
		if (t->engine == SP_TE_NONE)
			r = arm(t);
		goto out;
	}
	t = claim(tid);
	if (!t) {
		r = -ENOMEM;
		goto out;
	}
	r = arm(t);
	if (r) {
		unclaim(t);
		goto out;
	}
	atomic_store(&t->state, SP_THREAD_LIVE);
	set_slot(t->slot, SP_SLOT_LIVE);
out:
	reg_unlock();
	return r;
}

void sp_threads_scan(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *de;
	pid_t self = my_tid();

	if (!d)
		return;
	while ((de = readdir(d))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);

		if (*end || tid <= 0 || tid == self)
			continue;
		sp_threads_register_tid((pid_t)tid);
	}
	closedir(d);
}

void sp_threads_unregister_self(void)
{
	sp_thread *t = sp_tls_thread;

	if (!t) {
		drop_alt_stack();
		return;
	}
	/* No signal blocking needed: a handler on this thread either finished
	 * before DEAD is stored or sees DEAD and leaves; the worker frees the
	 * ring only after it sees DEAD. */
	reg_lock();
	if (atomic_load(&t->state) == SP_THREAD_LIVE && t->tid == my_tid())
		mark_dead(t);
	sp_tls_thread = NULL;
	reg_unlock();
	drop_alt_stack();
}

sp_thread *sp_threads_first(void)
{
	return atomic_load(&all_threads);
}

sp_thread *sp_threads_find(pid_t tid)
{
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next)
		if (atomic_load(&t->state) == SP_THREAD_LIVE && t->tid == tid)
			return t;
	return NULL;
}

void sp_threads_reap_foreign(void)
{
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next) {
		if (atomic_load(&t->state) != SP_THREAD_LIVE)
			continue;
		if (syscall(SYS_tgkill, sp_capture_pid, t->tid, 0) < 0 && errno == ESRCH) {
			reg_lock();
			if (atomic_load(&t->state) == SP_THREAD_LIVE)
				mark_dead(t);
			reg_unlock();
		}
	}
}

/* The consumer saw this thread use CPU without a sample and sent our
 * signal by tgkill: its perf event was closed or replaced under us (a
 * daemon closing a range of descriptors, dup2). Re-arm it here, on the
 * thread itself: syscalls only. A thread registers itself with every signal
 * blocked, so this cannot interrupt its own registration; the engine
 * field is taken by a CAS, so a concurrent stop skips it. */
void sp_threads_rearm_self(void)
{
	sp_thread *t = sp_tls_thread;
	int expect = SP_TE_PERF, lo, hi, budget, fd;
	uint64_t id;

	if (!t || t->tid != sp_tls_tid || atomic_load(&t->state) != SP_THREAD_LIVE)
		return;
	if (t->engine != SP_TE_PERF || sp_perf_is_ours(t->perf_fd, t->perf_id))
		return;
	if (!__atomic_compare_exchange_n(&t->engine, &expect, SP_TE_NONE, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return;
	atomic_fetch_sub(&perf_fds, 1);
	t->perf_fd = -1;
	if (perf_fd_range(&lo, &hi, &budget) && atomic_load(&perf_fds) < budget &&
	    sp_perf_arm(t->tid, sp_capture.signo, sp_capture.period_ns, sp_capture.engine_fixed,
			lo, hi, &fd, &id) == 0) {
		t->perf_fd = fd;
		t->perf_id = id;
		atomic_fetch_add(&perf_fds, 1);
		__atomic_store_n(&t->engine, SP_TE_PERF, __ATOMIC_RELEASE);
		return;
	}
	if (sp_timer_arm(t->tid, sp_capture.signo, sp_capture.period_ns, &t->timer) == 0)
		__atomic_store_n(&t->engine, SP_TE_TIMER, __ATOMIC_RELEASE);
}

/* Stop this thread's samples without giving up its engine. */
static void pause_engine(sp_thread *t)
{
	if (t->engine == SP_TE_PERF)
		sp_perf_pause(t->perf_fd, t->perf_id);
	else if (t->engine == SP_TE_TIMER)
		sp_timer_pause(t->timer);
}

void sp_threads_pause_all(void)
{
	reg_lock();
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next) {
		if (atomic_load(&t->state) != SP_THREAD_LIVE)
			continue;
		pause_engine(t);
	}
	reg_unlock();
}

void sp_threads_disarm_all(void)
{
	reg_lock();
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next)
		if (atomic_load(&t->state) == SP_THREAD_LIVE)
			disarm(t);
	reg_unlock();
}

void sp_threads_forget_all(void)
{
	reg_lock();
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next) {
		if (atomic_load(&t->state) == SP_THREAD_LIVE)
			disarm(t);
		/* The arena goes with the session: a restart claims afresh. */
		t->ring = NULL;
		t->slot = -1;
		atomic_store(&t->state, SP_THREAD_FREE);
	}
	sp_tls_thread = NULL;
	reg_unlock();
}

const char *sp_threads_engine_name(void)
{
	if (!sp_capture.cpu)
		return "none (SPANPROF_CPU=0)";
	if (used_perf && used_timer)
		return "perf_event cpu-clock+posix timer";
	if (used_timer)
		return "posix timer";
	if (used_perf && sp_perf_user_only())
		return "perf_event cpu-clock (user time only)";
	if (used_perf)
		return "perf_event cpu-clock";
	return atomic_load(&new_engine) == SP_TE_TIMER ? "posix timer" : "perf_event cpu-clock";
}

void sp_threads_atfork_prepare(void)
{
	reg_lock();
}

void sp_threads_atfork_parent(void)
{
	reg_unlock();
}

void sp_threads_atfork_child(void)
{
	sigset_t saved = reg_saved;

	pthread_mutex_init(&reg_mu, NULL);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &saved, NULL, _NSIG / 8);
	sp_capture_pid = getpid();
	/* The inherited fds count against the parent's events; the parent's
	 * timers are not inherited; the rings hold the parent's samples. */
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next) {
		int st = atomic_load(&t->state);
		uintptr_t lo = atomic_load(&t->stack_lo), hi = atomic_load(&t->stack_hi);

		if (st == SP_THREAD_FREE)
			continue;
		/* Those threads do not exist here; their stacks will be reused. */
		if (t != sp_tls_thread && lo && hi > lo)
			sp_asan_unpoison(lo, hi - lo);
		if (t == sp_tls_thread && lo && hi > lo) {
			fork_stack_lo = lo;
			fork_stack_hi = hi;
			fork_stack_pid = sp_capture_pid;
		}
		if (t->engine == SP_TE_PERF)
			sp_perf_close_inherited(t->perf_fd, t->perf_id);
		t->engine = SP_TE_NONE;
		t->perf_fd = -1;
		/* The rings are the parent's arena's, unmapped by the link. */
		t->ring = NULL;
		t->slot = -1;
		atomic_store(&t->state, SP_THREAD_FREE);
	}
	perf_fds = 0;
	sp_tls_thread = NULL;
}

/* exec keeps a thread's pending signals but resets its handlers to SIG_DFL,
 * whose action for a real-time signal is to terminate. Now that the event
 * counts kernel time, it can fire inside execve itself. So the calling
 * thread's engine is paused first, and a sample signal already queued (one
 * the application blocks) is taken off the queue. Other threads' signals
 * die with those threads. */
void sp_threads_exec_prepare(void)
{
	sp_thread *t = sp_tls_thread;
	struct timespec now = { 0, 0 };
	sigset_t ours;

	if (!t || getpid() != sp_capture_pid || atomic_load(&t->state) != SP_THREAD_LIVE)
		return; /* not ours, or a vfork child sharing the parent's memory */
	pause_engine(t);
	/* This image's samples are complete: the consumer writes them out
	 * when the new image registers (or the process ends). */
	sp_link_set_state(SP_SHM_EXEC, 0);
	if (sp_capture.signo <= 0)
		return;
	sigemptyset(&ours);
	sigaddset(&ours, sp_capture.signo);
	while (sigtimedwait(&ours, NULL, &now) > 0)
		;
}

/* execve returned: it failed, and this image goes on. */
void sp_threads_exec_failed(void)
{
	sp_thread *t = sp_tls_thread;

	if (!t || getpid() != sp_capture_pid || atomic_load(&t->state) != SP_THREAD_LIVE ||
	    atomic_load(&t->mask_paused))
		return;
	sp_link_set_state(SP_SHM_RUNNING, 0);
	if (t->engine == SP_TE_PERF)
		sp_perf_resume(t->perf_fd, t->perf_id);
	else if (t->engine == SP_TE_TIMER)
		sp_timer_resume(t->timer, sp_capture.period_ns);
}

void sp_threads_resignal(int signo)
{
	reg_lock();
	sp_capture.signo = signo;
	/* The consumer nudges on the sampling signal. */
	if (sp_link_arena())
		atomic_store(&sp_link_arena()->signo, signo);
	for (sp_thread *t = atomic_load(&all_threads); t; t = t->next) {
		if (atomic_load(&t->state) != SP_THREAD_LIVE)
			continue;
		if (t->engine == SP_TE_PERF)
			sp_perf_set_signal(t->perf_fd, t->perf_id, signo);
		else if (t->engine == SP_TE_TIMER)
			sp_timer_resignal(t->tid, signo, sp_capture.period_ns, &t->timer);
	}
	reg_unlock();
}

void sp_threads_mask_pause(sp_thread *t, bool pause)
{
	reg_lock();
	if (!t)
		t = sp_tls_thread;
	if (t && atomic_load(&t->state) == SP_THREAD_LIVE &&
	    atomic_load(&t->mask_paused) != (int)pause) {
		atomic_store(&t->mask_paused, pause);
		if (!pause) {
			if (t->engine == SP_TE_PERF)
				sp_perf_resume(t->perf_fd, t->perf_id);
			else if (t->engine == SP_TE_TIMER)
				sp_timer_resume(t->timer, sp_capture.period_ns);
		} else if (t != sp_tls_thread && t->engine == SP_TE_TIMER) {
			/* Another thread's (the worker found its mask): a timer
			 * signal queued behind the mask survived the SIG_IGN
			 * purge here (kernel 6.18 keeps an ignored timer's
			 * signal and requeues it when unignored), but not the
			 * timer's deletion; the new timer starts paused. */
			sp_timer_pause(t->timer);
			sp_timer_resignal(t->tid, sp_capture.signo, sp_capture.period_ns,
					  &t->timer);
		} else {
			pause_engine(t);
		}
	}
	reg_unlock();
}
