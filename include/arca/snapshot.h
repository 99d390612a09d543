/*
 * arca/snapshot.h - trees, snapshots, and the operations built on them:
 * backup, restore, walking, diff, stats and check.
 *
 * A tree node is one directory: its entries sorted by name, each file
 * listing its chunk ids, each subdirectory naming its tree by id.  Trees
 * are blobs, so the root tree id commits to every byte of a snapshot (a
 * Merkle tree).  A snapshot manifest (snapshots/<id>) records the root
 * tree, time, host, paths, tags, type, parent and stats; writing it is the
 * commit point of a backup.
 */
#ifndef ARCA_SNAPSHOT_H
#define ARCA_SNAPSHOT_H

#include "arca/repo.h"

#include <stdbool.h>
#include <stdint.h>

/* ---- trees ---- */

enum arca_node_kind {
	ARCA_NODE_FILE = 1,
	ARCA_NODE_DIR = 2,
	ARCA_NODE_SYMLINK = 3,
	ARCA_NODE_CHARDEV = 4,
	ARCA_NODE_BLOCKDEV = 5,
	ARCA_NODE_FIFO = 6,
	ARCA_NODE_SOCKET = 7,
};

#define ARCA_NAME_MAX 1024

typedef struct arca_node {
	char *name;
	uint8_t kind;
	uint32_t mode; /* permission bits incl. setuid/setgid/sticky (07777) */
	uint32_t uid, gid;
	char *user, *group; /* may be "" */
	int64_t mtime_ns, ctime_ns;
	uint64_t inode, dev, nlink;
	uint64_t size;
	arca_id *chunks; /* file: content, in order */
	size_t nchunks;
	arca_id subtree;   /* dir */
	char *link_target; /* symlink */
	uint64_t rdev;     /* devices */
} arca_node;

typedef struct arca_tree {
	arca_node *nodes;
	size_t n, cap;
} arca_tree;

/* Append a node, taking ownership of its pointers (the node is zeroed). */
int arca_tree_add(arca_tree *t, arca_node *node);
/* Canonical encoding: sorts by name first; duplicate names -> ARCA_INVAL. */
int arca_tree_encode(arca_tree *t, arca_buf *out);
/* Decode and validate (sorted unique safe names, known kinds): *out is
 * heap-allocated, free with arca_tree_free. ARCA_CORRUPT on bad input. */
int arca_tree_decode(arca_tree **out, const void *p, size_t n);
void arca_tree_free(arca_tree *t);   /* frees the struct too */
void arca_tree_clear(arca_tree *t);  /* frees the nodes, keeps the struct */
void arca_node_clear(arca_node *n);
/* Binary search by name; borrowed pointer or NULL. */
const arca_node *arca_tree_find(const arca_tree *t, const char *name);
/* A name is safe to create in a directory: non-empty, no '/', no NUL,
 * not "." or "..". */
bool arca_name_is_safe(const char *name, size_t len);
/* Load and decode a tree blob. */
int arca_tree_load(arca_repo_reader *rd, const arca_id *id, arca_tree **out);

/* ---- snapshots ---- */

typedef struct arca_kv {
	char *key;
	char *value;
} arca_kv;

typedef struct arca_snapshot_stats {
	uint64_t files_new, files_changed, files_unmodified;
	uint64_t dirs;
	uint64_t bytes_total;     /* size of all files in the snapshot */
	uint64_t bytes_read;      /* bytes read from the source */
	uint64_t blobs_new;
	uint64_t bytes_added_raw; /* new blob bytes before compression */
	uint64_t bytes_added;     /* bytes added to packs */
	uint64_t duration_ms;
	uint64_t errors;          /* unreadable sources skipped */
} arca_snapshot_stats;

typedef struct arca_snapshot {
	arca_id id; /* name of the object; not part of the encoding */
	int64_t time_ns;
	arca_id tree;
	char *host;
	char *user;
	uint32_t uid, gid;
	char **paths;
	size_t npaths;
	char **tags;
	size_t ntags;
	char *type; /* manual, automatic, scheduled, daily, ... */
	bool has_parent;
	arca_id parent;
	int64_t expires_ns; /* 0: never */
	arca_kv *meta;
	size_t nmeta;
	arca_kv *source; /* source metadata (e.g. server version) */
	size_t nsource;
	char *program; /* "arca 0.1.0" */
	arca_snapshot_stats stats;
} arca_snapshot;

