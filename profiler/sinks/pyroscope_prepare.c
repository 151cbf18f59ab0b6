/* Pyroscope request bodies from an interval profile; see pyroscope_prepare.h.
 *
 * The common case costs one pass over samples and strings plus the encode:
 * the profile is not copied. A shallow "view" (struct copy sharing the arrays)
 * replaces only what must change: the samples array when labels are
 * stripped, the string table when a string is not UTF-8, the time. The view
 * keeps the caller's index: sp_pprof_encode only looks up mapping, function
 * and location ids, whose arrays the view shares, so the index stays right
 * for the caller (without it, validation would be quadratic). Only a
 * profile over the limits is rebuilt, in pieces, through the builder API. */
#include "sinks/pyroscope_prepare.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/gzip.h"
#include "base/hashmap.h"
#include "model/pprof.h"
#include "sinks/pyroscope_config.h"

#define MAX_SAMPLE_LABELS 100 /* server: max_profile_stacktrace_sample_labels */

static const char *type_metric(const char *t)
{
	/* DefaultSampleTypeMapping gives "samples" the display name "cpu". */
	const char *d = !strcmp(t, "samples") ? "cpu" : t;

	if (strstr(d, "cpu"))
		return "process_cpu";
	if (strstr(d, "alloc_") || strstr(d, "inuse_") || !strcmp(d, "space") ||
	    !strcmp(d, "objects"))
		return "memory";
	if (strstr(d, "mutex_"))
		return "mutex";
	if (strstr(d, "block_"))
		return "block";
	if (strstr(d, "goroutines"))
		return "goroutines";
	return NULL;
}

const char *sp_pyroscope_metric_name(const sp_profile *p)
{
	size_t i;

	if (!p->n_sample_types)
		return "";
	for (i = 0; i < p->n_sample_types; i++)
		if (!strcmp(sp_profile_str(p, p->sample_types[i].type), "wall"))
			return "wall";
	for (i = 0; i < p->n_sample_types; i++) {
		const char *m = type_metric(sp_profile_str(p, p->sample_types[i].type));
		if (m)
			return m;
	}
	return sp_profile_str(p, p->sample_types[p->n_sample_types - 1].type);
}

long sp_pyroscope_sample_rate(const sp_profile *p)
{
	if (p->period <= 0 || strcmp(sp_profile_str(p, p->period_type.type), "cpu") ||
	    strcmp(sp_profile_str(p, p->period_type.unit), "nanoseconds"))
		return 0;
	return (long)((1000000000LL + p->period / 2) / p->period);
}

void sp_pyroscope_parts_free(sp_pyroscope_part *parts, size_t n)
{
	size_t i;

	if (!parts)
		return;
	for (i = 0; i < n; i++)
		free(parts[i].body);
	free(parts);
}

/* ---- id map for the rebuild (0 = none: ids are never 0) --------------- */

static uint64_t idmap_get(const sp_hashmap *m, uint64_t k)
{
	const sp_hashmap_ent *e = sp_hashmap_find_u64(m, k);

	return e ? e->val.num : 0;
}

static int idmap_put(sp_hashmap *m, uint64_t k, uint64_t v)
{
	sp_hashmap_ent *e = sp_hashmap_insert_u64(m, k, NULL);

	if (!e)
		return -ENOMEM;
	e->val.num = v;
	return 0;
}

/* ---- the job ------------------------------------------------------------ */

struct prep {
	const sp_profile *src;  /* caller's profile: id lookups go through its index */
	sp_profile view;        /* what gets encoded */
	sp_sample *samples;     /* owned replacement samples (or NULL) */
	sp_label *labels;       /* owned label storage for them */
	char **strings;         /* owned replacement string table (or NULL) */
	char **fixed;           /* the strings we allocated in it */
	size_t n_fixed;
	const sp_pyroscope_prep *o;
	sp_pyroscope_part *parts;
	size_t n_parts, cap_parts;
	sp_error *err;
};

static const char *vstr(const struct prep *c, int64_t idx)
{
	return sp_profile_str(&c->view, idx);
}

static char *utf8_fix(const char *s)
{
	size_t len = strlen(s), i = 0;
	char *out = malloc(len + 1);

	if (!out)
		return NULL;
	while (i < len) {
		size_t n = 1;
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x80) {
			n = (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 : (ch & 0xf8) == 0xf0 ? 4 : 1;
			if (i + n > len || !sp_pyroscope_valid_utf8(s + i, n)) {
				out[i++] = '?';
				continue;
			}
		}
		memcpy(out + i, s + i, n);
		i += n;
	}
	out[len] = '\0';
	return out;
}

