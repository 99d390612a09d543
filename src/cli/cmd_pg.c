/*
 * cli/cmd_pg.c - arca pg backup | restore | verify | drill: PostgreSQL
 * databases through pg_dump/psql (src/pg), with per-table row counts
 * recorded at backup time and checked after every restore.
 *
 * Exit codes: as every command, plus 13 when a restore, verify or drill
 * finds row counts that differ from the snapshot's.
 */
#include "cli/cli.h"
#include "pg/pg.h"
#include "pgsql/pgsql.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *pg_usage =
	"usage: arca pg backup --dsn URL [--database NAME | --all-databases] [--type T] [--tag T]...\n"
	"                      [--host H] [--expires DURATION] [--meta K=V]...\n"
	"       arca pg restore SNAP --dsn URL [--database NAME] [--create | --clean] [--no-safety-backup]\n"
	"       arca pg verify SNAP --dsn URL [--database NAME]\n"
	"       arca pg drill [SNAP] --dsn ADMIN_URL [--database NAME]\n"
	"URL: postgres://user:password@host:port/dbname or \"host=... dbname=...\"\n";

static void report_cb(const char *line, void *payload)
{
	(void)payload;
	fprintf(stderr, "difference: %s\n", line);
}

/* The newest PostgreSQL snapshot, or the one sel names. */
static int select_pg(cli *c, arca_repo *r, arca_snapshot_list *l, const char *sel, const arca_snapshot **out)
{
	size_t i;
	int rc;
	*out = NULL;
	if (sel && strcmp(sel, "latest"))
		return cli_select(c, r, l, sel, out);
	if ((rc = arca_snapshot_list_load(r, l)))
		return rc;
	for (i = l->n; i-- > 0;)
		if (arca_pg_is_snapshot(l->v[i]) && strcmp(l->v[i]->type ? l->v[i]->type : "", "pre_restore")) {
			*out = l->v[i];
			return 0;
		}
	return arca_error_set(ARCA_NOTFOUND, "no PostgreSQL snapshot in the repository");
}

static void backup_extra(arca_json *j, void *payload)
{
	const arca_pg_backup_result *res = payload;
	arca_json_kstr(j, "server_version", res->server_version);
	arca_json_kuint(j, "databases", res->databases);
	arca_json_kuint(j, "tables", res->tables);
	arca_json_kuint(j, "rows", res->rows);
	arca_json_kuint(j, "database_bytes", res->db_bytes);
}

