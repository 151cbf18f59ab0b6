/* Private to symbolizer/: the arena and the per-module state shared
 * by symbolizer.c (caches, API), sym_module.c (opening files, debug-file
 * lookup, symbol tables), sym_inline.c (DWARF inline chains) and
 * sym_demangle.c. Nothing here is thread-safe; see symbolizer.h. */
#ifndef SPANPROF_SYM_INTERNAL_H
#define SPANPROF_SYM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "base/hashmap.h"
#include "symbolizer/symbolizer.h"

/* ---- bump allocator: strings and frame arrays live until free ---------- */

struct sp_arena_chunk;
typedef struct sp_arena {
	struct sp_arena_chunk *head;
	size_t bytes; /* total allocated, for stats */
} sp_arena;

void *sp_arena_alloc(sp_arena *a, size_t size);
char *sp_arena_strdup(sp_arena *a, const char *s);
void sp_arena_free(sp_arena *a);

/* ---- modules ------------------------------------------------------------- */

struct sp_sym_load {        /* one PT_LOAD: file offset -> ELF vaddr */
	uint64_t offset, filesz, vaddr;
};

struct sp_sym_entry {       /* one function symbol, sorted by addr */
	uint64_t addr, size;
	const char *name;   /* in the ELF string table (lives with the Dwfl) */
};

typedef struct sp_sym_module {
	char *path;            /* file actually opened (or "[vdso]") */
	char build_id[41];
	Dwfl *dwfl;            /* one per module file, reported at bias 0 */
	Dwfl_Module *mod;
	struct sp_sym_load *loads;
	size_t n_loads;

	bool syms_built;
	struct sp_sym_entry *syms;
	size_t n_syms;
	char *plt_names;       /* "sym@plt" strings of the synthetic PLT entries */

	bool dwarf_tried;
	Dwarf *dw;             /* NULL: no DWARF (stripped, no debug file) */
	Dwarf_Addr dwbias;
	sp_hashmap cus;        /* CU DIE offset -> struct sp_cu_index * */

	const char *debuginfo_path; /* borrowed from the symbolizer */
	const char *debug_cache;    /* the same; NULL: no cache */
	char *dwfl_path;            /* the same, as Dwfl_Callbacks wants it */
	Dwfl_Callbacks callbacks;   /* must outlive the Dwfl */
} sp_sym_module;

/* Open `open_path` (or this process's vDSO for "[vdso]"). When `build_id`
 * is non-empty and the file's differs, the file is rejected (-ESTALE) and
 * `<root>/.build-id/xx/rest.debug` under the absolute roots of
 * debuginfo_path is tried as the module itself. Returns 0 or -errno. */
int sp_sym_module_open(sp_sym_module *m, const char *open_path, const char *build_id,
		       const char *debuginfo_path);
void sp_sym_module_close(sp_sym_module *m);

/* File offset -> ELF vaddr through the PT_LOAD that contains it; false when
 * no segment holds the offset. */
bool sp_sym_module_vaddr(const sp_sym_module *m, uint64_t offset, uint64_t *vaddr);

/* Sorted function-symbol index (.symtab, else .dynsym). NULL when none. */
const struct sp_sym_entry *sp_sym_module_symbol(sp_sym_module *m, uint64_t vaddr);

/* The module's DWARF (loads it, finding separate debug files, once). */
Dwarf *sp_sym_module_dwarf(sp_sym_module *m);

/* ---- DWARF frames -------------------------------------------------------- */

/* Interned names of one function DIE, filled by symbolizer.c on first use
 * so later addresses in the same function skip libdw and the demangler. */
struct sp_name_cache {
	bool set;
	const char *function, *system_name;
};

/* One logical frame before interning: strings are borrowed from libdw. */
struct sp_raw_frame {
	const char *linkage;  /* DW_AT_linkage_name or symbol name; may be NULL */
	const char *name;     /* DW_AT_name; may be NULL */
	struct sp_name_cache *names; /* the function DIE's cache, or NULL */
	const char *file;     /* may be relative to comp_dir */
	const char *comp_dir; /* the CU's DW_AT_comp_dir; may be NULL */
	int64_t line, column;
};

/* Frames for `vaddr`, innermost first, physical function last. Returns the
 * number written (<= max), 0 when DWARF knows nothing about the address. */
size_t sp_sym_dwarf_frames(sp_sym_module *m, uint64_t vaddr, struct sp_raw_frame *out,
			   size_t max);
struct sp_cu_index;
void sp_sym_cu_index_free(struct sp_cu_index *cu);

/* ---- symbolizer.c extras ------------------------------------------------- */

/* Like sp_symbolizer_lookup, but read the module from `open_path` (e.g.
 * /proc/PID/map_files/START-END) while keying it by `path`. */
int sp_symbolizer_lookup_at(sp_symbolizer *s, const char *path, const char *open_path,
			    const char *build_id, uint64_t file_offset, sp_sym_result *out);
/* Running totals since sp_symbolizer_new (modules_missing counts distinct
 * failed opens). */
void sp_symbolizer_stats(const sp_symbolizer *s, sp_symbolize_stats *out);

/* ---- helpers in procmaps.c ---------------------------------------------- */

/* This process's vDSO image and its length (from its ELF headers); NULL
 * when there is none. */
const void *sp_vdso_image(size_t *size);
/* Build-id of an open ELF file as lower-case hex; 0 or -errno. */
int sp_fd_build_id_hex(int fd, char *hex, size_t hexlen);

/* sym_debug_cache.c: uncompressed copies of separate debug files whose
 * DWARF is compressed, kept in `dir` by build-id. lookup: an fd of the copy,
 * or -1. store: write one from src_fd when its DWARF is compressed and
 * there is none yet (src_fd's offset is left alone). Best-effort. */
int sp_debug_cache_lookup(const char *dir, const char *build_id);
void sp_debug_cache_store(const char *dir, const char *build_id, int src_fd);
/* SPANPROF_DEBUG_CACHE ("off": none), else $XDG_CACHE_HOME/spanprof/debug,
 * else $HOME/.cache/spanprof/debug; NULL when there is none. */
const char *sp_debug_cache_default_dir(char *buf, size_t len);
/* elf_version() once, thread-safe. */
void sp_elf_init(void);

/* ---- demangling ---------------------------------------------------------- */

/* Demangled copy of a C++ ("_Z...") name, malloc'd; NULL when `name` is not
 * mangled or does not demangle. */
char *sp_sym_demangle(const char *name);

#endif
