/*
 * pg/pg.c - PostgreSQL backup, restore, verification and drills (see
 * pg.h for the design; docs/FORMAT.md "PostgreSQL snapshots" for the
 * metadata keys).
 *
 * Names of databases, schemas and tables go into metadata keys and file
 * names percent-escaped ('%', '.', '/', '@' and control bytes as %XX), so
 * "pg.rows.<db>.<schema>.<table>" splits unambiguously on '.' and no file
 * name can collide with "@globals.sql".
 */
#include "pg/pg.h"
#include "pg/copy_scan.h"
#include "pg/pg_proc.h"
#include "pgsql/pgsql.h"
#include "util/buf.h"
#include "util/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

/* ---- small helpers ---- */

typedef struct kvec {
	arca_kv *v;
	size_t n, cap;
} kvec;

static int kv_add(kvec *k, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int kv_add(kvec *k, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *val = NULL;
	int l, rc;
	if ((rc = arca_grow(&k->v, &k->cap, k->n + 1, sizeof(*k->v), 32)))
		return rc;
	va_start(ap, fmt);
	l = vasprintf(&val, fmt, ap);
	va_end(ap);
	if (l < 0 || !(k->v[k->n].key = strdup(key))) {
		free(l < 0 ? NULL : val);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	k->v[k->n++].value = val;
	return 0;
}

static void kv_free(kvec *k)
{
	size_t i;
	for (i = 0; i < k->n; i++) {
		free(k->v[i].key);
		free(k->v[i].value);
	}
	free(k->v);
	memset(k, 0, sizeof(*k));
}

/* Percent-escape a name for a metadata key component or a file name. */
static char *esc(const char *s)
{
	arca_buf b = ARCA_BUF_INIT;
	const unsigned char *p;
	for (p = (const unsigned char *)s; *p; p++) {
		if (*p == '%' || *p == '.' || *p == '/' || *p == '@' || *p < 0x20 || *p == 0x7f)
			arca_buf_printf(&b, "%%%02X", *p);
		else
			arca_buf_put(&b, p, 1);
	}
	if (arca_buf_cstr(&b)) {
		arca_buf_free(&b);
		return NULL;
	}
	return (char *)arca_buf_detach(&b, NULL);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescape s[0..n) into a new string. */
static char *unesc(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;
	size_t i;
	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			*o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

static const char *source_get(const arca_snapshot *s, const char *key)
{
	size_t i;
	for (i = 0; i < s->nsource; i++)
		if (!strcmp(s->source[i].key, key))
			return s->source[i].value;
	return NULL;
}

bool arca_pg_is_snapshot(const arca_snapshot *s) { return source_get(s, ARCA_PG_FORMAT_KEY) != NULL; }

static int server_major(const arca_pgsql *c)
{
	int v = arca_pgsql_server_version_num(c);
	return v >= 100000 ? v / 10000 : v / 100; /* 9.6 -> 9 */
}

/* ---- backup ---- */

typedef struct pgb pgb;

typedef struct dump_job {
	pgb *b;
	char *db;   /* NULL: the globals */
	char *file; /* name in the snapshot */
	pg_copy_scan copies; /* the dump's COPY blocks, counted as it streams */
	uint64_t size;
	pg_proc proc;
	arca_pgsql *snapc; /* holds the exported snapshot until the dump ends */
} dump_job;

struct pgb {
	const arca_pg_backup_opts *o;
	arca_backup_opts *bo;
	kvec src;
	char pg_dump[512], pg_dumpall[512];
	int major;
	arca_pg_backup_result *res;
};

static void dump_observe(void *payload, const void *p, size_t n)
{
	pg_copy_scan_feed(&((dump_job *)payload)->copies, p, n);
}

/* Exact row counts of every table of j->db into the snapshot's source
 * metadata, once pg_dump has finished: the lines of each table's COPY block
 * in the dump; a table without one (which pg_dump does not produce) is
 * counted with count(*) in the dump's own snapshot, still open on snapc. */
static int record_counts(dump_job *j)
{
	pgb *b = j->b;
	arca_pgsql_table *t = NULL;
	size_t nt = 0, i;
	char key[1024], *edb = esc(j->db);
	int rc = edb ? 0 : arca_error_set(ARCA_NOMEM, "out of memory");
	if (!rc)
		rc = arca_pgsql_table_list(j->snapc, &t, &nt);
	for (i = 0; i < nt && !rc; i++) {
		char *es = esc(t[i].schema), *et = esc(t[i].name);
		int seen = pg_copy_scan_rows(&j->copies, t[i].schema, t[i].name, &t[i].rows);
		if (seen < 0)
			rc = seen;
		else if (!seen)
			rc = arca_pgsql_table_count(j->snapc, &t[i]);
		if (!rc && (!es || !et))
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
		if (!rc) {
			snprintf(key, sizeof(key), "pg.rows.%s.%s.%s", edb, es, et);
			rc = kv_add(&b->src, key, "%llu", (unsigned long long)t[i].rows);
			b->res->rows += t[i].rows;
		}
		free(es);
		free(et);
	}
	if (!rc) {
		b->res->tables += nt;
		snprintf(key, sizeof(key), "pg.db.%s.tables", edb);
		rc = kv_add(&b->src, key, "%zu", nt);
	}
	arca_pgsql_tables_free(t, nt);
	free(edb);
	return rc;
}

static int dump_open(void *payload, int *fd)
{
	dump_job *j = payload;
	pgb *b = j->b;
	char *conninfo = NULL, *password = NULL, *snapid = NULL;
	arca_pgsql_res *res = NULL;
	int rc;

	*fd = -1;
	if ((rc = arca_pgsql_dsn_with_db(b->o->dsn, j->db, &conninfo, &password)))
		goto out;
	if (j->db) {
		/* export the snapshot pg_dump will use: its table list (and a count
		 * for any table without a COPY block) is read in it afterwards */
		if ((rc = arca_pgsql_connect(&j->snapc, b->o->dsn, j->db)) ||
		    (rc = arca_pgsql_cmd(j->snapc, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")) ||
		    (rc = arca_pgsql_exec(j->snapc, &res, "SELECT pg_export_snapshot()", 0, NULL, NULL, NULL, false)))
			goto out;
		if (!(snapid = strdup(arca_pgsql_res_value(res, 0, 0)))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		{
			char snaparg[256];
			char *argv[] = { b->pg_dump, (char *)"--no-password", (char *)"--format=plain", snaparg,
					 (char *)"-d", conninfo, NULL };
			snprintf(snaparg, sizeof(snaparg), "--snapshot=%s", snapid);
			rc = pg_proc_start(&j->proc, argv, PG_PROC_READ, password);
		}
	} else {
		char *argv[] = { b->pg_dumpall, (char *)"--no-password", (char *)"--globals-only", (char *)"-d", conninfo,
				 NULL };
		rc = pg_proc_start(&j->proc, argv, PG_PROC_READ, password);
	}
	if (!rc)
		*fd = j->proc.fd;
out:
	if (rc && j->snapc) {
		arca_pgsql_close(j->snapc);
		j->snapc = NULL;
	}
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	arca_pgsql_res_free(res);
	free(conninfo);
	free(snapid);
	return rc;
}

static int dump_close(void *payload, int fd, bool ok)
{
	dump_job *j = payload;
	char what[600];
	int rc;
	(void)fd; /* j->proc owns it */
	if (j->db)
		snprintf(what, sizeof(what), "the dump of database \"%s\"", j->db);
	else
		snprintf(what, sizeof(what), "the dump of the globals (roles, tablespaces)");
	rc = pg_proc_finish(&j->proc, !ok, what, NULL);
	if (!rc && j->db)
		rc = record_counts(j);
	if (j->snapc) {
		if (!rc)
			rc = arca_pgsql_cmd(j->snapc, "COMMIT");
		arca_pgsql_close(j->snapc);
		j->snapc = NULL;
	}
	if (rc)
		arca_error_hint(rc, "no snapshot was saved");
	return rc;
}

static int set_source(void *payload)
{
	pgb *b = payload;
	b->bo->source = b->src.v;
	b->bo->nsource = b->src.n;
	return 0;
}

int arca_pg_backup(arca_repo *r, const arca_pg_backup_opts *o, arca_pg_backup_result *res)
{
	arca_backup_opts bo = ARCA_BACKUP_OPTS_INIT;
	pgb b;
	arca_pgsql *c = NULL;
	arca_pgsql_db *dbs = NULL;
	size_t ndbs = 0, i, njobs = 0;
	dump_job *jobs = NULL;
	arca_backup_stream *streams = NULL;
	char *dsn_db = NULL, version[256] = "", key[1024];
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&b, 0, sizeof(b));
	b.o = o;
	b.bo = &bo;
	b.res = res;
	if (!o->dsn || !*o->dsn)
		return arca_error_set(ARCA_INVAL, "no PostgreSQL connection given (--dsn)");
	if ((rc = arca_pgsql_connect(&c, o->dsn, o->all_databases ? NULL : o->database)))
		return rc;
	b.major = server_major(c);
	snprintf(res->server_version, sizeof(res->server_version), "%s", arca_pgsql_server_version(c));
	if ((rc = pg_find_tool("pg_dump", b.major, b.major, b.pg_dump, sizeof(b.pg_dump), version, sizeof(version))))
		goto out;
	if (o->all_databases &&
	    (rc = pg_find_tool("pg_dumpall", b.major, b.major, b.pg_dumpall, sizeof(b.pg_dumpall), NULL, 0)))
		goto out;
	if ((rc = arca_pgsql_databases(c, &dbs, &ndbs)))
		goto out;
	if ((rc = kv_add(&b.src, ARCA_PG_FORMAT_KEY, "%s", ARCA_PG_FORMAT)) ||
	    (rc = kv_add(&b.src, "pg.server_version", "%s", arca_pgsql_server_version(c))) ||
	    (rc = kv_add(&b.src, "pg.server_version_num", "%d", arca_pgsql_server_version_num(c))) ||
	    (rc = kv_add(&b.src, "pg.server", "%s", arca_pgsql_where(c))) ||
	    (rc = kv_add(&b.src, "pg.pg_dump", "%s", version)) ||
	    (rc = kv_add(&b.src, "pg.mode", "%s", o->all_databases ? "all" : "database")))
		goto out;

	if (!(jobs = calloc(ndbs + 2, sizeof(*jobs))) || !(streams = calloc(ndbs + 2, sizeof(*streams)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	if (o->all_databases) {
		jobs[njobs].file = strdup(ARCA_PG_GLOBALS_FILE);
		if (!jobs[njobs++].file || (rc = kv_add(&b.src, "pg.globals", "%s", ARCA_PG_GLOBALS_FILE))) {
			rc = rc ? rc : arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
	}
	if (!o->all_databases && (rc = arca_pgsql_dsn_dbname(o->dsn, &dsn_db)))
		goto out;
	for (i = 0; i < ndbs; i++) {
		const char *want = o->database ? o->database : dsn_db;
		char *e;
		if (!o->all_databases && strcmp(dbs[i].name, want))
			continue;
		if (!(e = esc(dbs[i].name))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		jobs[njobs].db = strdup(dbs[i].name);
		if (asprintf(&jobs[njobs].file, "%s.sql", e) < 0)
			jobs[njobs].file = NULL;
		snprintf(key, sizeof(key), "pg.db.%s.file", e);
		rc = kv_add(&b.src, key, "%s", jobs[njobs].file ? jobs[njobs].file : "");
		snprintf(key, sizeof(key), "pg.db.%s.size", e);
		if (!rc)
			rc = kv_add(&b.src, key, "%llu", (unsigned long long)dbs[i].size);
		free(e);
		if (!jobs[njobs].db || !jobs[njobs].file) {
			njobs++;
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		njobs++;
		if (rc)
			goto out;
		res->databases++;
		res->db_bytes += dbs[i].size;
	}
	if (!res->databases) {
		rc = arca_error_set(ARCA_NOTFOUND, "database \"%s\" not found on %s", o->database ? o->database : dsn_db,
				    arca_pgsql_where(c));
		goto out;
	}
	/* pg_dump opens its own connections; ours is not needed meanwhile */
	arca_pgsql_close(c);
	c = NULL;
	for (i = 0; i < njobs; i++) {
		jobs[i].b = &b;
		jobs[i].proc.fd = jobs[i].proc.errfd = -1;
		streams[i].name = jobs[i].file;
		streams[i].open = dump_open;
		streams[i].close = dump_close;
		streams[i].payload = &jobs[i];
		if (jobs[i].db) {
			pg_copy_scan_init(&jobs[i].copies);
			streams[i].observe = dump_observe;
		}
	}
	bo.streams = streams;
	bo.nstreams = njobs;
	bo.tags = o->tags;
	bo.ntags = o->ntags;
	bo.host = o->host;
	bo.type = o->type;
	bo.expires_ns = o->expires_ns;
	bo.meta = o->meta;
	bo.nmeta = o->nmeta;
	bo.progress = o->progress;
	bo.progress_payload = o->progress_payload;
	bo.warn = o->warn;
	bo.warn_payload = o->warn_payload;
	/* the streams add row counts to b.src while they run: before_commit
	 * hands the final list to arca_backup */
	bo.before_commit = set_source;
	bo.commit_payload = &b;
	rc = arca_backup(r, &bo, &res->backup);
out:
	for (i = 0; jobs && i < njobs; i++) {
		if (jobs[i].proc.pid > 0 || jobs[i].proc.fd >= 0 || jobs[i].proc.errfd >= 0)
			pg_proc_finish(&jobs[i].proc, true, "dump", NULL);
		pg_copy_scan_free(&jobs[i].copies);
		arca_pgsql_close(jobs[i].snapc);
		free(jobs[i].db);
		free(jobs[i].file);
	}
	free(jobs);
	free(streams);
	free(dsn_db);
	kv_free(&b.src);
	arca_pgsql_dbs_free(dbs, ndbs);
	arca_pgsql_close(c);
	return rc;
}

/* ---- reading what a snapshot holds ---- */

typedef struct snap_db {
	char *name;
	char *file;
} snap_db;

static void snap_dbs_free(snap_db *v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].file);
	}
	free(v);
}

/* The databases of s ("pg.db.<db>.file" keys), in metadata order. */
static int snap_dbs(const arca_snapshot *s, snap_db **out, size_t *n)
{
	snap_db *v = calloc(s->nsource ? s->nsource : 1, sizeof(*v));
	size_t i, k = 0;
	*out = NULL;
	*n = 0;
	if (!v)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	if (!arca_pg_is_snapshot(s)) {
		free(v);
		return arca_error_hint(arca_error_set(ARCA_INVAL, "snapshot is not a PostgreSQL backup"),
				       "take one with 'arca pg backup'");
	}
	for (i = 0; i < s->nsource; i++) {
		const char *key = s->source[i].key, *end;
		size_t kl = strlen(key);
		if (strncmp(key, "pg.db.", 6) || kl < 12 || strcmp(key + kl - 5, ".file"))
			continue;
		end = key + kl - 5;
		v[k].name = unesc(key + 6, (size_t)(end - (key + 6)));
		v[k].file = strdup(s->source[i].value);
		if (!v[k].name || !v[k].file) {
			snap_dbs_free(v, k + 1);
			return arca_error_set(ARCA_NOMEM, "out of memory");
		}
		k++;
	}
	*out = v;
	*n = k;
	return 0;
}

/* ---- verification ---- */

static int cmp_table(const void *a, const void *b)
{
	const arca_pgsql_table *x = a, *y = b;
	int c = strcmp(x->schema, y->schema);
	return c ? c : strcmp(x->name, y->name);
}

/* The row counts recorded for database db. */
static int snap_tables(const arca_snapshot *s, const char *db, arca_pgsql_table **out, size_t *n)
{
	char *edb = esc(db), prefix[1100];
	arca_pgsql_table *v = calloc(s->nsource ? s->nsource : 1, sizeof(*v));
	size_t i, k = 0, pl;
	*out = NULL;
	*n = 0;
	if (!edb || !v) {
		free(edb);
		free(v);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	snprintf(prefix, sizeof(prefix), "pg.rows.%s.", edb);
	free(edb);
	pl = strlen(prefix);
	for (i = 0; i < s->nsource; i++) {
		const char *rest = s->source[i].key + pl, *dot;
		if (strncmp(s->source[i].key, prefix, pl) || !(dot = strchr(rest, '.')) || strchr(dot + 1, '.'))
			continue;
		v[k].schema = unesc(rest, (size_t)(dot - rest));
		v[k].name = unesc(dot + 1, strlen(dot + 1));
		v[k].rows = strtoull(s->source[i].value, NULL, 10);
		if (!v[k].schema || !v[k].name) {
			arca_pgsql_tables_free(v, k + 1);
			return arca_error_set(ARCA_NOMEM, "out of memory");
		}
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_table);
	*out = v;
	*n = k;
	return 0;
}

static void report(arca_pg_report_fn fn, void *payload, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void report(arca_pg_report_fn fn, void *payload, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (fn)
		fn(line, payload);
}

int arca_pg_verify(const arca_snapshot *s, const char *database, const char *dsn, const char *target_db,
		   arca_pg_report_fn rep, void *payload, arca_pg_verify_result *res)
{
	arca_pgsql_table *want = NULL, *have = NULL;
	size_t nw = 0, nh = 0, i = 0, k = 0, ndbs = 0;
	arca_pgsql *c = NULL;
	snap_db *dbs = NULL;
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = snap_dbs(s, &dbs, &ndbs)))
		return rc;
	if (!database && ndbs != 1) {
		snap_dbs_free(dbs, ndbs);
		return arca_error_hint(arca_error_set(ARCA_INVAL, "the snapshot holds %zu databases", ndbs),
				       "name one with --database");
	}
	if (!database)
		database = dbs[0].name;
	if ((rc = snap_tables(s, database, &want, &nw)) || (rc = arca_pgsql_connect(&c, dsn, target_db)) ||
	    (rc = arca_pgsql_table_counts(c, &have, &nh)))
		goto out;
	qsort(have, nh, sizeof(*have), cmp_table);
	while (i < nw || k < nh) {
		int d = i == nw ? 1 : k == nh ? -1 : cmp_table(&want[i], &have[k]);
		if (d < 0) {
			report(rep, payload, "%s: table %s.%s is missing (%llu rows in the snapshot)", database,
			       want[i].schema, want[i].name, (unsigned long long)want[i].rows);
			res->mismatches++;
			i++;
		} else if (d > 0) {
			report(rep, payload, "%s: table %s.%s is not in the snapshot (%llu rows in the database)",
			       database, have[k].schema, have[k].name, (unsigned long long)have[k].rows);
			res->mismatches++;
			res->rows += have[k].rows;
			k++;
		} else {
			res->tables++;
			res->rows += have[k].rows;
			if (want[i].rows != have[k].rows) {
				report(rep, payload, "%s: table %s.%s has %llu rows, the snapshot has %llu", database,
				       want[i].schema, want[i].name, (unsigned long long)have[k].rows,
				       (unsigned long long)want[i].rows);
				res->mismatches++;
			}
			i++;
			k++;
		}
	}
out:
	arca_pgsql_tables_free(want, nw);
	arca_pgsql_tables_free(have, nh);
	arca_pgsql_close(c);
	snap_dbs_free(dbs, ndbs);
	return rc;
}

/* ---- restore ---- */

/* Stream file of snapshot s into psql connected to database db of dsn. */
static int restore_file(arca_repo *r, const arca_snapshot *s, const char *file, const char *dsn, const char *db,
			bool globals, uint64_t *bytes, arca_warn_fn warn, void *warn_payload)
{
	arca_repo_reader *rd = NULL;
	arca_node node;
	char psql[512], path[1100], *conninfo = NULL, *password = NULL, what[600], *err = NULL;
	pg_proc proc;
	int rc, prc;

	memset(&node, 0, sizeof(node));
	proc.pid = 0;
	proc.fd = proc.errfd = -1;
	snprintf(path, sizeof(path), "/%s", file);
	if ((rc = pg_find_tool("psql", 0, 0, psql, sizeof(psql), NULL, 0)) || (rc = arca_repo_reader_new(&rd, r)) ||
	    (rc = arca_lookup_path(rd, &s->tree, path, &node)) ||
	    (rc = arca_pgsql_dsn_with_db(dsn, db, &conninfo, &password)))
		goto out;
	if (globals) {
		char *argv[] = { psql, (char *)"--no-psqlrc", (char *)"--no-password", (char *)"--quiet",
				 (char *)"-f", (char *)"-", (char *)"-d", conninfo, NULL };
		rc = pg_proc_start(&proc, argv, PG_PROC_WRITE, password);
	} else {
		char *argv[] = { psql, (char *)"--no-psqlrc", (char *)"--no-password", (char *)"--quiet",
				 (char *)"--set=ON_ERROR_STOP=1", (char *)"--single-transaction", (char *)"-f",
				 (char *)"-", (char *)"-d", conninfo, NULL };
		rc = pg_proc_start(&proc, argv, PG_PROC_WRITE, password);
	}
	if (rc)
		goto out;
	arca_repo_reader_trust_aead(rd);
	rc = arca_dump_file(rd, &node, proc.fd);
	if (globals)
		snprintf(what, sizeof(what), "restoring the globals");
	else
		snprintf(what, sizeof(what), "restoring %s into database \"%s\"", file, db ? db : "");
	prc = pg_proc_finish(&proc, false, what, &err);
	if (prc)
		rc = prc; /* psql's own message says more than a broken pipe */
	if (!rc && bytes)
		*bytes += node.size;
	if (!rc && globals && err && warn) {
		/* without ON_ERROR_STOP: roles that exist already fail harmlessly */
		unsigned nerr = 0;
		char *first = NULL, *p;
		for (p = strstr(err, "ERROR:"); p; p = strstr(p + 1, "ERROR:")) {
			if (!nerr++)
				first = p;
		}
		if (nerr) {
			char msg[700];
			first[strcspn(first, "\n")] = '\0';
			snprintf(msg, sizeof(msg), "%u statement(s) of the globals failed (usually roles that exist "
				 "already), the first: %.500s", nerr, first);
			warn(msg, warn_payload);
		}
	}
out:
	free(err);
	if (proc.pid > 0 || proc.errfd >= 0)
		pg_proc_finish(&proc, true, "psql", NULL);
	if (password) {
		memset(password, 0, strlen(password));
		free(password);
	}
	free(conninfo);
	arca_node_clear(&node);
	arca_repo_reader_free(rd);
	return rc;
}

/* An admin connection for CREATE/DROP DATABASE: "postgres", else "template1". */
static int admin_connect(arca_pgsql **out, const char *dsn)
{
	int rc = arca_pgsql_connect(out, dsn, "postgres");
	if (rc == ARCA_NOTFOUND)
		rc = arca_pgsql_connect(out, dsn, "template1");
	return rc;
}

static int db_ddl(arca_pgsql *admin, const char *fmt, const char *db)
{
	char *q = NULL, *sql = NULL;
	int rc;
	if ((rc = arca_pgsql_quote_ident(admin, db, &q)))
		return rc;
	if (asprintf(&sql, fmt, q) < 0) {
		free(q);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	rc = arca_pgsql_cmd(admin, sql);
	free(sql);
	free(q);
	return rc;
}

static int drop_db(arca_pgsql *admin, const char *db)
{
	/* WITH (FORCE) (13+) ends sessions a failed psql may have left */
	return db_ddl(admin,
		      arca_pgsql_server_version_num(admin) >= 130000 ? "DROP DATABASE IF EXISTS %s WITH (FORCE)"
								       : "DROP DATABASE IF EXISTS %s",
		      db);
}

/*
 * --clean: drop every user schema (public too) with everything in it, then
 * give back an empty public schema with the server's default rights.
 */
static int clean_db(arca_pgsql *c)
{
	arca_pgsql_res *r = NULL;
	int rc, i;
	if ((rc = arca_pgsql_exec(c, &r,
				  "SELECT n.nspname FROM pg_namespace n WHERE n.nspname NOT IN ('pg_catalog', "
				  "'information_schema') AND n.nspname !~ '^pg_(toast|temp)' AND NOT EXISTS (SELECT 1 "
				  "FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND "
				  "d.deptype = 'e')",
				  0, NULL, NULL, NULL, false)))
		return rc;
	for (i = 0; i < arca_pgsql_res_rows(r) && !rc; i++)
		rc = db_ddl(c, "DROP SCHEMA %s CASCADE", arca_pgsql_res_value(r, i, 0));
	arca_pgsql_res_free(r);
	if (!rc && !(rc = arca_pgsql_cmd(c, "CREATE SCHEMA public")))
		rc = arca_pgsql_cmd(c, "COMMENT ON SCHEMA public IS 'standard public schema'");
	if (!rc && arca_pgsql_server_version_num(c) >= 150000) {
		if (!(rc = arca_pgsql_cmd(c, "ALTER SCHEMA public OWNER TO pg_database_owner")))
			rc = arca_pgsql_cmd(c, "GRANT USAGE ON SCHEMA public TO PUBLIC");
	} else if (!rc)
		rc = arca_pgsql_cmd(c, "GRANT ALL ON SCHEMA public TO PUBLIC");
	if (rc)
		arca_error_prefix(rc, "cleaning database \"%s\"", arca_pgsql_dbname(c));
	return rc;
}

/* State of one target database before a restore. */
typedef struct target {
	const snap_db *src;
	const char *name; /* target database name */
	bool exists, empty;
} target;

static int probe_target(const char *dsn, target *t)
{
	arca_pgsql *c = NULL;
	int rc = arca_pgsql_connect(&c, dsn, t->name);
	t->exists = t->empty = false;
	if (rc == ARCA_NOTFOUND) {
		arca_error_clear();
		return 0;
	}
	if (rc)
		return rc;
	t->exists = true;
	rc = arca_pgsql_is_empty(c, &t->empty);
	arca_pgsql_close(c);
	return rc;
}

static int restore_one(arca_repo *r, const arca_snapshot *s, const arca_pg_restore_opts *o, target *t,
		       arca_pg_restore_result *res)
{
	arca_pg_verify_result vr;
	arca_pgsql *c = NULL;
	int rc = 0;
	if (!t->exists) {
		if ((rc = admin_connect(&c, o->dsn)) || (rc = db_ddl(c, "CREATE DATABASE %s", t->name)))
			goto out;
	} else if (!t->empty) {
		if ((rc = arca_pgsql_connect(&c, o->dsn, t->name)) || (rc = clean_db(c)))
			goto out;
	}
	arca_pgsql_close(c);
	c = NULL;
	if ((rc = restore_file(r, s, t->src->file, o->dsn, t->name, false, &res->bytes, o->warn, o->warn_payload)) ||
	    (rc = arca_pg_verify(s, t->src->name, o->dsn, t->name, o->report, o->report_payload, &vr)))
		goto out;
	res->databases++;
	res->verify.tables += vr.tables;
	res->verify.rows += vr.rows;
	res->verify.mismatches += vr.mismatches;
out:
	arca_pgsql_close(c);
	return rc;
}

int arca_pg_restore(arca_repo *r, const arca_snapshot *s, const arca_pg_restore_opts *o,
		    arca_pg_restore_result *res)
{
	snap_db *dbs = NULL;
	target *t = NULL;
	size_t ndbs = 0, nt = 0, i;
	char *dsn_db = NULL;
	const char *globals = source_get(s, "pg.globals");
	bool all, any_exists = false;
	arca_buf refused = ARCA_BUF_INIT;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!o->dsn || !*o->dsn)
		return arca_error_set(ARCA_INVAL, "no target PostgreSQL connection given (--dsn)");
	if ((rc = snap_dbs(s, &dbs, &ndbs)) || (rc = arca_pgsql_dsn_dbname(o->dsn, &dsn_db)))
		goto out;
	if (!ndbs) {
		rc = arca_error_set(ARCA_CORRUPT, "the snapshot names no database");
		goto out;
	}
	all = !o->database && ndbs > 1;
	if (!(t = calloc(ndbs, sizeof(*t)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < ndbs; i++) {
		if (o->database && strcmp(dbs[i].name, o->database))
			continue;
		t[nt].src = &dbs[i];
		t[nt].name = all ? dbs[i].name : dsn_db;
		nt++;
	}
	if (!nt) {
		arca_buf names = ARCA_BUF_INIT;
		for (i = 0; i < ndbs; i++)
			arca_buf_printf(&names, "%s%s", i ? ", " : "", dbs[i].name);
		arca_buf_cstr(&names);
		rc = arca_error_set(ARCA_NOTFOUND, "the snapshot has no database \"%s\" (it has: %s)", o->database,
				    names.data ? (char *)names.data : "");
		arca_buf_free(&names);
		goto out;
	}
	/* refuse before changing anything */
	for (i = 0; i < nt; i++) {
		if ((rc = probe_target(o->dsn, &t[i])))
			goto out;
		any_exists |= t[i].exists;
		if (!t[i].exists && !o->create && !all) {
			rc = arca_error_hint(arca_error_set(ARCA_NOTFOUND, "target database \"%s\" does not exist",
							    t[i].name),
					     "add --create to create it");
			goto out;
		}
		if (t[i].exists && !t[i].empty && !o->clean)
			arca_buf_printf(&refused, "%s\"%s\"", refused.len ? ", " : "", t[i].name);
	}
	if (refused.len) {
		arca_buf_cstr(&refused);
		rc = arca_error_hint(arca_error_set(ARCA_EXISTS, "target database %s is not empty", (char *)refused.data),
				     "add --clean to replace its contents (a safety backup is taken first)");
		goto out;
	}
	if (any_exists && o->safety_backup) {
		arca_pg_backup_opts bo = ARCA_PG_BACKUP_OPTS_INIT;
		arca_pg_backup_result br;
		static const char *const tags[] = { "safety-backup" };
		bo.dsn = o->dsn;
		bo.all_databases = all;
		bo.type = "pre_restore";
		bo.tags = tags;
		bo.ntags = 1;
		bo.host = o->host;
		bo.warn = o->warn;
		bo.warn_payload = o->warn_payload;
		if ((rc = arca_pg_backup(r, &bo, &br))) {
			arca_error_prefix(rc, "safety backup of the target failed, nothing was restored");
			goto out;
		}
		res->safety_taken = true;
		res->safety_id = br.backup.snapshot_id;
	}
	if (all && globals && (rc = restore_file(r, s, globals, o->dsn, NULL, true, &res->bytes, o->warn, o->warn_payload)))
		goto out;
	for (i = 0; i < nt && !rc; i++)
		rc = restore_one(r, s, o, &t[i], res);
out:
	arca_buf_free(&refused);
	free(t);
	free(dsn_db);
	snap_dbs_free(dbs, ndbs);
	return rc;
}

/* ---- drill ---- */

int arca_pg_drill(arca_repo *r, const arca_snapshot *s, const char *database, const char *admin_dsn,
		  arca_pg_report_fn rep, void *payload, arca_pg_drill_result *res)
{
	snap_db *dbs = NULL;
	size_t ndbs = 0, i;
	char **scratch = NULL;
	arca_pgsql *admin = NULL;
	uint32_t rnd = 0;
	double t0 = arca_monotonic();
	int rc;

	memset(res, 0, sizeof(*res));
	if (!admin_dsn || !*admin_dsn)
		return arca_error_set(ARCA_INVAL, "no PostgreSQL connection given (--dsn)");
	if ((rc = snap_dbs(s, &dbs, &ndbs)) || (rc = arca_pgsql_connect(&admin, admin_dsn, NULL)))
		goto out;
	if (!(scratch = calloc(ndbs ? ndbs : 1, sizeof(char *)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	if (getrandom(&rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		rnd = (uint32_t)getpid() ^ (uint32_t)arca_time_now_ns();
	for (i = 0; i < ndbs && !rc; i++) {
		arca_pg_verify_result vr;
		if (database && strcmp(dbs[i].name, database))
			continue;
		if (asprintf(&scratch[i], "arca_drill_%08x_%zu", rnd, i) < 0) {
			scratch[i] = NULL;
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			break;
		}
		snprintf(res->scratch, sizeof(res->scratch), "%s", scratch[i]);
		if ((rc = db_ddl(admin, "CREATE DATABASE %s", scratch[i]))) {
			free(scratch[i]);
			scratch[i] = NULL;
			break;
		}
		if ((rc = restore_file(r, s, dbs[i].file, admin_dsn, scratch[i], false, &res->bytes, NULL, NULL)) ||
		    (rc = arca_pg_verify(s, dbs[i].name, admin_dsn, scratch[i], rep, payload, &vr)))
			break;
		res->databases++;
		res->verify.tables += vr.tables;
		res->verify.rows += vr.rows;
		res->verify.mismatches += vr.mismatches;
	}
	if (!rc && !res->databases)
		rc = arca_error_set(ARCA_NOTFOUND, "the snapshot has no database \"%s\"", database ? database : "");
	res->seconds = arca_monotonic() - t0;
out:
	for (i = 0; scratch && i < ndbs; i++) {
		if (!scratch[i])
			continue;
		if (admin && drop_db(admin, scratch[i])) {
			/* keep the drill's own error; a leftover is worth a report line */
			char line[300];
			snprintf(line, sizeof(line), "could not drop the scratch database \"%s\"", scratch[i]);
			if (rep)
				rep(line, payload);
			if (!rc)
				rc = arca_error_code();
		}
		free(scratch[i]);
	}
	free(scratch);
	arca_pgsql_close(admin);
	snap_dbs_free(dbs, ndbs);
	return rc;
}
