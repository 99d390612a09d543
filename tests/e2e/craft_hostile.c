/*
 * tests/e2e/craft_hostile.c - write a hostile snapshot into a repository,
 * for test_hostile.sh.
 *
 *   craft_hostile REPO OUTSIDE CASE PLACEMENT [CASE PLACEMENT]...
 *
 * prints "CASE PLACEMENT SNAPSHOT-ID" for each pair. *
 * The password comes from ARCA_PASSWORD, the cache from ARCA_CACHE_DIR.
 * CASE picks the hostile entries (see build_case); PLACEMENT "root" puts
 * them in the root tree next to ok.txt, "sub" in a directory "sub" beside
 * ok.txt, so that a careful restore still restores ok.txt.  OUTSIDE is an
 * absolute directory outside the restore target that hostile entries aim
 * at.  Trees are encoded with arca_tree_encode, which does not validate
 * names; duplicate names are spliced together by hand (the encoder refuses
 * them).  Entries meant to escape land in the target's parent directory
 * when followed, never higher: ".." chains are exactly as deep as needed.
 */
#include "arca/repo.h"
#include "arca/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static arca_repo *repo;
static arca_repo_writer *writer;
static const char *outside;
static int depth; /* how many ".." reach the target's parent */

static void die(const char *what, int rc)
{
	fprintf(stderr, "craft_hostile: %s: %s (%d)\n", what, arca_error_message(), rc);
	exit(1);
}

static void *xmalloc(size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (!p) {
		fprintf(stderr, "craft_hostile: out of memory\n");
		exit(1);
	}
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = xmalloc(strlen(s) + 1);
	memcpy(p, s, strlen(s) + 1);
	return p;
}

static arca_id save_blob(uint8_t type, const void *p, size_t n)
{
	arca_id id;
	bool added;
	int rc = arca_repo_blob_save(writer, type, p, n, &id, &added);
	if (rc)
		die("saving a blob", rc);
	return id;
}

static void node_init(arca_node *n, const char *name, uint8_t kind, uint32_t mode)
{
	memset(n, 0, sizeof(*n));
	n->name = xstrdup(name);
	n->kind = kind;
	n->mode = mode;
	n->user = xstrdup("root");
	n->group = xstrdup("root");
	n->mtime_ns = n->ctime_ns = 1600000000LL * 1000000000LL;
	n->nlink = 1;
}

static void mk_file(arca_node *n, const char *name, const char *content)
{
	node_init(n, name, ARCA_NODE_FILE, 0644);
	n->size = strlen(content);
	n->nchunks = 1;
	n->chunks = xmalloc(sizeof(arca_id));
	n->chunks[0] = save_blob(ARCA_BLOB_DATA, content, strlen(content));
}

static void mk_dir(arca_node *n, const char *name, const arca_id *sub)
{
	node_init(n, name, ARCA_NODE_DIR, 0755);
	n->subtree = *sub;
}

static void mk_symlink(arca_node *n, const char *name, const char *target)
{
	node_init(n, name, ARCA_NODE_SYMLINK, 0777);
	n->link_target = xstrdup(target);
	n->size = strlen(target);
}

static void add(arca_tree *t, arca_node *n)
{
	int rc = arca_tree_add(t, n);
	if (rc)
		die("adding a node", rc);
}

/* Encode and store t (its nodes are consumed). */
static arca_id save_tree(arca_tree *t)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_id id;
	int rc = arca_tree_encode(t, &b);
	if (rc)
		die("encoding a tree", rc);
	id = save_blob(ARCA_BLOB_TREE, b.data, b.len);
	arca_buf_free(&b);
	arca_tree_clear(t);
	return id;
}

/* A tree holding a and then b, both with the same name: the encoder
 * refuses duplicates, so encode each alone (u8 version, varint count 1,
 * entry) and splice: version, count 2, entry a, entry b. */
static arca_id save_dup_tree(arca_node *a, arca_node *b)
{
	arca_tree ta = { 0 }, tb = { 0 };
	arca_buf ea = ARCA_BUF_INIT, eb = ARCA_BUF_INIT, out = ARCA_BUF_INIT;
	uint8_t hdr[2];
	arca_id id;
	int rc;
	add(&ta, a);
	add(&tb, b);
	if ((rc = arca_tree_encode(&ta, &ea)) || (rc = arca_tree_encode(&tb, &eb)))
		die("encoding a tree", rc);
	if (ea.len < 2 || eb.len < 2 || ea.data[1] != 1 || eb.data[1] != 1)
		die("unexpected tree header", ARCA_ERROR);
	hdr[0] = ea.data[0];
	hdr[1] = 2;
	if (arca_buf_put(&out, hdr, 2) || arca_buf_put(&out, ea.data + 2, ea.len - 2) ||
	    arca_buf_put(&out, eb.data + 2, eb.len - 2))
		die("out of memory", ARCA_NOMEM);
	id = save_blob(ARCA_BLOB_TREE, out.data, out.len);
	arca_buf_free(&ea);
	arca_buf_free(&eb);
	arca_buf_free(&out);
	arca_tree_clear(&ta);
	arca_tree_clear(&tb);
	return id;
}

