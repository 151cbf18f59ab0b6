/* Eight threads with known CPU loads: thread "load-K" (K = 1..8) does K units
 * of the same work, so its share of the process CPU is K/36. Threads 5..8
 * are created later, by thread 1 after a pause (threads created after the
 * profiler started, from a non-main thread). Exit 0 when all finished.
 *   cpu_threads UNIT_ITERATIONS */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NOIPA __attribute__((noipa))

static uint64_t unit_iters = 20000000;
volatile uint64_t sink;

NOIPA uint64_t thread_work(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

static void *load(void *arg)
{
	int k = (int)(intptr_t)arg;
	char name[16];

	snprintf(name, sizeof(name), "load-%d", k);
	pthread_setname_np(pthread_self(), name);
	/* In slices, so the threads overlap in time. */
	for (int i = 0; i < 10 * k; i++)
		sink += thread_work(unit_iters / 10);
	return NULL;
}

static void *late_starter(void *arg)
{
	pthread_t *th = arg;
	struct timespec ts = { 0, 150 * 1000 * 1000 };

	nanosleep(&ts, NULL);
	for (int k = 5; k <= 8; k++)
		if (pthread_create(&th[k - 1], NULL, load, (void *)(intptr_t)k))
			exit(3);
	for (int k = 5; k <= 8; k++)
		pthread_join(th[k - 1], NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[8], starter;

	if (argc > 1)
		unit_iters = strtoull(argv[1], NULL, 10);
	for (int k = 1; k <= 4; k++)
		if (pthread_create(&th[k - 1], NULL, load, (void *)(intptr_t)k))
			return 3;
	if (pthread_create(&starter, NULL, late_starter, th))
		return 3;
	for (int k = 1; k <= 4; k++)
		pthread_join(th[k - 1], NULL);
	pthread_join(starter, NULL);
	return 0;
}
