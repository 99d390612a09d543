/* util/json.c - streaming JSON writer (see json.h).  Allocation failures
 * are latched by the buffer's next growth; output is best effort. */
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void arca_json_init(arca_json *j, arca_buf *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

static void sep(arca_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth > 0 && j->need_comma[j->depth])
		arca_buf_put(j->out, ",", 1);
	if (j->depth > 0)
		j->need_comma[j->depth] = true;
}

static void open_(arca_json *j, char c)
{
	sep(j);
	arca_buf_put(j->out, &c, 1);
	if (j->depth < ARCA_JSON_MAX_DEPTH - 1)
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_(arca_json *j, char c)
{
	arca_buf_put(j->out, &c, 1);
	if (j->depth > 0)
		j->depth--;
}

void arca_json_obj_begin(arca_json *j) { open_(j, '{'); }
void arca_json_obj_end(arca_json *j) { close_(j, '}'); }
void arca_json_arr_begin(arca_json *j) { open_(j, '['); }
void arca_json_arr_end(arca_json *j) { close_(j, ']'); }

/* Length of a valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t need, i;
	uint32_t cp;
	if (s[0] < 0x80) return 1;
	if ((s[0] & 0xe0) == 0xc0) { need = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { need = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { need = 4; cp = s[0] & 0x07; }
	else return 0;
	if (n < need) return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80) return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x80) || (need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

static void put_escaped(arca_buf *b, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;
	arca_buf_put(b, "\"", 1);
	while (i < n) {
		unsigned char c = p[i];
		size_t l;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			arca_buf_put(b, e, 2);
			i++;
		} else if (c == '\n') { arca_buf_put(b, "\\n", 2); i++; }
		else if (c == '\t') { arca_buf_put(b, "\\t", 2); i++; }
		else if (c == '\r') { arca_buf_put(b, "\\r", 2); i++; }
		else if (c < 0x20 || c == 0x7f) { arca_buf_printf(b, "\\u%04x", c); i++; }
		else if ((l = utf8_len(p + i, n - i)) > 0) { arca_buf_put(b, p + i, l); i += l; }
		else { arca_buf_printf(b, "\\u%04x", c); i++; }
	}
	arca_buf_put(b, "\"", 1);
}

void arca_json_key(arca_json *j, const char *k)
{
	sep(j);
	put_escaped(j->out, k, strlen(k));
	arca_buf_put(j->out, ":", 1);
	j->after_key = true;
}

void arca_json_strn(arca_json *j, const char *s, size_t n)
{
	sep(j);
	put_escaped(j->out, s, n);
}
void arca_json_str(arca_json *j, const char *s)
{
	if (!s) {
		arca_json_null(j);
		return;
	}
	arca_json_strn(j, s, strlen(s));
}
void arca_json_int(arca_json *j, int64_t v) { sep(j); arca_buf_printf(j->out, "%lld", (long long)v); }
void arca_json_uint(arca_json *j, uint64_t v) { sep(j); arca_buf_printf(j->out, "%llu", (unsigned long long)v); }
void arca_json_double(arca_json *j, double v)
{
	sep(j);
	if (isfinite(v))
		arca_buf_printf(j->out, "%.6g", v);
	else
		arca_buf_puts(j->out, "null");
}
void arca_json_bool(arca_json *j, bool v) { sep(j); arca_buf_puts(j->out, v ? "true" : "false"); }
void arca_json_null(arca_json *j) { sep(j); arca_buf_puts(j->out, "null"); }
void arca_json_kstr(arca_json *j, const char *k, const char *v) { arca_json_key(j, k); arca_json_str(j, v); }
void arca_json_kint(arca_json *j, const char *k, int64_t v) { arca_json_key(j, k); arca_json_int(j, v); }
void arca_json_kuint(arca_json *j, const char *k, uint64_t v) { arca_json_key(j, k); arca_json_uint(j, v); }
void arca_json_kdouble(arca_json *j, const char *k, double v) { arca_json_key(j, k); arca_json_double(j, v); }
void arca_json_kbool(arca_json *j, const char *k, bool v) { arca_json_key(j, k); arca_json_bool(j, v); }
