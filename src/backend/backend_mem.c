/*
 * backend/backend_mem.c - a repository in process memory, for tests.
 *
 * A chained hash table of key -> bytes behind one mutex, with the same
 * semantics as the local driver: whole-object atomic puts, NOREPLACE
 * refusing an existing key, ranged gets that report a short object as
 * ARCA_CORRUPT, string-prefix listing.  list() copies the matching keys
 * out under the lock and calls back without it, so a callback may use the
 * backend (remove what it is shown, for instance).  Everything is lost
 * when the backend is freed.
 */
#include "backend/backend.h"
#include "arca/error.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_obj {
	struct mem_obj *next;
	char *key;
	uint8_t *data;
	size_t len;
} mem_obj;

typedef struct mem_be {
	arca_backend base; /* first */
	pthread_mutex_t mu; /* guards everything below */
	mem_obj **slots;
	size_t nslots, count;
} mem_be;

static mem_be *M(arca_backend *be) { return (mem_be *)be; }

static size_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	while (*s)
		h = (h ^ (uint8_t)*s++) * 1099511628211ull;
	return (size_t)h;
}

static mem_obj **find_locked(mem_be *mb, const char *key)
{
	mem_obj **pp = &mb->slots[hash_key(key) & (mb->nslots - 1)];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void grow_locked(mem_be *mb)
{
	size_t n = mb->nslots * 2, i;
	mem_obj **ns = calloc(n, sizeof(*ns));
	if (!ns)
		return; /* chains just get longer */
	for (i = 0; i < mb->nslots; i++) {
		mem_obj *o = mb->slots[i], *next;
		for (; o; o = next) {
			size_t h = hash_key(o->key) & (n - 1);
			next = o->next;
			o->next = ns[h];
			ns[h] = o;
		}
	}
	free(mb->slots);
	mb->slots = ns;
	mb->nslots = n;
}

static int mem_get(arca_backend *be, const char *key, uint64_t off, uint64_t len, arca_buf *out)
{
	mem_be *mb = M(be);
	mem_obj *o;
	int rc = 0;

	pthread_mutex_lock(&mb->mu);
	o = *find_locked(mb, key);
	if (!o) {
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
		goto out;
	}
	if (off > o->len || (len != ARCA_GET_ALL && len > o->len - off)) {
		rc = arca_error_set(ARCA_CORRUPT,
				    "truncated object: %zu bytes, wanted %llu bytes at offset %llu",
				    o->len, (unsigned long long)len, (unsigned long long)off);
		goto out;
	}
	rc = arca_buf_put(out, o->data + off, len == ARCA_GET_ALL ? o->len - off : (size_t)len);
out:
	pthread_mutex_unlock(&mb->mu);
	return rc;
}

static int mem_put(arca_backend *be, const char *key, const void *data, size_t len,
		   unsigned flags)
{
	mem_be *mb = M(be);
	mem_obj **pp, *o = NULL;
	uint8_t *copy;
	int rc = 0;

	/* malloc(0) may return NULL; keep one byte so NULL means failure */
	if (!(copy = malloc(len ? len : 1)))
		return arca_error_set(ARCA_NOMEM, "out of memory storing %zu bytes", len);
	if (len)
		memcpy(copy, data, len);
	pthread_mutex_lock(&mb->mu);
	pp = find_locked(mb, key);
	if (*pp) {
		if (flags & ARCA_PUT_NOREPLACE) {
			rc = arca_error_set(ARCA_EXISTS, "object already exists");
			goto out;
		}
		free((*pp)->data);
		(*pp)->data = copy;
		(*pp)->len = len;
		copy = NULL;
		goto out;
	}
	if (!(o = calloc(1, sizeof(*o))) || !(o->key = strdup(key))) {
		free(o);
		rc = arca_error_set(ARCA_NOMEM, "out of memory storing an object");
		goto out;
	}
	o->data = copy;
	o->len = len;
	copy = NULL;
	o->next = *pp;
	*pp = o;
	if (++mb->count > mb->nslots)
		grow_locked(mb);
out:
	pthread_mutex_unlock(&mb->mu);
	free(copy);
	return rc;
}

static int mem_stat(arca_backend *be, const char *key, uint64_t *size)
{
	mem_be *mb = M(be);
	mem_obj *o;
	int rc = 0;

	pthread_mutex_lock(&mb->mu);
	o = *find_locked(mb, key);
	if (o)
		*size = o->len;
	else
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
	pthread_mutex_unlock(&mb->mu);
	return rc;
}

typedef struct list_item {
	char *key;
	uint64_t size;
} list_item;

static int mem_list(arca_backend *be, const char *prefix, arca_backend_list_cb cb, void *payload)
{
	mem_be *mb = M(be);
	list_item *items = NULL;
	size_t n = 0, i, plen = strlen(prefix);
	int rc = 0;

	pthread_mutex_lock(&mb->mu);
	if (mb->count && !(items = calloc(mb->count, sizeof(*items)))) {
		pthread_mutex_unlock(&mb->mu);
		return arca_error_set(ARCA_NOMEM, "out of memory listing objects");
	}
	for (i = 0; i < mb->nslots && !rc; i++) {
		for (mem_obj *o = mb->slots[i]; o; o = o->next) {
			if (strncmp(o->key, prefix, plen) != 0)
				continue;
			if (!(items[n].key = strdup(o->key))) {
				rc = arca_error_set(ARCA_NOMEM, "out of memory listing objects");
				break;
			}
			items[n++].size = o->len;
		}
	}
	pthread_mutex_unlock(&mb->mu);
	for (i = 0; i < n && !rc; i++)
		rc = cb(items[i].key, items[i].size, payload);
	for (i = 0; i < n; i++)
		free(items[i].key);
	free(items);
	return rc;
}

static int mem_remove(arca_backend *be, const char *key)
{
	mem_be *mb = M(be);
	mem_obj **pp, *o;
	int rc = 0;

	pthread_mutex_lock(&mb->mu);
	pp = find_locked(mb, key);
	if ((o = *pp)) {
		*pp = o->next;
		mb->count--;
		free(o->key);
		free(o->data);
		free(o);
	} else {
		rc = arca_error_set(ARCA_NOTFOUND, "object not found");
	}
	pthread_mutex_unlock(&mb->mu);
	return rc;
}

static const char *mem_location(arca_backend *be) { return "mem:"; }

static void mem_free(arca_backend *be)
{
	mem_be *mb = M(be);
	if (!be)
		return;
	for (size_t i = 0; i < mb->nslots; i++) {
		mem_obj *o = mb->slots[i], *next;
		for (; o; o = next) {
			next = o->next;
			free(o->key);
			free(o->data);
			free(o);
		}
	}
	free(mb->slots);
	pthread_mutex_destroy(&mb->mu);
	free(mb);
}

int arca_backend_mem_new(arca_backend **out)
{
	mem_be *mb;

	*out = NULL;
	if (!(mb = calloc(1, sizeof(*mb))))
		return arca_error_set(ARCA_NOMEM, "out of memory creating a memory backend");
	mb->nslots = 64;
	if (!(mb->slots = calloc(mb->nslots, sizeof(*mb->slots)))) {
		free(mb);
		return arca_error_set(ARCA_NOMEM, "out of memory creating a memory backend");
	}
	pthread_mutex_init(&mb->mu, NULL);
	mb->base.version = ARCA_BACKEND_VERSION;
	mb->base.name = "mem";
	mb->base.caps = ARCA_BACKEND_CAP_RANGE | ARCA_BACKEND_CAP_NOREPLACE;
	mb->base.get = mem_get;
	mb->base.put = mem_put;
	mb->base.stat = mem_stat;
	mb->base.list = mem_list;
	mb->base.remove = mem_remove;
	mb->base.location = mem_location;
	mb->base.free = mem_free;
	*out = &mb->base;
	return 0;
}
