/* pprof encode/decode: round trips (gzip and raw), files, and one test per
 * class of malformed input checking the message names the problem. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "model/pprof.h"
#include "model/profile.h"
#include "profile.pb-c.h"

extern unsigned long long sp_pprof_max_size;

typedef Perftools__Profiles__Profile pb_profile;

static sp_profile *sample_profile(void)
{
	sp_profile *p = sp_profile_new();
	uint64_t m = sp_profile_add_mapping(p, 0x400000, 0x401000, 0x1000, "/bin/app", "0badc0de");
	uint64_t f1 = sp_profile_add_function(p, "main", NULL, "app.c", 10);
	uint64_t f2 = sp_profile_add_function(p, "inl", "_Z3inlv", "app.h", 2);
	sp_line lines[2] = { { f2, 3, 7 }, { f1, 12, 0 } };
	uint64_t stack[2];
	sp_label lab[3];
	int64_t v[2] = { 2, 20000000 };

	sp_profile_init_cpu(p, 10000000);
	/* what the locations carry: the writer states exactly this */
	p->mappings[0].has_functions = p->mappings[0].has_filenames = true;
	p->mappings[0].has_line_numbers = p->mappings[0].has_inline_frames = true;
	stack[0] = sp_profile_add_location(p, m, 0x400123, lines, 2);
	stack[1] = sp_profile_add_location(p, m, 0x400100, lines + 1, 1);
	p->locations[1].is_folded = true;
	lab[0] = sp_profile_str_label(p, "span_id", "00f067aa0ba902b7");
	lab[1] = sp_profile_str_label(p, "thread_name", "worker");
	lab[2] = sp_profile_num_label(p, "bytes", 4096, "bytes");
	sp_profile_add_sample(p, stack, 2, v, lab, 3);
	v[0] = 1;
	v[1] = -5; /* negative values are legal */
	sp_profile_add_sample(p, stack + 1, 1, v, NULL, 0);
	sp_profile_add_sample(p, stack, 0, v, NULL, 0); /* no locations: legal */
	sp_profile_add_comment(p, "hello");
	p->time_nanos = 1700000000123456789LL;
	p->duration_nanos = 10000000000LL;
	p->drop_frames = sp_profile_string(p, "malloc.*");
	p->keep_frames = sp_profile_string(p, "keep");
	p->default_sample_type = sp_profile_string(p, "samples");
	p->doc_url = sp_profile_string(p, "https://example.com/doc");
	return p;
}

static void assert_profiles_equal(const sp_profile *a, const sp_profile *b)
{
	size_t i, j;

	assert_int_equal(a->n_strings, b->n_strings);
	for (i = 0; i < a->n_strings; i++)
		assert_string_equal(a->strings[i], b->strings[i]);
	assert_int_equal(a->n_sample_types, b->n_sample_types);
	assert_memory_equal(a->sample_types, b->sample_types,
			    a->n_sample_types * sizeof(*a->sample_types));
	assert_int_equal(a->n_mappings, b->n_mappings);
	for (i = 0; i < a->n_mappings; i++)
		assert_memory_equal(&a->mappings[i], &b->mappings[i], sizeof(sp_mapping));
	assert_int_equal(a->n_functions, b->n_functions);
	for (i = 0; i < a->n_functions; i++)
		assert_memory_equal(&a->functions[i], &b->functions[i], sizeof(sp_function));
	assert_int_equal(a->n_locations, b->n_locations);
	for (i = 0; i < a->n_locations; i++) {
		const sp_location *x = &a->locations[i], *y = &b->locations[i];

		assert_int_equal(x->id, y->id);
		assert_int_equal(x->mapping_id, y->mapping_id);
		assert_int_equal(x->address, y->address);
		assert_int_equal(x->is_folded, y->is_folded);
		assert_int_equal(x->n_lines, y->n_lines);
		for (j = 0; j < x->n_lines; j++)
			assert_memory_equal(&x->lines[j], &y->lines[j], sizeof(sp_line));
	}
	assert_int_equal(a->n_samples, b->n_samples);
	for (i = 0; i < a->n_samples; i++) {
		const sp_sample *x = &a->samples[i], *y = &b->samples[i];

		assert_int_equal(x->n_locations, y->n_locations);
		if (x->n_locations)
			assert_memory_equal(x->location_ids, y->location_ids,
					    x->n_locations * sizeof(uint64_t));
		assert_memory_equal(x->values, y->values, a->n_sample_types * sizeof(int64_t));
		assert_int_equal(x->n_labels, y->n_labels);
		for (j = 0; j < x->n_labels; j++)
			assert_memory_equal(&x->labels[j], &y->labels[j], sizeof(sp_label));
	}
	assert_int_equal(a->n_comments, b->n_comments);
	for (i = 0; i < a->n_comments; i++)
		assert_int_equal(a->comments[i], b->comments[i]);
	assert_int_equal(a->drop_frames, b->drop_frames);
	assert_int_equal(a->keep_frames, b->keep_frames);
	assert_int_equal(a->time_nanos, b->time_nanos);
	assert_int_equal(a->duration_nanos, b->duration_nanos);
	assert_memory_equal(&a->period_type, &b->period_type, sizeof(a->period_type));
	assert_int_equal(a->period, b->period);
	assert_int_equal(a->default_sample_type, b->default_sample_type);
	assert_int_equal(a->doc_url, b->doc_url);
}

