/*
 * snapshot/backup.c - the archiver: walks sources, chunks files, stores new
 * chunks in parallel, writes tree nodes bottom-up, then the snapshot.
 *
 * Pipeline: the calling thread walks, reads and chunks (FastCDC) and copies
 * each chunk into a bounded queue, from which one worker per core hashes
 * and claims it and, when it is new, compresses, seals and packs it.
 * Nothing waits for a file's chunk ids: the walker records a pending entry
 * per file and per directory, in the order they complete (children before
 * their directory), and resolves entries from the head as their ids come
 * in -- a file's node gets its chunk list, a directory's tree is encoded
 * and stored and its id goes into its parent's node.  Only the root waits
 * for all of them.  Tree nodes are encoded by the calling thread and
 * stored by a tree writer.  A file whose size, mtime,
 * ctime and inode match its entry in the parent snapshot is not read
 * again: its chunk list is reused (after checking the chunks are indexed).
 * Commit order: workers flushed -> index file -> snapshot (the commit
 * point); any failure before that leaves no snapshot.
 */
#include "arca/snapshot.h"
#include "snapshot/scan.h"
#include "util/bytering.h"
#include "util/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRAM "arca 0.1.0"
#define TREE_BATCH 32 /* trees the tree writer takes at a time */
/* A worker wakes for WORKER_BATCH jobs or WORKER_BATCH_BYTES of them, and
 * takes that much at a time: small files are jobs of a few kilobytes, and
 * a wake-up per job cost three futex calls per file. */
#define WORKER_BATCH 4
#define WORKER_BATCH_BYTES (256u * 1024)
/* Pending entries (files and directories whose ids are being computed),
 * or nodes in the trees of pending directories (~400 bytes each), beyond
 * which the walker waits for the oldest entry: bounds their memory when
 * the head waits long (a slow upload) while the walk runs through
 * unchanged directories. */
#define PENDING_MAX 65536
#define HELD_NODES_MAX 65536

typedef struct job {
	arca_id id;     /* a tree's id; a chunk's is computed by the worker */
	uint8_t *data;
	size_t n;
	size_t slot;    /* a chunk: absolute index of its id in the archiver's chunks[] */
	size_t entry;   /* a chunk: absolute index of its file's pending entry */
} job;

/*
 * Work the walker left to finish once ids are known, resolved in the order
 * recorded.  A file: node `node` of tree t gets the ids in absolute slots
 * [first, first + count) once `remaining` (ids still being computed, kept
 * under ids_mu) is 0 and it is sealed (its last chunk queued, t and node
 * set); t NULL: the file was dropped (unreadable), its ids are discarded.
 * A directory (sub set): its own tree sub, complete once every entry
 * before it is resolved, is encoded and stored, and its id becomes the
 * subtree of node `node` of t.
 */
typedef struct pending {
	arca_tree *t;
	size_t node;
	arca_tree *sub;
	size_t first, count, remaining;
	bool sealed;
} pending;

#define NO_ENTRY SIZE_MAX

/*
 * A bounded queue between threads.  A thread that waits on it costs a
 * context switch to wake, and on a 2-core machine a backup of 24,000 small
 * files made 78,000 of them, waking one side per job.  So both ends batch:
 * a full queue lets its producer go on only once it has drained to half,
 * and a consumer with min_pop > 1 waits for that many jobs, or min_bytes
 * of them, and takes them together (unless the producer waits, or wants
 * the queue drained, or it is closed).
 */
typedef struct queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	job *ring;
	size_t cap, head, count;
	size_t bytes, max_bytes; /* queued chunk bytes, and their budget */
	size_t min_pop;          /* a consumer waits for this many jobs, */
	size_t min_bytes;        /* or this many bytes of them */
	size_t sleepers;         /* consumers inside pthread_cond_wait */
	bool producer_waits;     /* then a consumer takes what there is */
	bool draining;           /* so it does while the producer waits for results */
	bool kick;               /* one-shot: a consumer takes what there is */
	bool closed;
	arca_ring *data_ring;    /* where jobs' data may come from (else malloc) */
} queue;

/* Chunk buffers come from a ring (util/bytering.h), or from malloc when
 * it is full. */
static uint8_t *chunk_buf_get(arca_ring *ring, size_t n)
{
	uint8_t *b = arca_ring_get(ring, n);
	return b ? b : malloc(n ? n : 1);
}

static void chunk_buf_put(arca_ring *ring, uint8_t *b)
{
	if (arca_ring_owns(ring, b))
		arca_ring_put(ring, b);
	else
		free(b);
}

typedef struct archiver {
	arca_repo *r;
	const arca_backup_opts *o;
	const arca_backup_stream *observed; /* the stream being read, if it has an observer */
	arca_chunker *ch;
	arca_chunker_params cp;
	arca_repo_reader *rd;
	arca_repo_writer *tw;
	queue q;
	arca_ring *bufs; /* chunk buffers */
	pthread_t *workers;
	unsigned nworkers;
	/* Trees are stored by their own thread (see save_tree), through tw. */
	queue tq;
	pthread_t tree_thread;
	bool tree_thread_running;
	pthread_mutex_t err_mu;
	int worker_rc;
	char worker_msg[1024];
	uint8_t *buf;
	size_t bufcap;
	/* Chunk ids: absolute slot k is chunks[k - chunks_base], k below
	 * chunks_base + nchunks.  Workers write ids and count down entries'
	 * `remaining` under ids_mu; the walker moves or grows chunks[] and
	 * pend[] only under the same lock. */
	pthread_mutex_t ids_mu;
	pthread_cond_t ids_done; /* an entry's remaining reached 0 */
	arca_id *chunks;
	size_t nchunks, capchunks, chunks_base;
	size_t chunks_free;      /* absolute slots below this are resolved */
	pending *pend;           /* entry k is pend[k - pend_base] */
	size_t pend_base, pend_head, pend_tail, pend_cap;
	size_t cur_entry;        /* the file being chunked, or NO_ENTRY */
	size_t held_nodes;       /* nodes of the pending directories' trees */
	bool pushed;             /* a chunk was queued since resolve last looked */
	arca_scanner *scan; /* reads directory listings ahead, or NULL */
	arca_snapshot_stats st;
	arca_progress prog;
	double t0, last_progress;
	uid_t cached_uid;
	gid_t cached_gid;
	char uname[256], gname[256];
	bool have_uid, have_gid;
} archiver;

/* ---- work queue ---- */

static int queue_init(queue *q, size_t cap)
{
	memset(q, 0, sizeof(*q));
	q->ring = calloc(cap, sizeof(job));
	if (!q->ring)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	q->cap = cap;
	q->min_pop = 1;
	q->min_bytes = SIZE_MAX;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	return 0;
}