static arca_id tree_with_file(const char *name, const char *content)
{
	arca_tree t = { 0 };
	arca_node n;
	mk_file(&n, name, content);
	add(&t, &n);
	return save_tree(&t);
}

static char *dotdots(const char *tail)
{
	size_t n = (size_t)depth * 3 + strlen(tail) + 1;
	char *p = xmalloc(n);
	int i;
	for (i = 0; i < depth; i++)
		strcat(p, "../");
	strcat(p, tail);
	return p;
}

/* Fill t with the entries of one case.  Returns 0, or 1 for an unknown
 * case.  Cases whose tree holds duplicates return the finished tree id in
 * *dup_id instead (they cannot be built with arca_tree_add + encode). */
static int build_case(const char *c, arca_tree *t, arca_id *dup_id, bool *is_dup)
{
	arca_node n, m;
	char path[4096];
	*is_dup = false;
	if (!strcmp(c, "valid")) {
		/* the control: everything here is legitimate */
		arca_id sub = tree_with_file("inner.txt", "inner\n");
		mk_dir(&n, "dir", &sub);
		add(t, &n);
		mk_symlink(&n, "link-out", outside); /* a symlink may point anywhere */
		add(t, &n);
		mk_file(&n, "plain.txt", "plain\n");
		add(t, &n);
	} else if (!strcmp(c, "dotdot-dir")) {
		/* ".." / ... / pwned-dotdot-dir.txt, deep enough to leave the target */
		arca_id id = tree_with_file("pwned-dotdot-dir.txt", "PWNED\n");
		int i;
		for (i = 1; i < depth; i++) {
			arca_tree u = { 0 };
			mk_dir(&n, "..", &id);
			add(&u, &n);
			id = save_tree(&u);
		}
		mk_dir(&n, "..", &id);
		add(t, &n);
	} else if (!strcmp(c, "dotdot-file")) {
		char *name = dotdots("pwned-dotdot-file.txt");
		mk_file(&n, name, "PWNED\n");
		add(t, &n);
		free(name);
	} else if (!strcmp(c, "dot-dir")) {
		arca_id id = tree_with_file("pwned-dot.txt", "PWNED\n");
		mk_dir(&n, ".", &id);
		add(t, &n);
	} else if (!strcmp(c, "empty-name")) {
		mk_file(&n, "", "PWNED\n");
		add(t, &n);
	} else if (!strcmp(c, "slash-through-symlink")) {
		/* "a" -> OUTSIDE, then "a/pwned-slash.txt" resolves through it */
		mk_symlink(&n, "a", outside);
		add(t, &n);
		mk_file(&n, "a/pwned-slash.txt", "PWNED\n");
		add(t, &n);
	} else if (!strcmp(c, "slash-dir")) {
		arca_id id = tree_with_file("pwned-slash-dir.txt", "PWNED\n");
		char *name = dotdots("escape-dir");
		mk_dir(&n, name, &id);
		add(t, &n);
		free(name);
	} else if (!strcmp(c, "absolute-file")) {
		snprintf(path, sizeof(path), "%s/pwned-abs.txt", outside);
		mk_file(&n, path, "PWNED\n");
		add(t, &n);
	} else if (!strcmp(c, "absolute-dir")) {
		arca_id id = tree_with_file("pwned-absdir.txt", "PWNED\n");
		snprintf(path, sizeof(path), "%s/absdir", outside);
		mk_dir(&n, path, &id);
		add(t, &n);
	} else if (!strcmp(c, "absolute-symlink")) {
		snprintf(path, sizeof(path), "%s/pwned-abs-link", outside);
		mk_symlink(&n, path, "/etc/passwd");
		add(t, &n);
	} else if (!strcmp(c, "dup-symlink-dir")) {
		/* "evil" -> OUTSIDE, then a directory "evil" holding a file */
		arca_id id = tree_with_file("pwned-dup.txt", "PWNED\n");
		mk_symlink(&n, "evil", outside);
		mk_dir(&m, "evil", &id);
		*dup_id = save_dup_tree(&n, &m);
		*is_dup = true;
	} else if (!strcmp(c, "dup-symlink-file")) {
		/* "evil" -> OUTSIDE/victim.txt, then a file "evil" */
		snprintf(path, sizeof(path), "%s/victim.txt", outside);
		mk_symlink(&n, "evil", path);
		mk_file(&m, "evil", "PWNED\n");
		*dup_id = save_dup_tree(&n, &m);
		*is_dup = true;
	} else if (!strcmp(c, "lying-blob")) {
		/* a writer that sealed the wrong bytes under an id: liar.txt's
		 * one chunk is filed as "truth\n" and holds "lies!\n" */
		int rc;
		node_init(&n, "liar.txt", ARCA_NODE_FILE, 0644);
		n.size = 6;
		n.nchunks = 1;
		n.chunks = xmalloc(sizeof(arca_id));
		arca_repo_blob_id(repo, &n.chunks[0], "truth\n", 6);
		if ((rc = arca_repo_blob_claim(repo, &n.chunks[0])) < 0 ||
		    (rc == 1 && (rc = arca_repo_blob_store(writer, ARCA_BLOB_DATA, &n.chunks[0], "lies!\n", 6))))
			die("storing the lying blob", rc);
		add(t, &n);
	} else if (!strcmp(c, "deep")) {
		/* d/d/d/... 400 levels: deeper than PATH_MAX (with "sub/"
		 * prefixes) and, under the test's "ulimit -n 256", than the
		 * open-file limit of a restore holding a descriptor per level;
		 * it must fail cleanly or succeed, never crash */
		arca_id id = tree_with_file("bottom.txt", "bottom\n");
		int i;
		for (i = 0; i < 400; i++) {
			arca_tree u = { 0 };
			mk_dir(&n, "d", &id);
			add(&u, &n);
			id = save_tree(&u);
		}
		mk_dir(&n, "d", &id);
		add(t, &n);
	} else {
		return 1;
	}
	return 0;
}

