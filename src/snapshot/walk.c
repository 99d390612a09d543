/*
 * snapshot/walk.c - reading snapshots without restoring them: walking
 * trees (ls), finding one path, dumping one file, diff and stats.
 */
#include "arca/snapshot.h"
#include "hash/idset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int walk_rec(arca_repo_reader *rd, const arca_id *tree, char *path, size_t plen, size_t cap,
		    arca_walk_fn cb, void *payload)
{
	arca_tree *t = NULL;
	size_t i;
	int rc;
	if ((rc = arca_tree_load(rd, tree, &t)))
		return rc;
	for (i = 0; i < t->n; i++) {
		const arca_node *n = &t->nodes[i];
		size_t nl = strlen(n->name);
		if (plen + nl + 2 > cap) {
			rc = arca_error_set(ARCA_INVAL, "path too deep in snapshot");
			break;
		}
		path[plen] = '/';
		memcpy(path + plen + 1, n->name, nl + 1);
		rc = cb(path, n, payload);
		if (rc == ARCA_WALK_SKIP) {
			rc = 0;
			continue;
		}
		if (rc)
			break;
		if (n->kind == ARCA_NODE_DIR &&
		    (rc = walk_rec(rd, &n->subtree, path, plen + nl + 1, cap, cb, payload)))
			break;
	}
	path[plen] = '\0';
	arca_tree_free(t);
	return rc;
}

int arca_walk(arca_repo_reader *rd, const arca_id *tree, arca_walk_fn cb, void *payload)
{
	size_t cap = 65536;
	char *path = malloc(cap);
	int rc;
	if (!path)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	path[0] = '\0';
	rc = walk_rec(rd, tree, path, 0, cap, cb, payload);
	free(path);
	return rc;
}

int arca_lookup_path(arca_repo_reader *rd, const arca_id *tree, const char *path, arca_node *out)
{
	char buf[8192], *tok, *save = NULL;
	arca_id cur = *tree;
	arca_tree *t = NULL;
	const arca_node *n = NULL;
	int rc;
	memset(out, 0, sizeof(*out));
	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		/* n points into t: test it before t is freed */
		if (n && n->kind != ARCA_NODE_DIR) {
			rc = arca_error_set(ARCA_NOTFOUND, "%s: not a directory in the snapshot", path);
			goto out;
		}
		arca_tree_free(t);
		t = NULL;
		if ((rc = arca_tree_load(rd, &cur, &t)))
			goto out;
		n = arca_tree_find(t, tok);
		if (!n) {
			rc = arca_error_set(ARCA_NOTFOUND, "%s: no such file in the snapshot", path);
			goto out;
		}
		if (n->kind == ARCA_NODE_DIR)
			cur = n->subtree;
	}
	if (!n) {
		rc = arca_error_set(ARCA_INVAL, "give a path inside the snapshot");
		goto out;
	}
	*out = *n;
	out->name = strdup(n->name);
	out->user = strdup(n->user);
	out->group = strdup(n->group);
	out->link_target = n->link_target ? strdup(n->link_target) : NULL;
	out->chunks = NULL;
	if (n->nchunks) {
		out->chunks = malloc(n->nchunks * sizeof(arca_id));
		if (out->chunks)
			memcpy(out->chunks, n->chunks, n->nchunks * sizeof(arca_id));
	}
	rc = (!out->name || !out->user || !out->group || (n->nchunks && !out->chunks))
		     ? arca_error_set(ARCA_NOMEM, "out of memory") : 0;
	if (rc)
		arca_node_clear(out);
out:
	arca_tree_free(t);
	return rc;
}

int arca_dump_file(arca_repo_reader *rd, const arca_node *node, int fd)
{
	arca_buf b = ARCA_BUF_INIT;
	size_t i;
	int rc = 0;
	if (node->kind != ARCA_NODE_FILE)
		return arca_error_set(ARCA_INVAL, "%s is not a regular file", node->name);
	for (i = 0; i < node->nchunks && !rc; i++) {
		size_t off = 0;
		arca_buf_clear(&b);
		if ((rc = arca_repo_blob_load(rd, &node->chunks[i], &b)))
			break;
		while (off < b.len) {
			ssize_t w = write(fd, b.data + off, b.len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				rc = arca_error_errno(errno, "cannot write output");
				break;
			}
			off += (size_t)w;
		}
	}
	arca_buf_free(&b);
	return rc;
}

/* ---- diff ---- */