static void queue_push(queue *q, job *j)
{
	bool wake;
	pthread_mutex_lock(&q->mu);
	/* bounded by count and by bytes (memory), but never refuse the only job */
	while (q->count == q->cap || (q->count && q->bytes + j->n > q->max_bytes)) {
		q->producer_waits = true;
		if (q->sleepers)
			pthread_cond_signal(&q->not_empty); /* a batching consumer must not wait for more */
		pthread_cond_wait(&q->not_full, &q->mu);
	}
	q->producer_waits = false;
	q->ring[(q->head + q->count) % q->cap] = *j;
	q->count++;
	q->bytes += j->n;
	wake = q->sleepers && (q->count >= q->min_pop || q->bytes >= q->min_bytes);
	pthread_mutex_unlock(&q->mu);
	/* after the unlock, so that the woken thread does not block on the
	 * mutex at once; it is inside pthread_cond_wait, sleepers says so */
	if (wake)
		pthread_cond_signal(&q->not_empty);
}

/* Take up to max jobs (at least one) of at most max_bytes in all (or one
 * bigger job) into out, under one lock; 0 once the queue is closed and
 * empty.  A consumer with min_pop > 1 takes its whole batch here, rather
 * than waiting for min_pop again after the first job. */
static size_t queue_pop_batch(queue *q, job *out, size_t max, size_t max_bytes)
{
	size_t n = 0, taken = 0;
	bool wake;
	pthread_mutex_lock(&q->mu);
	while ((!q->count || (q->count < q->min_pop && q->bytes < q->min_bytes && !q->producer_waits &&
			      !q->draining && !q->kick)) &&
	       !q->closed) {
		q->sleepers++;
		pthread_cond_wait(&q->not_empty, &q->mu);
		q->sleepers--;
	}
	for (; n < max && q->count && (!n || taken + q->ring[q->head].n <= max_bytes); n++) {
		taken += q->ring[q->head].n;
		out[n] = q->ring[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
		q->bytes -= out[n].n;
	}
	if (n)
		q->kick = false;
	/* the producer may go on once the queue is half drained */
	wake = q->producer_waits && q->count <= q->cap / 2 && q->bytes <= q->max_bytes / 2;
	if (wake)
		q->producer_waits = false;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->not_full);
	return n;
}

/* The producer is about to wait for jobs it queued: consumers must not
 * wait for a batch meanwhile. */
