/* The consumer's one hash table: open addressing, linear probing, a power-
 * of-two number of slots at most 3/4 full. Each slot holds the key's hash,
 * one key word and one value word. The key word is what the caller makes of
 * it: a number, a borrowed pointer (string keys), or an index into the
 * caller's own array, compared through a callback (struct keys), so one
 * table serves as a map and as an interning index.
 *
 * A zero-initialised sp_hashmap is an empty map. Entry pointers stay valid
 * until the map next changes shape: anything that may add (add, insert_*,
 * find_or_add, reserve) or a remove. Not thread-safe. Host-side code
 * (capture, preload) must not use it: it allocates. */
#ifndef SPANPROF_HASHMAP_H
#define SPANPROF_HASHMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/hash.h"

typedef struct sp_hashmap_ent {
	uint64_t hash; /* 0 = empty slot; see sp_hashmap_stored_hash */
	uint64_t key;
	union {
		void *ptr;
		uint64_t num;
	} val;
} sp_hashmap_ent;

typedef struct sp_hashmap {
	sp_hashmap_ent *e;
	size_t cap, n; /* cap: 0 or a power of two */
} sp_hashmap;

/* Equality of a stored entry with what the caller looks for. */
typedef bool (*sp_hashmap_eq_fn)(const sp_hashmap_ent *e, const void *probe);

/* The hash as stored: never 0, so 0 can mark empty slots. */
static inline uint64_t sp_hashmap_stored_hash(uint64_t hash)
{
	return hash | (1ULL << 63);
}

/* The entry with this hash that eq() accepts, or NULL. Inline so that a
 * constant eq is inlined into the probe loop. */
static inline sp_hashmap_ent *sp_hashmap_find(const sp_hashmap *m, uint64_t hash,
					      sp_hashmap_eq_fn eq, const void *probe)
{
	size_t mask, i;

	if (!m->n)
		return NULL;
	hash = sp_hashmap_stored_hash(hash);
	mask = m->cap - 1;
	for (i = hash & mask; m->e[i].hash; i = (i + 1) & mask)
		if (m->e[i].hash == hash && eq(&m->e[i], probe))
			return &m->e[i];
	return NULL;
}

/* Room for n entries without growing; 0 or -ENOMEM. */
int sp_hashmap_reserve(sp_hashmap *m, size_t n);

/* Room for one more entry: 0 or -ENOMEM. */
static inline int sp_hashmap_reserve_one(sp_hashmap *m)
{
	return (m->n + 1) * 4 > m->cap * 3 ? sp_hashmap_reserve(m, m->n + 1) : 0;
}

/* The entry eq() accepts, else a new one for (hash, key) with its value
 * zeroed; *added says which. One probe either way. NULL when out of
 * memory (nothing added). The map may grow even when the entry exists. */
static inline sp_hashmap_ent *sp_hashmap_find_or_add(sp_hashmap *m, uint64_t hash,
						     sp_hashmap_eq_fn eq, const void *probe,
						     uint64_t key, bool *added)
{
	size_t mask, i;

	if (sp_hashmap_reserve_one(m))
		return NULL;
	hash = sp_hashmap_stored_hash(hash);
	mask = m->cap - 1;
	for (i = hash & mask; m->e[i].hash; i = (i + 1) & mask)
		if (m->e[i].hash == hash && eq(&m->e[i], probe)) {
			*added = false;
			return &m->e[i];
		}
	m->e[i] = (sp_hashmap_ent){ .hash = hash, .key = key };
	m->n++;
	*added = true;
	return &m->e[i];
}

/* A new entry for (hash, key), value zeroed, without looking for an equal
 * one (callers find first, or know). NULL when out of memory. */
sp_hashmap_ent *sp_hashmap_add(sp_hashmap *m, uint64_t hash, uint64_t key);

/* Take e (from find/add/next on m) out of the map. Other entries may move:
 * entry pointers and iteration positions are invalid afterwards. */
void sp_hashmap_remove(sp_hashmap *m, sp_hashmap_ent *e);

/* Empty the map, keeping its memory. */
void sp_hashmap_clear(sp_hashmap *m);

void sp_hashmap_free(sp_hashmap *m);

/* Iteration in table order (which means nothing): start with *pos = 0,
 * NULL at the end. */
static inline sp_hashmap_ent *sp_hashmap_next(const sp_hashmap *m, size_t *pos)
{
	while (*pos < m->cap) {
		sp_hashmap_ent *e = &m->e[(*pos)++];

		if (e->hash)
			return e;
	}
	return NULL;
}

/* ---- uint64 keys (any value, 0 included) --------------------------------- */

static inline bool sp_hashmap_u64_eq(const sp_hashmap_ent *e, const void *probe)
{
	return e->key == *(const uint64_t *)probe;
}

static inline sp_hashmap_ent *sp_hashmap_find_u64(const sp_hashmap *m, uint64_t key)
{
	return sp_hashmap_find(m, sp_hash_mix(key), sp_hashmap_u64_eq, &key);
}

/* The entry for key, added (value zeroed) when missing; NULL when out of
 * memory. *added tells which, when not NULL. */
static inline sp_hashmap_ent *sp_hashmap_insert_u64(sp_hashmap *m, uint64_t key, bool *added)
{
	bool a;

	return sp_hashmap_find_or_add(m, sp_hash_mix(key), sp_hashmap_u64_eq, &key, key,
				      added ? added : &a);
}

/* ---- string keys (borrowed: the caller keeps them alive) ----------------- */

sp_hashmap_ent *sp_hashmap_find_str(const sp_hashmap *m, const char *key);

/* As sp_hashmap_insert_u64; a new entry borrows `key`. */
sp_hashmap_ent *sp_hashmap_insert_str(sp_hashmap *m, const char *key, bool *added);

#endif