#define ARCA_SNAPSHOT_LABEL "arca-snapshot-v1"

int arca_snapshot_encode(const arca_snapshot *s, arca_buf *out);
/* ARCA_CORRUPT on bad input; *out heap-allocated. */
int arca_snapshot_decode(arca_snapshot **out, const void *p, size_t n);
void arca_snapshot_free(arca_snapshot *s);
/* Save: seals, writes snapshots/<id>, fills s->id. */
int arca_snapshot_save(arca_repo *r, arca_snapshot *s);
int arca_snapshot_load(arca_repo *r, const arca_id *id, arca_snapshot **out);

typedef struct arca_snapshot_list {
	arca_snapshot **v; /* sorted by time, oldest first */
	size_t n;
	size_t damaged; /* snapshot objects that could not be read */
} arca_snapshot_list;

/*
 * Load every snapshot the snapshots/ listing names; unreadable ones are
 * counted in damaged and warned about through the repository's warn
 * callback.  Objects are taken from the local snapshot cache
 * (<cache dir>/snapshots.cache) when it holds a copy of the listed size
 * that hashes to the id and opens; the others are fetched and the cache is
 * brought in step with the listing (src/snapshot/snapcache.h).
 */
int arca_snapshot_list_load(arca_repo *r, arca_snapshot_list *out);
/* The same, reading every object from the repository (check, prune: what
 * is stored there is what they must judge); refreshes the cache. */
int arca_snapshot_list_load_fresh(arca_repo *r, arca_snapshot_list *out);
void arca_snapshot_list_free(arca_snapshot_list *l);

typedef struct arca_snapshot_filter {
	const char *host;
	const char *tag;
	const char *type;
	const char *path;
	int64_t since_ns, until_ns; /* 0: unbounded */
} arca_snapshot_filter;
bool arca_snapshot_matches(const arca_snapshot *s, const arca_snapshot_filter *f);

/*
 * Resolve a selector: a full id or unique prefix, "latest", "latest:TAG",
 * or "@TIME" (newest at or before TIME).  Borrowed pointer into l.
 * ARCA_NOTFOUND / ARCA_INVAL (ambiguous prefix) with a clear message.
 */
int arca_snapshot_select(const arca_snapshot_list *l, const char *sel, const arca_snapshot_filter *f,
			 const arca_snapshot **out);
void arca_snapshot_short_id(char out[9], const arca_snapshot *s);

/* ---- backup ---- */

typedef struct arca_progress {
	uint64_t files;
	uint64_t dirs;
	uint64_t bytes;       /* bytes processed */
	uint64_t bytes_total; /* estimate; 0 when unknown */
	uint64_t errors;
	double elapsed;
	const char *current; /* path being processed, borrowed */
} arca_progress;
typedef void (*arca_progress_fn)(const arca_progress *p, void *payload);

/*
 * One stream of a multi-stream backup (arca_backup_opts.streams): a file
 * named name at the root of the snapshot, read until EOF from the fd that
 * open() returns.  Streams are opened one after the other, each only once
 * the previous one is finished, so open() may start a process (a dump).
 * close() is always called after a successful open(), with ok false when
 * reading failed; it closes fd and returns 0, or a negative status (the
 * producer failed: a dump that exited non-zero), which ends the backup
 * without a snapshot.
 */
typedef struct arca_backup_stream {
	const char *name;
	int (*open)(void *payload, int *fd);
	int (*close)(void *payload, int fd, bool ok);
	void *payload;
	/* Optional (NULL): sees every byte of the stream, in order, as it is
	 * read (pg backup counts the rows of the dump's COPY blocks with it). */
	void (*observe)(void *payload, const void *p, size_t n);
} arca_backup_stream;

