/* One module file for the symbolizer: its own Dwfl with the ELF reported at
 * bias 0, its PT_LOAD table (file offset -> vaddr), a sorted function-symbol
 * index, and the debug-file lookup.
 *
 * Debug files are found by build-id (<root>/.build-id/xx/rest.debug) and by
 * .gnu_debuglink, both with our own callback: dwfl_standard_find_debuginfo
 * would fall back to network debuginfod whenever DEBUGINFOD_URLS is set. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <elfutils/libdwelf.h>
#include <zlib.h>

#include "symbolizer/sym_internal.h"

/* The main ELF is always reported with an open fd, so libdwfl never needs
 * to look for it; returning -1 keeps it from trying anything else. */
static int find_elf_none(Dwfl_Module *mod, void **userdata, const char *modname,
			 Dwarf_Addr base, char **file_name, Elf **elfp)
{
	return -1;
}

static bool same_file(int fd, const char *path)
{
	struct stat a, b;

	return path && fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino;
}

static uint32_t file_crc32(int fd)
{
	unsigned char buf[65536];
	uLong crc = crc32(0L, Z_NULL, 0);
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		crc = crc32(crc, buf, (uInt)n);
	lseek(fd, 0, SEEK_SET);
	return (uint32_t)crc;
}

/* A debuglink candidate is right when its build-id equals the module's, or,
 * without build-ids, when its CRC matches the one in .gnu_debuglink. */
static int try_debug_file(const sp_sym_module *m, const char *path, const char *main_file,
			  uint32_t crc, bool trust, char **out_name)
{
	char id[41];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (same_file(fd, main_file))
		goto reject;
	if (!trust) {
		if (m->build_id[0]) {
			if (sp_fd_build_id_hex(fd, id, sizeof(id)) < 0 || strcmp(id, m->build_id))
				goto reject;
		} else if (!crc || file_crc32(fd) != crc) {
			goto reject;
		}
	}
	*out_name = strdup(path);
	return fd;
reject:
	close(fd);
	return -1;
}

/* a + b + c into out; false when it does not fit. */
static bool join3(char *out, size_t n, const char *a, const char *b, const char *c)
{
	int r = snprintf(out, n, "%s%s%s", a, b, c);

	return r >= 0 && (size_t)r < n;
}

static int find_debuginfo_file(Dwfl_Module *mod, void **userdata, const char *modname,
			       Dwarf_Addr base, const char *file_name, const char *debuglink,
			       GElf_Word crc, char **debuginfo_file_name)
{
	sp_sym_module *m = *userdata;
	char dir[PATH_MAX], cand[PATH_MAX];
	const char *p;
	char *slash;
	int fd;

	/* By build-id under the absolute roots; also finds dwz alt files. */
	fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name, debuglink,
					  crc, debuginfo_file_name);
	if (fd >= 0 || !debuglink || !m || !m->debuginfo_path)
		return fd;

	/* An absolute name without CRC is a dwz alt link: take it as named. */
	if (debuglink[0] == '/')
		return try_debug_file(m, debuglink, file_name, crc, crc == 0, debuginfo_file_name);
	/* <root><dir>/ needs an absolute directory; symlinks resolved. */
	if (!file_name || !realpath(file_name, dir))
		return -1;
	slash = strrchr(dir, '/');
	if (!slash)
		return -1;
	*slash = '\0';

	/* Same places as gdb and libdwfl: the file's directory, its .debug/
	 * subdirectory, and <root><dir>/ for each absolute root; plus <root>/
	 * itself so a flat --debug-dir works. */
	for (p = m->debuginfo_path; p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL) {
		size_t len = strcspn(p, ":");
		char elem[PATH_MAX];

		snprintf(elem, sizeof(elem), "%.*s", (int)len, p);
		char *e = elem;
		if (*e == '+' || *e == '-')
			e++;
		char sub[PATH_MAX];
		bool ok;

		if (*e == '/') {
			if (join3(sub, sizeof(sub), e, dir, "/") &&
			    join3(cand, sizeof(cand), sub, debuglink, "") &&
			    (fd = try_debug_file(m, cand, file_name, crc, false,
						 debuginfo_file_name)) >= 0)
				return fd;
			ok = join3(cand, sizeof(cand), e, "/", debuglink);
		} else if (*e) {
			ok = join3(sub, sizeof(sub), dir, "/", e) &&
			     join3(cand, sizeof(cand), sub, "/", debuglink);
		} else {
			ok = join3(cand, sizeof(cand), dir, "/", debuglink);
		}
		if (ok && (fd = try_debug_file(m, cand, file_name, crc, false,
					       debuginfo_file_name)) >= 0)
			return fd;
	}
	return -1;
}

