/* Symbolizer, in-process cases: this test binary (built -O2 -g), libc's
 * qsort, the vDSO, the result cache, errors, demangling, and
 * sp_symbolize_profile including a deleted file read through map_files.
 * Separate debug files, stripped binaries, inlining and C++ are covered by
 * tests/integration/symbolizer.sh with purpose-built binaries. */
#include "test_util.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolizer/procmaps.h"
#include "model/profile.h"
#include "symbolizer/sym_internal.h"
#include "symbolizer/symbolizer.h"

static __attribute__((noinline)) void *return_address(void)
{
	void *ra = __builtin_return_address(0);

	__asm__ volatile("" : : "r"(ra) : "memory"); /* no tail call */
	return ra;
}

/* Runtime address -> (module, file offset) through our own maps. */
static const sp_module *locate(sp_module_list *l, uint64_t addr, uint64_t *off)
{
	const sp_module *m;

	assert_int_equal(sp_procmaps_read(0, l, NULL), 0);
	m = sp_procmaps_find(l, addr);
	assert_non_null(m);
	*off = addr - m->start + m->offset;
	return m;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return a >= b && !strcmp(s + a - b, suffix);
}

static void test_self_function_and_line(void **state)
{
	void *ra = return_address(); const int line = __LINE__;
	sp_symbolizer *s = sp_symbolizer_new(NULL, NULL);
	sp_module_list l;
	uint64_t off;
	sp_sym_result r;

	(void)state;
	assert_non_null(s);
	const sp_module *m = locate(&l, (uint64_t)(uintptr_t)ra - 1, &off);
	assert_int_equal(sp_symbolizer_lookup(s, m->path, m->build_id, off, &r), 0);
	assert_true(r.n_frames >= 1);
	assert_false(r.from_dynsym);
	const sp_sym_frame *f = &r.frames[r.n_frames - 1];
	assert_string_equal(f->function, "test_self_function_and_line");
	assert_string_equal(f->system_name, "test_self_function_and_line");
	assert_true(ends_with(f->file, "/tests/unit/test_symbolizer.c"));
	assert_int_equal(f->line, line);
	assert_true(f->column > 0);

	/* Same address again: served from the cache, same storage. */
	sp_sym_result again;
	sp_symbolize_stats st;
	assert_int_equal(sp_symbolizer_lookup(s, m->path, m->build_id, off, &again), 0);
	assert_ptr_equal(again.frames, r.frames);
	sp_symbolizer_stats(s, &st);
	assert_int_equal(st.addresses, 1);
	assert_int_equal(st.cache_hits, 1);
	assert_int_equal(st.resolved, 1);
	assert_int_equal(st.with_lines, 1);

	/* Keyed by path when there is no build-id: same answer. */
	assert_int_equal(sp_symbolizer_lookup(s, m->path, NULL, off, &again), 0);
	assert_string_equal(again.frames[again.n_frames - 1].function, f->function);

	sp_procmaps_free(&l);
	sp_symbolizer_free(s);
}

/* libc's own qsort (not a sanitizer's interceptor of it). */
static void *libc_qsort(void)
{
	void *h = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *q = h ? dlsym(h, "qsort") : NULL;

	if (h)
		dlclose(h);
	return q;
}

static void test_libc_qsort(void **state)
{
	sp_symbolizer *s = sp_symbolizer_new(NULL, NULL);
	void *q = libc_qsort();
	sp_module_list l;
	uint64_t off;
	sp_sym_result r;

	(void)state;
	assert_non_null(q);
	const sp_module *m = locate(&l, (uint64_t)(uintptr_t)q, &off);
	assert_non_null(strstr(m->path, "libc.so"));
	assert_int_equal(sp_symbolizer_lookup(s, m->path, m->build_id, off, &r), 0);
	assert_true(r.n_frames >= 1);
	/* The physical function: "qsort" from DWARF (libc6-dbg) or .dynsym. */
	assert_string_equal(r.frames[r.n_frames - 1].function, "qsort");
	sp_procmaps_free(&l);
	sp_symbolizer_free(s);
}

/* Address of a function in our vDSO image, from its .dynsym. */
static uint64_t vdso_symbol(const char *want)
{
	const char *image = (const char *)getauxval(AT_SYSINFO_EHDR);
	const Elf64_Ehdr *eh = (const void *)image;
	uint64_t load = 0, found = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (!image)
		return 0;
	for (int i = 0; i < eh->e_phnum; i++) {
		const Elf64_Phdr *ph = (const void *)(image + eh->e_phoff + i * eh->e_phentsize);

		if (ph->p_type == PT_LOAD) {
			load = ph->p_vaddr;
			break;
		}
	}
	elf_version(EV_CURRENT);
	elf = elf_memory((char *)image, 65536);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !(d = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(d, (int)i, &sym))
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name && !strcmp(name, want))
				found = (uint64_t)(uintptr_t)image + sym.st_value - load;
		}
	}
	if (elf)
		elf_end(elf);
	return found;
}

