/*
 * snapshot/restore.c - restoring a snapshot into a target directory.
 *
 * Safety is structural: every directory is created with mkdirat() and
 * opened with openat(O_NOFOLLOW | O_DIRECTORY) relative to its parent's
 * descriptor, starting from the target; names come from the tree decoder,
 * which refuses '/', "." and "..".  Nothing ever resolves a path through a
 * symlink the snapshot (or anyone else) planted, so no write can land
 * outside the target.  Existing files are unlinked and recreated with
 * O_EXCL, so a planted hard link cannot redirect writes either.
 *
 * Speed: the calling thread walks trees and creates directories; one
 * worker per core fetches, verifies and writes file contents, skipping
 * all-zero chunks (sparse files).  A directory's descriptor stays open
 * while anything in it is pending (the walk of its tree, its files, its
 * subdirectories); whoever finishes last applies its metadata through that
 * descriptor, so creating entries never disturbs a directory mtime already
 * set, and no path is resolved twice.  Workers take files in batches of
 * consecutive files of one directory (up to BATCH_FILES or BATCH_BYTES):
 * workers creating files in one directory at once would spin on its lock
 * in the kernel, and one job per file costs a wake-up per file.  Directories that take part in hard
 * links (made at the very end) get their metadata after the links.
 */
#include "arca/snapshot.h"
#include "hash/idset.h"
#include "util/timefmt.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* A directory being restored; see the top of the file. */
typedef struct rdir {
	int fd;
	int refs;           /* the walk of its tree, its pending files, its live subdirectories */
	bool fresh;         /* created by this restore: no old entry to replace */
	bool has_meta;      /* false for the target itself */
	bool defer_meta;    /* metadata after the hard links (remembered in restorer.dirs) */
	struct rdir *parent;
	char *relpath;
	arca_node meta;     /* metadata only */
} rdir;

typedef struct rfile {
	char *relpath;  /* for messages */
	arca_node node; /* owned copy */
} rfile;

/* A batch of consecutive files of one directory, for one worker. */
#define BATCH_FILES 32
#define BATCH_BYTES (4u << 20)

typedef struct rjob {
	rdir *dir;    /* holds one reference */
	rfile *files; /* BATCH_FILES of room */
	size_t n;
	uint64_t bytes;
} rjob;

typedef struct rqueue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	rjob *ring;
	size_t cap, head, count;
	bool closed;
} rqueue;

typedef struct dir_meta {
	char *relpath;
	arca_node node; /* metadata only */
} dir_meta;

typedef struct hardlink {
	char *from; /* existing restored path */
	char *to;   /* new link path */
} hardlink;

typedef struct inode_seen {
	uint64_t dev, ino;
	char *relpath;
} inode_seen;

typedef struct restorer {
	arca_repo *r;
	const arca_restore_opts *o;
	arca_repo_reader *rd;
	int rootfd;
	bool is_root;
	uid_t euid;    /* who this process creates files as */
	gid_t egid;
	mode_t umask;  /* the process's, read at the start */
	rqueue q;
	pthread_t *workers;
	unsigned nworkers;
	pthread_mutex_t mu; /* errors, result */
	int fatal_rc;
	char fatal_msg[1024];
	arca_restore_result res;
	dir_meta *dirs;
	size_t ndirs, capdirs;
	hardlink *links;
	size_t nlinks, caplinks;
	inode_seen *seen;
	size_t nseen, capseen;
	arca_idset seen_set; /* (dev, inode) -> index into seen */
	arca_progress prog;
	double t0, last;
} restorer;

static void rwarn(restorer *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rwarn(restorer *s, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&s->mu);
	s->res.errors++;
	pthread_mutex_unlock(&s->mu);
	if (s->o->warn)
		s->o->warn(msg, s->o->warn_payload);
}

static void set_fatal(restorer *s, int rc)
{
	pthread_mutex_lock(&s->mu);
	if (!s->fatal_rc) {
		s->fatal_rc = rc;
		snprintf(s->fatal_msg, sizeof(s->fatal_msg), "%s", arca_error_message());
	}
	pthread_mutex_unlock(&s->mu);
}

static int get_fatal(restorer *s)
{
	int rc;
	pthread_mutex_lock(&s->mu);
	rc = s->fatal_rc;
	pthread_mutex_unlock(&s->mu);
	return rc;
}

/* ---- node copies ---- */

