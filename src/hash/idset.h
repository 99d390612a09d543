/*
 * hash/idset.h - an in-memory set of arca_ids (open addressing, linear
 * probing, backward-shift deletion).  Ids are uniformly distributed hashes,
 * so their first 8 bytes are the hash.  Not thread-safe: callers lock.
 * An optional fixed-size value per id (val_size bytes) rides along.
 */
#ifndef ARCA_HASH_IDSET_H
#define ARCA_HASH_IDSET_H

#include "hash/hash.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct arca_idset {
	uint8_t *slots; /* cap * (1 + 32 + val_size) */
	size_t cap;     /* power of two, or 0 */
	size_t count;
	size_t val_size;
} arca_idset;

#define ARCA_IDSET_INIT { NULL, 0, 0, 0 }

void arca_idset_init(arca_idset *s, size_t val_size);
/* 1 inserted, 0 already present, <0 error. *val (may be NULL) points at
 * the value slot (borrowed until the next insert/remove). */
int arca_idset_insert(arca_idset *s, const arca_id *id, void **val);
bool arca_idset_contains(const arca_idset *s, const arca_id *id);
/* Borrowed pointer to the value, or NULL when absent. */
void *arca_idset_get(const arca_idset *s, const arca_id *id);
bool arca_idset_remove(arca_idset *s, const arca_id *id);
/* Iterate: returns the next occupied slot index >= *pos, or false. */
bool arca_idset_next(const arca_idset *s, size_t *pos, const arca_id **id, void **val);
void arca_idset_free(arca_idset *s);

#endif
