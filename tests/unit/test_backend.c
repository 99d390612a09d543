/*
 * tests/unit/test_backend.c - the generic backend layer and the local and
 * memory drivers.  Most tests run against both drivers (the same
 * semantics are promised); the rest cover the local driver's files on
 * disk, the scheme table and the retry wrapper.
 *
 * write() is interposed below so that ENOSPC and short writes can be
 * produced on demand; it passes through to the kernel otherwise.
 */
#include "backend/backend.h"
#include "backend/backend_cloud.h"
#include "backend/backend_local.h"
#include "arca/error.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/* ---- write() fault injection ---- */

static volatile int fake_write_enospc_after = -1; /* bytes allowed, then ENOSPC */
static volatile int fake_write_short;             /* at most 3 bytes per call */

ssize_t write(int fd, const void *p, size_t n)
{
	if (fd > 2 && fake_write_short && n > 3)
		n = 3;
	if (fd > 2 && fake_write_enospc_after >= 0) {
		if (fake_write_enospc_after == 0) {
			errno = ENOSPC;
			return -1;
		}
		if (n > (size_t)fake_write_enospc_after)
			n = (size_t)fake_write_enospc_after;
		fake_write_enospc_after -= (int)n;
	}
	return syscall(SYS_write, fd, p, n);
}

/* ---- fixtures ---- */

typedef struct fx {
	arca_backend *be;
	char dir[64];
	int local;
} fx;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	return remove(p);
}

static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int setup_local(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	char url[96];
	assert_non_null(f);
	strcpy(f->dir, "/tmp/arca-be-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	/* A repository directory that does not exist yet: put creates it. */
	snprintf(url, sizeof(url), "file://%s/repo", f->dir);
	assert_int_equal(arca_backend_open(&f->be, url), 0);
	f->local = 1;
	*state = f;
	return 0;
}

static int setup_mem(void **state)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	assert_int_equal(arca_backend_open(&f->be, "mem:"), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx *f = *state;
	arca_backend_free(f->be);
	if (f->local)
		rm_rf(f->dir);
	free(f);
	return 0;
}

static void put_str(arca_backend *be, const char *key, const char *s)
{
	assert_int_equal(arca_be_put(be, key, s, strlen(s), 0), 0);
}

static void assert_get(arca_backend *be, const char *key, const char *want)
{
	arca_buf b = ARCA_BUF_INIT;
	assert_int_equal(arca_be_get(be, key, &b), 0);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	arca_buf_free(&b);
}

static void repo_path(char *out, size_t n, const fx *f, const char *key)
{
	snprintf(out, n, "%s/repo/%s", f->dir, key);
}

/* ---- both drivers ---- */

static void test_put_get_stat(void **state)
{
	fx *f = *state;
	arca_buf b = ARCA_BUF_INIT;
	uint64_t size = 99;

	put_str(f->be, "config", "hello");
	put_str(f->be, "data/ab/abcdef", "0123456789");
	put_str(f->be, "data/ab/empty", "");
	assert_get(f->be, "config", "hello");
	assert_get(f->be, "data/ab/abcdef", "0123456789");
	assert_get(f->be, "data/ab/empty", "");

	assert_int_equal(arca_be_stat(f->be, "data/ab/abcdef", &size), 0);
	assert_int_equal(size, 10);
	assert_true(arca_be_exists(f->be, "config"));
	assert_false(arca_be_exists(f->be, "nope"));
	assert_int_equal(arca_be_stat(f->be, "nope", &size), ARCA_NOTFOUND);
	assert_int_equal(size, 0);

	/* get appends to what the buffer holds */
	assert_int_equal(arca_buf_puts(&b, "<"), 0);
	assert_int_equal(arca_be_get(f->be, "config", &b), 0);
	assert_int_equal(b.len, 6);
	assert_memory_equal(b.data, "<hello", 6);

	/* a failed get leaves the buffer as it was and names the key */
	assert_int_equal(arca_be_get(f->be, "snapshots/missing", &b), ARCA_NOTFOUND);
	assert_int_equal(b.len, 6);
	assert_non_null(strstr(arca_error_message(), "snapshots/missing"));

	/* overwrite (locks are rewritten) */
	put_str(f->be, "config", "world!");
	assert_get(f->be, "config", "world!");
	arca_buf_free(&b);
}

static void test_range(void **state)
{
	fx *f = *state;
	arca_buf b = ARCA_BUF_INIT;

	put_str(f->be, "data/00/pack", "0123456789");
	assert_int_equal(arca_be_get_range(f->be, "data/00/pack", 2, 3, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "234", 3);
	arca_buf_clear(&b);
	assert_int_equal(arca_be_get_range(f->be, "data/00/pack", 7, ARCA_GET_ALL, &b), 0);
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "789", 3);
	arca_buf_clear(&b);
	assert_int_equal(arca_be_get_range(f->be, "data/00/pack", 10, 0, &b), 0);
	assert_int_equal(b.len, 0);
	/* past the end: the object is shorter than the caller knows it is */
	assert_int_equal(arca_be_get_range(f->be, "data/00/pack", 8, 3, &b), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "truncated"));
	assert_non_null(strstr(arca_error_message(), "data/00/pack"));
	assert_int_equal(b.len, 0);
	assert_int_equal(arca_be_get_range(f->be, "data/00/pack", 11, ARCA_GET_ALL, &b), ARCA_CORRUPT);
	assert_int_equal(arca_be_get_range(f->be, "data/00/nope", 0, 1, &b), ARCA_NOTFOUND);
	arca_buf_free(&b);
}

