/* Per-thread span slot, written by the public span API (include/spanprof.h)
 * and read by the sampler's signal handler. The reader never sees a torn
 * value: the writer bumps a sequence counter to odd, writes, bumps to even;
 * the reader retries (bounded) and gives up rather than return a mixed pair. */
#ifndef SPANPROF_SPAN_H
#define SPANPROF_SPAN_H

#include <stdbool.h>
#include <stdint.h>

#define SP_SPAN_NAME_MAX 48

typedef struct sp_span_snapshot {
	uint8_t trace_id[16];
	uint8_t span_id[8];
	char name[SP_SPAN_NAME_MAX]; /* NUL-terminated, may be empty */
	uint8_t active;              /* 0: no span on this thread */
} sp_span_snapshot;

/* Async-signal-safe; copies the calling thread's slot. Returns false (and an
 * inactive snapshot) when no span is set or the slot was mid-update. */
bool sp_span_read_current(sp_span_snapshot *out);

/* Lower-case hex, NUL-terminated: 33 and 17 bytes. */
void sp_span_trace_hex(const sp_span_snapshot *s, char out[33]);
void sp_span_id_hex(const sp_span_snapshot *s, char out[17]);

#endif
