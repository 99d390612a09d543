/*
 * tests/unit/test_snapshot.c - trees and snapshot manifests (canonical
 * encoding, strict decoding of hostile input), selecting snapshots the
 * way users name them, and one small end-to-end run through the library:
 * backup of a temporary tree, restore elsewhere with identical bytes,
 * check, and diff between two backups.
 */
#include "arca/snapshot.h"
#include "util/enc.h"
#include "util/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static arca_id mkid(uint8_t a, uint8_t b)
{
	arca_id id;
	memset(&id, a, sizeof(id));
	id.b[31] = b;
	return id;
}

/* ---- trees ---- */

static arca_node mknode(const char *name, uint8_t kind, unsigned salt)
{
	arca_node n;
	memset(&n, 0, sizeof(n));
	n.name = strdup(name);
	n.kind = kind;
	n.mode = 04755 - salt;
	n.uid = 1000 + salt;
	n.gid = 100 + salt;
	n.user = strdup(salt % 2 ? "alice" : "");
	n.group = strdup("staff");
	n.mtime_ns = -1234567890123LL - salt; /* before the epoch */
	n.ctime_ns = 1700000000123456789LL + salt;
	n.inode = 42 + salt;
	n.dev = 2049;
	n.nlink = 1 + salt % 3;
	n.size = 12345ull * salt + (1ull << 40);
	switch (kind) {
	case ARCA_NODE_FILE:
		n.nchunks = salt % 4;
		n.chunks = n.nchunks ? calloc(n.nchunks, sizeof(arca_id)) : NULL;
		for (size_t i = 0; i < n.nchunks; i++)
			n.chunks[i] = mkid((uint8_t)(salt + i), (uint8_t)i);
		break;
	case ARCA_NODE_DIR:
		n.subtree = mkid(0xd1, (uint8_t)salt);
		break;
	case ARCA_NODE_SYMLINK:
		n.link_target = strdup("../some where/else");
		break;
	case ARCA_NODE_CHARDEV:
	case ARCA_NODE_BLOCKDEV:
		n.rdev = ((uint64_t)salt << 8) | 1;
		break;
	default:
		break;
	}
	return n;
}

static void assert_node_eq(const arca_node *a, const arca_node *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->kind, b->kind);
	assert_int_equal(a->mode, b->mode);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_string_equal(a->user, b->user);
	assert_string_equal(a->group, b->group);
	assert_true(a->mtime_ns == b->mtime_ns);
	assert_true(a->ctime_ns == b->ctime_ns);
	assert_true(a->inode == b->inode);
	assert_true(a->dev == b->dev);
	assert_true(a->nlink == b->nlink);
	assert_true(a->size == b->size);
	assert_int_equal(a->nchunks, b->nchunks);
	if (a->nchunks)
		assert_memory_equal(a->chunks, b->chunks, a->nchunks * sizeof(arca_id));
	if (a->kind == ARCA_NODE_DIR)
		assert_memory_equal(a->subtree.b, b->subtree.b, ARCA_ID_LEN);
	if (a->kind == ARCA_NODE_SYMLINK)
		assert_string_equal(a->link_target, b->link_target);
	assert_true(a->rdev == b->rdev);
}

/* Every kind, every field, added out of order. */
static void build_full_tree(arca_tree *t)
{
	static const struct {
		const char *name;
		uint8_t kind;
	} e[] = {
		{ "sock", ARCA_NODE_SOCKET },   { "file", ARCA_NODE_FILE },
		{ "dir", ARCA_NODE_DIR },       { "link", ARCA_NODE_SYMLINK },
		{ "tty", ARCA_NODE_CHARDEV },   { "sda", ARCA_NODE_BLOCKDEV },
		{ "pipe", ARCA_NODE_FIFO },     { "empty file", ARCA_NODE_FILE },
		{ "\xc3\xbcn\xc3\xaf", ARCA_NODE_FILE }, { "Z\xff\x01", ARCA_NODE_FILE },
		{ ".hidden", ARCA_NODE_DIR },   { "...", ARCA_NODE_FILE },
	};
	size_t i;
	memset(t, 0, sizeof(*t));
	for (i = 0; i < sizeof(e) / sizeof(e[0]); i++) {
		arca_node n = mknode(e[i].name, e[i].kind, (unsigned)i + 1);
		assert_int_equal(arca_tree_add(t, &n), 0);
		assert_null(n.name); /* ownership moved */
	}
	{
		/* the longest allowed name */
		char big[ARCA_NAME_MAX + 1];
		arca_node n;
		memset(big, 'n', ARCA_NAME_MAX);
		big[ARCA_NAME_MAX] = '\0';
		n = mknode(big, ARCA_NODE_FILE, 3);
		assert_int_equal(arca_tree_add(t, &n), 0);
	}
}

static void test_tree_roundtrip(void **state)
{
	arca_tree t, *d = NULL;
	arca_buf enc = ARCA_BUF_INIT, enc2 = ARCA_BUF_INIT;
	size_t i;
	build_full_tree(&t);
	assert_int_equal(arca_tree_encode(&t, &enc), 0);
	/* encode sorted the nodes bytewise */
	for (i = 1; i < t.n; i++)
		assert_true(strcmp(t.nodes[i - 1].name, t.nodes[i].name) < 0);
	assert_int_equal(arca_tree_decode(&d, enc.data, enc.len), 0);
	assert_non_null(d);
	assert_int_equal(d->n, t.n);
	for (i = 0; i < t.n; i++)
		assert_node_eq(&t.nodes[i], &d->nodes[i]);
	/* canonical: re-encoding the decoded tree gives the same bytes */
	assert_int_equal(arca_tree_encode(d, &enc2), 0);
	assert_int_equal(enc.len, enc2.len);
	assert_memory_equal(enc.data, enc2.data, enc.len);
	/* the order nodes were added in does not matter */
	{
		arca_tree t2;
		arca_buf enc3 = ARCA_BUF_INIT;
		memset(&t2, 0, sizeof(t2));
		for (i = d->n; i-- > 0;) {
			assert_int_equal(arca_tree_add(&t2, &d->nodes[i]), 0);
		}
		d->n = 0;
		assert_int_equal(arca_tree_encode(&t2, &enc3), 0);
		assert_int_equal(enc3.len, enc.len);
		assert_memory_equal(enc3.data, enc.data, enc.len);
		arca_tree_clear(&t2);
		arca_buf_free(&enc3);
	}
	arca_tree_free(d);
	arca_tree_clear(&t);
	arca_buf_free(&enc);
	arca_buf_free(&enc2);
}

