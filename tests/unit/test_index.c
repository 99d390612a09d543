/*
 * tests/unit/test_index.c - the LMDB blob index: add/lookup, absorbed
 * index files, ordered enumeration, clear, persistence across reopen,
 * concurrent lookups and a 200k-entry batch.
 */
#include "index/index.h"
#include "arca/error.h"

#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

typedef struct fx {
	char dir[64];
	char ixdir[96];
	arca_index *ix;
} fx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/arca-ix-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* nested and missing: open creates it */
	snprintf(f->ixdir, sizeof(f->ixdir), "%s/cache/index", f->dir);
	assert_int_equal(arca_index_open(&f->ix, f->ixdir), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	arca_index_close(f->ix);
	nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* Deterministic distinct ids: n in the first bytes (big-endian, so that id
 * order is numeric order), a tag in the last. */
static arca_id mkid(uint32_t n, uint8_t tag)
{
	arca_id id;
	memset(&id, 0, sizeof(id));
	id.b[0] = (uint8_t)(n >> 24);
	id.b[1] = (uint8_t)(n >> 16);
	id.b[2] = (uint8_t)(n >> 8);
	id.b[3] = (uint8_t)n;
	id.b[31] = tag;
	return id;
}

static arca_blob_entry mkentry(uint32_t n)
{
	arca_blob_entry e;
	memset(&e, 0, sizeof(e));
	e.id = mkid(n, 0xb1);
	e.type = (uint8_t)(n & 1);
	e.flags = (uint8_t)((n >> 1) & 1);
	e.key_id = n % 7;
	e.offset = (uint64_t)n * 4096 + 0x100000000ull; /* above 4 GiB: all 64 bits kept */
	e.stored_len = n + 40;
	e.raw_len = n * 3 + 1;
	return e;
}

static void assert_loc(const arca_index_loc *l, const arca_id *pack, const arca_blob_entry *e)
{
	assert_memory_equal(l->pack.b, pack->b, ARCA_ID_LEN);
	assert_int_equal(l->offset, e->offset);
	assert_int_equal(l->stored_len, e->stored_len);
	assert_int_equal(l->raw_len, e->raw_len);
	assert_int_equal(l->key_id, e->key_id);
	assert_int_equal(l->type, e->type);
	assert_int_equal(l->flags, e->flags);
}

static void add_pack(arca_index *ix, const arca_id *pack, uint32_t first, uint32_t n,
		     const arca_id *file)
{
	arca_index_batch *b;
	arca_blob_entry *es = calloc(n, sizeof(*es));
	assert_non_null(es);
	for (uint32_t i = 0; i < n; i++)
		es[i] = mkentry(first + i);
	assert_int_equal(arca_index_batch_begin(ix, &b), 0);
	assert_int_equal(arca_index_batch_add_pack(b, pack, es, n), 0);
	if (file)
		assert_int_equal(arca_index_batch_mark_file(b, file), 0);
	assert_int_equal(arca_index_batch_commit(b), 0);
	free(es);
}

static void test_add_lookup(void **state)
{
	fx *f = *state;
	arca_id pack = mkid(7, 0xaa), other = mkid(8, 0xaa), missing = mkid(999, 0xb1);
	arca_blob_entry e = mkentry(5);
	arca_index_loc loc;
	arca_index_batch *b;
	uint64_t nb, nf;

	assert_false(arca_index_has(f->ix, &e.id));
	assert_int_equal(arca_index_lookup(f->ix, &e.id, &loc), ARCA_NOTFOUND);

	add_pack(f->ix, &pack, 0, 10, NULL);
	assert_true(arca_index_has(f->ix, &e.id));
	assert_int_equal(arca_index_lookup(f->ix, &e.id, &loc), 0);
	assert_loc(&loc, &pack, &e);
	memset(&loc, 0x55, sizeof(loc));
	assert_int_equal(arca_index_lookup(f->ix, &missing, &loc), ARCA_NOTFOUND);
	assert_int_equal(loc.offset, 0); /* out-param cleared on failure */
	assert_int_equal(arca_index_count(f->ix, &nb, &nf), 0);
	assert_int_equal(nb, 10);
	assert_int_equal(nf, 0);

	/* the same blob in a newer pack: the newer location wins */
	add_pack(f->ix, &other, 5, 1, NULL);
	assert_int_equal(arca_index_lookup(f->ix, &e.id, &loc), 0);
	assert_loc(&loc, &other, &e);
	assert_int_equal(arca_index_count(f->ix, &nb, NULL), 0);
	assert_int_equal(nb, 10);

	/* an aborted batch leaves nothing, and readers never see a batch
	 * before it commits */
	assert_int_equal(arca_index_batch_begin(f->ix, &b), 0);
	{
		arca_blob_entry x = mkentry(500);
		assert_int_equal(arca_index_batch_add_pack(b, &pack, &x, 1), 0);
		assert_false(arca_index_has(f->ix, &x.id));
		arca_index_batch_abort(b);
		assert_false(arca_index_has(f->ix, &x.id));
	}
	arca_index_batch_abort(NULL);
}

static void test_files(void **state)
{
	fx *f = *state;
	arca_id pack = mkid(1, 0xaa), f1 = mkid(1, 0xf1), f2 = mkid(2, 0xf1);
	arca_index_batch *b;
	uint64_t nf;

	assert_false(arca_index_has_file(f->ix, &f1));
	add_pack(f->ix, &pack, 0, 3, &f2);
	assert_int_equal(arca_index_batch_begin(f->ix, &b), 0);
	assert_int_equal(arca_index_batch_mark_file(b, &f1), 0);
	assert_int_equal(arca_index_batch_mark_file(b, &f1), 0); /* idempotent */
	assert_int_equal(arca_index_batch_commit(b), 0);
	assert_true(arca_index_has_file(f->ix, &f1));
	assert_true(arca_index_has_file(f->ix, &f2));
	assert_false(arca_index_has_file(f->ix, &pack));
	assert_int_equal(arca_index_count(f->ix, NULL, &nf), 0);
	assert_int_equal(nf, 2);
}

typedef struct walk {
	arca_id last;
	uint64_t n;
	uint64_t stop_at;
} walk;

static int on_blob(const arca_id *id, const arca_index_loc *loc, void *payload)
{
	walk *w = payload;
	if (w->n)
		assert_true(memcmp(w->last.b, id->b, ARCA_ID_LEN) < 0);
	w->last = *id;
	w->n++;
	return w->n == w->stop_at ? 7 : 0;
}

static int on_file(const arca_id *id, void *payload)
{
	walk *w = payload;
	if (w->n)
		assert_true(memcmp(w->last.b, id->b, ARCA_ID_LEN) < 0);
	w->last = *id;
	w->n++;
	return w->n == w->stop_at ? 9 : 0;
}

static void test_foreach(void **state)
{
	fx *f = *state;
	arca_id pack = mkid(1, 0xaa), f1 = mkid(9, 0xf1), f2 = mkid(3, 0xf1);
	walk w;

	add_pack(f->ix, &pack, 1000, 50, &f1);
	add_pack(f->ix, &pack, 10, 50, &f2); /* added out of order */

	memset(&w, 0, sizeof(w));
	assert_int_equal(arca_index_foreach_blob(f->ix, on_blob, &w), 0);
	assert_int_equal(w.n, 100);
	memset(&w, 0, sizeof(w));
	w.stop_at = 3;
	assert_int_equal(arca_index_foreach_blob(f->ix, on_blob, &w), 7);
	assert_int_equal(w.n, 3);

	memset(&w, 0, sizeof(w));
	assert_int_equal(arca_index_foreach_file(f->ix, on_file, &w), 0);
	assert_int_equal(w.n, 2);
	assert_memory_equal(w.last.b, f1.b, ARCA_ID_LEN);
	memset(&w, 0, sizeof(w));
	w.stop_at = 1;
	assert_int_equal(arca_index_foreach_file(f->ix, on_file, &w), 9);
	assert_memory_equal(w.last.b, f2.b, ARCA_ID_LEN);
}

static void test_clear_reopen(void **state)
{
	fx *f = *state;
	arca_id pack = mkid(1, 0xaa), f1 = mkid(1, 0xf1);
	arca_blob_entry e = mkentry(3);
	arca_index_loc loc;
	arca_index *again;
	uint64_t nb, nf;

	add_pack(f->ix, &pack, 0, 20, &f1);
	/* one environment per directory per process (an LMDB rule) */
	assert_int_equal(arca_index_open(&again, f->ixdir), ARCA_INVAL);
	assert_null(again);

	arca_index_close(f->ix);
	f->ix = NULL;
	assert_int_equal(arca_index_open(&f->ix, f->ixdir), 0);
	assert_int_equal(arca_index_lookup(f->ix, &e.id, &loc), 0);
	assert_loc(&loc, &pack, &e);
	assert_true(arca_index_has_file(f->ix, &f1));

	assert_int_equal(arca_index_clear(f->ix), 0);
	assert_int_equal(arca_index_count(f->ix, &nb, &nf), 0);
	assert_int_equal(nb, 0);
	assert_int_equal(nf, 0);
	assert_false(arca_index_has(f->ix, &e.id));
	assert_false(arca_index_has_file(f->ix, &f1));

	arca_index_close(f->ix);
	assert_int_equal(arca_index_open(&f->ix, f->ixdir), 0);
	assert_int_equal(arca_index_count(f->ix, &nb, &nf), 0);
	assert_int_equal(nb, 0);
	add_pack(f->ix, &pack, 0, 2, NULL);
	assert_int_equal(arca_index_count(f->ix, &nb, NULL), 0);
	assert_int_equal(nb, 2);
}

static void test_bad_dir(void **state)
{
	fx *f = *state;
	arca_index *ix = (arca_index *)1;
	char p[128];
	FILE *fp;

	snprintf(p, sizeof(p), "%s/plainfile", f->dir);
	fp = fopen(p, "w");
	assert_non_null(fp);
	fclose(fp);
	assert_int_not_equal(arca_index_open(&ix, p), 0);
	assert_null(ix);
	assert_int_equal(arca_index_open(&ix, ""), ARCA_INVAL);
	arca_index_close(NULL);
}

#define BIG 200000

static void *lookups(void *arg)
{
	arca_index *ix = arg;
	arca_index_loc loc;
	for (uint32_t i = 0; i < BIG; i += 97) {
		arca_blob_entry e = mkentry(i);
		if (arca_index_lookup(ix, &e.id, &loc) != 0 || loc.offset != e.offset ||
		    loc.raw_len != e.raw_len)
			return (void *)1;
	}
	return NULL;
}

static void test_big(void **state)
{
	fx *f = *state;
	arca_id pack = mkid(42, 0xaa);
	struct timespec t0, t1;
	pthread_t t[4];
	uint64_t nb;
	double secs;
	walk w;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	add_pack(f->ix, &pack, 0, BIG, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(secs < 3.0);

	assert_int_equal(arca_index_count(f->ix, &nb, NULL), 0);
	assert_int_equal(nb, BIG);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, lookups, f->ix), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
	memset(&w, 0, sizeof(w));
	assert_int_equal(arca_index_foreach_blob(f->ix, on_blob, &w), 0);
	assert_int_equal(w.n, BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_foreach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clear_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
