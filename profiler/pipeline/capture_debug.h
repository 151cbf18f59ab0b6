/* SPANPROF_DEBUG_COUNTS=FILE: capture counters for tests and benchmarks,
 * independent of the unwinder: samples per thread, leaf function per sample
 * engine, lost samples, average stack copy,
 * and the handler's own cost (median / p99), rewritten at each interval.
 * Worker thread only. */
#ifndef SPANPROF_CAPTURE_DEBUG_H
#define SPANPROF_CAPTURE_DEBUG_H

#include <sys/types.h>

#include "abi/raw_sample.h"

typedef struct sp_debug_counts sp_debug_counts;
struct sp_shm_header;

sp_debug_counts *sp_debug_counts_new(void);
void sp_debug_counts_free(sp_debug_counts *d);
void sp_debug_count(sp_debug_counts *d, const char *thread_name, const sp_raw_sample *s);
/* Write FILE atomically ("key value" lines; "thread TID NAME N"). The
 * handler's cost histogram and orphan count come from the host's arena. */
void sp_debug_counts_write(sp_debug_counts *d, const char *path, pid_t pid, unsigned files,
			   uint64_t taken, uint64_t lost, const char *engine,
			   struct sp_shm_header *h);

#endif
