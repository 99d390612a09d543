/* util/base64.c - base64 and base64url (see base64.h). */
#include "util/base64.h"
#include "arca/error.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int arca_base64_encode(arca_buf *out, const void *p, size_t n, bool url)
{
	const char *a = url ? url_alpha : std_alpha;
	const uint8_t *s = p;
	size_t i, o;
	int rc;
	if ((rc = arca_buf_reserve(out, (n + 2) / 3 * 4)))
		return rc;
	o = out->len;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		out->data[o++] = (uint8_t)a[v >> 18];
		out->data[o++] = (uint8_t)a[(v >> 12) & 63];
		out->data[o++] = (uint8_t)a[(v >> 6) & 63];
		out->data[o++] = (uint8_t)a[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
		out->data[o++] = (uint8_t)a[v >> 18];
		out->data[o++] = (uint8_t)a[(v >> 12) & 63];
		if (i + 1 < n)
			out->data[o++] = (uint8_t)a[(v >> 6) & 63];
		else if (!url)
			out->data[o++] = '=';
		if (!url)
			out->data[o++] = '=';
	}
	out->len = o;
	return 0;
}

static int val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}


int arca_base64_decode(arca_buf *out, const char *s, size_t n)
{
	uint32_t acc = 0;
	size_t i, bits = 0, mark = out->len;
	int rc;
	while (n && s[n - 1] == '=')
		n--;
	if (n % 4 == 1)
		return arca_error_set(ARCA_INVAL, "invalid base64: bad length");
	for (i = 0; i < n; i++) {
		int v = val(s[i]);
		if (v < 0) {
			out->len = mark;
			return arca_error_set(ARCA_INVAL, "invalid base64 character at offset %zu", i);
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			uint8_t b = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
			if ((rc = arca_buf_put(out, &b, 1))) {
				out->len = mark;
				return rc;
			}
		}
	}
	return 0;
}
