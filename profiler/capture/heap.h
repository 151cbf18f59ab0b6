/* Allocation sampling in the host: which allocations are sampled, the
 * table of sampled blocks still live, and the records both write into the
 * thread's ring. The interposed entry points are in preload/preload_malloc.c.
 *
 * Sampling is a Poisson process over bytes: each thread counts down an
 * exponentially distributed number of bytes (mean SPANPROF_HEAP_RATE) and
 * samples the allocation that crosses zero, so an allocation of s bytes is
 * sampled with probability 1 - exp(-s/rate) whatever came before it; the
 * consumer weights it by the inverse. The unsampled path is one subtraction
 * on an initial-exec TLS counter. */
#ifndef SPANPROF_HEAP_H
#define SPANPROF_HEAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes left before this thread's next sample; <= 0 takes the slow path. */
extern __thread int64_t sp_tls_heap_countdown __attribute__((tls_model("initial-exec")));
/* Non-zero while this thread's hook writes its ring (the signal handler
 * must not) or runs the profiler's own code (nothing is sampled). */
extern __thread int sp_tls_heap_busy __attribute__((tls_model("initial-exec")));

/* The caller's frame at the hook: return address, its stack pointer after
 * the call returns, and its frame pointer. */
typedef struct sp_heap_frame {
	uintptr_t ip, sp, bp;
} sp_heap_frame;

/* Live table: sampled blocks not yet freed, by address. Buckets of
 * SP_HEAP_WAYS slots, each a whole number of cache lines. Lock-free (CAS on
 * the slot); not the consumer's hash map, which allocates. Every free asks
 * first a count per group of SP_HEAP_GROUP buckets (1 KiB in all: it stays
 * in L1 while the program streams through its data, where the 8 KiB of
 * per-bucket counts do not), then the bucket's count, then the slots. Both
 * counts rise before a slot is filled and fall after it is cleared. */
#define SP_HEAP_BUCKETS 8192
#define SP_HEAP_WAYS 16
#define SP_HEAP_GROUP 8 /* 8 x 16 slots: a group's count fits a byte */
#define SP_HEAP_GROUPS (SP_HEAP_BUCKETS / SP_HEAP_GROUP)
extern _Atomic uint8_t sp_heap_fill[SP_HEAP_BUCKETS];
extern _Atomic uint8_t sp_heap_group_fill[SP_HEAP_GROUPS];

static inline uint32_t sp_heap_bucket(const void *p)
{
	return (uint32_t)((((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull) >> 51) &
	       (SP_HEAP_BUCKETS - 1);
}

/* An allocation of n bytes is about to be made: true when it is sampled
 * or the countdown needs a look (then call sp_heap_sample). */
static inline bool sp_heap_due(size_t n)
{
	int64_t c = sp_tls_heap_countdown - (int64_t)n;

	sp_tls_heap_countdown = c;
	return __builtin_expect(c <= 0, 0);
}

/* p may be a sampled block (its bucket holds one). */
static inline bool sp_heap_maybe_sampled(const void *p)
{
	uint32_t b = sp_heap_bucket(p);

	if (__builtin_expect(atomic_load_explicit(&sp_heap_group_fill[b / SP_HEAP_GROUP],
						  memory_order_relaxed) == 0,
			     1))
		return false;
	return atomic_load_explicit(&sp_heap_fill[b], memory_order_relaxed) != 0;
}

/* Start (rate: mean bytes between samples) or stop sampling. Blocks still
 * in the table stay there, so their frees are still reported. */
void sp_heap_arm(int64_t rate);
void sp_heap_disarm(void);
bool sp_heap_armed(void);

/* Slow path of an allocation of n bytes that returned p (NULL: it failed;
 * nothing is recorded). Draws the next countdown; when sampling is on and
 * this thread may write its ring, records the allocation with the caller's
 * stack and adds p to the live table. */
void sp_heap_sample(void *p, size_t n, const sp_heap_frame *f);
/* p, possibly sampled, is about to be freed (or moved by realloc): when it
 * is in the table, remove it and record the free. */
void sp_heap_freed(void *p);

/* Whether the program's allocations pass through the hooks: "" when they
 * do, else why not (another malloc comes first in the lookup order, or an
 * allocator with its own entry points is linked into the executable). */
void sp_heap_check_allocator(char *note, size_t len);

/* The first definition of name in the global scope (what the program's
 * own calls bind to), or NULL when unknown (then assume ours). */
void *sp_global_symbol(const char *name);

/* fork child: the parent's sampled blocks are not this image's to report
 * (the child's consumer session starts empty). */
void sp_heap_atfork_child(void);

/* Blocks in the live table now (telemetry, tests). */
uint64_t sp_heap_live(void);

#endif
