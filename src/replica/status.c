/*
 * replica/status.c - which snapshots each copy of a repository holds, and
 * whether each copy holds everything they need.
 *
 * Per copy, using that copy's own index and trees: a snapshot is present
 * when every tree reachable from its root loads and every blob of those
 * trees is indexed in a pack the copy lists; with read_data each such pack
 * is also read and hashed against its name (verified or damaged).  Each
 * tree is judged once per copy (a memo of tree id -> state), so unchanged
 * directories shared by many snapshots cost nothing extra.
 */
#include "replica/replica.h"
#include "replica/transfer.h"

#include "backend/backend.h"
#include "hash/idset.h"
#include "index/index.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

const char *arca_replica_state_name(int state)
{
	switch (state) {
	case ARCA_REPLICA_ABSENT: return "absent";
	case ARCA_REPLICA_INCOMPLETE: return "incomplete";
	case ARCA_REPLICA_PRESENT: return "present";
	case ARCA_REPLICA_VERIFIED: return "verified";
	case ARCA_REPLICA_DAMAGED: return "damaged";
	}
	return "?";
}

/* Worse of two states for a snapshot: incomplete < damaged < present < verified. */
static uint8_t worse(uint8_t a, uint8_t b)
{
	static const uint8_t rank[] = { [ARCA_REPLICA_ABSENT] = 0, [ARCA_REPLICA_INCOMPLETE] = 1,
					[ARCA_REPLICA_DAMAGED] = 2, [ARCA_REPLICA_PRESENT] = 3,
					[ARCA_REPLICA_VERIFIED] = 4 };
	return rank[a] <= rank[b] ? a : b;
}

typedef struct judge {
	arca_repo *r;
	arca_repo_reader *rd;
	xfer_list listed; /* data/ objects of this copy, sorted */
	bool read_data;
	arca_idset packs; /* pack id -> uint8_t state (memo) */
	arca_idset trees; /* tree id -> uint8_t state (memo) */
	arca_buf buf;
} judge;

static int pack_state(judge *jd, const arca_id *pack, uint8_t *out)
{
	uint8_t *memo = arca_idset_get(&jd->packs, pack), st;
	void *slot;
	char key[80];
	int rc;
	if (memo) {
		*out = *memo;
		return 0;
	}
	arca_repo_pack_key(key, pack);
	if (!xfer_list_find(&jd->listed, key))
		st = ARCA_REPLICA_INCOMPLETE;
	else if (!jd->read_data)
		st = ARCA_REPLICA_PRESENT;
	else {
		jd->buf.len = 0;
		rc = arca_be_get(arca_repo_backend(jd->r), key, &jd->buf);
		if (rc == ARCA_NOTFOUND || rc == ARCA_CORRUPT) {
			arca_error_clear();
			st = rc == ARCA_NOTFOUND ? ARCA_REPLICA_INCOMPLETE : ARCA_REPLICA_DAMAGED;
		} else if (rc) {
			return rc;
		} else {
			st = xfer_check_content(key, jd->buf.data, jd->buf.len) ? ARCA_REPLICA_DAMAGED
										: ARCA_REPLICA_VERIFIED;
			arca_error_clear();
		}
	}
	if ((rc = arca_idset_insert(&jd->packs, pack, &slot)) < 0)
		return rc;
	*(uint8_t *)slot = st;
	*out = st;
	return 0;
}

static int blob_state(judge *jd, const arca_id *blob, uint8_t *out)
{
	arca_index_loc loc;
	int rc = arca_repo_blob_lookup(jd->r, blob, &loc);
	if (rc == ARCA_NOTFOUND) {
		arca_error_clear();
		*out = ARCA_REPLICA_INCOMPLETE;
		return 0;
	}
	return rc ? rc : pack_state(jd, &loc.pack, out);
}

