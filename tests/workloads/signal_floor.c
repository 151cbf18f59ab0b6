/* What one sample costs the sampled thread, measured so that this VM's
 * drifting speed cancels out: the same spinning chunk (~50 ms) is timed
 * with the thread's CPU clock alternately with sampling on and off, PAIRS
 * times, in one process. Sampling paths (MODE):
 *   perf-ring      a cpu-clock perf event on this thread writing to an
 *                  mmap'ed ring, no signal: the timer interrupt alone
 *   perf-signal    the same event signalling this thread (a real-time
 *                  signal, F_SETOWN_EX) into an empty handler: the kernel
 *                  path of spanprof's perf engine, no profiler code
 *   itimer         setitimer(ITIMER_PROF) into an empty handler: the kernel
 *                  path of gperftools' libprofiler
 *   spanprof LIB   libspanprof.so (dlopen'ed), spanprof_start/stop around
 *                  each "on" chunk (rate from SPANPROF_HZ)
 *   gperf LIB      gperftools' libprofiler.so, ProfilerStart/Stop
 * Prints, summed over the pairs: "on_ms A off_ms B samples N"; per-sample
 * cost in the sampled thread = (A - B) / N.
 * spanprof's consumer is another process: scripts/bench-cpu.sh (steady)
 * reads its CPU from outside.
 *   signal_floor PAIRS MODE HZ [LIB]
 * Used by scripts/bench-cpu.sh; start-up and exit costs are not in it. */
#define _GNU_SOURCE
#include <dlfcn.h>
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

#define CHUNK_SPINS 35 /* x ~1.4 ms */

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

