/* The consumer: raw samples -> unwound stacks interned with their labels ->
 * one symbolized pprof per interval. Owned by the worker thread. */
#ifndef SPANPROF_AGGREGATE_H
#define SPANPROF_AGGREGATE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"
#include "abi/raw_sample.h"
#include "symbolizer/kallsyms.h"
#include "symbolizer/symbolizer.h"
#include "unwind/unwind.h"

typedef struct sp_aggregator sp_aggregator;

typedef struct sp_aggregator_config {
	int64_t period_ns;      /* CPU sampling period, e.g. 10,000,000 at 100 Hz */
	bool symbolize;         /* symbolize in-process at interval end (default true) */
	bool span_name_label;   /* add span_name labels (local profiles: true) */
	/* The process the samples come from; source NULL: this process. */
	const sp_unwind_source_ops *source;
	void *source_ctx;
	int pid;                /* 0: this process */
	const char *exe;        /* its executable's path (mapping[0]); NULL: ours */
	sp_symbolizer *symbolizer; /* shared with other aggregators; NULL: own */
	/* Allocation samples instead of CPU samples: a memory profile
	 * (alloc_objects, alloc_space, inuse_objects, inuse_space; period
	 * space/bytes) whose inuse values are the sampled blocks still live at
	 * the interval's end, kept across intervals. heap_rate: the host's
	 * mean bytes between samples, for the weights. */
	bool heap;
	int64_t heap_rate;
	/* Host-wide samples: names for kernel pcs given to
	 * sp_aggregator_add_frames (NULL: such frames are "[kernel]"), and a
	 * numeric `pid` label (cfg.pid) on every sample, so profiles of one
	 * service's processes can be merged and still told apart. */
	const sp_kallsyms *kallsyms;
	bool pid_label;
	/* A `container_id` label on every sample (NULL or "": none). */
	const char *container_id;
} sp_aggregator_config;

/* Self-telemetry written as pprof comments on every interval profile. */
typedef struct sp_telemetry {
	const char *engine;     /* "perf_event cpu-clock" / "posix timer" */
	uint64_t samples_taken;
	uint64_t samples_lost;  /* ring full */
	uint64_t stacks_truncated;
	uint64_t threads;
	const char *note;       /* one more comment line, or NULL */
} sp_telemetry;

sp_aggregator *sp_aggregator_new(const sp_aggregator_config *cfg, sp_error *err);
void sp_aggregator_free(sp_aggregator *a);

/* Unwind and intern one sample; thread_name may be NULL. A heap
 * aggregator takes SP_SAMPLE_ALLOC and SP_SAMPLE_FREE records. */
int sp_aggregator_add(sp_aggregator *a, const sp_raw_sample *s, const char *thread_name);

/* The same with kernel frames (pcs[0] the interrupted kernel pc, then its
 * callers, as in a perf callchain) placed leaf-side of the user stack. A
 * sample without user registers (s->regs[SP_REG_RIP] == 0: a kernel thread)
 * has only those. */
int sp_aggregator_add_frames(sp_aggregator *a, const sp_raw_sample *s, const char *thread_name,
			     const uint64_t *kernel_pcs, size_t n_kernel);

/* Every ring was drained once (a heap aggregator pairs frees with
 * allocations drained later from another thread's ring). */
void sp_aggregator_pass(sp_aggregator *a);

/* Heap: sampled blocks live now, and frees that never found theirs. */
size_t sp_aggregator_live_blocks(const sp_aggregator *a);
uint64_t sp_aggregator_unmatched_frees(const sp_aggregator *a);

/* Modules changed (dlopen/dlclose seen): refresh maps and unwind tables. */
void sp_aggregator_modules_changed(sp_aggregator *a);

/* Build the interval's profile (symbolized when configured), with
 * time_nanos = start_ns (wall clock) and duration; reset the interval.
 * Returns NULL on OOM with err set. The caller frees the profile. */
sp_profile *sp_aggregator_take_profile(sp_aggregator *a, int64_t start_wall_ns,
				       int64_t duration_ns, const sp_telemetry *t,
				       sp_error *err);

/* Stacks truncated since creation (also counted per interval in telemetry). */
uint64_t sp_aggregator_truncated(const sp_aggregator *a);

#endif
