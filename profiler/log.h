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

#endif
