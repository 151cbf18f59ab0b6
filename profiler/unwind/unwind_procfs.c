/* Unwind sources for live processes, from /proc/PID/maps: the module list
 * (with build-ids) and, separately, the anonymous executable ranges (JIT
 * code). Anonymous ranges come and go all the time in a JIT; keeping them
 * out of the module list's generation means they never cost a rebuild of
 * the module table or a flush of libunwind's cache. */
#include <errno.h>
#include <inttypes.h>
#include <link.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/clock.h"
#include "base/hash.h"
#include "unwind/unwind.h"
#include "unwind/unwind_modules.h"

/* At most one maps scan per this interval on anonymous-memory misses. */
#define SP_ANON_SCAN_NS 200000000

struct sp_unwind_procfs {
	int pid;                     /* 0 = this process */
	sp_module_list list;
	bool valid;
	uint64_t gen;                /* bumped at each new list */
	atomic_bool dirty;           /* re-read the list at the next modules() */
	unsigned long long adds, subs; /* loader counters at the last read (self) */
	uint64_t file_hash;          /* of the list's file-backed mappings */
	struct { uint64_t lo, hi; } *anon;
	size_t n_anon, cap_anon;
	int64_t scan_ns;             /* last anonymous-range scan, 0 = none */
};

/* Order-dependent, which is fine: maps is sorted by address either way. */
static uint64_t hash_mapping(uint64_t h, const sp_module *m)
{
	h = sp_hash_add(sp_hash_add(sp_hash_add(h, m->start), m->end), m->offset ^ m->inode);
	return sp_hash_bytes(h, m->path, strlen(m->path));
}

static int add_anon(sp_unwind_procfs *p, uint64_t lo, uint64_t hi)
{
	if (p->n_anon == p->cap_anon) {
		size_t cap = p->cap_anon ? p->cap_anon * 2 : 16;
		void *v = realloc(p->anon, cap * sizeof(*p->anon));
		if (!v)
			return -ENOMEM;
		p->anon = v;
		p->cap_anon = cap;
	}
	p->anon[p->n_anon].lo = lo;
	p->anon[p->n_anon].hi = hi;
	p->n_anon++;
	return 0;
}

static int counters_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;

	c[0] = info->dlpi_adds;
	c[1] = info->dlpi_subs;
	return 1; /* the counters are the same in every entry */
}

/* True when pid sees the same mount namespace as this process: its paths
 * are ours, and stay usable after it exits (/proc/PID/root does not). */
