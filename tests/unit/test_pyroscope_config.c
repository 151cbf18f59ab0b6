/* Pyroscope exporter configuration: environment parsing, sanitising and
 * refusals by the server's rules, name and query building, secrets. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/config.h"
#include "sinks/pyroscope_config.h"

/* A fake environment: NULL-terminated name/value pairs. */
struct fake_env {
	const char *kv[64];
};

static const char *fake_get(void *ctx, const char *name)
{
	struct fake_env *e = ctx;

	for (int i = 0; e->kv[i]; i += 2)
		if (!strcmp(e->kv[i], name))
			return e->kv[i + 1];
	return NULL;
}

struct warns {
	int n;
	char last[512];
	char all[4096];
};

static void collect(void *ctx, const char *line)
{
	struct warns *w = ctx;

	w->n++;
	snprintf(w->last, sizeof(w->last), "%s", line);
	strncat(w->all, line, sizeof(w->all) - strlen(w->all) - 2);
	strcat(w->all, "\n");
}

static int load(struct fake_env *e, sp_pyroscope_config *cfg, struct warns *w, sp_error *err)
{
	memset(w, 0, sizeof(*w));
	memset(err, 0, sizeof(*err));
	return sp_pyroscope_config_from_env(cfg, fake_get, e, NULL, collect, w, err);
}

static void test_no_server(void **state)
{
	struct fake_env e = { { "PYROSCOPE_APPLICATION_NAME", "x", NULL } };
	struct fake_env blank = { { "PYROSCOPE_SERVER_ADDRESS", "  ", NULL } };
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;

	assert_int_equal(load(&e, &cfg, &w, &err), 1);
	assert_string_equal(err.msg, "");
	assert_int_equal(load(&blank, &cfg, &w, &err), 1);
	sp_pyroscope_config_free(&cfg);
}

static void test_full_config(void **state)
{
	struct fake_env e = { {
		"PYROSCOPE_SERVER_ADDRESS", " https://pyro.example.com:4443/base/ ",
		"PYROSCOPE_APPLICATION_NAME", "checkout",
		"OTEL_SERVICE_NAME", "ignored",
		"PYROSCOPE_TAGS", "env=prod, region = eu-west ,k=a=b,",
		"PYROSCOPE_BASIC_AUTH_USER", "123456",
		"PYROSCOPE_BASIC_AUTH_PASSWORD", "s3cret",
		"PYROSCOPE_TENANT_ID", "team-a",
		"PYROSCOPE_HTTP_HEADERS", "{\"X-Extra\": \"one\", \"X-Two\":\"t\\u00e9\"}",
		"SPANPROF_PYROSCOPE_HOSTNAME_TAG", "0",
		"OTEL_RESOURCE_ATTRIBUTES", "service.name=x,service.namespace=shop%2Fprod",
		"SPANPROF_PYROSCOPE_TIMEOUT_MS", "2500",
		"SPANPROF_PYROSCOPE_QUEUE_MAX", "8",
		NULL } };
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;

	assert_int_equal(load(&e, &cfg, &w, &err), 0);
	assert_string_equal(cfg.server, "https://pyro.example.com:4443/base");
	assert_string_equal(cfg.app, "checkout");
	assert_string_equal(cfg.name,
			    "checkout{env=prod,region=eu-west,k=a=b,service_namespace=shop/prod}");
	assert_int_equal(cfg.n_labels, 4);
	assert_string_equal(cfg.basic_user, "123456");
	assert_string_equal(cfg.basic_password, "s3cret");
	assert_string_equal(cfg.tenant_id, "team-a");
	assert_int_equal(cfg.n_headers, 2);
	assert_string_equal(cfg.headers[0].name, "X-Extra");
	assert_string_equal(cfg.headers[1].value, "t\xc3\xa9");
	assert_int_equal(cfg.timeout_ms, 2500);
	assert_int_equal(cfg.queue_max, 8);
	assert_false(cfg.insecure);
	assert_true(cfg.span_name); /* root span names: few values */
	assert_int_equal(cfg.trace_id, SP_PYRO_TRACE_ID_AUTO);
	assert_int_equal(w.n, 0);
	sp_pyroscope_config_free(&cfg);
}

