/*
 * backend/backend_s3.c - repositories in Amazon S3 or any S3-compatible
 * store: s3://BUCKET/PREFIX.  Repository key K is the object PREFIX/K (K
 * when there is no prefix), so a bucket holds the same layout as a local
 * directory.
 *
 * Configuration (read once, from the environment):
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (optional);
 *     without the first two, the profile AWS_PROFILE (default "default")
 *     of the shared credentials file (AWS_SHARED_CREDENTIALS_FILE, default
 *     ~/.aws/credentials), then of the config file (AWS_CONFIG_FILE,
 *     default ~/.aws/config, section "profile NAME" or "default"), as the
 *     AWS CLI reads them
 *   AWS_REGION (or AWS_DEFAULT_REGION, or the profile's region in the
 *     config file; default us-east-1; "auto" for GCS)
 *   ARCA_S3_ENDPOINT    e.g. http://127.0.0.1:9000 or https://storage.googleapis.com
 *   ARCA_S3_PATH_STYLE  1: https://host/bucket/key, 0: https://bucket.host/key
 *                       (default: path style when an endpoint is set)
 *   ARCA_S3_NOREPLACE   1/0: trust "If-None-Match: *" on PUT (default: on
 *                       for AWS, off for other endpoints, which may ignore
 *                       it; the generic layer then checks before writing)
 *   ARCA_S3_PART_SIZE   multipart part size in bytes (default 8 MiB)
 *   ARCA_S3_PUT_MAX     largest object sent with one PUT (default 4 parts,
 *                       32 MiB: a pack is one request, not four)
 *   ARCA_S3_LIST_PAGE   keys per ListObjectsV2 page (default 1000)
 * Requests are signed with our own SigV4 (src/http/http_sigv4.c); every PUT
 * carries Content-MD5 (the server refuses a body damaged on the way) and
 * the SHA-256 of the body in x-amz-content-sha256.
 *
 * Streaming puts (packs, whose name is their hash, known only at the end):
 * stream_write appends to an unlinked temporary file; stream_commit then
 * uploads it under its final key, with one PUT up to ARCA_S3_PUT_MAX and
 * a multipart upload above it, one part in memory at a time.  Uploading
 * parts while the pack is still being written would need the key first
 * (or a server-side copy from a temporary key, which doubles the work and
 * leaves garbage behind on a crash); the temporary file keeps memory at one
 * part per committing thread and lets every request be retried.  The
 * requests of a multipart upload are retried one by one with the generic
 * layer's policy (arca_be_retry_*): the wrappers cannot retry a commit.
 *
 * Listings are collected completely before the first callback, so that a
 * failure on page 7 leaves nothing reported and the wrapper may retry the
 * whole listing.  DELETE of an absent object succeeds on S3: remove() then
 * reports success rather than ARCA_NOTFOUND.
 */
#include "backend/backend.h"
#include "backend/backend_cloud.h"
#include "arca/error.h"
#include "crypto/crypto.h"
#include "hash/hash.h"
#include "http/http.h"
#include "http/http_sigv4.h"
#include "util/base64.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define S3_PART_DEFAULT (8u << 20)
#define S3_PART_MIN (5u << 20) /* S3's minimum for all parts but the last */
#define S3_PARTS_MAX 10000
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct s3_be {
	arca_backend base; /* first */
	arca_http *http;
	char *bucket;
	char *prefix;   /* "" or "a/b" (no slashes at either end) */
	char *base_url; /* "https://bucket.s3.us-east-1.amazonaws.com" or "http://127.0.0.1:9000" */
	char *host;     /* Host header */
	bool path_style;
	char *access_key;
	char *secret_key; /* secure memory */
	char *token;
	char *region;
	char *location; /* "s3://bucket/prefix" */
	size_t part_size;
	size_t put_max; /* above it, multipart */
	unsigned list_page;
} s3_be;

static s3_be *S(arca_backend *be) { return (s3_be *)be; }

/* ---- requests ---- */

typedef struct s3_call {
	const char *method;
	const char *key;        /* repository key, or NULL for the bucket */
	const arca_kv *query;
	size_t nquery;
	const arca_kv *headers; /* extra headers, signed */
	size_t nheaders;
	const arca_http_body *body;
	size_t nbody;
	const char *payload_sha256; /* hex; NULL = empty body */
	arca_buf *out;          /* response body (NULL: kept internally for errors) */
	arca_http_resp resp;
} s3_call;

static int object_name(s3_be *s, arca_buf *b, const char *key)
{
	return arca_cloud_object_name(b, s->prefix, key);
}

typedef struct err_doc {
	char code[128];
	char msg[256];
	char upload_id[512];
	bool is_error; /* root element is <Error> */
} err_doc;

