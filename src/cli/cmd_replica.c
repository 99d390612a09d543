/*
 * cli/cmd_replica.c - arca replicate, arca scrub, arca replicas.
 *
 *   replicate --to REPO [--to REPO]... [--connections N] [--limit-upload RATE]
 *             [--verify] [--dry-run]
 *   scrub --replica REPO [--replica REPO]... [--connections N] [--dry-run]
 *   replicas status [--replica REPO]... [--read-data]
 *   replicas list
 *
 * Every other repository is opened with the same password (a replica has
 * the same keys).  replicas status with no --replica uses the replicas
 * this machine has replicated to (remembered in the cache directory).
 */
#include "cli/cli.h"
#include "replica/replica.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

enum { O_TO = 1000, O_CONN, O_LIMIT, O_VERIFY, O_DRY, O_REPLICA, O_READ };

/* "--limit-upload": KiB/s as restic takes it, or with a unit: 500K, 20M, 1G
 * (bytes per second in KiB, MiB, GiB). */
static int parse_rate(const char *s, uint64_t *out)
{
	char *end;
	double v = strtod(s, &end), mul = 1024;
	if (end == s || v <= 0)
		return -1;
	if (*end == 'k' || *end == 'K')
		end++;
	else if (*end == 'm' || *end == 'M')
		mul = 1024.0 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mul = 1024.0 * 1024 * 1024, end++;
	if (!strcmp(end, "/s") || !strcmp(end, "iB/s") || !strcmp(end, "B/s"))
		end += strlen(end);
	if (*end)
		return -1;
	*out = (uint64_t)(v * mul);
	return *out ? 0 : -1;
}

static int parse_connections(const char *s, unsigned *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 1 || v > 64)
		return -1;
	*out = (unsigned)v;
	return 0;
}

int cli_open_other(cli *c, const char *url, arca_repo **out)
{
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	int rc;
	oo.cache_dir = c->cache_dir;
	oo.warn = cli_warn_cb;
	oo.warn_payload = c;
	if ((rc = arca_repo_open(out, url, c->password, &oo)))
		rc = arca_error_prefix(rc, "%s", url);
	return rc;
}

static void xfer_progress(const arca_progress *p, void *payload)
{
	cli_progress_line(payload, p, "", "%s: %llu objects", p->current ? p->current : "",
			  (unsigned long long)p->files);
}

/* ---- replicate ---- */

int cli_replicate_to(cli *c, arca_repo *r, const char *url, const arca_replicate_opts *o_in)
{
	arca_replicate_opts o = *o_in;
	arca_replicate_opts *op = &o;
	arca_replicate_result res;
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	char detail[512], b[32];
	double t0 = arca_monotonic();
	int rc;
	oo.cache_dir = c->cache_dir;
	oo.warn = cli_warn_cb;
	oo.warn_payload = c;
	op->progress = xfer_progress;
	op->progress_payload = c;
	rc = arca_replicate(r, url, c->password, &oo, op, &res);
	cli_progress_done(c);
	if (!o.dry_run) {
		snprintf(detail, sizeof(detail), "to %s: %llu objects copied", url,
			 (unsigned long long)res.objects_copied);
		cli_audit(c, r, "replicate", t0, rc ? EXIT_ERR : EXIT_OK, NULL, 0, res.bytes_copied, NULL, detail);
		if (!rc && arca_replicas_remember(r, url)) /* only a convenience for 'replicas status' */
			arca_error_clear();
	}
	if (rc)
		return rc;
	if (c->json) {
		arca_buf jb = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &jb, NULL);
		arca_json_kstr(&j, "to", url);
		arca_json_kbool(&j, "dry_run", o.dry_run);
		arca_json_kbool(&j, "created", res.created);
		arca_json_kuint(&j, "objects_source", res.objects_source);
		arca_json_kuint(&j, "objects_present", res.objects_present);
		arca_json_kuint(&j, "objects_copied", res.objects_copied);
		arca_json_kuint(&j, "bytes_copied", res.bytes_copied);
		arca_json_kuint(&j, "objects_verified", res.objects_verified);
		arca_json_kuint(&j, "packs_copied", res.packs_copied);
		arca_json_kuint(&j, "index_copied", res.index_copied);
		arca_json_kuint(&j, "snapshots_copied", res.snapshots_copied);
		arca_json_kuint(&j, "other_copied", res.other_copied);
		arca_json_kdouble(&j, "seconds", res.seconds);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		cli_fmt_bytes(b, sizeof(b), res.bytes_copied);
		printf("%s %s: %s%llu objects (%s) %s: %llu packs, %llu index files, %llu snapshots, %llu other; "
		       "%llu already there; %.1f s\n",
		       o.dry_run ? "would replicate to" : "replicated to", url, res.created ? "new replica, " : "",
		       (unsigned long long)res.objects_copied, b, o.dry_run ? "would be copied" : "copied",
		       (unsigned long long)res.packs_copied, (unsigned long long)res.index_copied,
		       (unsigned long long)res.snapshots_copied, (unsigned long long)res.other_copied,
		       (unsigned long long)res.objects_present, res.seconds);
		if (res.objects_verified)
			printf("%llu objects read back and verified\n", (unsigned long long)res.objects_verified);
	}
	return 0;
}

