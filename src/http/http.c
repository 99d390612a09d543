/*
 * http/http.c - the HTTP client over libcurl easy handles (see http.h).
 *
 * Thread safety: libcurl is initialised once (pthread_once); an easy handle
 * is used by one thread at a time, borrowed from the client's pool of idle
 * handles under a mutex and given back after CURL_FN.easy_reset(), which keeps
 * its connection cache, so consecutive requests from any thread reuse
 * kept-alive connections.  Bodies are sent through a read callback over the
 * request's pieces, with a seek callback so libcurl can rewind when it
 * resends a request on a fresh connection.
 *
 * Errors are converted here, once: CURLcode -> arca_status, messages
 * naming the request's object (never its URL, which may carry a signed
 * query, and never a header).
 */
#include "http/http.h"
#include "arca/error.h"

#include "util/dynlib.h"

#include <curl/curl.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define POOL_MAX 32

struct arca_http {
	pthread_mutex_t mu; /* guards idle[] */
	CURL *idle[POOL_MAX];
	size_t nidle;
	long connect_s;
	long lowspeed_s;
};


/* libcurl is loaded on first use (util/dynlib.h): a process that never
 * touches a cloud repository does not map it and its dependencies. */
static struct {
	__typeof__(curl_global_init) *global_init;
	__typeof__(curl_easy_init) *easy_init;
	__typeof__(curl_easy_cleanup) *easy_cleanup;
	__typeof__(curl_easy_reset) *easy_reset;
	__typeof__(curl_easy_setopt) *easy_setopt;
	__typeof__(curl_easy_perform) *easy_perform;
	__typeof__(curl_easy_getinfo) *easy_getinfo;
	__typeof__(curl_easy_strerror) *easy_strerror;
	__typeof__(curl_slist_append) *slist_append;
	__typeof__(curl_slist_free_all) *slist_free_all;
} CURL_FN;
static const char *const curl_fn_names[] = { "curl_global_init", "curl_easy_init", "curl_easy_cleanup",
					     "curl_easy_reset", "curl_easy_setopt", "curl_easy_perform",
					     "curl_easy_getinfo", "curl_easy_strerror", "curl_slist_append",
					     "curl_slist_free_all" };

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_load_rc;
static char g_load_msg[512];
static CURLcode g_init_rc;

static void global_init(void)
{
	static const char *const sonames[] = { "libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so", NULL };
	g_load_rc = arca_dynlib_load(sonames, "libcurl (Debian package libcurl4)", curl_fn_names,
				     (void **)&CURL_FN, sizeof(curl_fn_names) / sizeof(curl_fn_names[0]));
	if (g_load_rc)
		snprintf(g_load_msg, sizeof(g_load_msg), "%s", arca_error_message());
	else
		g_init_rc = CURL_FN.global_init(CURL_GLOBAL_DEFAULT);
}

static long env_seconds(const char *name, long dflt)
{
	const char *e = getenv(name);
	char *end;
	long v;
	if (!e || !*e)
		return dflt;
	v = strtol(e, &end, 10);
	return (*end || v <= 0 || v > 86400) ? dflt : v;
}

int arca_http_new(arca_http **out)
{
	arca_http *h;
	*out = NULL;
	pthread_once(&g_once, global_init);
	if (g_load_rc)
		return arca_error_set(g_load_rc, "%s", g_load_msg);
	if (g_init_rc != CURLE_OK)
		return arca_error_set(ARCA_ERROR, "cannot initialise libcurl: %s", CURL_FN.easy_strerror(g_init_rc));
	if (!(h = calloc(1, sizeof(*h))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&h->mu, NULL);
	h->connect_s = env_seconds("ARCA_HTTP_CONNECT_TIMEOUT", 10);
	h->lowspeed_s = env_seconds("ARCA_HTTP_TIMEOUT", 60);
	*out = h;
	return 0;
}

void arca_http_free(arca_http *h)
{
	size_t i;
	if (!h)
		return;
	for (i = 0; i < h->nidle; i++)
		CURL_FN.easy_cleanup(h->idle[i]);
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static CURL *handle_take(arca_http *h)
{
	CURL *c = NULL;
	pthread_mutex_lock(&h->mu);
	if (h->nidle)
		c = h->idle[--h->nidle];
	pthread_mutex_unlock(&h->mu);
	return c ? c : CURL_FN.easy_init();
}

static void handle_give(arca_http *h, CURL *c, bool keep)
{
	if (keep) {
		CURL_FN.easy_reset(c); /* options only: the connection cache stays */
		pthread_mutex_lock(&h->mu);
		if (h->nidle < POOL_MAX) {
			h->idle[h->nidle++] = c;
			c = NULL;
		}
		pthread_mutex_unlock(&h->mu);
	}
	if (c)
		CURL_FN.easy_cleanup(c);
}

/* ---- body upload ---- */

typedef struct upload {
	const arca_http_body *b;
	size_t nb;
	size_t i;   /* current piece */
	size_t at;  /* offset in it */
	int err;    /* errno of a failed pread */
} upload;

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *userdata)
{
	upload *u = userdata;
	size_t want = size * nmemb, got = 0;
	while (got < want && u->i < u->nb) {
		const arca_http_body *p = &u->b[u->i];
		size_t n = p->len - u->at;
		if (n == 0) {
			u->i++;
			u->at = 0;
			continue;
		}
		if (n > want - got)
			n = want - got;
		if (p->p) {
			memcpy(dst + got, (const uint8_t *)p->p + u->at, n);
		} else {
			ssize_t r = pread(p->fd, dst + got, n, (off_t)(p->off + u->at));
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				u->err = r < 0 ? errno : EIO;
				return CURL_READFUNC_ABORT;
			}
			n = (size_t)r;
		}
		got += n;
		u->at += n;
	}
	return got;
}

