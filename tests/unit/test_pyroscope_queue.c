/* Upload queue: drop-oldest by count and by bytes, in-flight items kept,
 * disk items keep their place; backoff; outcome classification. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sinks/upload_queue.h"

static sp_upload_item *item(size_t len, int tag)
{
	char *q = NULL;
	uint8_t *body = calloc(1, len);

	assert_true(asprintf(&q, "tag=%d", tag) > 0);
	return sp_upload_item_new(q, body, len, 1000 + tag, "cpu");
}

static int tag_of(const sp_upload_item *it)
{
	return atoi(it->query + 4);
}

/* Tags from head to tail, as "1,2,3". */
static void order(const sp_upload_queue *q, char *out, size_t len)
{
	const sp_upload_item *it;

	out[0] = '\0';
	for (it = q->head; it; it = it->next)
		snprintf(out + strlen(out), len - strlen(out), "%s%d%s", out[0] ? "," : "", tag_of(it),
			 it->body ? "" : "d");
}

struct evict_log {
	int n;
	int tags[64];
	int to_disk; /* move to disk instead of dropping */
};

static int record_evict(void *ctx, sp_upload_queue *q, sp_upload_item *it)
{
	struct evict_log *l = ctx;

	l->tags[l->n++] = tag_of(it);
	if (l->to_disk) {
		sp_upload_queue_to_disk(q, it, strdup("/spill/x"));
		return 0;
	}
	return -1; /* let the queue remove and free it */
}

static void push(sp_upload_queue *q, sp_upload_item *it, struct evict_log *l)
{
	assert_true(sp_upload_queue_make_room(q, it->len, record_evict, l) >= 0);
	sp_upload_queue_push(q, it);
}

static void test_drop_oldest_by_count(void **state)
{
	sp_upload_queue q;
	struct evict_log l = { 0 };
	char buf[256];

	sp_upload_queue_init(&q, 3, 1 << 20);
	for (int i = 1; i <= 6; i++)
		push(&q, item(100, i), &l);
	order(&q, buf, sizeof(buf));
	assert_string_equal(buf, "4,5,6");
	assert_int_equal(l.n, 3);
	assert_int_equal(l.tags[0], 1);
	assert_int_equal(l.tags[2], 3);
	assert_int_equal(q.mem_count, 3);
	assert_int_equal(q.mem_bytes, 300);
	sp_upload_queue_clear(&q);
}

static void test_drop_oldest_by_bytes(void **state)
{
	sp_upload_queue q;
	struct evict_log l = { 0 };
	char buf[256];

	sp_upload_queue_init(&q, 100, 1000);
	push(&q, item(400, 1), &l);
	push(&q, item(400, 2), &l);
	push(&q, item(100, 3), &l);
	assert_int_equal(l.n, 0);
	push(&q, item(500, 4), &l); /* needs 400 more: one eviction suffices */
	order(&q, buf, sizeof(buf));
	assert_string_equal(buf, "2,3,4");
	push(&q, item(900, 5), &l); /* evicts everything else */
	order(&q, buf, sizeof(buf));
	assert_string_equal(buf, "5");
	assert_int_equal(l.n, 4);
	assert_true(q.mem_bytes <= 1000);
	assert_true(q.peak_bytes <= 1000);
	sp_upload_queue_clear(&q);
}

static void test_in_flight_survives(void **state)
{
	sp_upload_queue q;
	struct evict_log l = { 0 };
	char buf[256];

	sp_upload_queue_init(&q, 2, 1 << 20);
	push(&q, item(10, 1), &l);
	push(&q, item(10, 2), &l);
	q.head->in_flight = true; /* being sent */
	push(&q, item(10, 3), &l);
	order(&q, buf, sizeof(buf));
	assert_string_equal(buf, "1,3");
	assert_int_equal(l.tags[0], 2);
	/* only in-flight items left: no room can be made */
	q.head->next->in_flight = true;
	assert_int_equal(sp_upload_queue_make_room(&q, 10, record_evict, &l), -1);
	assert_ptr_equal(sp_upload_queue_next(&q), NULL);
	sp_upload_queue_clear(&q);
}