static int err_cb(const char *path, const char *text, size_t len, void *payload)
{
	err_doc *d = payload;
	if (!strcmp(path, "Error"))
		d->is_error = true;
	else if (!strcmp(path, "Error/Code"))
		snprintf(d->code, sizeof(d->code), "%s", text);
	else if (!strcmp(path, "Error/Message"))
		snprintf(d->msg, sizeof(d->msg), "%s", text);
	else if (!strcmp(path, "InitiateMultipartUploadResult/UploadId"))
		snprintf(d->upload_id, sizeof(d->upload_id), "%s", text);
	return 0;
}

static bool transient_code(const char *code)
{
	static const char *const codes[] = { "SlowDown", "RequestTimeout", "InternalError",
					     "ServiceUnavailable", "Throttling", "ThrottlingException",
					     "RequestLimitExceeded", "OperationAborted" };
	size_t i;
	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (!strcmp(code, codes[i]))
			return true;
	return false;
}

/* The arca_status for a failed response, its message naming the method,
 * the status and the server's error code (never a header or the URL). */
static int s3_status_fail(s3_be *s, const s3_call *c, const arca_buf *body)
{
	err_doc d;
	char what[64], detail[400] = "";
	int rc;
	memset(&d, 0, sizeof(d));
	if (body && body->len)
		arca_xml_parse(body->data, body->len, "error", err_cb, &d);
	arca_error_clear();
	if (d.code[0])
		snprintf(detail, sizeof(detail), "%s%s%s", d.code, d.msg[0] ? ": " : "", d.msg);
	snprintf(what, sizeof(what), "%s", c->method);
	rc = arca_http_status_error(c->resp.status, what, detail, d.code[0] && transient_code(d.code));
	if (!strcmp(d.code, "NoSuchBucket"))
		return arca_error_hint(arca_error_set(ARCA_ERROR, "%s: bucket '%s' does not exist (HTTP %ld)",
						      what, s->bucket, c->resp.status),
				       "create it first, or check the repository url and ARCA_S3_ENDPOINT");
	if (!strcmp(d.code, "RequestTimeTooSkewed"))
		return arca_error_hint(rc, "the clock of this machine is off: fix it (NTP)");
	return rc;
}

/* One signed request.  0 on a 2xx response; the status code otherwise. */
static int s3_do(s3_be *s, s3_call *c)
{
	arca_buf path = ARCA_BUF_INIT, obj = ARCA_BUF_INIT, q = ARCA_BUF_INIT, url = ARCA_BUF_INIT;
	arca_buf auth = ARCA_BUF_INIT, lines = ARCA_BUF_INIT, errbody = ARCA_BUF_INIT;
	arca_kv h[16];
	const char *hl[16];
	size_t nh = 0, i, mark = c->out ? c->out->len : 0;
	size_t line_off[16];
	char date[17];
	const char *sha = c->payload_sha256 ? c->payload_sha256 : EMPTY_SHA256;
	arca_sigv4_creds cr = { s->access_key, s->secret_key, s->region, "s3" };
	int rc;

	if (c->nheaders > 8)
		return arca_error_set(ARCA_INVAL, "s3: too many headers");
	if (s->path_style && (rc = arca_buf_printf(&path, "/%s", s->bucket)))
		goto out;
	if (c->key) {
		if ((rc = object_name(s, &obj, c->key)) || (rc = arca_buf_puts(&path, "/")) ||
		    (rc = arca_http_uri_encode(&path, (const char *)obj.data, obj.len, true)))
			goto out;
	} else if (!s->path_style && (rc = arca_buf_puts(&path, "/"))) {
		goto out;
	}
	if ((rc = arca_buf_cstr(&path)) || (rc = arca_sigv4_query(&q, c->query, c->nquery)) ||
	    (rc = arca_buf_cstr(&q)))
		goto out;
	if ((rc = arca_buf_printf(&url, "%s%s%s%s", s->base_url, (char *)path.data, q.len ? "?" : "",
				  q.len ? (char *)q.data : "")))
		goto out;
	arca_sigv4_date(date, time(NULL));
	h[nh++] = (arca_kv){ "host", s->host };
	h[nh++] = (arca_kv){ "x-amz-date", date };
	h[nh++] = (arca_kv){ "x-amz-content-sha256", sha };
	if (s->token)
		h[nh++] = (arca_kv){ "x-amz-security-token", s->token };
	for (i = 0; i < c->nheaders; i++)
		h[nh++] = c->headers[i];
	if ((rc = arca_sigv4_sign(&auth, NULL, &cr, date, c->method, (char *)path.data, q.len ? (char *)q.data : "",
				  h, nh, sha)) ||
	    (rc = arca_buf_cstr(&auth)))
		goto out;
	/* "Name: value" lines, NUL-separated in one buffer */
	for (i = 0; i < nh; i++) {
		line_off[i] = lines.len;
		if ((rc = arca_buf_printf(&lines, "%s: %s", h[i].name, h[i].value)) || (rc = arca_buf_put(&lines, "", 1)))
			goto out;
	}
	line_off[nh] = lines.len;
	if ((rc = arca_buf_printf(&lines, "Authorization: %s", (char *)auth.data)) || (rc = arca_buf_put(&lines, "", 1)))
		goto out;
	for (i = 0; i <= nh; i++)
		hl[i] = (const char *)lines.data + line_off[i];
	{
		arca_http_req rq = { c->method, (char *)url.data, hl, nh + 1, c->body, c->nbody, c->method };
		c->resp.body = c->out ? c->out : &errbody;
		rc = arca_http_do(s->http, &rq, &c->resp);
	}
	if (rc)
		goto out;
	if (c->resp.status < 200 || c->resp.status > 299) {
		/* the error document follows what the caller's buffer held */
		arca_buf tail = ARCA_BUF_INIT;
		tail.data = c->resp.body->data ? c->resp.body->data + mark : NULL;
		tail.len = c->resp.body->len - mark;
		rc = s3_status_fail(s, c, &tail);
		if (c->out)
			c->out->len = mark;
	}
out:
	if (auth.data)
		arca_wipe(auth.data, auth.cap);
	if (lines.data)
		arca_wipe(lines.data, lines.cap);
	arca_buf_free(&path);
	arca_buf_free(&obj);
	arca_buf_free(&q);
	arca_buf_free(&url);
	arca_buf_free(&auth);
	arca_buf_free(&lines);
	arca_buf_free(&errbody);
	return rc;
}

