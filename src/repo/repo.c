/*
 * repo/repo.c - creating and opening a repository: the config object, key
 * files (random keys wrapped by Argon2id of a password), the local cache
 * directory.  Layouts are in docs/FORMAT.md.
 *
 * Invariants: keys live only in guarded memory (arca_secure_alloc) and are
 * wiped on close; a key file also commits to the config's SHA-256, so a
 * swapped config (say, a downgrade to cipher none) is refused.
 */
#include "repo/repo_internal.h"
#include "util/buf.h"
#include "util/enc.h"
#include "util/timefmt.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC "ARCAKEY\0"
#define KEY_VERSION 1
#define KEY_AD "arca-key-v1"
#define KEY_PLAIN_LEN (1 + 32 * 4)

void arca_repo_warn(arca_repo *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->warn)
		r->warn(msg, r->warn_payload);
}

/* ---- config ---- */

static void config_encode(uint8_t out[ARCA_CONFIG_LEN], const arca_id *id, const arca_repo_init_opts *o,
			  const uint8_t seed[32])
{
	arca_id sum;
	memset(out, 0, ARCA_CONFIG_LEN);
	memcpy(out, "ARCACONF", 8);
	arca_put_le32(out + 8, ARCA_REPO_FORMAT_VERSION);
	memcpy(out + 12, id->b, 32);
	out[44] = (uint8_t)o->cipher;
	out[45] = (uint8_t)o->compress_algo;
	out[46] = (uint8_t)o->compress_level;
	out[47] = o->cipher != ARCA_CIPHER_NONE ? 1 : 0; /* flags: bit0 keyed ids */
	arca_put_le32(out + 48, o->chunker.min);
	arca_put_le32(out + 52, o->chunker.avg);
	arca_put_le32(out + 56, o->chunker.max);
	arca_put_le32(out + 60, o->pack_size);
	if (seed)
		memcpy(out + 64, seed, 32);
	arca_sha256(&sum, out, 96);
	memcpy(out + 96, sum.b, 32);
}

int arca_repo_config_decode(arca_repo *r, const uint8_t *raw, size_t n)
{
	arca_id sum;
	uint32_t ver;
	if (n < 12 || memcmp(raw, "ARCACONF", 8))
		return arca_error_set(ARCA_CORRUPT, "config: not an arca repository config (bad magic)");
	ver = arca_get_le32(raw + 8);
	if (ver > ARCA_REPO_FORMAT_VERSION || ver == 0)
		return arca_error_hint(arca_error_set(ARCA_CORRUPT,
			"config: repository format version %u is not supported by this arca (max %u)",
			ver, ARCA_REPO_FORMAT_VERSION), "upgrade arca to open this repository");
	if (n != ARCA_CONFIG_LEN)
		return arca_error_set(ARCA_CORRUPT, "config: wrong size %zu (expected %d): the file is truncated or damaged",
				      n, ARCA_CONFIG_LEN);
	arca_sha256(&sum, raw, 96);
	if (memcmp(sum.b, raw + 96, 32))
		return arca_error_set(ARCA_CORRUPT, "config: checksum mismatch: the file is damaged");
	memcpy(r->config_raw, raw, ARCA_CONFIG_LEN);
	memcpy(r->id.b, raw + 12, 32);
	r->cipher = arca_cipher_by_id(raw[44]);
	if (!r->cipher)
		return arca_error_set(ARCA_CORRUPT, "config: unknown cipher id %u", raw[44]);
	r->compress_algo = raw[45];
	r->compress_level = (int8_t)raw[46];
	if (r->compress_algo != ARCA_COMPRESS_NONE && r->compress_algo != ARCA_COMPRESS_ZSTD)
		return arca_error_set(ARCA_CORRUPT, "config: unknown compression id %u", raw[45]);
	if ((raw[47] & 1) != (r->cipher->id != ARCA_CIPHER_NONE))
		return arca_error_set(ARCA_CORRUPT, "config: keyed-id flag does not match the cipher");
	r->chunker.min = arca_get_le32(raw + 48);
	r->chunker.avg = arca_get_le32(raw + 52);
	r->chunker.max = arca_get_le32(raw + 56);
	r->pack_size = arca_get_le32(raw + 60);
	if (arca_chunker_params_check(&r->chunker))
		return arca_error_prefix(ARCA_CORRUPT, "config");
	if (r->pack_size < 4096 || r->pack_size > 1024u * 1024 * 1024)
		return arca_error_set(ARCA_CORRUPT, "config: bad pack size %u", r->pack_size);
	return 0;
}

