/* Programs that use a real-time signal themselves, the one a preloaded
 * profiler picks by default (SIGRTMAX-2) or every one, while burning CPU so
 * that the profiler's own sample signals fly at the same time.
 *   app_signals signalfd      block SIGRTMAX-2, read it from a signalfd:
 *                             5 sigqueue()d signals must all arrive there,
 *                             and nothing else (no sample of the profiler).
 *   app_signals fillwait      block every signal (sigfillset, sigprocmask),
 *                             burn CPU, then take what is queued with
 *                             sigtimedwait(): nothing (no sample of the
 *                             profiler), and the mask still blocks all.
 *   app_signals rawblock S    block SIGRTMIN..SIGRTMAX with a raw
 *                             rt_sigprocmask (as Go or a static runtime
 *                             would) and burn S seconds of CPU: must exit
 *                             0, the mask still as set, nothing of ours
 *                             pending in this thread.
 *   app_signals rawblock1 S   the same with only SIGRTMAX-2 blocked: must
 *                             exit 0 with the mask as set (the profiler
 *                             samples on another signal once it notices).
 *   app_signals fasync        a socket with O_ASYNC + F_SETSIG (SIGRTMAX-2)
 *                             owned by this thread, 5 writes to its peer:
 *                             a handler on SIGRTMAX-2 gets 5 signals naming
 *                             the socket and no other, here and in a fork
 *                             child; then, with the signal blocked,
 *                             sigtimedwait() gets the next 5 and no other.
 *   app_signals fasync_all    a handler on every real-time signal (from
 *                             SIGRTMAX down), then the handler case of
 *                             fasync: nothing left to move to, so the
 *                             profiler chains to the handler on its signal.
 *   app_signals sigio_kill    raise(SIGIO) with its default action: must die.
 *   app_signals sigio_own     SIGIO must be reported as SIG_DFL; then the
 *                             program's own SIGIO handler, a plain O_ASYNC
 *                             socket (no F_SETSIG) and real-time signals
 *                             blocked raw: 5 writes reach the handler.
 * Prints what it saw; exit 0 when right, 1 when not. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burn.h"

#define MAGIC 4242

static NOIPA int do_signalfd(void)
{
	int sig = SIGRTMAX - 2, got = 0, foreign = 0, fd;
	sigset_t set;
	union sigval v = { .sival_int = MAGIC };

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 2;
	fd = signalfd(-1, &set, SFD_CLOEXEC);
	if (fd < 0)
		return 2;
	for (int i = 0; i < 5; i++) {
		burn_cpu(0.1);
		if (sigqueue(getpid(), sig, v))
			return 2;
	}
	burn_cpu(0.1);
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct signalfd_siginfo si;

		if (poll(&p, 1, 500) <= 0)
			break;
		if (read(fd, &si, sizeof(si)) != sizeof(si))
			break;
		if (si.ssi_code == SI_QUEUE && si.ssi_int == MAGIC)
			got++;
		else
			foreign++;
	}
	printf("signalfd: %d of 5 signals, %d foreign\n", got, foreign);
	return got == 5 && foreign == 0 ? 0 : 1;
}

static NOIPA int do_fillwait(void)
{
	struct timespec zero = { 0, 0 };
	sigset_t all, now;
	siginfo_t si;
	int got = 0, open_ = 0;

	sigfillset(&all);
	if (sigprocmask(SIG_BLOCK, &all, NULL))
		return 2;
	burn_cpu(0.5);
	while (sigtimedwait(&all, &si, &zero) > 0)
		got++;
	sigprocmask(SIG_BLOCK, NULL, &now);
	/* glibc never blocks its own 32 and 33. */
	for (int s = 1; s <= SIGRTMAX; s++)
		if (s != SIGKILL && s != SIGSTOP && (s < 32 || s >= SIGRTMIN) &&
		    !sigismember(&now, s))
			open_++;
	printf("fillwait: %d signals queued, %d unblocked\n", got, open_);
	return got || open_;
}

static NOIPA int do_rawblock1(double secs)
{
	sigset_t set, now;

	sigemptyset(&set);
	sigaddset(&set, SIGRTMAX - 2);
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, _NSIG / 8))
		return 2;
	burn_cpu(secs);
	sigemptyset(&now);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, _NSIG / 8);
	printf("rawblock1: %.1f s burnt, signal %d %s\n", secs, SIGRTMAX - 2,
	       sigismember(&now, SIGRTMAX - 2) ? "still blocked" : "was unblocked");
	return !sigismember(&now, SIGRTMAX - 2);
}

static NOIPA int do_rawblock(double secs)
{
	sigset_t set, now, pend;
	int bad = 0;

	sigemptyset(&set);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(&set, s);
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, _NSIG / 8))
		return 2;
	burn_cpu(secs);
	sigemptyset(&now);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &now, _NSIG / 8);
	sigpending(&pend);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
		if (!sigismember(&now, s)) {
			printf("rawblock: signal %d was unblocked\n", s);
			bad = 1;
		}
		if (sigismember(&pend, s)) {
			printf("rawblock: signal %d is pending\n", s);
			bad = 1;
		}
	}
	printf("rawblock: %.1f s burnt\n", secs);
	return bad;
}

static volatile sig_atomic_t fa_got, fa_foreign, fa_fd = -1;

