/*
 * replica/replicate.c - copy a repository to another place, additively.
 *
 * Order (docs/FORMAT.md §14): config and keys first (they make the
 * destination openable, and an empty repository is a valid one), then under
 * a shared lock on both sides: packs, index files, other objects (audit log,
 * policies), snapshots.  Each phase finishes before the next starts, so the
 * destination never holds an index entry for a pack it lacks or a snapshot
 * whose data it lacks.  The destination's listing is taken after its lock,
 * so a prune that ran there just before cannot have removed a pack we count
 * as present.  Objects present with the wrong size are copied again
 * (content names make overwriting with the right bytes safe).
 */
#include "replica/replica.h"
#include "replica/transfer.h"

#include "backend/backend.h"
#include "util/buf.h"
#include "util/timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum phase { PH_KEYS, PH_PACKS, PH_INDEX, PH_OTHER, PH_SNAPSHOTS, PH_N };
static const char *const phase_names[PH_N] = { "keys", "packs", "index files", "other objects", "snapshots" };

static int phase_of(const char *key)
{
	if (!strncmp(key, "keys/", 5))
		return PH_KEYS;
	if (!strncmp(key, "data/", 5))
		return PH_PACKS;
	if (!strncmp(key, "index/", 6))
		return PH_INDEX;
	if (!strncmp(key, "snapshots/", 10))
		return PH_SNAPSHOTS;
	return PH_OTHER;
}

/* config: create it in the destination, or check it is the same bytes. */
static int match_config(arca_backend *src, arca_backend *dst, bool dry_run, bool *created)
{
	arca_buf a = ARCA_BUF_INIT, b = ARCA_BUF_INIT;
	int rc;
	*created = false;
	if ((rc = arca_be_get(src, "config", &a)))
		goto out;
	rc = arca_be_get(dst, "config", &b);
	if (rc == ARCA_NOTFOUND) {
		arca_error_clear();
		*created = true;
		if (dry_run) {
			rc = 0;
			goto out;
		}
		rc = arca_be_put(dst, "config", a.data, a.len, ARCA_PUT_NOREPLACE);
		if (rc == ARCA_EXISTS) { /* someone else created it meanwhile */
			arca_error_clear();
			*created = false;
			b.len = 0;
			rc = arca_be_get(dst, "config", &b);
		} else
			goto out;
	}
	if (rc)
		goto out;
	if (a.len != b.len || memcmp(a.data, b.data, a.len))
		rc = arca_error_hint(arca_error_set(ARCA_ERROR, "%s holds a different repository",
						    arca_be_location(dst)),
				     "a replica must start empty or be a copy of this repository");
out:
	arca_buf_free(&a);
	arca_buf_free(&b);
	return rc;
}

/* The source objects of one phase the destination lacks (or has with
 * another size). */
static int missing_of(const xfer_list *src, const xfer_list *dst, int phase, xfer_list *out,
		      uint64_t *present)
{
	size_t i;
	int rc;
	for (i = 0; i < src->n; i++) {
		const xfer_item *s = &src->v[i], *d;
		if (!strcmp(s->key, "config") || phase_of(s->key) != phase)
			continue;
		d = xfer_list_find(dst, s->key);
		if (d && d->size == s->size) {
			(*present)++;
			continue;
		}
		if ((rc = xfer_list_push(out, s->key, s->size)))
			return rc;
	}
	return 0;
}

static int copy_phase(arca_backend *from, arca_backend *to, const xfer_list *src, const xfer_list *dst,
		      int phase, xfer_opts *xo, const arca_replicate_opts *o, arca_replicate_result *res)
{
	xfer_list todo = { 0 };
	xfer_stats st = { 0, 0, 0 };
	uint64_t *kind;
	int rc;
	if ((rc = missing_of(src, dst, phase, &todo, &res->objects_present)))
		goto out;
	switch (phase) {
	case PH_PACKS: kind = &res->packs_copied; break;
	case PH_INDEX: kind = &res->index_copied; break;
	case PH_SNAPSHOTS: kind = &res->snapshots_copied; break;
	default: kind = &res->other_copied; break;
	}
	if (o->dry_run) {
		size_t i;
		*kind += todo.n;
		res->objects_copied += todo.n;
		for (i = 0; i < todo.n; i++)
			res->bytes_copied += todo.v[i].size;
		goto out;
	}
	xo->phase = phase_names[phase];
	rc = xfer_copy(from, to, todo.v, todo.n, xo, &st);
	*kind += st.objects;
	res->objects_copied += st.objects;
	res->bytes_copied += st.bytes;
	res->objects_verified += st.verified;
out:
	xfer_list_free(&todo);
	return rc;
}

