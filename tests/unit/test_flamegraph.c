/* flamegraph.c: frame widths and positions proportional to values (read back
 * from the SVG's own numbers), narrow frames merged without losing value,
 * XML escaping of names and titles, tag-filtered rendering, label clipping
 * and stable colours. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render/flamegraph.h"
#include "model/profile.h"
#include "render/stacks.h"

struct frame {
	long long v;
	double x, y, w;
	int merged;
	char title[512];
	char text[256]; /* "" when no label */
	char fill[8];
	int depth, parent;
};

struct svg {
	char *doc;
	struct frame *f;
	int n;
	double root_y;
};

/* "main|a|b" root first; '|' separates so names may contain ';' */
static void add_stack(sp_profile *p, const char *stack, int64_t count, const sp_label *lab,
		      size_t n_lab)
{
	tu_add_stack(p, stack, "|", "+inl:", count, lab, n_lab);
}

static double absd(double x)
{
	return x < 0 ? -x : x;
}

static char *render(const sp_stack_tree *t, const sp_flamegraph_opts *o,
		    sp_flamegraph_stats *st)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	sp_error err = { { 0 } };

	assert_non_null(f);
	assert_int_equal(sp_flamegraph_write(t, o, f, st, &err), 0);
	fclose(f);
	return buf;
}