static int fix_strings(struct prep *c)
{
	const sp_profile *p = c->src;
	size_t i;

	for (i = 0; i < p->n_strings; i++) {
		const char *s = p->strings[i] ? p->strings[i] : "";
		char *f;

		if (sp_pyroscope_valid_utf8(s, strlen(s)))
			continue;
		if (!c->strings) {
			c->strings = malloc(p->n_strings * sizeof(char *));
			c->fixed = malloc(p->n_strings * sizeof(char *));
			if (!c->strings || !c->fixed)
				return -ENOMEM;
			memcpy(c->strings, p->strings, p->n_strings * sizeof(char *));
		}
		f = utf8_fix(s);
		if (!f)
			return -ENOMEM;
		c->fixed[c->n_fixed++] = f;
		c->strings[i] = f;
	}
	if (c->strings)
		c->view.strings = c->strings;
	return 0;
}

/* Pyroscope turns every sample string label but span_id (and, from v2.1.0,
 * trace_id) into a series label. span_name (one value per root span name)
 * is wanted by default; thread_name multiplies series by threads and
 * trace_id, on an older server, makes every trace a series of its own. */
static bool drop_label(const struct prep *c, const sp_label *l)
{
	const char *k = vstr(c, l->key);

	/* per-thread ids are for local profiles: one series per thread otherwise */
	if (!l->str)
		return !strcmp(k, "thread_id");
	if (!strcmp(k, "span_name"))
		return !c->o->keep_span_name;
	if (!strcmp(k, "trace_id"))
		return !c->o->keep_trace_id;
	return !c->o->keep_thread_name && !strcmp(k, "thread_name");
}

static int filter_labels(struct prep *c)
{
	const sp_profile *p = c->src;
	size_t i, j, total = 0, used = 0;
	bool need = false;

	for (i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];

		total += s->n_labels;
		if (s->n_labels > MAX_SAMPLE_LABELS)
			need = true;
		for (j = 0; j < s->n_labels && !need; j++)
			if (drop_label(c, &s->labels[j]))
				need = true;
	}
	if (!need)
		return 0;
	c->samples = malloc((p->n_samples ? p->n_samples : 1) * sizeof(sp_sample));
	c->labels = malloc((total ? total : 1) * sizeof(sp_label));
	if (!c->samples || !c->labels)
		return -ENOMEM;
	for (i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		sp_sample *d = &c->samples[i];

		*d = *s;
		d->labels = c->labels + used;
		d->n_labels = 0;
		for (j = 0; j < s->n_labels && d->n_labels < MAX_SAMPLE_LABELS; j++)
			if (!drop_label(c, &s->labels[j]))
				d->labels[d->n_labels++] = s->labels[j];
		used += d->n_labels;
	}
	c->view.samples = c->samples;
	return 0;
}

static int check_types(struct prep *c, const char *kind)
{
	const sp_profile *p = c->src;
	const char *want = !strcmp(kind, "cpu") ? "process_cpu" :
			   !strcmp(kind, "memory") ? "memory" : NULL;
	size_t i;

	if (!want)
		return sp_error_set(c->err, -EINVAL,
				    "pyroscope: profile type '%s' is not cpu or memory", kind);
	if (!p->n_sample_types)
		return sp_error_set(c->err, -EINVAL, "pyroscope: %s profile has no sample types",
				    kind);
	for (i = 0; i < p->n_sample_types; i++) {
		const char *t = sp_profile_str(p, p->sample_types[i].type), *m;

		if (strchr(t, '-'))
			return sp_error_set(c->err, -EINVAL,
					    "pyroscope: sample type '%s' contains '-', which Pyroscope refuses",
					    t);
		m = type_metric(t);
		if (m && strcmp(m, want))
			return sp_error_set(c->err, -EINVAL,
					    "pyroscope: %s profile has sample type '%s' (%s); Pyroscope files one type per request, send them separately",
					    kind, t, m);
	}
	if (strcmp(sp_pyroscope_metric_name(p), want))
		return sp_error_set(c->err, -EINVAL,
				    "pyroscope: %s profile's sample types would be filed as '%s', not '%s'",
				    kind, sp_pyroscope_metric_name(p), want);
	return 0;
}