int cmd_replicate(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "to", required_argument, 0, O_TO },
		{ "connections", required_argument, 0, O_CONN },
		{ "limit-upload", required_argument, 0, O_LIMIT },
		{ "verify", no_argument, 0, O_VERIFY },
		{ "dry-run", no_argument, 0, O_DRY },
		{ 0, 0, 0, 0 },
	};
	arca_replicate_opts ro;
	const char **to = NULL;
	size_t nto = 0, i;
	arca_repo *r = NULL;
	int o, rc = 0, code = EXIT_OK;
	memset(&ro, 0, sizeof(ro));
	if (!(to = calloc((size_t)argc + 1, sizeof(*to))))
		return EXIT_ERR;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_TO: to[nto++] = optarg; break;
		case O_CONN:
			if (parse_connections(optarg, &ro.connections)) {
				free(to);
				return cli_usage("--connections takes a number from 1 to 64");
			}
			break;
		case O_LIMIT:
			if (parse_rate(optarg, &ro.limit_bytes_per_sec)) {
				free(to);
				return cli_usage("--limit-upload takes KiB/s, or a rate like 500K, 20M, 1G");
			}
			break;
		case O_VERIFY: ro.verify = true; break;
		case O_DRY: ro.dry_run = true; break;
		default: free(to); return cli_usage("usage: arca replicate --to REPO [--to REPO]... [--connections N] "
						    "[--limit-upload RATE] [--verify] [--dry-run]");
		}
	}
	if (!nto || optind != argc) {
		free(to);
		return cli_usage("usage: arca replicate --to REPO [--to REPO]... [--connections N] "
				 "[--limit-upload RATE] [--verify] [--dry-run]");
	}
	if ((rc = cli_open(c, &r))) {
		free(to);
		return cli_fail_open(c, rc);
	}
	for (i = 0; i < nto && code == EXIT_OK; i++)
		if ((rc = cli_replicate_to(c, r, to[i], &ro)))
			code = cli_fail(c, rc);
	arca_repo_close(r);
	free(to);
	return code;
}

/* ---- scrub ---- */

