/*
 * pg/copy_scan.c - see copy_scan.h.
 */
#include "pg/copy_scan.h"

#include "arca/error.h"
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#define HEADER_MAX (1u << 16) /* longer lines are not COPY headers we parse */

void pg_copy_scan_init(pg_copy_scan *s)
{
	memset(s, 0, sizeof(*s));
	s->line = (arca_buf)ARCA_BUF_INIT;
}

void pg_copy_scan_free(pg_copy_scan *s)
{
	size_t i;
	for (i = 0; i < s->n; i++) {
		free(s->v[i].schema);
		free(s->v[i].name);
	}
	free(s->v);
	free(s->cur.schema);
	free(s->cur.name);
	arca_buf_free(&s->line);
	memset(s, 0, sizeof(*s));
}

/* One identifier as pg_dump writes it: "quoted" (with "" for ") or bare. */
static const char *ident(const char *p, const char *end, char **out)
{
	arca_buf b = ARCA_BUF_INIT;
	*out = NULL;
	if (p < end && *p == '"') {
		for (p++; p < end; p++) {
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"')
					p++;
				else
					break;
			}
			if (arca_buf_put(&b, p, 1))
				goto fail;
		}
		if (p == end)
			goto fail; /* unterminated */
		p++;
	} else {
		const char *s = p;
		while (p < end && *p != '.' && *p != ' ')
			p++;
		if (p == s || arca_buf_put(&b, s, (size_t)(p - s)))
			goto fail;
	}
	if (arca_buf_cstr(&b))
		goto fail;
	*out = (char *)arca_buf_detach(&b, NULL);
	return p;
fail:
	arca_buf_free(&b);
	return NULL;
}

bool pg_copy_header(const char *line, size_t n, char **schema, char **name)
{
	static const char pre[] = "COPY ", post[] = " FROM stdin;";
	const char *p = line, *end = line + n;
	*schema = *name = NULL;
	if (n < sizeof(pre) - 1 + sizeof(post) - 1 || memcmp(line, pre, sizeof(pre) - 1) ||
	    memcmp(end - (sizeof(post) - 1), post, sizeof(post) - 1))
		return false;
	p += sizeof(pre) - 1;
	if (!(p = ident(p, end, schema)) || p >= end || *p != '.' || !(p = ident(p + 1, end, name)) || p >= end ||
	    *p != ' ') {
		free(*schema);
		free(*name);
		*schema = *name = NULL;
		return false;
	}
	return true;
}

static void end_block(pg_copy_scan *s)
{
	if (arca_grow(&s->v, &s->cap, s->n + 1, sizeof(*s->v), 32)) {
		if (!s->rc)
			s->rc = ARCA_NOMEM;
		free(s->cur.schema);
		free(s->cur.name);
		memset(&s->cur, 0, sizeof(s->cur));
		return;
	}
	s->v[s->n++] = s->cur;
	memset(&s->cur, 0, sizeof(s->cur));
}

static void header_line(pg_copy_scan *s)
{
	if (s->too_long || !pg_copy_header((const char *)s->line.data, s->line.len, &s->cur.schema, &s->cur.name))
		return;
	s->cur.rows = 0;
	s->in_copy = true;
	s->lpos = 0;
}

void pg_copy_scan_feed(pg_copy_scan *s, const void *data, size_t n)
{
	const char *p = data, *end = p + n;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t seg = (size_t)((nl ? nl : end) - p);
		if (s->in_copy) {
			size_t i;
			for (i = 0; i < seg && s->lpos + i < 2; i++)
				s->head[s->lpos + i] = p[i];
			s->lpos += seg;
			if (nl) {
				if (s->lpos == 2 && s->head[0] == '\\' && s->head[1] == '.') {
					s->in_copy = false;
					end_block(s);
				} else {
					s->cur.rows++;
				}
				s->lpos = 0;
			}
		} else {
			if (!s->too_long && s->line.len + seg <= HEADER_MAX) {
				if (arca_buf_put(&s->line, p, seg) && !s->rc)
					s->rc = ARCA_NOMEM;
			} else {
				s->too_long = true;
			}
			if (nl) {
				header_line(s);
				arca_buf_clear(&s->line);
				s->too_long = false;
			}
		}
		p += seg + (nl ? 1 : 0);
	}
}

int pg_copy_scan_rows(const pg_copy_scan *s, const char *schema, const char *name, uint64_t *rows)
{
	size_t i;
	if (s->rc)
		return arca_error_set(s->rc, "out of memory counting the dump's rows");
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].schema, schema) && !strcmp(s->v[i].name, name)) {
			*rows = s->v[i].rows;
			return 1;
		}
	return 0;
}
