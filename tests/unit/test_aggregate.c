/* The aggregator: real captured samples -> interval pprof profile. */
#include "test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include "aggregate/aggregate.h"
#include "model/pprof.h"
#include "model/profile.h"
#include "sample_capture.h"
#include "symbolizer/kallsyms.h"

#define CHAIN __attribute__((noinline, noclone, optimize("omit-frame-pointer")))

static volatile int sink;

CHAIN static void chain_leaf(void) { sink++; CAP_FIRE(); sink++; }
CHAIN static void chain_b(void) { chain_leaf(); sink++; }
CHAIN static void chain_a(void) { chain_b(); sink++; }
/* Bodies differ from the chain above, or -fipa-icf folds them together. */
CHAIN static void other_leaf(void) { sink += 2; CAP_FIRE(); sink += 3; }
CHAIN static void other(void) { other_leaf(); sink += 5; }

static uint8_t stack_a[CAP_STACK_MAX], stack_b[CAP_STACK_MAX];
static sp_raw_sample sample_a, sample_b;

static int setup(void **state)
{
	cap_setup();
	chain_a();
	sample_a = cap_sample;
	memcpy(stack_a, cap_stack, sample_a.stack_len);
	sample_a.stack = stack_a;
	cap_setup();
	other();
	sample_b = cap_sample;
	memcpy(stack_b, cap_stack, sample_b.stack_len);
	sample_b.stack = stack_b;
	return 0;
}

static sp_aggregator *new_agg(bool symbolize)
{
	sp_error err = { { 0 } };
	sp_aggregator_config cfg = { .period_ns = 10000000, .symbolize = symbolize,
				     .span_name_label = true };
	sp_aggregator *a = sp_aggregator_new(&cfg, &err);
	if (!a)
		fail_msg("sp_aggregator_new: %s", err.msg);
	return a;
}

static const char *leaf_function(const sp_profile *p, const sp_sample *s, size_t at)
{
	const sp_location *l = sp_profile_location(p, s->location_ids[at]);
	if (!l || !l->n_lines)
		return "";
	const sp_function *f = sp_profile_function(p, l->lines[l->n_lines - 1].function_id);
	return f ? sp_profile_str(p, f->name) : "";
}

static const sp_sample *find_sample(const sp_profile *p, const char *key, const char *val,
				    const char *leaf)
{
	for (size_t i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		const char *v = key ? sp_profile_sample_label(p, s, key) : NULL;
		if (key && (!v || strcmp(v, val) != 0))
			continue;
		if (!key && s->n_labels)
			continue;
		if (leaf && strcmp(leaf_function(p, s, 0), leaf) != 0)
			continue;
		return s;
	}
	return NULL;
}

static bool has_comment(const sp_profile *p, const char *text)
{
	for (size_t i = 0; i < p->n_comments; i++)
		if (strstr(sp_profile_str(p, p->comments[i]), text))
			return true;
	return false;
}

