/* base/hashmap and base/hash: maps by number, by string and by an index
 * into the caller's array, removal checked against a plain array. */
#include <stdlib.h>

#include "test_util.h"

#include "base/hash.h"
#include "base/hashmap.h"

static void test_hash_bytes(void **state)
{
	static const char z[16] = { 0 };

	(void)state;
	/* The length counts: zero bytes do not vanish into the padding. */
	for (size_t a = 0; a < sizeof(z); a++)
		for (size_t b = a + 1; b <= sizeof(z); b++)
			assert_true(sp_hash_bytes(0, z, a) != sp_hash_bytes(0, z, b));
	assert_true(sp_hash_bytes(0, "abc", 3) == sp_hash_str("abc"));
	assert_true(sp_hash_bytes(1, "abc", 3) != sp_hash_bytes(2, "abc", 3));
	assert_true(sp_hash_str("main") != sp_hash_str("mian"));
	assert_true(sp_hash_add(sp_hash_add(0, 1), 2) != sp_hash_add(sp_hash_add(0, 2), 1));
}

static void test_u64(void **state)
{
	sp_hashmap m = { 0 };
	bool added;
	size_t pos = 0, seen = 0;
	sp_hashmap_ent *e;

	(void)state;
	assert_null(sp_hashmap_find_u64(&m, 0));
	assert_null(sp_hashmap_next(&m, &pos));
	/* Keys 0 and all-ones are ordinary keys; sequential keys stress
	 * clustering. */
	for (uint64_t k = 0; k < 20000; k++) {
		e = sp_hashmap_insert_u64(&m, k * 4096, &added);
		assert_non_null(e);
		assert_true(added);
		e->val.num = k + 1;
	}
	e = sp_hashmap_insert_u64(&m, UINT64_MAX, &added);
	assert_non_null(e);
	e->val.num = 7;
	assert_int_equal(m.n, 20001);
	assert_true(m.n * 4 <= m.cap * 3);
	for (uint64_t k = 0; k < 20000; k++) {
		e = sp_hashmap_find_u64(&m, k * 4096);
		assert_non_null(e);
		assert_int_equal(e->val.num, k + 1);
		assert_null(sp_hashmap_find_u64(&m, k * 4096 + 1));
	}
	e = sp_hashmap_insert_u64(&m, 4096, &added);
	assert_false(added);
	assert_int_equal(e->val.num, 2);
	assert_int_equal(sp_hashmap_find_u64(&m, UINT64_MAX)->val.num, 7);
	pos = 0;
	while ((e = sp_hashmap_next(&m, &pos)))
		seen++;
	assert_int_equal(seen, m.n);

	size_t cap = m.cap;
	sp_hashmap_clear(&m);
	assert_int_equal(m.n, 0);
	assert_int_equal(m.cap, cap);
	assert_null(sp_hashmap_find_u64(&m, 4096));
	assert_non_null(sp_hashmap_insert_u64(&m, 4096, NULL));
	assert_int_equal(sp_hashmap_find_u64(&m, 4096)->val.num, 0);
	sp_hashmap_free(&m);
	assert_null(m.e);
	assert_int_equal(m.cap, 0);
}

static void test_str(void **state)
{
	sp_hashmap m = { 0 };
	char keys[1000][16];
	bool added;

	(void)state;
	assert_null(sp_hashmap_find_str(&m, "x"));
	for (int i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "fn_%d", i);
		sp_hashmap_ent *e = sp_hashmap_insert_str(&m, keys[i], &added);
		assert_non_null(e);
		assert_true(added);
		e->val.ptr = keys[i];
	}
	for (int i = 0; i < 1000; i++) {
		char probe[16];

		/* A different buffer with the same bytes finds the entry. */
		snprintf(probe, sizeof(probe), "fn_%d", i);
		sp_hashmap_ent *e = sp_hashmap_find_str(&m, probe);
		assert_non_null(e);
		assert_ptr_equal(e->val.ptr, keys[i]);
		assert_false(sp_hashmap_insert_str(&m, probe, &added) == NULL);
		assert_false(added);
	}
	assert_null(sp_hashmap_find_str(&m, "fn_1000"));
	assert_null(sp_hashmap_find_str(&m, ""));
	assert_non_null(sp_hashmap_insert_str(&m, "", &added));
	assert_true(added);
	assert_non_null(sp_hashmap_find_str(&m, ""));
	assert_int_equal(m.n, 1001);
	sp_hashmap_free(&m);
}

