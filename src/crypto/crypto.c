/*
 * crypto/crypto.c - AEAD ciphers, Argon2id, randomness and key memory.
 *
 * Owns the cipher ids stored on disk (0 none, 1 XChaCha20-Poly1305 via
 * libsodium, 2 AES-256-GCM via OpenSSL EVP; never reused) and the sealed
 * layout nonce || ciphertext || tag.  Every seal draws a fresh random nonce
 * from the kernel's CSPRNG: 24 bytes for XChaCha20 (no practical collision
 * bound), 12 for AES-GCM (NIST's limit for random 96-bit nonces is 2^32
 * messages per key).  Nonces are fetched a block at a time per thread
 * (see draw_nonce).  Invariants: a failed seal or open leaves the output
 * buffer's length unchanged, and no unauthenticated plaintext is left in
 * its spare capacity.  "none" copies bytes and ignores the associated
 * data: it offers no integrity at all.  OpenSSL's error queue is converted
 * and cleared here.  This module makes no copies of keys; the AES key
 * schedule lives in an EVP context that OpenSSL wipes when it is freed.
 * RS256 signing (RSA PKCS#1 v1.5 over SHA-256) is here too, for the JWTs
 * a cloud driver exchanges for an access token: OpenSSL lives here.
 */
#include "crypto/crypto.h"
#include "arca/error.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <sys/random.h>
#include <stdatomic.h>
#include <string.h>

_Static_assert(ARCA_SALT_LEN == crypto_pwhash_SALTBYTES, "argon2id salt length");
_Static_assert(ARCA_KEY_LEN == crypto_aead_xchacha20poly1305_ietf_KEYBYTES, "xchacha key length");

#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16
/* EVP takes int lengths; feed large inputs in pieces of this size. */
#define EVP_PIECE (1u << 30)

#define ARGON2_T_MIN 1u
#define ARGON2_T_MAX 64u
#define ARGON2_M_MIN_KIB 8192u    /* 8 MiB */
#define ARGON2_M_MAX_KIB 4194304u /* 4 GiB */

static const arca_cipher ciphers[] = {
	{ ARCA_CIPHER_NONE, "none", 0, 0 },
	{ ARCA_CIPHER_XCHACHA20_POLY1305, "xchacha20-poly1305",
	  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, crypto_aead_xchacha20poly1305_ietf_ABYTES },
	{ ARCA_CIPHER_AES256_GCM, "aes-256-gcm", GCM_NONCE_LEN, GCM_TAG_LEN },
};

static const char auth_failed[] = "authentication failed: data was modified or the key is wrong";

static atomic_int g_sodium_ready;
static EVP_CIPHER *g_gcm;
static pthread_once_t g_gcm_once = PTHREAD_ONCE_INIT;

const arca_cipher *arca_cipher_by_id(unsigned id)
{
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		if (ciphers[i].id == id)
			return &ciphers[i];
	return NULL;
}

const arca_cipher *arca_cipher_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		if (!strcmp(ciphers[i].name, name))
			return &ciphers[i];
	return NULL;
}

int arca_crypto_init(void)
{
	/* sodium_init is itself idempotent and thread-safe; the flag only
	 * keeps the hot paths from taking its lock. */
	if (atomic_load_explicit(&g_sodium_ready, memory_order_acquire))
		return 0;
	if (sodium_init() < 0)
		return arca_error_set(ARCA_ERROR, "cannot initialise libsodium");
	atomic_store_explicit(&g_sodium_ready, 1, memory_order_release);
	return 0;
}

/*
 * Nonces are drawn from a per-thread block of getrandom(2) output, one
 * system call per NONCE_BLOCK bytes rather than one per sealed blob (a
 * backup seals tens of thousands, and a system call costs microseconds in
 * a VM).  The bytes are the kernel's, used once each and wiped as they
 * are taken.  A forked child drops the block it inherited (pthread_atfork),
 * so parent and child never share a nonce.
 */
#define NONCE_BLOCK 4096u
static _Thread_local struct {
	uint8_t b[NONCE_BLOCK];
	size_t used; /* bytes already taken from the front of b */
	bool filled;
} t_nonces;
static pthread_once_t g_atfork_once = PTHREAD_ONCE_INIT;

static void nonces_drop_in_child(void)
{
	sodium_memzero(&t_nonces, sizeof(t_nonces));
}

static void register_atfork(void) { pthread_atfork(NULL, NULL, nonces_drop_in_child); }

