/* The consumer: raw samples are unwound and interned as (stack, labels) ->
 * (count, weight) for one interval; at the interval end the table becomes a
 * pprof profile (one Mapping per executable segment, one Location per
 * distinct pc, symbolized once per distinct address) and is reset.
 *
 * Memory per interval is bounded: at most SP_AGG_MAX_STACKS distinct
 * (stack, labels) keys and SP_AGG_MAX_PCS stored pcs; samples beyond that
 * are counted in one "[stack table full]" bucket, never dropped silently.
 * Truncated stacks keep what was unwound and get a root-side "[truncated]"
 * frame so they are visible in every view. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate/aggregate.h"
#include "aggregate/heap_live.h"
#include "abi/link_proto.h"
#include "base/hashmap.h"
#include "proc/perfmap.h"
#include "symbolizer/procmaps.h"
#include "symbolizer/symbolizer.h"
#include "unwind/unwind.h"

#define SP_AGG_MAX_STACKS 16384
#define SP_AGG_MAX_PCS (1u << 20)   /* 8 MiB of pcs per interval */
#define SP_AGG_MAX_STRINGS 4096     /* distinct thread + span names per interval */

#define TRUNCATED_FRAME "[truncated]"
#define TABLE_FULL_FRAME "[stack table full]"

typedef struct agg_entry {
	uint32_t pc_off, n_pcs;
	uint32_t thread;        /* string id + 1; 0 = no label */
	uint32_t span_name;     /* string id + 1; 0 = no label */
	int32_t tid;            /* thread_id label; 0 = unknown */
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t span_active;
	uint8_t truncated;
	int64_t count, weight;  /* CPU: samples, ns; heap: alloc_objects, alloc_space */
	int64_t inuse_count, inuse_bytes; /* heap: live at the interval's end */
} agg_entry;

/* String interning for label values (thread and span names). */
typedef struct agg_strings {
	char **strs;
	size_t n, cap;
	sp_hashmap index;       /* keys: indices into strs */
} agg_strings;

typedef struct agg_interval {
	agg_entry *entries;
	size_t n, cap;
	sp_hashmap index;       /* keys: indices into entries */
	uint64_t *pcs;
	size_t n_pcs, cap_pcs;
	agg_strings strings;
	int64_t full_count, full_weight; /* the [stack table full] bucket */
	int64_t full_inuse_count, full_inuse_bytes;
	uint64_t samples, truncated, max_depth, complete, frames, full_samples;
} agg_interval;

struct sp_aggregator {
	sp_aggregator_config cfg;
	sp_unwinder *unwinder;
	sp_symbolizer *symbolizer;  /* created on first use, kept */
	sp_module_list maps;        /* kept while modules do not change */
	bool maps_valid;
	atomic_bool maps_dirty;
	char exe[4096];             /* main executable: its mappings go first */
	char container_id[80];      /* cfg.container_id, owned */
	sp_perfmap perfmap;         /* JIT code names, read when a pc is unmapped */
	uint64_t truncated_total;
	agg_interval iv;
	sp_heap_live *live;         /* heap: sampled blocks not yet freed */
};

/* A live block's stack and labels, kept across intervals (the interval's
 * tables and string ids are reset at each cut). */
typedef struct live_key {
	agg_entry e;            /* thread, span_name: unused (ids of one interval) */
	char *thread, *span_name;
	uint64_t pcs[];
} live_key;

static void live_key_free(void *v)
{
	live_key *k = v;

	if (!k)
		return;
	free(k->thread);
	free(k->span_name);
	free(k);
}

/* ---- strings ------------------------------------------------------------ */

static void strings_reset(agg_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->strs[i]);
	free(s->strs);
	sp_hashmap_free(&s->index);
	memset(s, 0, sizeof(*s));
}

struct str_probe {
	const agg_strings *s;
	const char *str;
	size_t len;
};

static bool str_eq(const sp_hashmap_ent *e, const void *probe)
{
	const struct str_probe *q = probe;
	const char *o = q->s->strs[e->key];

	return strncmp(o, q->str, q->len) == 0 && o[q->len] == '\0';
}

