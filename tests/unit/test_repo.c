/*
 * tests/unit/test_repo.c - a repository on the local backend: creating and
 * opening it (passwords, all ciphers, a replaced config), the blob store
 * (round trips, deduplication, durability across reopen, damage reported
 * with the pack's name, the index rebuilt from a deleted cache or from the
 * packs alone), sealed objects, key management, locks and the cleanup of
 * a killed writer's temporary files.
 *
 * Every test gets its own temporary directory with the repository in
 * repo/ and the index caches in cache and cache2; KDF parameters are the cheapest
 * the key format accepts so that the file runs in about a second.
 */
#include "arca/repo.h"
#include "backend/backend.h"
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
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- fixture ---- */

typedef struct fx {
	char dir[64];
	char repo[128];
	char cache[128];
	char cache2[128];
	int warns;
	char last_warn[1024];
} fx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int setup(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	strcpy(f->dir, "/tmp/arca-repo-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->repo, sizeof(f->repo), "%s/repo", f->dir);
	snprintf(f->cache, sizeof(f->cache), "%s/cache", f->dir);
	snprintf(f->cache2, sizeof(f->cache2), "%s/cache2", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	rm_rf(f->dir);
	free(f);
	return 0;
}

static void on_warn(const char *msg, void *payload)
{
	fx *f = payload;
	f->warns++;
	snprintf(f->last_warn, sizeof(f->last_warn), "%s", msg);
}

static arca_repo_open_opts oopts(fx *f, const char *cache)
{
	arca_repo_open_opts o = ARCA_REPO_OPEN_OPTS_INIT;
	o.cache_dir = cache;
	o.warn = on_warn;
	o.warn_payload = f;
	return o;
}

static arca_repo_init_opts fast_opts(int cipher)
{
	arca_repo_init_opts o = ARCA_REPO_INIT_OPTS_INIT;
	o.cipher = cipher;
	o.kdf_t = 1;
	o.kdf_m_kib = 8192;
	return o;
}

static arca_repo *init_at(fx *f, const char *url, int cipher, const char *pw)
{
	arca_repo_init_opts io = fast_opts(cipher);
	arca_repo_open_opts oo = oopts(f, f->cache);
	arca_repo *r = NULL;
	int rc = arca_repo_init(&r, url, pw, &io, &oo);
	if (rc)
		fail_msg("init %s: %s", url, arca_error_message());
	assert_non_null(r);
	return r;
}

static arca_repo *init_repo(fx *f, int cipher) { return init_at(f, f->repo, cipher, "pw1"); }

static int open_repo(fx *f, const char *pw, const char *cache, arca_repo **r)
{
	arca_repo_open_opts oo = oopts(f, cache);
	return arca_repo_open(r, f->repo, pw, &oo);
}

static arca_repo *must_open(fx *f, const char *pw, const char *cache)
{
	arca_repo *r = NULL;
	if (open_repo(f, pw, cache, &r))
		fail_msg("open: %s", arca_error_message());
	return r;
}

/* Deterministic test data: random-looking (incompressible) or text. */
static void fill(uint8_t *p, size_t n, uint64_t seed, int text)
{
	uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
	size_t i;
	for (i = 0; i < n; i++) {
		if (text) {
			p[i] = (uint8_t)"lorem ipsum dolor sit amet\n"[(i + seed) % 27];
			continue;
		}
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		p[i] = (uint8_t)(s >> 24);
	}
}

/* Save blobs through one writer, flush and commit. */
static void save_commit(arca_repo *r, const uint8_t *const *data, const size_t *n, size_t count, arca_id *ids)
{
	arca_repo_writer *w = NULL;
	size_t i;
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	for (i = 0; i < count; i++) {
		bool added = false;
		assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data[i], n[i], &ids[i], &added), 0);
	}
	assert_int_equal(arca_repo_writer_flush(w), 0);
	assert_int_equal(arca_repo_commit_index(r), 0);
	arca_repo_writer_free(w);
}

static void save_one(arca_repo *r, const void *data, size_t n, arca_id *id)
{
	const uint8_t *d = data;
	save_commit(r, &d, &n, 1, id);
}

static void assert_loads(arca_repo *r, const arca_id *id, const void *want, size_t n)
{
	arca_repo_reader *rd = NULL;
	arca_buf b = ARCA_BUF_INIT;
	int rc;
	assert_int_equal(arca_repo_reader_new(&rd, r), 0);
	assert_int_equal(arca_buf_puts(&b, "pre"), 0); /* load appends */
	rc = arca_repo_blob_load(rd, id, &b);
	if (rc)
		fail_msg("blob_load: %s", arca_error_message());
	assert_int_equal(b.len, 3 + n);
	assert_memory_equal(b.data, "pre", 3);
	if (n)
		assert_memory_equal(b.data + 3, want, n);
	arca_buf_free(&b);
	arca_repo_reader_free(rd);
}

static int load_rc(arca_repo *r, const arca_id *id)
{
	arca_repo_reader *rd = NULL;
	arca_buf b = ARCA_BUF_INIT;
	int rc;
	assert_int_equal(arca_repo_reader_new(&rd, r), 0);
	rc = arca_repo_blob_load(rd, id, &b);
	arca_buf_free(&b);
	arca_repo_reader_free(rd);
	return rc;
}

static size_t nfiles;
static int count_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (flag == FTW_F && strncmp(p + f->base, ".tmp-", 5) != 0)
		nfiles++;
	return 0;
}

/* Regular files under repo/<sub>, temporaries excluded. */
static size_t count_files(fx *f, const char *sub)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", f->repo, sub);
	nfiles = 0;
	nftw(p, count_one, 16, FTW_PHYS);
	return nfiles;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *fp;
	unlink(path); /* repository files may be read-only */
	fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	assert_int_equal(fclose(fp), 0);
}