static int pg_backup(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dsn", required_argument, 0, 'd' },     { "database", required_argument, 0, 'D' },
		{ "all-databases", no_argument, 0, 'A' }, { "type", required_argument, 0, 'T' },
		{ "tag", required_argument, 0, 't' },     { "host", required_argument, 0, 'H' },
		{ "expires", required_argument, 0, 'E' }, { "meta", required_argument, 0, 'm' },
		{ 0, 0, 0, 0 },
	};
	arca_pg_backup_opts po = ARCA_PG_BACKUP_OPTS_INIT;
	arca_pg_backup_result res;
	const char **tags = calloc((size_t)argc + 1, sizeof(char *));
	arca_kv *meta = calloc((size_t)argc + 1, sizeof(arca_kv));
	size_t ntags = 0, nmeta = 0, i;
	arca_repo *r = NULL;
	double t0 = arca_monotonic();
	int o, rc, code = EXIT_OK;
	char detail[256];

	memset(&res, 0, sizeof(res));
	if (!tags || !meta) {
		free(tags);
		free(meta);
		return EXIT_ERR;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': po.dsn = optarg; break;
		case 'D': po.database = optarg; break;
		case 'A': po.all_databases = true; break;
		case 'T':
			if (!cli_snapshot_type_ok(optarg)) {
				code = cli_usage("unknown --type '%s' (manual, daily, pre_migration, ...)", optarg);
				goto out;
			}
			po.type = optarg;
			break;
		case 't': tags[ntags++] = optarg; break;
		case 'H': po.host = optarg; break;
		case 'E': {
			int64_t d;
			if (arca_duration_parse(&d, optarg)) {
				code = cli_usage("%s", arca_error_message());
				goto out;
			}
			po.expires_ns = arca_time_now_ns() + d;
			break;
		}
		case 'm': {
			char *eq = strchr(optarg, '=');
			if (!eq || eq == optarg) {
				code = cli_usage("--meta takes KEY=VALUE");
				goto out;
			}
			meta[nmeta].key = strndup(optarg, (size_t)(eq - optarg));
			meta[nmeta++].value = eq + 1;
			break;
		}
		default: code = cli_usage("pg backup: unknown option\n%s", pg_usage); goto out;
		}
	}
	if (optind != argc || !po.dsn) {
		code = cli_usage("pg backup needs --dsn URL and no other arguments\n%s", pg_usage);
		goto out;
	}
	if (po.all_databases && po.database) {
		code = cli_usage("use either --database or --all-databases");
		goto out;
	}
	po.tags = tags;
	po.ntags = ntags;
	po.meta = meta;
	po.nmeta = nmeta;
	po.progress = cli_progress_cb;
	po.progress_payload = c;
	po.warn = cli_warn_cb;
	po.warn_payload = c;
	if ((rc = cli_open(c, &r))) {
		code = cli_fail_open(c, rc);
		goto out;
	}
	if ((rc = arca_repo_lock(r, false)) || (rc = arca_pg_backup(r, &po, &res))) {
		cli_progress_done(c);
		code = cli_fail(c, rc);
	} else {
		cli_progress_done(c);
		cli_backup_summary(c, &res.backup, backup_extra, &res);
		if (!c->json && c->verbose >= 0)
			printf("PostgreSQL %s: %u database(s), %llu table(s), %llu rows recorded\n", res.server_version,
			       res.databases, (unsigned long long)res.tables, (unsigned long long)res.rows);
	}
	snprintf(detail, sizeof(detail), "postgres: %u database(s), %llu table(s)", res.databases,
		 (unsigned long long)res.tables);
	cli_audit(c, r, "backup", t0, code, &res.backup.snapshot_id, code == EXIT_OK, res.backup.stats.bytes_added,
		  NULL, detail);
out:
	arca_repo_close(r);
	for (i = 0; i < nmeta; i++)
		free(meta[i].key);
	free(meta);
	free(tags);
	return code;
}

/* restore, verify and drill share their options */
typedef struct pg_args {
	const char *dsn, *database, *snap;
	bool create, clean, no_safety;
} pg_args;

static int parse_args(int argc, char **argv, pg_args *a, bool restore, bool snap_required)
{
	static const struct option opts[] = {
		{ "dsn", required_argument, 0, 'd' },   { "database", required_argument, 0, 'D' },
		{ "create", no_argument, 0, 'c' },      { "clean", no_argument, 0, 'C' },
		{ "no-safety-backup", no_argument, 0, 'N' }, { 0, 0, 0, 0 },
	};
	int o;
	memset(a, 0, sizeof(*a));
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': a->dsn = optarg; break;
		case 'D': a->database = optarg; break;
		case 'c': a->create = true; break;
		case 'C': a->clean = true; break;
		case 'N': a->no_safety = true; break;
		default: return cli_usage("pg %s: unknown option\n%s", argv[0], pg_usage);
		}
		if (!restore && (o == 'c' || o == 'C' || o == 'N'))
			return cli_usage("pg %s: --create, --clean and --no-safety-backup are restore options", argv[0]);
	}
	if (optind < argc)
		a->snap = argv[optind++];
	if (optind != argc || !a->dsn || (snap_required && !a->snap))
		return cli_usage("pg %s: wrong arguments\n%s", argv[0], pg_usage);
	return 0;
}

static void verify_json(arca_json *j, const arca_pg_verify_result *v)
{
	arca_json_kuint(j, "tables_verified", v->tables);
	arca_json_kuint(j, "rows", v->rows);
	arca_json_kuint(j, "differences", v->mismatches);
}

