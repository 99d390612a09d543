/*
 * pgsql/pgsql.c - libpq behind arca's conventions (see pgsql.h).
 *
 * Every libpq failure is turned into an arca_status here: connection
 * failures by what libpq reports (needs a password, authentication
 * failed, database missing, unreachable), statement failures by SQLSTATE
 * class.  Messages name host:port and never the password.
 */
#include "pgsql/pgsql.h"
#include "arca/error.h"

#include "util/dynlib.h"

#include <libpq-fe.h>

#include <pthread.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* libpq is loaded on first use (util/dynlib.h): a process that never
 * touches PostgreSQL does not map it and its dependencies.  Every entry
 * point that calls libpq without a connection in hand calls pq_load(). */
static struct {
	__typeof__(PQclear) *clear;
	__typeof__(PQcmdTuples) *cmdTuples;
	__typeof__(PQconnectdbParams) *connectdbParams;
	__typeof__(PQconnectionNeedsPassword) *connectionNeedsPassword;
	__typeof__(PQconninfoFree) *conninfoFree;
	__typeof__(PQconninfoParse) *conninfoParse;
	__typeof__(PQdb) *db;
	__typeof__(PQerrorMessage) *errorMessage;
	__typeof__(PQescapeIdentifier) *escapeIdentifier;
	__typeof__(PQexecParams) *execParams;
	__typeof__(PQfinish) *finish;
	__typeof__(PQfreemem) *freemem;
	__typeof__(PQgetisnull) *getisnull;
	__typeof__(PQgetlength) *getlength;
	__typeof__(PQgetvalue) *getvalue;
	__typeof__(PQhost) *host;
	__typeof__(PQntuples) *ntuples;
	__typeof__(PQparameterStatus) *parameterStatus;
	__typeof__(PQport) *port;
	__typeof__(PQreset) *reset;
	__typeof__(PQresultErrorField) *resultErrorField;
	__typeof__(PQresultErrorMessage) *resultErrorMessage;
	__typeof__(PQresultStatus) *resultStatus;
	__typeof__(PQserverVersion) *serverVersion;
	__typeof__(PQsetNoticeProcessor) *setNoticeProcessor;
	__typeof__(PQstatus) *status;
} PQ_FN;
static const char *const pq_fn_names[] = {
	"PQclear",
	"PQcmdTuples",
	"PQconnectdbParams",
	"PQconnectionNeedsPassword",
	"PQconninfoFree",
	"PQconninfoParse",
	"PQdb",
	"PQerrorMessage",
	"PQescapeIdentifier",
	"PQexecParams",
	"PQfinish",
	"PQfreemem",
	"PQgetisnull",
	"PQgetlength",
	"PQgetvalue",
	"PQhost",
	"PQntuples",
	"PQparameterStatus",
	"PQport",
	"PQreset",
	"PQresultErrorField",
	"PQresultErrorMessage",
	"PQresultStatus",
	"PQserverVersion",
	"PQsetNoticeProcessor",
	"PQstatus",
};
static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static int pq_load_rc;
static char pq_load_msg[512];

static void pq_load_once(void)
{
	static const char *const sonames[] = { "libpq.so.5", "libpq.so", NULL };
	pq_load_rc = arca_dynlib_load(sonames, "libpq (Debian package libpq5)", pq_fn_names, (void **)&PQ_FN,
				      sizeof(pq_fn_names) / sizeof(pq_fn_names[0]));
	if (pq_load_rc)
		snprintf(pq_load_msg, sizeof(pq_load_msg), "%s", arca_error_message());
}

static int pq_load(void)
{
	pthread_once(&pq_once, pq_load_once);
	return pq_load_rc ? arca_error_set(pq_load_rc, "%s", pq_load_msg) : 0;
}

struct arca_pgsql {
	PGconn *conn;
	char where[300];
	char version[64];
};

/* Server notices ("drop cascades to ...") are not for the user's terminal. */
static void quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

struct arca_pgsql_res {
	PGresult *res;
};

/* libpq messages end with newlines and may span lines: one line, trimmed. */
static void one_line(char *out, size_t n, const char *msg)
{
	size_t i = 0;
	const char *p = msg ? msg : "";
	while (*p == ' ' || *p == '\n')
		p++;
	if (!strncmp(p, "FATAL:  ", 8))
		p += 8;
	if (!strncmp(p, "ERROR:  ", 8))
		p += 8;
	/* libpq 15: 'connection to server at "h" (addr), port N failed: FATAL:  ...' */
	if (!strncmp(p, "connection to server ", 21) && strstr(p, " failed: ")) {
		const char *f = strstr(p, " failed: ") + 9;
		if (!strncmp(f, "FATAL:  ", 8))
			p = f + 8;
	}
	for (; *p && i + 1 < n; p++) {
		char ch = *p == '\n' || *p == '\t' ? ' ' : *p;
		if (ch == ' ' && i && out[i - 1] == ' ')
			continue;
		out[i++] = ch;
	}
	while (i && out[i - 1] == ' ')
		i--;
	out[i] = '\0';
}

