/* Upload interval profiles to Grafana Pyroscope (POST /ingest, format=pprof)
 * from a dedicated thread with a bounded queue, retries and a flush deadline.
 * Enqueueing never blocks the caller on the network. */
#ifndef SPANPROF_EXPORT_PYROSCOPE_H
#define SPANPROF_EXPORT_PYROSCOPE_H

#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"
#include "sinks/pyroscope_config.h"

typedef struct sp_pyroscope sp_pyroscope;

/* Counters since start. A "profile" here is one request body: a profile
 * over the server's limits is split into several (counted in `split`). */
typedef struct sp_pyroscope_stats {
	uint64_t sent, retried, dropped, failed, bytes_sent, queued;
	uint64_t queued_bytes;      /* bodies held in memory now */
	uint64_t peak_queued_bytes; /* high-water mark of queued_bytes */
	uint64_t spilled;           /* written to the spill directory */
	uint64_t spill_pending;     /* on disk, not yet sent */
	uint64_t requests;          /* HTTP attempts, successful or not */
	uint64_t wire_bytes;        /* request bytes sent (headers + bodies) */
	uint64_t split;             /* extra requests made by splitting */
	uint64_t thread_cpu_ns;     /* CPU time of the exporter thread */
	uint64_t encode_cpu_ns;     /* CPU time spent in sp_pyroscope_enqueue */
} sp_pyroscope_stats;

/* From the environment (PYROSCOPE_SERVER_ADDRESS, PYROSCOPE_TAGS, auth,
 * tenant, TLS options...). service: the profiler's service name
 * (sp_service_name), or NULL to resolve it the same way here.
 * Returns NULL with err->msg[0] == '\0' when no server is configured, NULL
 * with a message on bad configuration (the caller logs it once and carries
 * on with local files), or a started exporter. */
sp_pyroscope *sp_pyroscope_from_env(const char *service, sp_error *err);
/* The same, reading the variables through get (e.g. a profiled process's
 * environment, as handed to the consumer). */
sp_pyroscope *sp_pyroscope_from_getenv(const char *service, sp_getenv_fn get,
				       void *ctx, sp_error *err);

/* Queue one profile for upload (encoded and copied; the caller keeps p).
 * profile_type: "cpu" or "memory". from/until: wall-clock ns of the interval.
 * Never waits for the network. span_id and span_name labels are sent
 * (SPANPROF_PYROSCOPE_SPAN_NAME=0 strips span_name); trace_id only with
 * SPANPROF_PYROSCOPE_TRACE_ID=1 or to a server that said it is >= 2.1.0,
 * since older ones make every trace a series of its own. Over the server's limits the profile is split into
 * several requests. Returns 0 (also for an empty profile, which is not
 * sent), -EINVAL for a profile Pyroscope would refuse (logged once, counted
 * as failed), -ECHILD in a forked child. */
int sp_pyroscope_enqueue(sp_pyroscope *x, const sp_profile *p, const char *profile_type,
			 int64_t from_ns, int64_t until_ns);

void sp_pyroscope_get_stats(sp_pyroscope *x, sp_pyroscope_stats *out);

/* Application name as sent (after sanitising), for the links file. */
const char *sp_pyroscope_app_name(const sp_pyroscope *x);
const char *sp_pyroscope_server(const sp_pyroscope *x);

/* Try to send what is queued until deadline_ms passes, then stop the thread
 * and free everything (unsent profiles are counted as dropped, or spilled to
 * disk when spilling is configured).
 *
 * fork(): the child's copy of an exporter is inert (enqueue returns -ECHILD,
 * shutdown does nothing); a child that wants uploads calls
 * sp_pyroscope_from_env again. */
void sp_pyroscope_shutdown(sp_pyroscope *x, int deadline_ms);

/* ---- extensions (tests, tools, embedding) ------------------------------ */

/* Start from an explicit configuration (see pyroscope_config.h); takes over
 * *cfg's contents (cfg is zeroed, also on failure). NULL + message on error. */
sp_pyroscope *sp_pyroscope_start(sp_pyroscope_config *cfg, sp_error *err);
/* Registers the exporters' fork handlers (once). Fork child handlers run in
 * the order they were registered, so a caller whose own child handler starts
 * an exporter must call this before its pthread_atfork: otherwise its handler
 * runs while the registry lock is still held from before the fork. */
void sp_pyroscope_fork_handlers_init(void);

/* The server's version as it reported it ("2.1.0"), waiting up to wait_ms
 * for the exporter thread to have asked. Returns 1 when known, 0 when not
 * (no answer, an unparsable one, or not asked: SPANPROF_PYROSCOPE_TRACE_ID
 * set). trace_id labels are sent only to a server known to be >= 2.1.0. */
int sp_pyroscope_server_version(sp_pyroscope *x, int wait_ms, char *buf, size_t len);

/* sp_pyroscope_shutdown that also reports the final counters. */
void sp_pyroscope_shutdown_stats(sp_pyroscope *x, int deadline_ms, sp_pyroscope_stats *final);

#endif
