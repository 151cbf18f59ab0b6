/* Stack walking over a copied stack with libunwind's REMOTE API, for any
 * process (perf's recipe, tools/perf/util/unwind-libunwind-local.c).
 *
 * Registers come from the sample, stack words from its copy (which starts
 * at RSP - 128 so red-zone reads of leaf epilogues succeed), and everything
 * else (unwind tables, FDEs, code bytes) from the module FILES of the
 * process's executable mappings (unwind_modules.c), never from the process:
 * it may be another one, or gone. find_proc_info searches the mapping's
 * .eh_frame_hdr table, whose reads go through access_mem to the file too.
 * One address space per process with a large global cache: once warm,
 * libunwind skips find_proc_info entirely.
 *
 * libunwind is dlopen'ed RTLD_LOCAL, not linked: libunwind-x86_64.so.8
 * needs libunwind.so.8, whose 36 _Unwind_* symbols must not enter the global
 * scope of a host we are preloaded into (C++ exceptions could bind to them),
 * and Debian's static libunwind archives are not PIC, so they cannot go into
 * libspanprof.so either. This translation unit must not define
 * UNW_LOCAL_ONLY: the types are the _Ux86_64_ (remote) family. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libunwind.h>

#include "unwind/unwind.h"
#include "unwind/unwind_modules.h"
#include "unwind/unwind_sigmask.h"

#define SP_LIBUNWIND_SONAME "libunwind-x86_64.so.8"

/* Register-state records cached by IP (rounded to a power of two by
 * libunwind, max 2^15). Enough for the hot code of a large service. */
#define SP_UNW_CACHE_SIZE 8192

/* The few remote-API entry points we use, resolved once. */
static struct {
	unw_addr_space_t (*create_addr_space)(unw_accessors_t *, int);
	void (*destroy_addr_space)(unw_addr_space_t);
	int (*set_caching_policy)(unw_addr_space_t, unw_caching_policy_t);
	int (*set_cache_size)(unw_addr_space_t, size_t, int);
	void (*flush_cache)(unw_addr_space_t, unw_word_t, unw_word_t);
	int (*init_remote)(unw_cursor_t *, unw_addr_space_t, void *);
	int (*step)(unw_cursor_t *);
	int (*get_reg)(unw_cursor_t *, unw_regnum_t, unw_word_t *);
	int (*is_signal_frame)(unw_cursor_t *);
	/* Not in any public header (perf declares it the same way). */
	int (*search_unwind_table)(unw_addr_space_t, unw_word_t, unw_dyn_info_t *,
				   unw_proc_info_t *, int, void *);
} lu;
static pthread_once_t lu_once = PTHREAD_ONCE_INIT;
static char lu_error[256];
static int lu_quiet_slots; /* PLT slots redirected by unwind_sigmask.c */

static void lu_load(void)
{
	static const struct { const char *name; size_t off; } syms[] = {
#define SYM(f, n) { "_Ux86_64_" n, __builtin_offsetof(__typeof__(lu), f) }
		SYM(create_addr_space, "create_addr_space"),
		SYM(destroy_addr_space, "destroy_addr_space"),
		SYM(set_caching_policy, "set_caching_policy"),
		SYM(set_cache_size, "set_cache_size"),
		SYM(flush_cache, "flush_cache"),
		SYM(init_remote, "init_remote"),
		SYM(step, "step"),
		SYM(get_reg, "get_reg"),
		SYM(is_signal_frame, "is_signal_frame"),
		SYM(search_unwind_table, "dwarf_search_unwind_table"),
#undef SYM
	};
	void *h = dlopen(SP_LIBUNWIND_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		const char *e = dlerror();
		snprintf(lu_error, sizeof(lu_error), "%s (install the libunwind8 package)",
			 e ? e : SP_LIBUNWIND_SONAME);
		return;
	}
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		void *f = dlsym(h, syms[i].name);
		if (!f) {
			snprintf(lu_error, sizeof(lu_error), "%s: symbol %s not found",
				 SP_LIBUNWIND_SONAME, syms[i].name);
			memset(&lu, 0, sizeof(lu));
			return; /* the handle stays open: harmless, once per process */
		}
		memcpy((char *)&lu + syms[i].off, &f, sizeof(f));
	}
	/* SPANPROF_UNWIND_BLOCK_SIGNALS=1 keeps libunwind's per-frame signal
	 * blocking (two syscalls per frame; see unwind_sigmask.c). */
	const char *keep = getenv("SPANPROF_UNWIND_BLOCK_SIGNALS");
	if (!keep || !*keep || !strcmp(keep, "0"))
		lu_quiet_slots = sp_unwind_sigmask_patch(h);
}

