/* Capture-side units: the SPSC sample ring (wrap, padding, full -> lost,
 * concurrent producer/consumer), SPANPROF_* parsing with bounds and
 * defaults, interval file names and retention by size and age. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#include "base/config.h"
#include "sinks/output.h"
#include "proc/perfmap.h"
#include "abi/ring.h"

/* ---- ring -------------------------------------------------------------- */

static void put(sp_ring *r, uint32_t len, uint8_t fill, uint64_t tag)
{
	uint8_t *buf;
	sp_raw_sample *s = sp_ring_reserve(r, len, &buf);

	assert_non_null(s);
	memset(s, 0, sizeof(*s));
	s->time_ns = tag;
	s->stack_len = len;
	memset(buf, fill, len);
	sp_ring_commit(r);
}

static void test_ring_order_and_wrap(void **state)
{
	sp_ring *r = sp_ring_new(16384, 2000);
	uint64_t next_put = 0, next_get = 0;

	(void)state;
	assert_non_null(r);
	assert_int_equal(sp_ring_size(r), 16384);
	assert_null(sp_ring_peek(r));
	/* Odd sizes force padding records at the end many times over. */
	for (int round = 0; round < 2000; round++) {
		uint32_t len = (uint32_t)(round * 37 % 3000);
		put(r, len, (uint8_t)round, next_put++);
		if (round % 3 == 2) {
			const sp_raw_sample *s;
			while ((s = sp_ring_peek(r))) {
				assert_int_equal(s->time_ns, next_get);
				for (uint32_t i = 0; i < s->stack_len; i++)
					assert_int_equal(s->stack[i], (uint8_t)next_get);
				next_get++;
				sp_ring_pop(r);
			}
		}
	}
	assert_int_equal(sp_ring_taken(r), 2000);
	assert_int_equal(sp_ring_lost(r), 0);
	sp_ring_free(r);
}

static void test_ring_full_counts_lost(void **state)
{
	sp_ring *r = sp_ring_new(4096, 1000);
	uint8_t *buf;
	int ok = 0;

	(void)state;
	while (sp_ring_reserve(r, 1000, &buf)) {
		sp_ring_commit(r);
		ok++;
	}
	assert_true(ok >= 2);
	assert_int_equal(sp_ring_lost(r), 1);
	/* Too big for the ring at all: lost, never written. */
	assert_null(sp_ring_reserve(r, 8192, &buf));
	assert_int_equal(sp_ring_lost(r), 2);
	/* Draining makes room again. */
	while (sp_ring_peek(r))
		sp_ring_pop(r);
	assert_non_null(sp_ring_reserve(r, 1000, &buf));
	sp_ring_commit(r);
	sp_ring_free(r);
}

/* Reserve and commit n records of len stack bytes; returns how many
 * commits asked for a drain. */
static int commit_records(sp_ring *r, int n, size_t len)
{
	uint8_t *buf;
	int wakes = 0;

	for (int i = 0; i < n; i++) {
		assert_non_null(sp_ring_reserve(r, len, &buf));
		wakes += sp_ring_commit(r);
	}
	return wakes;
}

/* The producer asks for a drain once per fill-up: at the wake mark (half
 * full here), not before, not again until the consumer re-arms. */
static void test_ring_wake_mark(void **state)
{
	sp_ring *r = sp_ring_new(65536, 1024);

	(void)state;
	assert_int_equal(sp_ring_wake_mark(r), 32768);
	assert_int_equal(sp_ring_used(r), 0);
	/* Each record: 1000 stack bytes plus headers, about 1.3 KiB. */
	assert_int_equal(commit_records(r, 22, 1000), 0); /* < 32 KiB in use */
	assert_int_equal(commit_records(r, 20, 1000), 1);
	assert_true(sp_ring_used(r) > 42 * 1000 && sp_ring_used(r) <= 65536);
	/* Drained and re-armed: the next fill-up asks again. */
	while (sp_ring_peek(r))
		sp_ring_pop(r);
	assert_int_equal(sp_ring_used(r), 0);
	sp_ring_rearm(r);
	assert_int_equal(commit_records(r, 42, 1000), 1);
	/* Not re-armed: still one request outstanding, no second one. */
	while (sp_ring_peek(r))
		sp_ring_pop(r);
	assert_int_equal(commit_records(r, 42, 1000), 0);
	sp_ring_free(r);
}

