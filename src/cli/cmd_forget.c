/*
 * cli/cmd_forget.c - arca forget: apply a retention policy (restic 0.14's
 * rules, see src/snapshot/retention.c) per group of snapshots, show what is
 * kept and why, and delete the snapshot objects of the others.  Snapshots
 * whose expiry time has passed are removed too, with or without a policy.
 *
 * Only snapshot manifests are deleted; the data they alone referenced stays
 * in the packs until prune.
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

typedef struct strv {
	const char **v;
	size_t n;
} strv;

static int strv_add(strv *s, const char *x)
{
	const char **nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return arca_error_set(ARCA_NOMEM, "out of memory");
	s->v = nv;
	s->v[s->n++] = x;
	return 0;
}

static bool parse_count(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (end == s || *end || v < 0 || v > INT_MAX)
		return false;
	*out = (int)v;
	return true;
}

/* ---- filters: restic's --host (any), --tag (any list), --path (all) ---- */

typedef struct forget_filter {
	strv hosts, tags, paths;
} forget_filter;

static bool filter_match(const forget_filter *f, const arca_snapshot *s)
{
	size_t i, k;
	bool ok;
	if (f->hosts.n) {
		for (ok = false, i = 0; i < f->hosts.n && !ok; i++)
			ok = !strcmp(s->host ? s->host : "", f->hosts.v[i]);
		if (!ok)
			return false;
	}
	if (f->tags.n) {
		for (ok = false, i = 0; i < f->tags.n && !ok; i++)
			ok = arca_snapshot_has_tags(s, f->tags.v[i]);
		if (!ok)
			return false;
	}
	for (i = 0; i < f->paths.n; i++) {
		for (ok = false, k = 0; k < s->npaths && !ok; k++)
			ok = !strcmp(s->paths[k], f->paths.v[i]);
		if (!ok)
			return false;
	}
	return true;
}

/* ---- human output: restic-like tables ---- */

enum { COL_ID, COL_TIME, COL_HOST, COL_TAGS, COL_REASONS, COL_PATHS, NCOL };

typedef struct table_row {
	arca_buf cell[NCOL]; /* lines separated by '\n' */
} table_row;

static void reason_line(const char *reason, void *payload)
{
	arca_buf *b = payload;
	if (b->len)
		arca_buf_puts(b, "\n");
	arca_buf_puts(b, reason);
}

static size_t cell_width(const arca_buf *b)
{
	size_t w = 0, cur = 0, i;
	for (i = 0; i < b->len; i++) {
		if (b->data[i] == '\n') {
			cur = 0;
			continue;
		}
		if (++cur > w)
			w = cur;
	}
	return w;
}

/* Line k of a cell, or "" (pointer into the cell, length in *n). */
static const char *cell_line(const arca_buf *b, size_t k, int *n)
{
	size_t i = 0, start = 0, line = 0;
	for (i = 0; i <= b->len; i++) {
		if (i == b->len || b->data[i] == '\n') {
			if (line == k) {
				*n = (int)(i - start);
				return (const char *)b->data + start;
			}
			line++;
			start = i + 1;
		}
	}
	*n = 0;
	return "";
}

