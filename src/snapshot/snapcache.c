/*
 * snapshot/snapcache.c - the local snapshot manifest cache: see
 * snapcache.h for the file layout and why it is never trusted.
 *
 * The listing of snapshots/ stays the truth: arca_snapshot_list_load asks
 * the cache only about listed ids, fetches what it lacks, and the file is
 * rewritten with exactly the confirmed entries, so ids that vanished
 * (forget, another host's prune) are dropped the next time anyone lists.
 * Concurrent writers each rename a complete file into place; the last one
 * wins and both are valid.
 */
#include "snapshot/snapcache.h"
#include "arca/error.h"
#include "util/buf.h"
#include "util/enc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CACHE_FILE "snapshots.cache"
#define MAX_STORED (16u << 20)

static void reset_old(arca_snapcache *c)
{
	free(c->old);
	c->old = NULL;
	c->nold = 0;
}

int arca_snapcache_parse(arca_snapcache *c, const arca_id *repo_id, const void *p, size_t n)
{
	arca_dec d;
	arca_id sum;
	uint64_t count, i;
	const uint8_t *rid;
	reset_old(c);
	if (n < 8 + 4 + ARCA_ID_LEN + 1 + ARCA_ID_LEN)
		return arca_error_set(ARCA_CORRUPT, "snapshot cache: truncated");
	arca_sha256(&sum, p, n - ARCA_ID_LEN);
	if (memcmp(sum.b, (const uint8_t *)p + n - ARCA_ID_LEN, ARCA_ID_LEN))
		return arca_error_set(ARCA_CORRUPT, "snapshot cache: checksum mismatch");
	arca_dec_init(&d, p, n - ARCA_ID_LEN);
	if (memcmp(arca_dec_raw(&d, 8), ARCA_SNAPCACHE_MAGIC, 8) || arca_dec_u32(&d) != ARCA_SNAPCACHE_VERSION)
		return arca_error_set(ARCA_CORRUPT, "snapshot cache: bad magic or version");
	rid = arca_dec_raw(&d, ARCA_ID_LEN);
	if (!rid || memcmp(rid, repo_id->b, ARCA_ID_LEN))
		return arca_error_set(ARCA_CORRUPT, "snapshot cache: belongs to another repository");
	count = arca_dec_varint(&d);
	/* each entry takes at least 33 bytes */
	if (!arca_dec_ok(&d) || count > arca_dec_left(&d) / (ARCA_ID_LEN + 1))
		return arca_error_set(ARCA_CORRUPT, "snapshot cache: bad entry count");
	if (count && !(c->old = calloc((size_t)count, sizeof(*c->old))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < count; i++) {
		arca_snapcache_entry *e = &c->old[i];
		const uint8_t *id = arca_dec_raw(&d, ARCA_ID_LEN);
		e->stored = arca_dec_bytes(&d, &e->n);
		if (!arca_dec_ok(&d) || e->n > MAX_STORED)
			goto bad;
		memcpy(e->id.b, id, ARCA_ID_LEN);
		if (i && arca_id_cmp(&c->old[i - 1].id, &e->id) >= 0)
			goto bad;
	}
	if (arca_dec_left(&d))
		goto bad;
	c->nold = (size_t)count;
	return 0;
bad:
	reset_old(c);
	return arca_error_set(ARCA_CORRUPT, "snapshot cache: malformed entry");
}

static void cache_path(char *out, size_t n, const char *dir, const char *suffix)
{
	snprintf(out, n, "%s/%s%s", dir, CACHE_FILE, suffix);
}

int arca_snapcache_load(arca_snapcache *c, const char *dir, const arca_id *repo_id)
{
	char path[4400], chunk[65536];
	int fd;
	ssize_t got;
	memset(c, 0, sizeof(*c));
	c->dirty = true;
	if (!dir)
		return 0;
	cache_path(path, sizeof(path), dir, "");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (arca_buf_put(&c->file, chunk, (size_t)got)) {
			close(fd);
			return arca_error_set(ARCA_NOMEM, "out of memory");
		}
	close(fd);
	if (got == 0 && arca_snapcache_parse(c, repo_id, c->file.data, c->file.len) == 0)
		c->dirty = false;
	else if (arca_error_code() == ARCA_NOMEM)
		return ARCA_NOMEM;
	arca_error_clear();
	return 0;
}

static int cmp_id(const void *a, const void *b)
{
	return arca_id_cmp(a, b);
}

arca_snapcache_entry *arca_snapcache_find(arca_snapcache *c, const arca_id *id)
{
	/* arca_id is the first member of an entry */
	return c->nold ? bsearch(id, c->old, c->nold, sizeof(*c->old), cmp_id) : NULL;
}

int arca_snapcache_add(arca_snapcache *c, const arca_id *id, const void *stored, size_t n)
{
	arca_snapcache_entry *e;
	uint8_t *copy;
	int rc;
	if ((rc = arca_grow(&c->add, &c->capadd, c->nadd + 1, sizeof(*c->add), 64)))
		return rc;
	if (!(copy = malloc(n ? n : 1)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	memcpy(copy, stored, n);
	e = &c->add[c->nadd++];
	e->id = *id;
	e->stored = copy;
	e->n = n;
	e->used = e->owned = true;
	c->dirty = true;
	return 0;
}

static int cmp_entry_ptr(const void *a, const void *b)
{
	const arca_snapcache_entry *x = *(const arca_snapcache_entry *const *)a;
	const arca_snapcache_entry *y = *(const arca_snapcache_entry *const *)b;
	return arca_id_cmp(&x->id, &y->id);
}

int arca_snapcache_encode(arca_snapcache *c, const arca_id *repo_id, arca_buf *out)
{
	const arca_snapcache_entry **v;
	size_t i, n = 0;
	arca_id sum;
	int rc = 0;
	if (!(v = malloc((c->nold + c->nadd + 1) * sizeof(*v))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	for (i = 0; i < c->nold; i++)
		if (c->old[i].used)
			v[n++] = &c->old[i];
	for (i = 0; i < c->nadd; i++)
		v[n++] = &c->add[i];
	qsort(v, n, sizeof(*v), cmp_entry_ptr);
	{
		/* an id listed twice was fetched twice: keep it once */
		size_t k = 0;
		for (i = 0; i < n; i++)
			if (!k || !arca_id_eq(&v[k - 1]->id, &v[i]->id))
				v[k++] = v[i];
		n = k;
	}
	rc |= arca_buf_put(out, ARCA_SNAPCACHE_MAGIC, 8);
	rc |= arca_enc_u32(out, ARCA_SNAPCACHE_VERSION);
	rc |= arca_buf_put(out, repo_id->b, ARCA_ID_LEN);
	rc |= arca_enc_varint(out, n);
	for (i = 0; i < n && !rc; i++) {
		rc |= arca_buf_put(out, v[i]->id.b, ARCA_ID_LEN);
		rc |= arca_enc_bytes(out, v[i]->stored, v[i]->n);
	}
	free(v);
	if (rc)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	arca_sha256(&sum, out->data, out->len);
	return arca_buf_put(out, sum.b, ARCA_ID_LEN) ? arca_error_set(ARCA_NOMEM, "out of memory") : 0;
}

int arca_snapcache_save(arca_snapcache *c, const char *dir, const arca_id *repo_id)
{
	arca_buf b = ARCA_BUF_INIT;
	char path[4400], tmp[4400], sfx[64];
	size_t i, off = 0;
	int fd = -1, rc;
	for (i = 0; i < c->nold && !c->dirty; i++)
		if (!c->old[i].used)
			c->dirty = true;
	if (!c->dirty || !dir)
		return 0;
	if ((rc = arca_snapcache_encode(c, repo_id, &b)))
		return rc;
	cache_path(path, sizeof(path), dir, "");
	snprintf(sfx, sizeof(sfx), ".tmp-%ld", (long)getpid());
	cache_path(tmp, sizeof(tmp), dir, sfx);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0) {
		rc = arca_error_set(ARCA_ERROR, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = arca_error_set(ARCA_ERROR, "%s: %s", tmp, strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	/* no fsync: a file torn by a crash fails its checksum and is rebuilt */
	if (close(fd) || rename(tmp, path)) {
		fd = -1;
		rc = arca_error_set(ARCA_ERROR, "%s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	c->dirty = false;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	arca_buf_free(&b);
	return rc;
}

void arca_snapcache_free(arca_snapcache *c)
{
	size_t i;
	for (i = 0; i < c->nadd; i++)
		free((void *)c->add[i].stored);
	free(c->add);
	reset_old(c);
	arca_buf_free(&c->file);
	memset(c, 0, sizeof(*c));
}