static void test_tree_empty_and_minimal(void **state)
{
	arca_tree t, *d = NULL;
	arca_buf enc = ARCA_BUF_INIT;
	size_t i;
	memset(&t, 0, sizeof(t));
	/* an empty directory */
	assert_int_equal(arca_tree_encode(&t, &enc), 0);
	assert_int_equal(enc.len, 2);
	assert_int_equal(arca_tree_decode(&d, enc.data, enc.len), 0);
	assert_int_equal(d->n, 0);
	arca_tree_free(d);
	arca_buf_clear(&enc);
	/* entries with every field zero are as small as the format allows */
	for (i = 0; i < 3; i++) {
		arca_node n;
		char name[2] = { (char)('a' + i), 0 };
		memset(&n, 0, sizeof(n));
		n.name = strdup(name);
		n.user = strdup("");
		n.group = strdup("");
		n.kind = i == 1 ? ARCA_NODE_SOCKET : ARCA_NODE_FIFO;
		assert_int_equal(arca_tree_add(&t, &n), 0);
	}
	assert_int_equal(arca_tree_encode(&t, &enc), 0);
	if (arca_tree_decode(&d, enc.data, enc.len))
		fail_msg("a tree of %zu minimal entries (%zu bytes) was refused: %s", t.n, enc.len,
			 arca_error_message());
	assert_int_equal(d->n, 3);
	for (i = 0; i < 3; i++)
		assert_node_eq(&t.nodes[i], &d->nodes[i]);
	arca_tree_free(d);
	arca_tree_clear(&t);
	arca_buf_free(&enc);
}

static void test_tree_encode_duplicates(void **state)
{
	arca_tree t;
	arca_buf enc = ARCA_BUF_INIT;
	arca_node n = mknode("same", ARCA_NODE_FILE, 1), m = mknode("same", ARCA_NODE_DIR, 2),
		  o = mknode("other", ARCA_NODE_FIFO, 3);
	memset(&t, 0, sizeof(t));
	assert_int_equal(arca_tree_add(&t, &n), 0);
	assert_int_equal(arca_tree_add(&t, &o), 0);
	assert_int_equal(arca_tree_add(&t, &m), 0);
	assert_int_equal(arca_tree_encode(&t, &enc), ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "same"));
	arca_tree_clear(&t);
	arca_buf_free(&enc);
}

/* Hand-built entries for the decoder (bypassing the encoder's checks). */
static void raw_entry(arca_buf *b, const char *name, size_t nlen, uint8_t kind)
{
	arca_id z = mkid(0, 0);
	assert_int_equal(arca_enc_bytes(b, name, nlen), 0);
	arca_enc_u8(b, kind);
	arca_enc_varint(b, 0644);
	arca_enc_varint(b, 1);
	arca_enc_varint(b, 2);
	arca_enc_str(b, "u");
	arca_enc_str(b, "g");
	arca_enc_svarint(b, 5);
	arca_enc_svarint(b, 6);
	arca_enc_varint(b, 7);
	arca_enc_varint(b, 8);
	arca_enc_varint(b, 1);
	arca_enc_varint(b, 0);
	switch (kind) {
	case ARCA_NODE_FILE: arca_enc_varint(b, 1); arca_buf_put(b, z.b, 32); break;
	case ARCA_NODE_DIR: arca_buf_put(b, z.b, 32); break;
	case ARCA_NODE_SYMLINK: arca_enc_str(b, "t"); break;
	case ARCA_NODE_CHARDEV: case ARCA_NODE_BLOCKDEV: arca_enc_varint(b, 3); break;
	default: break;
	}
}

static void raw_tree(arca_buf *b, uint64_t count)
{
	arca_buf_clear(b);
	arca_enc_u8(b, 1);
	arca_enc_varint(b, count);
}

static int decode_rc(const arca_buf *b)
{
	arca_tree *t = (arca_tree *)1;
	int rc = arca_tree_decode(&t, b->data, b->len);
	if (rc)
		assert_null(t);
	arca_tree_free(t);
	return rc;
}

static void one_name(arca_buf *b, const char *name, size_t nlen)
{
	raw_tree(b, 1);
	raw_entry(b, name, nlen, ARCA_NODE_FILE);
	arca_enc_varint(b, 0);
}

