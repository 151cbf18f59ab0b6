/* Shared-library part of the inline_chain workload: sorts through libc's
 * qsort so the chain crosses libchain.so -> libc -> libchain.so -> exe. */
#include <stdlib.h>

static void (*chain_callback)(void);
static int called;

__attribute__((noinline)) int chain_lib_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (!called++)
		chain_callback(); /* @L:lib_cmp */
	return (x > y) - (x < y);
}

__attribute__((noinline)) void chain_lib_sort(void (*cb)(void))
{
	int v[] = { 3, 1, 2 };

	chain_callback = cb;
	qsort(v, 3, sizeof(v[0]), chain_lib_cmp); /* @L:lib_sort */
	called += v[0];
}
