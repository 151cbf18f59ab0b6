/* Executable mappings of a process (from /proc/PID/maps) with their
 * build-ids: the pprof Mapping table and the symbolizer's module keys. */
#ifndef SPANPROF_PROCMAPS_H
#define SPANPROF_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

typedef struct sp_module {
	uint64_t start, end;  /* [start, end) runtime addresses */
	uint64_t offset;      /* file offset of start */
	char *path;           /* as in maps, " (deleted)" stripped; "[vdso]" kept */
	char build_id[41];    /* lower-case hex, "" when unknown */
	bool deleted;
	bool vdso;
} sp_module;

typedef struct sp_module_list {
	sp_module *mods;      /* sorted by start */
	size_t n;
} sp_module_list;

/* Executable (r-x) mappings only. pid 0 = self. */
int sp_procmaps_read(int pid, sp_module_list *out, sp_error *err);
const sp_module *sp_procmaps_find(const sp_module_list *l, uint64_t addr);
void sp_procmaps_free(sp_module_list *l);
/* Deep copy (paths duplicated). 0 or -ENOMEM (out left empty). */
int sp_module_list_copy(const sp_module_list *in, sp_module_list *out);

/* GNU build-id of an ELF file as lower-case hex; 0 or a negative errno. */
int sp_elf_build_id_hex(const char *path, char *hex, size_t hexlen);

#endif
