/* Links file: build profiles with span labels through the profile API, write
 * the links file, parse it back with a strict little JSON reader, and check
 * every line against sums computed here. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sinks/links.h"
#include "model/profile.h"
#include "model/span_table.h"
#include "sinks/span_times.h"

/* ---- a strict JSON reader, flattening objects to "a.b" keys -------------- */

#define MAX_FIELDS 64

struct field {
	char key[160];
	char str[512]; /* decoded string, or the raw number / literal text */
	int is_string;
	int is_array;
};

struct obj {
	struct field f[MAX_FIELDS];
	int n;
};

static const char *ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static void put_utf8(char **o, unsigned cp)
{
	if (cp < 0x80) {
		*(*o)++ = (char)cp;
	} else if (cp < 0x800) {
		*(*o)++ = (char)(0xc0 | cp >> 6);
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*(*o)++ = (char)(0xe0 | cp >> 12);
		*(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	}
}

/* Parses a string literal at p into out; returns the position after it or
 * NULL. Rejects raw control characters, as JSON does. */
static const char *parse_string(const char *p, char *out, size_t outsz)
{
	char *o = out, *end = out + outsz - 4;

	if (*p++ != '"')
		return NULL;
	while (*p != '"') {
		unsigned char c = (unsigned char)*p;

		if (c == '\0' || c < 0x20 || o >= end)
			return NULL;
		if (c != '\\') {
			*o++ = *p++;
			continue;
		}
		p++;
		switch (*p) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u': {
			unsigned cp;
			char hex[5] = { 0 };

			memcpy(hex, p + 1, 4);
			if (strlen(hex) != 4 || strspn(hex, "0123456789abcdefABCDEF") != 4)
				return NULL;
			cp = (unsigned)strtoul(hex, NULL, 16);
			put_utf8(&o, cp);
			p += 4;
			break;
		}
		default:
			return NULL;
		}
		p++;
	}
	*o = '\0';
	return p + 1;
}

static const char *parse_object(const char *p, const char *prefix, struct obj *o);

static const char *parse_value(const char *p, const char *key, struct obj *o)
{
	struct field *f;

	p = ws(p);
	if (*p == '{')
		return parse_object(p, key, o);
	if (o->n >= MAX_FIELDS)
		return NULL;
	f = &o->f[o->n++];
	snprintf(f->key, sizeof(f->key), "%s", key);
	if (*p == '"') {
		f->is_string = 1;
		return parse_string(p, f->str, sizeof(f->str));
	}
	if (*p == '[') { /* arrays of strings only: kept as their first element */
		char tmp[512];

		f->is_array = 1;
		p = ws(p + 1);
		f->str[0] = '\0';
		while (*p != ']') {
			p = parse_string(p, tmp, sizeof(tmp));
			if (!p)
				return NULL;
			if (!f->str[0])
				snprintf(f->str, sizeof(f->str), "%s", tmp);
			p = ws(p);
			if (*p == ',')
				p = ws(p + 1);
			else if (*p != ']')
				return NULL;
		}
		return p + 1;
	}
	size_t n = strspn(p, "-0123456789.eE+");
	if (n == 0 || n >= sizeof(f->str))
		return NULL;
	memcpy(f->str, p, n);
	f->str[n] = '\0';
	return p + n;
}

static const char *parse_object(const char *p, const char *prefix, struct obj *o)
{
	char key[64], full[160];

	p = ws(p);
	if (*p++ != '{')
		return NULL;
	p = ws(p);
	if (*p == '}')
		return p + 1;
	for (;;) {
		p = parse_string(ws(p), key, sizeof(key));
		if (!p)
			return NULL;
		p = ws(p);
		if (*p++ != ':')
			return NULL;
		snprintf(full, sizeof(full), "%s%s%s", prefix, prefix[0] ? "." : "", key);
		p = parse_value(p, full, o);
		if (!p)
			return NULL;
		p = ws(p);
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '}')
			return p + 1;
		return NULL;
	}
}