static bool same_mount_ns(int pid)
{
	char path[64];
	struct stat a, b;

	snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
	return stat(path, &a) == 0 && stat("/proc/self/ns/mnt", &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* Another process's paths name files in ITS mount namespace (a container):
 * open them through /proc/PID/root. A process in ours keeps the paths as
 * they are, so that a short-lived one is still unwound and symbolized from
 * its files once it has exited. A file deleted (or replaced) since it was
 * mapped is opened (open_path) as the mapping itself,
 * /proc/PID/map_files/START-END, while the process lives; the unwinder
 * keeps it open by build-id after.
 * The hash above is of the paths as maps gives them, like the scan's. */
static void root_paths(sp_unwind_procfs *p)
{
	bool same = same_mount_ns(p->pid);
	char buf[4096];

	for (size_t i = 0; i < p->list.n; i++) {
		sp_module *m = &p->list.mods[i];
		char *np;
		int n;

		if (sp_module_is_anon(m) || m->vdso)
			continue;
		if (m->deleted) {
			/* path stays the name profiles show */
			n = snprintf(buf, sizeof(buf), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64,
				     p->pid, m->start, m->end);
			if (n < (int)sizeof(buf) && (np = strdup(buf)))
				m->open_path = np;
			continue;
		}
		if (same)
			continue;
		n = snprintf(buf, sizeof(buf), "/proc/%d/root%s", p->pid, m->path);
		if (n >= (int)sizeof(buf) || !(np = strdup(buf)))
			continue; /* left as it is: tried as given */
		free(m->path);
		m->path = np;
	}
}

static void reread(sp_unwind_procfs *p)
{
	sp_module_list nl;
	uint64_t h = 0;

	/* A process that has exited keeps its last list: its samples can
	 * still be unwound from the files. */
	if (sp_procmaps_read(p->pid, &nl, NULL) < 0)
		return;
	if (p->valid)
		sp_procmaps_free(&p->list);
	p->list = nl;
	p->valid = true;
	p->gen++;
	p->n_anon = 0;
	for (size_t i = 0; i < nl.n; i++) {
		if (!sp_module_is_anon(&nl.mods[i]))
			h = hash_mapping(h, &nl.mods[i]);
		else if (add_anon(p, nl.mods[i].start, nl.mods[i].end) < 0)
			break;
	}
	p->file_hash = h;
	if (p->pid)
		root_paths(p);
	/* scan_ns is left alone: JIT code mapped since this read must not wait
	 * out a rate limit that this read started. */
}

static const sp_module_list *procfs_modules(void *ctx, uint64_t *gen)
{
	sp_unwind_procfs *p = ctx;
	bool need = !p->valid;

	if (atomic_exchange(&p->dirty, false))
		need = true;
	if (p->pid == 0) {
		unsigned long long c[2] = { 0, 0 };

		/* ~30 ns, and catches every dlopen and dlclose, hooked or not. */
		dl_iterate_phdr(counters_cb, c);
		if (c[0] != p->adds || c[1] != p->subs) {
			p->adds = c[0];
			p->subs = c[1];
			need = true;
		}
	}
	if (need)
		reread(p);
	*gen = p->gen;
	return p->valid ? &p->list : NULL;
}

struct scan_ctx {
	sp_unwind_procfs *p;
	uint64_t hash;
};

static int scan_cb(void *arg, const sp_module *m)
{
	struct scan_ctx *c = arg;

	if (!sp_module_is_anon(m))
		c->hash = hash_mapping(c->hash, m);
	else if (add_anon(c->p, m->start, m->end) < 0)
		return 1;
	return 0;
}

static bool procfs_in_anon_exec(void *ctx, uint64_t ip)
{
	sp_unwind_procfs *p = ctx;

	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < p->n_anon; i++)
			if (ip >= p->anon[i].lo && ip < p->anon[i].hi)
				return true;
		int64_t now = sp_mono_ns();
		if (pass || (p->scan_ns && now - p->scan_ns < SP_ANON_SCAN_NS))
			break;
		p->scan_ns = now;
		/* Cheap (no build-ids); new file mappings it sees make the
		 * next modules() call re-read the full list. */
		struct scan_ctx c = { p, 0 };
		size_t keep = p->n_anon;
		p->n_anon = 0;
		if (sp_procmaps_scan(p->pid, scan_cb, &c, NULL) < 0) {
			p->n_anon = keep; /* exited: keep what we knew */
			continue;
		}
		if (p->valid && c.hash != p->file_hash)
			atomic_store(&p->dirty, true);
	}
	return false;
}

static void procfs_invalidate(void *ctx)
{
	sp_unwind_procfs *p = ctx;

	atomic_store(&p->dirty, true);
}

const sp_unwind_source_ops sp_unwind_procfs_ops = {
	.modules = procfs_modules,
	.in_anon_exec = procfs_in_anon_exec,
	.invalidate = procfs_invalidate,
};

sp_unwind_procfs *sp_unwind_procfs_new(int pid, sp_error *err)
{
	sp_unwind_procfs *p = calloc(1, sizeof(*p));

	if (!p) {
		sp_error_set(err, -ENOMEM, "unwinder: out of memory");
		return NULL;
	}
	p->pid = pid;
	atomic_init(&p->dirty, false);
	return p;
}

void sp_unwind_procfs_free(sp_unwind_procfs *p)
{
	if (!p)
		return;
	if (p->valid)
		sp_procmaps_free(&p->list);
	free(p->anon);
	free(p);
}