/* Returns id + 1, or 0 when the string cannot be stored (cap or OOM): the
 * label is then left off, the sample still counts. */
static uint32_t strings_intern(agg_strings *s, const char *str, size_t len)
{
	uint64_t h = sp_hash_bytes(0x5350, str, len);
	struct str_probe q = { s, str, len };
	const sp_hashmap_ent *e = sp_hashmap_find(&s->index, h, str_eq, &q);

	if (e)
		return (uint32_t)e->key + 1;
	if (s->n >= SP_AGG_MAX_STRINGS)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		char **n = realloc(s->strs, cap * sizeof(*n));
		if (!n)
			return 0;
		s->strs = n;
		s->cap = cap;
	}
	char *copy = strndup(str, len);
	if (!copy || !sp_hashmap_add(&s->index, h, s->n)) {
		free(copy);
		return 0;
	}
	s->strs[s->n++] = copy;
	return (uint32_t)s->n;
}

static const char *strings_get(const agg_strings *s, uint32_t id)
{
	return id && id <= s->n ? s->strs[id - 1] : NULL;
}

/* ---- interval table ------------------------------------------------------ */

static void interval_reset(agg_interval *iv)
{
	free(iv->entries);
	sp_hashmap_free(&iv->index);
	free(iv->pcs);
	strings_reset(&iv->strings);
	memset(iv, 0, sizeof(*iv));
}

struct entry_probe {
	const agg_interval *iv;
	const agg_entry *key;
	const uint64_t *pcs;
};

static bool entry_eq(const sp_hashmap_ent *me, const void *probe)
{
	const struct entry_probe *q = probe;
	const agg_entry *e = &q->iv->entries[me->key], *k = q->key;

	return e->n_pcs == k->n_pcs && e->thread == k->thread &&
	       e->tid == k->tid && e->span_name == k->span_name && e->span_active == k->span_active &&
	       e->truncated == k->truncated &&
	       memcmp(e->trace_id, k->trace_id, sizeof(e->trace_id)) == 0 &&
	       memcmp(e->span_id, k->span_id, sizeof(e->span_id)) == 0 &&
	       memcmp(q->iv->pcs + e->pc_off, q->pcs, k->n_pcs * sizeof(*q->pcs)) == 0;
}

/* Find or insert; NULL when the table is full (caller counts the overflow). */
static agg_entry *interval_get(agg_interval *iv, uint64_t h, const agg_entry *key,
			       const uint64_t *pcs)
{
	struct entry_probe q = { iv, key, pcs };
	const sp_hashmap_ent *me = sp_hashmap_find(&iv->index, h, entry_eq, &q);

	if (me)
		return &iv->entries[me->key];
	if (iv->n >= SP_AGG_MAX_STACKS || iv->n_pcs + key->n_pcs > SP_AGG_MAX_PCS)
		return NULL;
	if (iv->n == iv->cap) {
		size_t cap = iv->cap ? iv->cap * 2 : 256;
		agg_entry *n = realloc(iv->entries, cap * sizeof(*n));
		if (!n)
			return NULL;
		iv->entries = n;
		iv->cap = cap;
	}
	if (iv->n_pcs + key->n_pcs > iv->cap_pcs) {
		size_t cap = iv->cap_pcs ? iv->cap_pcs : 4096;
		while (cap < iv->n_pcs + key->n_pcs)
			cap *= 2;
		uint64_t *n = realloc(iv->pcs, cap * sizeof(*n));
		if (!n)
			return NULL;
		iv->pcs = n;
		iv->cap_pcs = cap;
	}
	if (!sp_hashmap_add(&iv->index, h, iv->n))
		return NULL;
	agg_entry *e = &iv->entries[iv->n++];
	*e = *key;
	e->pc_off = (uint32_t)iv->n_pcs;
	if (key->n_pcs) /* a sample with no frame at all: iv->pcs may be NULL */
		memcpy(iv->pcs + iv->n_pcs, pcs, key->n_pcs * sizeof(*pcs));
	iv->n_pcs += key->n_pcs;
	return e;
}

/* ---- public ------------------------------------------------------------- */