/* ---- key files ---- */

static void whoami(char *host, size_t hn, char *user, size_t un)
{
	struct passwd *pw = getpwuid(getuid());
	if (gethostname(host, hn))
		snprintf(host, hn, "unknown");
	host[hn - 1] = '\0';
	snprintf(user, un, "%s", pw ? pw->pw_name : "unknown");
}

static int key_write(arca_repo *r, const char *password, uint32_t t, uint32_t m, arca_id *out_id)
{
	uint8_t salt[ARCA_SALT_LEN];
	uint8_t *kek = NULL, *plain = NULL;
	uint8_t ad[sizeof(KEY_AD) - 1 + 32];
	arca_buf file = ARCA_BUF_INIT, sealed = ARCA_BUF_INIT;
	const arca_cipher *wrap = arca_cipher_by_id(ARCA_CIPHER_XCHACHA20_POLY1305);
	char host[128], user[64], key[80], hex[65];
	arca_id cfgsum, fid;
	int rc;

	kek = arca_secure_alloc(ARCA_KEY_LEN);
	plain = arca_secure_alloc(KEY_PLAIN_LEN);
	if (!kek || !plain) {
		rc = arca_error_set(ARCA_NOMEM, "cannot allocate secure memory for keys");
		goto out;
	}
	if ((rc = arca_random(salt, sizeof(salt))))
		goto out;
	if ((rc = arca_argon2id(kek, ARCA_KEY_LEN, password, strlen(password), salt, t, m)))
		goto out;
	arca_sha256(&cfgsum, r->config_raw, ARCA_CONFIG_LEN);
	plain[0] = 1;
	memcpy(plain + 1, r->keys->data_key, 32);
	memcpy(plain + 33, r->keys->id_key, 32);
	memcpy(plain + 65, r->keys->chunker_seed, 32);
	memcpy(plain + 97, cfgsum.b, 32);
	memcpy(ad, KEY_AD, sizeof(KEY_AD) - 1);
	memcpy(ad + sizeof(KEY_AD) - 1, r->id.b, 32);
	if ((rc = arca_seal(wrap, kek, &sealed, plain, KEY_PLAIN_LEN, ad, sizeof(ad))))
		goto out;
	whoami(host, sizeof(host), user, sizeof(user));
	if ((rc = arca_buf_put(&file, KEY_MAGIC, 8)) || (rc = arca_enc_u32(&file, KEY_VERSION)) ||
	    (rc = arca_enc_u8(&file, 1)) || (rc = arca_enc_u32(&file, t)) || (rc = arca_enc_u32(&file, m)) ||
	    (rc = arca_buf_put(&file, salt, sizeof(salt))) ||
	    (rc = arca_enc_u64(&file, (uint64_t)arca_time_now_ns())) || (rc = arca_enc_str(&file, host)) ||
	    (rc = arca_enc_str(&file, user)) || (rc = arca_enc_bytes(&file, sealed.data, sealed.len)))
		goto out;
	arca_sha256(&fid, file.data, file.len);
	arca_id_hex(hex, &fid);
	snprintf(key, sizeof(key), "keys/%s", hex);
	if ((rc = arca_be_put(r->be, key, file.data, file.len, ARCA_PUT_NOREPLACE)))
		goto out;
	if (out_id)
		*out_id = fid;
out:
	arca_secure_free(kek);
	arca_secure_free(plain);
	arca_buf_free(&file);
	arca_buf_free(&sealed);
	return rc;
}