static void read_file(const char *path, arca_buf *out)
{
	char tmp[4096];
	size_t n;
	FILE *fp = fopen(path, "rb");
	assert_non_null(fp);
	arca_buf_clear(out);
	while ((n = fread(tmp, 1, sizeof(tmp), fp)) > 0)
		assert_int_equal(arca_buf_put(out, tmp, n), 0);
	fclose(fp);
}

static void flip_byte(const char *path, uint64_t off)
{
	int fd = open(path, O_RDWR);
	uint8_t c;
	if (fd < 0) {
		chmod(path, 0600);
		fd = open(path, O_RDWR);
	}
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &c, 1, (off_t)off), 1);
	c ^= 0x40;
	assert_int_equal(pwrite(fd, &c, 1, (off_t)off), 1);
	close(fd);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

/* ---- open / init ---- */

static void test_init_open_password(void **state)
{
	fx *f = *state;
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305), *r2 = NULL;
	arca_id rid = *arca_repo_id(r);
	assert_int_equal(arca_repo_cipher(r)->id, ARCA_CIPHER_XCHACHA20_POLY1305);
	assert_false(arca_id_is_zero(arca_repo_key_id(r)));
	assert_non_null(strstr(arca_repo_cache_dir(r), f->cache));
	arca_repo_close(r);

	r = must_open(f, "pw1", f->cache);
	assert_memory_equal(arca_repo_id(r)->b, rid.b, ARCA_ID_LEN);
	arca_repo_close(r);

	assert_int_equal(open_repo(f, "pw2", f->cache, &r2), ARCA_AUTH);
	assert_null(r2);
	assert_non_null(strstr(arca_error_message(), "wrong password"));
	assert_int_equal(open_repo(f, "", f->cache, &r2), ARCA_AUTH);
	assert_int_equal(open_repo(f, NULL, f->cache, &r2), ARCA_AUTH);
	assert_null(r2);
}

static void test_init_needs_password(void **state)
{
	fx *f = *state;
	arca_repo_init_opts io = fast_opts(ARCA_CIPHER_AES256_GCM);
	arca_repo_open_opts oo = oopts(f, f->cache);
	arca_repo *r = NULL;
	assert_int_equal(arca_repo_init(&r, f->repo, NULL, &io, &oo), ARCA_INVAL);
	assert_int_equal(arca_repo_init(&r, f->repo, "", &io, &oo), ARCA_INVAL);
	io.cipher = 77;
	assert_int_equal(arca_repo_init(&r, f->repo, "pw", &io, &oo), ARCA_INVAL);
	assert_null(r);
	/* nothing was created by the refused attempts */
	assert_int_equal(open_repo(f, "pw", f->cache, &r), ARCA_NOTFOUND);
}

static void test_open_missing(void **state)
{
	fx *f = *state;
	arca_repo *r = NULL;
	arca_repo_open_opts oo = oopts(f, f->cache);
	assert_int_equal(mkdir(f->repo, 0700), 0);
	assert_int_equal(arca_repo_open(&r, f->repo, "pw1", &oo), ARCA_NOTFOUND);
	assert_null(r);
	assert_non_null(strstr(arca_error_message(), f->repo));
	assert_non_null(strstr(arca_error_hint_text(), "init"));
	/* a path that does not exist at all */
	strcat(f->repo, "/nope");
	assert_int_equal(arca_repo_open(&r, f->repo, "pw1", &oo), ARCA_NOTFOUND);
	assert_null(r);
}

static void test_init_twice(void **state)
{
	fx *f = *state;
	arca_repo_init_opts io = fast_opts(ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_repo_open_opts oo = oopts(f, f->cache);
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305), *r2 = NULL;
	arca_id rid = *arca_repo_id(r);
	arca_repo_close(r);
	assert_int_equal(arca_repo_init(&r2, f->repo, "other", &io, &oo), ARCA_EXISTS);
	assert_null(r2);
	io.cipher = ARCA_CIPHER_NONE;
	assert_int_equal(arca_repo_init(&r2, f->repo, NULL, &io, &oo), ARCA_EXISTS);
	/* the first repository is untouched: same id, old password, one key */
	r = must_open(f, "pw1", f->cache);
	assert_memory_equal(arca_repo_id(r)->b, rid.b, ARCA_ID_LEN);
	assert_int_equal(count_files(f, "keys"), 1);
	arca_repo_close(r);
}

/* ---- blobs ---- */

static void test_ciphers_roundtrip(void **state)
{
	fx *f = *state;
	static const int ciphers[] = { ARCA_CIPHER_NONE, ARCA_CIPHER_XCHACHA20_POLY1305, ARCA_CIPHER_AES256_GCM };
	static uint8_t noise[200000], text[100000];
	const uint8_t *data[4] = { noise, text, (const uint8_t *)"x", (const uint8_t *)"" };
	size_t n[4] = { sizeof(noise), sizeof(text), 1, 0 };
	size_t c, i;
	fill(noise, sizeof(noise), 1, 0);
	fill(text, sizeof(text), 2, 1);
	for (c = 0; c < 3; c++) {
		const char *pw = ciphers[c] == ARCA_CIPHER_NONE ? NULL : "pw1";
		arca_repo *r;
		arca_id ids[4];
		char url[160];
		snprintf(url, sizeof(url), "%s/c%zu", f->dir, c);
		r = init_at(f, url, ciphers[c], pw);
		save_commit(r, data, n, 4, ids);
		for (i = 0; i < 4; i++)
			assert_loads(r, &ids[i], data[i], n[i]);
		arca_repo_close(r);
		{
			arca_repo_open_opts oo = oopts(f, f->cache2);
			r = NULL;
			assert_int_equal(arca_repo_open(&r, url, pw, &oo), 0);
		}
		assert_int_equal(arca_repo_cipher(r)->id, ciphers[c]);
		for (i = 0; i < 4; i++)
			assert_loads(r, &ids[i], data[i], n[i]);
		{
			/* compressible text is stored smaller than it is */
			arca_index_loc loc;
			assert_int_equal(arca_repo_blob_lookup(r, &ids[1], &loc), 0);
			assert_int_equal(loc.raw_len, sizeof(text));
			assert_true(loc.stored_len < sizeof(text) / 4);
			assert_int_equal(arca_repo_blob_lookup(r, &ids[0], &loc), 0);
			assert_true(loc.stored_len >= sizeof(noise));
		}
		arca_repo_close(r);
	}
}

