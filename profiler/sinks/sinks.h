/* Where the interval profiles of one source go, behind one call: the
 * output directory (the profile file, its links file when the profile has
 * span labels, retention) and Pyroscope when it is configured. A source is a
 * profiled process (the consumer's session) or one service of the host-wide
 * agent. Used by one thread; errors are logged once and never stop it. */
#ifndef SPANPROF_SINKS_H
#define SPANPROF_SINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/env.h"
#include "model/profile.h"
#include "sinks/export_pyroscope.h"
#include "sinks/links.h"
#include "sinks/output.h"

typedef struct sp_sinks_config {
	const char *output_dir;  /* NULL or "": no files */
	const char *service;
	pid_t pid;               /* in file names and messages */
	int64_t start_wall_ns;   /* in file names */
	int64_t retention_mb, retention_hours;
	/* Pyroscope's settings are read through this (a process's environment
	 * as its arena holds it, or our own); NULL: no Pyroscope. */
	sp_getenv_fn getenv;
	void *getenv_ctx;
} sp_sinks_config;

typedef struct sp_sinks {
	sp_output out;
	bool out_ok;
	bool logged_write_error;
	sp_pyroscope *pyro;      /* NULL: files only */
	char service[256];
	pid_t pid;
} sp_sinks;

enum sp_sink_kind { SP_SINK_CPU, SP_SINK_MEMORY };

/* Never fails: what cannot be set up is logged and left out. */
void sp_sinks_open(sp_sinks *k, const sp_sinks_config *c);

/* Interval `seq`'s profile of `kind`, covering [from, until) wall-clock ns;
 * span times (may be NULL) go into the links file. The caller keeps p. */
void sp_sinks_write(sp_sinks *k, const sp_profile *p, enum sp_sink_kind kind, unsigned seq,
		    int64_t from_ns, int64_t until_ns, const sp_links_span_time *times,
		    size_t n_times);

/* Uploads still queued get timeout_ms; then everything is released. */
void sp_sinks_close(sp_sinks *k, int timeout_ms);

#endif
