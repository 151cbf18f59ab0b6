/* Shared helpers for the cmocka unit tests. */
#ifndef SPANPROF_TEST_UTIL_H
#define SPANPROF_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "model/profile.h"

/* Test profiles from text. A stack is root-first frames separated by `sep`
 * ("main;a;b"); a frame "outer<inl>inner", with `inl` the given marker, is one
 * location whose inlined `inner` comes first and whose caller is `outer`. */
static inline uint64_t tu_location(sp_profile *p, const char *frame, const char *inl)
{
	char buf[256], *mark;
	sp_line lines[2];
	size_t n = 0;

	snprintf(buf, sizeof(buf), "%s", frame);
	mark = strstr(buf, inl);
	if (mark) {
		*mark = '\0';
		lines[n++] = (sp_line){ sp_profile_add_function(p, mark + strlen(inl), NULL, "x.c", 0),
					2, 0 };
	}
	lines[n++] = (sp_line){ sp_profile_add_function(p, buf, NULL, "x.c", 0), 1, 0 };
	return sp_profile_add_location(p, 0, 0, lines, n);
}

/* Adds `count` samples (CPU: count, count x 10 ms) of the stack. */
static inline void tu_add_stack(sp_profile *p, const char *stack, const char *sep,
				const char *inl, int64_t count, const sp_label *lab, size_t n_lab)
{
	uint64_t ids[64];
	size_t n = 0;
	char buf[2048], *save = NULL;
	int64_t v[2] = { count, count * 10000000 };

	snprintf(buf, sizeof(buf), "%s", stack);
	for (char *tok = strtok_r(buf, sep, &save); tok && n < 64; tok = strtok_r(NULL, sep, &save))
		ids[n++] = tu_location(p, tok, inl);
	for (size_t i = 0; i < n / 2; i++) { /* pprof is leaf first */
		uint64_t t = ids[i];

		ids[i] = ids[n - 1 - i];
		ids[n - 1 - i] = t;
	}
	assert_int_equal(sp_profile_add_sample(p, ids, n, v, lab, n_lab), 0);
}

static inline sp_profile *tu_cpu_profile(void)
{
	sp_profile *p = sp_profile_new();

	assert_non_null(p);
	assert_int_equal(sp_profile_init_cpu(p, 10000000), 0);
	return p;
}

#endif