int arca_pgsql_connect(arca_pgsql **out, const char *dsn, const char *dbname)
{
	const char *keys[6], *vals[6];
	arca_pgsql *c;
	char msg[1024];
	int k = 0, rc;

	*out = NULL;
	if ((rc = pq_load()))
		return rc;
	if (!(c = calloc(1, sizeof(*c))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	/* later entries override earlier ones: the DSN's own timeout wins */
	keys[k] = "connect_timeout", vals[k++] = "10";
	keys[k] = "fallback_application_name", vals[k++] = "arca";
	keys[k] = "dbname", vals[k++] = dsn && *dsn ? dsn : "";
	if (dbname)
		keys[k] = "dbname", vals[k++] = dbname;
	keys[k] = NULL, vals[k] = NULL;
	c->conn = PQ_FN.connectdbParams(keys, vals, 1);
	if (!c->conn) {
		free(c);
		return arca_error_set(ARCA_NOMEM, "out of memory connecting to PostgreSQL");
	}
	{
		const char *h = PQ_FN.host(c->conn), *p = PQ_FN.port(c->conn);
		if (h && h[0] == '/')
			snprintf(c->where, sizeof(c->where), "socket %s/.s.PGSQL.%s", h, p && *p ? p : "5432");
		else
			snprintf(c->where, sizeof(c->where), "%s:%s", h && *h ? h : "localhost", p && *p ? p : "5432");
	}
	if (PQ_FN.status(c->conn) != CONNECTION_OK) {
		one_line(msg, sizeof(msg), PQ_FN.errorMessage(c->conn));
		if (PQ_FN.connectionNeedsPassword(c->conn) || strstr(msg, "password authentication failed") ||
		    strstr(msg, "no password supplied") || strstr(msg, "authentication failed"))
			rc = arca_error_hint(arca_error_set(ARCA_AUTH, "PostgreSQL at %s refused the credentials: %s",
							    c->where, msg),
					     "check the user and password in the connection URL (or PGPASSWORD, ~/.pgpass)");
		else if (strstr(msg, "database \"") && strstr(msg, "does not exist"))
			rc = arca_error_set(ARCA_NOTFOUND, "PostgreSQL at %s: %s", c->where, msg);
		else if (strstr(msg, "invalid") || strstr(msg, "missing \"=\""))
			rc = arca_error_set(ARCA_INVAL, "bad PostgreSQL connection string: %s", msg);
		else
			rc = arca_error_hint(arca_error_set(ARCA_ERROR, "cannot connect to PostgreSQL at %s: %s",
							    c->where, msg),
					     "is the server running and reachable? check host and port in the URL");
		PQ_FN.finish(c->conn);
		free(c);
		return rc;
	}
	PQ_FN.setNoticeProcessor(c->conn, quiet_notices, NULL);
	{
		const char *v = PQ_FN.parameterStatus(c->conn, "server_version");
		snprintf(c->version, sizeof(c->version), "%s", v ? v : "");
	}
	*out = c;
	return 0;
}

void arca_pgsql_close(arca_pgsql *c)
{
	if (!c)
		return;
	PQ_FN.finish(c->conn);
	free(c);
}

static int status_for_sqlstate(const char *st)
{
	if (!st || strlen(st) != 5)
		return ARCA_ERROR;
	if (!strncmp(st, "28", 2))
		return ARCA_AUTH;
	if (!strcmp(st, "3D000"))
		return ARCA_NOTFOUND;
	if (!strcmp(st, "23505"))
		return ARCA_EXISTS;
	if (!strcmp(st, "53100"))
		return ARCA_NOSPACE;
	if (!strncmp(st, "08", 2) || !strcmp(st, "40001") || !strcmp(st, "40P01") || !strncmp(st, "57P0", 4) ||
	    !strcmp(st, "53300"))
		return ARCA_TRANSIENT;
	return ARCA_ERROR;
}

int arca_pgsql_exec(arca_pgsql *c, arca_pgsql_res **out, const char *sql, int nparams,
		    const char *const *values, const int *lengths, const int *binary, bool binary_result)
{
	PGresult *res;
	ExecStatusType st;
	char msg[1024];
	int rc;

	if (out)
		*out = NULL;
	res = PQ_FN.execParams(c->conn, sql, nparams, NULL, values, lengths, binary, binary_result ? 1 : 0);
	st = res ? PQ_FN.resultStatus(res) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out) {
			if (!(*out = malloc(sizeof(**out)))) {
				PQ_FN.clear(res);
				return arca_error_set(ARCA_NOMEM, "out of memory");
			}
			(*out)->res = res;
		} else {
			PQ_FN.clear(res);
		}
		return 0;
	}
	if (PQ_FN.status(c->conn) == CONNECTION_BAD) {
		one_line(msg, sizeof(msg), PQ_FN.errorMessage(c->conn));
		PQ_FN.clear(res);
		PQ_FN.reset(c->conn); /* the next statement gets a fresh connection */
		return arca_error_set(ARCA_TRANSIENT, "lost the connection to PostgreSQL at %s: %s", c->where, msg);
	}
	{
		const char *state = res ? PQ_FN.resultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
		one_line(msg, sizeof(msg), res ? PQ_FN.resultErrorMessage(res) : PQ_FN.errorMessage(c->conn));
		rc = arca_error_set(status_for_sqlstate(state), "PostgreSQL at %s: %s (SQLSTATE %s)", c->where, msg,
				    state ? state : "?");
	}
	PQ_FN.clear(res);
	return rc;
}

