/*
 * util/enc.h - the binary encoding every arca format is built from.
 *
 * Writers append little-endian fixed-width integers, unsigned LEB128
 * varints (always in the shortest form; readers reject padded forms, so a
 * value has exactly one encoding) and length-prefixed byte strings to an
 * arca_buf.  Readers walk a
 * borrowed byte range with bounds checks: the first failure latches
 * d->err and every later read returns zero/empty, so a decoder may read a
 * whole record and test arca_dec_ok() once.  Nothing a reader returns is
 * owned by the caller; pointers are into the input and live as long as it.
 */
#ifndef ARCA_UTIL_ENC_H
#define ARCA_UTIL_ENC_H

#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int arca_enc_u8(arca_buf *b, uint8_t v);
int arca_enc_u32(arca_buf *b, uint32_t v);
int arca_enc_u64(arca_buf *b, uint64_t v);
int arca_enc_varint(arca_buf *b, uint64_t v);
/* varint zigzag for signed values */
int arca_enc_svarint(arca_buf *b, int64_t v);
/* varint length then bytes */
int arca_enc_bytes(arca_buf *b, const void *p, size_t n);
int arca_enc_str(arca_buf *b, const char *s);

typedef struct arca_dec {
	const uint8_t *p;
	size_t len;
	size_t pos;
	bool err;
} arca_dec;

void arca_dec_init(arca_dec *d, const void *p, size_t len);
uint8_t arca_dec_u8(arca_dec *d);
uint32_t arca_dec_u32(arca_dec *d);
uint64_t arca_dec_u64(arca_dec *d);
uint64_t arca_dec_varint(arca_dec *d);
int64_t arca_dec_svarint(arca_dec *d);
/* Fixed-size raw bytes; returns a pointer into the input or NULL. */
const uint8_t *arca_dec_raw(arca_dec *d, size_t n);
/* Length-prefixed bytes; *n gets the length. Pointer into the input. */
const uint8_t *arca_dec_bytes(arca_dec *d, size_t *n);
/* Length-prefixed string copied into a new NUL-terminated heap string
 * (caller frees); rejects embedded NUL and lengths above max. */
char *arca_dec_strdup(arca_dec *d, size_t max);
size_t arca_dec_left(const arca_dec *d);
static inline bool arca_dec_ok(const arca_dec *d) { return !d->err; }

/* Little-endian helpers for fixed layouts. */
static inline void arca_put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t arca_get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void arca_put_le64(uint8_t *p, uint64_t v)
{
	arca_put_le32(p, (uint32_t)v); arca_put_le32(p + 4, (uint32_t)(v >> 32));
}
static inline uint64_t arca_get_le64(const uint8_t *p)
{
	return (uint64_t)arca_get_le32(p) | (uint64_t)arca_get_le32(p + 4) << 32;
}

#endif
