/*
 * fuzz/fuzz_util_enc.c - the primitive readers and writers of
 * src/util/enc.c that every format is built from.
 *
 * Input: a little program.  Each step reads an op byte; its low nibble
 * picks a reader (u8, u32, u64, varint, svarint, raw, bytes, strdup) and
 * its high nibble a length or limit for raw/strdup.  After every read:
 *   - the cursor stays inside the input, a returned pointer points into it;
 *   - each value read is written with the matching writer and read back:
 *     same value, every byte consumed, and varints in their shortest form;
 *   - once a read fails, the error latches: every later read returns
 *     zero/NULL and the cursor no longer moves.
 */
#include "fuzz_common.h"
#include "util/enc.h"

#include <string.h>

#define MAX_STEPS 512

enum { OP_U8, OP_U32, OP_U64, OP_VARINT, OP_SVARINT, OP_RAW, OP_BYTES, OP_STRDUP, OP_COUNT };

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >>= 7)
		n++;
	return n;
}

/* Encode v with op's writer into a fresh buffer, read it back. */
static void roundtrip_int(int op, uint64_t v)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_dec d;
	uint64_t back = 0;
	int rc = 0;

	switch (op) {
	case OP_U8: rc = arca_enc_u8(&b, (uint8_t)v); break;
	case OP_U32: rc = arca_enc_u32(&b, (uint32_t)v); break;
	case OP_U64: rc = arca_enc_u64(&b, v); break;
	case OP_VARINT: rc = arca_enc_varint(&b, v); break;
	case OP_SVARINT: rc = arca_enc_svarint(&b, (int64_t)v); break;
	default: abort();
	}
	FUZZ_CHECK(rc == 0);
	arca_dec_init(&d, b.data, b.len);
	switch (op) {
	case OP_U8: FUZZ_CHECK(b.len == 1); back = arca_dec_u8(&d); break;
	case OP_U32: FUZZ_CHECK(b.len == 4); back = arca_dec_u32(&d); break;
	case OP_U64: FUZZ_CHECK(b.len == 8); back = arca_dec_u64(&d); break;
	case OP_VARINT:
		FUZZ_CHECK(b.len == varint_len(v));
		back = arca_dec_varint(&d);
		break;
	case OP_SVARINT: back = (uint64_t)arca_dec_svarint(&d); break;
	}
	FUZZ_CHECK(arca_dec_ok(&d) && arca_dec_left(&d) == 0 && back == v);
	arca_buf_free(&b);
}

static void roundtrip_bytes(const uint8_t *p, size_t n, bool as_str, size_t max)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_dec d;
	const uint8_t *q;
	size_t m;
	char *s;

	FUZZ_CHECK(arca_enc_bytes(&b, p, n) == 0);
	FUZZ_CHECK(b.len == varint_len(n) + n);
	arca_dec_init(&d, b.data, b.len);
	if (as_str) {
		s = arca_dec_strdup(&d, max);
		FUZZ_CHECK(s != NULL && strlen(s) == n && memcmp(s, p, n) == 0);
		free(s);
	} else {
		q = arca_dec_bytes(&d, &m);
		FUZZ_CHECK(m == n && (n == 0 || memcmp(q, p, n) == 0));
	}
	FUZZ_CHECK(arca_dec_ok(&d) && arca_dec_left(&d) == 0);
	arca_buf_free(&b);
}

/* After a failure every reader returns nothing and the cursor stays. */
static void check_latched(arca_dec *d)
{
	size_t pos = d->pos, n = 1;
	char *s;

	FUZZ_CHECK(!arca_dec_ok(d) && arca_dec_left(d) == 0);
	FUZZ_CHECK(arca_dec_u8(d) == 0 && arca_dec_u32(d) == 0 && arca_dec_u64(d) == 0);
	FUZZ_CHECK(arca_dec_varint(d) == 0 && arca_dec_svarint(d) == 0);
	FUZZ_CHECK(arca_dec_raw(d, 0) == NULL && arca_dec_raw(d, 1) == NULL);
	FUZZ_CHECK(arca_dec_bytes(d, &n) == NULL && n == 0);
	s = arca_dec_strdup(d, 16);
	FUZZ_CHECK(s == NULL);
	FUZZ_CHECK(!arca_dec_ok(d) && d->pos == pos);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_dec d;
	int step;

	fuzz_setup();
	arca_dec_init(&d, data, size);
	for (step = 0; step < MAX_STEPS && arca_dec_left(&d) > 0; step++) {
		uint8_t op = arca_dec_u8(&d);
		unsigned arg = op >> 4;
		size_t before = d.pos, n = 0, max;
		const uint8_t *p;
		uint64_t v = 0;
		char *s;
		int kind = (op & 15) % OP_COUNT;

		switch (kind) {
		case OP_U8: v = arca_dec_u8(&d); break;
		case OP_U32: v = arca_dec_u32(&d); break;
		case OP_U64: v = arca_dec_u64(&d); break;
		case OP_VARINT: v = arca_dec_varint(&d); break;
		case OP_SVARINT: v = (uint64_t)arca_dec_svarint(&d); break;
		case OP_RAW:
			n = arg * 3;
			p = arca_dec_raw(&d, n);
			if (arca_dec_ok(&d))
				FUZZ_CHECK(p == data + before && d.pos == before + n);
			else
				FUZZ_CHECK(p == NULL && n > size - before);
			break;
		case OP_BYTES:
			p = arca_dec_bytes(&d, &n);
			if (arca_dec_ok(&d)) {
				FUZZ_CHECK(p != NULL && p >= data + before && p + n == data + d.pos);
				roundtrip_bytes(p, n, false, 0);
			} else {
				FUZZ_CHECK(p == NULL && n == 0);
			}
			break;
		case OP_STRDUP:
			max = (size_t)arg * 17;
			s = arca_dec_strdup(&d, max);
			if (arca_dec_ok(&d)) {
				FUZZ_CHECK(s != NULL && strlen(s) <= max && d.pos > before);
				FUZZ_CHECK(memcmp(s, data + d.pos - strlen(s), strlen(s)) == 0);
				roundtrip_bytes((const uint8_t *)s, strlen(s), true, max);
			} else {
				FUZZ_CHECK(s == NULL);
			}
			free(s);
			break;
		}
		FUZZ_CHECK(d.pos <= d.len && d.len == size);
		if (!arca_dec_ok(&d)) {
			check_latched(&d);
			break;
		}
		if (kind <= OP_SVARINT) {
			FUZZ_CHECK(d.pos > before);
			roundtrip_int(kind, v);
			/* the writer never uses more bytes than the reader consumed */
			if (kind == OP_VARINT)
				FUZZ_CHECK(varint_len(v) <= d.pos - before);
		}
	}
	return 0;
}