static const struct field *get(const struct obj *o, const char *key)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->f[i].key, key))
			return &o->f[i];
	return NULL;
}

static const char *get_str(const struct obj *o, const char *key)
{
	const struct field *f = get(o, key);

	assert_non_null(f);
	assert_true(f->is_string);
	return f->str;
}

static long long get_num(const struct obj *o, const char *key)
{
	const struct field *f = get(o, key);

	assert_non_null(f);
	assert_false(f->is_string);
	return strtoll(f->str, NULL, 10);
}

/* Read every line of path as one JSON object; returns the count. */
static int read_lines(const char *path, struct obj *out, int max)
{
	FILE *f = fopen(path, "r");
	char line[8192];
	int n = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *end;

		assert_true(n < max);
		assert_non_null(strchr(line, '\n'));
		*strchr(line, '\n') = '\0';
		memset(&out[n], 0, sizeof(out[n]));
		end = parse_object(line, "", &out[n]);
		assert_non_null(end);
		assert_int_equal(*ws(end), '\0');
		n++;
	}
	fclose(f);
	return n;
}

/* ---- profile building ---------------------------------------------------- */

#define PERIOD 10000000LL /* 100 Hz */

struct span_def {
	const char *span_id, *trace_id, *name;
};

static const struct span_def spans[] = {
	{ "00f067aa0ba902b7", "4bf92f3577b34da6a3ce929d0e0e4736", "GET /checkout" },
	{ "1111111111111111", "22222222222222222222222222222222", "/fast" },
	{ "a0a0a0a0a0a0a0a0", "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1", "" },
};

static char tmpdir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_links.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	char path[512];

	(void)state;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(tmpdir);
	return 0;
}

static uint64_t loc(sp_profile *p, const char *fn)
{
	sp_line line = { .function_id = sp_profile_add_function(p, fn, fn, "x.c", 1) };

	assert_true(line.function_id != 0);
	return sp_profile_add_location(p, 0, 0, &line, 1);
}

/* Add `count` samples with stack leaf..root and span `s` (NULL: no span). */
static void add(sp_profile *p, const uint64_t *stack, size_t depth, const struct span_def *s,
		int64_t count, int64_t *cpu_sum)
{
	sp_label labels[3];
	size_t nl = 0;
	int64_t v[2] = { count, count * PERIOD };

	if (s) {
		labels[nl++] = sp_profile_str_label(p, "span_id", s->span_id);
		labels[nl++] = sp_profile_str_label(p, "trace_id", s->trace_id);
		if (s->name[0])
			labels[nl++] = sp_profile_str_label(p, "span_name", s->name);
	}
	assert_int_equal(sp_profile_add_sample(p, stack, depth, v, labels, nl), 0);
	if (cpu_sum)
		*cpu_sum += v[1];
}

/* A CPU profile: spans 0..2 across several stacks, plus unlabelled samples.
 * Expected cpu per span in want[]. */
static sp_profile *build_profile(int64_t want[3])
{
	sp_profile *p = sp_profile_new();
	uint64_t a, b, c, m;

	assert_non_null(p);
	assert_int_equal(sp_profile_init_cpu(p, PERIOD), 0);
	a = loc(p, "checksum_payload");
	b = loc(p, "render_table");
	c = loc(p, "count_primes");
	m = loc(p, "main");
	uint64_t s1[] = { a, m }, s2[] = { b, m }, s3[] = { c, b, m }, s4[] = { m };

	memset(want, 0, 3 * sizeof(*want));
	add(p, s1, 2, &spans[0], 30, &want[0]);
	add(p, s2, 2, &spans[0], 12, &want[0]);
	add(p, s3, 3, &spans[0], 5, &want[0]);
	add(p, s1, 2, &spans[0], 3, &want[0]); /* same stack+labels: merged */
	add(p, s4, 1, &spans[1], 1, &want[1]);
	add(p, s2, 2, &spans[2], 7, &want[2]);
	add(p, s3, 3, &spans[2], 2, &want[2]);
	add(p, s1, 2, NULL, 40, NULL);         /* outside any span */
	add(p, s4, 1, NULL, 9, NULL);
	return p;
}