typedef struct key_file {
	uint32_t t, m;
	uint8_t salt[ARCA_SALT_LEN];
	int64_t created;
	char *host, *user;
	const uint8_t *sealed;
	size_t sealed_len;
} key_file;

static void key_file_clear(key_file *k)
{
	free(k->host);
	free(k->user);
	memset(k, 0, sizeof(*k));
}

static int key_parse(key_file *k, const char *name, const uint8_t *p, size_t n)
{
	arca_dec d;
	const uint8_t *magic, *salt;
	uint32_t ver;
	memset(k, 0, sizeof(*k));
	arca_dec_init(&d, p, n);
	magic = arca_dec_raw(&d, 8);
	if (!magic || memcmp(magic, KEY_MAGIC, 8))
		return arca_error_set(ARCA_CORRUPT, "key file %s: bad magic (damaged or not a key)", name);
	ver = arca_dec_u32(&d);
	if (ver != KEY_VERSION)
		return arca_error_set(ARCA_CORRUPT, "key file %s: unsupported version %u", name, ver);
	if (arca_dec_u8(&d) != 1)
		return arca_error_set(ARCA_CORRUPT, "key file %s: unknown KDF", name);
	k->t = arca_dec_u32(&d);
	k->m = arca_dec_u32(&d);
	salt = arca_dec_raw(&d, ARCA_SALT_LEN);
	if (salt)
		memcpy(k->salt, salt, ARCA_SALT_LEN);
	k->created = (int64_t)arca_dec_u64(&d);
	k->host = arca_dec_strdup(&d, 255);
	k->user = arca_dec_strdup(&d, 255);
	k->sealed = arca_dec_bytes(&d, &k->sealed_len);
	if (!arca_dec_ok(&d) || arca_dec_left(&d) != 0) {
		key_file_clear(k);
		return arca_error_set(ARCA_CORRUPT, "key file %s: truncated or malformed", name);
	}
	if (k->t < 1 || k->t > 64 || k->m < 8192 || k->m > 4u * 1024 * 1024) {
		key_file_clear(k);
		return arca_error_set(ARCA_CORRUPT, "key file %s: implausible KDF parameters", name);
	}
	return 0;
}

int arca_repo_keyfile_check(const uint8_t *p, size_t n)
{
	key_file k;
	int rc = key_parse(&k, "(input)", p, n);
	if (!rc)
		key_file_clear(&k);
	return rc;
}

/* Try to open one key file; ARCA_AUTH when the password does not fit. */
static int key_try(arca_repo *r, const char *name, const uint8_t *p, size_t n, const char *password)
{
	key_file k;
	uint8_t *kek = NULL;
	uint8_t ad[sizeof(KEY_AD) - 1 + 32];
	arca_buf plain = ARCA_BUF_INIT;
	arca_id cfgsum;
	int rc;
	if ((rc = key_parse(&k, name, p, n)))
		return rc;
	kek = arca_secure_alloc(ARCA_KEY_LEN);
	if (!kek) {
		rc = arca_error_set(ARCA_NOMEM, "cannot allocate secure memory");
		goto out;
	}
	if ((rc = arca_argon2id(kek, ARCA_KEY_LEN, password, strlen(password), k.salt, k.t, k.m)))
		goto out;
	memcpy(ad, KEY_AD, sizeof(KEY_AD) - 1);
	memcpy(ad + sizeof(KEY_AD) - 1, r->id.b, 32);
	if (arca_open(arca_cipher_by_id(ARCA_CIPHER_XCHACHA20_POLY1305), kek, &plain, k.sealed,
		      k.sealed_len, ad, sizeof(ad))) {
		rc = arca_error_set(ARCA_AUTH, "wrong password for key %s", name);
		goto out;
	}
	if (plain.len != KEY_PLAIN_LEN || plain.data[0] != 1) {
		rc = arca_error_set(ARCA_CORRUPT, "key file %s: bad key payload", name);
		goto out;
	}
	arca_sha256(&cfgsum, r->config_raw, ARCA_CONFIG_LEN);
	if (arca_memcmp_ct(cfgsum.b, plain.data + 97, 32)) {
		rc = arca_error_set(ARCA_CORRUPT,
				    "config does not match the key %s: the config was replaced or damaged", name);
		goto out;
	}
	memcpy(r->keys->data_key, plain.data + 1, 32);
	memcpy(r->keys->id_key, plain.data + 33, 32);
	memcpy(r->keys->chunker_seed, plain.data + 65, 32);
	r->kdf_t = k.t;
	r->kdf_m_kib = k.m;
	rc = 0;
out:
	if (plain.data)
		arca_wipe(plain.data, plain.cap);
	arca_buf_free(&plain);
	arca_secure_free(kek);
	key_file_clear(&k);
	return rc;
}

