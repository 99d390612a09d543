/*
 * fuzz/fuzz_object.c - sealed metadata objects (arca_object_open in
 * src/pack/pack_index.c): u8 flags | varint raw_len | body, zstd or not,
 * sealed under a label.
 *
 * Input: a selector byte (fuzz_common.h: cipher, seal-first and no-zctx
 * bits; bits 2-3 pick the label) then the object (with seal-first: its
 * plaintext payload).  An opened object is sealed again with the same codec
 * and label and must open to the same bytes; a refused one leaves the
 * output buffer as it was.
 */
#include "fuzz_common.h"
#include "arca/snapshot.h"

#include <string.h>

static const char *const labels[4] = {
	ARCA_SNAPSHOT_LABEL, FUZZ_INDEX_LABEL, "arca-fuzz-v1", "",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_zctx *z = fuzz_setup();
	arca_blob_codec c;
	arca_buf out = ARCA_BUF_INIT, sealed = ARCA_BUF_INIT, again = ARCA_BUF_INIT;
	arca_buf in = ARCA_BUF_INIT;
	const uint8_t *p;
	size_t n;
	const char *label;

	if (size < 1)
		return 0;
	p = data + 1;
	n = size - 1;
	fuzz_codec(&c, data[0]);
	label = labels[(data[0] >> 2) & 3];
	if (data[0] & FUZZ_SEL_NO_ZCTX)
		z = NULL;
	if (data[0] & FUZZ_SEL_SEAL)
		fuzz_seal(&c, &in, &p, &n, label, strlen(label));
	FUZZ_CHECK(arca_buf_put(&out, "mark", 4) == 0);
	if (arca_object_open(&c, z, &out, label, p, n)) {
		FUZZ_CHECK(out.len == 4 && memcmp(out.data, "mark", 4) == 0);
		goto done;
	}
	FUZZ_CHECK(out.len >= 4);
	FUZZ_CHECK(arca_object_seal(&c, z, &sealed, label, out.data + 4, out.len - 4) == 0);
	FUZZ_CHECK(arca_object_open(&c, z, &again, label, sealed.data, sealed.len) == 0);
	FUZZ_CHECK(again.len == out.len - 4 &&
		   (again.len == 0 || memcmp(again.data, out.data + 4, again.len) == 0));
done:
	arca_buf_free(&out);
	arca_buf_free(&sealed);
	arca_buf_free(&again);
	arca_buf_free(&in);
	return 0;
}
