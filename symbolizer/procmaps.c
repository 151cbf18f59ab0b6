/* /proc/PID/maps: executable mappings and their GNU build-ids.
 *
 * Build-ids are cached process-wide by (path, inode, mtime, size): the same
 * libraries appear in every snapshot of every process. The cache has its own
 * lock because maps may be read from more than one thread (worker, agent). */
#include "symbolizer/procmaps.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>

#include "symbolizer/sym_internal.h"

static pthread_once_t elf_once = PTHREAD_ONCE_INIT;

static void elf_init_once(void)
{
	elf_version(EV_CURRENT);
}

void sp_elf_init(void)
{
	pthread_once(&elf_once, elf_init_once);
}

void sp_build_id_to_hex(const unsigned char *p, size_t n, char *hex, size_t hexlen)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n && 2 * i + 2 < hexlen; i++) {
		hex[2 * i] = digits[p[i] >> 4];
		hex[2 * i + 1] = digits[p[i] & 15];
	}
	hex[2 * i] = '\0';
}

static int elf_build_id_hex(Elf *elf, char *hex, size_t hexlen)
{
	const void *id;
	ssize_t n;

	if (!elf || elf_kind(elf) != ELF_K_ELF)
		return -ENOEXEC;
	n = dwelf_elf_gnu_build_id(elf, &id);
	if (n <= 0)
		return -ENOENT;
	sp_build_id_to_hex(id, (size_t)n, hex, hexlen);
	return 0;
}

int sp_fd_build_id_hex(int fd, char *hex, size_t hexlen)
{
	Elf *elf;
	int ret;

	if (hexlen)
		hex[0] = '\0';
	sp_elf_init();
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf)
		return -ENOEXEC;
	ret = elf_build_id_hex(elf, hex, hexlen);
	elf_end(elf);
	return ret;
}

int sp_elf_build_id_hex(const char *path, char *hex, size_t hexlen)
{
	int fd, ret;

	if (hexlen)
		hex[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = sp_fd_build_id_hex(fd, hex, hexlen);
	close(fd);
	return ret;
}

/* ---- vDSO ------------------------------------------------------------------ */

/* The vDSO has no file and no length: take the end of its section headers or
 * of its last segment, whichever is further. */
static size_t elf_image_size(const void *image)
{
	const Elf64_Ehdr *eh = image;
	size_t end;

	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64)
		return 0;
	end = eh->e_shoff + (size_t)eh->e_shnum * eh->e_shentsize;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)((const char *)image + eh->e_phoff +
						      (size_t)i * eh->e_phentsize);
		if (ph->p_offset + ph->p_filesz > end)
			end = ph->p_offset + ph->p_filesz;
	}
	return end;
}

const void *sp_vdso_image(size_t *size)
{
	const void *image = (const void *)getauxval(AT_SYSINFO_EHDR);

	*size = image ? elf_image_size(image) : 0;
	return *size ? image : NULL;
}

static pthread_once_t vdso_once = PTHREAD_ONCE_INIT;
static char vdso_id[41];

static void vdso_id_once(void)
{
	size_t size;
	const void *image = sp_vdso_image(&size);
	Elf *elf;

	if (!image)
		return;
	sp_elf_init();
	/* elf_memory wants a writable pointer but only reads in this mode. */
	elf = elf_memory((char *)image, size);
	if (elf) {
		elf_build_id_hex(elf, vdso_id, sizeof(vdso_id));
		elf_end(elf);
	}
}

/* ---- build-id cache --------------------------------------------------------- */

struct bid_ent {
	char *path;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	char id[41];
};

#define BID_CACHE_MAX 1024

static pthread_mutex_t bid_lock = PTHREAD_MUTEX_INITIALIZER;
static struct bid_ent bid_cache[BID_CACHE_MAX];
static size_t bid_n, bid_next;