typedef struct arca_backup_opts {
	unsigned version; /* 1 */
	const char *const *paths;
	size_t npaths;
	int stdin_fd;           /* >= 0: back up this stream instead of paths */
	const char *stdin_name; /* file name of the stream in the snapshot */
	/* nstreams > 0: back up these streams (instead of paths or stdin_fd)
	 * as files at the root of one snapshot, whose paths are "/<name>". */
	const arca_backup_stream *streams;
	size_t nstreams;
	const char *const *excludes;
	size_t nexcludes;
	const char *const *tags;
	size_t ntags;
	const char *host; /* NULL: this host */
	const char *type; /* NULL: "manual" */
	int64_t time_ns;  /* 0: now */
	int64_t expires_ns;
	const arca_kv *meta;
	size_t nmeta;
	const arca_kv *source;
	size_t nsource;
	const arca_id *parent; /* NULL: the newest snapshot of the same host and paths */
	bool no_parent;        /* read every file */
	unsigned threads;      /* 0: one per core */
	arca_progress_fn progress;
	void *progress_payload;
	arca_warn_fn warn; /* unreadable files */
	void *warn_payload;
	/* Called after all data is durable and before the snapshot is
	 * written; a non-zero return aborts without a snapshot.  It may
	 * still change meta and source (through its own pointer to these
	 * options): they are read after it returns. */
	int (*before_commit)(void *payload);
	void *commit_payload;
} arca_backup_opts;

#define ARCA_BACKUP_OPTS_INIT { .version = 1, .stdin_fd = -1 }

typedef struct arca_backup_result {
	arca_id snapshot_id;
	bool has_parent;
	arca_id parent;
	arca_snapshot_stats stats;
} arca_backup_result;

/* Needs a shared lock held by the caller. */
int arca_backup(arca_repo *r, const arca_backup_opts *o, arca_backup_result *res);

/* ---- restore ---- */

typedef struct arca_restore_opts {
	unsigned version; /* 1 */
	const char *target;
	const char *const *includes;
	size_t nincludes;
	const char *const *excludes;
	size_t nexcludes;
	bool verify;  /* re-read restored files and check every chunk */
	unsigned threads;
	arca_progress_fn progress;
	void *progress_payload;
	arca_warn_fn warn;
	void *warn_payload;
} arca_restore_opts;

#define ARCA_RESTORE_OPTS_INIT { .version = 1 }

typedef struct arca_restore_result {
	uint64_t files, dirs, links, bytes, errors, verified;
} arca_restore_result;

/*
 * Restore snap under target (created if missing).  Never writes outside
 * target: names are validated, directories are opened beneath target with
 * O_NOFOLLOW, and existing symlinks are never followed.
 */
int arca_restore(arca_repo *r, const arca_snapshot *snap, const arca_restore_opts *o,
		 arca_restore_result *res);

/* ---- walking, dump, diff, stats, check ---- */

/* Depth-first, pre-order; path is "/a/b" (borrowed during the call).
 * Return non-zero from cb to stop; ARCA_WALK_SKIP skips a directory's
 * contents. */
#define ARCA_WALK_SKIP 1
typedef int (*arca_walk_fn)(const char *path, const arca_node *node, void *payload);
int arca_walk(arca_repo_reader *rd, const arca_id *tree, arca_walk_fn cb, void *payload);
/* Find the node at path ("/srv/app/x"); *out is a copy to clear with
 * arca_node_clear. */
int arca_lookup_path(arca_repo_reader *rd, const arca_id *tree, const char *path, arca_node *out);
/* Write a file node's content to fd. */
int arca_dump_file(arca_repo_reader *rd, const arca_node *node, int fd);

typedef enum arca_diff_kind { ARCA_DIFF_ADDED = '+', ARCA_DIFF_REMOVED = '-', ARCA_DIFF_CHANGED = 'M' } arca_diff_kind;
typedef int (*arca_diff_fn)(arca_diff_kind kind, const char *path, const arca_node *a,
			    const arca_node *b, void *payload);
typedef struct arca_diff_result {
	uint64_t added, removed, changed;
	uint64_t new_bytes; /* raw bytes of blobs in B that A does not reference */
	uint64_t new_blobs;
} arca_diff_result;
int arca_diff(arca_repo *r, const arca_snapshot *a, const arca_snapshot *b, arca_diff_fn cb,
	      void *payload, arca_diff_result *res);