/* ---- vtable ---- */

static int s3_get(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	s3_be *s = S(be);
	char range[64];
	arca_kv hdr = { "range", range };
	s3_call c = { .method = "GET", .key = key, .out = out };
	size_t mark = out->len, got;
	bool ranged = off || len != ARCA_GET_ALL;
	int rc;

	if (len == 0) {
		uint64_t size;
		if ((rc = be->stat(be, key, &size)))
			return rc;
		if (off > size)
			return arca_error_set(ARCA_CORRUPT, "truncated object: %llu bytes, wanted offset %llu",
					      (unsigned long long)size, (unsigned long long)off);
		return 0;
	}
	if (ranged) {
		if (len == ARCA_GET_ALL)
			snprintf(range, sizeof(range), "bytes=%llu-", (unsigned long long)off);
		else
			snprintf(range, sizeof(range), "bytes=%llu-%llu", (unsigned long long)off,
				 (unsigned long long)(off + len - 1));
		c.headers = &hdr;
		c.nheaders = 1;
	}
	rc = s3_do(s, &c);
	if (rc && c.resp.status == 416) {
		out->len = mark;
		return arca_error_set(ARCA_CORRUPT, "truncated object: nothing at offset %llu",
				      (unsigned long long)off);
	}
	if (rc) {
		out->len = mark;
		return rc;
	}
	got = out->len - mark;
	if (ranged && c.resp.status == 200) {
		/* the server ignored Range and sent the whole object: cut */
		if (off > got || (len != ARCA_GET_ALL && len > got - off)) {
			out->len = mark;
			return arca_error_set(ARCA_CORRUPT, "truncated object: %zu bytes, wanted %llu at offset %llu",
					      got, (unsigned long long)len, (unsigned long long)off);
		}
		memmove(out->data + mark, out->data + mark + off, (size_t)(len == ARCA_GET_ALL ? got - off : len));
		out->len = mark + (size_t)(len == ARCA_GET_ALL ? got - off : len);
		return 0;
	}
	if (len != ARCA_GET_ALL && got != len) {
		out->len = mark;
		return arca_error_set(ARCA_CORRUPT, "truncated object: got %zu bytes, wanted %llu at offset %llu",
				      got, (unsigned long long)len, (unsigned long long)off);
	}
	return 0;
}

/* Headers that make the server check a body: Content-MD5 and the SHA-256
 * for x-amz-content-sha256 (hex, 65 bytes). */
typedef struct body_sums {
	char md5_b64[32];
	char sha_hex[65];
} body_sums;

static int sums_of(body_sums *bs, const void *p, size_t n)
{
	uint8_t md5[ARCA_MD5_LEN];
	arca_buf b = ARCA_BUF_INIT;
	arca_id sha;
	int rc;
	arca_md5(md5, p, n);
	arca_sha256(&sha, p, n);
	arca_id_hex(bs->sha_hex, &sha);
	if ((rc = arca_base64_encode(&b, md5, sizeof(md5), false)) || (rc = arca_buf_cstr(&b))) {
		arca_buf_free(&b);
		return rc;
	}
	snprintf(bs->md5_b64, sizeof(bs->md5_b64), "%s", (char *)b.data);
	arca_buf_free(&b);
	return 0;
}