sp_aggregator *sp_aggregator_new(const sp_aggregator_config *cfg, sp_error *err)
{
	sp_aggregator *a = calloc(1, sizeof(*a));

	if (!a) {
		sp_error_set(err, -ENOMEM, "aggregator: out of memory");
		return NULL;
	}
	a->cfg = *cfg;
	if (a->cfg.period_ns <= 0)
		a->cfg.period_ns = 10000000; /* 100 Hz */
	a->unwinder = cfg->source ? sp_unwinder_new(cfg->source, cfg->source_ctx, err) :
				    sp_unwinder_new_procfs(0, err);
	if (!a->unwinder) {
		free(a);
		return NULL;
	}
	if (cfg->container_id)
		snprintf(a->container_id, sizeof(a->container_id), "%s", cfg->container_id);
	a->cfg.container_id = NULL; /* the copy above is what is used */
	if (cfg->exe) {
		snprintf(a->exe, sizeof(a->exe), "%s", cfg->exe);
	} else {
		ssize_t n = readlink("/proc/self/exe", a->exe, sizeof(a->exe) - 1);
		a->exe[n > 0 ? n : 0] = '\0';
	}
	a->symbolizer = cfg->symbolizer;
	atomic_init(&a->maps_dirty, true);
	if (cfg->heap) {
		if (a->cfg.heap_rate <= 0)
			a->cfg.heap_rate = 512 * 1024;
		a->live = sp_heap_live_new(live_key_free);
		if (!a->live) {
			sp_unwinder_free(a->unwinder);
			free(a);
			sp_error_set(err, -ENOMEM, "aggregator: out of memory");
			return NULL;
		}
	}
	return a;
}

void sp_aggregator_free(sp_aggregator *a)
{
	if (!a)
		return;
	interval_reset(&a->iv);
	sp_heap_live_free(a->live);
	sp_unwinder_free(a->unwinder);
	if (a->symbolizer != a->cfg.symbolizer)
		sp_symbolizer_free(a->symbolizer);
	sp_perfmap_free(&a->perfmap);
	if (a->maps_valid)
		sp_procmaps_free(&a->maps);
	free(a);
}

/* Safe from any thread (e.g. a dlopen/dlclose hook). */
void sp_aggregator_modules_changed(sp_aggregator *a)
{
	sp_unwinder_invalidate(a->unwinder);
	atomic_store(&a->maps_dirty, true);
}

uint64_t sp_aggregator_truncated(const sp_aggregator *a)
{
	return a->truncated_total;
}

static uint64_t key_hash(const agg_entry *k, const uint64_t *pcs)
{
	uint64_t h = sp_hash_bytes(0x7370616e, pcs, k->n_pcs * sizeof(pcs[0]));

	h = sp_hash_add(h, ((uint64_t)k->thread << 32) | k->span_name);
	h = sp_hash_add(h, ((uint64_t)(uint32_t)k->tid << 16) | ((uint64_t)k->span_active << 8) |
			       k->truncated);
	if (k->span_active) {
		h = sp_hash_bytes(h, k->trace_id, sizeof(k->trace_id));
		h = sp_hash_bytes(h, k->span_id, sizeof(k->span_id));
	}
	return h;
}

/* Find or insert; overflow goes to the [stack table full] bucket. */
static void add_values(agg_interval *iv, agg_entry *key, const uint64_t *pcs, int64_t count,
		       int64_t weight, int64_t inuse_count, int64_t inuse_bytes)
{
	agg_entry *e;

	e = interval_get(iv, key_hash(key, pcs), key, pcs);
	if (!e) {
		iv->full_samples++;
		iv->full_count += count;
		iv->full_weight += weight;
		iv->full_inuse_count += inuse_count;
		iv->full_inuse_bytes += inuse_bytes;
		return;
	}
	e->count += count;
	e->weight += weight;
	e->inuse_count += inuse_count;
	e->inuse_bytes += inuse_bytes;
}

/* The unbiased estimate of what one sampled allocation of `bytes` stands
 * for: it was sampled with probability 1 - exp(-bytes/rate). */
