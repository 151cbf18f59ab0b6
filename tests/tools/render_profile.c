/* Test helper for the renderers, built by the integration tests and the
 * flame graph benchmark against libspanprof_core.a:
 *   render_profile test OUT         the known profile below
 *   render_profile bench OUT N S    N samples over S distinct stacks
 *                                   (a synthetic C++ service, Zipf weights)
 *   render_profile empty OUT        valid CPU profile without samples
 *   render_profile heap OUT         small heap profile (bytes units)
 * Everything is deterministic (fixed PRNG seed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/pprof.h"
#include "model/profile.h"

#define PERIOD 10000000LL /* 100 Hz */

static sp_profile *p;
static uint64_t m_app, m_libc;
static uint64_t next_addr = 0x555555555000;

static void die(const char *what)
{
	fprintf(stderr, "render_profile: %s failed\n", what);
	exit(1);
}

/* Location of a function; inl != NULL adds it as inlined into `name`. */
static uint64_t loc_fn(const char *name, const char *inl)
{
	sp_line lines[2];
	size_t n = 0;
	uint64_t f, l;

	if (inl) {
		f = sp_profile_add_function(p, inl, NULL, "inl.h", 1);
		lines[n++] = (sp_line){ f, 3, 0 };
	}
	f = sp_profile_add_function(p, name, NULL, "app.cc", 10);
	lines[n++] = (sp_line){ f, 12, 0 };
	l = sp_profile_add_location(p, m_app, next_addr += 0x10, lines, n);
	if (!f || !l)
		die("add_location");
	return l;
}

static uint64_t loc_raw(uint64_t mapping, uint64_t addr)
{
	uint64_t l = sp_profile_add_location(p, mapping, addr, NULL, 0);

	if (!l)
		die("add_location");
	return l;
}

