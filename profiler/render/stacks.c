/* Profile -> root-first call tree for one sample type (see stacks.h).
 * Each distinct Location is expanded to frame names once (cached), then
 * every sample walks the tree through a hash table keyed by (parent, name,
 * kind), so building is linear in the total stack depth. */
#include "render/stacks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"

struct frame {
	uint32_t name;
	uint8_t kind;
};

struct loc_frames {
	uint32_t off; /* into builder.frames */
	uint32_t n;
	uint8_t done;
};

struct builder {
	const sp_profile *p;
	sp_stack_tree *t;
	size_t cap_nodes, cap_names;

	sp_hashmap names;     /* keys: name ids (indices into t->names) */
	sp_hashmap nodes;     /* (parent, name, kind) -> node index; see child_node */
	sp_hashmap locs;      /* location id -> index into p->locations */
	struct loc_frames *loc_cache; /* by that index */

	struct frame *frames;
	size_t n_frames, cap_frames;
};

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 64;
	void *a;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	a = realloc(*arr, n * elem);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = n;
	return 0;
}

struct name_probe {
	const sp_stack_tree *t;
	const char *s;
};

static bool name_eq(const sp_hashmap_ent *e, const void *probe)
{
	const struct name_probe *q = probe;

	return !strcmp(q->t->names[e->key], q->s);
}

/* Intern a frame name; returns its id or -ENOMEM. */
static int64_t intern_name(struct builder *b, const char *s)
{
	sp_stack_tree *t = b->t;
	struct name_probe q = { t, s };
	uint64_t h = sp_hash_str(s);
	const sp_hashmap_ent *e = sp_hashmap_find(&b->names, h, name_eq, &q);
	char *copy;

	if (e)
		return (int64_t)e->key;
	if (grow((void **)&t->names, &b->cap_names, t->n_names + 1, sizeof(char *)))
		return -ENOMEM;
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	if (!sp_hashmap_add(&b->names, h, t->n_names)) {
		free(copy);
		return -ENOMEM;
	}
	t->names[t->n_names] = copy;
	return (int64_t)t->n_names++;
}

/* The whole node key is in the entry, (parent, name) in the key word and
 * kind above the node index in the value, so a lookup reads the table
 * only: this is the hot loop of building a tree. */
struct node_probe {
	uint64_t parent_name;
	uint8_t kind;
};

static bool node_eq(const sp_hashmap_ent *e, const void *probe)
{
	const struct node_probe *q = probe;

	return e->key == q->parent_name && (uint8_t)(e->val.num >> 32) == q->kind;
}

/* Find or add the child of `parent`; returns its index or -ENOMEM. */
static int64_t child_node(struct builder *b, uint32_t parent, const struct frame *f)
{
	sp_stack_tree *t = b->t;
	struct node_probe q = { (uint64_t)parent << 32 | f->name, f->kind };
	bool added;
	sp_hashmap_ent *e = sp_hashmap_find_or_add(&b->nodes, sp_hash_add(q.parent_name, f->kind),
						   node_eq, &q, q.parent_name, &added);
	sp_stack_node *n;

	if (!e)
		return -ENOMEM;
	if (!added)
		return (int64_t)(uint32_t)e->val.num;
	if (t->n_nodes >= UINT32_MAX - 1 ||
	    grow((void **)&t->nodes, &b->cap_nodes, t->n_nodes + 1, sizeof(*t->nodes))) {
		sp_hashmap_remove(&b->nodes, e);
		return -ENOMEM;
	}
	e->val.num = (uint64_t)f->kind << 32 | t->n_nodes;
	n = &t->nodes[t->n_nodes];
	memset(n, 0, sizeof(*n));
	n->name = f->name;
	n->kind = f->kind;
	n->parent = parent;
	n->depth = t->nodes[parent].depth + 1;
	if (n->depth > t->max_depth)
		t->max_depth = n->depth;
	return (int64_t)t->n_nodes++;
}

/* Location ids -> array indices, once: sp_profile_location per frame would
 * check its index is up to date each time, and compare through the array.
 * A duplicate id keeps the first location, as profile lookups do. */
static int index_locations(struct builder *b)
{
	const sp_profile *p = b->p;

	if (sp_hashmap_reserve(&b->locs, p->n_locations))
		return -ENOMEM;
	for (size_t i = 0; i < p->n_locations; i++) {
		sp_hashmap_ent *e = sp_hashmap_insert_u64(&b->locs, p->locations[i].id, NULL);

		if (!e)
			return -ENOMEM;
		if (!e->val.num)
			e->val.num = i + 1;
	}
	return 0;
}

