/*
 * fuzz/fuzz_lock.c - lock objects (locks/<random>; arca_repo_lockfile_check
 * in src/repo/repo_lock.c): "ARCALOCK" | u8 version 1 | u8 exclusive |
 * u64 LE time ns | u64 LE pid | varint-length host | varint-length user.
 *
 * Input: a lock object; the check must say 0 or ARCA_CORRUPT.
 */
#include "fuzz_common.h"
#include "repo/repo_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int rc;

	fuzz_setup();
	rc = arca_repo_lockfile_check(data, size);
	FUZZ_CHECK(rc == 0 || rc == ARCA_CORRUPT);
	return 0;
}
