/*
 * backend/backend_local.c - a repository in a local directory.
 *
 * Key "data/ab/abcd" is the file ROOT/data/ab/abcd.  Keys reach this
 * driver already checked by the generic layer (relative, no "." or ".."
 * components), so a key never names anything outside ROOT.
 *
 * Invariants:
 *   - put() is atomic and durable: the bytes go to ".tmp-<pid>-<hex>" in
 *     the target's directory, are fsync'd, renamed (or, for NOREPLACE,
 *     renameat2(RENAME_NOREPLACE) / link()) over the final name, and the
 *     directory is fsync'd.  A reader sees the whole object or nothing; a
 *     failed put leaves no temporary file behind.  Directories it creates
 *     are made durable by fsyncing their parents.
 *   - Names beginning with ".tmp-" are never objects: list() skips them and
 *     arca_backend_local_cleanup_temps() removes stale ones (a killed
 *     process's leftovers).
 *   - Up to FD_CACHE_N recently read objects stay open so that the many
 *     ranged reads of a restore do not reopen the same pack.  Entries are
 *     reference counted: an entry evicted (or invalidated by put/remove)
 *     while another thread reads through it is closed by the last reader.
 * Files are created 0600 and directories 0700 (before the umask): a
 * repository holds key files and backup data of possibly many users.
 */
#include "backend/backend.h"
#include "backend/backend_local.h"
#include "arca/error.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FD_CACHE_N 16
#define WALK_DEPTH_MAX 16
#define TMP_PREFIX ".tmp-"

typedef struct fd_ent {
	char *key;
	int fd;
	unsigned refs; /* readers using fd right now */
	bool dead;     /* no longer in the table; last reader closes */
	uint64_t used;
} fd_ent;

typedef struct local_be {
	arca_backend base; /* first: drivers are cast from arca_backend */
	char *root;
	pthread_mutex_t mu; /* guards cache and tick */
	fd_ent *cache[FD_CACHE_N];
	uint64_t tick;
} local_be;

static void local_free(arca_backend *be);

static local_be *L(arca_backend *be) { return (local_be *)be; }

static int path_of(local_be *lb, const char *key, char **out)
{
	size_t n = strlen(lb->root) + 1 + strlen(key) + 1;
	char *p = malloc(n);
	*out = NULL;
	if (!p)
		return arca_error_set(ARCA_NOMEM, "out of memory building a path");
	snprintf(p, n, "%s/%s", lb->root, key);
	*out = p;
	return 0;
}

/* ---- fd cache ---- */

static void ent_drop_locked(fd_ent *e)
{
	if (e->refs) {
		e->dead = true;
		return;
	}
	close(e->fd);
	free(e->key);
	free(e);
}

static void cache_invalidate(local_be *lb, const char *key)
{
	pthread_mutex_lock(&lb->mu);
	for (size_t i = 0; i < FD_CACHE_N; i++) {
		fd_ent *e = lb->cache[i];
		if (e && strcmp(e->key, key) == 0) {
			lb->cache[i] = NULL;
			ent_drop_locked(e);
		}
	}
	pthread_mutex_unlock(&lb->mu);
}

static fd_ent *cache_find_locked(local_be *lb, const char *key)
{
	for (size_t i = 0; i < FD_CACHE_N; i++) {
		fd_ent *e = lb->cache[i];
		if (e && strcmp(e->key, key) == 0) {
			e->refs++;
			e->used = ++lb->tick;
			return e;
		}
	}
	return NULL;
}

