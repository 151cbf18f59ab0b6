/* Runtime configuration of the in-process profiler: SPANPROF_* environment
 * variables, overridden by spanprof_options fields set from code. A bad value
 * gives one line on stderr naming the variable and the default used instead;
 * it never stops the host. */
#ifndef SPANPROF_CONFIG_H
#define SPANPROF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spanprof.h"

enum sp_engine_choice {
	SP_ENGINE_AUTO = 0,  /* perf_event, timers when denied */
	SP_ENGINE_PERF = 1,  /* perf_event only; no fallback */
	SP_ENGINE_TIMER = 2, /* POSIX CPU-time timers */
};

typedef struct sp_config {
	int hz;                    /* SPANPROF_HZ, 1..10000, default 100 */
	char output_dir[4096];     /* SPANPROF_OUTPUT, default ./spanprof-out */
	char service[128];         /* SPANPROF_SERVICE / OTEL_SERVICE_NAME / exe name */
	int upload_interval_s;     /* SPANPROF_UPLOAD_INTERVAL, 1..3600, default 10 */
	size_t stack_bytes;        /* SPANPROF_STACK_BYTES, 1024..262144, default 32768 */
	size_t ring_bytes;         /* SPANPROF_RING_KB (KiB), per thread; default 128 KiB */
	enum sp_engine_choice engine; /* SPANPROF_ENGINE=auto|perf|timer */
	int64_t retention_mb;      /* SPANPROF_RETENTION_MB, 0 = no size bound, default 256 */
	int64_t retention_hours;   /* SPANPROF_RETENTION_HOURS, 0 = no age bound, default 24 */
	int flush_timeout_ms;      /* SPANPROF_FLUSH_TIMEOUT_MS, 0..60000, default 3000 */
	int signo;                 /* SPANPROF_SIGNAL, 0 = pick a free real-time signal */
	bool symbolize;            /* SPANPROF_SYMBOLIZE, default 1 */
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

/* "name" made safe for a file name: [A-Za-z0-9._-], others become '_'. */
void sp_config_sanitize_name(const char *in, char *out, size_t outlen);

#endif