int arca_replicate(arca_repo *src, const char *dst_url, const char *password, const arca_repo_open_opts *oo,
		   const arca_replicate_opts *o, arca_replicate_result *res)
{
	arca_backend *sbe = arca_repo_backend(src), *dbe = NULL;
	arca_repo *dst = NULL;
	xfer_list sl = { 0 }, dl = { 0 };
	xfer_opts xo;
	bool locked_src = false;
	int rc, ph;
	double t0 = arca_monotonic();

	memset(res, 0, sizeof(*res));
	memset(&xo, 0, sizeof(xo));
	xo.connections = o->connections ? o->connections : 4;
	xo.verify = o->verify;
	xo.progress = o->progress;
	xo.progress_payload = o->progress_payload;
	xo.t0 = t0;
	if ((rc = xfer_limit_new(&xo.limit, o->limit_bytes_per_sec)))
		return rc;
	if (!arca_repo_lock_held(src, NULL)) {
		if ((rc = arca_repo_lock(src, false)))
			goto out;
		locked_src = true;
	}
	if ((rc = arca_backend_open(&dbe, dst_url)))
		goto out;
	if (!strcmp(arca_be_location(dbe), arca_be_location(sbe))) {
		rc = arca_error_set(ARCA_INVAL, "cannot replicate %s onto itself", arca_be_location(sbe));
		goto out;
	}
	if ((rc = match_config(sbe, dbe, o->dry_run, &res->created)))
		goto out;
	if ((rc = xfer_list_all(sbe, &sl)))
		goto out;
	res->objects_source = sl.n;
	if (res->created && o->dry_run) { /* nothing there: everything would go */
		for (ph = PH_KEYS; ph < PH_N && !rc; ph++)
			rc = copy_phase(sbe, dbe, &sl, &dl, ph, &xo, o, res);
		goto out;
	}
	/* keys first: they make the destination openable */
	if ((rc = xfer_list_all(dbe, &dl)) || (rc = copy_phase(sbe, dbe, &sl, &dl, PH_KEYS, &xo, o, res)))
		goto out;
	if ((rc = arca_repo_open(&dst, dst_url, password, oo))) {
		rc = arca_error_prefix(rc, "opening the replica %s", arca_be_location(dbe));
		goto out;
	}
	if (!o->dry_run && (rc = arca_repo_lock(dst, false)))
		goto out;
	/* the listing that counts: taken under the lock */
	xfer_list_free(&dl);
	if ((rc = xfer_list_all(arca_repo_backend(dst), &dl)))
		goto out;
	for (ph = PH_PACKS; ph < PH_N; ph++)
		if ((rc = copy_phase(sbe, arca_repo_backend(dst), &sl, &dl, ph, &xo, o, res)))
			goto out;
out:
	res->seconds = arca_monotonic() - t0;
	arca_repo_close(dst);
	arca_backend_free(dbe);
	if (locked_src)
		arca_repo_unlock(src);
	xfer_list_free(&sl);
	xfer_list_free(&dl);
	xfer_limit_free(xo.limit);
	return rc;
}

/* ---- remembered replicas ---- */

static void replicas_file(arca_repo *src, char *out, size_t n)
{
	snprintf(out, n, "%s/replicas", arca_repo_cache_dir(src));
}

int arca_replicas_known(arca_repo *src, char ***urls, size_t *n)
{
	char path[4200], line[4200];
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	FILE *f;
	*urls = NULL;
	*n = 0;
	replicas_file(src, path, sizeof(path));
	if (!(f = fopen(path, "r")))
		return errno == ENOENT ? 0 : arca_error_errno(errno, "cannot read %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *tab = strchr(line, '\t');
		if (tab)
			*tab = '\0';
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		if (arca_grow(&v, &cap, cnt + 1, sizeof(*v), 8) || !(v[cnt] = strdup(line)))
			break;
		cnt++;
	}
	fclose(f);
	*urls = v;
	*n = cnt;
	return 0;
}

int arca_replicas_remember(arca_repo *src, const char *dst_url)
{
	char path[4200], tmp[4300], when[64], line[4200];
	size_t ulen = strlen(dst_url);
	FILE *in, *f;
	int rc = 0;
	if (strchr(dst_url, '\n') || strchr(dst_url, '\t'))
		return 0;
	replicas_file(src, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
	arca_time_format(when, sizeof(when), arca_time_now_ns());
	if (!(f = fopen(tmp, "w")))
		return arca_error_errno(errno, "cannot write %s", tmp);
	if ((in = fopen(path, "r"))) { /* keep the other lines as they are */
		while (fgets(line, sizeof(line), in))
			if (!(strncmp(line, dst_url, ulen) == 0 && (line[ulen] == '\t' || line[ulen] == '\n')))
				fputs(line, f);
		fclose(in);
	}
	fprintf(f, "%s\t%s\n", dst_url, when);
	if (fclose(f) || rename(tmp, path)) {
		rc = arca_error_errno(errno, "cannot write %s", path);
		unlink(tmp);
	}
	return rc;
}
