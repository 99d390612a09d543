/* util/bytering.c - short-lived buffers carved from one block (see bytering.h). */
#include "util/bytering.h"
#include "arca/error.h"
#include "util/buf.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define ALIGN 64u

typedef struct span {
	size_t off, len;
	bool back; /* given back, waiting for the spans before it */
} span;

struct arca_ring {
	pthread_mutex_t mu;
	uint8_t *base;
	size_t size;
	size_t head;  /* where the next buffer starts, if it fits */
	span *spans;  /* outstanding buffers, oldest first, circular */
	size_t cap, first, count;
};

int arca_ring_new(arca_ring **out, size_t bytes, size_t max_spans)
{
	arca_ring *r;
	*out = NULL;
	if (!bytes)
		return arca_error_set(ARCA_INVAL, "a buffer ring needs room");
	if (!(r = calloc(1, sizeof(*r))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	r->size = bytes;
	r->cap = max_spans ? max_spans : 1;
	r->base = arca_alloc_big(bytes);
	r->spans = calloc(r->cap, sizeof(span));
	if (!r->base || !r->spans) {
		free(r->base);
		free(r->spans);
		free(r);
		return arca_error_set(ARCA_NOMEM, "out of memory for a %zu-byte buffer ring", bytes);
	}
	pthread_mutex_init(&r->mu, NULL);
	*out = r;
	return 0;
}

void arca_ring_free(arca_ring *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->mu);
	free(r->base);
	free(r->spans);
	free(r);
}

bool arca_ring_owns(const arca_ring *r, const void *p)
{
	return r && p && (const uint8_t *)p >= r->base && (const uint8_t *)p < r->base + r->size;
}

void *arca_ring_get(arca_ring *r, size_t n)
{
	size_t off = SIZE_MAX, tail;
	void *p = NULL;
	if (!r || n > r->size)
		return NULL;
	n = n ? (n + ALIGN - 1) & ~(size_t)(ALIGN - 1) : ALIGN;
	if (n > r->size) /* rounded past the end of a ring it fits in */
		n = r->size;
	pthread_mutex_lock(&r->mu);
	if (r->count == 0) {
		if (n <= r->size)
			off = 0;
	} else if (r->count < r->cap) {
		tail = r->spans[r->first].off;
		if (r->head > tail) { /* in use: [tail, head); free: [head, size) and [0, tail) */
			if (n <= r->size - r->head)
				off = r->head;
			else if (n <= tail)
				off = 0;
		} else if (n <= tail - r->head) { /* wrapped: free is [head, tail) */
			off = r->head;
		}
	}
	if (off != SIZE_MAX) {
		span *s = &r->spans[(r->first + r->count) % r->cap];
		s->off = off;
		s->len = n;
		s->back = false;
		r->count++;
		r->head = off + n;
		p = r->base + off;
	}
	pthread_mutex_unlock(&r->mu);
	return p;
}

void arca_ring_put(arca_ring *r, void *p)
{
	size_t off, i;
	if (!arca_ring_owns(r, p))
		return;
	off = (size_t)((uint8_t *)p - r->base);
	pthread_mutex_lock(&r->mu);
	for (i = 0; i < r->count; i++) {
		span *s = &r->spans[(r->first + i) % r->cap];
		if (s->off == off && !s->back) {
			s->back = true;
			break;
		}
	}
	while (r->count && r->spans[r->first].back) {
		r->first = (r->first + 1) % r->cap;
		r->count--;
	}
	if (r->count == 0)
		r->head = 0;
	pthread_mutex_unlock(&r->mu);
}