/* A referenced entry for key, opening the file if it is not cached. */
static int cache_acquire(local_be *lb, const char *key, fd_ent **out)
{
	fd_ent *e, *ne = NULL;
	char *path = NULL;
	size_t i, victim = 0;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&lb->mu);
	e = cache_find_locked(lb, key);
	pthread_mutex_unlock(&lb->mu);
	if (e) {
		*out = e;
		return 0;
	}
	if ((rc = path_of(lb, key, &path)))
		return rc;
	if (!(ne = calloc(1, sizeof(*ne)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory caching a file handle");
		goto out;
	}
	ne->fd = -1;
	if (!(ne->key = strdup(key))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory caching a file handle");
		goto out;
	}
	ne->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (ne->fd < 0) {
		rc = errno == ENOENT ? arca_error_set(ARCA_NOTFOUND, "object not found")
				     : arca_error_errno(errno, "cannot open %s", path);
		goto out;
	}
	ne->refs = 1;

	pthread_mutex_lock(&lb->mu);
	/* Another thread may have opened the same key meanwhile: use its. */
	if ((e = cache_find_locked(lb, key))) {
		pthread_mutex_unlock(&lb->mu);
		*out = e;
		goto out;
	}
	for (i = 0; i < FD_CACHE_N; i++) {
		if (!lb->cache[i]) {
			victim = i;
			break;
		}
		if (lb->cache[i]->used < lb->cache[victim]->used)
			victim = i;
	}
	if (lb->cache[victim])
		ent_drop_locked(lb->cache[victim]);
	ne->used = ++lb->tick;
	lb->cache[victim] = ne;
	pthread_mutex_unlock(&lb->mu);
	*out = ne;
	ne = NULL;
out:
	if (ne) {
		if (ne->fd >= 0)
			close(ne->fd);
		free(ne->key);
		free(ne);
	}
	free(path);
	return rc;
}

static void cache_release(local_be *lb, fd_ent *e)
{
	pthread_mutex_lock(&lb->mu);
	e->refs--;
	if (e->dead && e->refs == 0)
		ent_drop_locked(e);
	pthread_mutex_unlock(&lb->mu);
}

/* ---- get / stat ---- */

static int local_get(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	local_be *lb = L(be);
	fd_ent *e = NULL;
	size_t got = 0;
	int rc;

	if ((rc = cache_acquire(lb, key, &e)))
		return rc;
	if (len == ARCA_GET_ALL) {
		struct stat st;
		if (fstat(e->fd, &st) != 0) {
			rc = arca_error_errno(errno, "cannot stat object");
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = arca_error_set(ARCA_NOTFOUND, "not an object (not a regular file)");
			goto out;
		}
		if (off > (uint64_t)st.st_size) {
			rc = arca_error_set(ARCA_CORRUPT,
					    "truncated object: %lld bytes, wanted data at offset %llu",
					    (long long)st.st_size, (unsigned long long)off);
			goto out;
		}
		len = (uint64_t)st.st_size - off;
	}
	if (len > SIZE_MAX / 2 || off > (uint64_t)INT64_MAX - len) {
		rc = arca_error_set(ARCA_INVAL, "read of %llu bytes at offset %llu is too large",
				    (unsigned long long)len, (unsigned long long)off);
		goto out;
	}
	if ((rc = arca_buf_reserve(out, (size_t)len)))
		goto out;
	while (got < len) {
		ssize_t n = pread(e->fd, out->data + out->len + got, (size_t)len - got,
				  (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = arca_error_errno(errno, "cannot read object");
			goto out;
		}
		if (n == 0) {
			rc = arca_error_set(ARCA_CORRUPT,
					    "truncated object: ends at %llu bytes, wanted %llu bytes at offset %llu",
					    (unsigned long long)(off + got), (unsigned long long)len,
					    (unsigned long long)off);
			goto out;
		}
		got += (size_t)n;
	}
	out->len += (size_t)len;
out:
	cache_release(lb, e);
	return rc;
}

static int local_stat(arca_backend *be, const char *key, uint64_t *size)
{
	struct stat st;
	char *path = NULL;
	int rc;

	*size = 0;
	if ((rc = path_of(L(be), key, &path)))
		return rc;
	if (stat(path, &st) != 0) {
		rc = errno == ENOENT ? arca_error_set(ARCA_NOTFOUND, "object not found")
				     : arca_error_errno(errno, "cannot stat %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = arca_error_set(ARCA_NOTFOUND, "%s is not an object (not a regular file)", path);
		goto out;
	}
	*size = (uint64_t)st.st_size;
out:
	free(path);
	return rc;
}

/* ---- put ---- */

/* Make a directory's entries durable.  Filesystems that cannot fsync a
 * directory (EINVAL) get what they offer. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;
	if (fd < 0)
		return arca_error_errno(errno, "cannot open directory %s", dir);
	if (fsync(fd) != 0 && errno != EINVAL)
		rc = arca_error_errno(errno, "cannot fsync directory %s", dir);
	close(fd);
	return rc;
}

/* mkdir -p dir (a path, writable copy), fsyncing the parent of each
 * directory created so the new entry survives a crash. */
static int mkdir_p(char *dir)
{
	char *p = dir;
	int rc;

	while (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/');
		if (slash)
			*slash = '\0';
		if (mkdir(dir, 0700) == 0) {
			char *up = strrchr(dir, '/');
			if (up == dir) {
				rc = fsync_dir("/");
			} else if (up) {
				*up = '\0';
				rc = fsync_dir(dir);
				*up = '/';
			} else {
				rc = fsync_dir(".");
			}
			if (rc) {
				if (slash)
					*slash = '/';
				return rc;
			}
		} else if (errno != EEXIST) {
			rc = arca_error_errno(errno, "cannot create directory %s", dir);
			if (slash)
				*slash = '/';
			return rc;
		}
		if (!slash)
			return 0;
		*slash = '/';
		p = slash + 1;
		while (*p == '/')
			p++;
		if (!*p)
			return 0;
	}
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (w == 0) {
			errno = EIO;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Move tmp to path unless path exists (ARCA_EXISTS); atomic.  *moved
 * tells whether tmp is gone (else the caller removes it). */
static int link_noreplace(const char *tmp, const char *path, bool *moved)
{
	*moved = false;
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0) {
		*moved = true;
		return 0;
	}
	if (errno == EEXIST)
		return arca_error_set(ARCA_EXISTS, "object already exists");
	if (errno != EINVAL && errno != ENOSYS && errno != ENOTSUP)
		return arca_error_errno(errno, "cannot rename %s to %s", tmp, path);
	/* The filesystem has no RENAME_NOREPLACE: link() also refuses to
	 * replace; the caller removes tmp afterwards. */
	if (link(tmp, path) != 0) {
		if (errno == EEXIST)
			return arca_error_set(ARCA_EXISTS, "object already exists");
		return arca_error_errno(errno, "cannot link %s to %s", tmp, path);
	}
	return 0;
}

static int local_put(arca_backend *be, const char *key, const void *data, size_t len,
		     unsigned flags)
{
	local_be *lb = L(be);
	char *path = NULL, *dir = NULL, *tmp = NULL, *slash;
	uint8_t rnd[8];
	size_t tlen;
	int fd = -1, rc;
	bool tmp_exists = false;

	if ((rc = path_of(lb, key, &path)))
		return rc;
	tlen = strlen(path) + sizeof(TMP_PREFIX) + 48;
	dir = strdup(path);
	tmp = malloc(tlen);
	if (!dir || !tmp) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory building a path");
		goto out;
	}
	slash = strrchr(dir, '/');
	*slash = '\0'; /* path_of always puts a '/' between root and key */
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		rc = arca_error_errno(errno, "cannot get random bytes for a temporary name");
		goto out;
	}
	snprintf(tmp, tlen, "%s/" TMP_PREFIX "%ld-%02x%02x%02x%02x%02x%02x%02x%02x", dir,
		 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);

	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = mkdir_p(dir)))
			goto out;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		rc = arca_error_errno(errno, "cannot create %s", tmp);
		goto out;
	}
	tmp_exists = true;
	if (write_all(fd, data, len) != 0) {
		rc = arca_error_errno(errno, "cannot write %s", tmp);
		goto out;
	}
	if (!(flags & ARCA_PUT_VOLATILE) && fsync(fd) != 0) {
		rc = arca_error_errno(errno, "cannot fsync %s", tmp);
		goto out;
	}
	/* NFS and friends report deferred write errors here. */
	if (close(fd) != 0) {
		fd = -1;
		rc = arca_error_errno(errno, "cannot close %s", tmp);
		goto out;
	}
	fd = -1;
	if (flags & ARCA_PUT_NOREPLACE) {
		bool moved;
		rc = link_noreplace(tmp, path, &moved);
		tmp_exists = !moved;
		if (rc)
			goto out;
	} else if (rename(tmp, path) != 0) {
		rc = arca_error_errno(errno, "cannot rename %s to %s", tmp, path);
		goto out;
	} else {
		tmp_exists = false;
	}
	cache_invalidate(lb, key); /* only locks are ever replaced, but be exact */
	rc = (flags & ARCA_PUT_VOLATILE) ? 0 : fsync_dir(dir);
