/* libFuzzer target: any bytes through sp_pprof_decode. Whatever decodes must
 * also survive the pipeline after it: lookups, merge into a fresh profile,
 * encode, and decode again to the same totals. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "model/pprof.h"
#include "model/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what, const sp_error *err)
{
	if (!ok) {
		fprintf(stderr, "fuzz invariant broken: %s (%s)\n", what, err ? err->msg : "");
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sp_profile *p = NULL, *q = NULL, *m = NULL;
	sp_error err = { "" };
	uint8_t *buf = NULL;
	size_t len, i, j;

	if (sp_pprof_decode(data, size, &p, &err)) {
		check(p == NULL && err.msg[0], "a failed decode sets a message", &err);
		return 0;
	}
	/* what the renderers do: walk every stack through the id lookups */
	for (i = 0; i < p->n_samples; i++)
		for (j = 0; j < p->samples[i].n_locations; j++) {
			const sp_location *l = sp_profile_location(p, p->samples[i].location_ids[j]);

			check(l != NULL, "validated sample locations resolve", NULL);
			if (l->n_lines)
				check(sp_profile_function(p, l->lines[0].function_id) != NULL,
				      "validated line functions resolve", NULL);
			sp_profile_mapping(p, l->mapping_id);
		}
	sp_profile_sample_index(p, NULL);

	check(sp_pprof_encode(p, size & 1, &buf, &len, &err) == 0, "re-encode", &err);
	check(sp_pprof_decode(buf, len, &q, &err) == 0, "decode what we encoded", &err);
	check(q->n_samples == p->n_samples && q->n_sample_types == p->n_sample_types,
	      "round trip keeps samples", NULL);
	for (i = 0; i < p->n_sample_types; i++)
		check(sp_profile_total(p, (int)i) == sp_profile_total(q, (int)i),
		      "round trip keeps totals", NULL);

	m = sp_profile_new();
	if (m && sp_profile_merge(m, p, &err) == 0) {
		check(sp_profile_validate(m, &err) == 0, "merged profile is valid", &err);
		for (i = 0; i < p->n_sample_types; i++)
			check(sp_profile_total(m, (int)i) == sp_profile_total(p, (int)i),
			      "merge keeps totals", NULL);
	}
	sp_profile_free(m);
	sp_profile_free(q);
	sp_profile_free(p);
	free(buf);
	return 0;
}