static void queue_set_draining(queue *q, bool on)
{
	pthread_mutex_lock(&q->mu);
	q->draining = on;
	if (on && q->sleepers && q->count)
		pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

/* The producer needs the results of jobs it queued but goes on meanwhile
 * (it may queue nothing for a long time: unchanged files): a consumer
 * waiting for a batch takes what there is now. */
static void queue_kick(queue *q)
{
	bool wake;
	pthread_mutex_lock(&q->mu);
	wake = q->count && q->count < q->min_pop && q->bytes < q->min_bytes && q->sleepers && !q->kick;
	if (wake)
		q->kick = true;
	pthread_mutex_unlock(&q->mu);
	if (wake)
		pthread_cond_signal(&q->not_empty);
}

static void queue_close(queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = true;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

static void queue_destroy(queue *q)
{
	size_t i;
	for (i = 0; i < q->count; i++)
		chunk_buf_put(q->data_ring, q->ring[(q->head + i) % q->cap].data);
	free(q->ring);
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
}

static void worker_fail(archiver *a, int rc)
{
	pthread_mutex_lock(&a->err_mu);
	if (!a->worker_rc) {
		a->worker_rc = rc;
		snprintf(a->worker_msg, sizeof(a->worker_msg), "%s", arca_error_message());
	}
	pthread_mutex_unlock(&a->err_mu);
}

static int worker_failed(archiver *a)
{
	int rc;
	pthread_mutex_lock(&a->err_mu);
	rc = a->worker_rc;
	pthread_mutex_unlock(&a->err_mu);
	return rc;
}

/* One chunk: hash it, record the id for its file, claim it, store it when
 * new. */
static void worker_job(archiver *a, arca_repo_writer *w, job *j)
{
	pending *e;
	int rc;
	arca_repo_blob_id(a->r, &j->id, j->data, j->n);
	rc = arca_repo_blob_claim(a->r, &j->id);
	if (rc < 0)
		worker_fail(a, rc);
	else if (rc == 1 && w && !worker_failed(a) &&
		 (rc = arca_repo_blob_store(w, ARCA_BLOB_DATA, &j->id, j->data, j->n)))
		worker_fail(a, rc);
	chunk_buf_put(a->bufs, j->data);
	/* the id is recorded last: a file the walker sees complete names
	 * chunks this worker has stored (or that are known, or claimed by
	 * another worker; every store ends before the commit anyway) */
	pthread_mutex_lock(&a->ids_mu);
	a->chunks[j->slot - a->chunks_base] = j->id;
	e = &a->pend[j->entry - a->pend_base];
	if (--e->remaining == 0)
		pthread_cond_broadcast(&a->ids_done);
	pthread_mutex_unlock(&a->ids_mu);
}

static void *worker_main(void *arg)
{
	archiver *a = arg;
	arca_repo_writer *w = NULL;
	job batch[WORKER_BATCH];
	size_t n, i;
	int rc = arca_repo_writer_new(&w, a->r);
	if (rc)
		worker_fail(a, rc);
	while ((n = queue_pop_batch(&a->q, batch, WORKER_BATCH, WORKER_BATCH_BYTES)))
		for (i = 0; i < n; i++)
			worker_job(a, w, &batch[i]);
	if (w && !worker_failed(a) && (rc = arca_repo_writer_flush(w)))
		worker_fail(a, rc);
	arca_repo_writer_free(w);
	return NULL;
}

/* The tree writer: compresses, seals and packs the trees the walk queues,
 * into one pack writer, in the order they come. */
static void *tree_writer_main(void *arg)
{
	archiver *a = arg;
	job batch[TREE_BATCH];
	size_t n, i;
	int rc;
	while ((n = queue_pop_batch(&a->tq, batch, TREE_BATCH, SIZE_MAX))) {
		for (i = 0; i < n; i++) {
			if (!worker_failed(a) &&
			    (rc = arca_repo_blob_store(a->tw, ARCA_BLOB_TREE, &batch[i].id, batch[i].data, batch[i].n)))
				worker_fail(a, rc);
			free(batch[i].data);
		}
	}
	return NULL;
}

/* ---- helpers ---- */

static void warn_src(archiver *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_src(archiver *a, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	a->st.errors++;
	a->prog.errors++;
	if (a->o->warn)
		a->o->warn(msg, a->o->warn_payload);
}

static void progress(archiver *a, const char *current, bool force)
{
	double now;
	if (!a->o->progress)
		return;
	now = arca_monotonic();
	if (!force && now - a->last_progress < 0.2)
		return;
	a->last_progress = now;
	a->prog.elapsed = now - a->t0;
	a->prog.current = current;
	a->o->progress(&a->prog, a->o->progress_payload);
}

static bool excluded(archiver *a, const char *path, const char *name)
{
	size_t i;
	for (i = 0; i < a->o->nexcludes; i++) {
		const char *p = a->o->excludes[i];
		size_t pl = strlen(p);
		if (!strchr(p, '/')) {
			if (!fnmatch(p, name, FNM_PERIOD & 0))
				return true;
		} else if (!fnmatch(p, path, 0) ||
			   (!strncmp(path, p, pl) && (path[pl] == '/' || path[pl] == '\0'))) {
			return true;
		}
	}
	return false;
}

static char *dup_str(const char *s) { return strdup(s ? s : ""); }

static int fill_node(archiver *a, arca_node *n, const char *name, const struct stat *st)
{
	memset(n, 0, sizeof(*n));
	n->name = strdup(name);
	n->mode = st->st_mode & 07777;
	n->uid = st->st_uid;
	n->gid = st->st_gid;
	if (!a->have_uid || a->cached_uid != st->st_uid) {
		struct passwd *pw = getpwuid(st->st_uid);
		snprintf(a->uname, sizeof(a->uname), "%s", pw ? pw->pw_name : "");
		a->cached_uid = st->st_uid;
		a->have_uid = true;
	}
	if (!a->have_gid || a->cached_gid != st->st_gid) {
		struct group *gr = getgrgid(st->st_gid);
		snprintf(a->gname, sizeof(a->gname), "%s", gr ? gr->gr_name : "");
		a->cached_gid = st->st_gid;
		a->have_gid = true;
	}
	n->user = dup_str(a->uname);
	n->group = dup_str(a->gname);
	n->mtime_ns = (int64_t)st->st_mtim.tv_sec * ARCA_NS_PER_SEC + st->st_mtim.tv_nsec;
	n->ctime_ns = (int64_t)st->st_ctim.tv_sec * ARCA_NS_PER_SEC + st->st_ctim.tv_nsec;
	n->inode = st->st_ino;
	n->dev = st->st_dev;
	n->nlink = st->st_nlink;
	if (!n->name || !n->user || !n->group)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	return 0;
}

/* ---- pending entries (see struct pending) ---- */

/* A new entry at the tail; its absolute index in *out. */
static int pend_add(archiver *a, const pending *e, size_t *out)
{
	size_t n = a->pend_tail - a->pend_base;
	int rc = 0;
	pthread_mutex_lock(&a->ids_mu); /* workers index pend[] */
	if (n == a->pend_cap)
		rc = arca_grow(&a->pend, &a->pend_cap, n + 1, sizeof(*a->pend), 256);
	if (!rc) {
		a->pend[n] = *e;
		*out = a->pend_tail++;
	}
	pthread_mutex_unlock(&a->ids_mu);
	return rc;
}

/* The file being chunked is complete: its node is node `node` of t, or
 * it was dropped (t NULL). */
static void file_done(archiver *a, arca_tree *t, size_t node)
{
	pending *e;
	if (a->cur_entry == NO_ENTRY)
		return;
	pthread_mutex_lock(&a->ids_mu);
	e = &a->pend[a->cur_entry - a->pend_base];
	e->t = t;
	e->node = node;
	e->count = a->chunks_base + a->nchunks - e->first;
	e->sealed = true;
	pthread_mutex_unlock(&a->ids_mu);
	a->cur_entry = NO_ENTRY;
}

/* Drop what resolved entries and ids no longer need from the front of
 * pend[] and chunks[] (under ids_mu: workers index both). */
static void pend_compact(archiver *a)
{
	size_t drop;
	/* the bases, heads and lengths change only on this thread: look first */
	if (a->pend_head - a->pend_base < 1024 && a->chunks_free - a->chunks_base < 4096)
		return;
	pthread_mutex_lock(&a->ids_mu);
	drop = a->pend_head - a->pend_base;
	if (drop >= 1024 && 2 * drop >= a->pend_tail - a->pend_base) {
		memmove(a->pend, a->pend + drop, (a->pend_tail - a->pend_head) * sizeof(*a->pend));
		a->pend_base = a->pend_head;
	}
	drop = a->chunks_free - a->chunks_base;
	if (drop >= 4096 && 2 * drop >= a->nchunks) {
		memmove(a->chunks, a->chunks + drop, (a->nchunks - drop) * sizeof(*a->chunks));
		a->nchunks -= drop;
		a->chunks_base = a->chunks_free;
	}
	pthread_mutex_unlock(&a->ids_mu);
}

static int save_tree(archiver *a, arca_tree *t, arca_id *out);

/*
 * Resolve entries from the head while they are ready.  all: wait until
 * none is left (before a tree is saved here and now); else wait only while
 * PENDING_MAX entries are outstanding (bounded memory).
 */
static int resolve(archiver *a, bool all)
{
	pending e;
	bool draining = false;
	int rc = 0;
	for (;;) {
		pthread_mutex_lock(&a->ids_mu);
		if (a->pend_head == a->pend_tail) {
			pthread_mutex_unlock(&a->ids_mu);
			break;
		}
		e = a->pend[a->pend_head - a->pend_base];
		if (!e.sub && (!e.sealed || e.remaining)) {
			if (!e.sealed && all) { /* callers never resolve all in the middle of a file */
				pthread_mutex_unlock(&a->ids_mu);
				rc = arca_error_set(ARCA_ERROR, "internal error: a file's chunks are still being read");
				break;
			}
			if (!e.sealed || (!all && a->pend_tail - a->pend_head < PENDING_MAX &&
					  a->held_nodes < HELD_NODES_MAX)) {
				pthread_mutex_unlock(&a->ids_mu);
				/* a sealed file's last jobs must not wait for a batch
				 * that may never fill (an incremental backup queues
				 * nothing for unchanged files), or every later tree
				 * would be held until the end: when nothing was queued
				 * since the last look, workers take what there is */
				if (e.sealed && !a->pushed)
					queue_kick(&a->q);
				a->pushed = false;
				break; /* the file being chunked, or not worth waiting for */
			}
			if (!draining) {
				/* workers must not wait for a batch while we wait */
				pthread_mutex_unlock(&a->ids_mu);
				queue_set_draining(&a->q, true);
				draining = true;
				continue;
			}
			pthread_cond_wait(&a->ids_done, &a->ids_mu);
			pthread_mutex_unlock(&a->ids_mu);
			continue;
		}
		a->pend_head++;
		pthread_mutex_unlock(&a->ids_mu);
		if (e.sub) {
			a->held_nodes -= e.sub->n;
			rc = save_tree(a, e.sub, &e.t->nodes[e.node].subtree);
			arca_tree_free(e.sub);
		} else {
			/* the ids are final: only this thread moves chunks[] */
			if (e.t && e.count) {
				arca_node *n = &e.t->nodes[e.node];
				if (!(n->chunks = malloc(e.count * sizeof(arca_id))))
					rc = arca_error_set(ARCA_NOMEM, "out of memory");
				else
					memcpy(n->chunks, a->chunks + (e.first - a->chunks_base), e.count * sizeof(arca_id));
				n->nchunks = n->chunks ? e.count : 0;
			}
			a->chunks_free = e.first + e.count;
		}
		if (rc)
			break;
	}
	if (draining)
		queue_set_draining(&a->q, false);
	if (!rc && (rc = worker_failed(a)))
		rc = arca_error_set(rc, "%s", a->worker_msg);
	if (!rc) {
		if (a->pend_head == a->pend_tail && a->cur_entry == NO_ENTRY)
			a->chunks_free = a->chunks_base + a->nchunks;
		pend_compact(a);
	}
	return rc;
}

/* Every pending directory's tree, on a failed backup (after the workers
 * stopped). */
static void pend_free(archiver *a)
{
	size_t k;
	for (k = a->pend_head; k < a->pend_tail; k++)
		arca_tree_free(a->pend[k - a->pend_base].sub);
	free(a->pend);
	a->pend = NULL;
	a->pend_head = a->pend_tail = a->pend_base = 0;
}

/*
 * One chunk of the current file, queued for a worker to hash, claim and
 * store; its id will be in chunks[] at the slot reserved here.
 */
static int emit_chunk(archiver *a, const uint8_t *p, size_t n)
{
	pending *e;
	job j;
	int rc;
	if (a->cur_entry == NO_ENTRY) {
		pending ne;
		memset(&ne, 0, sizeof(ne));
		ne.first = a->chunks_base + a->nchunks;
		if ((rc = pend_add(a, &ne, &a->cur_entry)))
			return rc;
	}
	if (a->nchunks == a->capchunks) {
		pthread_mutex_lock(&a->ids_mu); /* workers may be writing ids into it */
		rc = arca_grow(&a->chunks, &a->capchunks, a->nchunks + 1, sizeof(*a->chunks), 256);
		pthread_mutex_unlock(&a->ids_mu);
		if (rc)
			return rc;
	}
	memset(&j, 0, sizeof(j));
	j.slot = a->chunks_base + a->nchunks++;
	j.entry = a->cur_entry;
	j.n = n;
	j.data = chunk_buf_get(a->bufs, n);
	if (!j.data)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	memcpy(j.data, p, n);
	pthread_mutex_lock(&a->ids_mu);
	e = &a->pend[a->cur_entry - a->pend_base];
	e->remaining++;
	pthread_mutex_unlock(&a->ids_mu);
	queue_push(&a->q, &j);
	a->pushed = true;
	return 0;
}

/* Chunk everything readable from fd into jobs for the workers (the ids
 * come with the file's pending entry, a->cur_entry).  expect: the file's
 * size from stat, or UINT64_MAX for a stream. */
static int chunk_fd(archiver *a, int fd, const char *path, uint64_t expect, uint64_t *size)
{
	size_t start = 0, len = 0, max = a->cp.max;
	bool eof = false;
	int rc = 0;
	*size = 0;
	for (;;) {
		while (!eof && len < max) {
			size_t want = a->bufcap - start - len;
			ssize_t got = read(fd, a->buf + start + len, want);
			if (got < 0) {
				if (errno == EINTR)
					continue;
				return arca_error_errno(errno, "cannot read %s", path);
			}
			if (got == 0)
				eof = true;
			if (a->observed && got > 0)
				a->observed->observe(a->observed->payload, a->buf + start + len, (size_t)got);
			len += (size_t)got;
			*size += (uint64_t)got;
			/* a short read that ends where stat said the file ends is
			 * its end: no second read() just to see 0 (one system call
			 * per small file) */
			if (got > 0 && (size_t)got < want && *size == expect)
				eof = true;
			a->st.bytes_read += (uint64_t)got;
			a->prog.bytes += (uint64_t)got;
		}
		if (len == 0)
			break;
		{
			size_t cut = arca_chunker_next(a->ch, a->buf + start, len, eof);
			if (cut == 0 || cut > len)
				cut = len; /* cannot happen: len >= max or eof */
			if ((rc = emit_chunk(a, a->buf + start, cut)))
				return rc;
			start += cut;
			len -= cut;
		}
		if ((rc = worker_failed(a)))
			return arca_error_set(rc, "%s", a->worker_msg);
		if (a->bufcap - start < max + 1) {
			memmove(a->buf, a->buf + start, len);
			start = 0;
		}
		progress(a, path, false);
	}
	return 0;
}

static bool chunks_indexed(archiver *a, const arca_node *p)
{
	size_t i;
	for (i = 0; i < p->nchunks; i++)
		if (!arca_index_has(arca_repo_index(a->r), &p->chunks[i]))
			return false;
	return true;
}

static int set_chunks(archiver *a, arca_node *n, const arca_id *src, size_t count)
{
	n->nchunks = count;
	n->chunks = NULL;
	if (!count)
		return 0;
	n->chunks = malloc(count * sizeof(arca_id));
	if (!n->chunks)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	memcpy(n->chunks, src, count * sizeof(arca_id));
	return 0;
}

/* 1 = stored, 0 = skipped (unreadable, warned), <0 = fatal */
static int archive_file(archiver *a, int dfd, const char *rel, const char *path, const struct stat *st, arca_node *n,
			const arca_node *pn)
{
	uint64_t size;
	int fd, rc;
	n->kind = ARCA_NODE_FILE;
	if (pn && pn->kind == ARCA_NODE_FILE && pn->size == (uint64_t)st->st_size &&
	    pn->mtime_ns == n->mtime_ns && pn->ctime_ns == n->ctime_ns && pn->inode == n->inode &&
	    chunks_indexed(a, pn)) {
		n->size = pn->size;
		a->st.files_unmodified++;
		a->st.bytes_total += n->size;
		a->prog.bytes += n->size;
		return set_chunks(a, n, pn->chunks, pn->nchunks) ? -1 : 1;
	}
	fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		warn_src(a, "cannot open %s: %s (skipped)", path, strerror(errno));
		return 0;
	}
	if (st->st_size >= (1 << 20)) /* a system call per small file for nothing */
		posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = chunk_fd(a, fd, path, (uint64_t)st->st_size, &size);
	close(fd);
	/* on success the ids come with a->cur_entry, which the caller seals
	 * once the node is in its tree; on failure the caller drops it */
	if (rc) {
		/* a worker's failure is the backup's, whatever its code: not this file's */
		if (!worker_failed(a) && (rc == ARCA_NOTFOUND || rc == ARCA_AUTH || rc == ARCA_ERROR)) {
			warn_src(a, "%s (skipped)", arca_error_message());
			return 0;
		}
		return rc;
	}
	n->size = size;
	if (pn)
		a->st.files_changed++;
	else
		a->st.files_new++;
	a->st.bytes_total += size;
	return 1;
}

/*
 * Encode, hash and claim a tree here (its parent needs the id now), and
 * queue a new one for the tree writer: compressing and sealing the
 * thousands of trees an incremental backup writes took a sixth of the
 * walk's time.  One writer thread keeps a backup's trees in one pack at a
 * time, in the order they were written (what readers' tree-pack caches
 * expect).  A store that fails later fails the backup (worker_fail).
 */
static int save_tree(archiver *a, arca_tree *t, arca_id *out)
{
	arca_buf b = ARCA_BUF_INIT;
	job j;
	int rc = arca_tree_encode(t, &b);
	if (rc)
		goto out;
	arca_repo_blob_id(a->r, out, b.data, b.len);
	if ((rc = arca_repo_blob_claim(a->r, out)) <= 0)
		goto out; /* known already (0), or an error */
	if (!a->tree_thread_running) {
		rc = arca_repo_blob_store(a->tw, ARCA_BLOB_TREE, out, b.data, b.len);
		goto out;
	}
	memset(&j, 0, sizeof(j));
	j.id = *out;
	j.data = b.data;
	j.n = b.len;
	b = (arca_buf)ARCA_BUF_INIT; /* the writer frees it */
	queue_push(&a->tq, &j);
	rc = 0;
out:
	arca_buf_free(&b);
	return rc;
}

static int archive_dir(archiver *a, int pdfd, const char *rel, const char *path, const arca_tree *ptree,
		       arca_tree **defer, arca_id *out);

static int load_parent_subtree(archiver *a, const arca_node *pn, arca_tree **out)
{
	*out = NULL;
	if (!pn || pn->kind != ARCA_NODE_DIR)
		return 0;
	if (arca_tree_load(a->rd, &pn->subtree, out)) {
		*out = NULL; /* a parent we cannot read only costs a re-read */
		arca_error_clear();
	}
	return 0;
}

/* Archive one filesystem entry, whose lstat is *stp, into `into`.  <0 fatal.
 * dfd: the directory holding the entry (name is relative to it), or
 * AT_FDCWD with path absolute: opening relative to the parent's
 * descriptor saves a full path lookup per file. */
static int archive_stated(archiver *a, int dfd, const char *path, const char *name, const struct stat *stp,
			  const arca_node *pn, arca_tree *into)
{
	const char *rel = dfd == AT_FDCWD ? path : name;
	const struct stat st = *stp;
	arca_tree *sub = NULL; /* a directory's tree, until its pending entry owns it */
	arca_node n;
	int rc = 0;
	if ((rc = fill_node(a, &n, name, &st)))
		goto out;
	if (S_ISREG(st.st_mode)) {
		rc = archive_file(a, dfd, rel, path, &st, &n, pn);
		a->prog.files++;
		if (rc <= 0)
			goto out;
		rc = 0;
	} else if (S_ISDIR(st.st_mode)) {
		arca_tree *pt = NULL;
		n.kind = ARCA_NODE_DIR;
		load_parent_subtree(a, pn, &pt);
		rc = archive_dir(a, dfd, rel, path, pt, &sub, NULL);
		arca_tree_free(pt);
		if (rc == 1) { /* unreadable directory: skipped */
			rc = 0;
			goto out;
		}
		if (rc)
			goto out;
	} else if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX + 1];
		ssize_t l = readlinkat(dfd, rel, target, PATH_MAX);
		if (l < 0) {
			warn_src(a, "cannot read link %s: %s (skipped)", path, strerror(errno));
			goto out;
		}
		target[l] = '\0';
		n.kind = ARCA_NODE_SYMLINK;
		n.link_target = strdup(target);
		n.size = (uint64_t)l;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		n.kind = S_ISCHR(st.st_mode) ? ARCA_NODE_CHARDEV : ARCA_NODE_BLOCKDEV;
		n.rdev = st.st_rdev;
	} else if (S_ISFIFO(st.st_mode)) {
		n.kind = ARCA_NODE_FIFO;
	} else if (S_ISSOCK(st.st_mode)) {
		n.kind = ARCA_NODE_SOCKET;
	} else {
		goto out;
	}
	if ((rc = arca_tree_add(into, &n)))
		goto out;
	if (sub) { /* its id comes when its entry is resolved */
		pending e;
		size_t k;
		memset(&e, 0, sizeof(e));
		e.t = into;
		e.node = into->n - 1;
		e.sub = sub;
		e.sealed = true;
		if ((rc = pend_add(a, &e, &k)))
			goto out;
		a->held_nodes += sub->n;
		sub = NULL;
	}
	file_done(a, into, into->n - 1);
	rc = resolve(a, false);
out:
	if (a->cur_entry != NO_ENTRY) { /* a file that was not added: its ids are dropped */
		file_done(a, NULL, 0);
		if (!rc)
			rc = resolve(a, false);
	}
	arca_tree_free(sub);
	arca_node_clear(&n);
	return rc;
}

