/*
 * tests/unit/test_pack.c - blobs, packs, trailers, index files and sealed
 * objects: round trips under every cipher, the exact bytes of the formats
 * (cipher none shows them in the clear), and rejection of damaged or
 * hostile input with ARCA_CORRUPT.
 */
#include "pack/pack.h"
#include "arca/error.h"
#include "util/enc.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const uint8_t key1[ARCA_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };
static const uint8_t key2[ARCA_KEY_LEN] = { 9 };

static arca_blob_codec codec(unsigned cipher, const uint8_t *key, int zstd)
{
	arca_blob_codec c;
	c.cipher = arca_cipher_by_id(cipher);
	assert_non_null(c.cipher);
	c.key = key;
	c.compress_algo = zstd ? ARCA_COMPRESS_ZSTD : ARCA_COMPRESS_NONE;
	c.compress_level = 3;
	return c;
}

static arca_id mkid(uint8_t a, uint8_t b)
{
	arca_id id;
	memset(&id, a, sizeof(id));
	id.b[31] = b;
	return id;
}

/* Test blobs: compressible text, random bytes, one byte, nothing. */
#define NBLOBS 5
static uint8_t text[20000], noise[3000];
static const struct {
	const uint8_t *p;
	size_t n;
	uint8_t type;
} blobs[NBLOBS] = {
	{ text, sizeof(text), ARCA_BLOB_DATA },
	{ noise, sizeof(noise), ARCA_BLOB_DATA },
	{ (const uint8_t *)"x", 1, ARCA_BLOB_TREE },
	{ (const uint8_t *)"", 0, ARCA_BLOB_DATA },
	{ text + 100, 5000, ARCA_BLOB_TREE },
};

static int setup_group(void **state)
{
	uint64_t s = 88172645463325252ull;
	assert_int_equal(arca_crypto_init(), 0);
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (uint8_t)"the quick brown fox jumps over the lazy dog\n"[i % 44];
	for (size_t i = 0; i < sizeof(noise); i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		noise[i] = (uint8_t)(s >> 32);
	}
	return 0;
}

typedef struct packed {
	arca_buf bytes;
	arca_blob_entry entries[NBLOBS];
	size_t n;
	arca_id id;
} packed;

static void build_pack(const arca_blob_codec *c, arca_zctx *z, packed *pk)
{
	arca_pack_writer *w;
	const arca_buf *bytes;
	const arca_blob_entry *es;
	size_t n;

	assert_int_equal(arca_pack_writer_new(&w, c), 0);
	for (int i = 0; i < NBLOBS; i++) {
		arca_id id = mkid((uint8_t)(0x10 + i), 1);
		assert_int_equal(arca_pack_writer_add(w, z, blobs[i].type, &id, blobs[i].p, blobs[i].n), 0);
	}
	assert_int_equal(arca_pack_writer_count(w), NBLOBS);
	assert_int_equal(arca_pack_writer_finish(w, z, &pk->id, &bytes, &es, &n), 0);
	assert_int_equal(n, NBLOBS);
	memset(&pk->bytes, 0, sizeof(pk->bytes));
	assert_int_equal(arca_buf_put(&pk->bytes, bytes->data, bytes->len), 0);
	memcpy(pk->entries, es, n * sizeof(*es));
	pk->n = n;
	arca_pack_writer_free(w);
}

/* Footer -> trailer -> every blob, as a reader with only the bytes would. */
static void read_pack(const arca_blob_codec *c, arca_zctx *z, const packed *pk)
{
	const uint8_t *b = pk->bytes.data;
	size_t size = pk->bytes.len;
	uint32_t tlen;
	arca_blob_entry *es;
	size_t n;
	arca_id sum;

	arca_sha256(&sum, b, size);
	assert_memory_equal(sum.b, pk->id.b, ARCA_ID_LEN);
	assert_memory_equal(b + size - 8, "ARCAPACK", 8);
	assert_int_equal(arca_get_le32(b + size - 12), 1);

	assert_int_equal(arca_pack_footer_parse(b + size - ARCA_PACK_FOOTER_LEN, size, &tlen), 0);
	assert_int_equal(arca_pack_trailer_parse(c, z, b + size - ARCA_PACK_FOOTER_LEN - tlen, tlen,
						 size, &es, &n), 0);
	assert_int_equal(n, pk->n);
	for (size_t i = 0; i < n; i++) {
		arca_buf raw = ARCA_BUF_INIT;
		arca_id id = mkid((uint8_t)(0x10 + i), 1);
		assert_memory_equal(es[i].id.b, id.b, ARCA_ID_LEN);
		assert_int_equal(es[i].type, blobs[i].type);
		assert_int_equal(es[i].flags, pk->entries[i].flags);
		assert_int_equal(es[i].offset, pk->entries[i].offset);
		assert_int_equal(es[i].stored_len, pk->entries[i].stored_len);
		assert_int_equal(es[i].raw_len, blobs[i].n);
		assert_int_equal(es[i].key_id, 0);
		assert_int_equal(arca_blob_open(c, z, &raw, &es[i].id, es[i].flags, b + es[i].offset,
						es[i].stored_len, es[i].raw_len), 0);
		assert_int_equal(raw.len, blobs[i].n);
		if (raw.len)
			assert_memory_equal(raw.data, blobs[i].p, raw.len);
		arca_buf_free(&raw);
	}
	free(es);
}

