/* util/enc.c - binary encoding primitives (see enc.h). */
#include "util/enc.h"
#include "arca/error.h"

#include <stdlib.h>
#include <string.h>

int arca_enc_u8(arca_buf *b, uint8_t v) { return arca_buf_put(b, &v, 1); }

int arca_enc_u32(arca_buf *b, uint32_t v)
{
	uint8_t t[4];
	arca_put_le32(t, v);
	return arca_buf_put(b, t, 4);
}

int arca_enc_u64(arca_buf *b, uint64_t v)
{
	uint8_t t[8];
	arca_put_le64(t, v);
	return arca_buf_put(b, t, 8);
}

int arca_enc_varint(arca_buf *b, uint64_t v)
{
	uint8_t t[10];
	size_t n = 0;
	do {
		uint8_t c = v & 0x7f;
		v >>= 7;
		t[n++] = c | (v ? 0x80 : 0);
	} while (v);
	return arca_buf_put(b, t, n);
}

int arca_enc_svarint(arca_buf *b, int64_t v)
{
	return arca_enc_varint(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

int arca_enc_bytes(arca_buf *b, const void *p, size_t n)
{
	int rc = arca_enc_varint(b, n);
	return rc ? rc : arca_buf_put(b, p, n);
}

int arca_enc_str(arca_buf *b, const char *s) { return arca_enc_bytes(b, s ? s : "", s ? strlen(s) : 0); }

void arca_dec_init(arca_dec *d, const void *p, size_t len)
{
	d->p = p;
	d->len = len;
	d->pos = 0;
	d->err = false;
}

size_t arca_dec_left(const arca_dec *d) { return d->err ? 0 : d->len - d->pos; }

const uint8_t *arca_dec_raw(arca_dec *d, size_t n)
{
	const uint8_t *r;
	if (d->err || n > d->len - d->pos) {
		d->err = true;
		return NULL;
	}
	r = d->p + d->pos;
	d->pos += n;
	return r;
}

uint8_t arca_dec_u8(arca_dec *d)
{
	const uint8_t *p = arca_dec_raw(d, 1);
	return p ? p[0] : 0;
}

uint32_t arca_dec_u32(arca_dec *d)
{
	const uint8_t *p = arca_dec_raw(d, 4);
	return p ? arca_get_le32(p) : 0;
}

uint64_t arca_dec_u64(arca_dec *d)
{
	const uint8_t *p = arca_dec_raw(d, 8);
	return p ? arca_get_le64(p) : 0;
}

uint64_t arca_dec_varint(arca_dec *d)
{
	uint64_t v = 0;
	unsigned shift = 0;
	for (;;) {
		const uint8_t *p = arca_dec_raw(d, 1);
		if (!p)
			return 0;
		if (shift == 63 && (*p & 0x7e)) {
			d->err = true; /* more than 64 bits */
			return 0;
		}
		v |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80)) {
			if (*p == 0 && shift > 0) {
				d->err = true; /* not the shortest form: one value, one encoding */
				return 0;
			}
			return v;
		}
		shift += 7;
		if (shift > 63) {
			d->err = true;
			return 0;
		}
	}
}

int64_t arca_dec_svarint(arca_dec *d)
{
	uint64_t u = arca_dec_varint(d);
	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

const uint8_t *arca_dec_bytes(arca_dec *d, size_t *n)
{
	uint64_t len = arca_dec_varint(d);
	const uint8_t *p;
	if (d->err || len > d->len - d->pos) {
		d->err = true;
		*n = 0;
		return NULL;
	}
	p = arca_dec_raw(d, (size_t)len);
	*n = p ? (size_t)len : 0;
	return p;
}

char *arca_dec_strdup(arca_dec *d, size_t max)
{
	size_t n;
	const uint8_t *p = arca_dec_bytes(d, &n);
	char *s;
	if (!p && d->err)
		return NULL;
	if (n > max || (n && memchr(p, 0, n))) {
		d->err = true;
		return NULL;
	}
	s = malloc(n + 1);
	if (!s) {
		d->err = true;
		return NULL;
	}
	if (n)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}
