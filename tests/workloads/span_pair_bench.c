/* Cost of a span set + clear pair through the public API, as a service would
 * pay it per request: with libspanprof present (preloaded or linked) the
 * calls go through; absent, the weak symbols are NULL and each call is one
 * branch. Prints "<variant> <ns per pair>" lines for scripts/bench-spans.sh.
 *   span_pair_bench [ITERATIONS]     (default 20,000,000) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "spanprof.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000000;
	uint8_t trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
			      0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
	uint8_t span[8] = { 0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 };
	char tp[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
	const char *state = spanprof_span_set ? "present" : "absent";
	double t0, t1;

	/* Warm up (page in, settle the clock). */
	for (long i = 0; i < n / 10; i++) {
		span[0] = (uint8_t)(i | 1);
		SPANPROF_CALL(spanprof_span_set, trace, span, "GET /checkout");
		SPANPROF_SPAN_CLEAR();
		__asm__ volatile("" ::: "memory");
	}

	/* A different span each time, and a barrier standing for the request's
	 * own code, so the loop is not folded away when the library is absent. */
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		span[0] = (uint8_t)(i | 1);
		SPANPROF_CALL(spanprof_span_set, trace, span, "GET /checkout");
		SPANPROF_SPAN_CLEAR();
		__asm__ volatile("" ::: "memory");
	}
	t1 = now_ns();
	printf("set+clear %s %.2f\n", state, (t1 - t0) / n);

	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		tp[36] = "0123456789abcdef"[i & 15];
		SPANPROF_SPAN_SET_TRACEPARENT(tp, "GET /checkout");
		SPANPROF_SPAN_CLEAR();
		__asm__ volatile("" ::: "memory");
	}
	t1 = now_ns();
	printf("set_traceparent+clear %s %.2f\n", state, (t1 - t0) / n);

	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		span[0] = (uint8_t)(i | 1);
		__asm__ volatile("" ::: "memory");
	}
	t1 = now_ns();
	printf("empty-loop %s %.2f\n", state, (t1 - t0) / n);
	return 0;
}