static void test_noreplace(void **state)
{
	fx *f = *state;
	assert_int_equal(arca_be_put(f->be, "locks/a", "one", 3, ARCA_PUT_NOREPLACE), 0);
	assert_int_equal(arca_be_put(f->be, "locks/a", "two", 3, ARCA_PUT_NOREPLACE), ARCA_EXISTS);
	assert_non_null(strstr(arca_error_message(), "locks/a"));
	assert_get(f->be, "locks/a", "one");
	assert_int_equal(arca_be_put(f->be, "locks/a", "three", 5, 0), 0);
	assert_get(f->be, "locks/a", "three");
	assert_int_equal(arca_be_put(f->be, "locks/a", "x", 1, 0x80), ARCA_INVAL);
}

typedef struct seen {
	char keys[16][64];
	uint64_t sizes[16];
	int n;
	int stop_at; /* return 42 at this call (1-based), 0 never */
} seen;

static int collect(const char *key, uint64_t size, void *payload)
{
	seen *s = payload;
	assert_true(s->n < 16);
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	s->sizes[s->n++] = size;
	return s->n == s->stop_at ? 42 : 0;
}

static int seen_has(const seen *s, const char *key, uint64_t size)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->keys[i], key) == 0)
			return s->sizes[i] == size;
	return 0;
}

static void test_list(void **state)
{
	fx *f = *state;
	seen s;

	/* nothing there yet: not an error */
	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "data/", collect, &s), 0);
	assert_int_equal(s.n, 0);

	put_str(f->be, "config", "c");
	put_str(f->be, "data/ab/ab01", "12");
	put_str(f->be, "data/ab/ab02", "123");
	put_str(f->be, "data/cd/cd01", "1234");
	put_str(f->be, "index/ff", "12345");

	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "data/", collect, &s), 0);
	assert_int_equal(s.n, 3);
	assert_true(seen_has(&s, "data/ab/ab01", 2));
	assert_true(seen_has(&s, "data/ab/ab02", 3));
	assert_true(seen_has(&s, "data/cd/cd01", 4));

	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "data/ab/", collect, &s), 0);
	assert_int_equal(s.n, 2);

	/* a prefix need not end at a '/' */
	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "data/ab/ab0", collect, &s), 0);
	assert_int_equal(s.n, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "data/c", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(seen_has(&s, "data/cd/cd01", 4));

	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "", collect, &s), 0);
	assert_int_equal(s.n, 5);
	assert_true(seen_has(&s, "config", 1));
	assert_true(seen_has(&s, "index/ff", 5));

	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "snapshots/", collect, &s), 0);
	assert_int_equal(s.n, 0);

	/* a callback's non-zero return stops the walk and comes back as is */
	memset(&s, 0, sizeof(s));
	s.stop_at = 1;
	assert_int_equal(arca_be_list(f->be, "data/", collect, &s), 42);
	assert_int_equal(s.n, 1);
}

