/* Capture counters for tests (SPANPROF_DEBUG_COUNTS); see capture_debug.h. */
#include "pipeline/capture_debug.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/atomic_file.h"
#include "abi/shm.h"

#define MAX_THREADS 4096

struct thread_count {
	int tid;
	char name[16];
	uint64_t n;
};

struct sp_debug_counts {
	struct thread_count t[MAX_THREADS];
	size_t n_t;
	uint64_t samples, stack_bytes;
};

sp_debug_counts *sp_debug_counts_new(void)
{
	return calloc(1, sizeof(sp_debug_counts));
}

void sp_debug_counts_free(sp_debug_counts *d)
{
	free(d);
}

void sp_debug_count(sp_debug_counts *d, const char *thread_name, const sp_raw_sample *s)
{
	size_t i;

	d->samples++;
	d->stack_bytes += s->stack_len;
	for (i = 0; i < d->n_t; i++)
		if (d->t[i].tid == s->tid)
			break;
	if (i == d->n_t && i < MAX_THREADS) {
		d->t[i].tid = s->tid;
		d->t[i].n = 0;
		d->n_t++;
	}
	if (i < d->n_t) {
		d->t[i].n++;
		snprintf(d->t[i].name, sizeof(d->t[i].name), "%s",
			 thread_name && *thread_name ? thread_name : "-");
	}
}

static uint64_t hist_quantile(const uint64_t *h, double q)
{
	uint64_t total = 0, acc = 0;

	for (int i = 0; i < SP_HIST_BUCKETS; i++)
		total += h[i];
	if (!total)
		return 0;
	for (int i = 0; i < SP_HIST_BUCKETS; i++) {
		acc += h[i];
		if ((double)acc >= q * (double)total)
			return (uint64_t)(i + 1) * SP_HIST_NS;
	}
	return (uint64_t)SP_HIST_BUCKETS * SP_HIST_NS;
}

void sp_debug_counts_write(sp_debug_counts *d, const char *path, pid_t pid, unsigned files,
			   uint64_t taken, uint64_t lost, const char *engine, sp_shm_header *h)
{
	sp_atomic_file af;
	uint64_t hist[SP_HIST_BUCKETS];
	FILE *f;

	for (int i = 0; i < SP_HIST_BUCKETS; i++)
		hist[i] = atomic_load_explicit(&h->hist[i], memory_order_relaxed);
	if (sp_atomic_file_open(&af, path, 0666))
		return;
	f = af.f;
	fprintf(f, "pid %d\nengine %s\nsamples %llu\ndrained %llu\nlost %llu\norphans %llu\n",
		(int)pid, engine, (unsigned long long)taken, (unsigned long long)d->samples,
		(unsigned long long)lost,
		(unsigned long long)atomic_load_explicit(&h->orphans, memory_order_relaxed));
	fprintf(f, "handler_ns_p50 %llu\nhandler_ns_p99 %llu\n",
		(unsigned long long)hist_quantile(hist, 0.5),
		(unsigned long long)hist_quantile(hist, 0.99));
	fprintf(f, "files %u\nstack_bytes_avg %llu\n", files,
		(unsigned long long)(d->samples ? d->stack_bytes / d->samples : 0));
	for (size_t i = 0; i < d->n_t; i++)
		fprintf(f, "thread %d %s %llu\n", d->t[i].tid, d->t[i].name,
			(unsigned long long)d->t[i].n);
	sp_atomic_file_commit(&af);
}
