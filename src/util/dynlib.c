/*
 * util/dynlib.c - see dynlib.h.
 */
#include "util/dynlib.h"

#include "arca/error.h"

#include <dlfcn.h>

int arca_dynlib_load(const char *const *sonames, const char *what, const char *const *names, void **fns,
		     size_t n)
{
	void *h = NULL;
	const char *err = "no library name";
	size_t i;
	for (i = 0; sonames[i] && !h; i++)
		if (!(h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL)))
			err = dlerror();
	if (!h)
		return arca_error_set(ARCA_NOTFOUND, "cannot load %s: %s", what, err ? err : "unknown error");
	for (i = 0; i < n; i++) {
		dlerror();
		if (!(fns[i] = dlsym(h, names[i])))
			return arca_error_set(ARCA_NOTFOUND, "%s has no %s: %s", what, names[i], dlerror());
	}
	return 0; /* the library stays loaded for the life of the process */
}