static int pg_restore(cli *c, int argc, char **argv)
{
	arca_pg_restore_opts ro = ARCA_PG_RESTORE_OPTS_INIT;
	arca_pg_restore_result res;
	arca_snapshot_list l = { 0 };
	const arca_snapshot *s = NULL;
	arca_repo *r = NULL;
	pg_args a;
	double t0 = arca_monotonic();
	char detail[600], *red = NULL, hex[65];
	int rc, code = EXIT_OK;
	arca_id ids[2];

	memset(&res, 0, sizeof(res));
	if ((code = parse_args(argc, argv, &a, true, true)))
		return code;
	if (a.create && a.clean)
		return cli_usage("use either --create (new database) or --clean (replace a database's contents)");
	ro.dsn = a.dsn;
	ro.database = a.database;
	ro.create = a.create;
	ro.clean = a.clean;
	ro.safety_backup = !a.no_safety;
	ro.report = report_cb;
	ro.warn = cli_warn_cb;
	ro.warn_payload = c;
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = arca_repo_lock(r, false)) || (rc = cli_select(c, r, &l, a.snap, &s)) ||
	    (rc = arca_pg_restore(r, s, &ro, &res))) {
		code = cli_fail(c, rc);
	} else {
		if (res.verify.mismatches)
			code = EXIT_DAMAGE;
		if (c->json) {
			arca_buf b = ARCA_BUF_INIT;
			arca_json j;
			cli_json_obj_begin(&j, &b, "summary");
			arca_id_hex(hex, &s->id);
			arca_json_kstr(&j, "snapshot_id", hex);
			if (res.safety_taken) {
				arca_id_hex(hex, &res.safety_id);
				arca_json_kstr(&j, "safety_snapshot_id", hex);
			}
			arca_json_kuint(&j, "databases", res.databases);
			arca_json_kuint(&j, "bytes_restored", res.bytes);
			verify_json(&j, &res.verify);
			arca_json_kdouble(&j, "duration_seconds", arca_monotonic() - t0);
			cli_json_obj_end(&j);
		} else if (c->verbose >= 0) {
			char by[32], sid[9];
			arca_snapshot_short_id(sid, s);
			cli_fmt_bytes(by, sizeof(by), res.bytes);
			if (res.safety_taken) {
				arca_id_hex(hex, &res.safety_id);
				printf("safety backup of the target: snapshot %.8s\n", hex);
			}
			printf("restored snapshot %s: %u database(s), %s of SQL in %.2f s\n", sid, res.databases, by,
			       arca_monotonic() - t0);
			printf("verified %llu table(s), %llu rows: %s\n", (unsigned long long)res.verify.tables,
			       (unsigned long long)res.verify.rows,
			       res.verify.mismatches ? "ROW COUNTS DIFFER (see above)" : "row counts match the snapshot");
		}
		if (res.verify.mismatches)
			fprintf(stderr, "error: %llu difference(s) between the restored data and the snapshot\n",
				(unsigned long long)res.verify.mismatches);
	}
	red = arca_pgsql_dsn_redact(a.dsn);
	snprintf(detail, sizeof(detail), "postgres target %s%s", red ? red : "", res.safety_taken ? " (safety backup taken)" : "");
	if (s)
		ids[0] = s->id;
	if (res.safety_taken)
		ids[s ? 1 : 0] = res.safety_id;
	cli_audit(c, r, "restore", t0, code, ids, (s ? 1u : 0u) + (res.safety_taken ? 1u : 0u), res.bytes,
		  res.verify.mismatches ? "row counts differ from the snapshot" : NULL, detail);
	free(red);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}