out:
	if (fd >= 0)
		close(fd);
	if (tmp_exists && unlink(tmp) != 0 && errno != ENOENT && !rc)
		rc = arca_error_errno(errno, "cannot remove %s", tmp);
	free(path);
	free(dir);
	free(tmp);
	return rc;
}

/* ---- walking ---- */

typedef int (*walk_fn)(int dfd, const char *name, const char *key, const struct stat *st,
		       void *payload);

/*
 * Visit every non-directory entry below dfd (whose key prefix is rel,
 * "" or ending in '/') whose key could start with prefix, in directory
 * order.  Directories named ".tmp-*" are not entered.  Entries that vanish
 * while walking are skipped.
 */
static int walk(int dfd, arca_buf *rel, const char *prefix, int depth, walk_fn fn, void *payload)
{
	DIR *d = NULL;
	struct dirent *de;
	size_t mark = rel->len, plen = strlen(prefix);
	int rc = 0;

	if (depth > WALK_DEPTH_MAX) {
		close(dfd);
		return arca_error_set(ARCA_ERROR, "directory tree deeper than %d levels at %.*s",
				      WALK_DEPTH_MAX, (int)rel->len, (const char *)rel->data);
	}
	if (!(d = fdopendir(dfd))) {
		rc = arca_error_errno(errno, "cannot read directory %.*s", (int)rel->len,
				      (const char *)rel->data);
		close(dfd);
		return rc;
	}
	for (;;) {
		struct stat st;
		const char *key;
		size_t klen, n;

		errno = 0;
		if (!(de = readdir(d))) {
			if (errno)
				rc = arca_error_errno(errno, "cannot read directory %.*s",
						      (int)mark, (const char *)rel->data);
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		rel->len = mark;
		if ((rc = arca_buf_puts(rel, de->d_name)) || (rc = arca_buf_cstr(rel)))
			break;
		key = (const char *)rel->data;
		klen = rel->len;
		/* Prune: descend only where prefix and key agree so far. */
		n = klen < plen ? klen : plen;
		if (strncmp(key, prefix, n) != 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, 0) != 0) {
			if (errno == ENOENT)
				continue;
			rc = arca_error_errno(errno, "cannot stat %s", key);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub;
			if (strncmp(de->d_name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0)
				continue;
			if ((rc = arca_buf_puts(rel, "/")) || (rc = arca_buf_cstr(rel)))
				break;
			if (strncmp((const char *)rel->data, prefix,
				    rel->len < plen ? rel->len : plen) != 0)
				continue;
			sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub < 0) {
				if (errno == ENOENT)
					continue;
				rc = arca_error_errno(errno, "cannot open directory %s", key);
				break;
			}
			if ((rc = walk(sub, rel, prefix, depth + 1, fn, payload)))
				break;
			continue;
		}
		if (klen < plen)
			continue;
		if ((rc = fn(dirfd(d), de->d_name, key, &st, payload)))
			break;
	}
	rel->len = mark;
	if (rel->data)
		rel->data[mark] = '\0';
	closedir(d);
	return rc;
}

