/* The in-memory pprof model: builders, interning, id lookups, merge and
 * validation. See profile.h for the conventions.
 *
 * The interning indexes are caches over the public arrays. Every table
 * remembers how many array entries it has indexed and catches up lazily, so
 * a profile whose arrays were filled directly (the pprof reader does that)
 * gets the same O(1) lookups and de-duplication as one built with add_*.
 * Lookups on a const profile may update these caches: a profile is not safe
 * for concurrent use without a lock, not even for reading.
 */
#include "model/profile.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"

/* ---- index tables: sp_hashmaps keyed by array index ------------------ */

/* Equality of the entry at idx with key, and its sp_hashmap form: each
 * comparison gets an adapter (INDEX_EQ) so that the probe loop calls it
 * directly and the compiler can inline it. */
struct probe {
	const sp_profile *p;
	const void *key;
};

#define INDEX_EQ(name)                                                      \
	static bool name##_ent(const sp_hashmap_ent *e, const void *probe)  \
	{                                                                   \
		const struct probe *q = probe;                              \
		return name(q->p, (size_t)e->key, q->key);                  \
	}

static inline size_t index_find(const sp_hashmap *t, uint64_t h, sp_hashmap_eq_fn eq,
				const sp_profile *p, const void *key)
{
	struct probe q = { p, key };
	const sp_hashmap_ent *e = sp_hashmap_find(t, h, eq, &q);

	return e ? (size_t)e->key : SIZE_MAX;
}

/* Array index of the entry equal to key by eq, or SIZE_MAX. */
#define htab_find(t, h, eq, p, key) index_find((t), (h), eq##_ent, (p), (key))

/* Insert without checking for an equal entry (callers look first). */
static int htab_insert(sp_hashmap *t, uint64_t h, size_t idx)
{
	return sp_hashmap_add(t, h, idx) ? 0 : -ENOMEM;
}

/* ---- the index --------------------------------------------------------- */

/* A key table plus an id table over one array, and how far each reaches.
 * Readers only need ids; the key table is built when something is added. */
struct table {
	sp_hashmap by_key;
	sp_hashmap by_id;
	size_t n_keys, n_ids;
	uint64_t next_id;
};

struct sp_profile_index {
	sp_hashmap strings;
	size_t n_strings_indexed;
	struct table mappings, functions, locations;
	sp_hashmap samples;
	size_t n_samples_indexed;
};

/* Make room for entry n. The capacity comes from the allocator itself, so
 * arrays allocated or replaced by other code (the reader fills them
 * directly) are grown correctly too; they only need to come from malloc. */
static int grow(void **arr, size_t n, size_t elem)
{
	size_t have = *arr ? malloc_usable_size(*arr) / elem : 0, ncap, bytes;
	void *na;

	if (n < have)
		return 0;
	ncap = n < 8 ? 16 : n * 2;
	if (__builtin_mul_overflow(ncap, elem, &bytes))
		return -ENOMEM;
	na = realloc(*arr, bytes);
	if (!na)
		return -ENOMEM;
	*arr = na;
	return 0;
}

#define GROW(arr, n) grow((void **)&(arr), (n), sizeof(*(arr)))

static void table_reset(struct table *t)
{
	sp_hashmap_free(&t->by_key);
	sp_hashmap_free(&t->by_id);
	t->n_keys = t->n_ids = 0;
	t->next_id = 1;
}

static void table_free(struct table *t)
{
	sp_hashmap_free(&t->by_key);
	sp_hashmap_free(&t->by_id);
}

/* ---- keys -------------------------------------------------------------- */

static bool str_eq(const sp_profile *p, size_t idx, const void *key)
{
	return p->strings[idx] && strcmp(p->strings[idx], key) == 0;
}
INDEX_EQ(str_eq)

struct mapping_key {
	uint64_t start, limit, offset;
	int64_t filename;
};

static uint64_t mapping_hash(const struct mapping_key *k)
{
	uint64_t h = sp_hash_add(1, k->start);

	h = sp_hash_add(h, k->limit);
	h = sp_hash_add(h, k->offset);
	return sp_hash_add(h, (uint64_t)k->filename);
}

static bool mapping_eq(const sp_profile *p, size_t idx, const void *key)
{
	const struct mapping_key *k = key;
	const sp_mapping *m = &p->mappings[idx];

	return m->memory_start == k->start && m->memory_limit == k->limit &&
	       m->file_offset == k->offset && m->filename == k->filename;
}
INDEX_EQ(mapping_eq)

static uint64_t function_hash(const sp_function *k)
{
	uint64_t h = sp_hash_add(2, (uint64_t)k->name);

	h = sp_hash_add(h, (uint64_t)k->system_name);
	h = sp_hash_add(h, (uint64_t)k->filename);
	return sp_hash_add(h, (uint64_t)k->start_line);
}

static bool function_eq(const sp_profile *p, size_t idx, const void *key)
{
	const sp_function *k = key, *f = &p->functions[idx];

	return f->name == k->name && f->system_name == k->system_name &&
	       f->filename == k->filename && f->start_line == k->start_line;
}
INDEX_EQ(function_eq)

/* Locations with an address are keyed by (mapping, address); without one,
 * by (mapping, lines). */
static uint64_t location_hash(const sp_location *k)
{
	uint64_t h = sp_hash_add(3, k->mapping_id);
	size_t i;

	if (k->address)
		return sp_hash_add(h, k->address);
	for (i = 0; i < k->n_lines; i++) {
		h = sp_hash_add(h, k->lines[i].function_id);
		h = sp_hash_add(h, (uint64_t)k->lines[i].line);
		h = sp_hash_add(h, (uint64_t)k->lines[i].column);
	}
	return sp_hash_add(h, k->n_lines);
}

static bool location_eq(const sp_profile *p, size_t idx, const void *key)
{
	const sp_location *k = key, *l = &p->locations[idx];
	size_t i;

	if (l->mapping_id != k->mapping_id || l->address != k->address)
		return false;
	if (k->address)
		return true;
	if (l->n_lines != k->n_lines)
		return false;
	for (i = 0; i < k->n_lines; i++)
		if (l->lines[i].function_id != k->lines[i].function_id ||
		    l->lines[i].line != k->lines[i].line ||
		    l->lines[i].column != k->lines[i].column)
			return false;
	return true;
}
INDEX_EQ(location_eq)

