/* hash/idset.c - open-addressing id set (see idset.h). */
#include "hash/idset.h"
#include "arca/error.h"

#include <stdlib.h>
#include <string.h>

#define SLOT(s, i) ((s)->slots + (i) * (1 + ARCA_ID_LEN + (s)->val_size))

void arca_idset_init(arca_idset *s, size_t val_size)
{
	memset(s, 0, sizeof(*s));
	s->val_size = val_size;
}

static size_t home(const arca_idset *s, const arca_id *id)
{
	uint64_t h;
	memcpy(&h, id->b, sizeof(h));
	return (size_t)h & (s->cap - 1);
}

static size_t find(const arca_idset *s, const arca_id *id, bool *found)
{
	size_t i = home(s, id);
	for (;;) {
		uint8_t *p = SLOT(s, i);
		if (!p[0]) {
			*found = false;
			return i;
		}
		if (!memcmp(p + 1, id->b, ARCA_ID_LEN)) {
			*found = true;
			return i;
		}
		i = (i + 1) & (s->cap - 1);
	}
}

static int grow(arca_idset *s)
{
	arca_idset n = *s;
	size_t i, ssz = 1 + ARCA_ID_LEN + s->val_size;
	n.cap = s->cap ? s->cap * 2 : 1024;
	n.count = 0;
	n.slots = calloc(n.cap, ssz);
	if (!n.slots)
		return arca_error_set(ARCA_NOMEM, "out of memory growing an id set to %zu entries", n.cap);
	for (i = 0; i < s->cap; i++) {
		uint8_t *p = SLOT(s, i);
		bool f;
		size_t j;
		if (!p[0])
			continue;
		j = find(&n, (const arca_id *)(p + 1), &f);
		memcpy(SLOT(&n, j), p, ssz);
		n.count++;
	}
	free(s->slots);
	*s = n;
	return 0;
}

int arca_idset_insert(arca_idset *s, const arca_id *id, void **val)
{
	bool found;
	size_t i;
	uint8_t *p;
	int rc;
	if ((s->count + 1) * 4 > s->cap * 3 && (rc = grow(s)))
		return rc;
	i = find(s, id, &found);
	p = SLOT(s, i);
	if (val)
		*val = s->val_size ? p + 1 + ARCA_ID_LEN : NULL;
	if (found)
		return 0;
	p[0] = 1;
	memcpy(p + 1, id->b, ARCA_ID_LEN);
	if (s->val_size)
		memset(p + 1 + ARCA_ID_LEN, 0, s->val_size);
	s->count++;
	return 1;
}

bool arca_idset_contains(const arca_idset *s, const arca_id *id)
{
	bool found;
	if (!s->cap)
		return false;
	find(s, id, &found);
	return found;
}

void *arca_idset_get(const arca_idset *s, const arca_id *id)
{
	bool found;
	size_t i;
	if (!s->cap || !s->val_size)
		return NULL;
	i = find(s, id, &found);
	return found ? SLOT(s, i) + 1 + ARCA_ID_LEN : NULL;
}

bool arca_idset_remove(arca_idset *s, const arca_id *id)
{
	bool found;
	size_t i, j, ssz = 1 + ARCA_ID_LEN + s->val_size;
	if (!s->cap)
		return false;
	i = find(s, id, &found);
	if (!found)
		return false;
	SLOT(s, i)[0] = 0;
	s->count--;
	/* backward-shift the following cluster so lookups stay correct */
	j = i;
	for (;;) {
		size_t k;
		uint8_t *p;
		j = (j + 1) & (s->cap - 1);
		p = SLOT(s, j);
		if (!p[0])
			break;
		k = home(s, (const arca_id *)(p + 1));
		/* can the entry at j move to the hole at i? */
		if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		memcpy(SLOT(s, i), p, ssz);
		p[0] = 0;
		i = j;
	}
	return true;
}

bool arca_idset_next(const arca_idset *s, size_t *pos, const arca_id **id, void **val)
{
	size_t i;
	for (i = *pos; i < s->cap; i++) {
		uint8_t *p = SLOT(s, i);
		if (p[0]) {
			*id = (const arca_id *)(p + 1);
			if (val)
				*val = s->val_size ? p + 1 + ARCA_ID_LEN : NULL;
			*pos = i + 1;
			return true;
		}
	}
	*pos = i;
	return false;
}

void arca_idset_free(arca_idset *s)
{
	free(s->slots);
	s->slots = NULL;
	s->cap = s->count = 0;
}
