/* Half kernel, half user CPU for the kernel-time test: read_zero copies from
 * /dev/zero with read() (nearly all of it system time), spin_user runs a pure
 * user loop; both under main -> kernel_round. Each chunk is timed with
 * CLOCK_THREAD_CPUTIME_ID, and at exit the workload writes to FILE:
 *   cpu_s=<getrusage user+sys> read_s=<CPU in read_zero> spin_s=<CPU in spin_user>
 * Usage: kernel_split SECONDS FILE. Single-threaded, so thread CPU is process
 * CPU (apart from the profiler's own worker, which getrusage includes and the
 * test allows for). */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define NOIPA __attribute__((noipa))

volatile uint64_t sink;
static char buf[1 << 16];
static int zero_fd;

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A pending signal (the profiler's) cuts a /dev/zero read short: short
 * reads and EINTR are expected, only other errors end the run. */
NOIPA void read_zero(int n)
{
	for (int i = 0; i < n; i++)
		if (read(zero_fd, buf, sizeof(buf)) < 0 && errno != EINTR)
			exit(3);
	sink += (unsigned char)buf[100];
}

NOIPA uint64_t spin_user(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

static double read_s, spin_s;

NOIPA void kernel_round(int reads, uint64_t spins)
{
	double t0 = thread_cpu(), t1, t2;

	read_zero(reads);
	t1 = thread_cpu();
	sink += spin_user(spins);
	t2 = thread_cpu();
	read_s += t1 - t0;
	spin_s += t2 - t1;
}

/* Round length varies (fixed seed) so a tick-driven sampler (CPU-time
 * timers fire on the scheduler tick) does not keep landing at the same
 * phase of a round; 8..71 reads per round, 40 on average. */
static int round_reads(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return 8 + (int)(s % 64);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0, end;
	struct rusage ru;
	int reads = 40;
	uint64_t spins = 400000;
	FILE *f;

	if (argc < 3) {
		fprintf(stderr, "usage: kernel_split SECONDS FILE\n");
		return 2;
	}
	zero_fd = open("/dev/zero", O_RDONLY);
	if (zero_fd < 0)
		return 1;
	/* Scale the chunks so each takes about half of every round. */
	for (int i = 0; i < 20; i++)
		kernel_round(reads, spins);
	if (read_s > 0 && spin_s > 0)
		spins = (uint64_t)(spins * read_s / spin_s);
	read_s = spin_s = 0;
	/* SECONDS of its own CPU, not of wall time: on a loaded machine the
	 * sample count (and so the sampling error) stays the same. */
	end = thread_cpu() + secs;
	while (thread_cpu() < end) {
		int r = round_reads();
		kernel_round(r, spins * (uint64_t)r / (uint64_t)reads);
	}
	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 1;
	f = fopen(argv[2], "w");
	if (!f)
		return 1;
	fprintf(f, "cpu_s=%.6f read_s=%.6f spin_s=%.6f\n",
		ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, read_s, spin_s);
	fclose(f);
	return 0;
}
