/*
 * backend/backend.c - the generic layer over storage drivers.
 *
 * Owns the {scheme, constructor} table that turns a repository URL into a
 * driver, and the arca_be_* wrappers through which every caller reaches a
 * driver.  The wrappers are the single place that
 *   - validates object keys (relative, '/'-separated, no "." or ".."
 *     components, no empty components, nothing a driver could turn into a
 *     path outside the repository),
 *   - retries ARCA_TRANSIENT with jittered exponential backoff (bounded in
 *     attempts and in total time),
 *   - emulates missing capabilities (ranged reads, no-replace puts),
 *   - counts requests and bytes in the counters at the end of struct
 *     arca_backend (atomically: one backend is shared by worker threads),
 *   - prefixes failures with the key and the backend location.
 * Drivers therefore write messages that say what failed, not which object.
 */
#include "backend/backend.h"
#include "arca/error.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#define KEY_MAX 1024
/* Cloud stores throttle (503 SlowDown, 429) for seconds at a time: ten
 * retries with waits capped at 8 s span about 30 s of backoff, and no
 * operation keeps retrying once 60 s (ARCA_RETRY_MAX_SECONDS) have passed
 * since its first attempt.  A single attempt is bounded by the HTTP
 * timeouts (src/http/http.h). */
#define RETRY_MAX 10               /* retries after the first attempt */
#define RETRY_BASE_NS 50000000ull  /* 50 ms, doubled per retry */
#define RETRY_CAP_NS 8000000000ull /* no single wait longer than 8 s */
#define RETRY_TOTAL_S_DEFAULT 60

/* ---- driver table ---- */

static int open_local(arca_backend **out, const char *rest)
{
	return arca_backend_local_new(out, rest);
}

static int open_mem(arca_backend **out, const char *rest)
{
	return arca_backend_mem_new(out);
}

static int open_pg(arca_backend **out, const char *rest)
{
	size_t l = strlen(rest) + 16;
	char *url = malloc(l);
	int rc;
	if (!url)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	snprintf(url, l, "postgresql://%s", rest);
	rc = arca_backend_pg_new(out, url);
	free(url);
	return rc;
}

static int open_s3(arca_backend **out, const char *rest)
{
	return arca_backend_s3_new(out, rest);
}

static int open_gcs(arca_backend **out, const char *rest)
{
	return arca_backend_gcs_new(out, rest);
}

/* URL schemes ("scheme://rest") this build has a driver for.  Any other
 * scheme (s3, gs, postgres, ...) is refused by name rather than taken for
 * a directory called "s3:". */
static const struct scheme {
	const char *scheme;
	int (*open)(arca_backend **out, const char *rest);
} schemes[] = {
	{ "file", open_local },
	{ "postgres", open_pg },
	{ "postgresql", open_pg },
	{ "s3", open_s3 },
	{ "gs", open_gcs },
};

static int url_scheme(const char *url, size_t *len)
{
	size_t i = 0;
	/* RFC 3986 scheme, followed by "://" */
	if (!((url[0] >= 'a' && url[0] <= 'z') || (url[0] >= 'A' && url[0] <= 'Z')))
		return 0;
	for (i = 1; url[i]; i++) {
		char c = url[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '+' || c == '-' || c == '.')
			continue;
		break;
	}
	if (strncmp(url + i, "://", 3) != 0)
		return 0;
	*len = i;
	return 1;
}

int arca_backend_open(arca_backend **out, const char *url)
{
	arca_backend *be = NULL;
	size_t slen = 0, i;
	int rc = 0;

	*out = NULL;
	if (!url || !*url)
		return arca_error_set(ARCA_INVAL, "no repository given");
	if (strcmp(url, "mem:") == 0) {
		rc = open_mem(&be, "");
		goto check;
	}
	if (!url_scheme(url, &slen)) {
		rc = open_local(&be, url);
		goto check;
	}
	for (i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
		if (strlen(schemes[i].scheme) == slen && strncasecmp(url, schemes[i].scheme, slen) == 0) {
			const char *rest = url + slen + 3;
			if (!*rest)
				return arca_error_set(ARCA_INVAL, "repository url '%s' has no path", url);
			rc = schemes[i].open(&be, rest);
			goto check;
		}
	}
	return arca_error_hint(arca_error_set(ARCA_INVAL,
					      "repository scheme '%.*s' is not supported by this build",
					      (int)slen, url),
			       "use a local path, file:///path, s3://bucket/prefix, gs://bucket/prefix or mem:");
check:
	if (rc)
		return rc;
	if (be->version != ARCA_BACKEND_VERSION) {
		rc = arca_error_set(ARCA_ERROR, "backend '%s' has interface version %u, expected %u",
				    be->name, be->version, ARCA_BACKEND_VERSION);
		be->free(be);
		return rc;
	}
	*out = be;
	return 0;
}

