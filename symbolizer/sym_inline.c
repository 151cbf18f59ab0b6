/* DWARF function names and inlined-frame chains.
 *
 * The result is the eu-addr2line -i chain (native-internals 3.3): innermost
 * frame at the line-table position, then one frame per enclosing
 * DW_TAG_inlined_subroutine located at its DW_AT_call_file/line/column, up
 * to the physical DW_TAG_subprogram. Instead of dwarf_getscopes (which walks
 * the CU's whole DIE tree for every address) each CU is indexed once: the
 * address ranges of its subprogram and inlined-subroutine DIEs, sorted, with
 * parent links. A lookup is then a binary search plus a walk up the parents. */
#include <dwarf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_internal.h"

struct cu_die {
	Dwarf_Die die;
	struct sp_name_cache names;
	int32_t parent;      /* index of the enclosing recorded DIE, -1 = none */
	uint32_t rfirst, rcount; /* its ranges in cu_index.die_ranges */
	bool subprogram;
};

struct cu_range {
	uint64_t lo, hi;     /* [lo, hi) DWARF addresses */
	uint32_t die;
	uint32_t depth;
};

struct sp_cu_index {
	Dwarf_Die cudie;
	Dwarf_Files *files;
	size_t n_files;
	const char *comp_dir;
	struct cu_die *dies;
	size_t n_dies, cap_dies;
	struct cu_range *die_ranges;  /* grouped by DIE, in DIE order */
	struct cu_range *sorted;      /* by (lo, depth) */
	size_t n_ranges, cap_ranges;
};

void sp_sym_cu_index_free(struct sp_cu_index *cu)
{
	if (!cu)
		return;
	free(cu->dies);
	free(cu->die_ranges);
	free(cu->sorted);
	free(cu);
}

static int add_die(struct sp_cu_index *cu, Dwarf_Die *die, int32_t parent, uint32_t depth,
		   int tag, int32_t *index)
{
	Dwarf_Addr base, lo, hi;
	ptrdiff_t off = 0;
	uint32_t first = (uint32_t)cu->n_ranges, idx = (uint32_t)cu->n_dies;

	while ((off = dwarf_ranges(die, off, &base, &lo, &hi)) > 0) {
		if (lo >= hi)
			continue;
		if (cu->n_ranges == cu->cap_ranges) {
			size_t cap = cu->cap_ranges ? cu->cap_ranges * 2 : 64;
			struct cu_range *r = realloc(cu->die_ranges, cap * sizeof(*r));

			if (!r)
				return -ENOMEM;
			cu->die_ranges = r;
			cu->cap_ranges = cap;
		}
		cu->die_ranges[cu->n_ranges++] = (struct cu_range){ lo, hi, idx, depth };
	}
	if (cu->n_ranges == first)
		return 0; /* declaration or abstract instance: no code */
	if (cu->n_dies == cu->cap_dies) {
		size_t cap = cu->cap_dies ? cu->cap_dies * 2 : 32;
		struct cu_die *d = realloc(cu->dies, cap * sizeof(*d));

		if (!d)
			return -ENOMEM;
		cu->dies = d;
		cu->cap_dies = cap;
	}
	cu->dies[cu->n_dies++] = (struct cu_die){ .die = *die, .parent = parent,
						  .rfirst = first,
						  .rcount = (uint32_t)cu->n_ranges - first,
						  .subprogram = tag == DW_TAG_subprogram };
	*index = (int32_t)idx;
	return 1;
}

static int cmp_range(const void *a, const void *b)
{
	const struct cu_range *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return x->depth < y->depth ? -1 : x->depth > y->depth;
}

/* Tags whose children may hold code-bearing subprograms or inlined calls.
 * Types are skipped: concrete out-of-line member functions sit at CU or
 * namespace level (with DW_AT_specification), and types are most of a C++
 * CU's DIEs. */
