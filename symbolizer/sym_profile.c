/* sp_symbolize_profile: fill the Line records of a profile's locations from
 * their mappings' files, and set the mapping has_* flags to what was really
 * written (pprof skips local symbolization of a mapping once any of the
 * first three is set, formats.md 1.4). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "symbolizer/sym_internal.h"

struct map_state {
	size_t n_locs, n_new;
	bool functions, filenames, lines, inlines; /* true until one location lacks it */
	bool missing;                              /* module could not be opened */
};

static void account(struct map_state *st, bool func, bool file, bool line, bool inl)
{
	st->functions &= func;
	st->filenames &= file;
	st->lines &= line;
	st->inlines &= inl;
}

/* A location that already has lines keeps them; it counts for the flags
 * with what it has (inline expansion as the mapping claimed it). */
static void account_existing(const sp_profile *p, const sp_location *l, bool inl,
			     struct map_state *st)
{
	bool func = true, file = true, line = true;

	for (size_t k = 0; k < l->n_lines; k++) {
		const sp_function *f = sp_profile_function(p, l->lines[k].function_id);

		func &= f && f->name;
		file &= f && f->filename;
		line &= l->lines[k].line > 0;
	}
	account(st, func, file, line, inl);
}

/* Names pprof cannot symbolize (formats.md 1.4), except the vDSO we can. */
static bool symbolizable(const char *name)
{
	if (!name[0])
		return false;
	if (name[0] == '[')
		return !strcmp(name, "[vdso]");
	return strncmp(name, "/memfd:", 7) && strncmp(name, "//anon", 6) &&
	       strncmp(name, "/dev/", 5);
}

static int lookup(sp_symbolizer *s, const sp_mapping *mp, const char *name,
		  const char *build_id, uint64_t addr, int pid, sp_sym_result *r)
{
	uint64_t off = addr - mp->memory_start + mp->file_offset;
	char alt[96];
	int ret;

	ret = sp_symbolizer_lookup_at(s, name, NULL, build_id, off, r);
	if (ret >= 0 || pid < 0 || name[0] != '/')
		return ret;
	/* Deleted or replaced since: the live process still maps the file.
	 * Mappings end on a page boundary even when a writer stored the
	 * segment's exact end. */
	uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
	uint64_t limit = (mp->memory_limit + page - 1) & ~(page - 1);
	snprintf(alt, sizeof(alt), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
		 pid ? pid : (int)getpid(), mp->memory_start, limit);
	return sp_symbolizer_lookup_at(s, name, alt, build_id, off, r);
}

static int set_lines(sp_symbolizer *s, sp_profile *p, uint64_t loc_id, const sp_sym_result *r)
{
	sp_line lines[64];
	size_t n = r->n_frames < 64 ? r->n_frames : 64;

	(void)s;
	for (size_t k = 0; k < n; k++) {
		const sp_sym_frame *f = &r->frames[k];
		uint64_t fid = sp_profile_add_function(p, f->function, f->system_name, f->file, 0);

		if (!fid)
			return -ENOMEM;
		lines[k] = (sp_line){ fid, f->line, f->column };
	}
	return sp_profile_set_location_lines(p, loc_id, lines, n);
}

int sp_symbolize_profile(sp_symbolizer *s, sp_profile *p, int pid, sp_symbolize_stats *stats,
			 sp_error *err)
{
	sp_symbolize_stats before, after, out = { 0 };
	struct map_state *st;
	int ret = 0;

	sp_symbolizer_stats(s, &before);
	st = calloc(p->n_mappings ? p->n_mappings : 1, sizeof(*st));
	if (!st)
		return sp_error_set(err, -ENOMEM, "symbolize: out of memory");
	for (size_t i = 0; i < p->n_mappings; i++)
		st[i] = (struct map_state){ .functions = true, .filenames = true,
					    .lines = true, .inlines = true };

	for (size_t i = 0; i < p->n_locations; i++) {
		const sp_location *l = &p->locations[i];
		const sp_mapping *mp = l->mapping_id ? sp_profile_mapping(p, l->mapping_id) : NULL;
		uint64_t loc_id = l->id, addr = l->address;
		struct map_state *ms;
		sp_sym_result r;
		char *name, *build_id;
		const sp_sym_frame *f;

		if (!mp)
			continue;
		ms = &st[mp - p->mappings];
		ms->n_locs++;
		if (l->n_lines) {
			account_existing(p, l, mp->has_inline_frames, ms);
			continue;
		}
		/* Copies: interning new strings may move the string table. */
		name = strdup(sp_profile_str(p, mp->filename));
		build_id = strdup(sp_profile_str(p, mp->build_id));
		if (!name || !build_id) {
			free(name);
			free(build_id);
			ret = sp_error_set(err, -ENOMEM, "symbolize: out of memory");
			goto out;
		}
		r = (sp_sym_result){ 0 };
		ms->n_new++;
		if (symbolizable(name)) {
			out.addresses++;
			if (lookup(s, mp, name, build_id, addr, pid, &r) < 0)
				ms->missing = true;
		}
		free(name);
		free(build_id);
		if (!r.n_frames) {
			account(ms, false, false, false, false);
			continue;
		}
		ret = set_lines(s, p, loc_id, &r);
		if (ret < 0) {
			sp_error_set(err, ret, "symbolize: out of memory");
			goto out;
		}
		f = &r.frames[0];
		out.resolved++;
		out.with_lines += f->file && f->line > 0;
		bool func = true, file = true;
		for (size_t k = 0; k < r.n_frames; k++) {
			func &= r.frames[k].function != NULL;
			file &= r.frames[k].file != NULL;
		}
		/* DWARF was consulted, so inlined callers are expanded. */
		account(ms, func, file, f->line > 0, !r.from_dynsym);
	}

	for (size_t i = 0; i < p->n_mappings; i++) {
		sp_mapping *m = &p->mappings[i];

		out.modules_missing += st[i].missing;
		if (!st[i].n_new)
			continue; /* nothing looked up: the flags stay as they were */
		m->has_functions = st[i].functions;
		m->has_filenames = st[i].filenames;
		m->has_line_numbers = st[i].lines;
		m->has_inline_frames = st[i].inlines;
	}
out:
	sp_symbolizer_stats(s, &after);
	out.cache_hits = after.cache_hits - before.cache_hits;
	if (stats)
		*stats = out;
	free(st);
	return ret;
}
