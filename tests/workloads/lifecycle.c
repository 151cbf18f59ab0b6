/* Lifecycle cases for the in-process profiler:
 *   lifecycle fork          parent_work 1 s, fork; child: child_work 1 s then
 *                           exit(0); parent waits, parent_work 0.5 s more
 *   lifecycle exit_thread   a thread spins in thread_work, then calls exit(0)
 *                           while main sleeps in pthread_join
 *   lifecycle spin          spin in spin_forever until killed (SIGTERM/KILL)
 *   lifecycle threads N     N threads each do ~5 ms of thread_work, wait for
 *                           each other on a barrier, then exit
 *   lifecycle pthread_exit  a thread ends with pthread_exit after its work
 *                           and main creates another one (entries reused)
 *   lifecycle own_term      its own SIGTERM handler (checked to be the one
 *                           installed); spins until SIGTERM, exits 0 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOIPA __attribute__((noipa))

volatile uint64_t sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spin for `secs` of this thread's CPU time. */
static void burn(double secs)
{
	struct timespec ts;
	double end;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (double)ts.tv_sec + ts.tv_nsec / 1e9 + secs;
	for (;;) {
		for (int i = 0; i < 20000; i++)
			sink = sink * 6364136223846793005ULL + 1;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
		if ((double)ts.tv_sec + ts.tv_nsec / 1e9 >= end)
			break;
	}
}

NOIPA void parent_work(double s) { burn(s); sink++; }
NOIPA void child_work(double s) { burn(s); sink++; }
NOIPA void thread_work(double s) { burn(s); sink++; }
NOIPA void spin_forever(void) { for (;;) burn(1); }

static void *exiter(void *arg)
{
	(void)arg;
	thread_work(0.8);
	exit(0);
}

static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	(void)sig;
	got_term = 1;
}

static pthread_barrier_t barrier;

static void *member(void *arg)
{
	(void)arg;
	thread_work(0.005);
	pthread_barrier_wait(&barrier);
	return NULL;
}

static void *ender(void *arg)
{
	(void)arg;
	thread_work(0.3);
	pthread_exit(NULL);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "";

	if (!strcmp(mode, "fork")) {
		pid_t c;
		int st;

		parent_work(1.0);
		c = fork();
		if (c < 0)
			return 1;
		if (c == 0) {
			child_work(1.0);
			exit(0);
		}
		if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st))
			return 1;
		parent_work(0.5);
		printf("child %d\n", (int)c);
		return 0;
	}
	if (!strcmp(mode, "exit_thread")) {
		pthread_t t;
		pthread_create(&t, NULL, exiter, NULL);
		pthread_join(t, NULL);
		return 1; /* not reached: the thread exits the process */
	}
	if (!strcmp(mode, "spin")) {
		spin_forever();
		return 0;
	}
	if (!strcmp(mode, "threads")) {
		int n = argc > 2 ? atoi(argv[2]) : 1000;
		pthread_t *t = calloc((size_t)n, sizeof(*t));
		pthread_attr_t a;

		pthread_attr_init(&a);
		pthread_attr_setstacksize(&a, 256 * 1024);
		pthread_barrier_init(&barrier, NULL, (unsigned)n + 1);
		for (int i = 0; i < n; i++)
			if (pthread_create(&t[i], &a, member, NULL)) {
				fprintf(stderr, "pthread_create %d failed\n", i);
				return 1;
			}
		pthread_barrier_wait(&barrier);
		for (int i = 0; i < n; i++)
			pthread_join(t[i], NULL);
		free(t);
		printf("threads %d ok\n", n);
		return 0;
	}
	if (!strcmp(mode, "pthread_exit")) {
		for (int i = 0; i < 3; i++) {
			pthread_t t;
			pthread_create(&t, NULL, ender, NULL);
			pthread_join(t, NULL);
		}
		return 0;
	}
	if (!strcmp(mode, "own_term")) {
		struct sigaction sa, old;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigemptyset(&sa.sa_mask);
		/* What a program sees before installing: the default action. */
		if (sigaction(SIGTERM, NULL, &old) || old.sa_handler != SIG_DFL)
			return 3;
		if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGTERM, NULL, &old) ||
		    old.sa_handler != on_term)
			return 4;
		while (!got_term)
			burn(0.01);
		return 0;
	}
	fprintf(stderr, "usage: lifecycle fork|exit_thread|spin|threads N|pthread_exit|own_term\n");
	return 2;
}
