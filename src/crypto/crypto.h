/*
 * crypto/crypto.h - AEAD ciphers, the password KDF, randomness, key memory.
 *
 * Ciphers are const descriptors looked up by the id stored on disk (never
 * reused): 0 none, 1 XChaCha20-Poly1305 (libsodium), 2 AES-256-GCM
 * (OpenSSL).  A sealed message is nonce || ciphertext || tag, with a fresh
 * random nonce each time.  The "none" cipher copies bytes and has zero
 * overhead.  This module and hash/ are the only homes of libsodium and
 * OpenSSL.
 */
#ifndef ARCA_CRYPTO_H
#define ARCA_CRYPTO_H

#include "util/buf.h"

#include <stddef.h>
#include <stdint.h>

enum arca_cipher_id {
	ARCA_CIPHER_NONE = 0,
	ARCA_CIPHER_XCHACHA20_POLY1305 = 1,
	ARCA_CIPHER_AES256_GCM = 2,
};

#define ARCA_KEY_LEN 32

typedef struct arca_cipher {
	uint8_t id;
	const char *name; /* "none", "xchacha20-poly1305", "aes-256-gcm" */
	size_t nonce_len;
	size_t tag_len;
} arca_cipher;

/* NULL when unknown. Returned pointers are static. */
const arca_cipher *arca_cipher_by_id(unsigned id);
const arca_cipher *arca_cipher_by_name(const char *name);
static inline size_t arca_cipher_overhead(const arca_cipher *c) { return c->nonce_len + c->tag_len; }

/* Call once before anything else (initialises libsodium); idempotent. */
int arca_crypto_init(void);

/* Append nonce||ct||tag for pt to out. key is ARCA_KEY_LEN bytes. */
int arca_seal(const arca_cipher *c, const uint8_t *key, arca_buf *out,
	      const void *pt, size_t n, const void *ad, size_t adlen);
/* Verify and decrypt; appends plaintext to out. ARCA_CORRUPT on a bad tag
 * or a message shorter than the overhead (message names nothing: callers
 * add which object). */
int arca_open(const arca_cipher *c, const uint8_t *key, arca_buf *out,
	      const void *ct, size_t n, const void *ad, size_t adlen);

int arca_random(void *p, size_t n);

/* Argon2id(password, salt) -> out. t_cost iterations, m_cost_kib memory. */
#define ARCA_SALT_LEN 16
int arca_argon2id(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
		  const uint8_t salt[ARCA_SALT_LEN], uint32_t t_cost, uint32_t m_cost_kib);

/* Guarded, locked memory for keys (sodium_malloc); free wipes. */
void *arca_secure_alloc(size_t n);
void arca_secure_free(void *p);
void arca_wipe(void *p, size_t n);
/* Constant-time compare: 0 when equal. */
int arca_memcmp_ct(const void *a, const void *b, size_t n);

/*
 * RSASSA-PKCS1-v1_5 with SHA-256 ("RS256" of JSON Web Tokens, used for
 * Google service-account assertions).  pem: a PEM private key (PKCS#8 or
 * PKCS#1), pemlen bytes.  Appends the signature to sig.  ARCA_INVAL when
 * the key cannot be read or is not RSA (the message never quotes the key).
 */
int arca_rs256_sign(arca_buf *sig, const char *pem, size_t pemlen, const void *msg, size_t n);
/* Verify an RS256 signature with a PEM public key (or a private key, whose
 * public half is used): 0 when valid, ARCA_CORRUPT when not. */
int arca_rs256_verify(const char *pem, size_t pemlen, const void *msg, size_t n, const void *sig,
		      size_t siglen);

#endif
