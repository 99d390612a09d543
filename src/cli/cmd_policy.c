/*
 * cli/cmd_policy.c - arca policy set|show|remove: retention policies stored
 * in the repository (src/snapshot/policy.c), applied by `forget` when it is
 * given no keep options.
 *
 * A change writes one new object superseding the heads of its selector that
 * this process saw; no lock is needed.  Two concurrent changes of one
 * selector leave two heads, which show reports as a conflict and forget
 * refuses to guess about, until the next set/remove of that selector.
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char policy_usage[] =
	"usage: arca policy set [--host H] [--tag T] [--path P] KEEP-OPTIONS...\n"
	"       arca policy remove [--host H] [--tag T] [--path P]\n"
	"       arca policy show [--all]\n"
	"KEEP-OPTIONS are forget's: --keep-last N --keep-hourly N --keep-daily N --keep-weekly N\n"
	"--keep-monthly N --keep-yearly N --keep-within D --keep-within-{hourly,...,yearly} D --keep-tag T\n"
	"A snapshot gets the most specific matching policy (path > tag > host; none set: all snapshots).";

static void json_policy(arca_json *j, const arca_policy *p, bool current, bool conflict)
{
	static const char *const cname[] = { "last", "hourly", "daily", "weekly", "monthly", "yearly" };
	const int cv[] = { p->keep.last, p->keep.hourly, p->keep.daily, p->keep.weekly, p->keep.monthly, p->keep.yearly };
	const arca_span *sp[] = { &p->keep.within, &p->keep.within_hourly, &p->keep.within_daily,
				  &p->keep.within_weekly, &p->keep.within_monthly, &p->keep.within_yearly };
	static const char *const sname[] = { "within", "within_hourly", "within_daily", "within_weekly",
					     "within_monthly", "within_yearly" };
	char hex[65], t[64], sel[512], d[64];
	size_t i;
	arca_buf desc = ARCA_BUF_INIT;
	arca_json_obj_begin(j);
	arca_id_hex(hex, &p->id);
	arca_json_kstr(j, "id", hex);
	arca_time_format(t, sizeof(t), p->time_ns);
	arca_json_kstr(j, "time", t);
	arca_policy_selector_format(sel, sizeof(sel), p);
	arca_json_kstr(j, "selector", sel);
	arca_json_key(j, "host");
	p->host ? arca_json_str(j, p->host) : arca_json_null(j);
	arca_json_key(j, "tag");
	p->tag ? arca_json_str(j, p->tag) : arca_json_null(j);
	arca_json_key(j, "path");
	p->path ? arca_json_str(j, p->path) : arca_json_null(j);
	arca_json_kbool(j, "removed", p->removed);
	arca_json_kbool(j, "current", current);
	arca_json_kbool(j, "conflict", conflict);
	if (!p->removed) {
		arca_json_key(j, "keep");
		arca_json_obj_begin(j);
		for (i = 0; i < 6; i++)
			if (cv[i])
				arca_json_kint(j, cname[i], cv[i]);
		for (i = 0; i < 6; i++)
			if (!arca_span_is_zero(sp[i])) {
				arca_span_format(d, sizeof(d), sp[i]);
				arca_json_kstr(j, sname[i], d);
			}
		if (p->nkeep_tags) {
			arca_json_key(j, "tags");
			arca_json_arr_begin(j);
			for (i = 0; i < p->nkeep_tags; i++)
				arca_json_str(j, p->keep_tag_v[i]);
			arca_json_arr_end(j);
		}
		arca_json_obj_end(j);
		if (!arca_retention_describe(&p->keep, &desc) && !arca_buf_cstr(&desc))
			arca_json_kstr(j, "description", (const char *)desc.data);
	}
	arca_json_key(j, "supersedes");
	arca_json_arr_begin(j);
	for (i = 0; i < p->nsupersedes; i++) {
		arca_id_hex(hex, &p->supersedes[i]);
		arca_json_str(j, hex);
	}
	arca_json_arr_end(j);
	if (p->author_host)
		arca_json_kstr(j, "written_by_host", p->author_host);
	arca_json_obj_end(j);
	arca_buf_free(&desc);
}

/* "ID  Set  Selector  Policy" row of policy show */
static void print_policy_line(const arca_policy *p, bool conflict)
{
	char sel[512], t[48], hex[65];
	arca_buf d = ARCA_BUF_INIT;
	arca_policy_selector_format(sel, sizeof(sel), p);
	arca_time_format_local(t, sizeof(t), p->time_ns);
	arca_id_hex(hex, &p->id);
	if (p->removed)
		arca_buf_puts(&d, "(removed)");
	else if (arca_retention_describe(&p->keep, &d) || arca_buf_cstr(&d))
		arca_buf_puts(&d, "?");
	printf("%.8s  %-19s  %-30s  %.*s%s\n", hex, t, sel, (int)d.len, d.data ? (const char *)d.data : "",
	       conflict ? "   [CONFLICT]" : "");
	arca_buf_free(&d);
}

