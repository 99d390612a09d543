/*
 * cli/cmd_log.c - arca log (the audit history) and arca stats --history
 * (success rate, average duration and size per operation over a window).
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

int cli_parse_since(const char *s, int64_t *out)
{
	char buf[64];
	size_t n = strlen(s);
	int64_t d;
	/* "30d", "30d-ago", "30d ago": a duration before now */
	if (n < sizeof(buf)) {
		memcpy(buf, s, n + 1);
		if (n > 4 && (!strcmp(buf + n - 4, "-ago") || !strcmp(buf + n - 4, " ago")))
			buf[n - 4] = '\0';
		if (!arca_duration_parse(&d, buf)) {
			*out = arca_time_now_ns() - d;
			return 0;
		}
	}
	if (arca_time_parse(out, s))
		return arca_error_set(ARCA_INVAL, "--since takes a time (2026-11-01, RFC 3339) or a duration "
					      "like 30d, not '%s'", s);
	return 0;
}

static void json_entry(arca_json *j, const arca_audit_entry *e)
{
	char hex[65], t[48];
	size_t i;
	arca_json_obj_begin(j);
	arca_id_hex(hex, &e->id);
	arca_json_kstr(j, "id", hex);
	arca_time_format(t, sizeof(t), e->time_ns);
	arca_json_kstr(j, "time", t);
	arca_json_kstr(j, "host", e->host ? e->host : "");
	arca_json_kstr(j, "user", e->user ? e->user : "");
	arca_json_kstr(j, "operation", e->op);
	arca_json_kstr(j, "result", e->result);
	arca_json_key(j, "snapshots");
	arca_json_arr_begin(j);
	for (i = 0; i < e->nsnapshots; i++) {
		arca_id_hex(hex, &e->snapshots[i]);
		arca_json_str(j, hex);
	}
	arca_json_arr_end(j);
	arca_json_kuint(j, "bytes", e->bytes);
	arca_json_kdouble(j, "duration_seconds", (double)e->duration_ms / 1000.0);
	arca_json_kuint(j, "exit_code", e->exit_code);
	if (e->error)
		arca_json_kstr(j, "error", e->error);
	if (e->detail)
		arca_json_kstr(j, "detail", e->detail);
	arca_json_obj_end(j);
}

static void text_entry(const arca_audit_entry *e)
{
	char t[48], by[32], snaps[40], hex[65];
	size_t i, len = 0;
	arca_time_format_local(t, sizeof(t), e->time_ns);
	cli_fmt_bytes(by, sizeof(by), e->bytes);
	snaps[0] = '\0';
	for (i = 0; i < e->nsnapshots && len + 10 < sizeof(snaps); i++) {
		arca_id_hex(hex, &e->snapshots[i]);
		len += (size_t)snprintf(snaps + len, sizeof(snaps) - len, "%s%.8s", i ? "," : "", hex);
	}
	if (i < e->nsnapshots && len + 4 < sizeof(snaps))
		strcat(snaps, ",..");
	printf("%-19s  %-16.16s  %-10.10s  %-12s  %-7s  %-17s  %10s  %8.2fs  %s%s%s\n", t, e->host ? e->host : "",
	       e->user ? e->user : "", e->op, e->result, *snaps ? snaps : "-", by, (double)e->duration_ms / 1000.0,
	       e->error ? e->error : "", e->error && e->detail ? "; " : "", e->detail ? e->detail : "");
}

