/* Request bodies for Pyroscope: type naming, span_name stripping, UTF-8
 * repair, time, splitting over the sample and size limits (lossless). */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/gzip.h"
#include "model/pprof.h"
#include "sinks/pyroscope_prepare.h"

static sp_pyroscope_prep opts(void)
{
	sp_pyroscope_prep o = { .keep_span_name = false, .max_samples = 16000,
				.max_bytes = 1536 << 10, .max_parts = 64, .gzip_level = 6 };
	return o;
}

/* n samples, each its own stack of depth 3, span labels on all. */
static sp_profile *cpu_profile(int n, const char *fname_prefix)
{
	sp_profile *p = sp_profile_new();
	uint64_t m;

	sp_profile_init_cpu(p, 10000000);
	p->time_nanos = 1767225600000000000LL;
	m = sp_profile_add_mapping(p, 0x1000, 0x9000, 0, "/bin/app", "abcd");
	p->mappings[0].has_functions = true;
	for (int i = 0; i < n; i++) {
		uint64_t locs[3];
		char name[64];
		int64_t v[2] = { 1 + i % 3, (1 + i % 3) * 10000000LL };
		sp_label l[5];

		for (int d = 0; d < 3; d++) {
			sp_line ln = { 0 };

			snprintf(name, sizeof(name), "%s%d_%d", fname_prefix, d == 0 ? i : 0, d);
			ln.function_id = sp_profile_add_function(p, name, name, "a.c", 1);
			ln.line = d + 1;
			locs[d] = sp_profile_add_location(p, m, 0x1000 + (uint64_t)(i * 4 + d) * 16, &ln, 1);
		}
		l[0] = sp_profile_str_label(p, "span_id", "00f067aa0ba902b7");
		l[1] = sp_profile_str_label(p, "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736");
		l[2] = sp_profile_str_label(p, "span_name", i % 2 ? "GET /a" : "GET /b");
		l[3] = sp_profile_str_label(p, "thread_name", "worker");
		l[4] = sp_profile_num_label(p, "thread_id", 4242 + i, NULL);
		assert_int_equal(sp_profile_add_sample(p, locs, 3, v, l, 5), 0);
	}
	return p;
}

static sp_profile *decode(const sp_pyroscope_part *pt)
{
	sp_profile *d = NULL;
	sp_error err;

	assert_true(pt->len > 18 && pt->body[0] == 0x1f && pt->body[1] == 0x8b);
	assert_int_equal(sp_pprof_decode(pt->body, pt->len, &d, &err), 0);
	return d;
}

static void test_metric_names(void **state)
{
	sp_profile *cpu = sp_profile_new(), *heap = sp_profile_new(), *wall = sp_profile_new();
	sp_profile *other = sp_profile_new();

	sp_profile_init_cpu(cpu, 10000000);
	sp_profile_init_heap(heap, 524288);
	sp_profile_add_sample_type(wall, "samples", "count");
	sp_profile_add_sample_type(wall, "wall", "nanoseconds");
	sp_profile_add_sample_type(other, "widgets", "count");
	assert_string_equal(sp_pyroscope_metric_name(cpu), "process_cpu");
	assert_string_equal(sp_pyroscope_metric_name(heap), "memory");
	assert_string_equal(sp_pyroscope_metric_name(wall), "wall");
	assert_string_equal(sp_pyroscope_metric_name(other), "widgets");
	assert_int_equal(sp_pyroscope_sample_rate(cpu), 100);
	assert_int_equal(sp_pyroscope_sample_rate(heap), 0);
	sp_profile_free(cpu);
	sp_profile_free(heap);
	sp_profile_free(wall);
	sp_profile_free(other);
}

