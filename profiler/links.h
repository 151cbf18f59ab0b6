/* Trace -> profile links: one JSON line per span seen in an interval profile,
 * written beside the profile (<profile>.links.jsonl), so a trace's span id
 * leads to the file (or the Pyroscope query) holding its samples. */
#ifndef SPANPROF_LINKS_H
#define SPANPROF_LINKS_H

#include <stdint.h>

#include "error.h"
#include "profile.h"

typedef struct sp_links_context {
	const char *service;        /* service name */
	const char *profile_path;   /* the profile file these spans are in */
	const char *pyroscope_url;  /* NULL when no server is configured */
	const char *pyroscope_app;  /* application name sent to Pyroscope */
	int64_t from_ns, until_ns;  /* interval, wall clock */
} sp_links_context;

/* Write `path` atomically: for each distinct span_id label in `p`, one line
 * {"service","trace_id","span_id","span_name","first_sample_ns",
 *  "last_sample_ns","cpu_ns","samples","profile", and with a server:
 *  "pyroscope":{"profile_type","service_name","from","until","query"}}.
 * cpu_ns equals the profile's total of cpu/nanoseconds for that label. */
int sp_links_write(const sp_profile *p, const sp_links_context *ctx, const char *path,
		   sp_error *err);

#endif