typedef struct diff_ctx {
	arca_repo_reader *rd;
	arca_diff_fn cb;
	void *payload;
	arca_diff_result *res;
	arca_idset a_blobs;
	arca_idset counted;
	arca_repo *r;
} diff_ctx;

static bool node_changed(const arca_node *a, const arca_node *b)
{
	size_t i;
	if (a->kind != b->kind || a->size != b->size || a->mode != b->mode || a->mtime_ns != b->mtime_ns ||
	    a->uid != b->uid || a->gid != b->gid)
		return true;
	if (a->kind == ARCA_NODE_FILE) {
		if (a->nchunks != b->nchunks)
			return true;
		for (i = 0; i < a->nchunks; i++)
			if (!arca_id_eq(&a->chunks[i], &b->chunks[i]))
				return true;
	}
	if (a->kind == ARCA_NODE_SYMLINK && strcmp(a->link_target ? a->link_target : "", b->link_target ? b->link_target : ""))
		return true;
	return false;
}

static int collect_blobs(const char *path, const arca_node *n, void *payload)
{
	arca_idset *s = payload;
	size_t i;
	for (i = 0; i < n->nchunks; i++)
		if (arca_idset_insert(s, &n->chunks[i], NULL) < 0)
			return ARCA_NOMEM;
	return 0;
}

static int count_new(diff_ctx *c, const arca_node *b)
{
	size_t i;
	for (i = 0; i < b->nchunks; i++) {
		arca_index_loc loc;
		int rc;
		if (arca_idset_contains(&c->a_blobs, &b->chunks[i]))
			continue;
		rc = arca_idset_insert(&c->counted, &b->chunks[i], NULL);
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		c->res->new_blobs++;
		if (!arca_repo_blob_lookup(c->r, &b->chunks[i], &loc))
			c->res->new_bytes += loc.raw_len;
	}
	return 0;
}

static int diff_side(diff_ctx *c, arca_diff_kind kind, const char *path, const arca_node *n)
{
	int rc;
	if (kind == ARCA_DIFF_ADDED) {
		c->res->added++;
		if ((rc = count_new(c, n)))
			return rc;
	} else {
		c->res->removed++;
	}
	if (c->cb && (rc = c->cb(kind, path, kind == ARCA_DIFF_REMOVED ? n : NULL,
				 kind == ARCA_DIFF_ADDED ? n : NULL, c->payload)))
		return rc;
	return 0;
}

typedef struct side_walk {
	diff_ctx *c;
	arca_diff_kind kind;
} side_walk;

static int side_cb(const char *path, const arca_node *n, void *payload)
{
	side_walk *w = payload;
	return diff_side(w->c, w->kind, path, n);
}

static int diff_subtree(diff_ctx *c, arca_diff_kind kind, const char *prefix, const arca_id *tree)
{
	/* report everything under a directory that exists on one side only */
	side_walk w = { c, kind };
	size_t cap = 65536;
	char *path;
	int rc;
	(void)prefix;
	path = malloc(cap);
	if (!path)
		return ARCA_NOMEM;
	snprintf(path, cap, "%s", prefix);
	{
		arca_tree *t = NULL;
		size_t i;
		rc = arca_tree_load(c->rd, tree, &t);
		for (i = 0; !rc && t && i < t->n; i++) {
			char *p = malloc(strlen(prefix) + strlen(t->nodes[i].name) + 2);
			if (!p) {
				rc = ARCA_NOMEM;
				break;
			}
			sprintf(p, "%s/%s", prefix, t->nodes[i].name);
			rc = side_cb(p, &t->nodes[i], &w);
			if (!rc && t->nodes[i].kind == ARCA_NODE_DIR)
				rc = diff_subtree(c, kind, p, &t->nodes[i].subtree);
			free(p);
		}
		arca_tree_free(t);
	}
	free(path);
	return rc;
}

