/* Symbolizer test workload: a known call chain whose middle frames are
 * always inlined. Lines tagged "@L:name" are what the test expects; it finds
 * their numbers with grep. Prints "frame I PATH OFFSET" per return address
 * (see frames.h), leaf first.
 *
 *   main -> chain_lib_sort (libchain.so) -> qsort (libc) -> chain_lib_cmp
 *   -> chain_top [chain_inl_a inlined] -> chain_mid [chain_inl_b inlined]
 *   -> chain_leaf -> backtrace()
 */
#include <execinfo.h>
#include <stdio.h>

#include "frames.h"

#define NOINLINE __attribute__((noinline))
#define ALWAYS_INLINE static inline __attribute__((always_inline))

void chain_lib_sort(void (*cb)(void));

static void *frames[64];
static int n_frames;
volatile int sink;

NOINLINE void chain_leaf(void)
{
	n_frames = backtrace(frames, 64); /* @L:leaf */
	sink++;
}

ALWAYS_INLINE void chain_inl_b(void)
{
	chain_leaf(); /* @L:inl_b */
	sink++;
}

NOINLINE void chain_mid(void)
{
	sink++;
	chain_inl_b(); /* @L:mid */
	sink++;
}

ALWAYS_INLINE void chain_inl_a(void)
{
	sink++;
	chain_mid(); /* @L:inl_a */
	sink++;
}

NOINLINE void chain_top(void)
{
	chain_inl_a(); /* @L:top */
	sink++;
}

int main(void)
{
	chain_lib_sort(chain_top); /* @L:main */
	print_frames(frames, n_frames);
	return sink > 0 ? 0 : 1;
}
