/* Call tree of one sample type of a profile, root first: the common input of
 * the flame graph, folded and top renderers.
 *
 * Each sample's stack (leaf first in pprof) is walked from the root; each
 * Location expands to its lines from last to first (the physical function,
 * then what was inlined into it), so one Location may give several frames.
 * Node 0 is a synthetic root ("all") holding the total. Children of a node
 * are sorted by name (strcmp), like flamegraph.pl. Merge several profiles
 * with sp_profile_merge() before building. */
#ifndef SPANPROF_STACKS_H
#define SPANPROF_STACKS_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "model/profile.h"

enum sp_frame_kind {
	SP_FRAME_ROOT = 0,
	SP_FRAME_FUNCTION,  /* a symbolized function (the physical caller) */
	SP_FRAME_INLINED,   /* a function inlined into the frame below it */
	SP_FRAME_UNKNOWN,   /* no symbol: "[libfoo.so+0x1a2b]" or "0x7f..." */
	SP_FRAME_TRUNCATED, /* marker the unwinder adds for cut-short stacks */
};

typedef struct sp_stack_node {
	uint32_t name;        /* index into tree->names */
	uint32_t parent;      /* 0 for the root's children (and the root) */
	uint32_t first_child; /* index into tree->children */
	uint32_t n_children;
	uint32_t depth;       /* root = 0 */
	uint8_t kind;         /* enum sp_frame_kind */
	int64_t total;        /* value of every sample through this node */
	int64_t self;         /* value of samples whose leaf is this node */
} sp_stack_node;

typedef struct sp_stack_tree {
	sp_stack_node *nodes; /* nodes[0] is the root */
	size_t n_nodes;
	uint32_t *children;   /* children of node i: children[first_child ...], sorted */
	char **names;         /* distinct frame names, owned */
	size_t n_names;
	uint32_t max_depth;

	char *sample_type;    /* e.g. "cpu" */
	char *unit;           /* e.g. "nanoseconds" */
	int sample_index;
	int64_t total;        /* == nodes[0].total */
	size_t n_samples;     /* samples kept (matched the filters, value > 0) */
	size_t n_filtered_out;
	size_t n_nonpositive; /* matched but value <= 0: not drawable, skipped */
} sp_stack_tree;

/* One tag filter, from "KEY=VALUE". A sample matches when it has a label
 * KEY whose string value (or decimal numeric value) equals VALUE. */
typedef struct sp_tag_filter {
	const char *key;
	const char *value;
} sp_tag_filter;

/* Split "KEY=VALUE" in place into f (borrowing s). -EINVAL when there is no
 * '=' or the key is empty. */
int sp_tag_filter_parse(char *s, sp_tag_filter *f);

/* Build the tree for sample type `sample_type` (NULL/"" = the profile's
 * default) over the samples matching every filter (ANDed).
 * Errors (-EINVAL, message in err): unknown sample type (names the ones
 * present), no samples at all, no sample matching the filters, total zero.
 * -ENOMEM on allocation failure. *out is freed with sp_stacks_free(). */
int sp_stacks_build(const sp_profile *p, const char *sample_type,
		    const sp_tag_filter *filters, size_t n_filters,
		    sp_stack_tree **out, sp_error *err);

void sp_stacks_free(sp_stack_tree *t);

static inline const char *sp_stacks_name(const sp_stack_tree *t, const sp_stack_node *n)
{
	return t->names[n->name];
}

static inline const sp_stack_node *sp_stacks_child(const sp_stack_tree *t,
						    const sp_stack_node *n, uint32_t i)
{
	return &t->nodes[t->children[n->first_child + i]];
}

#endif
