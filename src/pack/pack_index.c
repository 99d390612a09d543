/*
 * pack/pack_index.c - index files and sealed metadata objects.
 *
 * Metadata object (index files, snapshots, ...): payload = u8 flags
 * (bit 0: body is a zstd frame) | varint raw_len | body; stored =
 * arca_seal(payload, AD = the label's ASCII bytes without NUL).  The body
 * is compressed only when that shrinks it; raw_len is at most OBJECT_MAX.
 *
 * Index file plaintext (object label "arca-index-v1"): u8 version (1) |
 * varint npacks | per pack: pack id[32] | varint n | n entries encoded as
 * in a pack trailer | varint nsupersedes | nsupersedes ids[32].
 *
 * Decoders bound every count by the bytes left, check each entry like a
 * pack trailer does (except that entries need not tile a pack: the index
 * file does not know pack sizes), reject trailing bytes and free
 * everything on failure.  No I/O.
 */
#include "pack/pack_int.h"
#include "arca/error.h"
#include "util/enc.h"

#include <stdlib.h>
#include <string.h>

#define OBJECT_MAX (1u << 30)
#define OBJ_F_ZSTD 0x01u
#define INDEX_LABEL "arca-index-v1"
#define INDEX_VERSION 1

/* ---- metadata objects ---- */

int arca_object_seal(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		     const char *label, const void *raw, size_t n)
{
	arca_buf pl = ARCA_BUF_INIT;
	bool shrunk = false;
	size_t mark = out->len;
	int rc;

	if ((rc = arca_pack_codec_check(c)))
		return rc;
	if (n > OBJECT_MAX)
		return arca_error_set(ARCA_INVAL, "%s object of %zu bytes is above the %u-byte limit",
				      label, n, OBJECT_MAX);
	if ((rc = arca_enc_u8(&pl, 0)) || (rc = arca_enc_varint(&pl, n)))
		goto out;
	if (z && c->compress_algo != ARCA_COMPRESS_NONE &&
	    (rc = arca_compress(z, &pl, raw, n, &shrunk)))
		goto out;
	if (shrunk)
		pl.data[0] = OBJ_F_ZSTD;
	else if ((rc = arca_buf_put(&pl, raw, n)))
		goto out;
	rc = arca_seal(c->cipher, c->key, out, pl.data, pl.len, label, strlen(label));
out:
	if (rc)
		out->len = mark;
	arca_buf_free(&pl);
	return rc;
}

int arca_object_open(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
		     const char *label, const void *data, size_t n)
{
	arca_buf pt = ARCA_BUF_INIT;
	arca_zctx *ztmp = NULL;
	const uint8_t *plain = data, *body;
	size_t plen = n, blen, mark = out->len;
	uint64_t raw_len;
	uint8_t flags;
	arca_dec d;
	int rc;

	if ((rc = arca_pack_codec_check(c)))
		return rc;
	if (c->cipher->id != ARCA_CIPHER_NONE) {
		if ((rc = arca_open(c->cipher, c->key, &pt, data, n, label, strlen(label)))) {
			arca_error_prefix(rc, "%s object", label);
			goto out;
		}
		plain = pt.data;
		plen = pt.len;
	}
	arca_dec_init(&d, plain, plen);
	flags = arca_dec_u8(&d);
	raw_len = arca_dec_varint(&d);
	if (!arca_dec_ok(&d)) {
		rc = arca_error_set(ARCA_CORRUPT, "%s object of %zu bytes is cut short", label, plen);
		goto out;
	}
	if (flags & ~OBJ_F_ZSTD) {
		rc = arca_error_set(ARCA_CORRUPT, "%s object has unknown flags 0x%02x", label,
				    (unsigned)flags);
		goto out;
	}
	if (raw_len > OBJECT_MAX) {
		rc = arca_error_set(ARCA_CORRUPT, "%s object claims %llu bytes, above the %u-byte limit",
				    label, (unsigned long long)raw_len, OBJECT_MAX);
		goto out;
	}
	blen = arca_dec_left(&d);
	body = plain + (plen - blen);
	if (flags & OBJ_F_ZSTD) {
		if (!z && (rc = arca_zctx_new(&ztmp, ARCA_COMPRESS_NONE, 0)))
			goto out;
		if ((rc = arca_decompress(z ? z : ztmp, out, body, blen, (size_t)raw_len))) {
			arca_error_prefix(rc, "%s object", label);
			goto out;
		}
	} else if (blen != raw_len) {
		rc = arca_error_set(ARCA_CORRUPT, "%s object has %zu bytes where %llu were declared",
				    label, blen, (unsigned long long)raw_len);
		goto out;
	} else {
		rc = arca_buf_put(out, body, blen);
	}
out:
	if (rc)
		out->len = mark;
	arca_zctx_free(ztmp);
	arca_buf_free(&pt);
	return rc;
}

/* ---- index files ---- */

void arca_idx_file_free(arca_idx_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->npacks; i++)
		free(f->packs[i].entries);
	free(f->packs);
	free(f->supersedes);
	free(f);
}