static const struct obj *find_span(const struct obj *lines, int n, const char *span_id)
{
	const struct obj *found = NULL;

	for (int i = 0; i < n; i++) {
		if (strcmp(get_str(&lines[i], "span_id"), span_id))
			continue;
		assert_null(found); /* once per interval */
		found = &lines[i];
	}
	return found;
}

static int count_dir_entries(void)
{
	DIR *d = opendir(tmpdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* ---- tests --------------------------------------------------------------- */

static void test_sums_and_fields(void **state)
{
	int64_t want[3];
	sp_profile *p = build_profile(want);
	sp_links_context ctx = {
		.service = "demo", .profile_path = "/out/demo-1.pb.gz",
		.from_ns = 1767225600000000000LL, .until_ns = 1767225610000000000LL,
	};
	char path[300];
	struct obj lines[8];
	sp_error err = { "" };
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/demo-1.pb.gz.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(p, &ctx, path, &err), 0);
	n = read_lines(path, lines, 8);
	assert_int_equal(n, 3);

	int64_t prev = INT64_MAX, total_spans = 0;
	for (int i = 0; i < n; i++) {
		long long cpu = get_num(&lines[i], "cpu_ns");

		assert_true(cpu <= prev); /* heaviest first */
		prev = cpu;
		total_spans += cpu;
		assert_string_equal(get_str(&lines[i], "service"), "demo");
		assert_string_equal(get_str(&lines[i], "profile"), "/out/demo-1.pb.gz");
		assert_string_equal(get_str(&lines[i], "time_source"), "interval");
		assert_int_equal(get_num(&lines[i], "first_sample_ns"), ctx.from_ns);
		assert_int_equal(get_num(&lines[i], "last_sample_ns"), ctx.until_ns);
		assert_null(get(&lines[i], "pyroscope.profile_type"));
	}
	/* Unlabelled samples are not any span's. */
	assert_int_equal(total_spans, want[0] + want[1] + want[2]);
	assert_true(sp_profile_total(p, 1) > total_spans);

	for (int s = 0; s < 3; s++) {
		const struct obj *o = find_span(lines, n, spans[s].span_id);

		assert_non_null(o);
		assert_int_equal(get_num(o, "cpu_ns"), want[s]);
		assert_int_equal(get_num(o, "samples"), want[s] / PERIOD);
		assert_string_equal(get_str(o, "trace_id"), spans[s].trace_id);
		assert_string_equal(get_str(o, "span_name"), spans[s].name);
	}
	assert_int_equal(count_dir_entries(), 1); /* no temporary left behind */
	sp_profile_free(p);
}

static void test_pyroscope_and_sample_times(void **state)
{
	int64_t want[3];
	sp_profile *p = build_profile(want);
	sp_links_span_time times[] = {
		{ "a0a0a0a0a0a0a0a0", 1767225601000000000LL, 1767225602500000000LL },
		{ "00f067aa0ba902b7", 1767225603123456789LL, 1767225609000000001LL },
	};
	sp_links_context ctx = {
		.service = "demo", .profile_path = "p.pb.gz",
		.pyroscope_url = "http://pyroscope:4040", .pyroscope_app = "checkout{env=prod}",
		.from_ns = 1767225600000000000LL, .until_ns = 1767225610000000000LL,
		.span_times = times, .n_span_times = 2,
	};
	char path[300];
	struct obj lines[8];
	const struct obj *o;
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/p.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(p, &ctx, path, NULL), 0);
	n = read_lines(path, lines, 8);
	assert_int_equal(n, 3);

	o = find_span(lines, n, "00f067aa0ba902b7");
	assert_string_equal(get_str(o, "time_source"), "samples");
	assert_int_equal(get_num(o, "first_sample_ns"), times[1].first_ns);
	assert_int_equal(get_num(o, "last_sample_ns"), times[1].last_ns);
	assert_string_equal(get_str(o, "pyroscope.profile_type"),
			    "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
	assert_string_equal(get_str(o, "pyroscope.service_name"), "checkout");
	assert_string_equal(get_str(o, "pyroscope.server"), "http://pyroscope:4040");
	assert_string_equal(get_str(o, "pyroscope.query"), "{service_name=\"checkout\"}");
	assert_non_null(get(o, "pyroscope.span_selector"));
	assert_true(get(o, "pyroscope.span_selector")->is_array);
	assert_string_equal(get(o, "pyroscope.span_selector")->str, "00f067aa0ba902b7");
	/* Grafana's window: a minute either side, in ms. */
	assert_int_equal(get_num(o, "pyroscope.from"), 1767225603123LL - 60000);
	assert_int_equal(get_num(o, "pyroscope.until"), 1767225609001LL + 60000);

	o = find_span(lines, n, "a0a0a0a0a0a0a0a0");
	assert_int_equal(get_num(o, "first_sample_ns"), times[0].first_ns);
	o = find_span(lines, n, "1111111111111111"); /* not in the table */
	assert_string_equal(get_str(o, "time_source"), "interval");
	assert_int_equal(get_num(o, "first_sample_ns"), ctx.from_ns);
	assert_int_equal(get_num(o, "pyroscope.from"), 1767225600000LL - 60000);
	sp_profile_free(p);
}

static void test_escaping(void **state)
{
	/* Quotes, backslash, newline, a control byte, valid UTF-8, and a
	 * two-byte character cut in half at the end (as a span name cut at its
	 * bound would be). */
	static const char name[] = "q\"b\\n\nc\x01 caf\xc3\xa9 \xc3";
	static const char svc[] = "svc\t\x7f";
	sp_profile *p = sp_profile_new();
	sp_links_context ctx = { .service = svc, .profile_path = "dir with \"quotes\"/p.pb.gz" };
	struct span_def s = { "0123456789abcdef", "0123456789abcdef0123456789abcdef", name };
	char path[300];
	struct obj lines[2];
	uint64_t stack[1];

	(void)state;
	assert_int_equal(sp_profile_init_cpu(p, PERIOD), 0);
	stack[0] = loc(p, "f");
	add(p, stack, 1, &s, 2, NULL);
	snprintf(path, sizeof(path), "%s/esc.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(p, &ctx, path, NULL), 0);
	assert_int_equal(read_lines(path, lines, 2), 1);
	assert_string_equal(get_str(&lines[0], "span_name"),
			    "q\"b\\n\nc\x01 caf\xc3\xa9 \xef\xbf\xbd");
	assert_string_equal(get_str(&lines[0], "service"), "svc\t\x7f");
	assert_string_equal(get_str(&lines[0], "profile"), "dir with \"quotes\"/p.pb.gz");
	sp_profile_free(p);
}

static void test_empty_and_errors(void **state)
{
	sp_profile *p = sp_profile_new();
	sp_profile *heap = sp_profile_new();
	sp_links_context ctx = { .service = "s", .profile_path = "p" };
	sp_error err = { "" };
	char path[300];
	struct stat st;

	(void)state;
	assert_int_equal(sp_profile_init_cpu(p, PERIOD), 0);
	snprintf(path, sizeof(path), "%s/empty.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(p, &ctx, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 0);
	/* Created like the profile beside it: 0666 & ~umask. */
	{
		mode_t um = umask(022);

		umask(um);
		assert_int_equal(st.st_mode & 0777, 0666 & ~um);
	}

	assert_int_equal(sp_profile_init_heap(heap, 512 * 1024), 0);
	snprintf(path, sizeof(path), "%s/heap.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(heap, &ctx, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "cpu"));
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(stat(path, &st), -1);

	snprintf(path, sizeof(path), "%s/no/such/dir/x.links.jsonl", tmpdir);
	assert_true(sp_links_write(p, &ctx, path, &err) < 0);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(count_dir_entries(), 1); /* only empty.links.jsonl */
	sp_profile_free(p);
	sp_profile_free(heap);
}

/* A profile without a samples/count type (pyroscope-rs style): the sample
 * count is estimated from the period. */
static void test_table_without_count(void **state)
{
	sp_profile *p = sp_profile_new();
	sp_span_table t;
	sp_span_entry *e[2];
	sp_label l;
	uint64_t stack[1];
	int64_t v = 5 * PERIOD;

	(void)state;
	assert_int_equal(sp_profile_add_sample_type(p, "cpu", "nanoseconds"), 0);
	assert_int_equal(sp_profile_set_period(p, "cpu", "nanoseconds", PERIOD), 0);
	stack[0] = loc(p, "f");
	l = sp_profile_str_label(p, "span_id", "0123456789abcdef");
	assert_int_equal(sp_profile_add_sample(p, stack, 1, &v, &l, 1), 0);
	assert_int_equal(sp_profile_add_sample(p, stack, 1, &v, NULL, 0), 0);

	sp_span_table_init(&t);
	assert_int_equal(sp_span_table_add_profile(&t, p, "cpu", NULL), 0);
	assert_int_equal(sp_span_table_add_profile(&t, p, "cpu", NULL), 0); /* two files */
	assert_int_equal(t.n, 1);
	sp_span_table_entries(&t, e);
	assert_int_equal(e[0]->samples, 10);
	assert_int_equal(e[0]->value, 10 * PERIOD);
	assert_int_equal(t.unlabelled_value, 10 * PERIOD);
	assert_int_equal(t.total_value, 20 * PERIOD);
	sp_span_table_free(&t);
	sp_profile_free(p);
}

/* Samples of one span id that disagree on the trace id are counted: what a
 * torn read of the span slot would produce. */
static void test_table_conflicts(void **state)
{
	sp_profile *p = sp_profile_new();
	struct span_def good = spans[0], torn = spans[0];
	sp_span_table t;
	sp_span_entry *e[1];
	uint64_t stack[1];

	(void)state;
	torn.trace_id = spans[1].trace_id;
	assert_int_equal(sp_profile_init_cpu(p, PERIOD), 0);
	stack[0] = loc(p, "f");
	add(p, stack, 1, &good, 4, NULL);
	add(p, stack, 1, &torn, 3, NULL);
	sp_span_table_init(&t);
	assert_int_equal(sp_span_table_add_profile(&t, p, "cpu", NULL), 0);
	assert_int_equal(t.n, 1);
	sp_span_table_entries(&t, e);
	assert_string_equal(e[0]->trace_id, spans[0].trace_id);
	assert_int_equal(e[0]->samples, 7);
	assert_int_equal(e[0]->conflicts, 3);
	sp_span_table_free(&t);
	sp_profile_free(p);
}

static sp_span_snapshot snap(const char *span_hex)
{
	sp_span_snapshot s = { .active = 1 };

	for (int i = 0; i < 8; i++)
		sscanf(span_hex + 2 * i, "%2hhx", &s.span_id[i]);
	return s;
}

/* The aggregator-side tracker: first/last per span, shifted to wall clock,
 * reset per interval, bounded; its table drives time_source "samples". */
static void test_span_times(void **state)
{
	int64_t want[3];
	sp_profile *p = build_profile(want);
	sp_span_times *t = sp_span_times_new(2);
	sp_span_snapshot a = snap(spans[0].span_id), b = snap(spans[1].span_id);
	sp_span_snapshot c = snap(spans[2].span_id), none = { .active = 0 };
	sp_links_span_time *tab;
	size_t n;
	const int64_t off = 1767225600000000000LL;
	sp_links_context ctx = { .service = "s", .profile_path = "p",
				 .from_ns = off, .until_ns = off + 10000000000LL };
	char path[300];
	struct obj lines[8];
	const struct obj *o;

	(void)state;
	assert_non_null(t);
	sp_span_times_note(t, &a, 5000);
	sp_span_times_note(t, &b, 7000);
	sp_span_times_note(t, &a, 9000);
	sp_span_times_note(t, &a, 4000); /* rings drain out of order */
	sp_span_times_note(t, &none, 1);
	sp_span_times_note(t, &c, 8000); /* over max_spans = 2: not tracked */
	assert_int_equal(sp_span_times_take(t, off, &tab, &n), 0);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(tab[i].span_id, spans[0].span_id)) {
			assert_int_equal(tab[i].first_ns, off + 4000);
			assert_int_equal(tab[i].last_ns, off + 9000);
		} else {
			assert_string_equal(tab[i].span_id, spans[1].span_id);
			assert_int_equal(tab[i].first_ns, off + 7000);
			assert_int_equal(tab[i].last_ns, off + 7000);
		}
	}
	ctx.span_times = tab;
	ctx.n_span_times = n;
	snprintf(path, sizeof(path), "%s/t.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(p, &ctx, path, NULL), 0);
	assert_int_equal(read_lines(path, lines, 8), 3);
	o = find_span(lines, 3, spans[0].span_id);
	assert_string_equal(get_str(o, "time_source"), "samples");
	assert_int_equal(get_num(o, "first_sample_ns"), off + 4000);
	o = find_span(lines, 3, spans[2].span_id);
	assert_string_equal(get_str(o, "time_source"), "interval");
	free(tab);

	/* Reset after take: the next interval starts empty. */
	assert_int_equal(sp_span_times_take(t, off, &tab, &n), 0);
	assert_int_equal(n, 0);
	assert_null(tab);
	sp_span_times_note(t, &c, 1);
	assert_int_equal(sp_span_times_take(t, 0, &tab, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(tab[0].span_id, spans[2].span_id);
	free(tab);
	sp_span_times_free(t);

	/* Growth: thousands of spans, each kept exactly. */
	t = sp_span_times_new(0);
	for (uint64_t i = 1; i <= 5000; i++) {
		sp_span_snapshot s = { .active = 1 };

		memcpy(s.span_id, &i, sizeof(i));
		sp_span_times_note(t, &s, i);
		sp_span_times_note(t, &s, i * 10);
	}
	assert_int_equal(sp_span_times_take(t, 0, &tab, &n), 0);
	assert_int_equal(n, 5000);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(tab[i].last_ns, tab[i].first_ns * 10);
	free(tab);
	sp_span_times_free(t);
	sp_profile_free(p);
}

/* Many spans: the table grows and keeps every one exact. */
static void test_many_spans(void **state)
{
	sp_profile *p = sp_profile_new();
	sp_links_context ctx = { .service = "s", .profile_path = "p" };
	char path[300], id[17], tid[33];
	static struct obj lines[8];
	uint64_t stack[1];
	FILE *f;
	int n = 0;
	char buf[2048];

	(void)state;
	assert_int_equal(sp_profile_init_cpu(p, PERIOD), 0);
	stack[0] = loc(p, "f");
	for (int i = 1; i <= 5000; i++) {
		struct span_def s = { id, tid, "s" };

		snprintf(id, sizeof(id), "%016x", i);
		snprintf(tid, sizeof(tid), "%032x", i);
		add(p, stack, 1, &s, i % 7 + 1, NULL);
	}
	snprintf(path, sizeof(path), "%s/many.links.jsonl", tmpdir);
	assert_int_equal(sp_links_write(p, &ctx, path, NULL), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		memset(&lines[0], 0, sizeof(lines[0]));
		assert_non_null(parse_object(buf, "", &lines[0]));
		long long idn = strtoll(get_str(&lines[0], "span_id"), NULL, 16);
		assert_int_equal(get_num(&lines[0], "cpu_ns"), (idn % 7 + 1) * PERIOD);
		n++;
	}
	fclose(f);
	assert_int_equal(n, 5000);
	sp_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sums_and_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pyroscope_and_sample_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escaping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_and_errors, setup, teardown),
		cmocka_unit_test(test_table_without_count),
		cmocka_unit_test(test_table_conflicts),
		cmocka_unit_test_setup_teardown(test_span_times, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_spans, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
