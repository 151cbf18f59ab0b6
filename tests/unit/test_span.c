/* Span slot and W3C traceparent parsing. The header table follows the W3C
 * trace-context spec and its test suite (test/test.py). */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#include "abi/span.h"
#include "spanprof.h"

struct tp_case {
	const char *header;
	int valid;
	const char *why;
};

static const struct tp_case tp_cases[] = {
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, "spec example" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", 1, "not sampled" },
	{ "  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t", 1, "OWS around value" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09", 1, "unknown flag bits kept" },
	{ "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 1, "future version" },
	{ "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like", 1,
	  "future version, extra fields ignored" },
	{ "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, "version ff forbidden" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.", 0, "v00 trailing char" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future-will-be-like", 0,
	  "v00 with extra fields" },
	{ "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.what", 0,
	  "future version, no dash after flags" },
	{ "00-00000000000000000000000000000000-00f067aa0ba902b7-01", 0, "all-zero trace id" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", 0, "all-zero span id" },
	{ "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", 0, "upper-case trace id" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", 0, "upper-case span id" },
	{ "0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, "upper-case version" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", 0, "trace id too short" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01", 0, "trace id too long" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01", 0, "span id too short" },
	{ "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", 0, "wrong delimiters" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g", 0, "non-hex flags" },
	{ "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", 0, "one-digit version" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", 0, "no flags" },
	{ "", 0, "empty" },
	{ "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ,x", 0, "junk after value" },
};

static void test_traceparent_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(tp_cases) / sizeof(tp_cases[0]); i++) {
		uint8_t tid[16], sid[8], flags = 0;
		int rc = spanprof_traceparent_parse(tp_cases[i].header, tid, sid, &flags);
		if ((rc == 0) != tp_cases[i].valid)
			fail_msg("case %zu (%s): '%s' gave %d", i, tp_cases[i].why,
				 tp_cases[i].header, rc);
	}
	assert_int_equal(spanprof_traceparent_parse(NULL, NULL, NULL, NULL), SPANPROF_EINVAL);
}

static void test_traceparent_fields(void **state)
{
	uint8_t tid[16], sid[8], flags = 0;
	sp_span_snapshot snap;
	char th[33], sh[17];

	(void)state;
	assert_int_equal(spanprof_traceparent_parse(
				 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				 tid, sid, &flags), 0);
	assert_int_equal(flags, 1);
	memcpy(snap.trace_id, tid, 16);
	memcpy(snap.span_id, sid, 8);
	sp_span_trace_hex(&snap, th);
	sp_span_id_hex(&snap, sh);
	assert_string_equal(th, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(sh, "00f067aa0ba902b7");
}

static void test_set_clear_read(void **state)
{
	sp_span_snapshot s;
	char sh[17];

	(void)state;
	spanprof_span_clear();
	assert_false(sp_span_read_current(&s));
	assert_int_equal(s.active, 0);

	assert_int_equal(spanprof_span_set_traceparent(
				 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "GET /x"), 0);
	assert_true(sp_span_read_current(&s));
	sp_span_id_hex(&s, sh);
	assert_string_equal(sh, "00f067aa0ba902b7");
	assert_string_equal(s.name, "GET /x");

	/* Invalid input leaves the slot as it was. */
	assert_int_equal(spanprof_span_set_traceparent("garbage", "other"), SPANPROF_EINVAL);
	assert_true(sp_span_read_current(&s));
	assert_string_equal(s.name, "GET /x");

	spanprof_span_clear();
	assert_false(sp_span_read_current(&s));
}

static void test_zero_ids_rejected_and_long_name_cut(void **state)
{
	uint8_t zero16[16] = { 0 }, zero8[8] = { 0 }, tid[16], sid[8];
	char longname[200];
	sp_span_snapshot s;

	(void)state;
	memset(tid, 0xab, sizeof(tid));
	memset(sid, 0xcd, sizeof(sid));
	assert_int_equal(spanprof_span_set(zero16, sid, NULL), SPANPROF_EINVAL);
	assert_int_equal(spanprof_span_set(tid, zero8, NULL), SPANPROF_EINVAL);
	assert_int_equal(spanprof_span_set(NULL, sid, NULL), SPANPROF_EINVAL);

	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(spanprof_span_set(tid, sid, longname), 0);
	assert_true(sp_span_read_current(&s));
	assert_int_equal(strlen(s.name), SP_SPAN_NAME_MAX - 1);
	spanprof_span_clear();
}

static void test_push_pop_nesting(void **state)
{
	uint8_t t1[16], s1[8], t2[16], s2[8];
	spanprof_span_ctx saved_outer, saved_inner, now;

	(void)state;
	memset(t1, 1, 16); memset(s1, 1, 8);
	memset(t2, 2, 16); memset(s2, 2, 8);
	spanprof_span_clear();
	assert_int_equal(spanprof_span_push(t1, s1, "outer", &saved_outer), 0);
	assert_int_equal(saved_outer.active, 0);
	assert_int_equal(spanprof_span_push(t2, s2, "inner", &saved_inner), 0);
	spanprof_span_get(&now);
	assert_string_equal(now.name, "inner");
	spanprof_span_pop(&saved_inner);
	spanprof_span_get(&now);
	assert_string_equal(now.name, "outer");
	assert_memory_equal(now.span_id, s1, 8);
	spanprof_span_pop(&saved_outer);
	spanprof_span_get(&now);
	assert_int_equal(now.active, 0);
}

/* A signal landing between any two instructions of a writer must see a
 * consistent (trace, span) pair: trace id bytes all equal to span id bytes. */
static volatile sig_atomic_t torn_seen, reads;

static void reader_handler(int sig)
{
	sp_span_snapshot s;

	(void)sig;
	if (sp_span_read_current(&s)) {
		reads++;
		for (int i = 0; i < 16; i++)
			if (s.trace_id[i] != s.span_id[0])
				torn_seen = 1;
		for (int i = 0; i < 8; i++)
			if (s.span_id[i] != s.span_id[0])
				torn_seen = 1;
	}
}

static void test_no_torn_reads_under_signals(void **state)
{
	struct sigaction sa = { .sa_handler = reader_handler, .sa_flags = SA_RESTART };
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGUSR1 };
	struct itimerspec its = { .it_interval = { 0, 20000 }, .it_value = { 0, 20000 } };
	struct timespec t0, now;
	timer_t timer;
	uint8_t t[16], s[8];

	(void)state;
	/* A CPU-time timer on this thread: signals land at arbitrary
	 * instructions of the writer, as the sampler's do. */
	sev._sigev_un._tid = (pid_t)gettid();
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	assert_int_equal(timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &timer), 0);
	assert_int_equal(timer_settime(timer, 0, &its, NULL), 0);
	torn_seen = 0;
	reads = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned i = 1;; i++) {
		uint8_t v = (uint8_t)(i % 255 + 1);
		memset(t, v, 16);
		memset(s, v, 8);
		spanprof_span_set(t, s, "x");
		if ((i & 1023) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			if (now.tv_sec - t0.tv_sec >= 1 && reads > 2000)
				break;
			if (now.tv_sec - t0.tv_sec >= 10)
				break;
		}
	}
	timer_delete(timer);
	spanprof_span_clear();
	signal(SIGUSR1, SIG_DFL);
	print_message("%d signals landed on a writer\n", (int)reads);
	assert_true(reads > 100);
	assert_int_equal(torn_seen, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_traceparent_table),
		cmocka_unit_test(test_traceparent_fields),
		cmocka_unit_test(test_set_clear_read),
		cmocka_unit_test(test_zero_ids_rejected_and_long_name_cut),
		cmocka_unit_test(test_push_pop_nesting),
		cmocka_unit_test(test_no_torn_reads_under_signals),
	};
	return cmocka_run_group_tests_name("span", tests, NULL, NULL);
}
