/*
 * snapshot/audit.c - the audit log: one immutable entry per operation.
 *
 * An entry is u8 version then (varint tag, bytes value) fields, like a
 * snapshot manifest: unknown tags are skipped, so later versions can add
 * fields.  time, operation and result are required.  Each entry is sealed
 * with label ARCA_AUDIT_LABEL and stored as log/<sha256 of stored bytes>:
 * content-named and never rewritten, so appending needs no lock and a
 * replica copy carries the history along with the snapshots.
 */
#include "arca/snapshot.h"
#include "util/buf.h"
#include "util/enc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUDIT_VERSION 1
#define AUDIT_MAX_STR 65536
#define AUDIT_MAX_SNAPSHOTS 1000000

enum {
	F_TIME = 1, F_HOST = 2, F_USER = 3, F_OP = 4, F_RESULT = 5, F_SNAPSHOT = 6, F_BYTES = 7,
	F_DURATION = 8, F_ERROR = 9, F_DETAIL = 10, F_EXIT = 11,
};

static int field_str(arca_buf *out, unsigned tag, const char *s)
{
	int rc = arca_enc_varint(out, tag);
	return rc ? rc : arca_enc_str(out, s);
}

static int field_varint(arca_buf *out, unsigned tag, uint64_t v)
{
	arca_buf b = ARCA_BUF_INIT;
	int rc = arca_enc_varint(&b, v);
	if (!rc && !(rc = arca_enc_varint(out, tag)))
		rc = arca_enc_bytes(out, b.data, b.len);
	arca_buf_free(&b);
	return rc;
}

int arca_audit_encode(const arca_audit_entry *e, arca_buf *out)
{
	arca_buf v = ARCA_BUF_INIT;
	size_t i;
	int rc = 0;
	if (!e->op || !e->result)
		return arca_error_set(ARCA_INVAL, "audit entry without operation or result");
	rc |= arca_enc_u8(out, AUDIT_VERSION);
	rc |= arca_enc_svarint(&v, e->time_ns);
	rc |= arca_enc_varint(out, F_TIME) || arca_enc_bytes(out, v.data, v.len);
	arca_buf_free(&v);
	if (e->host)
		rc |= field_str(out, F_HOST, e->host);
	if (e->user)
		rc |= field_str(out, F_USER, e->user);
	rc |= field_str(out, F_OP, e->op);
	rc |= field_str(out, F_RESULT, e->result);
	for (i = 0; i < e->nsnapshots; i++)
		rc |= arca_enc_varint(out, F_SNAPSHOT) || arca_enc_bytes(out, e->snapshots[i].b, ARCA_ID_LEN);
	rc |= field_varint(out, F_BYTES, e->bytes);
	rc |= field_varint(out, F_DURATION, e->duration_ms);
	if (e->error)
		rc |= field_str(out, F_ERROR, e->error);
	if (e->detail)
		rc |= field_str(out, F_DETAIL, e->detail);
	rc |= field_varint(out, F_EXIT, e->exit_code);
	return rc ? arca_error_set(ARCA_NOMEM, "out of memory") : 0;
}