static const sp_location *find_location(struct builder *b, uint64_t id, size_t *idx)
{
	const sp_hashmap_ent *e = id ? sp_hashmap_find_u64(&b->locs, id) : NULL;

	if (!e)
		return NULL;
	*idx = (size_t)e->val.num - 1;
	return &b->p->locations[*idx];
}

static uint8_t classify(const char *name, uint8_t kind)
{
	if (!strncmp(name, "[truncated", 10))
		return SP_FRAME_TRUNCATED;
	if (!strcmp(name, "[unknown]") || !strcmp(name, "<unknown>"))
		return SP_FRAME_UNKNOWN;
	return kind;
}

/* Name of a frame without symbols: the module and file offset when there is
 * a mapping (what a symbolizer needs), else the bare address. */
static void address_name(const sp_profile *p, const sp_location *loc, char *buf,
			 size_t len)
{
	const sp_mapping *m = loc->mapping_id ? sp_profile_mapping(p, loc->mapping_id) : NULL;
	const char *file = m ? sp_profile_str(p, m->filename) : "";
	const char *base = strrchr(file, '/');
	size_t blen;

	base = base ? base + 1 : file;
	blen = strlen(base);
	/* "[vdso]" -> "vdso" so the result is "[vdso+0x...]" */
	if (blen >= 2 && base[0] == '[' && base[blen - 1] == ']') {
		base++;
		blen -= 2;
	}
	if (m && blen) {
		if (loc->address >= m->memory_start)
			snprintf(buf, len, "[%.*s+0x%" PRIx64 "]", (int)blen, base,
				 loc->address - m->memory_start + m->file_offset);
		else
			snprintf(buf, len, "[%.*s]", (int)blen, base);
	} else if (loc->address) {
		snprintf(buf, len, "0x%" PRIx64, loc->address);
	} else {
		snprintf(buf, len, "[unknown]");
	}
}

static int push_frame(struct builder *b, const char *name, uint8_t kind)
{
	int64_t id = intern_name(b, name);

	if (id < 0)
		return (int)id;
	if (grow((void **)&b->frames, &b->cap_frames, b->n_frames + 1, sizeof(*b->frames)))
		return -ENOMEM;
	b->frames[b->n_frames].name = (uint32_t)id;
	b->frames[b->n_frames].kind = classify(name, kind);
	b->n_frames++;
	return 0;
}

/* Frames of one location, root-most first (its lines last to first). */
static int location_frames(struct builder *b, const sp_location *loc, size_t idx,
			   const struct frame **out, size_t *n)
{
	struct loc_frames *c = &b->loc_cache[idx];
	char buf[512];
	int ret;

	if (!c->done) {
		c->off = (uint32_t)b->n_frames;
		for (size_t k = loc->n_lines; k-- > 0;) {
			const sp_function *fn = sp_profile_function(b->p, loc->lines[k].function_id);
			const char *name = fn ? sp_profile_str(b->p, fn->name) : "";
			uint8_t kind = k == loc->n_lines - 1 ? SP_FRAME_FUNCTION : SP_FRAME_INLINED;

			if (!*name && fn)
				name = sp_profile_str(b->p, fn->system_name);
			if (!*name) {
				address_name(b->p, loc, buf, sizeof(buf));
				name = buf;
				kind = SP_FRAME_UNKNOWN;
			}
			ret = push_frame(b, name, kind);
			if (ret)
				return ret;
		}
		if (!loc->n_lines) {
			address_name(b->p, loc, buf, sizeof(buf));
			ret = push_frame(b, buf, SP_FRAME_UNKNOWN);
			if (ret)
				return ret;
		}
		c->n = (uint32_t)(b->n_frames - c->off);
		c->done = 1;
	}
	*out = b->frames + c->off;
	*n = c->n;
	return 0;
}

static bool label_matches(const sp_profile *p, const sp_sample *s, const sp_tag_filter *f)
{
	for (size_t i = 0; i < s->n_labels; i++) {
		const sp_label *l = &s->labels[i];
		char num[32];

		if (strcmp(sp_profile_str(p, l->key), f->key))
			continue;
		if (l->str) {
			if (!strcmp(sp_profile_str(p, l->str), f->value))
				return true;
		} else {
			snprintf(num, sizeof(num), "%" PRId64, l->num);
			if (!strcmp(num, f->value))
				return true;
		}
	}
	return false;
}

static bool sample_matches(const sp_profile *p, const sp_sample *s,
			   const sp_tag_filter *filters, size_t n_filters)
{
	for (size_t i = 0; i < n_filters; i++)
		if (!label_matches(p, s, &filters[i]))
			return false;
	return true;
}

