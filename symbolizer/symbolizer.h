/* Address -> function / file / line / inlined frames, via libdwfl.
 * Results are cached per (build-id or path, file offset); only distinct
 * addresses are ever resolved. Not thread-safe: one symbolizer per thread. */
#ifndef SPANPROF_SYMBOLIZER_H
#define SPANPROF_SYMBOLIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"

typedef struct sp_symbolizer sp_symbolizer;

typedef struct sp_sym_frame {
	const char *function;    /* demangled; NULL when unknown */
	const char *system_name; /* mangled name, or same as function */
	const char *file;        /* NULL when no line info */
	int64_t line;
	int64_t column;
} sp_sym_frame;

typedef struct sp_sym_result {
	const sp_sym_frame *frames; /* innermost (inlined) first, physical last;
				       owned by the cache */
	size_t n_frames;            /* 0: nothing known (keep build-id + offset) */
	bool from_dynsym;           /* name from .dynsym/.symtab only, no DWARF */
} sp_sym_result;

typedef struct sp_symbolizer_options {
	/* Extra debug-file search root(s), ':'-separated, searched before the
	 * default (":.debug:/usr/lib/debug"); NULL = the default only. Network
	 * debuginfod is never used. */
	const char *debuginfo_path;
	bool demangle; /* default true via sp_symbolizer_new(NULL, ...) */
	/* Where uncompressed copies of debug files with compressed DWARF are
	 * kept by build-id (written on first use, 1 GiB at most): NULL for the
	 * default (SPANPROF_DEBUG_CACHE, "off" for none; else
	 * $XDG_CACHE_HOME/spanprof/debug or ~/.cache/spanprof/debug). */
	const char *debug_cache;
} sp_symbolizer_options;

typedef struct sp_symbolize_stats {
	size_t addresses;      /* distinct addresses looked up */
	size_t resolved;       /* with a function name */
	size_t with_lines;     /* with file:line */
	size_t cache_hits;
	size_t modules_missing;/* modules whose file could not be opened */
} sp_symbolize_stats;

sp_symbolizer *sp_symbolizer_new(const sp_symbolizer_options *opt, sp_error *err);
void sp_symbolizer_free(sp_symbolizer *s);

/* Resolve `file_offset` (byte offset into the ELF file `path`, i.e. runtime
 * address - mapping start + mapping offset). build_id may be NULL/"": when
 * given it keys the cache and finds separate debug files. path may be
 * "[vdso]" (this process's vDSO). Returns 0 (out->n_frames may be 0) or a
 * negative errno when the module cannot be opened at all. */
int sp_symbolizer_lookup(sp_symbolizer *s, const char *path, const char *build_id,
			 uint64_t file_offset, sp_sym_result *out);

/* Fill the lines of every location that has none, from its mapping's file
 * (filename + build_id). Locations whose module cannot be found keep their
 * address, mapping and build-id. Sets the mapping has_* flags truthfully.
 * pid: process the addresses came from, used for "[vdso]" and deleted files
 * (/proc/PID/map_files); 0 = this process; -1 = none (offline: files on disk
 * only; "[vdso]" is this kernel's, the same image in every process). */
int sp_symbolize_profile(sp_symbolizer *s, sp_profile *p, int pid,
			 sp_symbolize_stats *stats, sp_error *err);

#endif
