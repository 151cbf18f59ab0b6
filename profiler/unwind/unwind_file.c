/* ELF files for the unwinder: mapped read-only, shared process-wide.
 *
 * Only what libunwind's remote API reads through access_mem is served:
 * .eh_frame_hdr, .eh_frame and code bytes (PLT and signal-trampoline
 * checks), all in read-only PT_LOADs whose file bytes are what every process
 * mapping the file sees. The descriptor is closed once the file is mapped:
 * in a profiled host we hold no fds. A file truncated while mapped would
 * fault on access; installers replace libraries by rename, which leaves
 * this mapping (the old inode) intact. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolizer/procmaps.h"
#include "unwind/unwind_file.h"

#define MAP_PAGE 4096u /* x86-64: maps offsets are 4 KiB aligned */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static sp_ufile *cache_head;
static size_t cache_n;

static size_t enc_size(uint8_t enc)
{
	switch (enc & 0x0f) {
	case 0x00: return sizeof(uint64_t); /* absptr */
	case 0x02: case 0x0a: return 2;
	case 0x03: case 0x0b: return 4;
	case 0x04: case 0x0c: return 8;
	default: return 0;
	}
}

/* An absolute (not pc- or data-relative) fde_count field. */
static int read_count(const uint8_t *p, uint8_t enc, uint64_t *out)
{
	if ((enc & 0x70) != 0)
		return -1;
	switch (enc & 0x0f) {
	case 0x00: case 0x04: case 0x0c: { uint64_t v; memcpy(&v, p, 8); *out = v; return 0; }
	case 0x03: { uint32_t v; memcpy(&v, p, 4); *out = v; return 0; }
	case 0x0b: { int32_t v; memcpy(&v, p, 4); if (v < 0) return -1; *out = (uint64_t)v; return 0; }
	case 0x02: { uint16_t v; memcpy(&v, p, 2); *out = v; return 0; }
	default: return -1;
	}
}

int sp_ufile_offset(const sp_ufile *f, uint64_t vaddr, size_t len, uint64_t *off)
{
	for (size_t i = 0; i < f->n_loads; i++) {
		const sp_ufile_load *l = &f->loads[i];

		if ((l->flags & PF_W) || vaddr < l->vaddr || vaddr - l->vaddr > l->filesz ||
		    len > l->filesz - (vaddr - l->vaddr))
			continue;
		*off = l->offset + (vaddr - l->vaddr);
		return 0;
	}
	return -EFAULT;
}

int sp_ufile_read(const sp_ufile *f, uint64_t vaddr, void *buf, size_t len)
{
	uint64_t off;

	if (sp_ufile_offset(f, vaddr, len, &off) < 0)
		return -EFAULT;
	memcpy(buf, f->data + off, len);
	return 0;
}

int sp_ufile_bias(const sp_ufile *f, uint64_t start, uint64_t offset, uint64_t *bias)
{
	/* Executable segments first: the caller maps r-x mappings. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < f->n_loads; i++) {
			const sp_ufile_load *l = &f->loads[i];

			if (!pass && !(l->flags & PF_X))
				continue;
			if (offset < (l->offset & ~(uint64_t)(MAP_PAGE - 1)) ||
			    offset >= l->offset + (l->filesz ? l->filesz : 1))
				continue;
			/* file offset X of this segment is at link vaddr
			 * l->vaddr + (X - l->offset) */
			*bias = start - (l->vaddr + offset - l->offset);
			return 0;
		}
	}
	return -ENOENT;
}

/* Program headers, text range and .eh_frame_hdr of f->data. */
static int parse(sp_ufile *f)
{
	Elf64_Ehdr eh;
	uint64_t hdr = 0;

	if (f->size < sizeof(eh))
		return -ENOEXEC;
	memcpy(&eh, f->data, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > f->size ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > f->size - eh.e_phoff)
		return -ENOEXEC;
	f->text_lo = UINT64_MAX;
	f->text_hi = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, f->data + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_GNU_EH_FRAME) {
			hdr = ph.p_vaddr;
			continue;
		}
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		/* A segment past the end of the file (truncated copy) or one
		 * that wraps: not a file we can serve bytes from. */
		if (f->n_loads == SP_UFILE_MAX_LOADS || ph.p_filesz > ph.p_memsz ||
		    ph.p_offset > f->size || ph.p_filesz > f->size - ph.p_offset ||
		    ph.p_vaddr + ph.p_memsz < ph.p_vaddr)
			return -ENOEXEC;
		f->loads[f->n_loads++] = (sp_ufile_load){ ph.p_vaddr, ph.p_filesz, ph.p_memsz,
							  ph.p_offset, ph.p_flags };
		if (ph.p_flags & PF_X) {
			if (ph.p_vaddr < f->text_lo)
				f->text_lo = ph.p_vaddr;
			if (ph.p_vaddr + ph.p_memsz > f->text_hi)
				f->text_hi = ph.p_vaddr + ph.p_memsz;
		}
	}
	if (f->text_lo >= f->text_hi)
		f->text_lo = f->text_hi = 0;

	uint8_t h[4 + 8 + 8];
	if (!hdr || sp_ufile_read(f, hdr, h, 4) < 0)
		return 0; /* no table: libunwind falls back to its heuristics */
	size_t ptr_sz = enc_size(h[1]), cnt_sz = enc_size(h[2]);
	uint64_t count, table;
	/* Version 1, table datarel|sdata4 (0x3b): libunwind's remote table
	 * search assumes {int32 ip, int32 fde} pairs relative to the header. */
	if (h[0] != 1 || h[3] != 0x3b || !ptr_sz || !cnt_sz ||
	    sp_ufile_read(f, hdr, h, 4 + ptr_sz + cnt_sz) < 0 ||
	    read_count(h + 4 + ptr_sz, h[2], &count) < 0 || count == 0 || count >= (1ull << 28))
		return 0;
	table = hdr + 4 + ptr_sz + cnt_sz;
	if (sp_ufile_offset(f, table, count * 8, &(uint64_t){ 0 }) < 0)
		return 0;
	f->eh_hdr = hdr;
	f->table = table;
	f->fde_count = count;
	return 0;
}

