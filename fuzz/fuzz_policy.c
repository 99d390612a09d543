/*
 * fuzz/fuzz_policy.c - stored retention policies (src/snapshot/policy.c).
 *
 * Input: a policy object's plaintext.  An accepted policy is encoded; that
 * encoding must decode again, and encoding the result must give the same
 * bytes (encode is a fixed point after one decode; the input itself may
 * differ: fields in any order, repeated single fields, unknown tags, rules
 * on a tombstone).  The decoded rules must be usable by the retention code.
 */
#include "fuzz_common.h"
#include "arca/snapshot.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_policy *p = NULL, *p2 = NULL;
	arca_buf e1 = ARCA_BUF_INIT, e2 = ARCA_BUF_INIT;
	char sel[512];

	fuzz_setup();
	if (arca_policy_decode(&p, data, size)) {
		FUZZ_CHECK(p == NULL);
		return 0;
	}
	FUZZ_CHECK(p != NULL);
	FUZZ_CHECK(p->keep.nkeep_tags == p->nkeep_tags && p->nkeep_tags <= 64);
	FUZZ_CHECK(!p->removed || (arca_retention_is_empty(&p->keep) && p->nkeep_tags == 0));
	arca_policy_selector_format(sel, sizeof(sel), p);
	FUZZ_CHECK(arca_policy_encode(p, &e1) == 0);
	if (arca_policy_decode(&p2, e1.data, e1.len)) {
		fprintf(stderr, "re-encoded policy refused: %s\n", arca_error_message());
		abort();
	}
	FUZZ_CHECK(arca_policy_encode(p2, &e2) == 0);
	FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	FUZZ_CHECK(arca_policy_same_selector(p, p2) && arca_policy_same_rules(p, p2));
	FUZZ_CHECK(p->time_ns == p2->time_ns && p->nsupersedes == p2->nsupersedes);
	if (!p->removed) {
		/* the rules drive the retention code without complaint */
		arca_retention_verdict v;
		arca_snapshot s;
		const arca_snapshot *one = &s;
		memset(&s, 0, sizeof(s));
		s.time_ns = p->time_ns;
		FUZZ_CHECK(arca_retention_apply(&p->keep, &one, 1, p->time_ns, &v) == 0);
	}
	arca_policy_free(p);
	arca_policy_free(p2);
	arca_buf_free(&e1);
	arca_buf_free(&e2);
	return 0;
}