static int policy_show(cli *c, arca_repo *r, bool all)
{
	arca_policy_set ps;
	size_t i, shown = 0;
	int rc;
	if ((rc = arca_policy_set_load(r, &ps)))
		return rc;
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		arca_policy **v = all ? ps.all : ps.heads;
		size_t n = all ? ps.nall : ps.nheads;
		cli_json_arr_begin(&j, &b);
		for (i = 0; i < n; i++) {
			size_t k;
			bool head = !all;
			for (k = 0; k < ps.nheads && !head; k++)
				head = ps.heads[k] == v[i];
			/* tombstones are history, not current policies */
			if (!all && v[i]->removed)
				continue;
			json_policy(&j, v[i], head, head && arca_policy_conflicted(&ps, v[i]));
		}
		cli_json_arr_end(&j);
	} else {
		for (i = 0; i < ps.nheads; i++) {
			const arca_policy *p = ps.heads[i];
			if (p->removed && !arca_policy_conflicted(&ps, p))
				continue;
			if (!shown++)
				printf("%-8s  %-19s  %-30s  %s\n", "ID", "Set", "Selector", "Policy");
			print_policy_line(p, arca_policy_conflicted(&ps, p));
		}
		if (!shown)
			printf("no stored policies: 'forget' without keep options removes only expired snapshots\n");
		for (i = 0; i < ps.nheads; i++)
			if (arca_policy_conflicted(&ps, ps.heads[i])) {
				printf("\nconflict: a selector was changed by two writers at once; 'arca policy set' (or remove)\n"
				       "for it supersedes both, and 'forget' keeps its snapshots until then\n");
				break;
			}
		if (all) {
			printf("\nhistory (%zu objects, oldest first):\n", ps.nall);
			for (i = 0; i < ps.nall; i++)
				print_policy_line(ps.all[i], false);
		}
	}
	arca_policy_set_free(&ps);
	return 0;
}

