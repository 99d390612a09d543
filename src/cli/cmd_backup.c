/*
 * cli/cmd_backup.c - arca backup: paths, --stdin, --stdin-from-command.
 */
#include "cli/cli.h"
#include "replica/replica.h"
#include "util/buf.h"
#include "util/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const snapshot_types[] = {
	"manual", "automatic", "scheduled", "daily", "pre_disconnect", "pre_migration", "pre_restore", NULL,
};

bool cli_snapshot_type_ok(const char *t)
{
	size_t i;
	for (i = 0; snapshot_types[i]; i++)
		if (!strcmp(snapshot_types[i], t))
			return true;
	return false;
}

void cli_backup_summary(cli *c, const arca_backup_result *res, void (*extra)(arca_json *j, void *payload),
			void *payload)
{
	char hex[65];
	arca_id_hex(hex, &res->snapshot_id);
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &b, "summary");
		arca_json_kstr(&j, "snapshot_id", hex);
		if (res->has_parent) {
			char ph[65];
			arca_id_hex(ph, &res->parent);
			arca_json_kstr(&j, "parent", ph);
		}
		arca_json_kuint(&j, "files_new", res->stats.files_new);
		arca_json_kuint(&j, "files_changed", res->stats.files_changed);
		arca_json_kuint(&j, "files_unmodified", res->stats.files_unmodified);
		arca_json_kuint(&j, "dirs", res->stats.dirs);
		arca_json_kuint(&j, "total_bytes", res->stats.bytes_total);
		arca_json_kuint(&j, "bytes_read", res->stats.bytes_read);
		arca_json_kuint(&j, "blobs_added", res->stats.blobs_new);
		arca_json_kuint(&j, "data_added", res->stats.bytes_added_raw);
		arca_json_kuint(&j, "data_added_packed", res->stats.bytes_added);
		arca_json_kdouble(&j, "duration_seconds", (double)res->stats.duration_ms / 1000.0);
		arca_json_kuint(&j, "errors", res->stats.errors);
		if (extra)
			extra(&j, payload);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		char tot[32], rd[32], add[32], packed[32];
		cli_fmt_bytes(tot, sizeof(tot), res->stats.bytes_total);
		cli_fmt_bytes(rd, sizeof(rd), res->stats.bytes_read);
		cli_fmt_bytes(add, sizeof(add), res->stats.bytes_added_raw);
		cli_fmt_bytes(packed, sizeof(packed), res->stats.bytes_added);
		printf("files: %llu new, %llu changed, %llu unmodified; %llu dirs\n",
		       (unsigned long long)res->stats.files_new, (unsigned long long)res->stats.files_changed,
		       (unsigned long long)res->stats.files_unmodified, (unsigned long long)res->stats.dirs);
		printf("processed %s, read %s, added %s (%s stored) in %.2f s\n", tot, rd, add, packed,
		       (double)res->stats.duration_ms / 1000.0);
		printf("snapshot %.8s saved\n", hex);
	}
}

typedef struct strv {
	const char **v;
	size_t n, cap;
} strv;

static int strv_push(strv *s, const char *x)
{
	if (arca_grow(&s->v, &s->cap, s->n + 1, sizeof(*s->v), 8))
		return -1;
	s->v[s->n++] = x;
	return 0;
}

typedef struct child_cmd {
	pid_t pid;
	char *const *argv;
} child_cmd;

static int wait_command(void *payload)
{
	child_cmd *cc = payload;
	int status;
	if (cc->pid <= 0)
		return 0;
	while (waitpid(cc->pid, &status, 0) < 0) {
		if (errno != EINTR)
			return arca_error_errno(errno, "cannot wait for %s", cc->argv[0]);
	}
	cc->pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status))
		return arca_error_set(ARCA_ERROR, "command '%s' exited with status %d: no snapshot was saved",
				      cc->argv[0], WEXITSTATUS(status));
	return arca_error_set(ARCA_ERROR, "command '%s' was killed by signal %d: no snapshot was saved",
			      cc->argv[0], WTERMSIG(status));
}

