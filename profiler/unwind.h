/* Stack walking over a copied stack slice with libunwind's remote API,
 * in-process (the copy was made by our signal handler in this process).
 * Runs on the worker thread only: never in a signal handler. */
#ifndef SPANPROF_UNWIND_H
#define SPANPROF_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "procmaps.h"
#include "raw_sample.h"

/* Where a process's code comes from, for an unwinder that is not in that
 * process: its executable mappings (*gen changes when the list does) and
 * whether an address is executable memory no file backs (JIT code). */
typedef struct sp_unwind_source_ops {
	const sp_module_list *(*modules)(void *ctx, uint64_t *gen);
	bool (*in_anon_exec)(void *ctx, uint64_t ip);
} sp_unwind_source_ops;

#define SP_MAX_FRAMES 128

typedef struct sp_unwinder sp_unwinder;

enum sp_unwind_status {
	SP_UNWIND_COMPLETE = 0,  /* reached the outermost frame (_start / clone3) */
	SP_UNWIND_TRUNCATED = 1, /* stopped early: copy exhausted, no unwind info, bad frame */
	SP_UNWIND_MAX_DEPTH = 2, /* hit the frame cap */
};

sp_unwinder *sp_unwinder_new(sp_error *err);
void sp_unwinder_free(sp_unwinder *u);

/* Drop cached module tables and libunwind's cache (after dlopen/dlclose). */
void sp_unwinder_invalidate(sp_unwinder *u);

/* Walk `s`. pcs[0] is the interrupted IP; callers are return address - 1
 * (call-site), so they symbolize to the calling line. Returns the number of
 * frames (>= 1 when s has a valid RIP) and sets *status. */
size_t sp_unwind(sp_unwinder *u, const sp_raw_sample *s, uint64_t *pcs, size_t max,
		 enum sp_unwind_status *status);

#endif
