/* A program that makes the usual assumptions about its own descriptors,
 * which a profiler's descriptors must not break:
 *   fd_clash closefrom SECONDS   close 3..1023 (as daemons do at start),
 *                                then burn SECONDS of CPU in burn_after_close
 *   fd_clash select THREADS      start THREADS idle threads, open a file,
 *                                print its number, select() on it
 *   fd_clash files THREADS N     start THREADS idle threads, open up to N
 *                                files, print how many opened
 * Exit 0 when the program's own step worked. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include "burn.h"

NOIPA void burn_after_close(double secs)
{
	burn_cpu(secs);
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int done, started;

/* Each thread has been registered by the profiler before it runs this. */
static void *idle(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	started++;
	pthread_cond_broadcast(&cv);
	while (!done)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static pthread_t *start_threads(int n)
{
	pthread_t *th = calloc((size_t)n, sizeof(*th));
	pthread_attr_t a;

	pthread_attr_init(&a);
	pthread_attr_setstacksize(&a, 64 * 1024);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], &a, idle, NULL)) {
			fprintf(stderr, "pthread_create %d failed\n", i);
			exit(2);
		}
	pthread_mutex_lock(&mu);
	while (started < n)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	return th;
}

static void stop_threads(pthread_t *th, int n)
{
	pthread_mutex_lock(&mu);
	done = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	free(th);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "closefrom")) {
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		burn_after_close(atof(argv[2]));
		printf("closefrom ok\n");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "select")) {
		int n = atoi(argv[2]);
		pthread_t *th = start_threads(n);
		int fd = open("/dev/null", O_RDONLY);
		fd_set r;
		struct timeval tv = { 0, 0 };

		printf("first fd %d\n", fd);
		fflush(stdout);
		if (fd < 0 || fd >= FD_SETSIZE) {
			printf("select: fd %d does not fit an fd_set\n", fd);
			return 1;
		}
		FD_ZERO(&r);
		FD_SET(fd, &r);
		if (select(fd + 1, &r, NULL, NULL, &tv) != 1)
			return 1;
		stop_threads(th, n);
		printf("select ok\n");
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "files")) {
		int n = atoi(argv[2]), want = atoi(argv[3]), got = 0;
		pthread_t *th = start_threads(n);

		while (got < want && open("/dev/null", O_RDONLY) >= 0)
			got++;
		printf("opened %d\n", got);
		stop_threads(th, n);
		return got == want ? 0 : 1;
	}
	fprintf(stderr, "usage: fd_clash closefrom SECONDS | select THREADS | files THREADS N\n");
	return 2;
}