/* One order for files, links and Pyroscope (sp_service_name): SPANPROF_SERVICE
 * > PYROSCOPE_APPLICATION_NAME > OTEL_SERVICE_NAME > service.name in
 * OTEL_RESOURCE_ATTRIBUTES > the executable name; a name given by the
 * caller (the profiler's own) is used as it is. */
static void test_service_name_sources(void **state)
{
	static const struct {
		const char *kv[8];
		const char *want;
	} cases[] = {
		{ { "SPANPROF_SERVICE", "sp", "PYROSCOPE_APPLICATION_NAME", "pa", "OTEL_SERVICE_NAME",
		    "otel", "OTEL_RESOURCE_ATTRIBUTES", "service.name=attr" }, "sp" },
		{ { "PYROSCOPE_APPLICATION_NAME", "pa", "OTEL_SERVICE_NAME", "otel",
		    "OTEL_RESOURCE_ATTRIBUTES", "service.name=attr" }, "pa" },
		{ { "OTEL_SERVICE_NAME", "otel", "OTEL_RESOURCE_ATTRIBUTES", "service.name=attr" },
		  "otel" },
		{ { "OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=prod, service.name = billing%2Fapi ,x=y" },
		  "billing/api" },
		{ { "SPANPROF_SERVICE", "  ", "OTEL_SERVICE_NAME", "otel" }, "otel" },
		{ { NULL }, "test_pyroscope_config" },
	};
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;
	char name[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040", NULL } };

		memcpy(&e.kv[2], cases[i].kv, sizeof(cases[i].kv));
		assert_int_equal(load(&e, &cfg, &w, &err), 0);
		if (strcmp(cfg.app, cases[i].want))
			fail_msg("case %zu: app '%s', want '%s'", i, cfg.app, cases[i].want);
		/* the profiler's resolver agrees */
		sp_service_name(fake_get, &e, NULL, NULL, name, sizeof(name), NULL);
		assert_string_equal(name, cases[i].want);
		assert_int_equal(w.n, 0);
		sp_pyroscope_config_free(&cfg);
	}

	/* The caller's name wins: the profiler passes the one it uses. */
	{
		struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040",
					"OTEL_SERVICE_NAME", "otel", NULL } };

		memset(&w, 0, sizeof(w));
		assert_int_equal(sp_pyroscope_config_from_env(&cfg, fake_get, &e, "mine", collect, &w,
							      &err), 0);
		assert_string_equal(cfg.app, "mine");
		assert_non_null(strstr(cfg.name, "mine{hostname="));
		sp_pyroscope_config_free(&cfg);
		assert_string_equal(sp_service_name(fake_get, &e, "mine", NULL, name, sizeof(name),
						    NULL), "spanprof_options.service");
		assert_string_equal(sp_service_name(fake_get, &e, NULL, NULL, name, sizeof(name),
						    NULL), "OTEL_SERVICE_NAME");
	}

	/* Characters the server refuses are replaced, with one warning. */
	{
		struct fake_env bad = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040",
					  "PYROSCOPE_APPLICATION_NAME", " my app:v1 ", NULL } };
		bool changed = false;

		assert_int_equal(load(&bad, &cfg, &w, &err), 0);
		assert_string_equal(cfg.app, "my_app_v1");
		assert_int_equal(w.n, 1);
		assert_non_null(strstr(w.last, "my_app_v1"));
		sp_pyroscope_config_free(&cfg);
		sp_service_name(fake_get, &bad, NULL, NULL, name, sizeof(name), &changed);
		assert_true(changed);
	}
}

