/*
 * fuzz/gen_corpus.c - writes the seed corpora fuzz/corpus/<target>/ with
 * the library's own encoders, so every fuzzer starts from real formats:
 * valid inputs for each cipher and variant, plus a few truncated or
 * mutated ones.  Built and run by fuzz/gen-corpus.sh:
 *
 *   gen_corpus OUTDIR REPODIR...
 *
 * OUTDIR is the corpus root (one directory per target is created).  Each
 * REPODIR is a repository made by `arca init`: its config and key files
 * seed the config and keyfile corpora.  Encrypted seeds use fuzz_key()
 * from fuzz_common.h.  Sealing draws random nonces, so encrypted seeds
 * differ from run to run; the rest is deterministic.
 */
#include "fuzz_common.h"
#include "arca/snapshot.h"
#include "repo/repo_internal.h"
#include "util/enc.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define SEED_MAX (64 * 1024)
#define PACK_SEL_ONE_BLOB 0x40 /* fuzz_pack_trailer.c: one blob, not a pack */

static const char *g_root;
static int g_count;

static void die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s: %s\n", what, arca_error_message());
	exit(1);
}

static void put(const char *target, const char *name, const void *p, size_t n)
{
	char dir[4096], path[4096 + 256];
	FILE *f;

	if (n > SEED_MAX) {
		fprintf(stderr, "gen_corpus: seed %s/%s is %zu bytes, above %d\n", target, name, n,
			SEED_MAX);
		exit(1);
	}
	snprintf(dir, sizeof(dir), "%s/%s", g_root, target);
	if (mkdir(dir, 0755) && errno != EEXIST) {
		perror(dir);
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(f = fopen(path, "wb")) || (n && fwrite(p, 1, n, f) != n) || fclose(f)) {
		perror(path);
		exit(1);
	}
	g_count++;
}

/* sel byte then body */
static void put_sel(const char *target, const char *name, uint8_t sel, const void *p, size_t n)
{
	arca_buf b = ARCA_BUF_INIT;
	if (arca_enc_u8(&b, sel) || arca_buf_put(&b, p, n))
		die("out of memory");
	put(target, name, b.data, b.len);
	arca_buf_free(&b);
}

/* Deterministic filler: compressible text or xorshift noise. */
static void fill_text(uint8_t *p, size_t n, unsigned salt)
{
	static const char words[] = "the quick brown fox jumps over the lazy dog ";
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)words[(i + salt) % (sizeof(words) - 1)];
}

static void fill_noise(uint8_t *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)x;
	}
}

static const char *cipher_tag(unsigned id)
{
	return id == ARCA_CIPHER_NONE ? "none" : id == ARCA_CIPHER_XCHACHA20_POLY1305 ? "xchacha" : "aes";
}

/* ---- packs and blobs ---- */

static int build_pack(const arca_blob_codec *c, arca_zctx *z, unsigned nblobs, arca_buf *pack,
		      arca_blob_entry *es_out, size_t *n_out, arca_id *pack_id)
{
	static uint8_t text[12000], noise[3000];
	arca_pack_writer *w = NULL;
	const arca_buf *bytes;
	const arca_blob_entry *es;
	size_t n;

	fill_text(text, sizeof(text), 3);
	fill_noise(noise, sizeof(noise), 0x5eed);
	if (arca_pack_writer_new(&w, c))
		return -1;
	for (unsigned i = 0; i < nblobs; i++) {
		arca_id id;
		const uint8_t *raw = i % 2 ? noise : text;
		size_t len = (i % 2 ? sizeof(noise) : sizeof(text)) - 97 * i;
		arca_sha256(&id, raw, len);
		if (arca_pack_writer_add(w, z, i == 2 ? ARCA_BLOB_TREE : ARCA_BLOB_DATA, &id, raw, len))
			goto fail;
	}
	if (arca_pack_writer_finish(w, z, pack_id, &bytes, &es, &n))
		goto fail;
	pack->len = 0;
	if (arca_buf_put(pack, bytes->data, bytes->len))
		goto fail;
	if (es_out)
		memcpy(es_out, es, n * sizeof(*es));
	if (n_out)
		*n_out = n;
	arca_pack_writer_free(w);
	return 0;
fail:
	arca_pack_writer_free(w);
	return -1;
}