struct sp_unwinder {
	unw_addr_space_t as;
	const sp_unwind_source_ops *ops;
	void *ctx;
	sp_unwind_procfs *owned;   /* the source, when sp_unwinder_new_procfs made it */
	sp_umods mods;
	atomic_uint_fast64_t gen;  /* bumped by sp_unwinder_invalidate */
	uint64_t built_gen;        /* gen the module table was built for */
	uint64_t built_src_gen;    /* the source's list generation, likewise */
	bool built;
	/* per-walk state, read by the accessors through `arg` */
	const sp_raw_sample *cur;
	uint64_t regs[SP_REG_COUNT]; /* the sample's, or a frame-pointer step's */
	bool step_noinfo;          /* find_proc_info found no unwind info */
};

static int acc_find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			      int need_unwind_info, void *arg)
{
	struct sp_unwinder *u = arg;
	const sp_umod *m = sp_umods_find_text(&u->mods, ip);

	/* No table (Go binaries have no .eh_frame_hdr): libunwind then
	 * guesses (rbp chain), and the walk is not trusted to be complete.
	 * Mappings without a usable file never get here (sp_unwind stops). */
	if (!m || !m->file || m->alias || !m->file->table) {
		u->step_noinfo = true;
		return -UNW_ENOINFO;
	}
	const sp_ufile *f = m->file;
	unw_dyn_info_t di;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	di.start_ip = f->text_lo + m->bias;
	di.end_ip = f->text_hi + m->bias;
	di.u.rti.segbase = f->eh_hdr + m->bias;
	di.u.rti.table_data = f->table + m->bias;
	di.u.rti.table_len = f->fde_count * 8 / sizeof(unw_word_t);
	int r = lu.search_unwind_table(as, ip, &di, pi, need_unwind_info, arg);
	if (r == -UNW_ENOINFO)
		u->step_noinfo = true;
	return r;
}

/* dwarf_search_unwind_table hands out UNW_INFO_FORMAT_TABLE records that
 * libunwind frees itself. */
static void acc_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
}

static int acc_get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	return -UNW_ENOINFO;
}

static int acc_access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val,
			  int write, void *arg)
{
	struct sp_unwinder *u = arg;
	const sp_raw_sample *s = u->cur;

	if (write)
		return -UNW_EINVAL;
	if (s->stack && s->stack_len >= sizeof(*val) && addr >= s->stack_base &&
	    addr - s->stack_base <= s->stack_len - sizeof(*val)) {
		memcpy(val, s->stack + (addr - s->stack_base), sizeof(*val));
		return 0;
	}
	/* Not in the copy: only module files may be read. Live stack words
	 * past the copy are stale by now and must not be used. */
	uint64_t v;
	if (sp_umods_read(&u->mods, addr, &v) < 0)
		return -UNW_EINVAL;
	*val = v;
	return 0;
}

static int acc_access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val,
			  int write, void *arg)
{
	struct sp_unwinder *u = arg;

	if (write)
		return -UNW_EREADONLYREG;
	if (reg < 0 || reg >= SP_REG_COUNT)
		return -UNW_EBADREG;
	*val = u->regs[reg];
	return 0;
}

static int acc_access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val,
			    int write, void *arg)
{
	return -UNW_EBADREG;
}

static int acc_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int acc_get_proc_name(unw_addr_space_t as, unw_word_t addr, char *buf,
			     size_t len, unw_word_t *offp, void *arg)
{
	return -UNW_ENOINFO; /* symbolization is the symbolizer's job */
}

