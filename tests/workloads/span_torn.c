/* span_torn: 8 threads switch spans every few microseconds. Every span id is
 * new, and its trace id and name are derived from it (trace_of, name_of), so
 * a sample whose (trace_id, span_id, span_name) do not match that derivation
 * is a torn read: parts of two different contexts.
 *
 *   span_torn [SECONDS]        (default 10)
 * Exits 3 if libspanprof is not loaded. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "spanprof.h"

#define THREADS 8

static double seconds = 10;
static volatile uint64_t sink;

/* Must match the test's check (span_torn.sh): trace id = the 8 span-id bytes
 * of s * 0x9e3779b97f4a7c15, big-endian, then those of s ^ 0xa5a5...,
 * big-endian; name = "t" + last two hex digits of the span id. */
static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void ids_of(uint64_t s, uint8_t trace[16], uint8_t span[8], char name[8])
{
	put_be64(span, s);
	put_be64(trace, s * 0x9e3779b97f4a7c15ULL);
	put_be64(trace + 8, s ^ 0xa5a5a5a5a5a5a5a5ULL);
	snprintf(name, 8, "t%02x", (unsigned)(s & 0xff));
}

__attribute__((noinline)) static uint64_t spin(uint64_t n, uint64_t x)
{
	for (uint64_t i = 0; i < n; i++) {
		x = x * 6364136223846793005ULL + 1;
		__asm__ volatile("" : "+r"(x));
	}
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
	uint64_t tid = (uintptr_t)arg, s = tid << 56, x = tid;
	double end = now() + seconds;

	while (now() < end) {
		for (int k = 0; k < 64; k++) {
			uint8_t trace[16], span[8];
			char name[8];

			s++; /* unique per thread: the thread number is the top byte */
			ids_of(s, trace, span, name);
			spanprof_span_set(trace, span, name);
			x = spin(200 + (x >> 58), x); /* a few microseconds */
			if (k & 1)
				spanprof_span_clear();
		}
	}
	spanprof_span_clear();
	sink = x;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[THREADS];

	if (argc > 1)
		seconds = atof(argv[1]);
	if (!spanprof_span_set || !spanprof_span_clear) {
		fprintf(stderr, "span_torn: libspanprof is not loaded\n");
		return 3;
	}
	for (uintptr_t i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)(i + 1));
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	return 0;
}
