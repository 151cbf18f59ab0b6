/* The shared-memory region ("arena") between a profiled process and the
 * consumer: one memfd per process image, created by the host library,
 * handed to the consumer over the registration socket and mapped by both.
 *
 *   header | env block | module table | module strings | thread slots | rings
 *
 * Only integers and offsets live here, never pointers: the two sides map
 * it at different addresses. The host writes samples, module entries and
 * slot states; the consumer reads them and writes back ring tails and
 * FREE slot states. Everything the consumer reads is untrusted: offsets and
 * lengths are bounded against the region size before use.
 *
 * Beside the arenas, the consumer shares one control page with every host
 * (sp_shm_control): its pid, a heartbeat, and the futex word hosts bump to
 * wake it when a ring fills. */
#ifndef SPANPROF_SHM_H
#define SPANPROF_SHM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/config.h"
#include "abi/ring.h"

#define SP_SHM_MAGIC 0x31666f72706e7073ull /* "spnprof1" */
#define SP_SHM_VERSION 2

/* Handler cost histogram: SP_HIST_BUCKETS buckets of SP_HIST_NS ns, the
 * last one open-ended. */
#define SP_HIST_BUCKETS 400
#define SP_HIST_NS 25

#define SP_SHM_ENV_BYTES 8192       /* the host's SPANPROF_/PYROSCOPE_/OTEL_ env */
#define SP_SHM_MODULES 1024         /* module entries, append-only */
#define SP_SHM_STRINGS (128 * 1024) /* module paths */

enum sp_shm_state {
	SP_SHM_RUNNING = 1,
	SP_SHM_STOPPED = 2,   /* spanprof_stop(): flush, the image goes on */
	SP_SHM_EXEC = 3,      /* about to exec: this image's samples are final */
	SP_SHM_EXITED = 4,    /* destructor ran */
};

enum sp_slot_state {
	SP_SLOT_FREE = 0,     /* the host may claim it */
	SP_SLOT_LIVE = 1,     /* a sampled thread writes its ring */
	SP_SLOT_DEAD = 2,     /* the thread is gone; the consumer drains, then FREEs */
	SP_SLOT_CLAIMED = 3,  /* the host is setting it up */
};

#define SP_MOD_VDSO 1u
#define SP_MOD_MAIN 2u        /* the executable */

/* One executable mapping of one loaded object, published by bumping
 * n_modules (release) after the entry is complete; never rewritten, only
 * unloaded_seq set on dlclose. */
typedef struct sp_shm_module {
	uint64_t start, end;      /* [start, end) runtime addresses, page aligned */
	uint64_t offset;          /* file offset of start */
	uint32_t path_off, path_len; /* into the string area */
	uint32_t flags;           /* SP_MOD_* */
	uint8_t build_id_len;
	uint8_t build_id[20];
	uint8_t pad[3];
	_Atomic uint64_t unloaded; /* CLOCK_MONOTONIC ns of its dlclose, 0 = loaded */
} sp_shm_module;

typedef struct sp_shm_slot {
	_Atomic uint32_t state;   /* enum sp_slot_state */
	int32_t tid;
	_Atomic uint32_t nudge;   /* consumer: this thread's samples stopped */
	uint32_t pad;
} sp_shm_slot;