static void on_rt(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si->si_code == POLL_IN && si->si_fd == fa_fd)
		fa_got++;
	else
		fa_foreign++;
}

/* A socket whose peer's writes signal `sig` to this thread; returns the peer. */
static int async_socket(int sig, int *mine)
{
	struct f_owner_ex owner = { .type = F_OWNER_TID, .pid = (pid_t)syscall(SYS_gettid) };
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -1;
	if (fcntl(sv[0], F_SETOWN_EX, &owner) || fcntl(sv[0], F_SETSIG, sig) ||
	    fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_ASYNC | O_NONBLOCK))
		return -1;
	*mine = sv[0];
	return sv[1];
}

static NOIPA int fasync_handler(const char *who)
{
	int sig = SIGRTMAX - 2, fd, peer;
	char buf[16];

	peer = async_socket(sig, &fd);
	if (peer < 0)
		return 2;
	fa_got = fa_foreign = 0;
	fa_fd = fd;
	for (int i = 0; i < 5; i++) {
		burn_cpu(0.1);
		if (write(peer, "x", 1) != 1)
			return 2;
		burn_cpu(0.05);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
	burn_cpu(0.1);
	close(fd);
	close(peer);
	printf("fasync %s handler: %d of 5 signals, %d foreign\n", who, (int)fa_got,
	       (int)fa_foreign);
	return fa_got == 5 && fa_foreign == 0 ? 0 : 1;
}

static NOIPA int fasync_wait(void)
{
	int sig = SIGRTMAX - 2, fd, peer, got = 0, foreign = 0;
	struct timespec second = { 1, 0 }, zero = { 0, 0 };
	sigset_t set;
	siginfo_t si;
	char buf[16];

	sigemptyset(&set);
	sigaddset(&set, sig);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return 2;
	peer = async_socket(sig, &fd);
	if (peer < 0)
		return 2;
	for (int i = 0; i < 5; i++) {
		burn_cpu(0.1);
		if (write(peer, "x", 1) != 1)
			return 2;
		if (sigtimedwait(&set, &si, &second) == sig) {
			if (si.si_code == POLL_IN && si.si_fd == fd)
				got++;
			else
				foreign++;
		}
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
	burn_cpu(0.1);
	while (sigtimedwait(&set, &si, &zero) == sig)
		foreign++;
	printf("fasync sigtimedwait: %d of 5 signals, %d foreign\n", got, foreign);
	return got == 5 && foreign == 0 ? 0 : 1;
}

static int do_fasync_all(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int s = SIGRTMAX; s >= SIGRTMIN; s--)
		if (sigaction(s, &sa, NULL))
			return 2;
	return fasync_handler("all-handlers");
}

static int do_fasync(void)
{
	struct sigaction sa;
	int status, rc;
	pid_t child;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_rt;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGRTMAX - 2, &sa, NULL))
		return 2;
	rc = fasync_handler("parent");
	child = fork();
	if (child < 0)
		return 2;
	if (child == 0)
		_exit(fasync_handler("fork child"));
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status))
		rc = rc ? rc : 1;
	return fasync_wait() || rc;
}

static volatile sig_atomic_t io_got;

static void on_io(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	io_got++;
}

static void block_rt_raw(void)
{
	sigset_t set;

	sigemptyset(&set);
	for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
		sigaddset(&set, s);
	syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, _NSIG / 8);
}

static NOIPA int sigio_own(void)
{
	struct sigaction sa, old;
	int fd, peer;
	char buf[16];

	if (sigaction(SIGIO, NULL, &old))
		return 2;
	if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) {
		printf("sigio_own: SIGIO is not reported as SIG_DFL\n");
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_io;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGIO, &sa, NULL))
		return 2;
	block_rt_raw();
	peer = async_socket(0, &fd);
	if (peer < 0)
		return 2;
	for (int i = 0; i < 5; i++) {
		int before;

		burn_cpu(0.2);
		before = io_got;
		if (write(peer, "x", 1) != 1)
			return 2;
		burn_cpu(0.1);
		if (io_got == before)
			printf("sigio_own: write %d gave no SIGIO\n", i);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
	}
	printf("sigio_own: %d SIGIO\n", (int)io_got);
	return io_got >= 5 ? 0 : 1;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc > 1 && !strcmp(argv[1], "signalfd"))
		return do_signalfd();
	if (argc > 2 && !strcmp(argv[1], "rawblock"))
		return do_rawblock(atof(argv[2]));
	if (argc > 1 && !strcmp(argv[1], "fillwait"))
		return do_fillwait();
	if (argc > 2 && !strcmp(argv[1], "rawblock1"))
		return do_rawblock1(atof(argv[2]));
	if (argc > 1 && !strcmp(argv[1], "fasync"))
		return do_fasync();
	if (argc > 1 && !strcmp(argv[1], "fasync_all"))
		return do_fasync_all();
	if (argc > 1 && !strcmp(argv[1], "sigio_kill")) {
		burn_cpu(0.3);
		raise(SIGIO);
		burn_cpu(0.1);
		printf("sigio_kill: survived SIGIO\n");
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "sigio_own"))
		return sigio_own();
	fprintf(stderr, "usage: app_signals signalfd|rawblock SECONDS|fasync|sigio_kill|sigio_own\n");
	return 2;
}