static void test_roundtrip(void **state)
{
	for (unsigned cid = 0; cid <= 2; cid++) {
		for (int zs = 0; zs <= 1; zs++) {
			arca_blob_codec c = codec(cid, cid ? key1 : NULL, zs);
			arca_zctx *z;
			packed pk;

			assert_int_equal(arca_zctx_new(&z, c.compress_algo, 3), 0);
			build_pack(&c, z, &pk);
			/* compression only where it pays */
			assert_int_equal(pk.entries[0].flags, zs ? ARCA_BLOB_F_ZSTD : 0);
			assert_int_equal(pk.entries[1].flags, 0);
			assert_int_equal(pk.entries[3].flags, 0);
			assert_int_equal(pk.entries[1].stored_len,
					 sizeof(noise) + arca_cipher_overhead(c.cipher));
			read_pack(&c, z, &pk);
			/* a reader without a zstd context of its own still reads */
			read_pack(&c, NULL, &pk);
			arca_buf_free(&pk.bytes);
			arca_zctx_free(z);
		}
	}
}

/* The format byte for byte, in the clear. */
static void test_exact_bytes(void **state)
{
	arca_blob_codec c = codec(ARCA_CIPHER_NONE, NULL, 0);
	arca_pack_writer *w;
	const arca_buf *bytes;
	const arca_blob_entry *es;
	arca_id id = mkid(0xab, 0xcd), pid;
	size_t n;
	uint8_t want[3 + 40 + 16], *p = want;

	assert_int_equal(arca_pack_writer_new(&w, &c), 0);
	assert_int_equal(arca_pack_writer_add(w, NULL, ARCA_BLOB_TREE, &id, "abc", 3), 0);
	assert_int_equal(arca_pack_writer_finish(w, NULL, &pid, &bytes, &es, &n), 0);

	memcpy(p, "abc", 3), p += 3;
	*p++ = 1;    /* trailer version */
	*p++ = 1;    /* count */
	*p++ = 1;    /* type tree */
	*p++ = 0;    /* flags */
	*p++ = 0;    /* key id */
	memcpy(p, id.b, 32), p += 32;
	*p++ = 0;    /* offset */
	*p++ = 3;    /* stored_len */
	*p++ = 3;    /* raw_len */
	memcpy(p, "\x28\0\0\0\x01\0\0\0ARCAPACK", 16), p += 16;
	assert_int_equal(p - want, sizeof(want));
	assert_int_equal(bytes->len, sizeof(want));
	assert_memory_equal(bytes->data, want, sizeof(want));

	/* finish twice: same answer; then reuse for another pack */
	{
		arca_id pid2;
		const arca_buf *b2;
		assert_int_equal(arca_pack_writer_finish(w, NULL, &pid2, &b2, &es, &n), 0);
		assert_memory_equal(pid2.b, pid.b, ARCA_ID_LEN);
		arca_pack_writer_reset(w);
		assert_int_equal(arca_pack_writer_size(w), 0);
		assert_int_equal(arca_pack_writer_add(w, NULL, ARCA_BLOB_DATA, &id, "abcd", 4), 0);
		assert_int_equal(arca_pack_writer_finish(w, NULL, &pid2, &b2, &es, &n), 0);
		assert_int_equal(n, 1);
		assert_memory_not_equal(pid2.b, pid.b, ARCA_ID_LEN);
		assert_int_equal(es[0].offset, 0);
	}
	arca_pack_writer_free(w);
	arca_pack_writer_free(NULL);

	/* metadata object, in the clear: flags 0, varint length, raw body */
	{
		arca_buf o = ARCA_BUF_INIT;
		assert_int_equal(arca_object_seal(&c, NULL, &o, "arca-test", "hello", 5), 0);
		assert_int_equal(o.len, 7);
		assert_memory_equal(o.data, "\x00\x05hello", 7);
		arca_buf_free(&o);
	}
}

