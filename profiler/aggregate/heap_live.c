/* The consumer's live-heap set; see heap_live.h. */
#include "aggregate/heap_live.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_internal.h" /* sp_u64map */

/* A free waiting for its allocation's record. */
struct pending_free {
	uint64_t addr, time_ns;
	unsigned pass;
};

#define MAX_PENDING 65536

struct sp_heap_live {
	sp_u64map by_addr;     /* addr -> sp_live_block list; NULL when none */
	size_t n, empty_keys;  /* blocks; addresses whose list is empty */
	struct pending_free *pending;
	size_t n_pending, cap_pending;
	unsigned pass;
	uint64_t unmatched;
	sp_live_block *all;
	void (*free_key)(void *);
};

sp_heap_live *sp_heap_live_new(void (*free_key)(void *))
{
	sp_heap_live *l = calloc(1, sizeof(*l));

	if (l)
		l->free_key = free_key;
	return l;
}

static void drop_block(sp_heap_live *l, sp_live_block *b)
{
	if (l->free_key)
		l->free_key(b->key);
	free(b);
}

static void unlink_all(sp_heap_live *l, sp_live_block *b)
{
	if (b->all_prev)
		b->all_prev->all_next = b->all_next;
	else
		l->all = b->all_next;
	if (b->all_next)
		b->all_next->all_prev = b->all_prev;
}

void sp_heap_live_free(sp_heap_live *l)
{
	if (!l)
		return;
	for (sp_live_block *b = l->all, *next; b; b = next) {
		next = b->all_next;
		drop_block(l, b);
	}
	sp_u64map_free(&l->by_addr);
	free(l->pending);
	free(l);
}

/* Addresses only ever accumulate in the map (it has no removal): rebuild
 * it when most of its keys have no block left. */
static void compact(sp_heap_live *l)
{
	sp_u64map fresh = { 0 };

	if (l->empty_keys < 4096 || l->empty_keys < 2 * l->n)
		return;
	for (sp_live_block *b = l->all; b; b = b->all_next) {
		/* Only list heads are in the map. */
		if (sp_u64map_get(&l->by_addr, b->addr) != b)
			continue;
		if (sp_u64map_put(&fresh, b->addr, b)) {
			sp_u64map_free(&fresh);
			return; /* out of memory: keep the old one */
		}
	}
	sp_u64map_free(&l->by_addr);
	l->by_addr = fresh;
	l->empty_keys = 0;
}

static int take_pending(sp_heap_live *l, uint64_t addr, uint64_t time_ns)
{
	for (size_t i = 0; i < l->n_pending; i++) {
		struct pending_free *p = &l->pending[i];
		if (p->addr == addr && p->time_ns > time_ns) {
			*p = l->pending[--l->n_pending];
			return 1;
		}
	}
	return 0;
}

int sp_heap_live_alloc(sp_heap_live *l, uint64_t addr, uint64_t time_ns, int64_t objects,
		       int64_t bytes, void *key)
{
	sp_live_block *b, *head;

	if (l->n_pending && take_pending(l, addr, time_ns)) {
		if (l->free_key)
			l->free_key(key);
		return 1;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		if (l->free_key)
			l->free_key(key);
		return -ENOMEM;
	}
	b->addr = addr;
	b->time_ns = time_ns;
	b->objects = objects;
	b->bytes = bytes;
	b->key = key;
	head = sp_u64map_get(&l->by_addr, addr);
	b->next = head;
	if (sp_u64map_put(&l->by_addr, addr, b)) {
		drop_block(l, b);
		return -ENOMEM;
	}
	b->all_next = l->all;
	if (l->all)
		l->all->all_prev = b;
	l->all = b;
	l->n++;
	return 0;
}

void sp_heap_live_release(sp_heap_live *l, uint64_t addr, uint64_t time_ns)
{
	sp_live_block *head = sp_u64map_get(&l->by_addr, addr), **pp, *b;

	/* The newest block allocated before this free (newer first). */
	for (pp = &head; (b = *pp); pp = &b->next)
		if (b->time_ns < time_ns)
			break;
	if (b) {
		*pp = b->next;
		unlink_all(l, b);
		drop_block(l, b);
		l->n--;
		sp_u64map_put(&l->by_addr, addr, head); /* key exists: no allocation */
		if (!head)
			l->empty_keys++;
		compact(l);
		return;
	}
	if (l->n_pending == l->cap_pending) {
		size_t cap = l->cap_pending ? l->cap_pending * 2 : 64;
		struct pending_free *v;

		if (l->n_pending >= MAX_PENDING ||
		    !(v = realloc(l->pending, cap * sizeof(*v)))) {
			l->unmatched++;
			return;
		}
		l->pending = v;
		l->cap_pending = cap;
	}
	l->pending[l->n_pending++] = (struct pending_free){ addr, time_ns, l->pass };
}

void sp_heap_live_pass(sp_heap_live *l)
{
	size_t k = 0;

	l->pass++;
	for (size_t i = 0; i < l->n_pending; i++) {
		if (l->pass - l->pending[i].pass > 2)
			l->unmatched++;
		else
			l->pending[k++] = l->pending[i];
	}
	l->n_pending = k;
}

void sp_heap_live_each(const sp_heap_live *l, void (*fn)(const sp_live_block *b, void *ctx),
		       void *ctx)
{
	for (const sp_live_block *b = l->all; b; b = b->all_next)
		fn(b, ctx);
}

size_t sp_heap_live_count(const sp_heap_live *l)
{
	return l->n;
}

uint64_t sp_heap_live_unmatched(const sp_heap_live *l)
{
	return l->unmatched;
}