static int add_sample(struct builder *b, const sp_sample *s, int64_t v)
{
	sp_stack_tree *t = b->t;
	uint32_t cur = 0;
	static const struct frame none = { 0, SP_FRAME_UNKNOWN };
	int64_t id;

	t->nodes[0].total += v;
	for (size_t j = s->n_locations; j-- > 0;) {
		const struct frame *fr;
		size_t n = 0, idx = 0;
		const sp_location *loc = find_location(b, s->location_ids[j], &idx);
		int ret;

		if (loc) {
			ret = location_frames(b, loc, idx, &fr, &n);
			if (ret)
				return ret;
		} else {
			struct frame unk;
			int64_t nid = intern_name(b, "[unknown]");

			if (nid < 0)
				return (int)nid;
			unk.name = (uint32_t)nid;
			unk.kind = SP_FRAME_UNKNOWN;
			id = child_node(b, cur, &unk);
			if (id < 0)
				return (int)id;
			cur = (uint32_t)id;
			t->nodes[cur].total += v;
			continue;
		}
		for (size_t k = 0; k < n; k++) {
			id = child_node(b, cur, &fr[k]);
			if (id < 0)
				return (int)id;
			cur = (uint32_t)id;
			t->nodes[cur].total += v;
		}
	}
	if (cur == 0) {
		/* A sample without a stack still counts: give it a frame. */
		struct frame f = none;
		int64_t nid = intern_name(b, "[no stack]");

		if (nid < 0)
			return (int)nid;
		f.name = (uint32_t)nid;
		id = child_node(b, 0, &f);
		if (id < 0)
			return (int)id;
		cur = (uint32_t)id;
		t->nodes[cur].total += v;
	}
	t->nodes[cur].self += v;
	return 0;
}

static int cmp_rank(const void *a, const void *b, void *arg)
{
	const char *const *names = arg;

	return strcmp(names[*(const uint32_t *)a], names[*(const uint32_t *)b]);
}

struct child_cmp_ctx {
	const sp_stack_node *nodes;
	const uint32_t *rank;
};

static int cmp_child(const void *a, const void *b, void *arg)
{
	const struct child_cmp_ctx *c = arg;
	const sp_stack_node *x = &c->nodes[*(const uint32_t *)a];
	const sp_stack_node *y = &c->nodes[*(const uint32_t *)b];

	if (c->rank[x->name] != c->rank[y->name])
		return c->rank[x->name] < c->rank[y->name] ? -1 : 1;
	return (int)x->kind - (int)y->kind;
}

/* Fill children[] grouped by parent and sorted by name, then kind. */
static int link_children(sp_stack_tree *t)
{
	uint32_t *order = NULL, *rank = NULL, *fill = NULL;
	struct child_cmp_ctx ctx;
	int ret = -ENOMEM;

	t->children = malloc((t->n_nodes ? t->n_nodes : 1) * sizeof(*t->children));
	order = malloc((t->n_names ? t->n_names : 1) * sizeof(*order));
	rank = malloc((t->n_names ? t->n_names : 1) * sizeof(*rank));
	fill = calloc(t->n_nodes, sizeof(*fill));
	if (!t->children || !order || !rank || !fill)
		goto out;
	/* Rank names once so sorting siblings compares integers. */
	for (size_t i = 0; i < t->n_names; i++)
		order[i] = (uint32_t)i;
	qsort_r(order, t->n_names, sizeof(*order), cmp_rank, t->names);
	for (size_t i = 0; i < t->n_names; i++)
		rank[order[i]] = (uint32_t)i;

	for (size_t i = 0; i < t->n_nodes; i++)
		t->nodes[i].n_children = 0;
	for (size_t i = 1; i < t->n_nodes; i++)
		t->nodes[t->nodes[i].parent].n_children++;
	uint32_t off = 0;
	for (size_t i = 0; i < t->n_nodes; i++) {
		t->nodes[i].first_child = off;
		off += t->nodes[i].n_children;
	}
	for (size_t i = 1; i < t->n_nodes; i++) {
		uint32_t par = t->nodes[i].parent;

		t->children[t->nodes[par].first_child + fill[par]++] = (uint32_t)i;
	}
	ctx.nodes = t->nodes;
	ctx.rank = rank;
	for (size_t i = 0; i < t->n_nodes; i++)
		if (t->nodes[i].n_children > 1)
			qsort_r(t->children + t->nodes[i].first_child, t->nodes[i].n_children,
				sizeof(uint32_t), cmp_child, &ctx);
	ret = 0;
out:
	free(order);
	free(rank);
	free(fill);
	return ret;
}

int sp_tag_filter_parse(char *s, sp_tag_filter *f)
{
	char *eq = s ? strchr(s, '=') : NULL;

	if (!eq || eq == s)
		return -EINVAL;
	*eq = '\0';
	f->key = s;
	f->value = eq + 1;
	return 0;
}

