/*
 * snapshot/tree.c - tree nodes: canonical encoding and strict decoding.
 *
 * Encoding (docs/FORMAT.md): u8 version, varint count, then per entry in
 * strictly increasing byte order of name: name, kind, mode, uid, gid,
 * user, group, mtime, ctime, inode, dev, nlink, size, a kind-specific part,
 * and a count of extension fields (0 in version 1: room for later
 * additions, which will bump the tree version).  The decoder accepts
 * exactly one encoding per tree (trees are named by their hash) and
 * refuses anything a hostile repository could use to escape a restore
 * target: unsafe names, duplicates, unknown kinds.
 */
#include "arca/snapshot.h"
#include "util/buf.h"
#include "util/enc.h"

#include <stdlib.h>
#include <string.h>

#define TREE_VERSION 1

bool arca_name_is_safe(const char *name, size_t len)
{
	if (len == 0 || len > ARCA_NAME_MAX)
		return false;
	if (memchr(name, '/', len) || memchr(name, '\0', len))
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	return true;
}

void arca_node_clear(arca_node *n)
{
	free(n->name);
	free(n->user);
	free(n->group);
	free(n->chunks);
	free(n->link_target);
	memset(n, 0, sizeof(*n));
}

void arca_tree_clear(arca_tree *t)
{
	size_t i;
	for (i = 0; i < t->n; i++)
		arca_node_clear(&t->nodes[i]);
	free(t->nodes);
	memset(t, 0, sizeof(*t));
}

void arca_tree_free(arca_tree *t)
{
	if (!t)
		return;
	arca_tree_clear(t);
	free(t);
}

int arca_tree_add(arca_tree *t, arca_node *node)
{
	int rc;
	if ((rc = arca_grow(&t->nodes, &t->cap, t->n + 1, sizeof(*t->nodes), 16)))
		return rc;
	t->nodes[t->n++] = *node;
	memset(node, 0, sizeof(*node));
	return 0;
}

static int cmp_node(const void *a, const void *b)
{
	return strcmp(((const arca_node *)a)->name, ((const arca_node *)b)->name);
}

int arca_tree_encode(arca_tree *t, arca_buf *out)
{
	size_t i, j;
	int rc = 0;
	if (t->n) /* an empty directory has no node array: qsort(NULL) is UB */
		qsort(t->nodes, t->n, sizeof(arca_node), cmp_node);
	for (i = 1; i < t->n; i++)
		if (!strcmp(t->nodes[i - 1].name, t->nodes[i].name))
			return arca_error_set(ARCA_INVAL, "duplicate name '%s' in a directory", t->nodes[i].name);
	rc |= arca_enc_u8(out, TREE_VERSION);
	rc |= arca_enc_varint(out, t->n);
	for (i = 0; i < t->n && !rc; i++) {
		const arca_node *n = &t->nodes[i];
		rc |= arca_enc_str(out, n->name);
		rc |= arca_enc_u8(out, n->kind);
		rc |= arca_enc_varint(out, n->mode);
		rc |= arca_enc_varint(out, n->uid);
		rc |= arca_enc_varint(out, n->gid);
		rc |= arca_enc_str(out, n->user);
		rc |= arca_enc_str(out, n->group);
		rc |= arca_enc_svarint(out, n->mtime_ns);
		rc |= arca_enc_svarint(out, n->ctime_ns);
		rc |= arca_enc_varint(out, n->inode);
		rc |= arca_enc_varint(out, n->dev);
		rc |= arca_enc_varint(out, n->nlink);
		rc |= arca_enc_varint(out, n->size);
		switch (n->kind) {
		case ARCA_NODE_FILE:
			rc |= arca_enc_varint(out, n->nchunks);
			for (j = 0; j < n->nchunks; j++)
				rc |= arca_buf_put(out, n->chunks[j].b, ARCA_ID_LEN);
			break;
		case ARCA_NODE_DIR:
			rc |= arca_buf_put(out, n->subtree.b, ARCA_ID_LEN);
			break;
		case ARCA_NODE_SYMLINK:
			rc |= arca_enc_str(out, n->link_target);
			break;
		case ARCA_NODE_CHARDEV:
		case ARCA_NODE_BLOCKDEV:
			rc |= arca_enc_varint(out, n->rdev);
			break;
		default:
			break;
		}
		rc |= arca_enc_varint(out, 0); /* no extension fields yet */
	}
	return rc ? arca_error_set(ARCA_NOMEM, "out of memory encoding a tree") : 0;
}

