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
} ra_slot;

struct arca_readahead {
	pthread_mutex_t mu;
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

int arca_readahead_read(arca_readahead *ra, arca_backend *be, const char *key, const arca_id *pack, uint64_t off,
			uint64_t len, arca_buf *out)
{
	const void *sizep;
	uint64_t end = off + len, size;
	arca_buf got = ARCA_BUF_INIT;
	ra_slot *victim = NULL;
	int i, rc;
	pthread_mutex_lock(&ra->mu);
	if (lookup(ra, pack, off, len, out)) {
		pthread_mutex_unlock(&ra->mu);
		return 0;
	}
	/* idset values are not aligned: memcpy */
	if ((sizep = arca_idset_get(&ra->sizes, pack)) && (memcpy(&size, sizep, sizeof(size)), size >= end))
		end = off + RA_BYTES > size ? size : (off + RA_BYTES > end ? off + RA_BYTES : end);
	ra->fetches++;
	pthread_mutex_unlock(&ra->mu);

	if ((rc = arca_be_get_range(be, key, off, end - off, &got))) {
		arca_buf_free(&got);
		return rc;
	}
	if ((rc = arca_buf_put(out, got.data, (size_t)len))) {
		arca_buf_free(&got);
		return rc;
	}
	pthread_mutex_lock(&ra->mu);
	for (i = 0; i < RA_SLOTS; i++) /* an empty slot, else the least recently used */
		if (!victim || !ra->slots[i].data.len || ra->slots[i].used < victim->used) {
			victim = &ra->slots[i];
			if (!victim->data.len)
				break;
		}
	arca_buf_free(&victim->data);
	victim->data = got; /* the slot takes the buffer */
	victim->pack = *pack;
	victim->off = off;
	victim->used = ++ra->clock;
	pthread_mutex_unlock(&ra->mu);
	return 0;
}
