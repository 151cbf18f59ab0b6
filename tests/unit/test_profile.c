/* sp_profile: interning, id lookups, samples keyed by stack + label set,
 * merge, validate, totals and the standard profile shapes. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/profile.h"

static void test_strings(void **state)
{
	sp_profile *p = sp_profile_new();
	int64_t a, b;

	assert_non_null(p);
	assert_int_equal(p->n_strings, 1);
	assert_string_equal(p->strings[0], "");
	assert_int_equal(sp_profile_string(p, NULL), 0);
	assert_int_equal(sp_profile_string(p, ""), 0);
	a = sp_profile_string(p, "main");
	b = sp_profile_string(p, "worker");
	assert_true(a > 0 && b > 0 && a != b);
	assert_int_equal(sp_profile_string(p, "main"), a);
	assert_int_equal(p->n_strings, 3);
	assert_string_equal(sp_profile_str(p, a), "main");
	assert_string_equal(sp_profile_str(p, -1), "");
	assert_string_equal(sp_profile_str(p, 3), "");
	assert_string_equal(sp_profile_str(p, 1000), "");
	sp_profile_free(p);
}

static void test_many_strings_and_functions(void **state)
{
	sp_profile *p = sp_profile_new();
	char buf[32];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(buf, sizeof(buf), "fn_%d", i);
		assert_int_equal(sp_profile_add_function(p, buf, NULL, "f.c", i), (uint64_t)i + 1);
	}
	for (i = 0; i < 20000; i += 7) {
		const sp_function *f;

		snprintf(buf, sizeof(buf), "fn_%d", i);
		assert_int_equal(sp_profile_add_function(p, buf, NULL, "f.c", i), (uint64_t)i + 1);
		f = sp_profile_function(p, (uint64_t)i + 1);
		assert_non_null(f);
		assert_string_equal(sp_profile_str(p, f->name), buf);
		/* one name only: system_name holds it too */
		assert_int_equal(f->system_name, f->name);
	}
	assert_int_equal(p->n_functions, 20000);
	assert_int_equal(p->n_strings, 20002);
	assert_null(sp_profile_function(p, 0));
	assert_null(sp_profile_function(p, 20001));
	sp_profile_free(p);
}

static void test_shapes(void **state)
{
	sp_profile *p = sp_profile_new(), *h = sp_profile_new();

	assert_int_equal(sp_profile_init_cpu(p, 10000000), 0);
	assert_int_equal(p->n_sample_types, 2);
	assert_string_equal(sp_profile_str(p, p->sample_types[0].type), "samples");
	assert_string_equal(sp_profile_str(p, p->sample_types[0].unit), "count");
	assert_string_equal(sp_profile_str(p, p->sample_types[1].type), "cpu");
	assert_string_equal(sp_profile_str(p, p->sample_types[1].unit), "nanoseconds");
	assert_string_equal(sp_profile_str(p, p->period_type.type), "cpu");
	assert_string_equal(sp_profile_str(p, p->period_type.unit), "nanoseconds");
	assert_int_equal(p->period, 10000000);
	assert_int_equal(sp_profile_sample_index(p, NULL), 1);
	assert_int_equal(sp_profile_sample_index(p, ""), 1);
	assert_int_equal(sp_profile_sample_index(p, "samples"), 0);
	assert_int_equal(sp_profile_sample_index(p, "nope"), -1);
	assert_int_equal(sp_profile_init_cpu(p, 1), -EINVAL);
	p->default_sample_type = sp_profile_string(p, "samples");
	assert_int_equal(sp_profile_sample_index(p, NULL), 0);

	assert_int_equal(sp_profile_init_heap(h, 524288), 0);
	assert_int_equal(h->n_sample_types, 4);
	assert_string_equal(sp_profile_str(h, h->sample_types[0].type), "alloc_objects");
	assert_string_equal(sp_profile_str(h, h->sample_types[1].type), "alloc_space");
	assert_string_equal(sp_profile_str(h, h->sample_types[1].unit), "bytes");
	assert_string_equal(sp_profile_str(h, h->sample_types[2].type), "inuse_objects");
	assert_string_equal(sp_profile_str(h, h->sample_types[2].unit), "count");
	assert_string_equal(sp_profile_str(h, h->sample_types[3].type), "inuse_space");
	assert_string_equal(sp_profile_str(h, h->period_type.type), "space");
	assert_string_equal(sp_profile_str(h, h->period_type.unit), "bytes");
	assert_int_equal(h->period, 524288);
	assert_int_equal(sp_profile_sample_index(h, NULL), 3);
	sp_profile_free(p);
	sp_profile_free(h);
}