/* The uncompressed copy from the cache when there is one; else the debug
 * file, copied into the cache for next time when its DWARF is compressed.
 * (Not returned now: libdwfl's build-id lookup has already attached the
 * file it found to the module.) Only for the module's own debug file: a dwz
 * alt file is asked for with its name and no CRC. */
static int find_debuginfo(Dwfl_Module *mod, void **userdata, const char *modname,
			  Dwarf_Addr base, const char *file_name, const char *debuglink,
			  GElf_Word crc, char **debuginfo_file_name)
{
	sp_sym_module *m = *userdata;
	bool cached = m && m->debug_cache && m->build_id[0] && (!debuglink || crc);
	int fd;

	if (cached && (fd = sp_debug_cache_lookup(m->debug_cache, m->build_id)) >= 0)
		return fd;
	fd = find_debuginfo_file(mod, userdata, modname, base, file_name, debuglink, crc,
				 debuginfo_file_name);
	if (cached && fd >= 0)
		sp_debug_cache_store(m->debug_cache, m->build_id, fd);
	return fd;
}

/* The vDSO has no file: copy its image into a memfd so it goes through the
 * same reporting path as a real file. */
static int vdso_fd(void)
{
	size_t size;
	const void *image = sp_vdso_image(&size);
	int fd;

	if (!image)
		return -ENOENT;
	fd = memfd_create("spanprof-vdso", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, image, size) != (ssize_t)size || lseek(fd, 0, SEEK_SET) < 0) {
		close(fd);
		return -EIO;
	}
	return fd;
}

static int read_loads(sp_sym_module *m)
{
	Dwarf_Addr bias;
	Elf *elf = dwfl_module_getelf(m->mod, &bias);
	size_t n;

	if (!elf || elf_getphdrnum(elf, &n) < 0)
		return -ENOEXEC;
	m->loads = calloc(n ? n : 1, sizeof(*m->loads));
	if (!m->loads)
		return -ENOMEM;
	bool code = false;

	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		/* A debug-only file keeps the headers with p_filesz 0: such a
		 * segment says nothing about file offsets. */
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !ph.p_filesz)
			continue;
		code |= (ph.p_flags & PF_X) != 0;
		/* Addresses dwfl hands out include the bias (0 for us, but do
		 * not depend on it). */
		m->loads[m->n_loads++] = (struct sp_sym_load){ ph.p_offset, ph.p_filesz,
							       ph.p_vaddr + bias };
	}
	return code ? 0 : -ENOEXEC;
}

static void module_build_id(sp_sym_module *m)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(m->mod, &bits, &vaddr);

	m->build_id[0] = '\0';
	for (int i = 0; i < n && i < 20; i++) {
		m->build_id[2 * i] = digits[bits[i] >> 4];
		m->build_id[2 * i + 1] = digits[bits[i] & 15];
		m->build_id[2 * i + 2] = '\0';
	}
}

/* Report one file; on success the module owns the fd. */
static int open_one(sp_sym_module *m, const char *path, const char *want_id)
{
	void **userdata;
	int fd, ret;

	fd = strcmp(path, "[vdso]") ? open(path, O_RDONLY | O_CLOEXEC) : vdso_fd();
	if (fd < 0)
		return fd == -1 ? -errno : fd;

	m->callbacks = (Dwfl_Callbacks){ .find_elf = find_elf_none,
					 .find_debuginfo = find_debuginfo,
					 .debuginfo_path = &m->dwfl_path };
	m->dwfl = dwfl_begin(&m->callbacks);
	if (!m->dwfl) {
		close(fd);
		return -ENOMEM;
	}
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, path, path, fd, 0, true);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (!m->mod) {
		close(fd); /* not consumed on failure */
		ret = -ENOEXEC;
		goto fail;
	}
	dwfl_module_info(m->mod, &userdata, NULL, NULL, NULL, NULL, NULL, NULL);
	*userdata = m;
	ret = read_loads(m);
	if (ret)
		goto fail;
	module_build_id(m);
	if (want_id && want_id[0] && m->build_id[0] && strcmp(want_id, m->build_id)) {
		ret = -ESTALE; /* rebuilt since the profile was taken */
		goto fail;
	}
	m->path = strdup(path);
	if (!m->path) {
		ret = -ENOMEM;
		goto fail;
	}
	return 0;
fail:
	sp_sym_module_close(m);
	return ret;
}