typedef struct arca_stats_result {
	uint64_t snapshots;
	uint64_t files;
	uint64_t restore_size;  /* sum of file sizes over the snapshots */
	uint64_t unique_blobs;
	uint64_t raw_size;      /* unique blobs before compression */
	uint64_t stored_size;   /* unique blobs as stored (sealed) */
	uint64_t packs;         /* whole repository */
	uint64_t pack_bytes;    /* whole repository */
} arca_stats_result;
/* Over the given snapshots (all when n == 0 and v == NULL is not meant:
 * pass the list). */
int arca_stats(arca_repo *r, const arca_snapshot *const *v, size_t n, arca_stats_result *res);

/* restic's `stats --mode`. */
typedef enum arca_stats_mode {
	ARCA_STATS_RESTORE_SIZE = 1, /* files as restored: count and sum of sizes (hard links once) */
	ARCA_STATS_FILES = 2,        /* distinct file contents (same chunk list = same file): count, sizes */
	ARCA_STATS_RAW = 3,          /* the blobs (data and tree) the snapshots reference, as stored */
} arca_stats_mode;

typedef struct arca_stats_mode_result {
	uint64_t snapshots;
	uint64_t files;        /* restore-size, raw: files restored; files: distinct contents */
	uint64_t size;         /* restore-size: bytes restored; files: bytes of the distinct contents;
				* raw: stored bytes of the distinct blobs (compressed, sealed) */
	uint64_t restore_size; /* bytes restored (all modes) */
	uint64_t raw_size;     /* raw: the distinct blobs before compression */
	uint64_t data_raw_size; /* raw: of which data blobs (file content) */
	uint64_t blobs, tree_blobs; /* raw: distinct blobs referenced, of which trees */
	uint64_t blobs_missing;     /* raw: referenced blobs the index does not know (damage) */
} arca_stats_mode_result;

/*
 * Statistics over snapshots v[0..n) in one of restic's modes (pass every
 * snapshot for the whole repository).  Reads every tree; trees already
 * walked are skipped where the mode allows it (files, raw dedup by id).
 */
int arca_stats_mode_run(arca_repo *r, arca_stats_mode mode, const arca_snapshot *const *v, size_t n,
			arca_stats_mode_result *res);

typedef struct arca_check_opts {
	unsigned version;
	bool read_data;
	double subset;       /* fraction of packs to read (0 < s <= 1) */
	arca_progress_fn progress;
	void *progress_payload;
	/* every problem found, one line each */
	void (*report)(const char *line, void *payload);
	void *report_payload;
} arca_check_opts;

typedef struct arca_check_result {
	uint64_t snapshots, trees, blobs_referenced, packs, packs_read;
	uint64_t errors;          /* damage found */
	uint64_t unindexed_packs; /* harmless leftovers */
	uint64_t damaged_packs;
} arca_check_result;
/* Returns 0 even when damage is found: see res->errors. */
int arca_check(arca_repo *r, const arca_check_opts *o, arca_check_result *res);

/* ---- prune ---- */

#define ARCA_PRUNE_MAX_UNUSED_DEFAULT 5.0

/* Points at which arca_prune_opts.checkpoint is called: each follows a
 * step that is durable, so stopping there is what a crash there leaves. */
enum arca_prune_step {
	ARCA_PRUNE_STEP_PLANNED = 1,       /* plan made; nothing written yet */
	ARCA_PRUNE_STEP_PACK_WRITTEN = 2,  /* one new pack (repacked blobs) is durable */
	ARCA_PRUNE_STEP_INDEX_WRITTEN = 3, /* the new index file is durable */
	ARCA_PRUNE_STEP_INDEX_REMOVED = 4, /* one superseded index file deleted */
	ARCA_PRUNE_STEP_PACK_REMOVED = 5,  /* one pack deleted */
};

typedef struct arca_prune_opts {
	unsigned version; /* 1 */
	/* Repack until the unused bytes left in packs are at most this
	 * percentage of all pack bytes after the prune (0..100; 100 never
	 * repacks, 0 repacks every pack holding an unused byte). */
	double max_unused;
	bool dry_run; /* plan and report only; change nothing */
	arca_progress_fn progress;
	void *progress_payload;
	/* Test hook, NULL in normal use: called after each step listed in
	 * enum arca_prune_step (count: how often that step has happened so
	 * far, from 1).  A non-zero return stops the prune at once without
	 * undoing anything, as a crash would; arca_prune then fails with
	 * ARCA_ERROR.  The CLI wires ARCA_TEST_PRUNE_ABORT_AT to it. */
	int (*checkpoint)(int step, uint64_t count, void *payload);
	void *checkpoint_payload;
} arca_prune_opts;