/* The server's version from /api/v1/status/buildinfo decides trace_id. */
static void test_buildinfo_version(void **state)
{
	int a = -1, b = -1, c = -1;

	assert_true(sp_pyroscope_parse_buildinfo(
		"{\"status\":\"success\",\"data\":{\"version\":\"2.1.0\",\"revision\":\"ab\"}}",
		&a, &b, &c));
	assert_int_equal(a * 10000 + b * 100 + c, 20100);
	assert_true(sp_pyroscope_version_keeps_trace_id(a, b, c));
	assert_true(sp_pyroscope_parse_buildinfo("{\"data\": {\"version\" : \"v1.13.4\"}}", &a, &b, &c));
	assert_int_equal(a * 10000 + b * 100 + c, 11304);
	assert_false(sp_pyroscope_version_keeps_trace_id(a, b, c));
	assert_true(sp_pyroscope_parse_buildinfo("{\"version\":\"2.2.0-rc.1\"}", &a, &b, &c));
	assert_true(sp_pyroscope_version_keeps_trace_id(a, b, c));
	/* #5220 is not in the 2.0 branch: 2.0.3 .. 2.0.6 still promote it */
	assert_false(sp_pyroscope_version_keeps_trace_id(2, 0, 3));
	assert_false(sp_pyroscope_version_keeps_trace_id(2, 0, 6));
	assert_true(sp_pyroscope_version_keeps_trace_id(3, 0, 0));
	/* development builds, other JSON, garbage: unknown */
	assert_false(sp_pyroscope_parse_buildinfo("{\"version\":\"main-1a2b3c4\"}", &a, &b, &c));
	assert_false(sp_pyroscope_parse_buildinfo("{\"version\":\"2.1\"}", &a, &b, &c));
	assert_false(sp_pyroscope_parse_buildinfo("{\"version\":\"2.1.0x\"}", &a, &b, &c));
	assert_false(sp_pyroscope_parse_buildinfo("<html>404</html>", &a, &b, &c));
	assert_false(sp_pyroscope_parse_buildinfo("", &a, &b, &c));
	assert_false(sp_pyroscope_parse_buildinfo(NULL, &a, &b, &c));
}

static void test_trace_id_setting(void **state)
{
	static const struct {
		const char *value;
		int want;
	} cases[] = { { NULL, SP_PYRO_TRACE_ID_AUTO }, { "1", SP_PYRO_TRACE_ID_ALWAYS },
		      { "0", SP_PYRO_TRACE_ID_NEVER },   { "auto", SP_PYRO_TRACE_ID_AUTO },
		      { "maybe", SP_PYRO_TRACE_ID_AUTO } };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040",
					cases[i].value ? "SPANPROF_PYROSCOPE_TRACE_ID" : NULL,
					cases[i].value, NULL } };
		sp_pyroscope_config cfg;
		struct warns w;
		sp_error err;

		assert_int_equal(load(&e, &cfg, &w, &err), 0);
		assert_int_equal(cfg.trace_id, cases[i].want);
		assert_int_equal(w.n, cases[i].value && !strcmp(cases[i].value, "maybe") ? 1 : 0);
		sp_pyroscope_config_free(&cfg);
	}
}

