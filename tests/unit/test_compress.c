/*
 * tests/unit/test_compress.c - per-blob compression: bytes out equal bytes
 * in, output is kept only when it is smaller, damaged frames and wrong
 * sizes are reported as corrupt, and the spec parser accepts exactly the
 * documented forms.
 */
#include "compress/compress.h"
#include "arca/error.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static uint8_t *text_like(size_t n, uint64_t seed)
{
	static const char *words[] = { "the ", "backup ", "store ", "chunk ", "of ", "a ",
				       "repository ", "snapshot\n", "pack ", "index ", "42 ", "and " };
	uint8_t *p = malloc(n);
	uint64_t s = seed | 1;
	size_t off = 0;
	assert_non_null(p);
	while (off < n) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		const char *w = words[s % (sizeof(words) / sizeof(words[0]))];
		size_t k = strlen(w);
		if (k > n - off)
			k = n - off;
		memcpy(p + off, w, k);
		off += k;
	}
	return p;
}

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n);
	uint64_t s = seed | 1;
	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		p[i] = (uint8_t)(s >> 32);
	}
	return p;
}

static arca_zctx *zstd_ctx(int level)
{
	arca_zctx *z = NULL;
	assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, level), 0);
	assert_non_null(z);
	return z;
}

static void test_round_trip(void **state)
{
	const size_t sizes[] = { 2, 100, 4096, 1u << 20 };
	arca_zctx *z = zstd_ctx(3);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		uint8_t *src = text_like(n, i + 1);
		arca_buf c = ARCA_BUF_INIT, d = ARCA_BUF_INIT;
		bool shrunk = false;

		if (n == 2)
			memset(src, 'x', n);
		/* Output is appended after what the buffer already holds. */
		assert_int_equal(arca_buf_put(&c, "HDR", 3), 0);
		assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
		if (n <= 2) {
			/* A zstd frame has a header: two bytes never shrink. */
			assert_false(shrunk);
			assert_int_equal(c.len, 3);
		} else {
			assert_true(shrunk);
			assert_true(c.len - 3 < n);
			if (n >= 4096)
				assert_true(c.len - 3 < n / 2);
			assert_memory_equal(c.data, "HDR", 3);
			assert_int_equal(arca_buf_put(&d, "pre", 3), 0);
			assert_int_equal(arca_decompress(z, &d, c.data + 3, c.len - 3, n), 0);
			assert_int_equal(d.len, n + 3);
			assert_memory_equal(d.data, "pre", 3);
			assert_memory_equal(d.data + 3, src, n);
		}
		arca_buf_free(&c);
		arca_buf_free(&d);
		free(src);
	}
	arca_zctx_free(z);
}

static void test_context_reuse_and_levels(void **state)
{
	const int levels[] = { 1, 3, 19 };
	for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
		arca_zctx *z = zstd_ctx(levels[l]);
		for (int i = 0; i < 20; i++) {
			size_t n = 1000 + (size_t)i * 777;
			uint8_t *src = text_like(n, (uint64_t)i * 31 + l);
			arca_buf c = ARCA_BUF_INIT, d = ARCA_BUF_INIT;
			bool shrunk;
			assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
			assert_true(shrunk);
			assert_int_equal(arca_decompress(z, &d, c.data, c.len, n), 0);
			assert_int_equal(d.len, n);
			assert_memory_equal(d.data, src, n);
			arca_buf_free(&c);
			arca_buf_free(&d);
			free(src);
		}
		arca_zctx_free(z);
	}
}

static void test_incompressible_is_not_stored(void **state)
{
	arca_zctx *z = zstd_ctx(3);
	const size_t n = 256 * 1024;
	uint8_t *src = random_bytes(n, 5);
	arca_buf c = ARCA_BUF_INIT;
	bool shrunk = true;

	assert_int_equal(arca_buf_put(&c, "HDR", 3), 0);
	assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
	assert_false(shrunk);
	assert_int_equal(c.len, 3);
	/* Empty input never shrinks either. */
	shrunk = true;
	assert_int_equal(arca_compress(z, &c, src, 0, &shrunk), 0);
	assert_false(shrunk);
	assert_int_equal(c.len, 3);
	/* The context still works after a "did not shrink" result. */
	memset(src, 'a', n);
	assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
	assert_true(shrunk);
	arca_buf_free(&c);
	free(src);
	arca_zctx_free(z);
}

