/*
 * backend/backend_many.c - fetch many small objects with several requests
 * in flight (arca_be_get_many, see backend.h).
 *
 * A cold cache on a bare machine must read every index file and every
 * snapshot manifest before a restore can start: hundreds of objects of a
 * few KiB, where a cloud store's time to first byte (20-50 ms) and not its
 * bandwidth sets the pace.  Fetcher threads take the next key in order,
 * each through arca_be_get (so retries, counters and messages are the
 * usual ones), into a ring of `window` slots; the caller's thread hands
 * the objects to the callback in key order, so the callback needs no
 * locking and its results do not depend on timing.  A fetcher may run
 * ahead of the caller by at most the window, which bounds memory.
 */
#include "backend/backend.h"
#include "arca/error.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MANY_THREADS_MAX 16
#define MSG_MAX 1024

typedef struct slot {
	arca_buf data;
	int rc;
	bool done;
	char msg[MSG_MAX];  /* the fetcher's error, rc != 0 */
	char hint[MSG_MAX];
} slot;

typedef struct many {
	arca_backend *be;
	const char *const *keys;
	size_t n, window;
	slot *slots;
	pthread_mutex_t mu;
	pthread_cond_t ready; /* a slot became done */
	pthread_cond_t room;  /* the caller consumed a slot, or stop */
	size_t next_fetch;    /* next key a fetcher takes */
	size_t next_deliver;  /* next key the caller hands on */
	bool stop;
} many;

static void fetch_into(many *m, size_t i, slot *s)
{
	arca_buf_clear(&s->data);
	s->rc = arca_be_get(m->be, m->keys[i], &s->data);
	if (s->rc) {
		snprintf(s->msg, sizeof(s->msg), "%s", arca_error_message());
		snprintf(s->hint, sizeof(s->hint), "%s", arca_error_hint_text());
	}
}

static void *fetcher(void *arg)
{
	many *m = arg;
	size_t i;
	slot *s;
	pthread_mutex_lock(&m->mu);
	for (;;) {
		while (!m->stop && m->next_fetch < m->n && m->next_fetch >= m->next_deliver + m->window)
			pthread_cond_wait(&m->room, &m->mu);
		if (m->stop || m->next_fetch >= m->n)
			break;
		i = m->next_fetch++;
		s = &m->slots[i % m->window];
		pthread_mutex_unlock(&m->mu);
		fetch_into(m, i, s);
		pthread_mutex_lock(&m->mu);
		s->done = true;
		pthread_cond_broadcast(&m->ready);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* Hand slot s (key i) to the callback with the fetcher's error restored
 * on this thread. */
static int deliver(size_t i, slot *s, arca_be_got_fn got, void *payload)
{
	if (s->rc) {
		arca_error_set(s->rc, "%s", s->msg);
		if (s->hint[0])
			arca_error_hint(s->rc, "%s", s->hint);
	}
	return got(i, s->rc, &s->data, payload);
}

int arca_be_get_many(arca_backend *be, const char *const *keys, size_t n, unsigned conns, arca_be_got_fn got,
		     void *payload)
{
	pthread_t tid[MANY_THREADS_MAX];
	size_t nthreads = 0, i, want;
	many m;
	slot *s;
	int rc = 0;
	if (n == 0)
		return 0;
	memset(&m, 0, sizeof(m));
	m.be = be;
	m.keys = keys;
	want = conns < 1 ? 1 : conns > MANY_THREADS_MAX ? MANY_THREADS_MAX : conns;
	if (want > n)
		want = n;
	if ((be->caps & ARCA_BACKEND_CAP_LOCAL) || want < 2) {
		/* one at a time: a local read costs less than a thread */
		slot one;
		memset(&one, 0, sizeof(one));
		for (i = 0; i < n && !rc; i++) {
			fetch_into(&m, i, &one);
			rc = deliver(i, &one, got, payload);
		}
		arca_buf_free(&one.data);
		return rc;
	}
	m.n = n;
	m.window = 2 * want;
	if (!(m.slots = calloc(m.window, sizeof(*m.slots))))
		return arca_error_set(ARCA_NOMEM, "out of memory fetching %zu objects", n);
	pthread_mutex_init(&m.mu, NULL);
	pthread_cond_init(&m.ready, NULL);
	pthread_cond_init(&m.room, NULL);
	while (nthreads < want && pthread_create(&tid[nthreads], NULL, fetcher, &m) == 0)
		nthreads++;
	for (i = 0; i < n && !rc; i++) {
		s = &m.slots[i % m.window];
		pthread_mutex_lock(&m.mu);
		if (nthreads == 0 && m.next_fetch == i) {
			/* no thread could be started: fetch it here */
			m.next_fetch++;
			pthread_mutex_unlock(&m.mu);
			fetch_into(&m, i, s);
			pthread_mutex_lock(&m.mu);
			s->done = true;
		}
		while (!s->done)
			pthread_cond_wait(&m.ready, &m.mu);
		pthread_mutex_unlock(&m.mu);
		rc = deliver(i, s, got, payload);
		pthread_mutex_lock(&m.mu);
		s->done = false;
		m.next_deliver++;
		if (rc)
			m.stop = true;
		pthread_cond_broadcast(&m.room);
		pthread_mutex_unlock(&m.mu);
	}
	pthread_mutex_lock(&m.mu);
	m.stop = true;
	pthread_cond_broadcast(&m.room);
	pthread_mutex_unlock(&m.mu);
	for (i = 0; i < nthreads; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < m.window; i++)
		arca_buf_free(&m.slots[i].data);
	free(m.slots);
	pthread_cond_destroy(&m.room);
	pthread_cond_destroy(&m.ready);
	pthread_mutex_destroy(&m.mu);
	return rc;
}
