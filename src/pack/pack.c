/*
 * pack/pack.c - sealed blobs and pack files (docs/FORMAT.md has the
 * layouts; all integers little-endian, varints unsigned LEB128).
 *
 * Sealed blob: payload = zstd frame when compressing shrank it (flag
 * ARCA_BLOB_F_ZSTD) else the raw bytes; stored = arca_seal(payload,
 * AD = the 32-byte blob id).  Length and flags live in the trailer, not in
 * the blob.
 *
 * Pack: sealed blobs back to back from offset 0, the sealed trailer, then
 * the footer: u32 trailer_len | u32 version (1) | "ARCAPACK".  Trailer
 * plaintext: u8 version (1) | varint count | count entries of
 *   u8 type | u8 flags | varint key_id | id[32] | varint offset |
 *   varint stored_len | varint raw_len,
 * sealed whole with AD "arca-pack-trailer-v1", never compressed.  A pack's
 * id is the plain SHA-256 of all its bytes, so anyone can check a pack's
 * integrity without the key.
 *
 * Parsers trust nothing: every count is bounded by the bytes left, every
 * length by ARCA_PACK_MAX_BLOB, entries must tile the blob area exactly,
 * and any failure is ARCA_CORRUPT with a message saying what is wrong.
 * The entry codec here is shared with pack_index.c (index files).  No I/O.
 */
#include "pack/pack_int.h"
#include "arca/error.h"
#include "util/enc.h"

#include <stdlib.h>
#include <string.h>

#define FOOTER_MAGIC "ARCAPACK"
#define TRAILER_AD "arca-pack-trailer-v1"
#define TRAILER_VERSION 1

int arca_pack_codec_check(const arca_blob_codec *c)
{
	if (!c || !c->cipher)
		return arca_error_set(ARCA_INVAL, "no cipher given for sealing");
	if (c->cipher->id != ARCA_CIPHER_NONE && !c->key)
		return arca_error_set(ARCA_INVAL, "cipher %s needs a key", c->cipher->name);
	return 0;
}

int arca_pack_entry_encode(arca_buf *b, const arca_blob_entry *e)
{
	int rc;
	if ((rc = arca_enc_u8(b, e->type)) || (rc = arca_enc_u8(b, e->flags)) ||
	    (rc = arca_enc_varint(b, e->key_id)) || (rc = arca_buf_put(b, e->id.b, ARCA_ID_LEN)) ||
	    (rc = arca_enc_varint(b, e->offset)) || (rc = arca_enc_varint(b, e->stored_len)) ||
	    (rc = arca_enc_varint(b, e->raw_len)))
		return rc;
	return 0;
}

/*
 * Decode and check one entry (not its position among others).  what names
 * the container for messages ("pack trailer", "index file").
 */
int arca_pack_entry_decode(arca_dec *d, const arca_cipher *cipher, arca_blob_entry *e,
			   const char *what, size_t idx)
{
	const uint8_t *id;
	uint64_t key_id, stored, raw;
	size_t over = arca_cipher_overhead(cipher);
	char hex[ARCA_ID_HEX_LEN + 1];

	memset(e, 0, sizeof(*e));
	e->type = arca_dec_u8(d);
	e->flags = arca_dec_u8(d);
	key_id = arca_dec_varint(d);
	id = arca_dec_raw(d, ARCA_ID_LEN);
	e->offset = arca_dec_varint(d);
	stored = arca_dec_varint(d);
	raw = arca_dec_varint(d);
	if (!arca_dec_ok(d))
		return arca_error_set(ARCA_CORRUPT, "%s: entry %zu is cut short", what, idx);
	memcpy(e->id.b, id, ARCA_ID_LEN);
	arca_id_hex(hex, &e->id);
	if (e->type > ARCA_BLOB_TREE)
		return arca_error_set(ARCA_CORRUPT, "%s: blob %s has unknown type %u", what, hex,
				      (unsigned)e->type);
	if (e->flags & ~ARCA_BLOB_F_ZSTD)
		return arca_error_set(ARCA_CORRUPT, "%s: blob %s has unknown flags 0x%02x", what, hex,
				      (unsigned)e->flags);
	if (key_id > UINT32_MAX)
		return arca_error_set(ARCA_CORRUPT, "%s: blob %s has key id %llu out of range", what,
				      hex, (unsigned long long)key_id);
	if (stored > ARCA_PACK_MAX_BLOB || raw > ARCA_PACK_MAX_BLOB)
		return arca_error_set(ARCA_CORRUPT,
				      "%s: blob %s claims %llu stored / %llu raw bytes, above the %u limit",
				      what, hex, (unsigned long long)stored, (unsigned long long)raw,
				      ARCA_PACK_MAX_BLOB);
	if (stored < over)
		return arca_error_set(ARCA_CORRUPT,
				      "%s: blob %s is %llu bytes, less than the %zu-byte nonce and tag of %s",
				      what, hex, (unsigned long long)stored, over, cipher->name);
	/* An uncompressed payload is the raw bytes themselves. */
	if (!(e->flags & ARCA_BLOB_F_ZSTD) && stored - over != raw)
		return arca_error_set(ARCA_CORRUPT,
				      "%s: uncompressed blob %s has %llu stored bytes for %llu raw bytes",
				      what, hex, (unsigned long long)stored, (unsigned long long)raw);
	if (e->offset > UINT64_MAX - stored)
		return arca_error_set(ARCA_CORRUPT, "%s: blob %s has offset %llu out of range", what,
				      hex, (unsigned long long)e->offset);
	e->key_id = (uint32_t)key_id;
	e->stored_len = (uint32_t)stored;
	e->raw_len = (uint32_t)raw;
	return 0;
}