static void test_none_never_shrinks_but_decodes(void **state)
{
	arca_zctx *none = NULL, *z = zstd_ctx(3);
	const size_t n = 64 * 1024;
	uint8_t *src = text_like(n, 6);
	arca_buf c = ARCA_BUF_INIT, d = ARCA_BUF_INIT;
	bool shrunk = true;

	assert_int_equal(arca_zctx_new(&none, ARCA_COMPRESS_NONE, 0), 0);
	assert_int_equal(arca_compress(none, &c, src, n, &shrunk), 0);
	assert_false(shrunk);
	assert_int_equal(c.len, 0);
	/* A repository switched to "none" still reads its old zstd blobs. */
	assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
	assert_true(shrunk);
	assert_int_equal(arca_decompress(none, &d, c.data, c.len, n), 0);
	assert_memory_equal(d.data, src, n);
	arca_buf_free(&c);
	arca_buf_free(&d);
	free(src);
	arca_zctx_free(none);
	arca_zctx_free(z);
}

static void expect_corrupt(arca_zctx *z, const void *p, size_t n, size_t raw_len)
{
	arca_buf d = ARCA_BUF_INIT;
	assert_int_equal(arca_buf_put(&d, "keep", 4), 0);
	arca_error_clear();
	assert_int_equal(arca_decompress(z, &d, p, n, raw_len), ARCA_CORRUPT);
	assert_int_equal(arca_error_code(), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "zstd"));
	/* Nothing is appended on failure. */
	assert_int_equal(d.len, 4);
	arca_buf_free(&d);
}

static void test_corruption_detected(void **state)
{
	arca_zctx *z = zstd_ctx(3);
	const size_t n = 100000;
	uint8_t *src = text_like(n, 7);
	uint8_t *junk = random_bytes(4096, 8);
	arca_buf c = ARCA_BUF_INIT;
	uint8_t *bad;
	bool shrunk;

	assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
	assert_true(shrunk);
	bad = malloc(c.len);
	assert_non_null(bad);

	/* Wrong expected size, either way. */
	expect_corrupt(z, c.data, c.len, n - 1);
	expect_corrupt(z, c.data, c.len, n + 1);
	expect_corrupt(z, c.data, c.len, 0);
	/* Truncated frames. */
	expect_corrupt(z, c.data, c.len - 1, n);
	expect_corrupt(z, c.data, c.len / 2, n);
	expect_corrupt(z, c.data, 3, n);
	expect_corrupt(z, c.data, 0, n);
	expect_corrupt(z, c.data, 0, 0);
	/* Bad magic number. */
	memcpy(bad, c.data, c.len);
	bad[0] ^= 0x01;
	expect_corrupt(z, bad, c.len, n);
	/* A damaged frame header (bytes 6..8: content size field). */
	memcpy(bad, c.data, c.len);
	bad[6] ^= 0xff;
	bad[7] ^= 0xff;
	bad[8] ^= 0xff;
	expect_corrupt(z, bad, c.len, n);
	/* Garbage, and garbage behind a real frame header. */
	expect_corrupt(z, junk, 4096, n);
	memcpy(bad, c.data, c.len);
	memcpy(bad + 6, junk, c.len - 6 < 4096 ? c.len - 6 : 4096);
	expect_corrupt(z, bad, c.len, n);
	/* Trailing garbage after a valid frame. */
	assert_int_equal(arca_buf_put(&c, junk, 16), 0);
	expect_corrupt(z, c.data, c.len, n);

	/* The decoder recovers after errors. */
	arca_buf_clear(&c);
	assert_int_equal(arca_compress(z, &c, src, n, &shrunk), 0);
	arca_buf d = ARCA_BUF_INIT;
	assert_int_equal(arca_decompress(z, &d, c.data, c.len, n), 0);
	assert_memory_equal(d.data, src, n);

	arca_buf_free(&c);
	arca_buf_free(&d);
	free(bad);
	free(junk);
	free(src);
	arca_zctx_free(z);
}

/* Hand-made frames (RFC 8878): magic, frame header, one raw block holding
 * "hello".  They exercise both ways a frame can state its size. */
static const uint8_t frame_no_size[] = {
	0x28, 0xb5, 0x2f, 0xfd, /* magic */
	0x00,                   /* no content size, not single-segment */
	0x00,                   /* window 1 KiB */
	0x29, 0x00, 0x00,       /* last block, raw, 5 bytes */
	'h', 'e', 'l', 'l', 'o',
};
static const uint8_t frame_with_size[] = {
	0x28, 0xb5, 0x2f, 0xfd,
	0x20, 0x05,             /* single segment, 1-byte content size: 5 */
	0x29, 0x00, 0x00,
	'h', 'e', 'l', 'l', 'o',
};

