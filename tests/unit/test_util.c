/*
 * tests/unit/test_util.c - the util module and the error record: the one
 * growable buffer, the binary encoding every format is built from (exact
 * bytes at the varint boundaries, latched errors on hostile input), the
 * JSON writer (output stays valid JSON whatever bytes it is given), time
 * and duration parsing as users type them, and error codes/messages.
 */
#include "arca/error.h"
#include "util/buf.h"
#include "util/bytering.h"
#include "util/enc.h"
#include "util/json.h"
#include "util/timefmt.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

/* ---- buf ---- */

static void test_buf_growth(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	size_t i;
	for (i = 0; i < 100000; i++) {
		uint8_t c = (uint8_t)(i * 7);
		assert_int_equal(arca_buf_put(&b, &c, 1), 0);
		assert_true(b.cap > b.len); /* room for a NUL is always kept */
	}
	assert_int_equal(b.len, 100000);
	for (i = 0; i < 100000; i++)
		assert_int_equal(b.data[i], (uint8_t)(i * 7));
	/* put of nothing changes nothing */
	assert_int_equal(arca_buf_put(&b, NULL, 0), 0);
	assert_int_equal(b.len, 100000);
	assert_int_equal(arca_buf_puts(&b, "tail"), 0);
	assert_int_equal(b.len, 100004);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_int_equal(b.len, 100004); /* the NUL is not counted */
	assert_string_equal((char *)b.data + 100000, "tail");
	/* clear keeps the memory, free releases it */
	{
		size_t cap = b.cap;
		arca_buf_clear(&b);
		assert_int_equal(b.len, 0);
		assert_int_equal(b.cap, cap);
	}
	/* one big append after many small ones */
	{
		size_t big = 3u << 20;
		uint8_t *p = malloc(big);
		assert_non_null(p);
		memset(p, 0xa5, big);
		assert_int_equal(arca_buf_put(&b, p, big), 0);
		assert_int_equal(b.len, big);
		assert_true(b.cap > b.len);
		assert_memory_equal(b.data, p, big);
		free(p);
	}
	arca_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	arca_buf_free(&b); /* twice is fine */
	arca_buf_free(NULL);
}

static void test_buf_reserve_overflow(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	assert_int_equal(arca_buf_puts(&b, "keep"), 0);
	assert_int_equal(arca_buf_reserve(&b, SIZE_MAX), ARCA_NOMEM);
	assert_int_equal(arca_buf_reserve(&b, SIZE_MAX - 4), ARCA_NOMEM);
	/* within a huge page of SIZE_MAX: rounding the room up must not wrap */
	assert_int_equal(arca_buf_reserve(&b, SIZE_MAX - 100), ARCA_NOMEM);
	assert_int_equal(arca_buf_reserve(&b, SIZE_MAX - (3u << 20)), ARCA_NOMEM);
	/* unchanged */
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "keep", 4);
	arca_buf_free(&b);
}

/* the array growth every module uses for its push-one-more lists */
static void test_grow_array(void **state)
{
	struct pair { uint64_t a; uint32_t b; } *v = NULL, *before;
	size_t n = 0, cap = 0, i;
	/* nothing asked, nothing allocated */
	assert_int_equal(arca_grow(&v, &cap, 0, sizeof(*v), 4), 0);
	assert_null(v);
	assert_int_equal(cap, 0);
	/* first growth takes first_cap, then doubles; contents survive */
	for (i = 0; i < 1000; i++) {
		size_t old = cap;
		assert_int_equal(arca_grow(&v, &cap, n + 1, sizeof(*v), 4), 0);
		assert_non_null(v);
		assert_true(cap > n);
		if (old == 0)
			assert_int_equal(cap, 4);
		else if (n == old)
			assert_int_equal(cap, old * 2);
		else
			assert_int_equal(cap, old); /* room already there: untouched */
		v[n].a = i * 0x9e3779b97f4a7c15u;
		v[n].b = (uint32_t)i;
		n++;
	}
	assert_int_equal(cap, 1024);
	for (i = 0; i < n; i++) {
		assert_true(v[i].a == i * 0x9e3779b97f4a7c15u);
		assert_int_equal(v[i].b, i);
	}
	/* a need beyond one doubling doubles until it is covered */
	assert_int_equal(arca_grow(&v, &cap, 5000, sizeof(*v), 4), 0);
	assert_int_equal(cap, 8192);
	assert_int_equal(v[999].b, 999);
	/* sizes that overflow size_t fail cleanly and change nothing */
	before = v;
	arca_error_clear();
	assert_int_equal(arca_grow(&v, &cap, SIZE_MAX / sizeof(*v) + 1, sizeof(*v), 4), ARCA_NOMEM);
	assert_int_equal(arca_error_code(), ARCA_NOMEM);
	assert_non_null(strstr(arca_error_message(), "overflow"));
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 8192);
	assert_int_equal(arca_grow(&v, &cap, SIZE_MAX / 2 + 1, 2, 4), ARCA_NOMEM);
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 8192);
#ifndef __SANITIZE_ADDRESS__ /* ASan aborts on such a request instead of failing it */
	/* more than memory can hold: realloc fails, nothing changes */
	assert_int_equal(arca_grow(&v, &cap, SIZE_MAX / sizeof(*v) / 2, sizeof(*v), 4), ARCA_NOMEM);
	assert_non_null(strstr(arca_error_message(), "out of memory"));
	assert_ptr_equal(v, before);
	assert_int_equal(cap, 8192);
	assert_int_equal(v[999].b, 999);