/* ---- blobs ---- */

int arca_blob_seal(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		   const arca_id *id, const void *raw, size_t n, uint8_t *flags)
{
	arca_buf zbuf = ARCA_BUF_INIT;
	const void *payload = raw;
	size_t plen = n, mark = out->len;
	bool shrunk = false;
	char hex[ARCA_ID_HEX_LEN + 1];
	int rc;

	*flags = 0;
	if ((rc = arca_pack_codec_check(c)))
		return rc;
	if (n > ARCA_PACK_MAX_BLOB) {
		arca_id_hex(hex, id);
		return arca_error_set(ARCA_INVAL, "blob %s: %zu bytes is above the %u-byte limit", hex,
				      n, ARCA_PACK_MAX_BLOB);
	}
	if (z && c->compress_algo != ARCA_COMPRESS_NONE) {
		if ((rc = arca_compress(z, &zbuf, raw, n, &shrunk)))
			goto out;
		if (shrunk) {
			payload = zbuf.data;
			plen = zbuf.len;
		}
	}
	if ((rc = arca_seal(c->cipher, c->key, out, payload, plen, id->b, ARCA_ID_LEN)))
		goto out;
	if (out->len - mark > ARCA_PACK_MAX_BLOB) {
		arca_id_hex(hex, id);
		rc = arca_error_set(ARCA_INVAL, "blob %s: sealed size %zu is above the %u-byte limit",
				    hex, out->len - mark, ARCA_PACK_MAX_BLOB);
		goto out;
	}
	*flags = shrunk ? ARCA_BLOB_F_ZSTD : 0;
out:
	if (rc)
		out->len = mark;
	arca_buf_free(&zbuf);
	return rc;
}

/* A decompression context for a caller that passed none. */
static int zctx_for(arca_zctx *z, arca_zctx **tmp, arca_zctx **use)
{
	int rc;
	*use = z;
	if (z)
		return 0;
	if ((rc = arca_zctx_new(tmp, ARCA_COMPRESS_NONE, 0)))
		return rc;
	*use = *tmp;
	return 0;
}

int arca_blob_open(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		   const arca_id *id, uint8_t flags, const void *stored, size_t n,
		   size_t raw_len)
{
	arca_buf pt = ARCA_BUF_INIT;
	arca_zctx *ztmp = NULL, *zuse;
	const uint8_t *payload = stored;
	size_t plen = n, mark = out->len;
	char hex[ARCA_ID_HEX_LEN + 1];
	int rc;

	if ((rc = arca_pack_codec_check(c)))
		return rc;
	arca_id_hex(hex, id);
	if (flags & ~ARCA_BLOB_F_ZSTD)
		return arca_error_set(ARCA_CORRUPT, "blob %s: unknown flags 0x%02x", hex, (unsigned)flags);
	if (n > ARCA_PACK_MAX_BLOB || raw_len > ARCA_PACK_MAX_BLOB)
		return arca_error_set(ARCA_CORRUPT, "blob %s: %zu stored / %zu raw bytes is above the limit",
				      hex, n, raw_len);
	if (c->cipher->id != ARCA_CIPHER_NONE) {
		if ((rc = arca_open(c->cipher, c->key, &pt, stored, n, id->b, ARCA_ID_LEN))) {
			arca_error_prefix(rc, "blob %s", hex);
			goto out;
		}
		payload = pt.data;
		plen = pt.len;
	}
	if (flags & ARCA_BLOB_F_ZSTD) {
		if ((rc = zctx_for(z, &ztmp, &zuse)))
			goto out;
		if ((rc = arca_decompress(zuse, out, payload, plen, raw_len))) {
			arca_error_prefix(rc, "blob %s", hex);
			goto out;
		}
	} else {
		if (plen != raw_len) {
			rc = arca_error_set(ARCA_CORRUPT, "blob %s: %zu bytes where %zu were expected", hex,
					    plen, raw_len);
			goto out;
		}
		rc = arca_buf_put(out, payload, plen);
	}
out:
	if (rc)
		out->len = mark;
	arca_zctx_free(ztmp);
	arca_buf_free(&pt);
	return rc;
}