static void test_blob_ids(void **state)
{
	fx *f = *state;
	static const char data[] = "the same content in three repositories";
	arca_repo *a, *b, *p;
	arca_id ia, ib, ip, sha, again;
	char url[160];
	snprintf(url, sizeof(url), "%s/a", f->dir);
	a = init_at(f, url, ARCA_CIPHER_XCHACHA20_POLY1305, "pw");
	snprintf(url, sizeof(url), "%s/b", f->dir);
	b = init_at(f, url, ARCA_CIPHER_XCHACHA20_POLY1305, "pw");
	snprintf(url, sizeof(url), "%s/p", f->dir);
	p = init_at(f, url, ARCA_CIPHER_NONE, NULL);
	save_one(a, data, sizeof(data), &ia);
	save_one(b, data, sizeof(data), &ib);
	save_one(p, data, sizeof(data), &ip);
	arca_sha256(&sha, data, sizeof(data));
	/* encrypted repositories key their ids: they reveal nothing and differ */
	assert_memory_not_equal(ia.b, ib.b, ARCA_ID_LEN);
	assert_memory_not_equal(ia.b, sha.b, ARCA_ID_LEN);
	/* unencrypted: plain SHA-256 */
	assert_memory_equal(ip.b, sha.b, ARCA_ID_LEN);
	/* the id function is stable within a repository */
	arca_repo_blob_id(a, &again, data, sizeof(data));
	assert_memory_equal(again.b, ia.b, ARCA_ID_LEN);
	assert_loads(a, &ia, data, sizeof(data));
	/* a's blob is unknown to b */
	assert_int_equal(load_rc(b, &ia), ARCA_NOTFOUND);
	arca_repo_close(a);
	arca_repo_close(b);
	arca_repo_close(p);
}

static void test_dedup(void **state)
{
	fx *f = *state;
	static uint8_t data[50000];
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_repo_writer *w = NULL;
	arca_repo_write_stats st;
	arca_id id1, id2;
	bool added;
	fill(data, sizeof(data), 3, 0);
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data, sizeof(data), &id1, &added), 0);
	assert_true(added);
	assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data, sizeof(data), &id2, &added), 0);
	assert_false(added);
	assert_memory_equal(id1.b, id2.b, ARCA_ID_LEN);
	assert_int_equal(arca_repo_writer_flush(w), 0);
	assert_int_equal(arca_repo_commit_index(r), 0);
	/* after the commit the index, not the claim, knows it */
	assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data, sizeof(data), &id2, &added), 0);
	assert_false(added);
	assert_int_equal(arca_repo_blob_claim(r, &id1), 0);
	assert_int_equal(arca_repo_writer_flush(w), 0);
	arca_repo_writer_free(w);
	arca_repo_write_stats_get(r, &st);
	assert_int_equal(st.blobs_new, 1);
	assert_int_equal(st.raw_bytes_new, sizeof(data));
	assert_int_equal(st.packs_written, 1);
	assert_true(st.stored_bytes_new >= sizeof(data) && st.stored_bytes_new < sizeof(data) + 1024);
	arca_repo_close(r);
	assert_int_equal(count_files(f, "data"), 1);

	/* another session knows it too */
	r = must_open(f, "pw1", f->cache);
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data, sizeof(data), &id2, &added), 0);
	assert_false(added);
	assert_int_equal(arca_repo_writer_flush(w), 0);
	assert_int_equal(arca_repo_commit_index(r), 0);
	arca_repo_writer_free(w);
	arca_repo_write_stats_get(r, &st);
	assert_int_equal(st.blobs_new, 0);
	assert_int_equal(st.packs_written, 0);
	arca_repo_close(r);
	assert_int_equal(count_files(f, "data"), 1);
}

static void test_survives_reopen(void **state)
{
	fx *f = *state;
	static uint8_t a[30000], b[30000];
	arca_repo *r = init_repo(f, ARCA_CIPHER_AES256_GCM);
	arca_repo_writer *w = NULL;
	arca_id ida, idb;
	bool added;
	fill(a, sizeof(a), 4, 0);
	fill(b, sizeof(b), 5, 0);
	save_one(r, a, sizeof(a), &ida);
	/* b is written but never flushed: dropped, and its claim released */
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, b, sizeof(b), &idb, &added), 0);
	assert_true(added);
	arca_repo_writer_free(w);
	assert_int_equal(arca_repo_blob_claim(r, &idb), 1); /* must be stored again */
	arca_repo_close(r);

	r = must_open(f, "pw1", f->cache);
	assert_loads(r, &ida, a, sizeof(a));
	assert_int_equal(load_rc(r, &idb), ARCA_NOTFOUND);
	assert_non_null(strstr(arca_error_message(), "not in the index"));
	save_one(r, b, sizeof(b), &idb);
	assert_loads(r, &idb, b, sizeof(b));
	arca_repo_close(r);

	/* and with a cache that never saw them (a second machine) */
	r = must_open(f, "pw1", f->cache2);
	assert_loads(r, &ida, a, sizeof(a));
	assert_loads(r, &idb, b, sizeof(b));
	arca_repo_close(r);
}

