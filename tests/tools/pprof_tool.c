/* Test helper for the pprof layer, built by the integration tests:
 *   pprof_tool write OUT        write a known CPU profile (see below)
 *   pprof_tool read IN [TYPE]   print sample types, totals, functions, labels
 *   pprof_tool copy IN OUT [raw] read and re-write (gzip'd unless "raw")
 *   pprof_tool merge OUT IN...  merge profiles
 *   pprof_tool big OUT N        write a profile with N distinct stacks
 *   pprof_tool bench N ITERS    time build/encode/decode of that profile (ms)
 * Output of `read` is line-oriented and sorted so scripts can diff it. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/pprof.h"
#include "model/profile.h"

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The known profile:
 *   main (app.c:40) -> compute (app.c:20) -> [inlined] square (math.h:3)
 *   main -> io_wait (io.c:7)
 *   thread "worker-1" with span_id, thread "main" without; numeric tid. */
static sp_profile *known_profile(void)
{
	sp_profile *p = sp_profile_new();
	uint64_t app, libc, f_main, f_compute, f_square, f_io, f_read;
	uint64_t l_main, l_compute, l_io, l_read;
	uint64_t st1[2], st2[3];
	sp_line lines[2];
	sp_label lab[3];
	int64_t v[2];

	sp_profile_init_cpu(p, 10000000);
	p->time_nanos = 1700000000000000000LL;
	p->duration_nanos = 2000000000LL;
	sp_profile_add_comment(p, "written by pprof_tool");
	app = sp_profile_add_mapping(p, 0x555555554000, 0x555555556000, 0x1000, "/usr/bin/app",
				     "4f2c0b8e1d9a7c3b5e6f708192a3b4c5d6e7f809");
	libc = sp_profile_add_mapping(p, 0x7ffff7c28000, 0x7ffff7dbd000, 0x28000,
				      "/usr/lib/x86_64-linux-gnu/libc.so.6",
				      "d5f5a1b2c3d4e5f60718293a4b5c6d7e8f901234");
	/* referenced by no location: the writer must drop it */
	sp_profile_add_mapping(p, 0x7ffff7a00000, 0x7ffff7a80000, 0x9000,
			       "/usr/lib/x86_64-linux-gnu/libcurl.so.4", "0123abcd");
	/* understated on purpose: the writer sets the flags from the locations
	 * (app: functions, files, lines, inlining; libc: functions only) */
	p->mappings[0].has_functions = true;
	f_main = sp_profile_add_function(p, "main", NULL, "app.c", 35);
	f_compute = sp_profile_add_function(p, "compute", NULL, "app.c", 15);
	f_square = sp_profile_add_function(p, "square", NULL, "math.h", 2);
	f_io = sp_profile_add_function(p, "io_wait", NULL, "io.c", 5);
	f_read = sp_profile_add_function(p, "__GI___libc_read", "read", "", 0);

	lines[0] = (sp_line){ f_main, 40, 0 };
	l_main = sp_profile_add_location(p, app, 0x555555555100, lines, 1);
	lines[0] = (sp_line){ f_square, 3, 12 };
	lines[1] = (sp_line){ f_compute, 20, 0 };
	l_compute = sp_profile_add_location(p, app, 0x555555555200, lines, 2);
	lines[0] = (sp_line){ f_io, 7, 0 };
	l_io = sp_profile_add_location(p, app, 0x555555555300, lines, 1);
	lines[0] = (sp_line){ f_read, 0, 0 };
	l_read = sp_profile_add_location(p, libc, 0x7ffff7d14a5d, lines, 1);

	st1[0] = l_compute;
	st1[1] = l_main;
	st2[0] = l_read;
	st2[1] = l_io;
	st2[2] = l_main;

	lab[0] = sp_profile_str_label(p, "thread_name", "worker-1");
	lab[1] = sp_profile_str_label(p, "span_id", "00f067aa0ba902b7");
	lab[2] = sp_profile_num_label(p, "tid", 4242, NULL);
	v[0] = 7, v[1] = 70000000;
	sp_profile_add_sample(p, st1, 2, v, lab, 3);
	v[0] = 3, v[1] = 30000000;
	sp_profile_add_sample(p, st2, 3, v, lab, 3);
	lab[0] = sp_profile_str_label(p, "thread_name", "main");
	lab[1] = sp_profile_num_label(p, "tid", 4241, NULL);
	v[0] = 5, v[1] = 50000000;
	sp_profile_add_sample(p, st1, 2, v, lab, 2);
	return p;
}

