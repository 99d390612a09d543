/*
 * fuzz/fuzz_audit.c - audit log entries (src/snapshot/audit.c).
 *
 * Input: an entry's plaintext.  An accepted entry is encoded; that encoding
 * must decode again, and encoding the result must give the same bytes
 * (encode is a fixed point after one decode; the input itself may differ:
 * fields in any order, repeated single fields, unknown tags).
 */
#include "fuzz_common.h"
#include "arca/snapshot.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_audit_entry *e = NULL, *e2 = NULL;
	arca_buf e1 = ARCA_BUF_INIT, b2 = ARCA_BUF_INIT;

	fuzz_setup();
	if (arca_audit_decode(&e, data, size)) {
		FUZZ_CHECK(e == NULL);
		return 0;
	}
	FUZZ_CHECK(e != NULL && e->op != NULL && e->result != NULL);
	FUZZ_CHECK(arca_audit_encode(e, &e1) == 0);
	if (arca_audit_decode(&e2, e1.data, e1.len)) {
		fprintf(stderr, "re-encoded log entry refused: %s\n", arca_error_message());
		abort();
	}
	FUZZ_CHECK(arca_audit_encode(e2, &b2) == 0);
	FUZZ_CHECK(e1.len == b2.len && memcmp(e1.data, b2.data, e1.len) == 0);
	FUZZ_CHECK(e->time_ns == e2->time_ns && e->nsnapshots == e2->nsnapshots);
	FUZZ_CHECK(e->nsnapshots == 0 || memcmp(e->snapshots, e2->snapshots, e->nsnapshots * sizeof(arca_id)) == 0);
	FUZZ_CHECK(strcmp(e->op, e2->op) == 0 && strcmp(e->result, e2->result) == 0);
	FUZZ_CHECK(e->bytes == e2->bytes && e->duration_ms == e2->duration_ms && e->exit_code == e2->exit_code);
	FUZZ_CHECK((e->error == NULL) == (e2->error == NULL) && (e->detail == NULL) == (e2->detail == NULL));
	arca_audit_free(e);
	arca_audit_free(e2);
	arca_buf_free(&e1);
	arca_buf_free(&b2);
	return 0;
}