/* Full-size records set the mark early: three must still fit after it. */
static void test_ring_wake_mark_big_records(void **state)
{
	sp_ring *r = sp_ring_new(131072, 32768);
	uint8_t *buf;
	int n = 0;

	(void)state;
	do {
		assert_non_null(sp_ring_reserve(r, 32768, &buf));
		n++;
	} while (!sp_ring_commit(r));
	/* 128 KiB - 3 x ~33 KiB is below a quarter: the mark is 32 KiB. */
	assert_int_equal(n, 1);
	sp_ring_free(r);
}

struct spsc {
	sp_ring *r;
	uint64_t n;
};

static void *producer(void *arg)
{
	struct spsc *p = arg;
	uint64_t i = 0;

	while (i < p->n) {
		uint8_t *buf;
		uint32_t len = (uint32_t)(i * 131 % 2000);
		sp_raw_sample *s = sp_ring_reserve(p->r, len, &buf);
		if (!s)
			continue; /* full: retry (the handler would count it lost) */
		s->time_ns = i;
		s->stack_len = len;
		memset(buf, (int)(i & 0xff), len);
		sp_ring_commit(p->r);
		i++;
	}
	return NULL;
}

static void test_ring_concurrent(void **state)
{
	struct spsc p = { sp_ring_new(32768, 2000), 200000 };
	pthread_t th;
	uint64_t got = 0;

	(void)state;
	assert_non_null(p.r);
	assert_int_equal(pthread_create(&th, NULL, producer, &p), 0);
	while (got < p.n) {
		const sp_raw_sample *s = sp_ring_peek(p.r);
		if (!s)
			continue;
		assert_int_equal(s->time_ns, got);
		assert_int_equal(s->stack_len, got * 131 % 2000);
		if (s->stack_len) {
			assert_int_equal(s->stack[0], (uint8_t)got);
			assert_int_equal(s->stack[s->stack_len - 1], (uint8_t)got);
		}
		sp_ring_pop(p.r);
		got++;
	}
	pthread_join(th, NULL);
	assert_null(sp_ring_peek(p.r));
	sp_ring_free(p.r);
}

/* ---- config ------------------------------------------------------------ */

static void test_parse_int(void **state)
{
	int64_t v = 7;

	(void)state;
	assert_int_equal(sp_config_parse_int("250", 1, 10000, &v), 0);
	assert_int_equal(v, 250);
	assert_int_equal(sp_config_parse_int("0", 1, 10000, &v), -ERANGE);
	assert_int_equal(sp_config_parse_int("99999999999999999999", 1, 10000, &v), -ERANGE);
	assert_int_equal(sp_config_parse_int("12abc", 1, 10000, &v), -EINVAL);
	assert_int_equal(sp_config_parse_int("", 1, 10000, &v), -EINVAL);
	assert_int_equal(sp_config_parse_int("-5", -10, 10, &v), 0);
	assert_int_equal(v, -5);
}

