/*
 * fuzz/fuzz_snapshot.c - snapshot manifests (src/snapshot/snapshot.c).
 *
 * Input: a manifest's plaintext.  An accepted manifest is encoded; that
 * encoding must decode again, and encoding the result must give the same
 * bytes (encode is a fixed point after one decode; the input itself may
 * legitimately differ: fields in any order, unknown tags, long varints).
 */
#include "fuzz_common.h"
#include "arca/snapshot.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_snapshot *s = NULL, *s2 = NULL;
	arca_buf e1 = ARCA_BUF_INIT, e2 = ARCA_BUF_INIT;

	fuzz_setup();
	if (arca_snapshot_decode(&s, data, size)) {
		FUZZ_CHECK(s == NULL);
		return 0;
	}
	FUZZ_CHECK(s != NULL);
	FUZZ_CHECK(arca_snapshot_encode(s, &e1) == 0);
	if (arca_snapshot_decode(&s2, e1.data, e1.len)) {
		fprintf(stderr, "re-encoded snapshot refused: %s\n", arca_error_message());
		abort();
	}
	FUZZ_CHECK(arca_snapshot_encode(s2, &e2) == 0);
	FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	FUZZ_CHECK(s->time_ns == s2->time_ns && arca_id_eq(&s->tree, &s2->tree));
	FUZZ_CHECK(s->npaths == s2->npaths && s->ntags == s2->ntags);
	FUZZ_CHECK(s->nmeta == s2->nmeta && s->nsource == s2->nsource);
	FUZZ_CHECK(s->has_parent == s2->has_parent);
	arca_snapshot_free(s);
	arca_snapshot_free(s2);
	arca_buf_free(&e1);
	arca_buf_free(&e2);
	return 0;
}
