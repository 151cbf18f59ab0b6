/* Pyroscope exporter configuration: read from the environment once, checked
 * against the server's rules (shared/reference/pyroscope-api.md, 1.2-1.3, 1.9)
 * so that nothing is ever sent that the server would refuse for its name,
 * labels or headers. Pure functions, no I/O except gethostname and access(). */
#ifndef SPANPROF_PYROSCOPE_CONFIG_H
#define SPANPROF_PYROSCOPE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/env.h"
#include "base/error.h"
#include "base/log.h" /* sp_log_sink: one line without the trailing newline */


typedef struct sp_pyroscope_header {
	char *name;
	char *value;
} sp_pyroscope_header;

/* Label limits from the server (1.3): at most 30 label names per series, of
 * which __name__, service_name, pyroscope_spy and __delta__ are always used. */
#define SP_PYRO_MAX_SERIES_LABELS 30
#define SP_PYRO_BASE_LABELS 4
#define SP_PYRO_MAX_LABEL_NAME 1024
/* SP_PYRO_MAX_LABEL_VALUE: in config.h, with the service name sanitiser. */

typedef struct sp_pyroscope_config {
	char *server;     /* scheme://host[:port][/path], no userinfo, no trailing '/' */
	char *app;        /* service name as sent (sanitised) */
	char *name;       /* the full `name` parameter: app{k=v,...}, not URL-encoded */
	size_t n_labels;  /* labels inside the braces */
	char *basic_user, *basic_password; /* secrets: never logged */
	char *bearer_token;
	char *tenant_id;
	sp_pyroscope_header *headers; /* extra headers, applied last */
	size_t n_headers;
	char *ca_file;
	bool insecure;
	bool span_name;   /* keep span_name sample labels (series labels; default on) */
	bool thread_name; /* keep thread_name sample labels (likewise; default off) */
	int trace_id;     /* SP_PYRO_TRACE_ID_*: when to send trace_id sample labels */
	long connect_timeout_ms, timeout_ms;
	size_t queue_max, queue_max_bytes;
	long retry_base_ms, retry_max_ms;
	long max_age_s;   /* older profiles are outside the server's window: drop */
	size_t max_samples, max_profile_bytes;
	int gzip_level;
	char *spill_dir;
	size_t spill_max_bytes;
	double rate_bytes, burst_bytes; /* client-side pacing; rate 0 = off */

	sp_log_sink log; /* NULL: stderr */
	void *log_ctx;
} sp_pyroscope_config;

/* trace_id sample labels: a server before v2.1.0 makes every sample label
 * but span_id a series label, so each trace would become its own series. */
enum {
	SP_PYRO_TRACE_ID_NEVER = 0,
	SP_PYRO_TRACE_ID_ALWAYS = 1,
	SP_PYRO_TRACE_ID_AUTO = 2, /* only once the server says it is >= 2.1.0 */
};

/* Defaults (also the README table). */
#define SP_PYRO_DEF_TIMEOUT_MS 10000
#define SP_PYRO_DEF_CONNECT_TIMEOUT_MS 3000
#define SP_PYRO_DEF_QUEUE_MAX 64
#define SP_PYRO_DEF_QUEUE_BYTES (16u << 20)
#define SP_PYRO_DEF_RETRY_BASE_MS 1000
#define SP_PYRO_DEF_RETRY_MAX_MS 30000
#define SP_PYRO_DEF_MAX_AGE_S 3300 /* server rejects time_nanos older than 1 h */
#define SP_PYRO_DEF_MAX_SAMPLES 16000
#define SP_PYRO_DEF_MAX_PROFILE_BYTES (1536u << 10) /* 2 MiB burst minus margin */
#define SP_PYRO_DEF_GZIP_LEVEL 1 /* 10k stacks: 17 ms vs 35 ms at 6, 8% bigger */
#define SP_PYRO_DEF_SPILL_MAX_BYTES (64u << 20)
#define SP_PYRO_DEF_RATE_BYTES (4u << 20)  /* server: ingestion_rate_mb */
#define SP_PYRO_DEF_BURST_BYTES (2u << 20) /* server: ingestion_burst_size_mb */

