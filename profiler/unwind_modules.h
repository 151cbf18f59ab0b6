/* Loaded-module table for the in-process unwinder: executable ranges with
 * their .eh_frame_hdr search tables (from dl_iterate_phdr), and a
 * fault-safe reader for module memory (unwind tables, code bytes). Private to
 * unwind.c; used by the worker thread only. */
#ifndef SPANPROF_UNWIND_MODULES_H
#define SPANPROF_UNWIND_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sp_umod {
	uint64_t text_start, text_end; /* [start, end) of the PF_X PT_LOADs */
	uint64_t eh_hdr;               /* runtime address of .eh_frame_hdr, 0 = none */
	uint64_t table;                /* binary-search table, 0 = unusable */
	uint64_t fde_count;
} sp_umod;

typedef struct sp_urange {
	uint64_t start, end;           /* a readable PT_LOAD, [start, end) */
} sp_urange;

struct sp_upage;

typedef struct sp_umods {
	sp_umod *mods;                 /* sorted by text_start */
	size_t n_mods;
	sp_urange *ranges;             /* sorted by start */
	size_t n_ranges;
	/* Page cache for module reads: 4 KiB copies made with process_vm_readv,
	 * so a module unmapped under our feet gives EFAULT, never SIGSEGV. */
	struct sp_upage *pages;        /* open addressing, cap slots */
	size_t page_cap, page_used;
	bool direct;                   /* process_vm_readv unusable: plain loads */
	unsigned long long dl_adds, dl_subs; /* loader counters at the last build */
	uint64_t no_table;             /* modules without a usable table */
	uint64_t page_faults;          /* page copies that failed */
} sp_umods;

int sp_umods_init(sp_umods *t);
void sp_umods_free(sp_umods *t);

/* Rebuild from dl_iterate_phdr and drop the page cache. 0 or -ENOMEM (the
 * old table is then empty: reads fail, stacks truncate, nothing crashes). */
int sp_umods_rebuild(sp_umods *t);

/* True when objects were loaded or unloaded since the last build (the
 * loader's dlpi_adds/dlpi_subs counters; ~30 ns). Catches every dlopen and
 * dlclose, hooked or not. */
bool sp_umods_stale(const sp_umods *t);

/* The module whose executable range holds ip, or NULL. */
const sp_umod *sp_umods_find_text(const sp_umods *t, uint64_t ip);

/* Read the 8-byte word at addr if it lies in a loaded module's PT_LOAD.
 * Returns 0 or -EFAULT. */
int sp_umods_read(sp_umods *t, uint64_t addr, uint64_t *val);

#endif
