/* The unwinder's module file reader: link-time vaddr -> file offset through
 * PT_LOADs, refused bss / writable / out-of-range bytes, load biases from
 * /proc/self/maps, build-id checks, and the shared refcounted cache. */
#include "test_util.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "symbolizer/procmaps.h"
#include "unwind/unwind_file.h"

static const char rodata_str[] = "spanprof unwind_file rodata marker";
static char bss_buf[65536];
static volatile int data_var = 42;

static char exe[4096];
static uint64_t exe_bias;

static int first_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	exe_bias = info->dlpi_addr;
	return 1; /* the main program comes first */
}

static int setup(void **state)
{
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	dl_iterate_phdr(first_cb, NULL);
	return 0;
}

static uint64_t link_addr(const volatile void *p)
{
	return (uint64_t)(uintptr_t)p - exe_bias;
}

static void test_vaddr_to_offset(void **state)
{
	char buf[sizeof(rodata_str)];
	uint64_t off;
	sp_ufile *f = sp_ufile_open(exe, "");

	assert_non_null(f);
	assert_int_equal(sp_ufile_offset(f, link_addr(rodata_str), sizeof(rodata_str), &off), 0);
	/* The offset is the file's: pread there gives the same bytes. */
	int fd = open(exe, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, sizeof(buf), (off_t)off), (ssize_t)sizeof(buf));
	close(fd);
	assert_memory_equal(buf, rodata_str, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(sp_ufile_read(f, link_addr(rodata_str), buf, sizeof(buf)), 0);
	assert_string_equal(buf, rodata_str);
	/* Code bytes: the file's equal the running process's. */
	uint8_t code[32];
	assert_int_equal(sp_ufile_read(f, link_addr((void *)setup), code, sizeof(code)), 0);
	assert_memory_equal(code, (const void *)setup, sizeof(code));
	assert_true(f->text_lo < link_addr((void *)setup) && link_addr((void *)setup) < f->text_hi);
	assert_true(f->table != 0 && f->fde_count > 0);
	sp_ufile_put(f);
}

static void test_bss_data_out_of_range(void **state)
{
	uint64_t off, v;
	sp_ufile *f = sp_ufile_open(exe, "");

	assert_non_null(f);
	/* bss: inside a PT_LOAD's memory image, past its file bytes. */
	uint64_t b = link_addr(bss_buf + sizeof(bss_buf) / 2);
	bool in_bss = false;
	for (size_t i = 0; i < f->n_loads; i++)
		in_bss |= b >= f->loads[i].vaddr + f->loads[i].filesz &&
			  b < f->loads[i].vaddr + f->loads[i].memsz;
	assert_true(in_bss);
	assert_int_equal(sp_ufile_offset(f, b, 8, &off), -EFAULT);
	/* Writable data: the file has the initial value, not the process's. */
	assert_int_equal(sp_ufile_offset(f, link_addr(&data_var), sizeof(int), &off), -EFAULT);

	uint64_t top = 0;
	for (size_t i = 0; i < f->n_loads; i++)
		if (f->loads[i].vaddr + f->loads[i].memsz > top)
			top = f->loads[i].vaddr + f->loads[i].memsz;
	assert_int_equal(sp_ufile_read(f, top + 4096, &v, 8), -EFAULT);
	assert_int_equal(sp_ufile_read(f, UINT64_MAX - 2, &v, 8), -EFAULT);
	/* Straddling the end of a read-only segment's file bytes. */
	for (size_t i = 0; i < f->n_loads; i++) {
		const sp_ufile_load *l = &f->loads[i];
		if ((l->flags & PF_W) || l->filesz < 8)
			continue;
		uint64_t end = l->vaddr + l->filesz;
		assert_int_equal(sp_ufile_read(f, end - 8, &v, 8), 0);
		assert_int_equal(sp_ufile_read(f, end - 4, &v, 8), -EFAULT);
	}
	sp_ufile_put(f);
}