/* ---- pack writer ---- */

struct arca_pack_writer {
	arca_blob_codec codec;
	arca_buf data; /* blobs not yet spilled; after finish also trailer and footer */
	arca_blob_entry *entries;
	size_t n, cap;
	bool finished;
	arca_id id;
	/* streaming (arca_pack_writer_set_sink): bytes leave in pieces */
	arca_pack_sink_fn sink;
	void *sink_payload;
	arca_sha256_ctx *hash;
	uint64_t spilled; /* bytes already handed to the sink */
};

#define SPILL_BYTES (1u << 20)

int arca_pack_writer_set_sink(arca_pack_writer *w, arca_pack_sink_fn fn, void *payload)
{
	int rc;
	if (w->n || w->data.len)
		return arca_error_set(ARCA_INVAL, "a pack writer's sink must be set while it is empty");
	if (!w->hash && (rc = arca_sha256_new(&w->hash)))
		return rc;
	w->sink = fn;
	w->sink_payload = payload;
	return 0;
}

/* Hand buffered bytes to the sink (streaming mode only). */
static int spill(arca_pack_writer *w)
{
	int rc;
	if (!w->sink || !w->data.len)
		return 0;
	arca_sha256_update(w->hash, w->data.data, w->data.len);
	if ((rc = w->sink(w->data.data, w->data.len, w->sink_payload)))
		return rc;
	w->spilled += w->data.len;
	w->data.len = 0;
	return 0;
}

int arca_pack_writer_new(arca_pack_writer **out, const arca_blob_codec *c)
{
	arca_pack_writer *w;
	int rc;

	*out = NULL;
	if ((rc = arca_pack_codec_check(c)))
		return rc;
	if (!(w = calloc(1, sizeof(*w))))
		return arca_error_set(ARCA_NOMEM, "out of memory creating a pack writer");
	w->codec = *c;
	*out = w;
	return 0;
}

void arca_pack_writer_free(arca_pack_writer *w)
{
	if (!w)
		return;
	arca_buf_free(&w->data);
	free(w->entries);
	arca_sha256_free(w->hash);
	free(w);
}

void arca_pack_writer_reset(arca_pack_writer *w)
{
	w->data.len = 0; /* keep the capacity for the next pack */
	w->n = 0;
	w->finished = false;
	w->spilled = 0;
	if (w->hash) {
		arca_id junk;
		arca_sha256_final(w->hash, &junk); /* restart the running hash */
	}
}

static int push_entry(arca_pack_writer *w, const arca_blob_entry *e)
{
	int rc;
	if ((rc = arca_grow(&w->entries, &w->cap, w->n + 1, sizeof(*w->entries), 64)))
		return rc;
	w->entries[w->n++] = *e;
	return 0;
}

int arca_pack_writer_add(arca_pack_writer *w, arca_zctx *z, uint8_t type,
			 const arca_id *id, const void *raw, size_t n)
{
	arca_blob_entry e;
	size_t mark;
	int rc;

	if (w->finished)
		arca_pack_writer_reset(w);
	if (type > ARCA_BLOB_TREE)
		return arca_error_set(ARCA_INVAL, "unknown blob type %u", (unsigned)type);
	mark = w->data.len;
	memset(&e, 0, sizeof(e));
	if ((rc = arca_blob_seal(&w->codec, z, &w->data, id, raw, n, &e.flags)))
		return rc;
	e.id = *id;
	e.type = type;
	e.key_id = 0; /* the codec has no key id: the master data key */
	e.offset = w->spilled + mark;
	e.stored_len = (uint32_t)(w->data.len - mark);
	e.raw_len = (uint32_t)n;
	if ((rc = push_entry(w, &e))) {
		w->data.len = mark;
		return rc;
	}
	return w->data.len >= SPILL_BYTES ? spill(w) : 0;
}

