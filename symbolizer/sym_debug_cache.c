/* Uncompressed copies of separate debug files, by build-id.
 *
 * Debian's -dbg packages (libc6-dbg among them) ship their DWARF sections
 * zlib-compressed (SHF_COMPRESSED), and libdw inflates every one of them
 * whenever it opens the file: about 40 ms of CPU for libc, paid by each
 * consumer, the largest fixed cost of a short `spanprof record`. The first
 * consumer that needs such a file writes a copy with the sections
 * inflated, named by its build-id, as perf keeps ~/.debug; later ones map
 * that copy as it is.
 *
 * The cache directory is the user's own (0700, files 0600, owner checked);
 * a copy is used only when its build-id is the module's. Everything is
 * best-effort: any failure leaves the original file in use. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "base/env.h"
#include "symbolizer/sym_internal.h"

/* All copies together stay under this; the least recently used go first. */
#define CACHE_CAP_BYTES ((off_t)1 << 30)

const char *sp_debug_cache_default_dir(char *buf, size_t len)
{
	const char *v = sp_getenv("SPANPROF_DEBUG_CACHE");
	const char *base;
	int n;

	if (v && *v)
		return strcmp(v, "off") ? v : NULL;
	if ((base = sp_getenv("XDG_CACHE_HOME")) && base[0] == '/')
		n = snprintf(buf, len, "%s/spanprof/debug", base);
	else if ((base = sp_getenv("HOME")) && base[0] == '/')
		n = snprintf(buf, len, "%s/.cache/spanprof/debug", base);
	else
		return NULL;
	return n > 0 && (size_t)n < len ? buf : NULL;
}

/* Some .debug_* section is compressed. */
static bool compressed_debug(int fd)
{
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t shstrndx;
	bool found = false;

	if (!e)
		return false;
	if (elf_kind(e) == ELF_K_ELF && elf_getshdrstrndx(e, &shstrndx) == 0) {
		for (Elf_Scn *scn = NULL; !found && (scn = elf_nextscn(e, scn));) {
			GElf_Shdr sh;
			const char *name;

			if (!gelf_getshdr(scn, &sh) || !(sh.sh_flags & SHF_COMPRESSED))
				continue;
			name = elf_strptr(e, shstrndx, sh.sh_name);
			found = name && !strncmp(name, ".debug_", 7);
		}
	}
	elf_end(e);
	return found;
}

