/* stacks.c (call tree), folded.c, top.c and units.c: tree shape and order,
 * inline expansion, names of unsymbolized frames, tag filters, sample type
 * selection, errors, folded output sums, top flat/cum with recursion, and
 * pprof-style value formatting. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/folded.h"
#include "model/profile.h"
#include "render/stacks.h"
#include "render/top.h"
#include "base/units.h"

/* One location per frame of "main;a;b" (root first). "outer+inner" is one
 * location whose lines are inner (inlined) then outer. */
static void add_stack(sp_profile *p, const char *stack, int64_t count, const sp_label *lab,
		      size_t n_lab)
{
	tu_add_stack(p, stack, ";", "+", count, lab, n_lab);
}

static const sp_stack_node *child_named(const sp_stack_tree *t, const sp_stack_node *n,
					const char *name)
{
	for (uint32_t i = 0; i < n->n_children; i++) {
		const sp_stack_node *c = sp_stacks_child(t, n, i);

		if (!strcmp(sp_stacks_name(t, c), name))
			return c;
	}
	return NULL;
}

static void test_tree_shape(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	const sp_stack_node *root, *main_, *a, *b, *c;

	add_stack(p, "main;c", 5, NULL, 0);
	add_stack(p, "main;a;b", 3, NULL, 0);
	add_stack(p, "main;a", 2, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	root = &t->nodes[0];
	assert_int_equal(t->total, 10);
	assert_int_equal(root->total, 10);
	assert_string_equal(sp_stacks_name(t, root), "all");
	assert_int_equal(root->n_children, 1);
	main_ = sp_stacks_child(t, root, 0);
	assert_string_equal(sp_stacks_name(t, main_), "main");
	assert_int_equal(main_->total, 10);
	assert_int_equal(main_->self, 0);
	/* children sorted by name: a before c, whatever the insertion order */
	assert_int_equal(main_->n_children, 2);
	a = sp_stacks_child(t, main_, 0);
	c = sp_stacks_child(t, main_, 1);
	assert_string_equal(sp_stacks_name(t, a), "a");
	assert_string_equal(sp_stacks_name(t, c), "c");
	assert_int_equal(a->total, 5);
	assert_int_equal(a->self, 2);
	assert_int_equal(c->self, 5);
	b = child_named(t, a, "b");
	assert_non_null(b);
	assert_int_equal(b->total, 3);
	assert_int_equal(b->depth, 3);
	assert_int_equal(t->max_depth, 3);
	assert_int_equal(b->kind, SP_FRAME_FUNCTION);
	sp_stacks_free(t);

	/* default sample type is the last one: cpu nanoseconds */
	assert_int_equal(sp_stacks_build(p, NULL, NULL, 0, &t, &err), 0);
	assert_string_equal(t->sample_type, "cpu");
	assert_string_equal(t->unit, "nanoseconds");
	assert_int_equal(t->total, 100000000);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_inline_expansion(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	const sp_stack_node *main_, *compute, *square;

	/* one location: square inlined into compute */
	add_stack(p, "main;compute+square", 4, NULL, 0);
	add_stack(p, "main;compute", 1, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	main_ = sp_stacks_child(t, &t->nodes[0], 0);
	compute = child_named(t, main_, "compute");
	assert_non_null(compute);
	/* the physical function comes first (caller), the inlined one above it */
	assert_int_equal(compute->kind, SP_FRAME_FUNCTION);
	assert_int_equal(compute->total, 5);
	assert_int_equal(compute->self, 1);
	square = child_named(t, compute, "square");
	assert_non_null(square);
	assert_int_equal(square->kind, SP_FRAME_INLINED);
	assert_int_equal(square->self, 4);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_unsymbolized_names(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	uint64_t libc, vdso, ids[3];
	int64_t v[2] = { 1, 10 };
	const sp_stack_node *n;
	sp_top_row *rows = NULL;
	size_t n_rows = 0;

	libc = sp_profile_add_mapping(p, 0x7f0000001000, 0x7f0000100000, 0x28000,
				      "/usr/lib/x86_64-linux-gnu/libc.so.6", "");
	vdso = sp_profile_add_mapping(p, 0x7fff0000, 0x7fff2000, 0, "[vdso]", "");
	ids[0] = sp_profile_add_location(p, libc, 0x7f0000001a2b, NULL, 0);
	ids[1] = sp_profile_add_location(p, 0, 0x4005d0, NULL, 0);
	ids[2] = sp_profile_add_location(p, vdso, 0x7fff0010, NULL, 0);
	assert_int_equal(sp_profile_add_sample(p, ids, 3, v, NULL, 0), 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	n = sp_stacks_child(t, &t->nodes[0], 0);
	assert_string_equal(sp_stacks_name(t, n), "[vdso+0x10]");
	assert_int_equal(n->kind, SP_FRAME_UNKNOWN);
	n = sp_stacks_child(t, n, 0);
	assert_string_equal(sp_stacks_name(t, n), "0x4005d0");
	n = sp_stacks_child(t, n, 0);
	/* file offset: address - start + offset = 0xa2b + 0x28000 */
	assert_string_equal(sp_stacks_name(t, n), "[libc.so.6+0x28a2b]");
	assert_int_equal(n->kind, SP_FRAME_UNKNOWN);
	sp_stacks_free(t);

	/* top groups unsymbolized frames per module, like pprof */
	ids[0] = sp_profile_add_location(p, libc, 0x7f0000001a2f, NULL, 0);
	v[0] = 2;
	assert_int_equal(sp_profile_add_sample(p, ids, 3, v, NULL, 0), 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	assert_int_equal(sp_top_rows(t, &rows, &n_rows, &err), 0);
	assert_int_equal(n_rows, 3);
	assert_string_equal(rows[0].name, "[libc.so.6]");
	assert_int_equal(rows[0].flat, 3);
	assert_int_equal(rows[0].cum, 3);
	assert_string_equal(rows[1].name, "<unknown>");
	assert_int_equal(rows[1].cum, 3);
	assert_string_equal(rows[2].name, "[vdso]");
	free(rows);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_truncated_and_empty_stack(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	int64_t v[2] = { 2, 20 };
	const sp_stack_node *n;

	add_stack(p, "[truncated];deep", 3, NULL, 0);
	assert_int_equal(sp_profile_add_sample(p, NULL, 0, v, NULL, 0), 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	assert_int_equal(t->total, 5);
	n = child_named(t, &t->nodes[0], "[truncated]");
	assert_non_null(n);
	assert_int_equal(n->kind, SP_FRAME_TRUNCATED);
	/* a sample without locations is still counted, under its own frame */
	n = child_named(t, &t->nodes[0], "[no stack]");
	assert_non_null(n);
	assert_int_equal(n->self, 2);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_tag_filters(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_label la[2], lb[2];
	sp_tag_filter f[2];
	char s1[] = "span_id=aaaa", s2[] = "thread_name=w1", s3[] = "tid=42", s4[] = "span_id=zzz";
	char bad1[] = "=x", bad2[] = "novalue", ok[] = "k=";

	la[0] = sp_profile_str_label(p, "span_id", "aaaa");
	la[1] = sp_profile_str_label(p, "thread_name", "w1");
	lb[0] = sp_profile_str_label(p, "span_id", "bbbb");
	lb[1] = sp_profile_num_label(p, "tid", 42, NULL);
	add_stack(p, "main;a", 3, la, 2);
	add_stack(p, "main;b", 4, lb, 2);
	add_stack(p, "main;c", 5, NULL, 0);

	assert_int_equal(sp_tag_filter_parse(s1, &f[0]), 0);
	assert_string_equal(f[0].key, "span_id");
	assert_string_equal(f[0].value, "aaaa");
	assert_int_equal(sp_tag_filter_parse(bad1, &f[1]), -EINVAL);
	assert_int_equal(sp_tag_filter_parse(bad2, &f[1]), -EINVAL);
	assert_int_equal(sp_tag_filter_parse(ok, &f[1]), 0);
	assert_string_equal(f[1].value, "");

	assert_int_equal(sp_stacks_build(p, "samples", f, 1, &t, &err), 0);
	assert_int_equal(t->total, 3);
	assert_int_equal(t->n_filtered_out, 2);
	assert_non_null(child_named(t, sp_stacks_child(t, &t->nodes[0], 0), "a"));
	assert_null(child_named(t, sp_stacks_child(t, &t->nodes[0], 0), "b"));
	sp_stacks_free(t);

	/* ANDed: span_id=aaaa and thread_name=w1 still matches the first */
	assert_int_equal(sp_tag_filter_parse(s2, &f[1]), 0);
	assert_int_equal(sp_stacks_build(p, "samples", f, 2, &t, &err), 0);
	assert_int_equal(t->total, 3);
	sp_stacks_free(t);

	/* numeric labels compare by their decimal value */
	assert_int_equal(sp_tag_filter_parse(s3, &f[0]), 0);
	assert_int_equal(sp_stacks_build(p, "samples", f, 1, &t, &err), 0);
	assert_int_equal(t->total, 4);
	sp_stacks_free(t);

	/* tid=42 AND thread_name=w1: no sample has both */
	assert_int_equal(sp_stacks_build(p, "samples", f, 2, &t, &err), -EINVAL);
	assert_null(t);
	assert_non_null(strstr(err.msg, "no sample matches tid=42 and thread_name=w1"));

	assert_int_equal(sp_tag_filter_parse(s4, &f[0]), 0);
	assert_int_equal(sp_stacks_build(p, "samples", f, 1, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "span_id"));
	assert_non_null(strstr(err.msg, "label keys present"));
	sp_profile_free(p);
}

static void test_errors(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	int64_t zero[2] = { 0, 0 };
	uint64_t loc;

	assert_int_equal(sp_stacks_build(p, NULL, NULL, 0, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "no samples"));
	add_stack(p, "main", 1, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "alloc_space", NULL, 0, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "alloc_space"));
	assert_non_null(strstr(err.msg, "samples, cpu"));
	sp_profile_free(p);

	/* only zero values: nothing to draw */
	p = tu_cpu_profile();
	loc = tu_location(p, "main", "+");
	assert_int_equal(sp_profile_add_sample(p, &loc, 1, zero, NULL, 0), 0);
	assert_int_equal(sp_stacks_build(p, NULL, NULL, 0, &t, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "positive"));
	sp_profile_free(p);

	/* no sample types at all */
	p = sp_profile_new();
	assert_int_equal(sp_stacks_build(p, NULL, NULL, 0, &t, &err), -EINVAL);
	sp_profile_free(p);
}

static char *folded_of(const sp_stack_tree *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	sp_error err = { { 0 } };

	assert_non_null(f);
	assert_int_equal(sp_folded_write(t, f, &err), 0);
	fclose(f);
	return buf;
}

static void test_folded(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	char *out, *line, *save = NULL;
	long long sum = 0;
	int lines = 0;
	uint64_t ids[2];
	int64_t v[2] = { 7, 70 };

	add_stack(p, "main;a;b", 3, NULL, 0);
	add_stack(p, "main;a", 2, NULL, 0);
	ids[0] = tu_location(p, "we;ird name", "+");
	ids[1] = tu_location(p, "main", "+");
	assert_int_equal(sp_profile_add_sample(p, ids, 2, v, NULL, 0), 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	out = folded_of(t);
	/* sorted depth-first; ';' inside a name is replaced */
	assert_string_equal(out, "main;a 2\nmain;a;b 3\nmain;we_ird name 7\n");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		sum += atoll(strrchr(line, ' ') + 1);
		lines++;
	}
	assert_int_equal(lines, 3);
	assert_int_equal(sum, t->total);
	free(out);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static const sp_top_row *row_named(const sp_top_row *rows, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

static void test_top(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_top_row *rows = NULL;
	size_t n = 0;
	const sp_top_row *r;
	sp_top_opts o = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	add_stack(p, "main;rec;rec;rec;leaf", 4, NULL, 0);
	add_stack(p, "main;rec", 1, NULL, 0);
	add_stack(p, "main;other;leaf", 5, NULL, 0);
	add_stack(p, "main;c+inl", 2, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	assert_int_equal(sp_top_rows(t, &rows, &n, &err), 0);
	assert_int_equal(n, 6);
	/* flat descending, ties by name */
	assert_string_equal(rows[0].name, "leaf");
	assert_int_equal(rows[0].flat, 9);
	assert_string_equal(rows[1].name, "inl");
	assert_int_equal(rows[1].inlined, 1);
	assert_string_equal(rows[2].name, "rec");
	r = row_named(rows, n, "rec");
	/* recursion: each sample counted once in cum */
	assert_int_equal(r->cum, 5);
	assert_int_equal(r->flat, 1);
	r = row_named(rows, n, "main");
	assert_int_equal(r->cum, 12);
	assert_int_equal(r->flat, 0);
	assert_int_equal(row_named(rows, n, "leaf")->cum, 9);
	free(rows);

	o.max_rows = 2;
	f = open_memstream(&buf, &len);
	assert_int_equal(sp_top_write(t, &o, f, &err), 0);
	fclose(f);
	assert_non_null(strstr(buf, "Type: samples\n"));
	assert_non_null(strstr(buf, "Showing top 2 nodes out of 6\n"));
	assert_non_null(strstr(buf, "      flat  flat%   sum%        cum   cum%\n"));
	assert_non_null(strstr(buf, "         9 75.00% 75.00%          9 75.00%  leaf\n"));
	assert_non_null(strstr(buf, "         2 16.67% 91.67%          2 16.67%  inl (inline)\n"));
	assert_null(strstr(buf, "main"));
	free(buf);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_units(void **state)
{
	char b[64];

	sp_units_label(1230000000, "nanoseconds", b, sizeof(b));
	assert_string_equal(b, "1.23s");
	sp_units_label(10000000, "nanoseconds", b, sizeof(b));
	assert_string_equal(b, "10ms");
	sp_units_label(13107200, "bytes", b, sizeof(b));
	assert_string_equal(b, "12.50MB");
	sp_units_label(1536, "bytes", b, sizeof(b));
	assert_string_equal(b, "1.50kB");
	sp_units_label(0, "nanoseconds", b, sizeof(b));
	assert_string_equal(b, "0");
	sp_units_label(1234, "count", b, sizeof(b));
	assert_string_equal(b, "1234");
	sp_units_label(7200000000000LL, "nanoseconds", b, sizeof(b));
	assert_string_equal(b, "2hrs");
	assert_int_equal(sp_units_kind("nanoseconds"), SP_UNIT_TIME);
	assert_int_equal(sp_units_kind("bytes"), SP_UNIT_BYTES);
	assert_int_equal(sp_units_kind("count"), SP_UNIT_COUNT);

	/* pprof picks one unit for a table: min 10ms, total 2s -> seconds */
	assert_string_equal(sp_units_pick(10000000, 2000000000, "nanoseconds"), "s");
	sp_units_label_in(10000000, "nanoseconds", "s", b, sizeof(b));
	assert_string_equal(b, "0.01s");
	/* min 10ms and total 150ms: both ms */
	assert_string_equal(sp_units_pick(10000000, 150000000, "nanoseconds"), "ms");
	assert_null(sp_units_pick(1, 100, "count"));
	sp_units_label_in(42, "count", NULL, b, sizeof(b));
	assert_string_equal(b, "42");

	sp_units_percent(1, 1, b, sizeof(b));
	assert_string_equal(b, "  100%");
	sp_units_percent(1234, 10000, b, sizeof(b));
	assert_string_equal(b, "12.34%");
	sp_units_percent(5, 1000, b, sizeof(b));
	assert_string_equal(b, "  0.5%");
	sp_units_grouped(1234567, b, sizeof(b));
	assert_string_equal(b, "1,234,567");
	sp_units_grouped(-1000, b, sizeof(b));
	assert_string_equal(b, "-1,000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_shape),
		cmocka_unit_test(test_inline_expansion),
		cmocka_unit_test(test_unsymbolized_names),
		cmocka_unit_test(test_truncated_and_empty_stack),
		cmocka_unit_test(test_tag_filters),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_folded),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
