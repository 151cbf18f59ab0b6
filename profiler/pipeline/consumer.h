/* The consumer: one process that serves every profiled process of a tree
 * (under `spanprof record`) or of a service started with LD_PRELOAD alone
 * (a detached `spanprof consumer`). Processes register over a Unix
 * SOCK_SEQPACKET socket, handing over their arena memfd; only the same uid
 * (or root) may (SO_PEERCRED). A pidfd per registered process tells when
 * it ended, however it ended (exit, _exit, exec, SIGKILL, a crash): its
 * rings are drained and its last interval written after it is gone.
 *
 * Two threads: the server (accepts registrations, watches pidfds) and the
 * drain thread (drains rings, cuts intervals, writes files and uploads);
 * the symbol cache is shared by all processes and keyed by build-id. */
#ifndef SPANPROF_CONSUMER_H
#define SPANPROF_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/error.h"

typedef struct sp_consumer sp_consumer;

typedef struct sp_consumer_options {
	const char *address;    /* "@name" (abstract) or a path; NULL: generate */
	/* The symbolizer's debug-file cache (sp_symbolizer_options): NULL for
	 * its default, "off" for none. */
	const char *debug_cache;
	/* Every process's files go here instead of its own SPANPROF_OUTPUT
	 * (the agent's interval directory); NULL: its own. */
	const char *output_dir;
} sp_consumer_options;

/* Bind, listen and start both threads. NULL + err on failure. */
sp_consumer *sp_consumer_start(const sp_consumer_options *o, sp_error *err);
const char *sp_consumer_address(const sp_consumer *c);

/* pid was registered at monotonic time mono_ns (from its arena's start
 * until its end was noticed): its rings hold what happened then, so the
 * agent drops its own samples of it. Any thread. */
bool sp_consumer_serves(sp_consumer *c, pid_t pid, int64_t mono_ns);

/* Detached mode: block until idle (no registered process for a while). */
void sp_consumer_wait_idle(sp_consumer *c);

/* Write every process's last interval: those that ended first; the ones
 * still running are cut where they are. Stops the threads and frees. */
void sp_consumer_finish(sp_consumer *c);

#endif