static void heap_weights(int64_t rate, uint64_t bytes, int64_t *objects, int64_t *space)
{
	double b = bytes ? (double)bytes : 1.0;
	double scale = 1.0 / -expm1(-b / (double)rate);

	*objects = (int64_t)(scale + 0.5);
	*space = (int64_t)(b * scale + 0.5);
}

static void keep_live(sp_aggregator *a, const sp_raw_sample *s, const agg_entry *key,
		      const uint64_t *pcs, const char *thread_name, int64_t objects,
		      int64_t space)
{
	live_key *k = malloc(sizeof(*k) + key->n_pcs * sizeof(pcs[0]));

	if (!k)
		return;
	k->e = *key;
	memcpy(k->pcs, pcs, key->n_pcs * sizeof(pcs[0]));
	k->thread = thread_name && thread_name[0] ? strndup(thread_name, 256) : NULL;
	k->span_name = key->span_name ?
		strndup(s->span.name, strnlen(s->span.name, sizeof(s->span.name))) : NULL;
	sp_heap_live_alloc(a->live, s->addr, s->time_ns, objects, space, k);
}

int sp_aggregator_add(sp_aggregator *a, const sp_raw_sample *s, const char *thread_name)
{
	return sp_aggregator_add_frames(a, s, thread_name, NULL, 0);
}

int sp_aggregator_add_frames(sp_aggregator *a, const sp_raw_sample *s, const char *thread_name,
			     const uint64_t *kernel_pcs, size_t n_kernel)
{
	uint64_t pcs[SP_MAX_FRAMES];
	enum sp_unwind_status st = SP_UNWIND_COMPLETE;
	agg_interval *iv;
	agg_entry key;
	int64_t count, weight;
	size_t n = 0;

	if (!a || !s)
		return -EINVAL;
	iv = &a->iv;
	if (a->live && s->kind == SP_SAMPLE_FREE) {
		sp_heap_live_release(a->live, s->addr, s->time_ns);
		return 0;
	}
	if ((s->kind == SP_SAMPLE_ALLOC) != (a->live != NULL))
		return -EINVAL;
	/* Kernel frames first (leaf side); callers as call sites, like the
	 * user frames sp_unwind returns. Half the depth at most, so the user
	 * stack keeps room. */
	for (size_t i = 0; i < n_kernel && n < SP_MAX_FRAMES / 2; i++)
		if (sp_kernel_pc(kernel_pcs[i])) {
			pcs[n] = kernel_pcs[i] - (n ? 1 : 0);
			n++;
		}
	if (s->regs[SP_REG_RIP])
		n += sp_unwind(a->unwinder, s, pcs + n, SP_MAX_FRAMES - n, &st);
	else if (!n)
		st = SP_UNWIND_TRUNCATED;
	iv->samples++;
	iv->frames += n;
	if (st == SP_UNWIND_COMPLETE && n > 0) {
		iv->complete++;
	} else {
		iv->truncated++;
		a->truncated_total++;
		if (st == SP_UNWIND_MAX_DEPTH)
			iv->max_depth++;
	}

	memset(&key, 0, sizeof(key));
	key.n_pcs = (uint32_t)n;
	key.truncated = !(st == SP_UNWIND_COMPLETE && n > 0);
	key.tid = s->tid;
	if (thread_name && thread_name[0])
		key.thread = strings_intern(&iv->strings, thread_name,
					    strnlen(thread_name, 256));
	if (s->span.active) {
		key.span_active = 1;
		memcpy(key.trace_id, s->span.trace_id, sizeof(key.trace_id));
		memcpy(key.span_id, s->span.span_id, sizeof(key.span_id));
		size_t len = strnlen(s->span.name, sizeof(s->span.name));
		if (a->cfg.span_name_label && len)
			key.span_name = strings_intern(&iv->strings, s->span.name, len);
	}
	count = (int64_t)s->count;
	weight = (int64_t)s->weight;
	if (a->live) {
		heap_weights(a->cfg.heap_rate, s->weight, &count, &weight);
		if (!(s->flags & SP_ALLOC_UNTRACKED))
			keep_live(a, s, &key, pcs, thread_name, count, weight);
	}
	add_values(iv, &key, pcs, count, weight, 0, 0);
	return 0;
}