/* A path given on the command line (absolute). */
static int archive_given(archiver *a, const char *path, const char *name, const arca_node *pn, arca_tree *into)
{
	struct stat st;
	if (excluded(a, path, name))
		return 0;
	if (lstat(path, &st)) {
		warn_src(a, "cannot stat %s: %s (skipped)", path, strerror(errno));
		return 0;
	}
	return archive_stated(a, AT_FDCWD, path, name, &st, pn, into);
}

static int cmp_cstr(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

static bool scan_excluded(const char *path, const char *name, void *payload)
{
	return excluded(payload, path, name);
}

/* Directory listings the scanner may hold ready (each keeps its directory
 * open: with the archiver's and the scanner's paths down the tree, that
 * stays well within the usual limit of 1024 descriptors). */
#define SCAN_AHEAD 64

/* 0 ok, 1 unreadable (warned), <0 fatal.  The listing comes from the
 * scanner when it is in step, else it is read here.  defer: the tree is
 * returned there, for the caller's pending entry, while ids of its files
 * may still be computed; else every entry is resolved and the tree saved
 * here, its id in *out. */
static int archive_dir(archiver *a, int pdfd, const char *rel, const char *path, const arca_tree *ptree,
		       arca_tree **defer, arca_id *out)
{
	arca_listing *l = arca_scanner_next(a->scan, path);
	char *child = NULL;
	size_t i, ccap = 0;
	arca_tree *t = calloc(1, sizeof(*t));
	int rc = 0;
	if (!t) {
		arca_listing_release(l);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	if (!l && (rc = arca_listing_read(&l, pdfd, rel, path, a->o->nexcludes ? scan_excluded : NULL, a))) {
		free(t);
		return rc;
	}
	if (l->err) {
		warn_src(a, "cannot read directory %s: %s (skipped)", path, strerror(l->err));
		arca_listing_release(l);
		free(t);
		return 1;
	}
	for (i = 0; i < l->n; i++) {
		const arca_scan_entry *e = &l->v[i];
		if ((rc = arca_scan_child_path(&child, &ccap, path, e->name)))
			goto out;
		if (e->err) {
			warn_src(a, "cannot stat %s: %s (skipped)", child, strerror(e->err));
			continue;
		}
		if ((rc = archive_stated(a, l->fd, child, e->name, &e->st, ptree ? arca_tree_find(ptree, e->name) : NULL,
					 t)))
			goto out;
	}
	a->st.dirs++;
	a->prog.dirs++;
	if (defer) {
		*defer = t;
		t = NULL;
	} else if (!(rc = resolve(a, true))) {
		rc = save_tree(a, t, out);
	}
out:
	arca_listing_release(l);
	free(child);
	/* on failure entries may still name t: the backup is over, and they
	 * are never resolved */
	arca_tree_free(t);
	return rc;
}

/*
 * Build the tree above the given absolute paths: components that lead to a
 * backed-up path become directories with the metadata of the real
 * directory, like restic.  paths[] share the prefix `prefix` ("" = root).
 */
static int archive_virtual(archiver *a, const char *prefix, char **paths, size_t n, const arca_tree *ptree,
			   arca_id *out)
{
	arca_tree t = { 0 };
	size_t i = 0, plen = strlen(prefix);
	int rc = 0;
	while (i < n && !rc) {
		const char *comp = paths[i] + plen + 1, *slash = strchr(comp, '/');
		size_t clen = slash ? (size_t)(slash - comp) : strlen(comp), j = i;
		char name[ARCA_NAME_MAX + 1], *child;
		const arca_node *pn;
		if (clen > ARCA_NAME_MAX) {
			rc = arca_error_set(ARCA_INVAL, "path component too long in %s", paths[i]);
			break;
		}
		memcpy(name, comp, clen);
		name[clen] = '\0';
		while (j < n && !strncmp(paths[j] + plen + 1, name, clen) &&
		       (paths[j][plen + 1 + clen] == '/' || paths[j][plen + 1 + clen] == '\0'))
			j++;
		child = malloc(plen + clen + 2);
		if (!child) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			break;
		}
		snprintf(child, plen + clen + 2, "%s/%s", prefix, name);
		pn = ptree ? arca_tree_find(ptree, name) : NULL;
		if (j == i + 1 && !strcmp(paths[i], child)) {
			rc = archive_given(a, child, name, pn, &t);
		} else {
			struct stat st;
			arca_node node;
			arca_tree *pt = NULL;
			if (stat(child, &st) || !S_ISDIR(st.st_mode)) {
				warn_src(a, "cannot stat %s (skipped)", child);
				free(child);
				i = j;
				continue;
			}
			if (!(rc = fill_node(a, &node, name, &st))) {
				node.kind = ARCA_NODE_DIR;
				load_parent_subtree(a, pn, &pt);
				rc = archive_virtual(a, child, paths + i, j - i, pt, &node.subtree);
				arca_tree_free(pt);
				if (!rc)
					rc = arca_tree_add(&t, &node);
			}
			arca_node_clear(&node);
		}
		free(child);
		i = j;
	}
	if (!rc && !(rc = resolve(a, true)))
		rc = save_tree(a, &t, out);
	arca_tree_clear(&t);
	return rc;
}

/* Absolute, lexically normalised path (no symlink resolution, like
 * restic).  Caller frees. */
static char *abs_path(const char *p)
{
	char cwd[PATH_MAX], *in, *out, *tok, *save = NULL;
	size_t cap;
	if (p[0] == '/') {
		in = strdup(p);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return NULL;
		cap = strlen(cwd) + strlen(p) + 2;
		in = malloc(cap);
		if (in)
			snprintf(in, cap, "%s/%s", cwd, p);
	}
	if (!in)
		return NULL;
	out = calloc(1, strlen(in) + 2);
	if (!out) {
		free(in);
		return NULL;
	}
	for (tok = strtok_r(in, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (!strcmp(tok, "."))
			continue;
		if (!strcmp(tok, "..")) {
			char *s = strrchr(out, '/');
			if (s)
				*s = '\0';
			continue;
		}
		strcat(out, "/");
		strcat(out, tok);
	}
	if (!out[0])
		strcpy(out, "/");
	free(in);
	return out;
}

static int find_parent(archiver *a, char **paths, size_t n, const char *host, arca_snapshot_list *l,
		       const arca_snapshot **out)
{
	size_t i, k;
	*out = NULL;
	for (i = l->n; i-- > 0;) {
		const arca_snapshot *s = l->v[i];
		bool same = s->npaths == n && s->host && !strcmp(s->host, host);
		for (k = 0; same && k < n; k++)
			if (strcmp(s->paths[k], paths[k]))
				same = false;
		if (same) {
			*out = s;
			return 0;
		}
	}
	return 0;
}

/* One stream read from fd until EOF, as the file name in t. */
static int archive_stream(archiver *a, int fd, const char *name, arca_tree *t)
{
	arca_node n;
	struct stat st;
	int64_t now = arca_time_now_ns();
	uint64_t size;
	int rc;
	if (!arca_name_is_safe(name, strlen(name)))
		return arca_error_set(ARCA_INVAL, "stream name '%s' must be a plain file name", name);
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | 0600;
	st.st_uid = getuid();
	st.st_gid = getgid();
	st.st_mtim.tv_sec = now / ARCA_NS_PER_SEC;
	st.st_ctim = st.st_mtim;
	st.st_nlink = 1;
	if ((rc = fill_node(a, &n, name, &st)))
		goto out;
	n.kind = ARCA_NODE_FILE;
	if ((rc = chunk_fd(a, fd, name, UINT64_MAX, &size)))
		goto out;
	n.size = size;
	a->st.files_new++;
	a->st.bytes_total += size;
	a->prog.files++;
	if (!(rc = arca_tree_add(t, &n)))
		file_done(a, t, t->n - 1);
out:
	file_done(a, NULL, 0); /* not added: its ids are dropped */
	arca_node_clear(&n);
	return rc;
}

static int archive_stdin(archiver *a, const char *name, arca_id *out)
{
	arca_tree t = { 0 };
	int rc = archive_stream(a, a->o->stdin_fd, name, &t);
	if (!rc && !(rc = resolve(a, true)))
		rc = save_tree(a, &t, out);
	arca_tree_clear(&t);
	return rc;
}

/* Every stream of o->streams, one after the other, into one root tree. */
static int archive_streams(archiver *a, arca_id *out)
{
	arca_tree t = { 0 };
	size_t i;
	int rc = 0;
	for (i = 0; i < a->o->nstreams && !rc; i++) {
		const arca_backup_stream *s = &a->o->streams[i];
		int fd = -1, crc;
		if ((rc = s->open(s->payload, &fd)))
			break;
		a->observed = s->observe ? s : NULL;
		rc = archive_stream(a, fd, s->name, &t);
		a->observed = NULL;
		crc = s->close(s->payload, fd, rc == 0);
		if (!rc)
			rc = crc;
	}
	if (!rc && !(rc = resolve(a, true)))
		rc = save_tree(a, &t, out);
	arca_tree_clear(&t);
	return rc;
}

static int stop_workers(archiver *a)
{
	unsigned i;
	if (a->tree_thread_running) {
		queue_close(&a->tq);
		pthread_join(a->tree_thread, NULL);
		a->tree_thread_running = false;
	}
	if (!a->workers)
		return worker_failed(a);
	queue_close(&a->q);
	for (i = 0; i < a->nworkers; i++)
		pthread_join(a->workers[i], NULL);
	free(a->workers);
	a->workers = NULL;
	return worker_failed(a);
}

static int copy_strs(char ***dst, size_t *dn, const char *const *src, size_t n)
{
	size_t i;
	*dst = calloc(n ? n : 1, sizeof(char *));
	if (!*dst)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n; i++)
		if (!((*dst)[i] = strdup(src[i])))
			return arca_error_set(ARCA_NOMEM, "out of memory");
	*dn = n;
	return 0;
}

static int copy_kvs(arca_kv **dst, size_t *dn, const arca_kv *src, size_t n)
{
	size_t i;
	*dst = calloc(n ? n : 1, sizeof(arca_kv));
	if (!*dst)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		(*dst)[i].key = strdup(src[i].key);
		(*dst)[i].value = strdup(src[i].value);
		*dn = i + 1;
		if (!(*dst)[i].key || !(*dst)[i].value)
			return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	*dn = n;
	return 0;
}

int arca_backup(arca_repo *r, const arca_backup_opts *o, arca_backup_result *res)
{
	archiver a;
	arca_snapshot_list list = { 0 };
	const arca_snapshot *parent = NULL;
	arca_snapshot *snap = NULL;
	arca_tree *ptree = NULL;
	char **paths = NULL, host[256];
	size_t npaths = 0, i, k;
	arca_id root;
	arca_repo_write_stats ws0, ws1;
	unsigned t;
	long ncpu;
	int rc;

	memset(&a, 0, sizeof(a));
	memset(res, 0, sizeof(*res));
	a.r = r;
	a.o = o;
	a.cp = *arca_repo_chunker_params(r);
	a.t0 = arca_monotonic();
	pthread_mutex_init(&a.err_mu, NULL);
	pthread_mutex_init(&a.ids_mu, NULL);
	pthread_cond_init(&a.ids_done, NULL);
	a.cur_entry = NO_ENTRY;
	arca_repo_write_stats_get(r, &ws0);

	if (o->host)
		snprintf(host, sizeof(host), "%s", o->host);
	else if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';

	if (o->nstreams) {
		paths = calloc(o->nstreams, sizeof(char *));
		if (!paths) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < o->nstreams; i++) {
			size_t l = strlen(o->streams[i].name) + 2;
			if (!(paths[i] = malloc(l))) {
				rc = arca_error_set(ARCA_NOMEM, "out of memory");
				goto out;
			}
			snprintf(paths[i], l, "/%s", o->streams[i].name);
			npaths = i + 1;
		}
		qsort(paths, npaths, sizeof(char *), cmp_cstr);
	} else if (o->stdin_fd < 0) {
		if (!o->npaths) {
			rc = arca_error_set(ARCA_INVAL, "nothing to back up: give paths or --stdin");
			goto out;
		}
		paths = calloc(o->npaths, sizeof(char *));
		if (!paths) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		for (i = 0; i < o->npaths; i++) {
			struct stat st;
			char *p = abs_path(o->paths[i]);
			if (!p) {
				rc = arca_error_set(ARCA_NOMEM, "cannot resolve path %s", o->paths[i]);
				goto out;
			}
			if (lstat(p, &st)) {
				rc = arca_error_errno(errno, "cannot back up %s", o->paths[i]);
				free(p);
				goto out;
			}
			paths[npaths++] = p;
		}
		qsort(paths, npaths, sizeof(char *), cmp_cstr);
		/* drop duplicates and paths inside another given path */
		for (i = 0, k = 0; i < npaths; i++) {
			size_t pl = k ? strlen(paths[k - 1]) : 0;
			if (k && (!strcmp(paths[k - 1], paths[i]) || !strcmp(paths[k - 1], "/") ||
				  (!strncmp(paths[i], paths[k - 1], pl) && paths[i][pl] == '/'))) {
				free(paths[i]);
				continue;
			}
			paths[k++] = paths[i];
		}
		npaths = k;
	} else {
		if (!o->stdin_name || !*o->stdin_name) {
			rc = arca_error_set(ARCA_INVAL, "--stdin needs --stdin-name");
			goto out;
		}
		paths = calloc(1, sizeof(char *));
		if (!paths || !(paths[0] = abs_path(o->stdin_name))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		npaths = 1;
	}

	{
		unsigned removed = 0;
		if (arca_repo_cleanup_leftovers(r, &removed))
			arca_error_clear(); /* best effort: never fails a backup */
		else if (removed)
			arca_repo_warn(r, "removed %u temporary file(s) left by an interrupted run", removed);
		if (arca_repo_adopt_orphans(r, &removed))
			arca_error_clear();
		else if (removed)
			arca_repo_warn(r, "reusing %u pack(s) left unindexed by an interrupted run", removed);
	}
	if ((rc = arca_snapshot_list_load(r, &list)))
		goto out;
	if (o->parent) {
		for (i = 0; i < list.n; i++)
			if (arca_id_eq(&list.v[i]->id, o->parent))
				parent = list.v[i];
		if (!parent) {
			rc = arca_error_set(ARCA_NOTFOUND, "parent snapshot not found");
			goto out;
		}
	} else if (!o->no_parent && o->stdin_fd < 0 && !o->nstreams) {
		find_parent(&a, paths, npaths, host, &list, &parent);
	}

	if ((rc = arca_chunker_new(&a.ch, &a.cp, arca_repo_gear(r))) || (rc = arca_repo_reader_new(&a.rd, r)) ||
	    (rc = arca_repo_writer_new(&a.tw, r)))
		goto out;
	/* The read buffer: when less than a chunk's maximum is left after a
	 * cut, the rest moves to the front.  Small enough to stay in the CPU's
	 * cache, where those moves are cheap (a 16 MiB buffer made a stream's
	 * backup slower, not faster). */
	a.bufcap = (size_t)a.cp.max + 1024 * 1024;
	a.buf = malloc(a.bufcap);
	if (!a.buf) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory for the read buffer");
		goto out;
	}
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	a.nworkers = o->threads ? o->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
	if (a.nworkers > 64)
		a.nworkers = 64;
	/* The queue holds 16 jobs per worker: every chunk goes through it, and
	 * with small files a shorter one made the walker and the workers take
	 * turns (4 per worker: 3 % slower).  The ring holds the queue's byte
	 * budget (two maximal chunks) and two more, whatever the number of
	 * workers (its pages stay resident once touched), in as many buffers
	 * as the queue and the workers' batches can hold; beyond that, and if
	 * it cannot be had, chunk buffers come from malloc. */
	if ((rc = queue_init(&a.q, a.nworkers * 16 + 16)))
		goto out;
	if (arca_ring_new(&a.bufs, (size_t)a.cp.max * 4, a.nworkers * (16 + WORKER_BATCH) + 16 + 2)) {
		arca_error_clear();
		a.bufs = NULL;
	}
	a.q.max_bytes = (size_t)a.cp.max * 2;
	a.q.data_ring = a.bufs;
	a.q.min_pop = WORKER_BATCH;
	a.q.min_bytes = WORKER_BATCH_BYTES;
	a.workers = calloc(a.nworkers, sizeof(pthread_t));
	if (!a.workers) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (t = 0; t < a.nworkers; t++) {
		if (pthread_create(&a.workers[t], NULL, worker_main, &a)) {
			a.nworkers = t;
			rc = arca_error_set(ARCA_ERROR, "cannot start worker threads");
			goto out;
		}
	}
	if ((rc = queue_init(&a.tq, 256)))
		goto out;
	a.tq.max_bytes = 4u << 20;
	a.tq.min_pop = TREE_BATCH; /* the tree writer works in batches */
	/* without the thread, save_tree stores trees itself */
	a.tree_thread_running = !pthread_create(&a.tree_thread, NULL, tree_writer_main, &a);

	if (parent && arca_tree_load(a.rd, &parent->tree, &ptree)) {
		ptree = NULL;
		arca_error_clear();
	}
	if (!o->nstreams && o->stdin_fd < 0 &&
	    arca_scanner_start(&a.scan, paths, npaths, o->nexcludes ? scan_excluded : NULL, &a, SCAN_AHEAD))
		arca_error_clear(); /* no scanner thread: the archiver lists directories itself */
	if (o->nstreams)
		rc = archive_streams(&a, &root);
	else if (o->stdin_fd >= 0)
		rc = archive_stdin(&a, o->stdin_name, &root);
	else if (npaths == 1 && !strcmp(paths[0], "/")) {
		if ((rc = archive_dir(&a, AT_FDCWD, "/", "/", ptree, NULL, &root)) == 1)
			rc = arca_error_set(ARCA_ERROR, "cannot read /");
	} else
		rc = archive_virtual(&a, "", paths, npaths, ptree, &root);
	if (rc) {
		stop_workers(&a);
		goto out;
	}
	if ((rc = stop_workers(&a))) {
		rc = arca_error_set(rc, "%s", a.worker_msg);
		goto out;
	}
	if ((rc = arca_repo_writer_flush(a.tw)) || (rc = arca_repo_commit_index(r)))
		goto out;
	progress(&a, NULL, true);

	if (o->before_commit && (rc = o->before_commit(o->commit_payload)))
		goto out;

	snap = calloc(1, sizeof(*snap));
	if (!snap) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	snap->time_ns = o->time_ns ? o->time_ns : arca_time_now_ns();
	snap->tree = root;
	snap->host = strdup(host);
	{
		struct passwd *pw = getpwuid(getuid());
		snap->user = strdup(pw ? pw->pw_name : "");
	}
	snap->uid = getuid();
	snap->gid = getgid();
	snap->type = strdup(o->type ? o->type : "manual");
	snap->program = strdup(PROGRAM);
	snap->expires_ns = o->expires_ns;
	if (parent) {
		snap->has_parent = true;
		snap->parent = parent->id;
	}
	if ((rc = copy_strs(&snap->paths, &snap->npaths, (const char *const *)paths, npaths)) ||
	    (rc = copy_strs(&snap->tags, &snap->ntags, o->tags, o->ntags)) ||
	    (rc = copy_kvs(&snap->meta, &snap->nmeta, o->meta, o->nmeta)) ||
	    (rc = copy_kvs(&snap->source, &snap->nsource, o->source, o->nsource)))
		goto out;
	if (!snap->host || !snap->user || !snap->type || !snap->program) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	arca_repo_write_stats_get(r, &ws1);
	a.st.blobs_new = ws1.blobs_new - ws0.blobs_new;
	a.st.bytes_added_raw = ws1.raw_bytes_new - ws0.raw_bytes_new;
	a.st.bytes_added = ws1.stored_bytes_new - ws0.stored_bytes_new;
	a.st.duration_ms = (uint64_t)((arca_monotonic() - a.t0) * 1000);
	snap->stats = a.st;
	if ((rc = arca_snapshot_save(r, snap)))
		goto out;
	res->snapshot_id = snap->id;
	res->has_parent = snap->has_parent;
	res->parent = snap->parent;
	res->stats = a.st;
out:
	arca_scanner_free(a.scan);
	if (a.workers)
		stop_workers(&a);
	if (a.q.ring)
		queue_destroy(&a.q);
	if (a.tq.ring)
		queue_destroy(&a.tq);
	arca_ring_free(a.bufs);
	arca_snapshot_free(snap);
	arca_tree_free(ptree);
	arca_snapshot_list_free(&list);
	for (i = 0; i < npaths; i++)
		free(paths[i]);
	free(paths);
	arca_chunker_free(a.ch);
	arca_repo_reader_free(a.rd);
	arca_repo_writer_free(a.tw);
	free(a.buf);
	free(a.chunks);
	pend_free(&a); /* after the workers: they index pend[] */
	pthread_mutex_destroy(&a.err_mu);
	pthread_mutex_destroy(&a.ids_mu);
	pthread_cond_destroy(&a.ids_done);
	return rc;
}
