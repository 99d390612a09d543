/*
 * repo/repo_blob.c - the blob store: writers that seal blobs into packs,
 * claims that keep each blob stored once, index files, readers, small
 * objects, and keeping the local LMDB index in step with index/.
 *
 * Write order (the durability rule): a pack is put (fsynced, renamed)
 * before any index file names it (by the committer thread, repo_commit.c);
 * an index file is put before the LMDB
 * cache absorbs it; higher layers write a snapshot only after
 * arca_repo_commit_index().  A crash therefore leaves at worst packs that
 * no index names (adopted by 'repair index', removed by prune), never an
 * index entry or snapshot pointing at nothing.
 */
#include "repo/repo_internal.h"
#include "backend/backend_local.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Write an index file once this many packs are pending. */
#define COMMIT_EVERY_PACKS 32

struct arca_repo_writer {
	arca_repo *r;
	arca_zctx *z;
	arca_pack_writer *pw[2]; /* by blob type: data, tree */
	/* packs stream to the backend as they fill, so a writer holds about
	 * 1 MiB instead of a whole pack */
	arca_be_stream *stream[2];
	struct writer_sink {
		struct arca_repo_writer *w;
		int t;
	} sink[2];
};

static int pack_sink(const void *p, size_t n, void *payload)
{
	struct writer_sink *ws = payload;
	arca_repo_writer *w = ws->w;
	int rc;
	if (!w->stream[ws->t] && (rc = arca_be_stream_open(w->r->be, &w->stream[ws->t])))
		return rc;
	return arca_be_stream_write(w->stream[ws->t], p, n);
}

/*
 * A reader keeps the last ranged read of a pack (the window).  With a hint
 * of the blobs that come next (restore passes a file's chunk list), a read
 * from a remote backend extends over the following blobs that lie back to
 * back in the same pack, so a file whose chunks were packed together comes
 * in one request per 4 MiB instead of one per chunk; only needed blobs are
 * ever fetched.
 */
#define WINDOW_MAX (4u << 20)
/* Tree blobs: their whole pack is fetched once and kept (the last
 * TREE_PACKS packs per reader).  Trees are written children first, so a
 * walk from the root reads a tree pack backwards: no forward window helps,
 * and a restore or ls would otherwise make one request per directory from
 * a remote backend, and one pread per directory from a local one (on a
 * tree of 9,000 directories, a backup's walk of its parent spent as much
 * in those system calls as in the rest of its tree work).  Packs larger
 * than TREE_PACK_MAX are read blob by blob. */
#define TREE_PACKS 2
#define TREE_PACK_MAX (64u << 20)

typedef struct tree_pack {
	arca_id pack;
	arca_buf data; /* the whole pack; len 0: slot empty */
	uint64_t used;  /* LRU clock */
} tree_pack;

struct arca_repo_reader {
	arca_repo *r;
	arca_zctx *z;
	arca_buf stored;
	arca_buf window; /* bytes [win_off, win_off + window.len) of pack win_pack */
	arca_id win_pack;
	uint64_t win_off;
	const arca_id *hint; /* blobs expected next, in order (borrowed) */
	size_t nhint, hint_pos;
	tree_pack trees[TREE_PACKS];
	uint64_t clock;
	bool trust_aead; /* skip the re-hash when an AEAD tag authenticated the blob */
};

void arca_repo_pack_key(char *out, const arca_id *pack)
{
	char hex[65];
	arca_id_hex(hex, pack);
	snprintf(out, 80, "data/%.2s/%s", hex, hex);
}

