/* The symbolizer's bump arena: strings and frame arrays that live as long
 * as the symbolizer. */
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_internal.h"

/* ---- arena --------------------------------------------------------------- */

struct sp_arena_chunk {
	struct sp_arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_CHUNK (64 * 1024)

void *sp_arena_alloc(sp_arena *a, size_t size)
{
	struct sp_arena_chunk *c = a->head;

	size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->cap - c->used < size) {
		size_t cap = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->used = 0;
		c->cap = cap;
		/* A big one-off block goes behind the current chunk so the
		 * current chunk's free space is not wasted. */
		if (a->head && size > ARENA_CHUNK) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
		a->bytes += cap;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	return p;
}

char *sp_arena_strdup(sp_arena *a, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = sp_arena_alloc(a, n);

	if (d)
		memcpy(d, s, n);
	return d;
}

void sp_arena_free(sp_arena *a)
{
	struct sp_arena_chunk *c = a->head;

	while (c) {
		struct sp_arena_chunk *next = c->next;
		free(c);
		c = next;
	}
	a->head = NULL;
	a->bytes = 0;
}