typedef struct key_names {
	char **v;
	size_t n, cap;
} key_names;

static int collect_key(const char *key, uint64_t size, void *payload)
{
	key_names *kn = payload;
	int rc;
	if ((rc = arca_grow(&kn->v, &kn->cap, kn->n + 1, sizeof(*kn->v), 8)))
		return rc;
	if (!(kn->v[kn->n] = strdup(key)))
		return arca_error_set(ARCA_NOMEM, "out of memory listing keys");
	kn->n++;
	return 0;
}

static void key_names_free(key_names *kn)
{
	size_t i;
	for (i = 0; i < kn->n; i++)
		free(kn->v[i]);
	free(kn->v);
	memset(kn, 0, sizeof(*kn));
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Key files are named by the SHA-256 of their bytes (a name that is not
 * an id is not checked). */
static bool key_name_matches(const char *name, const uint8_t *p, size_t n)
{
	arca_id want, got;
	const char *slash = strrchr(name, '/');
	if (!slash || arca_id_parse(&want, slash + 1))
		return true;
	arca_sha256(&got, p, n);
	return arca_id_eq(&want, &got);
}

static int unlock_keys(arca_repo *r, const char *password)
{
	key_names kn = { 0 };
	arca_buf data = ARCA_BUF_INIT;
	int rc, damaged = 0;
	char first_damage[1024] = "";
	size_t i;
	if ((rc = arca_be_list(r->be, "keys/", collect_key, &kn)))
		goto out;
	if (kn.n == 0) {
		rc = arca_error_set(ARCA_CORRUPT, "repository has no key files in keys/: it cannot be opened");
		goto out;
	}
	if (!password) {
		rc = arca_error_hint(arca_error_set(ARCA_AUTH, "the repository is encrypted and no password was given"),
				     "set ARCA_PASSWORD, ARCA_PASSWORD_FILE or --password-file");
		goto out;
	}
	qsort(kn.v, kn.n, sizeof(char *), cmp_str);
	for (i = 0; i < kn.n; i++) {
		arca_buf_clear(&data);
		if ((rc = arca_be_get(r->be, kn.v[i], &data))) {
			if (rc != ARCA_CORRUPT && rc != ARCA_NOTFOUND)
				goto out;
		} else if (!key_name_matches(kn.v[i], data.data, data.len)) {
			/* say "damaged", not "wrong password", for a bit-flipped key */
			rc = arca_error_set(ARCA_CORRUPT, "key file %s: content does not match its name (damaged)",
					    kn.v[i]);
		} else {
			rc = key_try(r, kn.v[i], data.data, data.len, password);
		}
		if (rc == 0) {
			arca_id_parse(&r->key_id, kn.v[i] + 5);
			goto out;
		}
		if (rc == ARCA_AUTH)
			continue;
		if (rc == ARCA_CORRUPT && strstr(arca_error_message(), "config does not match"))
			goto out;
		if (!damaged++)
			snprintf(first_damage, sizeof(first_damage), "%s", arca_error_message());
	}
	if (damaged && (size_t)damaged == kn.n)
		rc = arca_error_set(ARCA_CORRUPT, "%s", first_damage);
	else
		rc = arca_error_hint(arca_error_set(ARCA_AUTH, "wrong password: no key in keys/ opens with it"),
				     damaged ? "(and %d key file(s) are damaged)" : "check ARCA_PASSWORD / --password-file (if it is right, the config object may have been replaced)",
				     damaged);
out:
	arca_buf_free(&data);
	key_names_free(&kn);
	return rc;
}

/* ---- cache directory ---- */

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);
	if (n >= sizeof(tmp))
		return arca_error_set(ARCA_INVAL, "path too long: %s", path);
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] == '/' || tmp[i] == '\0') {
			char c = tmp[i];
			tmp[i] = '\0';
			if (mkdir(tmp, 0700) && errno != EEXIST)
				return arca_error_errno(errno, "cannot create cache directory %s", tmp);
			tmp[i] = c;
		}
	}
	return 0;
}

