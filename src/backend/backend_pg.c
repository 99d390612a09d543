/*
 * backend/backend_pg.c - a repository stored in PostgreSQL tables.
 *
 * URL: postgres://user:pass@host:port/dbname?schema=NAME (postgresql://
 * too; schema defaults to "arca"; every other parameter goes to libpq).
 * Objects live in two tables of that schema (docs/FORMAT.md, "PostgreSQL
 * backend"): objects(key, id, size, chunk_size) names each object, and
 * chunks(id, seq, data) holds its bytes in rows of chunk_size (1 MiB)
 * bytes, stored uncompressed (STORAGE EXTERNAL: the data is compressed and
 * sealed already, and uncompressed TOAST lets substring() read a range
 * without fetching the whole row).  So a 16 MiB pack is never one value:
 * streaming puts send it 1 MiB at a time, and ranged gets fetch only the
 * bytes asked for.
 *
 * Atomicity comes from transactions: a put or a stream inserts its chunk
 * rows and the objects row in one transaction (the chunks' foreign key is
 * deferred, so a stream can write chunks before it knows its key), and
 * commits; readers see all or nothing.  NOREPLACE is INSERT ... ON
 * CONFLICT DO NOTHING; replacing puts and stream commits serialise on an
 * advisory lock per key.  Connections come from a small pool: libpq
 * connections are single-threaded, and each open stream holds one for
 * its transaction.  All libpq use goes through src/pgsql.
 */
#include "backend/backend.h"
#include "arca/error.h"
#include "pgsql/pgsql.h"

#include <ctype.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (1u << 20)
#define POOL_MAX 8

typedef struct pg_be {
	arca_backend base; /* first */
	char *conninfo;    /* the URL without arca's own parameters */
	char *location;    /* for messages: no password */
	char schema[72];   /* quoted */
	pthread_mutex_t mu;
	arca_pgsql *idle[POOL_MAX];
	int nidle;
	bool tables; /* the schema's tables exist (under mu); made by the first write */
	char q_get[1024], q_put_obj[256], q_put_chunk[160], q_lock[96], q_del[160], q_stat[160], q_list[256],
		q_nextval[160];
} pg_be;

static pg_be *P(arca_backend *be) { return (pg_be *)be; }

static int borrow(pg_be *pb, arca_pgsql **out)
{
	pthread_mutex_lock(&pb->mu);
	*out = pb->nidle ? pb->idle[--pb->nidle] : NULL;
	pthread_mutex_unlock(&pb->mu);
	if (*out)
		return 0;
	return arca_pgsql_connect(out, pb->conninfo, NULL);
}

static void give_back(pg_be *pb, arca_pgsql *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&pb->mu);
	if (pb->nidle < POOL_MAX) {
		pb->idle[pb->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&pb->mu);
	arca_pgsql_close(c);
}

/* One statement outside any transaction, on a pooled connection. */
static int run(pg_be *pb, arca_pgsql_res **r, const char *sql, int n, const char *const *vals, bool binary)
{
	arca_pgsql *c = NULL;
	int rc;
	if ((rc = borrow(pb, &c)))
		return rc;
	rc = arca_pgsql_exec(c, r, sql, n, vals, NULL, NULL, binary);
	give_back(pb, c);
	return rc;
}

/* End a failed transaction; keeps the caller's error record. */
static int rollback(arca_pgsql *c, int rc)
{
	char msg[1024];
	snprintf(msg, sizeof(msg), "%s", arca_error_message());
	arca_pgsql_cmd(c, "ROLLBACK");
	arca_error_set(rc, "%s", msg);
	return rc;
}

static int tables_ready(pg_be *pb, bool create);

