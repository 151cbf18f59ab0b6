/* The symbolizer object: module table, result cache, string interning.
 * Modules are keyed by build-id (else path); results by (module, file
 * offset), so each distinct address is resolved once. Not thread-safe. */
#include "symbolizer/symbolizer.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolizer/sym_internal.h"

#define DEFAULT_DEBUGINFO_PATH ":.debug:/usr/lib/debug"
#define MAX_FRAMES 64
#define OFFSET_BITS 44 /* result key: module slot above, file offset below */

struct mod_slot {
	const char *key;  /* "b:<build-id>" or "p:<path>" once open */
	uint32_t idx;
	int status;       /* 0 or the -errno of the failed open */
	sp_sym_module m;
};

struct sp_symbolizer {
	char *debuginfo_path;
	char *debug_cache;    /* NULL: none */
	bool demangle;
	sp_arena arena;       /* interned strings, results, keys */
	sp_hashmap strings;   /* interned strings (the keys) */
	sp_hashmap demangled; /* linkage name -> interned demangled name */
	sp_hashmap modules;   /* "b:<id>" / "p:<path>" / "f:<id>:<path>" -> slot */
	struct mod_slot **slots;
	size_t n_slots;
	sp_hashmap results;   /* module slot + offset -> sp_sym_result */
	sp_hashmap files;     /* libdw file name pointer -> interned full path */
	const char *last_key; /* module fast path: the last lookup's key... */
	struct mod_slot *last_slot; /* ...and its module */
	sp_sym_result empty;  /* shared "nothing known" result */
	sp_symbolize_stats stats;
};

sp_symbolizer *sp_symbolizer_new(const sp_symbolizer_options *opt, sp_error *err)
{
	sp_symbolizer *s = calloc(1, sizeof(*s));
	const char *extra = opt ? opt->debuginfo_path : NULL;

	if (!s)
		goto oom;
	s->demangle = opt ? opt->demangle : true;
	/* Extra roots come first, the standard places still apply. */
	if (extra && extra[0]) {
		if (asprintf(&s->debuginfo_path, "%s:%s", extra, DEFAULT_DEBUGINFO_PATH) < 0)
			s->debuginfo_path = NULL;
	} else {
		s->debuginfo_path = strdup(DEFAULT_DEBUGINFO_PATH);
	}
	if (!s->debuginfo_path)
		goto oom;
	{
		char buf[PATH_MAX];
		const char *dir = opt && opt->debug_cache ? opt->debug_cache
							  : sp_debug_cache_default_dir(buf, sizeof(buf));

		if (dir && dir[0] && strcmp(dir, "off"))
			s->debug_cache = strdup(dir); /* NULL (no memory): no cache */
	}
	return s;
oom:
	free(s);
	sp_error_set(err, -ENOMEM, "symbolizer: out of memory");
	return NULL;
}

void sp_symbolizer_free(sp_symbolizer *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n_slots; i++) {
		sp_sym_module_close(&s->slots[i]->m);
		free(s->slots[i]);
	}
	free(s->slots);
	sp_hashmap_free(&s->results);
	sp_hashmap_free(&s->files);
	sp_hashmap_free(&s->modules);
	sp_hashmap_free(&s->demangled);
	sp_hashmap_free(&s->strings);
	sp_arena_free(&s->arena);
	free(s->debuginfo_path);
	free(s->debug_cache);
	free(s);
}

/* The value of a find, NULL when there is no entry. */
static void *val_of(const sp_hashmap_ent *e)
{
	return e ? e->val.ptr : NULL;
}

static const char *intern(sp_symbolizer *s, const char *str)
{
	sp_hashmap_ent *e;
	bool added;

	if (!str)
		return NULL;
	e = sp_hashmap_insert_str(&s->strings, str, &added);
	if (!e)
		return NULL;
	if (added) {
		/* The entry borrowed the caller's string: key it by a copy. */
		char *v = sp_arena_strdup(&s->arena, str);

		if (!v) {
			sp_hashmap_remove(&s->strings, e);
			return NULL;
		}
		e->key = (uint64_t)(uintptr_t)v;
	}
	return (const char *)(uintptr_t)e->key;
}

static char *key_of(sp_symbolizer *s, const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *k = sp_arena_alloc(&s->arena, n);

	if (k)
		snprintf(k, n, "%s%s%s", a, b, c);
	return k;
}

