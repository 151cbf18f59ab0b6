/* Safety stress for the in-process profiler. For SECONDS it runs, at once:
 *  - dlopen/dlclose of LIB in a loop, calling its hot_heavy each time;
 *  - heavy malloc/realloc/free with content checks;
 *  - fork of children that fork again (grandchild exits 42, child checks it
 *    and exits 7 through exit(), parent checks 7);
 *  - its own SIGPROF handler driven by setitimer(ITIMER_PROF);
 *  - nanosleep with EINTR resumption (total sleep must be >= asked) and
 *    read/write on a pipe with EINTR checks and a byte-exact stream.
 * Exit 0 only when every check passed; prints a one-line report.
 *   stress SECONDS LIB.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double deadline;
static const char *lib;
static _Atomic int failures;
static _Atomic long n_dl, n_alloc, n_fork, n_sleep, n_bytes, n_eintr;
static volatile sig_atomic_t prof_ticks;
/* glibc does not reset __exit_funcs_lock in a fork child: a fork while
 * dlclose runs __cxa_finalize leaves exit() in the child blocked forever.
 * The program serializes the two, as a real one would have to. */
static pthread_mutex_t dl_fork_mu = PTHREAD_MUTEX_INITIALIZER;

#define FAIL(...) do { fprintf(stderr, "stress: " __VA_ARGS__); fputc('\n', stderr); \
		       atomic_fetch_add(&failures, 1); } while (0)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_prof(int sig)
{
	(void)sig;
	prof_ticks++;
}

static void *dl_loop(void *arg)
{
	(void)arg;
	while (now() < deadline) {
		void *h;
		uint64_t (*f)(uint64_t);

		pthread_mutex_lock(&dl_fork_mu);
		h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
		pthread_mutex_unlock(&dl_fork_mu);
		if (!h) {
			FAIL("dlopen %s: %s", lib, dlerror());
			break;
		}
		f = (uint64_t (*)(uint64_t))dlsym(h, "hot_heavy");
		if (!f || f(1) != 6364136223846793005ULL * 1 + 1442695040888963407ULL)
			FAIL("dlsym/hot_heavy gave a wrong result");
		else
			f(200000);
		pthread_mutex_lock(&dl_fork_mu);
		if (dlclose(h))
			FAIL("dlclose: %s", dlerror());
		pthread_mutex_unlock(&dl_fork_mu);
		atomic_fetch_add(&n_dl, 1);
	}
	return NULL;
}

static void *alloc_loop(void *arg)
{
	enum { SLOTS = 512 };
	unsigned char *p[SLOTS] = { 0 };
	size_t sz[SLOTS] = { 0 };
	unsigned seed = (unsigned)(uintptr_t)arg;

	while (now() < deadline) {
		for (int k = 0; k < 1000; k++) {
			int i = (int)(rand_r(&seed) % SLOTS);
			if (p[i]) {
				for (size_t j = 0; j < sz[i]; j += 61)
					if (p[i][j] != (unsigned char)(i + j)) {
						FAIL("heap block %d corrupted", i);
						break;
					}
				if (rand_r(&seed) & 1) {
					free(p[i]);
					p[i] = NULL;
					continue;
				}
			}
			size_t n = 1 + rand_r(&seed) % (rand_r(&seed) & 7 ? 512 : 65536);
			unsigned char *q = realloc(p[i], n);
			if (!q) {
				FAIL("realloc(%zu) failed", n);
				continue;
			}
			p[i] = q;
			sz[i] = n;
			for (size_t j = 0; j < n; j++)
				q[j] = (unsigned char)(i + j);
			atomic_fetch_add(&n_alloc, 1);
		}
	}
	for (int i = 0; i < SLOTS; i++)
		free(p[i]);
	return NULL;
}

static void spin(double secs)
{
	volatile uint64_t x = 1;
	double end = now() + secs;

	while (now() < end)
		for (int i = 0; i < 10000; i++)
			x = x * 6364136223846793005ULL + 1;
}

