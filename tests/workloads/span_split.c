/* span_split: 4 threads alternate between span A, work outside any span, and
 * span B. A does 3x B's CPU work (same spin loop, three times the iterations,
 * with the same random jitter per round so sampling cannot alias with the
 * cycle), so A's share of in-span CPU is 75%.
 *
 *   span_split [SECONDS]       (default 4)
 * Exits 3 if libspanprof is not loaded (the span calls would be no-ops). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "spanprof.h"

#define THREADS 4
#define UNIT 40000 /* spin iterations per work unit, ~50-100 us */
/* noipa: B and the work between spans have identical bodies; without it GCC
 * merges them (-fipa-icf) and the profile cannot tell them apart. */

static const uint8_t trace_id[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
				      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
static const uint8_t span_a[8] = { 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01 };
static const uint8_t span_b[8] = { 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0x02 };
static double seconds = 4;
static volatile uint64_t sink;

__attribute__((noinline, noipa)) static uint64_t spin(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

__attribute__((noinline, noipa)) static uint64_t span_a_work(uint64_t n, uint64_t x)
{
	x = spin(3 * n, x);
	__asm__ volatile("" : "+r"(x)); /* no tail call: keep this frame */
	return x;
}

__attribute__((noinline, noipa)) static uint64_t span_b_work(uint64_t n, uint64_t x)
{
	x = spin(n, x);
	__asm__ volatile("" : "+r"(x)); /* no tail call: keep this frame */
	return x;
}

__attribute__((noinline, noipa)) static uint64_t between_spans_work(uint64_t n, uint64_t x)
{
	x = spin(n, x);
	__asm__ volatile("" : "+r"(x)); /* no tail call: keep this frame */
	return x;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg)
{
	uint64_t x = (uintptr_t)arg * 2654435761u + 1, r = x;
	double end = now() + seconds;

	while (now() < end) {
		uint64_t n;

		r = r * 6364136223846793005ULL + 1442695040888963407ULL;
		n = UNIT / 2 + (r >> 33) % UNIT; /* 0.5..1.5 units */
		spanprof_span_set(trace_id, span_a, "A");
		x = span_a_work(n, x);
		spanprof_span_clear();
		x = between_spans_work(n, x);
		spanprof_span_set(trace_id, span_b, "B");
		x = span_b_work(n, x);
		spanprof_span_clear();
	}
	sink = x;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];

	if (argc > 1)
		seconds = atof(argv[1]);
	if (!spanprof_span_set || !spanprof_span_clear) {
		fprintf(stderr, "span_split: libspanprof is not loaded\n");
		return 3;
	}
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