/* The module for a file, opened on first use. A failed open is remembered
 * per (build-id, path), so another path for the same build-id (say,
 * /proc/PID/map_files/...) still gets its chance. */
static int get_module(sp_symbolizer *s, const char *key_path, const char *open_path,
		      const char *build_id, struct mod_slot **out)
{
	const char *want = build_id && build_id[0] ? build_id : key_path;
	char tmp[4096];
	struct mod_slot *slot, **slots;
	char *key, *fkey;
	sp_hashmap_ent *e;

	/* Consecutive lookups are mostly in the same module. */
	if (s->last_key && !strcmp(s->last_key + 2, want) &&
	    s->last_key[0] == (want == build_id ? 'b' : 'p')) {
		*out = s->last_slot;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s:%s", want == build_id ? "b" : "p", want);
	slot = val_of(sp_hashmap_find_str(&s->modules, tmp));
	if (slot) {
		s->last_key = slot->key;
		s->last_slot = slot;
		*out = slot;
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "f:%s:%s", build_id ? build_id : "", open_path);
	slot = val_of(sp_hashmap_find_str(&s->modules, tmp));
	if (slot)
		return slot->status;

	slots = realloc(s->slots, (s->n_slots + 1) * sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	s->slots = slots;
	slot = calloc(1, sizeof(*slot));
	if (!slot)
		return -ENOMEM;
	slot->idx = (uint32_t)s->n_slots;
	s->slots[s->n_slots++] = slot;

	slot->status = sp_sym_module_open(&slot->m, open_path, build_id, s->debuginfo_path);
	slot->m.debug_cache = s->debug_cache;
	if (build_id && build_id[0])
		key = key_of(s, "b:", build_id, "");
	else
		key = key_of(s, "p:", key_path, "");
	fkey = key_of(s, "f:", build_id ? build_id : "", "");
	fkey = fkey ? key_of(s, fkey, ":", open_path) : NULL;
	if (!key || !fkey)
		return -ENOMEM;
	e = sp_hashmap_insert_str(&s->modules, slot->status ? fkey : key, NULL);
	if (!e)
		return -ENOMEM;
	e->val.ptr = slot;
	if (slot->status) {
		s->stats.modules_missing++;
		return slot->status;
	}
	slot->key = key;
	s->last_key = key;
	s->last_slot = slot;
	*out = slot;
	return 0;
}

/* Function names: `system_name` as linked (the linkage name, else the plain
 * name); `function` the demangled C++ name, else the plain DWARF name (a C
 * asm label such as __GI___qsort_r reads worse than __qsort_r). */
static void set_names(sp_symbolizer *s, sp_sym_frame *f, const char *linkage,
		      const char *name)
{
	const char *d = NULL;
	sp_hashmap_ent *e;

	f->system_name = intern(s, linkage ? linkage : name);
	f->function = name ? intern(s, name) : f->system_name;
	if (!linkage || strncmp(linkage, "_Z", 2))
		return;
	if (!s->demangle) {
		f->function = f->system_name; /* keep C++ names mangled */
		return;
	}
	d = val_of(sp_hashmap_find_str(&s->demangled, linkage));
	if (!d) {
		char *tmp = sp_sym_demangle(linkage);

		d = tmp ? intern(s, tmp) : f->system_name;
		free(tmp);
		if (d && f->system_name &&
		    (e = sp_hashmap_insert_str(&s->demangled, f->system_name, NULL)))
			e->val.ptr = (void *)d;
	}
	if (d)
		f->function = d;
}

/* A relative DWARF file name joined to its CU's absolute comp_dir, interned.
 * libdw's file name strings are stable and belong to one CU (one comp_dir),
 * so the result is cached by their address. */
static const char *file_name(sp_symbolizer *s, const char *file, const char *comp_dir)
{
	const char *orig = file, *out;
	sp_hashmap_ent *e;
	char buf[4096];
	int r;

	if (!file)
		return NULL;
	out = val_of(sp_hashmap_find_u64(&s->files, (uint64_t)(uintptr_t)file));
	if (out)
		return out;
	if (file[0] == '/' || !comp_dir || comp_dir[0] != '/') {
		out = intern(s, file);
	} else {
		while (file[0] == '.' && file[1] == '/')
			file += 2;
		r = snprintf(buf, sizeof(buf), "%s/%s", comp_dir, file);
		out = intern(s, r > 0 && (size_t)r < sizeof(buf) ? buf : file);
	}
	if (out && (e = sp_hashmap_insert_u64(&s->files, (uint64_t)(uintptr_t)orig, NULL)))
		e->val.ptr = (void *)out;
	return out;
}

static int resolve(sp_symbolizer *s, sp_sym_module *m, uint64_t offset, sp_sym_result *res)
{
	struct sp_raw_frame raw[MAX_FRAMES];
	const struct sp_sym_entry *sym;
	sp_sym_frame *frames;
	uint64_t addr;
	size_t n;

	*res = (sp_sym_result){ 0 };
	if (!sp_sym_module_vaddr(m, offset, &addr))
		return 0;
	n = sp_sym_dwarf_frames(m, addr, raw, MAX_FRAMES);
	if (n == 0 || (!raw[n - 1].linkage && !raw[n - 1].name &&
		       !(raw[n - 1].names && raw[n - 1].names->set))) {
		/* No DWARF for this address, or lines without a DIE (assembly):
		 * name the physical function from the symbol table. */
		sym = sp_sym_module_symbol(m, addr);
		if (n == 0 && sym) {
			raw[0] = (struct sp_raw_frame){ .linkage = sym->name };
			n = 1;
			res->from_dynsym = true;
		} else if (n > 0 && sym) {
			raw[n - 1].linkage = sym->name;
		}
	}
	if (n == 0)
		return 0;
	frames = sp_arena_alloc(&s->arena, n * sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct sp_name_cache *nc = raw[i].names;

		frames[i] = (sp_sym_frame){ .file = file_name(s, raw[i].file, raw[i].comp_dir),
					    .line = raw[i].line, .column = raw[i].column };
		if (nc && nc->set) {
			frames[i].function = nc->function;
			frames[i].system_name = nc->system_name;
			continue;
		}
		set_names(s, &frames[i], raw[i].linkage, raw[i].name);
		if (nc && (raw[i].linkage || raw[i].name)) {
			*nc = (struct sp_name_cache){ true, frames[i].function,
						      frames[i].system_name };
		}
	}
	res->frames = frames;
	res->n_frames = n;
	return 0;
}

/* Like sp_symbolizer_lookup, but read the module from `open_path` (e.g.
 * /proc/PID/map_files/...) while keying it by `path`. */
int sp_symbolizer_lookup_at(sp_symbolizer *s, const char *path, const char *open_path,
			    const char *build_id, uint64_t file_offset, sp_sym_result *out)
{
	struct mod_slot *slot = NULL;
	sp_sym_result *cached;
	uint64_t key = 0;
	int ret;

	*out = (sp_sym_result){ 0 };
	if (!path || !path[0])
		return -ENOENT;
	ret = get_module(s, path, open_path ? open_path : path, build_id, &slot);
	if (ret)
		return ret;
	if (file_offset < (1ull << OFFSET_BITS)) {
		key = ((uint64_t)(slot->idx + 1) << OFFSET_BITS) | file_offset;
		cached = val_of(sp_hashmap_find_u64(&s->results, key));
		if (cached) {
			s->stats.cache_hits++;
			*out = *cached;
			return 0;
		}
	}
	s->stats.addresses++;
	ret = resolve(s, &slot->m, file_offset, out);
	if (ret)
		return ret;
	if (out->n_frames) {
		s->stats.resolved++;
		if (out->frames[0].file)
			s->stats.with_lines++;
	}
	if (key) {
		cached = sp_arena_alloc(&s->arena, sizeof(*cached));
		sp_hashmap_ent *e = cached ? sp_hashmap_insert_u64(&s->results, key, NULL) : NULL;

		if (e) {
			*cached = *out;
			e->val.ptr = cached;
		}
	}
	return 0;
}

int sp_symbolizer_lookup(sp_symbolizer *s, const char *path, const char *build_id,
			 uint64_t file_offset, sp_sym_result *out)
{
	return sp_symbolizer_lookup_at(s, path, NULL, build_id, file_offset, out);
}

/* Running totals since sp_symbolizer_new. */
void sp_symbolizer_stats(const sp_symbolizer *s, sp_symbolize_stats *out)
{
	*out = s->stats;
}