#endif
	free(v);
	/* a first_cap too large for the element size falls back to need */
	{
		char (*big)[1 << 20] = NULL;
		size_t bcap = 0;
		assert_int_equal(arca_grow(&big, &bcap, 2, sizeof(*big), SIZE_MAX), 0);
		assert_non_null(big);
		assert_int_equal(bcap, 2);
		big[1][(1 << 20) - 1] = 'x';
		free(big);
	}
}

static void test_buf_printf(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	char big[300];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(arca_buf_printf(&b, "%d-%s", 42, "a"), 0);
	assert_int_equal(b.len, 4);
	/* longer than the first allocation: must grow, not truncate */
	assert_int_equal(arca_buf_printf(&b, "[%s]", big), 0);
	assert_int_equal(b.len, 4 + 2 + 299);
	assert_int_equal(arca_buf_printf(&b, "%s", ""), 0);
	assert_int_equal(arca_buf_cstr(&b), 0);
	assert_memory_equal(b.data, "42-a[", 5);
	assert_int_equal(b.data[5 + 298], 'x');
	assert_int_equal(b.data[5 + 299], ']');
	assert_int_equal(strlen((char *)b.data), b.len);
	arca_buf_free(&b);
}

static void test_buf_detach(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	size_t n = 0;
	uint8_t *p;
	assert_int_equal(arca_buf_puts(&b, "hello world"), 0);
	p = arca_buf_detach(&b, &n);
	assert_non_null(p);
	assert_int_equal(n, 11);
	assert_memory_equal(p, "hello world", 11);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	/* the buffer is reusable and independent of the detached memory */
	assert_int_equal(arca_buf_puts(&b, "again"), 0);
	assert_memory_equal(p, "hello world", 11);
	free(p);
	arca_buf_free(&b);
	/* detaching an empty buffer gives NULL and length 0 */
	n = 99;
	assert_null(arca_buf_detach(&b, &n));
	assert_int_equal(n, 0);
}

/* ---- enc ---- */

static void check_varint(uint64_t v, const uint8_t *want, size_t wn)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_dec d;
	assert_int_equal(arca_enc_varint(&b, v), 0);
	assert_int_equal(b.len, wn);
	assert_memory_equal(b.data, want, wn);
	arca_dec_init(&d, b.data, b.len);
	assert_true(arca_dec_varint(&d) == v);
	assert_true(arca_dec_ok(&d));
	assert_int_equal(arca_dec_left(&d), 0);
	arca_buf_free(&b);
}

/* Big buffers: huge-page-aligned room, contents kept across growth. */
static void test_buf_big(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	uint8_t chunk[4096];
	size_t i;
	void *p;
	(void)state;
	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 7);
	for (i = 0; i < 3000; i++) /* ~12 MiB: grows through the 4 MiB threshold */
		assert_int_equal(arca_buf_put(&b, chunk, sizeof(chunk)), 0);
	assert_true(b.cap >= 3000 * sizeof(chunk));
	assert_int_equal((uintptr_t)b.data % (2u << 20), 0);
	for (i = 0; i < 3000; i += 997)
		assert_memory_equal(b.data + i * sizeof(chunk), chunk, sizeof(chunk));
	arca_buf_free(&b);
	p = arca_alloc_big(100);
	assert_non_null(p);
	free(p);
	p = arca_alloc_big((5u << 20) + 1);
	assert_non_null(p);
	assert_int_equal((uintptr_t)p % (2u << 20), 0);
	memset(p, 1, (5u << 20) + 1);
	free(p);
}

/* The ring: room handed out in order, taken back in any order, wraps
 * around, and says "no room" instead of overlapping live buffers. */