int arca_repo_writer_new(arca_repo_writer **out, arca_repo *r)
{
	arca_repo_writer *w = calloc(1, sizeof(*w));
	int rc;
	*out = NULL;
	if (!w)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	w->r = r;
	w->sink[0].w = w->sink[1].w = w;
	w->sink[1].t = 1;
	if ((rc = arca_zctx_new(&w->z, r->compress_algo, r->compress_level)) ||
	    (rc = arca_pack_writer_new(&w->pw[0], &r->codec)) ||
	    (rc = arca_pack_writer_new(&w->pw[1], &r->codec)) ||
	    (rc = arca_pack_writer_set_sink(w->pw[0], pack_sink, &w->sink[0])) ||
	    (rc = arca_pack_writer_set_sink(w->pw[1], pack_sink, &w->sink[1]))) {
		arca_repo_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void arca_repo_release_claims(arca_repo *r, const arca_blob_entry *e, size_t n)
{
	size_t i;
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < n; i++)
		arca_idset_remove(&r->claims, &e[i].id);
	pthread_mutex_unlock(&r->mu);
}

void arca_repo_writer_free(arca_repo_writer *w)
{
	int t;
	if (!w)
		return;
	for (t = 0; t < 2; t++) {
		if (w->pw[t] && arca_pack_writer_count(w->pw[t])) {
			/* unflushed blobs were never stored: let others store them */
			const arca_buf *bytes;
			const arca_blob_entry *e;
			size_t n;
			arca_id pid;
			if (!arca_pack_writer_finish(w->pw[t], w->z, &pid, &bytes, &e, &n))
				arca_repo_release_claims(w->r, e, n);
		}
		arca_be_stream_abort(w->stream[t]);
		arca_pack_writer_free(w->pw[t]);
	}
	arca_zctx_free(w->z);
	free(w);
}

/* Write an index file for packs (durably), then absorb it into the cache. */
static int write_index_file(arca_repo *r, arca_idx_pack *packs, size_t n, arca_id *out_fid)
{
	arca_index_batch *b = NULL;
	arca_id fid;
	size_t i;
	int rc;
	if ((rc = arca_repo_index_write(r, packs, n, NULL, 0, &fid)) || (rc = arca_index_batch_begin(r->ix, &b)))
		return rc;
	for (i = 0; i < n; i++)
		if ((rc = arca_index_batch_add_pack(b, &packs[i].pack_id, packs[i].entries, packs[i].n)))
			goto out;
	if ((rc = arca_index_batch_mark_file(b, &fid)))
		goto out;
	rc = arca_index_batch_commit(b);
	b = NULL;
	if (!rc && out_fid)
		*out_fid = fid;
out:
	arca_index_batch_abort(b);
	return rc;
}

/* Append a written pack to the pending list; takes ownership of entries
 * (freed on failure).  Caller holds r->mu. */
static int pending_push_locked(arca_repo *r, const arca_id *pid, arca_blob_entry *entries, size_t n)
{
	int rc;
	if ((rc = arca_grow(&r->pending, &r->cap_pending, r->npending + 1, sizeof(*r->pending), 16))) {
		free(entries);
		return rc;
	}
	r->pending[r->npending].pack_id = *pid;
	r->pending[r->npending].entries = entries;
	r->pending[r->npending].n = n;
	r->npending++;
	return 0;
}

/* Move pending packs into an index file.  Serialised by commit_mu. */
static int commit_pending(arca_repo *r)
{
	arca_idx_pack *packs;
	size_t n, i, j;
	int rc;
	pthread_mutex_lock(&r->commit_mu);
	pthread_mutex_lock(&r->mu);
	packs = r->pending;
	n = r->npending;
	r->pending = NULL;
	r->npending = r->cap_pending = 0;
	pthread_mutex_unlock(&r->mu);
	rc = n ? write_index_file(r, packs, n, NULL) : 0;
	if (rc) {
		/* put them back so a later commit retries */
		pthread_mutex_lock(&r->mu);
		for (i = 0; i < n; i++)
			pending_push_locked(r, &packs[i].pack_id, packs[i].entries, packs[i].n);
		pthread_mutex_unlock(&r->mu);
		free(packs);
	} else {
		/* now in LMDB: claims for them are no longer needed */
		pthread_mutex_lock(&r->mu);
		for (i = 0; i < n; i++) {
			for (j = 0; j < packs[i].n; j++)
				arca_idset_remove(&r->claims, &packs[i].entries[j].id);
			free(packs[i].entries);
		}
		pthread_mutex_unlock(&r->mu);
		free(packs);
	}
	pthread_mutex_unlock(&r->commit_mu);
	return rc;
}

static int finish_pack(arca_repo_writer *w, int t)
{
	arca_repo *r = w->r;
	const arca_buf *bytes;
	arca_be_stream *stream;
	const arca_blob_entry *e;
	arca_blob_entry *copy = NULL;
	size_t n;
	arca_id pid;
	uint64_t packlen;
	int rc;
	if (!arca_pack_writer_count(w->pw[t]))
		return 0;
	if ((rc = arca_pack_writer_finish(w->pw[t], w->z, &pid, &bytes, &e, &n))) {
		arca_be_stream_abort(w->stream[t]);
		w->stream[t] = NULL;
		return rc;
	}
	/* the writer streams (its sink is set at creation): finish handed every
	 * byte, trailer included, to w->stream[t] */
	packlen = arca_pack_writer_total(w->pw[t]);
	stream = w->stream[t];
	w->stream[t] = NULL;
	if (!stream || !(copy = malloc((n ? n : 1) * sizeof(*copy)))) {
		arca_repo_release_claims(r, e, n);
		arca_be_stream_abort(stream);
		arca_pack_writer_reset(w->pw[t]);
		return stream ? arca_error_set(ARCA_NOMEM, "out of memory")
			      : arca_error_set(ARCA_ERROR, "internal error: a finished pack has no stream");
	}
	memcpy(copy, e, n * sizeof(*copy));
	arca_pack_writer_reset(w->pw[t]);
	return arca_committer_push(r, stream, &pid, copy, n, packlen); /* made durable there */
}

int arca_repo_pack_done(arca_repo *r, const arca_id *pid, arca_blob_entry *entries, size_t n, uint64_t packlen)
{
	bool commit;
	int rc;
	pthread_mutex_lock(&r->mu);
	if ((rc = pending_push_locked(r, pid, entries, n))) {
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	r->stats.packs_written++;
	r->stats.stored_bytes_new += packlen;
	commit = r->npending >= COMMIT_EVERY_PACKS;
	pthread_mutex_unlock(&r->mu);
	return commit ? commit_pending(r) : 0;
}

int arca_repo_writer_flush(arca_repo_writer *w)
{
	int rc = finish_pack(w, 0);
	if (!rc)
		rc = finish_pack(w, 1);
	/* durable when this returns, as callers expect (and all failures seen) */
	return rc ? rc : arca_committer_drain(w->r);
}

int arca_repo_blob_claim(arca_repo *r, const arca_id *id)
{
	int rc;
	if (arca_index_has(r->ix, id))
		return 0;
	pthread_mutex_lock(&r->mu);
	rc = arca_idset_insert(&r->claims, id, NULL);
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int arca_repo_blob_store(arca_repo_writer *w, uint8_t type, const arca_id *id, const void *data, size_t n)
{
	arca_repo *r = w->r;
	int t = type == ARCA_BLOB_TREE ? 1 : 0, rc;
	if (n > ARCA_PACK_MAX_BLOB)
		return arca_error_set(ARCA_INVAL, "blob of %zu bytes exceeds the maximum", n);
	if ((rc = arca_pack_writer_add(w->pw[t], w->z, type, id, data, n))) {
		pthread_mutex_lock(&r->mu);
		arca_idset_remove(&r->claims, id);
		pthread_mutex_unlock(&r->mu);
		return rc;
	}
	pthread_mutex_lock(&r->mu);
	r->stats.blobs_new++;
	r->stats.raw_bytes_new += n;
	pthread_mutex_unlock(&r->mu);
	if (arca_pack_writer_size(w->pw[t]) >= r->pack_size)
		return finish_pack(w, t);
	return 0;
}

int arca_repo_blob_save(arca_repo_writer *w, uint8_t type, const void *data, size_t n, arca_id *id,
			bool *added)
{
	int rc;
	arca_repo_blob_id(w->r, id, data, n);
	rc = arca_repo_blob_claim(w->r, id);
	if (rc < 0)
		return rc;
	if (added)
		*added = rc == 1;
	if (rc == 0)
		return 0;
	return arca_repo_blob_store(w, type, id, data, n);
}

int arca_repo_commit_index(arca_repo *r)
{
	int rc = arca_committer_drain(r);
	return rc ? rc : commit_pending(r);
}

int arca_repo_cleanup_leftovers(arca_repo *r, unsigned *removed)
{
	if (removed)
		*removed = 0;
	/* Only the local driver writes visible temporary names.  Object
	 * stores publish an object whole when its upload completes; what a
	 * killed upload leaves (multipart parts, a local spool file already
	 * unlinked) is invisible to listings and never becomes an object. */
	if (!(r->be->caps & ARCA_BACKEND_CAP_LOCAL))
		return 0;
	return arca_backend_local_cleanup_temps(r->be, 24 * 3600, removed);
}

void arca_repo_write_stats_get(arca_repo *r, arca_repo_write_stats *out)
{
	pthread_mutex_lock(&r->mu);
	*out = r->stats;
	pthread_mutex_unlock(&r->mu);
}

/* ---- reading ---- */

void arca_repo_reader_trust_aead(arca_repo_reader *rd) { rd->trust_aead = true; }

int arca_repo_reader_new(arca_repo_reader **out, arca_repo *r)
{
	arca_repo_reader *rd = calloc(1, sizeof(*rd));
	int rc;
	*out = NULL;
	if (!rd)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	rd->r = r;
	if ((rc = arca_zctx_new(&rd->z, ARCA_COMPRESS_ZSTD, 3))) {
		free(rd);
		return rc;
	}
	*out = rd;
	return 0;
}

void arca_repo_reader_free(arca_repo_reader *rd)
{
	if (!rd)
		return;
	arca_zctx_free(rd->z);
	arca_buf_free(&rd->stored);
	arca_buf_free(&rd->window);
	for (int i = 0; i < TREE_PACKS; i++)
		arca_buf_free(&rd->trees[i].data);
	free(rd);
}

int arca_repo_blob_lookup(arca_repo *r, const arca_id *id, arca_index_loc *loc)
{
	return arca_index_lookup(r->ix, id, loc);
}

void arca_repo_readahead_expect(arca_repo *r, const arca_id *blobs, size_t n)
{
	if (r->ra)
		arca_readahead_expect(r->ra, blobs, n);
}

void arca_repo_reader_hint(arca_repo_reader *rd, const arca_id *next, size_t n)
{
	rd->hint = next;
	rd->nhint = next ? n : 0;
	rd->hint_pos = 0;
}

/* A tree blob, out of its cached whole pack. */
static int read_tree_pack(arca_repo_reader *rd, const arca_index_loc *loc, const char *key, const uint8_t **p,
			  size_t *len)
{
	arca_repo *r = rd->r;
	tree_pack *slot = NULL;
	uint64_t size;
	int i, rc;
	for (i = 0; i < TREE_PACKS; i++)
		if (rd->trees[i].data.len && arca_id_eq(&rd->trees[i].pack, &loc->pack)) {
			slot = &rd->trees[i];
			break;
		}
	if (!slot) {
		for (i = 0; i < TREE_PACKS; i++) /* the empty or least recently used slot */
			if (!slot || rd->trees[i].used < slot->used)
				slot = &rd->trees[i];
		/* a remote restore's read-ahead listed data/: no HEAD needed */
		if (!(size = arca_readahead_size(r->ra, &loc->pack)) && (rc = arca_be_stat(r->be, key, &size)))
			return rc;
		if (size > TREE_PACK_MAX || loc->offset + loc->stored_len > size) {
			arca_buf_clear(&rd->stored); /* too big to keep, or damaged: just the blob */
			if ((rc = arca_be_get_range(r->be, key, loc->offset, loc->stored_len, &rd->stored)))
				return rc;
			*p = rd->stored.data;
			*len = rd->stored.len;
			return 0;
		}
		arca_buf_clear(&slot->data);
		if ((rc = arca_be_get(r->be, key, &slot->data))) {
			slot->data.len = 0;
			return rc;
		}
		slot->pack = loc->pack;
	}
	slot->used = ++rd->clock;
	if (loc->offset + loc->stored_len > slot->data.len)
		return arca_error_set(ARCA_CORRUPT, "%s is shorter than its index says", key);
	*p = slot->data.data + loc->offset;
	*len = loc->stored_len;
	return 0;
}

/* Where the stored bytes of blob id (at loc) are: in the window, or read
 * now (extending the read over hinted blobs that follow it in the pack
 * when the backend is remote). */
static int read_stored(arca_repo_reader *rd, const arca_id *id, const arca_index_loc *loc, const uint8_t **p,
		       size_t *len)
{
	arca_repo *r = rd->r;
	uint64_t end = loc->offset + loc->stored_len;
	char key[80];
	size_t i;
	int rc;
	if (rd->window.len && arca_id_eq(&rd->win_pack, &loc->pack) && loc->offset >= rd->win_off &&
	    end <= rd->win_off + rd->window.len) {
		*p = rd->window.data + (loc->offset - rd->win_off);
		*len = loc->stored_len;
		return 0;
	}
	arca_repo_pack_key(key, &loc->pack);
	if (loc->type == ARCA_BLOB_TREE)
		return read_tree_pack(rd, loc, key, p, len);
	if (r->be->caps & ARCA_BACKEND_CAP_LOCAL) { /* a pread: nothing to gain */
		arca_buf_clear(&rd->stored);
		if ((rc = arca_be_get_range(r->be, key, loc->offset, loc->stored_len, &rd->stored)))
			return rc;
		*p = rd->stored.data;
		*len = rd->stored.len;
		return 0;
	}
	/* find id in the hint list (it is usually the next one), then take the
	 * blobs that follow it back to back in the same pack */
	for (i = rd->hint_pos; i < rd->nhint && !arca_id_eq(&rd->hint[i], id); i++)
		;
	if (i < rd->nhint) {
		for (rd->hint_pos = ++i; i < rd->nhint; i++) {
			arca_index_loc next;
			if (arca_index_lookup(r->ix, &rd->hint[i], &next)) {
				arca_error_clear();
				break;
			}
			if (!arca_id_eq(&next.pack, &loc->pack) || next.offset != end ||
			    end + next.stored_len - loc->offset > WINDOW_MAX)
				break;
			end += next.stored_len;
		}
	}
	/* whole packs kept: every blob; ranges: a small file's */
	if (r->ra && (arca_readahead_whole(r->ra) || end - loc->offset < (1u << 20))) {
		arca_buf_clear(&rd->stored);
		if ((rc = arca_readahead_read(r->ra, &loc->pack, loc->offset, loc->stored_len, &rd->stored)))
			return rc;
		*p = rd->stored.data;
		*len = rd->stored.len;
		return 0;
	}
	arca_buf_clear(&rd->window);
	if ((rc = arca_be_get_range(r->be, key, loc->offset, end - loc->offset, &rd->window))) {
		rd->window.len = 0;
		return rc;
	}
	rd->win_pack = loc->pack;
	rd->win_off = loc->offset;
	*p = rd->window.data;
	*len = loc->stored_len;
	return 0;
}

int arca_repo_blob_load(arca_repo_reader *rd, const arca_id *id, arca_buf *out)
{
	arca_repo *r = rd->r;
	arca_index_loc loc;
	const uint8_t *stored = NULL;
	size_t stored_len = 0;
	char hex[65], phex[65];
	size_t start = out->len;
	arca_id got;
	int rc;
	if ((rc = arca_index_lookup(r->ix, id, &loc))) {
		arca_id_hex(hex, id);
		if (rc == ARCA_NOTFOUND)
			return arca_error_set(ARCA_NOTFOUND, "blob %s is not in the index", hex);
		return rc;
	}
	if ((rc = read_stored(rd, id, &loc, &stored, &stored_len)))
		return rc;
	if ((rc = arca_blob_open(&r->codec, rd->z, out, id, loc.flags, stored, stored_len, loc.raw_len))) {
		arca_id_hex(phex, &loc.pack);
		return arca_error_prefix(rc, "pack %s", phex);
	}
	if (rd->trust_aead && r->cipher->tag_len)
		return 0;
	arca_repo_blob_id(r, &got, out->data + start, out->len - start);
	if (!arca_id_eq(&got, id)) {
		arca_id_hex(hex, id);
		arca_id_hex(phex, &loc.pack);
		out->len = start;
		return arca_error_set(ARCA_CORRUPT, "pack %s: blob %s does not hash to its id", phex, hex);
	}
	return 0;
}

/* ---- small objects ---- */

/*
 * Store bytes under "<dir>/<sha256 of the bytes>" durably (fsync, rename,
 * directory fsync); the same bytes already there are just as good.
 */
static int put_content_named(arca_repo *r, const char *dir, const arca_buf *enc, arca_id *out_id)
{
	char hex[65], key[256];
	arca_id id;
	int rc;
	arca_sha256(&id, enc->data, enc->len);
	arca_id_hex(hex, &id);
	snprintf(key, sizeof(key), "%s/%s", dir, hex);
	rc = arca_be_put(r->be, key, enc->data, enc->len, ARCA_PUT_NOREPLACE);
	if (rc == ARCA_EXISTS)
		rc = 0;
	if (!rc && out_id)
		*out_id = id;
	return rc;
}

int arca_repo_object_save(arca_repo *r, const char *dir, const char *label, const void *raw, size_t n,
			  arca_id *out_id)
{
	arca_buf enc = ARCA_BUF_INIT;
	arca_zctx *z = NULL;
	int rc;
	if (!(rc = arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)) &&
	    !(rc = arca_object_seal(&r->codec, z, &enc, label, raw, n)))
		rc = put_content_named(r, dir, &enc, out_id);
	arca_zctx_free(z);
	arca_buf_free(&enc);
	return rc;
}

int arca_repo_object_open(arca_repo *r, arca_zctx *z, const char *key, const char *label, const void *stored,
			  size_t n, arca_buf *out)
{
	const char *slash = strrchr(key, '/');
	arca_id want, got;
	int rc;
	/* objects are named by the SHA-256 of their bytes */
	if (slash && !arca_id_parse(&want, slash + 1)) {
		arca_sha256(&got, stored, n);
		if (!arca_id_eq(&want, &got))
			return arca_error_set(ARCA_CORRUPT, "%s: content does not match its name (damaged)", key);
	}
	if ((rc = arca_object_open(&r->codec, z, out, label, stored, n)))
		rc = arca_error_prefix(rc, "%s", key);
	return rc;
}

int arca_repo_object_load(arca_repo *r, const char *key, const char *label, arca_buf *out)
{
	arca_buf enc = ARCA_BUF_INIT;
	arca_zctx *z = NULL;
	int rc;
	if (!(rc = arca_be_get(r->be, key, &enc)) && !(rc = arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)))
		rc = arca_repo_object_open(r, z, key, label, enc.data, enc.len, out);
	arca_zctx_free(z);
	arca_buf_free(&enc);
	return rc;
}

typedef struct objects_ctx {
	arca_repo *r;
	const char *label, *what;
	arca_repo_object_fn cb;
	void *payload;
	arca_zctx *z; /* one for every object: creating it per object dominated listings */
	arca_buf enc, raw;
} objects_ctx;

static int objects_visit(const char *key, uint64_t size, void *payload)
{
	objects_ctx *c = payload;
	const char *slash = strrchr(key, '/');
	arca_id id;
	int rc;
	(void)size;
	if (!slash || arca_id_parse(&id, slash + 1))
		return 0; /* not an object name */
	arca_buf_clear(&c->enc);
	arca_buf_clear(&c->raw);
	if (!(rc = arca_be_get(c->r->be, key, &c->enc)) &&
	    !(rc = arca_repo_object_open(c->r, c->z, key, c->label, c->enc.data, c->enc.len, &c->raw)) &&
	    (rc = c->cb(&id, c->raw.data, c->raw.len, c->payload)) == ARCA_CORRUPT)
		arca_error_prefix(rc, "%s", key);
	if (rc == ARCA_CORRUPT || rc == ARCA_NOTFOUND) {
		arca_repo_warn(c->r, "skipping unreadable %s: %s", c->what, arca_error_message());
		arca_error_clear();
		return 0;
	}
	return rc;
}

int arca_repo_objects_load(arca_repo *r, const char *dir, const char *label, const char *what,
			   arca_repo_object_fn cb, void *payload)
{
	objects_ctx c = { r, label, what, cb, payload, NULL, ARCA_BUF_INIT, ARCA_BUF_INIT };
	char prefix[64];
	int rc;
	snprintf(prefix, sizeof(prefix), "%s/", dir);
	if (!(rc = arca_zctx_new(&c.z, ARCA_COMPRESS_ZSTD, 3)))
		rc = arca_be_list(r->be, prefix, objects_visit, &c);
	arca_zctx_free(c.z);
	arca_buf_free(&c.enc);
	arca_buf_free(&c.raw);
	return rc;
}

/* ---- keeping the LMDB cache in step with index/ ---- */

typedef struct id_list {
	arca_id *v;
	size_t n, cap;
} id_list;

static int id_list_push(id_list *l, const arca_id *id)
{
	int rc;
	if ((rc = arca_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 64)))
		return rc;
	l->v[l->n++] = *id;
	return 0;
}

