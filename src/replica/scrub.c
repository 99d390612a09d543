/*
 * replica/scrub.c - verify every copy of a repository and heal each from
 * the others.
 *
 * For each copy: every listed object is read and hashed against its name
 * (in parallel), and every pack its index names but its listing lacks is
 * missing.  Then each missing or damaged object is copied from a copy where
 * it hashed right (the copy is hashed again on the way and read back after
 * the write).  Objects one copy has and another neither lists nor names
 * are not damage: they are counted as not replicated (replicate's job).
 */
#include "replica/replica.h"
#include "replica/transfer.h"

#include "backend/backend.h"
#include "index/index.h"
#include "util/buf.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { OBJ_OK = 0, OBJ_DAMAGED = 1, OBJ_MISSING = 2 };

typedef struct scrub_copy {
	arca_repo *r;
	xfer_list listed; /* sorted */
	uint8_t *state;   /* per listed object */
	xfer_list named_missing; /* packs the index names, not listed (sorted) */
	bool locked;
} scrub_copy;

typedef struct verify_ctx {
	scrub_copy *c;
	arca_backend *be;
} verify_ctx;

static int verify_item(const xfer_item *it, arca_buf *b, void *payload)
{
	verify_ctx *v = payload;
	size_t i = (size_t)(it - v->c->listed.v);
	int rc;
	if (!xfer_content_named(it->key)) { /* config: checked when the repository was opened */
		xfer_stats_add(1, 0, 0);
		return 0;
	}
	rc = arca_be_get(v->be, it->key, b);
	if (rc == ARCA_NOTFOUND) {
		arca_error_clear();
		v->c->state[i] = OBJ_MISSING;
	} else if (rc == ARCA_CORRUPT) { /* shorter than listed: a truncated object */
		arca_error_clear();
		v->c->state[i] = OBJ_DAMAGED;
	} else if (rc) {
		return arca_error_prefix(rc, "reading %s from %s", it->key, arca_be_location(v->be));
	} else if (xfer_check_content(it->key, b->data, b->len)) {
		arca_error_clear();
		v->c->state[i] = OBJ_DAMAGED;
	}
	xfer_stats_add(1, b->len, 0);
	return 0;
}

static int note_named_pack(const arca_id *pack, void *payload)
{
	scrub_copy *c = payload;
	char key[80];
	arca_repo_pack_key(key, pack);
	if (xfer_list_find(&c->listed, key))
		return 0;
	return xfer_list_push(&c->named_missing, key, 0);
}

