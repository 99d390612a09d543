/*
 * tests/unit/test_crypto.c - AEAD round trips for every cipher id, any
 * tampering (ciphertext, tag, nonce, associated data, key, length) refused
 * as corrupt with nothing appended, fresh nonces, Argon2id against the
 * reference implementation, parameter limits, and key memory helpers.
 */
#include "crypto/crypto.h"
#include "arca/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

static const unsigned cipher_ids[] = { ARCA_CIPHER_NONE, ARCA_CIPHER_XCHACHA20_POLY1305,
				       ARCA_CIPHER_AES256_GCM };
static const unsigned aead_ids[] = { ARCA_CIPHER_XCHACHA20_POLY1305, ARCA_CIPHER_AES256_GCM };

static int setup(void **state)
{
	return arca_crypto_init();
}

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t s = seed | 1;
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)(s >> 32);
	}
}

static void test_cipher_table(void **state)
{
	const arca_cipher *c;

	assert_int_equal(arca_crypto_init(), 0); /* idempotent */
	c = arca_cipher_by_id(ARCA_CIPHER_NONE);
	assert_non_null(c);
	assert_string_equal(c->name, "none");
	assert_int_equal(arca_cipher_overhead(c), 0);
	c = arca_cipher_by_id(ARCA_CIPHER_XCHACHA20_POLY1305);
	assert_non_null(c);
	assert_string_equal(c->name, "xchacha20-poly1305");
	assert_int_equal(c->nonce_len, 24);
	assert_int_equal(c->tag_len, 16);
	c = arca_cipher_by_id(ARCA_CIPHER_AES256_GCM);
	assert_non_null(c);
	assert_string_equal(c->name, "aes-256-gcm");
	assert_int_equal(c->nonce_len, 12);
	assert_int_equal(c->tag_len, 16);
	assert_null(arca_cipher_by_id(3));
	assert_null(arca_cipher_by_id(255));

	for (size_t i = 0; i < sizeof(cipher_ids) / sizeof(cipher_ids[0]); i++) {
		c = arca_cipher_by_id(cipher_ids[i]);
		assert_ptr_equal(arca_cipher_by_name(c->name), c);
		assert_int_equal(c->id, cipher_ids[i]);
	}
	assert_null(arca_cipher_by_name("aes"));
	assert_null(arca_cipher_by_name("AES-256-GCM"));
	assert_null(arca_cipher_by_name(""));
	assert_null(arca_cipher_by_name(NULL));
}

static void test_round_trip_all_ciphers(void **state)
{
	const size_t sizes[] = { 0, 1, 15, 16, 1000, 100000 };
	uint8_t key[ARCA_KEY_LEN];
	uint8_t *pt = malloc(100000);
	static const char ad[] = "pack 1234 blob 5";

	assert_non_null(pt);
	fill(key, sizeof(key), 1);
	fill(pt, 100000, 2);
	for (size_t ci = 0; ci < sizeof(cipher_ids) / sizeof(cipher_ids[0]); ci++) {
		const arca_cipher *c = arca_cipher_by_id(cipher_ids[ci]);
		for (size_t si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
			size_t n = sizes[si];
			for (int with_ad = 0; with_ad < 2; with_ad++) {
				arca_buf s = ARCA_BUF_INIT, o = ARCA_BUF_INIT;
				const void *a = with_ad ? ad : NULL;
				size_t alen = with_ad ? sizeof(ad) : 0;

				assert_int_equal(arca_buf_put(&s, "HD", 2), 0);
				assert_int_equal(arca_seal(c, key, &s, pt, n, a, alen), 0);
				assert_int_equal(s.len, 2 + n + arca_cipher_overhead(c));
				assert_memory_equal(s.data, "HD", 2);
				if (c->id == ARCA_CIPHER_NONE && n)
					assert_memory_equal(s.data + 2, pt, n);
				if (c->id != ARCA_CIPHER_NONE && n >= 16)
					assert_memory_not_equal(s.data + 2 + c->nonce_len, pt, 16);

				assert_int_equal(arca_buf_put(&o, "x", 1), 0);
				assert_int_equal(arca_open(c, key, &o, s.data + 2, s.len - 2, a, alen), 0);
				assert_int_equal(o.len, 1 + n);
				if (n)
					assert_memory_equal(o.data + 1, pt, n);
				arca_buf_free(&s);
				arca_buf_free(&o);
			}
		}
	}
	free(pt);
}

/* Open must refuse, append nothing, and leave no plaintext in the buffer's
 * spare capacity. */
