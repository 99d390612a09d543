/*
 * backend/backend_gcs.c - repositories in Google Cloud Storage through its
 * JSON API: gs://BUCKET/PREFIX.  Repository key K is the object PREFIX/K
 * (K without a prefix): the same layout as a local directory.
 *
 *   get     GET  /storage/v1/b/B/o/NAME?alt=media   (Range for part of it)
 *   stat    GET  /storage/v1/b/B/o/NAME?fields=size
 *   put     POST /upload/storage/v1/b/B/o?uploadType=media&name=NAME
 *           [&ifGenerationMatch=0 for no-replace]; the md5Hash GCS computes
 *           from what it received is compared with ours
 *   list    GET  /storage/v1/b/B/o?prefix=P&maxResults=N&pageToken=T
 *   remove  DELETE /storage/v1/b/B/o/NAME
 * NAME is percent-encoded whole, '/' included.
 *
 * Configuration (environment, read once):
 *   GOOGLE_APPLICATION_CREDENTIALS  a service-account key file (JSON): a
 *       JWT signed RS256 with its private key (src/crypto) is exchanged at
 *       its token_uri for an OAuth2 access token, cached until a minute
 *       before it expires and shared by all threads
 *   ARCA_GCS_ENDPOINT (or STORAGE_EMULATOR_HOST, as Google's libraries
 *       read it): another server, e.g. an emulator; without credentials
 *       requests then go unauthenticated
 *   ARCA_GCS_NOREPLACE 1/0: trust ifGenerationMatch=0 (default: on for
 *       Google, off for other endpoints, where the generic layer checks)
 *   ARCA_GCS_LIST_PAGE keys per listing page (default 1000)
 * Streaming puts spool to a temporary file (backend_tmpfile.h) and go up in
 * one request at commit, retried with the generic layer's policy.  Like the
 * S3 driver, listings are collected completely before the first callback.
 */
#include "backend/backend_gcs.h"
#include "backend/backend.h"
#include "backend/backend_cloud.h"
#include "arca/error.h"
#include "crypto/crypto.h"
#include "hash/hash.h"
#include "http/http.h"
#include "http/http_sigv4.h"
#include "util/base64.h"
#include "util/json.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define GCS_DEFAULT_ENDPOINT "https://storage.googleapis.com"
#define GCS_DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define TOKEN_MARGIN_S 60

typedef struct gcs_be {
	arca_backend base; /* first */
	arca_http *http;
	char *bucket;
	char *prefix; /* "" or "a/b" */
	char *endpoint;
	char *location; /* "gs://bucket/prefix" */
	unsigned list_page;
	/* service account (NULL when requests go unauthenticated) */
	char *email;
	char *key_pem; /* secure memory */
	size_t key_len;
	char *token_uri;
	pthread_mutex_t tok_mu; /* guards token, token_exp */
	char *token;            /* secure memory */
	time_t token_exp;
} gcs_be;

static gcs_be *G(arca_backend *be) { return (gcs_be *)be; }

/* ---- JWT and tokens ---- */

static int b64url_json(arca_buf *out, const arca_buf *json)
{
	return arca_base64_encode(out, json->data, json->len, true);
}

int arca_gcs_jwt(arca_buf *out, const char *email, const char *pem, size_t pemlen, const char *aud,
		 const char *scope, int64_t now)
{
	arca_buf hdr = ARCA_BUF_INIT, claims = ARCA_BUF_INIT, sig = ARCA_BUF_INIT;
	arca_json j;
	size_t start = out->len;
	int rc;
	arca_json_init(&j, &hdr);
	arca_json_obj_begin(&j);
	arca_json_kstr(&j, "alg", "RS256");
	arca_json_kstr(&j, "typ", "JWT");
	arca_json_obj_end(&j);
	arca_json_init(&j, &claims);
	arca_json_obj_begin(&j);
	arca_json_kstr(&j, "iss", email);
	arca_json_kstr(&j, "scope", scope);
	arca_json_kstr(&j, "aud", aud);
	arca_json_kint(&j, "iat", now);
	arca_json_kint(&j, "exp", now + 3600);
	arca_json_obj_end(&j);
	if ((rc = b64url_json(out, &hdr)) || (rc = arca_buf_put(out, ".", 1)) || (rc = b64url_json(out, &claims)))
		goto out;
	/* the signature covers "header.claims" exactly as sent */
	if ((rc = arca_rs256_sign(&sig, pem, pemlen, out->data + start, out->len - start)) ||
	    (rc = arca_buf_put(out, ".", 1)) || (rc = arca_base64_encode(out, sig.data, sig.len, true)))
		goto out;
out:
	if (rc)
		out->len = start;
	arca_buf_free(&hdr);
	arca_buf_free(&claims);
	arca_buf_free(&sig);
	return rc;
}