static void test_tree_decode_hostile(void **state)
{
	arca_buf b = ARCA_BUF_INIT;
	char big[ARCA_NAME_MAX + 2];
	static const struct {
		const char *name;
		size_t len;
	} unsafe[] = { { "", 0 }, { ".", 1 }, { "..", 2 }, { "a/b", 3 }, { "/", 1 }, { "../x", 4 },
		       { "a\0b", 3 }, { "\0", 1 } };
	size_t i;

	/* the builder itself produces something valid */
	one_name(&b, "ok", 2);
	assert_int_equal(decode_rc(&b), 0);

	for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {
		one_name(&b, unsafe[i].name, unsafe[i].len);
		if (decode_rc(&b) != ARCA_CORRUPT)
			fail_msg("name #%zu (%.*s) accepted", i, (int)unsafe[i].len, unsafe[i].name);
	}
	memset(big, 'x', sizeof(big));
	one_name(&b, big, ARCA_NAME_MAX);
	assert_int_equal(decode_rc(&b), 0);
	one_name(&b, big, ARCA_NAME_MAX + 1);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);

	/* unsorted and duplicate entries */
	raw_tree(&b, 2);
	raw_entry(&b, "b", 1, ARCA_NODE_FIFO);
	arca_enc_varint(&b, 0);
	raw_entry(&b, "a", 1, ARCA_NODE_FIFO);
	arca_enc_varint(&b, 0);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "sorted"));
	raw_tree(&b, 2);
	raw_entry(&b, "a", 1, ARCA_NODE_FIFO);
	arca_enc_varint(&b, 0);
	raw_entry(&b, "a", 1, ARCA_NODE_DIR);
	arca_enc_varint(&b, 0);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);

	/* unknown kinds */
	{
		static const uint8_t kinds[] = { 0, 8, 255 };
		for (i = 0; i < sizeof(kinds); i++) {
			raw_tree(&b, 1);
			raw_entry(&b, "k", 1, kinds[i]);
			arca_enc_varint(&b, 0);
			assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
		}
	}

	/* trailing bytes */
	one_name(&b, "ok", 2);
	arca_enc_u8(&b, 0);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
	/* unknown version */
	one_name(&b, "ok", 2);
	b.data[0] = 2;
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);

	/* a huge entry count with little data: refused before allocating */
	raw_tree(&b, 1ull << 60);
	raw_entry(&b, "a", 1, ARCA_NODE_FIFO);
	arca_enc_varint(&b, 0);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
	raw_tree(&b, UINT64_MAX);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
	/* a huge chunk count in a file entry */
	raw_tree(&b, 1);
	raw_entry(&b, "f", 1, ARCA_NODE_FIFO);
	b.data[3] = ARCA_NODE_FILE; /* kind byte follows the 1-byte name */
	arca_enc_varint(&b, 1ull << 58);
	arca_buf_put(&b, mkid(1, 1).b, 32);
	arca_enc_varint(&b, 0);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);

	/* extension fields are not defined in tree version 1: a tree has one
	 * encoding, so any is refused ... */
	raw_tree(&b, 1);
	raw_entry(&b, "x", 1, ARCA_NODE_SYMLINK);
	arca_enc_varint(&b, 2);
	arca_enc_varint(&b, 5);
	arca_enc_bytes(&b, "xattr", 5);
	arca_enc_varint(&b, 100000);
	arca_enc_bytes(&b, "", 0);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
	/* ... however many, and past the end */
	raw_tree(&b, 1);
	raw_entry(&b, "x", 1, ARCA_NODE_SYMLINK);
	arca_enc_varint(&b, 1000);
	for (i = 0; i < 1000; i++) {
		arca_enc_varint(&b, 1);
		arca_enc_bytes(&b, "", 0);
	}
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);
	raw_tree(&b, 1);
	raw_entry(&b, "x", 1, ARCA_NODE_SYMLINK);
	arca_enc_varint(&b, 1);
	arca_enc_varint(&b, 1);
	arca_enc_varint(&b, 50);
	assert_int_equal(decode_rc(&b), ARCA_CORRUPT);

	/* every truncation of a real tree is refused */
	{
		arca_tree t;
		arca_buf enc = ARCA_BUF_INIT;
		build_full_tree(&t);
		assert_int_equal(arca_tree_encode(&t, &enc), 0);
		for (i = 0; i < enc.len; i++) {
			arca_tree *d = NULL;
			if (arca_tree_decode(&d, enc.data, i) != ARCA_CORRUPT)
				fail_msg("a tree cut to %zu of %zu bytes was accepted", i, enc.len);
		}
		arca_tree_clear(&t);
		arca_buf_free(&enc);
	}
	arca_buf_free(&b);
}

static void test_name_is_safe(void **state)
{
	char big[ARCA_NAME_MAX + 1];
	assert_true(arca_name_is_safe("a", 1));
	assert_true(arca_name_is_safe("...", 3));
	assert_true(arca_name_is_safe(".a", 2));
	assert_true(arca_name_is_safe("a b\\c", 5));
	assert_false(arca_name_is_safe("", 0));
	assert_false(arca_name_is_safe(".", 1));
	assert_false(arca_name_is_safe("..", 2));
	assert_false(arca_name_is_safe("a/b", 3));
	assert_false(arca_name_is_safe("/", 1));
	assert_false(arca_name_is_safe("ab/", 3));
	assert_false(arca_name_is_safe("a\0b", 3));
	/* length is what counts, not the C string: ".." followed by more */
	assert_true(arca_name_is_safe("..x", 3));
	assert_false(arca_name_is_safe("..\0", 3));
	memset(big, 'a', sizeof(big));
	assert_true(arca_name_is_safe(big, ARCA_NAME_MAX));
	assert_false(arca_name_is_safe(big, ARCA_NAME_MAX + 1));
}

static void test_tree_find(void **state)
{
	arca_tree t;
	arca_buf enc = ARCA_BUF_INIT;
	char name[16];
	int i;
	memset(&t, 0, sizeof(t));
	assert_null(arca_tree_find(&t, "a"));
	for (i = 99; i >= 0; i--) {
		arca_node n;
		snprintf(name, sizeof(name), "n%03d", i * 7 % 100);
		n = mknode(name, ARCA_NODE_FILE, (unsigned)i);
		assert_int_equal(arca_tree_add(&t, &n), 0);
	}
	assert_int_equal(arca_tree_encode(&t, &enc), 0); /* sorts */
	for (i = 0; i < 100; i++) {
		const arca_node *n;
		snprintf(name, sizeof(name), "n%03d", i);
		n = arca_tree_find(&t, name);
		assert_non_null(n);
		assert_string_equal(n->name, name);
	}
	assert_null(arca_tree_find(&t, "n100"));
	assert_null(arca_tree_find(&t, "n"));
	assert_null(arca_tree_find(&t, ""));
	assert_null(arca_tree_find(&t, "zzz"));
	assert_null(arca_tree_find(&t, "A"));
	arca_tree_clear(&t);
	arca_buf_free(&enc);
}

/* ---- snapshot manifests ---- */

