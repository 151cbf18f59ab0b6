/* Allocation sampling in the host; see heap.h. Everything here runs inside
 * the application's malloc and free: no allocation, lock, stdio or log,
 * errno untouched; system calls only on the sampled path. */
#include "capture/heap.h"

#include <dlfcn.h>
#include <link.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "abi/raw_sample.h"
#include "abi/ring.h"
#include "abi/shm.h"
#include "abi/span.h"
#include "base/clock.h"
#include "capture/capture_link.h"
#include "capture/sighandler.h"
#include "capture/threads.h"

__thread int64_t sp_tls_heap_countdown __attribute__((tls_model("initial-exec")));
__thread int sp_tls_heap_busy __attribute__((tls_model("initial-exec")));
static __thread uint64_t tls_rng __attribute__((tls_model("initial-exec")));

_Atomic uint8_t sp_heap_fill[SP_HEAP_BUCKETS];
_Atomic uint8_t sp_heap_group_fill[SP_HEAP_GROUPS];
/* 1 MiB of address space in .bss: pages become resident only where a
 * sampled block lands (at the default rate, a few hundred blocks per GiB
 * of live heap). */
static _Atomic uintptr_t live[SP_HEAP_BUCKETS][SP_HEAP_WAYS] __attribute__((aligned(64)));
static _Atomic uint64_t live_n;
static _Atomic int64_t rate;   /* 0: off */

void sp_heap_arm(int64_t r)
{
	atomic_store(&rate, r > 0 ? r : 1);
}

void sp_heap_disarm(void)
{
	atomic_store(&rate, 0);
}

bool sp_heap_armed(void)
{
	return atomic_load_explicit(&rate, memory_order_relaxed) > 0;
}

uint64_t sp_heap_live(void)
{
	return atomic_load(&live_n);
}

/* xorshift64*, seeded per thread from its tid and the clock. */
static uint64_t next_random(void)
{
	uint64_t x = tls_rng;

	if (!x)
		x = ((uint64_t)sp_mono_ns() << 20) ^ (uint64_t)(uintptr_t)&tls_rng ^
		    0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	tls_rng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* -ln(u) for u in (0, 1], without libm (the library links libc only):
 * u = m * 2^e with m in [1, 2), ln m = 2 atanh((m-1)/(m+1)) by its series;
 * |t| <= 1/3, so six terms leave an error below 1e-7. */
static double neg_log(double u)
{
	uint64_t bits;
	double m, t, t2, ln_m;
	int e;

	memcpy(&bits, &u, sizeof(bits));
	e = (int)((bits >> 52) & 0x7ff) - 1023;
	bits = (bits & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	memcpy(&m, &bits, sizeof(m));
	t = (m - 1) / (m + 1);
	t2 = t * t;
	ln_m = 2 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 + t2 * (1.0 / 7 + t2 * (1.0 / 9 +
									 t2 / 11)))));
	return -((double)e * 0.69314718055994530942 + ln_m);
}

/* Bytes to the next sample: exponential with mean r. */
static int64_t draw(int64_t r)
{
	double u = (double)((next_random() >> 11) + 1) * (1.0 / 9007199254740992.0);
	double v = neg_log(u) * (double)r;

	return v < 1 ? 1 : (int64_t)v;
}

static bool live_insert(uintptr_t p)
{
	uint32_t b = sp_heap_bucket((void *)p);

	/* Counts first: a free that finds one zero is never a sampled one. */
	if (atomic_fetch_add(&sp_heap_fill[b], 1) >= SP_HEAP_WAYS) {
		atomic_fetch_sub(&sp_heap_fill[b], 1);
		return false;
	}
	atomic_fetch_add(&sp_heap_group_fill[b / SP_HEAP_GROUP], 1);
	for (int i = 0; i < SP_HEAP_WAYS; i++) {
		uintptr_t empty = 0;

		if (atomic_load_explicit(&live[b][i], memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&live[b][i], &empty, p)) {
			atomic_fetch_add_explicit(&live_n, 1, memory_order_relaxed);
			return true;
		}
	}
	atomic_fetch_sub(&sp_heap_group_fill[b / SP_HEAP_GROUP], 1);
	atomic_fetch_sub(&sp_heap_fill[b], 1);
	return false;
}