/* Write p (selector and rules set) superseding every head of its selector. */
static int policy_write(cli *c, arca_repo *r, arca_policy *p)
{
	arca_policy_set ps;
	size_t i, live = 0;
	char host[256] = "", sel[512], hex[65];
	int rc;
	if ((rc = arca_policy_set_load(r, &ps)))
		return rc;
	if (!(p->supersedes = calloc(ps.nheads ? ps.nheads : 1, sizeof(*p->supersedes)))) {
		arca_policy_set_free(&ps);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	for (i = 0; i < ps.nheads; i++)
		if (arca_policy_same_selector(ps.heads[i], p)) {
			p->supersedes[p->nsupersedes++] = ps.heads[i]->id;
			live += !ps.heads[i]->removed;
		}
	arca_policy_set_free(&ps);
	arca_policy_selector_format(sel, sizeof(sel), p);
	if (p->removed && !live)
		return arca_error_set(ARCA_NOTFOUND, "no stored policy for %s", sel);
	gethostname(host, sizeof(host) - 1);
	p->author_host = host[0] ? host : NULL;
	p->time_ns = arca_time_now_ns();
	rc = arca_policy_save(r, p);
	p->author_host = NULL;
	if (rc)
		return rc;
	arca_id_hex(hex, &p->id);
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		arca_json_init(&j, &b);
		json_policy(&j, p, true, false);
		cli_json_print(&b);
		arca_buf_free(&b);
	} else if (c->verbose >= 0) {
		arca_buf d = ARCA_BUF_INIT;
		if (p->removed)
			printf("removed the policy for %s (%.8s)\n", sel, hex);
		else if (!arca_retention_describe(&p->keep, &d) && !arca_buf_cstr(&d))
			printf("policy for %s: %s (%.8s%s)\n", sel, (const char *)d.data, hex,
			       p->nsupersedes ? ", replacing the previous one" : "");
		arca_buf_free(&d);
	}
	return 0;
}

int cmd_policy(cli *c, int argc, char **argv)
{
	enum { O_HOST = 1, O_TAG, O_PATH, O_ALL };
	static const struct option own[] = {
		{ "host", required_argument, 0, O_HOST },
		{ "tag", required_argument, 0, O_TAG },
		{ "path", required_argument, 0, O_PATH },
		{ "all", no_argument, 0, O_ALL },
		{ 0, 0, 0, 0 },
	};
	struct option opts[32];
	arca_policy p;
	const char **keep_tags = NULL;
	size_t nkeep_tags = 0;
	const char *sub = argc > 1 ? argv[1] : "";
	bool set = !strcmp(sub, "set"), rm = !strcmp(sub, "remove"), show = !strcmp(sub, "show"), all = false;
	bool any_keep = false;
	arca_repo *r = NULL;
	int o, rc, code = EXIT_OK;
	arca_retention init = ARCA_RETENTION_INIT;

	if (!set && !rm && !show)
		return cli_usage("%s", policy_usage);
	memset(&p, 0, sizeof(p));
	p.keep = init;
	cli_keep_options_merge(opts, 32, own);
	optind = 0; /* getopt restarts on argv + 1 (after the subcommand) */
	while ((o = getopt_long(argc - 1, argv + 1, "", opts, NULL)) != -1) {
		if (o >= CLI_KEEP_OPT_BASE && set) {
			if ((code = cli_keep_option(o, optarg, &p.keep, &keep_tags, &nkeep_tags)))
				goto out;
			any_keep = true;
			continue;
		}
		switch (o) {
		case O_HOST: if (!show) { p.host = optarg; continue; } break;
		case O_TAG: if (!show) { p.tag = optarg; continue; } break;
		case O_PATH: if (!show) { p.path = optarg; continue; } break;
		case O_ALL: if (show) { all = true; continue; } break;
		default: break;
		}
		code = cli_usage("policy %s: option not accepted here\n%s", sub, policy_usage);
		goto out;
	}
	if (optind != argc - 1) {
		code = cli_usage("policy %s takes no arguments ('%s')\n%s", sub, argv[optind + 1], policy_usage);
		goto out;
	}
	if (set && (!any_keep || arca_retention_is_empty(&p.keep))) {
		code = cli_usage("policy set needs at least one keep option that keeps something\n%s", policy_usage);
		goto out;
	}
	p.keep_tag_v = (char **)keep_tags;
	p.nkeep_tags = nkeep_tags;
	p.removed = rm;
	if ((rc = cli_open(c, &r))) {
		code = cli_fail_open(c, rc);
		goto out;
	}
	rc = show ? policy_show(c, r, all) : policy_write(c, r, &p);
	if (rc)
		code = cli_fail(c, rc);
out:
	free(p.supersedes);
	free(keep_tags);
	arca_repo_close(r);
	return code;
}
