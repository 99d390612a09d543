/*
 * tests/unit/test_idset.c - the in-memory id set behind claims, check and
 * diff: every inserted id is found again across growth, removal (backward
 * shift) never hides another id, values survive growth, and iteration
 * visits each id exactly once.  Some tests craft ids whose first 8 bytes
 * (the hash) put them into one probe cluster that wraps around the end of
 * the table, which is where backward-shift deletion goes wrong.
 */
#include "hash/idset.h"
#include "arca/error.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N_BIG 100000

/* A distinct, uniformly distributed id per index (splitmix64 of it: as
 * random-looking as a SHA-256 for the table, and much cheaper). */
static arca_id id_of(uint32_t i)
{
	arca_id id;
	uint64_t z = (uint64_t)i * 4;
	for (int k = 0; k < 4; k++) {
		uint64_t x = (z + (uint64_t)k + 1) * 0x9E3779B97F4A7C15ull;
		x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
		x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
		x ^= x >> 31;
		memcpy(id.b + 8 * k, &x, sizeof(x));
	}
	return id;
}

/* An id whose hash (first 8 bytes, little-endian) is h; tag makes it unique. */
static arca_id id_home(uint64_t h, uint32_t tag)
{
	arca_id id;
	memset(&id, 0, sizeof(id));
	memcpy(id.b, &h, sizeof(h));
	memcpy(id.b + 8, &tag, sizeof(tag));
	id.b[31] = 0x5a;
	return id;
}

static void test_empty(void **state)
{
	arca_idset s = ARCA_IDSET_INIT;
	arca_id a = id_of(1);
	const arca_id *id;
	size_t pos = 0;
	assert_false(arca_idset_contains(&s, &a));
	assert_null(arca_idset_get(&s, &a));
	assert_false(arca_idset_remove(&s, &a));
	assert_false(arca_idset_next(&s, &pos, &id, NULL));
	arca_idset_free(&s);
	arca_idset_free(&s);
}

static void test_insert_contains_100k(void **state)
{
	arca_idset s;
	uint32_t i;
	arca_idset_init(&s, 0);
	for (i = 0; i < N_BIG; i++) {
		arca_id id = id_of(i);
		void *val = (void *)1;
		assert_int_equal(arca_idset_insert(&s, &id, &val), 1);
		assert_null(val); /* no value slot when val_size is 0 */
	}
	assert_int_equal(s.count, N_BIG);
	assert_true(s.cap >= N_BIG); /* it grew */
	for (i = 0; i < N_BIG; i++) {
		arca_id id = id_of(i);
		assert_true(arca_idset_contains(&s, &id));
		assert_int_equal(arca_idset_insert(&s, &id, NULL), 0); /* already there */
	}
	assert_int_equal(s.count, N_BIG);
	for (i = N_BIG; i < N_BIG + 20000; i++) {
		arca_id id = id_of(i);
		assert_false(arca_idset_contains(&s, &id));
	}
	arca_idset_free(&s);
	assert_int_equal(s.count, 0);
}

static void test_remove_many(void **state)
{
	arca_idset s;
	uint32_t i;
	arca_idset_init(&s, 0);
	for (i = 0; i < N_BIG; i++) {
		arca_id id = id_of(i);
		assert_int_equal(arca_idset_insert(&s, &id, NULL), 1);
	}
	/* remove two thirds, in an order unrelated to the table layout */
	for (i = 0; i < N_BIG; i++) {
		arca_id id = id_of(i);
		if (i % 3 != 0)
			assert_true(arca_idset_remove(&s, &id));
	}
	for (i = 0; i < N_BIG; i++) {
		arca_id id = id_of(i);
		if (i % 3 == 0)
			assert_true(arca_idset_contains(&s, &id));
		else
			assert_false(arca_idset_contains(&s, &id));
	}
	assert_int_equal(s.count, (N_BIG + 2) / 3);
	/* removing again is a no-op, and removed ids can come back */
	{
		arca_id id = id_of(1);
		assert_false(arca_idset_remove(&s, &id));
		assert_int_equal(arca_idset_insert(&s, &id, NULL), 1);
		assert_true(arca_idset_contains(&s, &id));
	}
	arca_idset_free(&s);
}

/*
 * One dense cluster that wraps from the last slot to slot 0: homes at
 * cap-3 .. cap-1 and 0 .. 1 (cap is 1024 after the first insert).  Remove
 * every single id in turn from a fresh set, then remove all of them in a
 * scrambled order, checking after each removal that every other id is
 * still found.
 */
#define CL 24
static void build_cluster(arca_idset *s, arca_id *ids)
{
	static const uint64_t homes[] = { 1021, 1022, 1023, 0, 1, 1023, 1021, 0 };
	size_t i;
	arca_idset_init(s, sizeof(uint32_t));
	for (i = 0; i < CL; i++) {
		void *val;
		/* high hash bits differ, the home slot does not */
		ids[i] = id_home(homes[i % 8] + ((uint64_t)(i % 3) << 20), (uint32_t)i);
		assert_int_equal(arca_idset_insert(s, &ids[i], &val), 1);
		memcpy(val, &(uint32_t){ (uint32_t)i }, sizeof(uint32_t));
	}
	assert_int_equal(s->cap, 1024); /* the cluster really is in one table */
}