static int seek_cb(void *userdata, curl_off_t offset, int origin)
{
	upload *u = userdata;
	uint64_t left;
	if (origin != SEEK_SET || offset < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	left = (uint64_t)offset;
	for (u->i = 0; u->i < u->nb; u->i++) {
		if (left < u->b[u->i].len)
			break;
		left -= u->b[u->i].len;
	}
	if (u->i == u->nb && left)
		return CURL_SEEKFUNC_FAIL;
	u->at = (size_t)left;
	return CURL_SEEKFUNC_OK;
}

/* ---- response ---- */

typedef struct sink {
	arca_http_resp *r;
	uint64_t got;
	bool nomem;
} sink;

static size_t write_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
	sink *s = userdata;
	size_t n = size * nmemb;
	if (s->r->body && arca_buf_put(s->r->body, p, n)) {
		s->nomem = true;
		return 0;
	}
	s->got += n;
	return n;
}

/* Copy a header's value (trimmed, quotes dropped for ETag) into out. */
static void header_value(char *out, size_t cap, const char *v, size_t n, bool unquote)
{
	while (n && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (unquote && n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, v, n);
	out[n] = '\0';
}

#define BODY_PRESIZE_MAX (256u << 20)

static size_t header_cb(char *p, size_t size, size_t nmemb, void *userdata)
{
	sink *s = userdata;
	size_t n = size * nmemb;
	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after a 100 Continue, say): forget the last */
		s->r->etag[0] = s->r->content_range[0] = '\0';
	} else if (n > 5 && !strncasecmp(p, "etag:", 5)) {
		header_value(s->r->etag, sizeof(s->r->etag), p + 5, n - 5, true);
	} else if (n > 14 && !strncasecmp(p, "content-range:", 14)) {
		header_value(s->r->content_range, sizeof(s->r->content_range), p + 14, n - 14, false);
	} else if (n > 15 && !strncasecmp(p, "content-length:", 15) && s->r->body) {
		/* room for the whole body at once: a pack grown by doubling
		 * would be copied about twice over */
		char v[32];
		unsigned long long len;
		header_value(v, sizeof(v), p + 15, n - 15, false);
		len = strtoull(v, NULL, 10);
		if (len > 0 && len <= BODY_PRESIZE_MAX && arca_buf_reserve(s->r->body, (size_t)len))
			arca_error_clear(); /* no room now: the body grows as it comes, or fails then */
	}
	return n;
}

static int curl_fail(const arca_http_req *rq, CURLcode cc, const char *errbuf, const upload *u)
{
	const char *msg = errbuf[0] ? errbuf : CURL_FN.easy_strerror(cc);
	const char *what = rq->what ? rq->what : "http request";
	switch (cc) {
	case CURLE_OUT_OF_MEMORY:
		return arca_error_set(ARCA_NOMEM, "%s: out of memory in libcurl", what);
	case CURLE_READ_ERROR:
	case CURLE_ABORTED_BY_CALLBACK:
		if (u->err)
			return arca_error_errno(u->err, "%s: cannot read the upload body", what);
		return arca_error_set(ARCA_ERROR, "%s: %s", what, msg);
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_NOT_BUILT_IN:
		return arca_error_set(ARCA_ERROR, "%s: %s (curl error %d)", what, msg, (int)cc);
	default:
		/* connect failures, timeouts, resets, truncated bodies (18
		 * PARTIAL_FILE), empty replies: try again */
		return arca_error_set(ARCA_TRANSIENT, "%s: %s (curl error %d)", what, msg, (int)cc);
	}
}

