/* sp_profile -> perftools.profiles.Profile protobuf, gzip'd, written
 * atomically. The protobuf-c message points into the profile's own arrays
 * wherever the layouts agree (strings, stacks, values), so encoding copies
 * only the small per-entity structs. */
#include "model/pprof.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "base/atomic_file.h"
#include "base/gzip.h"
#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile pb_profile;
typedef Perftools__Profiles__ValueType pb_value_type;
typedef Perftools__Profiles__Sample pb_sample;
typedef Perftools__Profiles__Label pb_label;
typedef Perftools__Profiles__Mapping pb_mapping;
typedef Perftools__Profiles__Location pb_location;
typedef Perftools__Profiles__Line pb_line;
typedef Perftools__Profiles__Function pb_function;

/* Every allocation of one encode, freed together. */
struct pb_arena {
	pb_value_type *vts, period_type;
	pb_sample *samples;
	pb_label *labels;
	pb_mapping *mappings;
	pb_location *locations;
	pb_line *lines;
	pb_function *functions;
	void **ptrs; /* all pointer arrays, carved from one block */
};

static void arena_free(struct pb_arena *a)
{
	free(a->vts);
	free(a->samples);
	free(a->labels);
	free(a->mappings);
	free(a->locations);
	free(a->lines);
	free(a->functions);
	free(a->ptrs);
}

