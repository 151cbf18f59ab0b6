/* A service with N busy threads, for the benchmarks that watch a profiled
 * process from outside while it runs (its RSS, the consumer's CPU against
 * its own): N threads (main included) spin a few frames deep for SECONDS of
 * wall time, then exit 0. Prints its pid once every thread runs.
 *   service_threads N SECONDS
 * Used by scripts/bench-rss.sh and scripts/bench-cpu.sh. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOIPA __attribute__((noipa))

volatile uint64_t sink;
static double end_s;

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

NOIPA static uint64_t leaf(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

NOIPA static uint64_t handle_request(uint64_t n) { return leaf(n) ^ leaf(n / 3); }
NOIPA static uint64_t serve(uint64_t n) { return handle_request(n) + 1; }

static void *worker(void *arg)
{
	(void)arg;
	while (mono_s() < end_s)
		sink += serve(200000);
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[1]) : 0;
	double secs = argc > 2 ? atof(argv[2]) : 0;
	pthread_t *th;

	if (n < 1 || secs <= 0) {
		fprintf(stderr, "usage: service_threads N SECONDS\n");
		return 2;
	}
	th = calloc((size_t)n, sizeof(*th));
	if (!th)
		return 1;
	end_s = mono_s() + secs;
	for (int i = 1; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, NULL)) {
			perror("service_threads: pthread_create");
			return 1;
		}
	printf("%d\n", (int)getpid());
	fflush(stdout);
	worker(NULL);
	for (int i = 1; i < n; i++)
		pthread_join(th[i], NULL);
	free(th);
	return 0;
}
