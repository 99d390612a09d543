/*
 * tests/unit/test_chunker.c - content-defined chunking: boundaries are
 * deterministic, sized within [min, max], average near avg, survive an
 * insertion (the point of CDC: an edit near the start must not change every
 * later chunk), depend on the secret seed, and do not depend on how the
 * input is fed.  Plus the exact gear expansion and the parameter checks.
 */
#include "chunker/chunker.h"
#include "arca/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Small parameters keep the tests fast while exercising every path. */
#define T_MIN 2048u
#define T_AVG 8192u
#define T_MAX 65536u
#define T_DATA (8u << 20)

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s * UINT64_C(0x2545F4914F6CDD1D);
}

static uint8_t *random_data(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n);
	uint64_t s = seed | 1;
	assert_non_null(p);
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_next(&s);
		for (size_t k = 0; k < 8 && i + k < n; k++)
			p[i + k] = (uint8_t)(v >> (8 * k));
	}
	return p;
}

static arca_chunker *make_chunker(uint8_t seed_byte)
{
	arca_chunker_params p = { T_MIN, T_AVG, T_MAX };
	uint8_t seed[32];
	uint64_t gear[256];
	arca_chunker *c = NULL;

	memset(seed, seed_byte, sizeof(seed));
	arca_chunker_gear_from_seed(gear, seed);
	assert_int_equal(arca_chunker_new(&c, &p, gear), 0);
	assert_non_null(c);
	return c;
}

typedef struct cuts {
	size_t *end; /* end offset of each chunk */
	size_t n;
} cuts;

/* Chunk a whole in-memory buffer: every call sees all remaining bytes. */
static cuts chunk_all(const arca_chunker *c, const uint8_t *d, size_t n)
{
	cuts r = { malloc(sizeof(size_t) * (n / T_MIN + 2)), 0 };
	size_t off = 0;
	assert_non_null(r.end);
	while (off < n) {
		size_t k = arca_chunker_next(c, d + off, n - off, true);
		assert_true(k > 0 && k <= n - off);
		off += k;
		r.end[r.n++] = off;
	}
	return r;
}

static void test_deterministic_and_bounded(void **state)
{
	arca_chunker *c = make_chunker(1);
	uint8_t *d = random_data(T_DATA, 11);
	cuts a = chunk_all(c, d, T_DATA), b = chunk_all(c, d, T_DATA);
	size_t prev = 0;
	double mean;

	assert_int_equal(a.n, b.n);
	assert_memory_equal(a.end, b.end, a.n * sizeof(size_t));
	assert_int_equal(a.end[a.n - 1], T_DATA);
	for (size_t i = 0; i < a.n; i++) {
		size_t len = a.end[i] - prev;
		assert_true(len <= T_MAX);
		if (i + 1 < a.n)
			assert_true(len > T_MIN);
		prev = a.end[i];
	}
	mean = (double)T_DATA / (double)a.n;
	assert_true(mean >= T_AVG / 2.0);
	assert_true(mean <= T_AVG * 2.0);
	free(a.end);
	free(b.end);
	free(d);
	arca_chunker_free(c);
}

static size_t count_common(const cuts *a, const cuts *b, long shift_b)
{
	size_t i = 0, j = 0, common = 0;
	while (i < a->n && j < b->n) {
		long x = (long)a->end[i], y = (long)b->end[j] + shift_b;
		if (x == y) {
			common++;
			i++;
			j++;
		} else if (x < y) {
			i++;
		} else {
			j++;
		}
	}
	return common;
}

static void test_insertion_resynchronises(void **state)
{
	arca_chunker *c = make_chunker(2);
	const size_t ins = 7, at = 1000;
	uint8_t *d = random_data(T_DATA, 12);
	uint8_t *e = malloc(T_DATA + ins);
	cuts a, b;
	size_t common;

	assert_non_null(e);
	memcpy(e, d, at);
	memset(e + at, 0xab, ins);
	memcpy(e + at + ins, d + at, T_DATA - at);
	a = chunk_all(c, d, T_DATA);
	b = chunk_all(c, e, T_DATA + ins);
	/* Boundaries after the edit, shifted back, line up with the original
	 * ones: all but the first chunk or two are shared. */
	common = count_common(&a, &b, -(long)ins);
	assert_true(a.n > 500);
	assert_true(common + 3 >= a.n);
	free(a.end);
	free(b.end);
	free(d);
	free(e);
	arca_chunker_free(c);
}

static void test_seed_changes_boundaries(void **state)
{
	arca_chunker *c1 = make_chunker(3), *c2 = make_chunker(4);
	uint8_t *d = random_data(T_DATA / 2, 13);
	cuts a = chunk_all(c1, d, T_DATA / 2), b = chunk_all(c2, d, T_DATA / 2);

	/* Random boundaries coincide by chance only rarely. */
	assert_true(count_common(&a, &b, 0) * 10 < a.n);
	free(a.end);
	free(b.end);
	free(d);
	arca_chunker_free(c1);
	arca_chunker_free(c2);
}