static void test_blob_tamper(void **state)
{
	for (unsigned cid = 1; cid <= 2; cid++) {
		arca_blob_codec c = codec(cid, key1, 1), c2 = codec(cid, key2, 1);
		arca_zctx *z;
		arca_buf sealed = ARCA_BUF_INIT, raw = ARCA_BUF_INIT;
		arca_id id = mkid(1, 2), other = mkid(1, 3);
		uint8_t flags;

		assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3), 0);
		assert_int_equal(arca_blob_seal(&c, z, &sealed, &id, text, 4000, &flags), 0);
		assert_int_equal(flags, ARCA_BLOB_F_ZSTD);
		assert_int_equal(arca_blob_open(&c, z, &raw, &id, flags, sealed.data, sealed.len, 4000), 0);
		assert_memory_equal(raw.data, text, 4000);
		arca_buf_clear(&raw);

		/* another blob's id: the blob was swapped */
		assert_int_equal(arca_blob_open(&c, z, &raw, &other, flags, sealed.data, sealed.len, 4000),
				 ARCA_CORRUPT);
		assert_non_null(strstr(arca_error_message(), "blob 0101"));
		assert_int_equal(raw.len, 0);
		/* wrong key */
		assert_int_equal(arca_blob_open(&c2, z, &raw, &id, flags, sealed.data, sealed.len, 4000),
				 ARCA_CORRUPT);
		/* every flipped byte is caught */
		for (size_t i = 0; i < sealed.len; i += 7) {
			sealed.data[i] ^= 0x20;
			assert_int_equal(arca_blob_open(&c, z, &raw, &id, flags, sealed.data, sealed.len, 4000),
					 ARCA_CORRUPT);
			sealed.data[i] ^= 0x20;
		}
		/* cut short, wrong length, unknown flag bits */
		assert_int_equal(arca_blob_open(&c, z, &raw, &id, flags, sealed.data, sealed.len - 1, 4000),
				 ARCA_CORRUPT);
		assert_int_equal(arca_blob_open(&c, z, &raw, &id, flags, sealed.data, 10, 4000), ARCA_CORRUPT);
		assert_int_equal(arca_blob_open(&c, z, &raw, &id, flags, sealed.data, sealed.len, 3999),
				 ARCA_CORRUPT);
		assert_int_equal(arca_blob_open(&c, z, &raw, &id, 0, sealed.data, sealed.len, 4000),
				 ARCA_CORRUPT);
		assert_int_equal(arca_blob_open(&c, z, &raw, &id, 0x80 | flags, sealed.data, sealed.len, 4000),
				 ARCA_CORRUPT);
		assert_int_equal(raw.len, 0);
		arca_buf_free(&sealed);
		arca_buf_free(&raw);
		arca_zctx_free(z);
	}
	{
		/* too large to seal */
		arca_blob_codec c = codec(0, NULL, 0);
		arca_buf out = ARCA_BUF_INIT;
		arca_id id = mkid(1, 1);
		uint8_t flags;
		assert_int_equal(arca_blob_seal(&c, NULL, &out, &id, text, ARCA_PACK_MAX_BLOB + 1u, &flags),
				 ARCA_INVAL);
		assert_int_equal(out.len, 0);
		/* a cipher without its key */
		c = codec(1, NULL, 0);
		assert_int_equal(arca_blob_seal(&c, NULL, &out, &id, text, 10, &flags), ARCA_INVAL);
	}
}

static void test_pack_damage(void **state)
{
	arca_blob_codec c = codec(ARCA_CIPHER_XCHACHA20_POLY1305, key1, 1);
	arca_blob_codec wrong = codec(ARCA_CIPHER_XCHACHA20_POLY1305, key2, 1);
	arca_zctx *z;
	packed pk;
	uint8_t *b, foot[16];
	size_t size;
	uint32_t tlen;
	arca_blob_entry *es = (arca_blob_entry *)1;
	size_t n = 7;

	assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3), 0);
	build_pack(&c, z, &pk);
	b = pk.bytes.data;
	size = pk.bytes.len;

	/* truncated: the footer is gone */
	assert_int_equal(arca_pack_footer_parse(b + size - 17, size - 1, &tlen), ARCA_CORRUPT);
	assert_int_equal(tlen, 0);
	assert_int_equal(arca_pack_footer_parse(b, 10, &tlen), ARCA_CORRUPT);
	/* bad magic, version, trailer length */
	memcpy(foot, b + size - 16, 16);
	foot[15] = 'X';
	assert_int_equal(arca_pack_footer_parse(foot, size, &tlen), ARCA_CORRUPT);
	memcpy(foot, b + size - 16, 16);
	foot[4] = 2;
	assert_int_equal(arca_pack_footer_parse(foot, size, &tlen), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "version 2"));
	memcpy(foot, b + size - 16, 16);
	arca_put_le32(foot, (uint32_t)size);
	assert_int_equal(arca_pack_footer_parse(foot, size, &tlen), ARCA_CORRUPT);

	assert_int_equal(arca_pack_footer_parse(b + size - 16, size, &tlen), 0);
	/* a pack that lost bytes at the front: the blobs no longer fit */
	assert_int_equal(arca_pack_trailer_parse(&c, z, b + size - 16 - tlen, tlen, size - 1, &es, &n),
			 ARCA_CORRUPT);
	assert_null(es);
	assert_int_equal(n, 0);
	assert_int_equal(arca_pack_trailer_parse(&c, z, b + size - 16 - tlen, tlen, size + 5, &es, &n),
			 ARCA_CORRUPT);
	/* wrong key, flipped trailer byte */
	assert_int_equal(arca_pack_trailer_parse(&wrong, z, b + size - 16 - tlen, tlen, size, &es, &n),
			 ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "pack trailer"));
	b[size - 16 - tlen / 2] ^= 1;
	assert_int_equal(arca_pack_trailer_parse(&c, z, b + size - 16 - tlen, tlen, size, &es, &n),
			 ARCA_CORRUPT);
	b[size - 16 - tlen / 2] ^= 1;
	assert_int_equal(arca_pack_trailer_parse(&c, z, b + size - 16 - tlen, tlen, size, &es, &n), 0);
	assert_int_equal(n, NBLOBS);
	free(es);
	arca_buf_free(&pk.bytes);
	arca_zctx_free(z);
}