int arca_pgsql_cmd(arca_pgsql *c, const char *sql)
{
	return arca_pgsql_exec(c, NULL, sql, 0, NULL, NULL, NULL, false);
}

int arca_pgsql_res_rows(const arca_pgsql_res *r) { return PQ_FN.ntuples(r->res); }

const char *arca_pgsql_res_value(const arca_pgsql_res *r, int row, int col)
{
	return PQ_FN.getvalue(r->res, row, col);
}

size_t arca_pgsql_res_len(const arca_pgsql_res *r, int row, int col)
{
	return (size_t)PQ_FN.getlength(r->res, row, col);
}

bool arca_pgsql_res_isnull(const arca_pgsql_res *r, int row, int col) { return PQ_FN.getisnull(r->res, row, col); }

uint64_t arca_pgsql_res_affected(const arca_pgsql_res *r)
{
	const char *s = PQ_FN.cmdTuples(r->res);
	return s && *s ? strtoull(s, NULL, 10) : 0;
}

int64_t arca_pgsql_res_int(const arca_pgsql_res *r, int row, int col)
{
	const uint8_t *p = (const uint8_t *)PQ_FN.getvalue(r->res, row, col);
	int n = PQ_FN.getlength(r->res, row, col), i;
	uint64_t v = 0;
	if (PQ_FN.getisnull(r->res, row, col))
		return 0;
	for (i = 0; i < n && i < 8; i++)
		v = (v << 8) | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	return (int64_t)v;
}

void arca_pgsql_res_free(arca_pgsql_res *r)
{
	if (!r)
		return;
	PQ_FN.clear(r->res);
	free(r);
}

int arca_pgsql_server_version_num(const arca_pgsql *c) { return PQ_FN.serverVersion(c->conn); }
const char *arca_pgsql_server_version(const arca_pgsql *c) { return c->version; }
const char *arca_pgsql_dbname(const arca_pgsql *c) { return PQ_FN.db(c->conn); }
const char *arca_pgsql_where(const arca_pgsql *c) { return c->where; }

int arca_pgsql_quote_ident(arca_pgsql *c, const char *name, char **out)
{
	char *q = PQ_FN.escapeIdentifier(c->conn, name, strlen(name));
	*out = NULL;
	if (!q)
		return arca_error_set(ARCA_INVAL, "cannot quote the name '%s'", name);
	*out = strdup(q);
	PQ_FN.freemem(q);
	return *out ? 0 : arca_error_set(ARCA_NOMEM, "out of memory");
}