static void test_vdso(void **state)
{
	uint64_t addr = vdso_symbol("__vdso_clock_gettime");
	sp_symbolizer *s = sp_symbolizer_new(NULL, NULL);
	sp_module_list l;
	uint64_t off;
	sp_sym_result r;

	(void)state;
	if (!addr) {
		sp_symbolizer_free(s);
		skip();
	}
	const sp_module *m = locate(&l, addr + 4, &off);
	assert_true(m->vdso);
	assert_int_equal(sp_symbolizer_lookup(s, "[vdso]", m->build_id, off, &r), 0);
	assert_true(r.n_frames >= 1);
	assert_non_null(strstr(r.frames[r.n_frames - 1].function, "clock_gettime"));
	sp_procmaps_free(&l);
	sp_symbolizer_free(s);
}

static void test_errors(void **state)
{
	sp_symbolizer *s = sp_symbolizer_new(NULL, NULL);
	sp_sym_result r = { .n_frames = 7 };
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(sp_symbolizer_lookup(s, "/nonexistent/lib.so", NULL, 0x1000, &r), -ENOENT);
	assert_int_equal(r.n_frames, 0);
	/* Remembered, not retried. */
	assert_int_equal(sp_symbolizer_lookup(s, "/nonexistent/lib.so", NULL, 0x2000, &r), -ENOENT);
	/* Not an ELF file. */
	assert_true(sp_symbolizer_lookup(s, "/proc/self/maps", NULL, 0, &r) < 0);
	/* A build-id that is not the file's: rejected rather than misread. */
	assert_int_equal(sp_symbolizer_lookup(s, exe, "00112233445566778899aabbccddeeff00112233",
					      0x1000, &r), -ESTALE);
	/* An offset outside every PT_LOAD: nothing known, not an error. */
	assert_int_equal(sp_symbolizer_lookup(s, exe, NULL, 1ull << 40, &r), 0);
	assert_int_equal(r.n_frames, 0);
	sp_symbolizer_free(s);
}

static void test_demangle(void **state)
{
	char *d = sp_sym_demangle("_ZN3foo3barEi");

	(void)state;
	assert_string_equal(d, "foo::bar(int)");
	free(d);
	assert_null(sp_sym_demangle("main"));
	assert_null(sp_sym_demangle("f")); /* not the type "float" */
	assert_null(sp_sym_demangle("_Zbogus"));
	assert_null(sp_sym_demangle(NULL));
}

static const char *line_function(const sp_profile *p, const sp_location *l, size_t k)
{
	const sp_function *f = sp_profile_function(p, l->lines[k].function_id);

	return f ? sp_profile_str(p, f->name) : NULL;
}

static void test_symbolize_profile(void **state)
{
	void *ra = return_address(); const int line = __LINE__;
	sp_symbolizer *s = sp_symbolizer_new(NULL, NULL);
	sp_profile *p = sp_profile_new();
	sp_module_list l;
	sp_symbolize_stats st;
	sp_error err;
	uint64_t off, locs[5], addr = (uint64_t)(uintptr_t)ra - 1;
	uint64_t qsort_addr = (uint64_t)(uintptr_t)libc_qsort();
	int64_t v[2] = { 1, 1000000 };

	(void)state;
	assert_non_null(p);
	assert_int_equal(sp_profile_init_cpu(p, 1000000), 0);
	locate(&l, addr, &off);
	const sp_module *self = sp_procmaps_find(&l, addr);
	const sp_module *libc = sp_procmaps_find(&l, qsort_addr);
	assert_non_null(libc);
	uint64_t m1 = sp_profile_add_mapping(p, self->start, self->end, self->offset, self->path,
					     self->build_id);
	uint64_t m2 = sp_profile_add_mapping(p, libc->start, libc->end, libc->offset, libc->path,
					     libc->build_id);
	uint64_t m3 = sp_profile_add_mapping(p, 0x10000, 0x20000, 0, "/nonexistent/lib.so", "");
	uint64_t m4 = sp_profile_add_mapping(p, 0x30000, 0x40000, 0, "[heap]", "");
	uint64_t fn = sp_profile_add_function(p, "already", "already", "a.c", 1);
	sp_line done = { fn, 5, 0 };
	locs[0] = sp_profile_add_location(p, m1, addr, NULL, 0);
	locs[1] = sp_profile_add_location(p, m2, qsort_addr, NULL, 0);
	locs[2] = sp_profile_add_location(p, m3, 0x10100, NULL, 0);
	locs[3] = sp_profile_add_location(p, m4, 0x30100, NULL, 0);
	locs[4] = sp_profile_add_location(p, m1, addr + 1, &done, 1);
	assert_int_equal(sp_profile_add_sample(p, locs, 5, v, NULL, 0), 0);

	assert_int_equal(sp_symbolize_profile(s, p, 0, &st, &err), 0);
	assert_int_equal(st.addresses, 3); /* [heap] is not looked up */
	assert_int_equal(st.resolved, 2);
	assert_true(st.with_lines >= 1); /* libc has lines only with libc6-dbg */
	assert_int_equal(st.modules_missing, 1);

	const sp_location *loc = sp_profile_location(p, locs[0]);
	assert_true(loc->n_lines >= 1);
	assert_string_equal(line_function(p, loc, loc->n_lines - 1), "test_symbolize_profile");
	assert_int_equal(loc->lines[loc->n_lines - 1].line, line);
	const sp_function *f = sp_profile_function(p, loc->lines[loc->n_lines - 1].function_id);
	assert_true(ends_with(sp_profile_str(p, f->filename), "test_symbolizer.c"));

	loc = sp_profile_location(p, locs[1]);
	assert_string_equal(line_function(p, loc, loc->n_lines - 1), "qsort");
	assert_int_equal(sp_profile_location(p, locs[2])->n_lines, 0);
	assert_int_equal(sp_profile_location(p, locs[3])->n_lines, 0);
	loc = sp_profile_location(p, locs[4]);
	assert_int_equal(loc->n_lines, 1);
	assert_string_equal(line_function(p, loc, 0), "already");

	/* Own mapping: everything known, from DWARF. Missing/heap: nothing. */
	const sp_mapping *mp = sp_profile_mapping(p, m1);
	assert_true(mp->has_functions && mp->has_filenames && mp->has_line_numbers);
	assert_false(mp->has_inline_frames); /* the "already" location claims none */
	mp = sp_profile_mapping(p, m3);
	assert_false(mp->has_functions || mp->has_filenames || mp->has_line_numbers ||
		     mp->has_inline_frames);
	mp = sp_profile_mapping(p, m4);
	assert_false(mp->has_functions);
	assert_int_equal(sp_profile_validate(p, &err), 0);

	/* A second pass finds nothing left to do and keeps the flags. */
	assert_int_equal(sp_symbolize_profile(s, p, 0, &st, &err), 0);
	assert_int_equal(st.resolved, 0);
	assert_true(sp_profile_mapping(p, m1)->has_functions);

	sp_procmaps_free(&l);
	sp_profile_free(p);
	sp_symbolizer_free(s);
}