/* Seal a hand-made trailer plaintext and parse it as the trailer of a pack
 * whose blob area is blob_bytes long. */
static int parse_crafted(const arca_blob_codec *c, const arca_buf *pt, uint64_t blob_bytes)
{
	arca_buf sealed = ARCA_BUF_INIT;
	arca_blob_entry *es = NULL;
	size_t n = 0;
	int rc;

	assert_int_equal(arca_seal(c->cipher, c->key, &sealed, pt->data, pt->len,
				   "arca-pack-trailer-v1", 20), 0);
	rc = arca_pack_trailer_parse(c, NULL, sealed.data, sealed.len,
				     blob_bytes + sealed.len + ARCA_PACK_FOOTER_LEN, &es, &n);
	if (rc) {
		assert_null(es);
		assert_int_equal(n, 0);
	}
	free(es);
	arca_buf_free(&sealed);
	return rc;
}

typedef struct raw_entry {
	uint64_t type, flags, key_id, offset, stored, raw;
} raw_entry;

static void craft(arca_buf *pt, uint8_t version, uint64_t count, const raw_entry *e, size_t n)
{
	arca_id id = mkid(0x77, 0);
	arca_buf_clear(pt);
	arca_enc_u8(pt, version);
	arca_enc_varint(pt, count);
	for (size_t i = 0; i < n; i++) {
		arca_enc_u8(pt, (uint8_t)e[i].type);
		arca_enc_u8(pt, (uint8_t)e[i].flags);
		arca_enc_varint(pt, e[i].key_id);
		id.b[0] = (uint8_t)i;
		arca_buf_put(pt, id.b, 32);
		arca_enc_varint(pt, e[i].offset);
		arca_enc_varint(pt, e[i].stored);
		arca_enc_varint(pt, e[i].raw);
	}
}