int arca_http_do(arca_http *h, const arca_http_req *rq, arca_http_resp *rs)
{
	char errbuf[CURL_ERROR_SIZE];
	struct curl_slist *hl = NULL, *tmp;
	upload up = { rq->body, rq->nbody, 0, 0, 0 };
	sink sk = { rs, 0, false };
	curl_off_t total = 0, clen = -1;
	CURL *c;
	CURLcode cc;
	size_t i;
	int rc = 0;
	bool keep = true;

	rs->status = 0;
	rs->has_length = false;
	rs->content_length = 0;
	rs->etag[0] = rs->content_range[0] = '\0';
	for (i = 0; i < rq->nbody; i++)
		total += (curl_off_t)rq->body[i].len;
	if (!(c = handle_take(h)))
		return arca_error_set(ARCA_NOMEM, "cannot create a libcurl handle");
	for (i = 0; i < rq->nheaders; i++) {
		if (!(tmp = CURL_FN.slist_append(hl, rq->headers[i]))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		hl = tmp;
	}
	/* no "Expect: 100-continue" round trip: our servers answer at once */
	if (!(tmp = CURL_FN.slist_append(hl, "Expect:"))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	hl = tmp;
	errbuf[0] = '\0';
	CURL_FN.easy_setopt(c, CURLOPT_URL, rq->url);
	CURL_FN.easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	CURL_FN.easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	CURL_FN.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	CURL_FN.easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	CURL_FN.easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->connect_s);
	CURL_FN.easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	CURL_FN.easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->lowspeed_s);
	/* bigger reads: a 16 MiB pack in 16 KiB pieces is a thousand calls */
	CURL_FN.easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
	CURL_FN.easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
	CURL_FN.easy_setopt(c, CURLOPT_WRITEDATA, &sk);
	CURL_FN.easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	CURL_FN.easy_setopt(c, CURLOPT_HEADERDATA, &sk);
	if (!strcmp(rq->method, "HEAD")) {
		CURL_FN.easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "POST")) {
		CURL_FN.easy_setopt(c, CURLOPT_POST, 1L);
		CURL_FN.easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, total);
	} else if (!strcmp(rq->method, "PUT") || rq->nbody) {
		CURL_FN.easy_setopt(c, CURLOPT_UPLOAD, 1L);
		CURL_FN.easy_setopt(c, CURLOPT_INFILESIZE_LARGE, total);
		if (strcmp(rq->method, "PUT"))
			CURL_FN.easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET")) {
		CURL_FN.easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	}
	if (!strcmp(rq->method, "POST") || !strcmp(rq->method, "PUT") || rq->nbody) {
		CURL_FN.easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
		CURL_FN.easy_setopt(c, CURLOPT_READDATA, &up);
		CURL_FN.easy_setopt(c, CURLOPT_SEEKFUNCTION, seek_cb);
		CURL_FN.easy_setopt(c, CURLOPT_SEEKDATA, &up);
	}
	cc = CURL_FN.easy_perform(c);
	if (sk.nomem) {
		rc = arca_error_set(ARCA_NOMEM, "%s: out of memory for the response body", rq->what);
		keep = false;
		goto out;
	}
	if (cc != CURLE_OK) {
		rc = curl_fail(rq, cc, errbuf, &up);
		keep = false; /* its connection may be in any state */
		goto out;
	}
	CURL_FN.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rs->status);
	CURL_FN.easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &clen);
	if (clen >= 0) {
		rs->has_length = true;
		rs->content_length = (uint64_t)clen;
	}
	/* libcurl reports a short body as PARTIAL_FILE; a server that sends
	 * more than it announced is just as broken */
	if (rs->has_length && strcmp(rq->method, "HEAD") && sk.got != rs->content_length) {
		rc = arca_error_set(ARCA_TRANSIENT, "%s: response body of %llu bytes, %llu announced",
				    rq->what, (unsigned long long)sk.got,
				    (unsigned long long)rs->content_length);
		keep = false;
	}
out:
	CURL_FN.slist_free_all(hl);
	handle_give(h, c, keep);
	return rc;
}

static const char *reason(long status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

int arca_http_status_error(long status, const char *what, const char *detail, bool transient_detail)
{
	const char *r = reason(status);
	char d[512] = "";
	int code;
	if (detail && *detail)
		snprintf(d, sizeof(d), " (%s)", detail);
	if (status == 404)
		code = ARCA_NOTFOUND;
	else if (status == 412)
		code = ARCA_EXISTS;
	else if (status == 408 || status == 429 || status >= 500 || transient_detail)
		code = ARCA_TRANSIENT;
	else
		code = ARCA_ERROR;
	if (status == 401 || status == 403) {
		arca_error_set(ARCA_ERROR, "%s: access denied: HTTP %ld %s%s", what, status, r, d);
		return arca_error_hint(ARCA_ERROR,
				       "check the credentials (key id and secret, token, key file), "
				       "their permissions on the bucket, and the clock");
	}
	return arca_error_set(code, "%s: HTTP %ld%s%s%s", what, status, *r ? " " : "", r, d);
}

int arca_http_uri_encode(arca_buf *out, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;
	int rc;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '.' || ch == '_' || ch == '~' || (keep_slash && ch == '/')) {
			rc = arca_buf_put(out, &ch, 1);
		} else {
			char e[3] = { '%', hex[ch >> 4], hex[ch & 15] };
			rc = arca_buf_put(out, e, 3);
		}
		if (rc)
			return rc;
	}
	return 0;
}