/* 16 hex digits naming where the repository is: the real path of a local
 * one (so "./repo" and "/srv/repo" share a cache), else its location. */
static void location_tag(arca_repo *r, char out[17])
{
	const char *where = arca_be_location(r->be);
	char *real = (r->be->caps & ARCA_BACKEND_CAP_LOCAL) ? realpath(where, NULL) : NULL;
	char hex[65];
	arca_id h;
	arca_sha256(&h, real ? real : where, strlen(real ? real : where));
	free(real);
	arca_id_hex(hex, &h);
	memcpy(out, hex, 16);
	out[16] = '\0';
}

static int setup_cache(arca_repo *r, const char *cache_dir)
{
	const char *root = cache_dir, *e;
	char base[4096], dir[4300], hex[65], loc[17], tag[4400];
	FILE *f;
	int rc;
	if (!root && (e = getenv("ARCA_CACHE_DIR")) && *e)
		root = e;
	if (!root) {
		if ((e = getenv("XDG_CACHE_HOME")) && *e)
			snprintf(base, sizeof(base), "%s/arca", e);
		else if ((e = getenv("HOME")) && *e)
			snprintf(base, sizeof(base), "%s/.cache/arca", e);
		else
			snprintf(base, sizeof(base), "/tmp/arca-cache-%u", (unsigned)getuid());
		root = base;
	}
	/* One cache per repository id and location: a replica has the same id
	 * (it is a copy) but may hold other index files, and replicate opens
	 * both in one process, where one LMDB environment cannot be opened
	 * twice. */
	arca_id_hex(hex, &r->id);
	location_tag(r, loc);
	snprintf(dir, sizeof(dir), "%s/%s/%s", root, hex, loc);
	if ((rc = mkdir_p(dir)))
		return rc;
	snprintf(tag, sizeof(tag), "%s/location", dir);
	if (access(tag, F_OK) && (f = fopen(tag, "w"))) {
		fprintf(f, "%s\n", arca_be_location(r->be));
		fclose(f);
	}
	snprintf(tag, sizeof(tag), "%s/CACHEDIR.TAG", root);
	if (access(tag, F_OK) && (f = fopen(tag, "w"))) {
		fputs("Signature: 8a477f597d28d172789f06886806bc55\n# arca cache; safe to delete\n", f);
		fclose(f);
	}
	if (!(r->cache_dir = strdup(dir)))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	snprintf(dir, sizeof(dir), "%s/index", r->cache_dir);
	return arca_index_open(&r->ix, dir);
}

/* ---- open / init ---- */

static int repo_alloc(arca_repo **out, const char *url, const arca_repo_open_opts *oo)
{
	arca_repo *r;
	int rc;
	*out = NULL;
	if ((rc = arca_crypto_init()))
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->commit_mu, NULL);
	pthread_mutex_init(&r->lock.mu, NULL);
	pthread_cond_init(&r->lock.cv, NULL);
	arca_idset_init(&r->claims, 0);
	r->url = strdup(url);
	r->keys = arca_secure_alloc(sizeof(*r->keys));
	if (!r->url || !r->keys) {
		arca_repo_close(r);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	memset(r->keys, 0, sizeof(*r->keys));
	if (oo) {
		r->warn = oo->warn;
		r->warn_payload = oo->warn_payload;
	}
	if ((rc = arca_backend_open(&r->be, url))) {
		arca_repo_close(r);
		return rc;
	}
	*out = r;
	return 0;
}

