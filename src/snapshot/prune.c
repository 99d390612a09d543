/*
 * snapshot/prune.c - garbage collection.
 *
 * Prune collects the blobs the snapshots reference (every tree of every
 * snapshot, and the data blobs the trees list), attributes every indexed
 * blob to the one pack the index places it in, and then deletes packs that
 * hold no used blob, copies the used blobs of packs that are mostly unused
 * into new packs (still sealed: they are opened only to verify them), and
 * replaces all index files by one.  Blobs stored more than once keep the
 * copy the index names; the others count as unused.
 *
 * It runs under the exclusive lock, so no backup can reference a blob
 * while its pack is deleted (and arca_repo_lock() re-reads the index, so a
 * backup that opened the repository before a prune does not trust a stale
 * cache afterwards).
 *
 * Crash safety is the order of durable steps (docs/FORMAT.md, "Prune"):
 * (a) new packs, (b) one new index file naming every kept and new pack and
 * superseding every older index file, (c) deleting those index files,
 * (d) deleting packs.  Before (b) the old index files describe packs that
 * all still exist; from (b) on the new file alone is complete; a pack is
 * deleted only once no index file names it.  An interrupted prune leaves
 * at most packs no index file names, which the next prune deletes.
 *
 * Anything that makes the set of used blobs uncertain (an unreadable
 * snapshot or tree, a referenced blob the index does not know, a missing
 * pack holding used blobs, a damaged index file) stops the prune before it
 * writes or deletes anything.
 */
#include "arca/snapshot.h"
#include "hash/idset.h"
#include "util/buf.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PACK_KEEP = 0, PACK_DELETE = 1, PACK_REPACK = 2 };

typedef struct pack_info {
	arca_id id;
	uint64_t size;      /* bytes, as listed in data/ */
	bool present;       /* listed in data/ */
	bool indexed;       /* some index file names it */
	uint8_t action;     /* PACK_* */
	arca_blob_entry *e; /* the blobs the index places in this pack */
	size_t n, cap;
	uint64_t used_blobs, used_bytes;
	uint64_t unused_blobs, unused_bytes;
	uint64_t waste; /* unused bytes, plus bytes no index entry accounts for */
} pack_info;

typedef struct pruner {
	arca_repo *r;
	const arca_prune_opts *o;
	arca_prune_result *res;
	arca_repo_reader *rd;
	arca_zctx *z;
	arca_idset trees;   /* trees walked */
	arca_idset used;    /* blobs some snapshot references */
	arca_idset packmap; /* pack id -> size_t index into packs */
	pack_info *packs;
	size_t npacks, cap;
	arca_idx_pack *newp; /* packs written by this prune */
	size_t nnew, capnew;
	arca_idset newids;
	const arca_snapshot *cur;
	uint64_t steps[ARCA_PRUNE_STEP_PACK_REMOVED + 1];
	arca_progress prog;
	double t0, last;
} pruner;

static int nomem(void) { return arca_error_set(ARCA_NOMEM, "out of memory"); }

static void tick(pruner *p, const char *phase, bool force)
{
	double now;
	if (!p->o->progress)
		return;
	now = arca_monotonic();
	if (!force && now - p->last < 0.2 && p->prog.current && !strcmp(phase, p->prog.current))
		return;
	p->last = now;
	p->prog.current = phase;
	p->prog.elapsed = now - p->t0;
	p->o->progress(&p->prog, p->o->progress_payload);
}

static int checkpoint(pruner *p, int step)
{
	uint64_t k = ++p->steps[step];
	if (p->o->checkpoint && p->o->checkpoint(step, k, p->o->checkpoint_payload))
		return arca_error_set(ARCA_ERROR, "prune stopped by its checkpoint hook after step %d (#%llu)", step,
				      (unsigned long long)k);
	return 0;
}