static uint64_t id_hash(uint64_t id)
{
	return sp_hash_mix(id);
}

static bool mapping_id_eq(const sp_profile *p, size_t idx, const void *key)
{
	return p->mappings[idx].id == *(const uint64_t *)key;
}
INDEX_EQ(mapping_id_eq)

static bool function_id_eq(const sp_profile *p, size_t idx, const void *key)
{
	return p->functions[idx].id == *(const uint64_t *)key;
}
INDEX_EQ(function_id_eq)

static bool location_id_eq(const sp_profile *p, size_t idx, const void *key)
{
	return p->locations[idx].id == *(const uint64_t *)key;
}
INDEX_EQ(location_id_eq)

static int label_cmp(const void *a, const void *b)
{
	const sp_label *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->str != y->str)
		return x->str < y->str ? -1 : 1;
	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	if (x->num_unit != y->num_unit)
		return x->num_unit < y->num_unit ? -1 : 1;
	return 0;
}

static bool labels_sorted(const sp_label *l, size_t n)
{
	size_t i;

	for (i = 1; i < n; i++)
		if (label_cmp(&l[i - 1], &l[i]) > 0)
			return false;
	return true;
}

/* Order-independent, so stored label sets hash the same sorted or not. */
static uint64_t labels_hash(const sp_label *l, size_t n)
{
	uint64_t h = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t x = sp_hash_add(4, (uint64_t)l[i].key);

		x = sp_hash_add(x, (uint64_t)l[i].str);
		x = sp_hash_add(x, (uint64_t)l[i].num);
		h += sp_hash_add(x, (uint64_t)l[i].num_unit);
	}
	return h;
}

struct sample_key {
	const uint64_t *locs;
	size_t n_locs;
	const sp_label *labels; /* sorted */
	size_t n_labels;
};

static uint64_t sample_hash(const uint64_t *locs, size_t n_locs,
			    const sp_label *labels, size_t n_labels)
{
	uint64_t h = sp_hash_add(5, n_locs);
	size_t i;

	for (i = 0; i < n_locs; i++)
		h = sp_hash_add(h, locs[i]);
	return sp_hash_add(h, labels_hash(labels, n_labels));
}

static bool sample_eq(const sp_profile *p, size_t idx, const void *key)
{
	const struct sample_key *k = key;
	const sp_sample *s = &p->samples[idx];
	sp_label stackbuf[8], *sorted;
	bool eq;

	if (s->n_locations != k->n_locs || s->n_labels != k->n_labels)
		return false;
	if (k->n_locs && memcmp(s->location_ids, k->locs, k->n_locs * sizeof(*k->locs)))
		return false;
	if (!k->n_labels)
		return true;
	if (labels_sorted(s->labels, s->n_labels))
		return memcmp(s->labels, k->labels, k->n_labels * sizeof(sp_label)) == 0;
	/* Samples read from a file may carry their labels in any order. */
	sorted = k->n_labels <= 8 ? stackbuf : malloc(k->n_labels * sizeof(sp_label));
	if (!sorted)
		return false;
	memcpy(sorted, s->labels, k->n_labels * sizeof(sp_label));
	qsort(sorted, k->n_labels, sizeof(sp_label), label_cmp);
	eq = memcmp(sorted, k->labels, k->n_labels * sizeof(sp_label)) == 0;
	if (sorted != stackbuf)
		free(sorted);
	return eq;
}
INDEX_EQ(sample_eq)

/* ---- catching the index up with the arrays ---------------------------- */

static struct sp_profile_index *index_get(const sp_profile *p)
{
	return p->index;
}

static int sync_strings(const sp_profile *p)
{
	struct sp_profile_index *ix = index_get(p);
	size_t i;

	if (ix->n_strings_indexed > p->n_strings) {
		sp_hashmap_free(&ix->strings);
		ix->n_strings_indexed = 0;
	}
	for (i = ix->n_strings_indexed; i < p->n_strings; i++) {
		uint64_t h;

		if (!p->strings[i])
			continue;
		h = sp_hash_str(p->strings[i]);
		if (htab_find(&ix->strings, h, str_eq, p, p->strings[i]) != SIZE_MAX)
			continue; /* duplicate string in a file: keep the first */
		if (htab_insert(&ix->strings, h, i))
			return -ENOMEM;
		ix->n_strings_indexed = i + 1;
	}
	ix->n_strings_indexed = p->n_strings;
	return 0;
}

static int sync_mappings(const sp_profile *p, bool keys)
{
	struct table *t = &index_get(p)->mappings;
	size_t i;

	if (t->n_ids > p->n_mappings || t->n_keys > p->n_mappings)
		table_reset(t);
	for (i = t->n_ids; i < p->n_mappings; i++) {
		const sp_mapping *m = &p->mappings[i];
		uint64_t h = id_hash(m->id);

		if (htab_find(&t->by_id, h, mapping_id_eq, p, &m->id) == SIZE_MAX &&
		    htab_insert(&t->by_id, h, i))
			return -ENOMEM;
		if (m->id >= t->next_id)
			t->next_id = m->id + 1;
		t->n_ids = i + 1;
	}
	for (i = t->n_keys; keys && i < p->n_mappings; i++) {
		const sp_mapping *m = &p->mappings[i];
		struct mapping_key k = { m->memory_start, m->memory_limit,
					 m->file_offset, m->filename };
		uint64_t h = mapping_hash(&k);

		if (htab_find(&t->by_key, h, mapping_eq, p, &k) == SIZE_MAX &&
		    htab_insert(&t->by_key, h, i))
			return -ENOMEM;
		t->n_keys = i + 1;
	}
	return 0;
}