static int put_once(s3_be *s, const char *key, const void *data, size_t len, bool noreplace)
{
	body_sums bs;
	arca_kv h[3];
	arca_http_body body = { data, -1, 0, len };
	s3_call c = { .method = "PUT", .key = key, .body = &body, .nbody = 1 };
	size_t nh = 0;
	int rc;
	if ((rc = sums_of(&bs, data, len)))
		return rc;
	h[nh++] = (arca_kv){ "content-md5", bs.md5_b64 };
	h[nh++] = (arca_kv){ "content-type", "application/octet-stream" };
	if (noreplace)
		h[nh++] = (arca_kv){ "if-none-match", "*" };
	c.headers = h;
	c.nheaders = nh;
	c.payload_sha256 = bs.sha_hex;
	rc = s3_do(s, &c);
	if (rc == ARCA_EXISTS)
		return arca_error_set(ARCA_EXISTS, "object already exists");
	if (c.resp.status == 409 && noreplace)
		/* ConditionalRequestConflict: a concurrent conditional write */
		return arca_error_set(ARCA_TRANSIENT, "PUT: HTTP 409 (conflicting conditional write)");
	return rc;
}

static int s3_put(arca_backend *be, const char *key, const void *data, size_t len, unsigned flags)
{
	return put_once(S(be), key, data, len, (flags & ARCA_PUT_NOREPLACE) && (be->caps & ARCA_BACKEND_CAP_NOREPLACE));
}

static int s3_stat(arca_backend *be, const char *key, uint64_t *size)
{
	s3_call c = { .method = "HEAD", .key = key };
	int rc = s3_do(S(be), &c);
	if (rc == ARCA_NOTFOUND)
		return arca_error_set(ARCA_NOTFOUND, "object not found");
	if (rc)
		return rc;
	if (!c.resp.has_length)
		return arca_error_set(ARCA_ERROR, "HEAD: no Content-Length in the response");
	*size = c.resp.content_length;
	return 0;
}

static int s3_remove(arca_backend *be, const char *key)
{
	s3_call c = { .method = "DELETE", .key = key };
	int rc = s3_do(S(be), &c);
	if (rc == ARCA_NOTFOUND)
		return arca_error_set(ARCA_NOTFOUND, "object not found");
	return rc;
}

/* ---- listing ---- */

typedef struct list_page {
	arca_keylist *keys;
	char cur_key[1100];
	bool have_key;
	uint64_t cur_size;
	bool truncated;
	char *next; /* malloc'ed continuation token */
	size_t skip; /* strip this many bytes of the object name (prefix + '/') */
} list_page;

static int list_cb(const char *path, const char *text, size_t len, void *payload)
{
	list_page *lp = payload;
	if (!strcmp(path, "ListBucketResult/Contents/Key")) {
		if (len >= sizeof(lp->cur_key))
			return arca_error_set(ARCA_CORRUPT, "listing: key too long");
		memcpy(lp->cur_key, text, len + 1);
		lp->have_key = true;
	} else if (!strcmp(path, "ListBucketResult/Contents/Size")) {
		lp->cur_size = strtoull(text, NULL, 10);
	} else if (!strcmp(path, "ListBucketResult/Contents")) {
		bool have = lp->have_key;
		lp->have_key = false;
		/* (the prefix object itself, if any, is not a repository key) */
		if (have && strlen(lp->cur_key) > lp->skip)
			return arca_keylist_add(lp->keys, lp->cur_key + lp->skip, lp->cur_size);
	} else if (!strcmp(path, "ListBucketResult/IsTruncated")) {
		lp->truncated = !strcasecmp(text, "true");
	} else if (!strcmp(path, "ListBucketResult/NextContinuationToken")) {
		free(lp->next);
		if (!(lp->next = strdup(text)))
			return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	return 0;
}

static int s3_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload)
{
	s3_be *s = S(be);
	arca_buf full = ARCA_BUF_INIT, body = ARCA_BUF_INIT;
	arca_keylist keys = { ARCA_BUF_INIT, ARCA_BUF_INIT };
	char page[16];
	char *token = NULL;
	int rc;

	if ((rc = object_name(s, &full, prefix)) || (rc = arca_buf_cstr(&full)))
		goto out;
	snprintf(page, sizeof(page), "%u", s->list_page);
	for (;;) {
		arca_kv q[4];
		size_t nq = 0;
		list_page lp;
		s3_call c = { .method = "GET", .out = &body };
		memset(&lp, 0, sizeof(lp));
		lp.keys = &keys;
		lp.skip = *s->prefix ? strlen(s->prefix) + 1 : 0;
		q[nq++] = (arca_kv){ "list-type", "2" };
		q[nq++] = (arca_kv){ "prefix", (char *)full.data };
		q[nq++] = (arca_kv){ "max-keys", page };
		if (token)
			q[nq++] = (arca_kv){ "continuation-token", token };
		c.query = q;
		c.nquery = nq;
		arca_buf_clear(&body);
		if ((rc = s3_do(s, &c)))
			goto out;
		rc = arca_xml_parse(body.data, body.len, "listing", list_cb, &lp);
		free(token);
		token = lp.next;
		if (rc)
			goto out;
		if (!lp.truncated)
			break;
		if (!token || !*token) {
			rc = arca_error_set(ARCA_CORRUPT, "listing: truncated page without a continuation token");
			goto out;
		}
	}
	rc = arca_keylist_report(&keys, cb, payload);
out:
	free(token);
	arca_keylist_free(&keys);
	arca_buf_free(&full);
	arca_buf_free(&body);
	return rc;
}

