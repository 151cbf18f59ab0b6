/* Turning one interval profile into request bodies Pyroscope accepts:
 * one profile type per request, labels that would multiply series stripped
 * unless wanted (trace_id, thread_name; span_name when asked),
 * strings made valid UTF-8, time set, and profiles over the server's sample
 * or size limits split into several smaller ones (the server sums them).
 * Rules: shared/reference/pyroscope-api.md 1.7, 1.9, 4, 5.1. */
#ifndef SPANPROF_PYROSCOPE_PREPARE_H
#define SPANPROF_PYROSCOPE_PREPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"

typedef struct sp_pyroscope_prep {
	bool keep_span_name;
	bool keep_thread_name;
	bool keep_trace_id;
	size_t max_samples;     /* per request (server: 16 000) */
	size_t max_bytes;       /* uncompressed pprof per request */
	size_t max_parts;       /* give up beyond this many requests */
	int gzip_level;
} sp_pyroscope_prep;

typedef struct sp_pyroscope_part {
	uint8_t *body;          /* gzip pprof, malloc'd */
	size_t len;
	size_t raw_len;         /* uncompressed size */
	size_t n_samples;
} sp_pyroscope_part;

/* The __name__ the server derives from the sample types (1.7): "process_cpu",
 * "memory", "wall", ..., or the last sample type's name. "" when none. */
const char *sp_pyroscope_metric_name(const sp_profile *p);

/* Hz from a cpu/nanoseconds period (0 when not a CPU profile). */
long sp_pyroscope_sample_rate(const sp_profile *p);

/* kind: "cpu" or "memory". On success *parts (malloc'd, *n >= 1 entries)
 * must be freed with sp_pyroscope_parts_free. Returns 0, -EINVAL (profile
 * Pyroscope would refuse: wrong or mixed types, '-' in a sample type, too big
 * even when split) or -ENOMEM, with a message. */
int sp_pyroscope_prepare(const sp_profile *p, const char *kind, const sp_pyroscope_prep *o,
			 int64_t from_ns, int64_t until_ns, sp_pyroscope_part **parts, size_t *n,
			 sp_error *err);
void sp_pyroscope_parts_free(sp_pyroscope_part *parts, size_t n);

#endif