static bool descend(int tag)
{
	switch (tag) {
	case DW_TAG_subprogram:
	case DW_TAG_inlined_subroutine:
	case DW_TAG_lexical_block:
	case DW_TAG_namespace:
	case DW_TAG_module:
	case DW_TAG_try_block:
	case DW_TAG_catch_block:
		return true;
	default:
		return false;
	}
}

#define MAX_DEPTH 256

static struct sp_cu_index *build_cu(Dwarf_Die *cudie)
{
	struct sp_cu_index *cu = calloc(1, sizeof(*cu));
	struct {
		Dwarf_Die die;
		int32_t parent;
		uint32_t depth;
	} *st = NULL;
	int sp = 0;

	if (!cu)
		return NULL;
	cu->cudie = *cudie;
	{
		Dwarf_Attribute a;

		if (dwarf_attr(cudie, DW_AT_comp_dir, &a))
			cu->comp_dir = dwarf_formstring(&a);
	}
	if (dwarf_getsrcfiles(cudie, &cu->files, &cu->n_files) != 0) {
		cu->files = NULL;
		cu->n_files = 0;
	}
	st = malloc(MAX_DEPTH * sizeof(*st));
	if (!st)
		goto fail;
	if (dwarf_child(cudie, &st[0].die) == 0) {
		st[0].parent = -1;
		st[0].depth = 0;
		sp = 1;
	}
	while (sp > 0) {
		Dwarf_Die *d = &st[sp - 1].die;
		int tag = dwarf_tag(d);
		int32_t me = st[sp - 1].parent;
		uint32_t depth = st[sp - 1].depth;
		bool recurse = descend(tag);

		if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) {
			int r = add_die(cu, d, me, depth, tag, &me);

			if (r < 0)
				goto fail;
			if (r == 0)
				recurse = false; /* nothing below a DIE without code */
			else
				depth++;
		}
		if (recurse && sp < MAX_DEPTH && dwarf_haschildren(d) &&
		    dwarf_child(d, &st[sp].die) == 0) {
			st[sp].parent = me;
			st[sp].depth = depth;
			sp++;
			continue;
		}
		/* Next sibling, popping finished levels. */
		while (sp > 0 && dwarf_siblingof(&st[sp - 1].die, &st[sp - 1].die) != 0)
			sp--;
	}
	free(st);
	st = NULL;
	cu->sorted = malloc((cu->n_ranges ? cu->n_ranges : 1) * sizeof(*cu->sorted));
	if (!cu->sorted)
		goto fail;
	memcpy(cu->sorted, cu->die_ranges, cu->n_ranges * sizeof(*cu->sorted));
	qsort(cu->sorted, cu->n_ranges, sizeof(*cu->sorted), cmp_range);
	return cu;
fail:
	free(st);
	sp_sym_cu_index_free(cu);
	return NULL;
}

static bool die_contains(const struct sp_cu_index *cu, int32_t d, uint64_t a)
{
	const struct cu_die *e = &cu->dies[d];

	for (uint32_t i = 0; i < e->rcount; i++) {
		const struct cu_range *r = &cu->die_ranges[e->rfirst + i];

		if (a >= r->lo && a < r->hi)
			return true;
	}
	return false;
}

/* Innermost recorded DIE containing a, or -1. With ranges sorted by (lo,
 * depth) and properly nested DIEs, the last range starting at or below `a`
 * belongs either to the innermost DIE containing `a` or to a DIE below one of
 * its ancestors whose range ended before `a`: walking up the parents from
 * there reaches the innermost containing DIE first. */
static int32_t innermost(const struct sp_cu_index *cu, uint64_t a)
{
	size_t lo = 0, hi = cu->n_ranges;
	int32_t d;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cu->sorted[mid].lo <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return -1;
	for (d = (int32_t)cu->sorted[lo - 1].die; d >= 0; d = cu->dies[d].parent)
		if (die_contains(cu, d, a))
			return d;
	return -1;
}

