/* Bounded FIFO of encoded profiles waiting for upload. Bounded by count and
 * bytes of bodies held in memory; when full, the oldest item not being sent
 * is evicted (dropped, or moved to disk by the owner's callback). Items moved
 * to disk keep their place, so the send order stays the enqueue order.
 * No locking here: the owner (export_pyroscope.c) holds its mutex. */
#ifndef SPANPROF_UPLOAD_QUEUE_H
#define SPANPROF_UPLOAD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sp_upload_item {
	struct sp_upload_item *prev, *next;
	uint64_t seq;
	char *query;          /* the part after "/ingest?" */
	uint8_t *body;        /* gzip pprof; NULL while on disk */
	size_t len;           /* body length (in memory or on disk) */
	size_t cost;          /* what the server's rate limiter charges: raw size */
	char *spill_path;     /* set when the body is on disk */
	int64_t time_ns;      /* profile time (wall clock), for the server's window */
	int attempts;         /* failed tries so far */
	int64_t not_before_ms;/* monotonic; retry backoff */
	bool in_flight;       /* being sent: never evicted */
	char kind[8];         /* "cpu" / "memory", for messages */
} sp_upload_item;

typedef struct sp_upload_queue {
	sp_upload_item *head, *tail;
	size_t max_count, max_bytes;  /* limits on in-memory items */
	size_t mem_count, mem_bytes;
	size_t disk_count, disk_bytes;
	size_t peak_bytes;            /* high-water mark of mem_bytes */
	uint64_t next_seq;
} sp_upload_queue;

void sp_upload_queue_init(sp_upload_queue *q, size_t max_count, size_t max_bytes);

/* Free every item (bodies too). Spill files are left alone. */
void sp_upload_queue_clear(sp_upload_queue *q);

/* Allocate an item owning copies of nothing: query and body are taken over
 * (freed with the item). Returns NULL on out of memory (nothing taken). */
sp_upload_item *sp_upload_item_new(char *query, uint8_t *body, size_t len, int64_t time_ns,
				   const char *kind);
void sp_upload_item_free(sp_upload_item *it);

/* Append at the tail (assigns seq). */
void sp_upload_queue_push(sp_upload_queue *q, sp_upload_item *it);

/* Insert an item whose body is already on disk, before every in-memory
 * item (spill files left by an earlier run are older than anything new). */
void sp_upload_queue_push_disk_front(sp_upload_queue *q, sp_upload_item *it);

/* Unlink (does not free). */
void sp_upload_queue_remove(sp_upload_queue *q, sp_upload_item *it);

/* Would an in-memory item of len bytes exceed a limit? */
bool sp_upload_queue_full(const sp_upload_queue *q, size_t len);

/* The oldest in-memory item that is not in flight, or NULL. */
sp_upload_item *sp_upload_queue_oldest_mem(const sp_upload_queue *q);
/* The oldest on-disk item that is not in flight, or NULL. */
sp_upload_item *sp_upload_queue_oldest_disk(const sp_upload_queue *q);

/* Evict until an item of len bytes fits. evict(ctx, q, it) must unlink the
 * item (sp_upload_queue_remove + free) or move it to disk
 * (sp_upload_queue_to_disk); it returns 0, or < 0 when it did neither (the
 * item is then removed and freed here). Returns the number of items
 * evicted, or -1 when room cannot be made (everything left is in flight). */
typedef int (*sp_upload_evict_fn)(void *ctx, sp_upload_queue *q, sp_upload_item *it);
int sp_upload_queue_make_room(sp_upload_queue *q, size_t len, sp_upload_evict_fn evict,
			      void *ctx);

/* Account an item's body as moved to disk at path (takes path, frees body). */
void sp_upload_queue_to_disk(sp_upload_queue *q, sp_upload_item *it, char *path);

/* The first item not in flight (the next to send), or NULL. */
sp_upload_item *sp_upload_queue_next(const sp_upload_queue *q);

/* Retry delay for the attempt-th failure (1-based): exponential from base_ms,
 * capped at max_ms, with "equal jitter" (half fixed, half random) so that
 * many clients restarting together spread out without retrying at once.
 * rng is a xorshift64 state (non-zero). */
long sp_backoff_ms(int attempt, long base_ms, long max_ms, uint64_t *rng);

/* How to treat an upload's outcome. curl_code 0 means an HTTP status came
 * back. Pyroscope answers success with exactly 200 (pyroscope-api.md, 0). */
enum sp_upload_outcome {
	SP_UPLOAD_OK,
	SP_UPLOAD_RETRY,   /* 429, 5xx, network errors */
	SP_UPLOAD_REFUSED, /* other status: do not retry */
};
enum sp_upload_outcome sp_upload_classify(int curl_code, long http_status);

#endif
