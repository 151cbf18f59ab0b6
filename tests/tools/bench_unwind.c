/* Worker cost per sample: remote unwind over a copied ~30-frame stack
 * (sp_unwind) and unwind + intern (sp_aggregator_add), warm cache, against
 * libunwind's local unw_backtrace on the same live stack.
 *   bench_unwind [ITERATIONS] [--write FILE.pb.gz]
 *   bench_unwind --sampled N    timer-sampled mixed workload: how many of N
 *                               samples (taken at arbitrary instructions)
 *                               unwind to _start, frames per sample
 * Built and run by scripts/bench-unwind.sh; --write is used by the
 * aggregate_pprof integration test, --sampled by unwind_sampled. */
#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include <stdlib.h>

#include "../unit/sample_capture.h"

#include "aggregate/aggregate.h"
#include "model/pprof.h"
#include "unwind/unwind.h"

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

/* ---- timer-sampled workload ------------------------------------------- */

#define SLOTS 256
#define SLOT_STACK 16384

static uint8_t slot_stack[SLOTS][SLOT_STACK];
static sp_raw_sample slot[SLOTS];
static volatile int n_slots;

__attribute__((no_sanitize_address)) static void prof_handler(int sig, siginfo_t *si, void *ctx)
{
	static const int map[SP_REG_COUNT] = {
		REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI, REG_RBP, REG_RSP,
		REG_R8, REG_R9, REG_R10, REG_R11, REG_R12, REG_R13, REG_R14, REG_R15,
		REG_RIP,
	};
	ucontext_t *uc = ctx;
	int i = n_slots;

	if (i >= SLOTS)
		return;
	for (int r = 0; r < SP_REG_COUNT; r++)
		slot[i].regs[r] = (uint64_t)uc->uc_mcontext.gregs[map[r]];
	uint64_t lo = (slot[i].regs[SP_REG_RSP] - SP_REDZONE) & ~7ull;
	uint64_t len = cap_stack_top > lo ? cap_stack_top - lo : 0;
	if (len > SLOT_STACK)
		len = SLOT_STACK;
	cap_copy(slot_stack[i], lo, len);
	slot[i].stack_base = lo;
	slot[i].stack_len = (uint32_t)len;
	slot[i].stack = slot_stack[i];
	slot[i].count = 1;
	slot[i].weight = 1000000;
	n_slots = i + 1;
}

static volatile uint64_t wsink;
static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}
__attribute__((noinline)) static uint64_t fib(int n) { return n < 2 ? (uint64_t)n : fib(n - 1) + fib(n - 2); }
__attribute__((noinline)) static void sort_work(void)
{
	static int v[4096];
	for (int i = 0; i < 4096; i++)
		v[i] = (int)((unsigned)i * 2654435761u);
	qsort(v, 4096, sizeof(v[0]), cmp_int);
	wsink += (uint64_t)v[7];
}
__attribute__((noinline)) static void string_work(void)
{
	char buf[64];
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "%d.%03d", i, i * 7);
		wsink += (uint64_t)strtod(buf, NULL);
	}
}
__attribute__((noinline)) static void mem_work(void)
{
	static char a[65536], b[65536];
	for (int i = 0; i < 8; i++) {
		memset(a, i, sizeof(a));
		memcpy(b, a, sizeof(b));
	}
	wsink += (uint64_t)b[100];
}
__attribute__((noinline)) static void alloc_work(void)
{
	void *p[64];
	for (int i = 0; i < 64; i++)
		p[i] = malloc((size_t)(16 + i * 40));
	for (int i = 0; i < 64; i++)
		free(p[i]);
}

static int run_sampled(int want)
{
	sp_error err = { { 0 } };
	uint64_t pcs[SP_MAX_FRAMES];
	enum sp_unwind_status st;
	struct sigaction sa;
	/* A wall-clock hrtimer: the workload is single-threaded and CPU-bound,
	 * and CPU-time itimers only fire at the scheduler tick. */
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGPROF };
	struct itimerspec on = { { 0, 200000 }, { 0, 200000 } }, off = { { 0, 0 }, { 0, 0 } };
	timer_t timer;
	uint64_t done = 0, complete = 0, truncated = 0, maxdepth = 0, frames = 0, ns = 0;

	sp_unwinder *u = sp_unwinder_new_procfs(0, &err);
	if (!u) {
		fprintf(stderr, "bench_unwind: %s\n", err.msg);
		return 1;
	}
	cap_setup();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = prof_handler;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPROF, &sa, NULL);
	if (timer_create(CLOCK_MONOTONIC, &sev, &timer) < 0) {
		perror("timer_create");
		return 1;
	}
	timer_settime(timer, 0, &on, NULL);
	while (done < (uint64_t)want) {
		switch (done % 5) {
		case 0: wsink += fib(18); break;
		case 1: sort_work(); break;
		case 2: string_work(); break;
		case 3: mem_work(); break;
		default: alloc_work(); break;
		}
		if (n_slots < SLOTS && done + (uint64_t)n_slots < (uint64_t)want)
			continue;
		/* Unwind the batch with sampling paused (the slots are reused). */
		timer_settime(timer, 0, &off, NULL);
		for (int i = 0; i < n_slots && done < (uint64_t)want; i++, done++) {
			uint64_t t0 = now_ns();
			size_t n = sp_unwind(u, &slot[i], pcs, SP_MAX_FRAMES, &st);
			ns += now_ns() - t0;
			frames += n;
			if (st == SP_UNWIND_COMPLETE)
				complete++;
			else if (st == SP_UNWIND_MAX_DEPTH)
				maxdepth++;
			else
				truncated++;
			if (st == SP_UNWIND_TRUNCATED && getenv("BENCH_UNWIND_VERBOSE")) {
				char name[64];
				fprintf(stderr, "truncated:");
				for (size_t k = 0; k < n; k++) {
					cap_symname(pcs[k], name, sizeof(name));
					fprintf(stderr, " %s", name);
				}
				fprintf(stderr, "\n");
			}
		}
		n_slots = 0;
		timer_settime(timer, 0, &on, NULL);
	}
	timer_delete(timer);
	printf("sampled workload: %llu samples, complete %llu (%.2f%%), truncated %llu (%.2f%%), "
	       "max-depth %llu, frames avg %.1f, sp_unwind avg %.0f ns (cold and warm)\n",
	       (unsigned long long)done, (unsigned long long)complete,
	       100.0 * (double)complete / (double)done, (unsigned long long)truncated,
	       100.0 * (double)truncated / (double)done, (unsigned long long)maxdepth,
	       (double)frames / (double)done, (double)ns / (double)done);
	sp_unwinder_free(u);
	return 0;
}

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
		else if (!strcmp(argv[i], "--sampled") && i + 1 < argc)
			return run_sampled(atoi(argv[++i]));
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

	sp_unwinder *u = sp_unwinder_new_procfs(0, &err);
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
