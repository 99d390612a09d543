/*
 * repo/repo_internal.h - the arca_repo structure, shared by the files of
 * the repo module only (repo.c: open/init/config/keys; repo_blob.c: blob
 * store and index; repo_lock.c: locks).
 */
#ifndef ARCA_REPO_INTERNAL_H
#define ARCA_REPO_INTERNAL_H

#include "arca/repo.h"
#include "hash/idset.h"

#include <pthread.h>

#define ARCA_CONFIG_LEN 128
#define ARCA_CONFIG_KEY "config"

/* Secret key material, in guarded memory. */
typedef struct arca_repo_keys {
	uint8_t data_key[ARCA_KEY_LEN];
	uint8_t id_key[ARCA_KEY_LEN];
	uint8_t chunker_seed[32];
} arca_repo_keys;

typedef struct arca_repo_lockstate {
	bool held;
	bool exclusive;
	char key[80];
	pthread_t thread;
	bool thread_running;
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t cv;
} arca_repo_lockstate;

struct arca_repo {
	char *url;
	arca_backend *be;
	uint8_t config_raw[ARCA_CONFIG_LEN];
	arca_id id;
	const arca_cipher *cipher;
	int compress_algo;
	int compress_level;
	arca_chunker_params chunker;
	uint32_t pack_size;
	arca_repo_keys *keys; /* sodium_malloc'd */
	arca_id key_id;       /* key file that opened it */
	uint32_t kdf_t, kdf_m_kib; /* its KDF cost; keys added later get the same */
	uint64_t gear[256];
	arca_idfn idfn;
	arca_blob_codec codec;
	char *cache_dir;
	arca_index *ix;
	arca_warn_fn warn;
	void *warn_payload;

	pthread_mutex_t mu;  /* claims, pending, stats */
	arca_idset claims;   /* blobs stored or being stored in this session */
	arca_idx_pack *pending; /* packs written, not yet in an index file */
	size_t npending, cap_pending;
	pthread_mutex_t commit_mu; /* serialises index file writes */
	arca_repo_write_stats stats;

	arca_repo_lockstate lock;
	struct arca_readahead *ra; /* shared read-ahead (remote restores), or NULL */
	struct arca_committer *committer; /* started by the first streamed pack (under mu) */
};

/* repo_blob.c: a pack is durable under its name: its blobs join the
 * pending index (an index file is written every few packs).  Takes
 * ownership of entries. */
int arca_repo_pack_done(arca_repo *r, const arca_id *pid, arca_blob_entry *entries, size_t n, uint64_t packlen);
/* Blobs that were not stored after all: other writers may store them. */
void arca_repo_release_claims(arca_repo *r, const arca_blob_entry *e, size_t n);

/* repo_commit.c: packs committed off the writers' threads (see there).
 * push takes ownership of stream and entries; nonzero when an earlier
 * commit failed.  drain waits until every pushed pack is committed and
 * reports the first failure since the last report.  free (at close) drops
 * packs not yet committed. */
int arca_committer_push(arca_repo *r, arca_be_stream *stream, const arca_id *pid, arca_blob_entry *entries,
			size_t n, uint64_t packlen);
int arca_committer_drain(arca_repo *r);
void arca_committer_free(arca_repo *r);

/* repo_readahead.c */
typedef struct arca_readahead arca_readahead;
void arca_readahead_free(arca_readahead *ra);
/* Append bytes [off, off+len) of pack (object key) to out, from a kept
 * range or a read that goes on ahead (see repo_readahead.c). */
int arca_readahead_read(arca_readahead *ra, const arca_id *pack, uint64_t off, uint64_t len, arca_buf *out);
/* Whether ra keeps whole packs (ARCA_READAHEAD_PACKS): every data blob is
 * then read through it. */
bool arca_readahead_whole(const arca_readahead *ra);
void arca_readahead_expect(arca_readahead *ra, const arca_id *blobs, size_t n);
/* A pack's size from the read-ahead's listing of data/, or 0 (not listed,
 * or ra is NULL). */
uint64_t arca_readahead_size(const arca_readahead *ra, const arca_id *pack);

int arca_repo_config_decode(arca_repo *r, const uint8_t *raw, size_t n);
/* Parse a key file / lock object without using it (for fuzzing and
 * check): 0 when well-formed, ARCA_CORRUPT otherwise. */
int arca_repo_keyfile_check(const uint8_t *p, size_t n);
int arca_repo_lockfile_check(const uint8_t *p, size_t n);

#endif
