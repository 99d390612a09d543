/*
 * cli/cmd_prune.c - arca prune [--max-unused PERCENT] [--dry-run] [--json].
 *
 * Deletes data no snapshot references (after 'forget', or left by killed
 * backups) under the exclusive lock; --dry-run only reports, under a
 * shared lock.  Test hook: ARCA_TEST_PRUNE_ABORT_AT=STEP[:K] makes the
 * process _exit(137) right after the K-th (default first) occurrence of
 * step STEP (enum arca_prune_step: 1 planned, 2 pack written, 3 index
 * written, 4 index file removed, 5 pack removed), as kill -9 would.
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct abort_at {
	long step;
	unsigned long long count;
} abort_at;

static int abort_hook(int step, uint64_t count, void *payload)
{
	const abort_at *a = payload;
	if (step == a->step && count == a->count) {
		fflush(NULL);
		_exit(137);
	}
	return 0;
}

/* "STEP" or "STEP:K"; false when malformed. */
static bool parse_abort_at(const char *s, abort_at *a)
{
	char *end;
	a->step = strtol(s, &end, 10);
	a->count = 1;
	if (end == s || a->step < ARCA_PRUNE_STEP_PLANNED || a->step > ARCA_PRUNE_STEP_PACK_REMOVED)
		return false;
	if (*end == ':') {
		s = end + 1;
		a->count = strtoull(s, &end, 10);
		if (end == s || !a->count)
			return false;
	}
	return *end == '\0';
}

static void prune_progress(const arca_progress *p, void *payload)
{
	cli *c = payload;
	char b[32], t[32];
	int secs = (int)p->elapsed;
	if (!c->progress)
		return;
	fprintf(stderr, "\r\033[K[%d:%02d] %s", secs / 60, secs % 60, p->current ? p->current : "");
	if (p->current && !strcmp(p->current, "reading snapshots"))
		fprintf(stderr, ": %llu trees", (unsigned long long)p->dirs);
	else if (p->current && !strcmp(p->current, "repacking")) {
		cli_fmt_bytes(b, sizeof(b), p->bytes);
		cli_fmt_bytes(t, sizeof(t), p->bytes_total);
		fprintf(stderr, ": %llu packs, %s of %s", (unsigned long long)p->files, b, t);
	}
	fflush(stderr);
}

static void print_text(const arca_prune_result *res)
{
	char a[32], b[32], f[32], u[32], ua[32], rp[32];
	const char *would = res->dry_run ? "would " : "";
	cli_fmt_bytes(a, sizeof(a), res->bytes_before);
	cli_fmt_bytes(b, sizeof(b), res->bytes_after);
	cli_fmt_bytes(f, sizeof(f), res->bytes_freed);
	cli_fmt_bytes(u, sizeof(u), res->bytes_unused_before);
	cli_fmt_bytes(ua, sizeof(ua), res->bytes_unused_after);
	cli_fmt_bytes(rp, sizeof(rp), res->bytes_repacked);
	printf("%llu snapshots, %llu trees: %llu blobs in use, %llu unused\n", (unsigned long long)res->snapshots,
	       (unsigned long long)res->trees, (unsigned long long)res->blobs_used,
	       (unsigned long long)res->blobs_unused);
	printf("%llu packs, %s, of which %s unused\n", (unsigned long long)res->packs_total, a, u);
	printf("%sdelete %llu unused packs (%llu named by no index)\n", would,
	       (unsigned long long)res->packs_deleted, (unsigned long long)res->packs_orphaned);
	printf("%srepack %llu packs: %llu blobs, %s, into %s%llu new packs\n", would,
	       (unsigned long long)res->packs_repacked, (unsigned long long)res->blobs_repacked, rp,
	       res->dry_run ? "about " : "", (unsigned long long)res->packs_written);
	if (res->dry_run)
		printf("would free about %s: %s -> about %s, %s left unused\n", f, a, b, ua);
	else
		printf("freed %s: %s -> %s, %s left unused; %llu index files replaced\n", f, a, b, ua,
		       (unsigned long long)res->index_files_superseded);
	if (res->dry_run)
		printf("dry run: nothing was changed\n");
}

