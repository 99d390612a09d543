/*
 * backend/backend_local.h - extras of the local-directory driver that the
 * generic interface has no slot for.
 */
#ifndef ARCA_BACKEND_LOCAL_H
#define ARCA_BACKEND_LOCAL_H

#include "arca/sys/backend.h"

/*
 * Remove the ".tmp-*" files that put() leaves behind when a process is
 * killed between creating its temporary file and renaming it, anywhere in
 * the repository, if their modification time is more than max_age_seconds
 * ago (pick an age no live writer reaches, e.g. a day) or the process that
 * wrote them (the pid in the name) is no longer alive on this host.  *removed (may be
 * NULL) gets how many were removed, also on failure.  ARCA_INVAL when be is
 * not a local backend.
 */
int arca_backend_local_cleanup_temps(arca_backend *be, unsigned max_age_seconds, unsigned *removed);

#endif