static void roundtrip(int gzip)
{
	sp_profile *p = sample_profile(), *q = NULL;
	sp_error err = { "" };
	uint8_t *buf;
	size_t len;

	assert_int_equal(sp_pprof_encode(p, gzip, &buf, &len, &err), 0);
	assert_true(len > 20);
	assert_int_equal(buf[0] == 0x1f && buf[1] == 0x8b, gzip);
	if (sp_pprof_decode(buf, len, &q, &err))
		fail_msg("decode: %s", err.msg);
	assert_profiles_equal(p, q);
	/* the decoded profile is a full citizen: lookups and interning work */
	assert_non_null(sp_profile_location(q, p->locations[0].id));
	assert_int_equal(sp_profile_add_function(q, "main", NULL, "app.c", 10),
			 p->functions[0].id);
	assert_int_equal(sp_profile_sample_index(q, NULL), 0); /* default "samples" */
	free(buf);
	sp_profile_free(p);
	sp_profile_free(q);
}

static void test_roundtrip_gzip(void **state)
{
	roundtrip(1);
}

static void test_roundtrip_raw(void **state)
{
	roundtrip(0);
}

static void test_single_gzip_member(void **state)
{
	sp_profile *p = sample_profile();
	uint8_t *buf, out[65536];
	size_t len;
	z_stream zs;

	assert_int_equal(sp_pprof_encode(p, 1, &buf, &len, NULL), 0);
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 31), Z_OK);
	zs.next_in = buf;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0); /* nothing after the first member */
	inflateEnd(&zs);
	free(buf);
	sp_profile_free(p);
}

static void test_encode_refuses_invalid(void **state)
{
	sp_profile *p = sample_profile();
	sp_error err = { "" };
	uint8_t *buf = (uint8_t *)"x";
	size_t len = 1;

	p->locations[0].lines[0].function_id = 99;
	assert_int_equal(sp_pprof_encode(p, 1, &buf, &len, &err), -EINVAL);
	assert_null(buf);
	assert_non_null(strstr(err.msg, "refers to missing function 99"));
	sp_profile_free(p);
}

static void test_label_str_wins(void **state)
{
	sp_profile *p = sample_profile(), *q;
	uint8_t *buf;
	size_t len;

	/* a label with both str and num set: readers ignore num */
	p->samples[0].labels[0].num = 55;
	assert_int_equal(sp_pprof_encode(p, 0, &buf, &len, NULL), 0);
	assert_int_equal(sp_pprof_decode(buf, len, &q, NULL), 0);
	assert_int_equal(q->samples[0].labels[0].num, 0);
	assert_string_equal(sp_profile_sample_label(q, &q->samples[0], "span_id"),
			    "00f067aa0ba902b7");
	free(buf);
	sp_profile_free(p);
	sp_profile_free(q);
}

static void test_files(void **state)
{
	char dir[] = "/tmp/test_pprof.XXXXXX", path[128], bad[160];
	sp_profile *p = sample_profile(), *q = NULL;
	sp_error err = { "" };
	struct stat st;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/out.pb.gz", dir);
	assert_int_equal(sp_pprof_write_file(p, path, &err), 0);
	assert_int_equal(stat(path, &st), 0);
	/* overwrite in place: still one file, atomically replaced */
	assert_int_equal(sp_pprof_write_file(p, path, &err), 0);
	if (sp_pprof_read_file(path, &q, &err))
		fail_msg("read: %s", err.msg);
	assert_profiles_equal(p, q);
	sp_profile_free(q);

	snprintf(bad, sizeof(bad), "%s/missing/out.pb.gz", dir);
	assert_int_equal(sp_pprof_write_file(p, bad, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "missing/out.pb.gz"));

	assert_int_equal(sp_pprof_read_file(bad, &q, &err), -ENOENT);
	assert_null(q);
	assert_non_null(strstr(err.msg, "cannot open"));
	assert_int_equal(sp_pprof_read_file(dir, &q, &err), -EISDIR);

	/* errors from decoding name the file */
	snprintf(bad, sizeof(bad), "%s/empty.pb.gz", dir);
	fclose(fopen(bad, "w"));
	assert_int_equal(sp_pprof_read_file(bad, &q, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "empty.pb.gz: empty file"));
	unlink(bad);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* no temp files left */
	sp_profile_free(p);
}