static void assert_exactly(const arca_idset *s, const arca_id *ids, const bool *present)
{
	size_t i;
	for (i = 0; i < CL; i++) {
		void *v = arca_idset_get(s, &ids[i]);
		if (present[i]) {
			uint32_t got;
			if (!v)
				fail_msg("id %zu lost after a removal", i);
			memcpy(&got, v, sizeof(got)); /* values are not aligned */
			assert_int_equal(got, i);
		} else {
			assert_null(v);
			assert_false(arca_idset_contains(s, &ids[i]));
		}
	}
}

static void test_remove_backward_shift_wraps(void **state)
{
	arca_idset s;
	arca_id ids[CL];
	bool present[CL];
	size_t k, i;
	static const size_t order[CL] = { 5, 0, 23, 11, 3, 17, 8, 1, 20, 14, 2, 9,
					  22, 6, 16, 12, 4, 19, 7, 15, 10, 21, 13, 18 };
	for (k = 0; k < CL; k++) {
		build_cluster(&s, ids);
		for (i = 0; i < CL; i++)
			present[i] = true;
		assert_true(arca_idset_remove(&s, &ids[k]));
		present[k] = false;
		assert_exactly(&s, ids, present);
		assert_int_equal(s.count, CL - 1);
		arca_idset_free(&s);
	}
	build_cluster(&s, ids);
	for (i = 0; i < CL; i++)
		present[i] = true;
	for (k = 0; k < CL; k++) {
		assert_true(arca_idset_remove(&s, &ids[order[k]]));
		present[order[k]] = false;
		assert_exactly(&s, ids, present);
	}
	assert_int_equal(s.count, 0);
	/* nothing left behind in the table */
	{
		size_t pos = 0;
		const arca_id *id;
		assert_false(arca_idset_next(&s, &pos, &id, NULL));
	}
	arca_idset_free(&s);
}

/* Value slots follow the 33-byte key part: not aligned, so memcpy. */
static uint64_t get64(const void *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static void test_values_survive_growth(void **state)
{
	arca_idset s;
	uint32_t i;
	arca_idset_init(&s, sizeof(uint64_t));
	for (i = 0; i < 50000; i++) {
		arca_id id = id_of(i);
		void *val = NULL;
		uint64_t v = (uint64_t)i * 1000003u + 7;
		assert_int_equal(arca_idset_insert(&s, &id, &val), 1);
		assert_non_null(val);
		assert_true(get64(val) == 0); /* a new value starts zeroed */
		memcpy(val, &v, sizeof(v));
	}
	for (i = 0; i < 50000; i++) {
		arca_id id = id_of(i);
		void *v = arca_idset_get(&s, &id);
		void *val = NULL;
		assert_non_null(v);
		assert_true(get64(v) == (uint64_t)i * 1000003u + 7);
		/* inserting an existing id hands back its value unchanged */
		assert_int_equal(arca_idset_insert(&s, &id, &val), 0);
		assert_ptr_equal(val, v);
		assert_true(get64(val) == (uint64_t)i * 1000003u + 7);
	}
	/* values move with their ids during backward shifts */
	for (i = 0; i < 50000; i += 2) {
		arca_id id = id_of(i);
		assert_true(arca_idset_remove(&s, &id));
	}
	for (i = 1; i < 50000; i += 2) {
		arca_id id = id_of(i);
		void *v = arca_idset_get(&s, &id);
		assert_non_null(v);
		assert_true(get64(v) == (uint64_t)i * 1000003u + 7);
	}
	{
		arca_id id = id_of(0);
		assert_null(arca_idset_get(&s, &id));
	}
	arca_idset_free(&s);
}

static void test_iteration(void **state)
{
	enum { N = 30000 };
	arca_idset s;
	uint8_t *seen = calloc(N, 1);
	const arca_id *id;
	void *val;
	size_t pos, visits;
	uint32_t i;
	assert_non_null(seen);
	arca_idset_init(&s, sizeof(uint32_t));
	for (i = 0; i < N; i++) {
		arca_id x = id_of(i);
		assert_int_equal(arca_idset_insert(&s, &x, &val), 1);
		memcpy(val, &i, sizeof(i));
	}
	for (i = 0; i < N; i += 5) {
		arca_id x = id_of(i);
		assert_true(arca_idset_remove(&s, &x));
	}
	visits = 0;
	for (pos = 0; arca_idset_next(&s, &pos, &id, &val);) {
		uint32_t v;
		arca_id want;
		memcpy(&v, val, sizeof(v));
		assert_true(v < N);
		want = id_of(v);
		assert_memory_equal(id->b, want.b, ARCA_ID_LEN); /* value belongs to its id */
		seen[v]++;
		visits++;
	}
	assert_int_equal(visits, s.count);
	for (i = 0; i < N; i++)
		assert_int_equal(seen[i], i % 5 == 0 ? 0 : 1);
	/* iteration can be called again at the end and stays finished */
	assert_false(arca_idset_next(&s, &pos, &id, NULL));
	arca_idset_free(&s);
	free(seen);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_insert_contains_100k),
		cmocka_unit_test(test_remove_many),
		cmocka_unit_test(test_remove_backward_shift_wraps),
		cmocka_unit_test(test_values_survive_growth),
		cmocka_unit_test(test_iteration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