static unw_accessors_t accessors = {
	.find_proc_info = acc_find_proc_info,
	.put_unwind_info = acc_put_unwind_info,
	.get_dyn_info_list_addr = acc_get_dyn_info_list_addr,
	.access_mem = acc_access_mem,
	.access_reg = acc_access_reg,
	.access_fpreg = acc_access_fpreg,
	.resume = acc_resume,
	.get_proc_name = acc_get_proc_name,
};

sp_unwinder *sp_unwinder_new(const sp_unwind_source_ops *ops, void *ctx, sp_error *err)
{
	sp_unwinder *u;

	if (!ops || !ops->modules) {
		sp_error_set(err, -EINVAL, "unwinder: no module source");
		return NULL;
	}
	pthread_once(&lu_once, lu_load);
	if (!lu.step) {
		sp_error_set(err, -ENOENT, "unwinder: cannot load libunwind: %s", lu_error);
		return NULL;
	}
	u = calloc(1, sizeof(*u));
	if (!u) {
		sp_error_set(err, -ENOMEM, "unwinder: out of memory");
		return NULL;
	}
	u->ops = ops;
	u->ctx = ctx;
	u->as = lu.create_addr_space(&accessors, 0);
	if (!u->as) {
		sp_error_set(err, -ENOMEM, "unwinder: libunwind could not create an address space");
		goto fail;
	}
	lu.set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	lu.set_cache_size(u->as, SP_UNW_CACHE_SIZE, 0);
	atomic_init(&u->gen, 0);
	return u;
fail:
	free(u);
	return NULL;
}

sp_unwinder *sp_unwinder_new_procfs(int pid, sp_error *err)
{
	sp_unwind_procfs *p = sp_unwind_procfs_new(pid, err);
	sp_unwinder *u;

	if (!p)
		return NULL;
	u = sp_unwinder_new(&sp_unwind_procfs_ops, p, err);
	if (!u) {
		sp_unwind_procfs_free(p);
		return NULL;
	}
	u->owned = p;
	return u;
}

void sp_unwinder_free(sp_unwinder *u)
{
	if (!u)
		return;
	if (u->as)
		lu.destroy_addr_space(u->as);
	sp_umods_free(&u->mods);
	sp_unwind_procfs_free(u->owned);
	free(u);
}

/* Safe from any thread (e.g. a dlclose hook): the worker rebuilds lazily at
 * its next sp_unwind. Sources also report changes by themselves (the list
 * generation); this stays for changes they cannot see. */
void sp_unwinder_invalidate(sp_unwinder *u)
{
	if (!u)
		return;
	if (u->ops->invalidate)
		u->ops->invalidate(u->ctx);
	atomic_fetch_add(&u->gen, 1);
}

static void refresh(sp_unwinder *u)
{
	uint64_t g = atomic_load(&u->gen), src_gen = 0;
	const sp_module_list *list = u->ops->modules(u->ctx, &src_gen);

	if (u->built && g == u->built_gen && src_gen == u->built_src_gen)
		return;
	/* Flush before the table changes: cached states of an unmapped module
	 * must not be applied to whatever is mapped there next. */
	lu.flush_cache(u->as, 0, 0);
	static const sp_module_list none;
	sp_umods_build(&u->mods, list ? list : &none); /* ENOMEM: empty, walks truncate */
	u->built_gen = g;
	u->built_src_gen = src_gen;
	u->built = true;
}

/* Whether ip is in executable memory that no module covers (JIT code),
 * as opposed to unmapped memory (a dlclosed module, a garbage address):
 * only the former is worth a frame-pointer step. */
static bool in_jit_code(sp_unwinder *u, uint64_t ip)
{
	return u->ops->in_anon_exec && u->ops->in_anon_exec(u->ctx, ip);
}

/* One aligned word of the stack copy. */
static bool stack_word(const sp_raw_sample *s, uint64_t addr, uint64_t *val)
{
	if (!s->stack || (addr & 7) || addr < s->stack_base || s->stack_len < 8 ||
	    addr - s->stack_base > s->stack_len - 8)
		return false;
	memcpy(val, s->stack + (addr - s->stack_base), sizeof(*val));
	return true;
}

