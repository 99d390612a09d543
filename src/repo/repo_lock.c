/*
 * repo/repo_lock.c - repository locks.
 *
 * A lock is a small plaintext object locks/<random hex>: magic, version,
 * exclusive flag, time, pid, host, user (docs/FORMAT.md).  Backup and
 * restore take shared locks; anything that deletes takes an exclusive one.
 * Taking a lock: remove stale locks (same host and dead pid, or not
 * refreshed within ARCA_LOCK_STALE), look for conflicts, write ours, then
 * look again so that two racing writers both see each other and back off.
 * A background thread refreshes the lock by writing a new one and removing
 * the old every ARCA_LOCK_REFRESH seconds.
 */
#include "repo/repo_internal.h"
#include "util/enc.h"
#include "util/timefmt.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOCK_MAGIC "ARCALOCK"
#define ARCA_LOCK_STALE_SEC (30 * 60)

/* The lease: a lock not refreshed for this long is stale, whoever holds it.
 * It is the only test for locks of other hosts (a cloud repository shared
 * by several machines), where no pid can be checked; it compares the
 * holder's clock with ours, so it must stay well above both the refresh
 * period and any plausible clock skew.  ARCA_LOCK_STALE_SECONDS overrides
 * it (tests). */
static int64_t lock_stale_sec(void)
{
	const char *e = getenv("ARCA_LOCK_STALE_SECONDS");
	char *end;
	long long v;
	if (!e || !*e)
		return ARCA_LOCK_STALE_SEC;
	v = strtoll(e, &end, 10);
	return (*end || v < 1) ? ARCA_LOCK_STALE_SEC : (int64_t)v;
}
#define ARCA_LOCK_REFRESH_SEC (5 * 60)

typedef struct lock_info {
	bool exclusive;
	int64_t time_ns;
	uint64_t pid;
	char host[256];
	char user[256];
} lock_info;

static int lock_encode(arca_buf *b, bool exclusive)
{
	char host[256], user[256];
	struct passwd *pw = getpwuid(getuid());
	int rc;
	if (gethostname(host, sizeof(host)))
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "unknown");
	if ((rc = arca_buf_put(b, LOCK_MAGIC, 8)) || (rc = arca_enc_u8(b, 1)) ||
	    (rc = arca_enc_u8(b, exclusive ? 1 : 0)) || (rc = arca_enc_u64(b, (uint64_t)arca_time_now_ns())) ||
	    (rc = arca_enc_u64(b, (uint64_t)getpid())) || (rc = arca_enc_str(b, host)) ||
	    (rc = arca_enc_str(b, user)))
		return rc;
	return 0;
}

static int lock_decode(lock_info *li, const uint8_t *p, size_t n)
{
	arca_dec d;
	const uint8_t *m;
	char *h, *u;
	arca_dec_init(&d, p, n);
	m = arca_dec_raw(&d, 8);
	if (!m || memcmp(m, LOCK_MAGIC, 8) || arca_dec_u8(&d) != 1)
		return arca_error_set(ARCA_CORRUPT, "not a lock");
	li->exclusive = arca_dec_u8(&d) != 0;
	li->time_ns = (int64_t)arca_dec_u64(&d);
	li->pid = arca_dec_u64(&d);
	h = arca_dec_strdup(&d, 255);
	u = arca_dec_strdup(&d, 255);
	if (!arca_dec_ok(&d)) {
		free(h);
		free(u);
		return arca_error_set(ARCA_CORRUPT, "truncated lock");
	}
	snprintf(li->host, sizeof(li->host), "%s", h);
	snprintf(li->user, sizeof(li->user), "%s", u);
	free(h);
	free(u);
	return 0;
}

int arca_repo_lockfile_check(const uint8_t *p, size_t n)
{
	lock_info li;
	return lock_decode(&li, p, n);
}

static int write_lock(arca_repo *r, bool exclusive, char *key_out)
{
	arca_buf b = ARCA_BUF_INIT;
	uint8_t rnd[16];
	char key[80];
	int rc, i;
	if ((rc = arca_random(rnd, sizeof(rnd))) || (rc = lock_encode(&b, exclusive)))
		goto out;
	strcpy(key, "locks/");
	for (i = 0; i < 16; i++)
		snprintf(key + 6 + 2 * i, 3, "%02x", rnd[i]);
	if ((rc = arca_be_put(r->be, key, b.data, b.len, ARCA_PUT_NOREPLACE | ARCA_PUT_VOLATILE)))
		goto out;
	strcpy(key_out, key);
out:
	arca_buf_free(&b);
	return rc;
}

typedef struct lock_scan {
	arca_repo *r;
	const char *own;
	bool want_exclusive;
	bool conflict;
	char why[512];
} lock_scan;