static void test_bytering(void **state)
{
	arca_ring *r;
	uint8_t *a, *b, *c, *d, *e;
	(void)state;
	assert_int_equal(arca_ring_new(&r, 0, 4), ARCA_INVAL);
	assert_null(r);
	assert_null(arca_ring_get(NULL, 10));
	assert_int_equal(arca_ring_new(&r, 1000, 4), 0);
	assert_null(arca_ring_get(r, 1001)); /* bigger than the ring */
	a = arca_ring_get(r, 300);            /* [0, 320) */
	b = arca_ring_get(r, 300);            /* [320, 640) */
	c = arca_ring_get(r, 300);            /* [640, 960) */
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_true(b >= a + 300 && c >= b + 300);
	assert_true(arca_ring_owns(r, a) && arca_ring_owns(r, c + 299));
	assert_false(arca_ring_owns(r, NULL));
	assert_false(arca_ring_owns(NULL, a));
	memset(a, 'a', 300);
	memset(b, 'b', 300);
	memset(c, 'c', 300);
	assert_null(arca_ring_get(r, 100)); /* 40 bytes left at the end, none at the start */
	arca_ring_put(r, b);                 /* out of order: the tail stays at a */
	assert_null(arca_ring_get(r, 100));
	arca_ring_put(r, a);                 /* the tail moves past a and b */
	d = arca_ring_get(r, 600);           /* wraps: [0, 640) is free */
	assert_ptr_equal(d, a);
	memset(d, 'd', 600);
	assert_null(arca_ring_get(r, 64));  /* wrapped: head 640, tail 640 */
	assert_int_equal(c[0], 'c');
	assert_int_equal(c[299], 'c');
	arca_ring_put(r, c);
	e = arca_ring_get(r, 300); /* after d, in [640, 1000) */
	assert_non_null(e);
	assert_true(e >= d + 600);
	arca_ring_put(r, d);
	arca_ring_put(r, e);
	/* at most 4 buffers at a time, however small */
	a = arca_ring_get(r, 1);
	b = arca_ring_get(r, 1);
	c = arca_ring_get(r, 1);
	d = arca_ring_get(r, 1);
	assert_non_null(d);
	assert_null(arca_ring_get(r, 1));
	arca_ring_put(r, c);
	arca_ring_put(r, (uint8_t *)"not ours"); /* ignored */
	arca_ring_put(r, a);
	arca_ring_put(r, b);
	arca_ring_put(r, d);
	a = arca_ring_get(r, 1000); /* empty again: the whole ring */
	assert_non_null(a);
	arca_ring_put(r, a);
	arca_ring_free(r);
	arca_ring_free(NULL);
}

static void test_varint_boundaries(void **state)
{
	static const uint8_t v0[] = { 0x00 }, v127[] = { 0x7f }, v128[] = { 0x80, 0x01 },
			     v300[] = { 0xac, 0x02 }, v16383[] = { 0xff, 0x7f },
			     v16384[] = { 0x80, 0x80, 0x01 },
			     v2_63[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 },
			     vmax[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 };
	check_varint(0, v0, 1);
	check_varint(127, v127, 1);
	check_varint(128, v128, 2);
	check_varint(300, v300, 2);
	check_varint(16383, v16383, 2);
	check_varint(16384, v16384, 3);
	check_varint(1ull << 63, v2_63, 10);
	check_varint(UINT64_MAX, vmax, 10);
}

