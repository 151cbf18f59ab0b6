/* Per-thread single-producer single-consumer byte ring for raw samples.
 * Producer: the sampled thread's signal handler (async-signal-safe, no
 * locks, no allocation). Consumer: the worker thread. Records are variable
 * length (header + sp_raw_sample + stack bytes), contiguous in memory: a
 * record that would straddle the end is preceded by a padding record. */
#ifndef SPANPROF_RING_H
#define SPANPROF_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "abi/raw_sample.h"

typedef struct sp_ring sp_ring;

/* mmap'd (pages become resident only when used); size rounded up to a
 * power of two; record_max is the largest stack slice the producer will
 * reserve (for the wake mark). Returns NULL on failure. */
sp_ring *sp_ring_new(size_t size, size_t record_max);
void sp_ring_free(sp_ring *r);
/* A ring placed in memory the caller owns (a shared-memory slot):
 * footprint = sp_ring_footprint(size) bytes at mem. init_at empties it
 * (producer side, before reuse); attach checks an existing ring's size
 * (consumer side). NULL when the sizes do not match. */
size_t sp_ring_footprint(size_t size);
sp_ring *sp_ring_init_at(void *mem, size_t footprint, size_t record_max);
sp_ring *sp_ring_attach(void *mem, size_t footprint);
size_t sp_ring_size(const sp_ring *r);

/* ---- producer (signal handler) ----------------------------------------- */

/* Reserve room for one sample with up to stack_max stack bytes. Returns the
 * sample to fill and sets *stack_buf to where its stack bytes go, or NULL
 * when the ring is full (counted as lost). */
sp_raw_sample *sp_ring_reserve(sp_ring *r, size_t stack_max, uint8_t **stack_buf);
/* Publish the reserved record (s->stack_len may be less than stack_max).
 * Returns true once per fill-up: when this record left the ring past its
 * wake mark (half full, or less than two full-size records free) and the
 * consumer has not been asked to drain since its last sp_ring_rearm(); the
 * producer then wakes the consumer. */
bool sp_ring_commit(sp_ring *r);

/* ---- consumer (worker) ------------------------------------------------- */

/* The oldest record, with ->stack pointing into the ring, or NULL when
 * empty. Valid until sp_ring_pop(). */
const sp_raw_sample *sp_ring_peek(sp_ring *r);
void sp_ring_pop(sp_ring *r);
/* Consumer: the ring was drained; the next fill-up may ask again. */
void sp_ring_rearm(sp_ring *r);
/* Bytes waiting to be consumed, and the fill level that asks for a drain. */
size_t sp_ring_used(const sp_ring *r);
size_t sp_ring_wake_mark(const sp_ring *r);

/* Counters; written by the producer, read by anyone. */
uint64_t sp_ring_taken(const sp_ring *r);
uint64_t sp_ring_lost(const sp_ring *r);
void sp_ring_count_lost(sp_ring *r);

#endif