/* stack given root first; stored leaf first as pprof wants */
static void sample(const uint64_t *root_first, size_t n, int64_t count, const char *span,
		   const char *thread)
{
	uint64_t leaf_first[64];
	int64_t v[2] = { count, count * PERIOD };
	sp_label lab[3];
	size_t nl = 0;

	for (size_t i = 0; i < n; i++)
		leaf_first[i] = root_first[n - 1 - i];
	if (span) {
		lab[nl++] = sp_profile_str_label(p, "span_id", span);
		lab[nl++] = sp_profile_str_label(p, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
	}
	if (thread)
		lab[nl++] = sp_profile_str_label(p, "thread_name", thread);
	if (sp_profile_add_sample(p, leaf_first, n, v, lab, nl))
		die("add_sample");
}

static void mappings(void)
{
	m_app = sp_profile_add_mapping(p, 0x555555554000, 0x555555600000, 0x1000,
				       "/usr/bin/server", "4f2c0b8e1d9a7c3b5e6f708192a3b4c5d6e7f809");
	m_libc = sp_profile_add_mapping(p, 0x7ffff7c28000, 0x7ffff7dbd000, 0x28000,
					"/usr/lib/x86_64-linux-gnu/libc.so.6",
					"d5f5a1b2c3d4e5f60718293a4b5c6d7e8f901234");
	if (!m_app || !m_libc)
		die("add_mapping");
}

/* The known profile (values in samples; cpu = samples x 10ms):
 *   main;run<std::vector<int>>;compute;square(inlined)        40  span A, main
 *   main;run<std::vector<int>>;compute                        10  span A, main
 *   main;parse "a&b";operator<<(std::ostream&, Foo const&)    20  main
 *   main;io_wait;[libc.so.6+0x...]                            15  main
 *   main;recurse;recurse;recurse;leaf_fn                       8  main
 *   start_thread;worker_loop;handle_request;0x7fff00001234     5  span B, worker-1
 *   [truncated];deep_fn                                        2  worker-1 */
static void known(void)
{
	uint64_t main_ = loc_fn("main", NULL);
	uint64_t run = loc_fn("run<std::vector<int>>", NULL);
	uint64_t comp_sq = loc_fn("compute", "square");
	uint64_t comp = loc_fn("compute", NULL);
	uint64_t parse = loc_fn("parse \"a&b\"", NULL);
	uint64_t op = loc_fn("operator<<(std::ostream&, Foo const&)", NULL);
	uint64_t io = loc_fn("io_wait", NULL);
	uint64_t libc_read = loc_raw(m_libc, 0x7ffff7d14a5d);
	uint64_t rec = loc_fn("recurse", NULL);
	uint64_t leaf = loc_fn("leaf_fn", NULL);
	uint64_t st = loc_fn("start_thread", NULL);
	uint64_t wl = loc_fn("worker_loop", NULL);
	uint64_t hr = loc_fn("handle_request", NULL);
	uint64_t bare = loc_raw(0, 0x7fff00001234);
	uint64_t trunc = loc_fn("[truncated]", NULL);
	uint64_t deep = loc_fn("deep_fn", NULL);
	const char *A = "00f067aa0ba902b7", *B = "b7ad6b7169203331";

	sample((uint64_t[]){ main_, run, comp_sq }, 3, 40, A, "main");
	sample((uint64_t[]){ main_, run, comp }, 3, 10, A, "main");
	sample((uint64_t[]){ main_, parse, op }, 3, 20, NULL, "main");
	sample((uint64_t[]){ main_, io, libc_read }, 3, 15, NULL, "main");
	sample((uint64_t[]){ main_, rec, rec, rec, leaf }, 5, 8, NULL, "main");
	sample((uint64_t[]){ st, wl, hr, bare }, 4, 5, B, "worker-1");
	sample((uint64_t[]){ trunc, deep }, 2, 2, NULL, "worker-1");
}

/* ---- synthetic service for the benchmark ---------------------------------- */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define N_FUNCS 3000

static const char *const ns[] = { "http", "db", "json", "cache", "rpc", "std", "absl",
				   "proto", "auth", "metrics", "storage", "sched" };
static const char *const cls[] = { "Server", "Connection", "Parser", "Writer", "Pool",
				   "Table", "Index", "Session", "Buffer", "Codec",
				   "Handler", "Queue", "Map<std::string, int>", "Tree" };
static const char *const meth[] = { "Run", "Handle", "Parse", "Serialize", "Lookup",
				    "Insert", "Flush", "Read", "Write", "Encode", "Decode",
				    "Resize", "Commit", "Dispatch", "Visit", "Compare",
				    "operator()", "operator<", "Hash", "Allocate" };

static uint64_t func_loc[N_FUNCS];

static void make_funcs(void)
{
	char name[160], inl[160];

	for (int i = 0; i < N_FUNCS; i++) {
		uint64_t r = next_rand();

		snprintf(name, sizeof(name), "%s::%s::%s%s", ns[r % 12], cls[(r >> 8) % 14],
			 meth[(r >> 16) % 20], (r >> 24) % 7 == 0 ? "_slow" : "");
		if (i < 2) {
			snprintf(name, sizeof(name), i ? "start_thread" : "main");
		} else if (r % 97 == 0) {
			func_loc[i] = loc_raw(m_libc, 0x7ffff7c30000 + (r % 0x80000));
			continue;
		}
		/* distinct names: append the index to most */
		if (i >= 2)
			snprintf(name + strlen(name), sizeof(name) - strlen(name), "%d", i % 400);
		if (i >= 2 && (r >> 32) % 6 == 0) {
			snprintf(inl, sizeof(inl), "%s::inlined_helper%d", ns[(r >> 40) % 12],
				 (int)((r >> 44) % 50));
			func_loc[i] = loc_fn(name, inl);
		} else {
			func_loc[i] = loc_fn(name, NULL);
		}
	}
}

/* Callee choice depends on the caller so the tree shares prefixes. */
static int callee(int caller, int depth)
{
	uint64_t r = next_rand();
	uint64_t h = (uint64_t)caller * 0x9e3779b97f4a7c15ULL + (uint64_t)depth;
	int fanout = 2 + (int)(r % 5);

	h ^= h >> 29;
	return 2 + (int)((h + (r >> 8) % (uint64_t)fanout * 7919) % (N_FUNCS - 2));
}

static void bench(long n_samples, long n_stacks)
{
	uint64_t stack[64];
	double *cdf;
	long *weights;
	size_t made = 0;

	make_funcs();
	weights = calloc((size_t)n_stacks, sizeof(*weights));
	cdf = malloc((size_t)n_stacks * sizeof(*cdf));
	if (!weights || !cdf)
		die("malloc");
	/* Zipf-like weights: every stack at least one sample, the rest skewed. */
	double acc = 0;
	for (long i = 0; i < n_stacks; i++) {
		acc += 1.0 / (double)(i + 1);
		cdf[i] = acc;
	}
	for (long i = 0; i < n_stacks; i++)
		weights[i] = 1;
	for (long s = n_stacks; s < n_samples; s++) {
		double x = (double)(next_rand() % 1000000007ULL) / 1000000007.0 * acc;
		long lo = 0, hi = n_stacks - 1;

		while (lo < hi) {
			long mid = (lo + hi) / 2;

			if (cdf[mid] < x)
				lo = mid + 1;
			else
				hi = mid;
		}
		weights[lo]++;
	}
	while (made < (size_t)n_stacks) {
		size_t before = p->n_samples;
		int depth = 6 + (int)(next_rand() % 30), f = next_rand() % 10 ? 0 : 1;
		int64_t v[2];

		stack[0] = func_loc[f];
		for (int d = 1; d < depth; d++) {
			f = callee(f, d);
			stack[d] = func_loc[f];
		}
		/* reverse to leaf first */
		for (int i = 0; i < depth / 2; i++) {
			uint64_t t = stack[i];

			stack[i] = stack[depth - 1 - i];
			stack[depth - 1 - i] = t;
		}
		v[0] = weights[made];
		v[1] = weights[made] * PERIOD;
		if (sp_profile_add_sample(p, stack, (size_t)depth, v, NULL, 0))
			die("add_sample");
		if (p->n_samples > before)
			made++;
	}
	free(weights);
	free(cdf);
}

static void heap(void)
{
	uint64_t main_ = loc_fn("main", NULL), a = loc_fn("Buffer::Grow", NULL);
	uint64_t b = loc_fn("json::Parse", NULL), c = loc_fn("malloc", NULL);
	uint64_t st1[3] = { c, a, main_ }, st2[3] = { c, b, main_ };
	int64_t v1[4] = { 10, 13107200, 2, 2621440 }, v2[4] = { 4, 524288, 4, 524288 };

	if (sp_profile_add_sample(p, st1, 3, v1, NULL, 0) ||
	    sp_profile_add_sample(p, st2, 3, v2, NULL, 0))
		die("add_sample");
}

int main(int argc, char **argv)
{
	sp_error err = { { 0 } };
	const char *mode = argc > 2 ? argv[1] : "";

	p = sp_profile_new();
	if (!p)
		die("sp_profile_new");
	if (!strcmp(mode, "heap")) {
		if (sp_profile_init_heap(p, 524288))
			die("init_heap");
	} else if (sp_profile_init_cpu(p, PERIOD)) {
		die("init_cpu");
	}
	p->time_nanos = 1700000000000000000LL;
	p->duration_nanos = 10000000000LL;
	mappings();
	if (!strcmp(mode, "test"))
		known();
	else if (!strcmp(mode, "bench") && argc == 5)
		bench(atol(argv[3]), atol(argv[4]));
	else if (!strcmp(mode, "heap"))
		heap();
	else if (strcmp(mode, "empty")) {
		fprintf(stderr, "usage: render_profile test|empty|heap OUT | bench OUT SAMPLES STACKS\n");
		return 2;
	}
	if (sp_pprof_write_file(p, argv[2], &err)) {
		fprintf(stderr, "render_profile: %s\n", err.msg);
		return 1;
	}
	sp_profile_free(p);
	return 0;
}