static void test_config_env(void **state)
{
	sp_config c;
	spanprof_options o = { 0 };

	(void)state;
	setenv("SPANPROF_HZ", "997", 1);
	setenv("SPANPROF_UPLOAD_INTERVAL", "nonsense", 1);
	setenv("SPANPROF_STACK_BYTES", "100", 1); /* below the bound */
	setenv("SPANPROF_ENGINE", "timer", 1);
	setenv("SPANPROF_SERVICE", "my service/1", 1);
	setenv("SPANPROF_RETENTION_MB", "0", 1);
	sp_config_load(&c, NULL);
	assert_int_equal(c.hz, 997);
	assert_int_equal(c.upload_interval_s, 10);  /* default after a bad value */
	assert_int_equal(c.stack_bytes, 32768);     /* default after out of range */
	assert_int_equal(c.engine, SP_ENGINE_TIMER);
	/* cleaned as Pyroscope wants it; file names also turn '/' into '_' */
	assert_string_equal(c.service, "my_service/1");
	assert_int_equal(c.retention_mb, 0);
	assert_int_equal(c.retention_hours, 24);
	/* The ring grows with the rate (fewer worker wake-ups): 512 KiB at ~1 kHz. */
	assert_int_equal(c.ring_bytes, 512 * 1024);

	/* Options from code win over the environment. */
	o.hz = 50;
	o.output_dir = "/tmp/x";
	o.stack_bytes = 8192;
	sp_config_load(&c, &o);
	assert_int_equal(c.hz, 50);
	assert_int_equal(c.ring_bytes, 128 * 1024);
	assert_string_equal(c.output_dir, "/tmp/x");
	assert_int_equal(c.stack_bytes, 8192);

	setenv("SPANPROF_ENGINE", "bogus", 1);
	sp_config_load(&c, NULL);
	assert_int_equal(c.engine, SP_ENGINE_AUTO);
	unsetenv("SPANPROF_HZ");
	unsetenv("SPANPROF_UPLOAD_INTERVAL");
	unsetenv("SPANPROF_STACK_BYTES");
	unsetenv("SPANPROF_ENGINE");
	unsetenv("SPANPROF_SERVICE");
	unsetenv("SPANPROF_RETENTION_MB");
}

/* SPANPROF_UPLOAD_INTERVAL / PYROSCOPE_UPLOAD_INTERVAL take units. */
static void test_upload_interval(void **state)
{
	static const struct {
		const char *s;
		int ret;
		int64_t v;
	} cases[] = {
		{ "10", 0, 10 },      { "10s", 0, 10 },     { "1m", 0, 60 },   { "1m30s", 0, 90 },
		{ " 2m ", 0, 120 },   { "1h", 0, 3600 },    { "2000ms", 0, 2 }, { "1500ms", -EINVAL, 0 },
		{ "0", -ERANGE, 0 },  { "2h", -ERANGE, 0 }, { "10x", -EINVAL, 0 }, { "s", -EINVAL, 0 },
		{ "", -EINVAL, 0 },   { "1 m", -EINVAL, 0 },
	};
	sp_config c;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = -1;
		int r = sp_config_parse_duration_s(cases[i].s, 1, 3600, &v);

		if (r != cases[i].ret || (r == 0 && v != cases[i].v))
			fail_msg("'%s': %d %lld, want %d %lld", cases[i].s, r, (long long)v,
				 cases[i].ret, (long long)cases[i].v);
	}
	setenv("PYROSCOPE_UPLOAD_INTERVAL", "15s", 1);
	sp_config_load(&c, NULL);
	assert_int_equal(c.upload_interval_s, 15);
	setenv("SPANPROF_UPLOAD_INTERVAL", "1m", 1); /* ours wins */
	sp_config_load(&c, NULL);
	assert_int_equal(c.upload_interval_s, 60);
	setenv("SPANPROF_UPLOAD_INTERVAL", "soon", 1);
	sp_config_load(&c, NULL);
	assert_int_equal(c.upload_interval_s, 10);
	unsetenv("SPANPROF_UPLOAD_INTERVAL");
	unsetenv("PYROSCOPE_UPLOAD_INTERVAL");
}

/* A relative SPANPROF_OUTPUT is resolved at start: files are written
 * later, maybe after the program did chdir("/"). */
static void test_config_relative_output(void **state)
{
	sp_config c;
	char cwd[4096], want[4200];

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	unsetenv("SPANPROF_OUTPUT");
	sp_config_load(&c, NULL);
	snprintf(want, sizeof(want), "%s/spanprof-out", cwd);
	assert_string_equal(c.output_dir, want);
	setenv("SPANPROF_OUTPUT", "rel/dir", 1);
	sp_config_load(&c, NULL);
	snprintf(want, sizeof(want), "%s/rel/dir", cwd);
	assert_string_equal(c.output_dir, want);
	unsetenv("SPANPROF_OUTPUT");
}

