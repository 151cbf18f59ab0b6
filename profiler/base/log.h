/* One-line diagnostics on stderr, prefixed "spanprof[pid]: ". Not for signal
 * handlers (uses vsnprintf); written with a single write(2). Nothing is
 * written unless enabled (SPANPROF_LOG=1): the library stays silent in its
 * host; `spanprof record` reports engine and rate from the telemetry. */
#ifndef SPANPROF_LOG_H
#define SPANPROF_LOG_H

#include <stdbool.h>

void sp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sp_log_set_enabled(bool on);

/* Informational lines; silenced by SPANPROF_QUIET=1. */
void sp_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void sp_log_set_quiet(bool quiet);

/* A component that can hand its lines to its caller instead (the unit tests
 * collect them) takes a sink; sp_log_to formats one line and gives it to the
 * sink, or to sp_log when the sink is NULL. */
typedef void (*sp_log_sink)(void *ctx, const char *line);
void sp_log_to(sp_log_sink sink, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