typedef struct sp_shm_header {
	uint64_t magic;
	uint32_t version;
	uint32_t header_bytes;
	uint64_t total_bytes;
	int32_t pid, ppid;
	int64_t start_wall_ns, start_mono_ns;
	int32_t hz;
	uint32_t stack_bytes;
	_Atomic int32_t signo;    /* the sampling signal (the consumer's nudges) */
	uint32_t pad3;

	uint64_t env_off;         /* "KEY=VALUE\0..." */
	uint32_t env_len;
	uint32_t cfg_len;         /* sizeof(sp_config) */
	uint64_t cfg_off;         /* the host's resolved sp_config */
	uint32_t modules_cap;
	uint64_t modules_off;
	_Atomic uint32_t n_modules;
	uint32_t strings_cap;
	uint64_t strings_off;
	_Atomic uint32_t strings_used;
	uint32_t slots_cap;
	uint64_t slots_off;
	uint64_t rings_off;
	uint64_t ring_bytes;      /* per slot, a power of two plus sp_ring's header */
	_Atomic uint32_t slots_used; /* high-water mark */

	_Atomic uint32_t state;   /* enum sp_shm_state */
	_Atomic uint64_t state_ns; /* CLOCK_MONOTONIC of the last state change */
	_Atomic uint32_t flushed; /* futex (shared): consumer bumps it after writing
				   * the final interval of a STOPPED/EXITED image */
	uint32_t pad2;
	_Atomic uint64_t no_slot; /* threads not sampled: every slot taken */
	_Atomic uint64_t dropped; /* samples dropped since the consumer was lost */
	char engine[96];          /* "perf_event cpu-clock", "posix timer", ... */
	char engine_reason[256];  /* why timers, "" when perf events */
	char exe[256];            /* basename of the executable */
	/* Allocation sampling (SPANPROF_HEAP): blocks the live table had no
	 * room for (their frees are not seen), frees of sampled blocks whose
	 * record could not be written, sampled allocations on threads without
	 * a ring, CPU samples dropped while a hook wrote the ring; and, when
	 * the program's allocations do not all pass the hooks, why. */
	_Atomic uint64_t heap_untracked, heap_frees_lost, heap_no_thread, heap_cpu_dropped;
	char heap_note[256];
	/* SPANPROF_DEBUG_COUNTS: the handler's own cost, and samples that
	 * found no thread entry. */
	_Atomic uint64_t orphans;
	_Atomic uint64_t hist[SP_HIST_BUCKETS];
} sp_shm_header;

typedef struct sp_shm_control {
	uint64_t magic;
	int32_t consumer_pid;
	uint32_t pad;
	_Atomic uint32_t wake_seq;    /* futex (shared): bumped by hosts */
	_Atomic uint32_t arenas;      /* registered images, for telemetry */
	_Atomic int64_t heartbeat_ns; /* CLOCK_MONOTONIC, every ~250 ms */
} sp_shm_control;

/* A consumer is considered gone when its heartbeat is this old. */
#define SP_SHM_HEARTBEAT_STALE_NS (3ull * 1000000000ull)

/* Bytes of a region with `slots` rings of `ring_bytes` data each. */
size_t sp_shm_size(uint32_t slots, size_t ring_bytes);

/* Host: lay out a zeroed region (fresh memfd pages are zero). */
void sp_shm_layout(sp_shm_header *h, size_t total, uint32_t slots, size_t ring_bytes,
		   size_t stack_bytes);

/* Consumer: check a mapped region's header against its size; 0 or -EINVAL. */
int sp_shm_validate(const sp_shm_header *h, size_t mapped);

static inline sp_shm_module *sp_shm_modules(sp_shm_header *h)
{
	return (sp_shm_module *)((char *)h + h->modules_off);
}
static inline char *sp_shm_strings(sp_shm_header *h)
{
	return (char *)h + h->strings_off;
}
static inline sp_shm_slot *sp_shm_slots(sp_shm_header *h)
{
	return (sp_shm_slot *)((char *)h + h->slots_off);
}
static inline sp_ring *sp_shm_ring(sp_shm_header *h, uint32_t i)
{
	return (sp_ring *)((char *)h + h->rings_off + (uint64_t)i * h->ring_bytes);
}
static inline void *sp_shm_cfg(sp_shm_header *h)
{
	return (char *)h + h->cfg_off;
}
static inline size_t sp_shm_ring_footprint(const sp_shm_header *h)
{
	return sp_ring_footprint((size_t)h->ring_bytes - 4096);
}
static inline char *sp_shm_env(sp_shm_header *h)
{
	return (char *)h + h->env_off;
}

/* Host, serialized by its caller: append a module entry with its path.
 * Returns 0, or -ENOSPC when the table or the string area is full. */
int sp_shm_add_module(sp_shm_header *h, const sp_shm_module *m, const char *path);

/* Consumer: the value of KEY in the env block, or NULL. */
const char *sp_shm_getenv(void *h, const char *key);

#endif
