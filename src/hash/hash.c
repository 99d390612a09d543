/*
 * hash/hash.c - content ids: SHA-256 and HMAC-SHA-256 over OpenSSL 3.
 *
 * Owns the id function of a repository and the hex form of ids.  Digests
 * go through EVP so OpenSSL picks its fastest code (SHA-NI where the CPU
 * has it).  The SHA-256 and HMAC algorithm objects are fetched once per
 * process (pthread_once): an implicit fetch per call costs a locked lookup
 * in the provider store, which is noticeable for small blobs.
 *
 * The one-shot and streaming update/final calls are void by contract.  The
 * only way they can fail is OpenSSL running out of memory; returning a
 * wrong id would silently corrupt a repository, so that case aborts, the
 * same way a failed assertion would.  Every call that can be made to
 * report instead (arca_sha256_new) does report.
 */
#include "hash/hash.h"
#include "arca/error.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct arca_sha256_ctx {
	EVP_MD_CTX *md;
};

static EVP_MD *g_sha256, *g_md5;
static EVP_MAC *g_hmac;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void fetch_algorithms(void)
{
	g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	g_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	g_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
}

/* Unreportable failure inside a void function: see the file comment. */
static void hash_fatal(void) __attribute__((noreturn));
static void hash_fatal(void) { abort(); }

static const EVP_MD *sha256_md(void)
{
	pthread_once(&g_once, fetch_algorithms);
	return g_sha256;
}

static EVP_MAC *hmac_mac(void)
{
	pthread_once(&g_once, fetch_algorithms);
	return g_hmac;
}

/* Convert the OpenSSL error queue once, here, and leave it empty. */
static int ossl_fail(int code, const char *what)
{
	char detail[256] = "no detail from openssl";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, detail, sizeof(detail));
	ERR_clear_error();
	return arca_error_set(code, "%s: %s", what, detail);
}

void arca_sha256(arca_id *out, const void *p, size_t n)
{
	const EVP_MD *md = sha256_md();
	EVP_MD_CTX *ctx;
	unsigned int len = 0;

	if (!md || !(ctx = EVP_MD_CTX_new()))
		hash_fatal();
	if (EVP_DigestInit_ex(ctx, md, NULL) != 1 || EVP_DigestUpdate(ctx, p, n) != 1 ||
	    EVP_DigestFinal_ex(ctx, out->b, &len) != 1 || len != ARCA_ID_LEN)
		hash_fatal();
	EVP_MD_CTX_free(ctx);
}

void arca_md5(uint8_t out[ARCA_MD5_LEN], const void *p, size_t n)
{
	unsigned int len = 0;
	pthread_once(&g_once, fetch_algorithms);
	if (!g_md5 || EVP_Digest(p, n, out, &len, g_md5, NULL) != 1 || len != ARCA_MD5_LEN)
		hash_fatal();
}

void arca_hmac_sha256(arca_id *out, const uint8_t *key, size_t keylen, const void *p, size_t n)
{
	/* EVP_MAC_init treats a NULL key as "keep the previous one"; an empty
	 * key must still be a key. */
	static const uint8_t empty_key[1];
	EVP_MAC *mac = hmac_mac();
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];
	size_t len = 0;

	if (!mac || !(ctx = EVP_MAC_CTX_new(mac)))
		hash_fatal();
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, keylen ? key : empty_key, keylen, params) != 1 ||
	    EVP_MAC_update(ctx, p, n) != 1 ||
	    EVP_MAC_final(ctx, out->b, &len, ARCA_ID_LEN) != 1 || len != ARCA_ID_LEN)
		hash_fatal();
	EVP_MAC_CTX_free(ctx);
}

int arca_sha256_new(arca_sha256_ctx **out)
{
	arca_sha256_ctx *c;
	const EVP_MD *md = sha256_md();

	*out = NULL;
	if (!md)
		return ossl_fail(ARCA_ERROR, "cannot load sha-256 from openssl");
	if (!(c = calloc(1, sizeof(*c))))
		return arca_error_set(ARCA_NOMEM, "out of memory allocating a sha-256 context");
	if (!(c->md = EVP_MD_CTX_new())) {
		free(c);
		return ossl_fail(ARCA_NOMEM, "out of memory allocating a sha-256 context");
	}
	if (EVP_DigestInit_ex(c->md, md, NULL) != 1) {
		EVP_MD_CTX_free(c->md);
		free(c);
		return ossl_fail(ARCA_ERROR, "cannot initialise sha-256");
	}
	*out = c;
	return 0;
}

void arca_sha256_update(arca_sha256_ctx *c, const void *p, size_t n)
{
	if (n && EVP_DigestUpdate(c->md, p, n) != 1)
		hash_fatal();
}

void arca_sha256_final(arca_sha256_ctx *c, arca_id *out)
{
	unsigned int len = 0;
	if (EVP_DigestFinal_ex(c->md, out->b, &len) != 1 || len != ARCA_ID_LEN)
		hash_fatal();
	/* Re-arm so the context can be reused, as the header promises. */
	if (EVP_DigestInit_ex(c->md, sha256_md(), NULL) != 1)
		hash_fatal();
}

void arca_sha256_free(arca_sha256_ctx *c)
{
	if (!c)
		return;
	EVP_MD_CTX_free(c->md);
	free(c);
}

void arca_idfn_init(arca_idfn *f, const uint8_t *key32)
{
	memset(f, 0, sizeof(*f));
	if (key32) {
		f->keyed = true;
		memcpy(f->key, key32, sizeof(f->key));
	}
}

void arca_idfn_compute(const arca_idfn *f, arca_id *out, const void *p, size_t n)
{
	if (f->keyed)
		arca_hmac_sha256(out, f->key, sizeof(f->key), p, n);
	else
		arca_sha256(out, p, n);
}

void arca_id_hex(char *out, const arca_id *id)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < ARCA_ID_LEN; i++) {
		out[2 * i] = digits[id->b[i] >> 4];
		out[2 * i + 1] = digits[id->b[i] & 0xf];
	}
	out[ARCA_ID_HEX_LEN] = '\0';
}

static int hex_val(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

int arca_id_parse(arca_id *out, const char *hex)
{
	arca_id tmp;
	size_t len;

	if (!hex)
		return arca_error_set(ARCA_INVAL, "invalid id: none given");
	len = strnlen(hex, ARCA_ID_HEX_LEN + 1);
	if (len != ARCA_ID_HEX_LEN)
		return arca_error_set(ARCA_INVAL, "invalid id \"%.80s\": expected %d hex characters, got %s%zu",
				      hex, ARCA_ID_HEX_LEN, len > ARCA_ID_HEX_LEN ? "more than " : "",
				      len > ARCA_ID_HEX_LEN ? (size_t)ARCA_ID_HEX_LEN : len);
	for (size_t i = 0; i < ARCA_ID_LEN; i++) {
		int hi = hex_val(hex[2 * i]), lo = hex_val(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return arca_error_set(ARCA_INVAL, "invalid id \"%s\": character %zu is not a hex digit",
					      hex, 2 * i + (hi < 0 ? 0 : 1) + 1);
		tmp.b[i] = (uint8_t)(hi << 4 | lo);
	}
	*out = tmp;
	return 0;
}

bool arca_id_is_zero(const arca_id *id)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < ARCA_ID_LEN; i++)
		acc |= id->b[i];
	return acc == 0;
}

int arca_id_cmp(const arca_id *a, const arca_id *b)
{
	int r = memcmp(a->b, b->b, ARCA_ID_LEN);
	return (r > 0) - (r < 0);
}
