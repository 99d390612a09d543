/*
 * pg/copy_scan.h - exact row counts of a plain pg_dump, read off the dump
 * itself as it streams past.
 *
 * In a plain dump each table's rows are one COPY block:
 *     COPY schema.table (col, ...) FROM stdin;
 *     <one line per row: COPY text format escapes newlines in values>
 *     \.
 * so counting the lines of each block gives exactly the rows dumped,
 * without a second scan of every table on the server.  The scanner looks
 * at line starts only (memchr to the next newline), keeps no row data, and
 * works on any split of the stream into pieces.
 */
#ifndef ARCA_PG_COPY_SCAN_H
#define ARCA_PG_COPY_SCAN_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct pg_copy_count {
	char *schema, *name;
	uint64_t rows;
} pg_copy_count;

typedef struct pg_copy_scan {
	arca_buf line; /* the current line outside COPY blocks (a header candidate) */
	bool too_long; /* that line outgrew the buffer: not a header we can read */
	bool in_copy;
	size_t lpos;  /* bytes of the current COPY line so far */
	char head[2]; /* its first two bytes */
	pg_copy_count cur;
	pg_copy_count *v; /* finished blocks */
	size_t n, cap;
	int rc; /* first failure (out of memory), reported by pg_copy_scan_rows */
} pg_copy_scan;

void pg_copy_scan_init(pg_copy_scan *s);
void pg_copy_scan_feed(pg_copy_scan *s, const void *p, size_t n);
/* Rows of schema.name if its COPY block was seen whole: 1, else 0; <0 on
 * an earlier failure of the scan. */
int pg_copy_scan_rows(const pg_copy_scan *s, const char *schema, const char *name, uint64_t *rows);
void pg_copy_scan_free(pg_copy_scan *s);

/* Parse the table of a "COPY a.b (...) FROM stdin;" line (for tests). */
bool pg_copy_header(const char *line, size_t n, char **schema, char **name);

#endif
