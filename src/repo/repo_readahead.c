/*
 * repo/repo_readahead.c - shared read-ahead of pack ranges for restores
 * from remote backends.
 *
 * A backup packs the chunks of small files in walk order, and a restore
 * walks the same order, but hands consecutive files to different workers:
 * one ranged GET per small file is thousands of round trips.  With
 * read-ahead enabled, a worker that misses reads its blob and the bytes
 * that follow it in the pack (up to RA_BYTES, never past the pack's end,
 * which the data/ listing taken at enable time tells) into a small LRU of
 * ranges shared by all readers of the repository; the next files' blobs
 * are then found there by whichever worker gets them.
 */
#include "repo/repo_internal.h"

#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>

#define RA_BYTES (1u << 20) /* read this far ahead */
#define RA_SLOTS 16          /* ranges kept: at most RA_SLOTS * RA_BYTES bytes */

typedef struct ra_slot {
	arca_id pack;
	uint64_t off;
	arca_buf data; /* bytes [off, off + data.len) of pack; len 0: empty */
	uint64_t used;
	uint64_t filling; /* > 0: a reader is fetching [off, off + filling) now */
} ra_slot;

struct arca_readahead {
	pthread_mutex_t mu;
	pthread_cond_t filled; /* a fetch ended (slot filled or released) */
	arca_idset sizes; /* pack id -> uint64_t size, from the listing */
	ra_slot slots[RA_SLOTS];
	uint64_t clock;
	uint64_t hits, fetches;
};

static int note_size(const char *key, uint64_t size, void *payload)
{
	arca_idset *sizes = payload;
	const char *base = strrchr(key, '/');
	arca_id id;
	void *val;
	int rc;
	if (!base || arca_id_parse(&id, base + 1))
		return 0; /* not a pack name: ignore */
	if ((rc = arca_idset_insert(sizes, &id, &val)) < 0)
		return rc;
	memcpy(val, &size, sizeof(size));
	return 0;
}

int arca_repo_readahead_enable(arca_repo *r)
{
	arca_readahead *ra;
	int rc;
	if (r->ra || (r->be->caps & ARCA_BACKEND_CAP_LOCAL))
		return 0;
	if (!(ra = calloc(1, sizeof(*ra))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&ra->mu, NULL);
	pthread_cond_init(&ra->filled, NULL);
	arca_idset_init(&ra->sizes, sizeof(uint64_t));
	if ((rc = arca_be_list(r->be, "data/", note_size, &ra->sizes))) {
		arca_readahead_free(ra);
		return rc;
	}
	r->ra = ra;
	return 0;
}

void arca_readahead_free(arca_readahead *ra)
{
	int i;
	if (!ra)
		return;
	for (i = 0; i < RA_SLOTS; i++)
		arca_buf_free(&ra->slots[i].data);
	arca_idset_free(&ra->sizes);
	pthread_cond_destroy(&ra->filled);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
}

/* Copy [off, off+len) of pack into out if a kept range holds it. */
static bool lookup(arca_readahead *ra, const arca_id *pack, uint64_t off, uint64_t len, arca_buf *out)
{
	int i;
	for (i = 0; i < RA_SLOTS; i++) {
		ra_slot *s = &ra->slots[i];
		if (s->data.len && arca_id_eq(&s->pack, pack) && off >= s->off && off + len <= s->off + s->data.len) {
			s->used = ++ra->clock;
			ra->hits++;
			return arca_buf_put(out, s->data.data + (off - s->off), (size_t)len) == 0;
		}
	}
	return false;
}

/* Whether another reader is fetching a range that will hold [off, off+len). */
static bool being_fetched(const arca_readahead *ra, const arca_id *pack, uint64_t off, uint64_t len)
{
	int i;
	for (i = 0; i < RA_SLOTS; i++) {
		const ra_slot *s = &ra->slots[i];
		if (s->filling && arca_id_eq(&s->pack, pack) && off >= s->off && off + len <= s->off + s->filling)
			return true;
	}
	return false;
}

int arca_readahead_read(arca_readahead *ra, arca_backend *be, const char *key, const arca_id *pack, uint64_t off,
			uint64_t len, arca_buf *out)
{
	const void *sizep;
	uint64_t end = off + len, size;
	arca_buf got = ARCA_BUF_INIT;
	ra_slot *slot = NULL;
	bool hit;
	int i, rc;
	pthread_mutex_lock(&ra->mu);
	/* workers miss on neighbouring blobs at the same moment: wait for a
	 * fetch under way rather than read the same megabyte several times */
	while (!(hit = lookup(ra, pack, off, len, out)) && being_fetched(ra, pack, off, len))
		pthread_cond_wait(&ra->filled, &ra->mu);
	if (hit) {
		pthread_mutex_unlock(&ra->mu);
		return 0;
	}
	/* idset values are not aligned: memcpy */
	if ((sizep = arca_idset_get(&ra->sizes, pack)) && (memcpy(&size, sizep, sizeof(size)), size >= end))
		end = off + RA_BYTES > size ? size : (off + RA_BYTES > end ? off + RA_BYTES : end);
	for (i = 0; i < RA_SLOTS; i++) { /* an empty slot, else the least recently used idle one */
		ra_slot *s = &ra->slots[i];
		if (s->filling)
			continue;
		if (!slot || !s->data.len || s->used < slot->used) {
			slot = s;
			if (!s->data.len)
				break;
		}
	}
	if (slot) { /* announce the fetch (no slot free: fetch without sharing) */
		arca_buf_free(&slot->data);
		slot->pack = *pack;
		slot->off = off;
		slot->filling = end - off;
	}
	ra->fetches++;
	pthread_mutex_unlock(&ra->mu);

	rc = arca_be_get_range(be, key, off, end - off, &got);
	if (!rc)
		rc = arca_buf_put(out, got.data, (size_t)len);
	pthread_mutex_lock(&ra->mu);
	if (slot) {
		slot->filling = 0;
		if (!rc) {
			slot->data = got; /* the slot takes the buffer */
			got = (arca_buf)ARCA_BUF_INIT;
			slot->used = ++ra->clock;
		}
		pthread_cond_broadcast(&ra->filled);
	}
	pthread_mutex_unlock(&ra->mu);
	arca_buf_free(&got);
	return rc;
}