static int sync_functions(const sp_profile *p, bool keys)
{
	struct table *t = &index_get(p)->functions;
	size_t i;

	if (t->n_ids > p->n_functions || t->n_keys > p->n_functions)
		table_reset(t);
	for (i = t->n_ids; i < p->n_functions; i++) {
		const sp_function *f = &p->functions[i];
		uint64_t h = id_hash(f->id);

		if (htab_find(&t->by_id, h, function_id_eq, p, &f->id) == SIZE_MAX &&
		    htab_insert(&t->by_id, h, i))
			return -ENOMEM;
		if (f->id >= t->next_id)
			t->next_id = f->id + 1;
		t->n_ids = i + 1;
	}
	for (i = t->n_keys; keys && i < p->n_functions; i++) {
		const sp_function *f = &p->functions[i];
		uint64_t h = function_hash(f);

		if (htab_find(&t->by_key, h, function_eq, p, f) == SIZE_MAX &&
		    htab_insert(&t->by_key, h, i))
			return -ENOMEM;
		t->n_keys = i + 1;
	}
	return 0;
}

static int sync_locations(const sp_profile *p, bool keys)
{
	struct table *t = &index_get(p)->locations;
	size_t i;

	if (t->n_ids > p->n_locations || t->n_keys > p->n_locations)
		table_reset(t);
	for (i = t->n_ids; i < p->n_locations; i++) {
		const sp_location *l = &p->locations[i];
		uint64_t h = id_hash(l->id);

		if (htab_find(&t->by_id, h, location_id_eq, p, &l->id) == SIZE_MAX &&
		    htab_insert(&t->by_id, h, i))
			return -ENOMEM;
		if (l->id >= t->next_id)
			t->next_id = l->id + 1;
		t->n_ids = i + 1;
	}
	for (i = t->n_keys; keys && i < p->n_locations; i++) {
		const sp_location *l = &p->locations[i];
		uint64_t h = location_hash(l);

		if (htab_find(&t->by_key, h, location_eq, p, l) == SIZE_MAX &&
		    htab_insert(&t->by_key, h, i))
			return -ENOMEM;
		t->n_keys = i + 1;
	}
	return 0;
}

static int sync_samples(const sp_profile *p)
{
	struct sp_profile_index *ix = index_get(p);
	size_t i;

	if (ix->n_samples_indexed > p->n_samples) {
		sp_hashmap_free(&ix->samples);
		ix->n_samples_indexed = 0;
	}
	for (i = ix->n_samples_indexed; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		uint64_t h = sample_hash(s->location_ids, s->n_locations,
					 s->labels, s->n_labels);

		/* Duplicate keys in a file: new values go to the first one. */
		if (htab_insert(&ix->samples, h, i))
			return -ENOMEM;
		ix->n_samples_indexed = i + 1;
	}
	return 0;
}

/* Id lookups: index of the entry or SIZE_MAX. Falls back to a scan if the
 * index cannot be built (out of memory, or a hand-made profile). */
#define DEFINE_ID_LOOKUP(name, arr, n, tbl, eqf, syncf)                       \
	static size_t name(const sp_profile *p, uint64_t id)                  \
	{                                                                     \
		size_t i;                                                     \
		if (!id)                                                      \
			return SIZE_MAX;                                      \
		if (p->index && syncf(p, false) == 0)                         \
			return htab_find(&p->index->tbl.by_id, id_hash(id),   \
					 eqf, p, &id);                        \
		for (i = 0; i < p->n; i++)                                    \
			if (p->arr[i].id == id)                               \
				return i;                                     \
		return SIZE_MAX;                                              \
	}

DEFINE_ID_LOOKUP(mapping_index, mappings, n_mappings, mappings, mapping_id_eq, sync_mappings)
DEFINE_ID_LOOKUP(function_index, functions, n_functions, functions, function_id_eq, sync_functions)
DEFINE_ID_LOOKUP(location_index, locations, n_locations, locations, location_id_eq, sync_locations)

/* ---- construction ------------------------------------------------------ */

static struct sp_profile_index *index_new(void)
{
	struct sp_profile_index *ix = calloc(1, sizeof(*ix));

	if (!ix)
		return NULL;
	ix->mappings.next_id = 1;
	ix->functions.next_id = 1;
	ix->locations.next_id = 1;
	return ix;
}

static void index_free(struct sp_profile_index *ix)
{
	if (!ix)
		return;
	sp_hashmap_free(&ix->strings);
	table_free(&ix->mappings);
	table_free(&ix->functions);
	table_free(&ix->locations);
	sp_hashmap_free(&ix->samples);
	free(ix);
}

/* Builders need the index; hand-made profiles get one on first use. */
static int ensure_index(sp_profile *p)
{
	if (!p->index)
		p->index = index_new();
	return p->index ? 0 : -ENOMEM;
}

sp_profile *sp_profile_new(void)
{
	sp_profile *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->index = index_new();
	if (!p->index || sp_profile_string(p, "") != 0) {
		sp_profile_free(p);
		return NULL;
	}
	return p;
}

void sp_profile_free(sp_profile *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->n_samples; i++) {
		free(p->samples[i].location_ids);
		free(p->samples[i].values);
		free(p->samples[i].labels);
	}
	free(p->samples);
	for (i = 0; i < p->n_locations; i++)
		free(p->locations[i].lines);
	free(p->locations);
	free(p->mappings);
	free(p->functions);
	for (i = 0; i < p->n_strings; i++)
		free(p->strings[i]);
	free(p->strings);
	free(p->sample_types);
	free(p->comments);
	index_free(p->index);
	free(p);
}

int64_t sp_profile_string(sp_profile *p, const char *s)
{
	struct sp_profile_index *ix;
	uint64_t h;
	size_t idx;
	char *copy;

	if (!s)
		s = "";
	if (ensure_index(p))
		return -1;
	ix = p->index;
	if (p->n_strings == 0 && *s) {
		/* Entry 0 must be "" whatever is interned first. */
		if (sp_profile_string(p, "") != 0)
			return -1;
	}
	if (sync_strings(p))
		return -1;
	h = sp_hash_str(s);
	idx = htab_find(&ix->strings, h, str_eq, p, s);
	if (idx != SIZE_MAX)
		return (int64_t)idx;
	if (GROW(p->strings, p->n_strings))
		return -1;
	copy = strdup(s);
	if (!copy)
		return -1;
	if (htab_insert(&ix->strings, h, p->n_strings)) {
		free(copy);
		return -1;
	}
	p->strings[p->n_strings++] = copy;
	ix->n_strings_indexed = p->n_strings;
	return (int64_t)(p->n_strings - 1);
}