/* Both names of a function DIE, following abstract_origin/specification:
 * the linkage name (mangled C++, or a C asm label) and the plain name.
 * Skipped when the symbolizer has already interned them. */
static void die_names(struct cu_die *d, struct sp_raw_frame *f)
{
	Dwarf_Die *die = &d->die;
	Dwarf_Attribute a;

	f->names = &d->names;
	f->linkage = NULL;
	f->name = NULL;
	if (d->names.set)
		return;
	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		f->linkage = dwarf_formstring(&a);
	if (dwarf_attr_integrate(die, DW_AT_name, &a))
		f->name = dwarf_formstring(&a);
}

/* An unsigned attribute, or -1 when absent. */
static int64_t die_udata(Dwarf_Die *die, int at)
{
	Dwarf_Attribute a;
	Dwarf_Word w;

	if (!dwarf_attr(die, at, &a) || dwarf_formudata(&a, &w) != 0)
		return -1;
	return (int64_t)w;
}

static struct sp_cu_index *cu_for(sp_sym_module *m, Dwarf_Die *cudie)
{
	bool added;
	sp_hashmap_ent *e = sp_hashmap_insert_u64(&m->cus, dwarf_dieoffset(cudie), &added);

	if (!e)
		return NULL;
	if (added) {
		e->val.ptr = build_cu(cudie);
		if (!e->val.ptr) {
			sp_hashmap_remove(&m->cus, e);
			return NULL;
		}
	}
	return e->val.ptr;
}

size_t sp_sym_dwarf_frames(sp_sym_module *m, uint64_t addr, struct sp_raw_frame *out,
			   size_t max)
{
	Dwarf_Addr bias = 0;
	Dwarf_Die *cudie;
	struct sp_cu_index *cu;
	Dwarf_Line *line;
	size_t n = 0;
	int32_t d;

	if (!max || !sp_sym_module_dwarf(m))
		return 0;
	cudie = dwfl_module_addrdie(m->mod, addr, &bias);
	if (!cudie)
		return 0;

	cu = cu_for(m, cudie);
	out[0] = (struct sp_raw_frame){ .comp_dir = cu ? cu->comp_dir : NULL };
	/* The CU is known: dwarf_getsrc_die saves dwfl_module_getsrc's second
	 * CU lookup. */
	line = dwarf_getsrc_die(cudie, addr - bias);
	if (line) {
		int l = 0, c = 0;

		out[0].file = dwarf_linesrc(line, NULL, NULL);
		dwarf_lineno(line, &l);
		dwarf_linecol(line, &c);
		out[0].line = l;
		out[0].column = c;
	}
	d = cu ? innermost(cu, addr - bias) : -1;
	if (d < 0)
		return out[0].file ? 1 : 0; /* e.g. assembly: lines but no DIE */

	die_names(&cu->dies[d], &out[0]);
	n = 1;
	/* Each inlined DIE adds its caller, located at the call site. */
	while (!cu->dies[d].subprogram && n < max) {
		Dwarf_Die *die = &cu->dies[d].die;
		int64_t file = die_udata(die, DW_AT_call_file);
		int32_t parent = cu->dies[d].parent;

		int64_t ln = die_udata(die, DW_AT_call_line);
		int64_t col = die_udata(die, DW_AT_call_column);

		/* Index 0 is the primary file in DWARF 5; in DWARF 4 libdw
		 * fills it with "???". */
		out[n] = (struct sp_raw_frame){
			.file = cu->files && file >= 0 && (size_t)file < cu->n_files ?
					dwarf_filesrc(cu->files, (size_t)file, NULL, NULL) : NULL,
			.comp_dir = cu->comp_dir,
			.line = ln > 0 ? ln : 0,
			.column = col > 0 ? col : 0,
		};
		if (parent >= 0)
			die_names(&cu->dies[parent], &out[n]);
		if (out[n].file && !strcmp(out[n].file, "???"))
			out[n].file = NULL;
		n++;
		if (parent < 0)
			break;
		d = parent;
	}
	return n;
}