static int node_copy(arca_node *dst, const arca_node *src, bool with_chunks)
{
	*dst = *src;
	dst->name = strdup(src->name);
	dst->user = strdup(src->user ? src->user : "");
	dst->group = strdup(src->group ? src->group : "");
	dst->link_target = src->link_target ? strdup(src->link_target) : NULL;
	dst->chunks = NULL;
	dst->nchunks = 0;
	if (with_chunks && src->nchunks) {
		dst->chunks = malloc(src->nchunks * sizeof(arca_id));
		if (dst->chunks) {
			memcpy(dst->chunks, src->chunks, src->nchunks * sizeof(arca_id));
			dst->nchunks = src->nchunks;
		}
	}
	if (!dst->name || !dst->user || !dst->group || (src->link_target && !dst->link_target) ||
	    (with_chunks && src->nchunks && !dst->chunks)) {
		arca_node_clear(dst);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	return 0;
}

/* ---- metadata ---- */

/* created_mode: the mode the object already has (or (mode_t)-1 when
 * unknown); owner_is_self: it is owned by this process's euid and egid. */
static void apply_meta_fd(restorer *s, int fd, const arca_node *n, const char *rel, mode_t created_mode,
			  bool owner_is_self)
{
	struct timespec ts[2];
	if (s->is_root && !(owner_is_self && n->uid == s->euid && n->gid == s->egid) && fchown(fd, n->uid, n->gid))
		rwarn(s, "cannot set owner of %s: %s", rel, strerror(errno));
	if ((n->mode & 07777) != created_mode && fchmod(fd, n->mode))
		rwarn(s, "cannot set mode of %s: %s", rel, strerror(errno));
	ts[0].tv_sec = n->mtime_ns / ARCA_NS_PER_SEC;
	ts[0].tv_nsec = n->mtime_ns % ARCA_NS_PER_SEC;
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_nsec += ARCA_NS_PER_SEC;
		ts[0].tv_sec--;
	}
	ts[1] = ts[0];
	if (futimens(fd, ts))
		rwarn(s, "cannot set times of %s: %s", rel, strerror(errno));
}

static void apply_meta_at(restorer *s, int dirfd, const arca_node *n, const char *rel)
{
	struct timespec ts[2];
	if (s->is_root && fchownat(dirfd, n->name, n->uid, n->gid, AT_SYMLINK_NOFOLLOW))
		rwarn(s, "cannot set owner of %s: %s", rel, strerror(errno));
	if (n->kind != ARCA_NODE_SYMLINK && fchmodat(dirfd, n->name, n->mode, 0))
		rwarn(s, "cannot set mode of %s: %s", rel, strerror(errno));
	ts[0].tv_sec = n->mtime_ns / ARCA_NS_PER_SEC;
	ts[0].tv_nsec = n->mtime_ns % ARCA_NS_PER_SEC;
	if (ts[0].tv_nsec < 0) {
		ts[0].tv_nsec += ARCA_NS_PER_SEC;
		ts[0].tv_sec--;
	}
	ts[1] = ts[0];
	if (utimensat(dirfd, n->name, ts, AT_SYMLINK_NOFOLLOW))
		rwarn(s, "cannot set times of %s: %s", rel, strerror(errno));
}

/* Open the directory at relpath ("a/b") beneath rootfd, never following a
 * symlink.  relpath "" is the root itself. */