/* Walk from the directory part of prefix; a missing directory is empty. */
static int walk_from(local_be *lb, const char *prefix, walk_fn fn, void *payload)
{
	arca_buf rel = ARCA_BUF_INIT;
	const char *slash = strrchr(prefix, '/');
	size_t dlen = slash ? (size_t)(slash - prefix) + 1 : 0;
	char *path = NULL;
	int dfd, rc;

	if ((rc = arca_buf_put(&rel, prefix, dlen)) || (rc = arca_buf_cstr(&rel)))
		goto out;
	if ((rc = path_of(lb, dlen ? (const char *)rel.data : ".", &path)))
		goto out;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			rc = arca_error_errno(errno, "cannot open directory %s", path);
		goto out;
	}
	rc = walk(dfd, &rel, prefix, 0, fn, payload);
out:
	free(path);
	arca_buf_free(&rel);
	return rc;
}

typedef struct list_ctx {
	arca_backend_list_cb cb;
	void *payload;
} list_ctx;

static int list_visit(int dfd, const char *name, const char *key, const struct stat *st,
		      void *payload)
{
	list_ctx *lc = payload;
	if (!S_ISREG(st->st_mode) || strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) == 0)
		return 0;
	return lc->cb(key, (uint64_t)st->st_size, lc->payload);
}