const char *sp_profile_str(const sp_profile *p, int64_t idx)
{
	if (!p || idx <= 0 || (uint64_t)idx >= p->n_strings || !p->strings[idx])
		return "";
	return p->strings[idx];
}

static int intern_vt(sp_profile *p, const char *type, const char *unit,
		     sp_value_type *vt)
{
	int64_t t = sp_profile_string(p, type), u = sp_profile_string(p, unit);

	if (t < 0 || u < 0)
		return -ENOMEM;
	vt->type = t;
	vt->unit = u;
	return 0;
}

int sp_profile_add_sample_type(sp_profile *p, const char *type, const char *unit)
{
	sp_value_type vt;
	int rc;

	if (p->n_samples)
		return -EINVAL; /* existing samples would lack the new value */
	rc = intern_vt(p, type, unit, &vt);
	if (rc)
		return rc;
	if (GROW(p->sample_types, p->n_sample_types))
		return -ENOMEM;
	p->sample_types[p->n_sample_types++] = vt;
	return 0;
}

int sp_profile_set_period(sp_profile *p, const char *type, const char *unit,
			  int64_t period)
{
	int rc = intern_vt(p, type, unit, &p->period_type);

	if (!rc)
		p->period = period;
	return rc;
}

int sp_profile_add_comment(sp_profile *p, const char *text)
{
	int64_t s = sp_profile_string(p, text);

	if (s < 0)
		return -ENOMEM;
	if (GROW(p->comments, p->n_comments))
		return -ENOMEM;
	p->comments[p->n_comments++] = s;
	return 0;
}

uint64_t sp_profile_add_mapping(sp_profile *p, uint64_t start, uint64_t limit,
				uint64_t file_offset, const char *filename,
				const char *build_id)
{
	struct mapping_key k = { start, limit, file_offset, 0 };
	int64_t fn = sp_profile_string(p, filename);
	int64_t bid = sp_profile_string(p, build_id);
	struct table *t;
	sp_mapping *m;
	uint64_t h;
	size_t idx;

	if (fn < 0 || bid < 0 || sync_mappings(p, true))
		return 0;
	t = &p->index->mappings;
	k.filename = fn;
	h = mapping_hash(&k);
	idx = htab_find(&t->by_key, h, mapping_eq, p, &k);
	if (idx != SIZE_MAX) {
		if (!p->mappings[idx].build_id)
			p->mappings[idx].build_id = bid;
		return p->mappings[idx].id;
	}
	if (!t->next_id || GROW(p->mappings, p->n_mappings))
		return 0;
	m = &p->mappings[p->n_mappings];
	memset(m, 0, sizeof(*m));
	m->id = t->next_id;
	m->memory_start = start;
	m->memory_limit = limit;
	m->file_offset = file_offset;
	m->filename = fn;
	m->build_id = bid;
	if (htab_insert(&t->by_key, h, p->n_mappings) ||
	    htab_insert(&t->by_id, id_hash(m->id), p->n_mappings)) {
		table_reset(t); /* rebuilt from the array on next use */
		return 0;
	}
	p->n_mappings++;
	t->n_keys = t->n_ids = p->n_mappings;
	t->next_id++;
	return m->id;
}

uint64_t sp_profile_add_function(sp_profile *p, const char *name,
				 const char *system_name, const char *filename,
				 int64_t start_line)
{
	sp_function k = { 0 }, *f;
	struct table *t;
	uint64_t h;
	size_t idx;

	k.name = sp_profile_string(p, name);
	/* The proto asks for both names when only one is known. */
	k.system_name = sp_profile_string(p, system_name ? system_name : name);
	k.filename = sp_profile_string(p, filename);
	k.start_line = start_line;
	if (k.name < 0 || k.system_name < 0 || k.filename < 0 || sync_functions(p, true))
		return 0;
	t = &p->index->functions;
	h = function_hash(&k);
	idx = htab_find(&t->by_key, h, function_eq, p, &k);
	if (idx != SIZE_MAX)
		return p->functions[idx].id;
	if (!t->next_id || GROW(p->functions, p->n_functions))
		return 0;
	k.id = t->next_id;
	f = &p->functions[p->n_functions];
	*f = k;
	if (htab_insert(&t->by_key, h, p->n_functions) ||
	    htab_insert(&t->by_id, id_hash(f->id), p->n_functions)) {
		table_reset(t);
		return 0;
	}
	p->n_functions++;
	t->n_keys = t->n_ids = p->n_functions;
	t->next_id++;
	return f->id;
}

uint64_t sp_profile_add_location(sp_profile *p, uint64_t mapping_id,
				 uint64_t address, const sp_line *lines,
				 size_t n_lines)
{
	sp_location k = { 0 }, *l;
	struct table *t;
	uint64_t h;
	size_t idx;

	if (n_lines && !lines)
		return 0;
	if (ensure_index(p) || sync_locations(p, true))
		return 0;
	t = &p->index->locations;
	k.mapping_id = mapping_id;
	k.address = address;
	k.lines = (sp_line *)lines;
	k.n_lines = n_lines;
	h = location_hash(&k);
	idx = htab_find(&t->by_key, h, location_eq, p, &k);
	if (idx != SIZE_MAX)
		return p->locations[idx].id;
	if (!t->next_id || GROW(p->locations, p->n_locations))
		return 0;
	k.id = t->next_id;
	k.lines = NULL;
	if (n_lines) {
		k.lines = malloc(n_lines * sizeof(*lines));
		if (!k.lines)
			return 0;
		memcpy(k.lines, lines, n_lines * sizeof(*lines));
	}
	l = &p->locations[p->n_locations];
	*l = k;
	if (htab_insert(&t->by_key, h, p->n_locations) ||
	    htab_insert(&t->by_id, id_hash(l->id), p->n_locations)) {
		free(l->lines);
		table_reset(t);
		return 0;
	}
	p->n_locations++;
	t->n_keys = t->n_ids = p->n_locations;
	t->next_id++;
	return l->id;
}

