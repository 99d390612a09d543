/*
 * tests/unit/test_scan.c - directory listings and the scanner thread that
 * reads them ahead of the archiver: entries sorted by name with their
 * lstat, excluded names left out, an unreadable directory reported in the
 * listing, the scanner's order (depth first, a directory before its
 * subdirectories, roots in the given order), a bounded queue, and the
 * fallback when the archiver asks for another directory than the next.
 */
#include "snapshot/scan.h"
#include "arca/error.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char root[256];

static void mk(const char *rel, bool dir)
{
	char p[512];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (dir) {
		assert_int_equal(mkdir(p, 0755), 0);
	} else {
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, rel, strlen(rel)), (ssize_t)strlen(rel));
		close(fd);
	}
}

/* root/{b/{y, x/}, a.txt, c/, skip.tmp, z/{deep/}}, plus root2/{q} */
static int setup(void **state)
{
	snprintf(root, sizeof(root), "/tmp/arca-test-scan.XXXXXX");
	assert_non_null(mkdtemp(root));
	mk("t", true);
	mk("t/b", true);
	mk("t/b/y", false);
	mk("t/b/x", true);
	mk("t/a.txt", false);
	mk("t/c", true);
	mk("t/skip.tmp", false);
	mk("t/z", true);
	mk("t/z/deep", true);
	mk("u", true);
	mk("u/q", false);
	return 0;
}

static int teardown(void **state)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static bool skip_tmp(const char *path, const char *name, void *payload)
{
	size_t l = strlen(name);
	(*(int *)payload)++;
	assert_non_null(strstr(path, name)); /* the full path ends with the name */
	return l > 4 && !strcmp(name + l - 4, ".tmp");
}

static void path_of(char *out, size_t n, const char *rel) { snprintf(out, n, "%s/%s", root, rel); }

static void test_listing_sorted_stated_filtered(void **state)
{
	char p[512];
	arca_listing *l;
	int calls = 0;
	path_of(p, sizeof(p), "t");
	assert_int_equal(arca_listing_read(&l, AT_FDCWD, p, p, skip_tmp, &calls), 0);
	assert_int_equal(l->err, 0);
	assert_true(l->fd >= 0);
	assert_int_equal(calls, 5);
	assert_int_equal(l->n, 4);
	assert_string_equal(l->v[0].name, "a.txt");
	assert_string_equal(l->v[1].name, "b");
	assert_string_equal(l->v[2].name, "c");
	assert_string_equal(l->v[3].name, "z");
	assert_true(S_ISREG(l->v[0].st.st_mode));
	assert_int_equal(l->v[0].st.st_size, (off_t)strlen("t/a.txt"));
	assert_true(S_ISDIR(l->v[1].st.st_mode));
	assert_string_equal(l->path, p);
	arca_listing_release(l);

	/* an empty directory, and one that does not exist */
	path_of(p, sizeof(p), "t/c");
	assert_int_equal(arca_listing_read(&l, AT_FDCWD, p, p, NULL, NULL), 0);
	assert_int_equal(l->err, 0);
	assert_int_equal(l->n, 0);
	arca_listing_release(l);
	path_of(p, sizeof(p), "t/none");
	assert_int_equal(arca_listing_read(&l, AT_FDCWD, p, p, NULL, NULL), 0);
	assert_int_equal(l->err, ENOENT);
	assert_int_equal(l->fd, -1);
	arca_listing_release(l);

	/* a file is not a directory */
	path_of(p, sizeof(p), "t/a.txt");
	assert_int_equal(arca_listing_read(&l, AT_FDCWD, p, p, NULL, NULL), 0);
	assert_int_equal(l->err, ENOTDIR);
	arca_listing_release(l);
}

static void test_child_path(void **state)
{
	char *b = NULL;
	size_t cap = 0;
	assert_int_equal(arca_scan_child_path(&b, &cap, "/", "etc"), 0);
	assert_string_equal(b, "/etc");
	assert_int_equal(arca_scan_child_path(&b, &cap, "/a/b", "c"), 0);
	assert_string_equal(b, "/a/b/c");
	free(b);
}

/* Take the next listing, which must be for rel, and check its names. */
static void expect_next(arca_scanner *s, const char *rel, const char *names)
{
	char p[512], got[512] = "";
	arca_listing *l;
	path_of(p, sizeof(p), rel);
	l = arca_scanner_next(s, p);
	assert_non_null(l);
	assert_string_equal(l->path, p);
	for (size_t i = 0; i < l->n; i++) {
		strcat(got, l->v[i].name);
		strcat(got, " ");
	}
	assert_string_equal(got, names);
	arca_listing_release(l);
}

static void test_scanner_order(void **state)
{
	char r1[512], r2[512], r3[512];
	char *roots[3] = { r1, r2, r3 };
	arca_scanner *s;
	int calls = 0;
	path_of(r1, sizeof(r1), "t");
	path_of(r2, sizeof(r2), "t/a.txt"); /* not a directory: passed over */
	path_of(r3, sizeof(r3), "u");
	/* a queue of one listing: the scanner waits for the consumer */
	assert_int_equal(arca_scanner_start(&s, roots, 3, skip_tmp, &calls, 1), 0);
	expect_next(s, "t", "a.txt b c z ");
	expect_next(s, "t/b", "x y ");
	expect_next(s, "t/b/x", "");
	expect_next(s, "t/c", "");
	expect_next(s, "t/z", "deep ");
	expect_next(s, "t/z/deep", "");
	expect_next(s, "u", "q ");
	assert_null(arca_scanner_next(s, "/nothing/more"));
	arca_scanner_free(s);
}

static void test_scanner_out_of_step(void **state)
{
	char r1[512], p[512];
	char *roots[1] = { r1 };
	arca_scanner *s;
	path_of(r1, sizeof(r1), "t");
	assert_int_equal(arca_scanner_start(&s, roots, 1, NULL, NULL, 4), 0);
	expect_next(s, "t", "a.txt b c skip.tmp z ");
	/* the archiver wants t/c, the scanner has t/b next: it gives up */
	path_of(p, sizeof(p), "t/c");
	assert_null(arca_scanner_next(s, p));
	/* and stays given up, even for the directory it had ready */
	path_of(p, sizeof(p), "t/b");
	assert_null(arca_scanner_next(s, p));
	arca_scanner_free(s);

	/* freed while it still holds listings and waits to queue more */
	assert_int_equal(arca_scanner_start(&s, roots, 1, NULL, NULL, 1), 0);
	usleep(10000);
	arca_scanner_free(s);
	arca_scanner_free(NULL);
	assert_null(arca_scanner_next(NULL, r1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_listing_sorted_stated_filtered),
		cmocka_unit_test(test_child_path),
		cmocka_unit_test(test_scanner_order),
		cmocka_unit_test(test_scanner_out_of_step),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
