/*
 * snapshot/snapshot.c - snapshot manifests: encoding, loading, listing and
 * selecting.
 *
 * A manifest is u8 version then (varint tag, bytes value) fields in any
 * order; unknown tags are skipped so later versions can add fields without
 * breaking old readers.  time and tree are required.  The object is sealed
 * with label ARCA_SNAPSHOT_LABEL and named by the SHA-256 of its bytes.
 */
#include "arca/snapshot.h"
#include "snapshot/snapcache.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SNAP_VERSION 1
#define MAX_LIST 100000

enum {
	F_TIME = 1, F_TREE = 2, F_HOST = 3, F_USER = 4, F_PATH = 5, F_TAG = 6, F_TYPE = 7,
	F_PARENT = 8, F_EXPIRES = 9, F_META = 10, F_STATS = 11, F_SOURCE = 12, F_PROGRAM = 13,
	F_UIDGID = 14,
};

static int field(arca_buf *out, unsigned tag, const arca_buf *v)
{
	int rc = arca_enc_varint(out, tag);
	return rc ? rc : arca_enc_bytes(out, v->data, v->len);
}

static int field_str(arca_buf *out, unsigned tag, const char *s)
{
	int rc = arca_enc_varint(out, tag);
	return rc ? rc : arca_enc_str(out, s);
}

/* Fields that write several values to one buffer chain them with ||, which
 * sequences the calls: the operands of | may be evaluated in any order. */
int arca_snapshot_encode(const arca_snapshot *s, arca_buf *out)
{
	arca_buf v = ARCA_BUF_INIT;
	size_t i;
	int rc = 0;
	const arca_snapshot_stats *st = &s->stats;
	rc |= arca_enc_u8(out, SNAP_VERSION);
	rc |= arca_enc_svarint(&v, s->time_ns);
	rc |= field(out, F_TIME, &v);
	rc |= arca_enc_varint(out, F_TREE) || arca_enc_bytes(out, s->tree.b, ARCA_ID_LEN);
	if (s->host)
		rc |= field_str(out, F_HOST, s->host);
	if (s->user)
		rc |= field_str(out, F_USER, s->user);
	for (i = 0; i < s->npaths; i++)
		rc |= field_str(out, F_PATH, s->paths[i]);
	for (i = 0; i < s->ntags; i++)
		rc |= field_str(out, F_TAG, s->tags[i]);
	if (s->type)
		rc |= field_str(out, F_TYPE, s->type);
	if (s->has_parent)
		rc |= arca_enc_varint(out, F_PARENT) || arca_enc_bytes(out, s->parent.b, ARCA_ID_LEN);
	if (s->expires_ns) {
		arca_buf_clear(&v);
		rc |= arca_enc_svarint(&v, s->expires_ns);
		rc |= field(out, F_EXPIRES, &v);
	}
	for (i = 0; i < s->nmeta; i++) {
		arca_buf_clear(&v);
		rc |= arca_enc_str(&v, s->meta[i].key) || arca_enc_str(&v, s->meta[i].value);
		rc |= field(out, F_META, &v);
	}
	for (i = 0; i < s->nsource; i++) {
		arca_buf_clear(&v);
		rc |= arca_enc_str(&v, s->source[i].key) || arca_enc_str(&v, s->source[i].value);
		rc |= field(out, F_SOURCE, &v);
	}
	arca_buf_clear(&v);
	rc |= arca_enc_varint(&v, st->files_new) || arca_enc_varint(&v, st->files_changed) ||
	      arca_enc_varint(&v, st->files_unmodified) || arca_enc_varint(&v, st->dirs) ||
	      arca_enc_varint(&v, st->bytes_total) || arca_enc_varint(&v, st->bytes_read) ||
	      arca_enc_varint(&v, st->blobs_new) || arca_enc_varint(&v, st->bytes_added_raw) ||
	      arca_enc_varint(&v, st->bytes_added) || arca_enc_varint(&v, st->duration_ms) ||
	      arca_enc_varint(&v, st->errors);
	rc |= field(out, F_STATS, &v);
	if (s->program)
		rc |= field_str(out, F_PROGRAM, s->program);
	arca_buf_clear(&v);
	rc |= arca_enc_varint(&v, s->uid) || arca_enc_varint(&v, s->gid);
	rc |= field(out, F_UIDGID, &v);
	arca_buf_free(&v);
	return rc ? arca_error_set(ARCA_NOMEM, "out of memory encoding a snapshot") : 0;
}

