/* Per-span totals: see span_table.h. */
#include "model/span_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void sp_span_table_init(sp_span_table *t)
{
	memset(t, 0, sizeof(*t));
}

static void entry_free(sp_span_entry *e)
{
	if (!e)
		return;
	free(e->span_id);
	free(e->trace_id);
	free(e->span_name);
	free(e);
}

void sp_span_table_free(sp_span_table *t)
{
	size_t pos = 0;
	sp_hashmap_ent *e;

	while ((e = sp_hashmap_next(&t->spans, &pos)))
		entry_free(e->val.ptr);
	sp_hashmap_free(&t->spans);
	memset(t, 0, sizeof(*t));
}

static sp_span_entry *lookup_or_add(sp_span_table *t, const char *span_id)
{
	bool added;
	sp_hashmap_ent *me = sp_hashmap_insert_str(&t->spans, span_id, &added);
	sp_span_entry *e;

	if (!me)
		return NULL;
	if (!added)
		return me->val.ptr;
	e = calloc(1, sizeof(*e));
	if (e) {
		e->span_id = strdup(span_id);
		e->trace_id = strdup("");
		e->span_name = strdup("");
	}
	if (!e || !e->span_id || !e->trace_id || !e->span_name) {
		entry_free(e);
		sp_hashmap_remove(&t->spans, me);
		return NULL;
	}
	/* The map borrowed the caller's string: key it by the entry's. */
	me->key = (uint64_t)(uintptr_t)e->span_id;
	me->val.ptr = e;
	t->n++;
	return e;
}

/* Keep the first non-empty value: a span's samples all carry the same ones.
 * Sets *differs when v is non-empty and not the kept value. */
static int keep_first(char **dst, const char *v, bool *differs)
{
	char *c;

	if (!v || !v[0])
		return 0;
	if ((*dst)[0]) {
		*differs |= strcmp(*dst, v) != 0;
		return 0;
	}
	c = strdup(v);
	if (!c)
		return -ENOMEM;
	free(*dst);
	*dst = c;
	return 0;
}

int sp_span_table_add_profile(sp_span_table *t, const sp_profile *p, const char *type_name,
			      sp_error *err)
{
	int vi, si;

	vi = sp_profile_sample_index(p, type_name);
	if (vi < 0)
		return sp_error_set(err, -EINVAL,
				    "profile has no '%s' sample type (is it a CPU profile?)",
				    type_name ? type_name : "default");
	si = sp_profile_sample_index(p, "samples");
	for (size_t i = 0; i < p->n_samples; i++) {
		const sp_sample *s = &p->samples[i];
		const char *span_id = sp_profile_sample_label(p, s, "span_id");
		int64_t v = s->values[vi], n;
		sp_span_entry *e;
		bool differs = false;

		/* Without a count, the number of periods is the best estimate. */
		if (si >= 0)
			n = s->values[si];
		else if (p->period > 0)
			n = (v + p->period / 2) / p->period;
		else
			n = 1;
		t->total_value += v;
		t->total_samples += n;
		if (!span_id || !span_id[0]) {
			t->unlabelled_value += v;
			t->unlabelled_samples += n;
			continue;
		}
		e = lookup_or_add(t, span_id);
		if (!e ||
		    keep_first(&e->trace_id, sp_profile_sample_label(p, s, "trace_id"), &differs) ||
		    keep_first(&e->span_name, sp_profile_sample_label(p, s, "span_name"), &differs))
			return sp_error_set(err, -ENOMEM, "out of memory adding spans");
		e->value += v;
		e->samples += n;
		if (differs)
			e->conflicts += n;
	}
	return 0;
}

void sp_span_table_entries(const sp_span_table *t, sp_span_entry **out)
{
	size_t k = 0, pos = 0;
	sp_hashmap_ent *e;

	while ((e = sp_hashmap_next(&t->spans, &pos)))
		out[k++] = e->val.ptr;
}

int sp_span_entry_cmp_value_desc(const void *a, const void *b)
{
	const sp_span_entry *x = *(const sp_span_entry *const *)a;
	const sp_span_entry *y = *(const sp_span_entry *const *)b;

	if (x->value != y->value)
		return x->value > y->value ? -1 : 1;
	return strcmp(x->span_id, y->span_id);
}
