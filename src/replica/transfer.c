/*
 * replica/transfer.c - verified, parallel, rate-limited object copies
 * between backends (see transfer.h).
 *
 * Workers take the next item from a shared cursor; each copy is
 * get -> hash check against the name -> put -> size check (-> read back
 * and hash).  The first failure stops the hand-out of further items; its
 * message is carried from the worker's thread-local error record to the
 * caller's.  The calling thread reports progress while it waits.
 */
#include "replica/transfer.h"

#include "backend/backend.h"
#include "hash/hash.h"
#include "util/buf.h"
#include "util/timefmt.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- key lists ---- */

int xfer_list_push(xfer_list *l, const char *key, uint64_t size)
{
	int rc;
	if ((rc = arca_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 256)))
		return rc;
	if (!(l->v[l->n].key = strdup(key)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	l->v[l->n++].size = size;
	return 0;
}

void xfer_list_free(xfer_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		free(l->v[i].key);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const xfer_item *)a)->key, ((const xfer_item *)b)->key);
}

void xfer_list_sort(xfer_list *l)
{
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), item_cmp);
}

const xfer_item *xfer_list_find(const xfer_list *l, const char *key)
{
	xfer_item k = { (char *)key, 0 };
	return l->n ? bsearch(&k, l->v, l->n, sizeof(*l->v), item_cmp) : NULL;
}

static int list_visit(const char *key, uint64_t size, void *payload)
{
	if (!strncmp(key, "locks/", 6))
		return 0;
	return xfer_list_push(payload, key, size);
}

int xfer_list_all(arca_backend *be, xfer_list *out)
{
	int rc = arca_be_list(be, "", list_visit, out);
	if (!rc)
		xfer_list_sort(out);
	return rc;
}

/* ---- content names ---- */

bool xfer_content_named(const char *key)
{
	const char *base = strrchr(key, '/');
	size_t i;
	base = base ? base + 1 : key;
	if (strlen(base) != 64)
		return false;
	for (i = 0; i < 64; i++)
		if (!((base[i] >= '0' && base[i] <= '9') || (base[i] >= 'a' && base[i] <= 'f')))
			return false;
	return true;
}

int xfer_check_content(const char *key, const void *data, size_t len)
{
	const char *base = strrchr(key, '/');
	char hex[65];
	arca_id h;
	if (!xfer_content_named(key))
		return 0;
	base = base ? base + 1 : key;
	arca_sha256(&h, data, len);
	arca_id_hex(hex, &h);
	if (strcmp(hex, base))
		return arca_error_set(ARCA_CORRUPT, "%s is damaged: its content hashes to %.16s...", key, hex);
	return 0;
}

/* ---- rate limit ---- */

struct xfer_limit {
	pthread_mutex_t mu;
	double rate;      /* bytes per second */
	double next_free; /* arca_monotonic() when the link is free again */
};

int xfer_limit_new(xfer_limit **out, uint64_t bytes_per_sec)
{
	xfer_limit *l;
	*out = NULL;
	if (!bytes_per_sec)
		return 0;
	if (!(l = calloc(1, sizeof(*l))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&l->mu, NULL);
	l->rate = (double)bytes_per_sec;
	*out = l;
	return 0;
}

void xfer_limit_free(xfer_limit *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->mu);
	free(l);
}