/* Every refusal: one message that names the variable. */
static void test_refusals(void **state)
{
	static const struct {
		const char *var, *value, *expect;
	} cases[] = {
		{ "PYROSCOPE_SERVER_ADDRESS", "pyro:4040", "has no scheme" },
		{ "PYROSCOPE_SERVER_ADDRESS", "ftp://pyro:4040", "unknown scheme 'ftp'" },
		{ "PYROSCOPE_SERVER_ADDRESS", "http://", "PYROSCOPE_SERVER_ADDRESS" },
		{ "PYROSCOPE_SERVER_ADDRESS", "http://h:99999", "not a valid URL" },
		{ "PYROSCOPE_SERVER_ADDRESS", "http://h:4040/?x=1", "query or fragment" },
		{ "PYROSCOPE_SERVER_ADDRESS", "http://h a:4040", "spaces" },
		{ "PYROSCOPE_TENANT_ID", "a b", "PYROSCOPE_TENANT_ID" },
		{ "PYROSCOPE_TENANT_ID", "..", "PYROSCOPE_TENANT_ID" },
		{ "PYROSCOPE_HTTP_HEADERS", "{\"X\": 1}", "not a JSON object of strings" },
		{ "PYROSCOPE_HTTP_HEADERS", "Bad Name=1", "not a valid header name" },
		{ "PYROSCOPE_HTTP_HEADERS", "novalue", "is not Name=value" },
		{ "SPANPROF_PYROSCOPE_CA_FILE", "/nonexistent/ca.pem", "SPANPROF_PYROSCOPE_CA_FILE" },
		{ "PYROSCOPE_BASIC_AUTH_PASSWORD", "pw-only", "without PYROSCOPE_BASIC_AUTH_USER" },
		{ "PYROSCOPE_AUTH_TOKEN", "tok\r\nX-Injected: 1", "control characters" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040", NULL } };
		sp_pyroscope_config cfg;
		struct warns w;
		sp_error err;
		int ret;

		if (!strcmp(cases[i].var, "PYROSCOPE_SERVER_ADDRESS")) {
			e.kv[1] = cases[i].value;
		} else {
			e.kv[2] = cases[i].var;
			e.kv[3] = cases[i].value;
		}
		ret = load(&e, &cfg, &w, &err);
		if (ret != -EINVAL || !strstr(err.msg, cases[i].expect) || strchr(err.msg, '\n'))
			fail_msg("%s=%s: ret %d, message \"%s\" (want \"%s\")", cases[i].var,
				 cases[i].value, ret, err.msg, cases[i].expect);
		assert_null(cfg.server); /* freed on failure */
	}
}

/* A bad tag is dropped with one line; the others and the upload stay. */
static void test_tags_dropped(void **state)
{
	static const struct {
		const char *tags, *expect;
	} cases[] = {
		{ "env", "'env' is not key=value" },
		{ "=prod", "empty key" },
		{ "bad-key=v", "key 'bad-key'" },
		{ "__name__=v", "reserved" },
		{ "k=a}b", "without ',' or '}'" },
		{ "k=\xff", "valid UTF-8" },
		{ "ok=2", "'ok' is given twice" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char tags[128];
		struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040", "PYROSCOPE_TAGS",
					tags, "SPANPROF_PYROSCOPE_HOSTNAME_TAG", "0", NULL } };
		sp_pyroscope_config cfg;
		struct warns w;
		sp_error err;

		snprintf(tags, sizeof(tags), "ok=1,%s,last=3", cases[i].tags);
		assert_int_equal(load(&e, &cfg, &w, &err), 0);
		if (w.n != 1 || !strstr(w.last, cases[i].expect) || !strstr(w.last, "PYROSCOPE_TAGS"))
			fail_msg("%s: %d warnings, last \"%s\" (want \"%s\")", tags, w.n, w.last,
				 cases[i].expect);
		assert_string_equal(cfg.name, "test_pyroscope_config{ok=1,last=3}");
		assert_int_equal(cfg.n_labels, 2);
		sp_pyroscope_config_free(&cfg);
	}
}

/* PYROSCOPE_LABELS (the Java/.NET name) adds to PYROSCOPE_TAGS; a
 * service_name label is what the server files the profile under, so the
 * links query it too. */
static void test_labels_and_service_name(void **state)
{
	struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040",
				"PYROSCOPE_APPLICATION_NAME", "app", "PYROSCOPE_TAGS", "env=prod",
				"PYROSCOPE_LABELS", "region=eu, env=dev,service_name=billing",
				"SPANPROF_PYROSCOPE_HOSTNAME_TAG", "0", NULL } };
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;

	assert_int_equal(load(&e, &cfg, &w, &err), 0);
	assert_string_equal(cfg.name, "billing{env=prod,region=eu,service_name=billing}");
	assert_string_equal(cfg.app, "billing");
	assert_int_equal(w.n, 1);
	assert_non_null(strstr(w.last, "PYROSCOPE_LABELS: key 'env' is given twice"));
	sp_pyroscope_config_free(&cfg);
}