static int local_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb,
		      void *payload)
{
	list_ctx lc = { cb, payload };
	return walk_from(L(be), prefix, list_visit, &lc);
}

/* ---- remove ---- */

static int local_remove(arca_backend *be, const char *key)
{
	local_be *lb = L(be);
	char *path = NULL;
	int rc;

	if ((rc = path_of(lb, key, &path)))
		return rc;
	if (unlink(path) != 0)
		rc = errno == ENOENT ? arca_error_set(ARCA_NOTFOUND, "object not found")
				     : arca_error_errno(errno, "cannot remove %s", path);
	/* Packs: not fsyncing the directory; a removal lost in a crash is
	 * redone by the next prune, and prune removes thousands of packs.
	 * Index files and snapshots: durable, because prune deletes packs only
	 * after the index files (and snapshots) naming them are gone, and a
	 * system crash must not bring one back without its packs.  Locks need
	 * no durability. */
	if (!rc && strncmp(key, "data/", 5) && strncmp(key, "locks/", 6)) {
		char *slash = strrchr(path, '/');
		*slash = '\0'; /* path_of always puts a '/' between root and key */
		rc = fsync_dir(path);
	}
	cache_invalidate(lb, key);
	free(path);
	return rc;
}

/* Unlink every key, then fsync each directory that lost an index file or a
 * snapshot once (local_remove syncs after every unlink). */
static int local_remove_batch(arca_backend *be, const char *const *keys, size_t n, int *rcs)
{
	local_be *lb = L(be);
	char **dirs = calloc(n ? n : 1, sizeof(*dirs));
	size_t i, k, ndirs = 0;
	bool first = true;
	int rc = 0;
	if (!dirs)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < n; i++) {
		char *path = NULL, *slash;
		if ((rcs[i] = path_of(lb, keys[i], &path)))
			continue;
		if (unlink(path) != 0) {
			if (errno == ENOENT)
				rcs[i] = ARCA_NOTFOUND;
			else if (first) {
				rcs[i] = arca_error_errno(errno, "cannot remove %s", path);
				first = false;
			} else
				rcs[i] = arca_status_from_errno(errno);
			free(path);
			continue;
		}
		cache_invalidate(lb, keys[i]);
		slash = strrchr(path, '/');
		*slash = '\0';
		if (!strncmp(keys[i], "data/", 5) || !strncmp(keys[i], "locks/", 6)) {
			free(path);
			continue;
		}
		for (k = 0; k < ndirs && strcmp(dirs[k], path); k++)
			;
		if (k < ndirs)
			free(path);
		else
			dirs[ndirs++] = path;
	}
	/* a failed sync fails the batch: nothing it removed is known durable */
	for (k = 0; k < ndirs; k++) {
		if (!rc)
			rc = fsync_dir(dirs[k]);
		free(dirs[k]);
	}
	free(dirs);
	return rc;
}

