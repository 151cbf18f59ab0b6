/* Stack walking over a copied stack slice with libunwind's remote API.
 *
 * Process-independent: an unwinder is one libunwind address space for one
 * profiled process, which may be this one, another, or one that has exited.
 * Registers and stack words come from the sample; everything else from the
 * module FILES of that process's executable mappings (see unwind_file.h),
 * as listed by the source ops. Nothing is read from the process itself.
 * An unwinder is used by one thread at a time, never in a signal handler. */
#ifndef SPANPROF_UNWIND_H
#define SPANPROF_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "symbolizer/procmaps.h"
#include "abi/raw_sample.h"

#define SP_MAX_FRAMES 128

typedef struct sp_unwinder sp_unwinder;

enum sp_unwind_status {
	SP_UNWIND_COMPLETE = 0,  /* reached the outermost frame (_start / clone3) */
	SP_UNWIND_TRUNCATED = 1, /* stopped early: copy exhausted, no unwind info, bad frame */
	SP_UNWIND_MAX_DEPTH = 2, /* hit the frame cap */
};

/* What the unwinder needs to know about the profiled process. Called on the
 * unwinding thread, from sp_unwind, except `invalidate`. */
typedef struct sp_unwind_source_ops {
	/* The process's executable mappings, sorted by start (anonymous ones
	 * may be included: they are skipped). *gen must change whenever the
	 * list did; the list stays valid until the next call. */
	const sp_module_list *(*modules)(void *ctx, uint64_t *gen);
	/* ip lies in executable memory that no module file covers (JIT code):
	 * worth a frame-pointer step, unlike unmapped memory. May be NULL. */
	bool (*in_anon_exec)(void *ctx, uint64_t ip);
	/* sp_unwinder_invalidate was called (any thread): the source should
	 * re-read its list before answering `modules` again. May be NULL. */
	void (*invalidate)(void *ctx);
} sp_unwind_source_ops;

/* ops and ctx must outlive the unwinder. */
sp_unwinder *sp_unwinder_new(const sp_unwind_source_ops *ops, void *ctx, sp_error *err);
void sp_unwinder_free(sp_unwinder *u);

/* Drop cached module tables and libunwind's cache (after dlopen/dlclose).
 * Safe from any thread: the rebuild happens at the next sp_unwind. */
void sp_unwinder_invalidate(sp_unwinder *u);

/* Walk `s`. pcs[0] is the interrupted IP; callers are return address - 1
 * (call-site), so they symbolize to the calling line. Returns the number of
 * frames (>= 1 when s has a valid RIP) and sets *status. */
size_t sp_unwind(sp_unwinder *u, const sp_raw_sample *s, uint64_t *pcs, size_t max,
		 enum sp_unwind_status *status);

/* ---- sources for live processes (/proc) ------------------------------- */

/* Modules from /proc/PID/maps (pid 0 = this process, re-read when the
 * loader's dlpi_adds/dlpi_subs counters change), anonymous executable
 * memory from the same file, re-read at most every 200 ms on a miss (which
 * also notices another process's new mappings). Another pid's files are
 * opened through /proc/PID/root (its mount namespace). A pid that has
 * exited keeps its last list. */
typedef struct sp_unwind_procfs sp_unwind_procfs;
extern const sp_unwind_source_ops sp_unwind_procfs_ops;
sp_unwind_procfs *sp_unwind_procfs_new(int pid, sp_error *err);
void sp_unwind_procfs_free(sp_unwind_procfs *p);

/* An unwinder over sp_unwind_procfs_new(pid), which it owns. */
sp_unwinder *sp_unwinder_new_procfs(int pid, sp_error *err);

#endif