static void test_varint_hostile(void **state)
{
	/* 11 bytes: longer than any 64-bit value */
	static const uint8_t overlong[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00 };
	/* 10 bytes whose last byte carries bits above 2^63 */
	static const uint8_t overflow[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
	/* 10th byte with the continuation bit */
	static const uint8_t cont10[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x81, 0x00 };
	static const uint8_t trunc[] = { 0x80, 0x80 };
	static const uint8_t after[] = { 0x80, 0x05, 0x07 };
	arca_dec d;

	arca_dec_init(&d, overlong, sizeof(overlong));
	assert_true(arca_dec_varint(&d) == 0);
	assert_false(arca_dec_ok(&d));
	arca_dec_init(&d, overflow, sizeof(overflow));
	assert_true(arca_dec_varint(&d) == 0);
	assert_false(arca_dec_ok(&d));
	arca_dec_init(&d, cont10, sizeof(cont10));
	arca_dec_varint(&d);
	assert_false(arca_dec_ok(&d));

	/* truncated: the error latches and every later read gives zero */
	arca_dec_init(&d, trunc, sizeof(trunc));
	assert_true(arca_dec_varint(&d) == 0);
	assert_false(arca_dec_ok(&d));
	assert_int_equal(arca_dec_left(&d), 0);
	assert_int_equal(arca_dec_u8(&d), 0);
	assert_null(arca_dec_raw(&d, 0));
	assert_false(arca_dec_ok(&d));

	/* a failed u32 latches even though a u8 would still fit */
	arca_dec_init(&d, after, sizeof(after));
	assert_int_equal(arca_dec_varint(&d), 0x280);
	assert_true(arca_dec_ok(&d));
	assert_int_equal(arca_dec_u32(&d), 0);
	assert_false(arca_dec_ok(&d));
	assert_int_equal(arca_dec_u8(&d), 0);
	assert_false(arca_dec_ok(&d));

	/* empty input */
	arca_dec_init(&d, NULL, 0);
	assert_true(arca_dec_u64(&d) == 0);
	assert_false(arca_dec_ok(&d));
}

static void test_fixed_le(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_dec d;
	static const uint8_t want[] = { 0xab, 0x78, 0x56, 0x34, 0x12, 0x08, 0x07, 0x06, 0x05,
					0x04, 0x03, 0x02, 0x01 };
	assert_int_equal(arca_enc_u8(&b, 0xab), 0);
	assert_int_equal(arca_enc_u32(&b, 0x12345678u), 0);
	assert_int_equal(arca_enc_u64(&b, 0x0102030405060708ull), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	arca_dec_init(&d, b.data, b.len);
	assert_int_equal(arca_dec_u8(&d), 0xab);
	assert_int_equal(arca_dec_u32(&d), 0x12345678u);
	assert_true(arca_dec_u64(&d) == 0x0102030405060708ull);
	assert_true(arca_dec_ok(&d));
	assert_int_equal(arca_dec_left(&d), 0);
	arca_buf_free(&b);
}

static void test_svarint(void **state)
{
	static const struct {
		int64_t v;
		uint8_t enc[10];
		size_t n;
	} cases[] = {
		{ 0, { 0x00 }, 1 },
		{ -1, { 0x01 }, 1 },
		{ 1, { 0x02 }, 1 },
		{ -64, { 0x7f }, 1 },
		{ 64, { 0x80, 0x01 }, 2 },
		{ -65, { 0x81, 0x01 }, 2 },
		{ INT64_MAX, { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
		{ INT64_MIN, { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01 }, 10 },
		{ -1700000000123456789LL, { 0 }, 0 },
	};
	size_t i;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		arca_buf b = ARCA_BUF_INIT;
		arca_dec d;
		assert_int_equal(arca_enc_svarint(&b, cases[i].v), 0);
		if (cases[i].n) {
			assert_int_equal(b.len, cases[i].n);
			assert_memory_equal(b.data, cases[i].enc, cases[i].n);
		}
		arca_dec_init(&d, b.data, b.len);
		assert_true(arca_dec_svarint(&d) == cases[i].v);
		assert_true(arca_dec_ok(&d));
		assert_int_equal(arca_dec_left(&d), 0);
		arca_buf_free(&b);
	}
}

static void test_bytes_and_strings(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_dec d;
	const uint8_t *p;
	size_t n;
	char *s;

	assert_int_equal(arca_enc_bytes(&b, "ab\0c", 4), 0);
	assert_int_equal(arca_enc_str(&b, "hello"), 0);
	assert_int_equal(arca_enc_str(&b, ""), 0);
	assert_int_equal(arca_enc_str(&b, NULL), 0); /* NULL encodes as "" */
	assert_int_equal(arca_enc_str(&b, "0123456789"), 0);
	assert_int_equal(b.data[0], 4);

	arca_dec_init(&d, b.data, b.len);
	p = arca_dec_bytes(&d, &n);
	assert_non_null(p);
	assert_int_equal(n, 4);
	assert_memory_equal(p, "ab\0c", 4);
	assert_true(p >= b.data && p < b.data + b.len); /* borrowed from the input */
	s = arca_dec_strdup(&d, 5); /* exactly at the limit */
	assert_string_equal(s, "hello");
	free(s);
	s = arca_dec_strdup(&d, 0);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);
	s = arca_dec_strdup(&d, 10);
	assert_string_equal(s, "");
	free(s);
	assert_true(arca_dec_ok(&d));
	s = arca_dec_strdup(&d, 9); /* one over the limit */
	assert_null(s);
	assert_false(arca_dec_ok(&d));
	arca_buf_free(&b);

	/* embedded NUL in a string is refused */
	assert_int_equal(arca_enc_bytes(&b, "ab\0c", 4), 0);
	arca_dec_init(&d, b.data, b.len);
	assert_null(arca_dec_strdup(&d, 100));
	assert_false(arca_dec_ok(&d));
	arca_buf_free(&b);

	/* a length prefix pointing past the end */
	{
		static const uint8_t lie[] = { 0x05, 'a', 'b' };
		static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 'a' };
		arca_dec_init(&d, lie, sizeof(lie));
		n = 77;
		assert_null(arca_dec_bytes(&d, &n));
		assert_int_equal(n, 0);
		assert_false(arca_dec_ok(&d));
		arca_dec_init(&d, lie, sizeof(lie));
		assert_null(arca_dec_strdup(&d, 100));
		assert_false(arca_dec_ok(&d));
		arca_dec_init(&d, huge, sizeof(huge));
		assert_null(arca_dec_bytes(&d, &n));
		assert_false(arca_dec_ok(&d));
		arca_dec_init(&d, lie, sizeof(lie));
		assert_null(arca_dec_raw(&d, 4));
		assert_false(arca_dec_ok(&d));
	}
}

/* ---- json ---- */

static char *json_of(void (*fn)(arca_json *j), arca_buf *b)
{
	arca_json j;
	arca_buf_clear(b);
	arca_json_init(&j, b);
	fn(&j);
	assert_int_equal(arca_buf_cstr(b), 0);
	return (char *)b->data;
}

static void w_escapes(arca_json *j)
{
	arca_json_obj_begin(j);
	arca_json_kstr(j, "q\"uote", "say \"hi\" \\ back\\slash");
	arca_json_kstr(j, "ctl", "a\nb\tc\rd\x01" "e\x1f" "f\x7f");
	arca_json_kstr(j, "utf8", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
	/* lone continuation, truncated 2-byte, overlong '/', surrogate, 0xff */
	arca_json_kstr(j, "bad", "\x80|\xc3|\xc0\xaf|\xed\xa0\x80|\xff");
	arca_json_key(j, "n");
	arca_json_strn(j, "a\0b", 3);
	arca_json_kstr(j, "null", NULL);
	arca_json_obj_end(j);
}

static void test_json_escaping(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	const char *out = json_of(w_escapes, &b);
	assert_string_equal(out,
		"{\"q\\\"uote\":\"say \\\"hi\\\" \\\\ back\\\\slash\","
		"\"ctl\":\"a\\nb\\tc\\rd\\u0001e\\u001ff\\u007f\","
		"\"utf8\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
		"\"bad\":\"\\u0080|\\u00c3|\\u00c0\\u00af|\\u00ed\\u00a0\\u0080|\\u00ff\","
		"\"n\":\"a\\u0000b\","
		"\"null\":null}");
	/* no raw control characters or invalid bytes escaped the writer */
	for (const unsigned char *p = (const unsigned char *)out; *p; p++)
		assert_true(*p >= 0x20 && *p != 0x7f);
	arca_buf_free(&b);
}

static void w_nested(arca_json *j)
{
	arca_json_obj_begin(j);
	arca_json_key(j, "a");
	arca_json_arr_begin(j);
	arca_json_int(j, -1);
	arca_json_uint(j, UINT64_MAX);
	arca_json_obj_begin(j);
	arca_json_key(j, "b");
	arca_json_null(j);
	arca_json_key(j, "c");
	arca_json_arr_begin(j);
	arca_json_arr_end(j);
	arca_json_kbool(j, "d", false);
	arca_json_obj_end(j);
	arca_json_arr_begin(j);
	arca_json_arr_begin(j);
	arca_json_bool(j, true);
	arca_json_arr_end(j);
	arca_json_arr_end(j);
	arca_json_arr_end(j);
	arca_json_kint(j, "e", INT64_MIN);
	arca_json_key(j, "f");
	arca_json_obj_begin(j);
	arca_json_obj_end(j);
	arca_json_kuint(j, "g", 7);
	arca_json_kdouble(j, "h", 0.5);
	arca_json_kdouble(j, "inf", 1.0 / 0.0);
	arca_json_obj_end(j);
}

static void w_top_array(arca_json *j)
{
	arca_json_arr_begin(j);
	arca_json_obj_begin(j);
	arca_json_kstr(j, "id", "x");
	arca_json_obj_end(j);
	arca_json_obj_begin(j);
	arca_json_kstr(j, "id", "y");
	arca_json_obj_end(j);
	arca_json_arr_end(j);
}

static void test_json_nesting(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	assert_string_equal(json_of(w_nested, &b),
			    "{\"a\":[-1,18446744073709551615,{\"b\":null,\"c\":[],\"d\":false},[[true]]],"
			    "\"e\":-9223372036854775808,\"f\":{},\"g\":7,\"h\":0.5,\"inf\":null}");
	assert_string_equal(json_of(w_top_array, &b), "[{\"id\":\"x\"},{\"id\":\"y\"}]");
	arca_buf_free(&b);
}

/* ---- time ---- */

#define T_20261101_0200Z 1793498400LL

static void set_tz(const char *tz)
{
	setenv("TZ", tz, 1);
	tzset();
}

static void test_time_parse_rfc3339(void **state)
{
	int64_t t;
	const int64_t base = T_20261101_0200Z * ARCA_NS_PER_SEC;
	set_tz("<+03>-3"); /* a zone that is not UTC: zoned input must ignore it */

	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00:00Z"), 0);
	assert_true(t == base);
	assert_int_equal(arca_time_parse(&t, "2026-11-01t02:00:00z"), 0);
	assert_true(t == base);
	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00Z"), 0); /* no seconds */
	assert_true(t == base);
	assert_int_equal(arca_time_parse(&t, "2026-11-01T03:00:00+01:00"), 0);
	assert_true(t == base);
	assert_int_equal(arca_time_parse(&t, "2026-10-31T20:30:00-05:30"), 0);
	assert_true(t == base);
	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00:00+0000"), 0);
	assert_true(t == base);
	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00:00.5Z"), 0);
	assert_true(t == base + 500000000);
	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00:00.000000001Z"), 0);
	assert_true(t == base + 1);
	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00:00.123456789+00:00"), 0);
	assert_true(t == base + 123456789);
	assert_int_equal(arca_time_parse(&t, "1970-01-01T00:00:00Z"), 0);
	assert_true(t == 0);
	assert_int_equal(arca_time_parse(&t, "1969-12-31T23:59:59.5Z"), 0);
	assert_true(t == -500000000);
}

static void test_time_parse_local(void **state)
{
	int64_t t;
	const int64_t base = T_20261101_0200Z * ARCA_NS_PER_SEC;
	set_tz("<+03>-3"); /* UTC+3, no DST */
	/* restic's local form: 02:00 at UTC+3 is 23:00Z the day before */
	assert_int_equal(arca_time_parse(&t, "2026-11-01 02:00:00"), 0);
	assert_true(t == base - 3 * 3600 * ARCA_NS_PER_SEC);
	/* RFC 3339 without a zone is local too */
	assert_int_equal(arca_time_parse(&t, "2026-11-01T02:00"), 0);
	assert_true(t == base - 3 * 3600 * ARCA_NS_PER_SEC);
	/* a bare date is local midnight */
	assert_int_equal(arca_time_parse(&t, "2026-11-01"), 0);
	assert_true(t == (T_20261101_0200Z - 5 * 3600) * ARCA_NS_PER_SEC);
	/* the local form with an explicit zone uses the zone */
	assert_int_equal(arca_time_parse(&t, "2026-11-01 02:00:00Z"), 0);
	assert_true(t == base);
	set_tz("UTC0");
	assert_int_equal(arca_time_parse(&t, "2026-11-01 02:00:00"), 0);
	assert_true(t == base);
}

static void test_time_parse_bad(void **state)
{
	static const char *bad[] = {
		"", "2026", "2026-11", "2026-11-1", "26-11-01", "2026/11/01", "2026-13-01", "2026-00-10",
		"2026-11-00", "2026-11-32", "2026-02-30", "2026-04-31", "2026-11-01T", "2026-11-01T2:00Z",
		"2026-11-01T24:00Z", "2026-11-01T02:60Z", "2026-11-01T02:00:61Z", "2026-11-01T02:00:00.Z",
		"2026-11-01T02:00:00+1", "2026-11-01T02:00:00+01:", "2026-11-01T02:00:00+24:00",
		"2026-11-01T02:00:00+01:60", "2026-11-01T02:00:00Zjunk", "2026-11-01X", "yesterday",
		"2026-11-01T02:00:00 Z", " 2026-11-01",
	};
	size_t i;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t t = 12345;
		int rc = arca_time_parse(&t, bad[i]);
		if (rc != ARCA_INVAL)
			fail_msg("'%s' was accepted (rc %d, t %lld)", bad[i], rc, (long long)t);
		assert_int_equal(t, 12345); /* untouched on failure */
		assert_int_equal(arca_error_code(), ARCA_INVAL);
		assert_non_null(strstr(arca_error_message(), "cannot parse time"));
	}
	/* leap day is fine in a leap year only */
	{
		int64_t t;
		assert_int_equal(arca_time_parse(&t, "2028-02-29T00:00:00Z"), 0);
		assert_int_equal(arca_time_parse(&t, "2027-02-29T00:00:00Z"), ARCA_INVAL);
	}
}

static void test_time_format_roundtrip(void **state)
{
	static const int64_t cases[] = {
		0,
		T_20261101_0200Z * ARCA_NS_PER_SEC,
		T_20261101_0200Z * ARCA_NS_PER_SEC + 1,
		T_20261101_0200Z * ARCA_NS_PER_SEC + 999999999,
		-1,
		-ARCA_NS_PER_SEC,
		4102444800LL * ARCA_NS_PER_SEC + 250000000, /* 2100 */
	};
	char out[40];
	size_t i;
	set_tz("<+03>-3");
	arca_time_format(out, sizeof(out), T_20261101_0200Z * ARCA_NS_PER_SEC);
	assert_string_equal(out, "2026-11-01T02:00:00Z");
	arca_time_format(out, sizeof(out), T_20261101_0200Z * ARCA_NS_PER_SEC + 5000);
	assert_string_equal(out, "2026-11-01T02:00:00.000005000Z");
	arca_time_format(out, sizeof(out), -1);
	assert_string_equal(out, "1969-12-31T23:59:59.999999999Z");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t t;
		arca_time_format(out, sizeof(out), cases[i]);
		assert_int_equal(arca_time_parse(&t, out), 0);
		assert_true(t == cases[i]);
	}
	/* the local table form parses back as local time (whole seconds) */
	arca_time_format_local(out, sizeof(out), T_20261101_0200Z * ARCA_NS_PER_SEC + 7);
	assert_string_equal(out, "2026-11-01 05:00:00");
	{
		int64_t t;
		assert_int_equal(arca_time_parse(&t, out), 0);
		assert_true(t == T_20261101_0200Z * ARCA_NS_PER_SEC);
	}
	/* a small buffer truncates but stays a string */
	memset(out, 'Q', sizeof(out));
	arca_time_format(out, 8, T_20261101_0200Z * ARCA_NS_PER_SEC);
	assert_true(memchr(out, '\0', 8) != NULL);
	/* now is after the parse of a past time and monotonic time advances */
	{
		int64_t past;
		double m0 = arca_monotonic();
		assert_int_equal(arca_time_parse(&past, "2024-01-01T00:00:00Z"), 0);
		assert_true(arca_time_now_ns() > past);
		assert_true(arca_monotonic() >= m0);
	}
}

