/*
 * index/index.h - the local blob index: an LMDB cache of where every blob
 * lives (blob id -> pack, offset, lengths).
 *
 * It is never the only copy of anything: it is rebuilt from the
 * repository's index files (and, failing those, from pack trailers).  It
 * also records which index files it has absorbed so that a stale cache is
 * detected.  Several processes may open it at once (LMDB locking).  This is
 * the only module that includes lmdb.h.
 */
#ifndef ARCA_INDEX_H
#define ARCA_INDEX_H

#include "hash/hash.h"
#include "pack/pack.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arca_index arca_index;

typedef struct arca_index_loc {
	arca_id pack;
	uint64_t offset;
	uint32_t stored_len;
	uint32_t raw_len;
	uint32_t key_id;
	uint8_t type;
	uint8_t flags;
} arca_index_loc;

/* Open or create the LMDB environment in directory dir (created if
 * missing). */
int arca_index_open(arca_index **out, const char *dir);
void arca_index_close(arca_index *ix);

/* ARCA_NOTFOUND when the blob is unknown. Safe from several threads. */
int arca_index_lookup(arca_index *ix, const arca_id *blob, arca_index_loc *out);
bool arca_index_has(arca_index *ix, const arca_id *blob);

/* A write batch: one LMDB write transaction. */
typedef struct arca_index_batch arca_index_batch;
int arca_index_batch_begin(arca_index *ix, arca_index_batch **out);
int arca_index_batch_add_pack(arca_index_batch *b, const arca_id *pack,
			      const arca_blob_entry *entries, size_t n);
/* Record that index file `file` is absorbed. */
int arca_index_batch_mark_file(arca_index_batch *b, const arca_id *file);
int arca_index_batch_commit(arca_index_batch *b); /* frees b */
void arca_index_batch_abort(arca_index_batch *b); /* frees b; accepts NULL */

/* Whether some absorbed index file names this pack. */
bool arca_index_has_pack(arca_index *ix, const arca_id *pack);
/* Whether index file `file` has been absorbed. */
bool arca_index_has_file(arca_index *ix, const arca_id *file);
/* Enumerate absorbed index files; a non-zero return from cb stops and is
 * returned. */
int arca_index_foreach_file(arca_index *ix, int (*cb)(const arca_id *file, void *payload),
			    void *payload);
/* Enumerate the packs some absorbed index file names (sorted by id). */
int arca_index_foreach_pack(arca_index *ix, int (*cb)(const arca_id *pack, void *payload), void *payload);
/* Enumerate every blob (sorted by id). */
int arca_index_foreach_blob(arca_index *ix,
			    int (*cb)(const arca_id *blob, const arca_index_loc *loc, void *payload),
			    void *payload);
/* Drop everything (before a full rebuild). */
int arca_index_clear(arca_index *ix);
int arca_index_count(arca_index *ix, uint64_t *blobs, uint64_t *files);

#endif