/* pack (sealed with c) -> the same pack with its trailer in plaintext and
 * the footer giving the plaintext length: a FUZZ_SEL_SEAL input. */
static void plain_trailer(const arca_blob_codec *c, const arca_buf *pack, arca_buf *out)
{
	uint8_t footer[ARCA_PACK_FOOTER_LEN];
	uint32_t tlen;
	size_t blob_end, mark;

	memcpy(footer, pack->data + pack->len - ARCA_PACK_FOOTER_LEN, sizeof(footer));
	if (arca_pack_footer_parse(footer, pack->len, &tlen))
		die("reading a pack footer");
	blob_end = pack->len - ARCA_PACK_FOOTER_LEN - tlen;
	out->len = 0;
	if (arca_buf_put(out, pack->data, blob_end))
		die("out of memory");
	mark = out->len;
	if (arca_open(c->cipher, c->key, out, pack->data + blob_end, tlen, FUZZ_PACK_TRAILER_AD,
		      sizeof(FUZZ_PACK_TRAILER_AD) - 1))
		die("opening a pack trailer");
	arca_put_le32(footer, (uint32_t)(out->len - mark));
	if (arca_buf_put(out, footer, sizeof(footer)))
		die("out of memory");
}

static void gen_pack_trailer(arca_zctx *z)
{
	arca_buf pack = ARCA_BUF_INIT, b = ARCA_BUF_INIT;
	arca_blob_entry es[8];
	arca_id pid, id;
	char name[64];
	uint8_t text[5000], flags;
	size_t n;

	for (unsigned cid = 0; cid <= ARCA_CIPHER_AES256_GCM; cid++) {
		arca_blob_codec c;
		const char *ct = cipher_tag(cid);
		fuzz_codec(&c, (uint8_t)cid);

		if (build_pack(&c, z, 3, &pack, es, &n, &pid))
			die("building a pack");
		snprintf(name, sizeof(name), "pack-%s-3blobs", ct);
		put_sel("pack_trailer", name, (uint8_t)cid, pack.data, pack.len);
		if (cid == ARCA_CIPHER_NONE) {
			put_sel("pack_trailer", "pack-none-3blobs-nozctx", (uint8_t)(cid | FUZZ_SEL_NO_ZCTX),
				pack.data, pack.len);
			put_sel("pack_trailer", "trunc-pack-none-lastbyte", (uint8_t)cid, pack.data,
				pack.len - 1);
			put_sel("pack_trailer", "trunc-pack-none-footer-only", (uint8_t)cid,
				pack.data + pack.len - ARCA_PACK_FOOTER_LEN, ARCA_PACK_FOOTER_LEN);
			/* the stored bytes of the first blob changed: the trailer parses,
			 * the blob does not decompress */
			pack.data[es[0].offset + 7] ^= 0x20;
			put_sel("pack_trailer", "mut-pack-none-blob0", (uint8_t)cid, pack.data, pack.len);
		}
		if (cid != ARCA_CIPHER_NONE) {
			snprintf(name, sizeof(name), "seal-pack-%s-3blobs", ct);
			plain_trailer(&c, &pack, &b);
			put_sel("pack_trailer", name, (uint8_t)(cid | FUZZ_SEL_SEAL), b.data, b.len);
		}
		if (cid == ARCA_CIPHER_XCHACHA20_POLY1305) {
			/* a flipped bit in the sealed trailer: authentication fails */
			pack.data[pack.len - ARCA_PACK_FOOTER_LEN - 5] ^= 0x01;
			put_sel("pack_trailer", "mut-pack-xchacha-trailer", (uint8_t)cid, pack.data,
				pack.len);
		}

		if (build_pack(&c, z, 0, &pack, NULL, NULL, &pid))
			die("building an empty pack");
		snprintf(name, sizeof(name), "pack-%s-empty", ct);
		put_sel("pack_trailer", name, (uint8_t)cid, pack.data, pack.len);

		/* single sealed blobs: u8 flags | u32 raw_len | id | stored */
		for (int compressible = 0; compressible < 2; compressible++) {
			size_t rl = compressible ? sizeof(text) : 700;
			if (compressible)
				fill_text(text, rl, 11);
			else
				fill_noise(text, rl, 77);
			arca_sha256(&id, text, rl);
			b.len = 0;
			if (arca_enc_u8(&b, 0) || arca_enc_u32(&b, (uint32_t)rl) ||
			    arca_buf_put(&b, id.b, ARCA_ID_LEN) ||
			    arca_blob_seal(&c, z, &b, &id, text, rl, &flags))
				die("sealing a blob");
			b.data[0] = flags;
			snprintf(name, sizeof(name), "blob-%s-%s", ct, compressible ? "zstd" : "raw");
			put_sel("pack_trailer", name, (uint8_t)(cid | PACK_SEL_ONE_BLOB), b.data, b.len);
			if (cid != ARCA_CIPHER_NONE) {
				/* the payload only (sealed with none), for seal-first */
				arca_blob_codec plain;
				fuzz_codec(&plain, 0);
				b.len = 1 + 4 + ARCA_ID_LEN;
				if (arca_blob_seal(&plain, z, &b, &id, text, rl, &flags))
					die("sealing a blob");
				b.data[0] = flags;
				snprintf(name, sizeof(name), "seal-blob-%s-%s", ct, compressible ? "zstd" : "raw");
				put_sel("pack_trailer", name, (uint8_t)(cid | PACK_SEL_ONE_BLOB | FUZZ_SEL_SEAL),
					b.data, b.len);
			}
			if (compressible && cid == ARCA_CIPHER_NONE) {
				b.data[1 + 4 + ARCA_ID_LEN + 10] ^= 0xff; /* inside the zstd frame */
				put_sel("pack_trailer", "mut-blob-none-zstd",
					(uint8_t)(cid | PACK_SEL_ONE_BLOB | FUZZ_SEL_NO_ZCTX), b.data, b.len);
			}
		}
	}
	/* an empty trailer (version 1, count 0) and a footer with a bad magic */
	put_sel("pack_trailer", "bad-magic", 0, "\x01\0" "\x02\0\0\0\x01\0\0\0ARCAPACX", 18);
	arca_buf_free(&pack);
	arca_buf_free(&b);
}

