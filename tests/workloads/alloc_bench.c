/* alloc_bench: allocation-heavy programs for scripts/bench-heap.sh.
 *   alloc_bench churn THREADS ITERS   each thread keeps a window of 4096 live
 *                                     blocks (16-1024 B, 1 in 256 of 4-64 KiB),
 *                                     replacing and writing one per iteration
 *   alloc_bench pair N                N malloc(32)+free pairs; prints ns/pair
 *   alloc_bench live N                N live 64-byte blocks; prints the RSS
 *                                     they added (KiB) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long iters;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long rss_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	if (f)
		fclose(f);
	return v;
}

static void *churn(void *arg)
{
	enum { WINDOW = 4096 };
	void **w = calloc(WINDOW, sizeof(*w));
	uint64_t x = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;

	for (long i = 0; i < iters; i++) {
		size_t k = (size_t)i % WINDOW, n;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = (x & 255) == 0 ? 4096 + (x >> 8) % (60 * 1024) : 16 + (x >> 8) % 1009;
		free(w[k]);
		w[k] = malloc(n);
		memset(w[k], (int)i, n); /* programs write what they allocate */
	}
	for (size_t k = 0; k < WINDOW; k++)
		free(w[k]);
	free(w);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "churn";

	if (!strcmp(mode, "churn")) {
		int threads = argc > 2 ? atoi(argv[2]) : 4;
		pthread_t th[64];

		iters = argc > 3 ? atol(argv[3]) : 2000000;
		if (threads < 1 || threads > 64)
			return 2;
		for (int t = 0; t < threads; t++)
			pthread_create(&th[t], NULL, churn, (void *)(uintptr_t)(t + 1));
		for (int t = 0; t < threads; t++)
			pthread_join(th[t], NULL);
		return 0;
	}
	if (!strcmp(mode, "pair")) {
		long n = argc > 2 ? atol(argv[2]) : 20000000;
		void *volatile p;
		double t0 = now_ns();

		for (long i = 0; i < n; i++) {
			p = malloc(32);
			free(p);
		}
		printf("%.2f\n", (now_ns() - t0) / (double)n);
		return 0;
	}
	if (!strcmp(mode, "live")) {
		long n = argc > 2 ? atol(argv[2]) : 1000000, before = rss_kib();
		void **v = malloc((size_t)n * sizeof(*v));

		for (long i = 0; i < n; i++)
			v[i] = malloc(64);
		printf("%ld\n", rss_kib() - before);
		return v[0] == NULL;
	}
	return 2;
}