int sp_sym_module_open(sp_sym_module *m, const char *open_path, const char *build_id,
		       const char *debuginfo_path)
{
	const char *p;
	int ret;

	sp_elf_init();
	*m = (sp_sym_module){ .debuginfo_path = debuginfo_path };
	m->dwfl_path = (char *)debuginfo_path;
	ret = open_one(m, open_path, build_id);
	if (ret == 0 || !build_id || strlen(build_id) < 3)
		return ret;

	/* The file is gone or different: look for the binary by build-id,
	 * <root>/.build-id/xx/rest as perf's build-id cache and debuginfod
	 * caches keep it, then rest.debug in case it is a full copy (a plain
	 * --only-keep-debug file is refused by read_loads: its program
	 * headers no longer give file offsets). */
	for (p = debuginfo_path; p; p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL) {
		size_t len = strcspn(p, ":");
		char cand[PATH_MAX];

		if (*p == '+' || *p == '-')
			p++, len--;
		if (*p != '/')
			continue;
		for (int debug = 0; debug < 2; debug++) {
			snprintf(cand, sizeof(cand), "%.*s/.build-id/%.2s/%s%s", (int)len, p,
				 build_id, build_id + 2, debug ? ".debug" : "");
			*m = (sp_sym_module){ .debuginfo_path = debuginfo_path };
			m->dwfl_path = (char *)debuginfo_path;
			if (open_one(m, cand, build_id) == 0)
				return 0;
		}
	}
	*m = (sp_sym_module){ 0 };
	return ret;
}

void sp_sym_module_close(sp_sym_module *m)
{
	size_t pos = 0;
	sp_hashmap_ent *e;

	while ((e = sp_hashmap_next(&m->cus, &pos)))
		sp_sym_cu_index_free(e->val.ptr);
	sp_hashmap_free(&m->cus);
	if (m->dwfl)
		dwfl_end(m->dwfl);
	free(m->loads);
	free(m->syms);
	free(m->plt_names);
	free(m->path);
	*m = (sp_sym_module){ 0 };
}

bool sp_sym_module_vaddr(const sp_sym_module *m, uint64_t offset, uint64_t *vaddr)
{
	for (size_t i = 0; i < m->n_loads; i++) {
		const struct sp_sym_load *l = &m->loads[i];

		if (offset >= l->offset && offset < l->offset + l->filesz) {
			*vaddr = offset - l->offset + l->vaddr;
			return true;
		}
	}
	return false;
}

/* ---- symbol index --------------------------------------------------------- */

static int sym_rank(const struct sp_sym_entry *e, int bind)
{
	int r = bind == STB_GLOBAL ? 300 : bind == STB_WEAK ? 200 : 100;

	/* Among aliases prefer the public spelling: "qsort" over "__qsort". */
	for (const char *p = e->name; *p == '_'; p++)
		r -= 10;
	return r;
}

struct sym_tmp {
	struct sp_sym_entry e;
	int rank;
};

static int cmp_sym(const void *a, const void *b)
{
	const struct sym_tmp *x = a, *y = b;

	if (x->e.addr != y->e.addr)
		return x->e.addr < y->e.addr ? -1 : 1;
	if (x->rank != y->rank)
		return y->rank - x->rank; /* best first */
	if (x->e.size != y->e.size)
		return x->e.size > y->e.size ? -1 : 1;
	return strcmp(x->e.name, y->e.name);
}

/* x86-64 PLT stubs have no symbol: the nearest one below is often the
 * sizeless _init. Name them "sym@plt" as binutils and perf do: with lazy
 * binding .plt entry i+1 (entry 0 calls the resolver) and, with IBT,
 * .plt.sec entry i jump through the GOT slot of .rela.plt[i]. 16-byte
 * entries only (what GNU ld and lld emit). Appends to t[*k], which has room
 * for max entries; names go to m->plt_names. */