static int wait_for(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void *fork_loop(void *arg)
{
	(void)arg;
	while (now() < deadline - 0.5) {
		pthread_mutex_lock(&dl_fork_mu);
		pid_t c = fork();
		if (c != 0)
			pthread_mutex_unlock(&dl_fork_mu);
		if (c < 0) {
			FAIL("fork: %s", strerror(errno));
			break;
		}
		if (c == 0) {
			pid_t g;
			spin(0.02);
			g = fork();
			if (g == 0) {
				spin(0.02);
				_exit(42);
			}
			if (g < 0 || wait_for(g) != 42)
				_exit(1);
			exit(7);
		}
		int code = wait_for(c);
		if (code != 7)
			FAIL("child exited with %d, expected 7", code);
		atomic_fetch_add(&n_fork, 1);
		usleep(100000);
	}
	return NULL;
}

static void *sleep_loop(void *arg)
{
	(void)arg;
	while (now() < deadline) {
		struct timespec req = { 0, 2 * 1000 * 1000 }, rem;
		double t0 = now();
		while (nanosleep(&req, &rem) < 0) {
			if (errno != EINTR) {
				FAIL("nanosleep: %s", strerror(errno));
				break;
			}
			atomic_fetch_add(&n_eintr, 1);
			req = rem;
		}
		if (now() - t0 < 0.0019)
			FAIL("nanosleep returned early (%.6f s)", now() - t0);
		atomic_fetch_add(&n_sleep, 1);
	}
	return NULL;
}

static int pipefd[2];

static void *writer(void *arg)
{
	unsigned char buf[4096];
	uint64_t pos = 0;

	(void)arg;
	while (now() < deadline) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = (unsigned char)((pos + i) * 7);
		size_t off = 0;
		while (off < sizeof(buf)) {
			ssize_t w = write(pipefd[1], buf + off, sizeof(buf) - off);
			if (w < 0) {
				if (errno == EINTR) {
					atomic_fetch_add(&n_eintr, 1);
					continue;
				}
				FAIL("write: %s", strerror(errno));
				return NULL;
			}
			off += (size_t)w;
		}
		pos += sizeof(buf);
		spin(0.001);
	}
	close(pipefd[1]);
	return NULL;
}

static void *reader(void *arg)
{
	unsigned char buf[1000];
	uint64_t pos = 0;

	(void)arg;
	for (;;) {
		ssize_t r = read(pipefd[0], buf, sizeof(buf));
		if (r < 0) {
			if (errno == EINTR) {
				atomic_fetch_add(&n_eintr, 1);
				continue;
			}
			FAIL("read: %s", strerror(errno));
			break;
		}
		if (r == 0)
			break;
		for (ssize_t i = 0; i < r; i++)
			if (buf[i] != (unsigned char)((pos + (uint64_t)i) * 7)) {
				FAIL("pipe stream corrupted at byte %llu", (unsigned long long)(pos + i));
				return NULL;
			}
		pos += (uint64_t)r;
		atomic_fetch_add(&n_bytes, r);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[7];
	struct sigaction sa;
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	int n = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: stress SECONDS LIB.so\n");
		return 2;
	}
	lib = argv[2];
	deadline = now() + atof(argv[1]);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_prof;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) || setitimer(ITIMER_PROF, &it, NULL)) {
		perror("stress: SIGPROF");
		return 1;
	}
	if (pipe(pipefd)) {
		perror("stress: pipe");
		return 1;
	}
	pthread_create(&th[n++], NULL, dl_loop, NULL);
	pthread_create(&th[n++], NULL, alloc_loop, (void *)1);
	pthread_create(&th[n++], NULL, alloc_loop, (void *)2);
	pthread_create(&th[n++], NULL, fork_loop, NULL);
	pthread_create(&th[n++], NULL, sleep_loop, NULL);
	pthread_create(&th[n++], NULL, writer, NULL);
	pthread_create(&th[n++], NULL, reader, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_PROF, &it, NULL);
	if (prof_ticks == 0)
		FAIL("own SIGPROF handler never ran");
	if (n_dl < 10 || n_alloc < 1000 || n_fork < 3 || n_sleep < 10 || n_bytes < 4096)
		FAIL("too little progress (deadlock?)");
	printf("stress: dlopen %ld, allocs %ld, forks %ld, sleeps %ld, pipe bytes %ld, "
	       "EINTR %ld, SIGPROF %d, failures %d\n", (long)n_dl, (long)n_alloc, (long)n_fork,
	       (long)n_sleep, (long)n_bytes, (long)n_eintr, (int)prof_ticks, (int)failures);
	return failures ? 1 : 0;
}