#define ARCA_PRUNE_OPTS_INIT { .version = 1, .max_unused = ARCA_PRUNE_MAX_UNUSED_DEFAULT }

typedef struct arca_prune_result {
	bool dry_run;
	uint64_t snapshots, trees;
	uint64_t packs_total;    /* packs in data/ before */
	uint64_t packs_deleted;  /* packs without a used blob, deleted whole */
	uint64_t packs_orphaned; /* of those, packs no index file named */
	uint64_t packs_repacked; /* packs whose used blobs were copied, then deleted */
	uint64_t packs_written;  /* new packs (dry run: estimate) */
	uint64_t blobs_used;     /* distinct blobs the snapshots reference */
	uint64_t blobs_unused;   /* indexed blobs no snapshot references */
	uint64_t blobs_repacked; /* used blobs copied into new packs */
	uint64_t bytes_before;   /* pack bytes before */
	uint64_t bytes_after;    /* pack bytes after (dry run: estimate) */
	uint64_t bytes_freed;    /* bytes_before - bytes_after */
	uint64_t bytes_repacked; /* stored bytes of the blobs copied */
	uint64_t bytes_unused_before; /* unused bytes in packs before */
	uint64_t bytes_unused_after;  /* unused bytes left in kept packs */
	uint64_t index_files_superseded; /* old index files replaced by the new one */
} arca_prune_result;

/*
 * Garbage collection: delete packs no snapshot needs, repack packs with
 * much unused data, replace every index file by one new file.  Crash-safe
 * at every point (docs/FORMAT.md, "Prune").  The caller holds the
 * exclusive lock (any lock for a dry run): ARCA_INVAL otherwise.  Refuses
 * (ARCA_CORRUPT, ARCA_NOTFOUND, with a message naming the object) when a
 * snapshot or tree cannot be read, a referenced blob is not indexed or its
 * pack is missing, an index file is damaged, or a blob to be copied is
 * damaged: what a snapshot references must not be guessed.  res is filled
 * as far as the prune got.
 */
int arca_prune(arca_repo *r, const arca_prune_opts *o, arca_prune_result *res);

/* ---- retention (forget) ----
 *
 * Which snapshots a retention policy keeps, with restic 0.14's `forget`
 * semantics (src/snapshot/retention.c explains the rules), plus arca's
 * expiry.  Pure functions: nothing here reads or deletes objects.
 * Calendar rules use the local time zone of the process (TZ).
 */

/* A calendar duration in restic's syntax "1y5m7d2h": years, months, days
 * and hours (no minutes or weeks). */
typedef struct arca_span {
	int years, months, days, hours;
} arca_span;
/* The largest value of each field arca_span_parse accepts. */
#define ARCA_SPAN_MAX 1000000 /* per field: enough for any retention, no overflow */

/*
 * Parse "1y5m7d2h": numbers each followed by y, m (months), d or h, in any
 * order; a unit given twice keeps the last value and "0d" is the zero span,
 * as in restic.  ARCA_INVAL (message names the text) on anything else,
 * including negative numbers and a number without a unit.
 */
int arca_span_parse(arca_span *out, const char *s);
bool arca_span_is_zero(const arca_span *d);
/* "1y5m7d2h" with zero fields left out ("" for the zero span). */
void arca_span_format(char *out, size_t n, const arca_span *d);