static void test_duration(void **state)
{
	static const struct {
		const char *s;
		int64_t sec;
	} ok[] = {
		{ "30d", 30 * 86400LL }, { "12h", 12 * 3600LL }, { "90m", 5400 }, { "45s", 45 },
		{ "2w", 14 * 86400LL },  { "1y", 365 * 86400LL }, { "1d12h", 36 * 3600LL },
		{ "1h30m15s", 5415 },    { "0s", 0 },            { "292y", 292 * 365 * 86400LL },
	};
	static const char *bad[] = { "", "30", "d", "1x", "-1d", "1d-", "1.5h", "1d12", "h1",
				     "1000y", "293y", "200y200y", "9999999999999999999s",
				     "10000000000s" };
	size_t i;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t ns = -7;
		assert_int_equal(arca_duration_parse(&ns, ok[i].s), 0);
		assert_true(ns == ok[i].sec * ARCA_NS_PER_SEC);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ns = -7;
		int rc = arca_duration_parse(&ns, bad[i]);
		if (rc != ARCA_INVAL)
			fail_msg("duration '%s' was accepted (rc %d, %lld ns)", bad[i], rc, (long long)ns);
		assert_true(ns == -7);
		assert_non_null(strstr(arca_error_message(), "cannot parse duration"));
	}
}

