/* Spins at the bottom of a deep stack of big frames (each recursion level
 * holds a 2 KiB buffer), so every sample copies the whole stack slice
 * (SPANPROF_STACK_BYTES, 32 KiB by default) and a ring fills in a few
 * dozen samples: the worker must be woken by the filling ring, not by its
 * idle timer, or samples are lost.   deep_stack SECONDS_OF_CPU */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOIPA __attribute__((noipa))

volatile uint64_t sink;

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

NOIPA static uint64_t spin(double until)
{
	uint64_t x = 1;

	while (cpu_seconds() < until)
		for (int i = 0; i < 100000; i++)
			x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

NOIPA static uint64_t descend(int depth, double until)
{
	volatile char frame[2048];

	memset((char *)frame, depth, sizeof(frame));
	if (depth == 0)
		return spin(until) + frame[7];
	return descend(depth - 1, until) + frame[depth];
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 2;

	sink = descend(24, cpu_seconds() + seconds);
	return 0;
}
