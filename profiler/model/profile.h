/* In-memory pprof profile: the one data model shared by the aggregator, the
 * symbolizer, the pprof writer/reader and the renderers (flame graph, folded,
 * top). It mirrors perftools.profiles.Profile (pprof-proto/profile.proto) with
 * plain C arrays, plus interning indexes so builders de-duplicate as they go.
 *
 * Conventions (same as pprof):
 *  - strings are indices into `strings`; index 0 is "" and means "unset";
 *  - mapping/location/function ids are non-zero; a builder assigns 1, 2, 3...
 *    A profile read from a file keeps the file's ids (any non-zero values);
 *  - sample stacks are leaf first; a Location's lines are innermost first and
 *    the last line is the physical caller the others were inlined into;
 *  - every sample has exactly n_sample_types values.
 */
#ifndef SPANPROF_PROFILE_H
#define SPANPROF_PROFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct sp_value_type {
	int64_t type; /* string index, e.g. "cpu" */
	int64_t unit; /* string index, e.g. "nanoseconds" */
} sp_value_type;

typedef struct sp_label {
	int64_t key;      /* string index */
	int64_t str;      /* string index, or 0 for a numeric label */
	int64_t num;      /* used when str == 0 */
	int64_t num_unit; /* string index, optional, numeric labels only */
} sp_label;

typedef struct sp_line {
	uint64_t function_id;
	int64_t line;
	int64_t column;
} sp_line;

typedef struct sp_location {
	uint64_t id;
	uint64_t mapping_id; /* 0 = none */
	uint64_t address;    /* call-site address (return address - 1 for callers) */
	sp_line *lines;      /* innermost first; last = physical function */
	size_t n_lines;
	bool is_folded;
} sp_location;

typedef struct sp_function {
	uint64_t id;
	int64_t name;        /* demangled */
	int64_t system_name; /* mangled, or same as name */
	int64_t filename;
	int64_t start_line;
} sp_function;

typedef struct sp_mapping {
	uint64_t id;
	uint64_t memory_start;
	uint64_t memory_limit;
	uint64_t file_offset;
	int64_t filename; /* string index */
	int64_t build_id; /* string index, lower-case hex of the GNU build-id */
	bool has_functions;
	bool has_filenames;
	bool has_line_numbers;
	bool has_inline_frames;
} sp_mapping;

typedef struct sp_sample {
	uint64_t *location_ids; /* leaf first */
	size_t n_locations;
	int64_t *values;        /* n_sample_types entries */
	sp_label *labels;
	size_t n_labels;
} sp_sample;

struct sp_profile_index; /* private interning tables, see profile.c */

typedef struct sp_profile {
	sp_value_type *sample_types;
	size_t n_sample_types;
	sp_sample *samples;
	size_t n_samples;
	sp_mapping *mappings;
	size_t n_mappings;
	sp_location *locations;
	size_t n_locations;
	sp_function *functions;
	size_t n_functions;
	char **strings; /* strings[0] == "" */
	size_t n_strings;
	int64_t drop_frames;
	int64_t keep_frames;
	int64_t time_nanos;
	int64_t duration_nanos;
	sp_value_type period_type;
	int64_t period;
	int64_t *comments; /* string indices */
	size_t n_comments;
	int64_t default_sample_type; /* string index, 0 = last sample type */
	int64_t doc_url;

	struct sp_profile_index *index;
} sp_profile;

/* ---- construction ------------------------------------------------------ */

sp_profile *sp_profile_new(void);
void sp_profile_free(sp_profile *p);

/* Intern a string; returns its index (>= 0), or -1 when out of memory.
 * NULL interns as "" (index 0). */
int64_t sp_profile_string(sp_profile *p, const char *s);

/* Bounds-checked lookup: "" for 0 or an index outside the table. */
const char *sp_profile_str(const sp_profile *p, int64_t idx);

int sp_profile_add_sample_type(sp_profile *p, const char *type, const char *unit);
int sp_profile_set_period(sp_profile *p, const char *type, const char *unit, int64_t period);
int sp_profile_add_comment(sp_profile *p, const char *text);

/* Find-or-add; return the id, or 0 on out-of-memory.
 * Mappings are keyed by (start, limit, offset, filename); functions by
 * (name, system_name, filename, start_line); locations with an address by
 * (mapping_id, address), locations without an address by their lines. */
uint64_t sp_profile_add_mapping(sp_profile *p, uint64_t start, uint64_t limit,
				uint64_t file_offset, const char *filename,
				const char *build_id);
uint64_t sp_profile_add_function(sp_profile *p, const char *name,
				 const char *system_name, const char *filename,
				 int64_t start_line);
uint64_t sp_profile_add_location(sp_profile *p, uint64_t mapping_id,
				 uint64_t address, const sp_line *lines,
				 size_t n_lines);

/* Replace a location's lines (used by the symbolizer). Returns 0 or -ENOMEM. */
int sp_profile_set_location_lines(sp_profile *p, uint64_t location_id,
				  const sp_line *lines, size_t n_lines);

/* Add `values` (n_sample_types entries) to the sample with this exact stack
 * and label set, creating it if new. Labels are compared as a set (order
 * does not matter). Returns 0, -EINVAL or -ENOMEM. */
int sp_profile_add_sample(sp_profile *p, const uint64_t *location_ids,
			  size_t n_locations, const int64_t *values,
			  const sp_label *labels, size_t n_labels);

/* Convenience for labels: string and numeric label built from C strings. */
sp_label sp_profile_str_label(sp_profile *p, const char *key, const char *value);
sp_label sp_profile_num_label(sp_profile *p, const char *key, int64_t num,
			      const char *unit);

/* ---- lookup ------------------------------------------------------------ */

/* O(1) average lookups by id; NULL when the id is unknown. Valid until the
 * next add_* call. */
const sp_mapping *sp_profile_mapping(const sp_profile *p, uint64_t id);
const sp_location *sp_profile_location(const sp_profile *p, uint64_t id);
const sp_function *sp_profile_function(const sp_profile *p, uint64_t id);

/* Index of a sample type by name ("cpu", "alloc_space", ...), or -1.
 * NULL or "" selects the default: default_sample_type, else the last type. */
int sp_profile_sample_index(const sp_profile *p, const char *type_name);

/* The string value of label `key` on a sample, or NULL. */
const char *sp_profile_sample_label(const sp_profile *p, const sp_sample *s,
				    const char *key);

/* ---- whole-profile operations ----------------------------------------- */

/* Add every sample of src into dst, re-interning strings, mappings,
 * functions and locations. An empty dst (no sample types) adopts src's types
 * and period; otherwise sample types must match by type/unit, else -EINVAL
 * with a message naming both. time_nanos becomes the earliest, duration
 * spans both. */
int sp_profile_merge(sp_profile *dst, const sp_profile *src, sp_error *err);

/* Check the invariants pprof readers enforce (see formats.md 1.6): ids
 * non-zero and unique, references resolve, values count matches, string
 * indices in range. Returns 0 or -EINVAL with the first problem named. */
int sp_profile_validate(const sp_profile *p, sp_error *err);

/* Sum of values[idx] over all samples. */
int64_t sp_profile_total(const sp_profile *p, int idx);

/* Standard profile shapes. */
int sp_profile_init_cpu(sp_profile *p, int64_t period_ns);
int sp_profile_init_heap(sp_profile *p, int64_t sampling_rate_bytes);

#endif
