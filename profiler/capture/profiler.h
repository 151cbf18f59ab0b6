/* Start/stop of the in-process profiler and the hooks the preload layer
 * calls (thread start/exit, fork, module changes). */
#ifndef SPANPROF_PROFILER_H
#define SPANPROF_PROFILER_H

#include <stdbool.h>

#include "base/config.h"
#include "spanprof.h"

/* 0, -EALREADY, or a negative errno (message already on stderr). */
int sp_profiler_start(const spanprof_options *opts);
/* Final flush (bounded by SPANPROF_FLUSH_TIMEOUT_MS) and stop.
 * 0, or -ESRCH when not running. */
int sp_profiler_stop(void);
bool sp_profiler_running(void);
const sp_config *sp_profiler_config(void);
int sp_profiler_signo(void);

/* Called on a new thread before its start routine, and when a thread ends
 * (idempotent). */
void sp_profiler_thread_start(void);
void sp_profiler_thread_exit(void);

/* dlclose: before (drain pending samples while the module is mapped) and
 * after (refresh module tables). */
void sp_profiler_before_dlclose(void);
void sp_profiler_modules_changed(void);

/* Destructor: the image ends; the consumer writes its last interval
 * (waited for, bounded). */
void sp_profiler_exit(void);

/* Async-signal-safe: final flush from a SIGTERM/SIGINT handler, bounded. */
void sp_profiler_flush_from_signal(void);

#endif
