/*
 * arca/repo.h - a repository: config, keys, the blob store, objects, locks.
 *
 * An arca_repo is an open repository: its backend, its unwrapped keys (in
 * guarded memory), the local LMDB index cache (kept in step with the
 * repository's index files), and the writers that turn blobs into packs.
 * Blob writes are safe from several threads, each with its own
 * arca_repo_writer; nothing is referenced by an index file before its
 * pack is durable, and nothing is visible to readers of snapshots before
 * the snapshot object (the commit point) is written by higher layers.
 */
#ifndef ARCA_REPO_H
#define ARCA_REPO_H

#include "arca/error.h"
#include "backend/backend.h"
#include "chunker/chunker.h"
#include "crypto/crypto.h"
#include "hash/hash.h"
#include "index/index.h"
#include "pack/pack.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

#define ARCA_REPO_FORMAT_VERSION 1
#define ARCA_DEFAULT_PACK_SIZE (16u * 1024 * 1024)
/* Argon2id defaults (t=3, 32 MiB: ~0.07 s and 32 MiB once per command
 * here; each key file records its own parameters). */
#define ARCA_KDF_T_DEFAULT 3
#define ARCA_KDF_M_KIB_DEFAULT (32u * 1024)

typedef struct arca_repo arca_repo;

typedef struct arca_repo_init_opts {
	unsigned version; /* 1 */
	int cipher;       /* enum arca_cipher_id */
	int compress_algo;
	int compress_level;
	arca_chunker_params chunker;
	uint32_t pack_size;
	uint32_t kdf_t;
	uint32_t kdf_m_kib;
} arca_repo_init_opts;

#define ARCA_REPO_INIT_OPTS_INIT                                                               \
	{ 1, ARCA_CIPHER_XCHACHA20_POLY1305, 1, 3,                                             \
	  { ARCA_CHUNKER_DEFAULT_MIN, ARCA_CHUNKER_DEFAULT_AVG, ARCA_CHUNKER_DEFAULT_MAX },    \
	  ARCA_DEFAULT_PACK_SIZE, ARCA_KDF_T_DEFAULT, ARCA_KDF_M_KIB_DEFAULT }

typedef void (*arca_warn_fn)(const char *msg, void *payload);

typedef struct arca_repo_open_opts {
	unsigned version;      /* 1 */
	const char *cache_dir; /* NULL: $ARCA_CACHE_DIR, $XDG_CACHE_HOME/arca, ~/.cache/arca */
	arca_warn_fn warn;     /* non-fatal warnings (stale locks taken over...) */
	void *warn_payload;
} arca_repo_open_opts;

#define ARCA_REPO_OPEN_OPTS_INIT { 1, NULL, NULL, NULL }

/*
 * Create a repository at url.  ARCA_EXISTS if one is already there.
 * password may be NULL only for cipher none.  On success *out is an open
 * repository (caller closes).
 */
int arca_repo_init(arca_repo **out, const char *url, const char *password,
		   const arca_repo_init_opts *o, const arca_repo_open_opts *oo);
/*
 * Open: read config, unwrap a key with password (ARCA_AUTH when no key
 * opens), open and synchronise the index cache.  ARCA_NOTFOUND when there
 * is no repository at url.
 */
int arca_repo_open(arca_repo **out, const char *url, const char *password,
		   const arca_repo_open_opts *oo);
/* Releases the lock if held. Accepts NULL. */
void arca_repo_close(arca_repo *r);

