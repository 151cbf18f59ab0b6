/* Test and benchmark driver for the symbolizer, linked with the core library
 * by the test scripts (it is not part of the product).
 *
 *   symtool resolve [-d DEBUGPATH] [-b BUILDID] [-N] FILE HEXOFFSET...
 *       one line per frame: OFFSET<TAB>I<TAB>FUNCTION<TAB>SYSTEM_NAME<TAB>
 *       FILE<TAB>LINE<TAB>COLUMN<TAB>FROM_DYNSYM; "OFFSET<TAB>-" when
 *       nothing is known; exit 3 when the module cannot be opened.
 *   symtool vaddr FILE HEXVADDR...      print the file offsets of ELF vaddrs
 *   symtool mkprofile OUT.pb.gz         an unsymbolized CPU profile of this
 *       process's own stack (mappings from /proc/self/maps, raw addresses)
 *   symtool bench [-d DEBUGPATH] FILE VADDRFILE [VADDRFILE2]
 *       resolve every address of the first file cold (new symbolizer), then
 *       the second warm (same symbolizer, new addresses), then the first
 *       again (cache hits); prints seconds and counts.
 */
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "model/pprof.h"
#include "symbolizer/procmaps.h"
#include "model/profile.h"
#include "symbolizer/sym_internal.h"
#include "symbolizer/symbolizer.h"

static const char *orz(const char *s)
{
	return s ? s : "";
}

static int cmd_resolve(int argc, char **argv)
{
	sp_symbolizer_options opt = { .demangle = true };
	const char *build_id = NULL;
	sp_error err = { "" };
	sp_symbolizer *s;
	int c, ret = 0;

	while ((c = getopt(argc, argv, "d:b:N")) != -1) {
		switch (c) {
		case 'd': opt.debuginfo_path = optarg; break;
		case 'b': build_id = optarg; break;
		case 'N': opt.demangle = false; break;
		default: return 2;
		}
	}
	if (optind + 2 > argc)
		return 2;
	s = sp_symbolizer_new(&opt, &err);
	if (!s) {
		fprintf(stderr, "symtool: %s\n", err.msg);
		return 1;
	}
	for (int i = optind + 1; i < argc; i++) {
		uint64_t off = strtoull(argv[i], NULL, 16);
		sp_sym_result r;
		int rc = sp_symbolizer_lookup(s, argv[optind], build_id, off, &r);

		if (rc < 0) {
			fprintf(stderr, "symtool: %s: %s\n", argv[optind], strerror(-rc));
			ret = 3;
			break;
		}
		if (!r.n_frames)
			printf("%" PRIx64 "\t-\n", off);
		for (size_t k = 0; k < r.n_frames; k++) {
			const sp_sym_frame *f = &r.frames[k];

			printf("%" PRIx64 "\t%zu\t%s\t%s\t%s\t%" PRId64 "\t%" PRId64 "\t%d\n", off, k,
			       orz(f->function), orz(f->system_name), orz(f->file), f->line,
			       f->column, r.from_dynsym);
		}
	}
	sp_symbolizer_free(s);
	return ret;
}

/* ELF vaddr -> file offset through the PT_LOAD holding it. */
static int vaddrs_to_offsets(const char *path, uint64_t *a, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	size_t np;

	if (fd < 0)
		return -errno;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_getphdrnum(elf, &np) < 0) {
		close(fd);
		return -ENOEXEC;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < np; k++) {
			GElf_Phdr ph;

			if (gelf_getphdr(elf, (int)k, &ph) && ph.p_type == PT_LOAD &&
			    a[i] >= ph.p_vaddr && a[i] < ph.p_vaddr + ph.p_filesz) {
				a[i] = a[i] - ph.p_vaddr + ph.p_offset;
				break;
			}
		}
	}
	elf_end(elf);
	close(fd);
	return 0;
}

static int cmd_vaddr(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	for (int i = 2; i < argc; i++) {
		uint64_t a = strtoull(argv[i], NULL, 16);

		if (vaddrs_to_offsets(argv[1], &a, 1) < 0)
			return 1;
		printf("%" PRIx64 "\n", a);
	}
	return 0;
}

/* ---- mkprofile ------------------------------------------------------------ */

static void *stack[64];
static int n_stack;
volatile int sink;

__attribute__((noinline)) void symtool_leaf(void)
{
	n_stack = backtrace(stack, 64); /* @L:symtool_leaf */
	sink++;
}

static inline __attribute__((always_inline)) void symtool_inlined(void)
{
	symtool_leaf(); /* @L:symtool_inlined */
	sink++;
}

__attribute__((noinline)) void symtool_caller(void)
{
	symtool_inlined(); /* @L:symtool_caller */
	sink++;
}

