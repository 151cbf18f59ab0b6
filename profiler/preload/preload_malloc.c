/* The interposed allocator: malloc, calloc, realloc, reallocarray, free,
 * posix_memalign, aligned_alloc, memalign, valloc, pvalloc. Each forwards
 * to the next definition in the lookup order (dlsym(RTLD_NEXT)): glibc's,
 * or an allocator the program links (Debian's redis-server links
 * libjemalloc.so), so the program keeps its own allocator and only sampled
 * calls cost more than a subtraction (capture/heap.h). Blocks are never
 * changed: malloc_usable_size, malloc_trim and friends are not interposed
 * and see the allocator's own blocks.
 *
 * Bootstrap: the first call on the process resolves the real functions;
 * calls made while dlsym runs (it may allocate) are served from a static
 * buffer, whose blocks free() ignores.
 *
 * Compiled with frame pointers (Makefile): the sampled path reads the
 * caller's frame pointer from this function's frame. */
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "capture/heap.h"

#define EXPORT __attribute__((visibility("default")))

typedef void *(*malloc_fn)(size_t);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef void (*free_fn)(void *);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*memalign_fn)(size_t, size_t);
typedef void *(*valloc_fn)(size_t);

static struct {
	malloc_fn malloc;
	calloc_fn calloc;
	realloc_fn realloc;
	reallocarray_fn reallocarray;
	free_fn free;
	posix_memalign_fn posix_memalign;
	memalign_fn aligned_alloc, memalign;
	valloc_fn valloc, pvalloc;
} real;
static _Atomic int resolved;
static __thread int tls_resolving __attribute__((tls_model("initial-exec")));

/* ---- bootstrap ------------------------------------------------------------ */

#define BOOT_BYTES (64 * 1024)
static uint8_t boot_buf[BOOT_BYTES] __attribute__((aligned(64)));
static _Atomic size_t boot_used;

/* 16-byte header with the size, so realloc can copy a bootstrap block. */
static void *boot_alloc(size_t n, size_t align)
{
	size_t need, off, old;

	if (align < 16)
		align = 16;
	if (n > BOOT_BYTES || align > 4096)
		return NULL;
	need = (n + 15) & ~(size_t)15;
	do {
		old = atomic_load(&boot_used);
		off = (old + 16 + align - 1) & ~(align - 1);
		if (off + need > BOOT_BYTES)
			return NULL;
	} while (!atomic_compare_exchange_weak(&boot_used, &old, off + need));
	memcpy(boot_buf + off - sizeof(size_t), &n, sizeof(n));
	return boot_buf + off; /* zeroed: never reused */
}

static bool is_boot(const void *p)
{
	return (const uint8_t *)p >= boot_buf && (const uint8_t *)p < boot_buf + BOOT_BYTES;
}

static size_t boot_size(const void *p)
{
	size_t n;

	memcpy(&n, (const uint8_t *)p - sizeof(size_t), sizeof(n));
	return n;
}

EXPORT void *malloc(size_t n);

static void *lookup(bool global, const char *name)
{
	return global ? sp_global_symbol(name) : dlsym(RTLD_NEXT, name);
}

static void resolve(void)
{
	bool global;

	if (atomic_load_explicit(&resolved, memory_order_acquire))
		return;
	tls_resolving = 1;
	/* Another malloc comes first (an allocator preloaded before us, a
	 * sanitizer runtime, the executable's own): the program allocates
	 * there, and so must our entry points, which only the library's own
	 * calls reach then (-Bsymbolic): libc returns it blocks from there
	 * that the library frees. */
	{
		void *first = sp_global_symbol("malloc");
		global = first && first != (void *)malloc;
	}
	real.calloc = (calloc_fn)lookup(global, "calloc");
	real.malloc = (malloc_fn)lookup(global, "malloc");
	real.realloc = (realloc_fn)lookup(global, "realloc");
	real.reallocarray = (reallocarray_fn)lookup(global, "reallocarray");
	real.free = (free_fn)lookup(global, "free");
	real.posix_memalign = (posix_memalign_fn)lookup(global, "posix_memalign");
	real.aligned_alloc = (memalign_fn)lookup(global, "aligned_alloc");
	real.memalign = (memalign_fn)lookup(global, "memalign");
	real.valloc = (valloc_fn)lookup(global, "valloc");
	real.pvalloc = (valloc_fn)lookup(global, "pvalloc");
	tls_resolving = 0;
	if (real.malloc && real.free && real.calloc && real.realloc &&
	    real.malloc != (malloc_fn)malloc)
		atomic_store_explicit(&resolved, 1, memory_order_release);
}