static void test_wrong_or_mixed_types_refused(void **state)
{
	sp_pyroscope_prep o = opts();
	sp_pyroscope_part *parts;
	size_t n;
	sp_error err;
	sp_profile *mixed = sp_profile_new(), *dash = sp_profile_new();
	sp_profile *cpu = cpu_profile(2, "f");

	sp_profile_add_sample_type(mixed, "cpu", "nanoseconds");
	sp_profile_add_sample_type(mixed, "alloc_space", "bytes");
	assert_int_equal(sp_pyroscope_prepare(mixed, "cpu", &o, 1, 2, &parts, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "one type per request"));
	sp_profile_add_sample_type(dash, "alloc-space", "bytes");
	assert_int_equal(sp_pyroscope_prepare(dash, "memory", &o, 1, 2, &parts, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "'-'"));
	/* a CPU profile sent as memory would be filed as process_cpu */
	assert_int_equal(sp_pyroscope_prepare(cpu, "memory", &o, 1, 2, &parts, &n, &err), -EINVAL);
	assert_int_equal(sp_pyroscope_prepare(cpu, "wall", &o, 1, 2, &parts, &n, &err), -EINVAL);
	sp_profile_free(mixed);
	sp_profile_free(dash);
	sp_profile_free(cpu);
}

static bool has_label_key(const sp_profile *p, const sp_sample *s, const char *key)
{
	for (size_t i = 0; i < s->n_labels; i++)
		if (!strcmp(sp_profile_str(p, s->labels[i].key), key))
			return true;
	return false;
}

static void test_series_labels_stripped_unless_wanted(void **state)
{
	sp_pyroscope_prep o = opts();
	sp_profile *p = cpu_profile(10, "f"), *d;
	sp_pyroscope_part *parts;
	size_t n;
	sp_error err;

	assert_int_equal(sp_pyroscope_prepare(p, "cpu", &o, 1, 2, &parts, &n, &err), 0);
	assert_int_equal(n, 1);
	d = decode(&parts[0]);
	assert_int_equal(d->n_samples, 10);
	for (size_t i = 0; i < d->n_samples; i++) {
		assert_null(sp_profile_sample_label(d, &d->samples[i], "span_name"));
		assert_null(sp_profile_sample_label(d, &d->samples[i], "thread_name"));
		/* one series per thread id otherwise */
		assert_false(has_label_key(d, &d->samples[i], "thread_id"));
		assert_string_equal(sp_profile_sample_label(d, &d->samples[i], "span_id"),
				    "00f067aa0ba902b7");
		/* a server before v2.1.0 would make each trace a series */
		assert_null(sp_profile_sample_label(d, &d->samples[i], "trace_id"));
	}
	assert_int_equal(sp_profile_total(d, 1), sp_profile_total(p, 1));
	/* the caller's profile is untouched */
	assert_non_null(sp_profile_sample_label(p, &p->samples[0], "span_name"));
	sp_profile_free(d);
	sp_pyroscope_parts_free(parts, n);

	o.keep_span_name = true;
	o.keep_thread_name = true;
	o.keep_trace_id = true;
	assert_int_equal(sp_pyroscope_prepare(p, "cpu", &o, 1, 2, &parts, &n, &err), 0);
	d = decode(&parts[0]);
	assert_string_equal(sp_profile_sample_label(d, &d->samples[1], "trace_id"),
			    sp_profile_sample_label(p, &p->samples[1], "trace_id"));
	assert_string_equal(sp_profile_sample_label(d, &d->samples[1], "span_name"), "GET /a");
	assert_string_equal(sp_profile_sample_label(d, &d->samples[1], "thread_name"), "worker");
	sp_profile_free(d);
	sp_pyroscope_parts_free(parts, n);
	sp_profile_free(p);
}

static void test_time_and_utf8(void **state)
{
	sp_pyroscope_prep o = opts();
	sp_profile *p = cpu_profile(3, "bad\xff"), *d;
	sp_pyroscope_part *parts;
	size_t n, i;
	sp_error err;

	p->time_nanos = 0;
	p->duration_nanos = 0;
	assert_int_equal(sp_pyroscope_prepare(p, "cpu", &o, 5000000000LL, 15000000000LL, &parts, &n,
					      &err),
			 0);
	d = decode(&parts[0]);
	assert_int_equal(d->time_nanos, 5000000000LL);
	assert_int_equal(d->duration_nanos, 10000000000LL);
	for (i = 0; i < d->n_strings; i++)
		assert_null(strchr(d->strings[i], '\xff'));
	for (i = 0; i < d->n_functions; i++)
		if (!strncmp(sp_profile_str(d, d->functions[i].name), "bad?", 4))
			break;
	assert_true(i < d->n_functions);
	sp_profile_free(d);
	sp_pyroscope_parts_free(parts, n);
	sp_profile_free(p);
}