static void test_trailer_rules(void **state)
{
	arca_blob_codec none = codec(ARCA_CIPHER_NONE, NULL, 0);
	arca_blob_codec x = codec(ARCA_CIPHER_XCHACHA20_POLY1305, key1, 0);
	size_t ov = arca_cipher_overhead(x.cipher);
	arca_buf pt = ARCA_BUF_INIT;
	const uint64_t M = ARCA_PACK_MAX_BLOB;
	raw_entry good[2] = { { 0, 0, 0, 0, 10, 10 }, { 1, 1, 5, 10, 20, 100 } };
	raw_entry e[2];

	craft(&pt, 1, 2, good, 2);
	assert_int_equal(parse_crafted(&none, &pt, 30), 0);
	/* the blobs must end exactly where the trailer starts */
	assert_int_equal(parse_crafted(&none, &pt, 31), ARCA_CORRUPT);
	assert_int_equal(parse_crafted(&none, &pt, 29), ARCA_CORRUPT);
	/* version, count, garbage */
	craft(&pt, 2, 2, good, 2);
	assert_int_equal(parse_crafted(&none, &pt, 30), ARCA_CORRUPT);
	craft(&pt, 1, 3, good, 2);
	assert_int_equal(parse_crafted(&none, &pt, 30), ARCA_CORRUPT);
	craft(&pt, 1, UINT64_MAX, good, 2);
	assert_int_equal(parse_crafted(&none, &pt, 30), ARCA_CORRUPT);
	craft(&pt, 1, 1, good, 2);
	assert_int_equal(parse_crafted(&none, &pt, 10), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "trailing"));
	craft(&pt, 1, 2, good, 2);
	arca_enc_u8(&pt, 0);
	assert_int_equal(parse_crafted(&none, &pt, 30), ARCA_CORRUPT);
	pt.len -= 3; /* cut inside the last entry */
	assert_int_equal(parse_crafted(&none, &pt, 30), ARCA_CORRUPT);
	craft(&pt, 1, 0, NULL, 0);
	assert_int_equal(parse_crafted(&none, &pt, 0), 0);

	/* sequence: first offset 0, no gaps, no overlaps */
	memcpy(e, good, sizeof(e));
	e[0].offset = 1, e[1].offset = 11;
	craft(&pt, 1, 2, e, 2);
	assert_int_equal(parse_crafted(&none, &pt, 31), ARCA_CORRUPT);
	memcpy(e, good, sizeof(e));
	e[1].offset = 12;
	craft(&pt, 1, 2, e, 2);
	assert_int_equal(parse_crafted(&none, &pt, 32), ARCA_CORRUPT);
	e[1].offset = 8;
	craft(&pt, 1, 2, e, 2);
	assert_int_equal(parse_crafted(&none, &pt, 28), ARCA_CORRUPT);
	/* the right total, in the wrong places */
	memcpy(e, good, sizeof(e));
	e[0].offset = 20, e[1].offset = 0;
	craft(&pt, 1, 2, e, 2);
	assert_int_equal(parse_crafted(&none, &pt, 30), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "entry 0 starts at 20, expected 0"));

	/* per-entry limits */
	static const raw_entry bad[] = {
		{ 2, 0, 0, 0, 10, 10 },         /* unknown type */
		{ 0, 2, 0, 0, 10, 10 },         /* unknown flag */
		{ 0, 0x81, 0, 0, 10, 10 },      /* unknown flag */
		{ 0, 1, 0, 0, 10, M + 1 },      /* raw too large */
		{ 0, 1, 0, 0, M + 1, 10 },      /* stored too large */
		{ 0, 0, 0, 0, 10, 11 },         /* raw blob whose lengths disagree */
		{ 0, 0, 1ull << 32, 0, 10, 10 } /* key id beyond u32 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		craft(&pt, 1, 1, &bad[i], 1);
		assert_int_equal(parse_crafted(&none, &pt, bad[i].stored), ARCA_CORRUPT);
	}
	/* shorter than nonce and tag */
	e[0] = (raw_entry){ 0, 1, 0, 0, ov - 1, 100 };
	craft(&pt, 1, 1, e, 1);
	assert_int_equal(parse_crafted(&x, &pt, ov - 1), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "nonce and tag"));
	e[0] = (raw_entry){ 0, 1, 0, 0, ov, 100 };
	craft(&pt, 1, 1, e, 1);
	assert_int_equal(parse_crafted(&x, &pt, ov), 0);
	arca_buf_free(&pt);
}

static void fill_idx(arca_idx_file *f, arca_idx_pack *packs, arca_blob_entry *es, arca_id *sup)
{
	for (int i = 0; i < 6; i++) {
		memset(&es[i], 0, sizeof(es[i]));
		es[i].id = mkid((uint8_t)(0x30 + i), 9);
		es[i].type = (uint8_t)(i & 1);
		es[i].flags = ARCA_BLOB_F_ZSTD;
		es[i].key_id = (uint32_t)i * 1000;
		es[i].offset = (uint64_t)i * 70000 + (i == 5 ? (1ull << 40) : 0);
		es[i].stored_len = 60000 + (uint32_t)i;
		es[i].raw_len = ARCA_PACK_MAX_BLOB - (uint32_t)i;
	}
	packs[0] = (arca_idx_pack){ mkid(0xa0, 0), es, 2 };
	packs[1] = (arca_idx_pack){ mkid(0xa1, 0), es + 2, 0 };
	packs[2] = (arca_idx_pack){ mkid(0xa2, 0), es + 2, 4 };
	sup[0] = mkid(0xee, 1);
	sup[1] = mkid(0xee, 2);
	f->packs = packs;
	f->npacks = 3;
	f->supersedes = sup;
	f->nsupersedes = 2;
}

