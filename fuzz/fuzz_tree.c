/*
 * fuzz/fuzz_tree.c - tree nodes (src/snapshot/tree.c).
 *
 * Input: a tree blob's plaintext.  For an accepted tree:
 *   - every name passes arca_name_is_safe and names are strictly sorted
 *     (a restore trusts both);
 *   - arca_tree_encode gives back exactly the input bytes: the encoding is
 *     canonical, so one tree has one blob id.  A decoder that accepts a
 *     second spelling of the same tree fails here;
 *   - the decoder reads whatever the encoder writes: the same tree with
 *     every number zeroed and every string emptied (the smallest encoding
 *     of those names and kinds) must decode, to the same bytes again.
 */
#include "fuzz_common.h"
#include "arca/snapshot.h"

#include <string.h>

static size_t first_diff(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
	size_t i, n = an < bn ? an : bn;
	for (i = 0; i < n && a[i] == b[i]; i++)
		;
	return i;
}

/* Zero what can be zeroed; the names, kinds and chunk lists stay. */
static void shrink(arca_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		arca_node *n = &t->nodes[i];
		n->mode = n->uid = n->gid = 0;
		n->user[0] = n->group[0] = '\0';
		n->mtime_ns = n->ctime_ns = 0;
		n->inode = n->dev = n->nlink = n->size = n->rdev = 0;
		if (n->link_target)
			n->link_target[0] = '\0';
	}
}

static void check_small(arca_tree *t)
{
	arca_buf e1 = ARCA_BUF_INIT, e2 = ARCA_BUF_INIT;
	arca_tree *back = NULL;

	shrink(t);
	FUZZ_CHECK(arca_tree_encode(t, &e1) == 0);
	if (arca_tree_decode(&back, e1.data, e1.len)) {
		fprintf(stderr, "tree written by arca_tree_encode (%zu entries, %zu bytes) refused: %s\n",
			t->n, e1.len, arca_error_message());
		abort();
	}
	FUZZ_CHECK(arca_tree_encode(back, &e2) == 0);
	FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0);
	arca_tree_free(back);
	arca_buf_free(&e1);
	arca_buf_free(&e2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	arca_tree *t = NULL;
	arca_buf enc = ARCA_BUF_INIT;
	size_t i;

	fuzz_setup();
	if (arca_tree_decode(&t, data, size)) {
		FUZZ_CHECK(t == NULL);
		return 0;
	}
	FUZZ_CHECK(t != NULL);
	for (i = 0; i < t->n; i++) {
		const arca_node *n = &t->nodes[i];
		FUZZ_CHECK(n->name != NULL && arca_name_is_safe(n->name, strlen(n->name)));
		FUZZ_CHECK(i == 0 || strcmp(t->nodes[i - 1].name, n->name) < 0);
		FUZZ_CHECK(n->user != NULL && n->group != NULL);
		FUZZ_CHECK(n->nchunks == 0 || n->chunks != NULL);
		FUZZ_CHECK(arca_tree_find(t, n->name) == n);
	}
	FUZZ_CHECK(arca_tree_encode(t, &enc) == 0);
	if (enc.len != size || memcmp(enc.data, data, size) != 0) {
		fprintf(stderr,
			"tree round trip differs: input %zu bytes, re-encoded %zu bytes, "
			"first difference at offset %zu\n",
			size, enc.len, first_diff(data, size, enc.data, enc.len));
		abort();
	}
	check_small(t);
	arca_tree_free(t);
	arca_buf_free(&enc);
	return 0;
}
