/*
 * snapshot/scan.h - directory listings for the archiver, read ahead by a
 * scanner thread (module-private).
 *
 * A listing is one directory as the archiver needs it: the open directory
 * descriptor (files are opened relative to it), its entries sorted by name
 * (strcmp), each with its lstat result or the errno that stat failed with.
 * Entries a filter rejects (the --exclude patterns) are left out unstated.
 *
 * The scanner walks the given roots depth first in exactly the order the
 * archiver visits directories, and queues each listing before descending
 * into it, so that the archiver finds the listing it needs at the head of
 * the queue while the scanner's getdents and stat calls run on another
 * core.  The archiver names the directory it wants; if the head of the
 * queue is another one (the tree changed between the two looks), the
 * scanner is stopped and the archiver lists the rest itself.
 */
#ifndef ARCA_SCAN_H
#define ARCA_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

typedef struct arca_scan_entry {
	const char *name;
	struct stat st; /* valid when err == 0 */
	int err;        /* errno of the lstat, or 0 */
} arca_scan_entry;

typedef struct arca_listing {
	char *path;   /* the directory's path, as the archiver names it */
	int fd;       /* open directory, or -1 with err set */
	int err;      /* errno of opening or reading the directory, or 0 */
	size_t n;
	arca_scan_entry *v;
	char *names;  /* the entries' names, one block */
	int refs;     /* scanner and archiver each hold one while they use it */
} arca_listing;

/* Rejects the entry `name` whose full path is `path` when it returns true. */
typedef bool (*arca_scan_filter)(const char *path, const char *name, void *payload);

/* List the directory `rel` (relative to pdfd, or a path with AT_FDCWD)
 * whose full path is `path`.  Failing to open or read it is not an error
 * of the call: the listing carries the errno.  <0 only for out of memory. */
int arca_listing_read(arca_listing **out, int pdfd, const char *rel, const char *path, arca_scan_filter filter,
		      void *payload);
/* Drop one reference; the last closes the descriptor and frees. */
void arca_listing_release(arca_listing *l);

/* The full path of entry `name` in directory `dir` ("/" has no extra
 * slash), in *buf (grown as needed).  <0 for out of memory. */
int arca_scan_child_path(char **buf, size_t *cap, const char *dir, const char *name);

typedef struct arca_scanner arca_scanner;

/* Start scanning roots[0..n) (absolute paths, in the archiver's order;
 * those that are not directories are passed over).  max_ahead bounds the
 * queued listings. */
int arca_scanner_start(arca_scanner **out, char *const *roots, size_t n, arca_scan_filter filter, void *payload,
		       size_t max_ahead);
/* The listing of `path`, which the caller releases, or NULL when the
 * scanner is out of step, failed or finished: the caller then reads the
 * directory itself (and keeps doing so: the scanner is stopped). */
arca_listing *arca_scanner_next(arca_scanner *s, const char *path);
/* Stop the thread and free everything (NULL is fine). */
void arca_scanner_free(arca_scanner *s);

#endif