/* While this thread resolves (or if nothing could be), the bootstrap buffer. */
#define NEED(fn)                                                                       \
	(__builtin_expect(!atomic_load_explicit(&resolved, memory_order_acquire), 0) &&   \
	 (tls_resolving || (resolve(), !real.fn)))

/* The caller's frame: this function's return address, the caller's stack
 * pointer after the call (the CFA) and its frame pointer, saved at ours. */
#define SAMPLE(p, n)                                                                   \
	do {                                                                           \
		sp_heap_frame f_ = {                                                   \
			(uintptr_t)__builtin_return_address(0),                        \
			(uintptr_t)__builtin_dwarf_cfa(),                              \
			*(uintptr_t *)__builtin_frame_address(0),                     \
		};                                                                     \
		sp_heap_sample((p), (n), &f_);                                         \
	} while (0)

EXPORT void *malloc(size_t n)
{
	void *p;

	if (NEED(malloc))
		return boot_alloc(n, 16);
	if (!sp_heap_due(n))
		return real.malloc(n);
	p = real.malloc(n);
	SAMPLE(p, n);
	return p;
}

EXPORT void free(void *p)
{
	if (!p || is_boot(p))
		return;
	if (sp_heap_maybe_sampled(p))
		sp_heap_freed(p);
	if (NEED(free))
		return; /* nothing resolved: leak rather than crash */
	real.free(p);
}

EXPORT void *calloc(size_t k, size_t n)
{
	size_t bytes;
	void *p;

	if (NEED(calloc))
		return __builtin_mul_overflow(k, n, &bytes) ? NULL : boot_alloc(bytes, 16);
	/* Overflow: the real calloc fails it (NULL, ENOMEM) as it would. */
	if (__builtin_mul_overflow(k, n, &bytes) || !sp_heap_due(bytes))
		return real.calloc(k, n);
	p = real.calloc(k, n);
	SAMPLE(p, bytes);
	return p;
}

EXPORT void *realloc(void *old, size_t n)
{
	void *p;

	if (old && is_boot(old)) {
		p = malloc(n);
		if (p)
			memcpy(p, old, boot_size(old) < n ? boot_size(old) : n);
		return p;
	}
	if (NEED(realloc))
		return old ? NULL : boot_alloc(n, 16);
	/* Before the call: once it returns, the old address may be another
	 * thread's new block. A sampled block that moves or shrinks is its
	 * free; the result is sampled as a new allocation of n bytes. */
	if (old && sp_heap_maybe_sampled(old))
		sp_heap_freed(old);
	if (!sp_heap_due(n))
		return real.realloc(old, n);
	p = real.realloc(old, n);
	SAMPLE(p, n);
	return p;
}

EXPORT void *reallocarray(void *old, size_t k, size_t n)
{
	size_t bytes;
	void *p;

	if (__builtin_mul_overflow(k, n, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	if ((old && is_boot(old)) || NEED(reallocarray))
		return realloc(old, bytes);
	if (old && sp_heap_maybe_sampled(old))
		sp_heap_freed(old);
	if (!sp_heap_due(bytes))
		return real.reallocarray(old, k, n);
	p = real.reallocarray(old, k, n);
	SAMPLE(p, bytes);
	return p;
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	int r;

	if (NEED(posix_memalign)) {
		if (!align || (align & (align - 1)) || align % sizeof(void *))
			return EINVAL;
		*out = boot_alloc(n, align);
		return *out ? 0 : ENOMEM;
	}
	if (!sp_heap_due(n))
		return real.posix_memalign(out, align, n);
	r = real.posix_memalign(out, align, n);
	SAMPLE(r ? NULL : *out, n);
	return r;
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	void *p;

	if (NEED(aligned_alloc))
		return boot_alloc(n, align);
	if (!sp_heap_due(n))
		return real.aligned_alloc(align, n);
	p = real.aligned_alloc(align, n);
	SAMPLE(p, n);
	return p;
}

EXPORT void *memalign(size_t align, size_t n)
{
	void *p;

	if (NEED(memalign))
		return boot_alloc(n, align);
	if (!sp_heap_due(n))
		return real.memalign(align, n);
	p = real.memalign(align, n);
	SAMPLE(p, n);
	return p;
}

EXPORT void *valloc(size_t n)
{
	void *p;

	if (NEED(valloc))
		return boot_alloc(n, 4096);
	if (!sp_heap_due(n))
		return real.valloc(n);
	p = real.valloc(n);
	SAMPLE(p, n);
	return p;
}

EXPORT void *pvalloc(size_t n)
{
	void *p;

	if (NEED(pvalloc))
		return boot_alloc((n + 4095) & ~(size_t)4095, 4096);
	if (!sp_heap_due(n))
		return real.pvalloc(n);
	p = real.pvalloc(n);
	SAMPLE(p, n);
	return p;
}
