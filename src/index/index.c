/*
 * index/index.c - the local blob index, an LMDB environment in a directory.
 *
 * Named databases:
 *   "blobs": key = 32-byte blob id, value = VAL_LEN bytes, little-endian:
 *            pack id (32) | offset u64 | stored_len u32 | raw_len u32 |
 *            key_id u32 | type u8 | flags u8.
 *            A blob added again (it is in two packs) takes the newer
 *            location: later index files describe the repository as it is
 *            now (repack, repair).
 *   "files": key = 32-byte id of an absorbed index file, empty value.
 *   "packs": key = 32-byte id of a pack some index file names, empty value.
 *   "meta":  "version" -> u32 INDEX_VERSION.
 * The table lives only in the memory map; nothing is copied to the heap,
 * so memory stays flat however large the index grows.  Lookups run in a
 * read-only transaction of their own (MDB_NOTLS: readers are not tied to
 * threads), so any number of threads may look up at once; a batch is one
 * write transaction and, as LMDB requires, stays on the thread that began
 * it.  Readers do not see a batch until it commits.  LMDB allows one
 * environment per directory per process, so a second open of the same
 * directory is refused.  The environment is opened with MDB_NOMETASYNC: a
 * system crash may undo the last commit (the index file it absorbed is then
 * absorbed again), never corrupt the database, and each commit costs one
 * fsync instead of two.  This is the only file that includes lmdb.h and
 * converts its errors.
 */
#include "index/index.h"
#include "arca/error.h"
#include "util/enc.h"

#include <errno.h>
#include <lmdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define INDEX_VERSION 2u /* 2: "packs" table */
#define MAP_SIZE (64ull << 30) /* address space only: the file grows as needed */
#define MAX_READERS 126
#define MAX_DBS 8
#define VAL_LEN (ARCA_ID_LEN + 8 + 4 + 4 + 4 + 1 + 1)

struct arca_index {
	MDB_env *env;
	MDB_dbi blobs, files, packs, meta;
	char *dir;
	dev_t dev;
	ino_t ino;
	arca_index *next_open; /* in open_list */
};

struct arca_index_batch {
	arca_index *ix;
	MDB_txn *txn;
};

/* Environments open in this process, by directory identity. */
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static arca_index *open_list;

/* Convert an LMDB (or errno) failure once, here. */
static int mdb_fail(const arca_index *ix, int mrc, const char *what)
{
	int code;

	switch (mrc) {
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		code = ARCA_NOSPACE;
		break;
	case ENOMEM:
		code = ARCA_NOMEM;
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_BAD_VALSIZE:
		code = ARCA_CORRUPT;
		break;
	case MDB_READERS_FULL:
	case EAGAIN:
		code = ARCA_TRANSIENT;
		break;
	case EACCES:
	case EPERM:
		code = ARCA_AUTH;
		break;
	default:
		code = ARCA_ERROR;
		break;
	}
	arca_error_set(code, "index %s: %s: %s", ix->dir, what, mdb_strerror(mrc));
	if (code == ARCA_CORRUPT)
		arca_error_hint(code, "the index is a cache: remove %s and it is rebuilt from the repository",
				ix->dir);
	else if (code == ARCA_NOSPACE)
		arca_error_hint(code, "free some space where %s lives", ix->dir);
	return code;
}

static void hex_short(char *out, const uint8_t *id)
{
	static const char hx[] = "0123456789abcdef";
	for (int i = 0; i < 8; i++) {
		out[2 * i] = hx[id[i] >> 4];
		out[2 * i + 1] = hx[id[i] & 15];
	}
	out[16] = '\0';
}

static void loc_encode(uint8_t *v, const arca_id *pack, const arca_blob_entry *e)
{
	uint8_t *p = v;
	memcpy(p, pack->b, ARCA_ID_LEN);
	p += ARCA_ID_LEN;
	arca_put_le64(p, e->offset);
	p += 8;
	arca_put_le32(p, e->stored_len);
	p += 4;
	arca_put_le32(p, e->raw_len);
	p += 4;
	arca_put_le32(p, e->key_id);
	p += 4;
	*p++ = e->type;
	*p++ = e->flags;
}

static int loc_decode(const arca_index *ix, const MDB_val *k, const MDB_val *v,
		      arca_index_loc *loc)
{
	const uint8_t *p = v->mv_data;
	char hex[17];

	if (k->mv_size != ARCA_ID_LEN || v->mv_size != VAL_LEN) {
		hex_short(hex, k->mv_size >= 8 ? k->mv_data : (const uint8_t *)"\0\0\0\0\0\0\0\0");
		arca_error_set(ARCA_CORRUPT, "index %s: entry %s... has a %zu-byte key and %zu-byte value",
			       ix->dir, hex, k->mv_size, v->mv_size);
		return arca_error_hint(ARCA_CORRUPT,
				       "the index is a cache: remove %s and it is rebuilt from the repository",
				       ix->dir);
	}
	memcpy(loc->pack.b, p, ARCA_ID_LEN);
	p += ARCA_ID_LEN;
	loc->offset = arca_get_le64(p);
	p += 8;
	loc->stored_len = arca_get_le32(p);
	p += 4;
	loc->raw_len = arca_get_le32(p);
	p += 4;
	loc->key_id = arca_get_le32(p);
	p += 4;
	loc->type = p[0];
	loc->flags = p[1];
	return 0;
}