static int collect_index_name(const char *key, uint64_t size, void *payload)
{
	arca_id id;
	const char *slash = strrchr(key, '/');
	if (!slash || arca_id_parse(&id, slash + 1))
		return 0; /* not ours: ignore */
	return id_list_push(payload, &id);
}

typedef struct stale_check {
	arca_idset present;
	bool stale;
} stale_check;

static int check_absorbed(const arca_id *file, void *payload)
{
	stale_check *sc = payload;
	if (!arca_idset_contains(&sc->present, file)) {
		sc->stale = true;
		return 1;
	}
	return 0;
}

/* Add one fetched index file to the local index. */
static int absorb_file(arca_repo *r, arca_zctx *z, const arca_id *fid, const char *key, const arca_buf *data)
{
	arca_idx_file *f = NULL;
	arca_index_batch *b = NULL;
	size_t i;
	int rc;
	if ((rc = arca_idx_file_decode(&r->codec, z, &f, data->data, data->len))) {
		rc = arca_error_hint(arca_error_prefix(rc, "index file %s", key),
				     "run 'arca repair index' to rebuild the index from the packs");
		goto out;
	}
	if ((rc = arca_index_batch_begin(r->ix, &b)))
		goto out;
	for (i = 0; i < f->npacks; i++)
		if ((rc = arca_index_batch_add_pack(b, &f->packs[i].pack_id, f->packs[i].entries, f->packs[i].n)))
			goto out;
	if ((rc = arca_index_batch_mark_file(b, fid)))
		goto out;
	rc = arca_index_batch_commit(b);
	b = NULL;
out:
	arca_index_batch_abort(b);
	arca_idx_file_free(f);
	return rc;
}

