/*
 * util/json.h - a small streaming JSON writer for --json output.
 *
 * It appends to an arca_buf and tracks whether a comma is needed, so
 * callers write keys and values in order.  Strings are escaped per RFC 8259
 * (control characters as \u00XX; invalid UTF-8 bytes as \u00XX of the
 * byte, so output stays valid JSON).  There is no parser here.
 */
#ifndef ARCA_UTIL_JSON_H
#define ARCA_UTIL_JSON_H

#include "util/buf.h"

#include <stdbool.h>
#include <stdint.h>

#define ARCA_JSON_MAX_DEPTH 32

typedef struct arca_json {
	arca_buf *out;
	int depth;
	bool need_comma[ARCA_JSON_MAX_DEPTH];
	bool after_key;
} arca_json;

void arca_json_init(arca_json *j, arca_buf *out);
void arca_json_obj_begin(arca_json *j);
void arca_json_obj_end(arca_json *j);
void arca_json_arr_begin(arca_json *j);
void arca_json_arr_end(arca_json *j);
void arca_json_key(arca_json *j, const char *k);
void arca_json_str(arca_json *j, const char *s);
void arca_json_strn(arca_json *j, const char *s, size_t n);
void arca_json_int(arca_json *j, int64_t v);
void arca_json_uint(arca_json *j, uint64_t v);
void arca_json_double(arca_json *j, double v);
void arca_json_bool(arca_json *j, bool v);
void arca_json_null(arca_json *j);
/* key + value shorthands */
void arca_json_kstr(arca_json *j, const char *k, const char *v);
void arca_json_kint(arca_json *j, const char *k, int64_t v);
void arca_json_kuint(arca_json *j, const char *k, uint64_t v);
void arca_json_kdouble(arca_json *j, const char *k, double v);
void arca_json_kbool(arca_json *j, const char *k, bool v);

#endif
