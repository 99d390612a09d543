/*
 * tests/unit/test_hash.c - content ids: known answers for SHA-256 and
 * HMAC-SHA-256 (FIPS 180 examples, RFC 4231), streaming equals one-shot,
 * the keyed/unkeyed id function, and the hex form.
 */
#include "hash/hash.h"
#include "arca/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_id_hex(const arca_id *id, const char *want)
{
	char hex[ARCA_ID_HEX_LEN + 1];
	arca_id_hex(hex, id);
	assert_string_equal(hex, want);
}

static void fill_random(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)(s >> 24);
	}
}

static void test_sha256_known_answers(void **state)
{
	arca_id id;
	arca_sha256(&id, "abc", 3);
	assert_id_hex(&id, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	arca_sha256(&id, "", 0);
	assert_id_hex(&id, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	arca_sha256(&id, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56);
	assert_id_hex(&id, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void test_sha256_stream_matches_oneshot(void **state)
{
	const size_t n = 1000000;
	uint8_t *a = malloc(n), *r = malloc(n);
	arca_sha256_ctx *c = NULL;
	arca_id one, streamed;
	size_t off = 0, step = 1;

	assert_non_null(a);
	assert_non_null(r);
	memset(a, 'a', n);
	assert_int_equal(arca_sha256_new(&c), 0);
	assert_non_null(c);
	/* FIPS 180-2: one million 'a', fed in uneven pieces. */
	while (off < n) {
		size_t k = step < n - off ? step : n - off;
		arca_sha256_update(c, a + off, k);
		off += k;
		step = step * 3 + 1;
	}
	arca_sha256_final(c, &streamed);
	assert_id_hex(&streamed, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");

	/* The context is reusable after final, and agrees with one-shot. */
	fill_random(r, n, 42);
	arca_sha256(&one, r, n);
	arca_sha256_update(c, r, 17);
	arca_sha256_update(c, r + 17, 0);
	arca_sha256_update(c, r + 17, n - 17);
	arca_sha256_final(c, &streamed);
	assert_true(arca_id_eq(&one, &streamed));

	arca_sha256_update(c, "abc", 3);
	arca_sha256_final(c, &streamed);
	assert_id_hex(&streamed, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");

	arca_sha256_free(c);
	arca_sha256_free(NULL);
	free(a);
	free(r);
}

static void test_hmac_rfc4231(void **state)
{
	arca_id id;
	uint8_t key[131];
	static const char big_key_msg[] = "Test Using Larger Than Block-Size Key - Hash Key First";

	/* Test case 1. */
	memset(key, 0x0b, 20);
	arca_hmac_sha256(&id, key, 20, "Hi There", 8);
	assert_id_hex(&id, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* Test case 2. */
	arca_hmac_sha256(&id, (const uint8_t *)"Jefe", 4, "what do ya want for nothing?", 28);
	assert_id_hex(&id, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* Test case 6: a key longer than the block is hashed first. */
	memset(key, 0xaa, sizeof(key));
	arca_hmac_sha256(&id, key, sizeof(key), big_key_msg, strlen(big_key_msg));
	assert_id_hex(&id, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	/* Empty key, empty message. */
	arca_hmac_sha256(&id, NULL, 0, "", 0);
	assert_id_hex(&id, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_idfn(void **state)
{
	uint8_t key[32];
	arca_idfn plain, keyed, keyed2;
	arca_id a, b, c;
	static const char msg[] = "chunk contents";

	fill_random(key, sizeof(key), 7);
	arca_idfn_init(&plain, NULL);
	arca_idfn_init(&keyed, key);
	assert_false(plain.keyed);
	assert_true(keyed.keyed);

	arca_idfn_compute(&plain, &a, msg, sizeof(msg));
	arca_sha256(&b, msg, sizeof(msg));
	assert_true(arca_id_eq(&a, &b));

	arca_idfn_compute(&keyed, &a, msg, sizeof(msg));
	arca_hmac_sha256(&b, key, sizeof(key), msg, sizeof(msg));
	assert_true(arca_id_eq(&a, &b));
	arca_idfn_compute(&plain, &c, msg, sizeof(msg));
	assert_false(arca_id_eq(&a, &c));

	/* The key is copied in: changing the caller's copy changes nothing. */
	key[0] ^= 1;
	arca_idfn_compute(&keyed, &c, msg, sizeof(msg));
	assert_true(arca_id_eq(&a, &c));
	/* ...and a different key gives a different id. */
	arca_idfn_init(&keyed2, key);
	arca_idfn_compute(&keyed2, &c, msg, sizeof(msg));
	assert_false(arca_id_eq(&a, &c));
}

static void test_hex_round_trip(void **state)
{
	arca_id id, back;
	char hex[ARCA_ID_HEX_LEN + 1];
	char upper[ARCA_ID_HEX_LEN + 1];

	for (int i = 0; i < 32; i++) {
		fill_random(id.b, sizeof(id.b), (uint64_t)i + 100);
		if (i == 0)
			memset(id.b, 0xff, sizeof(id.b));
		arca_id_hex(hex, &id);
		assert_int_equal(strlen(hex), ARCA_ID_HEX_LEN);
		for (int k = 0; k < ARCA_ID_HEX_LEN; k++)
			assert_true((hex[k] >= '0' && hex[k] <= '9') || (hex[k] >= 'a' && hex[k] <= 'f'));
		memset(&back, 0, sizeof(back));
		assert_int_equal(arca_id_parse(&back, hex), 0);
		assert_true(arca_id_eq(&id, &back));
	}
	/* Upper case parses to the same id. */
	for (int k = 0; k <= ARCA_ID_HEX_LEN; k++)
		upper[k] = (char)(hex[k] >= 'a' && hex[k] <= 'f' ? hex[k] - 'a' + 'A' : hex[k]);
	memset(&back, 0, sizeof(back));
	assert_int_equal(arca_id_parse(&back, upper), 0);
	assert_true(arca_id_eq(&id, &back));
}

static void expect_bad_hex(const char *s)
{
	arca_id id, before;
	memset(&id, 0x5a, sizeof(id));
	before = id;
	arca_error_clear();
	assert_int_equal(arca_id_parse(&id, s), ARCA_INVAL);
	assert_int_equal(arca_error_code(), ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "invalid id"));
	/* A failed parse leaves the output alone. */
	assert_memory_equal(&id, &before, sizeof(id));
}

static void test_hex_rejects(void **state)
{
	const char *good = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
	char s[80];

	expect_bad_hex(NULL);
	expect_bad_hex("");
	expect_bad_hex("ba7816bf");
	/* 63 and 65 characters. */
	memcpy(s, good, 63);
	s[63] = '\0';
	expect_bad_hex(s);
	snprintf(s, sizeof(s), "%s0", good);
	expect_bad_hex(s);
	/* A non-hex character at the start, middle and end. */
	for (int pos = 0; pos < ARCA_ID_HEX_LEN; pos += 21) {
		const char bad[] = { 'g', ' ', 'x', '-' };
		for (size_t b = 0; b < sizeof(bad); b++) {
			memcpy(s, good, ARCA_ID_HEX_LEN + 1);
			s[pos] = bad[b];
			expect_bad_hex(s);
		}
	}
	memcpy(s, good, ARCA_ID_HEX_LEN + 1);
	s[ARCA_ID_HEX_LEN - 1] = 'z';
	expect_bad_hex(s);
	assert_non_null(strstr(arca_error_message(), "character 64"));
}

static void test_compare_and_zero(void **state)
{
	arca_id a, b;
	memset(&a, 0, sizeof(a));
	assert_true(arca_id_is_zero(&a));
	b = a;
	b.b[31] = 1;
	assert_false(arca_id_is_zero(&b));
	assert_true(arca_id_cmp(&a, &b) < 0);
	assert_true(arca_id_cmp(&b, &a) > 0);
	assert_int_equal(arca_id_cmp(&a, &a), 0);
	/* Byte order: the first byte is most significant. */
	a.b[0] = 1;
	assert_true(arca_id_cmp(&a, &b) > 0);
	assert_false(arca_id_eq(&a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_known_answers),
		cmocka_unit_test(test_sha256_stream_matches_oneshot),
		cmocka_unit_test(test_hmac_rfc4231),
		cmocka_unit_test(test_idfn),
		cmocka_unit_test(test_hex_round_trip),
		cmocka_unit_test(test_hex_rejects),
		cmocka_unit_test(test_compare_and_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
