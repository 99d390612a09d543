/*
 * repo/repo_readahead.c - shared read-ahead of pack bytes for restores
 * from remote backends.
 *
 * A backup packs the chunks of files in walk order, and a restore walks
 * the same order but hands the files to several workers: one ranged GET
 * per file would be thousands of round trips.  Readers of the repository
 * share a small set of slots, each holding bytes of one pack, in one of
 * two modes:
 *
 * - ARCA_READAHEAD_PACKS (a whole snapshot is restored, so nearly every
 *   byte of the packs it uses is needed): a slot holds a whole pack,
 *   fetched with one GET.  The restore says which blobs it will load, in
 *   order, before it loads them (arca_repo_readahead_expect); background
 *   threads fetch their packs in that order, into slots whose packs have
 *   no expected blob left, so the workers rarely wait on the network and
 *   a pack is read once.  The first packs come head first (PACK_HEAD, then
 *   the rest), so that the workers need not wait for a whole pack to start.
 * - ARCA_READAHEAD_RANGES (a few files): a worker that misses reads its
 *   blob and the RA_BYTES that follow it in the pack, never past the
 *   pack's end; the next files' blobs are then found there.
 *
 * In both, a reader that needs bytes another thread is fetching waits for
 * them rather than read them again, and pack sizes come from one listing
 * of data/ taken when read-ahead is enabled.
 */
#include "repo/repo_internal.h"

#include "backend/backend.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RA_BYTES (1u << 20)     /* ranges mode: read this far ahead */
#define RA_SLOTS 16             /* ranges mode: ranges kept */
#define PACK_MAX (32u << 20)    /* packs mode: a bigger pack is read by ranges */
#define PACK_SLOTS_MIN 6        /* packs mode: packs kept, at least... */
#define PACK_SLOTS_PER_CPU 2    /* ...or this many per core (a backup fills one pack per core at once) */
#define PACK_SLOTS_MAX 32
#define PACK_FETCHERS 2         /* packs mode: background fetches at once */
#define PACK_HEAD (2u << 20)    /* packs mode: the first packs come head first */

typedef struct ra_slot {
	arca_id pack;
	uint64_t off;
	arca_buf data; /* bytes [off, off + data.len) of pack; len 0: empty */
	uint64_t used;
	uint64_t filling; /* > 0: a thread is fetching [off, off + filling) now */
} ra_slot;

/* packs mode: what the restore still expects to load from a pack */
typedef struct pack_need {
	int64_t blobs; /* expected loads not done yet */
	uint8_t queued;
} pack_need;

struct arca_readahead {
	pthread_mutex_t mu;
	pthread_cond_t filled; /* a fetch ended (slot filled or released) */
	pthread_cond_t work;   /* packs mode: a pack was queued, a slot freed, or stop */
	int mode;
	arca_backend *be;
	arca_index *ix;
	arca_idset sizes; /* pack id -> uint64_t size, from the listing */
	ra_slot *slots;
	int nslots;
	uint64_t clock;
	/* packs mode */
	arca_idset needs; /* pack id -> pack_need */
	arca_id *queue;   /* packs to fetch, in order of first need */
	size_t qhead, qlen, qcap;
	pthread_t fetchers[PACK_FETCHERS];
	int nfetchers;
	int nheads; /* packs fetched head first so far */
	bool stop;
};

static void *fetcher(void *arg);

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

