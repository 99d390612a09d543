/*
 * util/buf.h - the one growable byte buffer of the code base.
 *
 * An arca_buf owns its data.  A zero-initialised buf (ARCA_BUF_INIT) is
 * empty and valid.  Growth failures return ARCA_NOMEM and leave the buffer
 * unchanged.  arca_buf_free() accepts an empty buffer.
 *
 * arca_grow() is the same doubling growth for arrays of any element type
 * (a pointer, a count and a capacity kept by the caller).
 */
#ifndef ARCA_UTIL_BUF_H
#define ARCA_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

typedef struct arca_buf {
	uint8_t *data;
	size_t len;
	size_t cap;
} arca_buf;

#define ARCA_BUF_INIT { NULL, 0, 0 }

/* Room for extra more bytes (and a NUL).  From 4 MiB on, the room is
 * allocated as arca_alloc_big() does. */
int arca_buf_reserve(arca_buf *b, size_t extra);
/* malloc(n), but from 4 MiB on 2 MiB-aligned, rounded up to 2 MiB and
 * advised for transparent huge pages (see buf.c); free() it. */
void *arca_alloc_big(size_t n);
int arca_buf_put(arca_buf *b, const void *p, size_t n);
int arca_buf_puts(arca_buf *b, const char *s);
int arca_buf_printf(arca_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Make data NUL-terminated (not counted in len). */
int arca_buf_cstr(arca_buf *b);
void arca_buf_clear(arca_buf *b);
void arca_buf_free(arca_buf *b);
/* Hand the memory to the caller (free() it); the buf becomes empty. */
uint8_t *arca_buf_detach(arca_buf *b, size_t *len);

/*
 * Make room for at least need elements of elem_size bytes in a realloc'ed
 * array.  parr is the address of the caller's array pointer (a T ** for an
 * array of T; NULL when nothing is allocated yet) and cap its capacity in
 * elements.  When need > *cap the capacity becomes first_cap (when *cap is
 * 0) or *cap, doubled until it covers need; the pointer and *cap are
 * updated.  Typical use, before appending one element:
 *     if ((rc = arca_grow(&l->v, &l->cap, l->n + 1, sizeof(*l->v), 64)))
 *             return rc;
 * Returns 0, or ARCA_NOMEM (message recorded) when memory runs out or the
 * size in bytes would overflow; then the array and *cap are unchanged.
 * elem_size and first_cap must not be 0.
 */
int arca_grow(void *parr, size_t *cap, size_t need, size_t elem_size, size_t first_cap);

#endif
