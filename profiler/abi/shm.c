/* Shared-memory layout; see shm.h. */
#include "abi/shm.h"

#include "base/env.h"

#include <errno.h>
#include <string.h>

#define ALIGN_UP(x, a) (((x) + (a) - 1) / (a) * (a))
#define PAGE 4096u

struct layout {
	uint64_t cfg_off, env_off, modules_off, strings_off, slots_off, rings_off, ring_bytes, total;
};

static void compute(struct layout *l, uint32_t slots, size_t ring_bytes)
{
	l->cfg_off = ALIGN_UP(sizeof(sp_shm_header), 64);
	l->env_off = ALIGN_UP(l->cfg_off + sizeof(sp_config), 64);
	l->modules_off = ALIGN_UP(l->env_off + SP_SHM_ENV_BYTES, 64);
	l->strings_off = l->modules_off + (uint64_t)SP_SHM_MODULES * sizeof(sp_shm_module);
	l->slots_off = ALIGN_UP(l->strings_off + SP_SHM_STRINGS, 64);
	/* Rings start on a page: a ring's pages are touched only as it fills. */
	l->rings_off = ALIGN_UP(l->slots_off + (uint64_t)slots * sizeof(sp_shm_slot), PAGE);
	l->ring_bytes = ALIGN_UP(sp_ring_footprint(ring_bytes), PAGE);
	l->total = l->rings_off + (uint64_t)slots * l->ring_bytes;
}

size_t sp_shm_size(uint32_t slots, size_t ring_bytes)
{
	struct layout l;

	compute(&l, slots, ring_bytes);
	return (size_t)l.total;
}

void sp_shm_layout(sp_shm_header *h, size_t total, uint32_t slots, size_t ring_bytes,
		   size_t stack_bytes)
{
	struct layout l;

	compute(&l, slots, ring_bytes);
	h->version = SP_SHM_VERSION;
	h->header_bytes = sizeof(*h);
	h->total_bytes = total;
	h->stack_bytes = (uint32_t)stack_bytes;
	h->cfg_off = l.cfg_off;
	h->cfg_len = sizeof(sp_config);
	h->env_off = l.env_off;
	h->env_len = 0;
	h->modules_off = l.modules_off;
	h->modules_cap = SP_SHM_MODULES;
	h->strings_off = l.strings_off;
	h->strings_cap = SP_SHM_STRINGS;
	h->slots_off = l.slots_off;
	h->slots_cap = slots;
	h->rings_off = l.rings_off;
	/* The ring's own footprint, not the page-rounded stride: sp_ring_attach
	 * checks it against the ring's size field. */
	h->ring_bytes = l.ring_bytes;
	atomic_store(&h->state, SP_SHM_RUNNING);
	atomic_thread_fence(memory_order_release);
	h->magic = SP_SHM_MAGIC;
}

int sp_shm_validate(const sp_shm_header *h, size_t mapped)
{
	struct layout l;

	if (mapped < sizeof(*h) || h->magic != SP_SHM_MAGIC || h->version != SP_SHM_VERSION ||
	    h->header_bytes != sizeof(*h) || h->total_bytes != mapped ||
	    h->slots_cap > (1u << 20) || h->modules_cap != SP_SHM_MODULES ||
	    h->strings_cap != SP_SHM_STRINGS || h->ring_bytes < 2 * PAGE ||
	    h->ring_bytes > (1ull << 32))
		return -EINVAL;
	compute(&l, h->slots_cap, (size_t)(h->ring_bytes - PAGE));
	/* Recompute from the sizes and require the same offsets, so no offset
	 * read later can point outside the mapping. */
	if (h->cfg_off != l.cfg_off || h->cfg_len != sizeof(sp_config) || h->env_off != l.env_off || h->modules_off != l.modules_off ||
	    h->strings_off != l.strings_off || h->slots_off != l.slots_off ||
	    h->rings_off != l.rings_off || h->rings_off + (uint64_t)h->slots_cap * h->ring_bytes > mapped ||
	    h->env_len > SP_SHM_ENV_BYTES)
		return -EINVAL;
	return 0;
}

int sp_shm_add_module(sp_shm_header *h, const sp_shm_module *m, const char *path)
{
	uint32_t n = atomic_load_explicit(&h->n_modules, memory_order_relaxed);
	uint32_t used = atomic_load_explicit(&h->strings_used, memory_order_relaxed);
	size_t len = strlen(path);
	sp_shm_module *e;

	if (n >= h->modules_cap || len + 1 > h->strings_cap - used)
		return -ENOSPC;
	memcpy(sp_shm_strings(h) + used, path, len + 1);
	atomic_store_explicit(&h->strings_used, used + (uint32_t)len + 1, memory_order_relaxed);
	e = &sp_shm_modules(h)[n];
	*e = *m;
	e->path_off = used;
	e->path_len = (uint32_t)len;
	atomic_store_explicit(&h->n_modules, n + 1, memory_order_release);
	return 0;
}

const char *sp_shm_getenv(void *hv, const char *key)
{
	sp_shm_header *h = hv;

	return sp_env_block_get(sp_shm_env(h), h->env_len, key);
}
