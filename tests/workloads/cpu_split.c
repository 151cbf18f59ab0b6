/* Known CPU split for the profiler tests: spin_heavy does 3 units of work for
 * every 1 unit of spin_light, both under main -> chain1 -> chain2 -> chain3 ->
 * chain4. Modes:
 *   cpu_split SECONDS                 the split in this executable
 *   cpu_split SECONDS so PATH.so      the same split in a dlopen'ed library
 *                                     (hot_heavy / hot_light), loaded after start
 *   cpu_split SECONDS qsort           qsort with a comparator (hot loop in libc)
 * SECONDS may be "<N>x": N rounds of the work instead of a time (benchmarks).
 * Built -O2 -fomit-frame-pointer; noipa keeps every function a real frame
 * and stops GCC from merging or inlining them. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOIPA __attribute__((noipa))

typedef uint64_t (*spin_fn)(uint64_t);

volatile uint64_t sink;
static spin_fn heavy_fn, light_fn;
static const char *mode = "exe";
static uint64_t unit = 400000;

NOIPA uint64_t spin_heavy(uint64_t n)
{
	uint64_t x = n | 1;

	for (uint64_t i = 0; i < n; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
	return x;
}

NOIPA uint64_t spin_light(uint64_t n)
{
	uint64_t x = n | 3;

	for (uint64_t i = 0; i < n; i++)
		x = x * 2862933555777941757ULL + 3037000493ULL;
	return x;
}

NOIPA int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static uint64_t *arr, *work;
static size_t arr_n = 20000;

NOIPA uint64_t do_qsort(void)
{
	memcpy(work, arr, arr_n * sizeof(*arr));
	qsort(work, arr_n, sizeof(*work), cmp_u64);
	return work[arr_n / 2];
}

NOIPA uint64_t chain4(uint64_t u)
{
	uint64_t r;

	if (!strcmp(mode, "qsort")) {
		r = do_qsort();
	} else {
		r = heavy_fn(3 * u);
		r += light_fn(u);
	}
	sink += r;
	return r + 1;
}

NOIPA uint64_t chain3(uint64_t u)
{
	uint64_t r = chain4(u);
	sink += r;
	return r + 1;
}

NOIPA uint64_t chain2(uint64_t u)
{
	uint64_t r = chain3(u);
	sink += r;
	return r + 1;
}

NOIPA uint64_t chain1(uint64_t u)
{
	uint64_t r = chain2(u);
	sink += r;
	return r + 1;
}

/* Round sizes vary (mean `unit`, fixed seed): a constant round length
 * can alias with a tick-driven sampler (CPU-time timers fire on the 250 Hz
 * scheduler tick) and land every sample at the same few phases of the round,
 * biasing the split. Each round keeps heavy:light at exactly 3:1. */
static uint64_t round_units(void)
{
	static uint64_t s = 0x9e3779b97f4a7c15ULL;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return unit / 2 + s % unit;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0, end;
	long rounds = argc > 1 && strchr(argv[1], 'x') ? atol(argv[1]) : -1;

	heavy_fn = spin_heavy;
	light_fn = spin_light;
	if (argc > 2)
		mode = argv[2];
	if (!strcmp(mode, "so")) {
		void *h;
		if (argc < 4) {
			fprintf(stderr, "usage: cpu_split SECONDS so LIB.so\n");
			return 2;
		}
		h = dlopen(argv[3], RTLD_NOW);
		if (!h) {
			fprintf(stderr, "dlopen: %s\n", dlerror());
			return 1;
		}
		heavy_fn = (spin_fn)dlsym(h, "hot_heavy");
		light_fn = (spin_fn)dlsym(h, "hot_light");
		if (!heavy_fn || !light_fn) {
			fprintf(stderr, "dlsym: %s\n", dlerror());
			return 1;
		}
	} else if (!strcmp(mode, "qsort")) {
		arr = malloc(arr_n * sizeof(*arr));
		work = malloc(arr_n * sizeof(*work));
		if (!arr || !work)
			return 1;
		for (size_t i = 0; i < arr_n; i++)
			arr[i] = (i * 2654435761u) % 1000003u;
	}
	if (rounds >= 0) {
		for (long i = 0; i < rounds; i++)
			sink += chain1(round_units());
	} else {
		end = now() + secs;
		while (now() < end)
			sink += chain1(round_units());
	}
	free(arr);
	free(work);
	return 0;
}