static arca_snapshot *full_snapshot(void)
{
	arca_snapshot *s = calloc(1, sizeof(*s));
	assert_non_null(s);
	s->time_ns = 1793498400123456789LL;
	s->tree = mkid(0x7e, 1);
	s->host = strdup("db-1.example");
	s->user = strdup("postgres");
	s->uid = 26;
	s->gid = 27;
	s->npaths = 2;
	s->paths = calloc(2, sizeof(char *));
	s->paths[0] = strdup("/srv/app/auth_1");
	s->paths[1] = strdup("/etc");
	s->ntags = 2;
	s->tags = calloc(2, sizeof(char *));
	s->tags[0] = strdup("daily");
	s->tags[1] = strdup("pre upgrade");
	s->type = strdup("pre_migration");
	s->has_parent = true;
	s->parent = mkid(0x9a, 2);
	s->expires_ns = 1800000000000000000LL;
	s->nmeta = 2;
	s->meta = calloc(2, sizeof(arca_kv));
	s->meta[0].key = strdup("ticket");
	s->meta[0].value = strdup("OPS-42");
	s->meta[1].key = strdup("empty");
	s->meta[1].value = strdup("");
	s->nsource = 1;
	s->source = calloc(1, sizeof(arca_kv));
	s->source[0].key = strdup("server_version");
	s->source[0].value = strdup("16.4");
	s->program = strdup("arca 0.1.0");
	s->stats = (arca_snapshot_stats){ 1, 2, 3, 4, 5ull << 40, 6, 7, 8, 9, 10, 11 };
	return s;
}

static void assert_snapshot_eq(const arca_snapshot *a, const arca_snapshot *b)
{
	size_t i;
	assert_true(a->time_ns == b->time_ns);
	assert_memory_equal(a->tree.b, b->tree.b, ARCA_ID_LEN);
	assert_string_equal(a->host, b->host);
	assert_string_equal(a->user, b->user);
	assert_int_equal(a->uid, b->uid);
	assert_int_equal(a->gid, b->gid);
	assert_int_equal(a->npaths, b->npaths);
	for (i = 0; i < a->npaths; i++)
		assert_string_equal(a->paths[i], b->paths[i]);
	assert_int_equal(a->ntags, b->ntags);
	for (i = 0; i < a->ntags; i++)
		assert_string_equal(a->tags[i], b->tags[i]);
	assert_string_equal(a->type, b->type);
	assert_int_equal(a->has_parent, b->has_parent);
	assert_memory_equal(a->parent.b, b->parent.b, ARCA_ID_LEN);
	assert_true(a->expires_ns == b->expires_ns);
	assert_int_equal(a->nmeta, b->nmeta);
	for (i = 0; i < a->nmeta; i++) {
		assert_string_equal(a->meta[i].key, b->meta[i].key);
		assert_string_equal(a->meta[i].value, b->meta[i].value);
	}
	assert_int_equal(a->nsource, b->nsource);
	for (i = 0; i < a->nsource; i++) {
		assert_string_equal(a->source[i].key, b->source[i].key);
		assert_string_equal(a->source[i].value, b->source[i].value);
	}
	assert_string_equal(a->program, b->program);
	assert_memory_equal(&a->stats, &b->stats, sizeof(a->stats));
}

static void test_snapshot_roundtrip(void **state)
{
	arca_snapshot *s = full_snapshot(), *d = NULL;
	arca_buf enc = ARCA_BUF_INIT, enc2 = ARCA_BUF_INIT;
	assert_int_equal(arca_snapshot_encode(s, &enc), 0);
	assert_int_equal(enc.data[0], 1);
	assert_int_equal(arca_snapshot_decode(&d, enc.data, enc.len), 0);
	assert_snapshot_eq(s, d);
	assert_int_equal(arca_snapshot_encode(d, &enc2), 0);
	assert_int_equal(enc.len, enc2.len);
	assert_memory_equal(enc.data, enc2.data, enc.len);
	arca_snapshot_free(d);

	/* a minimal snapshot: no parent, no expiry, no optional strings */
	{
		arca_snapshot m;
		memset(&m, 0, sizeof(m));
		m.time_ns = -5;
		m.tree = mkid(3, 3);
		arca_buf_clear(&enc);
		assert_int_equal(arca_snapshot_encode(&m, &enc), 0);
		assert_int_equal(arca_snapshot_decode(&d, enc.data, enc.len), 0);
		assert_true(d->time_ns == -5);
		assert_false(d->has_parent);
		assert_true(d->expires_ns == 0);
		assert_null(d->host);
		assert_int_equal(d->npaths, 0);
		arca_snapshot_free(d);
	}
	arca_snapshot_free(s);
	arca_buf_free(&enc);
	arca_buf_free(&enc2);
}

static int snap_rc(const arca_buf *b)
{
	arca_snapshot *s = (arca_snapshot *)1;
	int rc = arca_snapshot_decode(&s, b->data, b->len);
	if (rc)
		assert_null(s);
	arca_snapshot_free(s);
	return rc;
}