static bool live_remove(uintptr_t p)
{
	uint32_t b = sp_heap_bucket((void *)p);

	for (int i = 0; i < SP_HEAP_WAYS; i++) {
		uintptr_t want = p;

		if (atomic_load_explicit(&live[b][i], memory_order_relaxed) == p &&
		    atomic_compare_exchange_strong(&live[b][i], &want, 0)) {
			atomic_fetch_sub(&sp_heap_group_fill[b / SP_HEAP_GROUP], 1);
			atomic_fetch_sub(&sp_heap_fill[b], 1);
			atomic_fetch_sub_explicit(&live_n, 1, memory_order_relaxed);
			return true;
		}
	}
	return false;
}

/* The calling thread's live entry with a ring, or NULL. */
static sp_thread *self_thread(void)
{
	sp_thread *t = sp_tls_thread;

	if (t && t->tid != sp_tls_tid)
		t = NULL;
	if (!t) {
		t = sp_threads_find((pid_t)syscall(SYS_gettid));
		if (!t)
			return NULL;
		sp_tls_thread = t;
		sp_tls_tid = t->tid;
	}
	if (atomic_load_explicit(&t->state, memory_order_acquire) != SP_THREAD_LIVE || !t->ring)
		return NULL;
	return t;
}

#define COUNT(field)                                                                 \
	do {                                                                         \
		sp_shm_header *h_ = sp_link_arena();                                 \
		if (h_)                                                              \
			atomic_fetch_add_explicit(&h_->field, 1, memory_order_relaxed); \
	} while (0)

/* Under sp_tls_heap_busy. */
static bool write_record(sp_thread *t, uint32_t kind, uintptr_t p, size_t n, uint32_t flags,
			 const sp_heap_frame *f)
{
	uint64_t start = f ? f->sp : 0;
	bool in_stack = false;
	size_t len = f ? sp_stack_slice(t, f->sp, &start, &in_stack) : 0;
	sp_raw_sample *s;
	uint8_t *buf;

	s = sp_capture_reserve(t, len, &buf, kind, n, p, flags);
	if (!s)
		return false;
	memset(s->regs, 0, sizeof(s->regs));
	s->stack_base = start;
	if (f) {
		/* The caller's frame, at the call: ip - 1 lies in the call
		 * instruction, which both the unwind tables and the line
		 * table attribute to the allocating line. */
		s->regs[SP_REG_RIP] = f->ip - 1;
		s->regs[SP_REG_RSP] = f->sp;
		s->regs[SP_REG_RBP] = f->bp;
		s->stack_len = sp_stack_copy(buf, start, len, in_stack);
		sp_span_read_current(&s->span);
	} else {
		memset(&s->span, 0, sizeof(s->span));
	}
	sp_capture_publish(t);
	return true;
}

void sp_heap_sample(void *p, size_t n, const sp_heap_frame *f)
{
	int64_t r = atomic_load_explicit(&rate, memory_order_relaxed);
	int saved_errno = errno;
	uint32_t flags = 0;
	sp_thread *t;

	/* Off: look again after a mean interval's worth of bytes, so a
	 * thread notices a start without any cost on the fast path. */
	sp_tls_heap_countdown = draw(r > 0 ? r : 512 * 1024);
	if (r <= 0 || !p || sp_tls_heap_busy || sp_tls_internal ||
	    !atomic_load_explicit(&sp_capture_armed, memory_order_relaxed))
		goto out;
	sp_tls_heap_busy = 1;
	/* Seen by this thread's signal handler before the ring is touched. */
	atomic_signal_fence(memory_order_seq_cst);
	t = self_thread();
	if (!t) {
		COUNT(heap_no_thread);
		goto done;
	}
	if (!live_insert((uintptr_t)p)) {
		flags |= SP_ALLOC_UNTRACKED;
		COUNT(heap_untracked);
	}
	if (!write_record(t, SP_SAMPLE_ALLOC, (uintptr_t)p, n, flags, f) &&
	    !(flags & SP_ALLOC_UNTRACKED))
		live_remove((uintptr_t)p); /* its free would name an unknown block */
done:
	atomic_signal_fence(memory_order_seq_cst);
	sp_tls_heap_busy = 0;
out:
	errno = saved_errno;
}

