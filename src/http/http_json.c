/*
 * http/http_json.c - read-only access to JSON documents over jansson, for
 * the GCS JSON API and OAuth2 token responses.  An arca_jv is a json_t in
 * disguise: the cast keeps jansson's types out of every other module.
 */
#include "http/http.h"
#include "arca/error.h"

#include <jansson.h>

#include <stdlib.h>

static const json_t *J(const arca_jv *v) { return (const json_t *)v; }

int arca_jv_parse(arca_jv **root, const void *p, size_t n, const char *what)
{
	json_error_t err;
	json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &err);
	*root = NULL;
	if (!j)
		return arca_error_set(ARCA_CORRUPT, "%s: bad json response (%s at line %d)", what, err.text,
				      err.line);
	*root = (arca_jv *)j;
	return 0;
}

void arca_jv_free(arca_jv *root)
{
	if (root)
		json_decref((json_t *)root);
}

const arca_jv *arca_jv_get(const arca_jv *v, const char *key)
{
	if (!v || !json_is_object(J(v)))
		return NULL;
	return (const arca_jv *)json_object_get(J(v), key);
}

size_t arca_jv_len(const arca_jv *v) { return v && json_is_array(J(v)) ? json_array_size(J(v)) : 0; }

const arca_jv *arca_jv_at(const arca_jv *v, size_t i)
{
	if (!v || !json_is_array(J(v)))
		return NULL;
	return (const arca_jv *)json_array_get(J(v), i);
}

const char *arca_jv_str(const arca_jv *v) { return v && json_is_string(J(v)) ? json_string_value(J(v)) : NULL; }

bool arca_jv_int(const arca_jv *v, int64_t *out)
{
	const char *s;
	char *end;
	long long x;
	if (!v)
		return false;
	if (json_is_integer(J(v))) {
		*out = (int64_t)json_integer_value(J(v));
		return true;
	}
	if (!(s = arca_jv_str(v)) || *s < '0' || *s > '9')
		return false;
	x = strtoll(s, &end, 10);
	if (*end)
		return false;
	*out = (int64_t)x;
	return true;
}