int arca_idx_file_encode(const arca_blob_codec *c, arca_zctx *z, arca_buf *out,
			 const arca_idx_file *f)
{
	arca_buf pt = ARCA_BUF_INIT;
	int rc;

	if ((rc = arca_enc_u8(&pt, INDEX_VERSION)) || (rc = arca_enc_varint(&pt, f->npacks)))
		goto out;
	for (size_t i = 0; i < f->npacks; i++) {
		const arca_idx_pack *p = &f->packs[i];
		if ((rc = arca_buf_put(&pt, p->pack_id.b, ARCA_ID_LEN)) ||
		    (rc = arca_enc_varint(&pt, p->n)))
			goto out;
		for (size_t j = 0; j < p->n; j++)
			if ((rc = arca_pack_entry_encode(&pt, &p->entries[j])))
				goto out;
	}
	if ((rc = arca_enc_varint(&pt, f->nsupersedes)))
		goto out;
	for (size_t i = 0; i < f->nsupersedes; i++)
		if ((rc = arca_buf_put(&pt, f->supersedes[i].b, ARCA_ID_LEN)))
			goto out;
	rc = arca_object_seal(c, z, out, INDEX_LABEL, pt.data, pt.len);
out:
	arca_buf_free(&pt);
	return rc;
}

static int idx_parse(const arca_blob_codec *c, arca_idx_file *f, const uint8_t *p, size_t n)
{
	arca_dec d;
	uint64_t npacks, nsup;
	uint8_t ver;
	int rc;

	arca_dec_init(&d, p, n);
	ver = arca_dec_u8(&d);
	npacks = arca_dec_varint(&d);
	if (!arca_dec_ok(&d))
		return arca_error_set(ARCA_CORRUPT, "index file of %zu bytes is cut short", n);
	if (ver != INDEX_VERSION)
		return arca_error_set(ARCA_CORRUPT, "index file version %u is not supported", (unsigned)ver);
	/* each pack needs at least its id and a count */
	if (npacks > arca_dec_left(&d) / (ARCA_ID_LEN + 1))
		return arca_error_set(ARCA_CORRUPT, "index file claims %llu packs in %zu bytes",
				      (unsigned long long)npacks, arca_dec_left(&d));
	if (npacks && !(f->packs = calloc((size_t)npacks, sizeof(*f->packs))))
		return arca_error_set(ARCA_NOMEM, "out of memory reading an index file of %llu packs",
				      (unsigned long long)npacks);
	for (size_t i = 0; i < npacks; i++) {
		arca_idx_pack *ip = &f->packs[i];
		const uint8_t *id = arca_dec_raw(&d, ARCA_ID_LEN);
		uint64_t cnt = arca_dec_varint(&d);
		if (!arca_dec_ok(&d))
			return arca_error_set(ARCA_CORRUPT, "index file: pack %zu is cut short", i);
		memcpy(ip->pack_id.b, id, ARCA_ID_LEN);
		f->npacks = i + 1; /* so that a failure below frees it */
		if (cnt > arca_dec_left(&d) / ENTRY_MIN_LEN)
			return arca_error_set(ARCA_CORRUPT, "index file: pack %zu claims %llu blobs in %zu bytes",
					      i, (unsigned long long)cnt, arca_dec_left(&d));
		if (cnt && !(ip->entries = calloc((size_t)cnt, sizeof(*ip->entries))))
			return arca_error_set(ARCA_NOMEM, "out of memory reading an index file");
		ip->n = (size_t)cnt;
		for (size_t j = 0; j < cnt; j++)
			if ((rc = arca_pack_entry_decode(&d, c->cipher, &ip->entries[j], "index file", j)))
				return rc;
	}
	nsup = arca_dec_varint(&d);
	if (!arca_dec_ok(&d))
		return arca_error_set(ARCA_CORRUPT, "index file: supersedes list is cut short");
	if (nsup > arca_dec_left(&d) / ARCA_ID_LEN)
		return arca_error_set(ARCA_CORRUPT, "index file claims %llu superseded files in %zu bytes",
				      (unsigned long long)nsup, arca_dec_left(&d));
	if (nsup && !(f->supersedes = calloc((size_t)nsup, sizeof(*f->supersedes))))
		return arca_error_set(ARCA_NOMEM, "out of memory reading an index file");
	f->nsupersedes = (size_t)nsup;
	for (size_t i = 0; i < nsup; i++)
		memcpy(f->supersedes[i].b, arca_dec_raw(&d, ARCA_ID_LEN), ARCA_ID_LEN);
	if (arca_dec_left(&d))
		return arca_error_set(ARCA_CORRUPT, "index file has %zu bytes of trailing garbage",
				      arca_dec_left(&d));
	return 0;
}

int arca_idx_file_decode(const arca_blob_codec *c, arca_zctx *z, arca_idx_file **out,
			 const void *data, size_t n)
{
	arca_buf pt = ARCA_BUF_INIT;
	arca_idx_file *f = NULL;
	int rc;

	*out = NULL;
	if ((rc = arca_object_open(c, z, &pt, INDEX_LABEL, data, n)))
		goto out;
	if (!(f = calloc(1, sizeof(*f)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory reading an index file");
		goto out;
	}
	if ((rc = idx_parse(c, f, pt.data, pt.len)))
		goto out;
	*out = f;
	f = NULL;
out:
	arca_idx_file_free(f);
	arca_buf_free(&pt);
	return rc;
}
