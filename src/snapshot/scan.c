/*
 * snapshot/scan.c - directory listings, and the scanner thread that reads
 * them ahead of the archiver (see scan.h).
 *
 * A listing costs one openat, getdents64 until it returns 0, and one
 * fstatat per entry: readdir(3) would add an fstat and two fcntl calls per
 * directory, which on a tree of small directories is a quarter of all
 * system calls of an unchanged backup.
 */
#include "snapshot/scan.h"
#include "arca/error.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DENTS_BUF (32u * 1024)
/* Memory bound of the scanner's queue: entries in queued listings (about
 * 160 bytes each), though a bigger directory is never refused when the
 * queue is empty. */
#define MAX_ENTRIES_AHEAD 65536u
/* An archiver that ran dry sleeps until this many listings are queued (or
 * the scanner is blocked or done): on an unchanged tree the archiver is the
 * faster of the two, and a wake-up per directory is two context switches
 * per directory on each side. */
#define WAKE_BATCH 8u

void arca_listing_release(arca_listing *l)
{
	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (l->fd >= 0)
		close(l->fd);
	free(l->path);
	free(l->v);
	free(l->names);
	free(l);
}

int arca_scan_child_path(char **buf, size_t *cap, const char *dir, const char *name)
{
	size_t dl = strlen(dir), nl = strlen(name);
	bool root = dl == 1 && dir[0] == '/';
	size_t need = dl + nl + 2;
	if (need > *cap) {
		char *nb = realloc(*buf, need);
		if (!nb)
			return arca_error_set(ARCA_NOMEM, "out of memory");
		*buf = nb;
		*cap = need;
	}
	memcpy(*buf, dir, dl);
	if (!root)
		(*buf)[dl++] = '/';
	memcpy(*buf + dl, name, nl + 1);
	return 0;
}

static int cmp_entry(const void *x, const void *y)
{
	return strcmp(((const arca_scan_entry *)x)->name, ((const arca_scan_entry *)y)->name);
}

/* Read every name into l->names (NUL-separated); *count of them. */
static int read_names(arca_listing *l, size_t *len, size_t *count)
{
	char dents[DENTS_BUF];
	size_t cap = 0;
	*len = 0;
	*count = 0;
	for (;;) {
		ssize_t got = getdents64(l->fd, dents, sizeof(dents));
		size_t off = 0;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			l->err = errno;
			return 0;
		}
		if (got == 0)
			return 0;
		while (off < (size_t)got) {
			const struct dirent64 *d = (const struct dirent64 *)(dents + off);
			size_t nl = strlen(d->d_name);
			off += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			if (arca_grow(&l->names, &cap, *len + nl + 1, 1, 4096))
				return arca_error_prefix(ARCA_NOMEM, "listing %s", l->path);
			memcpy(l->names + *len, d->d_name, nl + 1);
			*len += nl + 1;
			(*count)++;
		}
	}
}