static void test_snapshot_decode_fields(void **state)
{
	arca_snapshot *s = full_snapshot(), *d = NULL;
	arca_buf enc = ARCA_BUF_INIT, b = ARCA_BUF_INIT;
	arca_id tree = mkid(5, 5);
	size_t i;
	assert_int_equal(arca_snapshot_encode(s, &enc), 0);

	/* fields of a later version are skipped, wherever they are */
	assert_int_equal(arca_buf_put(&b, enc.data, enc.len), 0);
	arca_enc_varint(&b, 99);
	arca_enc_bytes(&b, "from the future", 15);
	arca_enc_varint(&b, 1ull << 40);
	arca_enc_bytes(&b, "", 0);
	assert_int_equal(arca_snapshot_decode(&d, b.data, b.len), 0);
	assert_snapshot_eq(s, d);
	arca_snapshot_free(d);
	arca_buf_clear(&b);
	arca_enc_u8(&b, 1);
	arca_enc_varint(&b, 99);
	arca_enc_bytes(&b, "x", 1);
	arca_buf_put(&b, enc.data + 1, enc.len - 1);
	assert_int_equal(arca_snapshot_decode(&d, b.data, b.len), 0);
	assert_snapshot_eq(s, d);
	arca_snapshot_free(d);

	/* time and tree are required */
	arca_buf_clear(&b);
	arca_enc_u8(&b, 1);
	arca_enc_varint(&b, 2);
	arca_enc_bytes(&b, tree.b, 32);
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "time or tree missing"));
	arca_buf_clear(&b);
	arca_enc_u8(&b, 1);
	arca_enc_varint(&b, 1);
	arca_enc_bytes(&b, "\x02", 1);
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);
	/* both: fine */
	arca_enc_varint(&b, 2);
	arca_enc_bytes(&b, tree.b, 32);
	assert_int_equal(snap_rc(&b), 0);
	/* a tree id of the wrong length */
	arca_buf_clear(&b);
	arca_enc_u8(&b, 1);
	arca_enc_varint(&b, 1);
	arca_enc_bytes(&b, "\x02", 1);
	arca_enc_varint(&b, 2);
	arca_enc_bytes(&b, tree.b, 31);
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);
	/* a string with NUL, a bad version, a field running past the end */
	arca_buf_clear(&b);
	arca_enc_u8(&b, 1);
	arca_enc_varint(&b, 1);
	arca_enc_bytes(&b, "\x02", 1);
	arca_enc_varint(&b, 2);
	arca_enc_bytes(&b, tree.b, 32);
	arca_enc_varint(&b, 3);
	arca_enc_bytes(&b, "a\0b", 3);
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);
	b.len -= 5;
	assert_int_equal(snap_rc(&b), 0);
	b.data[0] = 2;
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);
	b.data[0] = 1;
	arca_enc_varint(&b, 3);
	arca_enc_varint(&b, 10);
	arca_buf_put(&b, "abc", 3);
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);
	/* an empty object */
	arca_buf_clear(&b);
	assert_int_equal(snap_rc(&b), ARCA_CORRUPT);

	/* truncations: inside a field -> refused; never a crash */
	for (i = 0; i < enc.len; i++) {
		arca_snapshot *x = NULL;
		int rc = arca_snapshot_decode(&x, enc.data, i);
		assert_true(rc == 0 || rc == ARCA_CORRUPT);
		if (i < 1 + 2 + 9 + 2 + 32) /* before the end of time + tree */
			assert_int_equal(rc, ARCA_CORRUPT);
		arca_snapshot_free(x);
	}
	arca_snapshot_free(s);
	arca_buf_free(&enc);
	arca_buf_free(&b);
}

/* The bytes of docs/FORMAT.md §8, written by hand, read by the decoder,
 * and the encoder writes the same multi-value fields in the same order. */
static void test_snapshot_format_bytes(void **state)
{
	arca_buf b = ARCA_BUF_INIT, v = ARCA_BUF_INIT, enc = ARCA_BUF_INIT;
	arca_id tree = mkid(0x42, 7);
	arca_snapshot *s = NULL;
	uint64_t i;
	arca_enc_u8(&b, 1);
	arca_enc_varint(&b, 14); /* uid/gid first: fields come in any order */
	arca_enc_varint(&v, 1001);
	arca_enc_varint(&v, 1002);
	arca_enc_bytes(&b, v.data, v.len);
	arca_enc_varint(&b, 2);
	arca_enc_bytes(&b, tree.b, 32);
	arca_buf_clear(&v);
	arca_enc_varint(&b, 1);
	arca_enc_svarint(&v, -42);
	arca_enc_bytes(&b, v.data, v.len);
	arca_buf_clear(&v);
	arca_enc_varint(&b, 10);
	arca_enc_str(&v, "k");
	arca_enc_str(&v, "val");
	arca_enc_bytes(&b, v.data, v.len);
	arca_buf_clear(&v);
	arca_enc_varint(&b, 11);
	for (i = 1; i <= 11; i++)
		arca_enc_varint(&v, i * 100);
	arca_enc_bytes(&b, v.data, v.len);
	arca_enc_varint(&b, 6);
	arca_enc_str(&b, "t1");
	arca_enc_varint(&b, 6);
	arca_enc_str(&b, "t2");
	assert_int_equal(arca_snapshot_decode(&s, b.data, b.len), 0);
	assert_true(s->time_ns == -42);
	assert_memory_equal(s->tree.b, tree.b, 32);
	assert_int_equal(s->uid, 1001);
	assert_int_equal(s->gid, 1002);
	assert_int_equal(s->nmeta, 1);
	assert_string_equal(s->meta[0].key, "k");
	assert_string_equal(s->meta[0].value, "val");
	assert_true(s->stats.files_new == 100 && s->stats.files_changed == 200 &&
		    s->stats.files_unmodified == 300 && s->stats.dirs == 400 && s->stats.bytes_total == 500 &&
		    s->stats.bytes_read == 600 && s->stats.blobs_new == 700 && s->stats.bytes_added_raw == 800 &&
		    s->stats.bytes_added == 900 && s->stats.duration_ms == 1000 && s->stats.errors == 1100);
	assert_int_equal(s->ntags, 2);
	assert_string_equal(s->tags[0], "t1");
	assert_string_equal(s->tags[1], "t2");
	/* the encoder's multi-value fields are the bytes above */
	assert_int_equal(arca_snapshot_encode(s, &enc), 0);
	assert_non_null(memmem(enc.data, enc.len, "\x0a\x06\x01k\x03val", 8));
	assert_non_null(memmem(enc.data, enc.len, v.data, v.len)); /* stats, in order */
	assert_non_null(memmem(enc.data, enc.len, "\x0e\x04\xe9\x07\xea\x07", 6)); /* uid, gid */
	assert_non_null(memmem(enc.data, enc.len, "\x02\x20", 2));
	arca_snapshot_free(s);
	arca_buf_free(&b);
	arca_buf_free(&v);
	arca_buf_free(&enc);
}

/* ---- selecting ---- */

typedef struct sel_fx {
	arca_snapshot_list l;
	arca_snapshot *s[4];
	int64_t t[4];
} sel_fx;

static void add_tag(arca_snapshot *s, const char *tag)
{
	s->tags = realloc(s->tags, (s->ntags + 1) * sizeof(char *));
	s->tags[s->ntags++] = strdup(tag);
}