static int draw_nonce(uint8_t *dst, size_t n)
{
	pthread_once(&g_atfork_once, register_atfork);
	if (!t_nonces.filled || t_nonces.used + n > NONCE_BLOCK) {
		size_t got = 0;
		while (got < NONCE_BLOCK) {
			ssize_t r = getrandom(t_nonces.b + got, NONCE_BLOCK - got, 0);
			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0)
				return arca_error_errno(errno, "cannot draw random nonces");
			got += (size_t)r;
		}
		t_nonces.used = 0;
		t_nonces.filled = true;
	}
	memcpy(dst, t_nonces.b + t_nonces.used, n);
	sodium_memzero(t_nonces.b + t_nonces.used, n);
	t_nonces.used += n;
	return 0;
}

static void fetch_gcm(void) { g_gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL); }

static int ossl_fail(int code, const char *what)
{
	char detail[256] = "no detail from openssl";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	return arca_error_set(code, "%s: %s", what, detail);
}

/* Feed AAD (dst == NULL) or data through EVP in int-sized pieces. */
static int evp_update(EVP_CIPHER_CTX *ctx, int enc, uint8_t *dst, const uint8_t *src, size_t n)
{
	while (n) {
		int piece = (int)(n < EVP_PIECE ? n : EVP_PIECE), outl = 0;
		int ok = enc ? EVP_EncryptUpdate(ctx, dst, &outl, src, piece)
			     : EVP_DecryptUpdate(ctx, dst, &outl, src, piece);
		if (ok != 1 || (dst && outl != piece))
			return -1;
		if (dst)
			dst += piece;
		src += piece;
		n -= (size_t)piece;
	}
	return 0;
}

/* AES-256-GCM over dst/src of n bytes.  Encrypt writes tag; decrypt checks
 * it and returns ARCA_CORRUPT (without message) on mismatch. */
static int gcm_crypt(int enc, const uint8_t *key, const uint8_t *nonce, uint8_t *dst,
		     const uint8_t *src, size_t n, const void *ad, size_t adlen, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx;
	int rc = 0, outl = 0;

	pthread_once(&g_gcm_once, fetch_gcm);
	if (!g_gcm)
		return ossl_fail(ARCA_ERROR, "cannot load aes-256-gcm from openssl");
	if (!(ctx = EVP_CIPHER_CTX_new()))
		return ossl_fail(ARCA_NOMEM, "out of memory allocating an aes-256-gcm context");
	if ((enc ? EVP_EncryptInit_ex(ctx, g_gcm, NULL, key, nonce)
		 : EVP_DecryptInit_ex(ctx, g_gcm, NULL, key, nonce)) != 1) {
		rc = ossl_fail(ARCA_ERROR, "cannot initialise aes-256-gcm");
		goto out;
	}
	if (evp_update(ctx, enc, NULL, ad, adlen) || evp_update(ctx, enc, dst, src, n)) {
		rc = ossl_fail(ARCA_ERROR, "aes-256-gcm failed");
		goto out;
	}
	if (enc) {
		if (EVP_EncryptFinal_ex(ctx, dst + n, &outl) != 1 ||
		    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
			rc = ossl_fail(ARCA_ERROR, "aes-256-gcm failed");
	} else {
		if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, tag) != 1) {
			rc = ossl_fail(ARCA_ERROR, "aes-256-gcm failed");
		} else if (EVP_DecryptFinal_ex(ctx, dst + n, &outl) != 1) {
			ERR_clear_error();
			rc = ARCA_CORRUPT;
		}
	}
out:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int arca_seal(const arca_cipher *c, const uint8_t *key, arca_buf *out,
	      const void *pt, size_t n, const void *ad, size_t adlen)
{
	size_t over;
	uint8_t *dst;
	int rc;

	if (!c)
		return arca_error_set(ARCA_INVAL, "seal: no cipher given");
	if (c->id == ARCA_CIPHER_NONE)
		return arca_buf_put(out, pt, n);
	if (!key)
		return arca_error_set(ARCA_INVAL, "seal with %s: no key given", c->name);
	if ((rc = arca_crypto_init()))
		return rc;
	over = arca_cipher_overhead(c);
	if (n > SIZE_MAX - over - 1)
		return arca_error_set(ARCA_INVAL, "seal with %s: message of %zu bytes is too large", c->name, n);
	if ((rc = arca_buf_reserve(out, n + over)))
		return rc;
	dst = out->data + out->len;
	if ((rc = draw_nonce(dst, c->nonce_len)))
		return rc;

	switch (c->id) {
	case ARCA_CIPHER_XCHACHA20_POLY1305: {
		unsigned long long clen = 0;
		if (n > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX)
			return arca_error_set(ARCA_INVAL, "seal with %s: message of %zu bytes is too large",
					      c->name, n);
		if (crypto_aead_xchacha20poly1305_ietf_encrypt(dst + c->nonce_len, &clen, pt, n,
							       ad, adlen, NULL, dst, key) != 0 ||
		    clen != n + c->tag_len)
			return arca_error_set(ARCA_ERROR, "seal with %s failed", c->name);
		break;
	}
	case ARCA_CIPHER_AES256_GCM:
		if ((rc = gcm_crypt(1, key, dst, dst + c->nonce_len, pt, n, ad, adlen,
				    dst + c->nonce_len + n)))
			return rc;
		break;
	default:
		return arca_error_set(ARCA_INVAL, "seal: unknown cipher id %u", (unsigned)c->id);
	}
	out->len += n + over;
	return 0;
}

int arca_open(const arca_cipher *c, const uint8_t *key, arca_buf *out,
	      const void *ct, size_t n, const void *ad, size_t adlen)
{
	const uint8_t *in = ct;
	size_t over, plen;
	uint8_t *dst;
	int rc;

	if (!c)
		return arca_error_set(ARCA_INVAL, "open: no cipher given");
	if (c->id == ARCA_CIPHER_NONE)
		return arca_buf_put(out, ct, n);
	if (!key)
		return arca_error_set(ARCA_INVAL, "open with %s: no key given", c->name);
	over = arca_cipher_overhead(c);
	if (n < over)
		return arca_error_set(ARCA_CORRUPT,
				      "authentication failed: %zu bytes is shorter than the %zu-byte nonce and tag of %s",
				      n, over, c->name);
	if ((rc = arca_crypto_init()))
		return rc;
	plen = n - over;
	if ((rc = arca_buf_reserve(out, plen)))
		return rc;
	dst = out->data + out->len;

	switch (c->id) {
	case ARCA_CIPHER_XCHACHA20_POLY1305: {
		unsigned long long mlen = 0;
		/* libsodium verifies the tag before it writes any plaintext. */
		if (crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &mlen, NULL, in + c->nonce_len,
							       n - c->nonce_len, ad, adlen, in, key) != 0)
			return arca_error_set(ARCA_CORRUPT, "%s", auth_failed);
		break;
	}
	case ARCA_CIPHER_AES256_GCM: {
		uint8_t tag[GCM_TAG_LEN];
		memcpy(tag, in + c->nonce_len + plen, sizeof(tag));
		rc = gcm_crypt(0, key, in, dst, in + c->nonce_len, plen, ad, adlen, tag);
		if (rc) {
			/* GCM decrypts before it checks: wipe what it wrote. */
			sodium_memzero(dst, plen);
			return rc == ARCA_CORRUPT ? arca_error_set(ARCA_CORRUPT, "%s", auth_failed) : rc;
		}
		break;
	}
	default:
		return arca_error_set(ARCA_INVAL, "open: unknown cipher id %u", (unsigned)c->id);
	}
	out->len += plen;
	return 0;
}

int arca_random(void *p, size_t n)
{
	int rc;
	if ((rc = arca_crypto_init()))
		return rc;
	randombytes_buf(p, n);
	return 0;
}

