/* Module bytes for the unwinder, read from the module's FILE rather than
 * from the profiled process (which may be another process, or gone): an ELF
 * file mapped read-only, its PT_LOADs (link-time vaddr -> file offset) and
 * its .eh_frame_hdr search table. Opened files are shared process-wide
 * (keyed by build-id, else by device + inode + size + mtime) and
 * refcounted, so unwinders for many processes use one copy. Thread-safe.
 * Private to the unwinder (unwind*.c) and its tests. */
#ifndef SPANPROF_UNWIND_FILE_H
#define SPANPROF_UNWIND_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_UFILE_MAX_LOADS 16

typedef struct sp_ufile_load {
	uint64_t vaddr, filesz, memsz, offset;
	uint32_t flags;                /* PF_R / PF_W / PF_X */
} sp_ufile_load;

typedef struct sp_ufile {
	const uint8_t *data;           /* the whole file (or the vdso image) */
	size_t size;
	sp_ufile_load loads[SP_UFILE_MAX_LOADS];
	size_t n_loads;
	/* Link-time addresses; add a mapping's bias for runtime ones. */
	uint64_t text_lo, text_hi;     /* union of the PF_X PT_LOADs, lo == hi: none */
	uint64_t eh_hdr, table;        /* .eh_frame_hdr and its search table, 0 = none */
	uint64_t fde_count;
	char build_id[41];             /* lower-case hex, "" when the file has none */
	bool vdso;                     /* our own vdso image: not mapped from a file */
	/* cache bookkeeping, under the cache lock */
	unsigned refs;
	uint64_t dev, ino, fsize;
	int64_t mtime_ns;
	struct sp_ufile *next;
} sp_ufile;

/* The file at `path`, shared. With a non-empty `build_id` the file must
 * carry that build-id (-ESTALE otherwise: it was replaced since the process
 * mapped it). NULL with errno set (ENOENT, ENOEXEC, ESTALE, ENOMEM...). */
sp_ufile *sp_ufile_open(const char *path, const char *build_id);

/* This process's vdso image: the kernel maps the same one into every
 * (64-bit) process, at a different base. NULL with errno when none. */
sp_ufile *sp_ufile_vdso(void);

/* Drop a reference; the mapping goes with the last one. NULL is ignored. */
void sp_ufile_put(sp_ufile *f);

/* Link-time vaddr -> file offset of [vaddr, vaddr + len), which must lie in
 * the file-backed part of one read-only PT_LOAD: bss and writable segments
 * have no file bytes that equal the running process's, and are refused.
 * 0 or -EFAULT. */
int sp_ufile_offset(const sp_ufile *f, uint64_t vaddr, size_t len, uint64_t *off);

/* Copy len bytes at link-time vaddr (same rules). 0 or -EFAULT. */
int sp_ufile_read(const sp_ufile *f, uint64_t vaddr, void *buf, size_t len);

/* Load bias of a mapping of f that starts at runtime address `start` with
 * file offset `offset` (as /proc/PID/maps gives them): runtime = link + bias.
 * 0, or -ENOENT when no PT_LOAD covers that offset. */
int sp_ufile_bias(const sp_ufile *f, uint64_t start, uint64_t offset, uint64_t *bias);

/* Files currently open in the cache (tests, diagnostics). */
size_t sp_ufile_cached(void);

#endif