/* The server's error: {"error": {"code": N, "message": M, "errors":
 * [{"reason": R}]}} (GCS) or {"error": R, "error_description": M} (OAuth). */
static void error_detail(const arca_buf *body, char *out, size_t cap, bool *transient)
{
	arca_jv *root = NULL;
	const arca_jv *e, *r;
	const char *reason = NULL, *msg = NULL;
	*out = '\0';
	*transient = false;
	if (!body->len || arca_jv_parse(&root, body->data, body->len, "error")) {
		arca_error_clear();
		return;
	}
	e = arca_jv_get(root, "error");
	if (arca_jv_str(e)) {
		reason = arca_jv_str(e);
		msg = arca_jv_str(arca_jv_get(root, "error_description"));
	} else {
		msg = arca_jv_str(arca_jv_get(e, "message"));
		r = arca_jv_at(arca_jv_get(e, "errors"), 0);
		reason = arca_jv_str(arca_jv_get(r, "reason"));
	}
	if (reason && (!strcmp(reason, "rateLimitExceeded") || !strcmp(reason, "backendError") ||
		       !strcmp(reason, "internalError") || !strcmp(reason, "userRateLimitExceeded")))
		*transient = true;
	snprintf(out, cap, "%s%s%.200s", reason ? reason : "", reason && msg ? ": " : "", msg ? msg : "");
	arca_jv_free(root);
}