int arca_listing_read(arca_listing **out, int pdfd, const char *rel, const char *path, arca_scan_filter filter,
		      void *payload)
{
	arca_listing *l = calloc(1, sizeof(*l));
	char *child = NULL;
	size_t len, count, i, k, ccap = 0;
	int rc;

	*out = NULL;
	if (!l || !(l->path = strdup(path))) {
		free(l);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	l->refs = 1;
	l->fd = openat(pdfd, rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (l->fd < 0) {
		l->err = errno;
		*out = l;
		return 0;
	}
	if ((rc = read_names(l, &len, &count)))
		goto fail;
	if (l->err || !count) {
		*out = l;
		return 0;
	}
	if (!(l->v = calloc(count, sizeof(*l->v)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory listing %s", path);
		goto fail;
	}
	for (i = 0, k = 0; i < count; i++) {
		l->v[i].name = l->names + k;
		k += strlen(l->names + k) + 1;
	}
	qsort(l->v, count, sizeof(*l->v), cmp_entry);
	for (i = 0, k = 0; i < count; i++) {
		arca_scan_entry *e = &l->v[i];
		if (filter) {
			if ((rc = arca_scan_child_path(&child, &ccap, path, e->name)))
				goto fail;
			if (filter(child, e->name, payload))
				continue;
		}
		if (fstatat(l->fd, e->name, &e->st, AT_SYMLINK_NOFOLLOW))
			e->err = errno;
		l->v[k++] = *e;
	}
	l->n = k;
	free(child);
	*out = l;
	return 0;
fail:
	free(child);
	arca_listing_release(l);
	return rc;
}

/* ---- the scanner thread ---- */

struct arca_scanner {
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	bool consumer_waits, producer_waits; /* asleep, and not yet signalled */
	arca_listing **q;
	size_t cap, head, count;
	size_t entries; /* in the queued listings, bounded by MAX_ENTRIES_AHEAD */
	bool stop;     /* asked to stop, or out of step: no more listings */
	bool finished; /* the walk is over (done or failed) */
	char **roots;
	size_t nroots;
	arca_scan_filter filter;
	void *payload;
};

static bool queue_full(const arca_scanner *s, size_t n)
{
	return s->count == s->cap || (s->count && s->entries + n > MAX_ENTRIES_AHEAD);
}

/* Queue l with a reference for the archiver; false once stopped.  The
 * archiver is woken once a batch is queued, or when this thread is about
 * to block on a full queue. */
static bool push(arca_scanner *s, arca_listing *l)
{
	bool ok, wake = false;
	pthread_mutex_lock(&s->mu);
	while (queue_full(s, l->n) && !s->stop) {
		s->producer_waits = true;
		if (s->consumer_waits) {
			s->consumer_waits = false;
			pthread_cond_signal(&s->not_empty);
		}
		pthread_cond_wait(&s->not_full, &s->mu);
	}
	s->producer_waits = false;
	ok = !s->stop;
	if (ok) {
		__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
		s->q[(s->head + s->count) % s->cap] = l;
		s->count++;
		s->entries += l->n;
		if (s->consumer_waits && (s->count >= WAKE_BATCH || queue_full(s, 0))) {
			s->consumer_waits = false;
			wake = true;
		}
	}
	pthread_mutex_unlock(&s->mu);
	if (wake) /* it is inside pthread_cond_wait: it set the flag under the lock */
		pthread_cond_signal(&s->not_empty);
	return ok;
}

/* Under s->mu: stop, and wake both sides. */
static void stop_locked(arca_scanner *s)
{
	s->stop = true;
	s->consumer_waits = s->producer_waits = false;
	pthread_cond_broadcast(&s->not_empty);
	pthread_cond_broadcast(&s->not_full);
}

/* Depth first, a directory's listing before its subdirectories' (the
 * archiver's order).  false: stop (asked to, or out of memory). */
static bool scan_tree(arca_scanner *s, int pdfd, const char *rel, const char *path)
{
	arca_listing *l;
	char *child = NULL;
	size_t ccap = 0, i;
	bool ok = true;
	if (arca_listing_read(&l, pdfd, rel, path, s->filter, s->payload)) {
		arca_error_clear();
		return false;
	}
	if (!push(s, l)) {
		arca_listing_release(l);
		return false;
	}
	for (i = 0; ok && l->fd >= 0 && i < l->n; i++) {
		const arca_scan_entry *e = &l->v[i];
		if (e->err || !S_ISDIR(e->st.st_mode))
			continue;
		if (arca_scan_child_path(&child, &ccap, path, e->name)) {
			arca_error_clear();
			ok = false;
			break;
		}
		ok = scan_tree(s, l->fd, e->name, child);
	}
	free(child);
	arca_listing_release(l);
	return ok;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s && s[1] ? s + 1 : path;
}

static void *scanner_main(void *arg)
{
	arca_scanner *s = arg;
	size_t i;
	for (i = 0; i < s->nroots; i++) {
		struct stat st;
		const char *root = s->roots[i];
		if (s->filter && s->filter(root, base_name(root), s->payload))
			continue;
		if (lstat(root, &st) || !S_ISDIR(st.st_mode))
			continue;
		if (!scan_tree(s, AT_FDCWD, root, root))
			break;
	}
	pthread_mutex_lock(&s->mu);
	s->finished = true;
	s->consumer_waits = false;
	pthread_cond_broadcast(&s->not_empty);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int arca_scanner_start(arca_scanner **out, char *const *roots, size_t n, arca_scan_filter filter, void *payload,
		       size_t max_ahead)
{
	arca_scanner *s = calloc(1, sizeof(*s));
	size_t i;
	*out = NULL;
	if (!s)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->not_empty, NULL);
	pthread_cond_init(&s->not_full, NULL);
	s->cap = max_ahead ? max_ahead : 1;
	s->filter = filter;
	s->payload = payload;
	if (!(s->q = calloc(s->cap, sizeof(*s->q))) || !(s->roots = calloc(n ? n : 1, sizeof(char *))))
		goto nomem;
	for (i = 0; i < n; i++) {
		if (!(s->roots[i] = strdup(roots[i])))
			goto nomem;
		s->nroots = i + 1;
	}
	if (pthread_create(&s->thread, NULL, scanner_main, s)) {
		arca_scanner_free(s);
		return arca_error_set(ARCA_ERROR, "cannot start the scanner thread");
	}
	s->started = true;
	*out = s;
	return 0;
nomem:
	arca_scanner_free(s);
	return arca_error_set(ARCA_NOMEM, "out of memory");
}

arca_listing *arca_scanner_next(arca_scanner *s, const char *path)
{
	arca_listing *l = NULL;
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->mu);
	if (!s->count)
		while (s->count < WAKE_BATCH && !s->producer_waits && !s->finished && !s->stop) {
			s->consumer_waits = true;
			pthread_cond_wait(&s->not_empty, &s->mu);
		}
	s->consumer_waits = false;
	if (s->count && !s->stop && !strcmp(s->q[s->head]->path, path)) {
		l = s->q[s->head];
		s->head = (s->head + 1) % s->cap;
		s->count--;
		s->entries -= l->n;
		/* a blocked scanner goes on once the queue is half drained */
		if (s->producer_waits && s->count <= s->cap / 2 && s->entries <= MAX_ENTRIES_AHEAD / 2) {
			s->producer_waits = false;
			pthread_cond_signal(&s->not_full);
		}
	} else {
		stop_locked(s); /* out of step or finished: the caller lists from here on */
	}
	pthread_mutex_unlock(&s->mu);
	return l;
}

void arca_scanner_free(arca_scanner *s)
{
	size_t i;
	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->mu);
		stop_locked(s);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->thread, NULL);
	}
	for (i = 0; i < s->count; i++)
		arca_listing_release(s->q[(s->head + i) % s->cap]);
	for (i = 0; i < s->nroots; i++)
		free(s->roots[i]);
	free(s->roots);
	free(s->q);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->not_empty);
	pthread_cond_destroy(&s->not_full);
	free(s);
}
