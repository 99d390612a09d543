/* util/buf.c - growable byte buffer (see buf.h). */
#include "util/buf.h"
#include "arca/error.h"

#include <assert.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/*
 * Room for big buffers (packs, whole-pack reads) comes in 2 MiB-aligned
 * blocks the kernel may back with transparent huge pages: the first touch
 * of fresh memory faults once per 4 KiB page otherwise, and in a VM with
 * shadow paging that costs ~17 us a page (a 16 MiB pack buffer: 70 ms).
 */
#define HUGE_PAGE (2u << 20)
#define HUGE_MIN (4u << 20)

/* n rounded up to whole huge pages; false past the largest object size
 * (PTRDIFF_MAX: requests beyond it never reach the allocator). */
static bool huge_round(size_t n, size_t *out)
{
	if (n > (size_t)PTRDIFF_MAX - (HUGE_PAGE - 1))
		return false;
	*out = (n + HUGE_PAGE - 1) & ~(size_t)(HUGE_PAGE - 1);
	return true;
}

void *arca_alloc_big(size_t n)
{
	void *p = NULL;
	if (n < HUGE_MIN)
		return malloc(n);
	if (!huge_round(n, &n) || posix_memalign(&p, HUGE_PAGE, n))
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, n, MADV_HUGEPAGE); /* a hint: without it, small pages */
#endif
	return p;
}

int arca_buf_reserve(arca_buf *b, size_t extra)
{
	size_t need, cap;
	uint8_t *p;
	if (extra > SIZE_MAX - b->len - 1)
		return arca_error_set(ARCA_NOMEM, "buffer size overflow");
	need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap >= HUGE_MIN) { /* the room arca_alloc_big gives: whole huge pages */
		if (!huge_round(cap, &cap))
			return arca_error_set(ARCA_NOMEM, "buffer size overflow");
		if ((p = arca_alloc_big(cap))) {
			if (b->len)
				memcpy(p, b->data, b->len);
			free(b->data);
		}
	} else {
		p = realloc(b->data, cap);
	}
	if (!p)
		return arca_error_set(ARCA_NOMEM, "out of memory growing a buffer to %zu bytes", cap);
	b->data = p;
	b->cap = cap;
	return 0;
}

int arca_buf_put(arca_buf *b, const void *p, size_t n)
{
	int rc;
	if (n == 0)
		return 0;
	if ((rc = arca_buf_reserve(b, n)))
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int arca_buf_puts(arca_buf *b, const char *s) { return arca_buf_put(b, s, strlen(s)); }

int arca_buf_printf(arca_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return arca_error_set(ARCA_ERROR, "format error");
	if ((rc = arca_buf_reserve(b, (size_t)n + 1)))
		return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

int arca_buf_cstr(arca_buf *b)
{
	int rc = arca_buf_reserve(b, 1);
	if (rc)
		return rc;
	b->data[b->len] = '\0';
	return 0;
}

void arca_buf_clear(arca_buf *b) { b->len = 0; }

void arca_buf_free(arca_buf *b)
{
	if (!b)
		return;
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint8_t *arca_buf_detach(arca_buf *b, size_t *len)
{
	uint8_t *p = b->data;
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

int arca_grow(void *parr, size_t *cap, size_t need, size_t elem_size, size_t first_cap)
{
	size_t nc, max;
	void *old, *nv;
	assert(elem_size > 0 && first_cap > 0);
	if (need <= *cap)
		return 0;
	max = SIZE_MAX / elem_size;
	if (need > max)
		return arca_error_set(ARCA_NOMEM, "array size overflow (%zu elements of %zu bytes)", need, elem_size);
	nc = *cap ? *cap : first_cap;
	while (nc < need)
		nc = nc > max / 2 ? need : nc * 2;
	if (nc > max)
		nc = need; /* first_cap itself was too large for this element size */
	/* parr points at a T *; object pointers share one representation on
	 * every platform arca builds for, so copy it as bytes (no cast of T **
	 * to void **, which would break strict aliasing) */
	memcpy(&old, parr, sizeof(old));
	if (!(nv = realloc(old, nc * elem_size)))
		return arca_error_set(ARCA_NOMEM, "out of memory growing an array to %zu elements", nc);
	memcpy(parr, &nv, sizeof(nv));
	*cap = nc;
	return 0;
}