/* Fetch a fresh access token (tok_mu held). */
static int token_fetch_locked(gcs_be *g)
{
	arca_buf jwt = ARCA_BUF_INIT, form = ARCA_BUF_INIT, resp = ARCA_BUF_INIT;
	const char *hl[] = { "Content-Type: application/x-www-form-urlencoded", "Accept: application/json" };
	arca_http_resp rs;
	arca_http_body body;
	arca_jv *root = NULL;
	const char *tok;
	int64_t ttl = 0;
	time_t now = time(NULL);
	int rc;

	memset(&rs, 0, sizeof(rs));
	rs.body = &resp;
	if ((rc = arca_gcs_jwt(&jwt, g->email, g->key_pem, g->key_len, g->token_uri, ARCA_GCS_SCOPE, (int64_t)now)))
		return arca_error_prefix(rc, "service account key of %s", g->email);
	if ((rc = arca_buf_puts(&form, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=")) ||
	    (rc = arca_buf_put(&form, jwt.data, jwt.len)))
		goto out;
	body = (arca_http_body){ form.data, -1, 0, form.len };
	{
		arca_http_req rq = { "POST", g->token_uri, hl, 2, &body, 1, "oauth2 token request" };
		if ((rc = arca_http_do(g->http, &rq, &rs)))
			goto out;
	}
	if (rs.status < 200 || rs.status > 299) {
		char detail[300];
		bool tr;
		error_detail(&resp, detail, sizeof(detail), &tr);
		rc = arca_http_status_error(rs.status, "oauth2 token request", detail, tr);
		if (rs.status == 400 || rs.status == 401)
			rc = arca_error_hint(arca_error_set(ARCA_ERROR, "oauth2 token request for %s refused: HTTP %ld (%s)",
							    g->email, rs.status, detail),
					     "check GOOGLE_APPLICATION_CREDENTIALS: the key may be revoked or the clock off");
		goto out;
	}
	if ((rc = arca_jv_parse(&root, resp.data, resp.len, "oauth2 token response")))
		goto out;
	tok = arca_jv_str(arca_jv_get(root, "access_token"));
	if (!tok || !*tok || !arca_jv_int(arca_jv_get(root, "expires_in"), &ttl) || ttl <= 0) {
		rc = arca_error_set(ARCA_ERROR, "oauth2 token response without access_token or expires_in");
		goto out;
	}
	if (g->token)
		arca_secure_free(g->token);
	if (!(g->token = arca_secure_alloc(strlen(tok) + 1))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	memcpy(g->token, tok, strlen(tok) + 1);
	g->token_exp = now + (time_t)ttl;
out:
	arca_jv_free(root);
	if (jwt.data)
		arca_wipe(jwt.data, jwt.cap);
	if (form.data)
		arca_wipe(form.data, form.cap);
	if (resp.data)
		arca_wipe(resp.data, resp.cap);
	arca_buf_free(&jwt);
	arca_buf_free(&form);
	arca_buf_free(&resp);
	return rc;
}

/* "Authorization: Bearer ..." into hdr (wiped by the caller); *fresh says
 * whether the token was fetched just now. */
static int auth_header(gcs_be *g, arca_buf *hdr, bool *fresh)
{
	int rc = 0;
	*fresh = false;
	pthread_mutex_lock(&g->tok_mu);
	if (!g->token || time(NULL) + TOKEN_MARGIN_S >= g->token_exp) {
		rc = token_fetch_locked(g);
		*fresh = true;
	}
	if (!rc)
		rc = arca_buf_printf(hdr, "Authorization: Bearer %s", g->token);
	pthread_mutex_unlock(&g->tok_mu);
	return rc;
}

static void token_drop(gcs_be *g)
{
	pthread_mutex_lock(&g->tok_mu);
	g->token_exp = 0;
	pthread_mutex_unlock(&g->tok_mu);
}

/* ---- requests ---- */

typedef struct gcs_call {
	const char *method;
	const char *url;
	const char *const *headers;
	size_t nheaders;
	const arca_http_body *body;
	size_t nbody;
	arca_buf *out;
	arca_http_resp resp;
} gcs_call;

/* One request; 0 on 2xx, else the status's arca_status with the server's
 * error reason.  The caller's buffer keeps only a successful body. */
static int gcs_do(gcs_be *g, gcs_call *c)
{
	arca_buf auth = ARCA_BUF_INIT, errbody = ARCA_BUF_INIT;
	const char *hl[8];
	size_t nh = 0, i, mark = c->out ? c->out->len : 0;
	bool fresh = false;
	int rc;
	if (c->nheaders > 6)
		return arca_error_set(ARCA_INVAL, "gcs: too many headers");
	if (g->email) {
		if ((rc = auth_header(g, &auth, &fresh)) || (rc = arca_buf_cstr(&auth)))
			goto out;
		hl[nh++] = (const char *)auth.data;
	}
	for (i = 0; i < c->nheaders; i++)
		hl[nh++] = c->headers[i];
	{
		arca_http_req rq = { c->method, c->url, hl, nh, c->body, c->nbody, c->method };
		c->resp.body = c->out ? c->out : &errbody;
		if ((rc = arca_http_do(g->http, &rq, &c->resp)))
			goto out;
	}
	if (c->resp.status < 200 || c->resp.status > 299) {
		arca_buf tail = ARCA_BUF_INIT;
		char detail[300];
		bool tr;
		tail.data = c->resp.body->data ? c->resp.body->data + mark : NULL;
		tail.len = c->resp.body->len - mark;
		error_detail(&tail, detail, sizeof(detail), &tr);
		if (c->out)
			c->out->len = mark;
		if (c->resp.status == 401 && g->email && !fresh) {
			/* the cached token was revoked or expired early: the
			 * retry fetches another */
			token_drop(g);
			rc = arca_error_set(ARCA_TRANSIENT, "%s: HTTP 401 with a cached token (%s)", c->method, detail);
		} else {
			rc = arca_http_status_error(c->resp.status, c->method, detail, tr);
			if (c->resp.status == 404 && strstr(detail, "bucket does not exist"))
				rc = arca_error_hint(arca_error_set(ARCA_ERROR, "%s: bucket '%s' not found (HTTP 404: %s)",
								    c->method, g->bucket, detail),
						     "create it first, or check the repository url");
		}
	}
out:
	if (auth.data)
		arca_wipe(auth.data, auth.cap);
	arca_buf_free(&auth);
	arca_buf_free(&errbody);
	return rc;
}

/* URL of the object of a repository key: base + "/b/B/o/" + NAME encoded. */
static int object_url(gcs_be *g, arca_buf *url, const char *key, const char *query)
{
	int rc;
	if ((rc = arca_buf_printf(url, "%s/storage/v1/b/%s/o/", g->endpoint, g->bucket)))
		return rc;
	if (*g->prefix && ((rc = arca_http_uri_encode(url, g->prefix, strlen(g->prefix), false)) ||
			   (rc = arca_buf_puts(url, "%2F"))))
		return rc;
	if ((rc = arca_http_uri_encode(url, key, strlen(key), false)) || (query && (rc = arca_buf_puts(url, query))))
		return rc;
	return arca_buf_cstr(url);
}

static int object_name(gcs_be *g, arca_buf *b, const char *key)
{
	int rc = arca_cloud_object_name(b, g->prefix, key);
	return rc ? rc : arca_buf_cstr(b);
}

/* ---- vtable ---- */

static int gcs_stat(arca_backend *be, const char *key, uint64_t *size)
{
	gcs_be *g = G(be);
	arca_buf url = ARCA_BUF_INIT, body = ARCA_BUF_INIT;
	gcs_call c = { .method = "GET", .out = &body };
	arca_jv *root = NULL;
	int64_t v;
	int rc;
	if ((rc = object_url(g, &url, key, "?fields=size")))
		goto out;
	c.url = (const char *)url.data;
	if ((rc = gcs_do(g, &c))) {
		if (rc == ARCA_NOTFOUND)
			rc = arca_error_set(ARCA_NOTFOUND, "object not found");
		goto out;
	}
	if ((rc = arca_jv_parse(&root, body.data, body.len, "object metadata")))
		goto out;
	if (!arca_jv_int(arca_jv_get(root, "size"), &v) || v < 0) {
		rc = arca_error_set(ARCA_CORRUPT, "object metadata without a size");
		goto out;
	}
	*size = (uint64_t)v;
out:
	arca_jv_free(root);
	arca_buf_free(&url);
	arca_buf_free(&body);
	return rc;
}

static int gcs_get(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	gcs_be *g = G(be);
	arca_buf url = ARCA_BUF_INIT;
	char range[80];
	const char *hl[1] = { range };
	gcs_call c = { .method = "GET", .out = out };
	size_t mark = out->len, got;
	bool ranged = off || len != ARCA_GET_ALL;
	int rc;
	if (len == 0) {
		uint64_t size;
		if ((rc = gcs_stat(be, key, &size)))
			return rc;
		return off > size ? arca_error_set(ARCA_CORRUPT, "truncated object: %llu bytes, wanted offset %llu",
						   (unsigned long long)size, (unsigned long long)off) : 0;
	}
	if ((rc = object_url(g, &url, key, "?alt=media")))
		goto out;
	c.url = (const char *)url.data;
	if (ranged) {
		if (len == ARCA_GET_ALL)
			snprintf(range, sizeof(range), "Range: bytes=%llu-", (unsigned long long)off);
		else
			snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long)off,
				 (unsigned long long)(off + len - 1));
		c.headers = hl;
		c.nheaders = 1;
	}
	rc = gcs_do(g, &c);
	if (rc == ARCA_NOTFOUND) {
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
		goto out;
	}
	if (rc && c.resp.status == 416) {
		rc = arca_error_set(ARCA_CORRUPT, "truncated object: nothing at offset %llu", (unsigned long long)off);
		goto out;
	}
	if (rc)
		goto out;
	got = out->len - mark;
	if (ranged && c.resp.status == 200) {
		size_t want;
		if (off > got || (len != ARCA_GET_ALL && len > got - off)) {
			rc = arca_error_set(ARCA_CORRUPT, "truncated object: %zu bytes, wanted %llu at offset %llu", got,
					    (unsigned long long)len, (unsigned long long)off);
			goto out;
		}
		want = (size_t)(len == ARCA_GET_ALL ? got - off : len);
		memmove(out->data + mark, out->data + mark + off, want);
		out->len = mark + want;
	} else if (len != ARCA_GET_ALL && got != len) {
		rc = arca_error_set(ARCA_CORRUPT, "truncated object: got %zu bytes, wanted %llu at offset %llu", got,
				    (unsigned long long)len, (unsigned long long)off);
	}
out:
	if (rc)
		out->len = mark;
	arca_buf_free(&url);
	return rc;
}

static int put_once(gcs_be *g, const char *key, const void *data, size_t len, bool noreplace)
{
	arca_buf name = ARCA_BUF_INIT, url = ARCA_BUF_INIT, q = ARCA_BUF_INIT, body = ARCA_BUF_INIT,
		 md5b = ARCA_BUF_INIT;
	arca_kv params[3];
	size_t np = 0;
	const char *hl[] = { "Content-Type: application/octet-stream" };
	arca_http_body piece = { data, -1, 0, len };
	gcs_call c = { .method = "POST", .headers = hl, .nheaders = 1, .body = &piece, .nbody = 1, .out = &body };
	uint8_t md5[ARCA_MD5_LEN];
	arca_jv *root = NULL;
	const char *got;
	int rc;
	if ((rc = object_name(g, &name, key)))
		goto out;
	params[np++] = (arca_kv){ "uploadType", "media" };
	params[np++] = (arca_kv){ "name", (const char *)name.data };
	if (noreplace)
		params[np++] = (arca_kv){ "ifGenerationMatch", "0" };
	if ((rc = arca_sigv4_query(&q, params, np)) || (rc = arca_buf_cstr(&q)) ||
	    (rc = arca_buf_printf(&url, "%s/upload/storage/v1/b/%s/o?%s", g->endpoint, g->bucket, (char *)q.data)))
		goto out;
	c.url = (const char *)url.data;
	if ((rc = gcs_do(g, &c))) {
		if (rc == ARCA_EXISTS)
			rc = arca_error_set(ARCA_EXISTS, "object already exists");
		goto out;
	}
	/* GCS computes md5Hash from the bytes it stored: compare */
	arca_md5(md5, data, len);
	if ((rc = arca_base64_encode(&md5b, md5, sizeof(md5), false)) || (rc = arca_buf_cstr(&md5b)))
		goto out;
	if ((rc = arca_jv_parse(&root, body.data, body.len, "upload response")))
		goto out;
	got = arca_jv_str(arca_jv_get(root, "md5Hash"));
	if (got && strcmp(got, (const char *)md5b.data))
		rc = arca_error_set(ARCA_TRANSIENT, "upload damaged on the way: stored md5 %s, sent %s", got,
				    (const char *)md5b.data);
out:
	arca_jv_free(root);
	arca_buf_free(&name);
	arca_buf_free(&url);
	arca_buf_free(&q);
	arca_buf_free(&body);
	arca_buf_free(&md5b);
	return rc;
}

static int gcs_put(arca_backend *be, const char *key, const void *data, size_t len, unsigned flags)
{
	return put_once(G(be), key, data, len,
			(flags & ARCA_PUT_NOREPLACE) && (be->caps & ARCA_BACKEND_CAP_NOREPLACE));
}

static int gcs_remove(arca_backend *be, const char *key)
{
	gcs_be *g = G(be);
	arca_buf url = ARCA_BUF_INIT;
	gcs_call c = { .method = "DELETE" };
	int rc;
	if (!(rc = object_url(g, &url, key, NULL))) {
		c.url = (const char *)url.data;
		rc = gcs_do(g, &c);
		if (rc == ARCA_NOTFOUND)
			rc = arca_error_set(ARCA_NOTFOUND, "object not found");
	}
	arca_buf_free(&url);
	return rc;
}

static int gcs_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload)
{
	gcs_be *g = G(be);
	arca_buf full = ARCA_BUF_INIT, url = ARCA_BUF_INIT, q = ARCA_BUF_INIT, body = ARCA_BUF_INIT;
	arca_keylist keys = { ARCA_BUF_INIT, ARCA_BUF_INIT };
	char *token = NULL, page[16];
	size_t skip = *g->prefix ? strlen(g->prefix) + 1 : 0, i;
	int rc;
	if ((rc = object_name(g, &full, prefix)))
		goto out;
	snprintf(page, sizeof(page), "%u", g->list_page);
	for (;;) {
		arca_kv p[4] = { { "prefix", (const char *)full.data }, { "maxResults", page },
				 { "fields", "items(name,size),nextPageToken" }, { "pageToken", token } };
		gcs_call c = { .method = "GET", .out = &body };
		arca_jv *root = NULL;
		const arca_jv *items;
		const char *next;
		arca_buf_clear(&q);
		arca_buf_clear(&url);
		arca_buf_clear(&body);
		if ((rc = arca_sigv4_query(&q, p, token ? 4 : 3)) || (rc = arca_buf_cstr(&q)) ||
		    (rc = arca_buf_printf(&url, "%s/storage/v1/b/%s/o?%s", g->endpoint, g->bucket, (char *)q.data)))
			goto out;
		c.url = (const char *)url.data;
		if ((rc = gcs_do(g, &c)) || (rc = arca_jv_parse(&root, body.data, body.len, "listing")))
			goto out;
		items = arca_jv_get(root, "items");
		for (i = 0; i < arca_jv_len(items) && !rc; i++) {
			const arca_jv *it = arca_jv_at(items, i);
			const char *nm = arca_jv_str(arca_jv_get(it, "name"));
			int64_t sz = 0;
			if (!nm || !arca_jv_int(arca_jv_get(it, "size"), &sz) || sz < 0) {
				rc = arca_error_set(ARCA_CORRUPT, "listing: an item without name or size");
				break;
			}
			if (strlen(nm) > skip)
				rc = arca_keylist_add(&keys, nm + skip, (uint64_t)sz);
		}
		next = arca_jv_str(arca_jv_get(root, "nextPageToken"));
		free(token);
		token = next && *next ? strdup(next) : NULL;
		if (!rc && next && *next && !token)
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
		arca_jv_free(root);
		if (rc || !token)
			break;
	}
	if (!rc)
		rc = arca_keylist_report(&keys, cb, payload);
out:
	free(token);
	arca_buf_free(&full);
	arca_buf_free(&url);
	arca_buf_free(&q);
	arca_buf_free(&body);
	arca_keylist_free(&keys);
	return rc;
}

