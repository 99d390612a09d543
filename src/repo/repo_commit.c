/*
 * repo/repo_commit.c - finished packs are made durable off the writers'
 * threads.
 *
 * A pack ends with its backend commit: fsync, rename and a directory fsync
 * on a local disk (15 ms or more for a 16 MiB pack), the last part and the
 * completion of the upload on S3.  A backup's workers would spend that time
 * waiting instead of compressing.  So one committer thread per repository
 * takes the packs the writers finish, in order, commits each and only then
 * hands its blobs to the pending index (arca_repo_pack_done): a pack is
 * durable under its name before any index file names it, as the format
 * requires.  At most QUEUE_MAX packs wait (open files, unsynced data); a
 * writer that finds the queue full waits.  Writer flushes and index
 * commits drain the queue first.  A failed commit releases its blobs'
 * claims and fails the next push or drain, so the backup fails and no
 * snapshot names those blobs.
 */
#include "repo/repo_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUEUE_MAX 4

typedef struct pending_pack {
	arca_be_stream *stream;
	arca_id pid;
	arca_blob_entry *entries;
	size_t n;
	uint64_t packlen;
} pending_pack;

struct arca_committer {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work, room; /* work: for the thread; room: a slot or the queue drained */
	pending_pack q[QUEUE_MAX];
	size_t head, count;
	bool busy; /* a commit is in progress */
	bool stop;
	int err_rc; /* the first failure not yet reported */
	char err_msg[1024];
};

/* The backend commit, then the pending index; on failure the blobs'
 * claims are released.  Takes ownership of p's stream and entries. */
static int commit_now(arca_repo *r, pending_pack *p)
{
	char key[80];
	int rc;
	arca_repo_pack_key(key, &p->pid);
	if ((rc = arca_be_stream_commit(p->stream, key))) {
		arca_repo_release_claims(r, p->entries, p->n);
		free(p->entries);
		return rc;
	}
	return arca_repo_pack_done(r, &p->pid, p->entries, p->n, p->packlen);
}

/* On the committer thread: the first failure is kept for the writers. */
static void commit_one(arca_repo *r, pending_pack *p)
{
	struct arca_committer *c = r->committer;
	int rc = commit_now(r, p);
	if (rc) {
		pthread_mutex_lock(&c->mu);
		if (!c->err_rc) {
			c->err_rc = rc;
			snprintf(c->err_msg, sizeof(c->err_msg), "%s", arca_error_message());
		}
		pthread_mutex_unlock(&c->mu);
		arca_error_clear();
	}
}

static void *committer_main(void *arg)
{
	arca_repo *r = arg;
	struct arca_committer *c = r->committer;
	pending_pack p;
	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (!c->count && !c->stop)
			pthread_cond_wait(&c->work, &c->mu);
		if (!c->count)
			break;
		p = c->q[c->head];
		c->head = (c->head + 1) % QUEUE_MAX;
		c->count--;
		c->busy = true;
		pthread_cond_broadcast(&c->room); /* a writer waiting for a slot goes on */
		pthread_mutex_unlock(&c->mu);
		commit_one(r, &p);
		pthread_mutex_lock(&c->mu);
		c->busy = false;
		pthread_cond_broadcast(&c->room);
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Start the thread on first use; false if it cannot run (commit inline). */
static bool committer_ready(arca_repo *r)
{
	struct arca_committer *c;
	bool ok;
	pthread_mutex_lock(&r->mu);
	if (!r->committer && (c = calloc(1, sizeof(*c)))) {
		pthread_mutex_init(&c->mu, NULL);
		pthread_cond_init(&c->work, NULL);
		pthread_cond_init(&c->room, NULL);
		r->committer = c;
		if (pthread_create(&c->thread, NULL, committer_main, r)) {
			pthread_mutex_destroy(&c->mu);
			pthread_cond_destroy(&c->work);
			pthread_cond_destroy(&c->room);
			free(c);
			r->committer = NULL; /* commit inline */
		}
	}
	ok = r->committer != NULL;
	pthread_mutex_unlock(&r->mu);
	return ok;
}

/* The first failure since the last report (recorded again as this
 * thread's error), or 0.  Caller holds c->mu. */
static int take_error_locked(struct arca_committer *c)
{
	int rc = c->err_rc;
	if (rc) {
		c->err_rc = 0;
		arca_error_set(rc, "%s", c->err_msg);
	}
	return rc;
}

int arca_committer_push(arca_repo *r, arca_be_stream *stream, const arca_id *pid, arca_blob_entry *entries,
			size_t n, uint64_t packlen)
{
	struct arca_committer *c;
	pending_pack p = { stream, *pid, entries, n, packlen };
	int rc;
	if (!committer_ready(r))
		return commit_now(r, &p);
	c = r->committer;
	pthread_mutex_lock(&c->mu);
	while (c->count == QUEUE_MAX && !c->stop)
		pthread_cond_wait(&c->room, &c->mu);
	if (c->stop) { /* closing: cannot happen while a writer works */
		pthread_mutex_unlock(&c->mu);
		return commit_now(r, &p);
	}
	c->q[(c->head + c->count) % QUEUE_MAX] = p;
	c->count++;
	pthread_cond_signal(&c->work);
	rc = take_error_locked(c);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

int arca_committer_drain(arca_repo *r)
{
	struct arca_committer *c;
	int rc;
	pthread_mutex_lock(&r->mu);
	c = r->committer;
	pthread_mutex_unlock(&r->mu);
	if (!c)
		return 0;
	pthread_mutex_lock(&c->mu);
	while (c->count || c->busy)
		pthread_cond_wait(&c->room, &c->mu);
	rc = take_error_locked(c);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

void arca_committer_free(arca_repo *r)
{
	struct arca_committer *c = r->committer;
	if (!c)
		return;
	pthread_mutex_lock(&c->mu);
	/* packs not yet committed are dropped, as a writer freed unflushed */
	while (c->count) {
		pending_pack *p = &c->q[c->head];
		arca_be_stream_abort(p->stream);
		arca_repo_release_claims(r, p->entries, p->n);
		free(p->entries);
		c->head = (c->head + 1) % QUEUE_MAX;
		c->count--;
	}
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_cond_broadcast(&c->room);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->thread, NULL);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->work);
	pthread_cond_destroy(&c->room);
	free(c);
	r->committer = NULL;
}