static void test_perfmap(void **state)
{
	char path[64];
	sp_perfmap m;
	FILE *f;
	pid_t pid = getpid();

	(void)state;
	memset(&m, 0, sizeof(m));
	snprintf(path, sizeof(path), "/tmp/perf-%d.map", (int)pid);
	f = fopen(path, "w");
	assert_non_null(f);
	/* Two entries, a malformed line, and a line still being written. */
	fprintf(f, "1000 100 LazyCompile:~fib /x.js:1\n2000 10 stub\nbogus\n3000 10 par");
	fclose(f);
	assert_int_equal(sp_perfmap_refresh(&m, pid), 0);
	assert_string_equal(sp_perfmap_find(&m, 0x1000), "LazyCompile:~fib /x.js:1");
	assert_string_equal(sp_perfmap_find(&m, 0x10ff), "LazyCompile:~fib /x.js:1");
	assert_null(sp_perfmap_find(&m, 0x1100));
	assert_string_equal(sp_perfmap_find(&m, 0x2005), "stub");
	assert_null(sp_perfmap_find(&m, 0x3005));
	/* Appended: the partial line completes, and code moved over fib's
	 * range wins over the older entry. */
	f = fopen(path, "a");
	assert_non_null(f);
	fprintf(f, "tial\n1080 20 *fib\n");
	fclose(f);
	assert_int_equal(sp_perfmap_refresh(&m, pid), 0);
	assert_string_equal(sp_perfmap_find(&m, 0x3005), "partial");
	assert_string_equal(sp_perfmap_find(&m, 0x1090), "*fib");
	assert_string_equal(sp_perfmap_find(&m, 0x1010), "LazyCompile:~fib /x.js:1");
	/* Replaced (a new file, shorter): read from the start. */
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "5000 8 only\n");
	fclose(f);
	assert_int_equal(sp_perfmap_refresh(&m, pid), 0);
	assert_null(sp_perfmap_find(&m, 0x1000));
	assert_string_equal(sp_perfmap_find(&m, 0x5007), "only");
	unlink(path);
	assert_int_not_equal(sp_perfmap_refresh(&m, pid), 0);
	sp_perfmap_free(&m);
}

static void test_sanitize(void **state)
{
	char out[16];

	(void)state;
	sp_config_sanitize_name("../etc", out, sizeof(out));
	assert_string_equal(out, ".._etc");
	sp_config_sanitize_name("..", out, sizeof(out));
	assert_string_equal(out, "process");
	sp_config_sanitize_name("", out, sizeof(out));
	assert_string_equal(out, "process");
	sp_config_sanitize_name("a-very-long-service-name", out, sizeof(out));
	assert_int_equal(strlen(out), 15);
}

/* ---- output ------------------------------------------------------------ */

static void test_interval_names(void **state)
{
	(void)state;
	assert_true(sp_output_is_interval_name("svc-12-20250101T000000Z-0001.pb.gz"));
	assert_true(sp_output_is_interval_name("my-svc-12-20250101T000000Z-0042.links.jsonl"));
	assert_false(sp_output_is_interval_name("svc-12.pb.gz"));
	assert_false(sp_output_is_interval_name("svc-12-20250101T000000Z-0001.svg"));
	assert_false(sp_output_is_interval_name("svc-x-20250101T000000Z-0001.pb.gz"));
	assert_false(sp_output_is_interval_name("-12-20250101T000000Z-0001.pb.gz"));
	assert_false(sp_output_is_interval_name("svc-12-2025010100000Z-0001.pb.gz"));
	assert_false(sp_output_is_interval_name("notes.txt"));
}