void sp_aggregator_pass(sp_aggregator *a)
{
	if (a && a->live)
		sp_heap_live_pass(a->live);
}

size_t sp_aggregator_live_blocks(const sp_aggregator *a)
{
	return a && a->live ? sp_heap_live_count(a->live) : 0;
}

uint64_t sp_aggregator_unmatched_frees(const sp_aggregator *a)
{
	return a && a->live ? sp_heap_live_unmatched(a->live) : 0;
}

/* At the cut: every live block's estimate into this interval's table. */
static void add_live(const sp_live_block *b, void *ctx)
{
	sp_aggregator *a = ctx;
	agg_interval *iv = &a->iv;
	const live_key *k = b->key;
	agg_entry key = k->e;

	key.thread = k->thread ? strings_intern(&iv->strings, k->thread, strlen(k->thread)) : 0;
	key.span_name = k->span_name ?
		strings_intern(&iv->strings, k->span_name, strlen(k->span_name)) : 0;
	add_values(iv, &key, k->pcs, 0, 0, b->objects, b->bytes);
}

/* The maps for this interval: cached until modules change, re-read once
 * when a pc falls outside every known mapping (a dlopen nobody reported). */
static void refresh_maps(sp_aggregator *a, bool force)
{
	sp_module_list l;
	sp_error err;

	if (!force && a->maps_valid && !atomic_load(&a->maps_dirty))
		return;
	atomic_store(&a->maps_dirty, false);
	if (a->cfg.source) {
		/* The source's model (it refreshes /proc/PID/maps itself). */
		uint64_t gen;
		const sp_module_list *src = a->cfg.source->modules(a->cfg.source_ctx, &gen);
		/* NULL: never read (the process went before its maps could
		 * be): locations keep their addresses only. */
		if (!src || sp_module_list_copy(src, &l) < 0)
			return;
	} else if (sp_procmaps_read(0, &l, &err) < 0) {
		return; /* keep the old list (or none): locations lose their mapping */
	}
	if (a->maps_valid)
		sp_procmaps_free(&a->maps);
	a->maps = l;
	a->maps_valid = true;
}

static bool maps_cover(const sp_aggregator *a)
{
	const agg_interval *iv = &a->iv;

	if (!a->maps_valid)
		return iv->n_pcs == 0;
	for (size_t i = 0; i < iv->n_pcs; i++)
		if (!sp_kernel_pc(iv->pcs[i]) && !sp_procmaps_find(&a->maps, iv->pcs[i]))
			return false;
	return true;
}

static uint64_t synthetic_location(sp_profile *p, const char *name)
{
	uint64_t fid = sp_profile_add_function(p, name, name, "", 0);
	if (!fid)
		return 0;
	sp_line line = { .function_id = fid };
	return sp_profile_add_location(p, 0, 0, &line, 1);
}

/* A kernel pc: no mapping (the symbolizer leaves it alone), named from
 * kallsyms now. One location per address, as for user pcs. */
static uint64_t kernel_location(sp_aggregator *a, sp_profile *p, uint64_t pc)
{
	const char *name = a->cfg.kallsyms ? sp_kallsyms_find(a->cfg.kallsyms, pc) : NULL;
	uint64_t fid = sp_profile_add_function(p, name ? name : "[kernel]",
					       name ? name : "[kernel]", "[kernel.kallsyms]", 0);
	if (!fid)
		return 0;
	sp_line line = { .function_id = fid };
	return sp_profile_add_location(p, 0, pc, &line, 1);
}

static int cmp_tid(const void *x, const void *y)
{
	int32_t a = *(const int32_t *)x, b = *(const int32_t *)y;

	return (a > b) - (a < b);
}

/* Distinct threads among this interval's samples (not those alive now). */
static uint64_t threads_sampled(const agg_interval *iv)
{
	int32_t *tids = malloc((iv->n ? iv->n : 1) * sizeof(*tids));
	uint64_t n = 0;

	if (!tids)
		return 0;
	for (size_t k = 0; k < iv->n; k++)
		tids[k] = iv->entries[k].tid;
	qsort(tids, iv->n, sizeof(*tids), cmp_tid);
	for (size_t k = 0; k < iv->n; k++)
		n += tids[k] > 0 && (k == 0 || tids[k] != tids[k - 1]);
	free(tids);
	return n;
}