static int gcs_stream_open(arca_backend *be, void **handle) { return arca_spool_open((arca_spool **)handle); }

static int gcs_stream_write(arca_backend *be, void *handle, const void *p, size_t n)
{
	return arca_spool_write(handle, p, n);
}

static void gcs_stream_abort(arca_backend *be, void *handle) { arca_spool_close(handle); }

static int gcs_stream_commit(arca_backend *be, void *handle, const char *key)
{
	arca_spool *sp = handle;
	arca_buf b = ARCA_BUF_INIT;
	arca_be_retry rt;
	int rc;
	if (!(rc = arca_spool_read(sp, &b, 0, (size_t)sp->size))) {
		arca_be_retry_init(&rt);
		while ((rc = put_once(G(be), key, b.data, b.len, false)) && arca_be_retry_again(be, &rt, rc))
			;
		rc = arca_be_retry_done(&rt, rc);
	}
	arca_buf_free(&b);
	arca_spool_close(sp);
	return rc;
}

static const char *gcs_location(arca_backend *be) { return G(be)->location; }

static void gcs_free(arca_backend *be)
{
	gcs_be *g = G(be);
	if (!g)
		return;
	arca_http_free(g->http);
	free(g->bucket);
	free(g->prefix);
	free(g->endpoint);
	free(g->location);
	free(g->email);
	if (g->key_pem)
		arca_secure_free(g->key_pem);
	free(g->token_uri);
	if (g->token)
		arca_secure_free(g->token);
	pthread_mutex_destroy(&g->tok_mu);
	free(g);
}

