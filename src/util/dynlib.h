/*
 * util/dynlib.h - load a shared library and its functions on first use.
 *
 * libcurl and libpq, with their dependencies (Kerberos, LDAP, HTTP/2,
 * ...), cost ~5 MB of resident memory and some start-up time in every
 * process that links them, though only commands on cloud or PostgreSQL
 * repositories use them.  Their home modules (http, pgsql) load them with
 * this when first needed instead; the prototypes still come from the
 * libraries' own headers, so calls stay type-checked.
 */
#ifndef ARCA_UTIL_DYNLIB_H
#define ARCA_UTIL_DYNLIB_H

#include <stddef.h>

/*
 * dlopen the first of sonames[] that loads, then resolve names[0..n) into
 * fns[0..n) (each a function pointer stored as void *).  what names the
 * library in the error (with the package that provides it).  0 or
 * ARCA_NOTFOUND with a message.
 */
int arca_dynlib_load(const char *const *sonames, const char *what, const char *const *names, void **fns,
		     size_t n);

#endif
