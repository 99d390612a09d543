/*
 * http/http.h - a small HTTP client for the cloud storage drivers, and the
 * only home of libcurl, expat and jansson.
 *
 * An arca_http client is shared by every thread of a process's backend: it
 * keeps a pool of idle libcurl easy handles, so that each request borrows a
 * handle (and the kept-alive connection that comes with it) and gives it
 * back; no handle is ever used by two threads at once.  Requests carry
 * their whole body (pieces of memory or of open files) and append the
 * response body to an arca_buf.
 *
 * Failure convention: arca_http_do() returns 0 whenever a complete response
 * arrived, whatever its status; a connection failure, timeout, reset or a
 * body shorter than its Content-Length is ARCA_TRANSIENT (the generic
 * backend layer retries it).  arca_http_status_error() then turns a
 * non-2xx status into an arca_status.  Messages name the object (the
 * request's "what", e.g. "s3://bucket/key") and the status, never a URL
 * query, a header value or a credential.
 */
#ifndef ARCA_HTTP_H
#define ARCA_HTTP_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arca_http arca_http;

/* Create a client.  Timeouts come from the environment once, here:
 * ARCA_HTTP_CONNECT_TIMEOUT (seconds, default 10) and ARCA_HTTP_TIMEOUT
 * (abort a transfer slower than 1 byte/s for that many seconds, default
 * 60).  The first call initialises libcurl (thread-safely). */
int arca_http_new(arca_http **out);
/* Accepts NULL.  No request may be in flight. */
void arca_http_free(arca_http *h);

/* One piece of a request body: memory (p != NULL) or a file range read
 * with pread (p == NULL, fd >= 0).  Pieces are sent in order. */
typedef struct arca_http_body {
	const void *p;
	int fd;
	uint64_t off;
	size_t len;
} arca_http_body;

typedef struct arca_http_req {
	const char *method;  /* "GET", "HEAD", "PUT", "POST", "DELETE" */
	const char *url;     /* never quoted in messages */
	const char *const *headers; /* "Name: value" lines, nheaders of them */
	size_t nheaders;
	const arca_http_body *body; /* nbody pieces (PUT/POST) */
	size_t nbody;
	const char *what;    /* the object for messages, e.g. "s3://b/k" */
} arca_http_req;

typedef struct arca_http_resp {
	long status;
	arca_buf *body;        /* response body appended here; NULL: discarded */
	uint64_t content_length; /* valid when has_length */
	bool has_length;
	char etag[128];        /* ETag header without quotes, "" if none */
	char content_range[128]; /* Content-Range header, "" if none */
} arca_http_resp;

/*
 * Perform one request.  0 when a response was received (see resp->status);
 * ARCA_TRANSIENT on connection failures, timeouts, resets and truncated
 * bodies; ARCA_ERROR on problems retrying cannot fix (a malformed URL, a
 * TLS certificate that does not verify); ARCA_NOMEM.  On failure the
 * response body may hold part of a body: callers discard it.
 */
int arca_http_do(arca_http *h, const arca_http_req *req, arca_http_resp *resp);

/*
 * The arca_status for a non-2xx status, with a message "<what>: HTTP <n>
 * <reason>[ (<detail>)]" (detail: the server's error code and message, may
 * be NULL):  404 ARCA_NOTFOUND; 412 ARCA_EXISTS; 408, 429, 5xx
 * ARCA_TRANSIENT; 401/403 ARCA_ERROR saying that authentication or
 * authorisation failed (with a hint on credentials); other codes
 * ARCA_ERROR.  transient_detail: the server's error code says "retry"
 * (S3's SlowDown, RequestTimeout, InternalError...), whatever the status.
 */
int arca_http_status_error(long status, const char *what, const char *detail, bool transient_detail);

/* Append s[0..n) percent-encoded the way SigV4 and Google want it (RFC 3986:
 * every byte except A-Z a-z 0-9 - . _ ~ is %XX, uppercase hex; '/' kept
 * when keep_slash). */
int arca_http_uri_encode(arca_buf *out, const char *s, size_t n, bool keep_slash);

/* ---- XML (expat) ---- */

/*
 * Called at the end of every element with its path of local names from
 * the root ("ListBucketResult/Contents/Key": namespaces are dropped, so
 * servers with different namespace URIs read the same) and its text.
 * A non-zero return stops the parse and is returned.
 */
typedef int (*arca_xml_cb)(const char *path, const char *text, size_t len, void *payload);
/* ARCA_CORRUPT when the document is not well-formed XML (message: what). */
int arca_xml_parse(const void *p, size_t n, const char *what, arca_xml_cb cb, void *payload);
/* Append s with the five XML special characters escaped. */
int arca_xml_escape(arca_buf *out, const char *s);

/* ---- JSON (jansson) ---- */

/* A JSON value inside a parsed document; borrowed from the root, valid
 * until arca_jv_free(root). */
typedef struct arca_jv arca_jv;
/* ARCA_CORRUPT when not JSON (message names what). */
int arca_jv_parse(arca_jv **root, const void *p, size_t n, const char *what);
void arca_jv_free(arca_jv *root);
/* Member of an object; NULL when v is not an object or has no such key. */
const arca_jv *arca_jv_get(const arca_jv *v, const char *key);
/* Array length (0 when not an array) and element. */
size_t arca_jv_len(const arca_jv *v);
const arca_jv *arca_jv_at(const arca_jv *v, size_t i);
/* The string, or NULL when v is not a string. */
const char *arca_jv_str(const arca_jv *v);
/* An integer, or a string of decimal digits (GCS sends sizes as strings):
 * false when v is neither. */
bool arca_jv_int(const arca_jv *v, int64_t *out);

#endif