int sp_profile_set_location_lines(sp_profile *p, uint64_t location_id,
				  const sp_line *lines, size_t n_lines)
{
	size_t idx = location_index(p, location_id);
	sp_location *l;
	sp_line *copy = NULL;

	if (idx == SIZE_MAX || (n_lines && !lines))
		return -EINVAL;
	l = &p->locations[idx];
	if (n_lines) {
		copy = malloc(n_lines * sizeof(*lines));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, lines, n_lines * sizeof(*lines));
	}
	free(l->lines);
	l->lines = copy;
	l->n_lines = n_lines;
	/* An address-less location is keyed by its lines: re-key everything. */
	if (!l->address && p->index) {
		sp_hashmap_free(&p->index->locations.by_key);
		p->index->locations.n_keys = 0;
	}
	return 0;
}

int sp_profile_add_sample(sp_profile *p, const uint64_t *location_ids,
			  size_t n_locations, const int64_t *values,
			  const sp_label *labels, size_t n_labels)
{
	struct sample_key k = { location_ids, n_locations, NULL, n_labels };
	sp_label *sorted = NULL;
	sp_sample s = { 0 };
	uint64_t h;
	size_t idx, i;
	int rc = -ENOMEM;

	if (!p->n_sample_types || !values || (n_locations && !location_ids) ||
	    (n_labels && !labels))
		return -EINVAL;
	if (ensure_index(p) || sync_samples(p))
		return -ENOMEM;
	if (n_labels) {
		sorted = malloc(n_labels * sizeof(*sorted));
		if (!sorted)
			return -ENOMEM;
		memcpy(sorted, labels, n_labels * sizeof(*sorted));
		qsort(sorted, n_labels, sizeof(*sorted), label_cmp);
	}
	k.labels = sorted;
	h = sample_hash(location_ids, n_locations, sorted, n_labels);
	idx = htab_find(&p->index->samples, h, sample_eq, p, &k);
	if (idx != SIZE_MAX) {
		sp_sample *e = &p->samples[idx];

		/* wrap rather than overflow (signed overflow is undefined) */
		for (i = 0; i < p->n_sample_types; i++)
			e->values[i] = (int64_t)((uint64_t)e->values[i] + (uint64_t)values[i]);
		rc = 0;
		goto out;
	}
	if (GROW(p->samples, p->n_samples))
		goto out;
	s.n_locations = n_locations;
	s.n_labels = n_labels;
	s.values = malloc(p->n_sample_types * sizeof(*values));
	if (n_locations)
		s.location_ids = malloc(n_locations * sizeof(*location_ids));
	if (!s.values || (n_locations && !s.location_ids))
		goto fail;
	memcpy(s.values, values, p->n_sample_types * sizeof(*values));
	if (n_locations)
		memcpy(s.location_ids, location_ids, n_locations * sizeof(*location_ids));
	s.labels = sorted;
	if (htab_insert(&p->index->samples, h, p->n_samples))
		goto fail;
	sorted = NULL; /* owned by the sample now */
	p->samples[p->n_samples++] = s;
	p->index->n_samples_indexed = p->n_samples;
	rc = 0;
	goto out;
fail:
	free(s.values);
	free(s.location_ids);
out:
	free(sorted);
	return rc;
}

sp_label sp_profile_str_label(sp_profile *p, const char *key, const char *value)
{
	sp_label l = { 0 };
	int64_t k = sp_profile_string(p, key), v = sp_profile_string(p, value);

	if (k >= 0 && v >= 0) {
		l.key = k;
		l.str = v;
	}
	return l; /* all-zero on OOM: pprof drops such a label */
}

sp_label sp_profile_num_label(sp_profile *p, const char *key, int64_t num,
			      const char *unit)
{
	sp_label l = { 0 };
	int64_t k = sp_profile_string(p, key), u = sp_profile_string(p, unit);

	if (k >= 0 && u >= 0) {
		l.key = k;
		l.num = num;
		l.num_unit = u;
	}
	return l;
}

/* ---- lookup ------------------------------------------------------------ */

const sp_mapping *sp_profile_mapping(const sp_profile *p, uint64_t id)
{
	size_t i = mapping_index(p, id);

	return i == SIZE_MAX ? NULL : &p->mappings[i];
}

const sp_location *sp_profile_location(const sp_profile *p, uint64_t id)
{
	size_t i = location_index(p, id);

	return i == SIZE_MAX ? NULL : &p->locations[i];
}

const sp_function *sp_profile_function(const sp_profile *p, uint64_t id)
{
	size_t i = function_index(p, id);

	return i == SIZE_MAX ? NULL : &p->functions[i];
}

int sp_profile_sample_index(const sp_profile *p, const char *type_name)
{
	size_t i;

	if (!p->n_sample_types)
		return -1;
	if (!type_name || !*type_name) {
		if (!p->default_sample_type)
			return (int)p->n_sample_types - 1;
		type_name = sp_profile_str(p, p->default_sample_type);
		for (i = 0; i < p->n_sample_types; i++)
			if (!strcmp(sp_profile_str(p, p->sample_types[i].type), type_name))
				return (int)i;
		return (int)p->n_sample_types - 1;
	}
	for (i = 0; i < p->n_sample_types; i++)
		if (!strcmp(sp_profile_str(p, p->sample_types[i].type), type_name))
			return (int)i;
	return -1;
}

const char *sp_profile_sample_label(const sp_profile *p, const sp_sample *s,
				    const char *key)
{
	size_t i;

	for (i = 0; i < s->n_labels; i++)
		if (s->labels[i].str && !strcmp(sp_profile_str(p, s->labels[i].key), key))
			return sp_profile_str(p, s->labels[i].str);
	return NULL;
}

/* ---- merge ------------------------------------------------------------- */

struct merge_ctx {
	sp_profile *dst;
	const sp_profile *src;
	int64_t *str_map; /* src string index -> dst index, -1 = not yet */
};