static void test_remove(void **state)
{
	fx *f = *state;
	arca_buf b = ARCA_BUF_INIT;

	put_str(f->be, "data/ab/gone", "bytes");
	/* read it ranged first so the local driver caches an open fd */
	assert_int_equal(arca_be_get_range(f->be, "data/ab/gone", 1, 2, &b), 0);
	assert_int_equal(arca_be_remove(f->be, "data/ab/gone"), 0);
	assert_false(arca_be_exists(f->be, "data/ab/gone"));
	assert_int_equal(arca_be_get_range(f->be, "data/ab/gone", 1, 2, &b), ARCA_NOTFOUND);
	assert_int_equal(arca_be_remove(f->be, "data/ab/gone"), ARCA_NOTFOUND);
	assert_non_null(strstr(arca_error_message(), "data/ab/gone"));
	arca_buf_free(&b);
}

/* A batch removes what exists, reports what did not, and leaves the rest;
 * on the local backend through the driver's batch (one directory sync). */
static void test_remove_batch(void **state)
{
	fx *f = *state;
	const char *keys[] = { "index/aa", "index/missing", "snapshots/bb", "index/cc" };
	int rcs[4] = { -100, -100, -100, -100 };
	put_str(f->be, "index/aa", "1");
	put_str(f->be, "index/cc", "3");
	put_str(f->be, "snapshots/bb", "2");
	put_str(f->be, "index/kept", "4");
	assert_int_equal(arca_be_remove_batch(f->be, keys, 4, rcs), 0);
	assert_int_equal(rcs[0], 0);
	assert_int_equal(rcs[1], ARCA_NOTFOUND);
	assert_int_equal(rcs[2], 0);
	assert_int_equal(rcs[3], 0);
	assert_false(arca_be_exists(f->be, "index/aa"));
	assert_false(arca_be_exists(f->be, "snapshots/bb"));
	assert_false(arca_be_exists(f->be, "index/cc"));
	assert_get(f->be, "index/kept", "4");
	/* a bad key refuses the whole batch before anything is removed */
	keys[0] = "index/kept";
	keys[1] = "../escape";
	assert_int_equal(arca_be_remove_batch(f->be, keys, 2, rcs), ARCA_INVAL);
	assert_get(f->be, "index/kept", "4");
}

static void test_bad_keys(void **state)
{
	fx *f = *state;
	arca_buf b = ARCA_BUF_INIT;
	uint64_t size;
	static const char *bad[] = {
		"", "/etc/passwd", "../x", "data/../../x", "data/..", "a//b", "a/", "./a",
		"a/./b", "data/ab/.tmp-1-2",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(arca_be_put(f->be, bad[i], "x", 1, 0), ARCA_INVAL);
		assert_int_equal(arca_be_get(f->be, bad[i], &b), ARCA_INVAL);
		assert_int_equal(arca_be_stat(f->be, bad[i], &size), ARCA_INVAL);
		assert_int_equal(arca_be_remove(f->be, bad[i]), ARCA_INVAL);
	}
	assert_int_equal(arca_be_list(f->be, "../", collect, NULL), ARCA_INVAL);
	assert_int_equal(arca_be_list(f->be, "/", collect, NULL), ARCA_INVAL);
	if (f->local) {
		char p[128];
		struct stat st;
		snprintf(p, sizeof(p), "%s/x", f->dir);
		assert_int_not_equal(stat(p, &st), 0); /* nothing escaped the repo */
	}
	arca_buf_free(&b);
}

/* Eviction and reuse of the local driver's fd cache from several threads. */
#define NOBJ 40
static void *reader(void *arg)
{
	arca_backend *be = arg;
	arca_buf b = ARCA_BUF_INIT;
	char key[32], want[32];
	for (int round = 0; round < 20; round++) {
		for (int i = 0; i < NOBJ; i++) {
			snprintf(key, sizeof(key), "data/%02x/obj%d", i % 4, i);
			snprintf(want, sizeof(want), "object-%04d-payload", i);
			arca_buf_clear(&b);
			if (arca_be_get_range(be, key, 7, 4, &b) != 0 || b.len != 4 ||
			    memcmp(b.data, want + 7, 4) != 0) {
				arca_buf_free(&b);
				return (void *)1;
			}
		}
	}
	arca_buf_free(&b);
	return NULL;
}

