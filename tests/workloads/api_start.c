/* Start and stop the profiler from code (linked with -lspanprof, no
 * LD_PRELOAD): start, work, stop (one final interval), the error codes for
 * a second start / stop, then a second session in the same process.
 *   api_start OUTDIR */
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "spanprof.h"

volatile uint64_t sink;

__attribute__((noipa)) void api_work(double secs)
{
	struct timespec ts;
	double end;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	end = (double)ts.tv_sec + ts.tv_nsec / 1e9 + secs;
	do {
		for (int i = 0; i < 20000; i++)
			sink = sink * 6364136223846793005ULL + 1;
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	} while ((double)ts.tv_sec + ts.tv_nsec / 1e9 < end);
}

#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "api_start: %s failed\n", #cond); \
				       return 1; } } while (0)

int main(int argc, char **argv)
{
	spanprof_options o = { 0 };

	CHECK(argc > 1);
	CHECK(spanprof_start != NULL);
	CHECK(spanprof_stop() == SPANPROF_ENOTRUNNING);
	o.hz = 500;
	o.output_dir = argv[1];
	o.service = "api-test";
	o.upload_interval_s = 60;
	CHECK(spanprof_start(&o) == 0);
	CHECK(spanprof_start(&o) == SPANPROF_EALREADY);
	api_work(0.5);
	CHECK(spanprof_stop() == 0);
	CHECK(spanprof_stop() == SPANPROF_ENOTRUNNING);
	api_work(0.2); /* not profiled */
	o.force_timer_engine = 1;
	CHECK(spanprof_start(&o) == 0);
	api_work(0.5);
	CHECK(spanprof_stop() == 0);
	printf("api ok\n");
	return 0;
}