static void test_index_file(void **state)
{
	arca_idx_pack packs[3];
	arca_blob_entry es[6];
	arca_id sup[2];
	arca_idx_file f, *g;

	fill_idx(&f, packs, es, sup);
	for (unsigned cid = 0; cid <= 2; cid++) {
		arca_blob_codec c = codec(cid, key1, 1), c2 = codec(cid, key2, 1);
		arca_zctx *z;
		arca_buf enc = ARCA_BUF_INIT;

		assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3), 0);
		assert_int_equal(arca_idx_file_encode(&c, z, &enc, &f), 0);
		assert_int_equal(arca_idx_file_decode(&c, z, &g, enc.data, enc.len), 0);
		assert_int_equal(g->npacks, 3);
		for (size_t i = 0; i < 3; i++) {
			assert_memory_equal(g->packs[i].pack_id.b, packs[i].pack_id.b, ARCA_ID_LEN);
			assert_int_equal(g->packs[i].n, packs[i].n);
			for (size_t j = 0; j < packs[i].n; j++)
				assert_memory_equal(&g->packs[i].entries[j], &packs[i].entries[j],
						    sizeof(arca_blob_entry));
		}
		assert_int_equal(g->nsupersedes, 2);
		assert_memory_equal(g->supersedes, sup, sizeof(sup));
		arca_idx_file_free(g);
		arca_idx_file_free(NULL);

		/* no zstd context: still decodes */
		assert_int_equal(arca_idx_file_decode(&c, NULL, &g, enc.data, enc.len), 0);
		arca_idx_file_free(g);

		if (cid) {
			g = (arca_idx_file *)1;
			assert_int_equal(arca_idx_file_decode(&c2, z, &g, enc.data, enc.len), ARCA_CORRUPT);
			assert_null(g);
			enc.data[enc.len / 2] ^= 4;
			assert_int_equal(arca_idx_file_decode(&c, z, &g, enc.data, enc.len), ARCA_CORRUPT);
			enc.data[enc.len / 2] ^= 4;
			/* an index file is not a snapshot: the label is bound in */
			{
				arca_buf o = ARCA_BUF_INIT;
				assert_int_equal(arca_object_open(&c, z, &o, "arca-snapshot-v1", enc.data, enc.len),
						 ARCA_CORRUPT);
				assert_int_equal(o.len, 0);
				arca_buf_free(&o);
			}
		}
		arca_buf_free(&enc);
		arca_zctx_free(z);
	}
}

/* Index files made by hand (cipher none, no compression), to reach the
 * decoder's checks. */
static int decode_plain(const arca_buf *pt)
{
	arca_blob_codec c = codec(ARCA_CIPHER_NONE, NULL, 0);
	arca_buf obj = ARCA_BUF_INIT;
	arca_idx_file *g = (arca_idx_file *)1;
	int rc;

	assert_int_equal(arca_object_seal(&c, NULL, &obj, "arca-index-v1", pt->data, pt->len), 0);
	rc = arca_idx_file_decode(&c, NULL, &g, obj.data, obj.len);
	if (rc)
		assert_null(g);
	arca_idx_file_free(rc ? NULL : g);
	arca_buf_free(&obj);
	return rc;
}

static void test_index_file_rules(void **state)
{
	arca_blob_codec none = codec(ARCA_CIPHER_NONE, NULL, 0);
	arca_idx_pack packs[3];
	arca_blob_entry es[6];
	arca_id sup[2];
	arca_idx_file f;
	arca_buf obj = ARCA_BUF_INIT, pt = ARCA_BUF_INIT;
	arca_id id = mkid(5, 5);

	fill_idx(&f, packs, es, sup);
	assert_int_equal(arca_idx_file_encode(&none, NULL, &obj, &f), 0);
	/* recover the plaintext: cipher none, uncompressed object */
	assert_int_equal(arca_object_open(&none, NULL, &pt, "arca-index-v1", obj.data, obj.len), 0);
	assert_int_equal(decode_plain(&pt), 0);

	/* every proper prefix is cut short somewhere */
	{
		size_t full = pt.len;
		for (size_t cut = 0; cut < full; cut++) {
			pt.len = cut;
			assert_int_equal(decode_plain(&pt), ARCA_CORRUPT);
		}
		pt.len = full;
	}
	arca_enc_u8(&pt, 0);
	assert_int_equal(decode_plain(&pt), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "trailing"));
	pt.len--;
	pt.data[0] = 2;
	assert_int_equal(decode_plain(&pt), ARCA_CORRUPT);
	pt.data[0] = 1;

	/* counts that the bytes cannot hold */
	arca_buf_clear(&pt);
	arca_enc_u8(&pt, 1);
	arca_enc_varint(&pt, 1000000);
	arca_buf_put(&pt, id.b, 32);
	arca_enc_varint(&pt, 0);
	arca_enc_varint(&pt, 0);
	assert_int_equal(decode_plain(&pt), ARCA_CORRUPT);
	arca_buf_clear(&pt);
	arca_enc_u8(&pt, 1);
	arca_enc_varint(&pt, 1);
	arca_buf_put(&pt, id.b, 32);
	arca_enc_varint(&pt, UINT64_MAX);
	arca_enc_varint(&pt, 0);
	assert_int_equal(decode_plain(&pt), ARCA_CORRUPT);
	arca_buf_clear(&pt);
	arca_enc_u8(&pt, 1);
	arca_enc_varint(&pt, 0);
	arca_enc_varint(&pt, 3);
	arca_buf_put(&pt, id.b, 32);
	assert_int_equal(decode_plain(&pt), ARCA_CORRUPT);
	/* an entry the trailer rules reject, and an offset that overflows */
	{
		arca_blob_entry bad = es[0];
		arca_idx_pack p = { id, &bad, 1 };
		arca_idx_file one = { &p, 1, NULL, 0 };
		bad.type = 7;
		arca_buf_clear(&obj);
		assert_int_equal(arca_idx_file_encode(&none, NULL, &obj, &one), 0);
		{
			arca_idx_file *g;
			assert_int_equal(arca_idx_file_decode(&none, NULL, &g, obj.data, obj.len), ARCA_CORRUPT);
			bad.type = 0;
			bad.offset = UINT64_MAX - 10;
			arca_buf_clear(&obj);
			assert_int_equal(arca_idx_file_encode(&none, NULL, &obj, &one), 0);
			assert_int_equal(arca_idx_file_decode(&none, NULL, &g, obj.data, obj.len), ARCA_CORRUPT);
		}
	}
	arca_buf_free(&obj);
	arca_buf_free(&pt);
}