static bool bid_match(const struct bid_ent *e, const char *path, const struct stat *st)
{
	return e->path && e->ino == st->st_ino && e->dev == st->st_dev &&
	       e->size == st->st_size && e->mtime.tv_sec == st->st_mtim.tv_sec &&
	       e->mtime.tv_nsec == st->st_mtim.tv_nsec && !strcmp(e->path, path);
}

/* Build-id of `open_path` (the file itself or /proc/PID/map_files/...),
 * cached under `key_path`. */
static void cached_build_id(const char *key_path, const char *open_path, char *hex, size_t hexlen)
{
	struct stat st;
	int fd;

	hex[0] = '\0';
	fd = open(open_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0)
		goto out;

	pthread_mutex_lock(&bid_lock);
	for (size_t i = 0; i < bid_n; i++) {
		if (bid_match(&bid_cache[i], key_path, &st)) {
			snprintf(hex, hexlen, "%s", bid_cache[i].id);
			pthread_mutex_unlock(&bid_lock);
			goto out;
		}
	}
	pthread_mutex_unlock(&bid_lock);

	/* Read outside the lock: it touches the file. */
	sp_fd_build_id_hex(fd, hex, hexlen);

	pthread_mutex_lock(&bid_lock);
	{
		struct bid_ent *e = &bid_cache[bid_next];
		char *p = strdup(key_path);

		if (p) {
			free(e->path);
			*e = (struct bid_ent){ .path = p, .dev = st.st_dev, .ino = st.st_ino,
					       .mtime = st.st_mtim, .size = st.st_size };
			snprintf(e->id, sizeof(e->id), "%s", hex);
			bid_next = (bid_next + 1) % BID_CACHE_MAX; /* FIFO eviction */
			if (bid_n < BID_CACHE_MAX)
				bid_n++;
		}
	}
	pthread_mutex_unlock(&bid_lock);
out:
	close(fd);
}

/* ---- maps ------------------------------------------------------------------- */

static int cmp_mod(const void *a, const void *b)
{
	const sp_module *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void sp_module_list_sort(sp_module_list *l)
{
	if (l->n) /* an empty list may have no array, and qsort wants one */
		qsort(l->mods, l->n, sizeof(*l->mods), cmp_mod);
}

static void module_build_id(sp_module *m, int pid)
{
	char alt[96];
	struct stat st;
	bool use_alt;

	m->build_id[0] = '\0';
	if (m->vdso) {
		pthread_once(&vdso_once, vdso_id_once);
		snprintf(m->build_id, sizeof(m->build_id), "%s", vdso_id);
		return;
	}
	if (m->path[0] != '/')
		return; /* anonymous or special ([vsyscall], memfd:...) */

	/* The exact mapped file: needed when it was deleted or replaced, or
	 * lives in another mount namespace. */
	snprintf(alt, sizeof(alt), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 pid ? pid : getpid(), m->start, m->end);
	use_alt = m->deleted || stat(m->path, &st) < 0 || (uint64_t)st.st_ino != m->inode;
	cached_build_id(m->path, use_alt ? alt : m->path, m->build_id, sizeof(m->build_id));
	if (!m->build_id[0] && !use_alt)
		cached_build_id(m->path, alt, m->build_id, sizeof(m->build_id));
}

/* One maps line: "start-end perms offset maj:min inode   path". Returns 1 for
 * an executable mapping (filled into *m; its path points into `line`), 0 to
 * skip. */
static int parse_line(char *line, sp_module *m)
{
	char perms[5];
	unsigned maj, min;
	int pos = 0;
	char *path;
	size_t len;

	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &m->start, &m->end, perms, &m->offset, &maj, &min, &m->inode, &pos) < 7 ||
	    pos == 0)
		return 0;
	if (strlen(perms) < 3 || perms[2] != 'x')
		return 0;
	path = line + pos;
	len = strlen(path);
	while (len && (path[len - 1] == '\n' || path[len - 1] == ' '))
		path[--len] = '\0';
	static const char deleted[] = " (deleted)";
	if (len >= sizeof(deleted) - 1 && !strcmp(path + len - (sizeof(deleted) - 1), deleted)) {
		path[len - (sizeof(deleted) - 1)] = '\0';
		m->deleted = true;
	}
	m->vdso = !strcmp(path, "[vdso]");
	m->path = path;
	return 1;
}

