/*
 * fuzz/fuzz_keyfile.c - key files (keys/<id>; arca_repo_keyfile_check in
 * src/repo/repo.c): magic, version, KDF and its parameters, salt, time,
 * host, user, the sealed keys.
 *
 * Input: a key file.  Only parsing is exercised: unwrapping needs the
 * password and an Argon2id run per input.  The check must say 0 or
 * ARCA_CORRUPT, nothing else.
 */
#include "fuzz_common.h"
#include "repo/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc;

	fuzz_setup();
	rc = arca_repo_keyfile_check(data, size);
	FUZZ_CHECK(rc == 0 || rc == ARCA_CORRUPT);
	return 0;
}