static int pgb_get(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	pg_be *pb = P(be);
	arca_pgsql_res *r = NULL;
	char soff[24], send[24];
	const char *vals[3] = { key, soff, send };
	uint64_t size, end, want, got = 0;
	int rc, i, rows;

	if (len != ARCA_GET_ALL && off + len < off)
		return arca_error_set(ARCA_INVAL, "range overflows");
	snprintf(soff, sizeof(soff), "%llu", (unsigned long long)off);
	snprintf(send, sizeof(send), "%llu", len == ARCA_GET_ALL ? (unsigned long long)INT64_MAX
								 : (unsigned long long)(off + len));
	if ((rc = tables_ready(pb, false)))
		return rc == ARCA_NOTFOUND ? arca_error_set(ARCA_NOTFOUND, "object not found") : rc;
	if ((rc = run(pb, &r, pb->q_get, 3, vals, true)))
		return rc;
	rows = arca_pgsql_res_rows(r);
	if (!rows) {
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
		goto out;
	}
	size = (uint64_t)arca_pgsql_res_int(r, 0, 0);
	if (off > size || (len != ARCA_GET_ALL && len > size - off)) {
		rc = arca_error_set(ARCA_CORRUPT, "truncated object: %llu bytes, wanted %llu bytes at offset %llu",
				    (unsigned long long)size, (unsigned long long)len, (unsigned long long)off);
		goto out;
	}
	end = len == ARCA_GET_ALL ? size : off + len;
	want = end - off;
	if ((rc = arca_buf_reserve(out, (size_t)want)))
		goto out;
	for (i = 0; i < rows && want; i++) {
		size_t n;
		if (arca_pgsql_res_isnull(r, i, 2))
			break;
		n = arca_pgsql_res_len(r, i, 2);
		if ((rc = arca_buf_put(out, arca_pgsql_res_value(r, i, 2), n)))
			goto out;
		got += n;
	}
	if (got != want)
		rc = arca_error_set(ARCA_CORRUPT, "object rows hold %llu of the %llu bytes asked for (missing or short chunk rows)",
				    (unsigned long long)got, (unsigned long long)want);
out:
	arca_pgsql_res_free(r);
	return rc;
}

/* Insert data as chunk rows of object id, from seq on. */
static int put_chunks(pg_be *pb, arca_pgsql *c, const char *id, int seq, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t done = 0;
	int rc = 0;
	do {
		size_t n = len - done < CHUNK ? len - done : CHUNK;
		char sseq[16];
		const char *vals[3] = { id, sseq, (const char *)p + done };
		int lens[3] = { 0, 0, (int)n }, bin[3] = { 0, 0, 1 };
		if (len == 0)
			break;
		snprintf(sseq, sizeof(sseq), "%d", seq++);
		rc = arca_pgsql_exec(c, NULL, pb->q_put_chunk, 3, vals, lens, bin, false);
		done += n;
	} while (!rc && done < len);
	return rc;
}

/* Insert the objects row (after removing an older one unless noreplace),
 * with the advisory lock of the key held. */
static int put_object(pg_be *pb, arca_pgsql *c, const char *key, const char *id, uint64_t size, bool noreplace)
{
	arca_pgsql_res *r = NULL;
	char ssize[24], scs[16];
	const char *vals[4] = { key, id, ssize, scs };
	int rc;
	snprintf(ssize, sizeof(ssize), "%llu", (unsigned long long)size);
	snprintf(scs, sizeof(scs), "%u", CHUNK);
	if ((rc = arca_pgsql_exec(c, NULL, pb->q_lock, 1, vals, NULL, NULL, false)))
		return rc;
	if (!noreplace && (rc = arca_pgsql_exec(c, NULL, pb->q_del, 1, vals, NULL, NULL, false)))
		return rc;
	if ((rc = arca_pgsql_exec(c, &r, pb->q_put_obj, 4, vals, NULL, NULL, false)))
		return rc;
	if (arca_pgsql_res_affected(r) == 0)
		rc = arca_error_set(ARCA_EXISTS, "object already exists");
	arca_pgsql_res_free(r);
	return rc;
}