int cli_run_scrub(cli *c, arca_repo *const *repos, const char *const *urls, size_t n, const arca_scrub_opts *so_in)
{
	arca_scrub_opts so = *so_in;
	arca_scrub_result res;
	size_t i;
	int rc, code = EXIT_OK;
	double t0 = arca_monotonic();
	memset(&res, 0, sizeof(res));
	so.progress = xfer_progress;
	so.progress_payload = c;
	rc = arca_scrub(repos, n, &so, &res);
	cli_progress_done(c);
	if (rc) {
		code = cli_fail(c, rc);
		goto audit;
	}
	if (res.unrepaired)
		code = EXIT_DAMAGE;
	if (c->json) {
		arca_buf jb = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &jb, NULL);
		arca_json_kbool(&j, "dry_run", so.dry_run);
		arca_json_key(&j, "copies");
		arca_json_arr_begin(&j);
		for (i = 0; i < n; i++) {
			const arca_scrub_copy *cp = &res.copies[i];
			arca_json_obj_begin(&j);
			arca_json_kstr(&j, "repository", urls[i]);
			arca_json_kuint(&j, "objects_checked", cp->objects_checked);
			arca_json_kuint(&j, "bytes_checked", cp->bytes_checked);
			arca_json_kuint(&j, "missing", cp->missing);
			arca_json_kuint(&j, "damaged", cp->damaged);
			arca_json_kuint(&j, "repaired", cp->repaired);
			arca_json_kuint(&j, "not_replicated", cp->not_replicated);
			arca_json_obj_end(&j);
		}
		arca_json_arr_end(&j);
		arca_json_key(&j, "findings");
		arca_json_arr_begin(&j);
		for (i = 0; i < res.nfindings; i++) {
			const arca_scrub_finding *f = &res.findings[i];
			arca_json_obj_begin(&j);
			arca_json_kstr(&j, "repository", urls[f->repo]);
			arca_json_kstr(&j, "key", f->key);
			arca_json_kstr(&j, "problem", f->missing ? "missing" : "damaged");
			if (f->repaired_from >= 0)
				arca_json_kstr(&j, "repaired_from", urls[f->repaired_from]);
			else
				arca_json_key(&j, "repaired_from"), arca_json_null(&j);
			arca_json_obj_end(&j);
		}
		arca_json_arr_end(&j);
		arca_json_kuint(&j, "unrepaired", res.unrepaired);
		arca_json_kdouble(&j, "seconds", res.seconds);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		for (i = 0; i < res.nfindings; i++) {
			const arca_scrub_finding *f = &res.findings[i];
			printf("%s: %s %s", urls[f->repo], f->key, f->missing ? "is missing" : "is damaged");
			if (f->repaired_from >= 0)
				printf(", repaired from %s\n", urls[f->repaired_from]);
			else
				printf(so.dry_run ? "\n" : ", NOT repaired: no good copy anywhere\n");
		}
		for (i = 0; i < n; i++) {
			const arca_scrub_copy *cp = &res.copies[i];
			char b[32];
			cli_fmt_bytes(b, sizeof(b), cp->bytes_checked);
			printf("%s: %llu objects (%s) verified, %llu missing, %llu damaged, %llu repaired", urls[i],
			       (unsigned long long)cp->objects_checked, b, (unsigned long long)cp->missing,
			       (unsigned long long)cp->damaged, (unsigned long long)cp->repaired);
			if (cp->not_replicated)
				printf("; %llu objects of other copies not replicated here (run replicate)",
				       (unsigned long long)cp->not_replicated);
			printf("\n");
		}
		if (res.unrepaired)
			printf("%llu problem(s) %s\n", (unsigned long long)res.unrepaired,
			       so.dry_run ? "found (dry run: nothing repaired)" : "could not be repaired");
		else
			printf("%s\n", res.nfindings ? "every problem was repaired" : "no problems found");
	}
audit:
	if (!so.dry_run) {
		char detail[128];
		snprintf(detail, sizeof(detail), "%zu copies, %zu problems, %llu unrepaired", n, res.nfindings,
			 (unsigned long long)res.unrepaired);
		for (i = 0; i < n; i++)
			cli_audit(c, repos[i], "scrub", t0, code, NULL, 0, 0, NULL, detail);
	}
	arca_scrub_result_free(&res);
	return code;
}