static void derive_runtime(arca_repo *r, const uint8_t *plain_seed)
{
	bool enc = r->cipher->id != ARCA_CIPHER_NONE;
	arca_chunker_gear_from_seed(r->gear, enc ? r->keys->chunker_seed : plain_seed);
	arca_idfn_init(&r->idfn, enc ? r->keys->id_key : NULL);
	r->codec.cipher = r->cipher;
	r->codec.key = r->keys->data_key;
	r->codec.compress_algo = r->compress_algo;
	r->codec.compress_level = r->compress_level;
}

int arca_repo_init(arca_repo **out, const char *url, const char *password,
		   const arca_repo_init_opts *o, const arca_repo_open_opts *oo)
{
	arca_repo *r = NULL;
	arca_repo_init_opts opts = ARCA_REPO_INIT_OPTS_INIT;
	uint8_t seed[32];
	int rc;
	*out = NULL;
	if (o)
		opts = *o;
	if (!arca_cipher_by_id((unsigned)opts.cipher))
		return arca_error_set(ARCA_INVAL, "unknown cipher id %d", opts.cipher);
	if ((rc = arca_chunker_params_check(&opts.chunker)))
		return rc;
	if (opts.pack_size < 4096 || opts.pack_size > 1024u * 1024 * 1024)
		return arca_error_set(ARCA_INVAL, "pack size %u out of range", opts.pack_size);
	if (opts.cipher != ARCA_CIPHER_NONE && (!password || !*password))
		return arca_error_hint(arca_error_set(ARCA_INVAL, "an encrypted repository needs a password"),
				       "set ARCA_PASSWORD or --password-file, or use --encryption none");
	if ((rc = repo_alloc(&r, url, oo)))
		return rc;
	if (arca_be_exists(r->be, ARCA_CONFIG_KEY)) {
		rc = arca_error_set(ARCA_EXISTS, "a repository already exists at %s", url);
		goto fail;
	}
	if ((rc = arca_random(r->id.b, 32)) || (rc = arca_random(r->keys->data_key, 32)) ||
	    (rc = arca_random(r->keys->id_key, 32)) || (rc = arca_random(r->keys->chunker_seed, 32)) ||
	    (rc = arca_random(seed, 32)))
		goto fail;
	config_encode(r->config_raw, &r->id, &opts, opts.cipher == ARCA_CIPHER_NONE ? seed : NULL);
	if ((rc = arca_repo_config_decode(r, r->config_raw, ARCA_CONFIG_LEN)))
		goto fail;
	/* keys first: a config without a key would be an unopenable repo */
	if (opts.cipher != ARCA_CIPHER_NONE && (rc = key_write(r, password, opts.kdf_t, opts.kdf_m_kib, &r->key_id)))
		goto fail;
	r->kdf_t = opts.kdf_t;
	r->kdf_m_kib = opts.kdf_m_kib;
	if ((rc = arca_be_put(r->be, ARCA_CONFIG_KEY, r->config_raw, ARCA_CONFIG_LEN, ARCA_PUT_NOREPLACE)))
		goto fail;
	derive_runtime(r, r->config_raw + 64);
	if ((rc = setup_cache(r, oo ? oo->cache_dir : NULL)) || (rc = arca_repo_index_sync(r)))
		goto fail;
	*out = r;
	return 0;
fail:
	arca_repo_close(r);
	return rc;
}

/*
 * An unencrypted repository has no key files.  Key files next to a config
 * that says "none" mean the config was swapped (a downgrade: no key is
 * opened, so the keys' commitment to the config is never checked, and the
 * next backup would write plaintext): refuse.
 */