static void test_too_many_labels(void **state)
{
	char tags[1024] = "";
	struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040", "PYROSCOPE_TAGS", tags,
				"SPANPROF_PYROSCOPE_HOSTNAME_TAG", "0", NULL } };
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;

	/* 30 label names per series, 4 taken by the server and span_name by
	 * default: 25 tags fit. */
	for (int i = 0; i < 25; i++)
		snprintf(tags + strlen(tags), sizeof(tags) - strlen(tags), "%sk%d=v", i ? "," : "", i);
	assert_int_equal(load(&e, &cfg, &w, &err), 0);
	sp_pyroscope_config_free(&cfg);
	strcat(tags, ",k25=v");
	assert_int_equal(load(&e, &cfg, &w, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "26 labels"));
}

static void test_bad_numbers_keep_defaults(void **state)
{
	struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040",
				"SPANPROF_PYROSCOPE_TIMEOUT_MS", "fast",
				"SPANPROF_PYROSCOPE_QUEUE_MAX", "1",
				"SPANPROF_PYROSCOPE_INSECURE", "maybe",
				"SPANPROF_PYROSCOPE_MAX_SAMPLES", "20000", NULL } };
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;

	assert_int_equal(load(&e, &cfg, &w, &err), 0);
	assert_int_equal(cfg.timeout_ms, SP_PYRO_DEF_TIMEOUT_MS);
	assert_int_equal(cfg.queue_max, SP_PYRO_DEF_QUEUE_MAX);
	assert_int_equal(cfg.max_samples, 16000);
	assert_false(cfg.insecure);
	assert_int_equal(w.n, 4);
	assert_non_null(strstr(w.all, "SPANPROF_PYROSCOPE_TIMEOUT_MS='fast'"));
	sp_pyroscope_config_free(&cfg);
}

static void test_secrets_never_in_messages(void **state)
{
	struct fake_env e = { { "PYROSCOPE_SERVER_ADDRESS", "http://alice:hunter2@h:4040",
				"PYROSCOPE_AUTH_TOKEN", "tok-SECRET", NULL } };
	struct fake_env bad = { { "PYROSCOPE_SERVER_ADDRESS", "ftp://alice:hunter2@h:4040", NULL } };
	struct fake_env noscheme = { { "PYROSCOPE_SERVER_ADDRESS", "alice:hunter2@h:4040", NULL } };
	struct fake_env hdr = { { "PYROSCOPE_SERVER_ADDRESS", "http://h:4040",
				  "PYROSCOPE_HTTP_HEADERS", "X-Api-Key=abc\x01SECRET", NULL } };
	sp_pyroscope_config cfg;
	struct warns w;
	sp_error err;

	/* User info moves out of the URL into basic auth (and wins over the
	 * token, with a warning that does not show either). */
	assert_int_equal(load(&e, &cfg, &w, &err), 0);
	assert_string_equal(cfg.server, "http://h:4040");
	assert_string_equal(cfg.basic_user, "alice");
	assert_string_equal(cfg.basic_password, "hunter2");
	assert_null(cfg.bearer_token);
	assert_int_equal(w.n, 1);
	assert_null(strstr(w.all, "hunter2"));
	assert_null(strstr(w.all, "SECRET"));
	sp_pyroscope_config_free(&cfg);

	assert_int_equal(load(&bad, &cfg, &w, &err), -EINVAL);
	assert_null(strstr(err.msg, "hunter2"));
	assert_non_null(strstr(err.msg, "ftp://***@h:4040"));
	assert_int_equal(load(&noscheme, &cfg, &w, &err), -EINVAL);
	assert_null(strstr(err.msg, "hunter2"));
	assert_int_equal(load(&hdr, &cfg, &w, &err), -EINVAL);
	assert_null(strstr(err.msg, "SECRET"));
	assert_non_null(strstr(err.msg, "X-Api-Key"));
}