/* A string field's value: no NUL inside, at most AUDIT_MAX_STR bytes. */
static char *val_str(const uint8_t *p, size_t n)
{
	char *s;
	if (n > AUDIT_MAX_STR || memchr(p, 0, n))
		return NULL;
	if (!(s = malloc(n + 1)))
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int arca_audit_decode(arca_audit_entry **out, const void *p, size_t len)
{
	arca_audit_entry *e = calloc(1, sizeof(*e));
	arca_dec d;
	bool have_time = false;
	size_t cap = 0;
	const char *why = "truncated";
	*out = NULL;
	if (!e)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	arca_dec_init(&d, p, len);
	if (arca_dec_u8(&d) != AUDIT_VERSION) {
		why = "unknown log entry version";
		goto bad;
	}
	while (arca_dec_ok(&d) && arca_dec_left(&d) > 0) {
		uint64_t tag = arca_dec_varint(&d), x;
		size_t n;
		const uint8_t *v = arca_dec_bytes(&d, &n);
		arca_dec sub;
		char *a, **slot;
		if (!arca_dec_ok(&d))
			goto bad;
		arca_dec_init(&sub, v, n);
		switch (tag) {
		case F_TIME:
			e->time_ns = arca_dec_svarint(&sub);
			have_time = true;
			break;
		case F_HOST:
		case F_USER:
		case F_OP:
		case F_RESULT:
		case F_ERROR:
		case F_DETAIL:
			if (!(a = val_str(v, n))) {
				why = "bad string field";
				goto bad;
			}
			slot = tag == F_HOST ? &e->host : tag == F_USER ? &e->user : tag == F_OP ? &e->op
			       : tag == F_RESULT ? &e->result : tag == F_ERROR ? &e->error : &e->detail;
			free(*slot);
			*slot = a;
			break;
		case F_SNAPSHOT:
			if (n != ARCA_ID_LEN || e->nsnapshots >= AUDIT_MAX_SNAPSHOTS) {
				why = "bad snapshot id field";
				goto bad;
			}
			if (arca_grow(&e->snapshots, &cap, e->nsnapshots + 1, sizeof(*e->snapshots), 4)) {
				why = "out of memory";
				goto bad;
			}
			memcpy(e->snapshots[e->nsnapshots++].b, v, ARCA_ID_LEN);
			break;
		case F_BYTES:
			e->bytes = arca_dec_varint(&sub);
			break;
		case F_DURATION:
			e->duration_ms = arca_dec_varint(&sub);
			break;
		case F_EXIT:
			x = arca_dec_varint(&sub);
			if (x > UINT32_MAX) {
				why = "bad exit code";
				goto bad;
			}
			e->exit_code = (uint32_t)x;
			break;
		default:
			continue; /* a field from a later version */
		}
		/* numeric fields hold exactly one value */
		if (!arca_dec_ok(&sub) || (tag != F_SNAPSHOT && tag != F_HOST && tag != F_USER && tag != F_OP &&
					   tag != F_RESULT && tag != F_ERROR && tag != F_DETAIL && arca_dec_left(&sub))) {
			why = "malformed field";
			goto bad;
		}
	}
	if (!arca_dec_ok(&d))
		goto bad;
	if (!have_time || !e->op || !e->result) {
		why = "time, operation or result missing";
		goto bad;
	}
	*out = e;
	return 0;
bad:
	arca_audit_free(e);
	return arca_error_set(ARCA_CORRUPT, "malformed log entry: %s", why);
}

void arca_audit_free(arca_audit_entry *e)
{
	if (!e)
		return;
	free(e->host);
	free(e->user);
	free(e->op);
	free(e->result);
	free(e->snapshots);
	free(e->error);
	free(e->detail);
	free(e);
}

int arca_audit_append(arca_repo *r, const arca_audit_entry *e)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_id id;
	int rc = arca_audit_encode(e, &b);
	if (!rc)
		rc = arca_repo_object_save(r, "log", ARCA_AUDIT_LABEL, b.data, b.len, &id);
	arca_buf_free(&b);
	return rc;
}

typedef struct audit_ctx {
	arca_repo *r;
	int64_t since_ns;
	arca_audit_entry **v;
	size_t n, cap;
} audit_ctx;

static int load_one(const arca_id *id, const void *raw, size_t n, void *payload)
{
	audit_ctx *c = payload;
	arca_audit_entry *e = NULL;
	int rc;
	if ((rc = arca_audit_decode(&e, raw, n)))
		return rc;
	e->id = *id;
	if (e->time_ns < c->since_ns) {
		arca_audit_free(e);
		return 0;
	}
	if ((rc = arca_grow(&c->v, &c->cap, c->n + 1, sizeof(*c->v), 64))) {
		arca_audit_free(e);
		return rc;
	}
	c->v[c->n++] = e;
	return 0;
}

static int cmp_time(const void *a, const void *b)
{
	const arca_audit_entry *x = *(arca_audit_entry *const *)a, *y = *(arca_audit_entry *const *)b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return arca_id_cmp(&x->id, &y->id);
}

int arca_audit_list(arca_repo *r, int64_t since_ns, arca_audit_entry ***out, size_t *n)
{
	audit_ctx c = { r, since_ns, NULL, 0, 0 };
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = arca_repo_objects_load(r, "log", ARCA_AUDIT_LABEL, "log entry", load_one, &c))) {
		arca_audit_list_free(c.v, c.n);
		return rc;
	}
	if (c.n)
		qsort(c.v, c.n, sizeof(*c.v), cmp_time);
	*out = c.v;
	*n = c.n;
	return 0;
}

void arca_audit_list_free(arca_audit_entry **v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		arca_audit_free(v[i]);
	free(v);
}