static int add_part(struct prep *c, const uint8_t *raw, size_t raw_len, size_t n_samples)
{
	sp_pyroscope_part *pt;
	int ret;

	if (c->n_parts >= c->o->max_parts)
		return sp_error_set(c->err, -EINVAL,
				    "pyroscope: profile needs more than %zu requests to fit the server's limits; dropped",
				    c->o->max_parts);
	if (c->n_parts == c->cap_parts) {
		size_t cap = c->cap_parts ? c->cap_parts * 2 : 4;
		pt = realloc(c->parts, cap * sizeof(*pt));
		if (!pt)
			return -ENOMEM;
		c->parts = pt;
		c->cap_parts = cap;
	}
	pt = &c->parts[c->n_parts];
	memset(pt, 0, sizeof(*pt));
	ret = sp_gzip(raw, raw_len, c->o->gzip_level, &pt->body, &pt->len);
	if (ret)
		return sp_error_set(c->err, ret, "pyroscope: gzip failed");
	pt->raw_len = raw_len;
	pt->n_samples = n_samples;
	c->n_parts++;
	return 0;
}

/* Build a standalone profile from view samples [lo, hi). */
static int rebuild(struct prep *c, size_t lo, size_t hi, sp_profile **out)
{
	const sp_profile *v = &c->view, *src = c->src;
	sp_hashmap locs = { 0 }, funcs = { 0 }, maps = { 0 };
	sp_profile *d = sp_profile_new();
	uint64_t *ids = NULL;
	sp_label *lbl = NULL;
	sp_line *lines = NULL;
	size_t ids_cap = 0, lbl_cap = 0, lines_cap = 0, i, j;
	int ret = -ENOMEM;

	if (!d)
		goto out;
	for (i = 0; i < v->n_sample_types; i++)
		if (sp_profile_add_sample_type(d, vstr(c, v->sample_types[i].type),
					       vstr(c, v->sample_types[i].unit)))
			goto out;
	if (v->period_type.type &&
	    sp_profile_set_period(d, vstr(c, v->period_type.type), vstr(c, v->period_type.unit),
				  v->period))
		goto out;
	for (i = 0; i < v->n_comments; i++)
		if (sp_profile_add_comment(d, vstr(c, v->comments[i])))
			goto out;
	d->time_nanos = v->time_nanos;
	d->duration_nanos = v->duration_nanos;
	if (v->default_sample_type && (d->default_sample_type =
				       sp_profile_string(d, vstr(c, v->default_sample_type))) < 0)
		goto out;

	for (i = lo; i < hi; i++) {
		const sp_sample *s = &v->samples[i];

		if (s->n_locations > ids_cap) {
			free(ids);
			ids_cap = s->n_locations * 2;
			if (!(ids = malloc(ids_cap * sizeof(*ids))))
				goto out;
		}
		for (j = 0; j < s->n_locations; j++) {
			uint64_t sid = s->location_ids[j], did = idmap_get(&locs, sid);
			const sp_location *l;
			uint64_t mid = 0;

			if (!did) {
				l = sp_profile_location(src, sid);
				if (!l) {
					ret = sp_error_set(c->err, -EINVAL,
							   "pyroscope: sample refers to unknown location %llu",
							   (unsigned long long)sid);
					goto out;
				}
				if (l->mapping_id && !(mid = idmap_get(&maps, l->mapping_id))) {
					const sp_mapping *m = sp_profile_mapping(src, l->mapping_id);
					size_t k;

					if (m) {
						mid = sp_profile_add_mapping(d, m->memory_start,
									     m->memory_limit, m->file_offset,
									     vstr(c, m->filename),
									     vstr(c, m->build_id));
						if (!mid || idmap_put(&maps, l->mapping_id, mid))
							goto out;
						for (k = 0; k < d->n_mappings; k++) {
							sp_mapping *dm = &d->mappings[k];
							if (dm->id != mid)
								continue;
							dm->has_functions = m->has_functions;
							dm->has_filenames = m->has_filenames;
							dm->has_line_numbers = m->has_line_numbers;
							dm->has_inline_frames = m->has_inline_frames;
						}
					}
				}
				if (l->n_lines > lines_cap) {
					free(lines);
					lines_cap = l->n_lines * 2;
					if (!(lines = malloc(lines_cap * sizeof(*lines))))
						goto out;
				}
				for (size_t k = 0; k < l->n_lines; k++) {
					uint64_t fid = l->lines[k].function_id, dfid = idmap_get(&funcs, fid);

					if (!dfid && fid) {
						const sp_function *f = sp_profile_function(src, fid);

						if (f) {
							dfid = sp_profile_add_function(d, vstr(c, f->name),
										       vstr(c, f->system_name),
										       vstr(c, f->filename),
										       f->start_line);
							if (!dfid || idmap_put(&funcs, fid, dfid))
								goto out;
						}
					}
					lines[k] = l->lines[k];
					lines[k].function_id = dfid;
				}
				did = sp_profile_add_location(d, mid, l->address, lines, l->n_lines);
				if (!did || idmap_put(&locs, sid, did))
					goto out;
			}
			ids[j] = did;
		}
		if (s->n_labels > lbl_cap) {
			free(lbl);
			lbl_cap = s->n_labels * 2;
			if (!(lbl = malloc(lbl_cap * sizeof(*lbl))))
				goto out;
		}
		for (j = 0; j < s->n_labels; j++) {
			const sp_label *l = &s->labels[j];

			if (l->str)
				lbl[j] = sp_profile_str_label(d, vstr(c, l->key), vstr(c, l->str));
			else
				lbl[j] = sp_profile_num_label(d, vstr(c, l->key), l->num,
							      l->num_unit ? vstr(c, l->num_unit) : NULL);
		}
		ret = sp_profile_add_sample(d, ids, s->n_locations, s->values, lbl, s->n_labels);
		if (ret)
			goto out;
	}
	*out = d;
	d = NULL;
	ret = 0;
out:
	if (ret == -ENOMEM)
		sp_error_set(c->err, ret, "pyroscope: out of memory splitting a profile");
	sp_profile_free(d);
	free(ids);
	free(lbl);
	free(lines);
	sp_hashmap_free(&locs);
	sp_hashmap_free(&funcs);
	sp_hashmap_free(&maps);
	return ret;
}