static int pg_verify(cli *c, int argc, char **argv)
{
	arca_snapshot_list l = { 0 };
	const arca_snapshot *s = NULL;
	arca_repo *r = NULL;
	arca_pg_verify_result v;
	pg_args a;
	double t0 = arca_monotonic();
	int rc, code = EXIT_OK;

	memset(&v, 0, sizeof(v));
	if ((code = parse_args(argc, argv, &a, false, true)))
		return code;
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = cli_select(c, r, &l, a.snap, &s)))
		goto fail;
	if ((rc = arca_pg_verify(s, a.database, a.dsn, NULL, report_cb, NULL, &v)))
		goto fail;
	if (v.mismatches) {
		fprintf(stderr, "error: %llu difference(s) between the database and the snapshot\n",
			(unsigned long long)v.mismatches);
		code = EXIT_DAMAGE;
	}
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &b, "summary");
		verify_json(&j, &v);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		printf("verified %llu table(s), %llu rows: %s\n", (unsigned long long)v.tables, (unsigned long long)v.rows,
		       v.mismatches ? "ROW COUNTS DIFFER" : "row counts match the snapshot");
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	cli_audit(c, r, "verify", t0, code, s ? &s->id : NULL, s ? 1 : 0, 0,
		  v.mismatches ? "row counts differ from the snapshot" : NULL, NULL);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}

static int pg_drill(cli *c, int argc, char **argv)
{
	arca_snapshot_list l = { 0 };
	const arca_snapshot *s = NULL;
	arca_repo *r = NULL;
	arca_pg_drill_result d;
	pg_args a;
	double t0 = arca_monotonic();
	char detail[512], hex[65];
	int rc, code = EXIT_OK;

	memset(&d, 0, sizeof(d));
	if ((code = parse_args(argc, argv, &a, false, false)))
		return code;
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = arca_repo_lock(r, false)) || (rc = select_pg(c, r, &l, a.snap, &s)) ||
	    (rc = arca_pg_drill(r, s, a.database, a.dsn, report_cb, NULL, &d))) {
		code = cli_fail(c, rc);
	} else {
		if (d.verify.mismatches) {
			fprintf(stderr, "error: drill found %llu difference(s) between the restored data and the snapshot\n",
				(unsigned long long)d.verify.mismatches);
			code = EXIT_DAMAGE;
		}
		arca_id_hex(hex, &s->id);
		if (c->json) {
			arca_buf b = ARCA_BUF_INIT;
			arca_json j;
			cli_json_obj_begin(&j, &b, "summary");
			arca_json_kstr(&j, "snapshot_id", hex);
			arca_json_kstr(&j, "result", code == EXIT_OK ? "ok" : "damage");
			arca_json_kuint(&j, "databases", d.databases);
			arca_json_kuint(&j, "bytes_restored", d.bytes);
			verify_json(&j, &d.verify);
			arca_json_kdouble(&j, "recovery_seconds", d.seconds);
			cli_json_obj_end(&j);
		} else if (c->verbose >= 0) {
			printf("drill of snapshot %.8s: %u database(s) restored into scratch databases and verified "
			       "(%llu tables, %llu rows) in %.2f s: %s\n",
			       hex, d.databases, (unsigned long long)d.verify.tables, (unsigned long long)d.verify.rows,
			       d.seconds, code == EXIT_OK ? "ok" : "ROW COUNTS DIFFER");
		}
	}
	snprintf(detail, sizeof(detail), "recovery time %.2f s, %u database(s), %llu table(s) verified%s", d.seconds,
		 d.databases, (unsigned long long)d.verify.tables, d.verify.mismatches ? ", row counts differ" : "");
	cli_audit(c, r, "drill", t0, code, s ? &s->id : NULL, s ? 1 : 0, d.bytes,
		  d.verify.mismatches ? "row counts differ from the snapshot" : NULL, detail);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}

int cmd_pg(cli *c, int argc, char **argv)
{
	/* a psql that dies must give an error, not kill arca with SIGPIPE */
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(pg_usage, stderr);
		return EXIT_USAGE;
	}
	optind = 0;
	if (!strcmp(argv[1], "backup"))
		return pg_backup(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "restore"))
		return pg_restore(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "verify"))
		return pg_verify(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "drill"))
		return pg_drill(c, argc - 1, argv + 1);
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help")) {
		fputs(pg_usage, stdout);
		return EXIT_OK;
	}
	return cli_usage("unknown pg command '%s'\n%s", argv[1], pg_usage);
}