/* A copy of this binary, mapped and then deleted: the profile names a path
 * that no longer exists, and /proc/self/map_files still has the file. */
static void test_symbolize_deleted(void **state)
{
	char tmpl[] = "/tmp/spanprof-symdel-XXXXXX", buf[65536];
	int in = open("/proc/self/exe", O_RDONLY), out = mkstemp(tmpl);
	sp_symbolizer *s = sp_symbolizer_new(NULL, NULL);
	sp_profile *p = sp_profile_new();
	sp_symbolize_stats st;
	sp_module_list l;
	struct stat sb;
	uint64_t off, loc;
	int64_t v[2] = { 1, 1000000 };
	ssize_t n;
	void *map;

	(void)state;
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	assert_int_equal(fstat(out, &sb), 0);
	map = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, out, 0);
	close(out);
	unlink(tmpl);
	if (map == MAP_FAILED) {
		sp_symbolizer_free(s);
		sp_profile_free(p);
		skip();
	}
	const sp_module *self = locate(&l, (uint64_t)(uintptr_t)test_symbolize_deleted, &off);
	uint64_t base = (uint64_t)(uintptr_t)map;
	assert_int_equal(sp_profile_init_cpu(p, 1000000), 0);
	uint64_t m = sp_profile_add_mapping(p, base, base + (uint64_t)sb.st_size, 0, tmpl,
					    self->build_id);
	loc = sp_profile_add_location(p, m, base + off, NULL, 0);
	assert_int_equal(sp_profile_add_sample(p, &loc, 1, v, NULL, 0), 0);

	assert_int_equal(sp_symbolize_profile(s, p, 0, &st, NULL), 0);
	assert_int_equal(st.resolved, 1);
	assert_int_equal(st.modules_missing, 0);
	const sp_location *lp = sp_profile_location(p, loc);
	assert_true(lp->n_lines >= 1);
	assert_string_equal(line_function(p, lp, lp->n_lines - 1), "test_symbolize_deleted");

	/* Offline (pid -1) there is no live file to read. */
	sp_symbolizer *s2 = sp_symbolizer_new(NULL, NULL);
	assert_int_equal(sp_profile_set_location_lines(p, loc, NULL, 0), 0);
	assert_int_equal(sp_symbolize_profile(s2, p, -1, &st, NULL), 0);
	assert_int_equal(st.resolved, 0);
	assert_int_equal(st.modules_missing, 1);
	sp_symbolizer_free(s2);

	munmap(map, (size_t)sb.st_size);
	sp_procmaps_free(&l);
	sp_profile_free(p);
	sp_symbolizer_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_function_and_line),
		cmocka_unit_test(test_libc_qsort),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_demangle),
		cmocka_unit_test(test_symbolize_profile),
		cmocka_unit_test(test_symbolize_deleted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