typedef struct arca_retention {
	unsigned version; /* 1 */
	/* Keep the newest snapshot of each of the N newest calendar hours,
	 * days, ISO weeks, months, years that have snapshots; last: the N
	 * newest snapshots.  0: rule not used; negative: ARCA_INVAL. */
	int last, hourly, daily, weekly, monthly, yearly;
	/* Keep every snapshot newer than (newest snapshot - within). */
	arca_span within;
	/* Keep the newest snapshot of every hour/day/week/month/year that is
	 * newer than (newest snapshot - span), with no count limit. */
	arca_span within_hourly, within_daily, within_weekly, within_monthly, within_yearly;
	/* Tag lists, each "a,b" (split at commas, blanks around tags
	 * trimmed): a snapshot having every tag of one list is kept; the list
	 * "" keeps snapshots without tags.  Borrowed; at most 64 lists. */
	const char *const *keep_tags;
	size_t nkeep_tags;
} arca_retention;

#define ARCA_RETENTION_INIT { .version = 1 }

/* No rule is set: only expired snapshots go. */
bool arca_retention_is_empty(const arca_retention *p);

/* restic's tag-list match: s has every tag of list "a,b" (split at commas,
 * blanks around tags trimmed); the empty tag matches a snapshot without
 * tags.  Used by keep_tags and by forget's --tag filter. */
bool arca_snapshot_has_tags(const arca_snapshot *s, const char *list);

/* Why a snapshot is kept; bits in the order reasons are listed. */
enum arca_keep_reason {
	ARCA_KEEP_TAGS = 1u << 0, /* which lists: arca_retention_verdict.tag_lists */
	ARCA_KEEP_WITHIN = 1u << 1,
	ARCA_KEEP_LAST = 1u << 2,
	ARCA_KEEP_HOURLY = 1u << 3,
	ARCA_KEEP_DAILY = 1u << 4,
	ARCA_KEEP_WEEKLY = 1u << 5,
	ARCA_KEEP_MONTHLY = 1u << 6,
	ARCA_KEEP_YEARLY = 1u << 7,
	ARCA_KEEP_WITHIN_HOURLY = 1u << 8,
	ARCA_KEEP_WITHIN_DAILY = 1u << 9,
	ARCA_KEEP_WITHIN_WEEKLY = 1u << 10,
	ARCA_KEEP_WITHIN_MONTHLY = 1u << 11,
	ARCA_KEEP_WITHIN_YEARLY = 1u << 12,
	ARCA_KEEP_NO_POLICY = 1u << 13, /* the policy is empty and it has not expired */
};

/* Index into arca_retention_verdict.counters. */
enum { ARCA_CNT_LAST, ARCA_CNT_HOURLY, ARCA_CNT_DAILY, ARCA_CNT_WEEKLY, ARCA_CNT_MONTHLY, ARCA_CNT_YEARLY, ARCA_CNT_N };

typedef struct arca_retention_verdict {
	bool keep;
	bool expired;       /* expires_ns <= now: removed whatever the rules say */
	uint32_t reasons;   /* enum arca_keep_reason bits; 0 when removed */
	uint64_t tag_lists; /* bit i: the snapshot has every tag of keep_tags[i] */
	/* Counts still open after this snapshot (restic's "counters"): how
	 * many more last/hourly/... snapshots the policy would keep. */
	int counters[ARCA_CNT_N];
} arca_retention_verdict;

/*
 * Apply policy p to one group of snapshots (see arca_snapshot_groups_build) and
 * write one verdict per snapshot to out[0..n), in the order of group (the
 * group need not be sorted: the rules walk it newest first, equal times by
 * id).  now_ns is the current time: snapshots whose expires_ns is set and
 * <= now_ns are expired, removed, and take no part in the rules (they fill
 * no bucket and are not "the newest" for the within rules); snapshots
 * after now_ns are not "the newest" either (restic ignores them there).
 * An empty policy keeps every snapshot that has not expired.
 * ARCA_INVAL for a bad policy (negative counts or spans, > 64 tag lists),
 * ARCA_NOMEM.
 */
int arca_retention_apply(const arca_retention *p, const arca_snapshot *const *group, size_t n, int64_t now_ns,
			 arca_retention_verdict *out);

/*
 * Call cb once per reason of verdict v, in restic's words and order:
 * "has tags [a, b]" (per matching list), "within 1y2m", "last snapshot",
 * "hourly snapshot", ... "yearly snapshot", "hourly within 2d", ...
 * "yearly within 5y", or "policy is empty".  reason is borrowed for the
 * call.  Nothing for removed snapshots.  0 or ARCA_NOMEM.
 */