typedef struct absorb_ctx {
	arca_repo *r;
	arca_zctx *z;
	const arca_id *ids;  /* the files being fetched, in key order */
	char **keys;
} absorb_ctx;

static int absorb_got(size_t i, int rc, arca_buf *data, void *payload)
{
	absorb_ctx *a = payload;
	if (!rc)
		rc = absorb_file(a->r, a->z, &a->ids[i], a->keys[i], data);
	if (rc == ARCA_CORRUPT) {
		/* A damaged index file must not lock everyone out: 'repair
		 * index' (which the hint names) has to open the repository,
		 * and check reports the blobs it leaves unindexed.  Not marked
		 * absorbed, so it is warned about until it is repaired. */
		arca_repo_warn(a->r, "%s (skipped: %s)", arca_error_message(), arca_error_hint_text());
		arca_error_clear();
		rc = 0;
	}
	return rc;
}

static int sync_index(arca_repo *r, bool force_rebuild)
{
	id_list files = { 0 };
	stale_check sc;
	absorb_ctx a = { r, NULL, NULL, NULL };
	char hex[65];
	size_t i, nnew = 0;
	int rc;
	arca_idset_init(&sc.present, 0);
	sc.stale = force_rebuild;
	if ((rc = arca_be_list(r->be, "index/", collect_index_name, &files)))
		goto out;
	for (i = 0; i < files.n; i++)
		if ((rc = arca_idset_insert(&sc.present, &files.v[i], NULL)) < 0)
			goto out;
	if (!sc.stale && (rc = arca_index_foreach_file(r->ix, check_absorbed, &sc)) < 0)
		goto out;
	if (sc.stale && (rc = arca_index_clear(r->ix)))
		goto out;
	/* the files not absorbed yet, moved to the front of files.v */
	for (i = 0; i < files.n; i++)
		if (!arca_index_has_file(r->ix, &files.v[i]))
			files.v[nnew++] = files.v[i];
	rc = 0;
	if (nnew == 0)
		goto out;
	if (!(a.keys = calloc(nnew, sizeof(*a.keys)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory reading the index");
		goto out;
	}
	for (i = 0; i < nnew; i++) {
		arca_id_hex(hex, &files.v[i]);
		if (!(a.keys[i] = malloc(sizeof("index/") + 64))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory reading the index");
			goto out;
		}
		snprintf(a.keys[i], sizeof("index/") + 64, "index/%s", hex);
	}
	a.ids = files.v;
	if (!(rc = arca_zctx_new(&a.z, ARCA_COMPRESS_ZSTD, 3)))
		rc = arca_be_get_many(r->be, (const char *const *)a.keys, nnew, ARCA_BE_META_CONNS, absorb_got, &a);
out:
	if (a.keys)
		for (i = 0; i < nnew; i++)
			free(a.keys[i]);
	free(a.keys);
	arca_zctx_free(a.z);
	arca_idset_free(&sc.present);
	free(files.v);
	return rc;
}

int arca_repo_index_sync(arca_repo *r) { return sync_index(r, false); }
int arca_repo_index_reload(arca_repo *r) { return sync_index(r, true); }

int arca_repo_index_files(arca_repo *r, arca_id **out, size_t *n)
{
	id_list files = { 0 };
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = arca_be_list(r->be, "index/", collect_index_name, &files))) {
		free(files.v);
		return rc;
	}
	*out = files.v;
	*n = files.n;
	return 0;
}

