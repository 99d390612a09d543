/*
 * arca/error.h - status codes and the per-thread error record.
 *
 * Every fallible arca function returns int: 0 on success or a negative
 * arca_status.  The place that fails records a message naming the object
 * (path, pack id, key file) with arca_error_set() and returns in one
 * statement; callers pass the code up and may prepend context with
 * arca_error_prefix(), never overwrite it.  The record is thread-local and
 * valid until the next arca_error_set() on the same thread.
 */
#ifndef ARCA_ERROR_H
#define ARCA_ERROR_H

#include <stdarg.h>

typedef enum arca_status {
	ARCA_OK = 0,
	ARCA_ERROR = -1,     /* generic failure (I/O, unexpected) */
	ARCA_NOTFOUND = -2,  /* object, snapshot, file or repository missing */
	ARCA_EXISTS = -3,    /* object already exists */
	ARCA_CORRUPT = -4,   /* data failed a checksum, MAC or parse */
	ARCA_AUTH = -5,      /* wrong password or credentials */
	ARCA_TRANSIENT = -6, /* may succeed if retried */
	ARCA_LOCKED = -7,    /* repository locked by someone else */
	ARCA_NOMEM = -8,     /* out of memory */
	ARCA_INVAL = -9,     /* invalid argument or usage */
	ARCA_NOSPACE = -10,  /* disk or quota full */
} arca_status;

/* Record a failure for this thread and return code (always negative). */
int arca_error_set(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Same, appending ": strerror(errnum)". */
int arca_error_errno(int errnum, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Prepend context ("while X: ") to the current message; returns code. */
int arca_error_prefix(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Add a hint line shown under the message; returns code. */
int arca_error_hint(int code, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Borrowed: valid until the next arca_error_* call on this thread. */
const char *arca_error_message(void);
const char *arca_error_hint_text(void); /* "" when there is none */
int arca_error_code(void);
void arca_error_clear(void);
/* Short lowercase name of a status ("corrupt", "not found"). */
const char *arca_status_name(int code);

/* Map an errno value to the closest arca_status. */
int arca_status_from_errno(int errnum);

#endif
