/* Executable mappings of a process (from /proc/PID/maps) with their
 * build-ids: the pprof Mapping table and the symbolizer's module keys. */
#ifndef SPANPROF_PROCMAPS_H
#define SPANPROF_PROCMAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/error.h"

typedef struct sp_module {
	uint64_t start, end;  /* [start, end) runtime addresses */
	uint64_t offset;      /* file offset of start */
	uint64_t inode;       /* as in maps; 0 for anonymous memory */
	char *path;           /* as in maps, " (deleted)" stripped; "[vdso]" kept */
	char *open_path;      /* where to open the file when path no longer
				 names it (deleted: /proc/PID/map_files/...);
				 NULL: path */
	char build_id[41];    /* lower-case hex, "" when unknown */
	bool deleted;
	bool vdso;
} sp_module;

typedef struct sp_module_list {
	sp_module *mods;      /* sorted by start */
	size_t n;
} sp_module_list;

/* Not a file that can be opened: anonymous or special mappings ("",
 * "[anon:...]", memfd JIT code). Code there is treated as JIT. */
static inline bool sp_module_is_anon(const sp_module *m)
{
	return !m->vdso && (!m->path || m->path[0] != '/' || !strncmp(m->path, "/memfd:", 7));
}

/* Executable (r-x) mappings only. pid 0 = self. */
int sp_procmaps_read(int pid, sp_module_list *out, sp_error *err);
/* Each executable mapping as it is read, without build-ids (cheap); m and
 * m->path are valid during the call only. cb returns 0 to go on, 1 to stop,
 * or -errno (returned). 0 or -errno. */
int sp_procmaps_scan(int pid, int (*cb)(void *arg, const sp_module *m), void *arg,
		     sp_error *err);
const sp_module *sp_procmaps_find(const sp_module_list *l, uint64_t addr);
void sp_procmaps_free(sp_module_list *l);
/* By start address, as sp_procmaps_find needs. */
void sp_module_list_sort(sp_module_list *l);
/* A build-id's bytes as lower-case hex (truncated to fit). */
void sp_build_id_to_hex(const unsigned char *p, size_t n, char *hex, size_t hexlen);
/* Deep copy (paths duplicated). 0 or -ENOMEM (out left empty). */
int sp_module_list_copy(const sp_module_list *in, sp_module_list *out);

/* GNU build-id of an ELF file as lower-case hex; 0 or a negative errno. */
int sp_elf_build_id_hex(const char *path, char *hex, size_t hexlen);
/* The same for an open file (the unwinder verifies the files it maps). */
int sp_fd_build_id_hex(int fd, char *hex, size_t hexlen);

/* This process's vDSO image and its length (from its ELF headers); NULL when
 * there is none. The kernel maps the same image into every 64-bit process,
 * so it stands in for the vdso "file" of any of them. */
const void *sp_vdso_image(size_t *size);

#endif
