/* heap_split: three call sites allocate 60% / 30% / 10% of the bytes, each in
 * equal byte shares of five size classes (16 B, 256 B, 4 KiB, 64 KiB, 1 MiB),
 * interleaved so no site has a phase of its own. Site A keeps every 4th block,
 * B every 2nd, C all of them; the rest are freed (half of them on another
 * thread). At the end it prints what is really live:
 *   live_bytes=N live_a=N live_b=N live_c=N alloc_a=N alloc_b=N alloc_c=N
 * and, with an argument "span", runs in two spans where span A allocates 3x
 * the bytes of span B.
 *
 *   heap_split [MiB] [span]     (default 256 MiB allocated in all) */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spanprof.h"

static const size_t sizes[] = { 16, 256, 4096, 65536, 1 << 20 };
#define N_SIZES (sizeof(sizes) / sizeof(sizes[0]))

struct site {
	size_t alloc, live;
	int keep_every;
};
static struct site sites[3] = { { 0, 0, 4 }, { 0, 0, 2 }, { 0, 0, 1 } };

/* Blocks to free on the other thread. */
static void **handoff;
static size_t n_handoff, cap_handoff;
static void **kept;
static size_t n_kept, cap_kept;

static void push(void ***v, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 4096;
		*v = realloc(*v, *cap * sizeof(**v));
		if (!*v)
			abort();
	}
	(*v)[(*n)++] = p;
}

static void use(struct site *s, void *p, size_t n, unsigned long k)
{
	if (!p)
		abort();
	((volatile char *)p)[0] = 1;
	s->alloc += n;
	if (k % (unsigned long)s->keep_every == 0) {
		s->live += n;
		push(&kept, &n_kept, &cap_kept, p);
	} else if (k & 1) {
		push(&handoff, &n_handoff, &cap_handoff, p);
	} else {
		free(p);
	}
}

/* One site per function, so each is its own stack. */
__attribute__((noinline, noipa)) static void site_a(size_t n, unsigned long k)
{
	use(&sites[0], malloc(n), n, k);
}

__attribute__((noinline, noipa)) static void site_b(size_t n, unsigned long k)
{
	use(&sites[1], malloc(n), n, k);
}

__attribute__((noinline, noipa)) static void site_c(size_t n, unsigned long k)
{
	use(&sites[2], malloc(n), n, k);
}

static void *free_all(void *arg)
{
	(void)arg;
	for (size_t i = 0; i < n_handoff; i++)
		free(handoff[i]);
	return NULL;
}

/* Allocations run(total) makes. */
static size_t allocations(size_t total)
{
	size_t n = 0;

	for (size_t c = 0; c < N_SIZES; c++)
		n += (1u << 20) / sizes[c] * 10;
	return n * (total / (10 * (1u << 20) * N_SIZES));
}

/* The bookkeeping vectors at their final size up front, so that no
 * allocation but the sites' own happens during the runs. */
static void reserve(size_t n)
{
	cap_kept = cap_handoff = n;
	kept = malloc(n * sizeof(*kept));
	handoff = malloc(n * sizeof(*handoff));
	if (!kept || !handoff)
		abort();
}

/* total bytes in all, split 6:3:1 across the sites. */
static void run(size_t total)
{
	/* Per round, each size class gets the same bytes at each site:
	 * 6, 3 and 1 MiB of every class per 10 rounds' unit. */
	size_t unit = 1 << 20, rounds = total / (10 * unit * N_SIZES);
	unsigned long k = 0;

	for (size_t r = 0; r < rounds; r++) {
		for (size_t c = 0; c < N_SIZES; c++) {
			size_t per = unit / sizes[c];
			for (size_t i = 0; i < per; i++, k++) {
				for (int j = 0; j < 6; j++)
					site_a(sizes[c], k * 6 + (unsigned long)j);
				for (int j = 0; j < 3; j++)
					site_b(sizes[c], k * 3 + (unsigned long)j);
				site_c(sizes[c], k);
			}
		}
	}
}

__attribute__((noinline, noipa)) static void span_a_alloc(size_t total)
{
	run(total);
}

__attribute__((noinline, noipa)) static void span_b_alloc(size_t total)
{
	run(total);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int spans = argc > 2 && !strcmp(argv[2], "span");
	pthread_t th;

	reserve(spans ? allocations(mib * 3 / 4 << 20) + allocations(mib / 4 << 20) :
			allocations(mib << 20));
	if (spans) {
		static const uint8_t trace[16] = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6,
						   0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36 };
		static const uint8_t a[8] = { 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01 };
		static const uint8_t b[8] = { 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0x02 };

		SPANPROF_CALL(spanprof_span_set, trace, a, "span_a");
		span_a_alloc(mib * 3 / 4 << 20);
		SPANPROF_CALL(spanprof_span_set, trace, b, "span_b");
		span_b_alloc(mib / 4 << 20);
		SPANPROF_SPAN_CLEAR();
	} else {
		run(mib << 20);
	}
	if (pthread_create(&th, NULL, free_all, NULL) || pthread_join(th, NULL))
		return 2;
	printf("live_bytes=%zu live_a=%zu live_b=%zu live_c=%zu alloc_a=%zu alloc_b=%zu alloc_c=%zu\n",
	       sites[0].live + sites[1].live + sites[2].live, sites[0].live, sites[1].live,
	       sites[2].live, sites[0].alloc, sites[1].alloc, sites[2].alloc);
	fflush(stdout);
	/* The kept blocks stay live to the end: the last interval's inuse. */
	_exit(0);
}