int arca_tree_decode(arca_tree **out, const void *p, size_t len)
{
	arca_tree *t;
	arca_dec d;
	uint64_t count, i, j;
	int rc = ARCA_CORRUPT;
	const char *why = "truncated";
	*out = NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	arca_dec_init(&d, p, len);
	if (arca_dec_u8(&d) != TREE_VERSION) {
		why = "unknown tree version";
		goto bad;
	}
	count = arca_dec_varint(&d);
	/* the smallest entry (a fifo with a 1-byte name, every field 0) is 15 bytes */
	if (!arca_dec_ok(&d) || count > arca_dec_left(&d) / 15) {
		why = "entry count larger than the data";
		goto bad;
	}
	for (i = 0; i < count; i++) {
		arca_node n;
		uint64_t next, v;
		memset(&n, 0, sizeof(n));
		n.name = arca_dec_strdup(&d, ARCA_NAME_MAX);
		if (!n.name || !arca_name_is_safe(n.name, strlen(n.name))) {
			why = "unsafe or malformed name";
			arca_node_clear(&n);
			goto bad;
		}
		if (t->n && strcmp(t->nodes[t->n - 1].name, n.name) >= 0) {
			why = "names not strictly sorted (duplicate?)";
			arca_node_clear(&n);
			goto bad;
		}
		n.kind = arca_dec_u8(&d);
		v = arca_dec_varint(&d);
		n.mode = (uint32_t)v;
		next = arca_dec_varint(&d);
		n.uid = (uint32_t)next;
		j = arca_dec_varint(&d);
		n.gid = (uint32_t)j;
		if (v > 07777 || next > UINT32_MAX || j > UINT32_MAX) {
			why = "mode, uid or gid out of range";
			arca_node_clear(&n);
			goto bad;
		}
		n.user = arca_dec_strdup(&d, 255);
		n.group = arca_dec_strdup(&d, 255);
		n.mtime_ns = arca_dec_svarint(&d);
		n.ctime_ns = arca_dec_svarint(&d);
		n.inode = arca_dec_varint(&d);
		n.dev = arca_dec_varint(&d);
		n.nlink = arca_dec_varint(&d);
		n.size = arca_dec_varint(&d);
		switch (n.kind) {
		case ARCA_NODE_FILE:
			next = arca_dec_varint(&d);
			if (!arca_dec_ok(&d) || next > arca_dec_left(&d) / ARCA_ID_LEN) {
				why = "chunk count larger than the data";
				arca_node_clear(&n);
				goto bad;
			}
			n.nchunks = (size_t)next;
			if (n.nchunks) {
				n.chunks = malloc(n.nchunks * sizeof(arca_id));
				if (!n.chunks) {
					arca_node_clear(&n);
					rc = arca_error_set(ARCA_NOMEM, "out of memory");
					goto fail;
				}
				for (j = 0; j < n.nchunks; j++) {
					const uint8_t *b = arca_dec_raw(&d, ARCA_ID_LEN);
					if (b)
						memcpy(n.chunks[j].b, b, ARCA_ID_LEN);
				}
			}
			break;
		case ARCA_NODE_DIR: {
			const uint8_t *b = arca_dec_raw(&d, ARCA_ID_LEN);
			if (b)
				memcpy(n.subtree.b, b, ARCA_ID_LEN);
			break;
		}
		case ARCA_NODE_SYMLINK:
			n.link_target = arca_dec_strdup(&d, 4096);
			break;
		case ARCA_NODE_CHARDEV:
		case ARCA_NODE_BLOCKDEV:
			n.rdev = arca_dec_varint(&d);
			break;
		case ARCA_NODE_FIFO:
		case ARCA_NODE_SOCKET:
			break;
		default:
			why = "unknown entry kind";
			arca_node_clear(&n);
			goto bad;
		}
		/* extension fields: none are defined in tree version 1, and a
		 * tree must have one encoding (it is named by its hash) */
		next = arca_dec_varint(&d);
		if (next != 0) {
			why = "extension fields are not defined in tree version 1";
			arca_node_clear(&n);
			goto bad;
		}
		if (!arca_dec_ok(&d) || !n.user || !n.group) {
			arca_node_clear(&n);
			goto bad;
		}
		if ((rc = arca_tree_add(t, &n))) {
			arca_node_clear(&n);
			goto fail;
		}
	}
	if (arca_dec_left(&d) != 0 || !arca_dec_ok(&d)) {
		why = "trailing bytes";
		goto bad;
	}
	*out = t;
	return 0;
bad:
	rc = arca_error_set(ARCA_CORRUPT, "malformed tree: %s", why);
fail:
	arca_tree_free(t);
	return rc;
}

const arca_node *arca_tree_find(const arca_tree *t, const char *name)
{
	size_t lo = 0, hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(t->nodes[mid].name, name);
		if (!c)
			return &t->nodes[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int arca_tree_load(arca_repo_reader *rd, const arca_id *id, arca_tree **out)
{
	arca_buf b = ARCA_BUF_INIT;
	char hex[65];
	int rc;
	*out = NULL;
	if ((rc = arca_repo_blob_load(rd, id, &b)) == 0 && (rc = arca_tree_decode(out, b.data, b.len))) {
		arca_id_hex(hex, id);
		rc = arca_error_prefix(rc, "tree %s", hex);
	}
	arca_buf_free(&b);
	return rc;
}
