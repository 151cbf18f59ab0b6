/* Flat/cumulative function table, like `go tool pprof -top`. */
#ifndef SPANPROF_TOP_H
#define SPANPROF_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "render/stacks.h"

typedef struct sp_top_opts {
	size_t max_rows;        /* 0 = all */
	const char *source;     /* "File:" header line, or NULL */
	const char *filter;     /* "Tags:" header line, or NULL */
	int64_t time_nanos;     /* 0 = unknown */
	int64_t duration_nanos; /* 0 = unknown */
} sp_top_opts;

typedef struct sp_top_row {
	const char *name;  /* stored in the same allocation as the rows */
	int64_t flat;      /* value of samples whose leaf frame is this function */
	int64_t cum;       /* value of samples with this function anywhere on the
			    * stack, counted once per sample (recursion) */
	uint8_t inlined;   /* 1: every occurrence inlined, 2: some */
} sp_top_row;

/* One row per function name, sorted like pprof: flat descending, then name,
 * then cum descending. Unsymbolized frames are grouped per module like
 * pprof ("[libc.so.6+0x3fbfb]" -> "[libc.so.6]", "0x..." -> "<unknown>").
 * *rows is one malloc'd block (names included): free(*rows). */
int sp_top_rows(const sp_stack_tree *t, sp_top_row **rows, size_t *n_rows, sp_error *err);

/* Header lines and the table: flat flat% sum% cum cum% name. */
int sp_top_write(const sp_stack_tree *t, const sp_top_opts *o, FILE *out, sp_error *err);

#endif