static int open_beneath(int rootfd, const char *relpath)
{
	char buf[8192], *tok, *save = NULL;
	int fd = dup(rootfd), next;
	if (fd < 0)
		return -1;
	snprintf(buf, sizeof(buf), "%s", relpath);
	for (tok = strtok_r(buf, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		next = openat(fd, tok, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		if (next < 0)
			return -1;
		fd = next;
	}
	return fd;
}

static void split_rel(const char *rel, char *dir, size_t dn, const char **base)
{
	const char *slash = strrchr(rel, '/');
	if (!slash) {
		dir[0] = '\0';
		*base = rel;
		return;
	}
	snprintf(dir, dn, "%.*s", (int)(slash - rel), rel);
	*base = slash + 1;
}

/* ---- directories ---- */

static void rdir_free(rdir *d)
{
	if (d->fd >= 0)
		close(d->fd);
	free(d->relpath);
	arca_node_clear(&d->meta);
	free(d);
}

/* Drop one reference; the last one applies the metadata (unless deferred)
 * and drops the reference the directory holds on its parent. */
static void rdir_release(restorer *s, rdir *d)
{
	while (d && __atomic_sub_fetch(&d->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		rdir *parent = d->parent;
		if (d->has_meta && !d->defer_meta)
			apply_meta_fd(s, d->fd, &d->meta, d->relpath, (mode_t)-1, false);
		rdir_free(d);
		d = parent;
	}
}

/* ---- file contents (workers) ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && !memcmp(p, p + 1, n - 1));
}

static int write_all_at(int fd, const uint8_t *p, size_t n, off_t off)
{
	while (n) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* Write p at off but leave a hole for every all-zero 4 KiB block (aligned
 * to the file offset): the file is new, so unwritten ranges read as zeros,
 * and a hole that shares a chunk with data (CDC rarely cuts inside a zero
 * run) stays a hole. */
/* *end (may be NULL) advances to the end of the last byte written. */
static int write_sparse_at(int fd, const uint8_t *p, size_t n, off_t off, off_t *end)
{
	const size_t bs = 4096;
	size_t i = 0, start, len;
	while (i < n) {
		len = bs - (size_t)((uint64_t)(off + (off_t)i) % bs);
		if (len > n - i)
			len = n - i;
		if (all_zero(p + i, len)) {
			i += len;
			continue;
		}
		start = i;
		do {
			i += len;
			len = n - i < bs ? n - i : bs;
		} while (i < n && !all_zero(p + i, len));
		if (write_all_at(fd, p + start, i - start, off + (off_t)start))
			return -1;
		if (end)
			*end = off + (off_t)i;
	}
	return 0;
}

static int verify_file(restorer *s, arca_repo_reader *rd, int fd, const arca_node *n, arca_buf *buf)
{
	size_t i;
	off_t off = 0;
	for (i = 0; i < n->nchunks; i++) {
		arca_index_loc loc;
		arca_id got;
		ssize_t g;
		int rc;
		if ((rc = arca_repo_blob_lookup(s->r, &n->chunks[i], &loc)))
			return rc;
		arca_buf_clear(buf);
		if ((rc = arca_buf_reserve(buf, loc.raw_len)))
			return rc;
		g = pread(fd, buf->data, loc.raw_len, off);
		if (g != (ssize_t)loc.raw_len)
			return arca_error_set(ARCA_CORRUPT, "verify: short read at offset %lld", (long long)off);
		arca_repo_blob_id(s->r, &got, buf->data, loc.raw_len);
		if (!arca_id_eq(&got, &n->chunks[i]))
			return arca_error_set(ARCA_CORRUPT, "verify: content differs at offset %lld", (long long)off);
		off += (off_t)loc.raw_len;
	}
	return 0;
}

static void restore_file(restorer *s, arca_repo_reader *rd, rdir *d, rfile *j, arca_buf *buf)
{
	const arca_node *n = &j->node;
	off_t off = 0, written_end = 0;
	mode_t created_mode;
	size_t i;
	int fd, rc;
	/* in a directory this restore created, nothing can be in the way */
	if (!d->fresh && unlinkat(d->fd, n->name, 0) && errno != ENOENT) {
		rwarn(s, "cannot replace %s: %s", j->relpath, strerror(errno));
		return;
	}
	/* Created with its final permission bits (the umask permitting; the
	 * set-id and sticky bits wait for the owner), in a directory this
	 * restore made (mode 0700, so no set-group-ID to inherit) owned by
	 * this process: a file of the same owner and plain bits needs neither
	 * fchown nor fchmod, two system calls per file saved. */
	created_mode = n->mode & 0777 & ~s->umask;
	fd = openat(d->fd, n->name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, created_mode);
	if (fd < 0) {
		if (errno == ENOSPC || errno == EDQUOT)
			set_fatal(s, arca_error_errno(errno, "cannot create %s", j->relpath));
		else
			rwarn(s, "cannot create %s: %s", j->relpath, strerror(errno));
		return;
	}
	arca_repo_reader_hint(rd, n->chunks, n->nchunks);
	for (i = 0; i < n->nchunks; i++) {
		arca_buf_clear(buf);
		if ((rc = arca_repo_blob_load(rd, &n->chunks[i], buf))) {
			rwarn(s, "%s: %s", j->relpath, arca_error_message());
			goto out;
		}
		if (write_sparse_at(fd, buf->data, buf->len, off, &written_end)) {
			int e = errno;
			rc = arca_error_errno(e, "cannot write %s", j->relpath);
			if (e == ENOSPC || e == EDQUOT)
				set_fatal(s, rc);
			else
				rwarn(s, "%s", arca_error_message());
			goto out;
		}
		off += (off_t)buf->len;
		__atomic_add_fetch(&s->prog.bytes, buf->len, __ATOMIC_RELAXED);
	}
	if ((uint64_t)off != n->size)
		rwarn(s, "%s: restored %lld bytes but the snapshot records %llu", j->relpath, (long long)off,
		      (unsigned long long)n->size);
	if (written_end < off && ftruncate(fd, off)) { /* a trailing hole */
		rwarn(s, "cannot set size of %s: %s", j->relpath, strerror(errno));
		goto out;
	}
	if (s->o->verify) {
		if ((rc = verify_file(s, rd, fd, n, buf))) {
			rwarn(s, "%s: %s", j->relpath, arca_error_message());
			goto out;
		}
		__atomic_add_fetch(&s->res.verified, 1, __ATOMIC_RELAXED);
	}
	apply_meta_fd(s, fd, n, j->relpath, created_mode, d->fresh);
	__atomic_add_fetch(&s->res.files, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->res.bytes, (uint64_t)off, __ATOMIC_RELAXED);
out:
	arca_repo_reader_hint(rd, NULL, 0);
	close(fd);
}

static void job_free(rjob *j)
{
	size_t i;
	for (i = 0; i < j->n; i++) {
		free(j->files[i].relpath);
		arca_node_clear(&j->files[i].node);
	}
	free(j->files);
	memset(j, 0, sizeof(*j));
}

static void *rworker(void *arg)
{
	restorer *s = arg;
	arca_repo_reader *rd = NULL;
	arca_buf buf = ARCA_BUF_INIT;
	rjob j;
	size_t i;
	int rc = arca_repo_reader_new(&rd, s->r);
	if (rc)
		set_fatal(s, rc);
	else
		arca_repo_reader_trust_aead(rd);
	for (;;) {
		pthread_mutex_lock(&s->q.mu);
		while (s->q.count == 0 && !s->q.closed)
			pthread_cond_wait(&s->q.not_empty, &s->q.mu);
		if (s->q.count == 0) {
			pthread_mutex_unlock(&s->q.mu);
			break;
		}
		j = s->q.ring[s->q.head];
		s->q.head = (s->q.head + 1) % s->q.cap;
		s->q.count--;
		pthread_cond_signal(&s->q.not_full);
		pthread_mutex_unlock(&s->q.mu);
		for (i = 0; i < j.n && rd && !get_fatal(s); i++)
			restore_file(s, rd, j.dir, &j.files[i], &buf);
		rdir_release(s, j.dir);
		job_free(&j);
	}
	arca_buf_free(&buf);
	arca_repo_reader_free(rd);
	return NULL;
}

static void push_job(restorer *s, rjob *j)
{
	pthread_mutex_lock(&s->q.mu);
	while (s->q.count == s->q.cap)
		pthread_cond_wait(&s->q.not_full, &s->q.mu);
	s->q.ring[(s->q.head + s->q.count) % s->q.cap] = *j;
	s->q.count++;
	pthread_cond_signal(&s->q.not_empty);
	pthread_mutex_unlock(&s->q.mu);
}

/* Hand the batch of d's files gathered so far to the workers. */
static void batch_flush(restorer *s, rdir *d, rjob *b)
{
	if (!b->n)
		return;
	b->dir = d;
	__atomic_add_fetch(&d->refs, 1, __ATOMIC_ACQ_REL);
	push_job(s, b);
	memset(b, 0, sizeof(*b));
}

static int batch_add(restorer *s, rdir *d, rjob *b, const arca_node *n, const char *rel)
{
	rfile *f;
	if (!b->files && !(b->files = calloc(BATCH_FILES, sizeof(*b->files))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	f = &b->files[b->n];
	if (!(f->relpath = strdup(rel)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	if (node_copy(&f->node, n, true)) {
		free(f->relpath);
		f->relpath = NULL;
		return ARCA_NOMEM;
	}
	b->n++;
	b->bytes += n->size;
	if (b->n == BATCH_FILES || b->bytes >= BATCH_BYTES)
		batch_flush(s, d, b);
	return 0;
}

/* ---- selection ---- */

static bool path_under(const char *path, const char *dir)
{
	size_t l = strlen(dir);
	while (l > 1 && dir[l - 1] == '/')
		l--;
	return !strncmp(path, dir, l) && (path[l] == '/' || path[l] == '\0');
}

static bool match_pattern(const char *pat, const char *path, const char *name)
{
	if (!strchr(pat, '/'))
		return !fnmatch(pat, name, 0);
	return !fnmatch(pat, path, 0) || path_under(path, pat);
}

/* 0 skip, 1 restore, 2 descend only (an ancestor of an include) */
static int selected(restorer *s, const char *path, const char *name, bool is_dir)
{
	size_t i;
	for (i = 0; i < s->o->nexcludes; i++)
		if (match_pattern(s->o->excludes[i], path, name))
			return 0;
	if (!s->o->nincludes)
		return 1;
	for (i = 0; i < s->o->nincludes; i++) {
		const char *inc = s->o->includes[i];
		if (match_pattern(inc, path, name))
			return 1;
		if (is_dir && inc[0] == '/' && path_under(inc, path))
			return 2;
		if (is_dir && !strchr(inc, '/'))
			return 2; /* a name pattern may match deeper down */
	}
	return 0;
}

/* ---- walking ---- */

static int remember_dir(restorer *s, const char *rel, const arca_node *n)
{
	int rc;
	if ((rc = arca_grow(&s->dirs, &s->capdirs, s->ndirs + 1, sizeof(*s->dirs), 64)))
		return rc;
	if (node_copy(&s->dirs[s->ndirs].node, n, false))
		return ARCA_NOMEM;
	if (!(s->dirs[s->ndirs].relpath = strdup(rel))) {
		arca_node_clear(&s->dirs[s->ndirs].node);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	s->ndirs++;
	return 0;
}

/* Returns the relpath of an earlier restored file with the same inode, or
 * records this one and returns NULL. */
/* The key of a (device, inode) pair in seen_set: mixed so that the set's
 * hash (the first 8 bytes) spreads, the pair itself kept exactly. */
static void inode_key(arca_id *k, uint64_t dev, uint64_t ino)
{
	uint64_t z = ino * 0x9E3779B97F4A7C15ULL ^ dev * 0xBF58476D1CE4E5B9ULL;
	z ^= z >> 31;
	memset(k, 0, sizeof(*k));
	memcpy(k->b, &z, 8);
	memcpy(k->b + 8, &dev, 8);
	memcpy(k->b + 16, &ino, 8);
}

static const char *hardlink_seen(restorer *s, const arca_node *n, const char *rel)
{
	arca_id k;
	void *val;
	size_t idx;
	int rc;
	inode_key(&k, n->dev, n->inode);
	if ((val = arca_idset_get(&s->seen_set, &k))) {
		memcpy(&idx, val, sizeof(idx));
		return s->seen[idx].relpath;
	}
	if (arca_grow(&s->seen, &s->capseen, s->nseen + 1, sizeof(*s->seen), 32))
		return NULL;
	s->seen[s->nseen].dev = n->dev;
	s->seen[s->nseen].ino = n->inode;
	s->seen[s->nseen].relpath = strdup(rel);
	if (!s->seen[s->nseen].relpath)
		return NULL;
	rc = arca_idset_insert(&s->seen_set, &k, &val);
	if (rc == 1) {
		idx = s->nseen;
		memcpy(val, &idx, sizeof(idx));
	}
	s->nseen++;
	return NULL;
}

static void progress_tick(restorer *s, const char *cur)
{
	double now;
	if (!s->o->progress)
		return;
	now = arca_monotonic();
	if (now - s->last < 0.2)
		return;
	s->last = now;
	s->prog.elapsed = now - s->t0;
	s->prog.files = __atomic_load_n(&s->res.files, __ATOMIC_RELAXED);
	s->prog.errors = __atomic_load_n(&s->res.errors, __ATOMIC_RELAXED);
	s->prog.current = cur;
	s->o->progress(&s->prog, s->o->progress_payload);
}

/* A directory that will get a hard link at the end, and the directories
 * above it: their metadata waits for the links.  (A file with several
 * links whose other names are not in the snapshot, the usual case, defers
 * nothing.)  Walker thread only, while d and its ancestors are still held
 * by the walk. */
static int defer_dir_meta(restorer *s, rdir *d)
{
	int rc;
	for (; d && d->has_meta && !d->defer_meta; d = d->parent) {
		if ((rc = remember_dir(s, d->relpath, &d->meta)))
			return rc;
		d->defer_meta = true;
	}
	return 0;
}

/*
 * The planner: from a remote backend, a thread walks the snapshot ahead of
 * the restore, in the same order and with the same selection, and tells
 * the repository which blobs the workers will load (each file once, hard
 * links included), so that whole packs are fetched before they are needed.
 * The restore does not depend on it: when it stops early (an error, a tree
 * it cannot read), packs are still fetched on demand.
 */
typedef struct planner {
	restorer *s;
	arca_repo_reader *rd;
	arca_idset seen; /* (dev, inode) of files with several links */
	const arca_id *root;
	pthread_t thread;
	bool running;
	bool stop; /* the restore is over (atomic) */
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool ahead; /* the first files are planned (or planning ended) */
} planner;

/* The planner is ahead: the restore may start without its first packs
 * being read on demand by the workers, whole, before the fetchers. */
static void planner_ahead(planner *p)
{
	pthread_mutex_lock(&p->mu);
	if (!p->ahead) {
		p->ahead = true;
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->mu);
}

static void plan_tree(planner *p, const arca_id *tree_id, const char *path)
{
	restorer *s = p->s;
	arca_tree *t = NULL;
	size_t i, plen = strlen(path);
	char *cpath;
	if (arca_tree_load(p->rd, tree_id, &t)) {
		arca_error_clear(); /* the restore reports it */
		return;
	}
	for (i = 0; i < t->n && !get_fatal(s) && !__atomic_load_n(&p->stop, __ATOMIC_RELAXED); i++) {
		const arca_node *n = &t->nodes[i];
		size_t nl = strlen(n->name);
		int sel;
		if (n->kind != ARCA_NODE_DIR && n->kind != ARCA_NODE_FILE)
			continue;
		if (!(cpath = malloc(plen + nl + 2)))
			break;
		snprintf(cpath, plen + nl + 2, "%s/%s", path, n->name);
		sel = selected(s, cpath, n->name, n->kind == ARCA_NODE_DIR);
		if (sel && n->kind == ARCA_NODE_DIR) {
			plan_tree(p, &n->subtree, cpath);
		} else if (sel) {
			arca_id k;
			void *val;
			inode_key(&k, n->dev, n->inode);
			if (n->nlink <= 1 || arca_idset_insert(&p->seen, &k, &val) == 1) {
				arca_repo_readahead_expect(s->r, n->chunks, n->nchunks);
				if (!p->ahead && n->nchunks)
					planner_ahead(p);
			}
		}
		free(cpath);
	}
	arca_tree_free(t);
}

static void *plan_main(void *arg)
{
	planner *p = arg;
	plan_tree(p, p->root, "");
	planner_ahead(p);
	return NULL;
}

static void planner_start(planner *p, restorer *s, const arca_id *root)
{
	struct timespec until;
	memset(p, 0, sizeof(*p));
	p->s = s;
	p->root = root;
	arca_idset_init(&p->seen, 0);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cond, NULL);
	if (arca_repo_reader_new(&p->rd, s->r)) {
		arca_error_clear();
		return;
	}
	if (!(p->running = pthread_create(&p->thread, NULL, plan_main, p) == 0))
		return;
	/* give it a head start (a second at most) */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&p->mu);
	while (!p->ahead && pthread_cond_timedwait(&p->cond, &p->mu, &until) == 0)
		;
	pthread_mutex_unlock(&p->mu);
}

static void planner_stop(planner *p)
{
	if (!p->s)
		return; /* never started */
	__atomic_store_n(&p->stop, true, __ATOMIC_RELAXED);
	if (p->running)
		pthread_join(p->thread, NULL);
	arca_repo_reader_free(p->rd);
	arca_idset_free(&p->seen);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->mu);
}

static int restore_tree(restorer *s, rdir *d, const arca_id *tree_id, const char *path, const char *rel)
{
	const int dirfd = d->fd;
	arca_tree *t = NULL;
	size_t i, plen = strlen(path), rlen = strlen(rel);
	char *cpath = NULL, *crel = NULL;
	rjob batch;
	rdir *sub;
	int rc;
	memset(&batch, 0, sizeof(batch));
	if ((rc = arca_tree_load(s->rd, tree_id, &t))) {
		if (rc == ARCA_NOMEM)
			return rc;
		rwarn(s, "%s: %s (contents skipped)", path[0] ? path : "/", arca_error_message());
		return 0;
	}
	/* a worker's fatal error stops the walk; arca_restore reports it with
	 * the worker's message (this thread has none) */
	for (i = 0; i < t->n && !get_fatal(s); i++) {
		const arca_node *n = &t->nodes[i];
		size_t nl = strlen(n->name);
		int sel;
		free(cpath);
		free(crel);
		cpath = malloc(plen + nl + 2);
		crel = malloc(rlen + nl + 2);
		if (!cpath || !crel) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			break;
		}
		snprintf(cpath, plen + nl + 2, "%s/%s", path, n->name);
		snprintf(crel, rlen + nl + 2, "%s%s%s", rel, rlen ? "/" : "", n->name);
		sel = selected(s, cpath, n->name, n->kind == ARCA_NODE_DIR);
		if (!sel)
			continue;
		switch (n->kind) {
		case ARCA_NODE_DIR: {
			int fd;
			bool made = mkdirat(dirfd, n->name, 0700) == 0;
			if (!made && errno != EEXIST) {
				if (errno == ENOSPC || errno == EDQUOT) {
					rc = arca_error_errno(errno, "cannot create directory %s", crel);
					goto out;
				}
				rwarn(s, "cannot create directory %s: %s", crel, strerror(errno));
				continue;
			}
			fd = openat(dirfd, n->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) {
				rwarn(s, "refusing to restore into %s: it exists and is not a plain directory (%s)",
				      crel, strerror(errno));
				continue;
			}
			batch_flush(s, d, &batch); /* keep walk order: the packs hold it */
			sub = calloc(1, sizeof(*sub));
			if (!sub || !(sub->relpath = strdup(crel)) || node_copy(&sub->meta, n, false)) {
				if (sub) {
					sub->fd = -1;
					rdir_free(sub);
				}
				close(fd);
				rc = arca_error_set(ARCA_NOMEM, "out of memory");
				goto out;
			}
			sub->fd = fd;
			sub->refs = 1;
			sub->fresh = made;
			sub->has_meta = true;
			sub->parent = d;
			__atomic_add_fetch(&d->refs, 1, __ATOMIC_ACQ_REL);
			rc = restore_tree(s, sub, &n->subtree, cpath, crel);
			rdir_release(s, sub);
			if (rc)
				goto out;
			s->res.dirs++;
			break;
		}
		case ARCA_NODE_FILE: {
			const char *first = n->nlink > 1 ? hardlink_seen(s, n, crel) : NULL;
			if (first && (rc = defer_dir_meta(s, d))) /* a link will be made here */
				goto out;
			if (first) {
				if ((rc = arca_grow(&s->links, &s->caplinks, s->nlinks + 1, sizeof(*s->links), 16)))
					goto out;
				s->links[s->nlinks].from = strdup(first);
				s->links[s->nlinks].to = strdup(crel);
				s->nlinks++;
				break;
			}
			if ((rc = batch_add(s, d, &batch, n, crel)))
				goto out;
			progress_tick(s, cpath);
			break;
		}
		case ARCA_NODE_SYMLINK:
			if (unlinkat(dirfd, n->name, 0) && errno != ENOENT) {
				rwarn(s, "cannot replace %s: %s", crel, strerror(errno));
				break;
			}
			if (symlinkat(n->link_target ? n->link_target : "", dirfd, n->name)) {
				rwarn(s, "cannot create symlink %s: %s", crel, strerror(errno));
				break;
			}
			apply_meta_at(s, dirfd, n, crel);
			s->res.links++;
			break;
		case ARCA_NODE_FIFO:
		case ARCA_NODE_CHARDEV:
		case ARCA_NODE_BLOCKDEV:
		case ARCA_NODE_SOCKET: {
			mode_t type = n->kind == ARCA_NODE_FIFO ? S_IFIFO : n->kind == ARCA_NODE_CHARDEV ? S_IFCHR
				    : n->kind == ARCA_NODE_BLOCKDEV ? S_IFBLK : S_IFSOCK;
			unlinkat(dirfd, n->name, 0);
			if (mknodat(dirfd, n->name, type | 0600, (dev_t)n->rdev))
				rwarn(s, "cannot create special file %s: %s", crel, strerror(errno));
			else
				apply_meta_at(s, dirfd, n, crel);
			break;
		}
		default:
			break;
		}
	}
out:
	if (rc)
		job_free(&batch);
	else
		batch_flush(s, d, &batch);
	free(cpath);
	free(crel);
	arca_tree_free(t);
	return rc;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return arca_error_set(ARCA_INVAL, "bad target path");
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0755) && errno != EEXIST)
				return arca_error_errno(errno, "cannot create target %s", tmp);
			tmp[i] = c;
		}
	}
	return 0;
}

