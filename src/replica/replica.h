/*
 * replica/replica.h - replicas: copies of one repository in other places
 * (local, S3, GCS, PostgreSQL), kept up to date, checked and healed.
 *
 * A replica is the same repository: same config (so same id and chunker
 * secret), same keys (so the same password opens it), same objects.  As
 * every object but config and locks is immutable and named by the SHA-256
 * of its bytes, replication is "copy what the other side lacks", scrubbing
 * is "hash everything everywhere", and healing is "copy the good copy of a
 * name over the bad one".
 *
 *   arca_replicate     source -> destination, additive (nothing is deleted
 *                      in the destination: a mistake on the source does not
 *                      spread; each repository runs its own forget/prune)
 *   arca_scrub         verify every object of several copies and repair
 *                      missing or damaged ones from a good copy elsewhere
 *   arca_replicas_status  which snapshots each copy holds, and whether
 *                      every pack they need is there (and hashes right)
 */
#ifndef ARCA_REPLICA_H
#define ARCA_REPLICA_H

#include "arca/repo.h"
#include "arca/snapshot.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- replicate ---- */

typedef struct arca_replicate_opts {
	unsigned connections;         /* parallel transfers; 0: 4 */
	uint64_t limit_bytes_per_sec; /* 0: unlimited */
	bool verify;                  /* read every uploaded object back and hash it */
	bool dry_run;                 /* count what would be copied, copy nothing */
	arca_progress_fn progress;
	void *progress_payload;
} arca_replicate_opts;

typedef struct arca_replicate_result {
	bool created;              /* the destination had no repository */
	uint64_t objects_source;   /* objects in the source (locks excluded) */
	uint64_t objects_present;  /* already in the destination */
	uint64_t objects_copied;
	uint64_t bytes_copied;
	uint64_t objects_verified; /* read back and hashed (verify) */
	uint64_t packs_copied, index_copied, snapshots_copied, other_copied;
	double seconds;
} arca_replicate_result;

/*
 * Copy to the repository at dst_url every object of src it lacks, in the
 * order packs, index files, other objects (keys, audit log, policies),
 * snapshots, so no snapshot ever reaches the destination before the data
 * it references.  Creates the destination (config and keys) when it has
 * no repository; refuses one with another config (ARCA_ERROR).  Holds a
 * shared lock on both (taken on src unless the caller holds one).  The
 * destination is opened with password and oo.  Idempotent: a killed run
 * leaves at most unindexed packs, which the next run names.
 */
int arca_replicate(arca_repo *src, const char *dst_url, const char *password, const arca_repo_open_opts *oo,
		   const arca_replicate_opts *o, arca_replicate_result *res);

/* ---- scrub ---- */

typedef struct arca_scrub_opts {
	unsigned connections; /* 0: 4 */
	bool dry_run;         /* find damage, repair nothing */
	arca_progress_fn progress;
	void *progress_payload;
} arca_scrub_opts;

typedef struct arca_scrub_copy {
	uint64_t objects_checked;
	uint64_t bytes_checked;
	uint64_t missing;  /* named by the index or listed, but absent */
	uint64_t damaged;  /* content does not hash to its name */
	uint64_t repaired; /* replaced by a good copy, re-verified */
	uint64_t not_replicated; /* in another copy, not named here: replicate's job */
} arca_scrub_copy;

/* A finding: key is bad in copy `repo` (index into the repos array). */
typedef struct arca_scrub_finding {
	char *key;
	size_t repo;
	bool missing;     /* else damaged */
	int repaired_from; /* index of the copy it was repaired from, -1: not repaired */
} arca_scrub_finding;

typedef struct arca_scrub_result {
	arca_scrub_copy *copies; /* one per repository */
	size_t ncopies;
	arca_scrub_finding *findings;
	size_t nfindings;
	uint64_t unrepaired; /* findings with no good copy anywhere (or dry run) */
	double seconds;
} arca_scrub_result;

/*
 * Verify every object of every repository in repos[0..n) (all copies of
 * one repository: ARCA_ERROR otherwise), and every pack its index names,
 * then replace each missing or damaged object with a good copy from
 * another repository and verify it again.  Takes a shared lock on each.
 * Returns 0 even when damage was found; see res->unrepaired.
 */
int arca_scrub(arca_repo *const *repos, size_t n, const arca_scrub_opts *o, arca_scrub_result *res);
void arca_scrub_result_free(arca_scrub_result *res);

/* ---- status ---- */

enum arca_replica_state {
	ARCA_REPLICA_ABSENT = 0,  /* no such snapshot object here */
	ARCA_REPLICA_INCOMPLETE,  /* a tree or pack it needs is missing (or unreadable) */
	ARCA_REPLICA_PRESENT,     /* snapshot and every pack it needs are listed, sizes right */
	ARCA_REPLICA_VERIFIED,    /* ... and every such pack hashes to its name (read_data) */
	ARCA_REPLICA_DAMAGED,     /* a pack it needs does not hash to its name (read_data) */
};
const char *arca_replica_state_name(int state);

typedef struct arca_replica_row {
	arca_snapshot *snap; /* from the first copy that holds it */
	uint8_t *state;      /* one arca_replica_state per repository */
} arca_replica_row;

typedef struct arca_replica_status {
	arca_replica_row *rows; /* sorted by time, oldest first */
	size_t nrows, ncopies;
} arca_replica_status;

int arca_replicas_status(arca_repo *const *repos, size_t n, bool read_data, arca_replica_status *out);
void arca_replica_status_free(arca_replica_status *s);

/* ---- remembered replicas (in the source's cache directory) ---- */

/* Record that dst_url was replicated to now (one line per URL, newest time). */
int arca_replicas_remember(arca_repo *src, const char *dst_url);
/* The remembered URLs (caller frees each and the array). */
int arca_replicas_known(arca_repo *src, char ***urls, size_t *n);

#endif