int cmd_backup(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdin", no_argument, 0, 's' },
		{ "stdin-name", required_argument, 0, 'N' },
		{ "stdin-from-command", no_argument, 0, 'X' },
		{ "exclude", required_argument, 0, 'e' },
		{ "tag", required_argument, 0, 't' },
		{ "host", required_argument, 0, 'H' },
		{ "type", required_argument, 0, 'T' },
		{ "time", required_argument, 0, 'w' },
		{ "expires", required_argument, 0, 'E' },
		{ "meta", required_argument, 0, 'm' },
		{ "parent", required_argument, 0, 'P' },
		{ "force", no_argument, 0, 'f' },
		{ "threads", required_argument, 0, 'j' },
		{ "replicate-to", required_argument, 0, 'R' },
		{ 0, 0, 0, 0 },
	};
	arca_backup_opts bo = ARCA_BACKUP_OPTS_INIT;
	arca_backup_result res;
	strv excludes = { 0 }, tags = { 0 }, owned = { 0 }, replicas = { 0 };
	arca_kv *meta = NULL;
	size_t nmeta = 0, i;
	bool use_stdin = false, from_cmd = false;
	const char *stdin_name = NULL, *parent_sel = NULL, *expires = NULL;
	child_cmd cc = { 0, NULL };
	arca_repo *r = NULL;
	arca_snapshot_list l = { 0 };
	arca_id parent_id;
	int o, rc, code = EXIT_OK, pipefd[2] = { -1, -1 };
	double t0 = arca_monotonic();

	memset(&res, 0, sizeof(res));

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': use_stdin = true; break;
		case 'N': stdin_name = optarg; break;
		case 'X': from_cmd = true; break;
		case 'e': strv_push(&excludes, optarg); break;
		case 't': {
			char *save = NULL, *tok, *copy = strdup(optarg);
			if (!copy || strv_push(&owned, copy))
				return EXIT_ERR;
			for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				strv_push(&tags, tok);
			break;
		}
		case 'H': bo.host = optarg; break;
		case 'T':
			if (!cli_snapshot_type_ok(optarg))
				return cli_usage("unknown --type '%s' (manual, automatic, scheduled, daily, "
						 "pre_disconnect, pre_migration, pre_restore)", optarg);
			bo.type = optarg;
			break;
		case 'w':
			if (arca_time_parse(&bo.time_ns, optarg))
				return cli_usage("%s", arca_error_message());
			break;
		case 'E': expires = optarg; break;
		case 'm': {
			char *eq = strchr(optarg, '=');
			arca_kv *nv;
			if (!eq || eq == optarg)
				return cli_usage("--meta takes KEY=VALUE");
			nv = realloc(meta, (nmeta + 1) * sizeof(*nv));
			if (!nv)
				return EXIT_ERR;
			meta = nv;
			meta[nmeta].key = strndup(optarg, (size_t)(eq - optarg));
			meta[nmeta].value = eq + 1;
			nmeta++;
			break;
		}
		case 'P': parent_sel = optarg; break;
		case 'f': bo.no_parent = true; break;
		case 'j': bo.threads = (unsigned)atoi(optarg); break;
		case 'R': strv_push(&replicas, optarg); break;
		default: return cli_usage("backup: unknown option");
		}
	}
	if (use_stdin && from_cmd)
		return cli_usage("use either --stdin or --stdin-from-command");
	if (from_cmd && optind >= argc)
		return cli_usage("--stdin-from-command needs a command: backup --stdin-from-command -- CMD ARGS...");
	if (!use_stdin && !from_cmd && optind >= argc)
		return cli_usage("backup needs paths, --stdin or --stdin-from-command");
	if (use_stdin && optind < argc)
		return cli_usage("--stdin takes no paths");
	if (expires) {
		int64_t d;
		if (arca_duration_parse(&d, expires))
			return cli_usage("%s", arca_error_message());
		bo.expires_ns = (bo.time_ns ? bo.time_ns : arca_time_now_ns()) + d;
	}

	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = arca_repo_lock(r, false)))
		goto fail;
	if (parent_sel) {
		const arca_snapshot *ps;
		if ((rc = cli_select(c, r, &l, parent_sel, &ps)))
			goto fail;
		parent_id = ps->id;
		bo.parent = &parent_id;
	}

	if (from_cmd) {
		if (pipe(pipefd)) {
			rc = arca_error_errno(errno, "cannot create a pipe");
			goto fail;
		}
		cc.argv = argv + optind;
		cc.pid = fork();
		if (cc.pid < 0) {
			rc = arca_error_errno(errno, "cannot start %s", argv[optind]);
			goto fail;
		}
		if (cc.pid == 0) {
			dup2(pipefd[1], 1);
			close(pipefd[0]);
			close(pipefd[1]);
			execvp(argv[optind], argv + optind);
			fprintf(stderr, "arca: cannot run %s: %s\n", argv[optind], strerror(errno));
			_exit(127);
		}
		close(pipefd[1]);
		pipefd[1] = -1;
		bo.stdin_fd = pipefd[0];
		bo.stdin_name = stdin_name ? stdin_name : strrchr(argv[optind], '/') ? strrchr(argv[optind], '/') + 1
											: argv[optind];
		bo.before_commit = wait_command;
		bo.commit_payload = &cc;
	} else if (use_stdin) {
		bo.stdin_fd = 0;
		bo.stdin_name = stdin_name ? stdin_name : "stdin";
	} else {
		bo.paths = (const char *const *)argv + optind;
		bo.npaths = (size_t)(argc - optind);
	}
	bo.excludes = excludes.v;
	bo.nexcludes = excludes.n;
	bo.tags = tags.v;
	bo.ntags = tags.n;
	bo.meta = meta;
	bo.nmeta = nmeta;
	bo.progress = cli_progress_cb;
	bo.progress_payload = c;
	bo.warn = cli_warn_cb;
	bo.warn_payload = c;

	rc = arca_backup(r, &bo, &res);
	cli_progress_done(c);
	if (rc)
		goto fail;
	cli_backup_summary(c, &res, NULL, NULL);
	if (res.stats.errors) {
		fprintf(stderr, "warning: %llu source(s) could not be read; the snapshot lacks them\n",
			(unsigned long long)res.stats.errors);
		code = EXIT_PARTIAL;
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	if (cc.pid > 0) {
		kill(cc.pid, SIGTERM);
		waitpid(cc.pid, NULL, 0);
	}
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	/* a snapshot was saved unless the backup failed */
	cli_audit(c, r, "backup", t0, code, &res.snapshot_id, code == EXIT_OK || code == EXIT_PARTIAL,
		  res.stats.bytes_added, NULL, NULL);
	/* the snapshot is committed: now its replicas (each gets everything
	 * it lacks, this backup's audit entry included) */
	for (i = 0; i < replicas.n && (code == EXIT_OK || code == EXIT_PARTIAL); i++) {
		arca_replicate_opts ro;
		char hex[65];
		memset(&ro, 0, sizeof(ro));
		arca_id_hex(hex, &res.snapshot_id);
		if ((rc = cli_replicate_to(c, r, replicas.v[i], &ro))) {
			arca_error_prefix(rc, "snapshot %.8s is saved, but replicating it to %s failed", hex,
					  replicas.v[i]);
			code = cli_fail(c, rc);
		}
	}
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	for (i = 0; i < nmeta; i++)
		free(meta[i].key);
	free(meta);
	free(excludes.v);
	free(tags.v);
	free(replicas.v);
	for (i = 0; i < owned.n; i++)
		free((char *)owned.v[i]);
	free(owned.v);
	return code;
}