/* ---- index files ---- */

static void gen_index_file(arca_zctx *z)
{
	arca_buf pack = ARCA_BUF_INIT, out = ARCA_BUF_INIT;
	arca_blob_entry es[8], es2[8];
	arca_idx_pack packs[2];
	arca_id sup[2];
	arca_idx_file f;
	char name[64];
	size_t n, n2;

	for (unsigned cid = 0; cid <= ARCA_CIPHER_AES256_GCM; cid++) {
		arca_blob_codec c;
		const char *ct = cipher_tag(cid);
		fuzz_codec(&c, (uint8_t)cid);
		if (build_pack(&c, z, 3, &pack, es, &n, &packs[0].pack_id) ||
		    build_pack(&c, z, 2, &pack, es2, &n2, &packs[1].pack_id))
			die("building packs");
		packs[0].entries = es;
		packs[0].n = n;
		packs[1].entries = es2;
		packs[1].n = n2;
		arca_sha256(&sup[0], "old index 1", 11);
		arca_sha256(&sup[1], "old index 2", 11);
		memset(&f, 0, sizeof(f));
		f.packs = packs;
		f.npacks = 2;
		f.supersedes = sup;
		f.nsupersedes = 2;

		out.len = 0;
		if (arca_idx_file_encode(&c, z, &out, &f))
			die("encoding an index file");
		snprintf(name, sizeof(name), "index-%s-2packs", ct);
		put_sel("index_file", name, (uint8_t)cid, out.data, out.len);
		if (cid == ARCA_CIPHER_NONE) {
			put_sel("index_file", "index-none-2packs-nozctx", (uint8_t)(cid | FUZZ_SEL_NO_ZCTX),
				out.data, out.len);
			put_sel("index_file", "trunc-index-none", (uint8_t)cid, out.data, out.len / 2);
			/* not compressed (no zstd context when sealing) */
			out.len = 0;
			if (arca_idx_file_encode(&c, NULL, &out, &f))
				die("encoding an index file");
			put_sel("index_file", "index-none-2packs-plain", (uint8_t)cid, out.data, out.len);
			out.data[out.len - 65] ^= 0x01; /* nsupersedes 2 -> 3: more than the bytes left */
			put_sel("index_file", "mut-index-none-plain", (uint8_t)cid, out.data, out.len);
		} else {
			arca_blob_codec plain;
			fuzz_codec(&plain, 0);
			out.len = 0;
			if (arca_idx_file_encode(&plain, z, &out, &f))
				die("encoding an index file");
			snprintf(name, sizeof(name), "seal-index-%s-2packs", ct);
			put_sel("index_file", name, (uint8_t)(cid | FUZZ_SEL_SEAL), out.data, out.len);
			if (cid == ARCA_CIPHER_XCHACHA20_POLY1305) {
				out.len = 0;
				if (arca_idx_file_encode(&c, z, &out, &f))
					die("encoding an index file");
				put_sel("index_file", "trunc-index-xchacha", (uint8_t)cid, out.data, out.len - 1);
			}
		}

		f.npacks = 0;
		f.nsupersedes = 0;
		out.len = 0;
		if (arca_idx_file_encode(&c, z, &out, &f))
			die("encoding an index file");
		snprintf(name, sizeof(name), "index-%s-empty", ct);
		put_sel("index_file", name, (uint8_t)cid, out.data, out.len);
	}
	arca_buf_free(&pack);
	arca_buf_free(&out);
}

