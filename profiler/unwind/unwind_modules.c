/* Module table over a process's executable mappings, served from files.
 *
 * Each file-backed r-x mapping gets its file (the vdso: our own image) and
 * the load bias that puts the file's PT_LOADs where that process mapped
 * them, computed from the mapping's start and file offset. Reads of module
 * memory (.eh_frame_hdr tables, FDEs, code bytes) are then plain loads from
 * the mapped files: nothing in the profiled process is touched, so it may
 * be another process, or have exited. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>

#include "unwind/unwind_modules.h"

static int cmp_mod(const void *a, const void *b)
{
	const sp_umod *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_range(const void *a, const void *b)
{
	const sp_urange *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void drop(sp_umods *t)
{
	for (size_t i = 0; i < t->n_files; i++)
		sp_ufile_put(t->files[i]);
	free(t->files);
	free(t->mods);
	free(t->ranges);
	memset(t, 0, sizeof(*t));
}

void sp_umods_free(sp_umods *t)
{
	drop(t);
}

/* The runtime ranges of f's read-only file bytes at `bias`. */
static int add_ranges(sp_umods *b, size_t *cap, const sp_ufile *f, uint64_t bias)
{
	for (size_t i = 0; i < f->n_loads; i++) {
		const sp_ufile_load *l = &f->loads[i];

		if ((l->flags & PF_W) || !l->filesz)
			continue;
		if (b->n_ranges == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			sp_urange *r = realloc(b->ranges, nc * sizeof(*r));
			if (!r)
				return -ENOMEM;
			b->ranges = r;
			*cap = nc;
		}
		b->ranges[b->n_ranges++] = (sp_urange){ l->vaddr + bias, l->vaddr + bias + l->filesz,
							f->data + l->offset };
	}
	return 0;
}

/* Whether the mapping starts one of f's segments, as the loader maps them. */
static bool starts_segment(const sp_ufile *f, uint64_t offset)
{
	for (size_t i = 0; i < f->n_loads; i++)
		if ((f->loads[i].offset & ~(uint64_t)4095) == offset)
			return true;
	return false;
}

/* All mappings of one loaded object share its load bias. When mappings of
 * a file disagree, the bias most of them have (then: one that starts a
 * segment) is the object's; the others map its bytes elsewhere. */
static void mark_aliases(sp_umods *b)
{
	for (size_t i = 0; i < b->n_mods; i++) {
		const sp_ufile *f = b->mods[i].file;
		size_t best = i, best_votes = 0;
		bool best_starts = false, split = false;

		if (!f)
			continue;
		for (size_t k = 0; k < i; k++)
			if (b->mods[k].file == f)
				goto next; /* this file was decided already */
		for (size_t j = i; j < b->n_mods; j++) {
			if (b->mods[j].file != f)
				continue;
			size_t votes = 0;
			for (size_t k = i; k < b->n_mods; k++)
				votes += b->mods[k].file == f && b->mods[k].bias == b->mods[j].bias;
			split |= b->mods[j].bias != b->mods[i].bias;
			bool starts = starts_segment(f, b->mods[j].offset);
			if (votes > best_votes || (votes == best_votes && starts && !best_starts)) {
				best = j;
				best_votes = votes;
				best_starts = starts;
			}
		}
		if (!split)
			continue;
		for (size_t j = i; j < b->n_mods; j++)
			if (b->mods[j].file == f && b->mods[j].bias != b->mods[best].bias)
				b->mods[j].alias = true;
next:;
	}
}

int sp_umods_build(sp_umods *t, const sp_module_list *list)
{
	sp_umods b = { 0 };
	size_t cap_ranges = 0;

	b.mods = calloc(list->n ? list->n : 1, sizeof(*b.mods));
	b.files = calloc(list->n ? list->n : 1, sizeof(*b.files));
	if (!b.mods || !b.files)
		goto oom;
	for (size_t i = 0; i < list->n; i++) {
		const sp_module *m = &list->mods[i];
		sp_umod *u = &b.mods[b.n_mods];
		sp_ufile *f;

		if (sp_module_is_anon(m) || m->end <= m->start)
			continue;
		*u = (sp_umod){ .start = m->start, .end = m->end, .offset = m->offset };
		b.n_mods++;
		f = m->vdso ? sp_ufile_vdso() :
			sp_ufile_open(m->open_path ? m->open_path : m->path, m->build_id);
		if (!f) {
			if (errno == ENOMEM)
				goto oom;
			b.no_file++; /* walks through it truncate */
			continue;
		}
		if (sp_ufile_bias(f, m->start, m->offset, &u->bias) < 0) {
			sp_ufile_put(f);
			b.no_file++;
			continue;
		}
		b.files[b.n_files++] = f;
		u->file = f;
		if (!f->table)
			b.no_table++;
	}
	mark_aliases(&b);
	for (size_t i = 0; i < b.n_mods; i++) {
		const sp_umod *u = &b.mods[i];
		if (!u->file || u->alias)
			continue;
		/* Two mappings of one segment (split by mprotect) share the
		 * same bytes: one set of ranges. */
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = b.mods[k].file == u->file && b.mods[k].bias == u->bias && !b.mods[k].alias;
		if (!seen && add_ranges(&b, &cap_ranges, u->file, u->bias) < 0)
			goto oom;
	}
	/* An empty list (a kernel thread, a process gone before its maps
	 * were read) has no arrays: qsort's pointer must not be NULL. */
	if (b.n_mods)
		qsort(b.mods, b.n_mods, sizeof(*b.mods), cmp_mod);
	if (b.n_ranges)
		qsort(b.ranges, b.n_ranges, sizeof(*b.ranges), cmp_range);
	drop(t); /* after the new references: shared files stay mapped */
	*t = b;
	return 0;
oom:
	drop(&b);
	drop(t);
	return -ENOMEM;
}

const sp_umod *sp_umods_find_text(const sp_umods *t, uint64_t ip)
{
	size_t lo = 0, hi = t->n_mods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->mods[mid].start <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	const sp_umod *m = &t->mods[lo - 1];
	return ip < m->end ? m : NULL;
}

int sp_umods_read(const sp_umods *t, uint64_t addr, uint64_t *val)
{
	size_t lo = 0, hi = t->n_ranges;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ranges[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -EFAULT;
	const sp_urange *r = &t->ranges[lo - 1];
	/* The whole word inside one segment's file bytes, or nothing. */
	if (addr - r->start > r->end - r->start || r->end - addr < sizeof(*val))
		return -EFAULT;
	memcpy(val, r->bytes + (addr - r->start), sizeof(*val));
	return 0;
}