void sp_heap_freed(void *p)
{
	int saved_errno = errno;
	sp_thread *t;
	bool written = false;

	/* Removed even when no record can be written: the address is about
	 * to be reused, and a stale entry would claim the next block. */
	if (!live_remove((uintptr_t)p))
		return;
	if (!sp_tls_heap_busy && (t = self_thread())) {
		sp_tls_heap_busy = 1;
		atomic_signal_fence(memory_order_seq_cst);
		written = write_record(t, SP_SAMPLE_FREE, (uintptr_t)p, 0, 0, NULL);
		atomic_signal_fence(memory_order_seq_cst);
		sp_tls_heap_busy = 0;
	}
	if (!written)
		COUNT(heap_frees_lost);
	errno = saved_errno;
}

void sp_heap_atfork_child(void)
{
	for (uint32_t b = 0; b < SP_HEAP_BUCKETS; b++) {
		if (!atomic_load_explicit(&sp_heap_fill[b], memory_order_relaxed))
			continue;
		for (int i = 0; i < SP_HEAP_WAYS; i++)
			atomic_store_explicit(&live[b][i], 0, memory_order_relaxed);
		atomic_store_explicit(&sp_heap_fill[b], 0, memory_order_relaxed);
	}
	for (uint32_t g = 0; g < SP_HEAP_GROUPS; g++)
		atomic_store_explicit(&sp_heap_group_fill[g], 0, memory_order_relaxed);
	atomic_store(&live_n, 0);
}

void *sp_global_symbol(const char *name)
{
	/* Not dlsym(RTLD_DEFAULT): for a -Bsymbolic caller it looks in the
	 * caller first, and would find our own malloc. The main program's
	 * handle searches the global scope in load order. */
	void *self = dlopen(NULL, RTLD_NOW | RTLD_NOLOAD), *p;

	if (!self)
		return NULL;
	const ElfW(Sym) *sym = NULL;
	Dl_info di;

	p = dlsym(self, name);
	dlclose(self);
	/* A non-PIE executable that takes the function's address exports its
	 * PLT stub as the canonical address, an undefined symbol with a value
	 * (node does): not a definition; the stub jumps to the first real
	 * one, which may be ours. */
	if (p && (!dladdr1(p, &di, (void **)&sym, RTLD_DL_SYMENT) || !sym ||
		  sym->st_shndx == SHN_UNDEF))
		return NULL;
	return p;
}

static const char *object_name(const void *addr, const void **base)
{
	Dl_info di;

	*base = NULL;
	if (!addr || !dladdr(addr, &di))
		return "?";
	*base = di.dli_fbase;
	return di.dli_fname && di.dli_fname[0] ? di.dli_fname : "the executable";
}

void sp_heap_check_allocator(char *note, size_t len)
{
	/* Entry points of allocators that a program may call instead of
	 * malloc (jemalloc, tcmalloc, mimalloc, rpmalloc). */
	static const char *const own[] = { "je_malloc", "mallocx", "tc_malloc", "mi_malloc",
					   "rpmalloc" };
	const void *ours, *first;
	const char *first_name;

	note[0] = '\0';
	object_name((const void *)sp_heap_arm, &ours);
	first_name = object_name(sp_global_symbol("malloc"), &first);
	if (first && first != ours) {
		snprintf(note, len, "the program's own malloc (in %s) comes before the profiler's: "
			 "its heap is not seen, CPU profiling is unaffected", first_name);
		return;
	}
	for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++) {
		void *fn = sp_global_symbol(own[i]);
		struct link_map *lm = NULL;
		Dl_info di;

		/* The executable's link map has the empty name. */
		if (fn && dladdr1(fn, &di, (void **)&lm, RTLD_DL_LINKMAP) && lm && lm->l_name &&
		    !lm->l_name[0]) {
			snprintf(note, len, "the executable has its own allocator (%s): what it "
				 "allocates through it is not seen, only what goes through malloc",
				 own[i]);
			return;
		}
	}
}
