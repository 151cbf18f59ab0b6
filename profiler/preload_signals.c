/* Signals in the preloaded library:
 *  - SIGTERM/SIGINT with the default action: our handler flushes the last
 *    interval (bounded by SPANPROF_FLUSH_TIMEOUT_MS), restores the default
 *    and re-raises, so the exit status is unchanged. An application that
 *    installs its own handler replaces ours (its exit path flushes through
 *    the destructor); while ours is in place, sigaction() reports SIG_DFL.
 *  - Our sampling signal: an application handler on it is chained, never
 *    replaced or replacing ours.
 *  - sigprocmask/pthread_sigmask never block the sampling signal: a blocked
 *    real-time perf signal queues up to RLIMIT_SIGPENDING, after which the
 *    kernel sends SIGIO, which would kill the process. */

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#include "log.h"
#include "profiler.h"
#include "sighandler.h"
#include "threads.h"

#define EXPORT __attribute__((visibility("default")))

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static sigaction_fn real_sigaction;
static sigmask_fn real_sigprocmask, real_pthread_sigmask;
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
	if (ours && sig == ours) {
		struct sigaction prev;
		if (old) {
			if (!sp_signal_get_chain(&prev)) {
				memset(&prev, 0, sizeof(prev));
				prev.sa_handler = SIG_DFL;
			}
			*old = prev;
		}
		if (act)
			sp_signal_set_chain(act);
		return 0;
	}
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

/* The caller's set without our sampling signal, when it would block it. */
static const sigset_t *keep_ours_unblocked(int how, const sigset_t *set, sigset_t *copy)
{
	int ours = sp_profiler_signo();

	if (!set || how == SIG_UNBLOCK || !ours || sp_tls_internal || !sp_profiler_running() ||
	    !sigismember(set, ours))
		return set;
	*copy = *set;
	sigdelset(copy, ours);
	return copy;
}

EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	sigset_t copy;

	resolve();
	if (!real_sigprocmask) {
		errno = ENOSYS;
		return -1;
	}
	return real_sigprocmask(how, keep_ours_unblocked(how, set, &copy), old);
}

EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	sigset_t copy;

	resolve();
	if (!real_pthread_sigmask)
		return ENOSYS;
	return real_pthread_sigmask(how, keep_ours_unblocked(how, set, &copy), old);
}
