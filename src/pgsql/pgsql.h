/*
 * pgsql/pgsql.h - the one home of libpq: connections, queries, and the
 * catalogue questions arca asks a PostgreSQL server (version, databases
 * and their sizes, exact per-table row counts, emptiness).
 *
 * Callers never see libpq types: a connection is an arca_pgsql, a result
 * an arca_pgsql_res.  libpq failures are converted here, once, into an
 * arca_status with a message that names the server (never the password)
 * and the SQLSTATE: ARCA_AUTH for rejected credentials, ARCA_NOTFOUND for
 * a database that does not exist, ARCA_TRANSIENT for a connection lost in
 * the middle (the connection is reset, so a retry may work), ARCA_ERROR
 * otherwise.  A connection is used by one thread at a time.
 */
#ifndef ARCA_PGSQL_H
#define ARCA_PGSQL_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct arca_pgsql arca_pgsql;
typedef struct arca_pgsql_res arca_pgsql_res;

/*
 * Connect with a libpq connection string: a URL ("postgres://...",
 * "postgresql://...") or "key=value ..." pairs.  dbname, when not NULL,
 * replaces the string's database.  A server that cannot be reached is
 * ARCA_ERROR with a hint; a refused password ARCA_AUTH; a missing
 * database ARCA_NOTFOUND.  *out is NULL on failure.
 */
int arca_pgsql_connect(arca_pgsql **out, const char *dsn, const char *dbname);
/* Accepts NULL. */
void arca_pgsql_close(arca_pgsql *c);

/*
 * Run one statement with parameters ($1...): values[i] (NULL for SQL
 * NULL), lengths[i] used where binary[i] is set (bytea), text otherwise
 * (lengths and binary may be NULL: all text).  binary_result asks for
 * binary columns (bytea as raw bytes, int8 as 8 big-endian bytes).  *out
 * (may be NULL when the caller needs no result) is freed with
 * arca_pgsql_res_free.
 */
int arca_pgsql_exec(arca_pgsql *c, arca_pgsql_res **out, const char *sql, int nparams,
		    const char *const *values, const int *lengths, const int *binary, bool binary_result);
/* A statement without parameters or result ("BEGIN", "COMMIT", DDL). */
int arca_pgsql_cmd(arca_pgsql *c, const char *sql);

int arca_pgsql_res_rows(const arca_pgsql_res *r);
/* Borrowed until the result is freed; "" for NULL. */
const char *arca_pgsql_res_value(const arca_pgsql_res *r, int row, int col);
size_t arca_pgsql_res_len(const arca_pgsql_res *r, int row, int col);
bool arca_pgsql_res_isnull(const arca_pgsql_res *r, int row, int col);
/* Rows a command touched (INSERT/UPDATE/DELETE). */
uint64_t arca_pgsql_res_affected(const arca_pgsql_res *r);
/* A binary int8/int4 column. */
int64_t arca_pgsql_res_int(const arca_pgsql_res *r, int row, int col);
void arca_pgsql_res_free(arca_pgsql_res *r);

/* The server's version: 150004 for 15.4 (PQserverVersion). */
int arca_pgsql_server_version_num(const arca_pgsql *c);
/* "15.4" (or "15.4 (Debian ...)"), borrowed while c is open. */
const char *arca_pgsql_server_version(const arca_pgsql *c);
/* The database this connection is on, borrowed. */
const char *arca_pgsql_dbname(const arca_pgsql *c);
/* "host:port" for messages (no credentials), borrowed. */
const char *arca_pgsql_where(const arca_pgsql *c);

/* Quote an identifier ("my table" -> "\"my table\""): caller frees. */
int arca_pgsql_quote_ident(arca_pgsql *c, const char *name, char **out);

typedef struct arca_pgsql_db {
	char *name;
	uint64_t size; /* pg_database_size */
} arca_pgsql_db;

/* Every database that accepts connections, except templates, by name.
 * *out is malloc'd: free with arca_pgsql_dbs_free. */
int arca_pgsql_databases(arca_pgsql *c, arca_pgsql_db **out, size_t *n);
void arca_pgsql_dbs_free(arca_pgsql_db *v, size_t n);

typedef struct arca_pgsql_table {
	char *schema;
	char *name;
	uint64_t rows; /* exact: SELECT count(*) */
} arca_pgsql_table;

/*
 * Every ordinary and partitioned table of the database outside the
 * system schemas, sorted by schema and name, with its exact row count
 * (counted in one REPEATABLE READ transaction, so the counts agree with
 * each other).  Partitions count their own rows and the partitioned
 * parent counts none of its own (ONLY).  Free with arca_pgsql_tables_free.
 */
int arca_pgsql_table_counts(arca_pgsql *c, arca_pgsql_table **out, size_t *n);
/* The same tables, rows left 0; and the exact count of one of them. */
int arca_pgsql_table_list(arca_pgsql *c, arca_pgsql_table **out, size_t *n);
int arca_pgsql_table_count(arca_pgsql *c, arca_pgsql_table *t);
void arca_pgsql_tables_free(arca_pgsql_table *v, size_t n);

/* Whether the database holds no user object (no table, view, sequence,
 * function, type outside the system schemas and extensions). */
int arca_pgsql_is_empty(arca_pgsql *c, bool *empty);

/*
 * The database a connection string names (dbname, or the URL's path),
 * after libpq's defaults (PGDATABASE, else the user name).  *out is
 * malloc'd.
 */
int arca_pgsql_dsn_dbname(const char *dsn, char **out);
/*
 * Rewrite a connection string as "key='value' ..." pairs with dbname
 * replaced (NULL keeps it), for handing to pg_dump/psql (-d).  With
 * password non-NULL the password is left out of *out and returned there
 * (NULL when none; to pass as PGPASSWORD, so it is not visible in the
 * process list).  Callers free both.  ARCA_INVAL when libpq cannot parse
 * dsn.
 */
int arca_pgsql_dsn_with_db(const char *dsn, const char *dbname, char **out, char **password);
/* dsn with any password replaced by "***", for messages.  Caller frees. */
char *arca_pgsql_dsn_redact(const char *dsn);

#endif