int cmd_scrub(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replica", required_argument, 0, O_REPLICA },
		{ "connections", required_argument, 0, O_CONN },
		{ "dry-run", no_argument, 0, O_DRY },
		{ 0, 0, 0, 0 },
	};
	static const char usage[] = "usage: arca scrub --replica REPO [--replica REPO]... [--connections N] [--dry-run]";
	arca_scrub_opts so;
	arca_repo **repos;
	size_t n = 1, i;
	int o, rc = 0, code = EXIT_OK;
	const char **urls = calloc((size_t)argc + 2, sizeof(*urls));
	memset(&so, 0, sizeof(so));
	repos = calloc((size_t)argc + 2, sizeof(*repos));
	if (!urls || !repos) {
		free(urls);
		free(repos);
		return EXIT_ERR;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_REPLICA: urls[n++] = optarg; break;
		case O_CONN:
			if (parse_connections(optarg, &so.connections)) {
				code = cli_usage("--connections takes a number from 1 to 64");
				goto out;
			}
			break;
		case O_DRY: so.dry_run = true; break;
		default: code = cli_usage("%s", usage); goto out;
		}
	}
	if (n < 2 || optind != argc) {
		code = cli_usage("%s", usage);
		goto out;
	}
	if ((rc = cli_open(c, &repos[0]))) {
		code = cli_fail_open(c, rc);
		goto out;
	}
	urls[0] = c->repo;
	for (i = 1; i < n; i++)
		if ((rc = cli_open_other(c, urls[i], &repos[i]))) {
			code = cli_fail_open(c, rc);
			goto out;
		}
	code = cli_run_scrub(c, repos, urls, n, &so);
out:
	for (i = 0; i < n; i++)
		arca_repo_close(repos[i]);
	free(repos);
	free(urls);
	return code;
}

/* ---- replicas ---- */

static int replicas_list(cli *c, arca_repo *r)
{
	char **urls;
	size_t n, i;
	int rc = arca_replicas_known(r, &urls, &n);
	if (rc)
		return cli_fail(c, rc);
	if (c->json) {
		arca_buf jb = ARCA_BUF_INIT;
		arca_json j;
		cli_json_arr_begin(&j, &jb);
		for (i = 0; i < n; i++)
			arca_json_str(&j, urls[i]);
		cli_json_arr_end(&j);
	} else if (!n && c->verbose >= 0) {
		printf("this machine has not replicated this repository anywhere yet\n");
	}
	for (i = 0; i < n; i++) {
		if (!c->json)
			printf("%s\n", urls[i]);
		free(urls[i]);
	}
	free(urls);
	return EXIT_OK;
}

static void print_status(cli *c, const arca_replica_status *st, const char *const *urls, size_t n)
{
	size_t i, k;
	if (c->json) {
		arca_buf jb = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &jb, NULL);
		arca_json_key(&j, "repositories");
		arca_json_arr_begin(&j);
		for (k = 0; k < n; k++)
			arca_json_str(&j, urls[k]);
		arca_json_arr_end(&j);
		arca_json_key(&j, "snapshots");
		arca_json_arr_begin(&j);
		for (i = 0; i < st->nrows; i++) {
			arca_json_obj_begin(&j);
			arca_json_key(&j, "snapshot");
			cli_json_snapshot(&j, st->rows[i].snap);
			arca_json_key(&j, "state");
			arca_json_obj_begin(&j);
			for (k = 0; k < n; k++)
				arca_json_kstr(&j, urls[k], arca_replica_state_name(st->rows[i].state[k]));
			arca_json_obj_end(&j);
			arca_json_obj_end(&j);
		}
		arca_json_arr_end(&j);
		cli_json_obj_end(&j);
		return;
	}
	for (k = 0; k < n; k++)
		printf("[%zu] %s\n", k + 1, urls[k]);
	printf("\n%-8s  %-19s ", "ID", "Time");
	for (k = 0; k < n; k++) {
		char h[16];
		snprintf(h, sizeof(h), "[%zu]", k + 1);
		printf(" %-10s", h);
	}
	printf("\n");
	for (i = 0; i < st->nrows; i++) {
		char sid[9], when[64];
		arca_snapshot_short_id(sid, st->rows[i].snap);
		arca_time_format_local(when, sizeof(when), st->rows[i].snap->time_ns);
		when[19] = '\0';
		printf("%-8s  %-19s ", sid, when);
		for (k = 0; k < n; k++)
			printf(" %-10s", arca_replica_state_name(st->rows[i].state[k]));
		printf("\n");
	}
	if (!st->nrows)
		printf("(no snapshots)\n");
}

