/* Signals in the preloaded library:
 *  - SIGTERM/SIGINT with the default action: our handler flushes the last
 *    interval (bounded by SPANPROF_FLUSH_TIMEOUT_MS), restores the default
 *    and re-raises, so the exit status is unchanged. An application that
 *    installs its own handler replaces ours (its exit path flushes through
 *    the destructor); while ours is in place, sigaction() reports SIG_DFL.
 *  - Our sampling signal is one the application does not use. When it
 *    shows it does (a handler, a mask blocking it, a signalfd on it),
 *    sampling moves to another free real-time signal first and the call
 *    then does exactly what it asked (sighandler.h). A mask is never
 *    changed: when it blocks every free real-time signal (sigfillset), the
 *    thread is not sampled until it unblocks ours, so nothing queues.
 *  - Signals our handler still holds (the number we left, SIGIO against
 *    queue overflows): sigaction() reports and sets the application's
 *    action; a handler or SIG_IGN of its own replaces ours. When no signal
 *    is free to move to, an application handler on the sampling signal is
 *    chained (called for everything not from our events). */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "base/log.h"
#include "capture/profiler.h"
#include "capture/sighandler.h"
#include "capture/threads.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);
typedef int (*signalfd_fn)(int, const sigset_t *, int);

static sigaction_fn real_sigaction;
static sigmask_fn real_sigprocmask, real_pthread_sigmask;
static signalfd_fn real_signalfd;
static _Atomic int term_installed[2]; /* SIGTERM, SIGINT */

static int term_index(int sig)
{
	return sig == SIGTERM ? 0 : sig == SIGINT ? 1 : -1;
}

static void resolve(void)
{
	if (!real_sigaction)
		real_sigaction = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	if (!real_sigprocmask)
		real_sigprocmask = (sigmask_fn)dlsym(RTLD_NEXT, "sigprocmask");
	if (!real_pthread_sigmask)
		real_pthread_sigmask = (sigmask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
	if (!real_signalfd)
		real_signalfd = (signalfd_fn)dlsym(RTLD_NEXT, "signalfd");
}

static void on_term(int sig)
{
	int saved = errno;
	struct sigaction dfl;
	int i = term_index(sig);

	sp_profiler_flush_from_signal();
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	if (i >= 0)
		atomic_store(&term_installed[i], 0);
	real_sigaction(sig, &dfl, NULL);
	/* Pending until this handler returns, then the default action. */
	raise(sig);
	errno = saved;
}

void sp_preload_signals_install(void);
void sp_preload_signals_install(void)
{
	static const int sigs[2] = { SIGTERM, SIGINT };

	resolve();
	if (!real_sigaction)
		return;
	for (int i = 0; i < 2; i++) {
		struct sigaction old, sa;

		if (atomic_load(&term_installed[i]) || real_sigaction(sigs[i], NULL, &old) ||
		    old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO))
			continue;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		sa.sa_flags = SA_RESTART;
		if (real_sigaction(sigs[i], &sa, NULL) == 0)
			atomic_store(&term_installed[i], 1);
	}
}

/* A vfork child runs on its parent's memory (our state) and descriptors'
 * file descriptions (our events) with its own signal actions: it must
 * change nothing of ours. */
static bool in_vfork_child(void)
{
	return sp_profiler_running() && getpid() != sp_capture_pid;
}

static bool is_default(const struct sigaction *act)
{
	return act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO);
}

static bool is_handler(const struct sigaction *act)
{
	return (act->sa_flags & SA_SIGINFO) ? act->sa_sigaction != NULL :
		act->sa_handler != SIG_DFL && act->sa_handler != SIG_IGN;
}

/* sig is held by our handler (ours = the sampling signal, 0 before start). */
static int guarded_sigaction(int sig, const struct sigaction *act, struct sigaction *old,
			     int ours)
{
	if (old)
		sp_signal_view_get(sig, old);
	if (!act)
		return 0;
	if (!sp_profiler_running())
		ours = 0; /* not sampling: nothing to keep */
	if (sig == ours && is_handler(act)) {
		/* Give the number up; it stays guarded (a late sample). */
		if (sp_signal_move(NULL) < 0) {
			sp_signal_view_set(sig, act); /* nothing free: chain */
			return 0;
		}
		ours = sp_signal_current();
	}
	if (sig != ours && !is_default(act)) {
		/* Its own handler, or SIG_IGN (which also drops a late sample). */
		if (real_sigaction(sig, act, NULL) < 0)
			return -1;
		sp_signal_unguard(sig);
		return 0;
	}
	/* SIG_DFL (or SIG_IGN on the sampling signal, which it would not
	 * receive from us either): recorded, acted out by our handler. */
	sp_signal_view_set(sig, act);
	return 0;
}

EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	int i = term_index(sig);
	int ours = sp_profiler_signo();

	resolve();
	if (!real_sigaction) {
		errno = ENOSYS;
		return -1;
	}
	if (i >= 0 && atomic_load(&term_installed[i])) {
		if (old) {
			memset(old, 0, sizeof(*old));
			old->sa_handler = SIG_DFL;
		}
		if (!act || (act->sa_handler == SIG_DFL && !(act->sa_flags & SA_SIGINFO)))
			return 0;
		atomic_store(&term_installed[i], 0);
		return real_sigaction(sig, act, NULL);
	}
	if (act && in_vfork_child())
		return real_sigaction(sig, act, old);
	if (sp_signal_guarded(sig))
		return guarded_sigaction(sig, act, old, ours);
	if (act && sig == SIGIO && is_default(act) && ours) {
		/* Setting SIGIO back to the default: ours again, so a queue
		 * overflow stays harmless. */
		if (real_sigaction(sig, NULL, old) < 0)
			return -1;
		sp_signal_guard_sigio();
		if (sp_signal_guarded(sig))
			return 0;
	}
	if (act && is_handler(act) && sig >= SIGRTMIN && sig <= SIGRTMAX)
		sp_signal_claim(sig);
	return real_sigaction(sig, act, old);
}

/* glibc's signal() restarts system calls unless siginterrupt(sig, 1) put
 * sig in its private interrupt set; that set is not reachable from here, so
 * siginterrupt() is interposed too and keeps this one (bit sig-1). */
static _Atomic unsigned long long interrupt_set;

static bool signo_valid(int sig)
{
	return sig > 0 && sig < _NSIG && sig <= 64;
}

EXPORT int siginterrupt(int sig, int flag)
{
	struct sigaction act;

	if (!signo_valid(sig)) {
		errno = EINVAL;
		return -1;
	}
	if (sigaction(sig, NULL, &act) < 0)
		return -1;
	if (flag) {
		atomic_fetch_or(&interrupt_set, 1ULL << (sig - 1));
		act.sa_flags &= ~SA_RESTART;
	} else {
		atomic_fetch_and(&interrupt_set, ~(1ULL << (sig - 1)));
		act.sa_flags |= SA_RESTART;
	}
	return sigaction(sig, &act, NULL) < 0 ? -1 : 0;
}

EXPORT sighandler_t signal(int sig, sighandler_t handler)
{
	struct sigaction sa, old;

	if (!signo_valid(sig) || handler == SIG_ERR) {
		errno = EINVAL;
		return SIG_ERR;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, sig);
	sa.sa_flags = (atomic_load(&interrupt_set) & (1ULL << (sig - 1))) ? 0 : SA_RESTART;
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* Before a mask change: the application is about to block our signal. Move
 * sampling to a free signal outside the set; when every free one is in it
 * (sigfillset, all real-time signals), stop sampling this thread before the
 * block, so nothing of ours is queued behind it. */
static void before_mask(int how, const sigset_t *set)
{
	int ours = sp_profiler_signo();

	if (!set || how == SIG_UNBLOCK || !ours || sp_tls_internal || !sp_profiler_running() ||
	    !sigismember(set, ours) || in_vfork_child())
		return;
	if (sp_signal_move(set) == 0) {
		sp_signal_claim_set(set);
		return;
	}
	sp_signal_pause_self();
}

/* After it: the thread's sampling follows its mask, looked at only when
 * the call may have changed whether it blocks our signal. */
static void after_mask(int how, const sigset_t *set)
{
	sp_thread *t = sp_tls_thread;
	int ours = sp_profiler_signo();
	bool in, paused;

	if (!set || !ours || sp_tls_internal)
		return;
	in = sigismember(set, ours);
	paused = t && atomic_load(&t->mask_paused);
	if ((paused ? (how == SIG_UNBLOCK && in) || (how == SIG_SETMASK && !in) :
		      how != SIG_UNBLOCK && in) && !in_vfork_child())
		sp_signal_mask_check();
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	int r;

	resolve();
	if (!real_sigprocmask) {
		errno = ENOSYS;
		return -1;
	}
	before_mask(how, set);
	r = real_sigprocmask(how, set, old);
	after_mask(how, set);
	return r;
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	int r;

	resolve();
	if (!real_pthread_sigmask)
		return ENOSYS;
	before_mask(how, set);
	r = real_pthread_sigmask(how, set, old);
	after_mask(how, set);
	return r;
}

/* A signalfd reads what is queued for the signals in its mask: ours must
 * not be among them. */
EXPORT int signalfd(int fd, const sigset_t *mask, int flags)
{
	int ours = sp_profiler_signo();

	resolve();
	if (!real_signalfd) {
		errno = ENOSYS;
		return -1;
	}
	if (ours && !sp_tls_internal && sp_profiler_running() && sigismember(mask, ours) &&
	    !in_vfork_child() && sp_signal_move(mask) == 0)
		sp_signal_claim_set(mask);
	return real_signalfd(fd, mask, flags);
}