static size_t path_depth(const char *p)
{
	size_t n = 0;
	for (; *p; p++)
		n += *p == '/';
	return n;
}

static int deeper_first(const void *a, const void *b)
{
	size_t da = path_depth(((const dir_meta *)a)->relpath), db = path_depth(((const dir_meta *)b)->relpath);
	return da < db ? 1 : da > db ? -1 : 0;
}

/* Hard links, then the metadata of the directories they touch. */
static void finish_links_and_dirs(restorer *s)
{
	size_t i;
	for (i = 0; i < s->nlinks; i++) {
		char d1[4096], d2[4096];
		const char *b1, *b2;
		int f1, f2;
		if (!s->links[i].from || !s->links[i].to)
			continue;
		split_rel(s->links[i].from, d1, sizeof(d1), &b1);
		split_rel(s->links[i].to, d2, sizeof(d2), &b2);
		f1 = open_beneath(s->rootfd, d1);
		f2 = open_beneath(s->rootfd, d2);
		if (f1 < 0 || f2 < 0) {
			rwarn(s, "cannot create hard link %s: %s", s->links[i].to, strerror(errno));
		} else {
			unlinkat(f2, b2, 0);
			if (linkat(f1, b1, f2, b2, 0))
				rwarn(s, "cannot create hard link %s: %s", s->links[i].to, strerror(errno));
			else
				s->res.files++;
		}
		if (f1 >= 0)
			close(f1);
		if (f2 >= 0)
			close(f2);
	}
	/* deepest first: children before their parents */
	if (s->ndirs > 1)
		qsort(s->dirs, s->ndirs, sizeof(*s->dirs), deeper_first);
	for (i = 0; i < s->ndirs; i++) {
		char d[4096];
		const char *b;
		int f;
		split_rel(s->dirs[i].relpath, d, sizeof(d), &b);
		f = open_beneath(s->rootfd, d);
		if (f < 0) {
			rwarn(s, "cannot reopen %s: %s", d, strerror(errno));
			continue;
		}
		apply_meta_at(s, f, &s->dirs[i].node, s->dirs[i].relpath);
		close(f);
	}
}