static double now_ms(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- sampling paths: set up once, then on()/off() around chunks --------- */

static const char *mode;
static int hz, perf_fd = -1;
static struct perf_event_mmap_page *ring;
static int (*sp_start)(const void *opts), (*sp_stop)(void);
static int (*gp_start)(const char *fname);
static void (*gp_stop)(void);
static void (*gp_state)(void *state);
static char gp_file[64];

struct gp_state_buf { /* gperftools' struct ProfilerState */
	int enabled;
	time_t start_time;
	char profile_name[1024];
	int samples_gathered;
};

static int open_event(int signo)
{
	struct perf_event_attr a;

	memset(&a, 0, sizeof(a));
	a.size = sizeof(a);
	a.type = PERF_TYPE_SOFTWARE;
	a.config = PERF_COUNT_SW_CPU_CLOCK;
	a.sample_period = 1000000000ULL / (unsigned)hz;
	a.sample_type = PERF_SAMPLE_TID;
	a.disabled = 1;
	a.exclude_kernel = 1;
	a.wakeup_events = 1;
	perf_fd = (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (perf_fd < 0) {
		perror("signal_floor: perf_event_open");
		return -1;
	}
	if (signo) {
		struct f_owner_ex owner = { F_OWNER_TID, (pid_t)syscall(SYS_gettid) };

		if (fcntl(perf_fd, F_SETOWN_EX, &owner) || fcntl(perf_fd, F_SETSIG, signo) ||
		    fcntl(perf_fd, F_SETFL, O_ASYNC)) {
			perror("signal_floor: fcntl");
			return -1;
		}
		return 0;
	}
	/* 1 + 256 pages: room for every 16-byte record of a long run. */
	ring = mmap(NULL, 257 * 4096, PROT_READ | PROT_WRITE, MAP_SHARED, perf_fd, 0);
	if (ring == MAP_FAILED) {
		perror("signal_floor: mmap");
		return -1;
	}
	return 0;
}

static void *sym(void *lib, const char *name)
{
	void *p = lib ? dlsym(lib, name) : NULL;

	if (!p)
		fprintf(stderr, "signal_floor: %s not found: %s\n", name, dlerror());
	return p;
}

static int setup(const char *lib_path)
{
	struct sigaction sa;
	void *lib;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	if (!strcmp(mode, "perf-ring"))
		return open_event(0);
	if (!strcmp(mode, "perf-signal")) {
		sigaction(SIGRTMIN + 4, &sa, NULL);
		return open_event(SIGRTMIN + 4);
	}
	if (!strcmp(mode, "itimer"))
		return sigaction(SIGPROF, &sa, NULL);
	if (!strcmp(mode, "spanprof") || !strcmp(mode, "gperf")) {
		lib = lib_path ? dlopen(lib_path, RTLD_NOW) : NULL;
		if (!lib) {
			fprintf(stderr, "signal_floor: cannot load %s: %s\n",
				lib_path ? lib_path : "(no LIB given)", dlerror());
			return -1;
		}
		if (mode[0] == 's') { /* spanprof */
			sp_start = (int (*)(const void *))sym(lib, "spanprof_start");
			sp_stop = (int (*)(void))sym(lib, "spanprof_stop");
			return sp_start && sp_stop ? 0 : -1;
		}
		gp_start = (int (*)(const char *))sym(lib, "ProfilerStart");
		gp_stop = (void (*)(void))sym(lib, "ProfilerStop");
		gp_state = (void (*)(void *))sym(lib, "ProfilerGetCurrentState");
		snprintf(gp_file, sizeof(gp_file), "/tmp/signal_floor.%d.prof", (int)getpid());
		return gp_start && gp_stop && gp_state ? 0 : -1;
	}
	fprintf(stderr, "signal_floor: unknown mode %s\n", mode);
	return -1;
}

static void sampling_on(void)
{
	if (perf_fd >= 0) {
		ioctl(perf_fd, PERF_EVENT_IOC_ENABLE, 0);
	} else if (!strcmp(mode, "itimer")) {
		struct itimerval it = { { 0, 1000000 / hz }, { 0, 1000000 / hz } };

		setitimer(ITIMER_PROF, &it, NULL);
	} else if (sp_start) {
		if (sp_start(NULL))
			fprintf(stderr, "signal_floor: spanprof_start failed\n");
	} else if (gp_start) {
		gp_start(gp_file);
	}
}

/* Returns the samples taken while on, where they can be counted here
 * (spanprof's are counted from the on-time in main()). */
static uint64_t sampling_off(void)
{
	static uint64_t ring_seen, signals_seen;
	uint64_t n = 0;

	if (perf_fd >= 0) {
		ioctl(perf_fd, PERF_EVENT_IOC_DISABLE, 0);
	} else if (!strcmp(mode, "itimer")) {
		struct itimerval it = { { 0, 0 }, { 0, 0 } };

		setitimer(ITIMER_PROF, &it, NULL);
	}
	if (ring) { /* PERF_RECORD_SAMPLE with TID only: 16 bytes each */
		uint64_t head = __atomic_load_n(&ring->data_head, __ATOMIC_ACQUIRE) / 16;

		n = head - ring_seen;
		ring_seen = head;
		__atomic_store_n(&ring->data_tail, ring->data_head, __ATOMIC_RELEASE);
	} else if (sp_stop) {
		sp_stop();
	} else if (gp_stop) {
		struct gp_state_buf st;

		memset(&st, 0, sizeof(st));
		gp_state(&st);
		n = (uint64_t)st.samples_gathered;
		gp_stop();
		unlink(gp_file);
	} else {
		n = (uint64_t)signals - signals_seen;
		signals_seen = (uint64_t)signals;
	}
	return n;
}

/* One spinning chunk; returns this thread's CPU ms for it. */
static double chunk(void)
{
	double t0 = now_ms(CLOCK_THREAD_CPUTIME_ID);

	for (int i = 0; i < CHUNK_SPINS; i++)
		sink += spin(1000000);
	return now_ms(CLOCK_THREAD_CPUTIME_ID) - t0;
}

int main(int argc, char **argv)
{
	long pairs = argc > 3 ? atol(argv[1]) : 0;
	double on = 0, off = 0;
	uint64_t samples = 0;

	mode = argc > 3 ? argv[2] : "";
	hz = argc > 3 ? atoi(argv[3]) : 0;
	if (pairs <= 0 || hz <= 0) {
		fprintf(stderr, "usage: signal_floor PAIRS perf-ring|perf-signal|itimer|spanprof|"
				"gperf HZ [LIB]\n");
		return 2;
	}
	if (setup(argc > 4 ? argv[4] : NULL))
		return 1;
	for (long i = 0; i < pairs; i++) {
		sampling_on();
		on += chunk();
		samples += sampling_off();
		off += chunk();
	}
	/* cpu-clock: one sample per period of this thread's CPU time. */
	if (sp_stop)
		samples = (uint64_t)(on * hz / 1000.0 + 0.5);
	printf("on_ms %.3f off_ms %.3f samples %llu\n", on, off, (unsigned long long)samples);
	return 0;
}