static sp_profile *big_profile(int n)
{
	sp_profile *p = sp_profile_new();
	uint64_t map = sp_profile_add_mapping(p, 0x400000, 0x800000, 0, "/bin/big", "abcdef");
	uint64_t stack[24];
	char name[64], span[17];
	int i, d;

	sp_profile_init_cpu(p, 10000000);
	for (i = 0; i < n; i++) {
		int depth = 8 + i % 16;
		sp_label lab[2];
		int64_t v[2] = { 1 + i % 5, (1 + i % 5) * 10000000LL };

		for (d = 0; d < depth; d++) {
			/* a few thousand functions shared among the stacks */
			unsigned fn = (unsigned)((i * 31 + d * 977) % 4000);
			sp_line line;

			snprintf(name, sizeof(name), "namespace::Class%u::method_%u", fn % 97, fn);
			line.function_id = sp_profile_add_function(p, name, NULL, "src/file.cc", fn);
			line.line = 10 + d;
			line.column = 0;
			stack[d] = sp_profile_add_location(p, map, 0x400000 + (uint64_t)i * 64 + (uint64_t)d,
							   &line, 1);
		}
		snprintf(span, sizeof(span), "%016x", i % 500);
		lab[0] = sp_profile_str_label(p, "span_id", span);
		lab[1] = sp_profile_str_label(p, "thread_name", i % 2 ? "worker" : "main");
		sp_profile_add_sample(p, stack, (size_t)depth, v, lab, 2);
	}
	return p;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Best of ITERS for each step; prints one line of key=value. */
static int bench(int n, int iters, sp_error *err)
{
	double build = 1e18, enc = 1e18, enc_raw = 1e18, dec = 1e18, t;
	size_t len = 0, raw_len = 0;
	int i, rc = 0;

	for (i = 0; i < iters && !rc; i++) {
		sp_profile *p, *q = NULL;
		uint8_t *buf = NULL, *raw = NULL;

		t = now_ms();
		p = big_profile(n);
		t = now_ms() - t;
		build = t < build ? t : build;
		t = now_ms();
		rc = sp_pprof_encode(p, 1, &buf, &len, err);
		t = now_ms() - t;
		enc = t < enc ? t : enc;
		if (!rc) {
			t = now_ms();
			rc = sp_pprof_encode(p, 0, &raw, &raw_len, err);
			t = now_ms() - t;
			enc_raw = t < enc_raw ? t : enc_raw;
		}
		if (!rc) {
			t = now_ms();
			rc = sp_pprof_decode(buf, len, &q, err);
			t = now_ms() - t;
			dec = t < dec ? t : dec;
		}
		sp_profile_free(p);
		sp_profile_free(q);
		free(buf);
		free(raw);
	}
	if (!rc)
		printf("stacks=%d build_ms=%.2f encode_gzip_ms=%.2f encode_raw_ms=%.2f "
		       "decode_gzip_ms=%.2f gzip_bytes=%zu raw_bytes=%zu\n",
		       n, build, enc, enc_raw, dec, len, raw_len);
	return rc;
}

static int print_profile(const sp_profile *p, const char *type)
{
	char **names, **labels, buf[1024];
	size_t i, j, n_names = 0, n_labels = 0, total_labels = 0, total_lines = 0;
	int idx = sp_profile_sample_index(p, type);

	printf("sample_types:");
	for (i = 0; i < p->n_sample_types; i++)
		printf(" %s/%s", sp_profile_str(p, p->sample_types[i].type),
		       sp_profile_str(p, p->sample_types[i].unit));
	printf("\nperiod: %s/%s %lld\n", sp_profile_str(p, p->period_type.type),
	       sp_profile_str(p, p->period_type.unit), (long long)p->period);
	printf("samples: %zu\n", p->n_samples);
	for (i = 0; i < p->n_sample_types; i++)
		printf("total %s: %lld\n", sp_profile_str(p, p->sample_types[i].type),
		       (long long)sp_profile_total(p, (int)i));
	if (idx >= 0)
		printf("selected %s: %lld\n", sp_profile_str(p, p->sample_types[idx].type),
		       (long long)sp_profile_total(p, idx));
	printf("mappings: %zu\n", p->n_mappings);
	for (i = 0; i < p->n_mappings; i++)
		printf("mapping %s build_id=%s\n", sp_profile_str(p, p->mappings[i].filename),
		       sp_profile_str(p, p->mappings[i].build_id));

	/* Functions of samples with a non-zero value: what pprof shows (it
	 * drops all-zero samples, e.g. Go heap profiles carry one). */
	for (i = 0; i < p->n_samples; i++)
		for (j = 0; j < p->samples[i].n_locations; j++)
			total_lines += sp_profile_location(p, p->samples[i].location_ids[j])->n_lines;
	names = calloc(total_lines + 1, sizeof(char *));
	for (i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		bool nonzero = false;
		size_t k;

		for (k = 0; k < p->n_sample_types; k++)
			nonzero |= s->values[k] != 0;
		for (j = 0; nonzero && j < s->n_locations; j++) {
			const sp_location *l = sp_profile_location(p, s->location_ids[j]);

			for (k = 0; k < l->n_lines; k++)
				names[n_names++] = (char *)sp_profile_str(p,
					sp_profile_function(p, l->lines[k].function_id)->name);
		}
	}
	qsort(names, n_names, sizeof(char *), cmp_str);
	for (i = 0; i < n_names; i++)
		if (!i || strcmp(names[i], names[i - 1]))
			printf("function %s\n", names[i]);
	free(names);

	for (i = 0; i < p->n_samples; i++)
		total_labels += p->samples[i].n_labels;
	labels = calloc(total_labels + 1, sizeof(char *));
	for (i = 0; i < p->n_samples; i++)
		for (j = 0; j < p->samples[i].n_labels; j++) {
			const sp_label *l = &p->samples[i].labels[j];

			if (l->str)
				snprintf(buf, sizeof(buf), "label %s=%s", sp_profile_str(p, l->key),
					 sp_profile_str(p, l->str));
			else
				snprintf(buf, sizeof(buf), "label %s=%lld%s", sp_profile_str(p, l->key),
					 (long long)l->num, sp_profile_str(p, l->num_unit));
			labels[n_labels++] = strdup(buf);
		}
	qsort(labels, n_labels, sizeof(char *), cmp_str);
	for (i = 0; i < n_labels; i++)
		if (!i || strcmp(labels[i], labels[i - 1]))
			printf("%s\n", labels[i]);
	for (i = 0; i < n_labels; i++)
		free(labels[i]);
	free(labels);
	return 0;
}

int main(int argc, char **argv)
{
	sp_error err = { "" };
	sp_profile *p = NULL;
	int rc = 2, i;

	if (argc >= 3 && !strcmp(argv[1], "write")) {
		p = known_profile();
		rc = sp_pprof_write_file(p, argv[2], &err);
	} else if (argc >= 3 && !strcmp(argv[1], "read")) {
		rc = sp_pprof_read_file(argv[2], &p, &err);
		if (!rc)
			rc = print_profile(p, argc > 3 ? argv[3] : NULL);
	} else if (argc >= 4 && !strcmp(argv[1], "copy")) {
		rc = sp_pprof_read_file(argv[2], &p, &err);
		if (!rc && argc > 4 && !strcmp(argv[4], "raw")) {
			uint8_t *buf;
			size_t len;
			FILE *f;

			rc = sp_pprof_encode(p, 0, &buf, &len, &err);
			if (!rc) {
				f = fopen(argv[3], "wb");
				rc = !f || fwrite(buf, 1, len, f) != len;
				if (f)
					fclose(f);
				free(buf);
				if (rc)
					snprintf(err.msg, sizeof(err.msg), "cannot write %s", argv[3]);
			}
		} else if (!rc) {
			rc = sp_pprof_write_file(p, argv[3], &err);
		}
	} else if (argc >= 4 && !strcmp(argv[1], "merge")) {
		p = sp_profile_new();
		for (i = 3, rc = 0; i < argc && !rc; i++) {
			sp_profile *q;

			rc = sp_pprof_read_file(argv[i], &q, &err);
			if (!rc) {
				rc = sp_profile_merge(p, q, &err);
				sp_profile_free(q);
			}
		}
		if (!rc)
			rc = sp_pprof_write_file(p, argv[2], &err);
	} else if (argc >= 4 && !strcmp(argv[1], "big")) {
		p = big_profile(atoi(argv[3]));
		rc = sp_pprof_write_file(p, argv[2], &err);
	} else if (argc >= 4 && !strcmp(argv[1], "bench")) {
		rc = bench(atoi(argv[2]), atoi(argv[3]), &err);
	} else {
		fprintf(stderr, "usage: %s write OUT | read IN [TYPE] | copy IN OUT [raw] | "
				"merge OUT IN... | big OUT N | bench N ITERS\n", argv[0]);
	}
	sp_profile_free(p);
	if (rc && rc != 2)
		fprintf(stderr, "pprof_tool: %s\n", err.msg);
	return rc ? 1 : 0;
}