static int sel_setup(void **state)
{
	sel_fx *f = calloc(1, sizeof(*f));
	static const uint8_t lead[4][2] = { { 0xaa, 0x11 }, { 0xaa, 0x22 }, { 0xbb, 0x33 }, { 0xcc, 0x44 } };
	int i;
	for (i = 0; i < 4; i++) {
		arca_snapshot *s = calloc(1, sizeof(*s));
		s->id = mkid((uint8_t)(i + 1), (uint8_t)i);
		s->id.b[0] = lead[i][0];
		s->id.b[1] = lead[i][1];
		f->t[i] = (1793498400LL + 1000 * i) * ARCA_NS_PER_SEC;
		s->time_ns = f->t[i];
		s->tree = mkid(9, (uint8_t)i);
		s->host = strdup(i == 3 ? "h2" : "h1");
		s->type = strdup(i == 0 ? "daily" : "manual");
		s->npaths = 1;
		s->paths = calloc(1, sizeof(char *));
		s->paths[0] = strdup(i == 2 ? "/etc" : "/srv");
		f->s[i] = s;
	}
	add_tag(f->s[1], "daily");
	add_tag(f->s[2], "daily");
	add_tag(f->s[2], "keep");
	add_tag(f->s[3], "weekly");
	f->l.n = 4;
	f->l.v = calloc(4, sizeof(arca_snapshot *));
	for (i = 0; i < 4; i++)
		f->l.v[i] = f->s[i]; /* oldest first, as list_load sorts */
	*state = f;
	return 0;
}

static int sel_teardown(void **state)
{
	sel_fx *f = *state;
	arca_snapshot_list_free(&f->l);
	free(f);
	return 0;
}

static void sel_is(const sel_fx *f, const char *sel, const arca_snapshot_filter *flt, int want)
{
	const arca_snapshot *out = (const arca_snapshot *)1;
	int rc = arca_snapshot_select(&f->l, sel, flt, &out);
	if (rc)
		fail_msg("select '%s': %d %s", sel, rc, arca_error_message());
	assert_ptr_equal(out, f->s[want]);
}

static void sel_fails(const sel_fx *f, const char *sel, const arca_snapshot_filter *flt, int code)
{
	const arca_snapshot *out = (const arca_snapshot *)1;
	int rc = arca_snapshot_select(&f->l, sel, flt, &out);
	if (rc != code)
		fail_msg("select '%s': got %d, want %d", sel, rc, code);
	assert_null(out);
}

static void test_select(void **state)
{
	sel_fx *f = *state;
	arca_snapshot_filter h1 = { .host = "h1" }, daily = { .tag = "daily" };
	char sel[80], hex[65];

	sel_is(f, "latest", NULL, 3);
	sel_is(f, "latest", &h1, 2);
	sel_is(f, "latest:daily", NULL, 2);
	sel_is(f, "latest:weekly", NULL, 3);
	sel_fails(f, "latest:weekly", &h1, ARCA_NOTFOUND);
	sel_fails(f, "latest:nope", NULL, ARCA_NOTFOUND);

	/* @TIME: the newest at or before TIME */
	sel[0] = '@';
	arca_time_format(sel + 1, sizeof(sel) - 1, f->t[1]);
	sel_is(f, sel, NULL, 1);
	arca_time_format(sel + 1, sizeof(sel) - 1, f->t[1] + 500 * ARCA_NS_PER_SEC);
	sel_is(f, sel, NULL, 1);
	arca_time_format(sel + 1, sizeof(sel) - 1, f->t[2] - 1);
	sel_is(f, sel, NULL, 1);
	arca_time_format(sel + 1, sizeof(sel) - 1, f->t[3] + 86400 * ARCA_NS_PER_SEC);
	sel_is(f, sel, NULL, 3);
	sel_is(f, sel, &h1, 2);
	arca_time_format(sel + 1, sizeof(sel) - 1, f->t[0] - 1);
	sel_fails(f, sel, NULL, ARCA_NOTFOUND);
	sel_fails(f, "@yesterday", NULL, ARCA_INVAL);
	sel_fails(f, "@", NULL, ARCA_INVAL);

	/* ids and prefixes */
	sel_is(f, "bb", NULL, 2);
	sel_is(f, "aa1", NULL, 0);
	sel_is(f, "aa22", NULL, 1);
	sel_is(f, "c", NULL, 3);
	arca_id_hex(hex, &f->s[3]->id);
	sel_is(f, hex, NULL, 3);
	sel_fails(f, "aa", NULL, ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "ambiguous"));
	sel_is(f, "aa", &daily, 1); /* a filter can make a prefix unique */
	sel_fails(f, "dd", NULL, ARCA_NOTFOUND);
	sel_fails(f, "cc", &h1, ARCA_NOTFOUND); /* the only match is filtered out */
	/* not a selector at all */
	sel_fails(f, "", NULL, ARCA_INVAL);
	sel_fails(f, "xyz", NULL, ARCA_INVAL);
	sel_fails(f, "aa 11", NULL, ARCA_INVAL);
	sel_fails(f, "lates", NULL, ARCA_INVAL);
	{
		char long_hex[70];
		memcpy(long_hex, hex, 64);
		strcpy(long_hex + 64, "0");
		sel_fails(f, long_hex, NULL, ARCA_INVAL);
	}
	/* an empty list */
	{
		arca_snapshot_list empty = { 0 };
		const arca_snapshot *out;
		assert_int_equal(arca_snapshot_select(&empty, "latest", NULL, &out), ARCA_NOTFOUND);
		assert_int_equal(arca_snapshot_select(&empty, "ab", NULL, &out), ARCA_NOTFOUND);
	}
}

