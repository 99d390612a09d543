/*
 * fuzz/fuzz_config.c - the repository config object
 * (arca_repo_config_decode in src/repo/repo.c): 128 bytes, magic, version,
 * id, cipher, compression, chunker, pack size, SHA-256 of the first 96.
 *
 * Input: the config bytes.  Decoding fills only the config fields of a
 * zeroed struct arca_repo.  An accepted config keeps a copy of exactly the
 * input and names a known cipher and valid chunker parameters.
 */
#include "fuzz_common.h"
#include "repo/repo_internal.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arca_repo *r;

	fuzz_setup();
	FUZZ_CHECK((r = calloc(1, sizeof(*r))) != NULL);
	if (arca_repo_config_decode(r, data, size) == 0) {
		FUZZ_CHECK(size == ARCA_CONFIG_LEN);
		FUZZ_CHECK(memcmp(r->config_raw, data, ARCA_CONFIG_LEN) == 0);
		FUZZ_CHECK(r->cipher != NULL && arca_cipher_by_id(r->cipher->id) == r->cipher);
		FUZZ_CHECK(arca_chunker_params_check(&r->chunker) == 0);
		FUZZ_CHECK(r->pack_size >= 4096);
	}
	free(r);
	return 0;
}