/* calloc that treats zero elements as success. */
static void *alloc_n(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

static int build_message(const sp_profile *p, pb_profile *m, struct pb_arena *a)
{
	size_t i, j, n_labels = 0, n_lines = 0, n_ptrs, li = 0, ni = 0;
	void **next;

	for (i = 0; i < p->n_samples; i++)
		n_labels += p->samples[i].n_labels;
	for (i = 0; i < p->n_locations; i++)
		n_lines += p->locations[i].n_lines;
	n_ptrs = p->n_sample_types + p->n_samples + n_labels + p->n_mappings +
		 p->n_locations + n_lines + p->n_functions;

	a->vts = alloc_n(p->n_sample_types, sizeof(*a->vts));
	a->samples = alloc_n(p->n_samples, sizeof(*a->samples));
	a->labels = alloc_n(n_labels, sizeof(*a->labels));
	a->mappings = alloc_n(p->n_mappings, sizeof(*a->mappings));
	a->locations = alloc_n(p->n_locations, sizeof(*a->locations));
	a->lines = alloc_n(n_lines, sizeof(*a->lines));
	a->functions = alloc_n(p->n_functions, sizeof(*a->functions));
	a->ptrs = alloc_n(n_ptrs, sizeof(void *));
	if (!a->vts || !a->samples || !a->labels || !a->mappings || !a->locations ||
	    !a->lines || !a->functions || !a->ptrs)
		return -ENOMEM;
	next = a->ptrs;

	perftools__profiles__profile__init(m);
	m->n_sample_type = p->n_sample_types;
	m->sample_type = (pb_value_type **)next;
	for (i = 0; i < p->n_sample_types; i++) {
		perftools__profiles__value_type__init(&a->vts[i]);
		a->vts[i].type = p->sample_types[i].type;
		a->vts[i].unit = p->sample_types[i].unit;
		*next++ = &a->vts[i];
	}

	m->n_sample = p->n_samples;
	m->sample = (pb_sample **)next;
	next += p->n_samples;
	for (i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		pb_sample *ps = &a->samples[i];

		perftools__profiles__sample__init(ps);
		ps->n_location_id = s->n_locations;
		ps->location_id = s->location_ids;
		ps->n_value = p->n_sample_types;
		ps->value = s->values;
		ps->n_label = s->n_labels;
		ps->label = (pb_label **)next;
		for (j = 0; j < s->n_labels; j++) {
			pb_label *pl = &a->labels[li++];

			perftools__profiles__label__init(pl);
			pl->key = s->labels[j].key;
			pl->str = s->labels[j].str;
			/* str and num are exclusive; readers ignore num when str is set */
			if (!pl->str) {
				pl->num = s->labels[j].num;
				pl->num_unit = s->labels[j].num_unit;
			}
			*next++ = pl;
		}
		m->sample[i] = ps;
	}

	/* Only mappings that a location references, with has_* flags that say
	 * what the locations really carry: pprof re-symbolizes a mapping locally
	 * only when none of the first three is set, so a false "yes" hides
	 * symbols and a false "no" wastes a lookup. An unreferenced mapping
	 * (the profiler's own libcurl, libssl...) is noise in every viewer. */
	struct map_truth { size_t refs, funcs, files, lines, inlined; } *mt;

	mt = alloc_n(p->n_mappings, sizeof(*mt));
	if (!mt)
		return -ENOMEM;
	for (i = 0; i < p->n_locations; i++) {
		const sp_location *l = &p->locations[i];
		const sp_mapping *mp = l->mapping_id ? sp_profile_mapping(p, l->mapping_id) : NULL;
		struct map_truth *t;
		bool files = l->n_lines > 0, lines = l->n_lines > 0;

		if (!mp)
			continue;
		t = &mt[mp - p->mappings];
		t->refs++;
		if (!l->n_lines)
			continue;
		t->funcs++;
		for (j = 0; j < l->n_lines; j++) {
			const sp_function *f = sp_profile_function(p, l->lines[j].function_id);

			if (!f || !f->filename || !*sp_profile_str(p, f->filename))
				files = false;
			if (l->lines[j].line <= 0)
				lines = false;
		}
		t->files += files;
		t->lines += lines;
		t->inlined += l->n_lines > 1;
	}
	m->n_mapping = 0;
	m->mapping = (pb_mapping **)next;
	for (i = 0; i < p->n_mappings; i++) {
		const sp_mapping *s = &p->mappings[i];
		pb_mapping *pm = &a->mappings[i];
		const struct map_truth *t = &mt[i];

		if (!t->refs)
			continue;
		perftools__profiles__mapping__init(pm);
		pm->id = s->id;
		pm->memory_start = s->memory_start;
		pm->memory_limit = s->memory_limit;
		pm->file_offset = s->file_offset;
		pm->filename = s->filename;
		pm->build_id = s->build_id;
		/* every location symbolized (as the Go runtime's pbMapping) */
		pm->has_functions = t->funcs == t->refs;
		/* lines came with the symbols (a symtab-only _start has none) */
		pm->has_filenames = pm->has_functions && t->files;
		pm->has_line_numbers = pm->has_functions && t->lines;
		/* inline expansion was done: the symbolizer says so, or it shows */
		pm->has_inline_frames = pm->has_functions &&
					(s->has_inline_frames || t->inlined);
		*next++ = pm;
		m->n_mapping++;
	}
	next += p->n_mappings - m->n_mapping;
	free(mt);

	m->n_location = p->n_locations;
	m->location = (pb_location **)next;
	next += p->n_locations;
	for (i = 0; i < p->n_locations; i++) {
		const sp_location *s = &p->locations[i];
		pb_location *pl = &a->locations[i];

		perftools__profiles__location__init(pl);
		pl->id = s->id;
		pl->mapping_id = s->mapping_id;
		pl->address = s->address;
		pl->is_folded = s->is_folded;
		pl->n_line = s->n_lines;
		pl->line = (pb_line **)next;
		for (j = 0; j < s->n_lines; j++) {
			pb_line *ln = &a->lines[ni++];

			perftools__profiles__line__init(ln);
			ln->function_id = s->lines[j].function_id;
			ln->line = s->lines[j].line;
			ln->column = s->lines[j].column;
			*next++ = ln;
		}
		m->location[i] = pl;
	}

	m->n_function = p->n_functions;
	m->function = (pb_function **)next;
	for (i = 0; i < p->n_functions; i++) {
		const sp_function *s = &p->functions[i];
		pb_function *pf = &a->functions[i];

		perftools__profiles__function__init(pf);
		pf->id = s->id;
		pf->name = s->name;
		pf->system_name = s->system_name;
		pf->filename = s->filename;
		pf->start_line = s->start_line;
		*next++ = pf;
	}

	m->n_string_table = p->n_strings;
	m->string_table = p->strings;
	m->drop_frames = p->drop_frames;
	m->keep_frames = p->keep_frames;
	m->time_nanos = p->time_nanos;
	m->duration_nanos = p->duration_nanos;
	if (p->period_type.type || p->period_type.unit) {
		perftools__profiles__value_type__init(&a->period_type);
		a->period_type.type = p->period_type.type;
		a->period_type.unit = p->period_type.unit;
		m->period_type = &a->period_type;
	}
	m->period = p->period;
	m->n_comment = p->n_comments;
	m->comment = p->comments;
	m->default_sample_type = p->default_sample_type;
	m->doc_url = p->doc_url;
	return 0;
}

int sp_pprof_encode(const sp_profile *p, int gzip, uint8_t **out, size_t *len,
		    sp_error *err)
{
	pb_profile m;
	struct pb_arena a;
	uint8_t *raw = NULL;
	size_t raw_len;
	int rc;

	*out = NULL;
	*len = 0;
	memset(&a, 0, sizeof(a));
	/* Never write what pprof would refuse to read. */
	rc = sp_profile_validate(p, err);
	if (rc) {
		sp_error_prefix(err, "refusing to write an invalid profile");
		return rc;
	}
	rc = build_message(p, &m, &a);
	if (rc) {
		sp_error_set(err, rc, "out of memory encoding the profile");
		goto out;
	}
	raw_len = perftools__profiles__profile__get_packed_size(&m);
	raw = malloc(raw_len ? raw_len : 1);
	if (!raw) {
		rc = sp_error_set(err, -ENOMEM, "out of memory encoding the profile (%zu bytes)",
				  raw_len);
		goto out;
	}
	perftools__profiles__profile__pack(&m, raw);
	if (gzip) {
		/* Go's level (BestSpeed), as `go tool pprof` writes them. */
		rc = sp_gzip(raw, raw_len, Z_BEST_SPEED, out, len);
		if (rc)
			sp_error_set(err, rc, "cannot gzip the profile: %s", strerror(-rc));
	} else {
		*out = raw;
		*len = raw_len;
		raw = NULL;
	}
out:
	free(raw);
	arena_free(&a);
	return rc;
}

int sp_pprof_write_file(const sp_profile *p, const char *path, sp_error *err)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	rc = sp_pprof_encode(p, 1, &buf, &len, err);
	if (rc) {
		sp_error_prefix(err, path);
		return rc;
	}
	/* 0666 & ~umask, like any file a program creates. */
	rc = sp_atomic_file_write(path, 0666, buf, len);
	if (rc)
		sp_error_set(err, rc, "cannot write %s: %s%s", path, strerror(-rc),
			     rc == -EACCES || rc == -EROFS ? " (is the directory writable?)" : "");
	free(buf);
	return rc;
}
