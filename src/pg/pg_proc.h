/*
 * pg/pg_proc.h - running the PostgreSQL client programs (pg_dump,
 * pg_dumpall, psql): finding the right binary for a server version, and
 * child processes whose stdout we read or whose stdin we feed, with their
 * stderr kept in memory (a memfd) for the error message.
 */
#ifndef ARCA_PG_PROC_H
#define ARCA_PG_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum pg_proc_mode {
	PG_PROC_READ = 1,  /* we read its stdout; its stdin is /dev/null */
	PG_PROC_WRITE = 2, /* we write its stdin; its stdout is /dev/null */
};

typedef struct pg_proc {
	pid_t pid;
	int fd;    /* our end of the pipe, -1 once closed */
	int errfd; /* memfd with its stderr */
	char name[64];
} pg_proc;

/*
 * Start argv[0] (an absolute path) with argv.  password, when not NULL,
 * is passed as PGPASSWORD (not on the command line).  p->fd is our end.
 */
int pg_proc_start(pg_proc *p, char *const *argv, int mode, const char *password);
/*
 * Close our end (kill first when abort is set), wait, and turn a non-zero
 * exit or a signal into an ARCA_ERROR whose message is "<what>: exit
 * status N: <the end of its stderr>".  Always releases p.  errout (may
 * be NULL) gets the child's whole stderr (malloc'd) when it ran to its end.
 */
int pg_proc_finish(pg_proc *p, bool abort, const char *what, char **errout);
/* The child's stderr so far (malloc'd, NUL-terminated; NULL on failure). */
char *pg_proc_stderr(pg_proc *p);

/*
 * Find tool ("pg_dump", "pg_dumpall", "psql") whose major version is at
 * least min_major (0: any): $ARCA_PG_BINDIR only, when set; else
 * /usr/lib/postgresql/<want_major>/bin, then $PATH, then the other
 * /usr/lib/postgresql/N/bin.  out gets the path, version (may be NULL)
 * its "--version" line.  ARCA_NOTFOUND when there is none, ARCA_ERROR
 * when every one found is too old (both with an install hint).
 */
int pg_find_tool(const char *tool, int want_major, int min_major, char *out, size_t n, char *version,
		 size_t vn);

#endif
