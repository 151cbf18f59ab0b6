/* SPSC byte ring; see ring.h. head is written only by the producer, tail
 * only by the consumer; each reads the other's with acquire ordering so a
 * record's bytes are visible before its index. */
#include "abi/ring.h"

#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>

#define REC_PAD 0u
#define REC_SAMPLE 1u

struct rec_hdr {
	uint32_t len;  /* whole record, header included, multiple of 16 */
	uint32_t type;
};

struct sp_ring {
	_Alignas(64) _Atomic uint64_t head;
	uint64_t pending;  /* producer: end of the reserved record */
	_Atomic uint64_t taken;
	_Atomic uint64_t lost;
	_Atomic int wake_sent;  /* producer asked for a drain; consumer clears */
	_Alignas(64) _Atomic uint64_t tail;
	_Alignas(64) uint64_t size; /* data bytes, power of two */
	uint64_t wake_mark;         /* bytes in use that ask for a drain */
	uint64_t map_len;
	_Alignas(64) uint8_t data[];
};

#define ALIGN16(x) (((x) + 15) & ~(uint64_t)15)
#define SAMPLE_OFF ALIGN16(sizeof(struct rec_hdr))
#define STACK_OFF (SAMPLE_OFF + ALIGN16(sizeof(sp_raw_sample)))

static size_t data_bytes(size_t size)
{
	size_t pow = 4096;

	while (pow < size)
		pow <<= 1;
	return pow;
}

size_t sp_ring_footprint(size_t size)
{
	return sizeof(sp_ring) + data_bytes(size);
}

static void set_marks(sp_ring *r, size_t pow, size_t record_max)
{
	size_t room;

	r->size = pow;
	/* Half full, or earlier when fewer than two full-size records (plus a
	 * possible wrap padding) would still fit: the worker needs time to
	 * wake before the next ones arrive. Never below a quarter. */
	room = 3 * (size_t)ALIGN16(STACK_OFF + record_max);
	r->wake_mark = pow / 2;
	if (room < pow && pow - room < r->wake_mark)
		r->wake_mark = pow - room;
	if (r->wake_mark < pow / 4)
		r->wake_mark = pow / 4;
}

sp_ring *sp_ring_new(size_t size, size_t record_max)
{
	size_t pow = data_bytes(size), len = sizeof(sp_ring) + pow;
	sp_ring *r;

	r = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	/* Fresh anonymous pages are zero: only the sizes need setting. */
	set_marks(r, pow, record_max);
	r->map_len = len;
	return r;
}

sp_ring *sp_ring_init_at(void *mem, size_t footprint, size_t record_max)
{
	sp_ring *r = mem;
	size_t pow = footprint - sizeof(sp_ring);

	if (footprint <= sizeof(sp_ring) || (pow & (pow - 1)))
		return NULL;
	/* A slot is reused after the consumer drained it: start empty. */
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	r->pending = 0;
	atomic_store_explicit(&r->taken, 0, memory_order_relaxed);
	atomic_store_explicit(&r->lost, 0, memory_order_relaxed);
	atomic_store_explicit(&r->wake_sent, 0, memory_order_relaxed);
	set_marks(r, pow, record_max);
	r->map_len = 0; /* not ours to unmap */
	atomic_thread_fence(memory_order_release);
	return r;
}

sp_ring *sp_ring_attach(void *mem, size_t footprint)
{
	sp_ring *r = mem;

	if (footprint <= sizeof(sp_ring) || r->size != footprint - sizeof(sp_ring))
		return NULL;
	return r;
}

void sp_ring_free(sp_ring *r)
{
	if (r && r->map_len)
		munmap(r, r->map_len);
}

size_t sp_ring_size(const sp_ring *r)
{
	return r->size;
}

sp_raw_sample *sp_ring_reserve(sp_ring *r, size_t stack_max, uint8_t **stack_buf)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	uint64_t need = ALIGN16(STACK_OFF + stack_max);
	uint64_t off = head & (r->size - 1);
	uint64_t to_end = r->size - off;
	uint64_t total = to_end < need ? to_end + need : need;
	struct rec_hdr *h;

	if (need > r->size || r->size - (head - tail) < total) {
		atomic_fetch_add_explicit(&r->lost, 1, memory_order_relaxed);
		return NULL;
	}
	if (to_end < need) {
		h = (struct rec_hdr *)(r->data + off);
		h->len = (uint32_t)to_end;
		h->type = REC_PAD;
		head += to_end;
		off = 0;
	}
	h = (struct rec_hdr *)(r->data + off);
	h->len = (uint32_t)need;
	h->type = REC_SAMPLE;
	/* The padding (if any) is published together with the record. */
	r->pending = head + need;
	*stack_buf = r->data + off + STACK_OFF;
	return (sp_raw_sample *)(r->data + off + SAMPLE_OFF);
}

bool sp_ring_commit(sp_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

	atomic_fetch_add_explicit(&r->taken, 1, memory_order_relaxed);
	atomic_store_explicit(&r->head, r->pending, memory_order_release);
	if (r->pending - tail < r->wake_mark ||
	    atomic_load_explicit(&r->wake_sent, memory_order_relaxed))
		return false;
	return !atomic_exchange_explicit(&r->wake_sent, 1, memory_order_relaxed);
}

void sp_ring_rearm(sp_ring *r)
{
	atomic_store_explicit(&r->wake_sent, 0, memory_order_relaxed);
}

size_t sp_ring_used(const sp_ring *r)
{
	return (size_t)(atomic_load_explicit(&r->head, memory_order_acquire) -
			atomic_load_explicit(&r->tail, memory_order_relaxed));
}

size_t sp_ring_wake_mark(const sp_ring *r)
{
	return (size_t)r->wake_mark;
}

const sp_raw_sample *sp_ring_peek(sp_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);

	while (tail != head) {
		uint64_t off = tail & (r->size - 1);
		struct rec_hdr *h = (struct rec_hdr *)(r->data + off);
		sp_raw_sample *s;

		/* The producer may be another process: a record that does not
		 * fit is corruption, and the ring is dropped, not followed. */
		if (head - tail > r->size || !h->len || (h->len & 15) || h->len > r->size - off ||
		    h->len > head - tail || (h->type != REC_PAD && h->len < STACK_OFF)) {
			atomic_store_explicit(&r->tail, head, memory_order_release);
			return NULL;
		}
		if (h->type == REC_PAD) {
			tail += h->len;
			atomic_store_explicit(&r->tail, tail, memory_order_release);
			continue;
		}
		s = (sp_raw_sample *)(r->data + off + SAMPLE_OFF);
		s->stack = r->data + off + STACK_OFF;
		if (s->stack_len > h->len - STACK_OFF)
			s->stack_len = (uint32_t)(h->len - STACK_OFF);
		return s;
	}
	return NULL;
}

void sp_ring_pop(sp_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct rec_hdr *h = (struct rec_hdr *)(r->data + (tail & (r->size - 1)));

	atomic_store_explicit(&r->tail, tail + h->len, memory_order_release);
}

uint64_t sp_ring_taken(const sp_ring *r)
{
	return atomic_load_explicit(&r->taken, memory_order_relaxed);
}

uint64_t sp_ring_lost(const sp_ring *r)
{
	return atomic_load_explicit(&r->lost, memory_order_relaxed);
}

void sp_ring_count_lost(sp_ring *r)
{
	atomic_fetch_add_explicit(&r->lost, 1, memory_order_relaxed);
}