static void test_redact(void **state)
{
	char out[128];

	sp_pyroscope_redact_url("https://u:p@ss@host/x", out, sizeof(out));
	assert_string_equal(out, "https://***@host/x");
	sp_pyroscope_redact_url("https://host/x@y", out, sizeof(out));
	assert_string_equal(out, "https://host/x@y");
}

static void test_sanitize_and_checks(void **state)
{
	bool changed;
	char *s = sp_pyroscope_sanitize_service("  svc/api.v2-x_y  ", &changed);

	assert_string_equal(s, "svc/api.v2-x_y");
	assert_false(changed);
	free(s);
	s = sp_pyroscope_sanitize_service("caf\xc3\xa9 {x}", &changed);
	assert_string_equal(s, "caf____x_"); /* one '_' per refused byte */
	assert_true(changed);
	free(s);
	assert_null(sp_pyroscope_sanitize_service("   ", &changed));

	assert_true(sp_pyroscope_valid_key("otel.scope.name", 15));
	assert_false(sp_pyroscope_valid_key("a-b", 3));
	assert_false(sp_pyroscope_valid_key("", 0));
	assert_true(sp_pyroscope_valid_value("a=b{c", 5));
	assert_false(sp_pyroscope_valid_value("a,b", 3));
	assert_false(sp_pyroscope_valid_value("a}b", 3));
	assert_false(sp_pyroscope_valid_utf8("\xc0\xaf", 2)); /* overlong */
	assert_false(sp_pyroscope_valid_utf8("\xed\xa0\x80", 3)); /* surrogate */
	assert_true(sp_pyroscope_valid_utf8("\xf0\x9f\x94\xa5", 4));
	assert_true(sp_pyroscope_valid_tenant("team-a_1.(x)*'!"));
	assert_false(sp_pyroscope_valid_tenant("."));
	assert_false(sp_pyroscope_valid_tenant("a|b"));
}

static void test_query(void **state)
{
	char *q = sp_pyroscope_build_query("checkout{env=prod,host=node-1}", 1767225600123456789LL,
					   1767225615000000001LL, 100);

	assert_string_equal(q, "name=checkout%7Benv%3Dprod%2Chost%3Dnode-1%7D&from=1767225600"
			       "&until=1767225616&format=pprof&spyName=spanprof&sampleRate=100");
	free(q);
	q = sp_pyroscope_build_query("a b+c;d", 10LL * 1000000000, 10LL * 1000000000, 0);
	assert_string_equal(q, "name=a%20b%2Bc%3Bd&from=10&until=10&format=pprof&spyName=spanprof");
	free(q);
}

static void test_headers_kv(void **state)
{
	sp_pyroscope_header *h = NULL;
	size_t n = 0;
	sp_error err;

	assert_int_equal(sp_pyroscope_parse_headers("X-A=1, X-B: two words ,X-C=", &h, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(h[1].name, "X-B");
	assert_string_equal(h[1].value, "two words");
	assert_string_equal(h[2].value, "");
	for (size_t i = 0; i < n; i++) {
		free(h[i].name);
		free(h[i].value);
	}
	free(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_service_name_sources),
		cmocka_unit_test(test_buildinfo_version),
		cmocka_unit_test(test_tags_dropped),
		cmocka_unit_test(test_labels_and_service_name),
		cmocka_unit_test(test_trace_id_setting),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_too_many_labels),
		cmocka_unit_test(test_bad_numbers_keep_defaults),
		cmocka_unit_test(test_secrets_never_in_messages),
		cmocka_unit_test(test_redact),
		cmocka_unit_test(test_sanitize_and_checks),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_headers_kv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
