/*
 * tests/unit/test_audit.c - audit log entries: encode/decode round trip,
 * unknown tags skipped, strict refusal of malformed input, and appending
 * to and listing a real repository (sorted by time, filtered by since,
 * damaged entries skipped).
 */
#include "arca/snapshot.h"
#include "util/enc.h"

#include <ftw.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static arca_audit_entry sample(arca_id *ids)
{
	arca_audit_entry e;
	memset(&e, 0, sizeof(e));
	memset(&ids[0], 0xab, sizeof(ids[0]));
	memset(&ids[1], 0x01, sizeof(ids[1]));
	e.time_ns = 1763800000123456789LL;
	e.host = "db-1";
	e.user = "alice";
	e.op = "restore";
	e.result = "failed";
	e.snapshots = ids;
	e.nsnapshots = 2;
	e.bytes = 1ull << 40;
	e.duration_ms = 12345;
	e.error = "cannot create /srv: permission denied";
	e.detail = "target /srv";
	e.exit_code = 1;
	return e;
}

static void test_roundtrip(void **state)
{
	arca_id ids[2];
	arca_audit_entry e = sample(ids), *d = NULL;
	arca_buf b = ARCA_BUF_INIT, b2 = ARCA_BUF_INIT;
	(void)state;
	assert_int_equal(arca_audit_encode(&e, &b), 0);
	assert_int_equal(arca_audit_decode(&d, b.data, b.len), 0);
	assert_true(d->time_ns == e.time_ns);
	assert_string_equal(d->host, "db-1");
	assert_string_equal(d->user, "alice");
	assert_string_equal(d->op, "restore");
	assert_string_equal(d->result, "failed");
	assert_int_equal(d->nsnapshots, 2);
	assert_memory_equal(d->snapshots, ids, sizeof(ids));
	assert_true(d->bytes == e.bytes);
	assert_int_equal(d->duration_ms, 12345);
	assert_string_equal(d->error, e.error);
	assert_string_equal(d->detail, e.detail);
	assert_int_equal(d->exit_code, 1);
	assert_int_equal(arca_audit_encode(d, &b2), 0);
	assert_int_equal(b.len, b2.len);
	assert_memory_equal(b.data, b2.data, b.len);
	arca_audit_free(d);

	/* minimal: no host, user, snapshots, error, detail */
	e.host = e.user = e.error = e.detail = NULL;
	e.nsnapshots = 0;
	e.time_ns = -5;
	arca_buf_clear(&b);
	assert_int_equal(arca_audit_encode(&e, &b), 0);
	assert_int_equal(arca_audit_decode(&d, b.data, b.len), 0);
	assert_null(d->host);
	assert_null(d->error);
	assert_int_equal(d->nsnapshots, 0);
	assert_true(d->time_ns == -5);
	arca_audit_free(d);

	/* op and result are required to encode */
	e.op = NULL;
	assert_int_equal(arca_audit_encode(&e, &b), ARCA_INVAL);
	arca_buf_free(&b);
	arca_buf_free(&b2);
}

static void test_unknown_tag_skipped(void **state)
{
	arca_id ids[2];
	arca_audit_entry e = sample(ids), *d = NULL;
	arca_buf b = ARCA_BUF_INIT;
	(void)state;
	assert_int_equal(arca_audit_encode(&e, &b), 0);
	assert_int_equal(arca_enc_varint(&b, 999), 0);
	assert_int_equal(arca_enc_str(&b, "a field from the future"), 0);
	assert_int_equal(arca_audit_decode(&d, b.data, b.len), 0);
	assert_string_equal(d->op, "restore");
	arca_audit_free(d);
	arca_buf_free(&b);
}

static void expect_corrupt(const arca_buf *b)
{
	arca_audit_entry *d = (arca_audit_entry *)1;
	assert_int_equal(arca_audit_decode(&d, b->data, b->len), ARCA_CORRUPT);
	assert_null(d);
}