static void corrupt_case(fx *f, int cipher, const char *sub)
{
	static uint8_t data[40000];
	char url[160], key[80], path[300], phex[65];
	const char *pw = cipher == ARCA_CIPHER_NONE ? NULL : "pw";
	arca_repo *r;
	arca_index_loc loc;
	arca_id id;
	int rc;
	fill(data, sizeof(data), 6, 0);
	snprintf(url, sizeof(url), "%s/%s", f->dir, sub);
	r = init_at(f, url, cipher, pw);
	save_one(r, data, sizeof(data), &id);
	assert_loads(r, &id, data, sizeof(data));
	assert_int_equal(arca_repo_blob_lookup(r, &id, &loc), 0);
	arca_repo_pack_key(key, &loc.pack);
	snprintf(path, sizeof(path), "%s/%s", url, key);
	flip_byte(path, loc.offset + loc.stored_len / 2);
	rc = load_rc(r, &id);
	assert_int_equal(rc, ARCA_CORRUPT);
	arca_id_hex(phex, &loc.pack);
	if (!strstr(arca_error_message(), phex))
		fail_msg("message does not name pack %s: %s", phex, arca_error_message());
	arca_repo_close(r);
}

static void test_corrupt_pack(void **state)
{
	fx *f = *state;
	corrupt_case(f, ARCA_CIPHER_XCHACHA20_POLY1305, "x");
	corrupt_case(f, ARCA_CIPHER_NONE, "n"); /* no MAC: the re-hash catches it */
}

static void test_cache_deleted(void **state)
{
	fx *f = *state;
	static uint8_t data[20000];
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_id id;
	fill(data, sizeof(data), 7, 1);
	save_one(r, data, sizeof(data), &id);
	arca_repo_close(r);
	rm_rf(f->cache);
	assert_int_equal(access(f->cache, F_OK), -1);
	r = must_open(f, "pw1", f->cache);
	assert_int_equal(access(f->cache, F_OK), 0);
	assert_loads(r, &id, data, sizeof(data));
	arca_repo_close(r);
}

static int rm_index_file(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return flag == FTW_F ? remove(p) : 0;
}

static void test_rebuild_from_packs(void **state)
{
	fx *f = *state;
	enum { NB = 5 };
	static uint8_t buf[NB][9000];
	const uint8_t *data[NB];
	size_t n[NB], i;
	arca_id ids[NB];
	uint64_t npacks = 0, nblobs = 0;
	arca_repo_init_opts io = fast_opts(ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_repo_open_opts oo = oopts(f, f->cache);
	arca_repo *r = NULL;
	char idx[200];
	io.pack_size = 16384; /* several packs */
	assert_int_equal(arca_repo_init(&r, f->repo, "pw1", &io, &oo), 0);
	for (i = 0; i < NB; i++) {
		fill(buf[i], sizeof(buf[i]), 10 + i, 0);
		data[i] = buf[i];
		n[i] = sizeof(buf[i]);
	}
	save_commit(r, data, n, NB, ids);
	arca_repo_close(r);
	assert_true(count_files(f, "data") >= 2);

	snprintf(idx, sizeof(idx), "%s/index", f->repo);
	assert_true(count_files(f, "index") >= 1);
	nftw(idx, rm_index_file, 16, FTW_PHYS);
	assert_int_equal(count_files(f, "index"), 0);

	/* the cache had absorbed files that are gone: it is dropped */
	r = must_open(f, "pw1", f->cache);
	assert_int_equal(load_rc(r, &ids[0]), ARCA_NOTFOUND);
	assert_int_equal(arca_repo_lock(r, true), 0);
	assert_int_equal(arca_repo_index_rebuild_from_packs(r, &npacks, &nblobs), 0);
	assert_int_equal(arca_repo_unlock(r), 0);
	assert_int_equal(npacks, count_files(f, "data"));
	assert_int_equal(nblobs, NB);
	for (i = 0; i < NB; i++)
		assert_loads(r, &ids[i], data[i], n[i]);
	arca_repo_close(r);
	assert_int_equal(count_files(f, "index"), 1);

	/* the new index file is all a fresh cache needs */
	r = must_open(f, "pw1", f->cache2);
	for (i = 0; i < NB; i++)
		assert_loads(r, &ids[i], data[i], n[i]);
	arca_repo_close(r);
}

/* ---- objects ---- */

static void test_objects(void **state)
{
	fx *f = *state;
	static const char raw[] = "a small object: a snapshot manifest, say";
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_buf out = ARCA_BUF_INIT, file = ARCA_BUF_INIT;
	char hex[65], key[100], path[300], path2[300];
	arca_id id, id2, sum;
	assert_int_equal(arca_repo_object_save(r, "snapshots", "arca-test-v1", raw, sizeof(raw), &id), 0);
	arca_id_hex(hex, &id);
	snprintf(key, sizeof(key), "snapshots/%s", hex);
	snprintf(path, sizeof(path), "%s/%s", f->repo, key);
	/* named by the SHA-256 of its stored bytes, which are not the plaintext */
	read_file(path, &file);
	arca_sha256(&sum, file.data, file.len);
	assert_memory_equal(sum.b, id.b, ARCA_ID_LEN);
	assert_null(memmem(file.data, file.len, "snapshot manifest", 17));

	assert_int_equal(arca_repo_object_load(r, key, "arca-test-v1", &out), 0);
	assert_int_equal(out.len, sizeof(raw));
	assert_memory_equal(out.data, raw, sizeof(raw));
	/* saving the same object again is harmless (fresh nonce, new name) */
	assert_int_equal(arca_repo_object_save(r, "snapshots", "arca-test-v1", raw, sizeof(raw), &id2), 0);

	/* another label is another kind of object: refused */
	arca_buf_clear(&out);
	assert_int_equal(arca_repo_object_load(r, key, "arca-other-v1", &out), ARCA_CORRUPT);
	/* a missing object */
	assert_int_equal(arca_repo_object_load(r, "snapshots/0000000000000000000000000000000000000000000000000000000000000000",
					       "arca-test-v1", &out),
			 ARCA_NOTFOUND);

	/* one flipped byte: the name no longer matches */
	flip_byte(path, file.len / 2);
	arca_buf_clear(&out);
	assert_int_equal(arca_repo_object_load(r, key, "arca-test-v1", &out), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), key));
	/* and renamed to match its new content, the MAC still refuses it */
	read_file(path, &file);
	arca_sha256(&sum, file.data, file.len);
	arca_id_hex(hex, &sum);
	snprintf(key, sizeof(key), "snapshots/%s", hex);
	snprintf(path2, sizeof(path2), "%s/%s", f->repo, key);
	assert_int_equal(rename(path, path2), 0);
	arca_buf_clear(&out);
	assert_int_equal(arca_repo_object_load(r, key, "arca-test-v1", &out), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), key));

	arca_buf_free(&out);
	arca_buf_free(&file);
	arca_repo_close(r);
}

