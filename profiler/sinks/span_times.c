/* Per-span first/last sample times: see span_times.h. */
#include "sinks/span_times.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	uint64_t key;    /* span id bytes as a number; 0 = empty (ids are never 0) */
	uint64_t first, last;
};

struct sp_span_times {
	struct entry *slots;
	size_t cap, n, max;
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
	free(t->slots);
	free(t);
}

static size_t slot_of(const struct entry *slots, size_t cap, uint64_t key)
{
	size_t i = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 7) & (cap - 1);

	while (slots[i].key && slots[i].key != key)
		i = (i + 1) & (cap - 1);
	return i;
}

static int grow(sp_span_times *t)
{
	size_t ncap = t->cap ? t->cap * 2 : 256;
	struct entry *ns = calloc(ncap, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].key)
			ns[slot_of(ns, ncap, t->slots[i].key)] = t->slots[i];
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

void sp_span_times_note(sp_span_times *t, const sp_span_snapshot *s, uint64_t mono_ns)
{
	uint64_t key;
	struct entry *e;

	if (!t || !s || !s->active)
		return;
	memcpy(&key, s->span_id, sizeof(key));
	if (!key)
		return;
	if ((t->n + 1) * 2 > t->cap && (t->n >= t->max || grow(t)))
		return; /* full: this span keeps the interval bounds */
	e = &t->slots[slot_of(t->slots, t->cap, key)];
	if (!e->key) {
		if (t->n >= t->max)
			return;
		e->key = key;
		e->first = e->last = mono_ns;
		t->n++;
		return;
	}
	if (mono_ns < e->first)
		e->first = mono_ns;
	if (mono_ns > e->last)
		e->last = mono_ns;
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
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i].key)
			continue;
		hex8(t->slots[i].key, v[k].span_id);
		v[k].first_ns = (int64_t)t->slots[i].first + wall_minus_mono_ns;
		v[k].last_ns = (int64_t)t->slots[i].last + wall_minus_mono_ns;
		k++;
	}
	*out = v;
	*n = k;
out:
	memset(t->slots, 0, t->cap * sizeof(*t->slots));
	t->n = 0;
	return ret;
}
