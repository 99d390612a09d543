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
#include "util/buf.h"
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

/* ---- keep options, shared with 'policy set' ---- */

enum {
	O_LAST = CLI_KEEP_OPT_BASE, O_HOURLY, O_DAILY, O_WEEKLY, O_MONTHLY, O_YEARLY, O_WITHIN, O_WHOURLY,
	O_WDAILY, O_WWEEKLY, O_WMONTHLY, O_WYEARLY, O_KEEPTAG, O_KEEP_END,
};

static const struct option cli_keep_options[] = {
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
	{ 0, 0, 0, 0 },
};

void cli_keep_options_merge(struct option *out, size_t cap, const struct option *own)
{
	size_t n = 0, k;
	for (k = 0; cli_keep_options[k].name && n + 1 < cap; k++)
		out[n++] = cli_keep_options[k];
	for (k = 0; own[k].name && n + 1 < cap; k++)
		out[n++] = own[k];
	memset(&out[n], 0, sizeof(*out));
}

int cli_keep_option(int o, const char *arg, arca_retention *pol, const char ***tags, size_t *ntags)
{
	int *cnt = NULL;
	arca_span *span = NULL;
	const struct option *opt;
	switch (o) {
	case O_LAST: cnt = &pol->last; break;
	case O_HOURLY: cnt = &pol->hourly; break;
	case O_DAILY: cnt = &pol->daily; break;
	case O_WEEKLY: cnt = &pol->weekly; break;
	case O_MONTHLY: cnt = &pol->monthly; break;
	case O_YEARLY: cnt = &pol->yearly; break;
	case O_WITHIN: span = &pol->within; break;
	case O_WHOURLY: span = &pol->within_hourly; break;
	case O_WDAILY: span = &pol->within_daily; break;
	case O_WWEEKLY: span = &pol->within_weekly; break;
	case O_WMONTHLY: span = &pol->within_monthly; break;
	case O_WYEARLY: span = &pol->within_yearly; break;
	case O_KEEPTAG: {
		const char **nv;
		if (*ntags >= 64)
			return cli_usage("at most 64 --keep-tag options");
		if (!(nv = realloc(*tags, (*ntags + 1) * sizeof(*nv)))) {
			arca_error_set(ARCA_NOMEM, "out of memory");
			return EXIT_ERR;
		}
		nv[(*ntags)++] = arg;
		*tags = nv;
		pol->keep_tags = nv;
		pol->nkeep_tags = *ntags;
		return 0;
	}
	default: return -1;
	}
	for (opt = cli_keep_options; opt->name && opt->val != o; opt++)
		;
	if (cnt && !parse_count(arg, cnt))
		return cli_usage("--%s takes a count >= 0, not '%s'", opt->name, arg);
	if (span && arca_span_parse(span, arg))
		return cli_usage("%s", arca_error_message());
	return 0;
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

/* ---- stored policies: groups split by the policy each member gets ---- */

typedef struct eff_group {
	arca_snapshot_group g; /* key borrowed from the group it came from; v owned */
	const arca_retention *keep;
	const arca_policy *policy; /* the stored policy applied, or NULL */
	int kind;                  /* ARCA_POLICY_*; -1: explicit keep options */
} eff_group;

static const char *policy_kind_text(int kind)
{
	switch (kind) {
	case ARCA_POLICY_NONE: return "no stored policy matches";
	case ARCA_POLICY_CONFLICT: return "conflicting stored policies (written concurrently)";
	case ARCA_POLICY_AMBIGUOUS: return "stored policies of equal rank both match";
	default: return "";
	}
}

/* One eff_group per (group, policy): with stored policies, each member
 * gets arca_policy_match's answer; members without a usable policy share
 * the empty policy (kept unless expired). */
static int build_eff(eff_group **out, size_t *nout, const arca_snapshot_groups *groups,
		     const arca_policy_set *ps, const arca_retention *explicit_pol, const arca_retention *none)
{
	eff_group *v = NULL;
	size_t n = 0, cap = 0, i, k, first;
	int rc = 0;
	*out = NULL;
	*nout = 0;
	for (i = 0; i < groups->n && !rc; i++) {
		const arca_snapshot_group *g = &groups->v[i];
		first = n;
		for (k = 0; k < g->n; k++) {
			const arca_policy *p = NULL;
			int kind = -1;
			size_t e;
			if (ps && (kind = arca_policy_match(ps, g->v[k], &p)) < 0) {
				rc = kind;
				break;
			}
			if (kind != ARCA_POLICY_MATCH && kind != -1)
				p = NULL;
			for (e = first; e < n; e++)
				if (v[e].kind == kind && v[e].policy == p)
					break;
			if (e == n) {
				if ((rc = arca_grow(&v, &cap, n + 1, sizeof(*v), 16)))
					break;
				v[n].g = *g;
				v[n].g.n = 0;
				v[n].policy = p;
				v[n].kind = kind;
				v[n].keep = kind == -1 ? explicit_pol : p ? &p->keep : none;
				if (!(v[n].g.v = calloc(g->n, sizeof(*v[n].g.v)))) {
					rc = arca_error_set(ARCA_NOMEM, "out of memory");
					break;
				}
				n++;
			}
			v[e].g.v[v[e].g.n++] = g->v[k];
		}
	}
	*out = v;
	*nout = n;
	return rc;
}

static void free_eff(eff_group *v, size_t n)
{
	size_t i;
	for (i = 0; i < n; i++)
		free(v[i].g.v);
	free(v);
}

static void json_group(arca_json *j, const eff_group *eg, unsigned by, const arca_retention_verdict *vd)
{
	static const char *const cname[ARCA_CNT_N] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
	const arca_snapshot_group *g = &eg->g;
	const arca_retention *p = eg->keep;
	size_t i;
	int c;
	arca_json_obj_begin(j);
	json_strv(j, "tags", g->tags, g->ntags, by & ARCA_GROUP_TAGS);
	arca_json_kstr(j, "host", (by & ARCA_GROUP_HOST) && g->host ? g->host : "");
	json_strv(j, "paths", g->paths, g->npaths, by & ARCA_GROUP_PATHS);
	if (eg->kind >= 0) { /* stored policies: which one (restic has no such key) */
		char sel[512];
		arca_json_key(j, "policy");
		if (eg->policy) {
			arca_json_obj_begin(j);
			arca_policy_selector_format(sel, sizeof(sel), eg->policy);
			arca_json_kstr(j, "selector", sel);
			arca_id_hex(sel, &eg->policy->id);
			arca_json_kstr(j, "id", sel);
			arca_json_obj_end(j);
		} else {
			arca_json_null(j);
		}
		if (eg->kind != ARCA_POLICY_MATCH)
			arca_json_kstr(j, "policy_problem", policy_kind_text(eg->kind));
	}
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
	"DURATION is restic's: 1y5m7d2h (years, months, days, hours)\n"
	"Without keep options the policies stored with 'arca policy set' apply.";

int cmd_forget(cli *c, int argc, char **argv)
{
	enum { O_DRY = 'n', O_GROUP = 'g', O_HOST = 256, O_TAG, O_PATH, O_PRUNE, O_MAXUNUSED };
	static const struct option own[] = {
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
	const char **keep_tags = NULL;
	size_t nkeep_tags = 0;
	forget_filter f;
	unsigned by = ARCA_GROUP_DEFAULT;
	bool dry = false, empty, prune = false;
	arca_prune_opts po = ARCA_PRUNE_OPTS_INIT;
	arca_repo *r = NULL;
	arca_snapshot_list l = { 0 };
	const arca_snapshot **sel = NULL;
	arca_snapshot_groups groups = { 0 };
	arca_policy_set ps = { 0 };
	arca_retention none = ARCA_RETENTION_INIT;
	eff_group *eg = NULL;
	size_t neg = 0, nproblem = 0;
	bool stored = false;
	arca_retention_verdict **verdicts = NULL;
	arca_buf out = ARCA_BUF_INIT;
	arca_json j;
	size_t nsel = 0, i, k, nkeep = 0, nremove = 0, nexpired = 0, removed = 0, failed = 0;
	int64_t now;
	int o, rc = 0, code = EXIT_OK;
	double t0 = arca_monotonic();
	arca_id *rmids = NULL; /* removed snapshots, for the audit log */
	struct option opts[32];

	memset(&f, 0, sizeof(f));
	cli_keep_options_merge(opts, 32, own);
	while ((o = getopt_long(argc, argv, "g:n", opts, NULL)) != -1) {
		if (o >= CLI_KEEP_OPT_BASE && o < O_KEEP_END) {
			if ((code = cli_keep_option(o, optarg, &pol, &keep_tags, &nkeep_tags)))
				goto out;
			continue;
		}
		switch (o) {
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
	}
	if (optind != argc) {
		code = cli_usage("forget takes no arguments ('%s')\n%s", argv[optind], forget_usage);
		goto out;
	}
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
	/* no keep option: the stored policies, if there are any */
	if (empty && (rc = arca_policy_set_load(r, &ps)))
		goto fail;
	stored = empty && ps.nheads > 0;
	if ((rc = build_eff(&eg, &neg, &groups, stored ? &ps : NULL, &pol, &none)))
		goto fail;
	if (!(verdicts = calloc(neg ? neg : 1, sizeof(*verdicts)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	now = arca_time_now_ns();
	for (i = 0; i < neg; i++) {
		const arca_snapshot_group *g = &eg[i].g;
		if (!(verdicts[i] = calloc(g->n, sizeof(**verdicts)))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto fail;
		}
		if ((rc = arca_retention_apply(eg[i].keep, g->v, g->n, now, verdicts[i])))
			goto fail;
		if (stored && eg[i].kind != ARCA_POLICY_MATCH && eg[i].kind != ARCA_POLICY_NONE)
			nproblem += g->n;
		for (k = 0; k < g->n; k++) {
			nkeep += verdicts[i][k].keep;
			nremove += !verdicts[i][k].keep;
			nexpired += verdicts[i][k].expired;
		}
	}

	if (c->json) {
		cli_json_arr_begin(&j, &out);
		for (i = 0; i < neg; i++)
			json_group(&j, &eg[i], by, verdicts[i]);
		cli_json_arr_end(&j);
		if (empty && !stored && c->verbose >= 0)
			fprintf(stderr, "no policy given: only expired snapshots are removed\n");
	} else if (c->verbose >= 0) {
		if (stored) {
			printf("no keep options: applying the stored policies ('arca policy show')\n");
		} else if (empty) {
			printf("no policy given: only expired snapshots are removed\n");
		} else {
			arca_buf d = ARCA_BUF_INIT;
			if (!arca_retention_describe(&pol, &d) && !arca_buf_cstr(&d))
				printf("applying policy: %s\n", (const char *)d.data);
			arca_buf_free(&d);
		}
		for (i = 0; i < neg; i++) {
			const arca_snapshot_group *g = &eg[i].g;
			const arca_retention *gp = eg[i].keep;
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
				if (by && (!empty || nr || stored))
					print_group_header(g, by);
				if (stored && eg[i].policy) {
					char sl[512];
					arca_buf d = ARCA_BUF_INIT;
					arca_policy_selector_format(sl, sizeof(sl), eg[i].policy);
					if (!arca_retention_describe(gp, &d) && !arca_buf_cstr(&d))
						printf("policy for %s: %s\n", sl, (const char *)d.data);
					arca_buf_free(&d);
				}
				if (stored && eg[i].kind != ARCA_POLICY_MATCH)
					printf("%s: keeping %zu snapshots%s\n", policy_kind_text(eg[i].kind), nk,
					       eg[i].kind == ARCA_POLICY_NONE ? "" : " (hint: 'arca policy show', then 'arca policy set')");
				if (nk && (!empty || (stored && eg[i].kind == ARCA_POLICY_MATCH)))
					print_table("keep", kv, kd, nk, gp, false);
				if (nr)
					print_table("remove", rv, rd, nr, gp, true);
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
		/* one batch: the local backend syncs the directory once */
		char (*keys)[80] = calloc(nremove ? nremove : 1, sizeof(*keys));
		const char **kv = calloc(nremove ? nremove : 1, sizeof(*kv));
		int *rcs = calloc(nremove ? nremove : 1, sizeof(*rcs));
		arca_id *ids = calloc(nremove ? nremove : 1, sizeof(*ids));
		size_t nk = 0;
		if (!keys || !kv || !rcs || !ids) {
			free(keys);
			free(kv);
			free(rcs);
			free(ids);
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto fail;
		}
		for (i = 0; i < neg; i++)
			for (k = 0; k < eg[i].g.n; k++) {
				char hex[65];
				if (verdicts[i][k].keep || nk == nremove)
					continue;
				arca_id_hex(hex, &eg[i].g.v[k]->id);
				snprintf(keys[nk], sizeof(keys[nk]), "snapshots/%s", hex);
				kv[nk] = keys[nk];
				ids[nk++] = eg[i].g.v[k]->id;
			}
		if (nk && (rc = arca_be_remove_batch(be, kv, nk, rcs)) && rc != ARCA_NOTFOUND)
			fprintf(stderr, "error: %s\n", arca_error_message());
		for (i = 0; i < nk; i++) {
			if (rcs[i] && rcs[i] != ARCA_NOTFOUND) {
				fprintf(stderr, "error: cannot remove snapshot %.8s\n", keys[i] + 10);
				failed++;
			} else if (rc && rc != ARCA_NOTFOUND && !rcs[i]) {
				failed++; /* removed, but not known to be durable */
			} else {
				rmids[removed++] = ids[i];
			}
		}
		rc = 0;
		free(keys);
		free(kv);
		free(rcs);
		free(ids);
	}
	if (!c->json && c->verbose >= 0) {
		if (nremove == 0 && empty && !stored)
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
	if (nproblem) {
		fprintf(stderr,
			"error: %zu snapshots were kept because their stored policy is in conflict or ambiguous\n"
			"hint: 'arca policy show' lists the conflicting policies; 'arca policy set' for that selector resolves it\n",
			nproblem);
		code = EXIT_ERR;
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
		for (i = 0; i < neg; i++)
			free(verdicts[i]);
	free(verdicts);
	free_eff(eg, neg);
	arca_policy_set_free(&ps);
	arca_snapshot_groups_free(&groups);
	free(sel);
	arca_buf_free(&out);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	free(keep_tags);
	free(f.hosts.v);
	free(f.tags.v);
	free(f.paths.v);
	return code;
}
