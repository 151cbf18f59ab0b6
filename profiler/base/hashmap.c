/* The hash table: see hashmap.h. */
#include "base/hashmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MIN_CAP 16

/* Slot where an entry of this (stored) hash goes: the first empty one. */
static sp_hashmap_ent *empty_slot(sp_hashmap_ent *e, size_t cap, uint64_t hash)
{
	size_t mask = cap - 1, i;

	for (i = hash & mask; e[i].hash; i = (i + 1) & mask)
		;
	return &e[i];
}

static int resize(sp_hashmap *m, size_t cap)
{
	sp_hashmap_ent *e = calloc(cap, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->e[i].hash)
			*empty_slot(e, cap, m->e[i].hash) = m->e[i];
	free(m->e);
	m->e = e;
	m->cap = cap;
	return 0;
}

int sp_hashmap_reserve(sp_hashmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : MIN_CAP;

	if (n > SIZE_MAX / 4 / sizeof(sp_hashmap_ent))
		return -ENOMEM;
	while (n * 4 > cap * 3)
		cap *= 2;
	return cap == m->cap ? 0 : resize(m, cap);
}

sp_hashmap_ent *sp_hashmap_add(sp_hashmap *m, uint64_t hash, uint64_t key)
{
	sp_hashmap_ent *e;

	if (sp_hashmap_reserve_one(m))
		return NULL;
	hash = sp_hashmap_stored_hash(hash);
	e = empty_slot(m->e, m->cap, hash);
	*e = (sp_hashmap_ent){ .hash = hash, .key = key };
	m->n++;
	return e;
}

/* Backward-shift deletion: entries after the hole that could live in it
 * move up, so probe sequences never cross an empty slot (no tombstones). */
void sp_hashmap_remove(sp_hashmap *m, sp_hashmap_ent *e)
{
	size_t mask = m->cap - 1, hole = (size_t)(e - m->e), i = hole;

	for (;;) {
		i = (i + 1) & mask;
		if (!m->e[i].hash)
			break;
		/* An entry may fill the hole unless its home slot lies
		 * (cyclically) after the hole and at or before its slot. */
		size_t home = m->e[i].hash & mask;
		if (((i - home) & mask) >= ((i - hole) & mask)) {
			m->e[hole] = m->e[i];
			hole = i;
		}
	}
	m->e[hole] = (sp_hashmap_ent){ 0 };
	m->n--;
}

void sp_hashmap_clear(sp_hashmap *m)
{
	if (m->e)
		memset(m->e, 0, m->cap * sizeof(*m->e));
	m->n = 0;
}

void sp_hashmap_free(sp_hashmap *m)
{
	free(m->e);
	*m = (sp_hashmap){ 0 };
}

static bool str_eq(const sp_hashmap_ent *e, const void *probe)
{
	return strcmp((const char *)(uintptr_t)e->key, probe) == 0;
}

sp_hashmap_ent *sp_hashmap_find_str(const sp_hashmap *m, const char *key)
{
	return m->n ? sp_hashmap_find(m, sp_hash_str(key), str_eq, key) : NULL;
}

sp_hashmap_ent *sp_hashmap_insert_str(sp_hashmap *m, const char *key, bool *added)
{
	bool a;

	return sp_hashmap_find_or_add(m, sp_hash_str(key), str_eq, key, (uint64_t)(uintptr_t)key,
				      added ? added : &a);
}