/* ---- trees ---- */

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d)
		die("out of memory");
	return d;
}

static void add_node(arca_tree *t, const char *name, uint8_t kind, unsigned salt)
{
	arca_node n;
	memset(&n, 0, sizeof(n));
	n.name = xstrdup(name);
	n.kind = kind;
	n.mode = kind == ARCA_NODE_DIR ? 0755 : (salt & 1) ? 04755 : 0644;
	n.uid = 1000 + salt;
	n.gid = salt ? 100 : 0;
	n.user = xstrdup(salt ? "alice" : "root");
	n.group = xstrdup(salt ? "users" : "");
	n.mtime_ns = 1700000000123456789LL + salt;
	n.ctime_ns = salt == 3 ? -5 : 1700000001000000000LL; /* a pre-1970 time */
	n.inode = 4242 + salt;
	n.dev = 0x803;
	n.nlink = kind == ARCA_NODE_DIR ? 2 : 1;
	switch (kind) {
	case ARCA_NODE_FILE:
		n.size = 3u << 20;
		n.nchunks = salt % 4;
		if (n.nchunks && !(n.chunks = calloc(n.nchunks, sizeof(arca_id))))
			die("out of memory");
		for (size_t i = 0; i < n.nchunks; i++)
			arca_sha256(&n.chunks[i], &i, sizeof(i));
		break;
	case ARCA_NODE_DIR: arca_sha256(&n.subtree, name, strlen(name)); break;
	case ARCA_NODE_SYMLINK: n.link_target = xstrdup(salt ? "../target/file" : ""); break;
	case ARCA_NODE_CHARDEV:
	case ARCA_NODE_BLOCKDEV: n.rdev = (8u << 8) | salt; break;
	default: break;
	}
	if (arca_tree_add(t, &n))
		die("building a tree");
}

static void put_tree(arca_tree *t, const char *name, arca_buf *out)
{
	out->len = 0;
	if (arca_tree_encode(t, out))
		die("encoding a tree");
	put("tree", name, out->data, out->len);
}

static void gen_tree(void)
{
	arca_tree t;
	arca_buf out = ARCA_BUF_INIT;

	memset(&t, 0, sizeof(t));
	put_tree(&t, "tree-empty", &out);

	add_node(&t, "file.txt", ARCA_NODE_FILE, 1);
	put_tree(&t, "tree-one-file", &out);

	add_node(&t, "dir", ARCA_NODE_DIR, 0);
	add_node(&t, "link", ARCA_NODE_SYMLINK, 2);
	add_node(&t, "tty0", ARCA_NODE_CHARDEV, 4);
	add_node(&t, "sda", ARCA_NODE_BLOCKDEV, 5);
	add_node(&t, "fifo", ARCA_NODE_FIFO, 6);
	add_node(&t, "sock", ARCA_NODE_SOCKET, 7);
	add_node(&t, "big file", ARCA_NODE_FILE, 3);
	add_node(&t, "\xc3\xa9t\xc3\xa9", ARCA_NODE_FILE, 0); /* UTF-8 name */
	add_node(&t, ".hidden", ARCA_NODE_FILE, 2);
	add_node(&t, "...", ARCA_NODE_SYMLINK, 0);
	put_tree(&t, "tree-all-kinds", &out);

	put("tree", "trunc-tree-all-kinds", out.data, out.len - 3);
	put("tree", "trunc-tree-half", out.data, out.len / 2);
	/* one byte too many */
	if (arca_enc_u8(&out, 0))
		die("out of memory");
	put("tree", "mut-tree-trailing", out.data, out.len);
	arca_tree_clear(&t);

	/* the smallest entry: a fifo with a 1-byte name and every field 0
	 * (15 bytes; the decoder once assumed at least 16) */
	{
		arca_node n;
		memset(&t, 0, sizeof(t));
		memset(&n, 0, sizeof(n));
		n.name = xstrdup("p");
		n.kind = ARCA_NODE_FIFO;
		n.user = xstrdup("");
		n.group = xstrdup("");
		if (arca_tree_add(&t, &n))
			die("building a tree");
		put_tree(&t, "tree-smallest-entry", &out);
		arca_tree_clear(&t);
	}

	/* one symlink called "..": must be refused */
	memset(&t, 0, sizeof(t));
	add_node(&t, "..", ARCA_NODE_SYMLINK, 1);
	put_tree(&t, "bad-tree-dotdot", &out);
	out.data[3] = '/'; /* the name (after version, count, length 2) is now "/." */
	put("tree", "bad-tree-slash", out.data, out.len);
	arca_tree_clear(&t);
	arca_buf_free(&out);
}