int cmd_replicas(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "replica", required_argument, 0, O_REPLICA },
		{ "read-data", no_argument, 0, O_READ },
		{ 0, 0, 0, 0 },
	};
	static const char usage[] = "usage: arca replicas status [--replica REPO]... [--read-data] | arca replicas list";
	arca_replica_status st;
	arca_repo **repos = NULL;
	char **known = NULL;
	const char **urls = NULL;
	size_t n = 1, nknown = 0, i;
	bool read_data = false, status;
	int o, rc = 0, code = EXIT_OK;
	memset(&st, 0, sizeof(st));
	if (argc < 2 || (strcmp(argv[1], "status") && strcmp(argv[1], "list")))
		return cli_usage("%s", usage);
	status = !strcmp(argv[1], "status");
	argc--, argv++;
	if (!(urls = calloc((size_t)argc + 2, sizeof(*urls))))
		return EXIT_ERR;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case O_REPLICA: urls[n++] = optarg; break;
		case O_READ: read_data = true; break;
		default: free(urls); return cli_usage("%s", usage);
		}
	}
	if (optind != argc || (!status && (n > 1 || read_data))) {
		free(urls);
		return cli_usage("%s", usage);
	}
	if (!(repos = calloc((size_t)argc + 2, sizeof(*repos)))) {
		free(urls);
		return EXIT_ERR;
	}
	if ((rc = cli_open(c, &repos[0]))) {
		code = cli_fail_open(c, rc);
		goto out;
	}
	urls[0] = c->repo;
	if (!status) {
		code = replicas_list(c, repos[0]);
		goto out;
	}
	if (n == 1) { /* the replicas this machine replicated to */
		if ((rc = arca_replicas_known(repos[0], &known, &nknown))) {
			code = cli_fail(c, rc);
			goto out;
		}
		const char **nurls = realloc(urls, (nknown + 2) * sizeof(*urls));
		arca_repo **nrepos = realloc(repos, (nknown + 2) * sizeof(*repos));
		if (nurls)
			urls = nurls; /* a failed realloc leaves the old block, still ours to free */
		if (nrepos)
			repos = nrepos;
		if (!nurls || !nrepos) {
			fprintf(stderr, "arca: out of memory\n");
			code = EXIT_ERR;
			goto out;
		}
		for (i = 0; i < nknown; i++)
			urls[n++] = known[i];
		for (i = 1; i < n; i++)
			repos[i] = NULL;
	}
	for (i = 1; i < n; i++)
		if ((rc = cli_open_other(c, urls[i], &repos[i]))) {
			code = cli_fail_open(c, rc);
			goto out;
		}
	if ((rc = arca_replicas_status(repos, n, read_data, &st))) {
		code = cli_fail(c, rc);
		goto out;
	}
	print_status(c, &st, urls, n);
	for (i = 0; i < st.nrows; i++) {
		size_t k;
		for (k = 0; k < n; k++)
			if (st.rows[i].state[k] == ARCA_REPLICA_DAMAGED || st.rows[i].state[k] == ARCA_REPLICA_INCOMPLETE)
				code = EXIT_DAMAGE;
	}
out:
	arca_replica_status_free(&st);
	if (repos)
		for (i = 0; i < n; i++)
			arca_repo_close(repos[i]);
	free(repos);
	free(urls);
	for (i = 0; i < nknown; i++)
		free(known[i]);
	free(known);
	return code;
}