static int refuse_keys_without_cipher(arca_repo *r)
{
	key_names kn = { 0 };
	int rc = arca_be_list(r->be, "keys/", collect_key, &kn);
	if (!rc && kn.n)
		rc = arca_error_hint(arca_error_set(ARCA_CORRUPT,
			"config says the repository is not encrypted, but keys/ holds %zu key file(s): "
			"the config was replaced or damaged", kn.n),
			"restore the config from a replica; do not write to this repository until then");
	key_names_free(&kn);
	return rc;
}

int arca_repo_open(arca_repo **out, const char *url, const char *password, const arca_repo_open_opts *oo)
{
	arca_repo *r = NULL;
	arca_buf cfg = ARCA_BUF_INIT;
	int rc;
	*out = NULL;
	if ((rc = repo_alloc(&r, url, oo)))
		return rc;
	rc = arca_be_get(r->be, ARCA_CONFIG_KEY, &cfg);
	if (rc == ARCA_NOTFOUND) {
		rc = arca_error_hint(arca_error_set(ARCA_NOTFOUND, "no repository at %s (config not found)", url),
				     "create one with 'arca -r %s init'", url);
		goto fail;
	}
	if (rc)
		goto fail;
	if ((rc = arca_repo_config_decode(r, cfg.data, cfg.len)))
		goto fail;
	if (r->cipher->id != ARCA_CIPHER_NONE && (rc = unlock_keys(r, password)))
		goto fail;
	if (r->cipher->id == ARCA_CIPHER_NONE && (rc = refuse_keys_without_cipher(r)))
		goto fail;
	derive_runtime(r, r->config_raw + 64);
	if ((rc = setup_cache(r, oo ? oo->cache_dir : NULL)) || (rc = arca_repo_index_sync(r)))
		goto fail;
	arca_buf_free(&cfg);
	*out = r;
	return 0;
fail:
	arca_buf_free(&cfg);
	arca_repo_close(r);
	return rc;
}

void arca_repo_close(arca_repo *r)
{
	size_t i;
	if (!r)
		return;
	arca_committer_free(r); /* before the lock goes: it may still write */
	if (r->lock.held)
		arca_repo_unlock(r);
	arca_readahead_free(r->ra);
	arca_index_close(r->ix);
	arca_backend_free(r->be);
	arca_secure_free(r->keys);
	arca_wipe(&r->idfn, sizeof(r->idfn));
	for (i = 0; i < r->npending; i++)
		free(r->pending[i].entries);
	free(r->pending);
	arca_idset_free(&r->claims);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->commit_mu);
	pthread_mutex_destroy(&r->lock.mu);
	pthread_cond_destroy(&r->lock.cv);
	free(r->cache_dir);
	free(r->url);
	free(r);
}

const arca_id *arca_repo_id(const arca_repo *r) { return &r->id; }
const arca_cipher *arca_repo_cipher(const arca_repo *r) { return r->cipher; }
const arca_chunker_params *arca_repo_chunker_params(const arca_repo *r) { return &r->chunker; }
const uint64_t *arca_repo_gear(const arca_repo *r) { return r->gear; }
uint32_t arca_repo_pack_size(const arca_repo *r) { return r->pack_size; }
arca_backend *arca_repo_backend(arca_repo *r) { return r->be; }
arca_index *arca_repo_index(arca_repo *r) { return r->ix; }
const arca_blob_codec *arca_repo_codec(const arca_repo *r) { return &r->codec; }
const char *arca_repo_url(const arca_repo *r) { return r->url; }
const char *arca_repo_cache_dir(const arca_repo *r) { return r->cache_dir; }
const arca_id *arca_repo_key_id(const arca_repo *r) { return &r->key_id; }
int arca_repo_compression(const arca_repo *r, int *level)
{
	if (level)
		*level = r->compress_level;
	return r->compress_algo;
}
void arca_repo_blob_id(const arca_repo *r, arca_id *out, const void *p, size_t n)
{
	arca_idfn_compute(&r->idfn, out, p, n);
}

/* ---- key management ---- */

static int require_encrypted(arca_repo *r)
{
	if (r->cipher->id == ARCA_CIPHER_NONE)
		return arca_error_set(ARCA_INVAL, "the repository is not encrypted: it has no keys");
	return 0;
}