int arca_retention_reasons(const arca_retention *p, const arca_retention_verdict *v,
			   void (*cb)(const char *reason, void *payload), void *payload);

/* Append the policy in restic's words ("keep 2 latest, 7 daily snapshots
 * and all snapshots within 1y of the newest") to out.  0 or ARCA_NOMEM. */
int arca_retention_describe(const arca_retention *p, arca_buf *out);

/* ---- stored retention policies ----
 *
 * A policy is a retention rule stored in the repository for the snapshots
 * a selector matches (host, tag and/or path; none set: every snapshot), so
 * `forget` without keep options applies it and a replica carries it.  Each
 * change is a new immutable object policies/<sha256> (docs/FORMAT.md,
 * "Retention policies") naming the objects it supersedes: the current
 * policy of a selector is its object that nothing supersedes.  Two writers
 * that change the same selector at once both leave a head: that is a
 * conflict, reported (never resolved silently) until the next change of
 * that selector supersedes both.
 */

#define ARCA_POLICY_LABEL "arca-policy-v1"

typedef struct arca_policy {
	arca_id id;      /* name of the object; not part of the encoding */
	int64_t time_ns; /* when it was written (required) */
	/* selector: NULL matches any */
	char *host, *tag, *path;
	/* the rules; keep.keep_tags points into keep_tag_v */
	arca_retention keep;
	char **keep_tag_v;
	size_t nkeep_tags;
	bool removed; /* a tombstone: the selector has no policy any more */
	arca_id *supersedes;
	size_t nsupersedes;
	char *author_host, *author_user; /* may be NULL */
} arca_policy;

/* Encode p (time set; keep counts and spans >= 0: ARCA_INVAL otherwise).
 * 0, ARCA_INVAL or ARCA_NOMEM. */
int arca_policy_encode(const arca_policy *p, arca_buf *out);
/* Strict decode of a policy's plaintext: *out heap-allocated (free with
 * arca_policy_free); ARCA_CORRUPT on bad input (then *out is NULL).
 * Unknown tags are skipped. */
int arca_policy_decode(arca_policy **out, const void *p, size_t n);
void arca_policy_free(arca_policy *p); /* accepts NULL */
/* Seal p and write it as policies/<id>, filling p->id.  Needs no lock. */
int arca_policy_save(arca_repo *r, arca_policy *p);
/* "host=H tag=T path=P" (set fields only) or "all snapshots". */
void arca_policy_selector_format(char *out, size_t n, const arca_policy *p);
/* Same selector (host, tag, path all equal). */
bool arca_policy_same_selector(const arca_policy *a, const arca_policy *b);
/* Same rules (and tombstone flag): two heads that agree are no conflict. */
bool arca_policy_same_rules(const arca_policy *a, const arca_policy *b);

typedef struct arca_policy_set {
	arca_policy **all; /* every readable object, oldest first */
	size_t nall;
	/* heads: objects no other supersedes, sorted by selector then time;
	 * several heads of one selector that disagree are a conflict */
	arca_policy **heads;
	size_t nheads;
} arca_policy_set;

/* Load every policies/ object (unreadable ones are skipped with a warning)
 * and find the heads.  Free with arca_policy_set_free. */
int arca_policy_set_load(arca_repo *r, arca_policy_set *out);
void arca_policy_set_free(arca_policy_set *s);
/* Whether selector of p has disagreeing heads in s. */
bool arca_policy_conflicted(const arca_policy_set *s, const arca_policy *p);

enum arca_policy_match_kind {
	ARCA_POLICY_NONE = 0,      /* no current policy matches */
	ARCA_POLICY_MATCH = 1,     /* *out is the policy */
	ARCA_POLICY_CONFLICT = 2,  /* the best selector has disagreeing heads (*out: one of them) */
	ARCA_POLICY_AMBIGUOUS = 3, /* two selectors of equal rank match (*out: one of them) */
};
/*
 * The current policy for snapshot sn: among the selectors whose set fields
 * all match (host equal, the snapshot has the tag, has the path), the most
 * specific wins, ranked path (4) + tag (2) + host (1); a selector whose
 * head is a tombstone matches nothing.  Borrowed pointer into s.
 */