static int scan_one(const char *key, uint64_t size, void *payload)
{
	lock_scan *s = payload;
	arca_buf b = ARCA_BUF_INIT;
	lock_info li;
	char host[256];
	int64_t age;
	bool stale = false;
	int rc;
	if (s->own && !strcmp(key, s->own))
		return 0;
	rc = arca_be_get(s->r->be, key, &b);
	if (rc == ARCA_NOTFOUND) {
		arca_buf_free(&b);
		return 0; /* released meanwhile */
	}
	if (rc) {
		arca_buf_free(&b);
		return rc;
	}
	rc = lock_decode(&li, b.data, b.len);
	arca_buf_free(&b);
	if (rc) {
		arca_repo_warn(s->r, "removing unreadable lock %s", key);
		arca_be_remove(s->r->be, key);
		return 0;
	}
	if (gethostname(host, sizeof(host)))
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	age = (arca_time_now_ns() - li.time_ns) / ARCA_NS_PER_SEC;
	if (!strcmp(host, li.host) && li.pid != (uint64_t)getpid() &&
	    kill((pid_t)li.pid, 0) && errno == ESRCH)
		stale = true;
	if (age > lock_stale_sec())
		stale = true;
	if (stale) {
		arca_repo_warn(s->r, "removing stale %s lock %s held by pid %llu on %s (%lld s old)",
			       li.exclusive ? "exclusive" : "shared", key, (unsigned long long)li.pid, li.host,
			       (long long)age);
		arca_be_remove(s->r->be, key);
		return 0;
	}
	if (li.exclusive || s->want_exclusive) {
		s->conflict = true;
		snprintf(s->why, sizeof(s->why), "repository is locked %s by pid %llu on %s (user %s), %lld s ago",
			 li.exclusive ? "exclusively" : "(shared)", (unsigned long long)li.pid, li.host, li.user,
			 (long long)age);
	}
	return 0;
}

static void *refresher(void *arg)
{
	arca_repo *r = arg;
	pthread_mutex_lock(&r->lock.mu);
	while (!r->lock.stop) {
		struct timespec ts;
		char nkey[80], old[80];
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += ARCA_LOCK_REFRESH_SEC;
		if (pthread_cond_timedwait(&r->lock.cv, &r->lock.mu, &ts) == 0 || r->lock.stop)
			continue;
		strcpy(old, r->lock.key);
		if (!write_lock(r, r->lock.exclusive, nkey)) {
			strcpy(r->lock.key, nkey);
			arca_be_remove(r->be, old);
		}
	}
	pthread_mutex_unlock(&r->lock.mu);
	return NULL;
}

int arca_repo_lock(arca_repo *r, bool exclusive)
{
	lock_scan s;
	int rc;
	if (r->lock.held)
		return arca_error_set(ARCA_INVAL, "repository handle already holds a lock");
	memset(&s, 0, sizeof(s));
	s.r = r;
	s.want_exclusive = exclusive;
	if ((rc = arca_be_list(r->be, "locks/", scan_one, &s)))
		return rc;
	if (s.conflict)
		return arca_error_hint(arca_error_set(ARCA_LOCKED, "%s", s.why),
				       "wait for it to finish; a lock of a dead process is removed automatically");
	if ((rc = write_lock(r, exclusive, r->lock.key)))
		return rc;
	s.own = r->lock.key;
	if ((rc = arca_be_list(r->be, "locks/", scan_one, &s)) || s.conflict) {
		arca_be_remove(r->be, r->lock.key);
		if (rc)
			return rc;
		return arca_error_set(ARCA_LOCKED, "%s", s.why);
	}
	r->lock.held = true;
	r->lock.exclusive = exclusive;
	r->lock.stop = false;
	if (pthread_create(&r->lock.thread, NULL, refresher, r) == 0)
		r->lock.thread_running = true;
	/* The cache was synchronised when the repository was opened, before
	 * this lock: a prune that ran in between deleted packs it may still
	 * name, and a backup trusting it would reference deleted blobs. */
	if ((rc = arca_repo_index_sync(r))) {
		arca_repo_unlock(r);
		return rc;
	}
	return 0;
}

bool arca_repo_lock_held(const arca_repo *r, bool *exclusive)
{
	if (exclusive)
		*exclusive = r->lock.held && r->lock.exclusive;
	return r->lock.held;
}

int arca_repo_unlock(arca_repo *r)
{
	int rc;
	if (!r->lock.held)
		return 0;
	if (r->lock.thread_running) {
		pthread_mutex_lock(&r->lock.mu);
		r->lock.stop = true;
		pthread_cond_signal(&r->lock.cv);
		pthread_mutex_unlock(&r->lock.mu);
		pthread_join(r->lock.thread, NULL);
		r->lock.thread_running = false;
	}
	r->lock.held = false;
	rc = arca_be_remove(r->be, r->lock.key);
	return rc == ARCA_NOTFOUND ? 0 : rc;
}
