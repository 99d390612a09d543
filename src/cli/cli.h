/*
 * cli/cli.h - shared state of the arca command line: global options,
 * opening the repository, output helpers and exit codes.
 *
 * Only the CLI prints and decides exit codes; the library returns status
 * codes and error records.
 */
#ifndef ARCA_CLI_H
#define ARCA_CLI_H

#include "arca/repo.h"
#include "arca/snapshot.h"
#include "util/json.h"

#include <stdbool.h>
#include <stdio.h>

enum arca_exit {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_USAGE = 2,
	EXIT_PARTIAL = 3,
	EXIT_NOREPO = 10,
	EXIT_LOCKED = 11,
	EXIT_AUTH = 12,
	EXIT_DAMAGE = 13,
};

typedef struct cli {
	const char *repo;
	const char *password_file;
	const char *cache_dir;
	bool json;
	int verbose; /* -1 quiet, 0 normal, 1+ verbose */
	bool progress; /* stderr is a terminal and not quiet */
	char *password; /* from env/file/prompt, or NULL */
} cli;

/* Print "error: <message>" (+ hint) and return the exit code for rc. */
int cli_fail(cli *c, int rc);
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_warn_cb(const char *msg, void *payload);
/* Read the password (ARCA_PASSWORD, ARCA_PASSWORD_FILE, --password-file,
 * or a prompt on a terminal).  confirm: ask twice when prompting. */
int cli_get_password(cli *c, bool confirm);
/* Read a second password for key add/passwd (ARCA_NEW_PASSWORD,
 * --new-password-file, prompt). */
int cli_get_new_password(cli *c, const char *file, char **out);
int cli_open(cli *c, arca_repo **out);
/* Like cli_fail, for failures to open: no repository -> 10. */
int cli_fail_open(cli *c, int rc);
/* cli_fail, then close r (may be NULL); for a command's early failures. */
int cli_fail_close(cli *c, arca_repo *r, int rc);
void cli_progress_cb(const arca_progress *p, void *payload);
/* When c->progress, replace the progress line on stderr with
 * "[m:ss] <fmt...>, <bytes>, <rate>/s<tail>" for p. */
void cli_progress_line(cli *c, const arca_progress *p, const char *tail, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void cli_progress_done(cli *c);
void cli_json_print(arca_buf *b);
/* A --json document: *_begin points j at b (empty: ARCA_BUF_INIT) and opens
 * the top-level object (its first field "message_type" when message_type is
 * not NULL) or array; *_end closes it, prints the document as one line on
 * stdout and frees b. */
void cli_json_obj_begin(arca_json *j, arca_buf *b, const char *message_type);
void cli_json_obj_end(arca_json *j);
void cli_json_arr_begin(arca_json *j, arca_buf *b);
void cli_json_arr_end(arca_json *j);
void cli_fmt_bytes(char *out, size_t n, uint64_t bytes);
/* Load snapshots and resolve a selector; the list owns *out. */
int cli_select(cli *c, arca_repo *r, arca_snapshot_list *l, const char *sel, const arca_snapshot **out);
void cli_json_snapshot(arca_json *j, const arca_snapshot *s);

/*
 * Append one audit log entry for op (docs/FORMAT.md, "Audit log"): started
 * at t0 (arca_monotonic()), ending with exit_code, whose result ("ok",
 * "partial", "damage", "failed") the entry records.  snaps[0..nsnaps) are
 * the snapshots concerned (may be NULL); error (NULL: the current error
 * record when exit_code is a failure) and detail may be NULL.  Does
 * nothing when r is NULL; a failure to append is only a warning.
 */
void cli_audit(cli *c, arca_repo *r, const char *op, double t0, int exit_code, const arca_id *snaps,
	       size_t nsnaps, uint64_t bytes, const char *error, const char *detail);
/* "ok", "partial", "damage" or "failed" for an exit code. */
const char *cli_audit_result(int exit_code);

/* Whether t is a known snapshot type (manual, daily, pre_restore...). */
bool cli_snapshot_type_ok(const char *t);
/* Print a backup's summary (text, or JSON with --json); extra (may be
 * NULL) adds fields to the JSON object. */
void cli_backup_summary(cli *c, const arca_backup_result *res, void (*extra)(arca_json *j, void *payload),
			void *payload);

int cmd_init(cli *c, int argc, char **argv);
int cmd_key(cli *c, int argc, char **argv);
int cmd_backup(cli *c, int argc, char **argv);
int cmd_snapshots(cli *c, int argc, char **argv);
int cmd_ls(cli *c, int argc, char **argv);
int cmd_dump(cli *c, int argc, char **argv);
int cmd_restore(cli *c, int argc, char **argv);
int cmd_diff(cli *c, int argc, char **argv);
int cmd_stats(cli *c, int argc, char **argv);
int cmd_check(cli *c, int argc, char **argv);
int cmd_prune(cli *c, int argc, char **argv);
/* Run prune on r (the caller holds the right lock) and print its summary;
 * used by prune and by forget --prune. */
struct arca_prune_opts;
int cli_run_prune(cli *c, arca_repo *r, const arca_prune_opts *po);
int cmd_repair(cli *c, int argc, char **argv);
int cmd_unlock(cli *c, int argc, char **argv);
int cmd_forget(cli *c, int argc, char **argv);
int cmd_policy(cli *c, int argc, char **argv);
/* The keep options of forget and 'policy set' (--keep-last ...
 * --keep-tag) have getopt values from CLI_KEEP_OPT_BASE on. */
#define CLI_KEEP_OPT_BASE 1000
struct option;
/* out = the keep options then own (zero-terminated), at most cap entries. */
void cli_keep_options_merge(struct option *out, size_t cap, const struct option *own);
/* Apply keep option o (a cli_keep_options value) with arg to pol;
 * --keep-tag lists grow *tags (caller frees; pol points at it).  0, -1 when
 * o is not a keep option, or an exit code after printing the problem. */
int cli_keep_option(int o, const char *arg, arca_retention *pol, const char ***tags, size_t *ntags);
int cmd_log(cli *c, int argc, char **argv);
int cmd_pg(cli *c, int argc, char **argv);
int cmd_replicate(cli *c, int argc, char **argv);
int cmd_scrub(cli *c, int argc, char **argv);
int cmd_replicas(cli *c, int argc, char **argv);
/* Replicate r to url and print the summary (replicate, backup
 * --replicate-to); returns a status code (the error record is set). */
struct arca_replicate_opts;
int cli_replicate_to(cli *c, arca_repo *r, const char *url, const struct arca_replicate_opts *o);
/* Scrub repos[0..n) (urls name them in messages), print the findings and
 * return the exit code (scrub, check --repair-from). */
struct arca_scrub_opts;
int cli_run_scrub(cli *c, arca_repo *const *repos, const char *const *urls, size_t n,
		  const struct arca_scrub_opts *so);
/* Open another copy of the repository with the same password. */
int cli_open_other(cli *c, const char *url, arca_repo **out);
/* "--since" argument: a time, or a duration before now ("30d", "30d-ago").
 * ARCA_INVAL with a message otherwise. */
int cli_parse_since(const char *s, int64_t *out);
/* stats --history: per operation count, success rate, average duration
 * and size of the audit log entries since since_ns. */
int cli_stats_history(cli *c, arca_repo *r, int64_t since_ns);

#endif