static int next_id(pg_be *pb, arca_pgsql *c, char *out, size_t n)
{
	arca_pgsql_res *r = NULL;
	int rc = arca_pgsql_exec(c, &r, pb->q_nextval, 0, NULL, NULL, NULL, false);
	if (!rc)
		snprintf(out, n, "%s", arca_pgsql_res_value(r, 0, 0));
	arca_pgsql_res_free(r);
	return rc;
}

static int pgb_put(arca_backend *be, const char *key, const void *data, size_t len, unsigned flags)
{
	pg_be *pb = P(be);
	arca_pgsql *c = NULL;
	char id[24];
	int rc;
	if ((rc = tables_ready(pb, true)) || (rc = borrow(pb, &c)))
		return rc;
	if ((rc = arca_pgsql_cmd(c, "BEGIN")))
		goto out;
	if ((rc = next_id(pb, c, id, sizeof(id))) ||
	    (rc = put_object(pb, c, key, id, len, (flags & ARCA_PUT_NOREPLACE) != 0)) ||
	    (rc = put_chunks(pb, c, id, 0, data, len)) || (rc = arca_pgsql_cmd(c, "COMMIT")))
		rollback(c, rc);
out:
	give_back(pb, c);
	return rc;
}

static int pgb_stat(arca_backend *be, const char *key, uint64_t *size)
{
	arca_pgsql_res *r = NULL;
	const char *vals[1] = { key };
	int rc;
	if ((rc = tables_ready(P(be), false)))
		return rc == ARCA_NOTFOUND ? arca_error_set(ARCA_NOTFOUND, "object not found") : rc;
	if ((rc = run(P(be), &r, P(be)->q_stat, 1, vals, false)))
		return rc;
	if (arca_pgsql_res_rows(r) == 0)
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
	else
		*size = strtoull(arca_pgsql_res_value(r, 0, 0), NULL, 10);
	arca_pgsql_res_free(r);
	return rc;
}

static int pgb_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload)
{
	arca_pgsql_res *r = NULL;
	const char *vals[1] = { prefix };
	/* the connection goes back before the callbacks: they may use the backend */
	int rc = tables_ready(P(be), false), i;
	if (rc)
		return rc == ARCA_NOTFOUND ? 0 : rc; /* no tables: nothing to list */
	rc = run(P(be), &r, P(be)->q_list, 1, vals, false);
	for (i = 0; !rc && i < arca_pgsql_res_rows(r); i++)
		rc = cb(arca_pgsql_res_value(r, i, 0), strtoull(arca_pgsql_res_value(r, i, 1), NULL, 10), payload);
	arca_pgsql_res_free(r);
	return rc;
}

static int pgb_remove(arca_backend *be, const char *key)
{
	arca_pgsql_res *r = NULL;
	const char *vals[1] = { key };
	int rc = tables_ready(P(be), false);
	if (rc)
		return rc == ARCA_NOTFOUND ? arca_error_set(ARCA_NOTFOUND, "object not found") : rc;
	rc = run(P(be), &r, P(be)->q_del, 1, vals, false);
	if (!rc && arca_pgsql_res_affected(r) == 0)
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
	arca_pgsql_res_free(r);
	return rc;
}

/* ---- streaming put: one transaction from open to commit ---- */

typedef struct pg_stream {
	arca_pgsql *c;
	char id[24];
	int seq;
	uint64_t size;
	arca_buf buf; /* < CHUNK bytes not yet sent */
} pg_stream;

static int pgb_stream_open(arca_backend *be, void **handle)
{
	pg_be *pb = P(be);
	pg_stream *s = calloc(1, sizeof(*s));
	int rc;
	*handle = NULL;
	if (!s)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	if ((rc = tables_ready(pb, true)) || (rc = borrow(pb, &s->c)))
		goto fail;
	if ((rc = arca_pgsql_cmd(s->c, "BEGIN")))
		goto fail;
	if ((rc = next_id(pb, s->c, s->id, sizeof(s->id)))) {
		rollback(s->c, rc);
		goto fail;
	}
	*handle = s;
	return 0;
fail:
	give_back(pb, s->c);
	free(s);
	return rc;
}

