/*
 * fuzz/fuzz_pack_trailer.c - pack footers, sealed pack trailers and sealed
 * blobs (src/pack/pack.c).
 *
 * Input: a selector byte (fuzz_common.h: cipher, seal-first and no-zctx
 * bits) then either
 *   - bit 6 clear: a whole pack.  The footer is parsed from its last 16
 *     bytes, the trailer it points to is opened and parsed, and every blob
 *     the trailer lists is opened with arca_blob_open.  With seal-first the
 *     trailer is plaintext (and the footer gives its plaintext length): it
 *     is sealed and the footer rewritten before parsing;
 *   - bit 6 set: one blob: u8 flags | u32 LE raw_len | id[32] | stored
 *     bytes (with seal-first: the payload, sealed here with the id as AD),
 *     opened with arca_blob_open.
 * Checked: accepted trailers tile the blob area exactly; an opened blob has
 * raw_len bytes; a refused blob leaves the output buffer as it was.
 */
#include "fuzz_common.h"
#include "util/enc.h"

#include <string.h>

#define SEL_ONE_BLOB 0x40u
#define BLOB_HDR (1 + 4 + ARCA_ID_LEN)

/* Open one blob into a buffer that already holds a few bytes, so that a
 * failure that does not restore the length shows up. */
static void open_blob(const arca_blob_codec *c, arca_zctx *z, const arca_id *id, uint8_t flags,
		      const uint8_t *stored, size_t n, size_t raw_len)
{
	arca_buf out = ARCA_BUF_INIT;
	FUZZ_CHECK(arca_buf_put(&out, "mark", 4) == 0);
	if (arca_blob_open(c, z, &out, id, flags, stored, n, raw_len) == 0)
		FUZZ_CHECK(out.len == 4 + raw_len);
	else
		FUZZ_CHECK(out.len == 4 && memcmp(out.data, "mark", 4) == 0);
	arca_buf_free(&out);
}

static void one_blob(const arca_blob_codec *c, arca_zctx *z, bool seal, const uint8_t *p, size_t n)
{
	arca_buf sealed = ARCA_BUF_INIT;
	const uint8_t *stored;
	size_t sn;
	arca_id id;

	if (n < BLOB_HDR)
		return;
	memcpy(id.b, p + 5, ARCA_ID_LEN);
	stored = p + BLOB_HDR;
	sn = n - BLOB_HDR;
	if (seal)
		fuzz_seal(c, &sealed, &stored, &sn, id.b, ARCA_ID_LEN);
	open_blob(c, z, &id, p[0], stored, sn, arca_get_le32(p + 1));
	arca_buf_free(&sealed);
}

/* p = blobs | trailer plaintext | footer: seal the trailer into *out and
 * fix the footer's length.  false when the input has no usable footer. */
static bool seal_trailer(const arca_blob_codec *c, const uint8_t *p, size_t n, arca_buf *out)
{
	uint8_t footer[ARCA_PACK_FOOTER_LEN];
	uint32_t tlen;
	size_t blob_end, mark;

	if (n < ARCA_PACK_FOOTER_LEN || arca_pack_footer_parse(p + n - ARCA_PACK_FOOTER_LEN, n, &tlen))
		return false;
	blob_end = n - ARCA_PACK_FOOTER_LEN - tlen;
	FUZZ_CHECK(arca_buf_put(out, p, blob_end) == 0);
	mark = out->len;
	FUZZ_CHECK(arca_seal(c->cipher, c->key, out, p + blob_end, tlen, FUZZ_PACK_TRAILER_AD,
			     sizeof(FUZZ_PACK_TRAILER_AD) - 1) == 0);
	memcpy(footer, p + n - ARCA_PACK_FOOTER_LEN, sizeof(footer));
	arca_put_le32(footer, (uint32_t)(out->len - mark));
	FUZZ_CHECK(arca_buf_put(out, footer, sizeof(footer)) == 0);
	return true;
}

static void whole_pack(const arca_blob_codec *c, arca_zctx *z, bool seal, const uint8_t *p,
		       size_t n)
{
	static const uint8_t no_footer[ARCA_PACK_FOOTER_LEN];
	arca_buf sealed = ARCA_BUF_INIT;
	arca_blob_entry *es = NULL;
	uint64_t blob_end, expect = 0;
	uint32_t tlen;
	size_t cnt, i;

	if (seal && c->cipher->id != ARCA_CIPHER_NONE) {
		if (!seal_trailer(c, p, n, &sealed))
			goto out;
		p = sealed.data;
		n = sealed.len;
	}
	/* a pack shorter than a footer must be refused before the footer is read */
	if (n < ARCA_PACK_FOOTER_LEN) {
		FUZZ_CHECK(arca_pack_footer_parse(no_footer, n, &tlen) == ARCA_CORRUPT);
		goto out;
	}
	if (arca_pack_footer_parse(p + n - ARCA_PACK_FOOTER_LEN, n, &tlen))
		goto out;
	FUZZ_CHECK(tlen >= 2 && tlen <= n - ARCA_PACK_FOOTER_LEN);
	blob_end = n - ARCA_PACK_FOOTER_LEN - tlen;
	if (arca_pack_trailer_parse(c, z, p + blob_end, tlen, n, &es, &cnt)) {
		FUZZ_CHECK(es == NULL && cnt == 0);
		goto out;
	}
	for (i = 0; i < cnt; i++) {
		FUZZ_CHECK(es[i].offset == expect);
		FUZZ_CHECK(es[i].type <= ARCA_BLOB_TREE);
		FUZZ_CHECK((es[i].flags & ~ARCA_BLOB_F_ZSTD) == 0);
		expect += es[i].stored_len;
		FUZZ_CHECK(expect <= blob_end);
		open_blob(c, z, &es[i].id, es[i].flags, p + es[i].offset, es[i].stored_len,
			  es[i].raw_len);
	}
	FUZZ_CHECK(expect == blob_end);
out:
	free(es);
	arca_buf_free(&sealed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_zctx *z = fuzz_setup();
	arca_blob_codec c;
	bool seal;

	if (size < 1)
		return 0;
	fuzz_codec(&c, data[0]);
	seal = (data[0] & FUZZ_SEL_SEAL) != 0;
	if (data[0] & FUZZ_SEL_NO_ZCTX)
		z = NULL;
	if (data[0] & SEL_ONE_BLOB)
		one_blob(&c, z, seal, data + 1, size - 1);
	else
		whole_pack(&c, z, seal, data + 1, size - 1);
	return 0;
}
