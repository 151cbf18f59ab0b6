/* Per-span totals of one or more profiles: the samples carrying each distinct
 * span_id label, summed. Shared by the links writer and `spanprof spans`. */
#ifndef SPANPROF_SPAN_TABLE_H
#define SPANPROF_SPAN_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "model/profile.h"

typedef struct sp_span_entry {
	char *span_id;    /* label value as found (16 lower-case hex from spanprof) */
	char *trace_id;   /* "" when the samples had none */
	char *span_name;  /* "" when the samples had none */
	int64_t value;    /* sum of the chosen sample type (cpu ns for CPU profiles) */
	int64_t samples;  /* sum of samples/count, or value / period without it */
	int64_t conflicts; /* samples whose trace_id or span_name differ from the
			    * kept ones: a torn read, or a span id reused */
} sp_span_entry;

typedef struct sp_span_table {
	sp_hashmap spans;      /* span_id (the entry's) -> sp_span_entry * */
	size_t n;              /* entries */
	int64_t total_value;   /* every sample, in a span or not */
	int64_t total_samples;
	int64_t unlabelled_value, unlabelled_samples;
} sp_span_table;

void sp_span_table_init(sp_span_table *t);
void sp_span_table_free(sp_span_table *t);

/* Add every sample of p, keyed by its first span_id label. type_name selects
 * the value summed ("cpu"; NULL = the profile's default type). The first
 * non-empty trace_id / span_name seen for a span is kept; samples with other
 * non-empty values are counted in `conflicts`. Returns 0, -EINVAL
 * (type not in the profile, message names it) or -ENOMEM. */
int sp_span_table_add_profile(sp_span_table *t, const sp_profile *p, const char *type_name,
			      sp_error *err);

/* Fill out[0..n-1] with the entries (in table order). */
void sp_span_table_entries(const sp_span_table *t, sp_span_entry **out);

/* Heaviest first by value, ties by span_id: a qsort comparator over
 * sp_span_entry pointers. */
int sp_span_entry_cmp_value_desc(const void *a, const void *b);

#endif