/* ---- snapshots ---- */

static void gen_snapshot(void)
{
	char host[] = "db1.example.org", user[] = "postgres", type[] = "daily";
	char prog[] = "arca 0.1.0", p1[] = "/var/lib/postgresql", p2[] = "/etc";
	char t1[] = "pg", t2[] = "nightly", k1[] = "cluster", v1[] = "main", k2[] = "server_version";
	char v2[] = "16.2", k3[] = "", v3[] = "";
	char *paths[] = { p1, p2 }, *tags[] = { t1, t2 };
	arca_kv meta[] = { { k1, v1 }, { k3, v3 } }, source[] = { { k2, v2 } };
	arca_snapshot s;
	arca_buf out = ARCA_BUF_INIT;

	memset(&s, 0, sizeof(s));
	s.time_ns = 1700000000123456789LL;
	arca_sha256(&s.tree, "root", 4);
	if (arca_snapshot_encode(&s, &out))
		die("encoding a snapshot");
	put("snapshot", "snap-minimal", out.data, out.len);

	s.host = host;
	s.user = user;
	s.uid = 26;
	s.gid = 26;
	s.paths = paths;
	s.npaths = 2;
	s.tags = tags;
	s.ntags = 2;
	s.type = type;
	s.has_parent = true;
	arca_sha256(&s.parent, "parent", 6);
	s.expires_ns = 1800000000000000000LL;
	s.meta = meta;
	s.nmeta = 2;
	s.source = source;
	s.nsource = 1;
	s.program = prog;
	s.stats = (arca_snapshot_stats){ 10, 2, 1000, 40, 1u << 30, 5u << 20, 12, 6u << 20,
					 2u << 20, 3456, 1 };
	out.len = 0;
	if (arca_snapshot_encode(&s, &out))
		die("encoding a snapshot");
	put("snapshot", "snap-full", out.data, out.len);
	put("snapshot", "trunc-snap-full", out.data, out.len - 1);
	/* a field from a later version: skipped by this reader */
	if (arca_enc_varint(&out, 99) || arca_enc_bytes(&out, "future", 6))
		die("out of memory");
	put("snapshot", "snap-full-unknown-field", out.data, out.len);

	/* a time before 1970 is allowed */
	s.time_ns = -1;
	out.len = 0;
	if (arca_snapshot_encode(&s, &out))
		die("encoding a snapshot");
	put("snapshot", "snap-negative-time", out.data, out.len);
	put("snapshot", "bad-snap-version", "\x02\x01\x01\x00", 4);
	arca_buf_free(&out);
}