static int pgb_stream_write(arca_backend *be, void *handle, const void *p, size_t n)
{
	pg_be *pb = P(be);
	pg_stream *s = handle;
	const uint8_t *d = p;
	int rc = 0;
	while (n && !rc) {
		size_t take = CHUNK - s->buf.len;
		if (take > n)
			take = n;
		if (s->buf.len == 0 && take == CHUNK) {
			rc = put_chunks(pb, s->c, s->id, s->seq++, d, CHUNK); /* straight from the caller */
		} else if (!(rc = arca_buf_put(&s->buf, d, take)) && s->buf.len == CHUNK) {
			rc = put_chunks(pb, s->c, s->id, s->seq++, s->buf.data, CHUNK);
			s->buf.len = 0;
		}
		d += take;
		n -= take;
		s->size += take;
	}
	return rc;
}

static void stream_free(pg_be *pb, pg_stream *s)
{
	give_back(pb, s->c);
	arca_buf_free(&s->buf);
	free(s);
}

static int pgb_stream_commit(arca_backend *be, void *handle, const char *key)
{
	pg_be *pb = P(be);
	pg_stream *s = handle;
	int rc = 0;
	if (s->buf.len)
		rc = put_chunks(pb, s->c, s->id, s->seq++, s->buf.data, s->buf.len);
	if (rc || (rc = put_object(pb, s->c, key, s->id, s->size, false)) || (rc = arca_pgsql_cmd(s->c, "COMMIT")))
		rollback(s->c, rc);
	stream_free(pb, s);
	return rc;
}

static void pgb_stream_abort(arca_backend *be, void *handle)
{
	pg_stream *s = handle;
	arca_pgsql_cmd(s->c, "ROLLBACK");
	arca_error_clear();
	stream_free(P(be), s);
}

static const char *pgb_location(arca_backend *be) { return P(be)->location; }

static void pgb_free(arca_backend *be)
{
	pg_be *pb = P(be);
	int i;
	if (!be)
		return;
	for (i = 0; i < pb->nidle; i++)
		arca_pgsql_close(pb->idle[i]);
	pthread_mutex_destroy(&pb->mu);
	free(pb->conninfo);
	free(pb->location);
	free(pb);
}

/* Whether the schema's tables exist. */
static int tables_exist(pg_be *pb, arca_pgsql *c, bool *have)
{
	char sql[160];
	arca_pgsql_res *r = NULL;
	int rc;
	snprintf(sql, sizeof(sql), "SELECT to_regclass('%s.chunks') IS NOT NULL", pb->schema);
	if ((rc = arca_pgsql_exec(c, &r, sql, 0, NULL, NULL, NULL, false)))
		return rc;
	*have = !strcmp(arca_pgsql_res_value(r, 0, 0), "t");
	arca_pgsql_res_free(r);
	return 0;
}

