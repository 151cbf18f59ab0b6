/* Brendan Gregg's collapsed ("folded") stacks: one line per distinct stack,
 * `root;caller;...;leaf VALUE`, the input of flamegraph.pl and speedscope. */
#ifndef SPANPROF_FOLDED_H
#define SPANPROF_FOLDED_H

#include <stdio.h>

#include "base/error.h"
#include "render/stacks.h"

/* Write one line per tree node with self value > 0, depth-first in sorted
 * order (so output is deterministic), the synthetic root left out. ';' in a
 * name (the frame separator) becomes '_', control characters become ' '.
 * The values of all lines sum to t->total. Returns 0 or -EIO / -ENOMEM. */
int sp_folded_write(const sp_stack_tree *t, FILE *out, sp_error *err);

#endif