static void expect_refused(const arca_cipher *c, const uint8_t *key, const uint8_t *msg, size_t n,
			   const void *ad, size_t adlen, const uint8_t *pt, size_t ptlen)
{
	arca_buf o = ARCA_BUF_INIT;
	assert_int_equal(arca_buf_put(&o, "keep", 4), 0);
	arca_error_clear();
	assert_int_equal(arca_open(c, key, &o, msg, n, ad, adlen), ARCA_CORRUPT);
	assert_int_equal(arca_error_code(), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "authentication failed"));
	assert_int_equal(o.len, 4);
	assert_memory_equal(o.data, "keep", 4);
	if (ptlen >= 16 && o.cap >= 4 + ptlen)
		assert_null(memmem(o.data, o.cap, pt, 16));
	arca_buf_free(&o);
}

static void test_tampering_refused(void **state)
{
	uint8_t key[ARCA_KEY_LEN], key2[ARCA_KEY_LEN];
	const size_t n = 4096;
	uint8_t *pt = malloc(n);
	static const char ad[] = "object 42";

	assert_non_null(pt);
	fill(key, sizeof(key), 3);
	memcpy(key2, key, sizeof(key));
	key2[31] ^= 0x01;
	fill(pt, n, 4);
	for (size_t ci = 0; ci < sizeof(aead_ids) / sizeof(aead_ids[0]); ci++) {
		const arca_cipher *c = arca_cipher_by_id(aead_ids[ci]);
		arca_buf s = ARCA_BUF_INIT, e = ARCA_BUF_INIT;
		size_t len;
		uint8_t *m;

		assert_int_equal(arca_seal(c, key, &s, pt, n, ad, sizeof(ad)), 0);
		len = s.len;
		m = malloc(len);
		assert_non_null(m);

		/* One flipped bit anywhere: nonce, ciphertext, tag. */
		const size_t where[] = { 0, c->nonce_len - 1, c->nonce_len, c->nonce_len + n / 2,
					 len - c->tag_len, len - 1 };
		for (size_t w = 0; w < sizeof(where) / sizeof(where[0]); w++) {
			for (int bit = 0; bit < 8; bit += 7) {
				memcpy(m, s.data, len);
				m[where[w]] ^= (uint8_t)(1u << bit);
				expect_refused(c, key, m, len, ad, sizeof(ad), pt, n);
			}
		}
		/* Wrong associated data, missing associated data, wrong key. */
		expect_refused(c, key, s.data, len, "object 43", sizeof(ad), pt, n);
		expect_refused(c, key, s.data, len, NULL, 0, pt, n);
		expect_refused(c, key2, s.data, len, ad, sizeof(ad), pt, n);
		/* Truncated, including shorter than nonce + tag, and extended. */
		expect_refused(c, key, s.data, len - 1, ad, sizeof(ad), pt, 0);
		expect_refused(c, key, s.data, arca_cipher_overhead(c) - 1, ad, sizeof(ad), pt, 0);
		expect_refused(c, key, s.data, 0, ad, sizeof(ad), pt, 0);
		assert_int_equal(arca_buf_put(&e, s.data, len), 0);
		assert_int_equal(arca_buf_put(&e, "", 1), 0);
		expect_refused(c, key, e.data, e.len, ad, sizeof(ad), pt, 0);

		/* An empty message is still authenticated. */
		arca_buf_clear(&s);
		assert_int_equal(arca_seal(c, key, &s, pt, 0, ad, sizeof(ad)), 0);
		assert_int_equal(s.len, arca_cipher_overhead(c));
		s.data[s.len - 1] ^= 0x80;
		expect_refused(c, key, s.data, s.len, ad, sizeof(ad), pt, 0);

		arca_buf_free(&s);
		arca_buf_free(&e);
		free(m);
	}
	free(pt);
}

static void test_fresh_nonces(void **state)
{
	uint8_t key[ARCA_KEY_LEN];
	static const char pt[] = "the same plaintext twice";

	fill(key, sizeof(key), 5);
	for (size_t ci = 0; ci < sizeof(aead_ids) / sizeof(aead_ids[0]); ci++) {
		const arca_cipher *c = arca_cipher_by_id(aead_ids[ci]);
		arca_buf a = ARCA_BUF_INIT, b = ARCA_BUF_INIT;
		assert_int_equal(arca_seal(c, key, &a, pt, sizeof(pt), NULL, 0), 0);
		assert_int_equal(arca_seal(c, key, &b, pt, sizeof(pt), NULL, 0), 0);
		assert_int_equal(a.len, b.len);
		assert_memory_not_equal(a.data, b.data, c->nonce_len);
		assert_memory_not_equal(a.data + c->nonce_len, b.data + c->nonce_len, sizeof(pt));
		arca_buf_free(&a);
		arca_buf_free(&b);
	}
}