int arca_repo_index_write(arca_repo *r, const arca_idx_pack *packs, size_t n, const arca_id *supersedes,
			  size_t nsup, arca_id *out_id)
{
	/* the encoder only reads through these pointers */
	arca_idx_file f = { (arca_idx_pack *)packs, n, (arca_id *)supersedes, nsup };
	arca_buf enc = ARCA_BUF_INIT;
	arca_zctx *z = NULL;
	int rc;
	if (!(rc = arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)) && !(rc = arca_idx_file_encode(&r->codec, z, &enc, &f)))
		rc = put_content_named(r, "index", &enc, out_id);
	arca_zctx_free(z);
	arca_buf_free(&enc);
	return rc;
}

typedef struct name_list {
	char **v;
	size_t n, cap;
} name_list;

static int collect_name(const char *key, uint64_t size, void *payload)
{
	name_list *l = payload;
	int rc;
	if ((rc = arca_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 64)))
		return rc;
	if (!(l->v[l->n] = strdup(key)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	l->n++;
	return 0;
}

static void name_list_free(name_list *l)
{
	size_t i;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* Read a pack's footer and trailer with two ranged reads. */
static int read_trailer(arca_repo *r, arca_zctx *z, const char *key, arca_buf *tmp, arca_blob_entry **e,
			size_t *n)
{
	uint64_t size;
	uint32_t tlen;
	int rc;
	*e = NULL;
	*n = 0;
	arca_buf_clear(tmp);
	if ((rc = arca_be_stat(r->be, key, &size)))
		return rc;
	if (size < ARCA_PACK_FOOTER_LEN)
		return arca_error_set(ARCA_CORRUPT, "%s: too short to be a pack", key);
	if ((rc = arca_be_get_range(r->be, key, size - ARCA_PACK_FOOTER_LEN, ARCA_PACK_FOOTER_LEN, tmp)) ||
	    (rc = arca_pack_footer_parse(tmp->data, size, &tlen)))
		return rc;
	arca_buf_clear(tmp);
	if ((rc = arca_be_get_range(r->be, key, size - ARCA_PACK_FOOTER_LEN - tlen, tlen, tmp)))
		return rc;
	return arca_pack_trailer_parse(&r->codec, z, tmp->data, tmp->len, size, e, n);
}

int arca_repo_adopt_orphans(arca_repo *r, unsigned *adopted)
{
	name_list packs = { 0 };
	arca_buf tail = ARCA_BUF_INIT;
	arca_zctx *z = NULL;
	size_t i, j;
	int rc;
	*adopted = 0;
	if ((rc = arca_be_list(r->be, "data/", collect_name, &packs)))
		goto out;
	for (i = 0; i < packs.n; i++) {
		const char *slash = strrchr(packs.v[i], '/');
		arca_blob_entry *e = NULL;
		size_t n = 0;
		arca_id pid;
		bool mine = false;
		if (!slash || arca_id_parse(&pid, slash + 1) || arca_index_has_pack(r->ix, &pid))
			continue;
		pthread_mutex_lock(&r->mu);
		for (j = 0; j < r->npending; j++)
			if (arca_id_eq(&r->pending[j].pack_id, &pid))
				mine = true;
		pthread_mutex_unlock(&r->mu);
		if (mine)
			continue;
		if (!z && (rc = arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)))
			goto out;
		if ((rc = read_trailer(r, z, packs.v[i], &tail, &e, &n))) {
			if (rc == ARCA_NOMEM)
				goto out;
			arca_repo_warn(r, "not adopting unreadable pack %s: %s", packs.v[i], arca_error_message());
			continue;
		}
		pthread_mutex_lock(&r->mu);
		if ((rc = pending_push_locked(r, &pid, e, n))) {
			pthread_mutex_unlock(&r->mu);
			goto out;
		}
		for (j = 0; j < n; j++)
			arca_idset_insert(&r->claims, &e[j].id, NULL);
		pthread_mutex_unlock(&r->mu);
		(*adopted)++;
	}
	rc = 0;
out:
	arca_zctx_free(z);
	arca_buf_free(&tail);
	name_list_free(&packs);
	return rc;
}

int arca_repo_index_rebuild_from_packs(arca_repo *r, uint64_t *npacks, uint64_t *nblobs)
{
	name_list packs = { 0 }, old = { 0 };
	arca_buf tail = ARCA_BUF_INIT;
	arca_zctx *z = NULL;
	arca_idx_pack *ip = NULL;
	size_t i, nip = 0;
	uint64_t blobs = 0;
	arca_id newid;
	char newhex[65];
	int rc;
	memset(&newid, 0, sizeof(newid));
	if ((rc = arca_be_list(r->be, "data/", collect_name, &packs)) ||
	    (rc = arca_be_list(r->be, "index/", collect_name, &old)) ||
	    (rc = arca_zctx_new(&z, ARCA_COMPRESS_ZSTD, 3)))
		goto out;
	ip = calloc(packs.n ? packs.n : 1, sizeof(*ip));
	if (!ip) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < packs.n; i++) {
		const char *slash = strrchr(packs.v[i], '/');
		arca_id pid;
		if (!slash || arca_id_parse(&pid, slash + 1))
			continue;
		if ((rc = read_trailer(r, z, packs.v[i], &tail, &ip[nip].entries, &ip[nip].n))) {
			if (rc == ARCA_NOMEM)
				goto out;
			arca_repo_warn(r, "skipping damaged pack %s: %s", packs.v[i], arca_error_message());
			continue;
		}
		ip[nip].pack_id = pid;
		blobs += ip[nip].n;
		nip++;
	}
	if ((rc = arca_index_clear(r->ix)))
		goto out;
	if (nip && (rc = write_index_file(r, ip, nip, &newid)))
		goto out;
	arca_id_hex(newhex, &newid);
	/* the new file covers every readable pack: the old ones can go */
	for (i = 0; i < old.n; i++) {
		if (nip && strstr(old.v[i], newhex))
			continue;
		rc = arca_be_remove(r->be, old.v[i]);
		if (rc && rc != ARCA_NOTFOUND)
			goto out;
	}
	rc = sync_index(r, true);
	if (npacks)
		*npacks = nip;
	if (nblobs)
		*nblobs = blobs;
out:
	for (i = 0; ip && i < nip; i++)
		free(ip[i].entries);
	free(ip);
	arca_zctx_free(z);
	arca_buf_free(&tail);
	name_list_free(&packs);
	name_list_free(&old);
	return rc;
}
