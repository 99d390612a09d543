/*
 * http/http_sigv4.h - AWS Signature Version 4 (header-based), our own code
 * over hash/'s SHA-256 and HMAC-SHA-256.  Used for S3 and for S3-compatible
 * APIs such as GCS's XML API with HMAC keys (region "auto").
 */
#ifndef ARCA_HTTP_SIGV4_H
#define ARCA_HTTP_SIGV4_H

#include "util/buf.h"

#include <stddef.h>
#include <time.h>

typedef struct arca_sigv4_creds {
	const char *access_key;
	const char *secret_key;
	const char *region;  /* "us-east-1", "auto", ... */
	const char *service; /* "s3" */
} arca_sigv4_creds;

/* A name/value pair: a header to sign or a query parameter. */
typedef struct arca_kv {
	const char *name;
	const char *value;
} arca_kv;

/* "YYYYMMDDTHHMMSSZ" (UTC) for t; out holds 17 bytes. */
void arca_sigv4_date(char out[17], time_t t);

/* Append the canonical query string for params (each name and value
 * URI-encoded, '/' too; sorted by name, then value; a valueless parameter
 * written "name="). */
int arca_sigv4_query(arca_buf *out, const arca_kv *params, size_t n);

/*
 * Append the Authorization header value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=...") for a request to auth.
 *   amz_date      the request's X-Amz-Date value (also among headers)
 *   uri           the canonical URI: the path, already URI-encoded
 *   query         the canonical query string (arca_sigv4_query), "" if none
 *   headers       every header to sign, names in any case, any order; must
 *                 include host and x-amz-date; values are trimmed
 *   payload_hash  hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
 * canonical (may be NULL) receives the canonical request, for tests.  The
 * secret never leaves this function: derived keys are wiped.
 */
int arca_sigv4_sign(arca_buf *auth, arca_buf *canonical, const arca_sigv4_creds *c,
		    const char *amz_date, const char *method, const char *uri, const char *query,
		    const arca_kv *headers, size_t nheaders, const char *payload_hash);

#endif