/* ---- keys ---- */

static void test_keys(void **state)
{
	fx *f = *state;
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305), *r2 = NULL;
	arca_key_info *v = NULL;
	arca_id k1 = *arca_repo_key_id(r), k2;
	char hex[65];
	size_t n = 0, i, cur = 0;

	assert_int_equal(arca_repo_key_add(r, "pw2", &k2), 0);
	assert_int_equal(arca_repo_key_add(r, "", NULL), ARCA_INVAL);
	assert_int_equal(arca_repo_key_list(r, &v, &n), 0);
	assert_int_equal(n, 2);
	for (i = 0; i < n; i++) {
		if (v[i].current) {
			cur++;
			assert_memory_equal(v[i].id.b, k1.b, ARCA_ID_LEN);
		} else {
			assert_memory_equal(v[i].id.b, k2.b, ARCA_ID_LEN);
		}
		assert_true(v[i].created_ns > 0);
		/* a new key costs what the key in use costs (here: what init chose),
		 * so key add / passwd never silently weaken or slow down a repository */
		assert_int_equal(v[i].kdf_t, 1);
		assert_int_equal(v[i].kdf_m_kib, 8192);
	}
	assert_int_equal(cur, 1);
	free(v);

	/* the second password opens the same repository */
	r2 = must_open(f, "pw2", f->cache2);
	assert_memory_equal(arca_repo_id(r2)->b, arca_repo_id(r)->b, ARCA_ID_LEN);
	assert_memory_equal(arca_repo_key_id(r2)->b, k2.b, ARCA_ID_LEN);
	arca_repo_close(r2);

	/* the key in use cannot be removed */
	arca_id_hex(hex, &k1);
	assert_int_equal(arca_repo_key_remove(r, hex), ARCA_INVAL);
	assert_int_equal(count_files(f, "keys"), 2);
	assert_int_equal(arca_repo_key_remove(r, "zz"), ARCA_NOTFOUND);
	/* the other one can, by a unique prefix */
	arca_id_hex(hex, &k2);
	hex[10] = '\0';
	assert_int_equal(arca_repo_key_remove(r, hex), 0);
	assert_int_equal(count_files(f, "keys"), 1);
	assert_int_equal(open_repo(f, "pw2", f->cache2, &r2), ARCA_AUTH);

	/* passwd: the old password stops working, the new one works */
	assert_int_equal(arca_repo_key_passwd(r, "pw3"), 0);
	assert_memory_not_equal(arca_repo_key_id(r)->b, k1.b, ARCA_ID_LEN);
	arca_repo_close(r);
	assert_int_equal(count_files(f, "keys"), 1);
	assert_int_equal(open_repo(f, "pw1", f->cache, &r2), ARCA_AUTH);
	r2 = must_open(f, "pw3", f->cache);
	assert_int_equal(arca_repo_key_list(r2, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_true(v[0].current);
	free(v);
	arca_repo_close(r2);
}

static void test_keys_unencrypted(void **state)
{
	fx *f = *state;
	arca_repo *r = init_repo(f, ARCA_CIPHER_NONE);
	arca_key_info *v = (arca_key_info *)1;
	size_t n = 7;
	assert_int_equal(arca_repo_key_add(r, "pw", NULL), ARCA_INVAL);
	assert_int_equal(arca_repo_key_list(r, &v, &n), ARCA_INVAL);
	assert_null(v);
	assert_int_equal(n, 0);
	assert_int_equal(count_files(f, "keys"), 0);
	arca_repo_close(r);
}

/* ---- locks ---- */

static void test_locks(void **state)
{
	fx *f = *state;
	arca_repo *r1 = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305);
	arca_repo *r2 = must_open(f, "pw1", f->cache2);
	char pid[32];

	assert_int_equal(arca_repo_lock(r1, false), 0);
	assert_int_equal(arca_repo_lock(r1, false), ARCA_INVAL); /* one per handle */
	assert_int_equal(arca_repo_lock(r2, false), 0);
	assert_int_equal(count_files(f, "locks"), 2);
	assert_int_equal(arca_repo_unlock(r2), 0);
	assert_int_equal(count_files(f, "locks"), 1);

	/* a deleter cannot start while a backup holds a shared lock */
	assert_int_equal(arca_repo_lock(r2, true), ARCA_LOCKED);
	snprintf(pid, sizeof(pid), "pid %d", (int)getpid());
	assert_non_null(strstr(arca_error_message(), pid));
	assert_int_equal(count_files(f, "locks"), 1); /* the refused lock left nothing */

	assert_int_equal(arca_repo_unlock(r1), 0);
	assert_int_equal(count_files(f, "locks"), 0);
	assert_int_equal(arca_repo_unlock(r1), 0); /* unlocking twice is harmless */

	/* and the other way round */
	assert_int_equal(arca_repo_lock(r2, true), 0);
	assert_int_equal(arca_repo_lock(r1, false), ARCA_LOCKED);
	assert_non_null(strstr(arca_error_message(), "exclusively"));
	assert_int_equal(arca_repo_lock(r1, true), ARCA_LOCKED);
	/* close releases the lock */
	arca_repo_close(r2);
	assert_int_equal(count_files(f, "locks"), 0);
	assert_int_equal(arca_repo_lock(r1, true), 0);
	arca_repo_close(r1);
	assert_int_equal(count_files(f, "locks"), 0);
	assert_int_equal(f->warns, 0);
}