/* Feed the input through a window refilled by random amounts, as a reader
 * of a file would, and record the boundaries. */
static cuts chunk_streamed(const arca_chunker *c, const uint8_t *d, size_t n, uint64_t seed,
			   size_t max_refill)
{
	cuts r = { malloc(sizeof(size_t) * (n / T_MIN + 2)), 0 };
	size_t start = 0, filled = 0;
	uint64_t s = seed | 1;
	assert_non_null(r.end);

	while (start < n) {
		bool eof = filled == n;
		size_t avail = filled - start;
		size_t k = arca_chunker_next(c, d + start, avail, eof);
		if (k == 0) {
			/* Only allowed when more input could change the answer. */
			assert_false(eof && avail > 0);
			assert_true(avail < T_MAX);
			size_t more = 1 + (size_t)(rng_next(&s) % max_refill);
			filled = filled + more < n ? filled + more : n;
			continue;
		}
		assert_true(k <= avail);
		start += k;
		r.end[r.n++] = start;
	}
	return r;
}

static void test_streaming_matches_whole_buffer(void **state)
{
	arca_chunker *c = make_chunker(5);
	const size_t n = 2u << 20;
	uint8_t *d = random_data(n, 14);
	cuts whole = chunk_all(c, d, n);
	const size_t refills[] = { 100, 5000, 3 * T_MAX };

	for (size_t i = 0; i < sizeof(refills) / sizeof(refills[0]); i++) {
		cuts s = chunk_streamed(c, d, n, 99 + i, refills[i]);
		assert_int_equal(s.n, whole.n);
		assert_memory_equal(s.end, whole.end, s.n * sizeof(size_t));
		free(s.end);
	}
	free(whole.end);
	free(d);
	arca_chunker_free(c);
}

static void test_next_edge_cases(void **state)
{
	arca_chunker_params p = { T_MIN, T_AVG, T_MAX };
	uint64_t gear[256];
	arca_chunker *c = NULL;
	uint8_t *d = random_data(2 * T_MAX, 15);

	/* A gear whose hash keeps its top bit set never finds a cut. */
	for (int i = 0; i < 256; i++)
		gear[i] = UINT64_C(1) << 63;
	assert_int_equal(arca_chunker_new(&c, &p, gear), 0);
	assert_int_equal(arca_chunker_next(c, d, 0, false), 0);
	assert_int_equal(arca_chunker_next(c, d, 0, true), 0);
	assert_int_equal(arca_chunker_next(c, d, 10, false), 0);
	assert_int_equal(arca_chunker_next(c, d, 10, true), 10);
	assert_int_equal(arca_chunker_next(c, d, T_MIN, true), T_MIN);
	assert_int_equal(arca_chunker_next(c, d, T_MAX - 1, false), 0);
	assert_int_equal(arca_chunker_next(c, d, T_MAX - 1, true), T_MAX - 1);
	/* Forced cut at max, with or without eof. */
	assert_int_equal(arca_chunker_next(c, d, T_MAX, false), T_MAX);
	assert_int_equal(arca_chunker_next(c, d, 2 * T_MAX, false), T_MAX);
	assert_int_equal(arca_chunker_next(c, d, 2 * T_MAX, true), T_MAX);
	arca_chunker_free(c);

	/* A hash that is always zero cuts as early as allowed: just past min. */
	memset(gear, 0, sizeof(gear));
	assert_int_equal(arca_chunker_new(&c, &p, gear), 0);
	assert_int_equal(arca_chunker_next(c, d, 2 * T_MAX, false), T_MIN + 1);
	assert_int_equal(arca_chunker_next(c, d, T_MIN + 1, false), T_MIN + 1);
	assert_int_equal(arca_chunker_next(c, d, T_MIN, false), 0);
	arca_chunker_free(c);
	free(d);
}