/* ---- malformed input ---------------------------------------------------- */

static void expect_decode_error(const uint8_t *buf, size_t len, const char *needle)
{
	sp_profile *q = (sp_profile *)1;
	sp_error err = { "" };
	int rc = sp_pprof_decode(buf, len, &q, &err);

	if (rc == 0)
		fail_msg("decoded fine, expected \"%s\"", needle);
	assert_null(q);
	if (!strstr(err.msg, needle))
		fail_msg("message \"%s\" does not contain \"%s\"", err.msg, needle);
}

static void encoded(int gzip, uint8_t **buf, size_t *len)
{
	sp_profile *p = sample_profile();

	assert_int_equal(sp_pprof_encode(p, gzip, buf, len, NULL), 0);
	sp_profile_free(p);
}

static void test_bad_gzip(void **state)
{
	uint8_t *buf, *two;
	size_t len;

	expect_decode_error((const uint8_t *)"", 0, "empty file");
	encoded(1, &buf, &len);
	expect_decode_error(buf, len / 2, "truncated gzip stream");
	expect_decode_error(buf, 2, "truncated gzip stream");

	two = malloc(len * 2 + 4);
	memcpy(two, buf, len);
	memcpy(two + len, buf, len);
	expect_decode_error(two, len * 2, "several gzip members");
	memcpy(two + len, "junk", 4);
	expect_decode_error(two, len + 4, "4 bytes of trailing garbage");

	memcpy(two, buf, len);
	two[2] = 7; /* compression method */
	expect_decode_error(two, len, "corrupt gzip stream");
	memcpy(two, buf, len);
	two[len - 5] ^= 0xff; /* the length in the trailer */
	expect_decode_error(two, len, "corrupt gzip stream");
	free(two);
	free(buf);
}

static void test_decompression_limit(void **state)
{
	unsigned long long saved = sp_pprof_max_size;
	uint8_t *buf;
	size_t len;
	sp_profile *q;

	encoded(1, &buf, &len);
	sp_pprof_max_size = 64;
	expect_decode_error(buf, len, "larger than");
	sp_pprof_max_size = 1 << 20;
	assert_int_equal(sp_pprof_decode(buf, len, &q, NULL), 0);
	sp_profile_free(q);
	sp_pprof_max_size = saved;
	free(buf);
}

static void test_not_protobuf(void **state)
{
	const char *text = "this is a text file, not a profile\n";
	uint8_t *buf;
	size_t len;

	expect_decode_error((const uint8_t *)text, strlen(text), "not a pprof profile");
	expect_decode_error((const uint8_t *)"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11,
			    "bad or truncated varint (field tag) at byte 0");
	expect_decode_error((const uint8_t *)"\x0f\x00", 2, "unknown wire type 7");
	expect_decode_error((const uint8_t *)"\x12\x02\x08\xff", 4,
			    "sample 0: bad or truncated varint in field 1 (location_id) at byte 2");
	expect_decode_error((const uint8_t *)"\x30\x01", 2,
			    "string_table (field 6) has wire type 0");
	expect_decode_error((const uint8_t *)"\x22\x04\x22\x02\x08\x80", 6,
			    "location 0 line 0: bad or truncated varint in field 1 (function_id)");
	encoded(0, &buf, &len);
	expect_decode_error(buf, len - 3, "not a pprof profile");
	expect_decode_error(buf, len - 3, "truncated");
	free(buf);
}

/* A mutation that shrinks a count saves it here so the message can be
 * freed whole afterwards. */
static size_t *saved_count, saved_value;

static void shrink(size_t *count, size_t to)
{
	saved_count = count;
	saved_value = *count;
	*count = to;
}

/* Take the sample profile through protobuf-c, let `mutate` break it. */
static void expect_mutation_error(void (*mutate)(pb_profile *m), const char *needle)
{
	uint8_t *buf, *out;
	size_t len, olen;
	pb_profile *m;

	encoded(0, &buf, &len);
	m = perftools__profiles__profile__unpack(NULL, len, buf);
	assert_non_null(m);
	mutate(m);
	olen = perftools__profiles__profile__get_packed_size(m);
	out = malloc(olen + 1);
	perftools__profiles__profile__pack(m, out);
	expect_decode_error(out, olen, needle);
	if (saved_count) {
		*saved_count = saved_value;
		saved_count = NULL;
	}
	perftools__profiles__profile__free_unpacked(m, NULL);
	free(out);
	free(buf);
}