static int add_comments(sp_aggregator *a, sp_profile *p, const sp_telemetry *t)
{
	const agg_interval *iv = &a->iv;
	char buf[512];
	uint64_t samples = t ? t->samples_taken : iv->samples;
	double pct = iv->samples ? 100.0 * (double)iv->truncated / (double)iv->samples : 0;

	snprintf(buf, sizeof(buf),
		 "spanprof: engine=%s samples=%" PRIu64 " lost=%" PRIu64
		 " truncated=%" PRIu64 " (%.2f%%) threads_sampled=%" PRIu64
		 " threads_alive=%" PRIu64,
		 t && t->engine ? t->engine : "unknown", samples,
		 t ? t->samples_lost : 0, iv->truncated, pct, threads_sampled(iv),
		 t ? t->threads : 0);
	if (sp_profile_add_comment(p, buf) < 0)
		return -ENOMEM;
	/* A user-only perf event leaves system time out of the totals: say so
	 * where the profile's reader looks. */
	if (t && t->engine && strstr(t->engine, "user time only") &&
	    sp_profile_add_comment(p, "spanprof: " SP_PERF_USER_ONLY_HINT) < 0)
		return -ENOMEM;
	if (t && t->note && t->note[0]) {
		snprintf(buf, sizeof(buf), "spanprof: %s", t->note);
		if (sp_profile_add_comment(p, buf) < 0)
			return -ENOMEM;
	}
	if (a->live) {
		snprintf(buf, sizeof(buf),
			 "spanprof: heap rate=%" PRId64 " live_blocks=%zu unmatched_frees=%" PRIu64,
			 a->cfg.heap_rate, sp_heap_live_count(a->live),
			 sp_heap_live_unmatched(a->live));
		if (sp_profile_add_comment(p, buf) < 0)
			return -ENOMEM;
	}
	snprintf(buf, sizeof(buf),
		 "spanprof: unwind aggregated=%" PRIu64 " complete=%" PRIu64
		 " cut_at_max_frames=%" PRIu64 " frames_avg=%.1f distinct_stacks=%zu"
		 " stack_table_full=%" PRIu64,
		 iv->samples, iv->complete, iv->max_depth,
		 iv->samples ? (double)iv->frames / (double)iv->samples : 0.0, iv->n,
		 iv->full_samples);
	return sp_profile_add_comment(p, buf) < 0 ? -ENOMEM : 0;
}

/* One Mapping per executable segment; the main executable's first (pprof
 * names the profile after mapping[0]). ids[i] belongs to maps.mods[i]. */
static int add_mappings(sp_aggregator *a, sp_profile *p, uint64_t *ids)
{
	if (!a->maps_valid)
		return 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < a->maps.n; i++) {
			const sp_module *m = &a->maps.mods[i];
			bool main_exe = a->exe[0] && m->path && strcmp(m->path, a->exe) == 0;
			if (main_exe != (pass == 0))
				continue;
			ids[i] = sp_profile_add_mapping(p, m->start, m->end, m->offset, m->path,
							m->build_id);
			if (!ids[i])
				return -ENOMEM;
		}
	}
	return 0;
}