static void sleep_seconds(double s)
{
	struct timespec ts;
	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* Reserve n bytes of the link and wait for their turn: the bytes of all
 * threads together go out no faster than the rate. */
static void limit_take(xfer_limit *l, size_t n)
{
	double now, start;
	if (!l)
		return;
	pthread_mutex_lock(&l->mu);
	now = arca_monotonic();
	start = l->next_free > now ? l->next_free : now;
	l->next_free = start + (double)n / l->rate;
	pthread_mutex_unlock(&l->mu);
	sleep_seconds(start - now);
}

/* ---- running items in parallel ---- */

typedef struct run_job {
	const xfer_item *items;
	size_t n;
	xfer_item_fn fn;
	void *payload;
	const xfer_opts *o;
	xfer_stats *st; /* updated by fn under mu (xfer_stats_add) */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next;     /* next item to hand out */
	unsigned active; /* workers still running */
	int rc;          /* first failure */
	char *msg, *hint;
} run_job;

static __thread run_job *current_job;

void xfer_stats_add(uint64_t objects, uint64_t bytes, uint64_t verified)
{
	run_job *j = current_job;
	pthread_mutex_lock(&j->mu);
	j->st->objects += objects;
	j->st->bytes += bytes;
	j->st->verified += verified;
	pthread_mutex_unlock(&j->mu);
}

static void *worker(void *arg)
{
	run_job *j = arg;
	arca_buf b = ARCA_BUF_INIT;
	current_job = j;
	for (;;) {
		const xfer_item *it;
		int rc;
		pthread_mutex_lock(&j->mu);
		if (j->rc || j->next >= j->n) {
			pthread_mutex_unlock(&j->mu);
			break;
		}
		it = &j->items[j->next++];
		pthread_mutex_unlock(&j->mu);
		b.len = 0;
		if ((rc = j->fn(it, &b, j->payload))) {
			pthread_mutex_lock(&j->mu);
			if (!j->rc) {
				j->rc = rc;
				j->msg = strdup(arca_error_message());
				j->hint = strdup(arca_error_hint_text());
			}
			pthread_mutex_unlock(&j->mu);
			break;
		}
	}
	arca_buf_free(&b);
	pthread_mutex_lock(&j->mu);
	j->active--;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

static void report(const run_job *j)
{
	arca_progress p;
	if (!j->o->progress)
		return;
	memset(&p, 0, sizeof(p));
	p.files = j->st->objects;
	p.bytes = j->st->bytes;
	p.elapsed = arca_monotonic() - j->o->t0;
	p.current = j->o->phase;
	j->o->progress(&p, j->o->progress_payload);
}

int xfer_run(const xfer_item *items, size_t n, xfer_item_fn fn, void *payload, const xfer_opts *o,
	     xfer_stats *stats)
{
	run_job j;
	pthread_t *th = NULL;
	unsigned i, nth = o->connections ? o->connections : 1, started = 0;
	if (!n)
		return 0;
	if (nth > n)
		nth = (unsigned)n;
	memset(&j, 0, sizeof(j));
	j.items = items;
	j.n = n;
	j.fn = fn;
	j.payload = payload;
	j.o = o;
	j.st = stats;
	pthread_mutex_init(&j.mu, NULL);
	pthread_cond_init(&j.cv, NULL);
	if (!(th = calloc(nth, sizeof(*th)))) {
		j.rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_lock(&j.mu);
	for (i = 0; i < nth; i++) {
		if (pthread_create(&th[i], NULL, worker, &j))
			break;
		started++;
		j.active++;
	}
	if (!started) {
		pthread_mutex_unlock(&j.mu);
		j.rc = arca_error_set(ARCA_ERROR, "cannot start transfer threads");
		goto out;
	}
	while (j.active) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&j.cv, &j.mu, &ts);
		report(&j);
	}
	pthread_mutex_unlock(&j.mu);
	for (i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	if (j.rc) {
		arca_error_set(j.rc, "%s", j.msg ? j.msg : "transfer failed");
		if (j.hint && *j.hint)
			arca_error_hint(j.rc, "%s", j.hint);
	}
out:
	free(th);
	free(j.msg);
	free(j.hint);
	pthread_cond_destroy(&j.cv);
	pthread_mutex_destroy(&j.mu);
	return j.rc;
}

/* ---- copying ---- */

int xfer_copy_one(arca_backend *from, arca_backend *to, const char *key, const xfer_opts *o, arca_buf *b,
		  bool *verified)
{
	uint64_t size;
	size_t len;
	int rc;
	*verified = false;
	b->len = 0;
	if ((rc = arca_be_get(from, key, b)))
		return arca_error_prefix(rc, "reading %s from %s", key, arca_be_location(from));
	if ((rc = xfer_check_content(key, b->data, b->len)))
		return arca_error_prefix(rc, "in %s", arca_be_location(from));
	limit_take(o->limit, b->len);
	if ((rc = arca_be_put(to, key, b->data, b->len, 0)))
		return arca_error_prefix(rc, "writing %s to %s", key, arca_be_location(to));
	if ((rc = arca_be_stat(to, key, &size)))
		return arca_error_prefix(rc, "checking %s in %s", key, arca_be_location(to));
	if (size != b->len)
		return arca_error_set(ARCA_CORRUPT, "%s in %s has %llu bytes after upload, %llu were sent", key,
				      arca_be_location(to), (unsigned long long)size, (unsigned long long)b->len);
	if (!o->verify)
		return 0;
	len = b->len;
	b->len = 0;
	if ((rc = arca_be_get(to, key, b)))
		return arca_error_prefix(rc, "reading back %s from %s", key, arca_be_location(to));
	if (b->len != len || xfer_check_content(key, b->data, b->len))
		return arca_error_set(ARCA_CORRUPT, "%s read back from %s differs from what was written", key,
				      arca_be_location(to));
	*verified = true;
	return 0;
}

typedef struct copy_ctx {
	arca_backend *from, *to;
	const xfer_opts *o;
} copy_ctx;

static int copy_item(const xfer_item *it, arca_buf *b, void *payload)
{
	copy_ctx *cc = payload;
	bool verified;
	int rc = xfer_copy_one(cc->from, cc->to, it->key, cc->o, b, &verified);
	if (!rc)
		xfer_stats_add(1, b->len, verified);
	return rc;
}

int xfer_copy(arca_backend *from, arca_backend *to, const xfer_item *items, size_t n, const xfer_opts *o,
	      xfer_stats *stats)
{
	copy_ctx cc = { from, to, o };
	return xfer_run(items, n, copy_item, &cc, o, stats);
}