void arca_pgsql_dbs_free(arca_pgsql_db *v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

int arca_pgsql_databases(arca_pgsql *c, arca_pgsql_db **out, size_t *n)
{
	arca_pgsql_res *r = NULL;
	arca_pgsql_db *v = NULL;
	int rows, i, rc;
	*out = NULL;
	*n = 0;
	if ((rc = arca_pgsql_exec(c, &r,
				  "SELECT datname, pg_database_size(oid) FROM pg_database "
				  "WHERE datallowconn AND NOT datistemplate ORDER BY datname COLLATE \"C\"",
				  0, NULL, NULL, NULL, false)))
		return rc;
	rows = arca_pgsql_res_rows(r);
	if (!(v = calloc(rows ? (size_t)rows : 1, sizeof(*v)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rows; i++) {
		if (!(v[i].name = strdup(arca_pgsql_res_value(r, i, 0)))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		v[i].size = strtoull(arca_pgsql_res_value(r, i, 1), NULL, 10);
	}
	*out = v;
	*n = (size_t)rows;
	v = NULL;
out:
	if (v)
		arca_pgsql_dbs_free(v, (size_t)rows);
	arca_pgsql_res_free(r);
	return rc;
}

void arca_pgsql_tables_free(arca_pgsql_table *v, size_t n)
{
	size_t i;
	for (i = 0; v && i < n; i++) {
		free(v[i].schema);
		free(v[i].name);
	}
	free(v);
}

/* User namespaces: not the system ones, not temporary or toast. */
#define USER_NS "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"
/* Not part of an extension (pg_dump dumps CREATE EXTENSION instead). */
#define NOT_EXT(cls, oid) \
	"NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = '" cls "'::regclass AND d.objid = " oid \
	" AND d.deptype = 'e')"

int arca_pgsql_table_list(arca_pgsql *c, arca_pgsql_table **out, size_t *n)
{
	arca_pgsql_res *r = NULL;
	arca_pgsql_table *v = NULL;
	int rows = 0, i, rc;
	*out = NULL;
	*n = 0;
	if ((rc = arca_pgsql_exec(c, &r,
				  "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = "
				  "c.relnamespace WHERE c.relkind = 'r' AND " USER_NS " AND " NOT_EXT("pg_class", "c.oid")
				  " ORDER BY n.nspname COLLATE \"C\", c.relname COLLATE \"C\"",
				  0, NULL, NULL, NULL, false)))
		return rc;
	rows = arca_pgsql_res_rows(r);
	if (!(v = calloc(rows ? (size_t)rows : 1, sizeof(*v)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < rows; i++) {
		v[i].schema = strdup(arca_pgsql_res_value(r, i, 0));
		v[i].name = strdup(arca_pgsql_res_value(r, i, 1));
		if (!v[i].schema || !v[i].name) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = v;
	*n = (size_t)rows;
	v = NULL;
out:
	if (v)
		arca_pgsql_tables_free(v, (size_t)rows);
	arca_pgsql_res_free(r);
	return rc;
}

int arca_pgsql_table_count(arca_pgsql *c, arca_pgsql_table *t)
{
	arca_pgsql_res *cr = NULL;
	arca_buf sql = ARCA_BUF_INIT;
	char *qs = NULL, *qt = NULL;
	int rc;
	if ((rc = arca_pgsql_quote_ident(c, t->schema, &qs)) || (rc = arca_pgsql_quote_ident(c, t->name, &qt)))
		goto out;
	if ((rc = arca_buf_printf(&sql, "SELECT count(*) FROM ONLY %s.%s", qs, qt)) || (rc = arca_buf_cstr(&sql)))
		goto out;
	if ((rc = arca_pgsql_exec(c, &cr, (const char *)sql.data, 0, NULL, NULL, NULL, false))) {
		arca_error_prefix(rc, "counting the rows of %s.%s", t->schema, t->name);
		goto out;
	}
	t->rows = strtoull(arca_pgsql_res_value(cr, 0, 0), NULL, 10);
out:
	free(qs);
	free(qt);
	arca_buf_free(&sql);
	arca_pgsql_res_free(cr);
	return rc;
}

int arca_pgsql_table_counts(arca_pgsql *c, arca_pgsql_table **out, size_t *n)
{
	size_t i;
	int rc;
	if ((rc = arca_pgsql_table_list(c, out, n)))
		return rc;
	for (i = 0; i < *n && !rc; i++)
		rc = arca_pgsql_table_count(c, &(*out)[i]);
	if (rc) {
		arca_pgsql_tables_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

int arca_pgsql_is_empty(arca_pgsql *c, bool *empty)
{
	arca_pgsql_res *r = NULL;
	int rc = arca_pgsql_exec(
		c, &r,
		"SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE "
		"c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND " USER_NS " AND " NOT_EXT("pg_class", "c.oid") ")"
		" + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE " USER_NS
		" AND " NOT_EXT("pg_proc", "p.oid") ")"
		" + (SELECT count(*) FROM pg_namespace n WHERE " USER_NS " AND n.nspname <> 'public' AND "
		NOT_EXT("pg_namespace", "n.oid") ")",
		0, NULL, NULL, NULL, false);
	if (rc)
		return rc;
	*empty = strtoull(arca_pgsql_res_value(r, 0, 0), NULL, 10) == 0;
	arca_pgsql_res_free(r);
	return 0;
}

static PQconninfoOption *parse_dsn(const char *dsn)
{
	char *err = NULL;
	PQconninfoOption *o;
	if (pq_load())
		return NULL;
	o = PQ_FN.conninfoParse(dsn && *dsn ? dsn : "", &err);
	if (!o) {
		char msg[512];
		one_line(msg, sizeof(msg), err ? err : "out of memory");
		arca_error_set(err ? ARCA_INVAL : ARCA_NOMEM, "bad PostgreSQL connection string: %s", msg);
	}
	if (err)
		PQ_FN.freemem(err);
	return o;
}

int arca_pgsql_dsn_dbname(const char *dsn, char **out)
{
	PQconninfoOption *o = parse_dsn(dsn), *p;
	const char *db = NULL, *user = NULL, *e;
	*out = NULL;
	if (!o)
		return arca_error_code();
	for (p = o; p->keyword; p++) {
		if (!strcmp(p->keyword, "dbname") && p->val && *p->val)
			db = p->val;
		if (!strcmp(p->keyword, "user") && p->val && *p->val)
			user = p->val;
	}
	if (!db && (e = getenv("PGDATABASE")) && *e)
		db = e;
	if (!db && !user && (e = getenv("PGUSER")) && *e)
		user = e;
	if (!db && !user) {
		struct passwd *pw = getpwuid(geteuid());
		user = pw ? pw->pw_name : "postgres";
	}
	*out = strdup(db ? db : user);
	PQ_FN.conninfoFree(o);
	return *out ? 0 : arca_error_set(ARCA_NOMEM, "out of memory");
}

int arca_pgsql_dsn_with_db(const char *dsn, const char *dbname, char **out, char **password)
{
	PQconninfoOption *o = parse_dsn(dsn), *p;
	arca_buf b = ARCA_BUF_INIT;
	int rc = 0;
	*out = NULL;
	if (password)
		*password = NULL;
	if (!o)
		return arca_error_code();
	for (p = o; p->keyword && !rc; p++) {
		const char *v = p->val, *s;
		if (!strcmp(p->keyword, "dbname") && dbname)
			v = dbname;
		if (!v)
			continue;
		if (password && !strcmp(p->keyword, "password")) {
			free(*password);
			if (!(*password = strdup(v)))
				rc = arca_error_set(ARCA_NOMEM, "out of memory");
			continue;
		}
		rc = arca_buf_printf(&b, "%s%s='", b.len ? " " : "", p->keyword);
		for (s = v; *s && !rc; s++)
			rc = (*s == '\'' || *s == '\\') ? arca_buf_printf(&b, "\\%c", *s) : arca_buf_put(&b, s, 1);
		if (!rc)
			rc = arca_buf_puts(&b, "'");
	}
	if (!rc)
		rc = arca_buf_cstr(&b);
	PQ_FN.conninfoFree(o);
	if (rc) {
		arca_buf_free(&b);
		if (password) {
			free(*password);
			*password = NULL;
		}
		return rc;
	}
	*out = (char *)arca_buf_detach(&b, NULL);
	return 0;
}

char *arca_pgsql_dsn_redact(const char *dsn)
{
	arca_buf b = ARCA_BUF_INIT;
	const char *p = dsn ? dsn : "", *scheme = strstr(p, "://");
	if (scheme && !strchr(p, ' ')) {
		/* URL: user:password@host */
		const char *auth = scheme + 3, *end = auth + strcspn(auth, "/?"), *at = NULL, *s;
		for (s = auth; s < end; s++)
			if (*s == '@')
				at = s;
		if (at) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));
			if (colon) {
				arca_buf_put(&b, p, (size_t)(colon + 1 - p));
				arca_buf_puts(&b, "***");
				p = at;
			}
		}
	}
	while (*p) {
		/* password=VALUE, in a query string or in key=value pairs */
		if (!strncmp(p, "password", 8) && (p == dsn || strchr(" ?&", p[-1]))) {
			const char *q = p + 8;
			while (*q == ' ')
				q++;
			if (*q == '=') {
				q++;
				while (*q == ' ')
					q++;
				arca_buf_puts(&b, "password=***");
				if (*q == '\'') {
					for (q++; *q && *q != '\''; q++)
						if (*q == '\\' && q[1])
							q++;
					if (*q)
						q++;
				} else {
					q += strcspn(q, " &");
				}
				p = q;
				continue;
			}
		}
		arca_buf_put(&b, p++, 1);
	}
	if (arca_buf_cstr(&b))
		return NULL;
	return (char *)arca_buf_detach(&b, NULL);
}