int arca_pack_writer_add_sealed(arca_pack_writer *w, const arca_blob_entry *e,
				const void *stored)
{
	arca_blob_entry ne = *e;
	size_t over = arca_cipher_overhead(w->codec.cipher), mark;
	int rc;

	if (w->finished)
		arca_pack_writer_reset(w);
	if (e->type > ARCA_BLOB_TREE || (e->flags & ~ARCA_BLOB_F_ZSTD) ||
	    e->stored_len > ARCA_PACK_MAX_BLOB || e->raw_len > ARCA_PACK_MAX_BLOB ||
	    e->stored_len < over ||
	    (!(e->flags & ARCA_BLOB_F_ZSTD) && e->stored_len - over != e->raw_len))
		return arca_error_set(ARCA_INVAL, "sealed blob entry is not valid for a %s pack",
				      w->codec.cipher->name);
	mark = w->data.len;
	if ((rc = arca_buf_put(&w->data, stored, e->stored_len)))
		return rc;
	ne.offset = w->spilled + mark;
	if ((rc = push_entry(w, &ne))) {
		w->data.len = mark;
		return rc;
	}
	return w->data.len >= SPILL_BYTES ? spill(w) : 0;
}

size_t arca_pack_writer_size(const arca_pack_writer *w)
{
	return w->finished ? 0 : (size_t)w->spilled + w->data.len;
}
size_t arca_pack_writer_count(const arca_pack_writer *w) { return w->finished ? 0 : w->n; }
uint64_t arca_pack_writer_total(const arca_pack_writer *w) { return w->spilled + w->data.len; }

int arca_pack_writer_finish(arca_pack_writer *w, arca_zctx *z, arca_id *pack_id,
			    const arca_buf **bytes, const arca_blob_entry **entries, size_t *n)
{
	arca_buf pt = ARCA_BUF_INIT;
	size_t mark = w->data.len, tlen;
	uint8_t footer[ARCA_PACK_FOOTER_LEN];
	int rc = 0;

	if (w->finished)
		goto done; /* asked twice: same answer */
	if ((rc = arca_enc_u8(&pt, TRAILER_VERSION)) || (rc = arca_enc_varint(&pt, w->n)))
		goto out;
	for (size_t i = 0; i < w->n; i++)
		if ((rc = arca_pack_entry_encode(&pt, &w->entries[i])))
			goto out;
	if ((rc = arca_seal(w->codec.cipher, w->codec.key, &w->data, pt.data, pt.len, TRAILER_AD,
			    sizeof(TRAILER_AD) - 1)))
		goto out;
	tlen = w->data.len - mark;
	if (tlen > UINT32_MAX) {
		rc = arca_error_set(ARCA_INVAL, "pack trailer of %zu bytes is too large (%zu blobs)",
				    tlen, w->n);
		goto out;
	}
	arca_put_le32(footer, (uint32_t)tlen);
	arca_put_le32(footer + 4, ARCA_PACK_VERSION);
	memcpy(footer + 8, FOOTER_MAGIC, 8);
	if ((rc = arca_buf_put(&w->data, footer, sizeof(footer))))
		goto out;
	if (w->sink) {
		if ((rc = spill(w)))
			goto out;
		arca_sha256_final(w->hash, &w->id);
	} else {
		arca_sha256(&w->id, w->data.data, w->data.len);
	}
	w->finished = true;
done:
	*pack_id = w->id;
	*bytes = &w->data;
	*entries = w->entries;
	*n = w->n;
out:
	if (rc) {
		w->data.len = mark; /* still open for more blobs */
		memset(pack_id, 0, sizeof(*pack_id));
		*bytes = NULL;
		*entries = NULL;
		*n = 0;
	}
	arca_buf_free(&pt);
	return rc;
}

/* ---- reading packs ---- */