size_t sp_unwind(sp_unwinder *u, const sp_raw_sample *s, uint64_t *pcs, size_t max,
		 enum sp_unwind_status *status)
{
	unw_cursor_t c;
	size_t n = 0;
	uint64_t sp;
	const sp_umod *mod; /* the mapping the current frame's ip is in */

	*status = SP_UNWIND_TRUNCATED;
	if (max > SP_MAX_FRAMES)
		max = SP_MAX_FRAMES;
	if (!max || !s->regs[SP_REG_RIP])
		return 0;
	refresh(u);
	pcs[n++] = s->regs[SP_REG_RIP];
	sp = s->regs[SP_REG_RSP];
	u->cur = s;
	memcpy(u->regs, s->regs, sizeof(u->regs));
	sp_unwind_quiet = lu_quiet_slots > 0;
	if (lu.init_remote(&c, u->as, u) < 0)
		goto out;
	mod = sp_umods_find_text(&u->mods, pcs[0]);
	for (;;) {
		unw_word_t ip = 0, nsp = 0, fp = 0;
		uint64_t next_fp, ret;

		if (n >= max) {
			*status = SP_UNWIND_MAX_DEPTH;
			break;
		}
		if (!mod || mod->alias) {
			/* Code no module covers (JIT: node, the JVM, LuaJIT;
			 * a runtime's copy of its own code) has no unwind info,
			 * but JITs keep frame pointers: follow one rbp link,
			 * within the copy only, then let libunwind continue
			 * from the caller. */
			if (lu.get_reg(&c, UNW_REG_IP, &ip) < 0 || (!mod && !in_jit_code(u, ip)) ||
			    lu.get_reg(&c, UNW_X86_64_RBP, &fp) < 0 || fp < sp ||
			    !stack_word(s, fp, &next_fp) || !stack_word(s, fp + 8, &ret) || !ret)
				break;
			pcs[n++] = ret - 1;
			sp = fp + 16;
			u->regs[SP_REG_RIP] = ret;
			u->regs[SP_REG_RSP] = sp;
			u->regs[SP_REG_RBP] = next_fp;
			if (lu.init_remote(&c, u->as, u) < 0)
				break;
			mod = sp_umods_find_text(&u->mods, ret);
			continue;
		}
		/* A mapped file we could not use (missing, replaced): its code
		 * has no unwind info we trust, and guessing through it would
		 * put made-up frames on the stack. */
		if (!mod->file)
			break;
		u->step_noinfo = false;
		int r = lu.step(&c);
		if (r == 0) {
			/* End of chain: CFI said "return address undefined"
			 * (_start, clone3). If libunwind got there by guessing
			 * (no unwind info), the end is not trustworthy. */
			if (!u->step_noinfo)
				*status = SP_UNWIND_COMPLETE;
			break;
		}
		if (r < 0)
			break; /* copy exhausted, unreadable memory, bad CFI */
		if (lu.get_reg(&c, UNW_REG_IP, &ip) < 0 || lu.get_reg(&c, UNW_REG_SP, &nsp) < 0)
			break;
		/* After a step, is_signal_frame tells whether the frame we
		 * stepped FROM was a signal frame (__restore_rt): then this
		 * frame was interrupted, not calling, and its ip is exact
		 * (perf's rule, dwfl_frame_pc's "activation"). */
		bool interrupted = lu.is_signal_frame(&c) > 0;
		/* The CFA only grows along a chain; across a signal frame the
		 * handler may have run on an alternate stack. */
		if (!interrupted && nsp <= sp)
			break;
		/* The signal frame itself "returned" to the first byte of the
		 * trampoline: give it that address back, not the byte before
		 * it, which belongs to some other function. */
		if (interrupted && n >= 2)
			pcs[n - 1] += 1;
		pcs[n++] = interrupted ? ip : ip - 1;
		sp = nsp;
		/* Left known code: libunwind's own guess beyond it (an rbp
		 * heuristic accepted within 16 KiB) is not used; the next
		 * round walks the frame pointer with checks of our own. */
		mod = sp_umods_find_text(&u->mods, ip);
	}
out:
	sp_unwind_quiet = 0;
	u->cur = NULL;
	return n;
}
