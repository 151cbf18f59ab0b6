/* Signal behaviours a preloaded profiler must leave to the application.
 *   host_signals siginterrupt   siginterrupt(SIGALRM, 1) + signal(): a
 *                               blocking read() must fail with EINTR.
 *   host_signals term_thread    SIGTERM to a just-created thread whose
 *                               handler calls exit(0): must exit, not hang. */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
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