static void add_plt_symbols(sp_sym_module *m, struct sym_tmp *t, size_t *k, size_t max)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(m->mod, &bias);
	Elf_Scn *scn = NULL, *rela = NULL, *plt = NULL, *plt_sec = NULL;
	GElf_Shdr sh, rsh, dsh;
	GElf_Ehdr eh;
	size_t shstr, n_rel, used = 0, cap;
	Elf_Data *rd, *dd;

	if (!elf || !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstr) < 0)
		return;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstr, sh.sh_name)))
			continue;
		if (!strcmp(name, ".rela.plt") && sh.sh_type == SHT_RELA)
			rela = scn;
		else if (!strcmp(name, ".plt") && sh.sh_type == SHT_PROGBITS)
			plt = scn;
		else if (!strcmp(name, ".plt.sec") && sh.sh_type == SHT_PROGBITS)
			plt_sec = scn;
	}
	if (!rela || !(plt || plt_sec) || !gelf_getshdr(rela, &rsh) || !rsh.sh_entsize ||
	    !(rd = elf_getdata(rela, NULL)))
		return;
	Elf_Scn *dynsym = elf_getscn(elf, rsh.sh_link);
	if (!dynsym || !gelf_getshdr(dynsym, &dsh) || !(dd = elf_getdata(dynsym, NULL)))
		return;
	n_rel = rsh.sh_size / rsh.sh_entsize;
	cap = n_rel * 2 * 64;
	m->plt_names = malloc(cap ? cap : 1);
	if (!m->plt_names)
		return;
	for (int pass = 0; pass < 2; pass++) {
		Elf_Scn *sec = pass ? plt_sec : plt;
		size_t first = pass ? 0 : 1;

		if (!sec || !gelf_getshdr(sec, &sh))
			continue;
		for (size_t i = 0; i < n_rel && *k < max; i++) {
			GElf_Rela r;
			GElf_Sym sym;
			const char *sname;
			uint64_t addr = sh.sh_addr + 16 * (i + first);
			int len;

			if (addr + 16 > sh.sh_addr + sh.sh_size || !gelf_getrela(rd, (int)i, &r) ||
			    !GELF_R_SYM(r.r_info) || !gelf_getsym(dd, (int)GELF_R_SYM(r.r_info), &sym) ||
			    !(sname = elf_strptr(elf, dsh.sh_link, sym.st_name)) || !*sname)
				continue;
			len = snprintf(m->plt_names + used, cap - used, "%.58s@plt", sname);
			if (len < 0 || (size_t)len + 1 > cap - used)
				break;
			t[*k].e = (struct sp_sym_entry){ addr + bias, 16, m->plt_names + used };
			t[*k].rank = 0; /* a real symbol at the same address wins */
			(*k)++;
			used += (size_t)len + 1;
		}
	}
}

static size_t plt_entries(sp_sym_module *m)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(m->mod, &bias);
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	size_t shstr;

	if (!elf || elf_getshdrstrndx(elf, &shstr) < 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		const char *name;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA && sh.sh_entsize &&
		    (name = elf_strptr(elf, shstr, sh.sh_name)) && !strcmp(name, ".rela.plt"))
			return 2 * (sh.sh_size / sh.sh_entsize);
	}
	return 0;
}

static void build_symbols(sp_sym_module *m)
{
	int n = dwfl_module_getsymtab(m->mod);
	size_t n_plt = plt_entries(m);
	struct sym_tmp *t;
	size_t k = 0;

	m->syms_built = true;
	if (n <= 0 && !n_plt)
		return;
	t = malloc(((size_t)(n > 0 ? n : 0) + n_plt + 1) * sizeof(*t));
	if (!t)
		return;
	for (int i = 1; i < n; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		GElf_Word shndx;
		const char *name = dwfl_module_getsym_info(m->mod, i, &sym, &addr, &shndx, NULL,
							   NULL);
		int type = GELF_ST_TYPE(sym.st_info);

		if (!name || !name[0] || shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		t[k].e = (struct sp_sym_entry){ addr, sym.st_size, name };
		t[k].rank = sym_rank(&t[k].e, GELF_ST_BIND(sym.st_info));
		k++;
	}
	add_plt_symbols(m, t, &k, k + n_plt);
	qsort(t, k, sizeof(*t), cmp_sym);
	m->syms = malloc((k ? k : 1) * sizeof(*m->syms));
	if (m->syms) {
		for (size_t i = 0; i < k; i++)
			if (!m->n_syms || m->syms[m->n_syms - 1].addr != t[i].e.addr)
				m->syms[m->n_syms++] = t[i].e; /* best alias only */
	}
	free(t);
}

const struct sp_sym_entry *sp_sym_module_symbol(sp_sym_module *m, uint64_t addr)
{
	size_t lo = 0, hi;

	if (!m->syms_built)
		build_symbols(m);
	hi = m->n_syms;
	while (lo < hi) { /* first symbol above addr */
		size_t mid = lo + (hi - lo) / 2;

		if (m->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* Usually the nearest symbol below contains addr; nested or
	 * overlapping symbols need a short look further back. */
	for (size_t i = lo, tries = 0; i > 0 && tries < 16; i--, tries++) {
		const struct sp_sym_entry *e = &m->syms[i - 1];

		if (addr < e->addr + e->size)
			return e;
		if (e->size == 0)
			return tries == 0 ? e : NULL; /* sizeless: nearest below */
	}
	return NULL;
}

Dwarf *sp_sym_module_dwarf(sp_sym_module *m)
{
	if (!m->dwarf_tried) {
		m->dwarf_tried = true;
		m->dw = dwfl_module_getdwarf(m->mod, &m->dwbias);
	}
	return m->dw;
}