static int64_t map_str(struct merge_ctx *c, int64_t idx)
{
	if (idx <= 0 || (uint64_t)idx >= c->src->n_strings)
		return 0;
	if (c->str_map[idx] < 0)
		c->str_map[idx] = sp_profile_string(c->dst, c->src->strings[idx]);
	return c->str_map[idx];
}

static void describe_types(const sp_profile *p, char *buf, size_t len)
{
	size_t i, off = 0;

	buf[0] = '\0';
	for (i = 0; i < p->n_sample_types && off < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s/%s", i ? " " : "",
				 sp_profile_str(p, p->sample_types[i].type),
				 sp_profile_str(p, p->sample_types[i].unit));
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static int check_compatible(const sp_profile *dst, const sp_profile *src,
			    sp_error *err)
{
	char a[200], b[200];
	size_t i;
	bool same = dst->n_sample_types == src->n_sample_types;

	for (i = 0; same && i < dst->n_sample_types; i++)
		same = !strcmp(sp_profile_str(dst, dst->sample_types[i].type),
			       sp_profile_str(src, src->sample_types[i].type)) &&
		       !strcmp(sp_profile_str(dst, dst->sample_types[i].unit),
			       sp_profile_str(src, src->sample_types[i].unit));
	if (!same) {
		describe_types(dst, a, sizeof(a));
		describe_types(src, b, sizeof(b));
		return sp_error_set(err, -EINVAL,
				    "cannot merge profiles with incompatible sample types: [%s] vs [%s]",
				    a, b);
	}
	if (dst->period_type.type && src->period_type.type &&
	    (strcmp(sp_profile_str(dst, dst->period_type.type),
		    sp_profile_str(src, src->period_type.type)) ||
	     strcmp(sp_profile_str(dst, dst->period_type.unit),
		    sp_profile_str(src, src->period_type.unit))))
		return sp_error_set(err, -EINVAL,
				    "cannot merge profiles with incompatible period types: %s/%s vs %s/%s",
				    sp_profile_str(dst, dst->period_type.type),
				    sp_profile_str(dst, dst->period_type.unit),
				    sp_profile_str(src, src->period_type.type),
				    sp_profile_str(src, src->period_type.unit));
	return 0;
}

/* time_nanos + duration_nanos, saturated: files can hold anything. */
static int64_t end_time(const sp_profile *p)
{
	int64_t end;

	if (__builtin_add_overflow(p->time_nanos, p->duration_nanos, &end))
		end = p->duration_nanos < 0 ? INT64_MIN : INT64_MAX;
	return end;
}

static int merge_header(struct merge_ctx *c)
{
	sp_profile *dst = c->dst;
	const sp_profile *src = c->src;
	size_t i, j;

	if (!dst->n_sample_types) {
		for (i = 0; i < src->n_sample_types; i++)
			if (sp_profile_add_sample_type(dst,
					sp_profile_str(src, src->sample_types[i].type),
					sp_profile_str(src, src->sample_types[i].unit)))
				return -ENOMEM;
		dst->default_sample_type = map_str(c, src->default_sample_type);
	}
	if (!dst->period_type.type && src->period_type.type) {
		dst->period_type.type = map_str(c, src->period_type.type);
		dst->period_type.unit = map_str(c, src->period_type.unit);
		dst->period = src->period;
	}
	if (!dst->period)
		dst->period = src->period;
	if (!dst->drop_frames)
		dst->drop_frames = map_str(c, src->drop_frames);
	if (!dst->keep_frames)
		dst->keep_frames = map_str(c, src->keep_frames);
	if (!dst->doc_url)
		dst->doc_url = map_str(c, src->doc_url);
	/* Comments: keep each distinct text once. */
	for (i = 0; i < src->n_comments; i++) {
		int64_t s = map_str(c, src->comments[i]);
		bool seen = false;

		if (s < 0)
			return -ENOMEM;
		for (j = 0; j < dst->n_comments && !seen; j++)
			seen = dst->comments[j] == s;
		if (!seen && sp_profile_add_comment(dst, sp_profile_str(dst, s)))
			return -ENOMEM;
	}
	if (src->time_nanos) {
		if (!dst->time_nanos) {
			dst->time_nanos = src->time_nanos;
			if (src->duration_nanos > dst->duration_nanos)
				dst->duration_nanos = src->duration_nanos;
		} else {
			int64_t start = dst->time_nanos < src->time_nanos ?
					dst->time_nanos : src->time_nanos;
			int64_t end1 = end_time(dst), end2 = end_time(src), dur;

			dst->time_nanos = start;
			if (__builtin_sub_overflow(end1 > end2 ? end1 : end2, start, &dur))
				dur = INT64_MAX;
			dst->duration_nanos = dur;
		}
	} else if (src->duration_nanos > dst->duration_nanos) {
		dst->duration_nanos = src->duration_nanos;
	}
	return 0;
}

static int merge_indexed(sp_profile *dst, const sp_profile *src, sp_error *err);

int sp_profile_merge(sp_profile *dst, const sp_profile *src, sp_error *err)
{
	sp_profile shadow;
	int rc;

	if (src->index)
		return merge_indexed(dst, src, err);
	/* As in validate: give an index-less source a temporary index. */
	shadow = *src;
	shadow.index = index_new();
	if (!shadow.index)
		return sp_error_set(err, -ENOMEM, "out of memory while merging profiles");
	rc = merge_indexed(dst, &shadow, err);
	index_free(shadow.index);
	return rc;
}

static int merge_indexed(sp_profile *dst, const sp_profile *src, sp_error *err)
{
	struct merge_ctx c = { dst, src, NULL };
	uint64_t *map_ids = NULL, *fn_ids = NULL, *loc_ids = NULL, *stack = NULL;
	sp_line *lines = NULL;
	sp_label *labels = NULL;
	size_t i, j, max_lines = 0, max_stack = 0, max_labels = 0;
	int rc;

	rc = sp_profile_validate(src, err);
	if (rc) {
		sp_error_prefix(err, "cannot merge an invalid profile");
		return rc;
	}
	if (dst->n_sample_types) {
		rc = check_compatible(dst, src, err);
		if (rc)
			return rc;
	}
	rc = -ENOMEM;
	c.str_map = malloc((src->n_strings ? src->n_strings : 1) * sizeof(int64_t));
	map_ids = calloc(src->n_mappings + 1, sizeof(*map_ids));
	fn_ids = calloc(src->n_functions + 1, sizeof(*fn_ids));
	loc_ids = calloc(src->n_locations + 1, sizeof(*loc_ids));
	if (!c.str_map || !map_ids || !fn_ids || !loc_ids)
		goto out;
	for (i = 0; i < src->n_strings; i++)
		c.str_map[i] = -1;
	c.str_map[0] = 0;
	if (merge_header(&c))
		goto out;

	for (i = 0; i < src->n_mappings; i++) {
		const sp_mapping *m = &src->mappings[i];
		size_t di;

		map_ids[i] = sp_profile_add_mapping(dst, m->memory_start, m->memory_limit,
						    m->file_offset,
						    sp_profile_str(src, m->filename),
						    sp_profile_str(src, m->build_id));
		if (!map_ids[i])
			goto out;
		di = mapping_index(dst, map_ids[i]);
		dst->mappings[di].has_functions |= m->has_functions;
		dst->mappings[di].has_filenames |= m->has_filenames;
		dst->mappings[di].has_line_numbers |= m->has_line_numbers;
		dst->mappings[di].has_inline_frames |= m->has_inline_frames;
	}
	for (i = 0; i < src->n_functions; i++) {
		const sp_function *f = &src->functions[i];

		fn_ids[i] = sp_profile_add_function(dst, sp_profile_str(src, f->name),
						    sp_profile_str(src, f->system_name),
						    sp_profile_str(src, f->filename),
						    f->start_line);
		if (!fn_ids[i])
			goto out;
	}
	for (i = 0; i < src->n_locations; i++)
		if (src->locations[i].n_lines > max_lines)
			max_lines = src->locations[i].n_lines;
	lines = malloc((max_lines ? max_lines : 1) * sizeof(*lines));
	if (!lines)
		goto out;
	for (i = 0; i < src->n_locations; i++) {
		const sp_location *l = &src->locations[i];
		uint64_t mid = 0;
		size_t mi;

		for (j = 0; j < l->n_lines; j++) {
			lines[j] = l->lines[j];
			lines[j].function_id = fn_ids[function_index(src, l->lines[j].function_id)];
		}
		/* A mapping id that names no mapping becomes "none", as in pprof. */
		mi = mapping_index(src, l->mapping_id);
		if (mi != SIZE_MAX)
			mid = map_ids[mi];
		loc_ids[i] = sp_profile_add_location(dst, mid, l->address, lines, l->n_lines);
		if (!loc_ids[i])
			goto out;
		if (l->is_folded)
			dst->locations[location_index(dst, loc_ids[i])].is_folded = true;
	}
	for (i = 0; i < src->n_samples; i++) {
		if (src->samples[i].n_locations > max_stack)
			max_stack = src->samples[i].n_locations;
		if (src->samples[i].n_labels > max_labels)
			max_labels = src->samples[i].n_labels;
	}
	stack = malloc((max_stack ? max_stack : 1) * sizeof(*stack));
	labels = malloc((max_labels ? max_labels : 1) * sizeof(*labels));
	if (!stack || !labels)
		goto out;
	for (i = 0; i < src->n_samples; i++) {
		const sp_sample *s = &src->samples[i];

		for (j = 0; j < s->n_locations; j++)
			stack[j] = loc_ids[location_index(src, s->location_ids[j])];
		for (j = 0; j < s->n_labels; j++) {
			labels[j].key = map_str(&c, s->labels[j].key);
			labels[j].str = map_str(&c, s->labels[j].str);
			labels[j].num = s->labels[j].num;
			labels[j].num_unit = map_str(&c, s->labels[j].num_unit);
			if (labels[j].key < 0 || labels[j].str < 0 || labels[j].num_unit < 0)
				goto out;
		}
		if (sp_profile_add_sample(dst, stack, s->n_locations, s->values,
					  labels, s->n_labels))
			goto out;
	}
	rc = 0;
out:
	if (rc == -ENOMEM)
		sp_error_set(err, rc, "out of memory while merging profiles");
	free(c.str_map);
	free(map_ids);
	free(fn_ids);
	free(loc_ids);
	free(lines);
	free(stack);
	free(labels);
	return rc;
}

/* ---- validate ---------------------------------------------------------- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Ids must be non-zero and unique; `what` names the kind in messages. */
static int check_ids(const void *arr, size_t n, size_t stride, const char *what,
		     sp_error *err)
{
	uint64_t *ids;
	size_t i;
	int rc = 0;

	if (!n)
		return 0;
	ids = malloc(n * sizeof(*ids));
	if (!ids)
		return sp_error_set(err, -ENOMEM, "out of memory validating %ss", what);
	for (i = 0; i < n; i++) {
		ids[i] = *(const uint64_t *)((const char *)arr + i * stride);
		if (!ids[i]) {
			rc = sp_error_set(err, -EINVAL, "%s %zu has the reserved id 0", what, i);
			goto out;
		}
	}
	qsort(ids, n, sizeof(*ids), u64_cmp);
	for (i = 1; i < n; i++)
		if (ids[i] == ids[i - 1]) {
			rc = sp_error_set(err, -EINVAL, "several %ss have the id %llu", what,
					  (unsigned long long)ids[i]);
			goto out;
		}
out:
	free(ids);
	return rc;
}

static bool str_ok(const sp_profile *p, int64_t idx)
{
	return idx >= 0 && (uint64_t)idx < p->n_strings;
}

#define CHECK_STR(idx, ...)                                                    \
	do {                                                                   \
		if (!str_ok(p, (idx)))                                         \
			return sp_error_set(err, -EINVAL, __VA_ARGS__);        \
	} while (0)

static int validate_indexed(const sp_profile *p, sp_error *err)
{
	size_t i, j;
	int rc;

	if (!p->n_strings || !p->strings)
		return sp_error_set(err, -EINVAL, "the string table is empty (entry 0 must be \"\")");
	for (i = 0; i < p->n_strings; i++)
		if (!p->strings[i])
			return sp_error_set(err, -EINVAL, "string %zu is missing", i);
	if (p->strings[0][0])
		return sp_error_set(err, -EINVAL, "string table entry 0 is \"%.40s\", must be \"\"",
				    p->strings[0]);
	if (p->n_samples && !p->n_sample_types)
		return sp_error_set(err, -EINVAL,
				    "the profile has %zu samples but no sample types", p->n_samples);
	for (i = 0; i < p->n_sample_types; i++) {
		CHECK_STR(p->sample_types[i].type, "sample type %zu has a string index out of range", i);
		CHECK_STR(p->sample_types[i].unit, "sample type %zu has a string index out of range", i);
	}
	CHECK_STR(p->period_type.type, "period type has a string index out of range");
	CHECK_STR(p->period_type.unit, "period type has a string index out of range");
	CHECK_STR(p->drop_frames, "drop_frames is a string index out of range");
	CHECK_STR(p->keep_frames, "keep_frames is a string index out of range");
	CHECK_STR(p->default_sample_type, "default_sample_type is a string index out of range");
	CHECK_STR(p->doc_url, "doc_url is a string index out of range");
	for (i = 0; i < p->n_comments; i++)
		CHECK_STR(p->comments[i], "comment %zu is a string index out of range", i);

	rc = check_ids(p->mappings, p->n_mappings, sizeof(sp_mapping), "mapping", err);
	if (!rc)
		rc = check_ids(p->functions, p->n_functions, sizeof(sp_function), "function", err);
	if (!rc)
		rc = check_ids(p->locations, p->n_locations, sizeof(sp_location), "location", err);
	if (rc)
		return rc;
	for (i = 0; i < p->n_mappings; i++) {
		const sp_mapping *m = &p->mappings[i];

		CHECK_STR(m->filename, "mapping %llu has a filename string index out of range",
			  (unsigned long long)m->id);
		CHECK_STR(m->build_id, "mapping %llu has a build_id string index out of range",
			  (unsigned long long)m->id);
	}
	for (i = 0; i < p->n_functions; i++) {
		const sp_function *f = &p->functions[i];

		CHECK_STR(f->name, "function %llu has a name string index out of range",
			  (unsigned long long)f->id);
		CHECK_STR(f->system_name, "function %llu has a system_name string index out of range",
			  (unsigned long long)f->id);
		CHECK_STR(f->filename, "function %llu has a filename string index out of range",
			  (unsigned long long)f->id);
	}
	for (i = 0; i < p->n_locations; i++) {
		const sp_location *l = &p->locations[i];

		if (l->n_lines && !l->lines)
			return sp_error_set(err, -EINVAL, "location %llu has no line array",
					    (unsigned long long)l->id);
		for (j = 0; j < l->n_lines; j++)
			if (function_index(p, l->lines[j].function_id) == SIZE_MAX)
				return sp_error_set(err, -EINVAL,
						    "location %llu refers to missing function %llu",
						    (unsigned long long)l->id,
						    (unsigned long long)l->lines[j].function_id);
	}
	for (i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];

		if (!s->values)
			return sp_error_set(err, -EINVAL, "sample %zu has no values", i);
		if (s->n_locations && !s->location_ids)
			return sp_error_set(err, -EINVAL, "sample %zu has no location array", i);
		if (s->n_labels && !s->labels)
			return sp_error_set(err, -EINVAL, "sample %zu has no label array", i);
		for (j = 0; j < s->n_locations; j++)
			if (location_index(p, s->location_ids[j]) == SIZE_MAX)
				return sp_error_set(err, -EINVAL,
						    "sample %zu refers to missing location %llu", i,
						    (unsigned long long)s->location_ids[j]);
		for (j = 0; j < s->n_labels; j++) {
			const sp_label *l = &s->labels[j];

			CHECK_STR(l->key, "sample %zu has a label key string index out of range", i);
			CHECK_STR(l->str, "sample %zu has a label value string index out of range", i);
			CHECK_STR(l->num_unit, "sample %zu has a label unit string index out of range", i);
		}
	}
	return 0;
}

