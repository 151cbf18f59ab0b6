/* Interactive SVG flame graph of a call tree (stacks.h), self-contained
 * (inline CSS and script, no external resources).
 *
 * Layout follows flamegraph.pl: root ("all") at the bottom, children sorted
 * by name and packed from their parent's left edge, width proportional to
 * value. Children narrower than min_width pixels are merged into one "…"
 * block per parent (a lone narrow child is drawn by name without its
 * descendants), so every parent's width is still the exact sum of what
 * sits on it: nothing is dropped.
 *
 * Every frame is `<g data-v="VALUE"><title>NAME\nINFO</title><rect .../>
 * [<text>LABEL</text>]</g>` inside `<g id="frames">`, in depth-first order;
 * data-v is the exact value in the profile's unit, which the script (and
 * tests) use for zoom offsets and "Matched: N%". */
#ifndef SPANPROF_FLAMEGRAPH_H
#define SPANPROF_FLAMEGRAPH_H

#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "render/stacks.h"

#define SP_FLAMEGRAPH_WIDTH 1200.0
#define SP_FLAMEGRAPH_MIN_WIDTH 0.1 /* px, as flamegraph.pl --minwidth */

typedef struct sp_flamegraph_opts {
	const char *title;      /* NULL: from the sample type ("CPU flame graph") */
	const char *subtitle;   /* NULL: built from the fields below */
	const char *source;     /* input name(s) for the subtitle, or NULL */
	const char *filter;     /* tag filter description for the subtitle, or NULL */
	int64_t time_nanos;     /* profile start (0 = unknown) */
	int64_t duration_nanos; /* 0 = unknown */
	double width;           /* image width in px */
	double min_width;       /* px; 0 draws every frame */
} sp_flamegraph_opts;

typedef struct sp_flamegraph_stats {
	size_t frames;        /* <g> frames written, merged blocks included */
	size_t merged_blocks; /* "…" blocks */
	size_t merged_frames; /* tree nodes (with descendants) folded into them */
	uint32_t depth;       /* drawn depth, root = 0 */
} sp_flamegraph_stats;

void sp_flamegraph_opts_init(sp_flamegraph_opts *o);

/* Write the SVG to `out`. Returns 0, -EIO (write error) or -ENOMEM, with
 * err set. st may be NULL. */
int sp_flamegraph_write(const sp_stack_tree *t, const sp_flamegraph_opts *o,
			FILE *out, sp_flamegraph_stats *st, sp_error *err);

#endif