static void test_malformed(void **state)
{
	arca_id ids[2];
	arca_audit_entry e = sample(ids);
	arca_buf b = ARCA_BUF_INIT, x = ARCA_BUF_INIT;
	size_t cut;
	(void)state;
	assert_int_equal(arca_audit_encode(&e, &b), 0);
	/* every truncation is refused (the last field, exit code, is required
	 * only to be whole: cutting it off entirely leaves a valid entry) */
	for (cut = 0; cut < b.len - 2; cut++) {
		arca_audit_entry *d = NULL;
		int rc = arca_audit_decode(&d, b.data, cut);
		if (rc == 0) {
			arca_audit_free(d);
			continue;
		}
		assert_int_equal(rc, ARCA_CORRUPT);
		assert_null(d);
	}
	x.len = 0;
	expect_corrupt(&x); /* empty */
	/* wrong version */
	arca_buf_put(&x, b.data, b.len);
	x.data[0] = 2;
	expect_corrupt(&x);
	/* a short snapshot id */
	arca_buf_clear(&x);
	arca_enc_u8(&x, 1);
	arca_enc_varint(&x, 1), arca_enc_bytes(&x, "\x02", 1);
	arca_enc_varint(&x, 4), arca_enc_str(&x, "backup");
	arca_enc_varint(&x, 5), arca_enc_str(&x, "ok");
	{
		arca_buf ok = ARCA_BUF_INIT;
		arca_audit_entry *d = NULL;
		arca_buf_put(&ok, x.data, x.len);
		assert_int_equal(arca_audit_decode(&d, ok.data, ok.len), 0);
		arca_audit_free(d);
		arca_enc_varint(&ok, 6), arca_enc_bytes(&ok, ids, 31);
		expect_corrupt(&ok);
		/* an embedded NUL in a string */
		arca_buf_clear(&ok);
		arca_buf_put(&ok, x.data, x.len);
		arca_enc_varint(&ok, 2), arca_enc_bytes(&ok, "a\0b", 3);
		expect_corrupt(&ok);
		/* trailing bytes after a numeric value */
		arca_buf_clear(&ok);
		arca_buf_put(&ok, x.data, x.len);
		arca_enc_varint(&ok, 7), arca_enc_bytes(&ok, "\x01\x01", 2);
		expect_corrupt(&ok);
		/* a length running past the end */
		arca_buf_clear(&ok);
		arca_buf_put(&ok, x.data, x.len);
		arca_enc_varint(&ok, 10), arca_enc_varint(&ok, 100);
		expect_corrupt(&ok);
		arca_buf_free(&ok);
	}
	/* no operation */
	arca_buf_clear(&x);
	arca_enc_u8(&x, 1);
	arca_enc_varint(&x, 1), arca_enc_bytes(&x, "\x02", 1);
	arca_enc_varint(&x, 5), arca_enc_str(&x, "ok");
	expect_corrupt(&x);
	arca_buf_free(&x);
	arca_buf_free(&b);
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(p);
}

static int warned;
static void count_warn(const char *msg, void *payload)
{
	(void)msg, (void)payload;
	warned++;
}

static void test_list(void **state)
{
	char dir[] = "/tmp/arca-test-audit.XXXXXX", repo[128], cache[128], path[512];
	arca_repo_init_opts io = ARCA_REPO_INIT_OPTS_INIT;
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	static const int64_t times[] = { 300, 100, 200, 400 };
	static const char *const ops[] = { "check", "backup", "restore", "prune" };
	arca_audit_entry **v = NULL;
	arca_repo *r = NULL;
	size_t n, i;
	FILE *f;
	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(repo, sizeof(repo), "%s/repo", dir);
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	io.kdf_t = 1;
	io.kdf_m_kib = 8192;
	oo.cache_dir = cache;
	oo.warn = count_warn;
	if (arca_repo_init(&r, repo, "secret", &io, &oo))
		fail_msg("init: %s", arca_error_message());
	assert_int_equal(arca_audit_list(r, 0, &v, &n), 0); /* no log/ yet */
	assert_int_equal(n, 0);
	for (i = 0; i < 4; i++) {
		arca_audit_entry e;
		memset(&e, 0, sizeof(e));
		e.time_ns = times[i];
		e.op = (char *)ops[i];
		e.result = "ok";
		assert_int_equal(arca_audit_append(r, &e), 0);
	}
	/* a damaged entry is skipped with a warning */
	snprintf(path, sizeof(path), "%s/log/%064d", repo, 0);
	assert_non_null(f = fopen(path, "w"));
	fputs("garbage", f);
	fclose(f);
	warned = 0;
	assert_int_equal(arca_audit_list(r, 0, &v, &n), 0);
	assert_int_equal(warned, 1);
	assert_int_equal(n, 4);
	assert_string_equal(v[0]->op, "backup");
	assert_string_equal(v[1]->op, "restore");
	assert_string_equal(v[2]->op, "check");
	assert_string_equal(v[3]->op, "prune");
	for (i = 1; i < n; i++)
		assert_true(v[i - 1]->time_ns <= v[i]->time_ns);
	arca_audit_list_free(v, n);
	assert_int_equal(arca_audit_list(r, 250, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0]->op, "check");
	assert_string_equal(v[1]->op, "prune");
	arca_audit_list_free(v, n);
	arca_repo_close(r);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_unknown_tag_skipped),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