/* Build one snapshot for (case, placement); returns its id. */
static arca_id craft_one(const char *c, const char *placement)
{
	arca_tree hostile = { 0 }, root = { 0 };
	arca_snapshot *s;
	arca_node n;
	arca_id hid, rid, sid;
	bool is_dup, in_sub = !strcmp(placement, "sub");
	int rc;

	if (strcmp(placement, "root") && strcmp(placement, "sub")) {
		fprintf(stderr, "craft_hostile: placement must be root or sub, not %s\n", placement);
		exit(2);
	}
	depth = in_sub ? 2 : 1;
	memset(&hid, 0, sizeof(hid));
	if (build_case(c, &hostile, &hid, &is_dup)) {
		fprintf(stderr, "craft_hostile: unknown case %s\n", c);
		exit(2);
	}
	if (in_sub) {
		if (!is_dup)
			hid = save_tree(&hostile);
		mk_dir(&n, "sub", &hid);
		add(&root, &n);
		mk_file(&n, "ok.txt", "ok\n");
		add(&root, &n);
		rid = save_tree(&root);
	} else if (is_dup) {
		rid = hid; /* the duplicate tree is the root (no ok.txt) */
	} else {
		mk_file(&n, "ok.txt", "ok\n");
		add(&hostile, &n);
		rid = save_tree(&hostile);
	}
	/* the commit point comes last: blobs durable and indexed first */
	if ((rc = arca_repo_writer_flush(writer)) || (rc = arca_repo_commit_index(repo)))
		die("committing", rc);

	s = xmalloc(sizeof(*s));
	s->time_ns = 1700000000LL * 1000000000LL;
	s->tree = rid;
	s->host = xstrdup("hostile-host");
	s->user = xstrdup("mallory");
	s->type = xstrdup("manual");
	s->program = xstrdup("craft_hostile");
	s->paths = xmalloc(sizeof(char *));
	s->paths[0] = xmalloc(strlen(c) + 32);
	sprintf(s->paths[0], "/hostile/%s/%s", c, placement); /* distinct snapshots per case */
	s->npaths = 1;
	if ((rc = arca_snapshot_save(repo, s)))
		die("saving the snapshot", rc);
	sid = s->id;
	arca_snapshot_free(s);
	arca_tree_clear(&hostile);
	arca_tree_clear(&root);
	return sid;
}

int main(int argc, char **argv)
{
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	char hex[65];
	int i, rc;

	if (argc < 5 || (argc - 3) % 2 || argv[2][0] != '/') {
		fprintf(stderr, "usage: craft_hostile REPO /ABS/OUTSIDE CASE root|sub [CASE root|sub]...\n");
		return 2;
	}
	outside = argv[2];
	if ((rc = arca_repo_open(&repo, argv[1], getenv("ARCA_PASSWORD"), &oo)))
		die("opening the repository", rc);
	if ((rc = arca_repo_lock(repo, false)))
		die("locking", rc);
	if ((rc = arca_repo_writer_new(&writer, repo)))
		die("creating a writer", rc);
	for (i = 3; i + 1 < argc; i += 2) {
		arca_id id = craft_one(argv[i], argv[i + 1]);
		arca_id_hex(hex, &id);
		printf("%s %s %s\n", argv[i], argv[i + 1], hex);
	}
	arca_repo_writer_free(writer);
	arca_repo_close(repo);
	return 0;
}
