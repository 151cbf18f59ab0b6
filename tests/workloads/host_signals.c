/* Signal behaviours a preloaded profiler must leave to the application.
 *   host_signals siginterrupt   siginterrupt(SIGALRM, 1) + signal(): a
 *                               blocking read() must fail with EINTR.
 *   host_signals term_thread    SIGTERM to a just-created thread whose
 *                               handler calls exit(0): must exit, not hang.
 *   host_signals tight_stack    a thread burns CPU with ~3,000 bytes of
 *                               stack left, less than a signal frame. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <alloca.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

static void on_alarm(int sig) { (void)sig; }
static void on_term(int sig) { (void)sig; exit(0); }

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

static volatile uint64_t sink;

static __attribute__((noinline)) void spin_here(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	do {
		for (int i = 0; i < 100000; i++)
			sink += (uint64_t)i * 2654435761u;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 500000000L);
}

static void *tight(void *arg)
{
	pthread_attr_t attr;
	void *lo;
	size_t size;
	char here;
	(void)arg;
	if (pthread_getattr_np(pthread_self(), &attr) || pthread_attr_getstack(&attr, &lo, &size))
		return (void *)1;
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* bind it now: lazy binding needs stack */
	/* Leave ~3,000 bytes below this frame's locals. */
	size_t use = (size_t)(&here - (char *)lo) - 3000;
	volatile char *p = alloca(use);
	p[0] = 0;
	spin_here();
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "tight_stack")) {
		pthread_t t;
		pthread_attr_t attr;
		void *ret;
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		if (pthread_create(&t, &attr, tight, NULL))
			return 2;
		pthread_join(t, &ret);
		printf("tight_stack done\n");
		return ret ? 1 : 0;
	}
	if (argc > 1 && !strcmp(argv[1], "siginterrupt")) {
		int p[2];
		char c;
		if (pipe(p))
			return 2;
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
		siginterrupt(SIGALRM, 1);
		signal(SIGALRM, on_alarm);
		alarm(1);
		ssize_t n = read(p[0], &c, 1);
		printf("read %zd %s\n", n, n < 0 ? strerror(errno) : "");
		return n < 0 && errno == EINTR ? 0 : 1;
	}
	if (argc > 1 && !strcmp(argv[1], "term_thread")) {
		pthread_t t;
		signal(SIGTERM, on_term);
		if (pthread_create(&t, NULL, idle, NULL))
			return 2;
		pthread_kill(t, SIGTERM);
		pthread_join(t, NULL);
		return 3;
	}
	fprintf(stderr, "usage: host_signals siginterrupt|term_thread\n");
	return 2;
}