static int add_samples(sp_aggregator *a, sp_profile *p, const uint64_t *map_ids)
{
	agg_interval *iv = &a->iv;
	uint64_t locs[SP_MAX_FRAMES + 1];
	uint64_t trunc_loc = 0;
	int64_t values[4];
	sp_label labels[8];

	bool perfmap_read = false;

	for (size_t k = 0; k < iv->n; k++) {
		const agg_entry *e = &iv->entries[k];
		const uint64_t *pcs = iv->pcs + e->pc_off;
		size_t nl = 0, nlab = 0;

		if (!e->count && !e->weight && !e->inuse_count && !e->inuse_bytes)
			continue;

		for (size_t i = 0; i < e->n_pcs; i++) {
			if (sp_kernel_pc(pcs[i])) {
				if (!(locs[nl++] = kernel_location(a, p, pcs[i])))
					return -ENOMEM;
				continue;
			}
			const sp_module *m = a->maps_valid ? sp_procmaps_find(&a->maps, pcs[i]) : NULL;
			uint64_t mid = m ? map_ids[m - a->maps.mods] : 0;
			const char *jit = NULL;
			sp_line line = { 0 };

			/* No file behind it (unmapped, or an anonymous
			 * executable mapping): JIT code, named by the runtime's
			 * perf map if it writes one (read once per interval). */
			if ((!m || (!m->vdso && (!m->path || m->path[0] != '/'))) &&
			    a->cfg.symbolize) {
				if (!perfmap_read)
					sp_perfmap_refresh(&a->perfmap, a->cfg.pid ? a->cfg.pid : getpid());
				perfmap_read = true;
				jit = sp_perfmap_find(&a->perfmap, pcs[i]);
				if (jit && !(line.function_id = sp_profile_add_function(p, jit, jit,
											  "", 0)))
					return -ENOMEM;
			}
			locs[nl] = sp_profile_add_location(p, mid, pcs[i], jit ? &line : NULL,
							   jit ? 1 : 0);
			if (!locs[nl++])
				return -ENOMEM;
		}
		if (e->truncated) {
			if (!trunc_loc && !(trunc_loc = synthetic_location(p, TRUNCATED_FRAME)))
				return -ENOMEM;
			locs[nl++] = trunc_loc;
		}
		const char *tn = strings_get(&iv->strings, e->thread);
		if (tn)
			labels[nlab++] = sp_profile_str_label(p, "thread_name", tn);
		/* by id too, as perf and async-profiler show threads: names repeat */
		if (e->tid > 0)
			labels[nlab++] = sp_profile_num_label(p, "thread_id", e->tid, NULL);
		if (a->cfg.pid_label && a->cfg.pid > 0)
			labels[nlab++] = sp_profile_num_label(p, "pid", a->cfg.pid, NULL);
		if (a->container_id[0])
			labels[nlab++] = sp_profile_str_label(p, "container_id", a->container_id);
		if (e->span_active) {
			sp_span_snapshot snap;
			char trace[33], span[17];
			memcpy(snap.trace_id, e->trace_id, sizeof(snap.trace_id));
			memcpy(snap.span_id, e->span_id, sizeof(snap.span_id));
			sp_span_trace_hex(&snap, trace);
			sp_span_id_hex(&snap, span);
			labels[nlab++] = sp_profile_str_label(p, "span_id", span);
			labels[nlab++] = sp_profile_str_label(p, "trace_id", trace);
			const char *sn = strings_get(&iv->strings, e->span_name);
			if (sn)
				labels[nlab++] = sp_profile_str_label(p, "span_name", sn);
		}
		for (size_t i = 0; i < nlab; i++)
			if (labels[i].key < 0 || labels[i].str < 0)
				return -ENOMEM;
		values[0] = e->count;
		values[1] = e->weight;
		values[2] = e->inuse_count;
		values[3] = e->inuse_bytes;
		int rc = sp_profile_add_sample(p, locs, nl, values, labels, nlab);
		if (rc < 0)
			return rc;
	}
	if (iv->full_samples) {
		uint64_t loc = synthetic_location(p, TABLE_FULL_FRAME);
		if (!loc)
			return -ENOMEM;
		values[0] = iv->full_count;
		values[1] = iv->full_weight;
		values[2] = iv->full_inuse_count;
		values[3] = iv->full_inuse_bytes;
		int rc = sp_profile_add_sample(p, &loc, 1, values, NULL, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void symbolize(sp_aggregator *a, sp_profile *p)
{
	sp_symbolize_stats stats;
	sp_error err = { { 0 } };
	char buf[600];

	if (!a->symbolizer)
		a->symbolizer = sp_symbolizer_new(NULL, &err);
	if (!a->symbolizer || sp_symbolize_profile(a->symbolizer, p, a->cfg.pid, &stats, &err) < 0) {
		/* The addresses, mappings and build-ids are still there: a
		 * backend or `go tool pprof` can symbolize later. */
		snprintf(buf, sizeof(buf), "spanprof: not symbolized: %s", err.msg);
		sp_profile_add_comment(p, buf);
	}
}

/* Go code has no .eh_frame, so its chains never end in an "undefined
 * return address" rule: libunwind stops at the goroutine's or thread's
 * first frame with an error. Those first frames are where Go's own
 * traceback ends, so a stack that reaches one is complete. */
static bool is_go_stack_root(const char *fn)
{
	static const char *const roots[] = { "runtime.goexit", "runtime.mstart", "runtime.main",
					     "runtime.mcall", "runtime.rt0_go" };

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		size_t n = strlen(roots[i]);
		if (!strncmp(fn, roots[i], n) && (!fn[n] || !strcmp(fn + n, ".abi0")))
			return true;
	}
	return false;
}

/* Returns how many raw samples became complete (the first value of a CPU
 * profile counts them), for the telemetry. */
static uint64_t complete_go_stacks(sp_profile *p)
{
	uint64_t completed = 0;

	for (size_t i = 0; i < p->n_samples; i++) {
		sp_sample *s = &p->samples[i];
		if (s->n_locations < 2)
			continue;
		const sp_location *last = sp_profile_location(p, s->location_ids[s->n_locations - 1]);
		const sp_location *root = sp_profile_location(p, s->location_ids[s->n_locations - 2]);
		if (!last || !root || !last->n_lines || !root->n_lines)
			continue;
		const sp_function *lf = sp_profile_function(p, last->lines[last->n_lines - 1].function_id);
		const sp_function *rf = sp_profile_function(p, root->lines[root->n_lines - 1].function_id);
		if (lf && rf && !strcmp(sp_profile_str(p, lf->name), TRUNCATED_FRAME) &&
		    is_go_stack_root(sp_profile_str(p, rf->name))) {
			s->n_locations--;
			if (p->n_sample_types && s->values[0] > 0)
				completed += (uint64_t)s->values[0];
		}
	}
	return completed;
}

sp_profile *sp_aggregator_take_profile(sp_aggregator *a, int64_t start_wall_ns,
				       int64_t duration_ns, const sp_telemetry *t,
				       sp_error *err)
{
	uint64_t *map_ids = NULL;
	sp_profile *p = sp_profile_new();
	int rc = -ENOMEM;

	if (!p)
		goto out;
	rc = a->live ? sp_profile_init_heap(p, a->cfg.heap_rate) :
		       sp_profile_init_cpu(p, a->cfg.period_ns);
	if (rc < 0)
		goto out;
	if (a->live)
		sp_heap_live_each(a->live, add_live, a);
	p->time_nanos = start_wall_ns;
	p->duration_nanos = duration_ns;

	refresh_maps(a, false);
	if (!maps_cover(a))
		refresh_maps(a, true);
	rc = -ENOMEM;
	if (a->maps_valid && a->maps.n &&
	    !(map_ids = calloc(a->maps.n, sizeof(*map_ids))))
		goto out;
	if ((rc = add_mappings(a, p, map_ids)) < 0)
		goto out;
	if ((rc = add_samples(a, p, map_ids)) < 0)
		goto out;
	if (a->cfg.symbolize) {
		symbolize(a, p);
		/* Before the telemetry: a Go stack that reaches its root is
		 * complete, not truncated. */
		uint64_t done = complete_go_stacks(p);

		if (!a->cfg.heap) { /* a memory profile's values are estimates */
			done = done < a->iv.truncated ? done : a->iv.truncated;
			a->iv.truncated -= done;
			a->iv.complete += done;
			a->truncated_total -= done < a->truncated_total ? done : a->truncated_total;
		}
	}
	if ((rc = add_comments(a, p, t)) < 0)
		goto out;
	rc = 0;
out:
	free(map_ids);
	/* Reset even on failure: memory stays bounded, the next interval
	 * starts clean. */
	interval_reset(&a->iv);
	if (rc < 0) {
		sp_profile_free(p);
		sp_error_set(err, rc, "aggregator: cannot build the interval profile: %s",
			     rc == -ENOMEM ? "out of memory" : strerror(-rc));
		return NULL;
	}
	return p;
}