/* ---- error record ---- */

static int fail_inner(void)
{
	return arca_error_set(ARCA_CORRUPT, "pack %s: MAC mismatch", "ab12");
}

static int fail_outer(void)
{
	int rc = fail_inner();
	return arca_error_prefix(rc, "restoring %s", "/srv/x");
}

static void test_error_record(void **state)
{
	int rc;
	arca_error_clear();
	assert_int_equal(arca_error_code(), 0);
	assert_string_equal(arca_error_message(), "unknown error");
	assert_string_equal(arca_error_hint_text(), "");

	rc = fail_outer();
	assert_int_equal(rc, ARCA_CORRUPT);
	assert_int_equal(arca_error_code(), ARCA_CORRUPT);
	assert_string_equal(arca_error_message(), "restoring /srv/x: pack ab12: MAC mismatch");

	/* a prefix never overwrites the recorded code */
	arca_error_prefix(ARCA_ERROR, "outer");
	assert_int_equal(arca_error_code(), ARCA_CORRUPT);
	assert_string_equal(arca_error_message(), "outer: restoring /srv/x: pack ab12: MAC mismatch");

	/* hints ride along with prefixes and are reset by the next failure */
	rc = arca_error_hint(arca_error_set(ARCA_LOCKED, "locked by pid %d", 7), "wait for pid %d", 7);
	assert_int_equal(rc, ARCA_LOCKED);
	assert_string_equal(arca_error_hint_text(), "wait for pid 7");
	arca_error_prefix(rc, "backup");
	assert_string_equal(arca_error_message(), "backup: locked by pid 7");
	assert_string_equal(arca_error_hint_text(), "wait for pid 7");
	arca_error_set(ARCA_INVAL, "x");
	assert_string_equal(arca_error_hint_text(), "");

	/* long messages are truncated, never overflowed */
	{
		char *big = malloc(5000);
		assert_non_null(big);
		memset(big, 'm', 4999);
		big[4999] = '\0';
		arca_error_set(ARCA_ERROR, "%s", big);
		assert_true(strlen(arca_error_message()) < 5000);
		assert_true(strlen(arca_error_message()) >= 512);
		arca_error_prefix(ARCA_ERROR, "%s", big);
		assert_true(strlen(arca_error_message()) < 5000);
		free(big);
	}
	arca_error_clear();
	assert_int_equal(arca_error_code(), 0);
}