static void test_matches(void **state)
{
	sel_fx *f = *state;
	arca_snapshot_filter flt;
	const arca_snapshot *s1 = f->s[1], *s2 = f->s[2];
	assert_true(arca_snapshot_matches(s1, NULL));
	memset(&flt, 0, sizeof(flt));
	assert_true(arca_snapshot_matches(s1, &flt));
	flt.host = "h1";
	assert_true(arca_snapshot_matches(s1, &flt));
	flt.host = "h2";
	assert_false(arca_snapshot_matches(s1, &flt));
	flt.host = "h";
	assert_false(arca_snapshot_matches(s1, &flt)); /* exact, not prefix */
	memset(&flt, 0, sizeof(flt));
	flt.tag = "keep";
	assert_false(arca_snapshot_matches(s1, &flt));
	assert_true(arca_snapshot_matches(s2, &flt));
	flt.tag = "daily";
	assert_true(arca_snapshot_matches(s1, &flt));
	assert_false(arca_snapshot_matches(f->s[0], &flt)); /* type daily is not tag daily */
	memset(&flt, 0, sizeof(flt));
	flt.type = "daily";
	assert_true(arca_snapshot_matches(f->s[0], &flt));
	assert_false(arca_snapshot_matches(s1, &flt));
	memset(&flt, 0, sizeof(flt));
	flt.path = "/etc";
	assert_true(arca_snapshot_matches(s2, &flt));
	assert_false(arca_snapshot_matches(s1, &flt));
	flt.path = "/et";
	assert_false(arca_snapshot_matches(s2, &flt));
	memset(&flt, 0, sizeof(flt));
	flt.since_ns = f->t[1];
	flt.until_ns = f->t[2];
	assert_false(arca_snapshot_matches(f->s[0], &flt));
	assert_true(arca_snapshot_matches(s1, &flt)); /* bounds are inclusive */
	assert_true(arca_snapshot_matches(s2, &flt));
	assert_false(arca_snapshot_matches(f->s[3], &flt));
	/* all conditions must hold */
	flt.host = "h1";
	flt.tag = "keep";
	assert_false(arca_snapshot_matches(s1, &flt));
	assert_true(arca_snapshot_matches(s2, &flt));
}

/* ---- end to end ---- */

typedef struct e2e {
	char dir[64];
	char src[128], dst[128], repo[128], cache[128];
} e2e;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void put_file(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *fp;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "wb");
	assert_non_null(fp);
	if (n)
		assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static void assert_same_file(const char *a, const char *b)
{
	arca_buf x = ARCA_BUF_INIT, y = ARCA_BUF_INIT;
	char tmp[8192];
	size_t n;
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	if (!fa || !fb)
		fail_msg("cannot open %s or %s", a, b);
	while ((n = fread(tmp, 1, sizeof(tmp), fa)) > 0)
		arca_buf_put(&x, tmp, n);
	while ((n = fread(tmp, 1, sizeof(tmp), fb)) > 0)
		arca_buf_put(&y, tmp, n);
	fclose(fa);
	fclose(fb);
	if (x.len != y.len || (x.len && memcmp(x.data, y.data, x.len)))
		fail_msg("%s (%zu bytes) differs from %s (%zu bytes)", b, y.len, a, x.len);
	arca_buf_free(&x);
	arca_buf_free(&y);
}

typedef struct diff_log {
	arca_buf lines;
} diff_log;

static int on_diff(arca_diff_kind kind, const char *path, const arca_node *a, const arca_node *b,
		   void *payload)
{
	diff_log *d = payload;
	arca_buf_printf(&d->lines, "%c %s\n", (char)kind, path);
	return 0;
}

static int e2e_setup(void **state)
{
	e2e *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/arca-snap-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->src, sizeof(f->src), "%s/src", f->dir);
	snprintf(f->dst, sizeof(f->dst), "%s/dst", f->dir);
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	*state = f;
	return 0;
}

