/* For workloads: spend a given amount of this process's CPU time in the
 * caller. Inlined, so the samples land in the (noipa) function that calls
 * it and the profile names that function. */
#ifndef SPANPROF_TEST_BURN_H
#define SPANPROF_TEST_BURN_H

#include <time.h>

#define NOIPA __attribute__((noipa))

static volatile unsigned long burn_sink;

static inline double process_cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline __attribute__((always_inline)) void burn_cpu(double secs)
{
	double end = process_cpu_s() + secs;
	unsigned long x = 1;

	while (process_cpu_s() < end)
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005UL + 1;
	burn_sink = x;
}

#endif