static void no_strings(pb_profile *m)
{
	shrink(&m->n_string_table, 0);
}

static void first_string_not_empty(pb_profile *m)
{
	char *t = m->string_table[0];

	m->string_table[0] = m->string_table[1];
	m->string_table[1] = t;
}

static void wrong_value_count(pb_profile *m)
{
	shrink(&m->sample[1]->n_value, 1);
}

static void missing_function(pb_profile *m)
{
	m->location[0]->id = 7;
	m->sample[0]->location_id[0] = 7;
	m->location[0]->line[0]->function_id = 9;
}

static void missing_location(pb_profile *m)
{
	m->sample[1]->location_id[0] = 1234;
}

static void mapping_id_zero(pb_profile *m)
{
	m->mapping[0]->id = 0;
}

static void function_id_zero(pb_profile *m)
{
	m->function[1]->id = 0;
}

static void duplicate_function(pb_profile *m)
{
	m->function[1]->id = m->function[0]->id;
}

static void duplicate_location(pb_profile *m)
{
	m->location[1]->id = m->location[0]->id;
}

static void string_out_of_range(pb_profile *m)
{
	m->function[0]->filename = (int64_t)m->n_string_table;
}

static void negative_string(pb_profile *m)
{
	m->sample[0]->label[0]->str = -2;
}

static void no_sample_types(pb_profile *m)
{
	shrink(&m->n_sample_type, 0);
}

static void line_without_function(pb_profile *m)
{
	m->location[1]->line[0]->function_id = 0;
}

static void test_invalid_profiles(void **state)
{
	expect_mutation_error(no_strings, "not a pprof profile: the string table is missing");
	expect_mutation_error(first_string_not_empty, "string_table[0] must be \"\"");
	expect_mutation_error(wrong_value_count,
			      "sample 1 has 1 values but the profile declares 2 sample types");
	expect_mutation_error(missing_function, "location 7 refers to missing function 9");
	expect_mutation_error(missing_location, "sample 1 refers to missing location 1234");
	expect_mutation_error(mapping_id_zero, "mapping 0 has the reserved id 0");
	expect_mutation_error(function_id_zero, "function 1 has the reserved id 0");
	expect_mutation_error(duplicate_function, "several functions have the id 1");
	expect_mutation_error(duplicate_location, "several locations have the id 1");
	expect_mutation_error(string_out_of_range,
			      "function 1 has a filename string index out of range");
	expect_mutation_error(negative_string, "sample 0 has a label value string index out of range");
	expect_mutation_error(no_sample_types, "3 samples but no sample type information");
	expect_mutation_error(line_without_function, "refers to missing function 0");
}

static void test_time_nanos_twice(void **state)
{
	uint8_t *buf, *two;
	size_t len;

	encoded(0, &buf, &len);
	/* two raw profiles glued together: time_nanos (field 9) twice */
	two = malloc(len * 2);
	memcpy(two, buf, len);
	memcpy(two + len, buf, len);
	expect_decode_error(two, len * 2, "concatenated profiles detected");
	free(two);
	free(buf);
}

static void test_lenient_like_pprof(void **state)
{
	/* things pprof accepts: unknown fields, a location whose mapping is
	 * missing, an all-zero label (dropped) */
	sp_profile *p = sample_profile(), *q;
	uint8_t *buf, *ext;
	size_t len;

	p->locations[0].mapping_id = 99;
	p->samples[0].labels[2] = (sp_label){ 0 };
	assert_int_equal(sp_pprof_encode(p, 0, &buf, &len, NULL), 0);
	ext = malloc(len + 3);
	memcpy(ext, buf, len);
	memcpy(ext + len, "\xa8\x06\x01", 3); /* field 101, varint 1 */
	assert_int_equal(sp_pprof_decode(ext, len + 3, &q, NULL), 0);
	assert_int_equal(q->samples[0].n_labels, 2);
	assert_null(sp_profile_mapping(q, 99));
	sp_profile_free(q);
	free(ext);
	free(buf);
	sp_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_gzip),
		cmocka_unit_test(test_roundtrip_raw),
		cmocka_unit_test(test_single_gzip_member),
		cmocka_unit_test(test_encode_refuses_invalid),
		cmocka_unit_test(test_label_str_wins),
		cmocka_unit_test(test_files),
		cmocka_unit_test(test_bad_gzip),
		cmocka_unit_test(test_decompression_limit),
		cmocka_unit_test(test_not_protobuf),
		cmocka_unit_test(test_invalid_profiles),
		cmocka_unit_test(test_time_nanos_twice),
		cmocka_unit_test(test_lenient_like_pprof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