static int mkdir_p(const char *dir)
{
	char *d = strdup(dir), *p;
	int rc = 0;

	if (!d)
		return arca_error_set(ARCA_NOMEM, "out of memory creating %s", dir);
	for (p = d + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(d, 0700) != 0 && errno != EEXIST) {
			rc = arca_error_errno(errno, "cannot create index directory %s", d);
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(d);
	return rc;
}

static int index_setup(arca_index *ix)
{
	MDB_txn *txn = NULL;
	MDB_val k = { 7, (void *)"version" }, v;
	uint8_t ver[4];
	int mrc, rc = 0, dead;

	if ((mrc = mdb_env_create(&ix->env)))
		return mdb_fail(ix, mrc, "cannot create environment");
	if ((mrc = mdb_env_set_mapsize(ix->env, MAP_SIZE)) ||
	    (mrc = mdb_env_set_maxreaders(ix->env, MAX_READERS)) ||
	    (mrc = mdb_env_set_maxdbs(ix->env, MAX_DBS)))
		return mdb_fail(ix, mrc, "cannot configure environment");
	if ((mrc = mdb_env_open(ix->env, ix->dir, MDB_NOTLS | MDB_NOMETASYNC, 0600)))
		return mdb_fail(ix, mrc, "cannot open");
	/* Free reader slots of processes that died mid-transaction. */
	mdb_reader_check(ix->env, &dead);

	if ((mrc = mdb_txn_begin(ix->env, NULL, 0, &txn)))
		return mdb_fail(ix, mrc, "cannot begin transaction");
	if ((mrc = mdb_dbi_open(txn, "blobs", MDB_CREATE, &ix->blobs)) ||
	    (mrc = mdb_dbi_open(txn, "files", MDB_CREATE, &ix->files)) ||
	    (mrc = mdb_dbi_open(txn, "packs", MDB_CREATE, &ix->packs)) ||
	    (mrc = mdb_dbi_open(txn, "meta", MDB_CREATE, &ix->meta))) {
		rc = mdb_fail(ix, mrc, "cannot open tables");
		goto out;
	}
	mrc = mdb_get(txn, ix->meta, &k, &v);
	if (mrc && mrc != MDB_NOTFOUND) {
		rc = mdb_fail(ix, mrc, "cannot read version");
		goto out;
	}
	if (mrc == MDB_NOTFOUND || v.mv_size != 4 || arca_get_le32(v.mv_data) != INDEX_VERSION) {
		/* a cache of another layout: start empty, the repo absorbs again */
		if ((mrc = mdb_drop(txn, ix->blobs, 0)) || (mrc = mdb_drop(txn, ix->files, 0)) ||
		    (mrc = mdb_drop(txn, ix->packs, 0))) {
			rc = mdb_fail(ix, mrc, "cannot reset the index cache");
			goto out;
		}
		arca_put_le32(ver, INDEX_VERSION);
		v.mv_size = 4;
		v.mv_data = ver;
		if ((mrc = mdb_put(txn, ix->meta, &k, &v, 0))) {
			rc = mdb_fail(ix, mrc, "cannot write version");
			goto out;
		}
	}
	mrc = mdb_txn_commit(txn);
	txn = NULL;
	if (mrc)
		rc = mdb_fail(ix, mrc, "cannot commit");
out:
	if (txn)
		mdb_txn_abort(txn);
	return rc;
}

int arca_index_open(arca_index **out, const char *dir)
{
	arca_index *ix = NULL, *o;
	struct stat st;
	int rc;

	*out = NULL;
	if (!dir || !*dir)
		return arca_error_set(ARCA_INVAL, "no index directory given");
	if ((rc = mkdir_p(dir)))
		return rc;
	if (stat(dir, &st) != 0)
		return arca_error_errno(errno, "cannot stat index directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		return arca_error_set(ARCA_INVAL, "index path %s is not a directory", dir);
	if (!(ix = calloc(1, sizeof(*ix))) || !(ix->dir = strdup(dir))) {
		free(ix);
		return arca_error_set(ARCA_NOMEM, "out of memory opening index %s", dir);
	}
	ix->dev = st.st_dev;
	ix->ino = st.st_ino;

	pthread_mutex_lock(&open_mu);
	for (o = open_list; o; o = o->next_open)
		if (o->dev == ix->dev && o->ino == ix->ino)
			break;
	if (o) {
		pthread_mutex_unlock(&open_mu);
		rc = arca_error_set(ARCA_INVAL, "index %s is already open in this process", dir);
		free(ix->dir);
		free(ix);
		return rc;
	}
	ix->next_open = open_list;
	open_list = ix;
	pthread_mutex_unlock(&open_mu);

	if ((rc = index_setup(ix))) {
		arca_index_close(ix);
		return rc;
	}
	*out = ix;
	return 0;
}

void arca_index_close(arca_index *ix)
{
	arca_index **pp;

	if (!ix)
		return;
	pthread_mutex_lock(&open_mu);
	for (pp = &open_list; *pp; pp = &(*pp)->next_open) {
		if (*pp == ix) {
			*pp = ix->next_open;
			break;
		}
	}
	pthread_mutex_unlock(&open_mu);
	if (ix->env)
		mdb_env_close(ix->env);
	free(ix->dir);
	free(ix);
}

/* ---- reads ---- */

static int read_begin(arca_index *ix, MDB_txn **txn)
{
	int mrc = mdb_txn_begin(ix->env, NULL, MDB_RDONLY, txn);
	if (mrc) {
		*txn = NULL;
		return mdb_fail(ix, mrc, "cannot begin read transaction");
	}
	return 0;
}

int arca_index_lookup(arca_index *ix, const arca_id *blob, arca_index_loc *out)
{
	MDB_txn *txn;
	MDB_val k = { ARCA_ID_LEN, (void *)blob->b }, v;
	char hex[17];
	int mrc, rc;

	memset(out, 0, sizeof(*out));
	if ((rc = read_begin(ix, &txn)))
		return rc;
	mrc = mdb_get(txn, ix->blobs, &k, &v);
	if (mrc == MDB_NOTFOUND) {
		hex_short(hex, blob->b);
		rc = arca_error_set(ARCA_NOTFOUND, "blob %s... is not in the index", hex);
	} else if (mrc) {
		rc = mdb_fail(ix, mrc, "cannot look up a blob");
	} else {
		rc = loc_decode(ix, &k, &v, out);
	}
	mdb_txn_abort(txn);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

bool arca_index_has(arca_index *ix, const arca_id *blob)
{
	MDB_txn *txn;
	MDB_val k = { ARCA_ID_LEN, (void *)blob->b }, v;
	bool found;

	if (read_begin(ix, &txn))
		return false;
	found = mdb_get(txn, ix->blobs, &k, &v) == 0;
	mdb_txn_abort(txn);
	return found;
}

bool arca_index_has_pack(arca_index *ix, const arca_id *pack)
{
	MDB_txn *txn;
	MDB_val k = { ARCA_ID_LEN, (void *)pack->b }, v;
	bool found;

	if (read_begin(ix, &txn))
		return false;
	found = mdb_get(txn, ix->packs, &k, &v) == 0;
	mdb_txn_abort(txn);
	return found;
}

bool arca_index_has_file(arca_index *ix, const arca_id *file)
{
	MDB_txn *txn;
	MDB_val k = { ARCA_ID_LEN, (void *)file->b }, v;
	bool found;

	if (read_begin(ix, &txn))
		return false;
	found = mdb_get(txn, ix->files, &k, &v) == 0;
	mdb_txn_abort(txn);
	return found;
}

/* Enumerate the 32-byte keys of one of the id tables ("files", "packs"). */
static int foreach_id(arca_index *ix, MDB_dbi dbi, const char *what, int (*cb)(const arca_id *id, void *payload),
		      void *payload)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	arca_id id;
	int mrc, rc;

	if ((rc = read_begin(ix, &txn)))
		return rc;
	if ((mrc = mdb_cursor_open(txn, dbi, &cur))) {
		rc = mdb_fail(ix, mrc, "cannot open cursor");
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if (k.mv_size != ARCA_ID_LEN) {
			rc = arca_error_set(ARCA_CORRUPT, "index %s: %s entry with a %zu-byte key", ix->dir, what,
					    k.mv_size);
			goto out;
		}
		memcpy(id.b, k.mv_data, ARCA_ID_LEN);
		if ((rc = cb(&id, payload)))
			goto out;
	}
	if (mrc != MDB_NOTFOUND)
		rc = mdb_fail(ix, mrc, "cannot read the index");
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int arca_index_foreach_file(arca_index *ix, int (*cb)(const arca_id *file, void *payload),
			    void *payload)
{
	return foreach_id(ix, ix->files, "index file", cb, payload);
}

int arca_index_foreach_pack(arca_index *ix, int (*cb)(const arca_id *pack, void *payload), void *payload)
{
	return foreach_id(ix, ix->packs, "pack", cb, payload);
}

int arca_index_foreach_blob(arca_index *ix,
			    int (*cb)(const arca_id *blob, const arca_index_loc *loc, void *payload),
			    void *payload)
{
	MDB_txn *txn;
	MDB_cursor *cur = NULL;
	MDB_val k, v;
	arca_index_loc loc;
	arca_id id;
	int mrc, rc;

	if ((rc = read_begin(ix, &txn)))
		return rc;
	if ((mrc = mdb_cursor_open(txn, ix->blobs, &cur))) {
		rc = mdb_fail(ix, mrc, "cannot open cursor");
		goto out;
	}
	for (mrc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); mrc == 0;
	     mrc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		if ((rc = loc_decode(ix, &k, &v, &loc)))
			goto out;
		memcpy(id.b, k.mv_data, ARCA_ID_LEN);
		if ((rc = cb(&id, &loc, payload)))
			goto out;
	}
	if (mrc != MDB_NOTFOUND)
		rc = mdb_fail(ix, mrc, "cannot read blobs");
out:
	if (cur)
		mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	return rc;
}

int arca_index_count(arca_index *ix, uint64_t *blobs, uint64_t *files)
{
	MDB_txn *txn;
	MDB_stat sb, sf;
	int mrc, rc;

	if (blobs)
		*blobs = 0;
	if (files)
		*files = 0;
	if ((rc = read_begin(ix, &txn)))
		return rc;
	if ((mrc = mdb_stat(txn, ix->blobs, &sb)) || (mrc = mdb_stat(txn, ix->files, &sf)))
		rc = mdb_fail(ix, mrc, "cannot count entries");
	mdb_txn_abort(txn);
	if (rc)
		return rc;
	if (blobs)
		*blobs = sb.ms_entries;
	if (files)
		*files = sf.ms_entries;
	return 0;
}

/* ---- writes ---- */

int arca_index_batch_begin(arca_index *ix, arca_index_batch **out)
{
	arca_index_batch *b;
	int mrc;

	*out = NULL;
	if (!(b = calloc(1, sizeof(*b))))
		return arca_error_set(ARCA_NOMEM, "out of memory beginning an index batch");
	b->ix = ix;
	if ((mrc = mdb_txn_begin(ix->env, NULL, 0, &b->txn))) {
		free(b);
		return mdb_fail(ix, mrc, "cannot begin write transaction");
	}
	*out = b;
	return 0;
}

int arca_index_batch_add_pack(arca_index_batch *b, const arca_id *pack,
			      const arca_blob_entry *entries, size_t n)
{
	uint8_t val[VAL_LEN];
	int mrc;

	for (size_t i = 0; i < n; i++) {
		MDB_val k = { ARCA_ID_LEN, (void *)entries[i].id.b }, v = { VAL_LEN, val };
		loc_encode(val, pack, &entries[i]);
		if ((mrc = mdb_put(b->txn, b->ix->blobs, &k, &v, 0)))
			return mdb_fail(b->ix, mrc, "cannot add a blob");
	}
	{
		MDB_val k = { ARCA_ID_LEN, (void *)pack->b }, v = { 0, NULL };
		if ((mrc = mdb_put(b->txn, b->ix->packs, &k, &v, 0)))
			return mdb_fail(b->ix, mrc, "cannot add a pack");
	}
	return 0;
}

int arca_index_batch_mark_file(arca_index_batch *b, const arca_id *file)
{
	MDB_val k = { ARCA_ID_LEN, (void *)file->b }, v = { 0, NULL };
	int mrc = mdb_put(b->txn, b->ix->files, &k, &v, 0);
	return mrc ? mdb_fail(b->ix, mrc, "cannot mark an index file") : 0;
}

int arca_index_batch_commit(arca_index_batch *b)
{
	int mrc = mdb_txn_commit(b->txn); /* frees the txn, also on failure */
	int rc = mrc ? mdb_fail(b->ix, mrc, "cannot commit") : 0;
	free(b);
	return rc;
}

void arca_index_batch_abort(arca_index_batch *b)
{
	if (!b)
		return;
	mdb_txn_abort(b->txn);
	free(b);
}

int arca_index_clear(arca_index *ix)
{
	MDB_txn *txn;
	int mrc;

	if ((mrc = mdb_txn_begin(ix->env, NULL, 0, &txn)))
		return mdb_fail(ix, mrc, "cannot begin write transaction");
	if ((mrc = mdb_drop(txn, ix->blobs, 0)) || (mrc = mdb_drop(txn, ix->files, 0)) ||
	    (mrc = mdb_drop(txn, ix->packs, 0))) {
		mdb_txn_abort(txn);
		return mdb_fail(ix, mrc, "cannot clear");
	}
	if ((mrc = mdb_txn_commit(txn)))
		return mdb_fail(ix, mrc, "cannot commit");
	return 0;
}
