/* Runtime configuration of the in-process profiler: SPANPROF_* environment
 * variables, overridden by spanprof_options fields set from code. A bad value
 * gives one line on stderr naming the variable and the default used instead;
 * it never stops the host. */
#ifndef SPANPROF_CONFIG_H
#define SPANPROF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/env.h"
#include "spanprof.h"

enum sp_engine_choice {
	SP_ENGINE_AUTO = 0,  /* perf_event, timers when denied */
	SP_ENGINE_PERF = 1,  /* perf_event only; no fallback */
	SP_ENGINE_TIMER = 2, /* POSIX CPU-time timers */
};

typedef struct sp_config {
	int hz;                    /* SPANPROF_HZ, 1..10000, default 100 */
	char output_dir[4096];     /* SPANPROF_OUTPUT, default ./spanprof-out */
	char service[128];         /* sp_service_name(): the one service name */
	int upload_interval_s;     /* SPANPROF_UPLOAD_INTERVAL / PYROSCOPE_UPLOAD_INTERVAL, 1 s..1 h, default 10 s */
	size_t stack_bytes;        /* SPANPROF_STACK_BYTES, 1024..262144, default 32768 */
	size_t ring_bytes;         /* SPANPROF_RING_KB (KiB), per thread; default 128 KiB */
	enum sp_engine_choice engine; /* SPANPROF_ENGINE=auto|perf|timer */
	int64_t retention_mb;      /* SPANPROF_RETENTION_MB, 0 = no size bound, default 256 */
	int64_t retention_hours;   /* SPANPROF_RETENTION_HOURS, 0 = no age bound, default 24 */
	int flush_timeout_ms;      /* SPANPROF_FLUSH_TIMEOUT_MS, 0..60000, default 3000 */
	int signo;                 /* SPANPROF_SIGNAL, 0 = pick a free real-time signal */
	bool symbolize;            /* SPANPROF_SYMBOLIZE, default 1 */
	bool cpu;                  /* SPANPROF_CPU, default 1: CPU sampling */
	bool heap;                 /* SPANPROF_HEAP, default 0: allocation sampling */
	int64_t heap_rate;         /* SPANPROF_HEAP_RATE: mean bytes between samples, default 512 KiB */
	bool follow_fork;          /* SPANPROF_FOLLOW_FORK, default 1: profile fork children */
	bool log;                  /* SPANPROF_LOG=1: diagnostics on stderr */
	bool quiet;                /* SPANPROF_QUIET=1: no informational lines */
	char debug_counts[4096];   /* SPANPROF_DEBUG_COUNTS: capture counters file (tests) */
} sp_config;

/* Fill *c from the environment, then apply the non-zero fields of opts
 * (may be NULL). Never fails: bad values are reported and replaced. */
void sp_config_load(sp_config *c, const spanprof_options *opts);

/* Parse helpers, exposed for unit tests. Return 0, or -EINVAL / -ERANGE
 * leaving *out unchanged. */
int sp_config_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);
int sp_config_parse_bool(const char *s, bool *out);
/* A byte count: digits with an optional K, M or G suffix (powers of 1024,
 * "KiB"/"KB" alike). */
int sp_config_parse_bytes(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* A duration in whole seconds: a bare number (seconds) or number+unit
 * terms, ms, s, m, h, e.g. "10s", "1m", "1m30s", "1500ms" is refused (not
 * whole seconds). Bounds in seconds. */
int sp_config_parse_duration_s(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* The service name. One resolution for interval files, links files and
 * Pyroscope alike, first match wins:
 *   explicit (spanprof_options.service) > SPANPROF_SERVICE >
 *   PYROSCOPE_APPLICATION_NAME > OTEL_SERVICE_NAME > service.name in
 *   OTEL_RESOURCE_ATTRIBUTES > fallback > the executable's name
 * (/proc/self/exe: after exec, the new program's). The result is cleaned to
 * what Pyroscope accepts ([A-Za-z0-9_./-], others become '_'); *changed
 * (may be NULL) says whether that altered it. get NULL: the process
 * environment. Returns what it came from, for messages ("OTEL_SERVICE_NAME",
 * "the executable name", ...). */
const char *sp_service_name(sp_getenv_fn get, void *ctx, const char *explicit_name,
			    const char *fallback, char *out, size_t outlen, bool *changed);

/* OTEL_RESOURCE_ATTRIBUTES value (k=v,k=v, values percent-encoded): the
 * decoded value of key, malloc'd, or NULL when absent (or out of memory). */
char *sp_config_otel_attr(const char *attrs, const char *key);

/* Basename of /proc/self/exe (program_invocation_short_name if unreadable). */
void sp_config_exe_name(char *out, size_t outlen);

/* "name" made safe for a file name: [A-Za-z0-9._-], others become '_'. */
void sp_config_sanitize_name(const char *in, char *out, size_t outlen);

/* The server's label value limit (Pyroscope API 1.3). */
#define SP_PYRO_MAX_LABEL_VALUE 2048

/* Service name: trim blanks, replace every byte outside [A-Za-z0-9_./-] with
 * '_', cut at the label value limit. Returns a malloc'd string (NULL when
 * nothing is left or out of memory); *changed says whether it differs.
 * In config.c, not pyroscope_config.c: the capture layer resolves the service
 * name too and must not link (or include) the Pyroscope exporter. */
char *sp_pyroscope_sanitize_service(const char *in, bool *changed);

#endif
