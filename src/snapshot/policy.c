/*
 * snapshot/policy.c - stored retention policies: encoding, saving, loading
 * the set of current policies, and matching a snapshot to its policy.
 *
 * A policy object is u8 version then (varint tag, bytes value) fields, like
 * a snapshot manifest; unknown tags are skipped, time is required.  It is
 * sealed with label ARCA_POLICY_LABEL and stored as policies/<sha256 of
 * stored bytes>: content-named and never rewritten, so writing needs no lock,
 * a replica copy carries it, and a change is a new object that names the
 * objects it supersedes.  The heads (objects nothing supersedes) are the
 * current state; disagreeing heads of one selector are a conflict that is
 * shown, not resolved by guessing.
 */
#include "arca/snapshot.h"
#include "hash/idset.h"
#include "util/buf.h"
#include "util/enc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POLICY_VERSION 1
#define POLICY_MAX_STR 4096
#define POLICY_MAX_LIST 4096

enum {
	F_TIME = 1, F_HOST = 2, F_TAG = 3, F_PATH = 4, F_COUNTS = 5, F_WITHIN = 6, F_WITHIN_HOURLY = 7,
	F_WITHIN_DAILY = 8, F_WITHIN_WEEKLY = 9, F_WITHIN_MONTHLY = 10, F_WITHIN_YEARLY = 11, F_KEEP_TAG = 12,
	F_SUPERSEDES = 13, F_REMOVED = 14, F_AUTHOR_HOST = 15, F_AUTHOR_USER = 16,
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

static arca_span *span_of(arca_retention *k, unsigned tag)
{
	switch (tag) {
	case F_WITHIN: return &k->within;
	case F_WITHIN_HOURLY: return &k->within_hourly;
	case F_WITHIN_DAILY: return &k->within_daily;
	case F_WITHIN_WEEKLY: return &k->within_weekly;
	case F_WITHIN_MONTHLY: return &k->within_monthly;
	case F_WITHIN_YEARLY: return &k->within_yearly;
	default: return NULL;
	}
}

int arca_policy_encode(const arca_policy *p, arca_buf *out)
{
	const arca_retention *k = &p->keep;
	arca_buf v = ARCA_BUF_INIT;
	unsigned t;
	size_t i;
	int rc = 0;
	if (k->last < 0 || k->hourly < 0 || k->daily < 0 || k->weekly < 0 || k->monthly < 0 || k->yearly < 0)
		return arca_error_set(ARCA_INVAL, "policy counts must be >= 0");
	for (t = F_WITHIN; t <= F_WITHIN_YEARLY; t++) {
		const arca_span *d = span_of((arca_retention *)k, t);
		if (d->years < 0 || d->months < 0 || d->days < 0 || d->hours < 0)
			return arca_error_set(ARCA_INVAL, "policy durations must be >= 0");
	}
	rc |= arca_enc_u8(out, POLICY_VERSION);
	rc |= arca_enc_svarint(&v, p->time_ns);
	rc |= field(out, F_TIME, &v);
	if (p->host)
		rc |= field_str(out, F_HOST, p->host);
	if (p->tag)
		rc |= field_str(out, F_TAG, p->tag);
	if (p->path)
		rc |= field_str(out, F_PATH, p->path);
	if (p->removed) {
		rc |= arca_enc_varint(out, F_REMOVED) || arca_enc_bytes(out, NULL, 0);
	} else {
		arca_buf_clear(&v);
		rc |= arca_enc_varint(&v, (uint64_t)k->last) || arca_enc_varint(&v, (uint64_t)k->hourly) ||
		      arca_enc_varint(&v, (uint64_t)k->daily) || arca_enc_varint(&v, (uint64_t)k->weekly) ||
		      arca_enc_varint(&v, (uint64_t)k->monthly) || arca_enc_varint(&v, (uint64_t)k->yearly);
		rc |= field(out, F_COUNTS, &v);
		for (t = F_WITHIN; t <= F_WITHIN_YEARLY; t++) {
			const arca_span *d = span_of((arca_retention *)k, t);
			if (arca_span_is_zero(d))
				continue;
			arca_buf_clear(&v);
			rc |= arca_enc_varint(&v, (uint64_t)d->years) || arca_enc_varint(&v, (uint64_t)d->months) ||
			      arca_enc_varint(&v, (uint64_t)d->days) || arca_enc_varint(&v, (uint64_t)d->hours);
			rc |= field(out, t, &v);
		}
		for (i = 0; i < p->nkeep_tags; i++)
			rc |= field_str(out, F_KEEP_TAG, p->keep_tag_v[i]);
	}
	for (i = 0; i < p->nsupersedes; i++)
		rc |= arca_enc_varint(out, F_SUPERSEDES) || arca_enc_bytes(out, p->supersedes[i].b, ARCA_ID_LEN);
	if (p->author_host)
		rc |= field_str(out, F_AUTHOR_HOST, p->author_host);
	if (p->author_user)
		rc |= field_str(out, F_AUTHOR_USER, p->author_user);
	arca_buf_free(&v);
	return rc ? arca_error_set(ARCA_NOMEM, "out of memory encoding a policy") : 0;
}

static char *val_str(const uint8_t *p, size_t n)
{
	char *s;
	if (n > POLICY_MAX_STR || memchr(p, 0, n))
		return NULL;
	if (!(s = malloc(n + 1)))
		return NULL;
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

/* A count or span field: a varint that fits an int. */
static int dec_int(arca_dec *d)
{
	uint64_t v = arca_dec_varint(d);
	if (v > 1000000000u) {
		d->err = true;
		return 0;
	}
	return (int)v;
}

int arca_policy_decode(arca_policy **out, const void *data, size_t len)
{
	arca_policy *p = calloc(1, sizeof(*p));
	arca_retention init = ARCA_RETENTION_INIT;
	arca_dec d;
	bool have_time = false;
	const char *why = "truncated";
	*out = NULL;
	if (!p)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	p->keep = init;
	arca_dec_init(&d, data, len);
	if (arca_dec_u8(&d) != POLICY_VERSION) {
		why = "unknown policy version";
		goto bad;
	}
	while (arca_dec_ok(&d) && arca_dec_left(&d) > 0) {
		uint64_t tag = arca_dec_varint(&d);
		size_t n;
		const uint8_t *v = arca_dec_bytes(&d, &n);
		arca_dec sub;
		arca_span *span;
		char *s, **slot;
		if (!arca_dec_ok(&d))
			goto bad;
		arca_dec_init(&sub, v, n);
		switch (tag) {
		case F_TIME:
			p->time_ns = arca_dec_svarint(&sub);
			have_time = true;
			break;
		case F_HOST:
		case F_TAG:
		case F_PATH:
		case F_AUTHOR_HOST:
		case F_AUTHOR_USER:
		case F_KEEP_TAG:
			if (!(s = val_str(v, n))) {
				why = "bad string field";
				goto bad;
			}
			if (tag == F_KEEP_TAG) {
				char **nv;
				if (p->nkeep_tags >= 64 || !(nv = realloc(p->keep_tag_v, (p->nkeep_tags + 1) * sizeof(*nv)))) {
					free(s);
					why = "too many keep-tag lists";
					goto bad;
				}
				nv[p->nkeep_tags++] = s;
				p->keep_tag_v = nv;
				continue;
			}
			slot = tag == F_HOST ? &p->host : tag == F_TAG ? &p->tag : tag == F_PATH ? &p->path
			     : tag == F_AUTHOR_HOST ? &p->author_host : &p->author_user;
			free(*slot);
			*slot = s;
			continue; /* the value is not parsed with sub */
		case F_COUNTS:
			p->keep.last = dec_int(&sub);
			p->keep.hourly = dec_int(&sub);
			p->keep.daily = dec_int(&sub);
			p->keep.weekly = dec_int(&sub);
			p->keep.monthly = dec_int(&sub);
			p->keep.yearly = dec_int(&sub);
			break;
		case F_WITHIN:
		case F_WITHIN_HOURLY:
		case F_WITHIN_DAILY:
		case F_WITHIN_WEEKLY:
		case F_WITHIN_MONTHLY:
		case F_WITHIN_YEARLY:
			span = span_of(&p->keep, (unsigned)tag);
			span->years = dec_int(&sub);
			span->months = dec_int(&sub);
			span->days = dec_int(&sub);
			span->hours = dec_int(&sub);
			if (span->years > ARCA_SPAN_MAX || span->months > ARCA_SPAN_MAX || span->days > ARCA_SPAN_MAX ||
			    span->hours > ARCA_SPAN_MAX) {
				why = "duration out of range";
				goto bad;
			}
			break;
		case F_SUPERSEDES: {
			arca_id *nv;
			if (n != ARCA_ID_LEN || p->nsupersedes >= POLICY_MAX_LIST ||
			    !(nv = realloc(p->supersedes, (p->nsupersedes + 1) * sizeof(*nv)))) {
				why = "bad supersedes field";
				goto bad;
			}
			memcpy(nv[p->nsupersedes++].b, v, ARCA_ID_LEN);
			p->supersedes = nv;
			continue;
		}
		case F_REMOVED:
			p->removed = true;
			continue;
		default:
			continue; /* a field from a later version */
		}
		/* a numeric field's value is exactly its varints */
		if (!arca_dec_ok(&sub) || arca_dec_left(&sub)) {
			why = "malformed field";
			goto bad;
		}
	}
	if (!arca_dec_ok(&d))
		goto bad;
	if (!have_time) {
		why = "time missing";
		goto bad;
	}
	if (p->removed) { /* a tombstone has no rules */
		arca_policy tmp = *p;
		size_t i;
		for (i = 0; i < tmp.nkeep_tags; i++)
			free(tmp.keep_tag_v[i]);
		free(tmp.keep_tag_v);
		p->keep_tag_v = NULL;
		p->nkeep_tags = 0;
		p->keep = init;
	}
	p->keep.keep_tags = (const char *const *)p->keep_tag_v;
	p->keep.nkeep_tags = p->nkeep_tags;
	*out = p;
	return 0;
bad:
	arca_policy_free(p);
	return arca_error_set(ARCA_CORRUPT, "malformed policy: %s", why);
}

void arca_policy_free(arca_policy *p)
{
	size_t i;
	if (!p)
		return;
	free(p->host);
	free(p->tag);
	free(p->path);
	for (i = 0; i < p->nkeep_tags; i++)
		free(p->keep_tag_v[i]);
	free(p->keep_tag_v);
	free(p->supersedes);
	free(p->author_host);
	free(p->author_user);
	free(p);
}

int arca_policy_save(arca_repo *r, arca_policy *p)
{
	arca_buf b = ARCA_BUF_INIT;
	int rc = arca_policy_encode(p, &b);
	if (!rc)
		rc = arca_repo_object_save(r, "policies", ARCA_POLICY_LABEL, b.data, b.len, &p->id);
	arca_buf_free(&b);
	return rc;
}

void arca_policy_selector_format(char *out, size_t n, const arca_policy *p)
{
	int k = 0;
	out[0] = '\0';
	if (p->host)
		k += snprintf(out + k, n - (size_t)k, "host=%s", p->host);
	if (p->tag && (size_t)k < n)
		k += snprintf(out + k, n - (size_t)k, "%stag=%s", k ? " " : "", p->tag);
	if (p->path && (size_t)k < n)
		k += snprintf(out + k, n - (size_t)k, "%spath=%s", k ? " " : "", p->path);
	if (!k)
		snprintf(out, n, "all snapshots");
}

static int cmp_opt(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int cmp_selector(const arca_policy *a, const arca_policy *b)
{
	int c = cmp_opt(a->host, b->host);
	if (!c)
		c = cmp_opt(a->tag, b->tag);
	return c ? c : cmp_opt(a->path, b->path);
}

bool arca_policy_same_selector(const arca_policy *a, const arca_policy *b)
{
	return cmp_selector(a, b) == 0;
}

bool arca_policy_same_rules(const arca_policy *a, const arca_policy *b)
{
	const arca_retention *x = &a->keep, *y = &b->keep;
	unsigned t;
	size_t i;
	if (a->removed != b->removed || x->last != y->last || x->hourly != y->hourly || x->daily != y->daily ||
	    x->weekly != y->weekly || x->monthly != y->monthly || x->yearly != y->yearly ||
	    a->nkeep_tags != b->nkeep_tags)
		return false;
	for (t = F_WITHIN; t <= F_WITHIN_YEARLY; t++)
		if (memcmp(span_of((arca_retention *)x, t), span_of((arca_retention *)y, t), sizeof(arca_span)))
			return false;
	for (i = 0; i < a->nkeep_tags; i++)
		if (strcmp(a->keep_tag_v[i], b->keep_tag_v[i]))
			return false;
	return true;
}

/* ---- the set ---- */

typedef struct policy_ctx {
	arca_repo *r;
	arca_policy_set *s;
	size_t cap;
} policy_ctx;

static int load_one(const arca_id *id, const void *raw, size_t n, void *payload)
{
	policy_ctx *c = payload;
	arca_policy *p = NULL;
	int rc;
	if ((rc = arca_policy_decode(&p, raw, n)))
		return rc;
	p->id = *id;
	if ((rc = arca_grow(&c->s->all, &c->cap, c->s->nall + 1, sizeof(*c->s->all), 16))) {
		arca_policy_free(p);
		return rc;
	}
	c->s->all[c->s->nall++] = p;
	return 0;
}

static int cmp_time(const void *a, const void *b)
{
	const arca_policy *x = *(arca_policy *const *)a, *y = *(arca_policy *const *)b;
	if (x->time_ns != y->time_ns)
		return x->time_ns < y->time_ns ? -1 : 1;
	return arca_id_cmp(&x->id, &y->id);
}

static int cmp_head(const void *a, const void *b)
{
	const arca_policy *x = *(arca_policy *const *)a, *y = *(arca_policy *const *)b;
	int c = cmp_selector(x, y);
	return c ? c : cmp_time(a, b);
}

int arca_policy_set_load(arca_repo *r, arca_policy_set *out)
{
	policy_ctx c = { r, out, 0 };
	arca_idset sup = ARCA_IDSET_INIT;
	size_t i, k;
	int rc;
	memset(out, 0, sizeof(*out));
	if ((rc = arca_repo_objects_load(r, "policies", ARCA_POLICY_LABEL, "policy", load_one, &c)))
		goto fail;
	if (!out->nall)
		return 0;
	qsort(out->all, out->nall, sizeof(*out->all), cmp_time);
	arca_idset_init(&sup, 0);
	for (i = 0; i < out->nall; i++)
		for (k = 0; k < out->all[i]->nsupersedes; k++)
			if ((rc = arca_idset_insert(&sup, &out->all[i]->supersedes[k], NULL)) < 0)
				goto fail;
	if (!(out->heads = calloc(out->nall, sizeof(*out->heads)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < out->nall; i++)
		if (!arca_idset_contains(&sup, &out->all[i]->id))
			out->heads[out->nheads++] = out->all[i];
	qsort(out->heads, out->nheads, sizeof(*out->heads), cmp_head);
	arca_idset_free(&sup);
	return 0;
fail:
	arca_idset_free(&sup);
	arca_policy_set_free(out);
	return rc;
}

void arca_policy_set_free(arca_policy_set *s)
{
	size_t i;
	for (i = 0; i < s->nall; i++)
		arca_policy_free(s->all[i]);
	free(s->all);
	free(s->heads);
	memset(s, 0, sizeof(*s));
}

bool arca_policy_conflicted(const arca_policy_set *s, const arca_policy *p)
{
	size_t i;
	for (i = 0; i < s->nheads; i++)
		if (arca_policy_same_selector(s->heads[i], p) && !arca_policy_same_rules(s->heads[i], p))
			return true;
	return false;
}

static bool snap_has(char *const *v, size_t n, const char *x)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (!strcmp(v[i], x))
			return true;
	return false;
}

int arca_policy_match(const arca_policy_set *s, const arca_snapshot *sn, const arca_policy **out)
{
	const arca_policy *best = NULL;
	int best_rank = -1, kind = ARCA_POLICY_NONE;
	size_t i;
	*out = NULL;
	for (i = 0; i < s->nheads; i++) {
		const arca_policy *p = s->heads[i];
		int rank = (p->path ? 4 : 0) + (p->tag ? 2 : 0) + (p->host ? 1 : 0);
		if (p->host && strcmp(p->host, sn->host ? sn->host : ""))
			continue;
		if (p->tag && !snap_has(sn->tags, sn->ntags, p->tag))
			continue;
		if (p->path && !snap_has(sn->paths, sn->npaths, p->path))
			continue;
		if (rank < best_rank)
			continue;
		if (rank > best_rank) {
			best = p;
			best_rank = rank;
			kind = ARCA_POLICY_MATCH;
			continue;
		}
		/* equal rank: another head of the same selector, or another selector */
		if (!arca_policy_same_selector(best, p))
			kind = ARCA_POLICY_AMBIGUOUS;
		else if (kind == ARCA_POLICY_MATCH && !arca_policy_same_rules(best, p))
			kind = ARCA_POLICY_CONFLICT;
	}
	if (kind == ARCA_POLICY_MATCH && best->removed) {
		/* a tombstone: fall back to the next less specific selector */
		arca_policy_set sub = *s;
		arca_policy **v = malloc(s->nheads * sizeof(*v));
		size_t n = 0;
		if (!v)
			return arca_error_set(ARCA_NOMEM, "out of memory");
		for (i = 0; i < s->nheads; i++)
			if (!arca_policy_same_selector(s->heads[i], best))
				v[n++] = s->heads[i];
		sub.heads = v;
		sub.nheads = n;
		kind = arca_policy_match(&sub, sn, out);
		free(v);
		return kind;
	}
	*out = best;
	return kind;
}