/* Borrowed getters, valid while r is open. */
const arca_id *arca_repo_id(const arca_repo *r);
const arca_cipher *arca_repo_cipher(const arca_repo *r);
const arca_chunker_params *arca_repo_chunker_params(const arca_repo *r);
const uint64_t *arca_repo_gear(const arca_repo *r); /* 256 entries */
int arca_repo_compression(const arca_repo *r, int *level);
uint32_t arca_repo_pack_size(const arca_repo *r);
arca_backend *arca_repo_backend(arca_repo *r);
arca_index *arca_repo_index(arca_repo *r);
const arca_blob_codec *arca_repo_codec(const arca_repo *r);
const char *arca_repo_url(const arca_repo *r);
const char *arca_repo_cache_dir(const arca_repo *r);
/* The id of the key file that opened the repository (zero for none). */
const arca_id *arca_repo_key_id(const arca_repo *r);
void arca_repo_warn(arca_repo *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Blob id of data in this repository (keyed when encrypted). */
void arca_repo_blob_id(const arca_repo *r, arca_id *out, const void *p, size_t n);

/* ---- writing blobs ---- */
typedef struct arca_repo_writer arca_repo_writer;
int arca_repo_writer_new(arca_repo_writer **out, arca_repo *r);
/* Write out partially filled packs. */
int arca_repo_writer_flush(arca_repo_writer *w);
/* Frees without flushing (blobs in unflushed packs are dropped and their
 * claims released).  Accepts NULL. */
void arca_repo_writer_free(arca_repo_writer *w);

/*
 * Claim the right to store blob id: 1 when the caller must store it (it is
 * new), 0 when it is known (stored or being stored by another writer).
 */
int arca_repo_blob_claim(arca_repo *r, const arca_id *id);
/* Store a claimed blob (compress, seal, pack; packs are written when
 * full). */
int arca_repo_blob_store(arca_repo_writer *w, uint8_t type, const arca_id *id,
			 const void *data, size_t n);
/* id + claim + store: *added tells whether it was new. */
int arca_repo_blob_save(arca_repo_writer *w, uint8_t type, const void *data, size_t n,
			arca_id *id, bool *added);
/*
 * Make everything stored so far durable and indexed: every writer must have
 * been flushed; writes an index file for the packs written since the last
 * call and absorbs it into the local index.
 */
int arca_repo_commit_index(arca_repo *r);

typedef struct arca_repo_write_stats {
	uint64_t blobs_new;
	uint64_t raw_bytes_new;    /* bytes of new blobs before compression */
	uint64_t stored_bytes_new; /* bytes added to packs */
	uint64_t packs_written;
} arca_repo_write_stats;
void arca_repo_write_stats_get(arca_repo *r, arca_repo_write_stats *out);

/*
 * Remove what killed writers left behind: temporary files of dead
 * processes (or older than a day).  Packs a killed backup finished but did
 * not index are kept: they are complete, and 'repair index' adopts them.
 * A no-op for backends without temporary files.
 */
int arca_repo_cleanup_leftovers(arca_repo *r, unsigned *removed);
/*
 * Adopt complete packs that no index file names (a killed backup's
 * leftovers): their blobs join this session's pending index, written by
 * the next arca_repo_commit_index(), so later backups reuse them.
 */
int arca_repo_adopt_orphans(arca_repo *r, unsigned *adopted);

/* ---- reading blobs ---- */
typedef struct arca_repo_reader arca_repo_reader;
int arca_repo_reader_new(arca_repo_reader **out, arca_repo *r);
void arca_repo_reader_free(arca_repo_reader *rd);
/* Append the blob's raw bytes to out after checking that they hash to id.
 * ARCA_NOTFOUND if unknown; ARCA_CORRUPT if damaged (message names the
 * pack and blob). */
int arca_repo_blob_load(arca_repo_reader *rd, const arca_id *id, arca_buf *out);
/*
 * For restore and dump: in an encrypted repository, rd no longer re-hashes
 * a loaded blob.  Its AEAD tag covers the id as associated data, so a blob
 * that opens is the one a key holder sealed under that id; the hash would
 * only catch a writer that sealed wrong bytes, and costs as much CPU as the
 * decompression.  check --read-data and restore --verify still hash.  No
 * effect on an unencrypted repository, where the hash is the only check.
 */
void arca_repo_reader_trust_aead(arca_repo_reader *rd);
/* Tell rd which blobs will be loaded next, in order (borrowed until the
 * next call; NULL to forget): from a remote backend, blobs that follow one
 * another in a pack are then fetched with one ranged read. */
void arca_repo_reader_hint(arca_repo_reader *rd, const arca_id *next, size_t n);
/* For restores from a remote backend (no-op on a local one): readers of r
 * share a read-ahead of pack bytes, so the files a backup packed together
 * come in a few requests.  Lists data/ once.  ARCA_READAHEAD_PACKS (a whole
 * snapshot): whole packs, fetched in the background in the order
 * arca_repo_readahead_expect gives; ARCA_READAHEAD_RANGES (a few files):
 * the bytes after each blob a reader misses. */
enum { ARCA_READAHEAD_RANGES = 0, ARCA_READAHEAD_PACKS = 1 };
int arca_repo_readahead_enable(arca_repo *r, int mode);
/* With ARCA_READAHEAD_PACKS: these blobs will be loaded, each once per
 * mention, soon and in about this order (no-op otherwise). */
void arca_repo_readahead_expect(arca_repo *r, const arca_id *blobs, size_t n);
int arca_repo_blob_lookup(arca_repo *r, const arca_id *id, arca_index_loc *loc);

/* ---- small objects (snapshots) ---- */
/* Seal raw under label and store as "<dir>/<sha256 of stored bytes>". */
int arca_repo_object_save(arca_repo *r, const char *dir, const char *label, const void *raw,
			  size_t n, arca_id *out_id);
int arca_repo_object_load(arca_repo *r, const char *key, const char *label, arca_buf *out);
/*
 * Every sealed object under "<dir>/" (audit log entries, policies): each
 * is read and opened, then cb gets its id and plaintext (borrowed for the
 * call).  An object that is gone, fails its checks, or that cb finds
 * malformed (cb returns ARCA_CORRUPT) is skipped with a warning naming
 * it as `what`; any other failure stops the walk and is returned.
 */
typedef int (*arca_repo_object_fn)(const arca_id *id, const void *raw, size_t n, void *payload);
int arca_repo_objects_load(arca_repo *r, const char *dir, const char *label, const char *what,
			   arca_repo_object_fn cb, void *payload);
/*
 * Open an object's stored bytes (as read from key, e.g. from a local
 * cache): check that they hash to the id the key ends in, then open the
 * seal and inflate with z (a zstd context the caller reuses across many
 * objects: creating one per object dominates listing many snapshots).
 * Appends the plaintext to out.  ARCA_CORRUPT when damaged or forged.
 */
int arca_repo_object_open(arca_repo *r, arca_zctx *z, const char *key, const char *label, const void *stored,
			  size_t n, arca_buf *out);

/* ---- index maintenance ---- */
/* Rebuild the local index cache from the repository's index files. */
int arca_repo_index_reload(arca_repo *r);
/*
 * Bring the local index cache in step with index/: absorb new index files;
 * rebuild it when a file it absorbed has disappeared (prune, 'repair
 * index').  Cheap when nothing changed.  arca_repo_open() and
 * arca_repo_lock() call it.
 */
int arca_repo_index_sync(arca_repo *r);
/*
 * The index files in the repository now.  *out is malloc'd (caller frees;
 * NULL when *n is 0).  Names that are not ids are ignored.
 */
int arca_repo_index_files(arca_repo *r, arca_id **out, size_t *n);
/*
 * Write one index file listing packs[0..n) and naming supersedes[0..nsup)
 * as the files it replaces (FORMAT.md §6), durably, as index/<sha256>.
 * Neither deletes the superseded files nor touches the local cache: the
 * caller deletes them, then calls arca_repo_index_reload().  *out_id (may
 * be NULL) gets the new file's id.  Needs the exclusive lock.
 */
int arca_repo_index_write(arca_repo *r, const arca_idx_pack *packs, size_t n,
			  const arca_id *supersedes, size_t nsup, arca_id *out_id);
/*
 * Read every pack's trailer and write one new index file covering all
 * packs, superseding (and then deleting) every older index file.  Needs
 * the exclusive lock.  *npacks / *nblobs report what was indexed.
 */
int arca_repo_index_rebuild_from_packs(arca_repo *r, uint64_t *npacks, uint64_t *nblobs);
/* Key name of a pack. */
void arca_repo_pack_key(char *out /* >= 80 bytes */, const arca_id *pack);

/* ---- keys ---- */
typedef struct arca_key_info {
	arca_id id;
	int64_t created_ns;
	char host[128];
	char user[64];
	uint32_t kdf_t, kdf_m_kib;
	bool current;
} arca_key_info;
/* The new key gets the KDF cost of the key that opened r. */
int arca_repo_key_add(arca_repo *r, const char *password, arca_id *out_id);
int arca_repo_key_list(arca_repo *r, arca_key_info **out, size_t *n); /* free() */
/* ARCA_INVAL when removing the key in use. id may be a unique hex prefix. */
int arca_repo_key_remove(arca_repo *r, const char *id_prefix);
/* Add a key for the new password and remove the current one. */
int arca_repo_key_passwd(arca_repo *r, const char *new_password);

/* ---- locks ---- */
/*
 * Take a shared or exclusive lock.  A conflicting live lock gives
 * ARCA_LOCKED (message names its host, pid and age); a stale one (dead pid
 * on this host, or a lease not refreshed for 30 minutes) is removed with a
 * warning.  The lock is refreshed in the background until unlocked.
 * Once the lock is held the local index cache is synchronised again
 * (arca_repo_index_sync): it was filled when the repository was opened, and
 * a prune that ran in between may have deleted packs it still names.
 */
int arca_repo_lock(arca_repo *r, bool exclusive);
int arca_repo_unlock(arca_repo *r);
/* Whether r holds a lock; *exclusive (may be NULL) tells which kind. */
bool arca_repo_lock_held(const arca_repo *r, bool *exclusive);

#endif