int arca_pack_footer_parse(const uint8_t *footer, uint64_t pack_size, uint32_t *trailer_len)
{
	uint32_t tlen, ver;

	*trailer_len = 0;
	if (pack_size < ARCA_PACK_FOOTER_LEN)
		return arca_error_set(ARCA_CORRUPT, "pack of %llu bytes is shorter than its footer",
				      (unsigned long long)pack_size);
	if (memcmp(footer + 8, FOOTER_MAGIC, 8) != 0)
		return arca_error_set(ARCA_CORRUPT, "pack footer has no ARCAPACK magic (not a pack, or truncated)");
	tlen = arca_get_le32(footer);
	ver = arca_get_le32(footer + 4);
	if (ver != ARCA_PACK_VERSION)
		return arca_error_set(ARCA_CORRUPT, "pack format version %u is not supported (this build reads %u)",
				      ver, ARCA_PACK_VERSION);
	/* the smallest trailer is version and a zero count */
	if (tlen < 2 || tlen > pack_size - ARCA_PACK_FOOTER_LEN)
		return arca_error_set(ARCA_CORRUPT, "pack footer claims a %u-byte trailer in a %llu-byte pack",
				      tlen, (unsigned long long)pack_size);
	*trailer_len = tlen;
	return 0;
}

int arca_pack_trailer_parse(const arca_blob_codec *c, arca_zctx *z, const uint8_t *trailer,
			    size_t len, uint64_t pack_size, arca_blob_entry **entries, size_t *n)
{
	arca_buf pt = ARCA_BUF_INIT;
	arca_blob_entry *es = NULL;
	const uint8_t *plain = trailer;
	size_t plen = len;
	uint64_t count, blob_end, expect = 0;
	arca_dec d;
	uint8_t ver;
	int rc;

	*entries = NULL;
	*n = 0;
	if ((rc = arca_pack_codec_check(c)))
		return rc;
	if (pack_size < ARCA_PACK_FOOTER_LEN || len > pack_size - ARCA_PACK_FOOTER_LEN)
		return arca_error_set(ARCA_CORRUPT, "pack trailer of %zu bytes does not fit a %llu-byte pack",
				      len, (unsigned long long)pack_size);
	blob_end = pack_size - ARCA_PACK_FOOTER_LEN - len;
	if (c->cipher->id != ARCA_CIPHER_NONE) {
		if ((rc = arca_open(c->cipher, c->key, &pt, trailer, len, TRAILER_AD,
				    sizeof(TRAILER_AD) - 1))) {
			arca_error_prefix(rc, "pack trailer");
			goto out;
		}
		plain = pt.data;
		plen = pt.len;
	}
	arca_dec_init(&d, plain, plen);
	ver = arca_dec_u8(&d);
	count = arca_dec_varint(&d);
	if (!arca_dec_ok(&d)) {
		rc = arca_error_set(ARCA_CORRUPT, "pack trailer of %zu bytes is cut short", plen);
		goto out;
	}
	if (ver != TRAILER_VERSION) {
		rc = arca_error_set(ARCA_CORRUPT, "pack trailer version %u is not supported", (unsigned)ver);
		goto out;
	}
	if (count > arca_dec_left(&d) / ENTRY_MIN_LEN) {
		rc = arca_error_set(ARCA_CORRUPT, "pack trailer claims %llu blobs in %zu bytes",
				    (unsigned long long)count, arca_dec_left(&d));
		goto out;
	}
	if (!(es = calloc(count ? (size_t)count : 1, sizeof(*es)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory reading a pack trailer of %llu blobs",
				    (unsigned long long)count);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		if ((rc = arca_pack_entry_decode(&d, c->cipher, &es[i], "pack trailer", i)))
			goto out;
		if (es[i].offset != expect) {
			rc = arca_error_set(ARCA_CORRUPT, "pack trailer: entry %zu starts at %llu, expected %llu",
					    i, (unsigned long long)es[i].offset, (unsigned long long)expect);
			goto out;
		}
		expect += es[i].stored_len;
		if (expect > blob_end) {
			rc = arca_error_set(ARCA_CORRUPT,
					    "pack trailer: entry %zu ends at %llu, past the trailer at %llu",
					    i, (unsigned long long)expect, (unsigned long long)blob_end);
			goto out;
		}
	}
	if (arca_dec_left(&d)) {
		rc = arca_error_set(ARCA_CORRUPT, "pack trailer has %zu bytes of trailing garbage",
				    arca_dec_left(&d));
		goto out;
	}
	if (expect != blob_end) {
		rc = arca_error_set(ARCA_CORRUPT, "pack trailer: blobs end at %llu but the trailer starts at %llu",
				    (unsigned long long)expect, (unsigned long long)blob_end);
		goto out;
	}
	*entries = es;
	*n = (size_t)count;
	es = NULL;
out:
	free(es);
	arca_buf_free(&pt);
	return rc;
}