static int emit_range(struct prep *c, size_t lo, size_t hi)
{
	sp_profile *sub = NULL;
	uint8_t *raw = NULL;
	size_t raw_len = 0;
	int ret;

	ret = rebuild(c, lo, hi, &sub);
	if (ret)
		goto out;
	ret = sp_pprof_encode(sub, 0, &raw, &raw_len, c->err);
	if (ret)
		goto out;
	if (raw_len <= c->o->max_bytes) {
		ret = add_part(c, raw, raw_len, hi - lo);
		goto out;
	}
	if (hi - lo < 2) {
		ret = sp_error_set(c->err, -EINVAL,
				   "pyroscope: one sample alone encodes to %zu bytes, over the %zu-byte limit; dropped",
				   raw_len, c->o->max_bytes);
		goto out;
	}
	sp_profile_free(sub);
	sub = NULL;
	free(raw);
	raw = NULL;
	ret = emit_range(c, lo, lo + (hi - lo) / 2);
	if (!ret)
		ret = emit_range(c, lo + (hi - lo) / 2, hi);
out:
	sp_profile_free(sub);
	free(raw);
	return ret;
}

int sp_pyroscope_prepare(const sp_profile *p, const char *kind, const sp_pyroscope_prep *o,
			 int64_t from_ns, int64_t until_ns, sp_pyroscope_part **parts, size_t *n,
			 sp_error *err)
{
	struct prep c = { 0 };
	uint8_t *raw = NULL;
	size_t raw_len = 0, i;
	int ret;

	*parts = NULL;
	*n = 0;
	c.src = p;
	c.view = *p; /* shares p->index, see the top of the file */
	c.o = o;
	c.err = err;
	if (!c.view.time_nanos)
		c.view.time_nanos = from_ns; /* the server checks time_nanos, not from */
	if (!c.view.duration_nanos && until_ns > from_ns)
		c.view.duration_nanos = until_ns - from_ns;

	ret = check_types(&c, kind);
	if (ret)
		goto out;
	ret = fix_strings(&c);
	if (!ret)
		ret = filter_labels(&c);
	if (ret) {
		sp_error_set(err, ret, "pyroscope: out of memory");
		goto out;
	}
	if (p->n_samples <= o->max_samples) {
		ret = sp_pprof_encode(&c.view, 0, &raw, &raw_len, err);
		if (ret)
			goto out;
		if (raw_len <= o->max_bytes) {
			ret = add_part(&c, raw, raw_len, p->n_samples);
			goto out;
		}
		free(raw);
		raw = NULL;
	}
	/* Over a limit: split in sample order, halving while still too big. */
	for (i = 0; i < p->n_samples && !ret; i += o->max_samples)
		ret = emit_range(&c, i, i + o->max_samples < p->n_samples ? i + o->max_samples :
					 p->n_samples);
out:
	free(raw);
	free(c.samples);
	free(c.labels);
	free(c.strings);
	for (i = 0; i < c.n_fixed; i++)
		free(c.fixed[i]);
	free(c.fixed);
	if (ret) {
		sp_pyroscope_parts_free(c.parts, c.n_parts);
		return ret;
	}
	*parts = c.parts;
	*n = c.n_parts;
	return 0;
}
