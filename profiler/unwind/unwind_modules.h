/* Module table of one unwinder (one profiled process): its executable
 * mappings, each backed by a shared module file (unwind_file.h) at a load
 * bias, and a reader for module bytes at runtime addresses that serves them
 * from the files, never from the process. Private to unwind*.c; used by the
 * unwinding thread only. */
#ifndef SPANPROF_UNWIND_MODULES_H
#define SPANPROF_UNWIND_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "symbolizer/procmaps.h"
#include "unwind/unwind_file.h"

typedef struct sp_umod {
	uint64_t start, end;           /* the executable mapping, runtime [start, end) */
	uint64_t offset;               /* file offset of start */
	uint64_t bias;                 /* runtime = link-time vaddr + bias */
	const sp_ufile *file;          /* NULL: no file (missing, build-id mismatch) */
	/* The file's bytes mapped again away from where the loader put the
	 * object (V8 remaps node's embedded builtins next to its JIT code):
	 * not the object's code as its unwind tables describe it. Walked like
	 * JIT code. */
	bool alias;
} sp_umod;

typedef struct sp_urange {
	uint64_t start, end;           /* file bytes of a read-only PT_LOAD, runtime */
	const uint8_t *bytes;          /* the byte at `start` */
} sp_urange;

typedef struct sp_umods {
	sp_umod *mods;                 /* sorted by start */
	size_t n_mods;
	sp_urange *ranges;             /* sorted by start */
	size_t n_ranges;
	sp_ufile **files;              /* references held, one per mod with a file */
	size_t n_files;
	uint64_t no_file;              /* mappings whose file could not be used */
	uint64_t no_table;             /* mappings whose file has no .eh_frame_hdr */
} sp_umods;

/* Replace t's contents with a table for `list` (files opened or found in
 * the process-wide cache; references to the old ones dropped after). 0, or
 * -ENOMEM with t left empty: reads fail, stacks truncate. */
int sp_umods_build(sp_umods *t, const sp_module_list *list);
void sp_umods_free(sp_umods *t);

/* The file-backed mapping whose range holds ip (with or without a usable
 * file), or NULL (anonymous memory, or unmapped). */
const sp_umod *sp_umods_find_text(const sp_umods *t, uint64_t ip);

/* The 8-byte word at runtime address addr, if a module file holds it.
 * 0 or -EFAULT. */
int sp_umods_read(const sp_umods *t, uint64_t addr, uint64_t *val);

#endif
