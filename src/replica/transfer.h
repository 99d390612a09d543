/*
 * replica/transfer.h - copying objects between two backends, verified and
 * in parallel.  Internal to the replica module (replicate and scrub).
 *
 * Every object but `config` and locks is named by the SHA-256 of its
 * bytes (docs/FORMAT.md §1), so a copy is checked end to end: the bytes
 * read from the source must hash to the name (a damaged source object is
 * never propagated), the destination must report the same size after the
 * put, and with `verify` the object is read back and hashed again.
 */
#ifndef ARCA_REPLICA_TRANSFER_H
#define ARCA_REPLICA_TRANSFER_H

#include "arca/sys/backend.h"
#include "arca/snapshot.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A key and its size in the source listing. */
typedef struct xfer_item {
	char *key;
	uint64_t size;
} xfer_item;

typedef struct xfer_list {
	xfer_item *v;
	size_t n, cap;
} xfer_list;

int xfer_list_push(xfer_list *l, const char *key, uint64_t size);
void xfer_list_free(xfer_list *l);
/* Sort by key (for lookups with xfer_list_find). */
void xfer_list_sort(xfer_list *l);
const xfer_item *xfer_list_find(const xfer_list *l, const char *key);
/* Every object under every prefix except locks/ (and temporaries). */
int xfer_list_all(arca_backend *be, xfer_list *out);

/* Shared bandwidth limit across transfer threads (a token bucket). */
typedef struct xfer_limit xfer_limit;
int xfer_limit_new(xfer_limit **out, uint64_t bytes_per_sec); /* 0: *out = NULL, unlimited */
void xfer_limit_free(xfer_limit *l);

typedef struct xfer_opts {
	unsigned connections; /* parallel transfers (>= 1) */
	xfer_limit *limit;    /* NULL: unlimited */
	bool verify;          /* read each written object back and hash it */
	/* progress: called from the calling thread about twice a second */
	arca_progress_fn progress;
	void *progress_payload;
	const char *phase; /* shown as the progress line's current item */
	double t0;         /* arca_monotonic() when the whole job started */
} xfer_opts;

typedef struct xfer_stats {
	uint64_t objects;  /* copied */
	uint64_t bytes;    /* copied */
	uint64_t verified; /* read back and hashed */
} xfer_stats;

/* True when key's last component is 64 hex digits: named by its SHA-256. */
bool xfer_content_named(const char *key);
/* Hash data and compare with a content-named key; ARCA_CORRUPT if it differs. */
int xfer_check_content(const char *key, const void *data, size_t len);

/*
 * Run fn on every item with o->connections threads; b is a per-thread
 * scratch buffer.  The first non-zero return stops the hand-out of further
 * items (the others finish their current one) and is returned with its
 * message.  fn counts its work with xfer_stats_add (into *stats).
 */
typedef int (*xfer_item_fn)(const xfer_item *it, arca_buf *b, void *payload);
int xfer_run(const xfer_item *items, size_t n, xfer_item_fn fn, void *payload, const xfer_opts *o,
	     xfer_stats *stats);
/* From inside fn only. */
void xfer_stats_add(uint64_t objects, uint64_t bytes, uint64_t verified);

/* Copy one object (see the top of this file); b receives its bytes. */
int xfer_copy_one(arca_backend *from, arca_backend *to, const char *key, const xfer_opts *o, arca_buf *b,
		  bool *verified);

/*
 * Copy items[0..n) from `from` to `to`, overwriting what is there, with
 * o->connections threads.  Stops at the first failure (the others finish
 * their current object) and returns it with its message; stats count what
 * was copied before.
 */
int xfer_copy(arca_backend *from, arca_backend *to, const xfer_item *items, size_t n, const xfer_opts *o,
	      xfer_stats *stats);

#endif
