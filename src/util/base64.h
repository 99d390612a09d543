/*
 * util/base64.h - base64 (RFC 4648 §4, padded) and base64url (§5, no
 * padding, as JWTs use), for HTTP headers such as Content-MD5 and for
 * JSON Web Tokens.
 */
#ifndef ARCA_UTIL_BASE64_H
#define ARCA_UTIL_BASE64_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>

/* Append the encoding of p[0..n) to out (not NUL-terminated: use
 * arca_buf_cstr).  url: the URL-safe alphabet without '=' padding. */
int arca_base64_encode(arca_buf *out, const void *p, size_t n, bool url);
/* Append the decoding of s[0..n) (either alphabet, padding optional) to
 * out; ARCA_INVAL on any other character or a bad length. */
int arca_base64_decode(arca_buf *out, const char *s, size_t n);

#endif