static void gen_policy(void)
{
	char host[] = "db1.example.org", tag[] = "pg", path[] = "/var/lib/postgresql", kt1[] = "keep,forever";
	char kt2[] = "", ah[] = "ops1", au[] = "root";
	char *kt[] = { kt1, kt2 };
	arca_id sup[2];
	arca_policy p;
	arca_buf out = ARCA_BUF_INIT;

	memset(&p, 0, sizeof(p));
	p.keep.version = 1;
	p.time_ns = 1700000000123456789LL;
	p.keep.daily = 7;
	if (arca_policy_encode(&p, &out))
		die("encoding a policy");
	put("policy", "policy-minimal", out.data, out.len);

	p.host = host;
	p.tag = tag;
	p.path = path;
	p.keep.last = 3;
	p.keep.hourly = 24;
	p.keep.weekly = 4;
	p.keep.monthly = 12;
	p.keep.yearly = 10;
	p.keep.within = (arca_span){ 1, 2, 3, 4 };
	p.keep.within_daily = (arca_span){ 0, 0, 30, 0 };
	p.keep.within_yearly = (arca_span){ 5, 0, 0, 0 };
	p.keep_tag_v = kt;
	p.nkeep_tags = 2;
	arca_sha256(&sup[0], "old1", 4);
	arca_sha256(&sup[1], "old2", 4);
	p.supersedes = sup;
	p.nsupersedes = 2;
	p.author_host = ah;
	p.author_user = au;
	out.len = 0;
	if (arca_policy_encode(&p, &out))
		die("encoding a policy");
	put("policy", "policy-full", out.data, out.len);
	put("policy", "trunc-policy-full", out.data, out.len - 1);
	if (arca_enc_varint(&out, 99) || arca_enc_bytes(&out, "future", 6))
		die("out of memory");
	put("policy", "policy-full-unknown-field", out.data, out.len);

	p.removed = true;
	out.len = 0;
	if (arca_policy_encode(&p, &out))
		die("encoding a policy");
	put("policy", "policy-tombstone", out.data, out.len);
	put("policy", "bad-policy-version", "\x02\x01\x01\x00", 4);
	/* a count field with a trailing byte */
	put("policy", "bad-policy-counts", "\x01\x01\x01\x00\x05\x07\x00\x00\x07\x00\x00\x00\x09", 13);
	arca_buf_free(&out);
}

/* ---- sealed metadata objects ---- */

static void gen_object(arca_zctx *z)
{
	uint8_t text[6000], noise[300];
	arca_buf out = ARCA_BUF_INIT;
	char name[64];
	static const char *const labels[] = { ARCA_SNAPSHOT_LABEL, "arca-index-v1", "arca-fuzz-v1" };

	fill_text(text, sizeof(text), 5);
	fill_noise(noise, sizeof(noise), 99);
	for (unsigned cid = 0; cid <= ARCA_CIPHER_AES256_GCM; cid++) {
		arca_blob_codec c;
		fuzz_codec(&c, (uint8_t)cid);
		for (unsigned li = 0; li < 3; li++) {
			uint8_t sel = (uint8_t)(cid | li << 2);
			int zstd = li != 1;
			out.len = 0;
			if (arca_object_seal(&c, z, &out, labels[li], zstd ? text : noise,
					     zstd ? sizeof(text) : sizeof(noise)))
				die("sealing an object");
			snprintf(name, sizeof(name), "obj-%s-%s-%s", cipher_tag(cid), labels[li],
				 zstd ? "zstd" : "raw");
			put_sel("object", name, sel, out.data, out.len);
			if (cid == ARCA_CIPHER_NONE && zstd && li == 0) {
				put_sel("object", "obj-none-zstd-nozctx", (uint8_t)(sel | FUZZ_SEL_NO_ZCTX),
					out.data, out.len);
				put_sel("object", "trunc-obj-none-zstd", sel, out.data, out.len - 4);
			}
			if (cid != ARCA_CIPHER_NONE && li == 0) {
				arca_blob_codec plain;
				fuzz_codec(&plain, 0);
				out.len = 0;
				if (arca_object_seal(&plain, z, &out, labels[li], text, sizeof(text)))
					die("sealing an object");
				snprintf(name, sizeof(name), "seal-obj-%s-%s-zstd", cipher_tag(cid), labels[li]);
				put_sel("object", name, (uint8_t)(sel | FUZZ_SEL_SEAL), out.data, out.len);
			}
			if (cid == ARCA_CIPHER_XCHACHA20_POLY1305 && li == 1) {
				/* sealed under another label: refused */
				put_sel("object", "bad-obj-xchacha-label", (uint8_t)(cid | 0 << 2), out.data,
					out.len);
			}
		}
	}
	/* empty object, none */
	{
		arca_blob_codec c;
		fuzz_codec(&c, 0);
		out.len = 0;
		if (arca_object_seal(&c, NULL, &out, "", "", 0))
			die("sealing an object");
		put_sel("object", "obj-none-empty", 3 << 2, out.data, out.len);
	}
	arca_buf_free(&out);
}