static void test_build_id(void **state)
{
	char id[41], wrong[41];
	size_t before = sp_ufile_cached();

	assert_int_equal(sp_elf_build_id_hex(exe, id, sizeof(id)), 0);
	sp_ufile *a = sp_ufile_open(exe, "");
	assert_non_null(a);
	assert_string_equal(a->build_id, id);
	assert_int_equal(sp_ufile_cached(), before + 1);
	/* By build-id, and again by inode: one shared copy. */
	sp_ufile *b = sp_ufile_open(exe, id);
	sp_ufile *c = sp_ufile_open(exe, NULL);
	assert_ptr_equal(a, b);
	assert_ptr_equal(a, c);
	assert_int_equal(sp_ufile_cached(), before + 1);

	snprintf(wrong, sizeof(wrong), "%s", id);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	errno = 0;
	assert_null(sp_ufile_open(exe, wrong));
	assert_int_equal(errno, ESTALE);
	errno = 0;
	assert_null(sp_ufile_open("/nonexistent/lib.so", ""));
	assert_int_equal(errno, ENOENT);
	errno = 0;
	assert_null(sp_ufile_open("relative/path.so", ""));
	assert_int_equal(errno, ENOENT);

	char tmp[] = "/tmp/sp-ufile-XXXXXX";
	int fd = mkstemp(tmp);
	assert_true(fd >= 0);
	char junk[256];
	memset(junk, 'x', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	errno = 0;
	assert_null(sp_ufile_open(tmp, ""));
	assert_int_equal(errno, ENOEXEC);
	unlink(tmp);

	sp_ufile_put(c);
	sp_ufile_put(b);
	assert_int_equal(sp_ufile_cached(), before + 1);
	sp_ufile_put(a);
	assert_int_equal(sp_ufile_cached(), before);
}

/* The bias computed from a maps line (start, file offset) is the loader's. */
struct bias_ctx {
	sp_module_list *maps;
	int checked;
};

static int bias_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct bias_ctx *c = arg;

	for (size_t i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		const sp_module *m = sp_procmaps_find(c->maps, info->dlpi_addr + ph->p_vaddr);
		if (!m || m->path[0] != '/')
			continue;
		sp_ufile *f = sp_ufile_open(m->path, m->build_id);
		assert_non_null(f);
		uint64_t bias = 0;
		assert_int_equal(sp_ufile_bias(f, m->start, m->offset, &bias), 0);
		assert_int_equal(bias, info->dlpi_addr);
		sp_ufile_put(f);
		c->checked++;
	}
	return 0;
}

static void test_bias(void **state)
{
	sp_module_list l;
	struct bias_ctx c = { &l, 0 };

	assert_int_equal(sp_procmaps_read(0, &l, NULL), 0);
	dl_iterate_phdr(bias_cb, &c);
	assert_true(c.checked >= 3); /* us, libc, ld.so at least */

	/* No PT_LOAD at that offset. */
	sp_ufile *f = sp_ufile_open(exe, "");
	uint64_t bias;
	assert_int_equal(sp_ufile_bias(f, 0x400000, 1ull << 40, &bias), -ENOENT);
	sp_ufile_put(f);

	/* The vdso: our own image stands in for every process's. */
	const sp_module *vd = NULL;
	for (size_t i = 0; i < l.n; i++)
		if (l.mods[i].vdso)
			vd = &l.mods[i];
	assert_non_null(vd);
	sp_ufile *v = sp_ufile_vdso();
	assert_non_null(v);
	assert_true(v->table != 0);
	assert_int_equal(sp_ufile_bias(v, vd->start, vd->offset, &bias), 0);
	uint64_t word;
	assert_int_equal(sp_ufile_read(v, v->text_lo, &word, 8), 0);
	assert_memory_equal(&word, (const void *)(uintptr_t)(v->text_lo + bias), 8);
	assert_int_equal(getauxval(AT_SYSINFO_EHDR), vd->start);
	sp_ufile_put(v); /* static: ignored */
	sp_procmaps_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vaddr_to_offset),
		cmocka_unit_test(test_bss_data_out_of_range),
		cmocka_unit_test(test_build_id),
		cmocka_unit_test(test_bias),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