static void check_split(sp_profile *p, const sp_pyroscope_part *parts, size_t n, size_t max_samples,
			size_t max_bytes)
{
	int64_t total = 0, count = 0;
	size_t samples = 0;

	for (size_t i = 0; i < n; i++) {
		sp_profile *d = decode(&parts[i]);

		assert_true(d->n_samples <= max_samples);
		assert_true(parts[i].raw_len <= max_bytes);
		/* each part stands alone: every location it uses is in it */
		assert_int_equal(sp_profile_validate(d, NULL), 0);
		assert_true(d->n_locations <= d->n_samples * 3);
		assert_int_equal(d->time_nanos, p->time_nanos);
		assert_null(sp_profile_sample_label(d, &d->samples[0], "span_name"));
		assert_non_null(sp_profile_sample_label(d, &d->samples[0], "span_id"));
		assert_true(d->mappings[0].has_functions);
		total += sp_profile_total(d, 1);
		count += sp_profile_total(d, 0);
		samples += d->n_samples;
		sp_profile_free(d);
	}
	assert_int_equal(samples, p->n_samples);
	assert_int_equal(total, sp_profile_total(p, 1));
	assert_int_equal(count, sp_profile_total(p, 0));
}

static void test_split_by_samples(void **state)
{
	sp_pyroscope_prep o = opts();
	sp_profile *p = cpu_profile(2500, "f");
	sp_pyroscope_part *parts;
	size_t n;
	sp_error err;

	o.max_samples = 1000;
	assert_int_equal(sp_pyroscope_prepare(p, "cpu", &o, 1, 2, &parts, &n, &err), 0);
	assert_int_equal(n, 3);
	check_split(p, parts, n, 1000, o.max_bytes);
	sp_pyroscope_parts_free(parts, n);
	sp_profile_free(p);
}

static void test_split_by_bytes(void **state)
{
	sp_pyroscope_prep o = opts();
	sp_profile *p = cpu_profile(2000, "a_rather_long_function_name_to_make_strings_dominate_");
	sp_pyroscope_part *parts;
	size_t n;
	sp_error err;

	o.max_bytes = 40000;
	assert_int_equal(sp_pyroscope_prepare(p, "cpu", &o, 1, 2, &parts, &n, &err), 0);
	assert_true(n > 2);
	check_split(p, parts, n, o.max_samples, o.max_bytes);
	sp_pyroscope_parts_free(parts, n);

	/* too many parts needed: refused with a message, nothing leaked */
	o.max_parts = 2;
	assert_int_equal(sp_pyroscope_prepare(p, "cpu", &o, 1, 2, &parts, &n, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "more than 2 requests"));
	sp_profile_free(p);
}

static void test_gzip_roundtrip(void **state)
{
	const char *text = "hello hello hello hello";
	uint8_t *gz, out[64];
	size_t len;
	uLongf outlen = sizeof(out);
	z_stream zs = { 0 };

	assert_int_equal(sp_gzip((const uint8_t *)text, strlen(text), 6, &gz, &len), 0);
	assert_int_equal(inflateInit2(&zs, 16 + 15), Z_OK);
	zs.next_in = gz;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)outlen;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.total_out, strlen(text));
	assert_memory_equal(out, text, strlen(text));
	inflateEnd(&zs);
	free(gz);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metric_names),
		cmocka_unit_test(test_wrong_or_mixed_types_refused),
		cmocka_unit_test(test_series_labels_stripped_unless_wanted),
		cmocka_unit_test(test_time_and_utf8),
		cmocka_unit_test(test_split_by_samples),
		cmocka_unit_test(test_split_by_bytes),
		cmocka_unit_test(test_gzip_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
