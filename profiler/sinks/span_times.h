/* First and last sample time of each span in the current interval, for the
 * links file (pprof samples carry no timestamps, so the consumer that sees
 * the raw samples has to note them as they pass). Worker-thread only. */
#ifndef SPANPROF_SPAN_TIMES_H
#define SPANPROF_SPAN_TIMES_H

#include <stddef.h>
#include <stdint.h>

#include "sinks/links.h"
#include "abi/span.h"

typedef struct sp_span_times sp_span_times;

/* max_spans bounds memory (0 = 1,000,000); spans past it are not tracked
 * and the links file gives them the interval bounds. NULL on OOM. */
sp_span_times *sp_span_times_new(size_t max_spans);
void sp_span_times_free(sp_span_times *t);

/* Note one sample at `mono_ns` (CLOCK_MONOTONIC, as sp_raw_sample.time_ns)
 * for the span in `s`; inactive snapshots are ignored. */
void sp_span_times_note(sp_span_times *t, const sp_span_snapshot *s, uint64_t mono_ns);

/* The interval's table for sp_links_context.span_times, in wall-clock ns
 * (mono + wall_minus_mono_ns), then reset for the next interval. *out is
 * malloc'd (NULL with *n = 0 when nothing was noted). Returns 0 or -ENOMEM
 * (the tracker is reset either way). */
int sp_span_times_take(sp_span_times *t, int64_t wall_minus_mono_ns, sp_links_span_time **out,
		       size_t *n);

#endif