/* ---- cleanup of temporaries ---- */

typedef struct cleanup_ctx {
	time_t cutoff;
	unsigned removed;
} cleanup_ctx;

/* ".tmp-<pid>-<hex>": is that pid alive on this host?  Unparsable: yes. */
static bool writer_alive(const char *rest)
{
	char *end;
	long pid = strtol(rest, &end, 10);
	if (end == rest || *end != '-' || pid <= 0)
		return true;
	return !(kill((pid_t)pid, 0) != 0 && errno == ESRCH);
}

static int cleanup_visit(int dfd, const char *name, const char *key, const struct stat *st,
			 void *payload)
{
	cleanup_ctx *cc = payload;
	struct stat lst;

	if (strncmp(name, TMP_PREFIX, sizeof(TMP_PREFIX) - 1) != 0)
		return 0;
	/* Judge the entry itself, not what a symlink points at. */
	if (fstatat(dfd, name, &lst, AT_SYMLINK_NOFOLLOW) != 0)
		return errno == ENOENT ? 0 : arca_error_errno(errno, "cannot stat %s", key);
	if (S_ISDIR(lst.st_mode))
		return 0;
	/* young temp files of a live writer stay; a dead writer's go at once */
	if (lst.st_mtime >= cc->cutoff && writer_alive(name + sizeof(TMP_PREFIX) - 1))
		return 0;
	if (unlinkat(dfd, name, 0) != 0)
		return errno == ENOENT ? 0 : arca_error_errno(errno, "cannot remove %s", key);
	cc->removed++;
	return 0;
}

int arca_backend_local_cleanup_temps(arca_backend *be, unsigned max_age_seconds, unsigned *removed)
{
	cleanup_ctx cc = { time(NULL) - (time_t)max_age_seconds, 0 };
	int rc;

	if (removed)
		*removed = 0;
	if (!be || be->free != local_free)
		return arca_error_set(ARCA_INVAL, "temporary file cleanup needs a local repository");
	rc = walk_from(L(be), "", cleanup_visit, &cc);
	if (removed)
		*removed = cc.removed;
	if (rc)
		return arca_error_prefix(rc, "cleaning temporary files in %s", L(be)->root);
	return 0;
}


/* ---- streaming put ---- */

/* A temporary file in the repository root, renamed into place at commit
 * (same filesystem, so the rename is atomic). */
typedef struct local_stream {
	int fd;
	char *tmp;
} local_stream;