static int tree_state(judge *jd, const arca_id *tree, uint8_t *out)
{
	uint8_t *memo = arca_idset_get(&jd->trees, tree), st, s;
	arca_tree *t = NULL;
	void *slot;
	size_t i, k;
	int rc;
	if (memo) {
		*out = *memo;
		return 0;
	}
	if ((rc = blob_state(jd, tree, &st)))
		return rc;
	if (st != ARCA_REPLICA_INCOMPLETE) {
		rc = arca_tree_load(jd->rd, tree, &t);
		if (rc == ARCA_NOTFOUND || rc == ARCA_CORRUPT) {
			arca_error_clear();
			st = worse(st, rc == ARCA_CORRUPT ? ARCA_REPLICA_DAMAGED : ARCA_REPLICA_INCOMPLETE);
			rc = 0;
		} else if (rc)
			return rc;
	}
	for (i = 0; t && i < t->n && !rc; i++) {
		const arca_node *nd = &t->nodes[i];
		if (nd->kind == ARCA_NODE_DIR) {
			if (!(rc = tree_state(jd, &nd->subtree, &s)))
				st = worse(st, s);
		}
		for (k = 0; k < nd->nchunks && !rc; k++)
			if (!(rc = blob_state(jd, &nd->chunks[k], &s)))
				st = worse(st, s);
	}
	arca_tree_free(t);
	if (rc)
		return rc;
	if ((rc = arca_idset_insert(&jd->trees, tree, &slot)) < 0)
		return rc;
	*(uint8_t *)slot = st;
	*out = st;
	return 0;
}

/* The row of snapshot s (made on first sight); rows maps ids to row numbers. */
static int row_of(arca_replica_status *out, arca_idset *rows, size_t *cap, const arca_snapshot *s, size_t ncopies,
		  arca_replica_row **row)
{
	void *val;
	size_t at;
	int rc;
	if ((val = arca_idset_get(rows, &s->id))) {
		memcpy(&at, val, sizeof(at)); /* idset values are not aligned */
		*row = &out->rows[at];
		return 0;
	}
	if ((rc = arca_grow(&out->rows, cap, out->nrows + 1, sizeof(*out->rows), 64)))
		return rc;
	at = out->nrows;
	if ((rc = arca_idset_insert(rows, &s->id, &val)) < 0)
		return rc;
	memcpy(val, &at, sizeof(at));
	*row = &out->rows[at];
	memset(*row, 0, sizeof(**row));
	if (!((*row)->state = calloc(ncopies, 1)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	out->nrows++;
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const arca_replica_row *x = a, *y = b;
	if (x->snap->time_ns != y->snap->time_ns)
		return x->snap->time_ns < y->snap->time_ns ? -1 : 1;
	return arca_id_cmp(&x->snap->id, &y->snap->id);
}

static int data_only(const char *key, uint64_t size, void *payload)
{
	return xfer_list_push(payload, key, size);
}

int arca_replicas_status(arca_repo *const *repos, size_t n, bool read_data, arca_replica_status *out)
{
	arca_idset rows;
	size_t i, k, cap = 0;
	int rc = 0;
	memset(out, 0, sizeof(*out));
	out->ncopies = n;
	arca_idset_init(&rows, sizeof(size_t));
	for (i = 0; i < n && !rc; i++) {
		arca_snapshot_list l = { 0 };
		judge jd;
		memset(&jd, 0, sizeof(jd));
		jd.r = repos[i];
		jd.read_data = read_data;
		arca_idset_init(&jd.packs, 1);
		arca_idset_init(&jd.trees, 1);
		if (!(rc = arca_be_list(arca_repo_backend(jd.r), "data/", data_only, &jd.listed)) &&
		    !(rc = arca_repo_reader_new(&jd.rd, jd.r)) && !(rc = arca_snapshot_list_load(jd.r, &l))) {
			xfer_list_sort(&jd.listed);
			for (k = 0; k < l.n && !rc; k++) {
				arca_replica_row *row = NULL;
				uint8_t st;
				if ((rc = row_of(out, &rows, &cap, l.v[k], n, &row)) || (rc = tree_state(&jd, &l.v[k]->tree, &st)))
					break;
				row->state[i] = st;
				if (!row->snap) { /* the row keeps the snapshot */
					row->snap = l.v[k];
					l.v[k] = NULL;
				}
			}
		}
		for (k = 0; k < l.n; k++)
			arca_snapshot_free(l.v[k]);
		free(l.v);
		arca_repo_reader_free(jd.rd);
		xfer_list_free(&jd.listed);
		arca_idset_free(&jd.packs);
		arca_idset_free(&jd.trees);
		arca_buf_free(&jd.buf);
	}
	arca_idset_free(&rows);
	if (!rc && out->nrows)
		qsort(out->rows, out->nrows, sizeof(*out->rows), row_cmp);
	if (rc)
		arca_replica_status_free(out);
	return rc;
}

void arca_replica_status_free(arca_replica_status *s)
{
	size_t i;
	for (i = 0; i < s->nrows; i++) {
		arca_snapshot_free(s->rows[i].snap);
		free(s->rows[i].state);
	}
	free(s->rows);
	memset(s, 0, sizeof(*s));
}
