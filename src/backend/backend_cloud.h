/*
 * backend/backend_cloud.h - what the object-store drivers (S3, GCS) share:
 * parsing "BUCKET/PREFIX", the spool of streaming puts, and listings
 * collected before they are reported.
 */
#ifndef ARCA_BACKEND_CLOUD_H
#define ARCA_BACKEND_CLOUD_H

#include "arca/sys/backend.h"
#include "util/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Split rest ("BUCKET[/PREFIX]", the URL after "scheme://") into a bucket
 * and a prefix without slashes at either end; location gets
 * "scheme://BUCKET[/PREFIX]".  ARCA_INVAL (naming the scheme) for a bucket
 * name outside [a-z0-9._-] or of a bad length (3..maxlen), or a prefix
 * with an empty, "." or ".." component.  All three are malloc'ed, NULL on
 * failure.
 */
int arca_cloud_url(const char *scheme, const char *rest, size_t maxlen, char **bucket, char **prefix,
		   char **location);

/* Append the object name of repository key ("PREFIX/key", or key). */
int arca_cloud_object_name(arca_buf *b, const char *prefix, const char *key);

/* getenv(name), or NULL when it is unset or empty. */
const char *arca_cloud_env(const char *name);

/* "1"/"true"/... -> 1, "0"/"false"/"no" -> 0, unset or empty -> dflt. */
int arca_cloud_env_flag(const char *name, int dflt);

/*
 * The value of key in section [section] of an INI text (the AWS shared
 * credentials and config files): "[name]" headers, "key = value" lines,
 * '#' and ';' comment lines, blank lines; a CR before the LF and blanks
 * around names and values are ignored; an indented line continues the
 * previous value (AWS nests settings that way) and is skipped.  Names
 * compare exactly; when a key repeats, the last one wins.  *out is
 * malloc'ed.  ARCA_NOTFOUND when absent, ARCA_CORRUPT for a NUL byte.
 */
int arca_cloud_ini_get(const char *text, size_t n, const char *section, const char *key, char **out);

/* Append the whole of a small file (at most 1 MiB) to out; ARCA_NOTFOUND
 * (with a message) when it does not exist. */
int arca_cloud_read_small_file(const char *path, arca_buf *out);

/*
 * Keys gathered from the pages of a listing, reported once complete (a
 * listing that fails midway reports nothing, so the generic layer may
 * retry it whole).
 */
typedef struct arca_keylist {
	arca_buf names; /* "key\0" records */
	arca_buf sizes; /* a uint64_t per key */
} arca_keylist;
int arca_keylist_add(arca_keylist *l, const char *key, uint64_t size);
/* Call cb for every key in order; stops at and returns a non-zero rc. */
int arca_keylist_report(const arca_keylist *l, arca_backend_list_cb cb, void *payload);
void arca_keylist_free(arca_keylist *l);

/*
 * The spool of a streaming put: an unlinked temporary file in $TMPDIR
 * (default /tmp) that takes a pack as it is written and is read back when
 * its name is known and it is uploaded.  Nothing is left on disk when the
 * process dies.
 */

typedef struct arca_spool {
	int fd;
	uint64_t size; /* bytes written so far */
} arca_spool;

/* *out is heap-allocated; free with arca_spool_close (accepts NULL). */
int arca_spool_open(arca_spool **out);
int arca_spool_write(arca_spool *s, const void *p, size_t n);
/* Replace b's contents with bytes [off, off+n) of the spool. */
int arca_spool_read(arca_spool *s, arca_buf *b, uint64_t off, size_t n);
void arca_spool_close(arca_spool *s);

#endif