static uint64_t varint_len(uint64_t v)
{
	uint64_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint64_t entry_trailer_len(const arca_blob_entry *e)
{
	return 2 + varint_len(e->key_id) + ARCA_ID_LEN + varint_len(e->offset) + varint_len(e->stored_len) +
	       varint_len(e->raw_len);
}

/* Pack index of id, created (not present, no blobs) if new. */
static int pack_get(pruner *p, const arca_id *id, size_t *out)
{
	void *val;
	int rc = arca_idset_insert(&p->packmap, id, &val);
	if (rc < 0)
		return nomem();
	if (rc == 0) {
		memcpy(out, val, sizeof(*out));
		return 0;
	}
	if ((rc = arca_grow(&p->packs, &p->cap, p->npacks + 1, sizeof(*p->packs), 256))) {
		arca_idset_remove(&p->packmap, id);
		return rc;
	}
	memset(&p->packs[p->npacks], 0, sizeof(p->packs[0]));
	p->packs[p->npacks].id = *id;
	memcpy(val, &p->npacks, sizeof(p->npacks));
	*out = p->npacks++;
	return 0;
}

/* ---- what the snapshots use ---- */

static int walk_tree(pruner *p, const arca_id *tree)
{
	arca_tree *t = NULL;
	char hex[65], sid[9];
	size_t i, j;
	int rc = arca_idset_insert(&p->trees, tree, NULL);
	if (rc <= 0)
		return rc < 0 ? nomem() : 0; /* walked already */
	if (arca_idset_insert(&p->used, tree, NULL) < 0)
		return nomem();
	p->res->trees++;
	if ((rc = arca_tree_load(p->rd, tree, &t))) {
		if (rc == ARCA_NOMEM)
			return rc;
		arca_snapshot_short_id(sid, p->cur);
		arca_id_hex(hex, tree);
		rc = arca_error_prefix(rc, "snapshot %s: tree %.16s cannot be read", sid, hex);
		return arca_error_hint(rc, "prune cannot tell what an unreadable snapshot references, so it changed "
					   "nothing; run 'arca check'");
	}
	for (i = 0; i < t->n && !rc; i++) {
		const arca_node *n = &t->nodes[i];
		if (n->kind == ARCA_NODE_FILE) {
			for (j = 0; j < n->nchunks; j++)
				if (arca_idset_insert(&p->used, &n->chunks[j], NULL) < 0) {
					rc = nomem();
					break;
				}
			p->prog.files++;
		} else if (n->kind == ARCA_NODE_DIR) {
			rc = walk_tree(p, &n->subtree);
		}
	}
	arca_tree_free(t);
	p->prog.dirs++;
	tick(p, "reading snapshots", false);
	return rc;
}

/* ---- where blobs are ---- */

static int note_pack(const char *key, uint64_t size, void *payload)
{
	pruner *p = payload;
	const char *slash = strrchr(key, '/');
	arca_id id;
	size_t i;
	int rc;
	if (!slash || arca_id_parse(&id, slash + 1))
		return 0; /* not a pack (temporary files are not listed) */
	if ((rc = pack_get(p, &id, &i)))
		return rc;
	p->packs[i].present = true;
	p->packs[i].size = size;
	return 0;
}

static int note_blob(const arca_id *blob, const arca_index_loc *loc, void *payload)
{
	pruner *p = payload;
	pack_info *pi;
	arca_blob_entry *e;
	size_t i;
	int rc;
	if ((rc = pack_get(p, &loc->pack, &i)))
		return rc;
	pi = &p->packs[i];
	if ((rc = arca_grow(&pi->e, &pi->cap, pi->n + 1, sizeof(*pi->e), 16)))
		return rc;
	e = &pi->e[pi->n++];
	memset(e, 0, sizeof(*e));
	e->id = *blob;
	e->type = loc->type;
	e->flags = loc->flags;
	e->key_id = loc->key_id;
	e->offset = loc->offset;
	e->stored_len = loc->stored_len;
	e->raw_len = loc->raw_len;
	if (arca_idset_contains(&p->used, blob)) {
		pi->used_blobs++;
		pi->used_bytes += loc->stored_len;
	} else {
		pi->unused_blobs++;
		pi->unused_bytes += loc->stored_len;
	}
	return 0;
}

/* Bytes of pi that its index entries account for: their stored bytes, a
 * sealed trailer listing exactly them, and the footer.  Anything beyond
 * is blobs no index entry names (copies of blobs the index places
 * elsewhere): unused too. */
static uint64_t accounted_bytes(const pruner *p, const pack_info *pi)
{
	uint64_t b = ARCA_PACK_FOOTER_LEN + arca_cipher_overhead(arca_repo_cipher(p->r)) + 1 + varint_len(pi->n);
	size_t i;
	for (i = 0; i < pi->n; i++)
		b += pi->e[i].stored_len + entry_trailer_len(&pi->e[i]);
	return b;
}

static int cmp_offset(const void *a, const void *b)
{
	const arca_blob_entry *x = a, *y = b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

typedef struct candidate {
	double ratio; /* waste / size */
	size_t i;
	arca_id id;
} candidate;

static int cmp_candidate(const void *a, const void *b)
{
	const candidate *x = a, *y = b;
	if (x->ratio != y->ratio)
		return x->ratio > y->ratio ? -1 : 1;
	return arca_id_cmp(&x->id, &y->id);
}

static int cmp_pack_id(const void *a, const void *b)
{
	const pack_info *const *x = a, *const *y = b;
	return arca_id_cmp(&(*x)->id, &(*y)->id);
}

/* ---- writing ---- */

static int flush_pack(pruner *p, arca_pack_writer *w)
{
	const arca_buf *bytes;
	const arca_blob_entry *e;
	arca_blob_entry *copy;
	size_t n, i;
	arca_id pid;
	char key[80];
	bool existed = false;
	int rc;
	if (!arca_pack_writer_count(w))
		return 0;
	if ((rc = arca_pack_writer_finish(w, p->z, &pid, &bytes, &e, &n)))
		return rc;
	arca_repo_pack_key(key, &pid);
	/* Same bytes, same name: an unencrypted repository can produce a pack
	 * an interrupted prune already wrote; it is then not deleted below. */
	if (arca_idset_contains(&p->packmap, &pid)) {
		memcpy(&i, arca_idset_get(&p->packmap, &pid), sizeof(i));
		existed = p->packs[i].present;
	}
	if ((rc = arca_be_put(arca_repo_backend(p->r), key, bytes->data, bytes->len, 0))) {
		arca_pack_writer_reset(w);
		return rc;
	}
	if ((rc = arca_grow(&p->newp, &p->capnew, p->nnew + 1, sizeof(*p->newp), 16))) {
		arca_pack_writer_reset(w);
		return rc;
	}
	if (!(copy = malloc(n * sizeof(*copy))) || arca_idset_insert(&p->newids, &pid, NULL) < 0) {
		free(copy);
		arca_pack_writer_reset(w);
		return nomem();
	}
	memcpy(copy, e, n * sizeof(*copy));
	p->newp[p->nnew].pack_id = pid;
	p->newp[p->nnew].entries = copy;
	p->newp[p->nnew].n = n;
	p->nnew++;
	p->res->packs_written++;
	if (!existed)
		p->res->bytes_after += bytes->len;
	arca_pack_writer_reset(w);
	return checkpoint(p, ARCA_PRUNE_STEP_PACK_WRITTEN);
}

/* Copy the used blobs of pi, verified, into the writers (by blob type). */
static int repack_one(pruner *p, pack_info *pi, arca_pack_writer *w[2], arca_buf *data, arca_buf *raw)
{
	const arca_blob_codec *codec = arca_repo_codec(p->r);
	uint32_t psize = arca_repo_pack_size(p->r);
	char key[80], hex[65], bhex[65];
	arca_id got;
	size_t i;
	int rc;
	arca_repo_pack_key(key, &pi->id);
	arca_id_hex(hex, &pi->id);
	arca_buf_clear(data);
	if ((rc = arca_be_get(arca_repo_backend(p->r), key, data))) /* the message names the pack */
		return arca_error_hint(rc, "prune deleted nothing; run 'arca check'");
	qsort(pi->e, pi->n, sizeof(*pi->e), cmp_offset); /* keep the original order */
	for (i = 0; i < pi->n; i++) {
		const arca_blob_entry *e = &pi->e[i];
		arca_pack_writer *pw = w[e->type == ARCA_BLOB_TREE];
		if (!arca_idset_contains(&p->used, &e->id))
			continue;
		arca_id_hex(bhex, &e->id);
		if (e->offset > data->len || e->stored_len > data->len - e->offset ||
		    data->len - e->offset - e->stored_len < ARCA_PACK_FOOTER_LEN)
			return arca_error_hint(arca_error_set(ARCA_CORRUPT,
							      "pack %s: blob %.16s lies beyond the end of the pack "
							      "(truncated?)",
							      hex, bhex),
					       "prune changed nothing; run 'arca check --read-data'");
		/* do not copy damage into a new pack and delete the evidence */
		arca_buf_clear(raw);
		if ((rc = arca_blob_open(codec, p->z, raw, &e->id, e->flags, data->data + e->offset, e->stored_len,
					 e->raw_len)))
			return arca_error_hint(arca_error_prefix(rc, "pack %s", hex),
					       "prune deleted nothing; run 'arca check --read-data'");
		arca_repo_blob_id(p->r, &got, raw->data, raw->len);
		if (!arca_id_eq(&got, &e->id))
			return arca_error_hint(arca_error_set(ARCA_CORRUPT, "pack %s: blob %.16s does not hash to its id",
							      hex, bhex),
					       "prune deleted nothing; run 'arca check --read-data'");
		if ((rc = arca_pack_writer_add_sealed(pw, e, data->data + e->offset)))
			return rc;
		p->prog.bytes += e->stored_len;
		if (arca_pack_writer_size(pw) >= psize && (rc = flush_pack(p, pw)))
			return rc;
	}
	p->prog.files++;
	tick(p, "repacking", false);
	return 0;
}

static int remove_object(pruner *p, const char *key)
{
	int rc = arca_be_remove(arca_repo_backend(p->r), key);
	if (rc == ARCA_NOTFOUND) {
		arca_error_clear(); /* gone already (an interrupted run got that far) */
		rc = 0;
	}
	return rc;
}

/* Step (c): remove the index files in one batch (an index file already
 * gone, from an interrupted run, is fine); the test hook sees one step per
 * file, all after the batch is durable. */
static int remove_index_files(pruner *p, const arca_id *ids, size_t n)
{
	char (*keys)[80] = calloc(n ? n : 1, sizeof(*keys));
	const char **kv = calloc(n ? n : 1, sizeof(*kv));
	int *rcs = calloc(n ? n : 1, sizeof(*rcs));
	size_t i;
	int rc = 0;
	if (!keys || !kv || !rcs)
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n && !rc; i++) {
		char hex[65];
		arca_id_hex(hex, &ids[i]);
		snprintf(keys[i], sizeof(keys[i]), "index/%s", hex);
		kv[i] = keys[i];
	}
	if (!rc && n)
		rc = arca_be_remove_batch(arca_repo_backend(p->r), kv, n, rcs);
	for (i = 0; i < n && !rc; i++) {
		p->res->index_files_superseded++;
		rc = checkpoint(p, ARCA_PRUNE_STEP_INDEX_REMOVED);
	}
	free(keys);
	free(kv);
	free(rcs);
	return rc;
}

/* Everything after the plan: (a) new packs, (b) the index file, (c) old
 * index files deleted, (d) packs deleted. */
static int execute(pruner *p, const arca_id *oldidx, size_t noldidx, bool index_dirty)
{
	arca_prune_result *res = p->res;
	arca_pack_writer *w[2] = { NULL, NULL };
	arca_buf data = ARCA_BUF_INIT, raw = ARCA_BUF_INIT;
	arca_idx_pack *ip = NULL;
	pack_info **order = NULL;
	size_t i, nip = 0, nrepack = 0;
	char key[80];
	int rc;

	/* (a) new packs, durable (put fsyncs the file and its directory) */
	if (!(order = calloc(p->npacks ? p->npacks : 1, sizeof(*order))))
		return nomem();
	for (i = 0; i < p->npacks; i++)
		if (p->packs[i].present && p->packs[i].action == PACK_REPACK)
			order[nrepack++] = &p->packs[i];
	qsort(order, nrepack, sizeof(*order), cmp_pack_id);
	p->prog.files = 0;
	p->prog.bytes = 0;
	p->prog.bytes_total = res->bytes_repacked;
	if (nrepack && ((rc = arca_pack_writer_new(&w[0], arca_repo_codec(p->r))) ||
			(rc = arca_pack_writer_new(&w[1], arca_repo_codec(p->r)))))
		goto out;
	for (i = 0; i < nrepack; i++)
		if ((rc = repack_one(p, order[i], w, &data, &raw)))
			goto out;
	if (nrepack && ((rc = flush_pack(p, w[0])) || (rc = flush_pack(p, w[1]))))
		goto out;

	/* (b) one index file: every kept pack and every new one; it
	 * supersedes every index file there is */
	if (index_dirty) {
		tick(p, "writing the index", true);
		if (!(ip = calloc(p->npacks + p->nnew + 1, sizeof(*ip)))) {
			rc = nomem();
			goto out;
		}
		for (i = 0; i < p->npacks; i++) {
			pack_info *pi = &p->packs[i];
			if (!pi->present || pi->action != PACK_KEEP || !pi->n || arca_idset_contains(&p->newids, &pi->id))
				continue;
			qsort(pi->e, pi->n, sizeof(*pi->e), cmp_offset);
			ip[nip].pack_id = pi->id;
			ip[nip].entries = pi->e;
			ip[nip].n = pi->n;
			nip++;
		}
		for (i = 0; i < p->nnew; i++)
			ip[nip++] = p->newp[i];
		/* no pack left to list: deleting the old files is enough */
		if (nip && (rc = arca_repo_index_write(p->r, ip, nip, oldidx, noldidx, NULL)))
			goto out;
		if ((rc = checkpoint(p, ARCA_PRUNE_STEP_INDEX_WRITTEN)))
			goto out;

		/* (c) the superseded index files; their removal is durable
		 * before any pack goes (one batch: one directory sync) */
		if ((rc = remove_index_files(p, oldidx, noldidx)))
			goto out;
	}

	/* (d) packs no index file names any more */
	tick(p, "deleting packs", true);
	for (i = 0; i < p->npacks; i++) {
		pack_info *pi = &p->packs[i];
		if (!pi->present || pi->action == PACK_KEEP)
			continue;
		if (arca_idset_contains(&p->newids, &pi->id)) {
			/* rewritten with the same bytes just now: it stays */
			res->bytes_after += pi->size;
			if (pi->action == PACK_DELETE) {
				res->packs_deleted--;
				if (!pi->indexed)
					res->packs_orphaned--;
			}
			continue;
		}
		arca_repo_pack_key(key, &pi->id);
		if ((rc = remove_object(p, key)))
			goto out;
		if ((rc = checkpoint(p, ARCA_PRUNE_STEP_PACK_REMOVED)))
			goto out;
	}

	/* this process's cache: the files it absorbed are gone */
	if (index_dirty && (rc = arca_repo_index_reload(p->r)))
		goto out;
	rc = 0;
out:
	arca_pack_writer_free(w[0]);
	arca_pack_writer_free(w[1]);
	arca_buf_free(&data);
	arca_buf_free(&raw);
	free(ip);
	free(order);
	return rc;
}

int arca_prune(arca_repo *r, const arca_prune_opts *opts, arca_prune_result *res)
{
	arca_prune_opts defaults = ARCA_PRUNE_OPTS_INIT;
	const arca_prune_opts *o = opts ? opts : &defaults;
	arca_index *ix = arca_repo_index(r);
	arca_snapshot_list l = { 0 };
	candidate *cand = NULL;
	arca_id *oldidx = NULL;
	size_t noldidx = 0, ncand = 0, i, pos;
	uint64_t found = 0, keep_bytes = 0, unused = 0, repack_raw[2] = { 0, 0 }, repack_n[2] = { 0, 0 };
	const arca_id *id;
	bool exclusive, index_dirty = false;
	double limit;
	pruner p;
	int rc;

	memset(res, 0, sizeof(*res));
	memset(&p, 0, sizeof(p));
	if (o->version != 1)
		return arca_error_set(ARCA_INVAL, "prune options version %u is not supported", o->version);
	if (!(o->max_unused >= 0 && o->max_unused <= 100))
		return arca_error_set(ARCA_INVAL, "max unused %g%% is not a percentage between 0 and 100", o->max_unused);
	if (!arca_repo_lock_held(r, &exclusive) || (!exclusive && !o->dry_run))
		return arca_error_set(ARCA_INVAL, "prune needs the exclusive lock on the repository");
	res->dry_run = o->dry_run;
	p.r = r;
	p.o = o;
	p.res = res;
	p.t0 = arca_monotonic();
	arca_idset_init(&p.trees, 0);
	arca_idset_init(&p.used, 0);
	arca_idset_init(&p.packmap, sizeof(size_t));
	arca_idset_init(&p.newids, 0);
	if ((rc = arca_repo_reader_new(&p.rd, r)) || (rc = arca_zctx_new(&p.z, ARCA_COMPRESS_ZSTD, 3)))
		goto out;
	/* the cache must describe exactly the index files there are now */
	if ((rc = arca_repo_index_sync(r)) || (rc = arca_repo_index_files(r, &oldidx, &noldidx)))
		goto out;
	for (i = 0; i < noldidx; i++) {
		if (!arca_index_has_file(ix, &oldidx[i])) {
			char hex[65];
			arca_id_hex(hex, &oldidx[i]);
			rc = arca_error_set(ARCA_CORRUPT, "index file index/%s cannot be read", hex);
			rc = arca_error_hint(rc, "prune changed nothing; 'arca repair index' rebuilds the index from "
						 "the packs");
			goto out;
		}
	}

	/* 1. every blob a snapshot references */
	tick(&p, "reading snapshots", true);
	if ((rc = arca_snapshot_list_load_fresh(r, &l)))
		goto out;
	res->snapshots = l.n;
	if (l.damaged) {
		rc = arca_error_set(ARCA_CORRUPT, "%zu snapshot object(s) cannot be read", l.damaged);
		rc = arca_error_hint(rc, "prune cannot know what a damaged snapshot references, so it changed "
					 "nothing; run 'arca check', then remove or replace the damaged snapshot objects");
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		p.cur = l.v[i];
		if ((rc = walk_tree(&p, &l.v[i]->tree)))
			goto out;
	}
	res->blobs_used = p.used.count;

	/* 2. where every blob is, and what each pack holds */
	tick(&p, "reading the index", true);
	if ((rc = arca_be_list(arca_repo_backend(r), "data/", note_pack, &p)) ||
	    (rc = arca_index_foreach_blob(ix, note_blob, &p)))
		goto out;
	for (i = 0; i < p.npacks; i++) {
		pack_info *pi = &p.packs[i];
		pi->indexed = pi->n || arca_index_has_pack(ix, &pi->id);
		found += pi->used_blobs;
		if (!pi->present && pi->used_blobs) {
			char hex[65];
			arca_id_hex(hex, &pi->id);
			rc = arca_error_set(ARCA_NOTFOUND,
					    "pack %s is in the index but missing from the repository, and snapshots "
					    "reference %llu of its blobs",
					    hex, (unsigned long long)pi->used_blobs);
			rc = arca_error_hint(rc, "prune changed nothing; run 'arca check' to see what is affected");
			goto out;
		}
	}
	if (found != p.used.count) {
		char hex[65] = "?";
		for (pos = 0; arca_idset_next(&p.used, &pos, &id, NULL);)
			if (!arca_index_has(ix, id)) {
				arca_id_hex(hex, id);
				break;
			}
		rc = arca_error_set(ARCA_NOTFOUND, "%llu blob(s) that snapshots reference are not in the index (%.16s...)",
				    (unsigned long long)(p.used.count - found), hex);
		rc = arca_error_hint(rc, "prune changed nothing; run 'arca check'; 'arca repair index' indexes packs "
					 "that no index file names");
		goto out;
	}

	/* 3. the plan: delete packs without a used blob; repack the packs
	 * with the largest unused share until the unused bytes left are at
	 * most max_unused percent of all pack bytes */
	if (!(cand = calloc(p.npacks ? p.npacks : 1, sizeof(*cand)))) {
		rc = nomem();
		goto out;
	}
	for (i = 0; i < p.npacks; i++) {
		pack_info *pi = &p.packs[i];
		uint64_t acct;
		if (!pi->present) {
			if (pi->n)
				index_dirty = true; /* entries of a vanished pack, none used: dropped */
			continue;
		}
		res->packs_total++;
		res->bytes_before += pi->size;
		res->blobs_unused += pi->unused_blobs;
		if (!pi->used_blobs) {
			pi->action = PACK_DELETE;
			res->packs_deleted++;
			res->bytes_unused_before += pi->size;
			if (pi->indexed)
				index_dirty = true;
			else
				res->packs_orphaned++;
			continue;
		}
		acct = accounted_bytes(&p, pi);
		pi->waste = pi->unused_bytes + (pi->size > acct ? pi->size - acct : 0);
		res->bytes_unused_before += pi->waste;
		keep_bytes += pi->size;
		unused += pi->waste;
		cand[ncand].ratio = pi->size ? (double)pi->waste / (double)pi->size : 0;
		cand[ncand].i = i;
		cand[ncand].id = pi->id;
		ncand++;
	}
	qsort(cand, ncand, sizeof(*cand), cmp_candidate);
	limit = o->max_unused / 100.0;
	for (i = 0; i < ncand; i++) {
		pack_info *pi = &p.packs[cand[i].i];
		size_t j;
		if (!pi->waste || (double)unused <= limit * (double)keep_bytes)
			break;
		pi->action = PACK_REPACK;
		index_dirty = true;
		res->packs_repacked++;
		res->blobs_repacked += pi->used_blobs;
		res->bytes_repacked += pi->used_bytes;
		unused -= pi->waste;
		keep_bytes -= pi->size;
		for (j = 0; j < pi->n; j++)
			if (arca_idset_contains(&p.used, &pi->e[j].id)) {
				int t = pi->e[j].type == ARCA_BLOB_TREE;
				repack_raw[t] += pi->e[j].stored_len + entry_trailer_len(&pi->e[j]);
				repack_n[t]++;
			}
	}
	res->bytes_unused_after = unused;
	res->bytes_after = keep_bytes; /* + the new packs, added as they are written */
	if (o->dry_run) {
		/* estimate the new packs: blobs plus trailers, cut at the pack size */
		uint32_t psize = arca_repo_pack_size(r);
		int t;
		for (t = 0; t < 2; t++) {
			uint64_t np;
			if (!repack_n[t])
				continue;
			np = (repack_raw[t] + psize - 1) / psize;
			res->packs_written += np;
			res->bytes_after += repack_raw[t] +
					    np * (ARCA_PACK_FOOTER_LEN + arca_cipher_overhead(arca_repo_cipher(r)) + 1 + 3);
		}
		res->bytes_freed = res->bytes_before > res->bytes_after ? res->bytes_before - res->bytes_after : 0;
		tick(&p, "done", true);
		rc = 0;
		goto out;
	}

	/* 4. carry it out, in the crash-safe order */
	if ((rc = arca_repo_cleanup_leftovers(r, NULL)))
		goto out;
	if ((rc = checkpoint(&p, ARCA_PRUNE_STEP_PLANNED)))
		goto out;
	if ((rc = execute(&p, oldidx, noldidx, index_dirty)))
		goto out;
	res->bytes_freed = res->bytes_before > res->bytes_after ? res->bytes_before - res->bytes_after : 0;
	tick(&p, "done", true);
	rc = 0;
out:
	for (i = 0; i < p.npacks; i++)
		free(p.packs[i].e);
	free(p.packs);
	for (i = 0; i < p.nnew; i++)
		free(p.newp[i].entries);
	free(p.newp);
	free(cand);
	free(oldidx);
	arca_snapshot_list_free(&l);
	arca_repo_reader_free(p.rd);
	arca_zctx_free(p.z);
	arca_idset_free(&p.trees);
	arca_idset_free(&p.used);
	arca_idset_free(&p.packmap);
	arca_idset_free(&p.newids);
	return rc;
}