int cmd_log(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "since", required_argument, 0, 's' },
		{ "op", required_argument, 0, 'o' },
		{ 0, 0, 0, 0 },
	};
	arca_audit_entry **v = NULL;
	arca_repo *r = NULL;
	const char *op = NULL;
	int64_t since = 0;
	size_t n = 0, i;
	int o, rc;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's':
			if (cli_parse_since(optarg, &since))
				return cli_usage("%s", arca_error_message());
			break;
		case 'o': op = optarg; break;
		default: return cli_usage("usage: arca log [--since TIME|DURATION] [--op OP] [--json]");
		}
	}
	if (optind != argc)
		return cli_usage("usage: arca log [--since TIME|DURATION] [--op OP] [--json]");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = arca_audit_list(r, since, &v, &n)))
		return cli_fail_close(c, r, rc);
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		cli_json_arr_begin(&j, &b);
		for (i = 0; i < n; i++)
			if (!op || !strcmp(op, v[i]->op))
				json_entry(&j, v[i]);
		cli_json_arr_end(&j);
	} else {
		printf("%-19s  %-16s  %-10s  %-12s  %-7s  %-17s  %10s  %9s  %s\n", "Time", "Host", "User", "Operation",
		       "Result", "Snapshots", "Bytes", "Duration", "Error/Detail");
		for (i = 0; i < n; i++)
			if (!op || !strcmp(op, v[i]->op))
				text_entry(v[i]);
	}
	arca_audit_list_free(v, n);
	arca_repo_close(r);
	return EXIT_OK;
}

typedef struct op_stats {
	const char *op; /* borrowed from an entry */
	uint64_t count, ok, duration_ms, bytes;
} op_stats;

static int cmp_op(const void *a, const void *b)
{
	return strcmp(((const op_stats *)a)->op, ((const op_stats *)b)->op);
}

int cli_stats_history(cli *c, arca_repo *r, int64_t since_ns)
{
	arca_audit_entry **v = NULL;
	op_stats *st = NULL;
	size_t n = 0, ns = 0, i, k;
	int rc;
	char t[48];
	if ((rc = arca_audit_list(r, since_ns, &v, &n)))
		return rc;
	if (!(st = calloc(n ? n : 1, sizeof(*st)))) {
		arca_audit_list_free(v, n);
		return arca_error_set(ARCA_NOMEM, "out of memory");
	}
	for (i = 0; i < n; i++) {
		for (k = 0; k < ns && strcmp(st[k].op, v[i]->op); k++)
			;
		if (k == ns)
			st[ns++].op = v[i]->op;
		st[k].count++;
		st[k].ok += !strcmp(v[i]->result, "ok");
		st[k].duration_ms += v[i]->duration_ms;
		st[k].bytes += v[i]->bytes;
	}
	if (ns)
		qsort(st, ns, sizeof(*st), cmp_op);
	arca_time_format(t, sizeof(t), since_ns);
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &b, NULL);
		arca_json_kstr(&j, "since", t);
		arca_json_kuint(&j, "entries", n);
		arca_json_key(&j, "operations");
		arca_json_obj_begin(&j);
		for (k = 0; k < ns; k++) {
			arca_json_key(&j, st[k].op);
			arca_json_obj_begin(&j);
			arca_json_kuint(&j, "count", st[k].count);
			arca_json_kuint(&j, "successes", st[k].ok);
			arca_json_kuint(&j, "failures", st[k].count - st[k].ok);
			arca_json_kdouble(&j, "success_rate", (double)st[k].ok / (double)st[k].count);
			arca_json_kdouble(&j, "avg_duration_seconds",
					  (double)st[k].duration_ms / 1000.0 / (double)st[k].count);
			arca_json_kuint(&j, "avg_bytes", st[k].bytes / st[k].count);
			arca_json_obj_end(&j);
		}
		arca_json_obj_end(&j);
		cli_json_obj_end(&j);
	} else {
		arca_time_format_local(t, sizeof(t), since_ns);
		printf("operations since %s: %zu\n", t, n);
		if (ns)
			printf("%-12s  %6s  %6s  %8s  %12s  %12s\n", "Operation", "Count", "OK", "Success", "Avg time",
			       "Avg size");
		for (k = 0; k < ns; k++) {
			char by[32];
			cli_fmt_bytes(by, sizeof(by), st[k].bytes / st[k].count);
			printf("%-12s  %6llu  %6llu  %7.1f%%  %11.2fs  %12s\n", st[k].op, (unsigned long long)st[k].count,
			       (unsigned long long)st[k].ok, 100.0 * (double)st[k].ok / (double)st[k].count,
			       (double)st[k].duration_ms / 1000.0 / (double)st[k].count, by);
		}
	}
	free(st);
	arca_audit_list_free(v, n);
	return 0;
}