static void print_json(const arca_prune_result *res, double max_unused)
{
	arca_buf b = ARCA_BUF_INIT;
	arca_json j;
	cli_json_obj_begin(&j, &b, NULL);
	arca_json_kbool(&j, "dry_run", res->dry_run);
	arca_json_kdouble(&j, "max_unused_percent", max_unused);
	arca_json_kuint(&j, "snapshots", res->snapshots);
	arca_json_kuint(&j, "trees", res->trees);
	arca_json_kuint(&j, "blobs_used", res->blobs_used);
	arca_json_kuint(&j, "blobs_unused", res->blobs_unused);
	arca_json_kuint(&j, "blobs_repacked", res->blobs_repacked);
	arca_json_kuint(&j, "packs_total", res->packs_total);
	arca_json_kuint(&j, "packs_deleted", res->packs_deleted);
	arca_json_kuint(&j, "packs_orphaned", res->packs_orphaned);
	arca_json_kuint(&j, "packs_repacked", res->packs_repacked);
	arca_json_kuint(&j, "packs_written", res->packs_written);
	arca_json_kuint(&j, "bytes_before", res->bytes_before);
	arca_json_kuint(&j, "bytes_after", res->bytes_after);
	arca_json_kuint(&j, "bytes_freed", res->bytes_freed);
	arca_json_kuint(&j, "bytes_repacked", res->bytes_repacked);
	arca_json_kuint(&j, "bytes_unused_before", res->bytes_unused_before);
	arca_json_kuint(&j, "bytes_unused_after", res->bytes_unused_after);
	arca_json_kuint(&j, "index_files_superseded", res->index_files_superseded);
	cli_json_obj_end(&j);
}

int cli_run_prune(cli *c, arca_repo *r, const arca_prune_opts *po_in)
{
	arca_prune_opts po = *po_in;
	arca_prune_result res;
	double t0 = arca_monotonic();
	int rc;
	po.progress = prune_progress;
	po.progress_payload = c;
	memset(&res, 0, sizeof(res));
	rc = arca_prune(r, &po, &res);
	cli_progress_done(c);
	if (!po.dry_run) {
		char detail[128];
		snprintf(detail, sizeof(detail), "deleted %llu packs, repacked %llu",
			 (unsigned long long)res.packs_deleted, (unsigned long long)res.packs_repacked);
		/* the error record is the prune's: the exit code is only "failed" */
		cli_audit(c, r, "prune", t0, rc ? EXIT_ERR : EXIT_OK, NULL, 0, res.bytes_freed, NULL, detail);
	}
	if (rc)
		return rc;
	if (c->json)
		print_json(&res, po.max_unused);
	else if (c->verbose >= 0)
		print_text(&res);
	return 0;
}

int cmd_prune(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "max-unused", required_argument, 0, 'm' },
		{ "dry-run", no_argument, 0, 'n' },
		{ 0, 0, 0, 0 },
	};
	arca_prune_opts po = ARCA_PRUNE_OPTS_INIT;
	arca_repo *r = NULL;
	abort_at ab;
	const char *e;
	int o, rc, code = EXIT_OK;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'm': {
			char *end;
			double v;
			if (!strcmp(optarg, "unlimited")) {
				po.max_unused = 100;
				break;
			}
			v = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%")) || !(v >= 0 && v <= 100))
				return cli_usage("--max-unused takes a percentage from 0 to 100, like 5%%");
			po.max_unused = v;
			break;
		}
		case 'n': po.dry_run = true; break;
		default: return cli_usage("usage: arca prune [--max-unused PERCENT] [--dry-run]");
		}
	}
	if (optind != argc)
		return cli_usage("usage: arca prune [--max-unused PERCENT] [--dry-run]");
	if ((e = getenv("ARCA_TEST_PRUNE_ABORT_AT")) && *e) {
		if (!parse_abort_at(e, &ab))
			return cli_usage("ARCA_TEST_PRUNE_ABORT_AT must be STEP or STEP:COUNT (STEP 1..5)");
		po.checkpoint = abort_hook;
		po.checkpoint_payload = &ab;
	}
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	/* a dry run changes nothing: backups may go on meanwhile */
	if ((rc = arca_repo_lock(r, !po.dry_run))) {
		code = cli_fail(c, rc);
		if (!po.dry_run)
			cli_audit(c, r, "prune", arca_monotonic(), code, NULL, 0, 0, NULL, NULL);
		goto out;
	}
	if ((rc = cli_run_prune(c, r, &po)))
		goto fail;
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	arca_repo_close(r);
	return code;
}