static int local_stream_open(arca_backend *be, void **handle)
{
	local_be *lb = L(be);
	local_stream *ls = calloc(1, sizeof(*ls));
	uint8_t rnd[8];
	size_t tlen = strlen(lb->root) + sizeof(TMP_PREFIX) + 48;
	*handle = NULL;
	if (!ls || !(ls->tmp = malloc(tlen))) {
		free(ls);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		free(ls->tmp);
		free(ls);
		return arca_error_errno(errno, "cannot get random bytes for a temporary name");
	}
	snprintf(ls->tmp, tlen, "%s/" TMP_PREFIX "%ld-%02x%02x%02x%02x%02x%02x%02x%02x", lb->root,
		 (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	ls->fd = open(ls->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (ls->fd < 0) {
		int rc = arca_error_errno(errno, "cannot create %s", ls->tmp);
		free(ls->tmp);
		free(ls);
		return rc;
	}
	*handle = ls;
	return 0;
}

static int local_stream_write(arca_backend *be, void *handle, const void *p, size_t n)
{
	local_stream *ls = handle;
	if (write_all(ls->fd, p, n) != 0)
		return arca_error_errno(errno, "cannot write %s", ls->tmp);
	return 0;
}

static void local_stream_abort(arca_backend *be, void *handle)
{
	local_stream *ls = handle;
	if (!ls)
		return;
	if (ls->fd >= 0)
		close(ls->fd);
	unlink(ls->tmp);
	free(ls->tmp);
	free(ls);
}

static int local_stream_commit(arca_backend *be, void *handle, const char *key)
{
	local_be *lb = L(be);
	local_stream *ls = handle;
	char *path = NULL, *dir = NULL, *slash;
	int rc;
	if (fsync(ls->fd) != 0) {
		rc = arca_error_errno(errno, "cannot fsync %s", ls->tmp);
		goto out;
	}
	if (close(ls->fd) != 0) {
		ls->fd = -1;
		rc = arca_error_errno(errno, "cannot close %s", ls->tmp);
		goto out;
	}
	ls->fd = -1;
	if ((rc = path_of(lb, key, &path)))
		goto out;
	if (!(dir = strdup(path))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	slash = strrchr(dir, '/');
	*slash = '\0';
	if (rename(ls->tmp, path) != 0) {
		if (errno != ENOENT || (rc = mkdir_p(dir)) || rename(ls->tmp, path) != 0) {
			rc = rc ? rc : arca_error_errno(errno, "cannot rename %s to %s", ls->tmp, path);
			goto out;
		}
	}
	cache_invalidate(lb, key);
	rc = fsync_dir(dir);
out:
	free(path);
	free(dir);
	local_stream_abort(be, ls); /* unlink is a no-op after the rename */
	return rc;
}

/* ---- lifecycle ---- */

static const char *local_location(arca_backend *be) { return L(be)->root; }

static void local_free(arca_backend *be)
{
	local_be *lb = L(be);
	if (!be)
		return;
	for (size_t i = 0; i < FD_CACHE_N; i++) {
		if (lb->cache[i]) {
			close(lb->cache[i]->fd);
			free(lb->cache[i]->key);
			free(lb->cache[i]);
		}
	}
	pthread_mutex_destroy(&lb->mu);
	free(lb->root);
	free(lb);
}

int arca_backend_local_new(arca_backend **out, const char *path)
{
	local_be *lb = NULL;
	struct stat st;
	size_t n;

	*out = NULL;
	if (!path || !*path)
		return arca_error_set(ARCA_INVAL, "empty repository path");
	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
		return arca_error_set(ARCA_INVAL, "repository path %s is not a directory", path);
	if (!(lb = calloc(1, sizeof(*lb))) || !(lb->root = strdup(path))) {
		free(lb);
		return arca_error_set(ARCA_NOMEM, "out of memory opening %s", path);
	}
	n = strlen(lb->root);
	while (n > 1 && lb->root[n - 1] == '/')
		lb->root[--n] = '\0';
	pthread_mutex_init(&lb->mu, NULL);
	lb->base.version = ARCA_BACKEND_VERSION;
	lb->base.name = "local";
	lb->base.caps = ARCA_BACKEND_CAP_RANGE | ARCA_BACKEND_CAP_NOREPLACE | ARCA_BACKEND_CAP_LOCAL;
	lb->base.get = local_get;
	lb->base.put = local_put;
	lb->base.stat = local_stat;
	lb->base.list = local_list;
	lb->base.remove = local_remove;
	lb->base.remove_batch = local_remove_batch;
	lb->base.stream_open = local_stream_open;
	lb->base.stream_write = local_stream_write;
	lb->base.stream_commit = local_stream_commit;
	lb->base.stream_abort = local_stream_abort;
	lb->base.location = local_location;
	lb->base.free = local_free;
	*out = &lb->base;
	return 0;
}
