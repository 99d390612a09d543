/*
 * snapshot/check.c - verifying a repository.
 *
 * Structure check: every snapshot decodes; every tree reachable from a
 * snapshot loads and hashes to its id; every data blob a file references
 * is in the index; every pack the index names exists.  With read_data,
 * every pack (or a random subset) is downloaded, its SHA-256 compared with
 * its name, its trailer opened and every blob opened and re-hashed.
 * Damage is then traced back to the snapshots and files it affects, so
 * the report says what a user would lose.
 */
#include "arca/snapshot.h"
#include "hash/idset.h"
#include "util/timefmt.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct checker {
	arca_repo *r;
	const arca_check_opts *o;
	arca_check_result *res;
	arca_repo_reader *rd;
	arca_idset trees_seen;
	arca_idset bad_blobs;   /* missing or damaged data/tree blobs */
	arca_idset packs_present; /* value: u64 size */
	arca_idset packs_indexed;
	arca_idset bad_packs;
	const arca_snapshot *cur;
	arca_progress prog;
	double t0, last;
} checker;

static void report(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(checker *c, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (c->o->report)
		c->o->report(line, c->o->report_payload);
}

static void tick(checker *c, bool force)
{
	double now;
	if (!c->o->progress)
		return;
	now = arca_monotonic();
	if (!force && now - c->last < 0.2)
		return;
	c->last = now;
	c->prog.elapsed = now - c->t0;
	c->o->progress(&c->prog, c->o->progress_payload);
}

static int walk_structure(checker *c, const arca_id *tree, const char *path)
{
	arca_tree *t = NULL;
	char hex[65], sid[9];
	size_t i, j;
	int rc;
	rc = arca_idset_insert(&c->trees_seen, tree, NULL);
	if (rc <= 0)
		return rc; /* already checked (or NOMEM) */
	c->res->trees++;
	if ((rc = arca_tree_load(c->rd, tree, &t))) {
		if (rc == ARCA_NOMEM)
			return rc;
		arca_snapshot_short_id(sid, c->cur);
		arca_id_hex(hex, tree);
		report(c, "snapshot %s: directory %s: tree %.16s unreadable: %s", sid, path[0] ? path : "/", hex,
		       arca_error_message());
		c->res->errors++;
		arca_idset_insert(&c->bad_blobs, tree, NULL);
		return 0;
	}
	for (i = 0; i < t->n; i++) {
		const arca_node *n = &t->nodes[i];
		if (n->kind == ARCA_NODE_FILE) {
			for (j = 0; j < n->nchunks; j++) {
				c->res->blobs_referenced++;
				if (!arca_index_has(arca_repo_index(c->r), &n->chunks[j]) &&
				    arca_idset_insert(&c->bad_blobs, &n->chunks[j], NULL) == 1) {
					arca_id_hex(hex, &n->chunks[j]);
					report(c, "blob %.16s is referenced but missing from the index", hex);
					c->res->errors++;
				}
			}
		} else if (n->kind == ARCA_NODE_DIR) {
			char *p = malloc(strlen(path) + strlen(n->name) + 2);
			if (!p) {
				rc = ARCA_NOMEM;
				break;
			}
			sprintf(p, "%s/%s", path, n->name);
			rc = walk_structure(c, &n->subtree, p);
			free(p);
			if (rc)
				break;
		}
	}
	arca_tree_free(t);
	c->prog.dirs++;
	tick(c, false);
	return rc;
}

static int note_pack(const char *key, uint64_t size, void *payload)
{
	checker *c = payload;
	const char *slash = strrchr(key, '/');
	arca_id id;
	void *val;
	if (!slash || arca_id_parse(&id, slash + 1))
		return 0;
	if (arca_idset_insert(&c->packs_present, &id, &val) < 0)
		return ARCA_NOMEM;
	memcpy(val, &size, sizeof(size));
	return 0;
}

static int note_indexed(const arca_id *blob, const arca_index_loc *loc, void *payload)
{
	checker *c = payload;
	return arca_idset_insert(&c->packs_indexed, &loc->pack, NULL) < 0 ? ARCA_NOMEM : 0;
}

static int mark_blobs_of_bad_packs(const arca_id *blob, const arca_index_loc *loc, void *payload)
{
	checker *c = payload;
	if (arca_idset_contains(&c->bad_packs, &loc->pack))
		return arca_idset_insert(&c->bad_blobs, blob, NULL) < 0 ? ARCA_NOMEM : 0;
	return 0;
}

/* Read and verify one whole pack. */
static void read_pack(checker *c, arca_zctx *z, const arca_id *pid, uint64_t size, arca_buf *data, arca_buf *raw)
{
	char key[80], hex[65];
	arca_id got;
	uint32_t tlen;
	arca_blob_entry *e = NULL;
	size_t n = 0, i;
	const arca_blob_codec *codec = arca_repo_codec(c->r);
	arca_repo_pack_key(key, pid);
	arca_id_hex(hex, pid);
	arca_buf_clear(data);
	c->res->packs_read++;
	if (arca_be_get(arca_repo_backend(c->r), key, data)) {
		report(c, "pack %s: cannot read: %s", hex, arca_error_message());
		goto bad;
	}
	c->prog.bytes += data->len;
	arca_sha256(&got, data->data, data->len);
	if (!arca_id_eq(&got, pid)) {
		report(c, "pack %s: content does not match its name (damaged: bit rot or truncation)", hex);
		goto bad;
	}
	if (data->len < ARCA_PACK_FOOTER_LEN ||
	    arca_pack_footer_parse(data->data + data->len - ARCA_PACK_FOOTER_LEN, data->len, &tlen) ||
	    arca_pack_trailer_parse(codec, z, data->data + data->len - ARCA_PACK_FOOTER_LEN - tlen, tlen,
				    data->len, &e, &n)) {
		report(c, "pack %s: %s", hex, arca_error_message());
		goto bad;
	}
	for (i = 0; i < n; i++) {
		arca_buf_clear(raw);
		if (arca_blob_open(codec, z, raw, &e[i].id, e[i].flags, data->data + e[i].offset, e[i].stored_len,
				   e[i].raw_len)) {
			report(c, "pack %s: %s", hex, arca_error_message());
			goto bad;
		}
		arca_repo_blob_id(c->r, &got, raw->data, raw->len);
		if (!arca_id_eq(&got, &e[i].id)) {
			arca_id_hex(hex, &e[i].id);
			report(c, "pack %s: blob %.16s does not hash to its id", key, hex);
			goto bad;
		}
	}
	free(e);
	(void)size;
	return;
bad:
	free(e);
	c->res->damaged_packs++;
	c->res->errors++;
	arca_idset_insert(&c->bad_packs, pid, NULL);
}

/* Trace damage to files. */
typedef struct trace_ctx {
	checker *c;
	const arca_snapshot *s;
	uint64_t files;
} trace_ctx;

static int trace_cb(const char *path, const arca_node *n, void *payload)
{
	trace_ctx *t = payload;
	size_t i;
	char sid[9];
	if (n->kind == ARCA_NODE_DIR && arca_idset_contains(&t->c->bad_blobs, &n->subtree)) {
		arca_snapshot_short_id(sid, t->s);
		report(t->c, "snapshot %s: directory %s is damaged (its contents cannot be listed)", sid, path);
		return ARCA_WALK_SKIP;
	}
	if (n->kind != ARCA_NODE_FILE)
		return 0;
	for (i = 0; i < n->nchunks; i++)
		if (arca_idset_contains(&t->c->bad_blobs, &n->chunks[i])) {
			arca_snapshot_short_id(sid, t->s);
			report(t->c, "snapshot %s: file %s is damaged", sid, path);
			t->files++;
			break;
		}
	return 0;
}

static int trace_tree(trace_ctx *t, arca_repo_reader *rd, const arca_id *tree)
{
	int rc = arca_walk(rd, tree, trace_cb, t);
	if (rc && rc != ARCA_NOMEM)
		rc = 0; /* damaged trees were reported above */
	return rc;
}

int arca_check(arca_repo *r, const arca_check_opts *o, arca_check_result *res)
{
	checker c;
	arca_snapshot_list l = { 0 };
	arca_zctx *z = NULL;
	arca_buf data = ARCA_BUF_INIT, raw = ARCA_BUF_INIT;
	size_t i, pos;
	const arca_id *id;
	void *val;
	int rc;
	memset(&c, 0, sizeof(c));
	memset(res, 0, sizeof(*res));
	c.r = r;
	c.o = o;
	c.res = res;
	c.t0 = arca_monotonic();
	arca_idset_init(&c.trees_seen, 0);
	arca_idset_init(&c.bad_blobs, 0);
	arca_idset_init(&c.packs_present, sizeof(uint64_t));
	arca_idset_init(&c.packs_indexed, 0);
	arca_idset_init(&c.bad_packs, 0);
	if ((rc = arca_repo_reader_new(&c.rd, r)) || (rc = arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)))
		goto out;
	if ((rc = arca_snapshot_list_load_fresh(r, &l)))
		goto out;
	res->snapshots = l.n;
	if (l.damaged) {
		report(&c, "%zu snapshot object(s) are damaged and cannot be read", l.damaged);
		res->errors += l.damaged;
	}
	/* packs: present vs indexed */
	if ((rc = arca_be_list(arca_repo_backend(r), "data/", note_pack, &c)) ||
	    (rc = arca_index_foreach_blob(arca_repo_index(r), note_indexed, &c)))
		goto out;
	res->packs = c.packs_present.count;
	for (pos = 0; arca_idset_next(&c.packs_indexed, &pos, &id, NULL);) {
		if (!arca_idset_contains(&c.packs_present, id)) {
			char hex[65];
			arca_id_hex(hex, id);
			report(&c, "pack %s is in the index but missing from the repository", hex);
			res->errors++;
			arca_idset_insert(&c.bad_packs, id, NULL);
		}
	}
	/* A pack an index file names is not a leftover even when every blob in
	 * it also lives in another pack (killed runs rewrite blobs they never
	 * indexed): 'repair index' could not "adopt" it any further. */
	for (pos = 0; arca_idset_next(&c.packs_present, &pos, &id, NULL);)
		if (!arca_idset_contains(&c.packs_indexed, id) && !arca_index_has_pack(arca_repo_index(r), id))
			res->unindexed_packs++;
	/* trees */
	for (i = 0; i < l.n; i++) {
		c.cur = l.v[i];
		if ((rc = walk_structure(&c, &l.v[i]->tree, "")))
			goto out;
	}
	/* data */
	if (o->read_data) {
		double subset = o->subset > 0 && o->subset <= 1 ? o->subset : 1;
		uint64_t total = 0;
		for (pos = 0; arca_idset_next(&c.packs_present, &pos, &id, &val);) {
			uint64_t size;
			memcpy(&size, val, sizeof(size));
			total += size;
		}
		c.prog.bytes_total = subset < 1 ? 0 : total;
		for (pos = 0; arca_idset_next(&c.packs_present, &pos, &id, &val);) {
			uint64_t size;
			if (subset < 1) {
				uint32_t rnd;
				arca_random(&rnd, sizeof(rnd));
				if ((double)rnd / 4294967296.0 >= subset)
					continue;
			}
			memcpy(&size, val, sizeof(size));
			read_pack(&c, z, id, size, &data, &raw);
			tick(&c, false);
		}
	}
	if (c.bad_packs.count &&
	    (rc = arca_index_foreach_blob(arca_repo_index(r), mark_blobs_of_bad_packs, &c)))
		goto out;
	if (c.bad_blobs.count) {
		trace_ctx t = { &c, NULL, 0 };
		for (i = 0; i < l.n; i++) {
			t.s = l.v[i];
			if ((rc = trace_tree(&t, c.rd, &l.v[i]->tree)))
				goto out;
		}
	}
	tick(&c, true);
	rc = 0;
out:
	arca_snapshot_list_free(&l);
	arca_repo_reader_free(c.rd);
	arca_zctx_free(z);
	arca_buf_free(&data);
	arca_buf_free(&raw);
	arca_idset_free(&c.trees_seen);
	arca_idset_free(&c.bad_blobs);
	arca_idset_free(&c.packs_present);
	arca_idset_free(&c.packs_indexed);
	arca_idset_free(&c.bad_packs);
	return rc;
}
