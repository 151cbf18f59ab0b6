/* Worker cost per sample: remote unwind over a copied ~30-frame stack
 * (sp_unwind) and unwind + intern (sp_aggregator_add), warm cache, against
 * libunwind's local unw_backtrace on the same live stack.
 *   bench_unwind [ITERATIONS] [--write FILE.pb.gz]
 * Built and run by scripts/bench-unwind.sh; --write is used by the
 * aggregate_pprof integration test. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <stdlib.h>

#include "../unit/sample_capture.h"

#include "aggregate.h"
#include "pprof.h"
#include "unwind.h"

#define CHAIN __attribute__((noinline, noclone, optimize("omit-frame-pointer")))

static volatile int sink;
static int iterations = 20000;
static uint64_t *t_local;
static size_t local_frames;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* At the leaf: time local unw_backtrace on this very stack, then capture. */
CHAIN static void leaf(void)
{
	void *buf[SP_MAX_FRAMES];
	int n = 0;

	for (int i = 0; i < 1000; i++)
		n = unw_backtrace(buf, SP_MAX_FRAMES);
	for (int i = 0; i < iterations; i++) {
		uint64_t t0 = now_ns();
		n = unw_backtrace(buf, SP_MAX_FRAMES);
		t_local[i] = now_ns() - t0;
	}
	local_frames = (size_t)n;
	sink++;
	CAP_FIRE();
	sink++;
}

/* 26 distinct frames above the leaf (+ test driver, main, libc start,
 * _start: about 30 in all). */
#define F(name, next) CHAIN static void name(void) { next(); sink++; }
F(f26, leaf) F(f25, f26) F(f24, f25) F(f23, f24) F(f22, f23) F(f21, f22)
F(f20, f21) F(f19, f20) F(f18, f19) F(f17, f18) F(f16, f17) F(f15, f16)
F(f14, f15) F(f13, f14) F(f12, f13) F(f11, f12) F(f10, f11) F(f9, f10)
F(f8, f9) F(f7, f8) F(f6, f7) F(f5, f6) F(f4, f5) F(f3, f4) F(f2, f3) F(f1, f2)

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void stats(uint64_t *v, int n, uint64_t *median, uint64_t *p99)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_u64);
	*median = v[n / 2];
	*p99 = v[(size_t)n * 99 / 100];
}

int main(int argc, char **argv)
{
	const char *write_path = NULL;
	sp_error err = { { 0 } };
	uint64_t pcs[SP_MAX_FRAMES];
	enum sp_unwind_status st;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--write") && i + 1 < argc)
			write_path = argv[++i];
		else
			iterations = atoi(argv[i]);
	}
	if (iterations < 100)
		iterations = 100;
	t_local = calloc((size_t)iterations, sizeof(*t_local));
	uint64_t *t_unwind = calloc((size_t)iterations, sizeof(*t_unwind));
	uint64_t *t_add = calloc((size_t)iterations, sizeof(*t_add));
	if (!t_local || !t_unwind || !t_add)
		return 1;

	cap_setup();
	f1();
	if (!cap_done) {
		fprintf(stderr, "bench_unwind: the capture signal was not delivered\n");
		return 1;
	}

	sp_unwinder *u = sp_unwinder_new(&err);
	if (!u) {
		fprintf(stderr, "bench_unwind: %s\n", err.msg);
		return 1;
	}
	uint64_t t0 = now_ns();
	size_t frames = sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	uint64_t cold = now_ns() - t0;
	for (int i = 0; i < 1000; i++)
		sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
	for (int i = 0; i < iterations; i++) {
		t0 = now_ns();
		sp_unwind(u, &cap_sample, pcs, SP_MAX_FRAMES, &st);
		t_unwind[i] = now_ns() - t0;
	}

	sp_aggregator_config cfg = { .period_ns = 10000000, .symbolize = true,
				     .span_name_label = true };
	sp_aggregator *a = sp_aggregator_new(&cfg, &err);
	if (!a) {
		fprintf(stderr, "bench_unwind: %s\n", err.msg);
		return 1;
	}
	sp_raw_sample s = cap_sample;
	s.span.active = 1;
	s.span.span_id[0] = 0x5a;
	s.span.trace_id[15] = 0x7e;
	snprintf(s.span.name, sizeof(s.span.name), "bench");
	for (int i = 0; i < 1000; i++)
		sp_aggregator_add(a, &s, "bench-thread");
	for (int i = 0; i < iterations; i++) {
		t0 = now_ns();
		sp_aggregator_add(a, &s, "bench-thread");
		t_add[i] = now_ns() - t0;
	}
	sp_telemetry tel = { .engine = "bench", .samples_taken = (uint64_t)iterations + 1000,
			     .threads = 1 };
	t0 = now_ns();
	sp_profile *p = sp_aggregator_take_profile(a, 0, 1000000000, &tel, &err);
	uint64_t take = now_ns() - t0;
	if (!p) {
		fprintf(stderr, "bench_unwind: %s\n", err.msg);
		return 1;
	}
	if (write_path && sp_pprof_write_file(p, write_path, &err) < 0) {
		fprintf(stderr, "bench_unwind: %s\n", err.msg);
		return 1;
	}

	uint64_t lm, lp, um, up, am, ap;
	stats(t_local, iterations, &lm, &lp);
	stats(t_unwind, iterations, &um, &up);
	stats(t_add, iterations, &am, &ap);
	printf("frames: remote %zu (%s), local unw_backtrace %zu; stack copy %u bytes\n",
	       frames, st == SP_UNWIND_COMPLETE ? "complete" : "TRUNCATED", local_frames,
	       cap_sample.stack_len);
	printf("%-34s %10s %10s %12s\n", "per sample (warm cache)", "median ns", "p99 ns",
	       "x local");
	printf("%-34s %10llu %10llu %12s\n", "unw_backtrace (libunwind, local)",
	       (unsigned long long)lm, (unsigned long long)lp, "1.0");
	printf("%-34s %10llu %10llu %12.1f\n", "sp_unwind (remote, copied stack)",
	       (unsigned long long)um, (unsigned long long)up, (double)um / (double)lm);
	printf("%-34s %10llu %10llu %12.1f\n", "sp_aggregator_add (unwind+intern)",
	       (unsigned long long)am, (unsigned long long)ap, (double)am / (double)lm);
	printf("%-34s %10.0f\n", "ns per frame, sp_unwind median", (double)um / (double)frames);
	printf("first (cold) sp_unwind: %llu ns; take_profile + symbolize: %.1f ms\n",
	       (unsigned long long)cold, (double)take / 1e6);
	printf("target: sp_aggregator_add median <= 10000 ns: %s\n", am <= 10000 ? "met" : "MISSED");
	sp_profile_free(p);
	sp_aggregator_free(a);
	sp_unwinder_free(u);
	free(t_local);
	free(t_unwind);
	free(t_add);
	return 0;
}