static void test_spill_keeps_order(void **state)
{
	sp_upload_queue q;
	struct evict_log l = { .to_disk = 1 };
	sp_upload_item *d;
	char buf[256];

	sp_upload_queue_init(&q, 2, 1 << 20);
	for (int i = 1; i <= 4; i++)
		push(&q, item(10, i), &l);
	order(&q, buf, sizeof(buf));
	assert_string_equal(buf, "1d,2d,3,4");
	assert_int_equal(q.disk_count, 2);
	assert_int_equal(q.mem_count, 2);
	/* left over from an earlier run: before all in-memory items, after
	 * the disk items already at the front */
	d = sp_upload_item_new(strdup("tag=9"), NULL, 10, 1, "cpu");
	d->spill_path = strdup("/spill/old");
	sp_upload_queue_push_disk_front(&q, d);
	order(&q, buf, sizeof(buf));
	assert_string_equal(buf, "1d,2d,9d,3,4");
	assert_int_equal(tag_of(sp_upload_queue_oldest_disk(&q)), 1);
	assert_int_equal(tag_of(sp_upload_queue_oldest_mem(&q)), 3);
	assert_int_equal(tag_of(sp_upload_queue_next(&q)), 1);
	sp_upload_queue_clear(&q);
}

static void test_backoff(void **state)
{
	uint64_t rng = 42;
	long prev_max = 0;

	for (int attempt = 1; attempt <= 12; attempt++) {
		long upper = 1000L << (attempt - 1);
		long lo = 1L << 62, hi = 0;

		if (upper > 30000)
			upper = 30000;
		for (int i = 0; i < 200; i++) {
			long d = sp_backoff_ms(attempt, 1000, 30000, &rng);
			if (d < lo)
				lo = d;
			if (d > hi)
				hi = d;
		}
		/* equal jitter: within [upper/2, upper], and actually spread */
		assert_true(lo >= upper / 2);
		assert_true(hi <= upper);
		assert_true(hi > lo);
		assert_true(hi >= prev_max || upper == 30000);
		prev_max = hi;
	}
	assert_true(sp_backoff_ms(1000, 1000, 30000, &rng) <= 30000); /* no overflow */
	assert_int_equal(sp_backoff_ms(3, 1, 1, &rng), 1);
}

static void test_classify(void **state)
{
	assert_int_equal(sp_upload_classify(0, 200), SP_UPLOAD_OK);
	/* The Go SDK treats any other status as failure; not retrying a 204
	 * avoids duplicates if a proxy did take it. */
	assert_int_equal(sp_upload_classify(0, 204), SP_UPLOAD_REFUSED);
	assert_int_equal(sp_upload_classify(0, 429), SP_UPLOAD_RETRY);
	assert_int_equal(sp_upload_classify(0, 500), SP_UPLOAD_RETRY);
	assert_int_equal(sp_upload_classify(0, 503), SP_UPLOAD_RETRY);
	assert_int_equal(sp_upload_classify(0, 400), SP_UPLOAD_REFUSED);
	assert_int_equal(sp_upload_classify(0, 401), SP_UPLOAD_REFUSED);
	assert_int_equal(sp_upload_classify(0, 413), SP_UPLOAD_REFUSED);
	assert_int_equal(sp_upload_classify(0, 422), SP_UPLOAD_REFUSED);
	assert_int_equal(sp_upload_classify(0, 301), SP_UPLOAD_REFUSED);
	assert_int_equal(sp_upload_classify(7 /* couldn't connect */, 0), SP_UPLOAD_RETRY);
	assert_int_equal(sp_upload_classify(28 /* timeout */, 0), SP_UPLOAD_RETRY);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_drop_oldest_by_count),
		cmocka_unit_test(test_drop_oldest_by_bytes),
		cmocka_unit_test(test_in_flight_survives),
		cmocka_unit_test(test_spill_keeps_order),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_classify),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