static int add_finding(arca_scrub_result *res, const char *key, size_t repo, bool missing)
{
	arca_scrub_finding *f;
	if (!(res->nfindings & (res->nfindings + 1))) { /* grow at 0, 1, 3, 7, ... */
		arca_scrub_finding *nv = realloc(res->findings, (res->nfindings * 2 + 2) * sizeof(*nv));
		if (!nv)
			return arca_error_set(ARCA_NOMEM, "out of memory");
		res->findings = nv;
	}
	f = &res->findings[res->nfindings];
	if (!(f->key = strdup(key)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	f->repo = repo;
	f->missing = missing;
	f->repaired_from = -1;
	res->nfindings++;
	return 0;
}

/* Whether copy c holds key and it hashed right. */
static bool good_in(const scrub_copy *c, const char *key)
{
	const xfer_item *it = xfer_list_find(&c->listed, key);
	return it && c->state[it - c->listed.v] == OBJ_OK;
}

static bool known_in(const scrub_copy *c, const char *key)
{
	return xfer_list_find(&c->listed, key) || xfer_list_find(&c->named_missing, key);
}

static int repair(scrub_copy *cs, size_t n, const xfer_opts *xo, arca_scrub_finding *f, arca_scrub_copy *out)
{
	arca_buf b = ARCA_BUF_INIT;
	size_t j;
	int rc = 0;
	for (j = 0; j < n && f->repaired_from < 0; j++) {
		bool verified;
		if (j == f->repo || !good_in(&cs[j], f->key))
			continue;
		rc = xfer_copy_one(arca_repo_backend(cs[j].r), arca_repo_backend(cs[f->repo].r), f->key, xo, &b,
				   &verified);
		if (rc == ARCA_CORRUPT) { /* changed since it was verified: try another copy */
			arca_error_clear();
			rc = 0;
			continue;
		}
		if (rc)
			break;
		f->repaired_from = (int)j;
		out->repaired++;
	}
	arca_buf_free(&b);
	return rc;
}

int arca_scrub(arca_repo *const *repos, size_t n, const arca_scrub_opts *o, arca_scrub_result *res)
{
	scrub_copy *cs;
	xfer_opts xo;
	size_t i, j, k;
	char phase[600];
	int rc = 0;
	double t0 = arca_monotonic();

	memset(res, 0, sizeof(*res));
	memset(&xo, 0, sizeof(xo));
	xo.connections = o->connections ? o->connections : 4;
	xo.verify = true;
	xo.progress = o->progress;
	xo.progress_payload = o->progress_payload;
	xo.t0 = t0;
	for (i = 1; i < n; i++)
		if (!arca_id_eq(arca_repo_id(repos[0]), arca_repo_id(repos[i])))
			return arca_error_set(ARCA_ERROR, "%s is not a copy of %s (another repository id)",
					      arca_repo_url(repos[i]), arca_repo_url(repos[0]));
	if (!(cs = calloc(n, sizeof(*cs))) || !(res->copies = calloc(n, sizeof(*res->copies)))) {
		free(cs);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	res->ncopies = n;

	for (i = 0; i < n && !rc; i++) {
		scrub_copy *c = &cs[i];
		xfer_stats st = { 0, 0, 0 };
		verify_ctx v = { c, arca_repo_backend(repos[i]) };
		c->r = repos[i];
		if (!arca_repo_lock_held(c->r, NULL)) {
			if ((rc = arca_repo_lock(c->r, false)))
				break;
			c->locked = true;
		}
		if ((rc = xfer_list_all(v.be, &c->listed)))
			break;
		if (!(c->state = calloc(c->listed.n + 1, 1))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			break;
		}
		if ((rc = arca_index_foreach_pack(arca_repo_index(c->r), note_named_pack, c)))
			break;
		xfer_list_sort(&c->named_missing);
		snprintf(phase, sizeof(phase), "verifying %s", arca_be_location(v.be));
		xo.phase = phase;
		rc = xfer_run(c->listed.v, c->listed.n, verify_item, &v, &xo, &st);
		res->copies[i].objects_checked = st.objects;
		res->copies[i].bytes_checked = st.bytes;
	}
	/* findings */
	for (i = 0; i < n && !rc; i++) {
		scrub_copy *c = &cs[i];
		for (k = 0; k < c->listed.n && !rc; k++) {
			if (c->state[k] == OBJ_OK)
				continue;
			if (c->state[k] == OBJ_MISSING)
				res->copies[i].missing++;
			else
				res->copies[i].damaged++;
			rc = add_finding(res, c->listed.v[k].key, i, c->state[k] == OBJ_MISSING);
		}
		for (k = 0; k < c->named_missing.n && !rc; k++) {
			res->copies[i].missing++;
			rc = add_finding(res, c->named_missing.v[k].key, i, true);
		}
		/* what the others hold that this copy does not know of */
		for (j = 0; j < n && !rc; j++) {
			if (j == i)
				continue;
			for (k = 0; k < cs[j].listed.n; k++) {
				const char *key = cs[j].listed.v[k].key;
				size_t m;
				bool earlier = false;
				/* each copy keeps the audit entries of what ran on it */
				if (known_in(c, key) || !strncmp(key, "log/", 4))
					continue;
				for (m = 0; m < j && !earlier; m++) /* count each key once */
					earlier = m != i && xfer_list_find(&cs[m].listed, key);
				if (!earlier)
					res->copies[i].not_replicated++;
			}
		}
	}
	/* repairs */
	for (k = 0; k < res->nfindings && !rc; k++) {
		if (!o->dry_run) {
			snprintf(phase, sizeof(phase), "repairing %s", res->findings[k].key);
			xo.phase = phase;
			rc = repair(cs, n, &xo, &res->findings[k], &res->copies[res->findings[k].repo]);
		}
		if (res->findings[k].repaired_from < 0)
			res->unrepaired++;
	}
	for (i = 0; i < n; i++) {
		if (cs[i].locked)
			arca_repo_unlock(cs[i].r);
		xfer_list_free(&cs[i].listed);
		xfer_list_free(&cs[i].named_missing);
		free(cs[i].state);
	}
	free(cs);
	res->seconds = arca_monotonic() - t0;
	return rc;
}

void arca_scrub_result_free(arca_scrub_result *res)
{
	size_t i;
	for (i = 0; i < res->nfindings; i++)
		free(res->findings[i].key);
	free(res->findings);
	free(res->copies);
	memset(res, 0, sizeof(*res));
}