/* ---- construction ---- */


static int load_credentials(gcs_be *g, const char *path)
{
	arca_buf raw = ARCA_BUF_INIT;
	arca_jv *root = NULL;
	const char *type, *email, *key, *uri;
	int rc;
	if ((rc = arca_cloud_read_small_file(path, &raw)))
		goto out;
	if ((rc = arca_jv_parse(&root, raw.data, raw.len, path)))
		goto out;
	type = arca_jv_str(arca_jv_get(root, "type"));
	email = arca_jv_str(arca_jv_get(root, "client_email"));
	key = arca_jv_str(arca_jv_get(root, "private_key"));
	uri = arca_jv_str(arca_jv_get(root, "token_uri"));
	if (!type || strcmp(type, "service_account") || !email || !key) {
		rc = arca_error_hint(arca_error_set(ARCA_INVAL, "%s is not a service account key file", path),
				     "GOOGLE_APPLICATION_CREDENTIALS must name a key file of type service_account "
				     "(with client_email and private_key)");
		goto out;
	}
	g->email = strdup(email);
	g->token_uri = strdup(uri ? uri : GCS_DEFAULT_TOKEN_URI);
	g->key_len = strlen(key);
	if ((g->key_pem = arca_secure_alloc(g->key_len + 1)))
		memcpy(g->key_pem, key, g->key_len + 1);
	if (!g->email || !g->token_uri || !g->key_pem)
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
out:
	arca_jv_free(root);
	if (raw.data)
		arca_wipe(raw.data, raw.cap);
	arca_buf_free(&raw);
	return rc;
}