/* Create the schema and tables unless they exist (docs/FORMAT.md). */
static int ensure_schema(pg_be *pb, arca_pgsql *c)
{
	char sql[512], lockkey[96];
	const char *vals[1] = { lockkey };
	bool have;
	int rc;
	if ((rc = tables_exist(pb, c, &have)) || have)
		return rc;
	snprintf(lockkey, sizeof(lockkey), "arca schema %s", pb->schema);
	if ((rc = arca_pgsql_cmd(c, "BEGIN")) ||
	    (rc = arca_pgsql_exec(c, NULL, "SELECT pg_advisory_xact_lock(hashtext($1))", 1, vals, NULL, NULL, false)))
		goto fail;
#define DDL(...)                                                  \
	do {                                                      \
		snprintf(sql, sizeof(sql), __VA_ARGS__);          \
		if ((rc = arca_pgsql_cmd(c, sql)))                \
			goto fail;                                \
	} while (0)
	DDL("CREATE SCHEMA IF NOT EXISTS %s", pb->schema);
	DDL("CREATE SEQUENCE IF NOT EXISTS %s.object_ids", pb->schema);
	DDL("CREATE TABLE IF NOT EXISTS %s.objects (key text COLLATE \"C\" PRIMARY KEY, id bigint NOT NULL UNIQUE, "
	    "size bigint NOT NULL, chunk_size integer NOT NULL)",
	    pb->schema);
	DDL("CREATE TABLE IF NOT EXISTS %s.chunks (id bigint NOT NULL REFERENCES %s.objects (id) ON DELETE CASCADE "
	    "DEFERRABLE INITIALLY DEFERRED, seq integer NOT NULL, data bytea NOT NULL, PRIMARY KEY (id, seq))",
	    pb->schema, pb->schema);
	DDL("ALTER TABLE %s.chunks ALTER COLUMN data SET STORAGE EXTERNAL", pb->schema);
#undef DDL
	return arca_pgsql_cmd(c, "COMMIT");
fail:
	rollback(c, rc);
	return arca_error_prefix(rc, "cannot create the repository tables in schema %s", pb->schema);
}

/*
 * 0 when the tables exist.  A read-only command never creates them (a
 * mistyped URL must not leave tables in somebody's database): without
 * create, ARCA_NOTFOUND (no message) when they do not exist; with it,
 * they are made (the first write, normally init's config).
 */
static int tables_ready(pg_be *pb, bool create)
{
	arca_pgsql *c = NULL;
	bool have = false;
	int rc;
	pthread_mutex_lock(&pb->mu);
	have = pb->tables;
	pthread_mutex_unlock(&pb->mu);
	if (have)
		return 0;
	if ((rc = borrow(pb, &c)))
		return rc;
	rc = create ? ensure_schema(pb, c) : tables_exist(pb, c, &have);
	give_back(pb, c);
	if (rc)
		return rc;
	if (!create && !have)
		return ARCA_NOTFOUND;
	pthread_mutex_lock(&pb->mu);
	pb->tables = true;
	pthread_mutex_unlock(&pb->mu);
	return 0;
}

/* Take arca's own "schema=" parameter out of the URL's query string. */
static int split_url(const char *url, char **conninfo, char *schema, size_t n)
{
	const char *q = strchr(url, '?');
	arca_buf b = ARCA_BUF_INIT;
	bool first = true;
	int rc = 0;
	snprintf(schema, n, "arca");
	if (!q) {
		*conninfo = strdup(url);
		return *conninfo ? 0 : arca_error_set(ARCA_NOMEM, "out of memory");
	}
	rc = arca_buf_put(&b, url, (size_t)(q - url));
	for (q++; *q && !rc;) {
		size_t l = strcspn(q, "&");
		if (l > 7 && !strncmp(q, "schema=", 7)) {
			size_t k;
			if (l - 7 >= n)
				rc = arca_error_set(ARCA_INVAL, "schema name in the repository URL is too long");
			for (k = 0; !rc && k < l - 7; k++) {
				char ch = q[7 + k];
				if (!(islower((unsigned char)ch) || ch == '_' || (k && isdigit((unsigned char)ch))))
					rc = arca_error_set(ARCA_INVAL, "schema name in the repository URL must be "
									"lowercase letters, digits and '_'");
			}
			if (!rc)
				snprintf(schema, n, "%.*s", (int)(l - 7), q + 7);
		} else if (l) {
			rc = arca_buf_printf(&b, "%c%.*s", first ? '?' : '&', (int)l, q);
			first = false;
		}
		q += l;
		if (*q == '&')
			q++;
	}
	if (!rc)
		rc = arca_buf_cstr(&b);
	if (rc) {
		arca_buf_free(&b);
		return rc;
	}
	*conninfo = (char *)arca_buf_detach(&b, NULL);
	return 0;
}

