/*
 * pg/pg.h - PostgreSQL backups, restores, verification and drills on top
 * of the snapshot layer.
 *
 * A backup runs pg_dump (plain SQL, uncompressed, so that unchanged rows
 * give unchanged chunks night after night) and streams its output into a
 * snapshot through arca_backup()'s multi-stream interface: no temporary
 * file.  One database gives one file "<db>.sql"; --all-databases adds
 * "@globals.sql" (pg_dumpall --globals-only) and one file per database,
 * all in one snapshot.  Row counts are taken through libpq in the very
 * snapshot pg_dump dumps (pg_export_snapshot + pg_dump --snapshot), so
 * they describe exactly the rows in the dump; they, the server version
 * and the database sizes go into the snapshot's source metadata (keys in
 * docs/FORMAT.md, "PostgreSQL snapshots").  A dump that exits non-zero or
 * is killed aborts the backup before the snapshot is written.
 *
 * A restore streams the file into psql (ON_ERROR_STOP, one transaction),
 * then compares every table's row count with the recorded ones.  The
 * caller must ignore SIGPIPE (a psql that dies must not kill arca).
 */
#ifndef ARCA_PG_H
#define ARCA_PG_H

#include "arca/snapshot.h"

#include <stdbool.h>
#include <stdint.h>

/* Source metadata marker: present in every PostgreSQL snapshot. */
#define ARCA_PG_FORMAT_KEY "pg.format"
#define ARCA_PG_FORMAT "plain-1"
#define ARCA_PG_GLOBALS_FILE "@globals.sql"

typedef void (*arca_pg_report_fn)(const char *line, void *payload);

typedef struct arca_pg_backup_opts {
	unsigned version; /* 1 */
	const char *dsn;
	const char *database; /* NULL: the DSN's database */
	bool all_databases;
	/* passed to arca_backup */
	const char *const *tags;
	size_t ntags;
	const char *host;
	const char *type;
	int64_t expires_ns;
	const arca_kv *meta;
	size_t nmeta;
	arca_progress_fn progress;
	void *progress_payload;
	arca_warn_fn warn;
	void *warn_payload;
} arca_pg_backup_opts;

#define ARCA_PG_BACKUP_OPTS_INIT { .version = 1 }

typedef struct arca_pg_backup_result {
	arca_backup_result backup;
	char server_version[64];
	unsigned databases;
	uint64_t tables;
	uint64_t rows;
	uint64_t db_bytes; /* sum of pg_database_size */
} arca_pg_backup_result;

/* Needs a shared lock held by the caller. */
int arca_pg_backup(arca_repo *r, const arca_pg_backup_opts *o, arca_pg_backup_result *res);

typedef struct arca_pg_restore_opts {
	unsigned version; /* 1 */
	const char *dsn;      /* target server; its database is the target */
	const char *database; /* which database of the snapshot (NULL: the only one, or all) */
	bool create;          /* create the target database when missing */
	bool clean;           /* replace the contents of a non-empty target */
	bool safety_backup;   /* snapshot (type pre_restore) of an existing target first */
	const char *host;     /* host of the safety snapshot (NULL: this host) */
	arca_pg_report_fn report; /* differences found by the verification, one per line */
	void *report_payload;
	arca_warn_fn warn;
	void *warn_payload;
} arca_pg_restore_opts;

#define ARCA_PG_RESTORE_OPTS_INIT { .version = 1, .safety_backup = true }

typedef struct arca_pg_verify_result {
	uint64_t tables;     /* tables compared */
	uint64_t rows;       /* rows counted in the target */
	uint64_t mismatches; /* differences reported */
} arca_pg_verify_result;

typedef struct arca_pg_restore_result {
	bool safety_taken;
	arca_id safety_id;
	unsigned databases;
	uint64_t bytes; /* SQL bytes streamed into psql */
	arca_pg_verify_result verify;
} arca_pg_restore_result;

/*
 * Restore snapshot s (a PostgreSQL snapshot) into the server of o->dsn.
 * A single database (o->database, or the only one) goes into the DSN's
 * database; without o->database an --all-databases snapshot restores the
 * globals and every database under its own name.  Refuses a non-empty
 * target without o->clean and a missing one without o->create (or in
 * all-databases mode, where missing databases are created).  Returns 0
 * once restored and verified: res->verify.mismatches tells whether the
 * row counts agree (each difference went to o->report).
 */
int arca_pg_restore(arca_repo *r, const arca_snapshot *s, const arca_pg_restore_opts *o,
		    arca_pg_restore_result *res);

/*
 * Compare the row counts of database `database` of snapshot s (NULL: its
 * only database; ARCA_INVAL when it has several) with those
 * of the database the DSN names (target_db NULL) or target_db on that
 * server.  Differences (missing or extra tables, other counts) go to
 * report.  0 with res->mismatches set; an error only when it cannot ask.
 */
int arca_pg_verify(const arca_snapshot *s, const char *database, const char *dsn, const char *target_db,
		   arca_pg_report_fn report, void *payload, arca_pg_verify_result *res);

typedef struct arca_pg_drill_result {
	unsigned databases;
	uint64_t bytes;
	double seconds; /* measured recovery time: create + restore + verify */
	arca_pg_verify_result verify;
	char scratch[128]; /* name of the (last) scratch database */
} arca_pg_drill_result;

/*
 * Restore every database of s (or only `database`) into a scratch
 * database with a unique name on the server of admin_dsn, verify the row
 * counts, and drop the scratch database, also on failure.
 */
int arca_pg_drill(arca_repo *r, const arca_snapshot *s, const char *database, const char *admin_dsn,
		  arca_pg_report_fn report, void *payload, arca_pg_drill_result *res);

/* Whether s is a PostgreSQL snapshot (has ARCA_PG_FORMAT_KEY). */
bool arca_pg_is_snapshot(const arca_snapshot *s);

#endif