static void unmap(sp_ufile *f)
{
	if (!f->vdso && f->data)
		munmap((void *)f->data, f->size);
	free(f);
}

static sp_ufile *find_locked(const char *build_id, const struct stat *st)
{
	for (sp_ufile *f = cache_head; f; f = f->next) {
		if (build_id && build_id[0] ? !strcmp(f->build_id, build_id)
		    : st && f->dev == (uint64_t)st->st_dev && f->ino == (uint64_t)st->st_ino &&
		      f->fsize == (uint64_t)st->st_size &&
		      f->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec) {
			f->refs++;
			return f;
		}
	}
	return NULL;
}

sp_ufile *sp_ufile_open(const char *path, const char *build_id)
{
	struct stat st;
	sp_ufile *f;
	char id[41] = "";
	int fd, r;

	if (!path || path[0] != '/') {
		errno = ENOENT;
		return NULL;
	}
	/* Same build-id, same bytes: no need to touch the file. */
	if (build_id && build_id[0]) {
		pthread_mutex_lock(&cache_lock);
		f = find_locked(build_id, NULL);
		pthread_mutex_unlock(&cache_lock);
		if (f)
			return f;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr)) {
		r = -ENOEXEC;
		goto fail_fd;
	}
	if (!build_id || !build_id[0]) {
		pthread_mutex_lock(&cache_lock);
		f = find_locked(NULL, &st);
		pthread_mutex_unlock(&cache_lock);
		if (f) {
			close(fd);
			return f;
		}
	}
	sp_fd_build_id_hex(fd, id, sizeof(id));
	if (build_id && build_id[0] && strcmp(id, build_id)) {
		r = -ESTALE; /* replaced since the process mapped it */
		goto fail_fd;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	r = map == MAP_FAILED ? -errno : 0;
	close(fd);
	if (r < 0)
		goto fail;
	f = calloc(1, sizeof(*f));
	if (!f) {
		munmap(map, (size_t)st.st_size);
		r = -ENOMEM;
		goto fail;
	}
	f->data = map;
	f->size = (size_t)st.st_size;
	snprintf(f->build_id, sizeof(f->build_id), "%s", id);
	f->dev = (uint64_t)st.st_dev;
	f->ino = (uint64_t)st.st_ino;
	f->fsize = (uint64_t)st.st_size;
	f->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	f->refs = 1;
	r = parse(f);
	if (r < 0) {
		unmap(f);
		goto fail;
	}
	pthread_mutex_lock(&cache_lock);
	/* Another thread may have opened the same file meanwhile. */
	sp_ufile *dup = find_locked(id[0] ? id : NULL, &st);
	if (!dup) {
		f->next = cache_head;
		cache_head = f;
		cache_n++;
	}
	pthread_mutex_unlock(&cache_lock);
	if (dup) {
		unmap(f);
		return dup;
	}
	return f;
fail_fd:
	close(fd);
fail:
	errno = -r;
	return NULL;
}

static pthread_once_t vdso_once = PTHREAD_ONCE_INIT;
static sp_ufile vdso_file;
static bool vdso_ok;

static void vdso_init(void)
{
	size_t size;
	const void *image = sp_vdso_image(&size);

	if (!image)
		return;
	vdso_file.data = image;
	vdso_file.size = size;
	vdso_file.vdso = true;
	vdso_ok = parse(&vdso_file) == 0;
}

sp_ufile *sp_ufile_vdso(void)
{
	pthread_once(&vdso_once, vdso_init);
	if (!vdso_ok) {
		errno = ENOENT;
		return NULL;
	}
	return &vdso_file; /* static: never counted, never freed */
}

void sp_ufile_put(sp_ufile *f)
{
	if (!f || f->vdso)
		return;
	pthread_mutex_lock(&cache_lock);
	if (--f->refs) {
		pthread_mutex_unlock(&cache_lock);
		return;
	}
	for (sp_ufile **p = &cache_head; *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			cache_n--;
			break;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	unmap(f);
}

size_t sp_ufile_cached(void)
{
	pthread_mutex_lock(&cache_lock);
	size_t n = cache_n;
	pthread_mutex_unlock(&cache_lock);
	return n;
}