static int cmp_nonce(const void *x, const void *y) { return memcmp(x, y, 24); }

/* Nonces come from a per-thread block of kernel randomness: many seals in
 * a row (across several blocks) never repeat one, and a forked child does
 * not reuse the block its parent had started. */
static void test_nonces_across_blocks_and_fork(void **state)
{
	enum { N = 1000 };
	const arca_cipher *c = arca_cipher_by_id(ARCA_CIPHER_XCHACHA20_POLY1305);
	uint8_t key[ARCA_KEY_LEN], *all = malloc(N * 24), child_nonce[24];
	arca_buf b = ARCA_BUF_INIT;
	int fds[2], status;
	pid_t pid;

	assert_non_null(all);
	fill(key, sizeof(key), 9);
	for (size_t i = 0; i < N; i++) {
		b.len = 0;
		assert_int_equal(arca_seal(c, key, &b, "x", 1, NULL, 0), 0);
		memcpy(all + i * 24, b.data, 24);
	}
	qsort(all, N, 24, cmp_nonce);
	for (size_t i = 1; i < N; i++)
		assert_memory_not_equal(all + (i - 1) * 24, all + i * 24, 24);

	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		arca_buf cb = ARCA_BUF_INIT;
		int ok = arca_seal(c, key, &cb, "x", 1, NULL, 0) == 0 && write(fds[1], cb.data, 24) == 24;
		_exit(ok ? 0 : 1);
	}
	b.len = 0;
	assert_int_equal(arca_seal(c, key, &b, "x", 1, NULL, 0), 0);
	assert_int_equal(read(fds[0], child_nonce, 24), 24);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_memory_not_equal(b.data, child_nonce, 24);
	close(fds[0]);
	close(fds[1]);
	arca_buf_free(&b);
	free(all);
}

static void test_ciphers_interoperate_not(void **state)
{
	/* A message sealed with one cipher does not open with the other. */
	uint8_t key[ARCA_KEY_LEN];
	uint8_t pt[256];
	arca_buf s = ARCA_BUF_INIT, o = ARCA_BUF_INIT;
	const arca_cipher *x = arca_cipher_by_id(ARCA_CIPHER_XCHACHA20_POLY1305);
	const arca_cipher *g = arca_cipher_by_id(ARCA_CIPHER_AES256_GCM);

	fill(key, sizeof(key), 6);
	fill(pt, sizeof(pt), 7);
	assert_int_equal(arca_seal(x, key, &s, pt, sizeof(pt), NULL, 0), 0);
	assert_int_equal(arca_open(g, key, &o, s.data, s.len, NULL, 0), ARCA_CORRUPT);
	arca_buf_clear(&s);
	assert_int_equal(arca_seal(g, key, &s, pt, sizeof(pt), NULL, 0), 0);
	assert_int_equal(arca_open(x, key, &o, s.data, s.len, NULL, 0), ARCA_CORRUPT);
	assert_int_equal(o.len, 0);
	arca_buf_free(&s);
	arca_buf_free(&o);
}

