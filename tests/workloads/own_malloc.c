/* own_malloc: an executable with its own malloc family (a bump allocator,
 * exported with -rdynamic), as programs that link an allocator statically
 * have: the profiler's hooks never see its allocations, and must say so
 * while CPU profiling goes on. Burns ~1 s of CPU. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "burn.h"

static char *arena, *next_free;
#define ARENA (256u << 20)

void *malloc(size_t n)
{
	char *p;

	if (!arena) {
		arena = mmap(NULL, ARENA, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (arena == MAP_FAILED)
			return NULL;
		next_free = arena;
	}
	n = (n + 31) & ~(size_t)15;
	if ((size_t)(next_free - arena) + n > ARENA) {
		errno = ENOMEM;
		return NULL;
	}
	p = next_free + 16;
	memcpy(p - 16, &n, sizeof(n));
	next_free += n;
	return p;
}

void free(void *p)
{
	(void)p;
}

void *calloc(size_t k, size_t n)
{
	size_t b;
	if (__builtin_mul_overflow(k, n, &b)) {
		errno = ENOMEM;
		return NULL;
	}
	return malloc(b); /* fresh mmap pages are zero, never reused */
}

void *realloc(void *old, size_t n)
{
	size_t had;
	void *p = malloc(n);

	if (p && old) {
		memcpy(&had, (char *)old - 16, sizeof(had));
		memcpy(p, old, had - 16 < n ? had - 16 : n);
	}
	return p;
}

NOIPA static void own_burn(void)
{
	burn_cpu(1.0);
}

int main(void)
{
	volatile unsigned long sink = 0;

	for (int i = 0; i < 100000; i++) {
		char *p = malloc(64);
		p[0] = (char)i;
		sink += (unsigned long)p[0];
		free(p);
	}
	own_burn();
	printf("done\n");
	return (int)(sink & 0);
}
