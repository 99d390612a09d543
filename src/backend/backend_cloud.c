/* backend/backend_cloud.c - helpers of the object-store drivers (see
 * backend_cloud.h). */
#include "backend/backend_cloud.h"
#include "arca/error.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static bool bucket_ok(const char *b, size_t maxlen)
{
	size_t n = strlen(b), i;
	if (n < 3 || n > maxlen)
		return false;
	for (i = 0; i < n; i++) {
		char ch = b[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_'))
			return false;
	}
	return true;
}

int arca_cloud_url(const char *scheme, const char *rest, size_t maxlen, char **bucket, char **prefix,
		   char **location)
{
	const char *slash = strchr(rest, '/');
	size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
	char *b, *p;
	int rc = 0;
	*bucket = *prefix = *location = NULL;
	b = strndup(rest, n);
	rest = slash ? slash + 1 : "";
	while (*rest == '/')
		rest++;
	p = strdup(rest);
	if (!b || !p) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (n = strlen(p); n && p[n - 1] == '/'; n--)
		p[n - 1] = '\0';
	if (!bucket_ok(b, maxlen)) {
		rc = arca_error_hint(arca_error_set(ARCA_INVAL, "'%s' is not a valid %s bucket name", b, scheme),
				     "use %s://BUCKET/PREFIX, for example %s://my-backups/host1", scheme, scheme);
		goto out;
	}
	if (strstr(p, "//") || strstr(p, "/./") || strstr(p, "/../") || !strcmp(p, ".") || !strcmp(p, "..") ||
	    !strncmp(p, "../", 3) || !strncmp(p, "./", 2) || (n >= 2 && !strcmp(p + n - 2, "/.")) ||
	    (n >= 3 && !strcmp(p + n - 3, "/.."))) {
		rc = arca_error_set(ARCA_INVAL, "%s prefix '%s' has an empty, '.' or '..' component", scheme, p);
		goto out;
	}
	if (asprintf(location, "%s://%s%s%s", scheme, b, *p ? "/" : "", p) < 0) {
		*location = NULL;
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
	}
out:
	if (rc) {
		free(b);
		free(p);
		return rc;
	}
	*bucket = b;
	*prefix = p;
	return 0;
}

int arca_cloud_object_name(arca_buf *b, const char *prefix, const char *key)
{
	int rc = 0;
	if (*prefix)
		rc = arca_buf_printf(b, "%s/", prefix);
	return rc ? rc : arca_buf_puts(b, key);
}

const char *arca_cloud_env(const char *name)
{
	const char *e = getenv(name);
	return e && *e ? e : NULL;
}

int arca_cloud_env_flag(const char *name, int dflt)
{
	const char *e = getenv(name);
	if (!e || !*e)
		return dflt;
	return !(strcmp(e, "0") == 0 || strcasecmp(e, "false") == 0 || strcasecmp(e, "no") == 0);
}

static bool ini_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* [p, e) without blanks at either end */
static void ini_trim(const char **p, const char **e)
{
	while (*p < *e && ini_blank(**p))
		(*p)++;
	while (*e > *p && ini_blank((*e)[-1]))
		(*e)--;
}

static bool ini_is(const char *p, const char *e, const char *name)
{
	size_t l = strlen(name);
	return (size_t)(e - p) == l && memcmp(p, name, l) == 0;
}

int arca_cloud_ini_get(const char *text, size_t n, const char *section, const char *key, char **out)
{
	const char *p = text, *end = text + n, *eol, *a, *b, *eq, *found = NULL, *found_end = NULL;
	bool in_section = false;
	*out = NULL;
	if (n && memchr(text, '\0', n))
		return arca_error_set(ARCA_CORRUPT, "not a text file (NUL byte)");
	for (; p < end; p = eol + (eol < end)) {
		if (!(eol = memchr(p, '\n', (size_t)(end - p))))
			eol = end;
		if (p < eol && ini_blank(*p))
			continue; /* blank, or an indented continuation line */
		a = p;
		b = eol;
		ini_trim(&a, &b);
		if (a == b || *a == '#' || *a == ';')
			continue;
		if (*a == '[') {
			if (b[-1] != ']' || b - a < 2) {
				in_section = false;
				continue;
			}
			a++;
			b--;
			ini_trim(&a, &b);
			in_section = ini_is(a, b, section);
			continue;
		}
		if (!in_section || !(eq = memchr(a, '=', (size_t)(b - a))))
			continue;
		{
			const char *ke = eq, *v = eq + 1, *ve = b;
			ini_trim(&a, &ke);
			ini_trim(&v, &ve);
			if (ini_is(a, ke, key)) {
				found = v;
				found_end = ve;
			}
		}
	}
	if (!found)
		return ARCA_NOTFOUND;
	if (!(*out = strndup(found, (size_t)(found_end - found))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	return 0;
}

int arca_cloud_read_small_file(const char *path, arca_buf *out)
{
	char tmp[4096];
	ssize_t got;
	int fd, rc = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return arca_error_errno(errno, "cannot read %s", path);
	while ((got = read(fd, tmp, sizeof(tmp))) != 0) {
		if (got < 0) {
			if (errno == EINTR)
				continue;
			rc = arca_error_errno(errno, "cannot read %s", path);
			break;
		}
		if (out->len + (size_t)got > (1u << 20)) {
			rc = arca_error_set(ARCA_INVAL, "%s is larger than 1 MiB", path);
			break;
		}
		if ((rc = arca_buf_put(out, tmp, (size_t)got)))
			break;
	}
	close(fd);
	return rc;
}

int arca_keylist_add(arca_keylist *l, const char *key, uint64_t size)
{
	int rc;
	if ((rc = arca_buf_put(&l->names, key, strlen(key) + 1)))
		return rc;
	if ((rc = arca_buf_put(&l->sizes, &size, sizeof(size)))) {
		l->names.len -= strlen(key) + 1;
		return rc;
	}
	return 0;
}

int arca_keylist_report(const arca_keylist *l, arca_backend_list_cb cb, void *payload)
{
	size_t n = l->sizes.len / sizeof(uint64_t), i, at = 0;
	int rc;
	for (i = 0; i < n; i++) {
		const char *k = (const char *)l->names.data + at;
		uint64_t sz;
		memcpy(&sz, l->sizes.data + i * sizeof(uint64_t), sizeof(sz));
		at += strlen(k) + 1;
		if ((rc = cb(k, sz, payload)))
			return rc;
	}
	return 0;
}

void arca_keylist_free(arca_keylist *l)
{
	arca_buf_free(&l->names);
	arca_buf_free(&l->sizes);
}

int arca_spool_open(arca_spool **out)
{
	const char *dir = getenv("TMPDIR");
	arca_spool *s;
	*out = NULL;
	if (!dir || !*dir)
		dir = "/tmp";
	if (!(s = calloc(1, sizeof(*s))))
		return arca_error_set(ARCA_NOMEM, "out of memory");
	s->fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (s->fd < 0) {
		/* filesystems without O_TMPFILE: create, then unlink at once */
		char path[4096];
		snprintf(path, sizeof(path), "%s/arca-upload-XXXXXX", dir);
		s->fd = mkostemp(path, O_CLOEXEC);
		if (s->fd >= 0)
			unlink(path);
	}
	if (s->fd < 0) {
		int e = errno;
		free(s);
		return arca_error_errno(e, "cannot create a temporary upload file in %s", dir);
	}
	*out = s;
	return 0;
}

int arca_spool_write(arca_spool *s, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n) {
		ssize_t w = write(s->fd, b, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return arca_error_errno(errno, "cannot write the temporary upload file");
		b += w;
		n -= (size_t)w;
		s->size += (uint64_t)w;
	}
	return 0;
}

int arca_spool_read(arca_spool *s, arca_buf *b, uint64_t off, size_t n)
{
	size_t got = 0;
	int rc;
	arca_buf_clear(b);
	if ((rc = arca_buf_reserve(b, n)))
		return rc;
	while (got < n) {
		ssize_t r = pread(s->fd, b->data + got, n - got, (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return arca_error_errno(r < 0 ? errno : EIO, "cannot read the temporary upload file");
		got += (size_t)r;
	}
	b->len = n;
	return 0;
}

void arca_spool_close(arca_spool *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}
