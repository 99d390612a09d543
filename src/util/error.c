/*
 * util/error.c - the thread-local error record behind arca/error.h.
 * Messages are bounded; a longer message is truncated, never overflowed.
 */
#include "arca/error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024

static __thread char err_msg[MSG_MAX];
static __thread char err_hint[MSG_MAX];
static __thread int err_code;

static void set_v(int code, const char *fmt, va_list ap)
{
	vsnprintf(err_msg, sizeof(err_msg), fmt, ap);
	err_hint[0] = '\0';
	err_code = code;
}

int arca_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_v(code, fmt, ap);
	va_end(ap);
	return code;
}

int arca_status_from_errno(int errnum)
{
	switch (errnum) {
	case ENOENT: case ENOTDIR: return ARCA_NOTFOUND;
	case EEXIST: return ARCA_EXISTS;
	case ENOMEM: return ARCA_NOMEM;
	case ENOSPC: case EDQUOT: return ARCA_NOSPACE;
	case EACCES: case EPERM: return ARCA_AUTH;
	case EINTR: case EAGAIN: return ARCA_TRANSIENT;
	case EINVAL: return ARCA_INVAL;
	default: return ARCA_ERROR;
	}
}

int arca_error_errno(int errnum, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int code = arca_status_from_errno(errnum);
	va_start(ap, fmt);
	set_v(code, fmt, ap);
	va_end(ap);
	n = strlen(err_msg);
	snprintf(err_msg + n, sizeof(err_msg) - n, ": %s", strerror(errnum));
	if (errnum == ENOSPC)
		snprintf(err_hint, sizeof(err_hint),
			 "free some space; nothing was committed, so the repository is unchanged");
	return code;
}

int arca_error_prefix(int code, const char *fmt, ...)
{
	char old[MSG_MAX], pre[MSG_MAX];
	va_list ap;
	memcpy(old, err_msg, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(pre, sizeof(pre), fmt, ap);
	va_end(ap);
	snprintf(err_msg, sizeof(err_msg), "%s: %s", pre, old);
	if (!err_code)
		err_code = code;
	return code;
}

int arca_error_hint(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err_hint, sizeof(err_hint), fmt, ap);
	va_end(ap);
	return code;
}

const char *arca_error_message(void) { return err_msg[0] ? err_msg : "unknown error"; }
const char *arca_error_hint_text(void) { return err_hint; }
int arca_error_code(void) { return err_code; }

void arca_error_clear(void)
{
	err_msg[0] = '\0';
	err_hint[0] = '\0';
	err_code = 0;
}

const char *arca_status_name(int code)
{
	switch (code) {
	case ARCA_OK: return "ok";
	case ARCA_NOTFOUND: return "not found";
	case ARCA_EXISTS: return "exists";
	case ARCA_CORRUPT: return "corrupt";
	case ARCA_AUTH: return "authentication failed";
	case ARCA_TRANSIENT: return "transient";
	case ARCA_LOCKED: return "locked";
	case ARCA_NOMEM: return "out of memory";
	case ARCA_INVAL: return "invalid";
	case ARCA_NOSPACE: return "no space";
	default: return "error";
	}
}
