/*
 * cli/cli_audit.c - recording one audit log entry per command.
 *
 * Commands call cli_audit() once, at their end, with the exit code they
 * are about to return.  Recording never changes that exit code: a failure
 * to append is a warning.  A command that could not open the repository
 * (no repository, wrong password) records nothing: there is no key.
 * With -v it also reports what the command asked of the storage backend
 * (requests, retries of transient failures, bytes), last thing before the
 * command ends.
 */
#include "cli/cli.h"
#include "backend/backend.h"
#include "util/timefmt.h"

#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *cli_audit_result(int exit_code)
{
	switch (exit_code) {
	case EXIT_OK: return "ok";
	case EXIT_PARTIAL: return "partial";
	case EXIT_DAMAGE: return "damage";
	default: return "failed";
	}
}

void cli_audit(cli *c, arca_repo *r, const char *op, double t0, int exit_code, const arca_id *snaps,
	       size_t nsnaps, uint64_t bytes, const char *error, const char *detail)
{
	arca_audit_entry e;
	struct passwd *pw = getpwuid(getuid());
	char host[256], *err = NULL, *saved_msg = NULL, *saved_hint = NULL;
	int saved_code = arca_error_code();
	double secs = arca_monotonic() - t0;
	if (!r)
		return;
	/* the caller may still print the current error record: keep it */
	if (saved_code) {
		saved_msg = strdup(arca_error_message());
		saved_hint = strdup(arca_error_hint_text());
	}
	memset(&e, 0, sizeof(e));
	if (secs < 0)
		secs = 0;
	/* the message of the failure, taken before appending can replace it */
	if (exit_code != EXIT_OK && exit_code != EXIT_PARTIAL && exit_code != EXIT_DAMAGE) {
		if (!error && arca_error_code())
			error = arca_error_message();
		err = error ? strdup(error) : NULL;
	}
	if (gethostname(host, sizeof(host)))
		strcpy(host, "unknown");
	host[sizeof(host) - 1] = '\0';
	e.duration_ms = (uint64_t)(secs * 1000.0);
	e.time_ns = arca_time_now_ns() - (int64_t)(secs * 1e9);
	e.host = host;
	e.user = pw ? pw->pw_name : (char *)"";
	e.op = (char *)op;
	e.result = (char *)cli_audit_result(exit_code);
	e.snapshots = (arca_id *)snaps;
	e.nsnapshots = snaps ? nsnaps : 0;
	e.bytes = bytes;
	e.error = err;
	e.detail = (char *)detail;
	e.exit_code = (uint32_t)exit_code;
	if (arca_audit_append(r, &e)) {
		if (c && c->progress)
			fputs("\r\033[K", stderr);
		fprintf(stderr, "warning: could not record the %s in the audit log: %s\n", op, arca_error_message());
	}
	free(err);
	if (c && c->verbose >= 1) {
		arca_be_stats st;
		char in[32], out[32];
		arca_be_stats_get(arca_repo_backend(r), &st);
		cli_fmt_bytes(in, sizeof(in), st.bytes_in);
		cli_fmt_bytes(out, sizeof(out), st.bytes_out);
		fprintf(stderr, "backend %s: %llu requests, %llu retries, %s read, %s written\n",
			arca_be_location(arca_repo_backend(r)), (unsigned long long)st.requests,
			(unsigned long long)st.retries, in, out);
	}
	if (saved_code && saved_msg) {
		arca_error_set(saved_code, "%s", saved_msg);
		if (saved_hint && *saved_hint)
			arca_error_hint(saved_code, "%s", saved_hint);
	}
	free(saved_msg);
	free(saved_hint);
}
