/* The consumer's live-heap set; see heap_live.h. */
#include "aggregate/heap_live.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/hashmap.h"

/* A free waiting for its allocation's record. */
struct pending_free {
	uint64_t addr, time_ns;
	unsigned pass;
};

#define MAX_PENDING 65536

struct sp_heap_live {
	sp_hashmap by_addr;    /* addr -> its sp_live_block list (never empty) */
	size_t n;              /* blocks */
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
	sp_hashmap_free(&l->by_addr);
	free(l->pending);
	free(l);
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
	sp_hashmap_ent *e;

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
	e = sp_hashmap_insert_u64(&l->by_addr, addr, NULL);
	if (!e) {
		drop_block(l, b);
		return -ENOMEM;
	}
	head = e->val.ptr;
	b->next = head;
	e->val.ptr = b;
	b->all_next = l->all;
	if (l->all)
		l->all->all_prev = b;
	l->all = b;
	l->n++;
	return 0;
}

void sp_heap_live_release(sp_heap_live *l, uint64_t addr, uint64_t time_ns)
{
	sp_hashmap_ent *e = sp_hashmap_find_u64(&l->by_addr, addr);
	sp_live_block *head = e ? e->val.ptr : NULL, **pp, *b = NULL;

	/* The newest block allocated before this free (newer first). */
	for (pp = &head; (b = *pp); pp = &b->next)
		if (b->time_ns < time_ns)
			break;
	if (b) {
		*pp = b->next;
		unlink_all(l, b);
		drop_block(l, b);
		l->n--;
		if (head)
			e->val.ptr = head;
		else
			sp_hashmap_remove(&l->by_addr, e);
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
