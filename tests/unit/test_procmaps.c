/* procmaps: executable mappings of this process, build-ids, [vdso],
 * " (deleted)" files, and the binary search. */
#include "test_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "symbolizer/procmaps.h"

static int data_variable = 42;

static __attribute__((noinline)) int code_marker(int x)
{
	return x * 3 + data_variable;
}

static void test_self_exe(void **state)
{
	sp_module_list l;
	sp_error err;
	char exe[4096], id[41];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	(void)state;
	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(sp_procmaps_read(0, &l, &err), 0);
	assert_true(l.n > 0);

	const sp_module *m = sp_procmaps_find(&l, (uint64_t)(uintptr_t)code_marker);
	assert_non_null(m);
	assert_string_equal(m->path, exe);
	assert_false(m->deleted);
	assert_false(m->vdso);
	assert_true(m->start <= (uint64_t)(uintptr_t)code_marker);
	assert_true((uint64_t)(uintptr_t)code_marker < m->end);

	assert_int_equal(sp_elf_build_id_hex("/proc/self/exe", id, sizeof(id)), 0);
	assert_int_equal(strlen(id), 40);
	assert_string_equal(m->build_id, id);

	/* Data is not in an executable mapping. */
	assert_null(sp_procmaps_find(&l, (uint64_t)(uintptr_t)&data_variable));

	for (size_t i = 1; i < l.n; i++)
		assert_true(l.mods[i - 1].start < l.mods[i].start);
	sp_procmaps_free(&l);
	assert_int_equal(code_marker(1), 45);
}

static void test_vdso(void **state)
{
	sp_module_list l;
	sp_error err;
	uint64_t vdso = getauxval(AT_SYSINFO_EHDR);
	bool found = false;

	(void)state;
	if (!vdso)
		skip();
	assert_int_equal(sp_procmaps_read(0, &l, &err), 0);
	for (size_t i = 0; i < l.n; i++) {
		if (!l.mods[i].vdso)
			continue;
		found = true;
		assert_string_equal(l.mods[i].path, "[vdso]");
		assert_true(l.mods[i].start <= vdso && vdso < l.mods[i].end);
		assert_int_equal(strlen(l.mods[i].build_id), 40);
	}
	assert_true(found);
	sp_procmaps_free(&l);
}

static void test_find_bounds(void **state)
{
	sp_module mods[3] = {
		{ .start = 0x1000, .end = 0x2000, .path = "a" },
		{ .start = 0x3000, .end = 0x4000, .path = "b" },
		{ .start = 0x4000, .end = 0x5000, .path = "c" },
	};
	sp_module_list l = { mods, 3 }, empty = { NULL, 0 };

	(void)state;
	assert_null(sp_procmaps_find(&l, 0));
	assert_null(sp_procmaps_find(&l, 0xfff));
	assert_ptr_equal(sp_procmaps_find(&l, 0x1000), &mods[0]);
	assert_ptr_equal(sp_procmaps_find(&l, 0x1fff), &mods[0]);
	assert_null(sp_procmaps_find(&l, 0x2000));
	assert_ptr_equal(sp_procmaps_find(&l, 0x3fff), &mods[1]);
	assert_ptr_equal(sp_procmaps_find(&l, 0x4000), &mods[2]);
	assert_null(sp_procmaps_find(&l, 0x5000));
	assert_null(sp_procmaps_find(&empty, 0x1000));
}

/* A mapped file that is then unlinked shows up as "PATH (deleted)"; its
 * build-id still comes from /proc/self/map_files. */
static void test_deleted(void **state)
{
	char tmpl[] = "/tmp/spanprof-procmaps-XXXXXX", id[41], buf[65536];
	int in = open("/proc/self/exe", O_RDONLY), out = mkstemp(tmpl);
	struct stat st;
	sp_module_list l;
	sp_error err;
	ssize_t n;
	void *p;

	(void)state;
	assert_true(in >= 0 && out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	assert_int_equal(fstat(out, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, out, 0);
	close(out);
	unlink(tmpl);
	if (p == MAP_FAILED)
		skip(); /* noexec /tmp */

	assert_int_equal(sp_elf_build_id_hex("/proc/self/exe", id, sizeof(id)), 0);
	assert_int_equal(sp_procmaps_read(0, &l, &err), 0);
	const sp_module *m = sp_procmaps_find(&l, (uint64_t)(uintptr_t)p + 16);
	assert_non_null(m);
	assert_true(m->deleted);
	assert_string_equal(m->path, tmpl);
	assert_string_equal(m->build_id, id);
	sp_procmaps_free(&l);
	munmap(p, (size_t)st.st_size);
}

static void test_build_id_errors(void **state)
{
	char id[41] = "x";

	(void)state;
	assert_int_equal(sp_elf_build_id_hex("/nonexistent/file", id, sizeof(id)), -ENOENT);
	assert_string_equal(id, "");
	assert_true(sp_elf_build_id_hex("/proc/self/maps", id, sizeof(id)) < 0);
	assert_int_equal(sp_procmaps_read(0x7ffffff0, &(sp_module_list){ 0 }, NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_self_exe),
		cmocka_unit_test(test_vdso),
		cmocka_unit_test(test_find_bounds),
		cmocka_unit_test(test_deleted),
		cmocka_unit_test(test_build_id_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