static void test_threads(void **state)
{
	fx *f = *state;
	pthread_t t[4];
	char key[32], val[32];
	arca_be_stats st;

	for (int i = 0; i < NOBJ; i++) {
		snprintf(key, sizeof(key), "data/%02x/obj%d", i % 4, i);
		snprintf(val, sizeof(val), "object-%04d-payload", i);
		put_str(f->be, key, val);
	}
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, reader, f->be), 0);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		assert_null(r);
	}
	arca_be_stats_get(f->be, &st);
	assert_int_equal(st.requests, NOBJ + 4 * 20 * NOBJ);
	assert_int_equal(st.bytes_in, 4 * 20 * NOBJ * 4);
	assert_int_equal(st.retries, 0);
}

/* arca_be_get_many: every object, in key order, whatever finishes first;
 * a missing one reported with its key; a callback failure stops it. */
#define NMANY 100
typedef struct many_seen {
	size_t calls, stop_at;
	int rcs[NMANY + 1];
	char msg[256];
} many_seen;

static int many_got(size_t i, int rc, arca_buf *data, void *payload)
{
	many_seen *m = payload;
	char want[32];
	if (i != m->calls)
		return arca_error_set(ARCA_INVAL, "out of order: %zu after %zu calls", i, m->calls);
	m->calls++;
	m->rcs[i] = rc;
	if (rc) {
		snprintf(m->msg, sizeof(m->msg), "%s", arca_error_message());
	} else {
		snprintf(want, sizeof(want), "many-%03zu-%s", i, i % 3 ? "x" : "a longer payload");
		if (data->len != strlen(want) || memcmp(data->data, want, data->len))
			return arca_error_set(ARCA_INVAL, "object %zu has the wrong bytes", i);
	}
	return m->stop_at && m->calls == m->stop_at ? ARCA_INVAL : 0;
}

static void test_get_many(void **state)
{
	fx *f = *state;
	char *keys[NMANY + 1], val[32];
	many_seen m;
	unsigned conns[] = { 1, 3, 8, 64 };
	for (int i = 0; i < NMANY; i++) {
		keys[i] = malloc(32);
		snprintf(keys[i], 32, "index/m%03d", i);
		snprintf(val, sizeof(val), "many-%03d-%s", i, i % 3 ? "x" : "a longer payload");
		put_str(f->be, keys[i], val);
	}
	keys[NMANY] = strdup("index/absent");
	for (size_t c = 0; c < sizeof(conns) / sizeof(conns[0]); c++) {
		memset(&m, 0, sizeof(m));
		arca_error_clear(); /* the message must come from this call's fetch */
		assert_int_equal(arca_be_get_many(f->be, (const char *const *)keys, NMANY + 1, conns[c], many_got, &m),
				 0);
		assert_int_equal(m.calls, NMANY + 1);
		for (int i = 0; i < NMANY; i++)
			assert_int_equal(m.rcs[i], 0);
		assert_int_equal(m.rcs[NMANY], ARCA_NOTFOUND);
		assert_non_null(strstr(m.msg, "index/absent"));
		/* the callback's failure ends it early and is returned */
		memset(&m, 0, sizeof(m));
		m.stop_at = 10;
		assert_int_equal(arca_be_get_many(f->be, (const char *const *)keys, NMANY, conns[c], many_got, &m),
				 ARCA_INVAL);
		assert_int_equal(m.calls, 10);
	}
	assert_int_equal(arca_be_get_many(f->be, NULL, 0, 8, many_got, &m), 0);
	for (int i = 0; i <= NMANY; i++)
		free(keys[i]);
}

/* The INI reader behind AWS profiles. */
static void assert_ini(const char *text, const char *sec, const char *key, const char *want)
{
	char *v = NULL;
	int rc = arca_cloud_ini_get(text, strlen(text), sec, key, &v);
	if (!want) {
		assert_int_equal(rc, ARCA_NOTFOUND);
		assert_null(v);
		return;
	}
	assert_int_equal(rc, 0);
	assert_string_equal(v, want);
	free(v);
}