static void copy_until(char *dst, size_t cap, const char *s, const char *end)
{
	const char *e = strstr(s, end);
	size_t n = e ? (size_t)(e - s) : strlen(s);

	if (n >= cap)
		n = cap - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Read the frames back the way the page script does: DFS order, depth from
 * y, parent = last frame one level down. */
static void parse(struct svg *s, char *doc)
{
	char *p = strstr(doc, "<g id=\"frames\">");
	int stack[512], top = 0;

	memset(s, 0, sizeof(*s));
	s->doc = doc;
	assert_non_null(p);
	s->f = calloc(100000, sizeof(*s->f));
	while ((p = strstr(p, "<g data-v=\""))) {
		struct frame *f = &s->f[s->n];
		char *end = strstr(p, "</g>"), *r, *t;

		assert_non_null(end);
		f->v = atoll(p + 11);
		f->merged = !strncmp(strchr(p + 11, '"'), "\" class=\"m\"", 11);
		copy_until(f->title, sizeof(f->title), strstr(p, "<title>") + 7, "</title>");
		r = strstr(p, "<rect ");
		assert_true(r && r < end);
		assert_int_equal(sscanf(r, "<rect x=\"%lf\" y=\"%lf\" width=\"%lf\"", &f->x, &f->y,
					&f->w), 3);
		memcpy(f->fill, strstr(r, "fill=\"") + 6, 7);
		t = strstr(r, "<text ");
		if (t && t < end)
			copy_until(f->text, sizeof(f->text), strchr(t, '>') + 1, "</text>");
		if (s->n == 0)
			s->root_y = f->y;
		f->depth = (int)((s->root_y - f->y) / 16 + 0.5);
		while (top > f->depth)
			top--;
		f->parent = top ? stack[top - 1] : -1;
		stack[top++] = s->n;
		s->n++;
		p = end;
	}
}

static const struct frame *find(const struct svg *s, const char *name_prefix)
{
	for (int i = 0; i < s->n; i++)
		if (!strncmp(s->f[i].title, name_prefix, strlen(name_prefix)))
			return &s->f[i];
	return NULL;
}

static void test_widths_proportional(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_flamegraph_opts o;
	struct svg s;
	double scale;

	add_stack(p, "main|parse|lex", 37, NULL, 0);
	add_stack(p, "main|parse", 11, NULL, 0);
	add_stack(p, "main|eval|apply|eval|apply", 123, NULL, 0);
	add_stack(p, "main|eval", 5, NULL, 0);
	add_stack(p, "main|gc", 64, NULL, 0);
	add_stack(p, "start_thread|worker", 29, NULL, 0);
	add_stack(p, "start_thread|worker|sleep", 1, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	sp_flamegraph_opts_init(&o);
	o.min_width = 0;
	parse(&s, render(t, &o, NULL));

	assert_int_equal(s.n, 12); /* all + 11 distinct tree nodes */
	assert_int_equal(s.f[0].v, 270);
	assert_true(absd(s.f[0].w - (1200 - 20)) < 0.01);
	scale = s.f[0].w / (double)s.f[0].v;
	for (int i = 0; i < s.n; i++) {
		const struct frame *f = &s.f[i];

		/* width proportional to the value in data-v (2-decimal rounding) */
		assert_true(absd(f->w - (double)f->v * scale) < 0.006);
		if (f->parent >= 0) {
			const struct frame *par = &s.f[f->parent];
			double left = par->x;

			/* packed from the parent's left edge, in order */
			for (int k = f->parent + 1; k < i; k++)
				if (s.f[k].parent == f->parent)
					left += s.f[k].w;
			assert_true(absd(f->x - left) < 0.02);
		}
	}
	/* children of main sorted by name: eval, gc, parse */
	assert_non_null(find(&s, "eval\n"));
	assert_true(find(&s, "eval\n")->x < find(&s, "gc\n")->x);
	assert_true(find(&s, "gc\n")->x < find(&s, "parse\n")->x);
	assert_int_equal(find(&s, "main\n")->v, 240);
	assert_int_equal(find(&s, "lex\n")->v, 37);
	/* tooltip: value in the unit and percentage; self when it differs */
	assert_non_null(strstr(find(&s, "parse\n")->title, "48 samples, 17.78%; self 11 samples"));
	free(s.f);
	free(s.doc);
	sp_stacks_free(t);

	/* CPU time unit in tooltips */
	assert_int_equal(sp_stacks_build(p, "cpu", NULL, 0, &t, &err), 0);
	parse(&s, render(t, &o, NULL));
	assert_non_null(strstr(find(&s, "gc\n")->title, "640ms, 23.70%"));
	assert_non_null(strstr(s.doc, "CPU flame graph"));
	assert_non_null(strstr(s.doc, "cpu: 2.70s total"));
	free(s.f);
	free(s.doc);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_narrow_merge_keeps_totals(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_flamegraph_opts o;
	sp_flamegraph_stats st = { 0 };
	struct svg s;
	const struct frame *main_, *lone;
	char buf[64];
	long long sum = 0;

	add_stack(p, "main|big", 1000, NULL, 0);
	for (int i = 0; i < 200; i++) {
		snprintf(buf, sizeof(buf), "main|tiny%03d|deeper", i);
		add_stack(p, buf, 1, NULL, 0);
	}
	add_stack(p, "wide|big2", 500, NULL, 0);
	add_stack(p, "wide|lone|callee", 1, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	sp_flamegraph_opts_init(&o);
	o.min_width = 2; /* one sample is ~0.69 px */
	parse(&s, render(t, &o, &st));

	/* all, main, big, "…" block, wide, big2, lone: nothing else drawn */
	assert_int_equal(s.n, 7);
	assert_int_equal(st.frames, 7);
	assert_int_equal(st.merged_blocks, 1);
	assert_int_equal(st.merged_frames, 200);
	main_ = find(&s, "main\n");
	assert_non_null(main_);
	for (int i = 0; i < s.n; i++) {
		if (s.f[i].parent == main_ - s.f) {
			sum += s.f[i].v;
			if (s.f[i].merged) {
				assert_int_equal(s.f[i].v, 200);
				assert_non_null(strstr(s.f[i].title, "200 narrow frames"));
				assert_non_null(strstr(s.f[i].title, "largest: tiny"));
			}
		}
	}
	/* the merged block keeps the parent's width exact */
	assert_int_equal(sum, main_->v);
	assert_int_equal(main_->v, 1200);
	/* a lone narrow child is drawn by name, its callees are not */
	lone = find(&s, "lone\n");
	assert_non_null(lone);
	assert_int_equal(lone->v, 1);
	assert_non_null(strstr(lone->title, "callees too narrow"));
	assert_null(find(&s, "callee\n"));
	assert_null(find(&s, "deeper\n"));
	free(s.f);
	free(s.doc);

	/* min_width 0 draws everything */
	o.min_width = 0;
	parse(&s, render(t, &o, &st));
	assert_int_equal(s.n, (int)t->n_nodes);
	assert_int_equal(st.merged_blocks, 0);
	free(s.f);
	free(s.doc);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_escaping(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_flamegraph_opts o;
	struct svg s;
	const char *q;

	add_stack(p, "main|operator<<(std::ostream&, Foo const&)", 10, NULL, 0);
	add_stack(p, "main|say \"hi\" 'there'", 10, NULL, 0);
	add_stack(p, "main|bad\xff\xfeutf8|ctl\x01x|caf\xc3\xa9", 10, NULL, 0);
	add_stack(p, "main|std::map<int, std::vector<char>>::at", 10, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	sp_flamegraph_opts_init(&o);
	o.title = "A<B & C";
	o.subtitle = "x > y";
	parse(&s, render(t, &o, NULL));

	assert_non_null(strstr(s.doc, "operator&lt;&lt;(std::ostream&amp;, Foo const&amp;)"));
	assert_non_null(strstr(s.doc, "say &quot;hi&quot; &apos;there&apos;"));
	assert_non_null(strstr(s.doc, "std::map&lt;int, std::vector&lt;char&gt;&gt;::at"));
	assert_non_null(strstr(s.doc, "bad??utf8"));
	assert_non_null(strstr(s.doc, "ctl?x"));
	assert_non_null(strstr(s.doc, "caf\xc3\xa9"));
	assert_non_null(strstr(s.doc, ">A&lt;B &amp; C</text>"));
	assert_non_null(strstr(s.doc, ">x &gt; y</text>"));
	assert_null(strstr(s.doc, "<<"));
	assert_null(strstr(s.doc, "\xff"));
	/* every '<' outside the script opens a tag or a comment/declaration */
	for (q = s.doc; (q = strchr(q, '<')) && q < strstr(s.doc, "<script"); q++)
		assert_true(q[1] == '/' || q[1] == '!' || q[1] == '?' ||
			    (q[1] >= 'a' && q[1] <= 'z'));
	/* the script cannot end its CDATA early */
	q = strstr(s.doc, "<![CDATA[");
	assert_non_null(q);
	assert_ptr_equal(strstr(q, "]]>"), strstr(s.doc, "]]></script>"));
	free(s.f);
	free(s.doc);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_tag_filter_render(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_flamegraph_opts o;
	sp_label la, lb;
	sp_tag_filter f = { "span_id", "00f067aa0ba902b7" };
	struct svg s;

	la = sp_profile_str_label(p, "span_id", "00f067aa0ba902b7");
	lb = sp_profile_str_label(p, "span_id", "b7ad6b7169203331");
	add_stack(p, "main|handle_a", 30, &la, 1);
	add_stack(p, "main|handle_b", 70, &lb, 1);
	add_stack(p, "main|idle", 50, NULL, 0);
	assert_int_equal(sp_stacks_build(p, "samples", &f, 1, &t, &err), 0);
	sp_flamegraph_opts_init(&o);
	o.filter = "span_id=00f067aa0ba902b7";
	parse(&s, render(t, &o, NULL));
	assert_int_equal(s.n, 3);
	assert_int_equal(s.f[0].v, 30);
	assert_non_null(find(&s, "handle_a\n"));
	assert_null(find(&s, "handle_b\n"));
	assert_null(find(&s, "idle\n"));
	assert_non_null(strstr(s.doc, "span_id=00f067aa0ba902b7</text>"));
	free(s.f);
	free(s.doc);
	sp_stacks_free(t);
	sp_profile_free(p);
}

static void test_labels_and_colours(void **state)
{
	sp_profile *p = tu_cpu_profile();
	sp_stack_tree *t = NULL;
	sp_error err = { { 0 } };
	sp_flamegraph_opts o;
	struct svg s, s2;
	const struct frame *longf, *inl, *unk, *phys;
	const char *txt;
	unsigned r, g, b;
	char name[200];
	uint64_t loc;
	int64_t v[2] = { 5, 50 };

	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(name, sizeof(name), "verylongfunctionname_");
	memset(name + strlen(name), 'x', 150);
	name[21 + 150] = '\0';
	{
		char st[300];

		snprintf(st, sizeof(st), "main|%s", name);
		add_stack(p, st, 10, NULL, 0);
	}
	add_stack(p, "main|compute+inl:square", 80, NULL, 0);
	add_stack(p, "main|tiny", 1, NULL, 0);
	loc = sp_profile_add_location(p, 0, 0x1234, NULL, 0);
	assert_int_equal(sp_profile_add_sample(p, &loc, 1, v, NULL, 0), 0);
	assert_int_equal(sp_stacks_build(p, "samples", NULL, 0, &t, &err), 0);
	sp_flamegraph_opts_init(&o);
	parse(&s, render(t, &o, NULL));

	/* 10 of 96 samples: ~123 px, so the 171-char name is cut with ".." */
	longf = find(&s, "verylong");
	assert_non_null(longf);
	txt = longf ? longf->text : "";
	assert_true(strlen(txt) > 5);
	assert_true(strlen(txt) * 12 * 0.59 <= longf->w - 6 + 0.01);
	assert_string_equal(txt + strlen(txt) - 2, "..");
	assert_int_equal(strncmp(txt, name, strlen(txt) - 2), 0);
	/* a frame too narrow for three characters and ".." has no label */
	assert_string_equal(find(&s, "tiny\n")->text, "");
	assert_string_equal(find(&s, "main\n")->text, "main");

	/* inlined frames get the blue-green tint, unknown ones grey */
	inl = find(&s, "square\n");
	phys = find(&s, "compute\n");
	assert_non_null(strstr(inl->title, "inlined"));
	assert_int_equal(sscanf(inl->fill, "#%02x%02x%02x", &r, &g, &b), 3);
	assert_true(b > r && g > r);
	assert_int_equal(sscanf(phys->fill, "#%02x%02x%02x", &r, &g, &b), 3);
	assert_true(r >= 225 && b < 100); /* warm */
	unk = find(&s, "0x1234\n");
	assert_non_null(unk);
	assert_int_equal(sscanf(unk->fill, "#%02x%02x%02x", &r, &g, &b), 3);
	assert_true(r == g && g == b);

	/* colours are a function of the name: same in another render */
	o.width = 800;
	parse(&s2, render(t, &o, NULL));
	assert_string_equal(find(&s2, "compute\n")->fill, phys->fill);
	assert_true(strcmp(find(&s2, "compute\n")->fill, find(&s2, "main\n")->fill));
	free(s.f);
	free(s.doc);
	free(s2.f);
	free(s2.doc);
	sp_stacks_free(t);
	sp_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_widths_proportional),
		cmocka_unit_test(test_narrow_merge_keeps_totals),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_tag_filter_render),
		cmocka_unit_test(test_labels_and_colours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