static void plant_lock(fx *f, const char *name, bool exclusive, int64_t time_ns, uint64_t pid, const char *host)
{
	arca_buf b = ARCA_BUF_INIT;
	char path[300], dir[200];
	assert_int_equal(arca_buf_put(&b, "ARCALOCK", 8), 0);
	assert_int_equal(arca_enc_u8(&b, 1), 0);
	assert_int_equal(arca_enc_u8(&b, exclusive), 0);
	assert_int_equal(arca_enc_u64(&b, (uint64_t)time_ns), 0);
	assert_int_equal(arca_enc_u64(&b, pid), 0);
	assert_int_equal(arca_enc_str(&b, host), 0);
	assert_int_equal(arca_enc_str(&b, "someone"), 0);
	snprintf(dir, sizeof(dir), "%s/locks", f->repo);
	mkdir(dir, 0700);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(path, b.data, b.len);
	arca_buf_free(&b);
}

static void test_lock_stale(void **state)
{
	fx *f = *state;
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305);
	char host[256], path[300];
	pid_t dead = dead_pid();
	gethostname(host, sizeof(host));
	host[sizeof(host) - 1] = '\0';

	/* a live exclusive lock (our parent process on this host) blocks */
	plant_lock(f, "00112233445566778899aabbccddeeff", true, arca_time_now_ns(), (uint64_t)getppid(), host);
	assert_int_equal(arca_repo_lock(r, false), ARCA_LOCKED);
	assert_int_equal(f->warns, 0);
	snprintf(path, sizeof(path), "%s/locks/00112233445566778899aabbccddeeff", f->repo);
	unlink(path);

	/* a lock of a dead process on this host is taken over at once */
	plant_lock(f, "deaddeaddeaddeaddeaddeaddeaddead", true, arca_time_now_ns(), (uint64_t)dead, host);
	assert_int_equal(arca_repo_lock(r, true), 0);
	assert_int_equal(f->warns, 1);
	assert_non_null(strstr(f->last_warn, "stale"));
	snprintf(path, sizeof(path), "%s/locks/deaddeaddeaddeaddeaddeaddeaddead", f->repo);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_files(f, "locks"), 1); /* ours */
	assert_int_equal(arca_repo_unlock(r), 0);
	assert_int_equal(count_files(f, "locks"), 0);

	/* another host's lock is stale only after 30 minutes */
	plant_lock(f, "0123456789abcdef0123456789abcdef", true, arca_time_now_ns(), 1, "elsewhere.example");
	assert_int_equal(arca_repo_lock(r, false), ARCA_LOCKED);
	assert_non_null(strstr(arca_error_message(), "elsewhere.example"));
	snprintf(path, sizeof(path), "%s/locks/0123456789abcdef0123456789abcdef", f->repo);
	unlink(path);
	plant_lock(f, "fedcba9876543210fedcba9876543210", true,
		   arca_time_now_ns() - 31LL * 60 * ARCA_NS_PER_SEC, 1, "elsewhere.example");
	assert_int_equal(arca_repo_lock(r, false), 0);
	assert_int_equal(f->warns, 2);
	assert_non_null(strstr(f->last_warn, "elsewhere.example"));
	arca_repo_close(r);
	assert_int_equal(count_files(f, "locks"), 0);
}

/* ---- config ---- */

static void test_config_replaced(void **state)
{
	fx *f = *state;
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305), *r2 = NULL;
	arca_buf orig = ARCA_BUF_INIT, other = ARCA_BUF_INIT, mod = ARCA_BUF_INIT;
	char cfg[200], url[160], ocfg[300];
	arca_id sum;
	int rc;
	arca_repo_close(r);
	snprintf(cfg, sizeof(cfg), "%s/config", f->repo);
	read_file(cfg, &orig);
	assert_int_equal(orig.len, 128);

	/* a config with the same id but other parameters (checksum fixed up):
	 * the key's commitment to the config catches it */
	assert_int_equal(arca_buf_put(&mod, orig.data, orig.len), 0);
	arca_put_le32(mod.data + 60, 8u * 1024 * 1024); /* pack size */
	arca_sha256(&sum, mod.data, 96);
	memcpy(mod.data + 96, sum.b, 32);
	write_file(cfg, mod.data, mod.len);
	assert_int_equal(open_repo(f, "pw1", f->cache, &r2), ARCA_CORRUPT);
	assert_null(r2);
	assert_non_null(strstr(arca_error_message(), "config"));

	/* a downgrade to cipher none: no key is opened, yet it is refused */
	arca_buf_clear(&mod);
	assert_int_equal(arca_buf_put(&mod, orig.data, orig.len), 0);
	mod.data[44] = ARCA_CIPHER_NONE;
	mod.data[47] = 0;
	arca_sha256(&sum, mod.data, 96);
	memcpy(mod.data + 96, sum.b, 32);
	write_file(cfg, mod.data, mod.len);
	rc = open_repo(f, "pw1", f->cache, &r2);
	if (rc != ARCA_CORRUPT)
		fail_msg("downgraded config opened (rc %d): %s", rc, arca_error_message());
	assert_non_null(strstr(arca_error_message(), "config"));

	/* a damaged config */
	flip_byte(cfg, 50);
	assert_int_equal(open_repo(f, "pw1", f->cache, &r2), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "config"));

	/* the config of another repository (same password) does not open it.
	 * Each key's AEAD binds the repository id, so with another id no key
	 * opens: today that reads as a wrong password (ARCA_AUTH). */
	snprintf(url, sizeof(url), "%s/other", f->dir);
	r = init_at(f, url, ARCA_CIPHER_XCHACHA20_POLY1305, "pw1");
	arca_repo_close(r);
	snprintf(ocfg, sizeof(ocfg), "%s/config", url);
	read_file(ocfg, &other);
	write_file(cfg, other.data, other.len);
	rc = open_repo(f, "pw1", f->cache, &r2);
	assert_true(rc == ARCA_CORRUPT || rc == ARCA_AUTH);
	assert_null(r2);

	/* the original config opens it again */
	write_file(cfg, orig.data, orig.len);
	r2 = must_open(f, "pw1", f->cache);
	arca_repo_close(r2);
	arca_buf_free(&orig);
	arca_buf_free(&other);
	arca_buf_free(&mod);
}