int arca_repo_readahead_enable(arca_repo *r, int mode)
{
	arca_readahead *ra;
	long ncpu;
	int rc;
	if (r->ra || (r->be->caps & ARCA_BACKEND_CAP_LOCAL))
		return 0;
	if (!(ra = calloc(1, sizeof(*ra))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&ra->mu, NULL);
	pthread_cond_init(&ra->filled, NULL);
	pthread_cond_init(&ra->work, NULL);
	arca_idset_init(&ra->sizes, sizeof(uint64_t));
	arca_idset_init(&ra->needs, sizeof(pack_need));
	ra->mode = mode;
	ra->be = r->be;
	ra->ix = r->ix;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	ra->nslots = RA_SLOTS;
	if (mode == ARCA_READAHEAD_PACKS) {
		ra->nslots = (int)(ncpu > 0 ? ncpu : 1) * PACK_SLOTS_PER_CPU;
		ra->nslots = ra->nslots < PACK_SLOTS_MIN ? PACK_SLOTS_MIN : ra->nslots > PACK_SLOTS_MAX ? PACK_SLOTS_MAX : ra->nslots;
	}
	if (!(ra->slots = calloc((size_t)ra->nslots, sizeof(*ra->slots)))) {
		arca_readahead_free(ra);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	if ((rc = arca_be_list(r->be, "data/", note_size, &ra->sizes))) {
		arca_readahead_free(ra);
		return rc;
	}
	/* without fetchers, packs are still read whole, on demand */
	while (mode == ARCA_READAHEAD_PACKS && ra->nfetchers < PACK_FETCHERS &&
	       !pthread_create(&ra->fetchers[ra->nfetchers], NULL, fetcher, ra))
		ra->nfetchers++;
	r->ra = ra;
	return 0;
}

void arca_readahead_free(arca_readahead *ra)
{
	int i;
	if (!ra)
		return;
	pthread_mutex_lock(&ra->mu);
	ra->stop = true;
	pthread_cond_broadcast(&ra->work);
	pthread_mutex_unlock(&ra->mu);
	for (i = 0; i < ra->nfetchers; i++)
		pthread_join(ra->fetchers[i], NULL);
	for (i = 0; ra->slots && i < ra->nslots; i++)
		arca_buf_free(&ra->slots[i].data);
	free(ra->slots);
	free(ra->queue);
	arca_idset_free(&ra->needs);
	arca_idset_free(&ra->sizes);
	pthread_cond_destroy(&ra->work);
	pthread_cond_destroy(&ra->filled);
	pthread_mutex_destroy(&ra->mu);
	free(ra);
}

/* The listed size of pack, or 0 when the listing did not have it. */
static uint64_t pack_size(const arca_readahead *ra, const arca_id *pack)
{
	const void *p = arca_idset_get(&ra->sizes, pack);
	uint64_t size = 0;
	if (p) /* idset values are not aligned: memcpy */
		memcpy(&size, p, sizeof(size));
	return size;
}

/* (the sizes are written once, by arca_repo_readahead_enable: no lock) */
uint64_t arca_readahead_size(const arca_readahead *ra, const arca_id *pack)
{
	return ra ? pack_size(ra, pack) : 0;
}

/* packs mode: expected loads left from pack (0 when none or unknown). */
static int64_t need_of(const arca_readahead *ra, const arca_id *pack)
{
	const void *p = arca_idset_get(&ra->needs, pack);
	pack_need n;
	if (!p)
		return 0;
	memcpy(&n, p, sizeof(n));
	return n.blobs;
}

/* packs mode: one expected load from pack is done. */
static void need_done(arca_readahead *ra, const arca_id *pack)
{
	void *p = ra->mode == ARCA_READAHEAD_PACKS ? arca_idset_get(&ra->needs, pack) : NULL;
	pack_need n;
	if (!p)
		return;
	memcpy(&n, p, sizeof(n));
	if (n.blobs > 0 && --n.blobs == 0)
		pthread_cond_broadcast(&ra->work); /* its slot may be reused */
	memcpy(p, &n, sizeof(n));
}

/* The slot holding, or being filled with, byte off of pack, or NULL. */
static ra_slot *slot_at(arca_readahead *ra, const arca_id *pack, uint64_t off, bool *ready)
{
	int i;
	for (i = 0; i < ra->nslots; i++) {
		ra_slot *s = &ra->slots[i];
		uint64_t n = s->filling ? s->filling : s->data.len;
		if (n && arca_id_eq(&s->pack, pack) && off >= s->off && off < s->off + n) {
			*ready = !s->filling;
			return s;
		}
	}
	return NULL;
}

/*
 * A slot for a fetch: an empty one, else the least recently used idle one
 * whose pack has no expected load left; with any_idle, else the least
 * recently used idle one.  NULL when there is none.  Called with mu held.
 */
static ra_slot *pick(arca_readahead *ra, bool any_idle)
{
	ra_slot *best = NULL, *idle = NULL;
	int i;
	for (i = 0; i < ra->nslots; i++) {
		ra_slot *s = &ra->slots[i];
		if (s->filling)
			continue;
		if (!s->data.len)
			return s;
		if (!idle || s->used < idle->used)
			idle = s;
		if ((!best || s->used < best->used) && (ra->mode != ARCA_READAHEAD_PACKS || need_of(ra, &s->pack) <= 0))
			best = s;
	}
	return best ? best : any_idle ? idle : NULL;
}

static void claim(ra_slot *slot, const arca_id *pack, uint64_t off, uint64_t n)
{
	arca_buf_clear(&slot->data); /* its room is reused for the fetch */
	slot->pack = *pack;
	slot->off = off;
	slot->filling = n;
}

/*
 * Fetch [off, off+n) of pack (the whole object when whole) into slot
 * (claimed by the caller; NULL: not kept), with mu released meanwhile; on
 * success out (when not NULL) gets bytes [want, want+len) of the pack.
 * Called and returns with mu held.
 */
static int fill(arca_readahead *ra, ra_slot *slot, const arca_id *pack, bool whole, uint64_t off, uint64_t n,
		uint64_t want, uint64_t len, arca_buf *out)
{
	arca_buf buf = ARCA_BUF_INIT;
	char key[80];
	int rc;
	if (slot) { /* fetch into the slot's old room (while filling, data.len is 0) */
		buf = slot->data;
		slot->data = (arca_buf)ARCA_BUF_INIT;
	}
	pthread_mutex_unlock(&ra->mu);
	arca_repo_pack_key(key, pack);
	rc = whole ? arca_be_get(ra->be, key, &buf) : arca_be_get_range(ra->be, key, off, n, &buf);
	if (!rc && want + len > off + buf.len)
		rc = arca_error_set(ARCA_CORRUPT, "%s is shorter than its index says", key);
	if (!rc && out)
		rc = arca_buf_put(out, buf.data + (want - off), (size_t)len);
	pthread_mutex_lock(&ra->mu);
	if (slot) {
		slot->filling = 0;
		if (!rc && buf.len) {
			slot->data = buf; /* the slot takes the buffer */
			buf = (arca_buf)ARCA_BUF_INIT;
			slot->used = ++ra->clock;
		}
		pthread_cond_broadcast(&ra->filled);
		pthread_cond_broadcast(&ra->work);
	}
	arca_buf_free(&buf);
	return rc;
}

/* packs mode: fetch queued packs, in order, while a slot is free for one. */
static void *fetcher(void *arg)
{
	arca_readahead *ra = arg;
	pthread_mutex_lock(&ra->mu);
	for (;;) {
		arca_id pack;
		ra_slot *slot = NULL;
		uint64_t size;
		bool ready;
		while (!ra->stop && !(ra->qhead < ra->qlen && (slot = pick(ra, false))))
			pthread_cond_wait(&ra->work, &ra->mu);
		if (ra->stop)
			break;
		pack = ra->queue[ra->qhead++];
		size = pack_size(ra, &pack);
		/* already there, all its loads done on demand, or too big */
		if (slot_at(ra, &pack, 0, &ready) || need_of(ra, &pack) <= 0 || !size || size > PACK_MAX)
			continue;
		/* a failed fetch is no error here: a reader that needs the pack
		 * fetches it itself, and reports what goes wrong then */
		if (ra->nheads < PACK_FETCHERS && size > 2 * PACK_HEAD) {
			/* at the start every worker waits for the first packs: its
			 * first megabytes come first, in a request of their own */
			ra->nheads++;
			claim(slot, &pack, 0, PACK_HEAD);
			if (fill(ra, slot, &pack, false, 0, PACK_HEAD, 0, 0, NULL) || !(slot = pick(ra, true))) {
				arca_error_clear();
				continue;
			}
			claim(slot, &pack, PACK_HEAD, size - PACK_HEAD);
			if (fill(ra, slot, &pack, false, PACK_HEAD, size - PACK_HEAD, 0, 0, NULL))
				arca_error_clear();
			continue;
		}
		claim(slot, &pack, 0, size);
		if (fill(ra, slot, &pack, true, 0, size, 0, 0, NULL))
			arca_error_clear();
	}
	pthread_mutex_unlock(&ra->mu);
	return NULL;
}

bool arca_readahead_whole(const arca_readahead *ra)
{
	return ra->mode == ARCA_READAHEAD_PACKS;
}

void arca_readahead_expect(arca_readahead *ra, const arca_id *blobs, size_t n)
{
	arca_index_loc loc;
	arca_id *packs;
	size_t i, np = 0;
	if (ra->mode != ARCA_READAHEAD_PACKS || !n || !(packs = malloc(n * sizeof(*packs))))
		return; /* (out of memory: no read-ahead for these, no harm) */
	for (i = 0; i < n; i++) { /* index lookups outside the lock */
		if (arca_index_lookup(ra->ix, &blobs[i], &loc))
			arca_error_clear(); /* the load will report it */
		else
			packs[np++] = loc.pack;
	}
	pthread_mutex_lock(&ra->mu);
	for (i = 0; i < np; i++) {
		pack_need need = { 0, 0 };
		void *val;
		int rc;
		if ((rc = arca_idset_insert(&ra->needs, &packs[i], &val)) < 0)
			break;
		if (rc == 0)
			memcpy(&need, val, sizeof(need));
		need.blobs++;
		if (!need.queued) {
			if (arca_grow(&ra->queue, &ra->qcap, ra->qlen + 1, sizeof(*ra->queue), 64)) {
				arca_error_clear(); /* no read-ahead for the rest, no harm */
				memcpy(val, &need, sizeof(need));
				break;
			}
			ra->queue[ra->qlen++] = packs[i];
			need.queued = 1;
			pthread_cond_signal(&ra->work);
		}
		memcpy(val, &need, sizeof(need));
	}
	pthread_mutex_unlock(&ra->mu);
	free(packs);
}

/*
 * A blob may lie across two kept ranges of its pack (a pack that came head
 * first): its bytes are taken from as many ranges as hold them, in order.
 */
int arca_readahead_read(arca_readahead *ra, const arca_id *pack, uint64_t off, uint64_t len, arca_buf *out)
{
	uint64_t size = pack_size(ra, pack), end = off + len, pos = off, n;
	bool whole = ra->mode == ARCA_READAHEAD_PACKS && size && size <= PACK_MAX, ready;
	const size_t start = out->len;
	ra_slot *slot;
	int rc = 0;
	pthread_mutex_lock(&ra->mu);
	while (pos < end) {
		if ((slot = slot_at(ra, pack, pos, &ready)) && !ready) {
			/* workers miss on neighbouring blobs at the same moment:
			 * wait for a fetch under way rather than read it again */
			pthread_cond_wait(&ra->filled, &ra->mu);
			continue;
		}
		if (slot) {
			n = slot->off + slot->data.len - pos;
			if (n > end - pos)
				n = end - pos;
			slot->used = ++ra->clock;
			if ((rc = arca_buf_put(out, slot->data.data + (pos - slot->off), (size_t)n)))
				break;
			pos += n;
			continue;
		}
		/* the whole pack; or the rest of a blob whose start was kept; or
		 * (ranges) the blob and what follows it, within the pack */
		const bool all = whole && pos == off;
		const uint64_t from = all ? 0 : pos;
		n = all ? size : end - pos;
		if (!whole && size >= end)
			n = pos + RA_BYTES > size ? size - pos : (RA_BYTES > n ? RA_BYTES : n);
		if ((slot = pick(ra, true)))
			claim(slot, pack, from, n);
		rc = fill(ra, slot, pack, all, from, n, pos, end - pos, out); /* slot NULL: not kept */
		break;
	}
	if (rc)
		out->len = start;
	need_done(ra, pack);
	pthread_mutex_unlock(&ra->mu);
	return rc;
}