void arca_backend_free(arca_backend *be)
{
	if (be)
		be->free(be);
}

/* ---- keys ---- */

/* prefix: the last component may be empty or partial (a list prefix). */
static int key_check(const char *key, int prefix)
{
	const char *p = key, *end;
	size_t n = strlen(key);

	if (n > KEY_MAX)
		return arca_error_set(ARCA_INVAL, "object key is longer than %d bytes", KEY_MAX);
	if (n == 0) {
		if (prefix)
			return 0;
		return arca_error_set(ARCA_INVAL, "empty object key");
	}
	if (key[0] == '/')
		return arca_error_set(ARCA_INVAL, "object key '%s' must be relative", key);
	for (;;) {
		size_t len;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 && !(prefix && !end))
			return arca_error_set(ARCA_INVAL, "object key '%s' has an empty component", key);
		if ((len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return arca_error_set(ARCA_INVAL, "object key '%s' has a '.' or '..' component",
					      key);
		/* Such names are a driver's scratch files (local: hidden from
		 * list, deleted by cleanup). */
		if (len >= 5 && strncmp(p, ".tmp-", 5) == 0)
			return arca_error_set(ARCA_INVAL, "object key '%s' uses the reserved '.tmp-' prefix",
					      key);
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

/* ---- retry ---- */

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t jitter_rand(void)
{
	static __thread uint64_t s;
	if (!s) {
		if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s))
			s = now_ns() ^ (uint64_t)(uintptr_t)&s;
		s |= 1;
	}
	/* xorshift64: jitter only needs to decorrelate clients */
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

typedef arca_be_retry retry_state;

/* Read at every failure (rare), so that a process may change it. */
static uint64_t retry_total_ns(void)
{
	const char *e = getenv("ARCA_RETRY_MAX_SECONDS");
	char *end;
	double v = e && *e ? strtod(e, &end) : 0;
	if (!e || !*e || *end || !(v >= 0 && v <= 86400))
		v = RETRY_TOTAL_S_DEFAULT;
	return (uint64_t)(v * 1e9);
}

void arca_be_retry_init(arca_be_retry *st)
{
	st->attempt = 0;
	st->start = now_ns();
}

/* Whether to try again after rc; sleeps first.  Waits are "equal jitter":
 * uniformly in [d/2, d] for d = 50 ms * 2^attempt, capped. */
static int retry_again(arca_backend *be, retry_state *st, int rc)
{
	uint64_t d, wait, elapsed;
	struct timespec ts;

	if (rc != ARCA_TRANSIENT || st->attempt >= RETRY_MAX)
		return 0;
	d = RETRY_BASE_NS << st->attempt;
	if (d > RETRY_CAP_NS)
		d = RETRY_CAP_NS;
	wait = d / 2 + jitter_rand() % (d / 2 + 1);
	elapsed = now_ns() - st->start;
	if (elapsed + wait > retry_total_ns())
		return 0;
	ts.tv_sec = (time_t)(wait / 1000000000ull);
	ts.tv_nsec = (long)(wait % 1000000000ull);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	st->attempt++;
	__atomic_add_fetch(&be->n_retries, 1, __ATOMIC_RELAXED);
	return 1;
}

bool arca_be_retry_again(arca_backend *be, arca_be_retry *st, int rc)
{
	return retry_again(be, st, rc) != 0;
}

int arca_be_retry_done(const arca_be_retry *st, int rc)
{
	char msg[1024], hint[512];
	if (!rc || !st->attempt)
		return rc;
	snprintf(msg, sizeof(msg), "%s", arca_error_message());
	snprintf(hint, sizeof(hint), "%s", arca_error_hint_text());
	arca_error_set(rc, "%s (after %u retries)", msg, st->attempt);
	if (*hint)
		arca_error_hint(rc, "%s", hint);
	return rc;
}

static void count_request(arca_backend *be)
{
	__atomic_add_fetch(&be->n_requests, 1, __ATOMIC_RELAXED);
}

static int fail(arca_backend *be, const char *key, int rc, const retry_state *st)
{
	if (st && st->attempt)
		arca_error_prefix(rc, "%s in %s (after %u retries)", key, arca_be_location(be),
				  st->attempt);
	else
		arca_error_prefix(rc, "%s in %s", key, arca_be_location(be));
	return rc;
}

/* ---- wrappers ---- */

const char *arca_be_location(arca_backend *be)
{
	const char *l = be->location ? be->location(be) : NULL;
	return l ? l : be->name;
}

static int get_once(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	arca_buf all = ARCA_BUF_INIT;
	int rc;

	if ((be->caps & ARCA_BACKEND_CAP_RANGE) || (off == 0 && len == ARCA_GET_ALL))
		return be->get(be, key, off, len, out);
	/* No cheap ranges: fetch the object and cut. */
	if ((rc = be->get(be, key, 0, ARCA_GET_ALL, &all)))
		goto out;
	if (off > all.len || (len != ARCA_GET_ALL && len > all.len - off)) {
		rc = arca_error_set(ARCA_CORRUPT, "truncated object: %zu bytes, wanted %llu at offset %llu",
				    all.len, (unsigned long long)len, (unsigned long long)off);
		goto out;
	}
	rc = arca_buf_put(out, all.data + off, len == ARCA_GET_ALL ? all.len - off : (size_t)len);
out:
	arca_buf_free(&all);
	return rc;
}

int arca_be_get_range(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	retry_state st;
	arca_be_retry_init(&st);
	size_t mark = out->len;
	int rc;

	if ((rc = key_check(key, 0)))
		return rc;
	for (;;) {
		count_request(be);
		rc = get_once(be, key, off, len, out);
		if (rc == 0)
			break;
		out->len = mark; /* a failed attempt may have appended part */
		if (!retry_again(be, &st, rc))
			return fail(be, key, rc, &st);
	}
	__atomic_add_fetch(&be->n_bytes_in, (uint64_t)(out->len - mark), __ATOMIC_RELAXED);
	return 0;
}

int arca_be_get(arca_backend *be, const char *key, arca_buf *out)
{
	return arca_be_get_range(be, key, 0, ARCA_GET_ALL, out);
}

/*
 * A NOREPLACE put that failed transiently may have been stored all the
 * same (the reply was lost), and its retry then finds the object.  If what
 * is stored is exactly what we wrote, it is ours: success.  Otherwise the
 * original ARCA_EXISTS stands.
 */
static int same_bytes(arca_backend *be, const char *key, const void *data, size_t len, int rc)
{
	arca_buf cur = ARCA_BUF_INIT;
	int same;

	count_request(be);
	same = be->get(be, key, 0, ARCA_GET_ALL, &cur) == 0 && cur.len == len &&
	       (len == 0 || memcmp(cur.data, data, len) == 0);
	arca_buf_free(&cur);
	if (same)
		return 0;
	return arca_error_set(rc, "object already exists");
}

int arca_be_put(arca_backend *be, const char *key, const void *data, size_t len, unsigned flags)
{
	retry_state st;
	arca_be_retry_init(&st);
	unsigned dflags = flags;
	int rc;

	if ((rc = key_check(key, 0)))
		return rc;
	if (flags & ~(unsigned)(ARCA_PUT_NOREPLACE | ARCA_PUT_VOLATILE))
		return arca_error_set(ARCA_INVAL, "%s: unknown put flags 0x%x", key, flags);
	if ((flags & ARCA_PUT_NOREPLACE) && !(be->caps & ARCA_BACKEND_CAP_NOREPLACE)) {
		/* Best effort only: another writer can slip in between the
		 * stat and the put.  Drivers that can do better set the cap. */
		uint64_t size;
		rc = arca_be_stat(be, key, &size);
		if (rc == 0)
			return fail(be, key, arca_error_set(ARCA_EXISTS, "object already exists"), NULL);
		if (rc != ARCA_NOTFOUND)
			return rc;
		dflags &= ~(unsigned)ARCA_PUT_NOREPLACE;
	}
	for (;;) {
		count_request(be);
		rc = be->put(be, key, data, len, dflags);
		if (rc == ARCA_EXISTS && st.attempt)
			rc = same_bytes(be, key, data, len, rc);
		if (rc == 0)
			break;
		if (!retry_again(be, &st, rc))
			return fail(be, key, rc, &st);
	}
	__atomic_add_fetch(&be->n_bytes_out, (uint64_t)len, __ATOMIC_RELAXED);
	return 0;
}

int arca_be_stat(arca_backend *be, const char *key, uint64_t *size)
{
	retry_state st;
	arca_be_retry_init(&st);
	int rc;

	*size = 0;
	if ((rc = key_check(key, 0)))
		return rc;
	for (;;) {
		count_request(be);
		rc = be->stat(be, key, size);
		if (rc == 0)
			return 0;
		*size = 0;
		if (!retry_again(be, &st, rc))
			return fail(be, key, rc, &st);
	}
}

bool arca_be_exists(arca_backend *be, const char *key)
{
	uint64_t size;
	return arca_be_stat(be, key, &size) == 0;
}

/* A listing is retried only while nothing has been reported, so that a
 * callback never sees a key twice. */
typedef struct list_ctx {
	arca_backend_list_cb cb;
	void *payload;
	size_t seen;
	int cb_rc;
} list_ctx;

static int list_tramp(const char *key, uint64_t size, void *payload)
{
	list_ctx *lc = payload;
	int rc = lc->cb(key, size, lc->payload);
	lc->seen++;
	if (rc)
		lc->cb_rc = rc;
	return rc;
}

int arca_be_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload)
{
	retry_state st;
	arca_be_retry_init(&st);
	list_ctx lc = { cb, payload, 0, 0 };
	int rc;

	if (!prefix)
		prefix = "";
	if ((rc = key_check(prefix, 1)))
		return rc;
	for (;;) {
		count_request(be);
		rc = be->list(be, prefix, list_tramp, &lc);
		if (rc == 0 || (lc.cb_rc && rc == lc.cb_rc))
			return rc; /* a callback's own stop code passes through untouched */
		if (lc.seen || !retry_again(be, &st, rc))
			return fail(be, *prefix ? prefix : "listing", rc, &st);
	}
}

int arca_be_remove(arca_backend *be, const char *key)
{
	retry_state st;
	arca_be_retry_init(&st);
	int rc;

	if ((rc = key_check(key, 0)))
		return rc;
	for (;;) {
		count_request(be);
		rc = be->remove(be, key);
		if (rc == 0)
			return 0;
		/* A retried remove whose first attempt succeeded reports
		 * NOTFOUND; that is what the caller wanted. */
		if (rc == ARCA_NOTFOUND && st.attempt)
			return 0;
		if (!retry_again(be, &st, rc))
			return fail(be, key, rc, &st);
	}
}

int arca_be_remove_batch(arca_backend *be, const char *const *keys, size_t n, int *rcs)
{
	size_t i;
	int rc, first = 0;
	for (i = 0; i < n; i++)
		if ((rc = key_check(keys[i], 0)))
			return rc;
	if (be->remove_batch && n > 1) {
		count_request(be);
		if ((rc = be->remove_batch(be, keys, n, rcs)))
			return fail(be, keys[0], rc, NULL);
		for (i = 0; i < n; i++)
			if (rcs[i] && rcs[i] != ARCA_NOTFOUND)
				return fail(be, keys[i], rcs[i], NULL);
		return 0;
	}
	for (i = 0; i < n; i++) {
		rcs[i] = arca_be_remove(be, keys[i]);
		if (rcs[i] == ARCA_NOTFOUND)
			arca_error_clear();
		else if (rcs[i] && !first)
			first = rcs[i];
	}
	return first;
}

void arca_be_stats_get(arca_backend *be, arca_be_stats *out)
{
	out->requests = __atomic_load_n(&be->n_requests, __ATOMIC_RELAXED);
	out->bytes_in = __atomic_load_n(&be->n_bytes_in, __ATOMIC_RELAXED);
	out->bytes_out = __atomic_load_n(&be->n_bytes_out, __ATOMIC_RELAXED);
	out->retries = __atomic_load_n(&be->n_retries, __ATOMIC_RELAXED);
}

/* ---- streaming put ---- */

struct arca_be_stream {
	arca_backend *be;
	void *handle;   /* driver stream, or NULL when buffering */
	arca_buf buf;   /* fallback */
	uint64_t bytes;
};

int arca_be_stream_open(arca_backend *be, arca_be_stream **out)
{
	arca_be_stream *s = calloc(1, sizeof(*s));
	int rc;
	*out = NULL;
	if (!s)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	s->be = be;
	if (be->stream_open && (rc = be->stream_open(be, &s->handle))) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

int arca_be_stream_write(arca_be_stream *s, const void *p, size_t n)
{
	int rc;
	if (s->handle)
		rc = s->be->stream_write(s->be, s->handle, p, n);
	else
		rc = arca_buf_put(&s->buf, p, n);
	if (!rc)
		s->bytes += n;
	return rc;
}

int arca_be_stream_commit(arca_be_stream *s, const char *key)
{
	int rc;
	if ((rc = key_check(key, 0))) {
		arca_be_stream_abort(s);
		return rc;
	}
	if (s->handle) {
		count_request(s->be);
		rc = s->be->stream_commit(s->be, s->handle, key);
		s->handle = NULL; /* the driver freed it, whatever the outcome */
		if (rc)
			rc = fail(s->be, key, rc, NULL);
		else
			__atomic_add_fetch(&s->be->n_bytes_out, s->bytes, __ATOMIC_RELAXED);
	} else {
		rc = arca_be_put(s->be, key, s->buf.data, s->buf.len, 0);
	}
	arca_buf_free(&s->buf);
	free(s);
	return rc;
}

void arca_be_stream_abort(arca_be_stream *s)
{
	if (!s)
		return;
	if (s->handle)
		s->be->stream_abort(s->be, s->handle);
	arca_buf_free(&s->buf);
	free(s);
}
