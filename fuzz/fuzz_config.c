/*
 * fuzz/fuzz_config.c - the repository config object
 * (arca_repo_config_decode in src/repo/repo.c): 128 bytes, magic, version,
 * id, cipher, compression, chunker, pack size, SHA-256 of the first 96.
 *
 * Input: the config bytes.  Decoding fills only the config fields of a
 * zeroed struct arca_repo.  An accepted config keeps a copy of exactly the
 * input and names a known cipher and valid chunker parameters.  A 128-byte
 * input is decoded a second time with its checksum recomputed, so that
 * mutated fields get past the checksum to the field checks.
 */
#include "fuzz_common.h"
#include "repo/repo_internal.h"

#include <string.h>

/* the checksum at 96..127 covers bytes 0..95 (src/repo/repo.c) */
#define SUM_AT 96

static void decode(const uint8_t *data, size_t size)
{
	struct arca_repo *r;

	FUZZ_CHECK((r = calloc(1, sizeof(*r))) != NULL);
	if (arca_repo_config_decode(r, data, size) == 0) {
		FUZZ_CHECK(size == ARCA_CONFIG_LEN);
		FUZZ_CHECK(memcmp(r->config_raw, data, ARCA_CONFIG_LEN) == 0);
		FUZZ_CHECK(r->cipher != NULL && arca_cipher_by_id(r->cipher->id) == r->cipher);
		FUZZ_CHECK(arca_chunker_params_check(&r->chunker) == 0);
		FUZZ_CHECK(r->pack_size >= 4096);
	}
	free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t fixed[ARCA_CONFIG_LEN];
	arca_id sum;

	fuzz_setup();
	decode(data, size);
	if (size == ARCA_CONFIG_LEN) {
		memcpy(fixed, data, SUM_AT);
		arca_sha256(&sum, fixed, SUM_AT);
		memcpy(fixed + SUM_AT, sum.b, ARCA_ID_LEN);
		decode(fixed, sizeof(fixed));
	}
	return 0;
}
