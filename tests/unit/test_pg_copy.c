/*
 * tests/unit/test_pg_copy.c - row counts read off a plain dump's COPY
 * blocks (src/pg/copy_scan.c): every split of the stream gives the same
 * counts; quoted names, empty tables, empty rows and lines that merely
 * start like the end marker; headers that are not COPY ... FROM stdin.
 */
#include "pg/copy_scan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char dump[] =
	"--\n-- PostgreSQL database dump\n--\n"
	"CREATE TABLE public.t (a int);\n"
	"COPY public.t (a) FROM stdin;\n1\n2\n3\n\\.\n"
	"\n"
	"COPY public.empty (a) FROM stdin;\n\\.\n"
	"COPY \"Odd Schema\".\"ta\"\"ble.x\" (a, b) FROM stdin;\n\\.x\n\n\\\\.\n4\t\\N\n\\.\n"
	"COPY public.nocols  FROM stdin;\n\n\n\\.\n"
	"-- COPY public.fake (a) FROM stdin;\n"
	"SELECT 'COPY public.fake2 (a) FROM stdin;';\n";

static void check(const pg_copy_scan *s)
{
	uint64_t rows = 99;
	assert_int_equal(pg_copy_scan_rows(s, "public", "t", &rows), 1);
	assert_int_equal(rows, 3);
	assert_int_equal(pg_copy_scan_rows(s, "public", "empty", &rows), 1);
	assert_int_equal(rows, 0);
	assert_int_equal(pg_copy_scan_rows(s, "Odd Schema", "ta\"ble.x", &rows), 1);
	assert_int_equal(rows, 4);
	assert_int_equal(pg_copy_scan_rows(s, "public", "nocols", &rows), 1);
	assert_int_equal(rows, 2);
	assert_int_equal(pg_copy_scan_rows(s, "public", "fake", &rows), 0);
	assert_int_equal(pg_copy_scan_rows(s, "public", "fake2", &rows), 0);
}

static void test_whole_and_split(void **state)
{
	size_t n = sizeof(dump) - 1, step, i;
	(void)state;
	for (step = 1; step <= n; step = step < 8 ? step + 1 : step * 2) {
		pg_copy_scan s;
		pg_copy_scan_init(&s);
		for (i = 0; i < n; i += step)
			pg_copy_scan_feed(&s, dump + i, i + step <= n ? step : n - i);
		check(&s);
		pg_copy_scan_free(&s);
	}
}

static void test_unfinished_block(void **state)
{
	static const char cut[] = "COPY public.t (a) FROM stdin;\n1\n2\n";
	pg_copy_scan s;
	uint64_t rows;
	(void)state;
	pg_copy_scan_init(&s);
	pg_copy_scan_feed(&s, cut, sizeof(cut) - 1);
	/* a block without its end marker does not count: the dump was cut */
	assert_int_equal(pg_copy_scan_rows(&s, "public", "t", &rows), 0);
	pg_copy_scan_free(&s);
}

static void test_headers(void **state)
{
	char *sc, *nm;
	(void)state;
	assert_true(pg_copy_header("COPY a.b (x) FROM stdin;", 24, &sc, &nm));
	assert_string_equal(sc, "a");
	assert_string_equal(nm, "b");
	free(sc);
	free(nm);
	assert_false(pg_copy_header("COPY b (x) FROM stdin;", 22, &sc, &nm));
	assert_false(pg_copy_header("COPY \"a.b (x) FROM stdin;", 25, &sc, &nm));
	assert_false(pg_copy_header("COPY a.b (x) TO stdout;", 23, &sc, &nm));
	assert_null(sc);
	assert_null(nm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_split),
		cmocka_unit_test(test_unfinished_block),
		cmocka_unit_test(test_headers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
