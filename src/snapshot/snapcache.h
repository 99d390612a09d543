/*
 * snapshot/snapcache.h - the local snapshot manifest cache (module-private).
 *
 * One file, <cache dir>/snapshots.cache, holding the stored (sealed) bytes
 * of the snapshot objects seen last time, keyed by id.  It saves a backend
 * GET (and, on every backend, a file open and a zstd context) per snapshot
 * when listing.  It is never trusted: only ids the snapshots/ listing
 * names are looked up, and cached bytes are opened exactly like bytes read
 * from the backend (SHA-256 must equal the id, then the AEAD seal), so a
 * damaged or forged cache costs a fetch, never a wrong answer.  A file
 * that fails its checksum or does not parse is treated as empty and
 * rewritten.  Layout (little-endian, varints as in FORMAT.md):
 *
 *   "ARCASNPC" | u32 version (1) | 32 repository id | varint n |
 *   n x (32 snapshot id | bytes stored object), ids strictly increasing |
 *   32 SHA-256 of everything before
 */
#ifndef ARCA_SNAPCACHE_H
#define ARCA_SNAPCACHE_H

#include "hash/hash.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARCA_SNAPCACHE_MAGIC "ARCASNPC"
#define ARCA_SNAPCACHE_VERSION 1

typedef struct arca_snapcache_entry {
	arca_id id;
	const uint8_t *stored; /* into the file buffer or owned (see owned) */
	size_t n;
	bool used;  /* the listing confirmed it this time */
	bool owned; /* stored is malloc'd (fetched this time) */
} arca_snapcache_entry;

typedef struct arca_snapcache {
	arca_buf file;             /* the file as read */
	arca_snapcache_entry *old; /* parsed from file, sorted by id */
	size_t nold;
	arca_snapcache_entry *add; /* fetched this time */
	size_t nadd, capadd;
	bool dirty; /* the file must be rewritten */
} arca_snapcache;

/*
 * Parse a cache file's bytes for repository repo_id into c->old (entries
 * point into p, which must outlive c).  ARCA_CORRUPT on anything wrong
 * (then c->old is empty).  Exposed for the fuzz target.
 */
int arca_snapcache_parse(arca_snapcache *c, const arca_id *repo_id, const void *p, size_t n);
/* Read <dir>/snapshots.cache; a missing or bad file gives an empty,
 * dirty cache.  Only ARCA_NOMEM fails. */
int arca_snapcache_load(arca_snapcache *c, const char *dir, const arca_id *repo_id);
/* Entry for id, or NULL.  Borrowed until arca_snapcache_free. */
arca_snapcache_entry *arca_snapcache_find(arca_snapcache *c, const arca_id *id);
/* Remember stored bytes fetched for id (copied).  0 or ARCA_NOMEM. */
int arca_snapcache_add(arca_snapcache *c, const arca_id *id, const void *stored, size_t n);
/* Encode the used and added entries (what the listing confirmed). */
int arca_snapcache_encode(arca_snapcache *c, const arca_id *repo_id, arca_buf *out);
/* Write the file again (temporary file + rename) when it differs from
 * what the listing confirmed.  Failing to write is not an error of the
 * caller's operation: the return value is for a warning. */
int arca_snapcache_save(arca_snapcache *c, const char *dir, const arca_id *repo_id);
void arca_snapcache_free(arca_snapcache *c);

#endif
