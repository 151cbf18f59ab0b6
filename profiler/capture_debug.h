/* SPANPROF_DEBUG_COUNTS=FILE: capture counters for tests and benchmarks,
 * independent of the unwinder: samples per thread, leaf function per sample
 * (dladdr of the interrupted IP), engine, lost samples, average stack copy,
 * and the handler's own cost (median / p99), rewritten at each interval.
 * Worker thread only. */
#ifndef SPANPROF_CAPTURE_DEBUG_H
#define SPANPROF_CAPTURE_DEBUG_H

#include <sys/types.h>

#include "raw_sample.h"

/* Allocate (once) and zero the tables. 0 or -ENOMEM. */
int sp_debug_counts_reset(void);
void sp_debug_count(const char *thread_name, const sp_raw_sample *s);
/* Write FILE atomically ("key value" lines; "thread TID NAME N", "leaf SYM N"). */
void sp_debug_counts_write(const char *path, pid_t pid, unsigned files);

#endif
