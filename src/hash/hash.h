/*
 * hash/hash.h - content ids: SHA-256 and HMAC-SHA-256 (OpenSSL).
 *
 * An arca_id is the 32-byte name of every object and blob.  In an
 * encrypted repository chunk ids are keyed (HMAC-SHA-256 with the repo's id
 * key) so that ids do not reveal content; otherwise plain SHA-256.  This is
 * the only module besides crypto/ that includes OpenSSL headers.
 *
 * MD5 is here only because HTTP object stores check uploads with it
 * (Content-MD5, GCS md5Hash); it names nothing in a repository.
 */
#ifndef ARCA_HASH_H
#define ARCA_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARCA_ID_LEN 32
#define ARCA_ID_HEX_LEN 64

typedef struct arca_id {
	uint8_t b[ARCA_ID_LEN];
} arca_id;

void arca_sha256(arca_id *out, const void *p, size_t n);
void arca_hmac_sha256(arca_id *out, const uint8_t *key, size_t keylen, const void *p, size_t n);

#define ARCA_MD5_LEN 16
/* MD5 of p[0..n) (upload checksums only, see above). */
void arca_md5(uint8_t out[ARCA_MD5_LEN], const void *p, size_t n);

/* Streaming SHA-256 for whole packs and files. Opaque, heap-allocated. */
typedef struct arca_sha256_ctx arca_sha256_ctx;
int arca_sha256_new(arca_sha256_ctx **out);
void arca_sha256_update(arca_sha256_ctx *c, const void *p, size_t n);
void arca_sha256_final(arca_sha256_ctx *c, arca_id *out); /* ctx may be reused after */
void arca_sha256_free(arca_sha256_ctx *c);

/*
 * The id function of a repository: keyed when key != NULL.  The struct is
 * a value type; key is copied in (32 bytes).
 */
typedef struct arca_idfn {
	bool keyed;
	uint8_t key[32];
} arca_idfn;
void arca_idfn_init(arca_idfn *f, const uint8_t *key32 /* NULL = unkeyed */);
void arca_idfn_compute(const arca_idfn *f, arca_id *out, const void *p, size_t n);

/* Lowercase hex; out must hold 65 bytes. */
void arca_id_hex(char *out, const arca_id *id);
/* Parse exactly 64 hex characters; ARCA_INVAL otherwise. */
int arca_id_parse(arca_id *out, const char *hex);
bool arca_id_is_zero(const arca_id *id);
int arca_id_cmp(const arca_id *a, const arca_id *b);
static inline bool arca_id_eq(const arca_id *a, const arca_id *b) { return arca_id_cmp(a, b) == 0; }

#endif