/* ---- config and key files from real repositories ---- */

static int read_file(const char *path, arca_buf *b)
{
	FILE *f = fopen(path, "rb");
	uint8_t tmp[4096];
	size_t n;
	b->len = 0;
	if (!f)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		if (arca_buf_put(b, tmp, n)) {
			fclose(f);
			return -1;
		}
	fclose(f);
	return 0;
}

static void gen_repo_files(char **repos, int nrepos)
{
	arca_buf b = ARCA_BUF_INIT;
	char path[4096], name[128];
	int nkeys = 0;

	for (int i = 0; i < nrepos; i++) {
		DIR *d;
		struct dirent *de;

		snprintf(path, sizeof(path), "%s/config", repos[i]);
		if (read_file(path, &b) || b.len != ARCA_CONFIG_LEN) {
			fprintf(stderr, "gen_corpus: cannot read a %d-byte config at %s\n", ARCA_CONFIG_LEN, path);
			exit(1);
		}
		snprintf(name, sizeof(name), "config-%s", arca_cipher_by_id(b.data[44]) ?
			 arca_cipher_by_id(b.data[44])->name : "unknown");
		put("config", name, b.data, b.len);
		if (i == 0) {
			put("config", "trunc-config", b.data, b.len - 1);
			b.data[60] ^= 0x01; /* pack size: checksum no longer matches */
			put("config", "mut-config-checksum", b.data, b.len);
			b.data[60] ^= 0x01;
			b.data[8] = 2; /* a future format version */
			put("config", "bad-config-version", b.data, b.len);
		}

		snprintf(path, sizeof(path), "%s/keys", repos[i]);
		if (!(d = opendir(path)))
			continue; /* cipher none: no key files */
		while ((de = readdir(d))) {
			char kp[4096 + 256];
			if (de->d_name[0] == '.')
				continue;
			snprintf(kp, sizeof(kp), "%s/%s", path, de->d_name);
			if (read_file(kp, &b)) {
				perror(kp);
				exit(1);
			}
			snprintf(name, sizeof(name), "key-%d", nkeys);
			put("keyfile", name, b.data, b.len);
			if (nkeys++ == 0) {
				put("keyfile", "trunc-key", b.data, b.len - 1);
				if (arca_enc_u8(&b, 0))
					die("out of memory");
				put("keyfile", "mut-key-trailing", b.data, b.len);
				b.len--;
				b.data[20] = 0xff; /* KDF memory (u32 LE at 17) above 4 GiB: implausible */
				put("keyfile", "bad-key-kdf", b.data, b.len);
			}
		}
		closedir(d);
	}
	if (!nkeys) {
		fprintf(stderr, "gen_corpus: no key files found in the repositories given\n");
		exit(1);
	}
	arca_buf_free(&b);
}

/* ---- locks: "ARCALOCK" u8 1 | u8 exclusive | u64 time | u64 pid | host | user ---- */

static void lock_bytes(arca_buf *b, uint8_t ver, uint8_t excl, uint64_t t, uint64_t pid,
		       const char *host, const char *user)
{
	b->len = 0;
	if (arca_buf_put(b, "ARCALOCK", 8) || arca_enc_u8(b, ver) || arca_enc_u8(b, excl) ||
	    arca_enc_u64(b, t) || arca_enc_u64(b, pid) || arca_enc_str(b, host) || arca_enc_str(b, user))
		die("out of memory");
}

static void gen_lock(void)
{
	arca_buf b = ARCA_BUF_INIT;
	char longhost[256];

	lock_bytes(&b, 1, 0, 1700000000123456789ULL, 4242, "backup1.example.org", "postgres");
	put("lock", "lock-shared", b.data, b.len);
	put("lock", "trunc-lock", b.data, b.len - 2);
	lock_bytes(&b, 1, 1, 1700000000123456789ULL, 1, "h", "root");
	put("lock", "lock-exclusive", b.data, b.len);
	lock_bytes(&b, 1, 0, 0, 0, "", "");
	put("lock", "lock-empty-names", b.data, b.len);
	memset(longhost, 'h', sizeof(longhost) - 1);
	longhost[sizeof(longhost) - 1] = '\0'; /* 255: the longest accepted */
	lock_bytes(&b, 1, 1, UINT64_MAX, UINT64_MAX, longhost, "u");
	put("lock", "lock-long-host", b.data, b.len);
	lock_bytes(&b, 2, 0, 1, 2, "host", "user");
	put("lock", "bad-lock-version", b.data, b.len);
	arca_buf_free(&b);
}

