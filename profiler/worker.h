/* The worker thread: drains every thread's ring, hands samples to the
 * aggregator, and at each interval end (and at exit) builds the interval's
 * profile and hands it to the exporters (file, links, Pyroscope). */
#ifndef SPANPROF_WORKER_H
#define SPANPROF_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "error.h"

int sp_worker_start(const sp_config *cfg, sp_error *err);
bool sp_worker_running(void);

/* Final flush and stop, waiting at most deadline_ms (then the worker is
 * left to finish or die with the process). Returns true when it finished. */
bool sp_worker_stop(int deadline_ms);

/* Async-signal-safe: ask for the final flush (as sp_worker_stop, without
 * joining) and wait at most deadline_ms. Used by the SIGTERM/SIGINT path. */
bool sp_worker_final_flush_from_signal(int deadline_ms);

/* Async-signal-safe, lock-free: wake the worker now (a ring is filling
 * up). Otherwise the worker drains on its own schedule: 5 ms to
 * SP_WORKER_IDLE_MS, planned from the rings' fill rates. */
void sp_worker_wake(void);
#define SP_WORKER_IDLE_MS 250

/* Async-signal-safe: modules were loaded or unloaded. */
void sp_worker_modules_changed(void);
/* Wait (at most timeout_ms) until every sample taken so far is unwound;
 * called before dlclose so those samples still see the module. */
void sp_worker_sync_drain(int timeout_ms);

/* fork prepare/parent: wait for the worker to be between two batches, and
 * keep it there until fork returns. */
void sp_worker_atfork_prepare(void);
void sp_worker_atfork_parent(void);
/* fork child: forget the parent's worker (its thread does not exist here)
 * and, with restart, start a fresh one with its own files. */
void sp_worker_atfork_child(bool restart);

/* Paths written so far by this process (for tests and the CLI summary):
 * the number of interval files and the last one. */
unsigned sp_worker_files_written(void);

#endif