int arca_repo_key_add(arca_repo *r, const char *password, arca_id *out_id)
{
	int rc;
	if ((rc = require_encrypted(r)))
		return rc;
	if (!password || !*password)
		return arca_error_set(ARCA_INVAL, "the new password is empty");
	/* the cost the user chose at init (or of the key in use), not the default:
	 * key add / passwd must not silently weaken a repository */
	return key_write(r, password, r->kdf_t ? r->kdf_t : ARCA_KDF_T_DEFAULT,
			 r->kdf_m_kib ? r->kdf_m_kib : ARCA_KDF_M_KIB_DEFAULT, out_id);
}

int arca_repo_key_list(arca_repo *r, arca_key_info **out, size_t *n)
{
	key_names kn = { 0 };
	arca_buf data = ARCA_BUF_INIT;
	arca_key_info *v = NULL;
	size_t i, m = 0;
	int rc;
	*out = NULL;
	*n = 0;
	if ((rc = require_encrypted(r)) || (rc = arca_be_list(r->be, "keys/", collect_key, &kn)))
		goto out;
	qsort(kn.v, kn.n, sizeof(char *), cmp_str);
	v = calloc(kn.n ? kn.n : 1, sizeof(*v));
	if (!v) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < kn.n; i++) {
		key_file k;
		arca_buf_clear(&data);
		if ((rc = arca_be_get(r->be, kn.v[i], &data)))
			goto out;
		if (key_parse(&k, kn.v[i], data.data, data.len))
			continue; /* damaged keys are reported by check */
		arca_id_parse(&v[m].id, kn.v[i] + 5);
		v[m].created_ns = k.created;
		snprintf(v[m].host, sizeof(v[m].host), "%s", k.host);
		snprintf(v[m].user, sizeof(v[m].user), "%s", k.user);
		v[m].kdf_t = k.t;
		v[m].kdf_m_kib = k.m;
		v[m].current = arca_id_eq(&v[m].id, &r->key_id);
		m++;
		key_file_clear(&k);
	}
	*out = v;
	*n = m;
	v = NULL;
	rc = 0;
out:
	free(v);
	arca_buf_free(&data);
	key_names_free(&kn);
	return rc;
}

int arca_repo_key_remove(arca_repo *r, const char *id_prefix)
{
	arca_key_info *v = NULL;
	size_t n, i, hits = 0, at = 0, plen = strlen(id_prefix);
	char hex[65], key[80];
	int rc;
	if ((rc = arca_repo_key_list(r, &v, &n)))
		return rc;
	for (i = 0; i < n; i++) {
		arca_id_hex(hex, &v[i].id);
		if (plen && !strncmp(hex, id_prefix, plen)) {
			hits++;
			at = i;
		}
	}
	if (hits != 1) {
		rc = arca_error_set(hits ? ARCA_INVAL : ARCA_NOTFOUND, "key '%s' %s", id_prefix,
				    hits ? "is ambiguous: give more characters" : "not found");
		goto out;
	}
	if (v[at].current) {
		rc = arca_error_hint(arca_error_set(ARCA_INVAL, "refusing to remove the key in use"),
				     "open the repository with another password to remove this one");
		goto out;
	}
	arca_id_hex(hex, &v[at].id);
	snprintf(key, sizeof(key), "keys/%s", hex);
	rc = arca_be_remove(r->be, key);
out:
	free(v);
	return rc;
}

int arca_repo_key_passwd(arca_repo *r, const char *new_password)
{
	arca_id nid, old = r->key_id;
	char hex[65], key[80];
	int rc;
	if ((rc = arca_repo_key_add(r, new_password, &nid)))
		return rc;
	arca_id_hex(hex, &old);
	snprintf(key, sizeof(key), "keys/%s", hex);
	if ((rc = arca_be_remove(r->be, key)))
		return arca_error_prefix(rc, "new key %.8s written, but removing the old key failed",
					 hex);
	r->key_id = nid;
	return 0;
}