static int diff_trees(diff_ctx *c, const char *prefix, const arca_id *ta, const arca_id *tb)
{
	arca_tree *a = NULL, *b = NULL;
	size_t i = 0, j = 0;
	char *p = NULL;
	int rc;
	if (arca_id_eq(ta, tb))
		return 0; /* identical subtrees: Merkle shortcut */
	if ((rc = arca_tree_load(c->rd, ta, &a)) || (rc = arca_tree_load(c->rd, tb, &b)))
		goto out;
	while (!rc && (i < a->n || j < b->n)) {
		const arca_node *x = i < a->n ? &a->nodes[i] : NULL, *y = j < b->n ? &b->nodes[j] : NULL;
		int cmp = !x ? 1 : !y ? -1 : strcmp(x->name, y->name);
		const arca_node *n = cmp <= 0 ? x : y;
		free(p);
		p = malloc(strlen(prefix) + strlen(n->name) + 2);
		if (!p) {
			rc = ARCA_NOMEM;
			break;
		}
		sprintf(p, "%s/%s", prefix, n->name);
		if (cmp < 0) {
			rc = diff_side(c, ARCA_DIFF_REMOVED, p, x);
			if (!rc && x->kind == ARCA_NODE_DIR)
				rc = diff_subtree(c, ARCA_DIFF_REMOVED, p, &x->subtree);
			i++;
		} else if (cmp > 0) {
			rc = diff_side(c, ARCA_DIFF_ADDED, p, y);
			if (!rc && y->kind == ARCA_NODE_DIR)
				rc = diff_subtree(c, ARCA_DIFF_ADDED, p, &y->subtree);
			j++;
		} else {
			if (x->kind == ARCA_NODE_DIR && y->kind == ARCA_NODE_DIR) {
				rc = diff_trees(c, p, &x->subtree, &y->subtree);
			} else if (node_changed(x, y)) {
				c->res->changed++;
				rc = count_new(c, y);
				if (!rc && c->cb)
					rc = c->cb(ARCA_DIFF_CHANGED, p, x, y, c->payload);
				/* a directory replaced by a file or the reverse: its
				 * contents went or came with it */
				if (!rc && x->kind == ARCA_NODE_DIR)
					rc = diff_subtree(c, ARCA_DIFF_REMOVED, p, &x->subtree);
				if (!rc && y->kind == ARCA_NODE_DIR)
					rc = diff_subtree(c, ARCA_DIFF_ADDED, p, &y->subtree);
			}
			i++;
			j++;
		}
	}
out:
	free(p);
	arca_tree_free(a);
	arca_tree_free(b);
	return rc;
}

int arca_diff(arca_repo *r, const arca_snapshot *a, const arca_snapshot *b, arca_diff_fn cb, void *payload,
	      arca_diff_result *res)
{
	diff_ctx c;
	int rc;
	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.cb = cb;
	c.payload = payload;
	c.res = res;
	c.r = r;
	arca_idset_init(&c.a_blobs, 0);
	arca_idset_init(&c.counted, 0);
	if ((rc = arca_repo_reader_new(&c.rd, r)))
		return rc;
	if (!(rc = arca_walk(c.rd, &a->tree, collect_blobs, &c.a_blobs)))
		rc = diff_trees(&c, "", &a->tree, &b->tree);
	arca_repo_reader_free(c.rd);
	arca_idset_free(&c.a_blobs);
	arca_idset_free(&c.counted);
	return rc;
}

/* ---- stats ---- */

typedef struct stats_ctx {
	arca_repo *r;
	arca_stats_result *res;
	arca_idset blobs;
	arca_idset trees;
} stats_ctx;

static int add_blob(stats_ctx *c, const arca_id *id)
{
	arca_index_loc loc;
	int rc = arca_idset_insert(&c->blobs, id, NULL);
	if (rc <= 0)
		return rc;
	c->res->unique_blobs++;
	if (!arca_repo_blob_lookup(c->r, id, &loc)) {
		c->res->raw_size += loc.raw_len;
		c->res->stored_size += loc.stored_len;
	}
	return 0;
}

static int stats_cb(const char *path, const arca_node *n, void *payload)
{
	stats_ctx *c = payload;
	size_t i;
	int rc;
	if (n->kind == ARCA_NODE_FILE) {
		c->res->files++;
		c->res->restore_size += n->size;
		for (i = 0; i < n->nchunks; i++)
			if ((rc = add_blob(c, &n->chunks[i])))
				return rc;
	}
	return 0;
}

static int count_pack(const char *key, uint64_t size, void *payload)
{
	arca_stats_result *res = payload;
	res->packs++;
	res->pack_bytes += size;
	return 0;
}