/* "span_id, thread_name" : the label keys present, for "matched nothing". */
static void list_label_keys(const sp_profile *p, char *buf, size_t len)
{
	const char *keys[8];
	size_t n_keys = 0, used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_samples && n_keys < 8; i++) {
		const sp_sample *s = &p->samples[i];

		for (size_t j = 0; j < s->n_labels && n_keys < 8; j++) {
			const char *k = sp_profile_str(p, s->labels[j].key);
			size_t x;

			for (x = 0; x < n_keys; x++)
				if (!strcmp(keys[x], k))
					break;
			if (x == n_keys)
				keys[n_keys++] = k;
		}
	}
	for (size_t i = 0; i < n_keys && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", keys[i]);
}

static void list_sample_types(const sp_profile *p, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n_sample_types && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
					 sp_profile_str(p, p->sample_types[i].type));
}

int sp_stacks_build(const sp_profile *p, const char *sample_type,
		    const sp_tag_filter *filters, size_t n_filters,
		    sp_stack_tree **out, sp_error *err)
{
	struct builder b = { .p = p };
	sp_stack_tree *t = NULL;
	char list[256];
	size_t matched = 0;
	int idx, ret = -ENOMEM;

	*out = NULL;
	if (!p->n_sample_types)
		return sp_error_set(err, -EINVAL, "profile has no sample types (no samples)");
	idx = sp_profile_sample_index(p, sample_type);
	if (idx < 0 || (size_t)idx >= p->n_sample_types) {
		list_sample_types(p, list, sizeof(list));
		return sp_error_set(err, -EINVAL, "no sample type '%s' in the profile (it has: %s)",
				    sample_type ? sample_type : "", list);
	}
	if (!p->n_samples)
		return sp_error_set(err, -EINVAL, "profile has no samples");

	t = calloc(1, sizeof(*t));
	if (!t)
		goto out;
	b.t = t;
	t->sample_index = idx;
	t->sample_type = strdup(sp_profile_str(p, p->sample_types[idx].type));
	t->unit = strdup(sp_profile_str(p, p->sample_types[idx].unit));
	if (!t->sample_type || !t->unit)
		goto out;
	if (grow((void **)&t->nodes, &b.cap_nodes, 1, sizeof(*t->nodes)))
		goto out;
	memset(&t->nodes[0], 0, sizeof(t->nodes[0]));
	t->n_nodes = 1;
	b.loc_cache = calloc(p->n_locations ? p->n_locations : 1, sizeof(*b.loc_cache));
	if (!b.loc_cache || index_locations(&b))
		goto out;
	if (intern_name(&b, "all") < 0) /* the root is name 0 */
		goto out;
	ret = 0;

	for (size_t i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		int64_t v;

		if (!sample_matches(p, s, filters, n_filters)) {
			t->n_filtered_out++;
			continue;
		}
		matched++;
		v = (size_t)idx < p->n_sample_types && s->values ? s->values[idx] : 0;
		if (v <= 0) {
			t->n_nonpositive += v < 0;
			continue;
		}
		ret = add_sample(&b, s, v);
		if (ret)
			goto out;
		t->n_samples++;
	}
	if (!matched) {
		char want[256];
		size_t used = 0;

		want[0] = '\0';
		for (size_t i = 0; i < n_filters && used < sizeof(want); i++)
			used += (size_t)snprintf(want + used, sizeof(want) - used, "%s%s=%s",
						 i ? " and " : "", filters[i].key, filters[i].value);
		list_label_keys(p, list, sizeof(list));
		ret = sp_error_set(err, -EINVAL, "no sample matches %s (label keys present: %s)",
				   want, *list ? list : "none");
		goto out;
	}
	if (t->nodes[0].total <= 0) {
		ret = sp_error_set(err, -EINVAL, "no sample has a positive '%s' value%s",
				   t->sample_type, n_filters ? " among those matching the tags" : "");
		goto out;
	}
	t->total = t->nodes[0].total;
	ret = link_children(t);
	if (ret)
		goto out;
	*out = t;
	t = NULL;
out:
	if (ret == -ENOMEM)
		sp_error_set(err, ret, "out of memory building the call tree");
	sp_stacks_free(t);
	sp_hashmap_free(&b.names);
	sp_hashmap_free(&b.nodes);
	sp_hashmap_free(&b.locs);
	free(b.loc_cache);
	free(b.frames);
	return ret;
}

void sp_stacks_free(sp_stack_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n_names; i++)
		free(t->names[i]);
	free(t->names);
	free(t->nodes);
	free(t->children);
	free(t->sample_type);
	free(t->unit);
	free(t);
}
