/* Capture counters for tests (SPANPROF_DEBUG_COUNTS); see capture_debug.h. */
#include "capture_debug.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "sighandler.h"
#include "threads.h"

#define MAX_LEAVES 512
#define MAX_THREADS 4096

struct leaf_count {
	char name[96];
	uint64_t n;
};

struct thread_count {
	int tid;
	char name[16];
	uint64_t n;
};

static struct leaf_count *leaves;
static size_t n_leaves;
static struct thread_count *tcounts;
static size_t n_tcounts;
static uint64_t samples, stack_bytes;

int sp_debug_counts_reset(void)
{
	if (!leaves)
		leaves = calloc(MAX_LEAVES, sizeof(*leaves));
	if (!tcounts)
		tcounts = calloc(MAX_THREADS, sizeof(*tcounts));
	if (!leaves || !tcounts)
		return -ENOMEM;
	n_leaves = n_tcounts = 0;
	samples = stack_bytes = 0;
	return 0;
}

void sp_debug_count(const char *thread_name, const sp_raw_sample *s)
{
	Dl_info info;
	char name[96];
	size_t i;

	samples++;
	stack_bytes += s->stack_len;
	for (i = 0; i < n_tcounts; i++)
		if (tcounts[i].tid == s->tid)
			break;
	if (i == n_tcounts && i < MAX_THREADS) {
		tcounts[i].tid = s->tid;
		tcounts[i].n = 0;
		n_tcounts++;
	}
	if (i < n_tcounts) {
		tcounts[i].n++;
		snprintf(tcounts[i].name, sizeof(tcounts[i].name), "%s",
			 thread_name && *thread_name ? thread_name : "-");
	}
	if (dladdr((void *)(uintptr_t)s->regs[SP_REG_RIP], &info) && info.dli_sname)
		snprintf(name, sizeof(name), "%s", info.dli_sname);
	else
		snprintf(name, sizeof(name), "?");
	for (i = 0; i < n_leaves; i++)
		if (!strcmp(leaves[i].name, name))
			break;
	if (i == n_leaves && i < MAX_LEAVES) {
		memcpy(leaves[i].name, name, sizeof(name));
		leaves[i].n = 0;
		n_leaves++;
	}
	if (i < n_leaves)
		leaves[i].n++;
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

void sp_debug_counts_write(const char *path, pid_t pid, unsigned files)
{
	sp_atomic_file af;
	uint64_t taken, lost, hist[SP_HIST_BUCKETS];
	FILE *f;

	if (sp_atomic_file_open(&af, path, 0666))
		return;
	f = af.f;
	sp_threads_totals(&taken, &lost);
	sp_handler_histogram(hist);
	fprintf(f, "pid %d\nengine %s\nsamples %llu\ndrained %llu\nlost %llu\norphans %llu\n",
		(int)pid, sp_threads_engine_name(), (unsigned long long)taken,
		(unsigned long long)samples, (unsigned long long)lost,
		(unsigned long long)sp_handler_orphans());
	fprintf(f, "handler_ns_p50 %llu\nhandler_ns_p99 %llu\n",
		(unsigned long long)hist_quantile(hist, 0.5),
		(unsigned long long)hist_quantile(hist, 0.99));
	fprintf(f, "files %u\nstack_bytes_avg %llu\n", files,
		(unsigned long long)(samples ? stack_bytes / samples : 0));
	for (size_t i = 0; i < n_tcounts; i++)
		fprintf(f, "thread %d %s %llu\n", tcounts[i].tid, tcounts[i].name,
			(unsigned long long)tcounts[i].n);
	for (size_t i = 0; i < n_leaves; i++)
		fprintf(f, "leaf %s %llu\n", leaves[i].name, (unsigned long long)leaves[i].n);
	sp_atomic_file_commit(&af);
}