static int push_str(char ***v, size_t *n, char *s)
{
	char **nv;
	if (*n >= MAX_LIST)
		return -1;
	nv = realloc(*v, (*n + 1) * sizeof(char *));
	if (!nv)
		return -1;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static int push_kv(arca_kv **v, size_t *n, char *k, char *val)
{
	arca_kv *nv;
	if (*n >= MAX_LIST)
		return -1;
	nv = realloc(*v, (*n + 1) * sizeof(arca_kv));
	if (!nv)
		return -1;
	nv[*n].key = k;
	nv[*n].value = val;
	(*n)++;
	*v = nv;
	return 0;
}

static char *val_str(const uint8_t *p, size_t n)
{
	char *s;
	if (n > 65536 || memchr(p, 0, n))
		return NULL;
	s = malloc(n + 1);
	if (!s)
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int arca_snapshot_decode(arca_snapshot **out, const void *p, size_t len)
{
	arca_snapshot *s = calloc(1, sizeof(*s));
	arca_dec d;
	bool have_time = false, have_tree = false;
	const char *why = "truncated";
	*out = NULL;
	if (!s)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	arca_dec_init(&d, p, len);
	if (arca_dec_u8(&d) != SNAP_VERSION) {
		why = "unknown snapshot version";
		goto bad;
	}
	while (arca_dec_ok(&d) && arca_dec_left(&d) > 0) {
		uint64_t tag = arca_dec_varint(&d);
		size_t n;
		const uint8_t *v = arca_dec_bytes(&d, &n);
		arca_dec sub;
		char *a, *b;
		if (!arca_dec_ok(&d))
			goto bad;
		arca_dec_init(&sub, v, n);
		switch (tag) {
		case F_TIME:
			s->time_ns = arca_dec_svarint(&sub);
			have_time = arca_dec_ok(&sub);
			break;
		case F_TREE:
			if (n != ARCA_ID_LEN)
				goto bad;
			memcpy(s->tree.b, v, ARCA_ID_LEN);
			have_tree = true;
			break;
		case F_PARENT:
			if (n != ARCA_ID_LEN)
				goto bad;
			memcpy(s->parent.b, v, ARCA_ID_LEN);
			s->has_parent = true;
			break;
		case F_HOST:
		case F_USER:
		case F_TYPE:
		case F_PROGRAM:
		case F_PATH:
		case F_TAG:
			a = val_str(v, n);
			if (!a) {
				why = "bad string field";
				goto bad;
			}
			if (tag == F_PATH || tag == F_TAG) {
				if (push_str(tag == F_PATH ? &s->paths : &s->tags, tag == F_PATH ? &s->npaths : &s->ntags, a)) {
					free(a);
					goto bad;
				}
				break;
			}
			{
				char **slot = tag == F_HOST ? &s->host : tag == F_USER ? &s->user
					    : tag == F_TYPE ? &s->type : &s->program;
				free(*slot);
				*slot = a;
			}
			break;
		case F_EXPIRES:
			s->expires_ns = arca_dec_svarint(&sub);
			break;
		case F_META:
		case F_SOURCE:
			a = arca_dec_strdup(&sub, 65536);
			b = arca_dec_strdup(&sub, 65536);
			if (!a || !b || !arca_dec_ok(&sub) ||
			    push_kv(tag == F_META ? &s->meta : &s->source, tag == F_META ? &s->nmeta : &s->nsource, a, b)) {
				free(a);
				free(b);
				why = "bad key/value field";
				goto bad;
			}
			break;
		case F_STATS:
			s->stats.files_new = arca_dec_varint(&sub);
			s->stats.files_changed = arca_dec_varint(&sub);
			s->stats.files_unmodified = arca_dec_varint(&sub);
			s->stats.dirs = arca_dec_varint(&sub);
			s->stats.bytes_total = arca_dec_varint(&sub);
			s->stats.bytes_read = arca_dec_varint(&sub);
			s->stats.blobs_new = arca_dec_varint(&sub);
			s->stats.bytes_added_raw = arca_dec_varint(&sub);
			s->stats.bytes_added = arca_dec_varint(&sub);
			s->stats.duration_ms = arca_dec_varint(&sub);
			s->stats.errors = arca_dec_varint(&sub);
			break;
		case F_UIDGID:
			s->uid = (uint32_t)arca_dec_varint(&sub);
			s->gid = (uint32_t)arca_dec_varint(&sub);
			break;
		default:
			break; /* a field from a later version */
		}
		if (!arca_dec_ok(&sub)) {
			why = "malformed field";
			goto bad;
		}
	}
	if (!arca_dec_ok(&d))
		goto bad;
	if (!have_time || !have_tree) {
		why = "time or tree missing";
		goto bad;
	}
	*out = s;
	return 0;
bad:
	arca_snapshot_free(s);
	return arca_error_set(ARCA_CORRUPT, "malformed snapshot: %s", why);
}

void arca_snapshot_free(arca_snapshot *s)
{
	size_t i;
	if (!s)
		return;
	free(s->host);
	free(s->user);
	free(s->type);
	free(s->program);
	for (i = 0; i < s->npaths; i++)
		free(s->paths[i]);
	free(s->paths);
	for (i = 0; i < s->ntags; i++)
		free(s->tags[i]);
	free(s->tags);
	for (i = 0; i < s->nmeta; i++) {
		free(s->meta[i].key);
		free(s->meta[i].value);
	}
	free(s->meta);
	for (i = 0; i < s->nsource; i++) {
		free(s->source[i].key);
		free(s->source[i].value);
	}
	free(s->source);
	free(s);
}

int arca_snapshot_save(arca_repo *r, arca_snapshot *s)
{
	arca_buf b = ARCA_BUF_INIT;
	int rc = arca_snapshot_encode(s, &b);
	if (!rc)
		rc = arca_repo_object_save(r, "snapshots", ARCA_SNAPSHOT_LABEL, b.data, b.len, &s->id);
	arca_buf_free(&b);
	return rc;
}

int arca_snapshot_load(arca_repo *r, const arca_id *id, arca_snapshot **out)
{
	arca_buf b = ARCA_BUF_INIT;
	char hex[65], key[80];
	int rc;
	*out = NULL;
	arca_id_hex(hex, id);
	snprintf(key, sizeof(key), "snapshots/%s", hex);
	if ((rc = arca_repo_object_load(r, key, ARCA_SNAPSHOT_LABEL, &b)) == 0) {
		if ((rc = arca_snapshot_decode(out, b.data, b.len)))
			rc = arca_error_prefix(rc, "%s", key);
		else
			(*out)->id = *id;
	}
	arca_buf_free(&b);
	return rc;
}

typedef struct list_ctx {
	arca_snapshot_list *l;
	arca_repo *r;
	size_t cap;
	arca_snapcache cache;
	arca_zctx *z;
	arca_buf plain;
	bool fresh; /* read every object from the repository */
	/* listed but not in the cache: fetched after the listing */
	char **fetch_keys;
	arca_id *fetch_ids;
	size_t nfetch, keys_cap, ids_cap;
} list_ctx;

/* Open stored bytes of key and decode them into *out. */
static int open_stored(list_ctx *c, const char *key, const arca_id *id, const void *p, size_t n,
		       arca_snapshot **out)
{
	int rc;
	arca_buf_clear(&c->plain);
	if ((rc = arca_repo_object_open(c->r, c->z, key, ARCA_SNAPSHOT_LABEL, p, n, &c->plain)))
		return rc;
	if ((rc = arca_snapshot_decode(out, c->plain.data, c->plain.len)))
		return arca_error_prefix(rc, "%s", key);
	(*out)->id = *id;
	return 0;
}

static int list_add(list_ctx *c, arca_snapshot *s)
{
	int rc;
	if ((rc = arca_grow(&c->l->v, &c->cap, c->l->n + 1, sizeof(*c->l->v), 64))) {
		arca_snapshot_free(s);
		return rc;
	}
	c->l->v[c->l->n++] = s;
	return 0;
}

static int load_one(const char *key, uint64_t size, void *payload)
{
	list_ctx *c = payload;
	const char *slash = strrchr(key, '/');
	arca_snapcache_entry *e;
	arca_snapshot *s = NULL;
	arca_id id;
	int rc;
	if (!slash || arca_id_parse(&id, slash + 1))
		return 0;
	/* the listing names it: a cached copy is as good as a fetched one,
	 * since it is checked the same way; a bad copy is fetched again */
	if (!c->fresh && (e = arca_snapcache_find(&c->cache, &id)) && e->n == size &&
	    open_stored(c, key, &id, e->stored, e->n, &s) == 0) {
		e->used = true;
		return list_add(c, s);
	}
	if ((rc = arca_grow(&c->fetch_keys, &c->keys_cap, c->nfetch + 1, sizeof(*c->fetch_keys), 64)) ||
	    (rc = arca_grow(&c->fetch_ids, &c->ids_cap, c->nfetch + 1, sizeof(*c->fetch_ids), 64)))
		return rc;
	if (!(c->fetch_keys[c->nfetch] = strdup(key)))
		return arca_error_set(ARCA_NOMEM, "out of memory listing snapshots");
	c->fetch_ids[c->nfetch++] = id;
	return 0;
}

static int fetched_one(size_t i, int rc, arca_buf *stored, void *payload)
{
	list_ctx *c = payload;
	arca_snapshot *s = NULL;
	if (!rc)
		rc = open_stored(c, c->fetch_keys[i], &c->fetch_ids[i], stored->data, stored->len, &s);
	if (rc == ARCA_CORRUPT || rc == ARCA_NOTFOUND) {
		arca_repo_warn(c->r, "skipping unreadable snapshot: %s", arca_error_message());
		c->l->damaged++;
		return 0;
	}
	if (rc || (rc = arca_snapcache_add(&c->cache, &c->fetch_ids[i], stored->data, stored->len))) {
		arca_snapshot_free(s);
		return rc;
	}
	return list_add(c, s);
}

static int cmp_time(const void *a, const void *b)
{
	const arca_snapshot *x = *(arca_snapshot *const *)a, *y = *(arca_snapshot *const *)b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return arca_id_cmp(&x->id, &y->id);
}

static int list_load(arca_repo *r, arca_snapshot_list *out, bool fresh)
{
	list_ctx c;
	const char *dir = arca_repo_cache_dir(r);
	int rc;
	memset(&c, 0, sizeof(c));
	c.l = out;
	c.r = r;
	c.fresh = fresh;
	memset(out, 0, sizeof(*out));
	if (!(rc = arca_snapcache_load(&c.cache, dir, arca_repo_id(r))) &&
	    !(rc = arca_zctx_new(&c.z, ARCA_COMPRESS_ZSTD, 3)))
		rc = arca_be_list(arca_repo_backend(r), "snapshots/", load_one, &c);
	if (!rc)
		rc = arca_be_get_many(arca_repo_backend(r), (const char *const *)c.fetch_keys, c.nfetch,
				      ARCA_BE_META_CONNS, fetched_one, &c);
	if (!rc && arca_snapcache_save(&c.cache, dir, arca_repo_id(r)))
		arca_repo_warn(r, "could not update the snapshot cache: %s", arca_error_message());
	arca_snapcache_free(&c.cache);
	arca_zctx_free(c.z);
	arca_buf_free(&c.plain);
	for (size_t i = 0; i < c.nfetch; i++)
		free(c.fetch_keys[i]);
	free(c.fetch_keys);
	free(c.fetch_ids);
	if (rc) {
		arca_snapshot_list_free(out);
		return rc;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), cmp_time);
	return 0;
}

int arca_snapshot_list_load(arca_repo *r, arca_snapshot_list *out)
{
	return list_load(r, out, false);
}

int arca_snapshot_list_load_fresh(arca_repo *r, arca_snapshot_list *out)
{
	return list_load(r, out, true);
}

void arca_snapshot_list_free(arca_snapshot_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		arca_snapshot_free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static bool has_tag(const arca_snapshot *s, const char *tag)
{
	size_t i;
	for (i = 0; i < s->ntags; i++)
		if (!strcmp(s->tags[i], tag))
			return true;
	return false;
}

bool arca_snapshot_matches(const arca_snapshot *s, const arca_snapshot_filter *f)
{
	size_t i;
	bool ok;
	if (!f)
		return true;
	if (f->host && (!s->host || strcmp(s->host, f->host)))
		return false;
	if (f->type && (!s->type || strcmp(s->type, f->type)))
		return false;
	if (f->tag && !has_tag(s, f->tag))
		return false;
	if (f->since_ns && s->time_ns < f->since_ns)
		return false;
	if (f->until_ns && s->time_ns > f->until_ns)
		return false;
	if (f->path) {
		ok = false;
		for (i = 0; i < s->npaths; i++)
			if (!strcmp(s->paths[i], f->path))
				ok = true;
		if (!ok)
			return false;
	}
	return true;
}

void arca_snapshot_short_id(char out[9], const arca_snapshot *s)
{
	char hex[65];
	arca_id_hex(hex, &s->id);
	memcpy(out, hex, 8);
	out[8] = '\0';
}

int arca_snapshot_select(const arca_snapshot_list *l, const char *sel, const arca_snapshot_filter *f,
			 const arca_snapshot **out)
{
	const arca_snapshot *hit = NULL;
	size_t i, hits = 0, plen;
	char hex[65];
	*out = NULL;
	if (!strcmp(sel, "latest") || !strncmp(sel, "latest:", 7)) {
		const char *tag = sel[6] == ':' ? sel + 7 : NULL;
		for (i = l->n; i-- > 0;)
			if (arca_snapshot_matches(l->v[i], f) && (!tag || has_tag(l->v[i], tag))) {
				*out = l->v[i];
				return 0;
			}
		return arca_error_set(ARCA_NOTFOUND, "no snapshot matches '%s'", sel);
	}
	if (sel[0] == '@') {
		int64_t t;
		int rc = arca_time_parse(&t, sel + 1);
		if (rc)
			return rc;
		for (i = l->n; i-- > 0;)
			if (l->v[i]->time_ns <= t && arca_snapshot_matches(l->v[i], f)) {
				*out = l->v[i];
				return 0;
			}
		return arca_error_set(ARCA_NOTFOUND, "no snapshot at or before %s", sel + 1);
	}
	plen = strlen(sel);
	if (plen == 0 || plen > 64 || strspn(sel, "0123456789abcdef") != plen)
		return arca_error_set(ARCA_INVAL,
				      "'%s' is not a snapshot id, id prefix, 'latest', 'latest:TAG' or '@TIME'", sel);
	for (i = 0; i < l->n; i++) {
		arca_id_hex(hex, &l->v[i]->id);
		if (!strncmp(hex, sel, plen) && arca_snapshot_matches(l->v[i], f)) {
			hit = l->v[i];
			hits++;
		}
	}
	if (hits == 0)
		return arca_error_set(ARCA_NOTFOUND, "no snapshot with id '%s'", sel);
	if (hits > 1)
		return arca_error_set(ARCA_INVAL, "snapshot id prefix '%s' is ambiguous (%zu matches)", sel, hits);
	*out = hit;
	return 0;
}