int arca_stats(arca_repo *r, const arca_snapshot *const *v, size_t n, arca_stats_result *res)
{
	stats_ctx c;
	arca_repo_reader *rd = NULL;
	size_t i;
	int rc;
	memset(res, 0, sizeof(*res));
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.res = res;
	arca_idset_init(&c.blobs, 0);
	arca_idset_init(&c.trees, 0);
	if ((rc = arca_repo_reader_new(&rd, r)))
		goto out;
	for (i = 0; i < n; i++) {
		res->snapshots++;
		if ((rc = arca_walk(rd, &v[i]->tree, stats_cb, &c)))
			goto out;
	}
	rc = arca_be_list(arca_repo_backend(r), "data/", count_pack, res);
out:
	arca_repo_reader_free(rd);
	arca_idset_free(&c.blobs);
	arca_idset_free(&c.trees);
	return rc;
}

/* ---- stats --mode (restic's restore-size, files-by-contents, raw-data) ---- */

typedef struct mode_ctx {
	arca_repo *r;
	arca_stats_mode mode;
	arca_stats_mode_result *res;
	arca_idset blobs;    /* raw: distinct blobs */
	arca_idset contents; /* files: distinct chunk lists */
	arca_idset links;    /* restore-size: (dev, inode) of hard links in this snapshot */
} mode_ctx;

static int mode_blob(mode_ctx *c, const arca_id *id, bool tree)
{
	arca_index_loc loc;
	int rc = arca_idset_insert(&c->blobs, id, NULL);
	if (rc <= 0)
		return rc;
	c->res->blobs++;
	c->res->tree_blobs += tree;
	if (arca_repo_blob_lookup(c->r, id, &loc)) {
		c->res->blobs_missing++;
		return 0;
	}
	c->res->size += loc.stored_len;
	c->res->raw_size += loc.raw_len;
	if (!tree)
		c->res->data_raw_size += loc.raw_len;
	return 0;
}

static int mode_cb(const char *path, const arca_node *n, void *payload)
{
	mode_ctx *c = payload;
	size_t i;
	int rc;
	if (n->kind == ARCA_NODE_DIR && c->mode == ARCA_STATS_RAW)
		return mode_blob(c, &n->subtree, true);
	if (n->kind != ARCA_NODE_FILE)
		return 0;
	if (n->nlink > 1) {
		/* a hard link restores once per snapshot */
		arca_id key;
		uint64_t di[2] = { n->dev, n->inode };
		arca_sha256(&key, di, sizeof(di)); /* spread: idset hashes the first bytes */
		if ((rc = arca_idset_insert(&c->links, &key, NULL)) <= 0)
			return rc;
	}
	c->res->restore_size += n->size;
	if (c->mode != ARCA_STATS_FILES) {
		c->res->files++;
		if (c->mode == ARCA_STATS_RESTORE_SIZE)
			c->res->size += n->size;
		for (i = 0; c->mode == ARCA_STATS_RAW && i < n->nchunks; i++)
			if ((rc = mode_blob(c, &n->chunks[i], false)))
				return rc;
		return 0;
	}
	{
		arca_id content;
		arca_sha256(&content, n->chunks ? (const void *)n->chunks : "", n->nchunks * sizeof(arca_id));
		if ((rc = arca_idset_insert(&c->contents, &content, NULL)) <= 0)
			return rc;
		c->res->files++;
		c->res->size += n->size;
	}
	return 0;
}

int arca_stats_mode_run(arca_repo *r, arca_stats_mode mode, const arca_snapshot *const *v, size_t n,
			arca_stats_mode_result *res)
{
	mode_ctx c;
	arca_repo_reader *rd = NULL;
	size_t i;
	int rc = 0;
	memset(res, 0, sizeof(*res));
	if (mode != ARCA_STATS_RESTORE_SIZE && mode != ARCA_STATS_FILES && mode != ARCA_STATS_RAW)
		return arca_error_set(ARCA_INVAL, "unknown stats mode %d", (int)mode);
	memset(&c, 0, sizeof(c));
	c.r = r;
	c.mode = mode;
	c.res = res;
	arca_idset_init(&c.blobs, 0);
	arca_idset_init(&c.contents, 0);
	arca_idset_init(&c.links, 0);
	if ((rc = arca_repo_reader_new(&rd, r)))
		goto out;
	for (i = 0; i < n && !rc; i++) {
		res->snapshots++;
		arca_idset_free(&c.links);
		arca_idset_init(&c.links, 0);
		if (mode == ARCA_STATS_RAW && (rc = mode_blob(&c, &v[i]->tree, true)))
			break;
		rc = arca_walk(rd, &v[i]->tree, mode_cb, &c);
	}
out:
	arca_repo_reader_free(rd);
	arca_idset_free(&c.blobs);
	arca_idset_free(&c.contents);
	arca_idset_free(&c.links);
	return rc;
}