int arca_backend_pg_new(arca_backend **out, const char *url)
{
	pg_be *pb;
	arca_pgsql *c = NULL;
	char schema[64], *red;
	int rc;
	*out = NULL;
	if (!(pb = calloc(1, sizeof(*pb))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&pb->mu, NULL);
	if ((rc = split_url(url, &pb->conninfo, schema, sizeof(schema))))
		goto fail;
	snprintf(pb->schema, sizeof(pb->schema), "\"%s\"", schema);
	red = arca_pgsql_dsn_redact(url);
	pb->location = red;
	if (!red) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	snprintf(pb->q_get, sizeof(pb->q_get),
		 "SELECT o.size, c.seq, substring(c.data FROM (greatest($2::bigint - c.seq::bigint * o.chunk_size, 0) + "
		 "1)::int FOR (least($3::bigint - c.seq::bigint * o.chunk_size, length(c.data)) - greatest($2::bigint - "
		 "c.seq::bigint * o.chunk_size, 0))::int) FROM %s.objects o LEFT JOIN %s.chunks c ON c.id = o.id AND "
		 "c.seq::bigint * o.chunk_size < $3::bigint AND (c.seq::bigint + 1) * o.chunk_size > $2::bigint WHERE "
		 "o.key = $1 ORDER BY c.seq",
		 pb->schema, pb->schema);
	snprintf(pb->q_put_obj, sizeof(pb->q_put_obj),
		 "INSERT INTO %s.objects (key, id, size, chunk_size) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO "
		 "NOTHING",
		 pb->schema);
	snprintf(pb->q_put_chunk, sizeof(pb->q_put_chunk), "INSERT INTO %s.chunks (id, seq, data) VALUES ($1, $2, $3)",
		 pb->schema);
	snprintf(pb->q_lock, sizeof(pb->q_lock), "SELECT pg_advisory_xact_lock(hashtext($1))");
	snprintf(pb->q_del, sizeof(pb->q_del), "DELETE FROM %s.objects WHERE key = $1", pb->schema);
	snprintf(pb->q_stat, sizeof(pb->q_stat), "SELECT size FROM %s.objects WHERE key = $1", pb->schema);
	snprintf(pb->q_list, sizeof(pb->q_list),
		 "SELECT key, size FROM %s.objects WHERE key >= $1 AND left(key, length($1)) = $1 ORDER BY key",
		 pb->schema);
	snprintf(pb->q_nextval, sizeof(pb->q_nextval), "SELECT nextval('%s.object_ids')", pb->schema);
	/* connect now, so that a bad URL fails at once; the tables come with
	 * the first write (tables_ready) */
	if ((rc = arca_pgsql_connect(&c, pb->conninfo, NULL)) || (rc = tables_exist(pb, c, &pb->tables)))
		goto fail;
	give_back(pb, c);
	pb->base.version = ARCA_BACKEND_VERSION;
	pb->base.name = "postgres";
	pb->base.caps = ARCA_BACKEND_CAP_RANGE | ARCA_BACKEND_CAP_NOREPLACE;
	pb->base.get = pgb_get;
	pb->base.put = pgb_put;
	pb->base.stat = pgb_stat;
	pb->base.list = pgb_list;
	pb->base.remove = pgb_remove;
	pb->base.stream_open = pgb_stream_open;
	pb->base.stream_write = pgb_stream_write;
	pb->base.stream_commit = pgb_stream_commit;
	pb->base.stream_abort = pgb_stream_abort;
	pb->base.location = pgb_location;
	pb->base.free = pgb_free;
	*out = &pb->base;
	return 0;
fail:
	arca_pgsql_close(c);
	pgb_free(&pb->base);
	return rc;
}
