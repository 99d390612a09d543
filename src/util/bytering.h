/*
 * util/bytering.h - short-lived buffers carved from one block of memory.
 *
 * A backup copies every chunk into a buffer that a worker gives back a
 * moment later, in about the order they were taken.  A ring hands out
 * contiguous room at its head and takes it back in any order; its tail
 * moves past the room given back in order.  The block is allocated once
 * with arca_alloc_big (2 MiB-aligned, huge pages advised), so it is faulted
 * in a few 2 MiB pages, where a fresh malloc'd buffer faults once per
 * 4 KiB page it touches (~17 us each in a VM with shadow paging).
 *
 * Thread-safe.  arca_ring_get never waits: without room it returns NULL and
 * the caller uses malloc instead (arca_ring_owns tells which one to give a
 * buffer back to).
 */
#ifndef ARCA_UTIL_BYTERING_H
#define ARCA_UTIL_BYTERING_H

#include <stdbool.h>
#include <stddef.h>

typedef struct arca_ring arca_ring;

/* A ring of `bytes` (> 0) bytes holding at most max_spans buffers at a time. */
int arca_ring_new(arca_ring **out, size_t bytes, size_t max_spans);
/* Every buffer must have been given back.  Accepts NULL. */
void arca_ring_free(arca_ring *r);
/* n contiguous bytes (at a multiple of 64 bytes from the block's start, and
 * the block is at least malloc-aligned), or NULL when there is no room now
 * (or r is NULL). */
void *arca_ring_get(arca_ring *r, size_t n);
/* Whether p was handed out by r (false for NULL or a NULL ring). */
bool arca_ring_owns(const arca_ring *r, const void *p);
/* Give back a buffer arca_ring_get returned. */
void arca_ring_put(arca_ring *r, void *p);

#endif
