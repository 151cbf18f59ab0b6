/* Bounded upload queue with drop-oldest eviction, backoff and outcome
 * classification; see upload_queue.h. */
#include "sinks/upload_queue.h"

#include <stdlib.h>
#include <string.h>

void sp_upload_queue_init(sp_upload_queue *q, size_t max_count, size_t max_bytes)
{
	memset(q, 0, sizeof(*q));
	q->max_count = max_count;
	q->max_bytes = max_bytes;
	q->next_seq = 1;
}

sp_upload_item *sp_upload_item_new(char *query, uint8_t *body, size_t len, int64_t time_ns,
				   const char *kind)
{
	sp_upload_item *it = calloc(1, sizeof(*it));

	if (!it)
		return NULL;
	it->query = query;
	it->body = body;
	it->len = len;
	it->time_ns = time_ns;
	if (kind)
		strncpy(it->kind, kind, sizeof(it->kind) - 1);
	return it;
}

void sp_upload_item_free(sp_upload_item *it)
{
	if (!it)
		return;
	free(it->query);
	free(it->body);
	free(it->spill_path);
	free(it);
}

void sp_upload_queue_clear(sp_upload_queue *q)
{
	sp_upload_item *it = q->head, *next;

	for (; it; it = next) {
		next = it->next;
		sp_upload_item_free(it);
	}
	q->head = q->tail = NULL;
	q->mem_count = q->mem_bytes = q->disk_count = q->disk_bytes = 0;
}

static void account(sp_upload_queue *q, const sp_upload_item *it, int sign)
{
	if (it->body) {
		q->mem_count += (size_t)sign;
		q->mem_bytes += (size_t)sign * it->len;
		if (q->mem_bytes > q->peak_bytes)
			q->peak_bytes = q->mem_bytes;
	} else {
		q->disk_count += (size_t)sign;
		q->disk_bytes += (size_t)sign * it->len;
	}
}

void sp_upload_queue_push(sp_upload_queue *q, sp_upload_item *it)
{
	it->seq = q->next_seq++;
	it->next = NULL;
	it->prev = q->tail;
	if (q->tail)
		q->tail->next = it;
	else
		q->head = it;
	q->tail = it;
	account(q, it, 1);
}

void sp_upload_queue_push_disk_front(sp_upload_queue *q, sp_upload_item *it)
{
	sp_upload_item *after = NULL, *cur;

	/* after the last disk item that is at the front */
	for (cur = q->head; cur && !cur->body; cur = cur->next)
		after = cur;
	it->seq = q->next_seq++;
	it->prev = after;
	it->next = after ? after->next : q->head;
	if (it->next)
		it->next->prev = it;
	else
		q->tail = it;
	if (after)
		after->next = it;
	else
		q->head = it;
	account(q, it, 1);
}

void sp_upload_queue_remove(sp_upload_queue *q, sp_upload_item *it)
{
	if (it->prev)
		it->prev->next = it->next;
	else
		q->head = it->next;
	if (it->next)
		it->next->prev = it->prev;
	else
		q->tail = it->prev;
	it->prev = it->next = NULL;
	account(q, it, -1);
}

bool sp_upload_queue_full(const sp_upload_queue *q, size_t len)
{
	return q->mem_count + 1 > q->max_count || q->mem_bytes + len > q->max_bytes;
}

sp_upload_item *sp_upload_queue_oldest_mem(const sp_upload_queue *q)
{
	sp_upload_item *it;

	for (it = q->head; it; it = it->next)
		if (it->body && !it->in_flight)
			return it;
	return NULL;
}

sp_upload_item *sp_upload_queue_oldest_disk(const sp_upload_queue *q)
{
	sp_upload_item *it;

	for (it = q->head; it; it = it->next)
		if (!it->body && !it->in_flight)
			return it;
	return NULL;
}

sp_upload_item *sp_upload_queue_next(const sp_upload_queue *q)
{
	sp_upload_item *it;

	for (it = q->head; it; it = it->next)
		if (!it->in_flight)
			return it;
	return NULL;
}

void sp_upload_queue_to_disk(sp_upload_queue *q, sp_upload_item *it, char *path)
{
	account(q, it, -1);
	free(it->body);
	it->body = NULL;
	free(it->spill_path);
	it->spill_path = path;
	account(q, it, 1);
}

int sp_upload_queue_make_room(sp_upload_queue *q, size_t len, sp_upload_evict_fn evict,
			      void *ctx)
{
	int n = 0;

	while (sp_upload_queue_full(q, len)) {
		sp_upload_item *victim = sp_upload_queue_oldest_mem(q);

		if (!victim)
			return -1;
		if (!evict || evict(ctx, q, victim) < 0) {
			sp_upload_queue_remove(q, victim);
			sp_upload_item_free(victim);
		}
		n++;
	}
	return n;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s ? *s : 0x9e3779b97f4a7c15ull;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

long sp_backoff_ms(int attempt, long base_ms, long max_ms, uint64_t *rng)
{
	long upper = base_ms;
	int i;

	if (attempt < 1)
		attempt = 1;
	for (i = 1; i < attempt && upper < max_ms; i++)
		upper *= 2;
	if (upper > max_ms)
		upper = max_ms;
	if (upper < 2)
		return upper;
	return upper / 2 + (long)(xorshift(rng) % (uint64_t)(upper - upper / 2 + 1));
}

enum sp_upload_outcome sp_upload_classify(int curl_code, long http_status)
{
	if (curl_code)
		return SP_UPLOAD_RETRY; /* connect, DNS, TLS, timeout, reset */
	if (http_status == 200)
		return SP_UPLOAD_OK;
	if (http_status == 429 || (http_status >= 500 && http_status <= 599))
		return SP_UPLOAD_RETRY;
	return SP_UPLOAD_REFUSED;
}
