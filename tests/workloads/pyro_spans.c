/* Workload for the Pyroscope end-to-end test: burns CPU for the given
 * number of seconds in two request handlers, each request under its own
 * span (set through the weak public API, so it also runs without
 * libspanprof). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "spanprof.h"

static volatile unsigned long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void spin(unsigned long n)
{
	for (unsigned long i = 0; i < n; i++)
		sink += i * 2654435761u;
}

__attribute__((noinline)) static void handle_orders(void) { spin(3000000); }
__attribute__((noinline)) static void handle_users(void) { spin(1500000); }

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3, end = now() + secs;
	unsigned req = 0;
	char tp[64];

	while (now() < end) {
		snprintf(tp, sizeof(tp), "00-4bf92f3577b34da6a3ce929d0e0e4736-%016x-01", 0x1000 + req % 8);
		SPANPROF_SPAN_SET_TRACEPARENT(tp, req % 2 ? "GET /users" : "POST /orders");
		if (req % 2)
			handle_users();
		else
			handle_orders();
		SPANPROF_SPAN_CLEAR();
		req++;
	}
	printf("requests=%u\n", req);
	return 0;
}