/* An interning index: the map holds indices into `pts`, hashed and
 * compared by their contents. */
struct pt {
	int x, y;
};

static struct pt pts[512];

static uint64_t pt_hash(const struct pt *p)
{
	return sp_hash_bytes(0, p, sizeof(*p));
}

static bool pt_eq(const sp_hashmap_ent *e, const void *probe)
{
	const struct pt *a = &pts[e->key], *b = probe;

	return a->x == b->x && a->y == b->y;
}

static void test_index(void **state)
{
	sp_hashmap m = { 0 };
	size_t n = 0;

	(void)state;
	assert_int_equal(sp_hashmap_reserve(&m, 300), 0);
	size_t cap = m.cap;
	assert_true(cap * 3 >= 300 * 4);
	for (int round = 0; round < 2; round++)
		for (int x = 0; x < 16; x++)
			for (int y = 0; y < 16; y++) {
				struct pt k = { x, y };
				uint64_t h = pt_hash(&k);
				sp_hashmap_ent *e = sp_hashmap_find(&m, h, pt_eq, &k);

				if (round) {
					assert_non_null(e);
					assert_int_equal(pts[e->key].x, x);
					assert_int_equal(pts[e->key].y, y);
					continue;
				}
				assert_null(e);
				pts[n] = k;
				assert_non_null(sp_hashmap_add(&m, h, n));
				n++;
			}
	assert_int_equal(m.n, 256);
	assert_int_equal(m.cap, cap); /* reserved: no growth */
	sp_hashmap_free(&m);
}

/* Random adds and removes against a presence array; every key checked
 * after each step, in a small table so that clusters wrap around. */
static void test_remove(void **state)
{
	enum { KEYS = 96 };
	sp_hashmap m = { 0 };
	bool in[KEYS] = { 0 };
	size_t n = 0;

	(void)state;
	srand(12345);
	for (int step = 0; step < 20000; step++) {
		uint64_t k = (uint64_t)(rand() % KEYS);

		if (in[k]) {
			sp_hashmap_ent *e = sp_hashmap_find_u64(&m, k);
			assert_non_null(e);
			assert_int_equal(e->val.num, k * 3);
			sp_hashmap_remove(&m, e);
			in[k] = false;
			n--;
		} else {
			bool added;
			sp_hashmap_ent *e = sp_hashmap_insert_u64(&m, k, &added);
			assert_non_null(e);
			assert_true(added);
			e->val.num = k * 3;
			in[k] = true;
			n++;
		}
		assert_int_equal(m.n, n);
		for (uint64_t j = 0; j < KEYS; j++) {
			sp_hashmap_ent *e = sp_hashmap_find_u64(&m, j);
			if (in[j]) {
				assert_non_null(e);
				assert_int_equal(e->val.num, j * 3);
			} else {
				assert_null(e);
			}
		}
	}
	/* Remove everything through iteration, restarting after each remove
	 * (positions are invalid after one). */
	for (;;) {
		size_t pos = 0;
		sp_hashmap_ent *e = sp_hashmap_next(&m, &pos);
		if (!e)
			break;
		sp_hashmap_remove(&m, e);
	}
	assert_int_equal(m.n, 0);
	sp_hashmap_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hash_bytes),
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_str),
		cmocka_unit_test(test_index),
		cmocka_unit_test(test_remove),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