static void test_intern_entities(void **state)
{
	sp_profile *p = sp_profile_new();
	uint64_t m1, m2, f1, f2, l1, l2, l3, l4;
	sp_line lines[2];
	const sp_location *l;

	m1 = sp_profile_add_mapping(p, 0x1000, 0x2000, 0, "/bin/app", "abcd");
	m2 = sp_profile_add_mapping(p, 0x3000, 0x4000, 0x1000, "/lib/libc.so", NULL);
	assert_int_equal(m1, 1);
	assert_int_equal(m2, 2);
	assert_int_equal(sp_profile_add_mapping(p, 0x1000, 0x2000, 0, "/bin/app", "abcd"), m1);
	/* a build id learnt later fills the gap */
	assert_int_equal(sp_profile_add_mapping(p, 0x3000, 0x4000, 0x1000, "/lib/libc.so", "ef01"), m2);
	assert_string_equal(sp_profile_str(p, sp_profile_mapping(p, m2)->build_id), "ef01");
	assert_int_equal(p->n_mappings, 2);

	f1 = sp_profile_add_function(p, "main", "main", "app.c", 10);
	f2 = sp_profile_add_function(p, "inl", NULL, "app.c", 3);
	assert_int_equal(sp_profile_add_function(p, "main", NULL, "app.c", 10), f1);
	assert_int_not_equal(sp_profile_add_function(p, "main", NULL, "other.c", 10), f1);

	lines[0] = (sp_line){ f2, 4, 0 };
	lines[1] = (sp_line){ f1, 12, 5 };
	l1 = sp_profile_add_location(p, m1, 0x1100, lines, 2);
	l2 = sp_profile_add_location(p, m1, 0x1200, lines + 1, 1);
	/* address-keyed: same address is the same location whatever the lines */
	assert_int_equal(sp_profile_add_location(p, m1, 0x1100, NULL, 0), l1);
	assert_int_not_equal(sp_profile_add_location(p, m2, 0x1100, NULL, 0), l1);
	/* line-keyed without an address */
	l3 = sp_profile_add_location(p, 0, 0, lines, 2);
	l4 = sp_profile_add_location(p, 0, 0, lines, 1);
	assert_int_not_equal(l3, l4);
	assert_int_equal(sp_profile_add_location(p, 0, 0, lines, 2), l3);
	assert_int_not_equal(l1, l2);

	l = sp_profile_location(p, l1);
	assert_non_null(l);
	assert_int_equal(l->n_lines, 2);
	assert_int_equal(l->lines[0].function_id, f2);
	assert_int_equal(l->lines[1].line, 12);
	assert_int_equal(l->mapping_id, m1);
	assert_null(sp_profile_location(p, 999));

	/* the symbolizer replaces lines; line-keyed locations are re-keyed */
	assert_int_equal(sp_profile_set_location_lines(p, l2, lines, 2), 0);
	assert_int_equal(sp_profile_location(p, l2)->n_lines, 2);
	assert_int_equal(sp_profile_set_location_lines(p, l4, lines + 1, 1), 0);
	assert_int_equal(sp_profile_add_location(p, 0, 0, lines + 1, 1), l4);
	l3 = sp_profile_add_location(p, 0, 0, lines, 1);
	assert_int_equal(l3, p->locations[p->n_locations - 1].id);
	assert_int_equal(sp_profile_set_location_lines(p, 12345, lines, 1), -EINVAL);
	assert_int_equal(sp_profile_validate(p, NULL), 0);
	sp_profile_free(p);
}