static void test_ini(void **state)
{
	const char *t = "# comment\n"
			"key = outside\n"
			"[default]\n"
			"aws_access_key_id = AKIA1\n"
			"  aws_access_key_id = continuation, not a key\n"
			"; another comment\n"
			"aws_secret_access_key=s/e+c=r=et \r\n"
			"\r\n"
			"[ profile dev ]\r\n"
			"region =eu-west-1\r\n"
			"s3 =\n"
			"    max_concurrent_requests = 20\n"
			"empty =\n"
			"region = eu-central-1\n"
			"[broken\n"
			"region = nowhere\n"
			"[last]\n"
			"noeq\n"
			"k = v";
	char *v = NULL;
	(void)state;
	assert_ini(t, "default", "aws_access_key_id", "AKIA1");
	assert_ini(t, "default", "aws_secret_access_key", "s/e+c=r=et");
	assert_ini(t, "default", "key", NULL);
	assert_ini(t, "profile dev", "region", "eu-central-1"); /* the last one wins */
	assert_ini(t, "profile dev", "empty", "");
	assert_ini(t, "profile dev", "max_concurrent_requests", NULL);
	assert_ini(t, "broken", "region", NULL);
	assert_ini(t, "last", "k", "v"); /* no newline at the end */
	assert_ini(t, "last", "noeq", NULL);
	assert_ini(t, "dev", "region", NULL);
	assert_ini("", "default", "k", NULL);
	assert_int_equal(arca_cloud_ini_get("[a]\nk=v\0x", 9, "a", "k", &v), ARCA_CORRUPT);
	assert_null(v);
}

/* ---- local driver on disk ---- */

static int tmp_found;
static int find_tmp(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	if (strncmp(p + f->base, ".tmp-", 5) == 0)
		tmp_found++;
	return 0;
}

static int count_temps(const fx *f)
{
	tmp_found = 0;
	nftw(f->dir, find_tmp, 16, FTW_PHYS);
	return tmp_found;
}

static void test_local_files(void **state)
{
	fx *f = *state;
	char p[160];
	struct stat st;
	static char big[1 << 20];

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + 3);
	assert_int_equal(arca_be_put(f->be, "data/ab/big", big, sizeof(big), 0), 0);
	repo_path(p, sizeof(p), f, "data/ab/big");
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_size, sizeof(big));
	assert_int_equal(st.st_mode & 0777 & ~0600, 0);
	assert_int_equal(count_temps(f), 0);

	/* short writes are completed */
	fake_write_short = 1;
	assert_int_equal(arca_be_put(f->be, "data/ab/short", big, 4096, 0), 0);
	fake_write_short = 0;
	{
		arca_buf b = ARCA_BUF_INIT;
		assert_int_equal(arca_be_get(f->be, "data/ab/short", &b), 0);
		assert_int_equal(b.len, 4096);
		assert_memory_equal(b.data, big, 4096);
		arca_buf_free(&b);
	}

	/* a refused NOREPLACE leaves no temporary file either */
	assert_int_equal(arca_be_put(f->be, "data/ab/big", "x", 1, ARCA_PUT_NOREPLACE), ARCA_EXISTS);
	assert_int_equal(count_temps(f), 0);
}

static void test_local_nospace(void **state)
{
	fx *f = *state;
	static char blob[100000];

	put_str(f->be, "config", "c"); /* the directory exists */
	fake_write_enospc_after = 5000;
	assert_int_equal(arca_be_put(f->be, "data/ab/full", blob, sizeof(blob), 0), ARCA_NOSPACE);
	fake_write_enospc_after = -1;
	assert_non_null(strstr(arca_error_message(), "data/ab/full"));
	assert_true(arca_error_hint_text()[0] != '\0');
	assert_false(arca_be_exists(f->be, "data/ab/full"));
	assert_int_equal(count_temps(f), 0);
}

static void test_local_truncated(void **state)
{
	fx *f = *state;
	arca_buf b = ARCA_BUF_INIT;
	char p[160];

	put_str(f->be, "data/ab/pack", "0123456789");
	repo_path(p, sizeof(p), f, "data/ab/pack");
	assert_int_equal(truncate(p, 4), 0);
	assert_int_equal(arca_be_get_range(f->be, "data/ab/pack", 2, 6, &b), ARCA_CORRUPT);
	assert_non_null(strstr(arca_error_message(), "truncated object"));
	assert_non_null(strstr(arca_error_message(), "data/ab/pack"));
	assert_int_equal(b.len, 0);
	assert_int_equal(arca_be_get_range(f->be, "data/ab/pack", 2, 2, &b), 0);
	assert_memory_equal(b.data, "23", 2);
	arca_buf_free(&b);
}

