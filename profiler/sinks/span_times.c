/* Per-span first/last sample times: see span_times.h. */
#include "sinks/span_times.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"

struct entry {
	uint64_t key;    /* span id bytes as a number (never 0) */
	uint64_t first, last;
};

struct sp_span_times {
	struct entry *spans;
	size_t cap, n, max;
	sp_hashmap index; /* key -> index into spans */
};

sp_span_times *sp_span_times_new(size_t max_spans)
{
	sp_span_times *t = calloc(1, sizeof(*t));

	if (t)
		t->max = max_spans ? max_spans : 1000000;
	return t;
}

void sp_span_times_free(sp_span_times *t)
{
	if (!t)
		return;
	free(t->spans);
	sp_hashmap_free(&t->index);
	free(t);
}

void sp_span_times_note(sp_span_times *t, const sp_span_snapshot *s, uint64_t mono_ns)
{
	uint64_t key;
	sp_hashmap_ent *me;
	struct entry *e;

	if (!t || !s || !s->active)
		return;
	memcpy(&key, s->span_id, sizeof(key));
	if (!key)
		return;
	me = sp_hashmap_find_u64(&t->index, key);
	if (me) {
		e = &t->spans[me->val.num];
		if (mono_ns < e->first)
			e->first = mono_ns;
		if (mono_ns > e->last)
			e->last = mono_ns;
		return;
	}
	/* A new span. Full (or out of memory): it keeps the interval bounds. */
	if (t->n >= t->max)
		return;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 256;

		e = realloc(t->spans, cap * sizeof(*e));
		if (!e)
			return;
		t->spans = e;
		t->cap = cap;
	}
	me = sp_hashmap_insert_u64(&t->index, key, NULL);
	if (!me)
		return;
	me->val.num = t->n;
	t->spans[t->n++] = (struct entry){ key, mono_ns, mono_ns };
}

static void hex8(uint64_t key, char out[17])
{
	static const char d[] = "0123456789abcdef";
	uint8_t b[8];

	memcpy(b, &key, sizeof(b));
	for (int i = 0; i < 8; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[16] = '\0';
}

int sp_span_times_take(sp_span_times *t, int64_t wall_minus_mono_ns, sp_links_span_time **out,
		       size_t *n)
{
	sp_links_span_time *v = NULL;
	size_t k = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!t || !t->n)
		return 0;
	v = malloc(t->n * sizeof(*v));
	if (!v) {
		ret = -ENOMEM;
		goto out;
	}
	for (; k < t->n; k++) {
		hex8(t->spans[k].key, v[k].span_id);
		v[k].first_ns = (int64_t)t->spans[k].first + wall_minus_mono_ns;
		v[k].last_ns = (int64_t)t->spans[k].last + wall_minus_mono_ns;
	}
	*out = v;
	*n = k;
out:
	sp_hashmap_clear(&t->index);
	t->n = 0;
	return ret;
}