static void test_samples_label_sets(void **state)
{
	sp_profile *p = sp_profile_new();
	uint64_t f = sp_profile_add_function(p, "work", NULL, "w.c", 1);
	sp_line line = { f, 2, 0 };
	uint64_t loc = sp_profile_add_location(p, 0, 0x10, &line, 1);
	uint64_t stack[2] = { loc, loc };
	int64_t v[2] = { 1, 10000000 };
	sp_label ab[2], ba[2], other[2];

	assert_int_equal(sp_profile_add_sample(p, stack, 1, v, NULL, 0), -EINVAL); /* no types */
	assert_int_equal(sp_profile_init_cpu(p, 10000000), 0);

	ab[0] = sp_profile_str_label(p, "span_id", "00f067aa0ba902b7");
	ab[1] = sp_profile_num_label(p, "tid", 42, NULL);
	ba[0] = ab[1];
	ba[1] = ab[0];
	other[0] = ab[0];
	other[1] = sp_profile_num_label(p, "tid", 43, NULL);
	assert_int_equal(ab[1].num_unit, 0);

	assert_int_equal(sp_profile_add_sample(p, stack, 1, v, ab, 2), 0);
	assert_int_equal(sp_profile_add_sample(p, stack, 1, v, ba, 2), 0);
	assert_int_equal(p->n_samples, 1);
	assert_int_equal(p->samples[0].values[0], 2);
	assert_int_equal(p->samples[0].values[1], 20000000);
	assert_int_equal(sp_profile_add_sample(p, stack, 1, v, other, 2), 0);
	assert_int_equal(sp_profile_add_sample(p, stack, 1, v, ab, 1), 0);
	assert_int_equal(sp_profile_add_sample(p, stack, 2, v, ab, 2), 0);
	assert_int_equal(sp_profile_add_sample(p, stack, 0, v, NULL, 0), 0);
	assert_int_equal(sp_profile_add_sample(p, stack, 0, v, NULL, 0), 0);
	assert_int_equal(p->n_samples, 5);
	assert_int_equal(sp_profile_total(p, 0), 7);
	assert_int_equal(sp_profile_total(p, 1), 70000000);
	assert_int_equal(sp_profile_total(p, 2), 0);
	assert_int_equal(sp_profile_total(p, -1), 0);
	assert_string_equal(sp_profile_sample_label(p, &p->samples[0], "span_id"),
			    "00f067aa0ba902b7");
	assert_null(sp_profile_sample_label(p, &p->samples[0], "tid")); /* numeric */
	assert_null(sp_profile_sample_label(p, &p->samples[0], "nope"));
	assert_int_equal(sp_profile_add_sample_type(p, "late", "count"), -EINVAL);
	assert_int_equal(sp_profile_validate(p, NULL), 0);
	sp_profile_free(p);
}

/* A profile as the pprof reader builds it: arrays filled directly, ids
 * arbitrary, labels in file order. */