static void test_interval_profile(void **state)
{
	sp_error err = { { 0 } };
	sp_aggregator *a = new_agg(true);
	sp_raw_sample s;

	/* 3 plain samples, 2 in a span, 1 other stack, 4 truncated. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(sp_aggregator_add(a, &sample_a, "main-thr"), 0);
	s = sample_a;
	s.span.active = 1;
	for (int i = 0; i < 16; i++)
		s.span.trace_id[i] = (uint8_t)(0xa0 + i);
	for (int i = 0; i < 8; i++)
		s.span.span_id[i] = (uint8_t)(0x01 + i);
	snprintf(s.span.name, sizeof(s.span.name), "GET /x");
	for (int i = 0; i < 2; i++)
		assert_int_equal(sp_aggregator_add(a, &s, "main-thr"), 0);
	s = sample_b;
	s.tid = sample_a.tid + 1; /* a second thread: threads_sampled=2 */
	assert_int_equal(sp_aggregator_add(a, &s, "worker"), 0);
	s = sample_a;
	s.stack_len = SP_REDZONE + 16;
	for (int i = 0; i < 4; i++)
		assert_int_equal(sp_aggregator_add(a, &s, NULL), 0);
	assert_int_equal(sp_aggregator_truncated(a), 4);

	sp_telemetry t = { .engine = "test-engine", .samples_taken = 10, .samples_lost = 1,
			   .stacks_truncated = 4, .threads = 5 };
	sp_profile *p = sp_aggregator_take_profile(a, 1700000000000000000ll, 10000000000ll, &t,
						   &err);
	assert_non_null(p);
	if (sp_profile_validate(p, &err) < 0)
		fail_msg("invalid profile: %s", err.msg);

	assert_int_equal(p->n_sample_types, 2);
	assert_string_equal(sp_profile_str(p, p->sample_types[0].type), "samples");
	assert_string_equal(sp_profile_str(p, p->sample_types[1].type), "cpu");
	assert_int_equal(p->period, 10000000);
	assert_int_equal(p->time_nanos, 1700000000000000000ll);
	assert_int_equal(p->duration_nanos, 10000000000ll);
	assert_int_equal(sp_profile_total(p, 0), 10);
	assert_int_equal(sp_profile_total(p, 1), 10 * (int64_t)sample_a.weight);
	assert_int_equal(p->n_samples, 4);

	/* Labels. */
	const sp_sample *sp = find_sample(p, "span_id", "0102030405060708", NULL);
	assert_non_null(sp);
	assert_int_equal(sp->values[0], 2);
	assert_string_equal(sp_profile_sample_label(p, sp, "trace_id"),
			    "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
	assert_string_equal(sp_profile_sample_label(p, sp, "span_name"), "GET /x");
	assert_string_equal(sp_profile_sample_label(p, sp, "thread_name"), "main-thr");
	{ /* numeric thread_id, as perf and async-profiler identify threads */
		bool found = false;
		for (size_t i = 0; i < sp->n_labels; i++)
			if (!strcmp(sp_profile_str(p, sp->labels[i].key), "thread_id")) {
				assert_int_equal(sp->labels[i].num, sample_a.tid);
				assert_int_equal(sp->labels[i].str, 0);
				found = true;
			}
		assert_true(found);
	}
	assert_string_equal(leaf_function(p, sp, 0), "chain_leaf");

	const sp_sample *plain = NULL;
	for (size_t i = 0; i < p->n_samples; i++) {
		const sp_sample *x = &p->samples[i];
		const char *tn = sp_profile_sample_label(p, x, "thread_name");
		if (tn && !strcmp(tn, "main-thr") && !sp_profile_sample_label(p, x, "span_id"))
			plain = x;
	}
	assert_non_null(plain);
	assert_int_equal(plain->values[0], 3);
	assert_int_equal(plain->values[1], 3 * (int64_t)sample_a.weight);
	/* Symbolized stack, leaf first, down to main; not truncated. */
	assert_string_equal(leaf_function(p, plain, 0), "chain_leaf");
	assert_string_equal(leaf_function(p, plain, 1), "chain_b");
	assert_string_equal(leaf_function(p, plain, 2), "chain_a");
	assert_string_equal(leaf_function(p, plain, 3), "setup"); /* group setup captured it */
	bool saw_main = false;
	for (size_t i = 0; i < plain->n_locations; i++) {
		saw_main |= !strcmp(leaf_function(p, plain, i), "main");
		assert_string_not_equal(leaf_function(p, plain, i), "[truncated]");
	}
	assert_true(saw_main);

	const sp_sample *other_s = find_sample(p, "thread_name", "worker", "other_leaf");
	assert_non_null(other_s);
	assert_int_equal(other_s->values[0], 1);

	/* The truncated stack: what was unwound, then [truncated] at the root. */
	const sp_sample *tr = NULL;
	for (size_t i = 0; i < p->n_samples; i++)
		if (!strcmp(leaf_function(p, &p->samples[i], p->samples[i].n_locations - 1),
			    "[truncated]"))
			tr = &p->samples[i];
	assert_non_null(tr);
	assert_int_equal(tr->values[0], 4);
	assert_int_equal(tr->n_labels, 1);
	assert_string_equal(sp_profile_str(p, tr->labels[0].key), "thread_id");
	assert_int_equal(tr->labels[0].num, sample_a.tid);
	assert_true(tr->n_locations >= 2);
	assert_string_equal(leaf_function(p, tr, 0), "chain_leaf");
	const sp_location *tl = sp_profile_location(p, tr->location_ids[tr->n_locations - 1]);
	assert_int_equal(tl->mapping_id, 0);
	assert_int_equal(tl->address, 0);

	/* Mappings: executable segments with build-ids, the executable first;
	 * every address-bearing location points into its mapping. */
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	assert_true(n > 0);
	exe[n] = '\0';
	assert_true(p->n_mappings >= 2);
	assert_string_equal(sp_profile_str(p, p->mappings[0].filename), exe);
	assert_int_equal(strlen(sp_profile_str(p, p->mappings[0].build_id)), 40);
	for (size_t i = 0; i < p->n_locations; i++) {
		const sp_location *l = &p->locations[i];
		if (!l->address)
			continue;
		const sp_mapping *m = sp_profile_mapping(p, l->mapping_id);
		assert_non_null(m);
		assert_true(l->address >= m->memory_start && l->address < m->memory_limit);
	}
	const sp_location *leaf = sp_profile_location(p, plain->location_ids[0]);
	assert_int_equal(leaf->address, sample_a.regs[SP_REG_RIP]);
	assert_int_equal(sp_profile_mapping(p, leaf->mapping_id)->id, p->mappings[0].id);

	/* Telemetry. */
	assert_true(has_comment(p, "spanprof: engine=test-engine samples=10 lost=1 "
				   "truncated=4 (40.00%) threads_sampled=2 threads_alive=5"));
	assert_true(has_comment(p, "cut_at_max_frames=0"));
	assert_true(has_comment(p, "complete=6"));

	/* Round trip through the pprof encoder. */
	uint8_t *buf = NULL;
	size_t len = 0;
	sp_profile *back = NULL;
	assert_int_equal(sp_pprof_encode(p, 1, &buf, &len, &err), 0);
	assert_int_equal(sp_pprof_decode(buf, len, &back, &err), 0);
	assert_int_equal(sp_profile_total(back, 0), 10);
	free(buf);
	sp_profile_free(back);
	sp_profile_free(p);

	/* The interval was reset. */
	p = sp_aggregator_take_profile(a, 1700000010000000000ll, 10000000000ll, &t, &err);
	assert_non_null(p);
	assert_int_equal(sp_profile_validate(p, &err), 0);
	assert_int_equal(p->n_samples, 0);
	assert_true(has_comment(p, "truncated=0 (0.00%)"));
	sp_profile_free(p);

	/* And fills again. */
	assert_int_equal(sp_aggregator_add(a, &sample_b, "worker"), 0);
	p = sp_aggregator_take_profile(a, 0, 1, NULL, &err);
	assert_non_null(p);
	assert_int_equal(sp_profile_total(p, 0), 1);
	assert_int_equal(sp_aggregator_truncated(a), 4);
	sp_profile_free(p);
	sp_aggregator_free(a);
}

/* Many distinct stacks: the table stops growing at its cap and the rest is
 * counted in one visible bucket. */
static void test_stack_table_full(void **state)
{
	sp_error err = { { 0 } };
	sp_aggregator *a = new_agg(false);
	sp_raw_sample s;
	const int extra = 50, cap = 16384;

	memset(&s, 0, sizeof(s));
	s.count = 1;
	s.weight = 3;
	for (int i = 0; i < cap + extra; i++) {
		s.regs[SP_REG_RIP] = 0x100000000ull + 16ull * (uint64_t)i; /* no module */
		assert_int_equal(sp_aggregator_add(a, &s, "t"), 0);
	}
	sp_profile *p = sp_aggregator_take_profile(a, 0, 1, NULL, &err);
	assert_non_null(p);
	assert_int_equal(sp_profile_validate(p, &err), 0);
	assert_int_equal(sp_profile_total(p, 0), cap + extra);
	assert_int_equal(sp_profile_total(p, 1), 3 * (cap + extra));
	assert_int_equal(p->n_samples, cap + 1);
	const sp_sample *full = find_sample(p, NULL, NULL, "[stack table full]");
	assert_non_null(full);
	assert_int_equal(full->values[0], extra);
	assert_true(has_comment(p, "stack_table_full=50"));
	sp_profile_free(p);
	sp_aggregator_free(a);
}

/* Span name labels only when configured; empty names never. */
static void test_span_name_option(void **state)
{
	sp_error err = { { 0 } };
	sp_aggregator_config cfg = { .period_ns = 1000000, .symbolize = false,
				     .span_name_label = false };
	sp_aggregator *a = sp_aggregator_new(&cfg, &err);
	sp_raw_sample s = sample_b;

	assert_non_null(a);
	s.span.active = 1;
	s.span.span_id[7] = 0xff;
	snprintf(s.span.name, sizeof(s.span.name), "secret-name");
	sp_aggregator_add(a, &s, NULL);
	sp_profile *p = sp_aggregator_take_profile(a, 0, 1, NULL, &err);
	assert_non_null(p);
	assert_int_equal(p->n_samples, 1);
	assert_null(sp_profile_sample_label(p, &p->samples[0], "span_name"));
	assert_string_equal(sp_profile_sample_label(p, &p->samples[0], "span_id"),
			    "00000000000000ff");
	assert_string_equal(sp_profile_sample_label(p, &p->samples[0], "trace_id"),
			    "00000000000000000000000000000000");
	assert_int_equal(p->period, 1000000);
	sp_profile_free(p);
	sp_aggregator_free(a);

	a = new_agg(false);
	s.span.name[0] = '\0';
	sp_aggregator_add(a, &s, NULL);
	p = sp_aggregator_take_profile(a, 0, 1, NULL, &err);
	assert_null(sp_profile_sample_label(p, &p->samples[0], "span_name"));
	assert_non_null(sp_profile_sample_label(p, &p->samples[0], "span_id"));
	sp_profile_free(p);
	sp_aggregator_free(a);
}

/* Host-wide samples: kernel pcs from a callchain go leaf-side of the
 * unwound user stack, named from kallsyms; a sample without user registers
 * (a kernel thread) has only those; pid_label tags every sample. */
static void test_kernel_frames(void **state)
{
	sp_error err = { { 0 } };
	char path[] = "/tmp/test_kallsyms_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");

	(void)state;
	assert_non_null(f);
	fputs("ffffffff81000000 T entry_k\nffffffff81001000 T do_k\nffffffff81002000 t leaf_k\n", f);
	fclose(f);
	sp_kallsyms *k = sp_kallsyms_load(path, &err);
	unlink(path);
	assert_non_null(k);

	sp_aggregator_config cfg = { .period_ns = 10000000, .symbolize = true,
				     .span_name_label = true, .kallsyms = k,
				     .pid = getpid(), .pid_label = true };
	sp_aggregator *a = sp_aggregator_new(&cfg, &err);
	assert_non_null(a);
	/* leaf first, as in a perf callchain */
	const uint64_t kpcs[] = { 0xffffffff81002010ULL, 0xffffffff81001020ULL,
				  0xffffffff81000030ULL };
	assert_int_equal(sp_aggregator_add_frames(a, &sample_a, NULL, kpcs, 3), 0);
	sp_raw_sample kthread = { .kind = SP_SAMPLE_CPU, .pid = 2, .tid = 2,
				  .weight = 10000000, .count = 1 };
	assert_int_equal(sp_aggregator_add_frames(a, &kthread, NULL, kpcs + 1, 2), 0);
	sp_profile *p = sp_aggregator_take_profile(a, 0, 1, NULL, &err);
	assert_non_null(p);
	assert_int_equal(p->n_samples, 2);

	const sp_sample *user = NULL, *kernel = NULL;
	for (size_t i = 0; i < p->n_samples; i++)
		if (p->samples[i].n_locations > 2)
			user = &p->samples[i];
		else
			kernel = &p->samples[i];
	assert_non_null(user);
	assert_non_null(kernel);
	assert_string_equal(leaf_function(p, user, 0), "leaf_k");
	assert_string_equal(leaf_function(p, user, 1), "do_k");
	assert_string_equal(leaf_function(p, user, 2), "entry_k");
	assert_string_equal(leaf_function(p, user, 3), "chain_leaf");
	assert_string_equal(leaf_function(p, user, 4), "chain_b");
	assert_int_equal(kernel->n_locations, 2);
	assert_string_equal(leaf_function(p, kernel, 0), "do_k");
	assert_string_equal(leaf_function(p, kernel, 1), "entry_k");

	const sp_label *pid = NULL;
	for (size_t i = 0; i < user->n_labels; i++)
		if (!strcmp(sp_profile_str(p, user->labels[i].key), "pid"))
			pid = &user->labels[i];
	assert_non_null(pid);
	assert_int_equal(pid->num, getpid());
	assert_true(has_comment(p, "truncated=0 "));
	sp_profile_free(p);
	sp_aggregator_free(a);
	sp_kallsyms_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_interval_profile),
		cmocka_unit_test(test_stack_table_full),
		cmocka_unit_test(test_span_name_option),
		cmocka_unit_test(test_kernel_frames),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