static void plant(const fx *f, const char *rel, time_t age)
{
	char p[200];
	struct timespec ts[2];
	int fd;
	repo_path(p, sizeof(p), f, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(syscall(SYS_write, fd, "junk", 4), 4);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - age;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

static void test_local_temps(void **state)
{
	fx *f = *state;
	arca_backend *mem;
	unsigned removed = 99;
	seen s;

	put_str(f->be, "data/ab/abab", "x");
	plant(f, "data/ab/.tmp-1234-deadbeef", 3 * 86400); /* a killed process's */
	plant(f, ".tmp-1-00", 3 * 86400);
	{
		char live[64];
		snprintf(live, sizeof(live), "data/ab/.tmp-%ld-cafe", (long)getpid());
		plant(f, live, 10); /* a live writer (us), writing right now */
	}
	plant(f, "data/ab/.tmp-999999999-beef", 10); /* young, but its writer is dead */

	/* never listed */
	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(f->be, "", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_true(seen_has(&s, "data/ab/abab", 1));

	assert_int_equal(arca_backend_local_cleanup_temps(f->be, 86400, &removed), 0);
	assert_int_equal(removed, 3);
	assert_int_equal(count_temps(f), 1);
	assert_get(f->be, "data/ab/abab", "x");

	assert_int_equal(arca_backend_open(&mem, "mem:"), 0);
	assert_int_equal(arca_backend_local_cleanup_temps(mem, 1, &removed), ARCA_INVAL);
	arca_backend_free(mem);
}

/* ---- url table ---- */

static void test_open_urls(void **state)
{
	arca_backend *be = (arca_backend *)1;
	static const char *unsupported[] = { "ftp://h/x", "sftp://b" };
	char dir[] = "/tmp/arca-url-XXXXXX";

	/* cloud schemes have drivers: they check their url and credentials */
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("ARCA_GCS_ENDPOINT");
	unsetenv("STORAGE_EMULATOR_HOST");
	assert_int_equal(arca_backend_open(&be, "s3://Not_A_Bucket/x"), ARCA_INVAL);
	assert_null(be);
	assert_non_null(strstr(arca_error_message(), "not a valid s3 bucket name"));
	assert_int_equal(arca_backend_open(&be, "s3://bucket/x/../y"), ARCA_INVAL);
	assert_int_equal(arca_backend_open(&be, "s3://bucket/x"), ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "no s3 credentials for s3://bucket/x"));
	assert_int_equal(arca_backend_open(&be, "gs://bucket/x"), ARCA_INVAL);
	assert_non_null(strstr(arca_error_message(), "no gcs credentials for gs://bucket/x"));
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(arca_backend_open(&be, unsupported[i]), ARCA_INVAL);
		assert_null(be);
		assert_non_null(strstr(arca_error_message(), "is not supported by this build"));
	}
	assert_string_equal(arca_error_message(), "repository scheme 'sftp' is not supported by this build");
	/* postgres:// has a driver (tests/e2e/test_pg_repo.sh): nothing listens on port 1 */
	be = (arca_backend *)1;
	assert_int_equal(arca_backend_open(&be, "postgres://arca@127.0.0.1:1/db?connect_timeout=2"), ARCA_ERROR);
	assert_null(be);
	assert_non_null(strstr(arca_error_message(), "cannot connect to PostgreSQL at 127.0.0.1:1"));
	assert_int_equal(arca_backend_open(&be, ""), ARCA_INVAL);
	assert_int_equal(arca_backend_open(&be, "file://"), ARCA_INVAL);

	assert_int_equal(arca_backend_open(&be, "mem:"), 0);
	assert_string_equal(be->name, "mem");
	arca_backend_free(be);

	assert_non_null(mkdtemp(dir));
	assert_int_equal(arca_backend_open(&be, dir), 0);
	assert_string_equal(be->name, "local");
	assert_string_equal(arca_be_location(be), dir);
	assert_true(be->caps & ARCA_BACKEND_CAP_LOCAL);
	put_str(be, "config", "plain path");
	arca_backend_free(be);
	{
		char url[64];
		snprintf(url, sizeof(url), "FILE://%s/", dir);
		assert_int_equal(arca_backend_open(&be, url), 0);
		assert_string_equal(arca_be_location(be), dir);
		assert_get(be, "config", "plain path");
		arca_backend_free(be);
	}
	/* a path that is a file is refused up front */
	{
		char file[64];
		snprintf(file, sizeof(file), "%s/config", dir);
		assert_int_equal(arca_backend_open(&be, file), ARCA_INVAL);
	}
	/* "host:dir" with no "//" is a plain path */
	assert_int_equal(arca_backend_open(&be, "backup:2024"), 0);
	assert_string_equal(be->name, "local");
	arca_backend_free(be);
	arca_backend_free(NULL);
	rm_rf(dir);
}

/* ---- retries ---- */

/* A driver that fails with ARCA_TRANSIENT `fails` times per call, then
 * forwards to a memory backend. */
typedef struct flaky {
	arca_backend base;
	arca_backend *inner;
	int fails, left, calls;
	int lose_reply; /* puts that store but report ARCA_TRANSIENT */
} flaky;

static int flaky_fault(flaky *fl)
{
	fl->calls++;
	if (fl->left > 0) {
		fl->left--;
		return arca_error_set(ARCA_TRANSIENT, "503 slow down");
	}
	fl->left = fl->fails; /* re-arm for the next call */
	return 0;
}

static int flaky_get(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	flaky *fl = (flaky *)be;
	int rc = flaky_fault(fl);
	if (rc) {
		/* a failed attempt's partial bytes must not reach the caller */
		arca_buf_puts(out, "junk");
		return rc;
	}
	return fl->inner->get(fl->inner, key, off, len, out);
}
static int flaky_put(arca_backend *be, const char *key, const void *d, size_t n, unsigned fl_)
{
	flaky *fl = (flaky *)be;
	int rc;
	if (fl->lose_reply) {
		/* stored, but the caller hears a timeout */
		fl->lose_reply--;
		rc = fl->inner->put(fl->inner, key, d, n, fl_);
		return rc ? rc : arca_error_set(ARCA_TRANSIENT, "timeout");
	}
	rc = flaky_fault(fl);
	return rc ? rc : fl->inner->put(fl->inner, key, d, n, fl_);
}
static int flaky_stat(arca_backend *be, const char *key, uint64_t *size)
{
	flaky *fl = (flaky *)be;
	int rc = flaky_fault(fl);
	return rc ? rc : fl->inner->stat(fl->inner, key, size);
}
static int flaky_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *p)
{
	flaky *fl = (flaky *)be;
	int rc = flaky_fault(fl);
	return rc ? rc : fl->inner->list(fl->inner, prefix, cb, p);
}
static int flaky_remove(arca_backend *be, const char *key)
{
	flaky *fl = (flaky *)be;
	int rc = flaky_fault(fl);
	return rc ? rc : fl->inner->remove(fl->inner, key);
}
static void flaky_free(arca_backend *be)
{
	flaky *fl = (flaky *)be;
	arca_backend_free(fl->inner);
	free(fl);
}