static sp_profile *file_like(void)
{
	sp_profile *p = sp_profile_new();
	const char *strs[] = { "", "samples", "count", "cpu", "nanoseconds", "main",
			       "m.c", "span_id", "abc", "tid" };
	size_t i;

	free(p->strings[0]);
	free(p->strings);
	p->n_strings = sizeof(strs) / sizeof(strs[0]);
	p->strings = calloc(p->n_strings, sizeof(char *));
	for (i = 0; i < p->n_strings; i++)
		p->strings[i] = strdup(strs[i]);
	p->n_sample_types = 2;
	p->sample_types = calloc(2, sizeof(sp_value_type));
	p->sample_types[0] = (sp_value_type){ 1, 2 };
	p->sample_types[1] = (sp_value_type){ 3, 4 };
	p->n_mappings = 1;
	p->mappings = calloc(1, sizeof(sp_mapping));
	p->mappings[0] = (sp_mapping){ .id = 77, .memory_start = 0x400000,
				       .memory_limit = 0x500000, .filename = 6 };
	p->n_functions = 1;
	p->functions = calloc(1, sizeof(sp_function));
	p->functions[0] = (sp_function){ 900, 5, 5, 6, 1 };
	p->n_locations = 2;
	p->locations = calloc(2, sizeof(sp_location));
	p->locations[0] = (sp_location){ .id = 4000000000ULL, .mapping_id = 77,
					 .address = 0x401000, .n_lines = 1 };
	p->locations[0].lines = calloc(1, sizeof(sp_line));
	p->locations[0].lines[0] = (sp_line){ 900, 3, 0 };
	p->locations[1] = (sp_location){ .id = 5, .mapping_id = 77, .address = 0x402000 };
	p->n_samples = 1;
	p->samples = calloc(1, sizeof(sp_sample));
	p->samples[0].n_locations = 2;
	p->samples[0].location_ids = calloc(2, sizeof(uint64_t));
	p->samples[0].location_ids[0] = 4000000000ULL;
	p->samples[0].location_ids[1] = 5;
	p->samples[0].values = calloc(2, sizeof(int64_t));
	p->samples[0].values[0] = 3;
	p->samples[0].values[1] = 30;
	p->samples[0].n_labels = 2;
	p->samples[0].labels = calloc(2, sizeof(sp_label));
	p->samples[0].labels[0] = (sp_label){ .key = 9, .num = 7 }; /* tid > span_id */
	p->samples[0].labels[1] = (sp_label){ .key = 7, .str = 8 };
	return p;
}

static void test_file_ids(void **state)
{
	sp_profile *p = file_like();
	int64_t v[2] = { 1, 10 };
	sp_label l[2];
	uint64_t id;

	assert_int_equal(sp_profile_validate(p, NULL), 0);
	assert_non_null(sp_profile_location(p, 4000000000ULL));
	assert_int_equal(sp_profile_location(p, 5)->address, 0x402000);
	assert_int_equal(sp_profile_mapping(p, 77)->memory_start, 0x400000);
	assert_int_equal(sp_profile_function(p, 900)->name, 5);
	assert_null(sp_profile_function(p, 1));
	/* interning finds the file's entries */
	assert_int_equal(sp_profile_string(p, "main"), 5);
	assert_int_equal(sp_profile_add_function(p, "main", "main", "m.c", 1), 900);
	assert_int_equal(sp_profile_add_location(p, 77, 0x401000, NULL, 0), 4000000000ULL);
	assert_int_equal(sp_profile_add_mapping(p, 0x400000, 0x500000, 0, "m.c", NULL), 77);
	/* new ids never collide with the file's */
	id = sp_profile_add_location(p, 77, 0x403000, NULL, 0);
	assert_true(id > 4000000000ULL);
	assert_true(sp_profile_add_function(p, "other", NULL, NULL, 0) > 900);
	/* a sample with the same stack and the labels in another order adds up */
	l[0] = sp_profile_str_label(p, "span_id", "abc");
	l[1] = sp_profile_num_label(p, "tid", 7, NULL);
	assert_int_equal(sp_profile_add_sample(p, p->samples[0].location_ids, 2, v, l, 2), 0);
	assert_int_equal(p->n_samples, 1);
	assert_int_equal(p->samples[0].values[0], 4);
	assert_int_equal(sp_profile_total(p, 1), 40);
	assert_int_equal(sp_profile_validate(p, NULL), 0);
	sp_profile_free(p);
}