static void test_object(void **state)
{
	for (unsigned cid = 0; cid <= 2; cid++) {
		arca_blob_codec c = codec(cid, key1, 1);
		arca_zctx *z;
		arca_buf o = ARCA_BUF_INIT, back = ARCA_BUF_INIT;

		assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3), 0);
		/* compressible: smaller than the input */
		assert_int_equal(arca_object_seal(&c, z, &o, "arca-snapshot-v1", text, sizeof(text)), 0);
		assert_true(o.len < sizeof(text) / 4);
		assert_int_equal(arca_object_open(&c, z, &back, "arca-snapshot-v1", o.data, o.len), 0);
		assert_int_equal(back.len, sizeof(text));
		assert_memory_equal(back.data, text, sizeof(text));
		arca_buf_clear(&o);
		arca_buf_clear(&back);
		/* incompressible, and empty */
		assert_int_equal(arca_object_seal(&c, z, &o, "l", noise, sizeof(noise)), 0);
		assert_int_equal(o.len, 1 + 2 + sizeof(noise) + arca_cipher_overhead(c.cipher));
		assert_int_equal(arca_object_open(&c, z, &back, "l", o.data, o.len), 0);
		assert_memory_equal(back.data, noise, sizeof(noise));
		arca_buf_clear(&o);
		arca_buf_clear(&back);
		assert_int_equal(arca_object_seal(&c, z, &o, "l", "", 0), 0);
		assert_int_equal(arca_object_open(&c, z, &back, "l", o.data, o.len), 0);
		assert_int_equal(back.len, 0);
		if (cid) {
			assert_int_equal(arca_object_open(&c, z, &back, "m", o.data, o.len), ARCA_CORRUPT);
			o.data[o.len - 1] ^= 1;
			assert_int_equal(arca_object_open(&c, z, &back, "l", o.data, o.len), ARCA_CORRUPT);
		}
		arca_buf_free(&o);
		arca_buf_free(&back);
		arca_zctx_free(z);
	}
	{
		/* hand-made payloads in the clear */
		arca_blob_codec c = codec(ARCA_CIPHER_NONE, NULL, 0);
		arca_buf back = ARCA_BUF_INIT;
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x00\x02hi", 4), 0);
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x02\x02hi", 4), ARCA_CORRUPT);
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x00\x03hi", 4), ARCA_CORRUPT);
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x00\x01hi", 4), ARCA_CORRUPT);
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x01\x02hi", 4), ARCA_CORRUPT);
		/* 2 GiB declared */
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x01\x80\x80\x80\x80\x08hi", 8),
				 ARCA_CORRUPT);
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "\x00", 1), ARCA_CORRUPT);
		assert_int_equal(arca_object_open(&c, NULL, &back, "l", "", 0), ARCA_CORRUPT);
		assert_int_equal(back.len, 2);
		arca_buf_free(&back);
	}
}

static void test_add_sealed(void **state)
{
	arca_blob_codec c = codec(ARCA_CIPHER_AES256_GCM, key1, 1);
	arca_zctx *z;
	packed a, b;
	arca_pack_writer *w;
	const arca_buf *bytes;
	const arca_blob_entry *es;
	size_t n;

	assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3), 0);
	build_pack(&c, z, &a);
	/* copy the blobs into a new pack in the same order: a repack */
	assert_int_equal(arca_pack_writer_new(&w, &c), 0);
	for (size_t i = 0; i < a.n; i++)
		assert_int_equal(arca_pack_writer_add_sealed(w, &a.entries[i],
							     a.bytes.data + a.entries[i].offset), 0);
	assert_int_equal(arca_pack_writer_size(w), a.entries[a.n - 1].offset + a.entries[a.n - 1].stored_len);
	assert_int_equal(arca_pack_writer_finish(w, z, &b.id, &bytes, &es, &n), 0);
	memset(&b.bytes, 0, sizeof(b.bytes));
	arca_buf_put(&b.bytes, bytes->data, bytes->len);
	memcpy(b.entries, es, n * sizeof(*es));
	b.n = n;
	read_pack(&c, z, &b);
	/* the trailer is sealed afresh (new nonce): a different pack id */
	assert_memory_not_equal(a.id.b, b.id.b, ARCA_ID_LEN);
	{
		arca_blob_entry bad = a.entries[1];
		bad.stored_len = 3;
		assert_int_equal(arca_pack_writer_add_sealed(w, &bad, a.bytes.data), ARCA_INVAL);
	}
	arca_pack_writer_free(w);
	arca_buf_free(&a.bytes);
	arca_buf_free(&b.bytes);
	arca_zctx_free(z);
}