int arca_argon2id(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
		  const uint8_t salt[ARCA_SALT_LEN], uint32_t t_cost, uint32_t m_cost_kib)
{
	int rc;

	if (t_cost < ARGON2_T_MIN || t_cost > ARGON2_T_MAX)
		return arca_error_set(ARCA_INVAL, "argon2id time cost %u is out of range %u..%u",
				      t_cost, ARGON2_T_MIN, ARGON2_T_MAX);
	if (m_cost_kib < ARGON2_M_MIN_KIB || m_cost_kib > ARGON2_M_MAX_KIB)
		return arca_error_set(ARCA_INVAL, "argon2id memory cost %u KiB is out of range %u..%u KiB",
				      m_cost_kib, ARGON2_M_MIN_KIB, ARGON2_M_MAX_KIB);
	if ((uint64_t)m_cost_kib * 1024 > SIZE_MAX)
		return arca_error_set(ARCA_INVAL, "argon2id memory cost %u KiB does not fit this machine",
				      m_cost_kib);
	if (outlen < crypto_pwhash_BYTES_MIN || outlen > crypto_pwhash_BYTES_MAX)
		return arca_error_set(ARCA_INVAL, "argon2id output length %zu is out of range", outlen);
	if (!pw && pwlen)
		return arca_error_set(ARCA_INVAL, "argon2id: no password given");
	if (pwlen > crypto_pwhash_PASSWD_MAX)
		return arca_error_set(ARCA_INVAL, "argon2id password of %zu bytes is too long", pwlen);
	if ((rc = arca_crypto_init()))
		return rc;
	/* libsodium's Argon2id always uses one lane (p = 1). */
	if (crypto_pwhash(out, outlen, pw ? pw : "", pwlen, salt, t_cost, (size_t)m_cost_kib * 1024,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		sodium_memzero(out, outlen);
		return arca_error_set(ARCA_NOMEM, "argon2id could not allocate %u KiB", m_cost_kib);
	}
	return 0;
}

void *arca_secure_alloc(size_t n)
{
	void *p;
	/* sodium_malloc needs sodium_init for its page size and canary. */
	if (arca_crypto_init())
		return NULL;
	if (!(p = sodium_malloc(n)))
		arca_error_set(ARCA_NOMEM, "cannot allocate %zu bytes of locked key memory", n);
	return p;
}

void arca_secure_free(void *p) { sodium_free(p); }

void arca_wipe(void *p, size_t n) { sodium_memzero(p, n); }

int arca_memcmp_ct(const void *a, const void *b, size_t n) { return sodium_memcmp(a, b, n) ? -1 : 0; }

/* ---- RS256 ---- */

static int load_pkey(EVP_PKEY **out, const char *pem, size_t pemlen, bool private_key)
{
	BIO *bio;
	EVP_PKEY *k = NULL;
	*out = NULL;
	if (pemlen > INT_MAX || !(bio = BIO_new_mem_buf(pem, (int)pemlen)))
		return ossl_fail(ARCA_NOMEM, "cannot read a pem key");
	if (private_key) {
		k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	} else {
		k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
		if (!k) {
			/* a private key carries its public half */
			ERR_clear_error();
			BIO_free(bio);
			if (!(bio = BIO_new_mem_buf(pem, (int)pemlen)))
				return ossl_fail(ARCA_NOMEM, "cannot read a pem key");
			k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		}
	}
	BIO_free(bio);
	if (!k)
		return ossl_fail(ARCA_INVAL, "not a readable pem key");
	if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		return arca_error_set(ARCA_INVAL, "not an rsa key");
	}
	*out = k;
	return 0;
}

int arca_rs256_sign(arca_buf *sig, const char *pem, size_t pemlen, const void *msg, size_t n)
{
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *md = NULL;
	size_t len = 0;
	int rc;
	if ((rc = load_pkey(&k, pem, pemlen, true)))
		return rc;
	if (!(md = EVP_MD_CTX_new())) {
		rc = ossl_fail(ARCA_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) != 1 ||
	    EVP_DigestSign(md, NULL, &len, msg, n) != 1) {
		rc = ossl_fail(ARCA_ERROR, "rs256 signing failed");
		goto out;
	}
	if ((rc = arca_buf_reserve(sig, len)))
		goto out;
	if (EVP_DigestSign(md, sig->data + sig->len, &len, msg, n) != 1) {
		rc = ossl_fail(ARCA_ERROR, "rs256 signing failed");
		goto out;
	}
	sig->len += len;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return rc;
}

int arca_rs256_verify(const char *pem, size_t pemlen, const void *msg, size_t n, const void *sig,
		      size_t siglen)
{
	EVP_PKEY *k = NULL;
	EVP_MD_CTX *md = NULL;
	int rc, ok;
	if ((rc = load_pkey(&k, pem, pemlen, false)))
		return rc;
	if (!(md = EVP_MD_CTX_new())) {
		rc = ossl_fail(ARCA_NOMEM, "out of memory");
		goto out;
	}
	if (EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k) != 1) {
		rc = ossl_fail(ARCA_ERROR, "rs256 verification failed to start");
		goto out;
	}
	ok = EVP_DigestVerify(md, sig, siglen, msg, n);
	ERR_clear_error();
	if (ok != 1)
		rc = arca_error_set(ARCA_CORRUPT, "rs256 signature does not verify");
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return rc;
}
