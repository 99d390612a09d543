/*
 * cli/cmd_check.c - arca check [--read-data | --read-data-subset N%]
 * [--repair-from REPO]...  Exit 13 when damage is found.
 *
 * --repair-from first scrubs this repository together with the given
 * copies (cmd_replica.c: every object of each is hashed, and missing or
 * damaged ones are replaced by a good copy from another), then checks.
 */
#include "cli/cli.h"
#include "replica/replica.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

typedef struct check_out {
	cli *c;
	arca_json *j;
} check_out;

static void report_cb(const char *line, void *payload)
{
	check_out *o = payload;
	if (o->j) {
		arca_json_str(o->j, line);
		return;
	}
	if (o->c->progress)
		fputs("\r\033[K", stderr);
	printf("%s\n", line);
}

int cmd_check(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "read-data", no_argument, 0, 'd' },
		{ "read-data-subset", required_argument, 0, 's' },
		{ "repair-from", required_argument, 0, 'R' },
		{ 0, 0, 0, 0 },
	};
	arca_check_opts co;
	arca_check_result res;
	arca_repo *r = NULL;
	arca_buf b = ARCA_BUF_INIT;
	arca_json j;
	check_out out = { c, NULL };
	const char **from = calloc((size_t)argc + 2, sizeof(*from));
	arca_repo **copies = calloc((size_t)argc + 2, sizeof(*copies));
	size_t nfrom = 1, i;
	int o, rc, code = EXIT_OK;
	double t0 = arca_monotonic();
	memset(&co, 0, sizeof(co));
	co.version = 1;
	if (!from || !copies) {
		free(from);
		free(copies);
		return EXIT_ERR;
	}
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': co.read_data = true; break;
		case 'R': from[nfrom++] = optarg; break;
		case 's': {
			char *end;
			double v = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%")) || v <= 0 || v > 100) {
				code = cli_usage("--read-data-subset takes a percentage like 10%%");
				goto early;
			}
			co.read_data = true;
			co.subset = v / 100.0;
			break;
		}
		default: code = cli_usage("check: unknown option"); goto early;
		}
	}
	if ((rc = cli_open(c, &r))) {
		code = cli_fail_open(c, rc);
		goto early;
	}
	if ((rc = arca_repo_lock(r, false)))
		goto fail;
	if (nfrom > 1) {
		arca_scrub_opts so;
		memset(&so, 0, sizeof(so));
		from[0] = c->repo;
		copies[0] = r;
		for (i = 1; i < nfrom; i++)
			if ((rc = cli_open_other(c, from[i], &copies[i]))) {
				code = cli_fail_open(c, rc);
				goto out;
			}
		if ((code = cli_run_scrub(c, copies, from, nfrom, &so)) != EXIT_OK && code != EXIT_DAMAGE)
			goto out;
		code = EXIT_OK; /* what is left is for check to report */
	}
	if (c->json) {
		cli_json_obj_begin(&j, &b, NULL);
		arca_json_key(&j, "problems");
		arca_json_arr_begin(&j);
		out.j = &j;
	}
	co.report = report_cb;
	co.report_payload = &out;
	co.progress = cli_progress_cb;
	co.progress_payload = c;
	rc = arca_check(r, &co, &res);
	cli_progress_done(c);
	if (rc)
		goto fail;
	if (c->json) {
		arca_json_arr_end(&j);
		arca_json_kuint(&j, "snapshots", res.snapshots);
		arca_json_kuint(&j, "trees", res.trees);
		arca_json_kuint(&j, "blobs_referenced", res.blobs_referenced);
		arca_json_kuint(&j, "packs", res.packs);
		arca_json_kuint(&j, "packs_read", res.packs_read);
		arca_json_kuint(&j, "unindexed_packs", res.unindexed_packs);
		arca_json_kuint(&j, "damaged_packs", res.damaged_packs);
		arca_json_kuint(&j, "errors", res.errors);
		arca_json_kbool(&j, "ok", res.errors == 0);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		printf("checked %llu snapshots, %llu trees, %llu blob references, %llu packs", (unsigned long long)res.snapshots,
		       (unsigned long long)res.trees, (unsigned long long)res.blobs_referenced, (unsigned long long)res.packs);
		if (co.read_data)
			printf(" (%llu read)", (unsigned long long)res.packs_read);
		printf("\n");
		if (res.unindexed_packs)
			printf("%llu pack(s) are not in the index (leftovers of an interrupted backup; harmless, "
			       "'arca repair index' adopts them)\n", (unsigned long long)res.unindexed_packs);
		if (res.errors)
			printf("found %llu problem(s): the repository is damaged\n", (unsigned long long)res.errors);
		else
			printf("no errors were found\n");
	}
	if (res.errors)
		code = EXIT_DAMAGE;
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	cli_audit(c, r, "check", t0, code, NULL, 0, 0, NULL, co.read_data ? "read data" : NULL);
	arca_buf_free(&b);
	arca_repo_close(r);
	for (i = 1; i < nfrom; i++)
		arca_repo_close(copies[i]);
early:
	free(from);
	free(copies);
	return code;
}