/* Queued files and the directories that hold them keep descriptors open
 * (a few hundred at most, plus one per level of depth): lift the soft limit
 * to the hard one so a deep tree does not run out. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int arca_restore(arca_repo *r, const arca_snapshot *snap, const arca_restore_opts *o, arca_restore_result *res)
{
	restorer s;
	planner plan;
	/* restoring (nearly) everything: read whole packs, planned ahead */
	const bool whole = !o->nincludes;
	unsigned t;
	long ncpu;
	size_t i;
	int rc;
	memset(&s, 0, sizeof(s));
	memset(&plan, 0, sizeof(plan));
	memset(res, 0, sizeof(*res));
	s.r = r;
	s.o = o;
	s.rootfd = -1;
	s.is_root = geteuid() == 0;
	s.euid = geteuid();
	s.egid = getegid();
	s.umask = umask(0); /* (reading it means setting it) */
	umask(s.umask);
	arca_idset_init(&s.seen_set, sizeof(size_t));
	s.t0 = arca_monotonic();
	pthread_mutex_init(&s.mu, NULL);
	pthread_mutex_init(&s.q.mu, NULL);
	pthread_cond_init(&s.q.not_empty, NULL);
	pthread_cond_init(&s.q.not_full, NULL);
	if (!o->target || !*o->target) {
		rc = arca_error_set(ARCA_INVAL, "restore needs --target DIR");
		goto out;
	}
	raise_fd_limit();
	if ((rc = mkdir_p(o->target)))
		goto out;
	s.rootfd = open(o->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s.rootfd < 0) {
		rc = arca_error_errno(errno, "cannot open target %s", o->target);
		goto out;
	}
	if ((rc = arca_repo_reader_new(&s.rd, r)) || (rc = arca_repo_readahead_enable(r, whole ? ARCA_READAHEAD_PACKS : ARCA_READAHEAD_RANGES)))
		goto out;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s.nworkers = o->threads ? o->threads : (unsigned)(ncpu > 0 ? ncpu : 2);
	/* from a remote backend, reading a few files, the workers mostly wait
	 * on the network: more of them keep more requests in flight (whole
	 * packs are fetched ahead by the read-ahead's own threads) */
	if (!o->threads && !whole && !(arca_repo_backend(r)->caps & ARCA_BACKEND_CAP_LOCAL) && s.nworkers < 8)
		s.nworkers = 8;
	if (s.nworkers > 64)
		s.nworkers = 64;
	s.q.cap = 256;
	s.q.ring = calloc(s.q.cap, sizeof(rjob));
	s.workers = calloc(s.nworkers, sizeof(pthread_t));
	if (!s.q.ring || !s.workers) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (t = 0; t < s.nworkers; t++)
		if (pthread_create(&s.workers[t], NULL, rworker, &s)) {
			s.nworkers = t;
			rc = arca_error_set(ARCA_ERROR, "cannot start restore threads");
			break;
		}
	if (!rc && whole && !(arca_repo_backend(r)->caps & ARCA_BACKEND_CAP_LOCAL))
		planner_start(&plan, &s, &snap->tree);
	if (!rc) {
		rdir *root = calloc(1, sizeof(*root));
		if (!root || (root->fd = dup(s.rootfd)) < 0) {
			free(root);
			rc = arca_error_errno(errno ? errno : ENOMEM, "cannot hold the target directory");
		} else {
			root->refs = 1;
			rc = restore_tree(&s, root, &snap->tree, "", "");
			rdir_release(&s, root);
		}
	}
	pthread_mutex_lock(&s.q.mu);
	s.q.closed = true;
	pthread_cond_broadcast(&s.q.not_empty);
	pthread_mutex_unlock(&s.q.mu);
	for (t = 0; t < s.nworkers; t++)
		pthread_join(s.workers[t], NULL);
	planner_stop(&plan);
	if (!rc && s.fatal_rc)
		rc = arca_error_set(s.fatal_rc, "%s", s.fatal_msg);
	if (!rc)
		finish_links_and_dirs(&s);
	if (s.o->progress) {
		s.last = 0;
		progress_tick(&s, NULL);
	}
out:
	*res = s.res;
	if (s.rootfd >= 0)
		close(s.rootfd);
	arca_repo_reader_free(s.rd);
	free(s.q.ring);
	free(s.workers);
	for (i = 0; i < s.ndirs; i++) {
		free(s.dirs[i].relpath);
		arca_node_clear(&s.dirs[i].node);
	}
	free(s.dirs);
	for (i = 0; i < s.nlinks; i++) {
		free(s.links[i].from);
		free(s.links[i].to);
	}
	free(s.links);
	for (i = 0; i < s.nseen; i++)
		free(s.seen[i].relpath);
	free(s.seen);
	arca_idset_free(&s.seen_set);
	pthread_mutex_destroy(&s.mu);
	pthread_mutex_destroy(&s.q.mu);
	pthread_cond_destroy(&s.q.not_empty);
	pthread_cond_destroy(&s.q.not_full);
	return rc;
}