static int cmd_mkprofile(int argc, char **argv)
{
	sp_module_list maps;
	sp_error err = { "" };
	sp_profile *p;
	uint64_t locs[64];
	size_t n = 0;
	int64_t v[2] = { 1, 10000000 }; /* samples, cpu ns */
	int ret = 1;

	if (argc != 2)
		return 2;
	symtool_caller();
	if (sp_procmaps_read(0, &maps, &err) < 0) {
		fprintf(stderr, "symtool: %s\n", err.msg);
		return 1;
	}
	p = sp_profile_new();
	if (!p || sp_profile_init_cpu(p, 10000000) < 0)
		goto out;
	for (int i = 0; i < n_stack; i++) {
		uint64_t pc = (uint64_t)(uintptr_t)stack[i] - 1; /* call site */
		const sp_module *m = sp_procmaps_find(&maps, pc);
		uint64_t mid = 0;

		if (m)
			mid = sp_profile_add_mapping(p, m->start, m->end, m->offset, m->path,
						     m->build_id);
		locs[n] = sp_profile_add_location(p, mid, pc, NULL, 0);
		if (!locs[n])
			goto out;
		n++;
	}
	if (sp_profile_add_sample(p, locs, n, v, NULL, 0) < 0)
		goto out;
	if (sp_pprof_write_file(p, argv[1], &err) < 0) {
		fprintf(stderr, "symtool: %s\n", err.msg);
		goto out;
	}
	ret = 0;
out:
	sp_profile_free(p);
	sp_procmaps_free(&maps);
	return ret;
}

/* ---- bench ---------------------------------------------------------------- */

static uint64_t *read_addrs(const char *file, size_t *n)
{
	FILE *f = fopen(file, "r");
	uint64_t *a = NULL, v;
	size_t cap = 0;

	*n = 0;
	if (!f)
		return NULL;
	while (fscanf(f, "%" SCNx64, &v) == 1) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 1024;
			a = realloc(a, cap * sizeof(*a));
			if (!a)
				break;
		}
		a[(*n)++] = v;
	}
	fclose(f);
	return a;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double run(sp_symbolizer *s, const char *path, const uint64_t *a, size_t n,
		  size_t *frames, size_t *lines)
{
	double t0 = now();

	for (size_t i = 0; i < n; i++) {
		sp_sym_result r;

		if (sp_symbolizer_lookup(s, path, NULL, a[i], &r) == 0) {
			*frames += r.n_frames;
			*lines += r.n_frames && r.frames[0].file;
		}
	}
	return now() - t0;
}

static int cmd_bench(int argc, char **argv)
{
	sp_symbolizer_options opt = { .demangle = true };
	sp_error err = { "" };
	uint64_t *a, *b = NULL;
	size_t na, nb = 0, fr = 0, ln = 0, fr2 = 0, ln2 = 0, fr3 = 0, ln3 = 0;
	sp_symbolizer *s;
	int c;

	while ((c = getopt(argc, argv, "d:")) != -1) {
		if (c == 'd')
			opt.debuginfo_path = optarg;
		else
			return 2;
	}
	if (optind + 2 > argc)
		return 2;
	a = read_addrs(argv[optind + 1], &na);
	if (optind + 2 < argc)
		b = read_addrs(argv[optind + 2], &nb);
	if (!a || vaddrs_to_offsets(argv[optind], a, na) < 0 ||
	    (b && vaddrs_to_offsets(argv[optind], b, nb) < 0)) {
		fprintf(stderr, "symtool: cannot read addresses or %s\n", argv[optind]);
		return 1;
	}
	s = sp_symbolizer_new(&opt, &err);
	if (!s)
		return 1;
	double cold = run(s, argv[optind], a, na, &fr, &ln);
	double warm = b ? run(s, argv[optind], b, nb, &fr2, &ln2) : 0;
	double hit = run(s, argv[optind], a, na, &fr3, &ln3);
	printf("cold %zu %.6f %zu %zu\n", na, cold, fr, ln);
	printf("warm %zu %.6f %zu %zu\n", nb, warm, fr2, ln2);
	printf("hits %zu %.6f %zu %zu\n", na, hit, fr3, ln3);
	sp_symbolizer_free(s);
	free(a);
	free(b);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: symtool resolve|vaddr|mkprofile|bench ...\n");
		return 2;
	}
	if (!strcmp(argv[1], "resolve"))
		return cmd_resolve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "vaddr"))
		return cmd_vaddr(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mkprofile"))
		return cmd_mkprofile(argc - 1, argv + 1);
	if (!strcmp(argv[1], "bench"))
		return cmd_bench(argc - 1, argv + 1);
	fprintf(stderr, "symtool: unknown command '%s'\n", argv[1]);
	return 2;
}
