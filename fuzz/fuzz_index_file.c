/*
 * fuzz/fuzz_index_file.c - sealed index files (src/pack/pack_index.c).
 *
 * Input: a selector byte (fuzz_common.h: cipher, seal-first and no-zctx
 * bits) then the index file object (with seal-first: its plaintext, the
 * object payload u8 flags | varint raw_len | body).  An accepted file is
 * encoded again, sealed with the same codec, decoded, and must come back
 * equal, entry for entry.  (Bytes are not compared: the input may spell a
 * varint longer than needed, and each seal draws a new nonce.)
 */
#include "fuzz_common.h"

#include <string.h>

static bool entry_eq(const arca_blob_entry *a, const arca_blob_entry *b)
{
	return arca_id_eq(&a->id, &b->id) && a->type == b->type && a->flags == b->flags &&
	       a->key_id == b->key_id && a->offset == b->offset && a->stored_len == b->stored_len &&
	       a->raw_len == b->raw_len;
}

static void check_same(const arca_idx_file *a, const arca_idx_file *b)
{
	size_t i, j;
	FUZZ_CHECK(a->npacks == b->npacks && a->nsupersedes == b->nsupersedes);
	for (i = 0; i < a->npacks; i++) {
		FUZZ_CHECK(arca_id_eq(&a->packs[i].pack_id, &b->packs[i].pack_id));
		FUZZ_CHECK(a->packs[i].n == b->packs[i].n);
		for (j = 0; j < a->packs[i].n; j++)
			FUZZ_CHECK(entry_eq(&a->packs[i].entries[j], &b->packs[i].entries[j]));
	}
	for (i = 0; i < a->nsupersedes; i++)
		FUZZ_CHECK(arca_id_eq(&a->supersedes[i], &b->supersedes[i]));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_zctx *z = fuzz_setup();
	arca_blob_codec c;
	arca_idx_file *f = NULL, *g = NULL;
	arca_buf enc = ARCA_BUF_INIT, sealed = ARCA_BUF_INIT;
	const uint8_t *p;
	size_t n, i;

	if (size < 1)
		return 0;
	p = data + 1;
	n = size - 1;
	fuzz_codec(&c, data[0]);
	if (data[0] & FUZZ_SEL_NO_ZCTX)
		z = NULL;
	if (data[0] & FUZZ_SEL_SEAL)
		fuzz_seal(&c, &sealed, &p, &n, FUZZ_INDEX_LABEL, sizeof(FUZZ_INDEX_LABEL) - 1);
	if (arca_idx_file_decode(&c, z, &f, p, n)) {
		FUZZ_CHECK(f == NULL);
		goto out;
	}
	FUZZ_CHECK(f != NULL);
	for (i = 0; i < f->npacks; i++)
		FUZZ_CHECK(f->packs[i].n == 0 || f->packs[i].entries != NULL);
	FUZZ_CHECK(arca_idx_file_encode(&c, z, &enc, f) == 0);
	FUZZ_CHECK(arca_idx_file_decode(&c, z, &g, enc.data, enc.len) == 0);
	check_same(f, g);
out:
	arca_idx_file_free(f);
	arca_idx_file_free(g);
	arca_buf_free(&enc);
	arca_buf_free(&sealed);
	return 0;
}