static void expect_invalid(sp_profile *p, const char *needle)
{
	sp_error err = { "" };

	assert_int_equal(sp_profile_validate(p, &err), -EINVAL);
	if (!strstr(err.msg, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", err.msg, needle);
	sp_profile_free(p);
}

static void test_validate(void **state)
{
	sp_profile *p;

	p = file_like();
	p->mappings[0].id = 0;
	expect_invalid(p, "mapping 0 has the reserved id 0");

	p = file_like();
	p->locations[1].id = 4000000000ULL;
	expect_invalid(p, "several locations have the id 4000000000");

	p = file_like();
	p->functions[0].id = 0;
	expect_invalid(p, "function 0 has the reserved id 0");

	p = file_like();
	p->locations[0].lines[0].function_id = 9;
	expect_invalid(p, "location 4000000000 refers to missing function 9");

	p = file_like();
	p->samples[0].location_ids[1] = 6;
	expect_invalid(p, "sample 0 refers to missing location 6");

	p = file_like();
	p->samples[0].labels[1].str = 10;
	expect_invalid(p, "sample 0 has a label value string index out of range");

	p = file_like();
	p->functions[0].filename = -1;
	expect_invalid(p, "function 900 has a filename string index out of range");

	p = file_like();
	free(p->strings[0]);
	p->strings[0] = strdup("x");
	expect_invalid(p, "entry 0");

	p = file_like();
	p->n_sample_types = 0;
	expect_invalid(p, "no sample types");

	p = file_like();
	p->period_type.unit = 99;
	expect_invalid(p, "period type");

	/* a mapping id that names nothing is not an error (pprof makes it nil) */
	p = file_like();
	p->locations[0].mapping_id = 1234;
	assert_int_equal(sp_profile_validate(p, NULL), 0);
	sp_profile_free(p);
}

static sp_profile *cpu_profile(const char *fn, const char *span, int64_t n,
			       int64_t time, int64_t dur)
{
	sp_profile *p = sp_profile_new();
	uint64_t m = sp_profile_add_mapping(p, 0x1000, 0x9000, 0, "/bin/app", "b1d");
	uint64_t f = sp_profile_add_function(p, fn, NULL, "app.c", 1);
	uint64_t r = sp_profile_add_function(p, "main", NULL, "app.c", 50);
	sp_line l1 = { f, 5, 0 }, l2 = { r, 55, 0 };
	uint64_t stack[2];
	int64_t v[2] = { n, n * 10000000 };
	sp_label lab;

	sp_profile_init_cpu(p, 10000000);
	stack[0] = sp_profile_add_location(p, m, 0x1500 + (uint64_t)strlen(fn), &l1, 1);
	stack[1] = sp_profile_add_location(p, m, 0x1100, &l2, 1);
	lab = sp_profile_str_label(p, "span_id", span);
	sp_profile_add_sample(p, stack, 2, v, &lab, 1);
	p->time_nanos = time;
	p->duration_nanos = dur;
	sp_profile_add_comment(p, "engine: test");
	return p;
}

static void test_merge(void **state)
{
	sp_profile *dst = sp_profile_new();
	sp_profile *a = cpu_profile("alpha", "s1", 3, 1000, 100);
	sp_profile *b = cpu_profile("beta", "s1", 2, 1050, 200);
	sp_profile *c = cpu_profile("alpha", "s1", 5, 900, 10);
	sp_profile *h = sp_profile_new();
	sp_error err = { "" };
	size_t i;
	int found = 0;

	assert_int_equal(sp_profile_merge(dst, a, &err), 0);
	assert_int_equal(dst->n_sample_types, 2);
	assert_int_equal(dst->period, 10000000);
	assert_int_equal(sp_profile_merge(dst, b, &err), 0);
	assert_int_equal(sp_profile_merge(dst, c, &err), 0);
	assert_int_equal(sp_profile_validate(dst, &err), 0);
	assert_int_equal(sp_profile_total(dst, 0), 10);
	assert_int_equal(sp_profile_total(dst, 1), 100000000);
	assert_int_equal(dst->n_samples, 2); /* alpha merged with alpha */
	assert_int_equal(dst->n_mappings, 1);
	assert_int_equal(dst->n_functions, 3);
	assert_int_equal(dst->n_locations, 3);
	assert_int_equal(dst->n_comments, 1);
	assert_int_equal(dst->time_nanos, 900);
	assert_int_equal(dst->duration_nanos, 1250 - 900);
	for (i = 0; i < dst->n_samples; i++) {
		const sp_sample *s = &dst->samples[i];
		const sp_location *l = sp_profile_location(dst, s->location_ids[0]);
		const sp_function *f = sp_profile_function(dst, l->lines[0].function_id);

		assert_string_equal(sp_profile_sample_label(dst, s, "span_id"), "s1");
		if (!strcmp(sp_profile_str(dst, f->name), "alpha")) {
			assert_int_equal(s->values[0], 8);
			found++;
		}
	}
	assert_int_equal(found, 1);
	assert_string_equal(sp_profile_str(dst, sp_profile_mapping(dst, 1)->build_id), "b1d");

	/* merging a merged profile into itself-like copies still adds up */
	sp_profile_init_heap(h, 524288);
	assert_int_equal(sp_profile_merge(dst, h, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "incompatible sample types"));
	assert_non_null(strstr(err.msg, "samples/count cpu/nanoseconds"));
	assert_non_null(strstr(err.msg, "alloc_objects/count"));

	/* an invalid source is refused before anything is added */
	a->samples[0].location_ids[0] = 999;
	assert_int_equal(sp_profile_merge(dst, a, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "missing location 999"));
	assert_int_equal(sp_profile_total(dst, 0), 10);

	sp_profile_free(dst);
	sp_profile_free(a);
	sp_profile_free(b);
	sp_profile_free(c);
	sp_profile_free(h);
}

static void test_merge_file_ids(void **state)
{
	sp_profile *dst = sp_profile_new(), *src = file_like();
	sp_error err = { "" };

	assert_int_equal(sp_profile_merge(dst, src, &err), 0);
	assert_int_equal(sp_profile_merge(dst, src, &err), 0);
	assert_int_equal(sp_profile_validate(dst, &err), 0);
	assert_int_equal(dst->n_samples, 1);
	assert_int_equal(sp_profile_total(dst, 1), 60);
	assert_int_equal(dst->n_locations, 2);
	assert_string_equal(sp_profile_sample_label(dst, &dst->samples[0], "span_id"), "abc");
	/* and merging into the file profile itself */
	assert_int_equal(sp_profile_merge(src, dst, &err), 0);
	assert_int_equal(src->n_samples, 1);
	assert_int_equal(sp_profile_total(src, 0), 9);
	sp_profile_free(dst);
	sp_profile_free(src);
}

/* A shallow view (struct copy, index NULL) as exporters make: validate and
 * merge work on it and never touch the original's index. */
static void test_view_without_index(void **state)
{
	sp_profile *p = cpu_profile("alpha", "s1", 3, 1000, 100), *dst = sp_profile_new();
	sp_profile view = *p;
	sp_error err = { "" };

	view.index = NULL;
	assert_int_equal(sp_profile_validate(&view, &err), 0);
	assert_non_null(sp_profile_location(&view, p->locations[0].id));
	assert_int_equal(sp_profile_merge(dst, &view, &err), 0);
	assert_int_equal(sp_profile_total(dst, 1), 30000000);
	view.n_samples = 0; /* views may show a subset */
	assert_int_equal(sp_profile_validate(&view, &err), 0);
	p->samples[0].location_ids[1] = 77;
	view.n_samples = 1;
	assert_int_equal(sp_profile_validate(&view, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "missing location 77"));
	sp_profile_free(p);
	sp_profile_free(dst);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_many_strings_and_functions),
		cmocka_unit_test(test_shapes),
		cmocka_unit_test(test_intern_entities),
		cmocka_unit_test(test_samples_label_sets),
		cmocka_unit_test(test_file_ids),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_merge_file_ids),
		cmocka_unit_test(test_view_without_index),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
