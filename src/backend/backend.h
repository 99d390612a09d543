/*
 * backend/backend.h - the generic layer over storage drivers.
 *
 * arca_backend_open() picks a driver from the repository URL through a
 * {scheme, constructor} table.  The arca_be_* wrappers are the only way
 * callers touch a backend: they retry ARCA_TRANSIENT failures with
 * jittered exponential backoff (bounded total time), count bytes and
 * requests, and add the object key to error messages.
 */
#ifndef ARCA_BACKEND_H
#define ARCA_BACKEND_H

#include "arca/sys/backend.h"

#include <stdbool.h>

/* url: a path, "file://path", "s3://bucket/prefix", "gs://bucket/prefix",
 * or "mem:" (process memory, for tests). */
int arca_backend_open(arca_backend **out, const char *url);
void arca_backend_free(arca_backend *be);

/* Drivers.  rest: the URL after "scheme://". */
int arca_backend_local_new(arca_backend **out, const char *path);
int arca_backend_mem_new(arca_backend **out);
/* url: postgres://user:pass@host:port/db?schema=NAME (backend_pg.c). */
int arca_backend_pg_new(arca_backend **out, const char *url);
int arca_backend_s3_new(arca_backend **out, const char *rest);
int arca_backend_gcs_new(arca_backend **out, const char *rest);

/*
 * The retry policy of the wrappers, for drivers whose one operation takes
 * several requests (a multipart upload in stream_commit, which the
 * wrappers cannot retry as a whole): init once per request, then call
 * again() after each failure; it sleeps and returns true while rc is
 * ARCA_TRANSIENT and the bounds (attempts, ARCA_RETRY_MAX_SECONDS) allow
 * another try.  Counts retries in be's counters.
 */
typedef struct arca_be_retry {
	unsigned attempt;
	uint64_t start;
} arca_be_retry;
void arca_be_retry_init(arca_be_retry *st);
bool arca_be_retry_again(arca_backend *be, arca_be_retry *st, int rc);
/* rc, with "(after N retries)" added to the message when st retried. */
int arca_be_retry_done(const arca_be_retry *st, int rc);

int arca_be_get(arca_backend *be, const char *key, arca_buf *out);
int arca_be_get_range(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out);
int arca_be_put(arca_backend *be, const char *key, const void *data, size_t len, unsigned flags);
int arca_be_stat(arca_backend *be, const char *key, uint64_t *size);
bool arca_be_exists(arca_backend *be, const char *key);
int arca_be_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload);
int arca_be_remove(arca_backend *be, const char *key);
/*
 * Remove several keys; durable on return like as many arca_be_remove calls
 * (in one directory sync on the local backend).  rcs[i] is 0, ARCA_NOTFOUND
 * or the failure of keys[i]; the return value is the first failure other
 * than ARCA_NOTFOUND (its message recorded), or 0.
 */
int arca_be_remove_batch(arca_backend *be, const char *const *keys, size_t n, int *rcs);
const char *arca_be_location(arca_backend *be);

/*
 * Fetch whole objects keys[0..n) with up to `conns` GETs in flight (one at
 * a time on a local backend) and call got(i, rc, data, payload) for each,
 * on the calling thread and in key order.  rc is 0 or that object's
 * failure, whose message is then this thread's error record; data is
 * borrowed for the call (a callback that keeps the bytes moves the
 * arca_buf out and leaves ARCA_BUF_INIT behind).  A non-zero return from
 * got stops the fetching and is returned.  At most 2 * conns objects are
 * held at once.
 */
typedef int (*arca_be_got_fn)(size_t i, int rc, arca_buf *data, void *payload);
int arca_be_get_many(arca_backend *be, const char *const *keys, size_t n, unsigned conns, arca_be_got_fn got,
		     void *payload);
/* In-flight requests for arca_be_get_many on metadata (index, snapshots). */
#define ARCA_BE_META_CONNS 8

/*
 * Streaming put: write an object in pieces when its name is known only at
 * the end (packs are named by their hash).  Uses the driver's streaming
 * interface, or buffers in memory and puts at commit.  commit and abort
 * free the stream; abort accepts NULL.
 */
typedef struct arca_be_stream arca_be_stream;
int arca_be_stream_open(arca_backend *be, arca_be_stream **out);
int arca_be_stream_write(arca_be_stream *s, const void *p, size_t n);
int arca_be_stream_commit(arca_be_stream *s, const char *key);
void arca_be_stream_abort(arca_be_stream *s);

typedef struct arca_be_stats {
	uint64_t requests;
	uint64_t bytes_in;  /* read from the backend */
	uint64_t bytes_out; /* written to it */
	uint64_t retries;
} arca_be_stats;
void arca_be_stats_get(arca_backend *be, arca_be_stats *out);

#endif