static void make_file(const char *dir, const char *name, size_t size, time_t age_s)
{
	char path[512];
	struct timespec ts[2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= age_s;
	ts[1] = ts[0];
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static bool exists(const char *dir, const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void test_retention(void **state)
{
	char dir[] = "/tmp/test_capture.XXXXXX";
	sp_output o;
	sp_error err;
	char path[4700];
	struct timespec now;
	int64_t now_ns;

	(void)state;
	assert_non_null(mkdtemp(dir));
	clock_gettime(CLOCK_REALTIME, &now);
	now_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	assert_int_equal(sp_output_init(&o, dir, "svc", 42, now_ns, 1, 2, &err), 0);
	sp_output_profile_path(&o, 7, path, sizeof(path));
	assert_non_null(strstr(path, "/svc-42-"));
	assert_non_null(strstr(path, "-0007.pb.gz"));

	/* 600 KiB each, newest last; one too old, one foreign file. */
	make_file(dir, "svc-1-20250101T000000Z-0001.pb.gz", 600 * 1024, 3 * 3600);
	make_file(dir, "svc-1-20250101T000000Z-0002.pb.gz", 600 * 1024, 600);
	make_file(dir, "svc-1-20250101T000000Z-0003.pb.gz", 600 * 1024, 300);
	make_file(dir, "svc-1-20250101T000000Z-0004.pb.gz", 600 * 1024, 10);
	make_file(dir, "keep-me.txt", 5 * 1024 * 1024, 100 * 3600);
	make_file(dir, "svc-1-20250101T000000Z-0009.pb.gz.tmp.1.0", 10, 3600);  /* stale */
	make_file(dir, "svc-1-20250101T000000Z-0010.pb.gz.tmp.1.0", 10, 5);     /* in flight */
	/* Age bound removes 0001; size bound (1 MiB) then removes 0002, 0003;
	 * the stale temp file goes, the fresh one stays. */
	assert_int_equal(sp_output_retention(&o, NULL, now_ns), 4);
	assert_false(exists(dir, "svc-1-20250101T000000Z-0009.pb.gz.tmp.1.0"));
	assert_true(exists(dir, "svc-1-20250101T000000Z-0010.pb.gz.tmp.1.0"));
	assert_false(exists(dir, "svc-1-20250101T000000Z-0001.pb.gz"));
	assert_false(exists(dir, "svc-1-20250101T000000Z-0002.pb.gz"));
	assert_false(exists(dir, "svc-1-20250101T000000Z-0003.pb.gz"));
	assert_true(exists(dir, "svc-1-20250101T000000Z-0004.pb.gz"));
	assert_true(exists(dir, "keep-me.txt"));

	/* The file just written is never removed, even when over the bound. */
	make_file(dir, "svc-1-20250101T000000Z-0005.pb.gz", 2 * 1024 * 1024, 0);
	snprintf(path, sizeof(path), "%s/svc-1-20250101T000000Z-0005.pb.gz", dir);
	assert_int_equal(sp_output_retention(&o, path, now_ns), 1);
	assert_true(exists(dir, "svc-1-20250101T000000Z-0005.pb.gz"));
	assert_false(exists(dir, "svc-1-20250101T000000Z-0004.pb.gz"));

	unlink(path);
	snprintf(path, sizeof(path), "%s/keep-me.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/svc-1-20250101T000000Z-0010.pb.gz.tmp.1.0", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_output_dir_errors(void **state)
{
	sp_output o;
	sp_error err = { "" };

	(void)state;
	assert_int_not_equal(sp_output_init(&o, "/proc/spanprof-cannot-create", "s", 1, 0, 0, 0,
					    &err), 0);
	assert_non_null(strstr(err.msg, "/proc/spanprof-cannot-create"));
	assert_non_null(strstr(err.msg, "SPANPROF_OUTPUT"));
	assert_false(o.dir_ok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_order_and_wrap),
		cmocka_unit_test(test_ring_full_counts_lost),
		cmocka_unit_test(test_ring_concurrent),
		cmocka_unit_test(test_ring_wake_mark),
		cmocka_unit_test(test_ring_wake_mark_big_records),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_config_env),
		cmocka_unit_test(test_upload_interval),
		cmocka_unit_test(test_config_relative_output),
		cmocka_unit_test(test_perfmap),
		cmocka_unit_test(test_sanitize),
		cmocka_unit_test(test_interval_names),
		cmocka_unit_test(test_retention),
		cmocka_unit_test(test_output_dir_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