/* Fill defaults (no server; everything else usable by tests). */
void sp_pyroscope_config_defaults(sp_pyroscope_config *cfg);

/* Read everything from the environment. Returns 0 when a server is
 * configured, 1 when PYROSCOPE_SERVER_ADDRESS is unset or empty (cfg left
 * with defaults), or -EINVAL with one line in err naming the variable and
 * what to do. Bad numbers and booleans are not fatal: they are reported
 * through warn and the default is kept. Secrets never appear in messages.
 * service: the service name already resolved by sp_service_name (the
 * profiler passes its own, so files, links and Pyroscope agree), or NULL to
 * resolve it here from the same environment. */
int sp_pyroscope_config_from_env(sp_pyroscope_config *cfg, sp_getenv_fn getenv_fn,
				 void *env_ctx, const char *service,
				 sp_log_sink warn, void *warn_ctx, sp_error *err);

void sp_pyroscope_config_free(sp_pyroscope_config *cfg);

/* ---- building blocks (exposed for the unit tests) ----------------------- */

/* Server address: http:// or https:// only, host required, no query or
 * fragment. User info moves to *user / *password (malloc'd, may stay NULL). */
int sp_pyroscope_parse_server(const char *url, char **base, char **user, char **password,
			      sp_error *err);

/* Copy `url` into out with any user:password@ replaced by "***@". */
void sp_pyroscope_redact_url(const char *url, char *out, size_t outlen);

/* sp_pyroscope_sanitize_service: in config.h (the capture layer uses it). */

/* Label key / value checks by the server's rules. */
bool sp_pyroscope_valid_key(const char *key, size_t len);
bool sp_pyroscope_valid_value(const char *value, size_t len);
bool sp_pyroscope_valid_utf8(const char *s, size_t len);

/* Parse `k=v,k=v` (PYROSCOPE_TAGS, PYROSCOPE_LABELS): appends "k=v" pairs to
 * *out as "k=v,k=v" (trimmed), counting them in *n. A pair the server would
 * refuse (bad syntax or key, reserved key, a value with ',' or '}': the
 * server has no escaping) or a repeated key is dropped with one line through
 * warn (NULL: the logger) naming `what`; the rest are kept. service_name is
 * allowed: the server files the profile under it. 0 or -ENOMEM. */
int sp_pyroscope_parse_tags(const char *tags, const char *what, char **out, size_t *n,
			    sp_log_sink warn, void *warn_ctx, sp_error *err);

/* Extra headers: a JSON object of strings, or `Name=Value,Name: Value`. */
int sp_pyroscope_parse_headers(const char *s, sp_pyroscope_header **out, size_t *n,
			       sp_error *err);

/* Percent-encode everything but RFC 3986 unreserved bytes. malloc'd. */
char *sp_pyroscope_urlencode(const char *s);

/* The query string after "/ingest?": name, from, until (seconds), format,
 * spyName and, when sample_rate > 0, sampleRate. malloc'd. */
char *sp_pyroscope_build_query(const char *name, int64_t from_ns, int64_t until_ns,
			       long sample_rate);

/* The server version in the JSON of GET /api/v1/status/buildinfo
 * ({"status":"success","data":{"version":"2.1.0",...}}). True when it is a
 * release number [v]MAJOR.MINOR.PATCH (a pre-release suffix is allowed);
 * development builds ("main-1a2b3c4") are unknown. */
bool sp_pyroscope_parse_buildinfo(const char *json, int *major, int *minor, int *patch);

/* Does a server of this version keep trace_id a sample label rather than a
 * series label? From v2.1.0 on (grafana/pyroscope #5220; v2.0.3-v2.0.6 do
 * not have it). */
bool sp_pyroscope_version_keeps_trace_id(int major, int minor, int patch);

/* dskit's tenant id rule: 1-150 bytes of [A-Za-z0-9!-_.*'()], not "." or "..". */
bool sp_pyroscope_valid_tenant(const char *id);

#endif