/* ---- totals and standard shapes ---------------------------------------- */

int64_t sp_profile_total(const sp_profile *p, int idx)
{
	uint64_t sum = 0; /* unsigned: wraps instead of overflowing */
	size_t i;

	if (idx < 0 || (size_t)idx >= p->n_sample_types)
		return 0;
	for (i = 0; i < p->n_samples; i++)
		if (p->samples[i].values)
			sum += (uint64_t)p->samples[i].values[idx];
	return (int64_t)sum;
}

int sp_profile_init_cpu(sp_profile *p, int64_t period_ns)
{
	int rc;

	if (p->n_sample_types)
		return -EINVAL;
	rc = sp_profile_add_sample_type(p, "samples", "count");
	if (!rc)
		rc = sp_profile_add_sample_type(p, "cpu", "nanoseconds");
	if (!rc)
		rc = sp_profile_set_period(p, "cpu", "nanoseconds", period_ns);
	return rc;
}

int sp_profile_init_heap(sp_profile *p, int64_t sampling_rate_bytes)
{
	int rc;

	if (p->n_sample_types)
		return -EINVAL;
	rc = sp_profile_add_sample_type(p, "alloc_objects", "count");
	if (!rc)
		rc = sp_profile_add_sample_type(p, "alloc_space", "bytes");
	if (!rc)
		rc = sp_profile_add_sample_type(p, "inuse_objects", "count");
	if (!rc)
		rc = sp_profile_add_sample_type(p, "inuse_space", "bytes");
	if (!rc)
		rc = sp_profile_set_period(p, "space", "bytes", sampling_rate_bytes);
	return rc;
}

int sp_profile_validate(const sp_profile *p, sp_error *err)
{
	sp_profile shadow;
	int rc;

	if (p->index)
		return validate_indexed(p, err);
	/* A profile without an index (a hand-made struct or a view sharing
	 * another's arrays) gets a temporary one: id lookups must stay O(1). */
	shadow = *p;
	shadow.index = index_new();
	if (!shadow.index)
		return sp_error_set(err, -ENOMEM, "out of memory validating the profile");
	rc = validate_indexed(&shadow, err);
	index_free(shadow.index);
	return rc;
}