/* The directory, made 0700 if need be; it must be ours and closed to others. */
static int make_dir(const char *dir)
{
	struct stat st;
	int r = sp_mkdir_p(dir, 0700);

	if (r)
		return r;
	if (lstat(dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
		return -EPERM;
	return 0;
}

/* Every section's bytes lie inside the file: a whole copy (a cut one would
 * pass the build-id check, its note being near the start). */
static bool within_file(int fd, off_t size)
{
	Elf *e = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	size_t n = 0;
	bool ok;

	if (!e)
		return false;
	ok = elf_kind(e) == ELF_K_ELF;
	for (Elf_Scn *scn = NULL; ok && (scn = elf_nextscn(e, scn)); n++) {
		GElf_Shdr sh;

		ok = gelf_getshdr(scn, &sh) &&
		     (sh.sh_type == SHT_NOBITS || sh.sh_offset + sh.sh_size <= (uint64_t)size);
	}
	elf_end(e);
	return ok && n > 0;
}

/* A cached copy that is ours, regular, whole, with the module's build-id. */
static int open_copy(const char *path, const char *build_id)
{
	char id[41];
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    sp_fd_build_id_hex(fd, id, sizeof(id)) < 0 || strcmp(id, build_id) ||
	    !within_file(fd, st.st_size) || compressed_debug(fd)) {
		close(fd);
		unlink(path); /* not a copy we can use: make a new one */
		return -1;
	}
	/* Its age is its last use, for the eviction below. */
	futimens(fd, NULL);
	return fd;
}

/* Remove the least recently used copies until `need` more bytes fit. */
static void make_room(const char *dir, off_t need)
{
	for (int round = 0; round < 64; round++) {
		DIR *d = opendir(dir);
		struct dirent *de;
		char oldest[NAME_MAX + 1] = "";
		struct timespec old_t = { 0, 0 };
		off_t total = 0;

		if (!d)
			return;
		while ((de = readdir(d))) {
			struct stat st;
			size_t n = strlen(de->d_name);

			if (n < 7 || strcmp(de->d_name + n - 6, ".debug") ||
			    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			total += st.st_size;
			if (!oldest[0] || st.st_mtim.tv_sec < old_t.tv_sec ||
			    (st.st_mtim.tv_sec == old_t.tv_sec && st.st_mtim.tv_nsec < old_t.tv_nsec)) {
				snprintf(oldest, sizeof(oldest), "%s", de->d_name);
				old_t = st.st_mtim;
			}
		}
		if (total + need <= CACHE_CAP_BYTES || !oldest[0]) {
			closedir(d);
			return;
		}
		unlinkat(dirfd(d), oldest, 0);
		closedir(d);
	}
}

static int copy_fd(int from, int to)
{
	char buf[1 << 16];
	off_t at = 0;
	ssize_t n;

	/* pread: the caller's descriptor keeps its offset. */
	while ((n = pread(from, buf, sizeof(buf), at)) > 0) {
		at += n;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(to, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return -errno;
			}
			off += w;
		}
	}
	return n < 0 ? -errno : 0;
}

/* The file as it is, then every compressed section inflated in place;
 * libelf lays the sections out again. */
static int write_copy(const char *path, int src_fd)
{
	sp_atomic_file af;
	Elf *e;
	int fd, r;

	r = sp_atomic_file_open(&af, path, 0600);
	if (r)
		return r;
	r = copy_fd(src_fd, fileno(af.f));
	if (r)
		goto fail;
	/* libelf reads what it rewrites; the temp file was opened write-only.
	 * The commit's fsync covers this descriptor's writes (same inode). */
	fd = open(af.tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	e = elf_begin(fd, ELF_C_RDWR, NULL);
	if (!e) {
		close(fd);
		r = -EINVAL;
		goto fail;
	}
	for (Elf_Scn *scn = NULL; (scn = elf_nextscn(e, scn));) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && (sh.sh_flags & SHF_COMPRESSED) &&
		    elf_compress(scn, 0, 0) < 0) {
			r = -EINVAL;
			break;
		}
	}
	if (r == 0 && elf_update(e, ELF_C_WRITE) < 0)
		r = -EIO;
	elf_end(e);
	close(fd);
	if (r)
		goto fail;
	return sp_atomic_file_commit(&af);
fail:
	sp_atomic_file_abort(&af);
	return r;
}

/* dir/<build-id>.debug, or false for a build-id that cannot name a file. */
static bool copy_path(char *path, size_t len, const char *dir, const char *build_id)
{
	int n;

	if (!dir || !dir[0] || !build_id || strlen(build_id) < 8 ||
	    strspn(build_id, "0123456789abcdef") != strlen(build_id))
		return false;
	n = snprintf(path, len, "%s/%s.debug", dir, build_id);
	return n > 0 && (size_t)n < len;
}

int sp_debug_cache_lookup(const char *dir, const char *build_id)
{
	char path[PATH_MAX];

	return copy_path(path, sizeof(path), dir, build_id) ? open_copy(path, build_id) : -1;
}

void sp_debug_cache_store(const char *dir, const char *build_id, int src_fd)
{
	char path[PATH_MAX];
	struct stat st;

	if (elf_version(EV_CURRENT) == EV_NONE || !copy_path(path, sizeof(path), dir, build_id))
		return;
	if (!compressed_debug(src_fd) || fstat(src_fd, &st) < 0 || make_dir(dir))
		return;
	/* Inflated DWARF is about four times the compressed file. */
	make_room(dir, st.st_size * 4);
	write_copy(path, src_fd);
}