static flaky *flaky_new(int fails)
{
	flaky *fl = calloc(1, sizeof(*fl));
	assert_non_null(fl);
	assert_int_equal(arca_backend_mem_new(&fl->inner), 0);
	fl->base.version = ARCA_BACKEND_VERSION;
	fl->base.name = "flaky";
	fl->base.caps = 0; /* exercise the range and noreplace emulation too */
	fl->base.get = flaky_get;
	fl->base.put = flaky_put;
	fl->base.stat = flaky_stat;
	fl->base.list = flaky_list;
	fl->base.remove = flaky_remove;
	fl->base.free = flaky_free;
	fl->fails = fl->left = fails;
	return fl;
}

static void test_retry(void **state)
{
	flaky *fl = flaky_new(1);
	arca_backend *be = &fl->base;
	arca_buf b = ARCA_BUF_INIT;
	arca_be_stats st;
	seen s;

	put_str(be, "data/ab/x", "0123456789");
	arca_be_stats_get(be, &st);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.retries, 1);
	assert_int_equal(st.bytes_out, 10);

	assert_int_equal(arca_be_get(be, "data/ab/x", &b), 0);
	assert_int_equal(b.len, 10);
	assert_memory_equal(b.data, "0123456789", 10);
	arca_buf_clear(&b);
	/* no RANGE capability: the wrapper fetches the object and cuts */
	assert_int_equal(arca_be_get_range(be, "data/ab/x", 3, 4, &b), 0);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "3456", 4);
	arca_be_stats_get(be, &st);
	assert_int_equal(st.requests, 6);
	assert_int_equal(st.retries, 3);
	assert_int_equal(st.bytes_in, 14);
	assert_int_equal(arca_be_get_range(be, "data/ab/x", 8, 4, &b), ARCA_CORRUPT);

	/* NOREPLACE without the capability: emulated with a stat */
	assert_int_equal(arca_be_put(be, "data/ab/x", "y", 1, ARCA_PUT_NOREPLACE), ARCA_EXISTS);

	memset(&s, 0, sizeof(s));
	assert_int_equal(arca_be_list(be, "data/", collect, &s), 0);
	assert_int_equal(s.n, 1);
	assert_int_equal(arca_be_remove(be, "data/ab/x"), 0);
	/* after a failed attempt NOTFOUND may mean "our first try worked":
	 * the object is gone either way */
	assert_int_equal(arca_be_remove(be, "data/ab/x"), 0);
	fl->fails = fl->left = 0;
	assert_int_equal(arca_be_remove(be, "data/ab/x"), ARCA_NOTFOUND);

	/* a NOREPLACE put whose reply was lost: the retry finds our own
	 * bytes and succeeds; someone else's bytes are still ARCA_EXISTS */
	fl->base.caps = ARCA_BACKEND_CAP_NOREPLACE; /* the driver's own NOREPLACE */
	fl->lose_reply = 1;
	assert_int_equal(arca_be_put(be, "locks/l1", "mine", 4, ARCA_PUT_NOREPLACE), 0);
	assert_get(be, "locks/l1", "mine");
	fl->lose_reply = 1;
	assert_int_equal(arca_be_put(be, "locks/l1", "them", 4, ARCA_PUT_NOREPLACE), ARCA_EXISTS);
	fl->lose_reply = 1;
	assert_int_equal(arca_be_put(be, "locks/l2", "", 0, ARCA_PUT_NOREPLACE), 0);
	arca_backend_free(be);
	arca_buf_free(&b);
}