/* ---- leftovers ---- */

static void test_cleanup_leftovers(void **state)
{
	fx *f = *state;
	arca_repo *r = init_repo(f, ARCA_CIPHER_XCHACHA20_POLY1305);
	static const char junk[] = "half a pack";
	char dead[300], live[300], nested[300], dir[200];
	unsigned removed = 99;
	pid_t pid = dead_pid();
	arca_id id;
	save_one(r, junk, sizeof(junk), &id); /* creates data/ */
	snprintf(dir, sizeof(dir), "%s/data", f->repo);
	snprintf(dead, sizeof(dead), "%s/.tmp-%d-x", dir, (int)pid);
	snprintf(live, sizeof(live), "%s/.tmp-%d-y", dir, (int)getpid());
	write_file(dead, junk, sizeof(junk));
	write_file(live, junk, sizeof(junk));
	{
		char hex[65], sub[240];
		arca_id_hex(hex, &id);
		snprintf(sub, sizeof(sub), "%s/%.2s", dir, hex);
		mkdir(sub, 0700);
		snprintf(nested, sizeof(nested), "%s/.tmp-%d-z", sub, (int)pid);
		write_file(nested, junk, sizeof(junk));
	}
	assert_int_equal(arca_repo_cleanup_leftovers(r, &removed), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(access(dead, F_OK), -1);
	assert_int_equal(access(nested, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0); /* a live writer's file stays */
	/* the repository itself is untouched */
	assert_int_equal(count_files(f, "data"), 1);
	assert_loads(r, &id, junk, sizeof(junk));
	assert_int_equal(arca_repo_cleanup_leftovers(r, &removed), 0);
	assert_int_equal(removed, 0);
	arca_repo_close(r);
}

/* From a remote backend (mem: has no CAP_LOCAL), a reader told which blobs
 * come next fetches blobs stored back to back in one ranged read, serves
 * the rest from that window, and still returns every blob intact; blobs
 * not in the hint are fetched alone. */
static void test_reader_window(void **state)
{
	fx *f = *state;
	enum { N = 12 };
	static uint8_t data[N][30000];
	arca_repo *r = init_at(f, "mem:", ARCA_CIPHER_XCHACHA20_POLY1305, "pw1");
	arca_repo_writer *w = NULL;
	arca_repo_reader *rd = NULL;
	arca_be_stats before, after;
	arca_buf out = ARCA_BUF_INIT;
	arca_id ids[N];
	bool added;
	size_t i;
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	for (i = 0; i < N; i++) {
		fill(data[i], sizeof(data[i]), 100 + i, (int)(i & 1));
		assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data[i], sizeof(data[i]), &ids[i], &added), 0);
	}
	assert_int_equal(arca_repo_writer_flush(w), 0);
	assert_int_equal(arca_repo_commit_index(r), 0);
	arca_repo_writer_free(w);
	assert_int_equal(arca_repo_reader_new(&rd, r), 0);

	arca_be_stats_get(arca_repo_backend(r), &before);
	arca_repo_reader_hint(rd, ids, N);
	for (i = 0; i < N; i++) {
		arca_buf_clear(&out);
		assert_int_equal(arca_repo_blob_load(rd, &ids[i], &out), 0);
		assert_int_equal(out.len, sizeof(data[i]));
		assert_memory_equal(out.data, data[i], sizeof(data[i]));
	}
	arca_be_stats_get(arca_repo_backend(r), &after);
	assert_int_equal(after.requests - before.requests, 1);

	/* without a hint: one read per blob; a hint that skips blobs still
	 * reads only what is asked for */
	arca_repo_reader_free(rd); /* a fresh reader: no window yet */
	assert_int_equal(arca_repo_reader_new(&rd, r), 0);
	arca_be_stats_get(arca_repo_backend(r), &before);
	for (i = 0; i < N; i += 2) {
		arca_buf_clear(&out);
		assert_int_equal(arca_repo_blob_load(rd, &ids[N - 1 - i], &out), 0);
		assert_memory_equal(out.data, data[N - 1 - i], sizeof(data[0]));
	}
	arca_be_stats_get(arca_repo_backend(r), &after);
	assert_int_equal(after.requests - before.requests, N / 2);
	{
		arca_id odd[N / 2];
		for (i = 0; i < N / 2; i++)
			odd[i] = ids[2 * i + 1];
		arca_repo_reader_free(rd);
		assert_int_equal(arca_repo_reader_new(&rd, r), 0);
		arca_repo_reader_hint(rd, odd, N / 2);
		arca_be_stats_get(arca_repo_backend(r), &before);
		for (i = 0; i < N / 2; i++) {
			arca_buf_clear(&out);
			assert_int_equal(arca_repo_blob_load(rd, &odd[i], &out), 0);
			assert_memory_equal(out.data, data[2 * i + 1], sizeof(data[0]));
		}
		arca_be_stats_get(arca_repo_backend(r), &after);
		assert_int_equal(after.requests - before.requests, N / 2);
		assert_int_equal(after.bytes_in - before.bytes_in < (N / 2) * (sizeof(data[0]) + 200), 1);
	}
	arca_buf_free(&out);
	arca_repo_reader_free(rd);
	arca_repo_close(r);
}