static void test_argon2id(void **state)
{
	static const uint8_t salt[ARCA_SALT_LEN] = "arca-test-salt16";
	uint8_t salt2[ARCA_SALT_LEN];
	uint8_t a[32], b[32];
	static const char pw[] = "correct horse";
	/* From the Argon2 reference implementation (argon2 CLI, -id -p 1):
	 * printf 'correct horse' | argon2 arca-test-salt16 -id -t 1 -k 8192 -p 1 -l 32 -r */
	static const uint8_t want_t1_m8192[32] = {
		0x69, 0xda, 0x8c, 0xe3, 0x9a, 0xfd, 0x0a, 0x78, 0xae, 0xc8, 0x70, 0xa2, 0xd7, 0x3e, 0x2b, 0x81,
		0x42, 0x94, 0x77, 0xed, 0x4d, 0xa6, 0x57, 0xce, 0x01, 0x96, 0xc3, 0x69, 0xe2, 0xbb, 0xe4, 0x26,
	};
	/* ... -t 2 -k 9216 */
	static const uint8_t want_t2_m9216[32] = {
		0x94, 0xf3, 0x49, 0xf9, 0x4c, 0x3e, 0x90, 0x89, 0x52, 0xa3, 0x07, 0x5e, 0x89, 0xc8, 0xaa, 0x5d,
		0x76, 0xfb, 0x7d, 0x47, 0xba, 0x0c, 0xa9, 0xc1, 0xc1, 0x5e, 0xaf, 0x5d, 0x09, 0xf0, 0x23, 0x21,
	};

	assert_int_equal(arca_argon2id(a, sizeof(a), pw, strlen(pw), salt, 1, 8192), 0);
	assert_memory_equal(a, want_t1_m8192, sizeof(a));
	assert_int_equal(arca_argon2id(b, sizeof(b), pw, strlen(pw), salt, 1, 8192), 0);
	assert_memory_equal(a, b, sizeof(a));
	assert_int_equal(arca_argon2id(b, sizeof(b), pw, strlen(pw), salt, 2, 9216), 0);
	assert_memory_equal(b, want_t2_m9216, sizeof(b));

	memcpy(salt2, salt, sizeof(salt2));
	salt2[15] ^= 1;
	assert_int_equal(arca_argon2id(b, sizeof(b), pw, strlen(pw), salt2, 1, 8192), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_int_equal(arca_argon2id(b, sizeof(b), "correct horsf", strlen(pw), salt, 1, 8192), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	/* An empty password is a password. */
	assert_int_equal(arca_argon2id(b, sizeof(b), "", 0, salt, 1, 8192), 0);
	assert_memory_not_equal(a, b, sizeof(a));
}

static void expect_argon_inval(uint32_t t, uint32_t m, const char *named)
{
	uint8_t out[32];
	static const uint8_t salt[ARCA_SALT_LEN];
	arca_error_clear();
	assert_int_equal(arca_argon2id(out, sizeof(out), "pw", 2, salt, t, m), ARCA_INVAL);
	if (!strstr(arca_error_message(), named))
		fail_msg("message \"%s\" does not name %s", arca_error_message(), named);
}

static void test_argon2id_limits(void **state)
{
	uint8_t out[64];
	static const uint8_t salt[ARCA_SALT_LEN];

	expect_argon_inval(0, 65536, "time cost 0");
	expect_argon_inval(65, 65536, "time cost 65");
	expect_argon_inval(UINT32_MAX, 65536, "4294967295");
	expect_argon_inval(3, 0, "memory cost 0");
	expect_argon_inval(3, 8191, "8191");
	expect_argon_inval(3, 4194305, "4194305");
	expect_argon_inval(3, UINT32_MAX, "4294967295");
	assert_int_equal(arca_argon2id(out, 8, "pw", 2, salt, 1, 8192), ARCA_INVAL);
	assert_int_equal(arca_argon2id(out, 64, "pw", 2, salt, 1, 8192), 0);
}

static void test_key_memory_and_random(void **state)
{
	uint8_t *k = arca_secure_alloc(ARCA_KEY_LEN);
	uint8_t a[32], b[32], zero[32] = { 0 };

	assert_non_null(k);
	assert_int_equal(arca_random(k, ARCA_KEY_LEN), 0);
	assert_int_equal(arca_random(a, sizeof(a)), 0);
	assert_int_equal(arca_random(b, sizeof(b)), 0);
	assert_memory_not_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, zero, sizeof(a));

	assert_int_equal(arca_memcmp_ct(a, a, sizeof(a)), 0);
	memcpy(b, a, sizeof(b));
	assert_int_equal(arca_memcmp_ct(a, b, sizeof(a)), 0);
	b[31] ^= 1;
	assert_int_not_equal(arca_memcmp_ct(a, b, sizeof(a)), 0);
	b[31] ^= 1;
	b[0] ^= 0x80;
	assert_int_not_equal(arca_memcmp_ct(a, b, sizeof(a)), 0);

	memcpy(k, a, sizeof(a));
	arca_wipe(k, ARCA_KEY_LEN);
	assert_memory_equal(k, zero, ARCA_KEY_LEN);
	arca_secure_free(k);
	arca_secure_free(NULL);
}

static void test_bad_arguments(void **state)
{
	const arca_cipher *x = arca_cipher_by_id(ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_buf o = ARCA_BUF_INIT;
	assert_int_equal(arca_seal(NULL, NULL, &o, "a", 1, NULL, 0), ARCA_INVAL);
	assert_int_equal(arca_seal(x, NULL, &o, "a", 1, NULL, 0), ARCA_INVAL);
	assert_int_equal(arca_open(NULL, NULL, &o, "a", 1, NULL, 0), ARCA_INVAL);
	assert_int_equal(arca_open(x, NULL, &o, "a", 1, NULL, 0), ARCA_INVAL);
	assert_int_equal(o.len, 0);
	arca_buf_free(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cipher_table),
		cmocka_unit_test(test_round_trip_all_ciphers),
		cmocka_unit_test(test_tampering_refused),
		cmocka_unit_test(test_fresh_nonces),
		cmocka_unit_test(test_nonces_across_blocks_and_fork),
		cmocka_unit_test(test_ciphers_interoperate_not),
		cmocka_unit_test(test_argon2id),
		cmocka_unit_test(test_argon2id_limits),
		cmocka_unit_test(test_key_memory_and_random),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