int arca_policy_match(const arca_policy_set *s, const arca_snapshot *sn, const arca_policy **out);

/* ---- audit log ----
 *
 * Every backup, restore, forget, prune, check, key change and index repair
 * appends one immutable entry: its own sealed object log/<sha256 of stored
 * bytes> (docs/FORMAT.md, "Audit log"), so entries are encrypted like
 * snapshots and travel with any copy of the repository.
 */

#define ARCA_AUDIT_LABEL "arca-log-v1"

typedef struct arca_audit_entry {
	arca_id id;       /* name of the object; not part of the encoding */
	int64_t time_ns;  /* when the operation started */
	char *host;       /* may be NULL */
	char *user;       /* may be NULL */
	char *op;         /* backup, restore, forget, prune, check, key-add, ... (required) */
	char *result;     /* ok, failed, partial, damage (required) */
	arca_id *snapshots; /* snapshot ids the operation made, restored or removed */
	size_t nsnapshots;
	uint64_t bytes;       /* added (backup), restored, freed (prune) */
	uint64_t duration_ms;
	char *error;  /* NULL when none */
	char *detail; /* NULL when none */
	uint32_t exit_code;
} arca_audit_entry;

/* Encode e (op and result must be set: ARCA_INVAL otherwise), appending to
 * out.  0, ARCA_INVAL or ARCA_NOMEM. */
int arca_audit_encode(const arca_audit_entry *e, arca_buf *out);
/* Strict decode of an entry's plaintext: *out is heap-allocated (free with
 * arca_audit_free); ARCA_CORRUPT on bad input (then *out is NULL).
 * Unknown tags are skipped. */
int arca_audit_decode(arca_audit_entry **out, const void *p, size_t n);
/* Accepts NULL. */
void arca_audit_free(arca_audit_entry *e);
/* Seal e and write it as log/<id>.  Needs no lock (entries are only ever
 * added).  0 or the backend's error. */
int arca_audit_append(arca_repo *r, const arca_audit_entry *e);
/*
 * Load every entry with time_ns >= since_ns (0: all), sorted by time
 * (equal times by id).  Unreadable entries are skipped with a warning
 * through the repository's warn callback.  *out is a malloc'd array of
 * entries (caller frees with arca_audit_list_free; NULL when *n is 0).
 */
int arca_audit_list(arca_repo *r, int64_t since_ns, arca_audit_entry ***out, size_t *n);
void arca_audit_list_free(arca_audit_entry **v, size_t n);

/* ---- grouping ---- */

enum arca_group_by {
	ARCA_GROUP_HOST = 1u << 0,
	ARCA_GROUP_PATHS = 1u << 1,
	ARCA_GROUP_TAGS = 1u << 2,
};
#define ARCA_GROUP_DEFAULT (ARCA_GROUP_HOST | ARCA_GROUP_PATHS)

/* "host,paths,tags" (also "hosts", "path", "tag"; "" groups nothing:
 * one group) into enum arca_group_by bits.  ARCA_INVAL otherwise. */
int arca_group_by_parse(unsigned *out, const char *s);

typedef struct arca_snapshot_group {
	const arca_snapshot **v; /* members, newest first (equal times by id) */
	size_t n;
	/* The key.  Fields not grouped by are NULL / 0; paths and tags are
	 * sorted.  Strings are borrowed from the snapshots. */
	const char *host; /* "" for a snapshot without host */
	const char **paths;
	size_t npaths;
	const char **tags;
	size_t ntags;
} arca_snapshot_group;

typedef struct arca_snapshot_groups {
	arca_snapshot_group *v; /* sorted by host, then paths, then tags */
	size_t n;
} arca_snapshot_groups;

/*
 * Split v[0..n) into groups of snapshots with the same host, set of paths
 * and/or set of tags (by: enum arca_group_by bits; 0 makes one group of
 * all).  Two snapshots share a key when the sorted lists are equal.  The
 * groups borrow the snapshots: free the groups first.  ARCA_NOMEM.
 */
int arca_snapshot_groups_build(arca_snapshot_groups *out, const arca_snapshot *const *v, size_t n, unsigned by);
void arca_snapshot_groups_free(arca_snapshot_groups *g);

#endif
