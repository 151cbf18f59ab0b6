/* Collapsed stacks writer (see folded.h). */
#include "render/folded.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void put_frame(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == ';')
			c = '_';
		else if (c < 0x20 || c == 0x7f)
			c = ' ';
		putc_unlocked(c, f);
	}
}

int sp_folded_write(const sp_stack_tree *t, FILE *out, sp_error *err)
{
	uint32_t *stack = NULL, *path = NULL;
	size_t n_stack = 0;
	int ret = 0;

	/* Each node is pushed once, so n_nodes bounds the stack. */
	stack = malloc(t->n_nodes * sizeof(*stack));
	path = malloc(((size_t)t->max_depth + 1) * sizeof(*path));
	if (!stack || !path) {
		ret = sp_error_set(err, -ENOMEM, "out of memory writing folded stacks");
		goto out;
	}
	stack[n_stack++] = 0;
	while (n_stack) {
		uint32_t id = stack[--n_stack];
		const sp_stack_node *n = &t->nodes[id];

		path[n->depth] = id;
		if (n->self > 0 && n->depth > 0) {
			for (uint32_t d = 1; d <= n->depth; d++) {
				if (d > 1)
					putc_unlocked(';', out);
				put_frame(out, sp_stacks_name(t, &t->nodes[path[d]]));
			}
			fprintf(out, " %" PRId64 "\n", n->self);
		}
		for (uint32_t i = n->n_children; i-- > 0;)
			stack[n_stack++] = t->children[n->first_child + i];
	}
	if (fflush(out) || ferror(out))
		ret = sp_error_set(err, -EIO, "write failed: %s", strerror(errno ? errno : EIO));
out:
	free(stack);
	free(path);
	return ret;
}
