/*
 * fuzz/fuzz_common.h - shared by the fuzz targets and fuzz/gen_corpus.c.
 *
 * Every target is a plain LLVMFuzzerTestOneInput that returns 0 and frees
 * everything it allocated; state that lives across inputs (libsodium, one
 * zstd context) is set up once by fuzz_setup() and reachable from statics,
 * so LeakSanitizer does not count it.  A broken invariant calls
 * FUZZ_CHECK(), which prints where and aborts: that is the crash the fuzzer
 * reports.
 *
 * Targets that read sealed objects take a selector byte first (see
 * fuzz_codec()): its low bits pick the cipher, with the fixed key below for
 * the encrypted ones.  gen_corpus.c seals its seeds with the same key, so
 * the fuzzer starts from objects that authenticate.
 */
#ifndef ARCA_FUZZ_COMMON_H
#define ARCA_FUZZ_COMMON_H

#include "arca/error.h"
#include "compress/compress.h"
#include "crypto/crypto.h"
#include "pack/pack.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                   \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: fuzz invariant failed: %s\n", __FILE__,    \
				__LINE__, #cond);                                          \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Selector byte: bits 0-1 cipher (0 none, 1 xchacha20-poly1305, 2
 * aes-256-gcm, 3 none); bit 5 "seal first": the input holds plaintext
 * where the format has a sealed part, and the target seals it with the
 * selected cipher before decoding, so that mutations get past the AEAD tag
 * and reach the parsers behind it; bit 7 "pass no zstd context" (the
 * decoder must make its own).  Bits 2, 3 and 6 are target-specific. */
#define FUZZ_SEL_CIPHER(sel) ((sel) & 3u)
#define FUZZ_SEL_SEAL 0x20u
#define FUZZ_SEL_NO_ZCTX 0x80u

/* Associated data of sealed parts, as written on disk by src/pack/ (the
 * strings are part of the format and never change). */
#define FUZZ_PACK_TRAILER_AD "arca-pack-trailer-v1"
#define FUZZ_INDEX_LABEL "arca-index-v1"

/* The fixed key every encrypted seed is sealed with. */
static inline const uint8_t *fuzz_key(void)
{
	static const uint8_t key[ARCA_KEY_LEN] = {
		0x61, 0x72, 0x63, 0x61, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6b,
		0x65, 0x79, 0x2d, 0x6e, 0x6f, 0x74, 0x2d, 0x61, 0x2d, 0x73, 0x65,
		0x63, 0x72, 0x65, 0x74, 0x2d, 0x30, 0x31, 0x32, 0x33, 0x34,
	}; /* "arca-fuzz-key-not-a-secret-01234" */
	return key;
}

/* Initialise libsodium and a zstd context once; abort if that fails (the
 * target would test nothing).  Returns the shared context. */
static inline arca_zctx *fuzz_setup(void)
{
	static arca_zctx *z;
	if (!z) {
		if (arca_crypto_init() || arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)) {
			fprintf(stderr, "fuzz setup failed: %s\n", arca_error_message());
			abort();
		}
	}
	return z;
}

/* The codec selected by sel: none (zstd level 3 when sealing),
 * xchacha20-poly1305 or aes-256-gcm with fuzz_key(). */
static inline void fuzz_codec(arca_blob_codec *c, uint8_t sel)
{
	unsigned id = FUZZ_SEL_CIPHER(sel);
	if (id == 3)
		id = ARCA_CIPHER_NONE;
	c->cipher = arca_cipher_by_id(id);
	c->key = id == ARCA_CIPHER_NONE ? NULL : fuzz_key();
	c->compress_algo = ARCA_COMPRESS_ZSTD;
	c->compress_level = 3;
	FUZZ_CHECK(c->cipher != NULL);
}

/*
 * For FUZZ_SEL_SEAL: seal p[0..n) with c under ad into *out and point
 * *p and *n at it.  Cipher none seals nothing (the input is used as it is).
 */
static inline void fuzz_seal(const arca_blob_codec *c, arca_buf *out, const uint8_t **p,
			     size_t *n, const void *ad, size_t adlen)
{
	if (c->cipher->id == ARCA_CIPHER_NONE)
		return;
	FUZZ_CHECK(arca_seal(c->cipher, c->key, out, *p, *n, ad, adlen) == 0);
	*p = out->data;
	*n = out->len;
}

#endif
