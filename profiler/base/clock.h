/* The clocks, in nanoseconds. Inline and async-signal-safe
 * (clock_gettime is), so the sampling handler uses them too. */
#ifndef SPANPROF_CLOCK_H
#define SPANPROF_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline int64_t sp_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* CLOCK_MONOTONIC: intervals, deadlines, sample times. */
static inline int64_t sp_mono_ns(void)
{
	return sp_clock_ns(CLOCK_MONOTONIC);
}

/* CLOCK_REALTIME: profile and links timestamps. */
static inline int64_t sp_wall_ns(void)
{
	return sp_clock_ns(CLOCK_REALTIME);
}

#endif
