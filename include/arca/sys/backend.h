/*
 * arca/sys/backend.h - the storage backend interface, for people writing a
 * backend.  Callers never use the vtable directly: the generic layer in
 * src/backend/backend.h checks capabilities, retries ARCA_TRANSIENT with
 * jittered backoff, and counts bytes.
 *
 * Keys are relative object names with '/' separators: "config",
 * "keys/<hex>", "data/<2 hex>/<hex>", "index/<hex>", "snapshots/<hex>",
 * "locks/<hex>".  Objects are immutable once put, except locks.
 */
#ifndef ARCA_SYS_BACKEND_H
#define ARCA_SYS_BACKEND_H

#include "util/buf.h"

#include <stdint.h>

#define ARCA_BACKEND_VERSION 1

enum arca_backend_caps {
	ARCA_BACKEND_CAP_RANGE = 1u << 0,     /* get() honours off/len cheaply */
	ARCA_BACKEND_CAP_NOREPLACE = 1u << 1, /* put() can refuse to overwrite atomically */
	ARCA_BACKEND_CAP_LOCAL = 1u << 2,     /* on this machine's filesystem */
};

enum arca_put_flags {
	ARCA_PUT_NOREPLACE = 1u << 0, /* fail with ARCA_EXISTS if key exists */
	ARCA_PUT_VOLATILE = 1u << 1,  /* need not survive a system crash (locks):
				       * still atomic, but drivers may skip fsync */
};

#define ARCA_GET_ALL UINT64_MAX

typedef int (*arca_backend_list_cb)(const char *key, uint64_t size, void *payload);

typedef struct arca_backend arca_backend;
struct arca_backend {
	unsigned version; /* ARCA_BACKEND_VERSION */
	const char *name; /* "local", "mem", ... */
	uint32_t caps;
	/* Append bytes [off, off+len) of key to out (len ARCA_GET_ALL = to
	 * the end). ARCA_NOTFOUND if absent; ARCA_CORRUPT if the object is
	 * shorter than off+len (a truncated object). */
	int (*get)(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out);
	/* Store durably and atomically: readers see all or nothing. */
	int (*put)(arca_backend *be, const char *key, const void *data, size_t len, unsigned flags);
	int (*stat)(arca_backend *be, const char *key, uint64_t *size);
	/* Every key under prefix (e.g. "data/"), recursively, any order. */
	int (*list)(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload);
	/* ARCA_NOTFOUND if absent. */
	int (*remove)(arca_backend *be, const char *key);
	/* Optional streaming put (NULL when unsupported; the generic layer
	 * then buffers in memory and calls put): open a temporary object,
	 * append to it, then commit it under key (durably and atomically, as
	 * put) or abort it. */
	int (*stream_open)(arca_backend *be, void **handle);
	int (*stream_write)(arca_backend *be, void *handle, const void *p, size_t n);
	int (*stream_commit)(arca_backend *be, void *handle, const char *key);
	void (*stream_abort)(arca_backend *be, void *handle);
	/* Optional (NULL: the generic layer removes one key at a time): remove
	 * keys[0..n), setting rcs[i] to 0, ARCA_NOTFOUND or a failure, and
	 * return only when the removals that succeeded are as durable as n
	 * single removes would have made them (the local driver syncs each
	 * directory once instead of once per key).  Returns 0 unless the
	 * batch as a whole failed. */
	int (*remove_batch)(arca_backend *be, const char *const *keys, size_t n, int *rcs);
	/* A short description for messages ("/srv/repo"), borrowed. */
	const char *(*location)(arca_backend *be);
	void (*free)(arca_backend *be);
	/* Counters kept by the generic layer (atomically); drivers leave
	 * them zero. */
	uint64_t n_requests, n_bytes_in, n_bytes_out, n_retries;
};

#endif