/* ---- streaming put ---- */

static int s3_stream_open(arca_backend *be, void **handle)
{
	return arca_spool_open((arca_spool **)handle);
}

static int s3_stream_write(arca_backend *be, void *handle, const void *p, size_t n)
{
	return arca_spool_write(handle, p, n);
}

static void s3_stream_abort(arca_backend *be, void *handle)
{
	arca_spool_close(handle);
}

typedef struct part_etags {
	char (*etag)[128];
	unsigned n;
} part_etags;

static int mp_create(s3_be *s, const char *key, char *upload_id, size_t cap)
{
	arca_buf body = ARCA_BUF_INIT;
	arca_kv q = { "uploads", "" };
	arca_kv h = { "content-type", "application/octet-stream" };
	s3_call c = { .method = "POST", .key = key, .query = &q, .nquery = 1, .headers = &h, .nheaders = 1,
		      .out = &body };
	err_doc d;
	int rc;
	memset(&d, 0, sizeof(d));
	if (!(rc = s3_do(s, &c)) &&
	    !(rc = arca_xml_parse(body.data, body.len, "multipart upload", err_cb, &d)) && !d.upload_id[0])
		rc = arca_error_set(ARCA_TRANSIENT, "POST ?uploads: no UploadId in the response");
	if (!rc)
		snprintf(upload_id, cap, "%s", d.upload_id);
	arca_buf_free(&body);
	return rc;
}

static int mp_part(s3_be *s, const char *key, const char *upload_id, unsigned no, const arca_buf *data,
		   char *etag)
{
	body_sums bs;
	char num[16];
	arca_kv q[2] = { { "partNumber", num }, { "uploadId", upload_id } };
	arca_kv h[1];
	arca_http_body body = { data->data, -1, 0, data->len };
	s3_call c = { .method = "PUT", .key = key, .query = q, .nquery = 2, .headers = h, .nheaders = 1,
		      .body = &body, .nbody = 1 };
	int rc;
	snprintf(num, sizeof(num), "%u", no);
	if ((rc = sums_of(&bs, data->data, data->len)))
		return rc;
	h[0] = (arca_kv){ "content-md5", bs.md5_b64 };
	c.payload_sha256 = bs.sha_hex;
	if ((rc = s3_do(s, &c)))
		return arca_error_prefix(rc, "part %u", no);
	if (!c.resp.etag[0])
		return arca_error_set(ARCA_TRANSIENT, "part %u: no ETag in the response", no);
	snprintf(etag, 128, "%s", c.resp.etag);
	return 0;
}

static int mp_complete(s3_be *s, const char *key, const char *upload_id, const part_etags *pe)
{
	arca_buf doc = ARCA_BUF_INIT, resp = ARCA_BUF_INIT;
	arca_kv q = { "uploadId", upload_id };
	arca_kv h = { "content-type", "application/xml" };
	arca_http_body body;
	arca_id sha;
	char hex[65];
	s3_call c = { .method = "POST", .key = key, .query = &q, .nquery = 1, .headers = &h, .nheaders = 1,
		      .out = &resp };
	err_doc d;
	unsigned i;
	int rc;
	memset(&d, 0, sizeof(d));
	if ((rc = arca_buf_puts(&doc, "<CompleteMultipartUpload>")))
		goto out;
	for (i = 0; i < pe->n; i++) {
		if ((rc = arca_buf_printf(&doc, "<Part><PartNumber>%u</PartNumber><ETag>\"", i + 1)) ||
		    (rc = arca_xml_escape(&doc, pe->etag[i])) || (rc = arca_buf_puts(&doc, "\"</ETag></Part>")))
			goto out;
	}
	if ((rc = arca_buf_puts(&doc, "</CompleteMultipartUpload>")))
		goto out;
	arca_sha256(&sha, doc.data, doc.len);
	arca_id_hex(hex, &sha);
	body = (arca_http_body){ doc.data, -1, 0, doc.len };
	c.body = &body;
	c.nbody = 1;
	c.payload_sha256 = hex;
	if ((rc = s3_do(s, &c)))
		goto out;
	/* S3 may answer 200 and report the failure in the body */
	if ((rc = arca_xml_parse(resp.data, resp.len, "complete multipart upload", err_cb, &d)))
		goto out;
	if (d.is_error) {
		bool tr = transient_code(d.code);
		rc = arca_error_set(tr ? ARCA_TRANSIENT : ARCA_ERROR, "POST ?uploadId: HTTP 200 with error (%s: %s)",
				    d.code, d.msg);
	}
out:
	arca_buf_free(&doc);
	arca_buf_free(&resp);
	return rc;
}

