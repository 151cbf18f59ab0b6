/* Trace -> profile links: one JSON line per span seen in an interval profile,
 * written beside the profile (<profile>.links.jsonl), so a trace's span id
 * leads to the file (or the Pyroscope query) holding its samples. */
#ifndef SPANPROF_LINKS_H
#define SPANPROF_LINKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"

/* The Grafana "traces to profiles" profile type of CPU profiles. */
#define SP_LINKS_PROFILE_TYPE_CPU "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

/* First and last sample time (wall clock ns) of one span in the interval.
 * pprof samples carry no timestamps, so only the caller that saw the raw
 * samples (the aggregator) can know these. */
typedef struct sp_links_span_time {
	char span_id[17]; /* 16 lower-case hex + NUL */
	int64_t first_ns, last_ns;
} sp_links_span_time;

typedef struct sp_links_context {
	const char *service;        /* service name */
	const char *profile_path;   /* the profile file these spans are in */
	const char *pyroscope_url;  /* NULL when no server is configured */
	const char *pyroscope_app;  /* application name sent to Pyroscope */
	int64_t from_ns, until_ns;  /* interval, wall clock */
	/* Optional (NULL/0): exact per-span sample times. A span not listed gets
	 * first/last_sample_ns = from_ns/until_ns, the interval bounds. */
	const sp_links_span_time *span_times;
	size_t n_span_times;
} sp_links_context;

/* Write `path` atomically: for each distinct span_id label in `p`, one line
 * {"service","trace_id","span_id","span_name","first_sample_ns",
 *  "last_sample_ns","time_source","cpu_ns","samples","profile", and with a
 *  server: "pyroscope":{"server","profile_type","service_name","from",
 *  "until","query","span_selector"}}, heaviest span first.
 * *_sample_ns are wall-clock ns: the span's own samples (time_source
 * "samples") or, when span_times lacks the span, the interval bounds
 * ("interval"). pyroscope from/until are unix ms (what SelectMergeSpanProfile
 * takes): the sample times widened by 60 s each side, as Grafana does for a
 * span; query is the label selector {service_name="..."}. cpu_ns equals the
 * profile's total of cpu/nanoseconds for that label. A profile without spans
 * gives an empty file; one without a cpu sample type is -EINVAL. */
int sp_links_write(const sp_profile *p, const sp_links_context *ctx, const char *path,
		   sp_error *err);

#endif
