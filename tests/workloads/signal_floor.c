/* What the kernel charges a sampled thread, before any profiler code runs:
 * a fixed amount of spinning, timed with the thread's own CPU clock, under
 *   none                 nothing
 *   perf-ring  HZ        a cpu-clock perf event on this thread writing to an
 *                        mmap'ed ring, no signal (the timer interrupt alone)
 *   perf-signal HZ       the same event signalling this thread (a real-time
 *                        signal, F_SETOWN_EX) into an empty handler: the
 *                        delivery path of spanprof's perf engine
 *   itimer HZ            setitimer(ITIMER_PROF) into an empty handler: the
 *                        delivery path of gperftools' libprofiler
 * Prints "main_ms <this thread's CPU ms> process_ms <the process's CPU ms,
 * profiler threads included> samples <signals or ring records>", all over
 * the spinning only (start-up and exit are not in it).
 * Used by scripts/bench-cpu.sh to put a floor under the per-sample cost.
 *   signal_floor ROUNDS MODE [HZ] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

volatile uint64_t sink;
static volatile sig_atomic_t signals;

__attribute__((noipa)) static uint64_t spin(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	signals++;
}

static int open_event(int hz, int signo, struct perf_event_mmap_page **ring)
{
	struct perf_event_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_period = 1000000000ULL / (unsigned)hz;
	a.sample_type = PERF_SAMPLE_TID;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.wakeup_events = 1;
	fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0) {
		perror("signal_floor: perf_event_open");
		return -1;
	}
	if (signo) {
		struct f_owner_ex owner = { F_OWNER_TID, (pid_t)syscall(SYS_gettid) };

		if (fcntl(fd, F_SETOWN_EX, &owner) || fcntl(fd, F_SETSIG, signo) ||
		    fcntl(fd, F_SETFL, O_ASYNC)) {
			perror("signal_floor: fcntl");
			return -1;
		}
	} else {
		/* 1 + 64 pages: room for the whole run's 16-byte records. */
		void *m = mmap(NULL, 65 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		if (m == MAP_FAILED) {
			perror("signal_floor: mmap");
			return -1;
		}
		*ring = m;
	}
	ioctl(fd, PERF_EVENT_IOC_ENABLE, 0);
	return fd;
}

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return ((double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec)) / 1e6;
}

int main(int argc, char **argv)
{
	long rounds = argc > 2 ? atol(argv[1]) : 0;
	const char *mode = argc > 2 ? argv[2] : "";
	int hz = argc > 3 ? atoi(argv[3]) : 0;
	struct perf_event_mmap_page *ring = NULL;
	struct sigaction sa;
	struct timespec a, b, pa, pb;
	uint64_t samples;
	int signo = SIGRTMIN + 4;

	if (rounds <= 0 || (strcmp(mode, "none") && hz <= 0)) {
		fprintf(stderr, "usage: signal_floor ROUNDS none|perf-ring|perf-signal|itimer [HZ]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigaction(signo, &sa, NULL);
	sigaction(SIGPROF, &sa, NULL);
	if (!strcmp(mode, "perf-ring") || !strcmp(mode, "perf-signal")) {
		if (open_event(hz, mode[5] == 's' ? signo : 0, &ring) < 0)
			return 1;
	} else if (!strcmp(mode, "itimer")) {
		struct itimerval it = { { 0, 1000000 / hz }, { 0, 1000000 / hz } };

		setitimer(ITIMER_PROF, &it, NULL);
	} else if (strcmp(mode, "none")) {
		fprintf(stderr, "signal_floor: unknown mode %s\n", mode);
		return 2;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &pa);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	for (long i = 0; i < rounds; i++)
		sink += spin(1000000);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &pb);
	samples = (uint64_t)signals;
	if (ring) /* PERF_RECORD_SAMPLE with TID only: 8 + 8 bytes each */
		samples = __atomic_load_n(&ring->data_head, __ATOMIC_ACQUIRE) / 16;
	printf("main_ms %.3f process_ms %.3f samples %llu\n", ms_between(&a, &b), ms_between(&pa, &pb),
	       (unsigned long long)samples);
	return 0;
}
