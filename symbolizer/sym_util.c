/* Small containers for the symbolizer: a bump arena and two open-addressing
 * hash maps (string keys, uint64 keys). */
#include <errno.h>
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

/* ---- hashing ------------------------------------------------------------- */

uint64_t sp_hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < n; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	x ^= x >> 33;
	return x;
}

/* ---- string map ---------------------------------------------------------- */

struct sp_strmap_ent {
	uint64_t hash;
	const char *key; /* NULL = empty slot */
	void *val;
};

static struct sp_strmap_ent *strmap_slot(struct sp_strmap_ent *e, size_t cap,
					 const char *key, uint64_t h)
{
	size_t i = h & (cap - 1);

	while (e[i].key && (e[i].hash != h || strcmp(e[i].key, key)))
		i = (i + 1) & (cap - 1);
	return &e[i];
}

void *sp_strmap_get(const sp_strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	uint64_t h = sp_hash_bytes(key, strlen(key));
	struct sp_strmap_ent *s = strmap_slot(m->e, m->cap, key, h);
	return s->key ? s->val : NULL;
}

int sp_strmap_put(sp_strmap *m, const char *key, void *val)
{
	if ((m->n + 1) * 4 > m->cap * 3) { /* keep load <= 3/4 */
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct sp_strmap_ent *e = calloc(cap, sizeof(*e));

		if (!e)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->e[i].key)
				*strmap_slot(e, cap, m->e[i].key, m->e[i].hash) = m->e[i];
		free(m->e);
		m->e = e;
		m->cap = cap;
	}
	uint64_t h = sp_hash_bytes(key, strlen(key));
	struct sp_strmap_ent *s = strmap_slot(m->e, m->cap, key, h);
	if (!s->key)
		m->n++;
	*s = (struct sp_strmap_ent){ h, key, val };
	return 0;
}

void sp_strmap_free(sp_strmap *m)
{
	free(m->e);
	*m = (sp_strmap){ 0 };
}

/* ---- uint64 map ---------------------------------------------------------- */

struct sp_u64map_ent {
	uint64_t key; /* 0 = empty slot */
	void *val;
};

static struct sp_u64map_ent *u64map_slot(struct sp_u64map_ent *e, size_t cap, uint64_t key)
{
	size_t i = mix64(key) & (cap - 1);

	while (e[i].key && e[i].key != key)
		i = (i + 1) & (cap - 1);
	return &e[i];
}

void *sp_u64map_get(const sp_u64map *m, uint64_t key)
{
	if (!m->cap || !key)
		return NULL;
	struct sp_u64map_ent *s = u64map_slot(m->e, m->cap, key);
	return s->key ? s->val : NULL;
}

int sp_u64map_put(sp_u64map *m, uint64_t key, void *val)
{
	if (!key)
		return -EINVAL;
	if ((m->n + 1) * 4 > m->cap * 3) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct sp_u64map_ent *e = calloc(cap, sizeof(*e));

		if (!e)
			return -ENOMEM;
		for (size_t i = 0; i < m->cap; i++)
			if (m->e[i].key)
				*u64map_slot(e, cap, m->e[i].key) = m->e[i];
		free(m->e);
		m->e = e;
		m->cap = cap;
	}
	struct sp_u64map_ent *s = u64map_slot(m->e, m->cap, key);
	if (!s->key)
		m->n++;
	*s = (struct sp_u64map_ent){ key, val };
	return 0;
}

void sp_u64map_each(sp_u64map *m, void (*fn)(void *val))
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->e[i].key)
			fn(m->e[i].val);
}

void sp_u64map_free(sp_u64map *m)
{
	free(m->e);
	*m = (sp_u64map){ 0 };
}