static void test_error_errno(void **state)
{
	int rc;
	assert_int_equal(arca_status_from_errno(ENOENT), ARCA_NOTFOUND);
	assert_int_equal(arca_status_from_errno(ENOTDIR), ARCA_NOTFOUND);
	assert_int_equal(arca_status_from_errno(EEXIST), ARCA_EXISTS);
	assert_int_equal(arca_status_from_errno(ENOMEM), ARCA_NOMEM);
	assert_int_equal(arca_status_from_errno(ENOSPC), ARCA_NOSPACE);
	assert_int_equal(arca_status_from_errno(EDQUOT), ARCA_NOSPACE);
	assert_int_equal(arca_status_from_errno(EAGAIN), ARCA_TRANSIENT);
	assert_int_equal(arca_status_from_errno(EINTR), ARCA_TRANSIENT);
	assert_int_equal(arca_status_from_errno(EINVAL), ARCA_INVAL);
	assert_int_equal(arca_status_from_errno(EIO), ARCA_ERROR);

	rc = arca_error_errno(ENOSPC, "cannot write %s", "data/ab/cd");
	assert_int_equal(rc, ARCA_NOSPACE);
	assert_int_equal(arca_error_code(), ARCA_NOSPACE);
	assert_non_null(strstr(arca_error_message(), "cannot write data/ab/cd: "));
	assert_non_null(strstr(arca_error_message(), strerror(ENOSPC)));
	assert_non_null(strstr(arca_error_hint_text(), "free some space"));

	rc = arca_error_errno(ENOENT, "cannot open %s", "x");
	assert_int_equal(rc, ARCA_NOTFOUND);
	assert_string_equal(arca_error_hint_text(), ""); /* the old hint is gone */

	assert_string_equal(arca_status_name(ARCA_OK), "ok");
	assert_string_equal(arca_status_name(ARCA_NOSPACE), "no space");
	assert_string_equal(arca_status_name(ARCA_CORRUPT), "corrupt");
	assert_string_equal(arca_status_name(ARCA_NOTFOUND), "not found");
	assert_string_equal(arca_status_name(-1000), "error");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_buf_reserve_overflow),
		cmocka_unit_test(test_grow_array),
		cmocka_unit_test(test_buf_printf),
		cmocka_unit_test(test_buf_detach),
		cmocka_unit_test(test_buf_big),
		cmocka_unit_test(test_bytering),
		cmocka_unit_test(test_varint_boundaries),
		cmocka_unit_test(test_varint_hostile),
		cmocka_unit_test(test_fixed_le),
		cmocka_unit_test(test_svarint),
		cmocka_unit_test(test_bytes_and_strings),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_json_nesting),
		cmocka_unit_test(test_time_parse_rfc3339),
		cmocka_unit_test(test_time_parse_local),
		cmocka_unit_test(test_time_parse_bad),
		cmocka_unit_test(test_time_format_roundtrip),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_error_record),
		cmocka_unit_test(test_error_errno),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