int sp_procmaps_scan(int pid, int (*cb)(void *arg, const sp_module *m), void *arg,
		     sp_error *err)
{
	char fname[64];
	FILE *f;
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	if (pid)
		snprintf(fname, sizeof(fname), "/proc/%d/maps", pid);
	else
		snprintf(fname, sizeof(fname), "/proc/self/maps");
	f = fopen(fname, "re");
	if (!f)
		return sp_error_set(err, -errno, "%s: %s; is the process still running?", fname,
				    strerror(errno));
	while (getline(&line, &cap, f) > 0) {
		sp_module m = { 0 };

		if (parse_line(line, &m) && (ret = cb(arg, &m)) != 0)
			break;
	}
	if (ret < 0)
		sp_error_set(err, ret, "%s: %s", fname, strerror(-ret));
	else if (ferror(f))
		ret = sp_error_set(err, -EIO, "%s: read error", fname);
	free(line);
	fclose(f);
	return ret < 0 ? ret : 0;
}

struct read_ctx {
	sp_module_list *out;
	size_t alloc;
	int pid;
};

static int read_cb(void *arg, const sp_module *pm)
{
	struct read_ctx *c = arg;
	sp_module m = *pm;

	if (c->out->n == c->alloc) {
		size_t na = c->alloc ? c->alloc * 2 : 32;
		sp_module *mods = realloc(c->out->mods, na * sizeof(*mods));

		if (!mods)
			return -ENOMEM;
		c->out->mods = mods;
		c->alloc = na;
	}
	m.path = strdup(pm->path);
	if (!m.path)
		return -ENOMEM;
	module_build_id(&m, c->pid);
	c->out->mods[c->out->n++] = m;
	return 0;
}

int sp_procmaps_read(int pid, sp_module_list *out, sp_error *err)
{
	struct read_ctx c = { out, 0, pid };
	int ret;

	*out = (sp_module_list){ 0 };
	ret = sp_procmaps_scan(pid, read_cb, &c, err);
	if (ret) {
		sp_procmaps_free(out);
		return ret;
	}
	sp_module_list_sort(out);
	return 0;
}

const sp_module *sp_procmaps_find(const sp_module_list *l, uint64_t addr)
{
	size_t lo = 0, hi = l->n;

	/* Last module with start <= addr. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->mods[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const sp_module *m = &l->mods[lo - 1];
	return addr < m->end ? m : NULL;
}

void sp_procmaps_free(sp_module_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->mods[i].path), free(l->mods[i].open_path);
	free(l->mods);
	*l = (sp_module_list){ 0 };
}

int sp_module_list_copy(const sp_module_list *in, sp_module_list *out)
{
	out->mods = NULL;
	out->n = 0;
	if (!in->n)
		return 0;
	out->mods = calloc(in->n, sizeof(*out->mods));
	if (!out->mods)
		return -ENOMEM;
	for (size_t i = 0; i < in->n; i++) {
		out->mods[i] = in->mods[i];
		out->mods[i].path = in->mods[i].path ? strdup(in->mods[i].path) : NULL;
		out->mods[i].open_path = in->mods[i].open_path ? strdup(in->mods[i].open_path) : NULL;
		if ((in->mods[i].path && !out->mods[i].path) ||
		    (in->mods[i].open_path && !out->mods[i].open_path)) {
			out->n = i;
			sp_procmaps_free(out);
			return -ENOMEM;
		}
	}
	out->n = in->n;
	return 0;
}