static size_t cell_lines(const arca_buf *b)
{
	size_t i, n = 1;
	for (i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return b->len ? n : 1;
}

static void fill_row(table_row *row, const arca_snapshot *s, const arca_retention *p,
		     const arca_retention_verdict *v, bool removing)
{
	char sid[9], t[48];
	size_t k;
	memset(row, 0, sizeof(*row));
	arca_snapshot_short_id(sid, s);
	arca_time_format_local(t, sizeof(t), s->time_ns);
	arca_buf_puts(&row->cell[COL_ID], sid);
	arca_buf_puts(&row->cell[COL_TIME], t);
	arca_buf_puts(&row->cell[COL_HOST], s->host ? s->host : "");
	for (k = 0; k < s->ntags; k++) {
		if (k)
			arca_buf_puts(&row->cell[COL_TAGS], ",");
		arca_buf_puts(&row->cell[COL_TAGS], s->tags[k]);
	}
	if (removing) {
		if (v->expired) {
			arca_time_format_local(t, sizeof(t), s->expires_ns);
			arca_buf_printf(&row->cell[COL_REASONS], "expired %s", t);
		}
	} else {
		arca_retention_reasons(p, v, reason_line, &row->cell[COL_REASONS]);
	}
	for (k = 0; k < s->npaths; k++) {
		if (k)
			arca_buf_puts(&row->cell[COL_PATHS], "\n");
		arca_buf_puts(&row->cell[COL_PATHS], s->paths[k]);
	}
}

/* Rows oldest first, as restic prints them. */
static void print_table(const char *what, const arca_snapshot *const *v, const arca_retention_verdict *const *vd,
			size_t n, const arca_retention *p, bool removing)
{
	static const char *const head[NCOL] = { "ID", "Time", "Host", "Tags", "Reasons", "Paths" };
	table_row *rows = calloc(n ? n : 1, sizeof(*rows));
	size_t w[NCOL], i, k, total = 0;
	bool show[NCOL] = { true, true, true, true, !removing, true };
	int c;
	if (!rows)
		return;
	for (i = 0; i < n; i++) {
		fill_row(&rows[n - 1 - i], v[i], p, vd[i], removing);
		if (removing && vd[i]->expired)
			show[COL_REASONS] = true;
	}
	for (c = 0; c < NCOL; c++) {
		w[c] = strlen(head[c]);
		for (i = 0; i < n; i++)
			if (cell_width(&rows[i].cell[c]) > w[c])
				w[c] = cell_width(&rows[i].cell[c]);
		if (show[c] && c != COL_PATHS)
			total += w[c] + 2;
	}
	total += w[COL_PATHS];
	printf("%s %zu snapshots:\n", what, n);
	for (c = 0; c < NCOL; c++) {
		if (c == COL_PATHS)
			printf("%s\n", head[c]);
		else if (show[c])
			printf("%-*s  ", (int)w[c], head[c]);
	}
	for (k = 0; k < total; k++)
		putchar('-');
	putchar('\n');
	for (i = 0; i < n; i++) {
		size_t lines = 0, l;
		for (c = 0; c < NCOL; c++)
			if (show[c] && cell_lines(&rows[i].cell[c]) > lines)
				lines = cell_lines(&rows[i].cell[c]);
		for (l = 0; l < lines; l++) {
			arca_buf line = ARCA_BUF_INIT;
			for (c = 0; c < NCOL; c++) {
				int len;
				const char *s;
				if (!show[c])
					continue;
				s = cell_line(&rows[i].cell[c], l, &len);
				if (c == COL_PATHS)
					arca_buf_printf(&line, "%.*s", len, s);
				else
					arca_buf_printf(&line, "%.*s%*s  ", len, s, (int)w[c] - len, "");
			}
			while (line.len && line.data[line.len - 1] == ' ')
				line.len--;
			printf("%.*s\n", (int)line.len, line.data ? (const char *)line.data : "");
			arca_buf_free(&line);
		}
	}
	for (k = 0; k < total; k++)
		putchar('-');
	printf("\n%zu snapshots\n\n", n);
	for (i = 0; i < n; i++)
		for (c = 0; c < NCOL; c++)
			arca_buf_free(&rows[i].cell[c]);
	free(rows);
}

/* restic's "snapshots for (host [h], tags [a, b], paths [/x]):" */
static void print_group_header(const arca_snapshot_group *g, unsigned by)
{
	size_t i;
	const char *sep = " for (";
	printf("snapshots");
	if ((by & ARCA_GROUP_HOST) && g->host && *g->host) {
		printf("%shost [%s]", sep, g->host);
		sep = ", ";
	}
	if ((by & ARCA_GROUP_TAGS) && g->ntags) {
		printf("%stags [", sep);
		for (i = 0; i < g->ntags; i++)
			printf("%s%s", i ? ", " : "", g->tags[i]);
		printf("]");
		sep = ", ";
	}
	if (by & ARCA_GROUP_PATHS) {
		printf("%spaths [", sep);
		for (i = 0; i < g->npaths; i++)
			printf("%s%s", i ? ", " : "", g->paths[i]);
		printf("]");
		sep = ", ";
	}
	printf("%s:\n", strcmp(sep, ", ") ? "" : ")");
}

/* ---- JSON: restic's forget array ---- */

static void json_reason(const char *reason, void *payload)
{
	arca_json_str(payload, reason);
}

static void json_strv(arca_json *j, const char *key, const char **v, size_t n, bool present)
{
	size_t i;
	arca_json_key(j, key);
	if (!present) {
		arca_json_null(j);
		return;
	}
	arca_json_arr_begin(j);
	for (i = 0; i < n; i++)
		arca_json_str(j, v[i]);
	arca_json_arr_end(j);
}

static void json_group(arca_json *j, const arca_snapshot_group *g, unsigned by, const arca_retention *p,
		       const arca_retention_verdict *vd)
{
	static const char *const cname[ARCA_CNT_N] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
	size_t i;
	int c;
	arca_json_obj_begin(j);
	json_strv(j, "tags", g->tags, g->ntags, by & ARCA_GROUP_TAGS);
	arca_json_kstr(j, "host", (by & ARCA_GROUP_HOST) && g->host ? g->host : "");
	json_strv(j, "paths", g->paths, g->npaths, by & ARCA_GROUP_PATHS);
	arca_json_key(j, "keep");
	arca_json_arr_begin(j);
	for (i = 0; i < g->n; i++)
		if (vd[i].keep)
			cli_json_snapshot(j, g->v[i]);
	arca_json_arr_end(j);
	arca_json_key(j, "remove");
	arca_json_arr_begin(j);
	for (i = 0; i < g->n; i++)
		if (!vd[i].keep)
			cli_json_snapshot(j, g->v[i]);
	arca_json_arr_end(j);
	arca_json_key(j, "reasons");
	arca_json_arr_begin(j);
	for (i = 0; i < g->n; i++) {
		if (!vd[i].keep)
			continue;
		arca_json_obj_begin(j);
		arca_json_key(j, "snapshot");
		cli_json_snapshot(j, g->v[i]);
		arca_json_key(j, "matches");
		arca_json_arr_begin(j);
		arca_retention_reasons(p, &vd[i], json_reason, j);
		arca_json_arr_end(j);
		arca_json_key(j, "counters");
		arca_json_obj_begin(j);
		for (c = 0; c < ARCA_CNT_N; c++)
			if (vd[i].counters[c])
				arca_json_kint(j, cname[c], vd[i].counters[c]);
		arca_json_obj_end(j);
		arca_json_obj_end(j);
	}
	arca_json_arr_end(j);
	arca_json_obj_end(j);
}

/* ---- the command ---- */

static const char forget_usage[] =
	"usage: arca forget [--keep-last N] [--keep-hourly N] [--keep-daily N] [--keep-weekly N]\n"
	"                   [--keep-monthly N] [--keep-yearly N] [--keep-within DURATION]\n"
	"                   [--keep-within-hourly|-daily|-weekly|-monthly|-yearly DURATION]\n"
	"                   [--keep-tag T[,T...]]... [--group-by host,paths,tags]\n"
	"                   [--host H]... [--tag T[,T...]]... [--path P]... [--dry-run]\n"
	"                   [--prune [--max-unused PERCENT]]\n"
	"DURATION is restic's: 1y5m7d2h (years, months, days, hours)";

int cmd_forget(cli *c, int argc, char **argv)
{
	enum {
		O_LAST = 'l', O_HOURLY = 'H', O_DAILY = 'd', O_WEEKLY = 'w', O_MONTHLY = 'm', O_YEARLY = 'y',
		O_DRY = 'n', O_GROUP = 'g', O_WITHIN = 256, O_WHOURLY, O_WDAILY, O_WWEEKLY, O_WMONTHLY, O_WYEARLY,
		O_KEEPTAG, O_HOST, O_TAG, O_PATH, O_PRUNE, O_MAXUNUSED,
	};
	static const struct option opts[] = {
		{ "keep-last", required_argument, 0, O_LAST },
		{ "keep-hourly", required_argument, 0, O_HOURLY },
		{ "keep-daily", required_argument, 0, O_DAILY },
		{ "keep-weekly", required_argument, 0, O_WEEKLY },
		{ "keep-monthly", required_argument, 0, O_MONTHLY },
		{ "keep-yearly", required_argument, 0, O_YEARLY },
		{ "keep-within", required_argument, 0, O_WITHIN },
		{ "keep-within-hourly", required_argument, 0, O_WHOURLY },
		{ "keep-within-daily", required_argument, 0, O_WDAILY },
		{ "keep-within-weekly", required_argument, 0, O_WWEEKLY },
		{ "keep-within-monthly", required_argument, 0, O_WMONTHLY },
		{ "keep-within-yearly", required_argument, 0, O_WYEARLY },
		{ "keep-tag", required_argument, 0, O_KEEPTAG },
		{ "group-by", required_argument, 0, O_GROUP },
		{ "host", required_argument, 0, O_HOST },
		{ "tag", required_argument, 0, O_TAG },
		{ "path", required_argument, 0, O_PATH },
		{ "dry-run", no_argument, 0, O_DRY },
		{ "prune", no_argument, 0, O_PRUNE },
		{ "max-unused", required_argument, 0, O_MAXUNUSED },
		{ 0, 0, 0, 0 },
	};
	arca_retention pol = ARCA_RETENTION_INIT;
	strv keep_tags = { 0 };
	forget_filter f;
	unsigned by = ARCA_GROUP_DEFAULT;
	bool dry = false, empty, prune = false;
	arca_prune_opts po = ARCA_PRUNE_OPTS_INIT;
	arca_repo *r = NULL;
	arca_snapshot_list l = { 0 };
	const arca_snapshot **sel = NULL;
	arca_snapshot_groups groups = { 0 };
	arca_retention_verdict **verdicts = NULL;
	arca_buf out = ARCA_BUF_INIT;
	arca_json j;
	size_t nsel = 0, i, k, nkeep = 0, nremove = 0, nexpired = 0, removed = 0, failed = 0;
	int64_t now;
	int o, rc = 0, code = EXIT_OK;
	double t0 = arca_monotonic();
	arca_id *rmids = NULL; /* removed snapshots, for the audit log */

	memset(&f, 0, sizeof(f));
	while ((o = getopt_long(argc, argv, "l:H:d:w:m:y:g:n", opts, NULL)) != -1) {
		int *cnt = NULL;
		arca_span *span = NULL;
		switch (o) {
		case O_LAST: cnt = &pol.last; break;
		case O_HOURLY: cnt = &pol.hourly; break;
		case O_DAILY: cnt = &pol.daily; break;
		case O_WEEKLY: cnt = &pol.weekly; break;
		case O_MONTHLY: cnt = &pol.monthly; break;
		case O_YEARLY: cnt = &pol.yearly; break;
		case O_WITHIN: span = &pol.within; break;
		case O_WHOURLY: span = &pol.within_hourly; break;
		case O_WDAILY: span = &pol.within_daily; break;
		case O_WWEEKLY: span = &pol.within_weekly; break;
		case O_WMONTHLY: span = &pol.within_monthly; break;
		case O_WYEARLY: span = &pol.within_yearly; break;
		case O_KEEPTAG: rc = strv_add(&keep_tags, optarg); break;
		case O_HOST: rc = strv_add(&f.hosts, optarg); break;
		case O_TAG: rc = strv_add(&f.tags, optarg); break;
		case O_PATH: rc = strv_add(&f.paths, optarg); break;
		case O_GROUP:
			if (arca_group_by_parse(&by, optarg)) {
				code = cli_usage("%s", arca_error_message());
				goto out;
			}
			break;
		case O_DRY: dry = true; break;
		case O_PRUNE: prune = true; break;
		case O_MAXUNUSED: {
			char *end;
			double v = strtod(optarg, &end);
			if (end == optarg || (*end && strcmp(end, "%")) || !(v >= 0 && v <= 100)) {
				code = cli_usage("--max-unused takes a percentage from 0 to 100, like 5%%");
				goto out;
			}
			po.max_unused = v;
			break;
		}
		default: code = cli_usage("forget: unknown option\n%s", forget_usage); goto out;
		}
		if (rc) {
			code = cli_fail(c, rc);
			goto out;
		}
		if (cnt && !parse_count(optarg, cnt)) {
			for (i = 0; opts[i].name && opts[i].val != o; i++)
				;
			code = cli_usage("--%s takes a count >= 0, not '%s'", opts[i].name, optarg);
			goto out;
		}
		if (span && arca_span_parse(span, optarg)) {
			code = cli_usage("%s", arca_error_message());
			goto out;
		}
	}
	if (optind != argc) {
		code = cli_usage("forget takes no arguments ('%s')\n%s", argv[optind], forget_usage);
		goto out;
	}
	if (keep_tags.n > 64) {
		code = cli_usage("at most 64 --keep-tag options");
		goto out;
	}
	pol.keep_tags = keep_tags.v;
	pol.nkeep_tags = keep_tags.n;
	empty = arca_retention_is_empty(&pol);

	if ((rc = cli_open(c, &r))) {
		code = cli_fail_open(c, rc);
		goto out;
	}
	/* Deleting snapshots must not race prune or a restore that has read the
	 * list: exclusive.  A dry run only reads. */
	if ((rc = arca_repo_lock(r, !dry)) || (rc = arca_snapshot_list_load(r, &l)))
		goto fail;
	if (!(sel = calloc(l.n ? l.n : 1, sizeof(*sel)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	for (i = 0; i < l.n; i++)
		if (filter_match(&f, l.v[i]))
			sel[nsel++] = l.v[i];
	if ((rc = arca_snapshot_groups_build(&groups, sel, nsel, by)))
		goto fail;
	if (!(verdicts = calloc(groups.n ? groups.n : 1, sizeof(*verdicts)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	now = arca_time_now_ns();
	for (i = 0; i < groups.n; i++) {
		const arca_snapshot_group *g = &groups.v[i];
		if (!(verdicts[i] = calloc(g->n, sizeof(**verdicts)))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto fail;
		}
		if ((rc = arca_retention_apply(&pol, g->v, g->n, now, verdicts[i])))
			goto fail;
		for (k = 0; k < g->n; k++) {
			nkeep += verdicts[i][k].keep;
			nremove += !verdicts[i][k].keep;
			nexpired += verdicts[i][k].expired;
		}
	}

	if (c->json) {
		arca_json_init(&j, &out);
		arca_json_arr_begin(&j);
		for (i = 0; i < groups.n; i++)
			json_group(&j, &groups.v[i], by, &pol, verdicts[i]);
		arca_json_arr_end(&j);
		cli_json_print(&out);
		if (empty && c->verbose >= 0)
			fprintf(stderr, "no policy given: only expired snapshots are removed\n");
	} else if (c->verbose >= 0) {
		if (empty) {
			printf("no policy given: only expired snapshots are removed\n");
		} else {
			arca_buf d = ARCA_BUF_INIT;
			if (!arca_retention_describe(&pol, &d) && !arca_buf_cstr(&d))
				printf("applying policy: %s\n", (const char *)d.data);
			arca_buf_free(&d);
		}
		for (i = 0; i < groups.n; i++) {
			const arca_snapshot_group *g = &groups.v[i];
			const arca_snapshot **kv = calloc(g->n, sizeof(*kv)), **rv = calloc(g->n, sizeof(*rv));
			const arca_retention_verdict **kd = calloc(g->n, sizeof(*kd)), **rd = calloc(g->n, sizeof(*rd));
			size_t nk = 0, nr = 0;
			if (kv && rv && kd && rd) {
				for (k = 0; k < g->n; k++) {
					if (verdicts[i][k].keep) {
						kv[nk] = g->v[k];
						kd[nk++] = &verdicts[i][k];
					} else {
						rv[nr] = g->v[k];
						rd[nr++] = &verdicts[i][k];
					}
				}
				/* without a policy only removals are news */
				if (by && (!empty || nr))
					print_group_header(g, by);
				if (nk && !empty)
					print_table("keep", kv, kd, nk, &pol, false);
				if (nr)
					print_table("remove", rv, rd, nr, &pol, true);
			}
			free(kv);
			free(rv);
			free(kd);
			free(rd);
		}
	}

	if (!dry) {
		arca_backend *be = arca_repo_backend(r);
		if (!(rmids = calloc(nremove ? nremove : 1, sizeof(*rmids)))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto fail;
		}
		for (i = 0; i < groups.n; i++)
			for (k = 0; k < groups.v[i].n; k++) {
				char hex[65], key[80];
				if (verdicts[i][k].keep)
					continue;
				arca_id_hex(hex, &groups.v[i].v[k]->id);
				snprintf(key, sizeof(key), "snapshots/%s", hex);
				if ((rc = arca_be_remove(be, key))) {
					fprintf(stderr, "error: cannot remove snapshot %.8s: %s\n", hex, arca_error_message());
					failed++;
				} else {
					rmids[removed++] = groups.v[i].v[k]->id;
				}
			}
	}
	if (!c->json && c->verbose >= 0) {
		if (nremove == 0 && empty)
			printf("no snapshot has expired: nothing to remove (%zu snapshots)\n", nkeep);
		else if (nremove == 0)
			printf("nothing to remove: the policy keeps all %zu snapshots\n", nkeep);
		else if (dry)
			printf("would remove %zu snapshots (%zu expired), keep %zu (dry run: nothing was changed)\n", nremove,
			       nexpired, nkeep);
		else
			printf("removed %zu snapshots (%zu expired), kept %zu\n", removed, nexpired, nkeep);
		if (!dry && removed)
			printf("the data only they referenced stays in the repository until 'arca prune'\n");
	}
	if (failed) {
		fprintf(stderr, "error: %zu of %zu snapshots could not be removed; run forget again\n", failed, nremove);
		code = EXIT_ERR;
		goto out;
	}
	if (prune && !dry) {
		/* still under the exclusive lock taken for forgetting */
		if (!c->json && c->verbose >= 0)
			printf("\n");
		if ((rc = cli_run_prune(c, r, &po)))
			goto fail;
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	if (!dry) {
		char detail[64];
		snprintf(detail, sizeof(detail), "removed %zu snapshots", removed);
		cli_audit(c, r, "forget", t0, code, rmids, removed, 0,
			  failed ? "some snapshots could not be removed" : NULL, detail);
	}
	free(rmids);
	if (verdicts)
		for (i = 0; i < groups.n; i++)
			free(verdicts[i]);
	free(verdicts);
	arca_snapshot_groups_free(&groups);
	free(sel);
	arca_buf_free(&out);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	free(keep_tags.v);
	free(f.hosts.v);
	free(f.tags.v);
	free(f.paths.v);
	return code;
}