static void mp_abort(s3_be *s, const char *key, const char *upload_id)
{
	arca_kv q = { "uploadId", upload_id };
	s3_call c = { .method = "DELETE", .key = key, .query = &q, .nquery = 1 };
	/* best effort: some servers lack it; a lifecycle rule for incomplete
	 * multipart uploads cleans up what is left */
	s3_do(s, &c);
	arca_error_clear();
}

static int multipart(s3_be *s, arca_spool *st, const char *key)
{
	arca_buf part = ARCA_BUF_INIT;
	part_etags pe = { NULL, 0 };
	char upload_id[512];
	unsigned nparts = (unsigned)((st->size + s->part_size - 1) / s->part_size), i;
	arca_be_retry rt;
	int rc;

	if (nparts > S3_PARTS_MAX)
		return arca_error_set(ARCA_INVAL, "object of %llu bytes needs more than %d parts of %zu bytes",
				      (unsigned long long)st->size, S3_PARTS_MAX, s->part_size);
	if (!(pe.etag = calloc(nparts, sizeof(*pe.etag))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	arca_be_retry_init(&rt);
	while ((rc = mp_create(s, key, upload_id, sizeof(upload_id))) && arca_be_retry_again(&s->base, &rt, rc))
		;
	rc = arca_be_retry_done(&rt, rc);
	if (rc)
		goto out_free;
	for (i = 0; i < nparts; i++) {
		uint64_t off = (uint64_t)i * s->part_size;
		size_t n = (size_t)(st->size - off < s->part_size ? st->size - off : s->part_size);
		if ((rc = arca_spool_read(st, &part, off, n)))
			goto fail;
		arca_be_retry_init(&rt);
		while ((rc = mp_part(s, key, upload_id, i + 1, &part, pe.etag[i])) &&
		       arca_be_retry_again(&s->base, &rt, rc))
			;
		rc = arca_be_retry_done(&rt, rc);
		if (rc)
			goto fail;
		pe.n++;
	}
	arca_buf_free(&part);
	arca_be_retry_init(&rt);
	for (;;) {
		rc = mp_complete(s, key, upload_id, &pe);
		if (rc == ARCA_NOTFOUND && rt.attempt) {
			/* NoSuchUpload on a retry: the first attempt completed
			 * it and its reply was lost; the object tells */
			uint64_t size = 0;
			if (s->base.stat(&s->base, key, &size) == 0 && size == st->size) {
				arca_error_clear();
				rc = 0;
			}
		}
		if (!rc || !arca_be_retry_again(&s->base, &rt, rc))
			break;
	}
	rc = arca_be_retry_done(&rt, rc);
	if (!rc)
		goto out_free;
fail:
	{
		/* keep the message of the failure, not of the abort */
		char msg[1024];
		snprintf(msg, sizeof(msg), "%s", arca_error_message());
		mp_abort(s, key, upload_id);
		arca_error_set(rc, "multipart upload: %s", msg);
	}
out_free:
	arca_buf_free(&part);
	free(pe.etag);
	return rc;
}

static int s3_stream_commit(arca_backend *be, void *handle, const char *key)
{
	s3_be *s = S(be);
	arca_spool *st = handle;
	arca_be_retry rt;
	int rc;
	if (st->size > s->put_max) {
		rc = multipart(s, st, key);
	} else {
		arca_buf b = ARCA_BUF_INIT;
		if (!(rc = arca_spool_read(st, &b, 0, (size_t)st->size))) {
			arca_be_retry_init(&rt);
			while ((rc = put_once(s, key, b.data, b.len, false)) && arca_be_retry_again(be, &rt, rc))
				;
			rc = arca_be_retry_done(&rt, rc);
		}
		arca_buf_free(&b);
	}
	s3_stream_abort(be, st);
	return rc;
}

static const char *s3_location(arca_backend *be) { return S(be)->location; }

static void s3_free(arca_backend *be)
{
	s3_be *s = S(be);
	if (!s)
		return;
	arca_http_free(s->http);
	free(s->bucket);
	free(s->prefix);
	free(s->base_url);
	free(s->host);
	free(s->access_key);
	if (s->secret_key)
		arca_secure_free(s->secret_key);
	free(s->token);
	free(s->region);
	free(s->location);
	free(s);
}

/* ---- construction ---- */


/* The AWS shared files of one profile: what was found, and where. */
typedef struct aws_profile {
	const char *name;
	char creds_path[4096], config_path[4096];
	arca_buf creds, config; /* file contents; empty when missing */
} aws_profile;

static void aws_file_path(char *out, size_t n, const char *var, const char *leaf)
{
	const char *e = arca_cloud_env(var), *home = arca_cloud_env("HOME");
	if (e)
		snprintf(out, n, "%s", e);
	else if (home)
		snprintf(out, n, "%s/.aws/%s", home, leaf);
	else
		out[0] = '\0';
}

static int aws_profile_load(aws_profile *ap)
{
	int rc;
	ap->name = arca_cloud_env("AWS_PROFILE") ? arca_cloud_env("AWS_PROFILE") : "default";
	aws_file_path(ap->creds_path, sizeof(ap->creds_path), "AWS_SHARED_CREDENTIALS_FILE", "credentials");
	aws_file_path(ap->config_path, sizeof(ap->config_path), "AWS_CONFIG_FILE", "config");
	/* a missing file is an empty one */
	if (ap->creds_path[0] && (rc = arca_cloud_read_small_file(ap->creds_path, &ap->creds))) {
		if (rc != ARCA_NOTFOUND)
			return rc;
		arca_error_clear();
	}
	if (ap->config_path[0] && (rc = arca_cloud_read_small_file(ap->config_path, &ap->config))) {
		if (rc != ARCA_NOTFOUND)
			return rc;
		arca_error_clear();
	}
	return 0;
}

/* key of the profile: the credentials file's [NAME], else the config
 * file's [profile NAME] ([default] for the default profile). */
static int aws_profile_get(const aws_profile *ap, const char *key, bool creds_file, char **out)
{
	char section[300];
	int rc;
	*out = NULL;
	if (creds_file) {
		rc = arca_cloud_ini_get((const char *)ap->creds.data, ap->creds.len, ap->name, key, out);
		if (rc)
			rc = arca_error_prefix(rc, "%s", ap->creds_path);
		if (rc != ARCA_NOTFOUND)
			return rc;
	}
	if (!strcmp(ap->name, "default"))
		snprintf(section, sizeof(section), "default");
	else
		snprintf(section, sizeof(section), "profile %s", ap->name);
	rc = arca_cloud_ini_get((const char *)ap->config.data, ap->config.len, section, key, out);
	return rc && rc != ARCA_NOTFOUND ? arca_error_prefix(rc, "%s", ap->config_path) : rc;
}

/* Credentials and region: the environment first, then the profile. */
static int s3_credentials(s3_be *s)
{
	aws_profile ap;
	const char *ak = arca_cloud_env("AWS_ACCESS_KEY_ID"), *sk = arca_cloud_env("AWS_SECRET_ACCESS_KEY"), *e;
	char *fak = NULL, *fsk = NULL, *ftok = NULL, *freg = NULL;
	int rc = 0;
	memset(&ap, 0, sizeof(ap));
	if ((!ak || !sk || (!arca_cloud_env("AWS_REGION") && !arca_cloud_env("AWS_DEFAULT_REGION"))) && (rc = aws_profile_load(&ap))) {
		if (!ak || !sk)
			goto out;
		/* the keys are in the environment: an unreadable profile only
		 * costs the region lookup */
		arca_error_clear();
		ap.creds.len = ap.config.len = 0;
		rc = 0;
	}
	if (!ak || !sk) {
		if ((rc = aws_profile_get(&ap, "aws_access_key_id", true, &fak)) == ARCA_NOTFOUND ||
		    (!rc && (rc = aws_profile_get(&ap, "aws_secret_access_key", true, &fsk)) == ARCA_NOTFOUND)) {
			if (arca_cloud_env("AWS_PROFILE"))
				rc = arca_error_hint(
					arca_error_set(ARCA_INVAL, "no s3 credentials for %s: profile \"%s\" has none in %s or %s",
						       s->location, ap.name, ap.creds_path, ap.config_path),
					"check AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
			else
				rc = arca_error_hint(arca_error_set(ARCA_INVAL, "no s3 credentials for %s", s->location),
						     "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN "
						     "for temporary credentials), or AWS_PROFILE with a profile in %s",
						     ap.creds_path[0] ? ap.creds_path : "~/.aws/credentials");
			goto out;
		}
		if (rc)
			goto out;
		ak = fak;
		sk = fsk;
		/* a token belongs with the keys it came with */
		if ((rc = aws_profile_get(&ap, "aws_session_token", true, &ftok)) && rc != ARCA_NOTFOUND)
			goto out;
		e = ftok;
	} else {
		e = arca_cloud_env("AWS_SESSION_TOKEN");
	}
	s->access_key = strdup(ak);
	if ((s->secret_key = arca_secure_alloc(strlen(sk) + 1)))
		memcpy(s->secret_key, sk, strlen(sk) + 1);
	if (e && !(s->token = strdup(e))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	if (!(e = arca_cloud_env("AWS_REGION")) && !(e = arca_cloud_env("AWS_DEFAULT_REGION"))) {
		if ((rc = aws_profile_get(&ap, "region", false, &freg)) && rc != ARCA_NOTFOUND)
			goto out;
		e = freg;
	}
	s->region = strdup(e ? e : "us-east-1");
	rc = !s->access_key || !s->secret_key || !s->region ? arca_error_set(ARCA_NOMEM, "out of memory") : 0;
out:
	if (fsk)
		arca_wipe(fsk, strlen(fsk));
	free(fak);
	free(fsk);
	if (ftok)
		arca_wipe(ftok, strlen(ftok));
	free(ftok);
	free(freg);
	if (ap.creds.data)
		arca_wipe(ap.creds.data, ap.creds.cap);
	arca_buf_free(&ap.creds);
	if (ap.config.data)
		arca_wipe(ap.config.data, ap.config.cap);
	arca_buf_free(&ap.config);
	return rc;
}

int arca_backend_s3_new(arca_backend **out, const char *rest)
{
	s3_be *s = calloc(1, sizeof(*s));
	const char *ep, *e, *scheme = "https", *hostport;
	int rc;

	*out = NULL;
	if (!s)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	s->base.version = ARCA_BACKEND_VERSION;
	s->base.name = "s3";
	s->base.caps = ARCA_BACKEND_CAP_RANGE;
	s->base.get = s3_get;
	s->base.put = s3_put;
	s->base.stat = s3_stat;
	s->base.list = s3_list;
	s->base.remove = s3_remove;
	s->base.stream_open = s3_stream_open;
	s->base.stream_write = s3_stream_write;
	s->base.stream_commit = s3_stream_commit;
	s->base.stream_abort = s3_stream_abort;
	s->base.location = s3_location;
	s->base.free = s3_free;

	if ((rc = arca_cloud_url("s3", rest, 63, &s->bucket, &s->prefix, &s->location)))
		goto fail;

	if ((rc = s3_credentials(s)))
		goto fail;

	ep = arca_cloud_env("ARCA_S3_ENDPOINT");
	if (ep) {
		const char *sep = strstr(ep, "://");
		if (sep) {
			if (!strncmp(ep, "http://", 7))
				scheme = "http";
			else if (strncmp(ep, "https://", 8)) {
				rc = arca_error_set(ARCA_INVAL, "ARCA_S3_ENDPOINT must be http:// or https://");
				goto fail;
			}
			hostport = sep + 3;
		} else {
			hostport = ep;
		}
		s->host = strndup(hostport, strcspn(hostport, "/"));
	} else {
		rc = asprintf(&s->host, "s3.%s.amazonaws.com", s->region);
		if (rc < 0)
			s->host = NULL;
	}
	if (!s->host || !*s->host) {
		rc = arca_error_set(s->host ? ARCA_INVAL : ARCA_NOMEM, "bad s3 endpoint");
		goto fail;
	}
	/* virtual-hosted style needs a bucket name that is a DNS label */
	s->path_style = arca_cloud_env_flag("ARCA_S3_PATH_STYLE", ep != NULL) || strchr(s->bucket, '.') ||
			strchr(s->bucket, '_');
	if (!s->path_style) {
		char *vh;
		if (asprintf(&vh, "%s.%s", s->bucket, s->host) < 0) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto fail;
		}
		free(s->host);
		s->host = vh;
	}
	if (asprintf(&s->base_url, "%s://%s", scheme, s->host) < 0) {
		s->base_url = NULL;
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	if (arca_cloud_env_flag("ARCA_S3_NOREPLACE", ep == NULL))
		s->base.caps |= ARCA_BACKEND_CAP_NOREPLACE;
	s->part_size = S3_PART_DEFAULT;
	if ((e = arca_cloud_env("ARCA_S3_PART_SIZE"))) {
		unsigned long long v = strtoull(e, NULL, 10);
		/* below S3's minimum only against other servers (tests) */
		if (v >= (ep ? 64 * 1024ull : S3_PART_MIN) && v <= (5ull << 30))
			s->part_size = (size_t)v;
	}
	s->put_max = 4 * s->part_size;
	if ((e = arca_cloud_env("ARCA_S3_PUT_MAX"))) {
		unsigned long long v = strtoull(e, NULL, 10);
		if (v >= s->part_size && v <= (5ull << 30)) /* S3's limit for one PUT */
			s->put_max = (size_t)v;
	}
	s->list_page = 1000;
	if ((e = arca_cloud_env("ARCA_S3_LIST_PAGE"))) {
		unsigned long v = strtoul(e, NULL, 10);
		if (v >= 1 && v <= 1000)
			s->list_page = (unsigned)v;
	}
	if ((rc = arca_http_new(&s->http)))
		goto fail;
	*out = &s->base;
	return 0;
fail:
	s3_free(&s->base);
	return rc;
}