/* ---- util/enc programs (see fuzz_util_enc.c: op = kind | arg << 4) ---- */

enum { OP_U8, OP_U32, OP_U64, OP_VARINT, OP_SVARINT, OP_RAW, OP_BYTES, OP_STRDUP };

static void gen_util_enc(void)
{
	arca_buf b = ARCA_BUF_INIT;
	int rc = 0;

	/* every reader once */
	rc |= arca_enc_u8(&b, OP_U8) | arca_enc_u8(&b, 0xab);
	rc |= arca_enc_u8(&b, OP_U32) | arca_enc_u32(&b, 0xdeadbeef);
	rc |= arca_enc_u8(&b, OP_U64) | arca_enc_u64(&b, 0x0123456789abcdefULL);
	rc |= arca_enc_u8(&b, OP_VARINT) | arca_enc_varint(&b, 300);
	rc |= arca_enc_u8(&b, OP_SVARINT) | arca_enc_svarint(&b, -12345);
	rc |= arca_enc_u8(&b, OP_RAW | 2 << 4) | arca_buf_put(&b, "abcdef", 6);
	rc |= arca_enc_u8(&b, OP_BYTES) | arca_enc_bytes(&b, "bytes", 5);
	rc |= arca_enc_u8(&b, OP_STRDUP | 1 << 4) | arca_enc_str(&b, "string");
	if (rc)
		die("out of memory");
	put("util_enc", "enc-all-ops", b.data, b.len);
	put("util_enc", "trunc-enc-all-ops", b.data, b.len - 3);

	/* extremes */
	b.len = 0;
	rc |= arca_enc_u8(&b, OP_VARINT) | arca_enc_varint(&b, UINT64_MAX);
	rc |= arca_enc_u8(&b, OP_VARINT) | arca_enc_varint(&b, 0);
	rc |= arca_enc_u8(&b, OP_SVARINT) | arca_enc_svarint(&b, INT64_MIN);
	rc |= arca_enc_u8(&b, OP_SVARINT) | arca_enc_svarint(&b, INT64_MAX);
	rc |= arca_enc_u8(&b, OP_BYTES) | arca_enc_bytes(&b, "", 0);
	rc |= arca_enc_u8(&b, OP_STRDUP) | arca_enc_str(&b, "");
	rc |= arca_enc_u8(&b, OP_RAW); /* raw(0) at the very end */
	if (rc)
		die("out of memory");
	put("util_enc", "enc-extremes", b.data, b.len);

	/* an 11-byte varint (more than 64 bits) and a long non-minimal one */
	put("util_enc", "bad-varint-overlong", "\x03\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 11);
	put("util_enc", "varint-nonminimal", "\x03\x80\x80\x00\x04\x81\x00", 7);
	/* a string longer than its limit and one with a NUL */
	put("util_enc", "bad-strdup-limit", "\x17\x14xxxxxxxxxxxxxxxxxxxx", 22);
	put("util_enc", "bad-strdup-nul", "\x17\x03" "a\0b", 5);
	/* a length larger than the input */
	put("util_enc", "bad-bytes-length", "\x06\xff\x01zz", 5);
	arca_buf_free(&b);
}

int main(int argc, char **argv)
{
	arca_zctx *z;

	if (argc < 3) {
		fprintf(stderr, "usage: gen_corpus OUTDIR REPODIR...\n");
		return 2;
	}
	g_root = argv[1];
	if (mkdir(g_root, 0755) && errno != EEXIST) {
		perror(g_root);
		return 1;
	}
	z = fuzz_setup();
	gen_pack_trailer(z);
	gen_index_file(z);
	gen_tree();
	gen_snapshot();
	gen_policy();
	gen_object(z);
	gen_repo_files(argv + 2, argc - 2);
	gen_lock();
	gen_util_enc();
	printf("gen_corpus: wrote %d seeds under %s\n", g_count, g_root);
	return 0;
}