static void test_empty_pack(void **state)
{
	arca_blob_codec c = codec(ARCA_CIPHER_XCHACHA20_POLY1305, key1, 0);
	arca_pack_writer *w;
	const arca_buf *bytes;
	const arca_blob_entry *es;
	arca_blob_entry *got;
	size_t n;
	uint32_t tlen;
	arca_id id;

	assert_int_equal(arca_pack_writer_new(&w, &c), 0);
	assert_int_equal(arca_pack_writer_finish(w, NULL, &id, &bytes, &es, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(arca_pack_footer_parse(bytes->data + bytes->len - 16, bytes->len, &tlen), 0);
	assert_int_equal(tlen, bytes->len - 16);
	assert_int_equal(arca_pack_trailer_parse(&c, NULL, bytes->data, tlen, bytes->len, &got, &n), 0);
	assert_int_equal(n, 0);
	free(got);
	arca_pack_writer_free(w);
}


/* Streaming: a sink receives the pack in pieces; the pieces make a valid
 * pack whose name is the SHA-256 of the bytes the sink saw. */
static int collect_sink(const void *p, size_t n, void *payload)
{
	return arca_buf_put(payload, p, n);
}

static void test_sink(void **state)
{
	arca_blob_codec c = codec(ARCA_CIPHER_XCHACHA20_POLY1305, key1, 1);
	arca_pack_writer *w;
	arca_zctx *z;
	arca_buf got = ARCA_BUF_INIT, raw = ARCA_BUF_INIT;
	const arca_buf *bytes;
	const arca_blob_entry *e;
	arca_blob_entry *pe = NULL;
	size_t n, pn, i;
	uint32_t tlen;
	arca_id pid, sum;
	static uint8_t big[3 << 20];
	(void)state;
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 2654435761u >> 13);
	assert_int_equal(arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3), 0);
	assert_int_equal(arca_pack_writer_new(&w, &c), 0);
	assert_int_equal(arca_pack_writer_set_sink(w, collect_sink, &got), 0);
	for (i = 0; i < 4; i++) {
		arca_id id = mkid((uint8_t)(i + 1), 7);
		assert_int_equal(arca_pack_writer_add(w, z, ARCA_BLOB_DATA, &id, big, sizeof(big) - i), 0);
	}
	/* most bytes have already left the writer */
	assert_true(got.len > 0);
	assert_int_equal(arca_pack_writer_finish(w, z, &pid, &bytes, &e, &n), 0);
	assert_int_equal(bytes->len, 0);
	assert_int_equal(n, 4);
	assert_int_equal(arca_pack_writer_total(w), got.len);
	arca_sha256(&sum, got.data, got.len);
	assert_memory_equal(sum.b, pid.b, 32);
	assert_int_equal(arca_pack_footer_parse(got.data + got.len - ARCA_PACK_FOOTER_LEN, got.len, &tlen), 0);
	assert_int_equal(arca_pack_trailer_parse(&c, z, got.data + got.len - ARCA_PACK_FOOTER_LEN - tlen, tlen,
						 got.len, &pe, &pn), 0);
	assert_int_equal(pn, 4);
	for (i = 0; i < pn; i++) {
		arca_buf_clear(&raw);
		assert_int_equal(pe[i].offset, e[i].offset);
		assert_int_equal(arca_blob_open(&c, z, &raw, &pe[i].id, pe[i].flags, got.data + pe[i].offset,
						pe[i].stored_len, pe[i].raw_len), 0);
		assert_int_equal(raw.len, sizeof(big) - i);
		assert_memory_equal(raw.data, big, raw.len);
	}
	free(pe);
	arca_buf_free(&raw);
	arca_buf_free(&got);
	arca_pack_writer_free(w);
	arca_zctx_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_blob_tamper),
		cmocka_unit_test(test_pack_damage),
		cmocka_unit_test(test_trailer_rules),
		cmocka_unit_test(test_index_file),
		cmocka_unit_test(test_index_file_rules),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_add_sealed),
		cmocka_unit_test(test_empty_pack),
		cmocka_unit_test(test_sink),
	};
	return cmocka_run_group_tests(tests, setup_group, NULL);
}
