/* Writes small pprof files with known span labels for spans_cli.sh (linked
 * with the core library; not a profiled workload):
 *   span_profile_gen DIR   -> DIR/a.pb.gz, DIR/b.pb.gz (CPU), DIR/heap.pb.gz
 * a.pb.gz: span 1111111111111111 (trace 1111..., "/checkout") 50 samples,
 *          span 2222222222222222 ("/cart") 30, span 3333333333333333 (name
 *          `say "hi"\`) 10 in two stacks (7 + 3), 10 samples outside spans.
 * b.pb.gz: span 1111111111111111 20 more samples, span 4444444444444444 5.
 * 100 Hz: one sample = 10,000,000 cpu ns. */
#include <stdio.h>
#include <string.h>

#include "model/pprof.h"
#include "model/profile.h"

#define PERIOD 10000000LL

static int add(sp_profile *p, uint64_t leaf, uint64_t root, const char *span, const char *name,
	       int64_t n)
{
	uint64_t stack[2] = { leaf, root };
	int64_t v[2] = { n, n * PERIOD };
	sp_label l[3];
	size_t nl = 0;
	char trace[33];

	if (span) {
		snprintf(trace, sizeof(trace), "%s%s", span, span);
		l[nl++] = sp_profile_str_label(p, "span_id", span);
		l[nl++] = sp_profile_str_label(p, "trace_id", trace);
		if (name)
			l[nl++] = sp_profile_str_label(p, "span_name", name);
	}
	return sp_profile_add_sample(p, stack, 2, v, l, nl);
}

static uint64_t fn(sp_profile *p, const char *name)
{
	sp_line line = { .function_id = sp_profile_add_function(p, name, name, "gen.c", 1) };

	return sp_profile_add_location(p, 0, 0, &line, 1);
}

static int write(sp_profile *p, const char *dir, const char *name)
{
	char path[4096];
	sp_error err = { "" };

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	p->time_nanos = 1767225600000000000LL;
	p->duration_nanos = 10000000000LL;
	if (sp_pprof_write_file(p, path, &err)) {
		fprintf(stderr, "span_profile_gen: %s\n", err.msg);
		return 1;
	}
	sp_profile_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	sp_profile *a = sp_profile_new(), *b = sp_profile_new(), *h = sp_profile_new();
	uint64_t m, w1, w2;
	int64_t hv[4] = { 1, 1024, 1, 1024 };
	int rc = 0;

	if (argc != 2 || !a || !b || !h) {
		fprintf(stderr, "usage: span_profile_gen DIR\n");
		return 2;
	}
	sp_profile_init_cpu(a, PERIOD);
	m = fn(a, "main");
	w1 = fn(a, "work_one");
	w2 = fn(a, "work_two");
	rc |= add(a, w1, m, "1111111111111111", "/checkout", 50);
	rc |= add(a, w2, m, "2222222222222222", "/cart", 30);
	rc |= add(a, w1, m, "3333333333333333", "say \"hi\"\\", 7);
	rc |= add(a, w2, m, "3333333333333333", "say \"hi\"\\", 3);
	rc |= add(a, w2, m, NULL, NULL, 10);

	sp_profile_init_cpu(b, PERIOD);
	m = fn(b, "main");
	w1 = fn(b, "work_one");
	rc |= add(b, w1, m, "1111111111111111", "/checkout", 20);
	rc |= add(b, w1, m, "4444444444444444", NULL, 5);

	sp_profile_init_heap(h, 512 * 1024);
	m = fn(h, "main");
	rc |= sp_profile_add_sample(h, &m, 1, hv, NULL, 0);
	if (rc) {
		fprintf(stderr, "span_profile_gen: building the profiles failed\n");
		return 1;
	}
	return write(a, argv[1], "a.pb.gz") | write(b, argv[1], "b.pb.gz") |
	       write(h, argv[1], "heap.pb.gz");
}