static void test_gear_from_seed_is_splitmix64(void **state)
{
	uint8_t seed[32];
	uint64_t g1[256], g2[256];

	/* All-zero seed: the SplitMix64 stream from state 0 in every lane. */
	memset(seed, 0, sizeof(seed));
	arca_chunker_gear_from_seed(g1, seed);
	assert_true(g1[0] == UINT64_C(0xE220A8397B1DCDAF));
	assert_true(g1[3] == UINT64_C(0xE220A8397B1DCDAF));
	assert_true(g1[4] == UINT64_C(0x6E789E6AA1B965F4));

	/* Seed bytes 0..31: lanes are the four little-endian words. Values
	 * from an independent implementation of the algorithm in chunker.c. */
	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	arca_chunker_gear_from_seed(g1, seed);
	assert_true(g1[0] == UINT64_C(0xea3c324570509d0d));
	assert_true(g1[1] == UINT64_C(0x5965ba58cd32d5d9));
	assert_true(g1[2] == UINT64_C(0xfa9d149a078da551));
	assert_true(g1[3] == UINT64_C(0xb3827ebcaa535af6));
	assert_true(g1[4] == UINT64_C(0xd578c512c4e018b2));
	assert_true(g1[255] == UINT64_C(0x676c820da08fc06a));

	/* Deterministic; one flipped seed bit changes the table. */
	arca_chunker_gear_from_seed(g2, seed);
	assert_memory_equal(g1, g2, sizeof(g1));
	seed[31] ^= 0x80;
	arca_chunker_gear_from_seed(g2, seed);
	assert_memory_not_equal(g1, g2, sizeof(g1));
}

static void test_golden_boundaries(void **state)
{
	/* Boundaries from an independent implementation of the cut rule and
	 * gear expansion documented in chunker.c (seed bytes 0..31, min 64,
	 * avg 256, max 1024, 16 KiB of test data with a zero run that forces
	 * max-size cuts).  If this changes, dedup against existing
	 * repositories breaks: treat it as a format change. */
	static const size_t want[] = {
		300, 589, 787, 1064, 1442, 1742, 2044, 2313, 2632, 2913, 3189, 3469, 3792,
		4093, 4209, 4492, 4761, 5074, 5303, 5619, 5878, 6902, 7926, 8950, 9286,
		9609, 9915, 10176, 10667, 11005, 11293, 11689, 12104, 12372, 12575, 12728,
		13012, 13274, 13550, 13880, 14236, 14529, 14837, 14943, 15275, 15546,
		15749, 16022, 16326, 16384,
	};
	arca_chunker_params p = { 64, 256, 1024 };
	uint8_t seed[32];
	uint64_t gear[256];
	arca_chunker *c = NULL;
	uint8_t *d = random_data(16384, 2024);
	size_t off = 0, n = 0;

	for (int i = 0; i < 32; i++)
		seed[i] = (uint8_t)i;
	memset(d + 6000, 0, 3000);
	arca_chunker_gear_from_seed(gear, seed);
	assert_int_equal(arca_chunker_new(&c, &p, gear), 0);
	while (off < 16384) {
		off += arca_chunker_next(c, d + off, 16384 - off, true);
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_int_equal(off, want[n]);
		n++;
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	arca_chunker_free(c);
	free(d);
}

static void expect_bad_params(uint32_t min, uint32_t avg, uint32_t max, const char *named)
{
	arca_chunker_params p = { min, avg, max };
	uint64_t gear[256] = { 0 };
	arca_chunker *c = (arca_chunker *)&p; /* must be reset to NULL */

	assert_int_equal(arca_chunker_params_check(&p), ARCA_INVAL);
	if (!strstr(arca_error_message(), named))
		fail_msg("message \"%s\" does not name %s", arca_error_message(), named);
	assert_int_equal(arca_chunker_new(&c, &p, gear), ARCA_INVAL);
	assert_null(c);
}

static void test_params_check(void **state)
{
	arca_chunker_params p = { ARCA_CHUNKER_DEFAULT_MIN, ARCA_CHUNKER_DEFAULT_AVG,
				  ARCA_CHUNKER_DEFAULT_MAX };
	assert_int_equal(arca_chunker_params_check(&p), 0);
	p = (arca_chunker_params){ 64, 128, 129 };
	assert_int_equal(arca_chunker_params_check(&p), 0);
	p = (arca_chunker_params){ 1u << 20, 1u << 25, 64u << 20 };
	assert_int_equal(arca_chunker_params_check(&p), 0);
	assert_int_equal(arca_chunker_params_check(NULL), ARCA_INVAL);

	expect_bad_params(63, 128, 256, "63");
	expect_bad_params(0, 128, 256, "min");
	expect_bad_params(64, 96, 256, "96");
	expect_bad_params(64, 0, 256, "average");
	expect_bad_params(128, 128, 256, "128");
	expect_bad_params(4096, 2048, 8192, "4096");
	expect_bad_params(64, 256, 256, "max");
	expect_bad_params(64, 1024, 512, "512");
	expect_bad_params(1024, 4096, (64u << 20) + 1, "67108865");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deterministic_and_bounded),
		cmocka_unit_test(test_insertion_resynchronises),
		cmocka_unit_test(test_seed_changes_boundaries),
		cmocka_unit_test(test_streaming_matches_whole_buffer),
		cmocka_unit_test(test_next_edge_cases),
		cmocka_unit_test(test_gear_from_seed_is_splitmix64),
		cmocka_unit_test(test_golden_boundaries),
		cmocka_unit_test(test_params_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