/* Read-ahead (remote restores): readers that each load one small blob
 * (like restore workers given one small file each) share the read of the
 * bytes that follow (ranges), or of the whole pack, fetched ahead in the
 * order the restore said (packs): one request in all, every blob intact. */
static void readahead_case(fx *f, int mode)
{
	enum { N = 40 };
	static uint8_t data[N][3000];
	arca_repo *r = init_at(f, "mem:", ARCA_CIPHER_XCHACHA20_POLY1305, "pw1");
	arca_repo_writer *w = NULL;
	arca_repo_reader *rd[3] = { NULL, NULL, NULL };
	arca_be_stats before, after;
	arca_buf out = ARCA_BUF_INIT;
	arca_id ids[N];
	bool added;
	size_t i;
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	for (i = 0; i < N; i++) {
		fill(data[i], sizeof(data[i]), 500 + i, 0);
		assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data[i], sizeof(data[i]), &ids[i], &added), 0);
	}
	assert_int_equal(arca_repo_writer_flush(w), 0);
	assert_int_equal(arca_repo_commit_index(r), 0);
	arca_repo_writer_free(w);
	arca_be_stats_get(arca_repo_backend(r), &before);
	assert_int_equal(arca_repo_readahead_enable(r, mode), 0);
	arca_repo_readahead_expect(r, ids, N); /* (a no-op for ranges) */
	for (i = 0; i < 3; i++)
		assert_int_equal(arca_repo_reader_new(&rd[i], r), 0);
	for (i = 0; i < N; i++) {
		arca_buf_clear(&out);
		arca_repo_reader_hint(rd[i % 3], &ids[i], 1);
		assert_int_equal(arca_repo_blob_load(rd[i % 3], &ids[i], &out), 0);
		assert_int_equal(out.len, sizeof(data[i]));
		assert_memory_equal(out.data, data[i], sizeof(data[i]));
	}
	arca_be_stats_get(arca_repo_backend(r), &after);
	assert_int_equal(after.requests - before.requests, 2); /* the data/ listing and one read */
	for (i = 0; i < 3; i++)
		arca_repo_reader_free(rd[i]);
	arca_buf_free(&out);
	arca_repo_close(r);
}

static void test_readahead(void **state)
{
	readahead_case(*state, ARCA_READAHEAD_RANGES);
	readahead_case(*state, ARCA_READAHEAD_PACKS);
}

/* Packs mode, a pack of ~6 MB: the first pack of a restore comes head
 * first (its first 2 MiB, then the rest), and the blob that straddles the
 * two ranges is put together from both: three requests in all (the
 * listing, the head, the rest), every blob intact, in any order of load. */
static void test_readahead_head_first(void **state)
{
	fx *f = *state;
	enum { N = 2000, LEN = 3000 };
	uint8_t *data = malloc((size_t)N * LEN);
	arca_repo *r = init_at(f, "mem:", ARCA_CIPHER_XCHACHA20_POLY1305, "pw1");
	arca_repo_writer *w = NULL;
	arca_repo_reader *rd[2] = { NULL, NULL };
	arca_be_stats before, after;
	arca_buf out = ARCA_BUF_INIT;
	arca_id *ids = calloc(N, sizeof(*ids));
	bool added;
	size_t i, k;
	assert_non_null(data);
	assert_non_null(ids);
	assert_int_equal(arca_repo_writer_new(&w, r), 0);
	for (i = 0; i < N; i++) {
		fill(data + i * LEN, LEN, 9000 + i, 0);
		assert_int_equal(arca_repo_blob_save(w, ARCA_BLOB_DATA, data + i * LEN, LEN, &ids[i], &added), 0);
	}
	assert_int_equal(arca_repo_writer_flush(w), 0);
	assert_int_equal(arca_repo_commit_index(r), 0);
	arca_repo_writer_free(w);
	arca_be_stats_get(arca_repo_backend(r), &before);
	assert_int_equal(arca_repo_readahead_enable(r, ARCA_READAHEAD_PACKS), 0);
	arca_repo_readahead_expect(r, ids, N);
	for (i = 0; i < 2; i++)
		assert_int_equal(arca_repo_reader_new(&rd[i], r), 0);
	for (k = 0; k < 500; k++) { /* the background fetch: listing, head, rest */
		arca_be_stats_get(arca_repo_backend(r), &after);
		if (after.requests - before.requests >= 3)
			break;
		usleep(10000);
	}
	for (k = 0; k < N; k++) {
		i = (k * 7919) % N; /* every blob once, out of order */
		arca_buf_clear(&out);
		assert_int_equal(arca_repo_blob_load(rd[k % 2], &ids[i], &out), 0);
		assert_int_equal(out.len, LEN);
		assert_memory_equal(out.data, data + i * LEN, LEN);
	}
	arca_be_stats_get(arca_repo_backend(r), &after);
	assert_int_equal(after.requests - before.requests, 3); /* every load, the straddling one too, from the two ranges */
	for (i = 0; i < 2; i++)
		arca_repo_reader_free(rd[i]);
	arca_buf_free(&out);
	free(ids);
	free(data);
	arca_repo_close(r);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_init_open_password),
		T(test_init_needs_password),
		T(test_open_missing),
		T(test_init_twice),
		T(test_ciphers_roundtrip),
		T(test_blob_ids),
		T(test_dedup),
		T(test_survives_reopen),
		T(test_corrupt_pack),
		T(test_cache_deleted),
		T(test_rebuild_from_packs),
		T(test_objects),
		T(test_keys),
		T(test_keys_unencrypted),
		T(test_locks),
		T(test_lock_stale),
		T(test_config_replaced),
		T(test_cleanup_leftovers),
		T(test_reader_window),
		T(test_readahead),
		T(test_readahead_head_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