int arca_backend_gcs_new(arca_backend **out, const char *rest)
{
	gcs_be *g = calloc(1, sizeof(*g));
	const char *ep, *cred, *e;
	size_t n;
	int rc;

	*out = NULL;
	if (!g)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&g->tok_mu, NULL);
	g->base.version = ARCA_BACKEND_VERSION;
	g->base.name = "gcs";
	g->base.caps = ARCA_BACKEND_CAP_RANGE;
	g->base.get = gcs_get;
	g->base.put = gcs_put;
	g->base.stat = gcs_stat;
	g->base.list = gcs_list;
	g->base.remove = gcs_remove;
	g->base.stream_open = gcs_stream_open;
	g->base.stream_write = gcs_stream_write;
	g->base.stream_commit = gcs_stream_commit;
	g->base.stream_abort = gcs_stream_abort;
	g->base.location = gcs_location;
	g->base.free = gcs_free;

	if ((rc = arca_cloud_url("gs", rest, 222, &g->bucket, &g->prefix, &g->location)))
		goto fail;
	ep = arca_cloud_env("ARCA_GCS_ENDPOINT");
	if (!ep)
		ep = arca_cloud_env("STORAGE_EMULATOR_HOST");
	if (ep) {
		n = strlen(ep);
		while (n && ep[n - 1] == '/')
			n--;
		if (strstr(ep, "://"))
			g->endpoint = strndup(ep, n);
		else if (asprintf(&g->endpoint, "http://%.*s", (int)n, ep) < 0)
			g->endpoint = NULL;
	} else {
		g->endpoint = strdup(GCS_DEFAULT_ENDPOINT);
	}
	if (!g->endpoint) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	if (strncmp(g->endpoint, "http://", 7) && strncmp(g->endpoint, "https://", 8)) {
		rc = arca_error_set(ARCA_INVAL, "gcs endpoint must be http:// or https://");
		goto fail;
	}
	cred = arca_cloud_env("GOOGLE_APPLICATION_CREDENTIALS");
	if (cred) {
		if ((rc = load_credentials(g, cred)))
			goto fail;
	} else if (!ep) {
		rc = arca_error_hint(arca_error_set(ARCA_INVAL, "no gcs credentials for %s", g->location),
				     "set GOOGLE_APPLICATION_CREDENTIALS to a service account key file (JSON)");
		goto fail;
	}
	if (arca_cloud_env_flag("ARCA_GCS_NOREPLACE", !ep))
		g->base.caps |= ARCA_BACKEND_CAP_NOREPLACE;
	g->list_page = 1000;
	if ((e = arca_cloud_env("ARCA_GCS_LIST_PAGE"))) {
		unsigned long v = strtoul(e, NULL, 10);
		if (v >= 1 && v <= 1000)
			g->list_page = (unsigned)v;
	}
	if ((rc = arca_http_new(&g->http)))
		goto fail;
	*out = &g->base;
	return 0;
fail:
	gcs_free(&g->base);
	return rc;
}