static void test_retry_gives_up(void **state)
{
	flaky *fl = flaky_new(1000);
	arca_backend *be = &fl->base;
	arca_be_stats st;
	uint64_t size;
	struct timespec t0, t1;
	double secs;

	char want[64];

	/* the time bound stops it: waits of 50, 100, ... 1600 ms with equal
	 * jitter (half to all of each) reach 2.5 s after 5 to 7 retries */
	setenv("ARCA_RETRY_MAX_SECONDS", "2.5", 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(arca_be_stat(be, "config", &size), ARCA_TRANSIENT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	unsetenv("ARCA_RETRY_MAX_SECONDS");
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	arca_be_stats_get(be, &st);
	assert_true(st.retries >= 5 && st.retries <= 7);
	assert_int_equal(fl->calls, st.retries + 1);
	assert_true(secs > 0.7 && secs < 2.5 + 0.5);
	snprintf(want, sizeof(want), "config in flaky (after %llu retries)", (unsigned long long)st.retries);
	assert_non_null(strstr(arca_error_message(), want));
	assert_non_null(strstr(arca_error_message(), "503 slow down"));
	arca_backend_free(be);
}

#define BOTH(t) cmocka_unit_test_setup_teardown(t, setup_local, teardown), \
		cmocka_unit_test_setup_teardown(t, setup_mem, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_put_get_stat),
		BOTH(test_range),
		BOTH(test_noreplace),
		BOTH(test_list),
		BOTH(test_remove),
		BOTH(test_remove_batch),
		BOTH(test_bad_keys),
		BOTH(test_threads),
		BOTH(test_get_many),
		cmocka_unit_test_setup_teardown(test_local_files, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_local_nospace, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_local_truncated, setup_local, teardown),
		cmocka_unit_test_setup_teardown(test_local_temps, setup_local, teardown),
		cmocka_unit_test(test_open_urls),
		cmocka_unit_test(test_ini),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_retry_gives_up),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
