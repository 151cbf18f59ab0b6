/* spanprof public C API.
 *
 * Two uses:
 *  1. Tell the profiler which trace span the current thread is working for,
 *     so every CPU (and allocation) sample taken on the thread carries the
 *     pprof labels span_id / trace_id (and span_name in local profiles).
 *  2. Start and stop the profiler from code, for services that cannot be
 *     started with LD_PRELOAD=libspanprof.so.
 *
 * Every function is declared weak: a program compiled against this header
 * but run WITHOUT libspanprof (not linked, not preloaded) still runs; the
 * SPANPROF_* macros below then cost one predictable branch. With the library
 * present (preloaded, or linked: use `pkg-config --libs spanprof`, which adds
 * -Wl,--no-as-needed because a linker drops a library that is referenced
 * only weakly) the calls go through. A linked (not preloaded) program starts
 * profiling with spanprof_start() or SPANPROF_AUTOSTART=1.
 *
 * Which span to set: the local root span of each request (the server span
 * your service opened for it), as Grafana Pyroscope's own SDKs do. Put the
 * same span id on that span as the attribute `pyroscope.profile.id` so that
 * Grafana's "traces to profiles" link finds the samples.
 *
 * Thread model: the span slot is per thread. Set it on the thread that does
 * the work; clear it (or pop) when the thread goes back to its pool. The
 * sampler reads the slot from a signal handler and never sees a torn value.
 */
#ifndef SPANPROF_H
#define SPANPROF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPANPROF_API __attribute__((visibility("default"), weak))

#define SPANPROF_TRACE_ID_LEN 16
#define SPANPROF_SPAN_ID_LEN 8
#define SPANPROF_SPAN_NAME_MAX 48 /* including the NUL; longer names are cut */

/* Error codes (negative return values). */
enum spanprof_error {
	SPANPROF_OK = 0,
	SPANPROF_EINVAL = -22,   /* bad argument or malformed traceparent */
	SPANPROF_EALREADY = -114,/* spanprof_start while running */
	SPANPROF_ENOTRUNNING = -3,
	SPANPROF_ENOSYS = -38,   /* library not loaded (weak symbol is NULL) */
};

/* A saved span context, for nesting (push/pop). Opaque to callers. */
typedef struct spanprof_span_ctx {
	uint8_t trace_id[SPANPROF_TRACE_ID_LEN];
	uint8_t span_id[SPANPROF_SPAN_ID_LEN];
	char name[SPANPROF_SPAN_NAME_MAX];
	uint8_t active;
} spanprof_span_ctx;

/* Set the calling thread's span. trace_id: 16 bytes, span_id: 8 bytes, both
 * not all-zero. name may be NULL (copied, cut at SPANPROF_SPAN_NAME_MAX-1).
 * Returns 0, or SPANPROF_EINVAL (slot unchanged). */
SPANPROF_API int spanprof_span_set(const uint8_t *trace_id, const uint8_t *span_id,
				   const char *name);

/* Set from a W3C traceparent header value, e.g.
 * "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01". Strict: version
 * 00 must be exactly 55 characters; lower-case hex only; all-zero ids and
 * version ff are invalid; higher versions are accepted and fields after the
 * flags ignored. Returns 0 or SPANPROF_EINVAL (slot unchanged). */
SPANPROF_API int spanprof_span_set_traceparent(const char *traceparent, const char *name);

/* Parse a traceparent without touching the slot (same rules as above). */
SPANPROF_API int spanprof_traceparent_parse(const char *traceparent,
					    uint8_t trace_id[SPANPROF_TRACE_ID_LEN],
					    uint8_t span_id[SPANPROF_SPAN_ID_LEN],
					    uint8_t *flags);

/* Samples taken after this carry no span labels. */
SPANPROF_API void spanprof_span_clear(void);

/* Nested spans: push saves the current context into *saved and sets the new
 * one; pop restores *saved. Returns as spanprof_span_set. */
SPANPROF_API int spanprof_span_push(const uint8_t *trace_id, const uint8_t *span_id,
				    const char *name, spanprof_span_ctx *saved);
SPANPROF_API void spanprof_span_pop(const spanprof_span_ctx *saved);

/* Read the calling thread's context (active = 0 when none). */
SPANPROF_API void spanprof_span_get(spanprof_span_ctx *out);

/* ---- starting from code ------------------------------------------------ */

/* Zero-initialise, then set what you need; 0/NULL fields take the defaults
 * (the environment variables in the README's configuration table win over
 * nothing: explicit fields here win over the environment). */
typedef struct spanprof_options {
	int hz;                  /* sampling rate; default 100 (SPANPROF_HZ) */
	const char *output_dir;  /* default ./spanprof-out (SPANPROF_OUTPUT) */
	const char *service;     /* default: executable name */
	int upload_interval_s;   /* default 10 (SPANPROF_UPLOAD_INTERVAL) */
	size_t stack_bytes;      /* stack copy per sample; default 32768 */
	int force_timer_engine;  /* 1: POSIX timers instead of perf_event */
} spanprof_options;

/* Start profiling this process (all threads, and threads created later).
 * Returns 0, SPANPROF_EALREADY, or a negative errno with a message on stderr. */
SPANPROF_API int spanprof_start(const spanprof_options *opts);

/* Flush the current interval and stop. Returns 0 or SPANPROF_ENOTRUNNING. */
SPANPROF_API int spanprof_stop(void);

/* ---- zero-cost-when-absent helpers ------------------------------------ */

#define SPANPROF_CALL(fn, ...) ((fn) ? fn(__VA_ARGS__) : SPANPROF_ENOSYS)
#define SPANPROF_SPAN_SET_TRACEPARENT(hdr, name) \
	SPANPROF_CALL(spanprof_span_set_traceparent, hdr, name)
#define SPANPROF_SPAN_CLEAR() \
	do { if (spanprof_span_clear) spanprof_span_clear(); } while (0)

#ifdef __cplusplus
}
#endif

#endif