static void test_frame_size_must_match(void **state)
{
	arca_zctx *z = zstd_ctx(3);
	arca_buf d = ARCA_BUF_INIT;

	/* arca always writes the content size; a frame without it could make
	 * a tiny object claim any raw_len, so it is refused */
	assert_int_equal(arca_decompress(z, &d, frame_no_size, sizeof(frame_no_size), 5), ARCA_CORRUPT);
	assert_int_equal(d.len, 0);
	assert_int_equal(arca_decompress(z, &d, frame_with_size, sizeof(frame_with_size), 5), 0);
	assert_memory_equal(d.data, "hello", 5);
	arca_buf_free(&d);

	/* Too short and too long, with and without a declared size. */
	expect_corrupt(z, frame_no_size, sizeof(frame_no_size), 4);
	expect_corrupt(z, frame_no_size, sizeof(frame_no_size), 6);
	expect_corrupt(z, frame_no_size, sizeof(frame_no_size), 4096);
	expect_corrupt(z, frame_with_size, sizeof(frame_with_size), 4);
	expect_corrupt(z, frame_with_size, sizeof(frame_with_size), 6);
	/* A declared size that disagrees is refused before any allocation:
	 * an absurd expected size is reported as corrupt, not out of memory. */
	expect_corrupt(z, frame_with_size, sizeof(frame_with_size), SIZE_MAX / 2);
	arca_zctx_free(z);
}

static void expect_parse(const char *spec, int want_algo, int want_level)
{
	int algo = -1, level = -1;
	if (arca_compress_parse(spec, &algo, &level) != 0)
		fail_msg("\"%s\" rejected: %s", spec, arca_error_message());
	assert_int_equal(algo, want_algo);
	if (want_algo == ARCA_COMPRESS_ZSTD)
		assert_int_equal(level, want_level);
}

static void expect_parse_fails(const char *spec, const char *named)
{
	int algo = 77, level = 77;
	arca_error_clear();
	assert_int_equal(arca_compress_parse(spec, &algo, &level), ARCA_INVAL);
	assert_int_equal(arca_error_code(), ARCA_INVAL);
	if (named && !strstr(arca_error_message(), named))
		fail_msg("message \"%s\" does not name \"%s\"", arca_error_message(), named);
	assert_true(arca_error_hint_text()[0] != '\0');
	assert_int_equal(algo, 77);
	assert_int_equal(level, 77);
}

static void test_parse(void **state)
{
	expect_parse("none", ARCA_COMPRESS_NONE, 0);
	expect_parse("zstd", ARCA_COMPRESS_ZSTD, 3);
	expect_parse("auto", ARCA_COMPRESS_ZSTD, 3);
	expect_parse("zstd:1", ARCA_COMPRESS_ZSTD, 1);
	expect_parse("zstd:9", ARCA_COMPRESS_ZSTD, 9);
	expect_parse("zstd:19", ARCA_COMPRESS_ZSTD, 19);

	expect_parse_fails("zstd:0", "0");
	expect_parse_fails("zstd:20", "20");
	expect_parse_fails("zstd:99999999999999999999", NULL);
	expect_parse_fails("zstd:", "zstd:");
	expect_parse_fails("zstd:-1", "-1");
	expect_parse_fails("zstd:+3", "+3");
	expect_parse_fails("zstd: 3", NULL);
	expect_parse_fails("zstd:3x", "3x");
	expect_parse_fails("zstd3", "zstd3");
	expect_parse_fails("ZSTD", "ZSTD");
	expect_parse_fails("lz4", "lz4");
	expect_parse_fails("", NULL);
	expect_parse_fails(" none", NULL);
	assert_int_equal(arca_compress_parse(NULL, &(int){ 0 }, &(int){ 0 }), ARCA_INVAL);
}

static void test_ctx_new_and_names(void **state)
{
	arca_zctx *z = (arca_zctx *)&z;
	assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 0), ARCA_INVAL);
	assert_null(z);
	assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 20), ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "20"));
	assert_int_equal(arca_zctx_new(&z, 7, 3), ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "7"));
	assert_null(z);
	arca_zctx_free(NULL);

	assert_string_equal(arca_compress_name(ARCA_COMPRESS_NONE), "none");
	assert_string_equal(arca_compress_name(ARCA_COMPRESS_ZSTD), "zstd");
	assert_string_equal(arca_compress_name(9), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_context_reuse_and_levels),
		cmocka_unit_test(test_incompressible_is_not_stored),
		cmocka_unit_test(test_none_never_shrinks_but_decodes),
		cmocka_unit_test(test_corruption_detected),
		cmocka_unit_test(test_frame_size_must_match),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_ctx_new_and_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