static int e2e_teardown(void **state)
{
	e2e *f = *state;
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static void test_backup_restore_check_diff(void **state)
{
	e2e f = *(e2e *)*state;
	static uint8_t big[300000];
	char restored[512], orig[512], link[256], rel[256];
	const char *paths[1];
	arca_repo_init_opts io = ARCA_REPO_INIT_OPTS_INIT;
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	arca_backup_opts bo = ARCA_BACKUP_OPTS_INIT;
	arca_restore_opts ro = ARCA_RESTORE_OPTS_INIT;
	arca_check_opts co = { 1, true, 1.0, NULL, NULL, NULL, NULL };
	arca_backup_result b1, b2;
	arca_restore_result rr;
	arca_check_result cr;
	arca_diff_result dr;
	arca_snapshot *s1 = NULL, *s2 = NULL;
	arca_repo *r = NULL;
	diff_log dl = { ARCA_BUF_INIT };
	struct stat st;
	uint64_t x = 12345;
	size_t i;
	static const char *names[] = { "a.txt", "big.bin", "empty", "sub/c.txt", "sub/deeper/d.txt" };

	assert_int_equal(mkdir(f.src, 0755), 0);
	snprintf(orig, sizeof(orig), "%s/sub", f.src);
	assert_int_equal(mkdir(orig, 0750), 0);
	snprintf(orig, sizeof(orig), "%s/sub/deeper", f.src);
	assert_int_equal(mkdir(orig, 0700), 0);
	for (i = 0; i < sizeof(big); i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		big[i] = (uint8_t)(i < sizeof(big) / 2 ? x : i % 251);
	}
	put_file(f.src, "a.txt", "first version\n", 14);
	put_file(f.src, "big.bin", big, sizeof(big));
	put_file(f.src, "empty", "", 0);
	put_file(f.src, "sub/c.txt", "see\n", 4);
	put_file(f.src, "sub/deeper/d.txt", big + 1000, 5000);
	snprintf(orig, sizeof(orig), "%s/a.txt", f.src);
	assert_int_equal(chmod(orig, 0640), 0);
	snprintf(orig, sizeof(orig), "%s/link", f.src);
	assert_int_equal(symlink("sub/c.txt", orig), 0);

	io.kdf_t = 1;
	io.kdf_m_kib = 8192;
	io.chunker.min = 16 * 1024; /* several chunks for big.bin */
	io.chunker.avg = 32 * 1024;
	io.chunker.max = 128 * 1024;
	oo.cache_dir = f.cache;
	if (arca_repo_init(&r, f.repo, "secret", &io, &oo))
		fail_msg("init: %s", arca_error_message());
	assert_int_equal(arca_repo_lock(r, false), 0);

	paths[0] = f.src;
	bo.paths = paths;
	bo.npaths = 1;
	bo.threads = 2;
	if (arca_backup(r, &bo, &b1))
		fail_msg("backup: %s", arca_error_message());
	assert_false(b1.has_parent);
	assert_int_equal(b1.stats.files_new, 5);
	assert_true(b1.stats.bytes_total == 14 + sizeof(big) + 4 + 5000);
	assert_int_equal(arca_snapshot_load(r, &b1.snapshot_id, &s1), 0);
	assert_memory_equal(s1->id.b, b1.snapshot_id.b, ARCA_ID_LEN);
	assert_int_equal(s1->npaths, 1);
	assert_string_equal(s1->paths[0], f.src);

	/* restore elsewhere: the same bytes come back under target + path */
	ro.target = f.dst;
	ro.threads = 2;
	ro.verify = true;
	if (arca_restore(r, s1, &ro, &rr))
		fail_msg("restore: %s", arca_error_message());
	assert_int_equal(rr.errors, 0);
	assert_int_equal(rr.files, 5);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(orig, sizeof(orig), "%s/%s", f.src, names[i]);
		snprintf(restored, sizeof(restored), "%s%s/%s", f.dst, f.src, names[i]);
		assert_same_file(orig, restored);
	}
	snprintf(restored, sizeof(restored), "%s%s/a.txt", f.dst, f.src);
	assert_int_equal(stat(restored, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0640);
	snprintf(restored, sizeof(restored), "%s%s/sub/deeper", f.dst, f.src);
	assert_int_equal(stat(restored, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0700);
	snprintf(restored, sizeof(restored), "%s%s/link", f.dst, f.src);
	memset(link, 0, sizeof(link));
	assert_int_equal(readlink(restored, link, sizeof(link) - 1), 9);
	assert_string_equal(link, "sub/c.txt");

	/* second backup: one file changed, one added, one removed */
	put_file(f.src, "a.txt", "second version, longer\n", 23);
	put_file(f.src, "new.txt", "new\n", 4);
	snprintf(orig, sizeof(orig), "%s/sub/c.txt", f.src);
	assert_int_equal(unlink(orig), 0);
	if (arca_backup(r, &bo, &b2))
		fail_msg("backup 2: %s", arca_error_message());
	assert_true(b2.has_parent);
	assert_memory_equal(b2.parent.b, b1.snapshot_id.b, ARCA_ID_LEN);
	assert_int_equal(b2.stats.files_new, 1);
	assert_int_equal(b2.stats.files_changed, 1);
	assert_int_equal(b2.stats.files_unmodified, 3);
	assert_int_equal(arca_snapshot_load(r, &b2.snapshot_id, &s2), 0);

	if (arca_diff(r, s1, s2, on_diff, &dl, &dr))
		fail_msg("diff: %s", arca_error_message());
	assert_int_equal(arca_buf_cstr(&dl.lines), 0);
	assert_int_equal(dr.changed, 1);
	assert_int_equal(dr.added, 1);
	assert_int_equal(dr.removed, 1);
	snprintf(rel, sizeof(rel), "M %s/a.txt\n", f.src);
	if (!strstr((char *)dl.lines.data, rel))
		fail_msg("diff did not report %s in:\n%s", rel, (char *)dl.lines.data);
	snprintf(rel, sizeof(rel), "+ %s/new.txt\n", f.src);
	assert_non_null(strstr((char *)dl.lines.data, rel));
	snprintf(rel, sizeof(rel), "- %s/sub/c.txt\n", f.src);
	assert_non_null(strstr((char *)dl.lines.data, rel));
	/* nothing else: unchanged files and directories are not reported */
	{
		size_t lines = 0;
		for (char *p = (char *)dl.lines.data; *p; p++)
			lines += *p == '\n';
		assert_int_equal(lines, 3);
	}
	/* a snapshot compared with itself has no differences */
	arca_buf_clear(&dl.lines);
	assert_int_equal(arca_diff(r, s2, s2, on_diff, &dl, &dr), 0);
	assert_int_equal(dr.changed + dr.added + dr.removed, 0);
	assert_int_equal(dl.lines.len, 0);

	/* check reads every pack and finds nothing wrong */
	assert_int_equal(arca_check(r, &co, &cr), 0);
	assert_int_equal(cr.errors, 0);
	assert_int_equal(cr.snapshots, 2);
	assert_true(cr.packs >= 2); /* data and trees */
	assert_int_equal(cr.packs_read, cr.packs);
	assert_int_equal(cr.damaged_packs, 0);

	/* a flipped byte in a data pack is found by check --read-data */
	{
		arca_node node;
		arca_repo_reader *rd = NULL;
		arca_index_loc loc;
		char key[80], path[400];
		int fd;
		uint8_t c;
		snprintf(rel, sizeof(rel), "%s/big.bin", f.src);
		assert_int_equal(arca_repo_reader_new(&rd, r), 0);
		assert_int_equal(arca_lookup_path(rd, &s2->tree, rel, &node), 0);
		assert_true(node.nchunks >= 2);
		assert_int_equal(arca_repo_blob_lookup(r, &node.chunks[0], &loc), 0);
		arca_repo_pack_key(key, &loc.pack);
		snprintf(path, sizeof(path), "%s/%s", f.repo, key);
		chmod(path, 0600);
		fd = open(path, O_RDWR);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, &c, 1, (off_t)loc.offset + 40), 1);
		c ^= 1;
		assert_int_equal(pwrite(fd, &c, 1, (off_t)loc.offset + 40), 1);
		close(fd);
		assert_int_equal(arca_check(r, &co, &cr), 0);
		assert_true(cr.errors >= 1);
		assert_true(cr.damaged_packs >= 1);
		arca_node_clear(&node);
		arca_repo_reader_free(rd);
	}

	arca_snapshot_free(s1);
	arca_snapshot_free(s2);
	arca_buf_free(&dl.lines);
	assert_int_equal(arca_repo_unlock(r), 0);
	arca_repo_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_roundtrip),
		cmocka_unit_test(test_tree_empty_and_minimal),
		cmocka_unit_test(test_tree_encode_duplicates),
		cmocka_unit_test(test_tree_decode_hostile),
		cmocka_unit_test(test_name_is_safe),
		cmocka_unit_test(test_tree_find),
		cmocka_unit_test(test_snapshot_roundtrip),
		cmocka_unit_test(test_snapshot_decode_fields),
		cmocka_unit_test(test_snapshot_format_bytes),
		cmocka_unit_test_setup_teardown(test_select, sel_setup, sel_teardown),
		cmocka_unit_test_setup_teardown(test_matches, sel_setup, sel_teardown),
		cmocka_unit_test_setup_teardown(test_backup_restore_check_diff, e2e_setup, e2e_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
