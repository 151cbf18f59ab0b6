/* The consumer's view of a process's live heap: sampled blocks allocated
 * and not yet freed, kept across intervals (inuse_* values are a snapshot
 * of this set at each interval's end).
 *
 * Records come from per-thread rings drained one after the other, so a
 * block allocated on one thread and freed on another may show its free
 * before its allocation. Times order them: an allocation's record is
 * stamped before malloc returns, its free's before free runs, so for one
 * address alloc < free < next alloc. A free that finds no earlier block
 * waits two drain passes for it (by then every record written before the
 * free has been drained); what it never finds is dropped and counted. */
#ifndef SPANPROF_HEAP_LIVE_H
#define SPANPROF_HEAP_LIVE_H

#include <stddef.h>
#include <stdint.h>

typedef struct sp_live_block {
	uint64_t addr, time_ns;
	int64_t objects, bytes;      /* the sample's estimates (weighted) */
	void *key;                   /* the aggregator's stack and labels */
	struct sp_live_block *next;  /* same address, newer first */
	struct sp_live_block *all_prev, *all_next; /* every block */
} sp_live_block;

typedef struct sp_heap_live sp_heap_live;

/* free_key releases a block's key when the block goes. NULL + errno. */
sp_heap_live *sp_heap_live_new(void (*free_key)(void *));
void sp_heap_live_free(sp_heap_live *l);

/* A sampled allocation; the set owns key from here on (also on failure).
 * 0; 1 when a free already seen ends it at once; -ENOMEM. */
int sp_heap_live_alloc(sp_heap_live *l, uint64_t addr, uint64_t time_ns, int64_t objects,
		       int64_t bytes, void *key);
/* The free of the sampled block at addr. */
void sp_heap_live_release(sp_heap_live *l, uint64_t addr, uint64_t time_ns);
/* A drain pass over every ring ended. */
void sp_heap_live_pass(sp_heap_live *l);

void sp_heap_live_each(const sp_heap_live *l, void (*fn)(const sp_live_block *b, void *ctx),
		       void *ctx);
size_t sp_heap_live_count(const sp_heap_live *l);
/* Frees that never found their block (its record was lost, or it was
 * allocated before profiling started). */
uint64_t sp_heap_live_unmatched(const sp_heap_live *l);

#endif
