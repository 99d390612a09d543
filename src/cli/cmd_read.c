/*
 * cli/cmd_read.c - commands that read snapshots: snapshots, ls, dump,
 * restore, diff, stats.
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cmd_snapshots(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, 0, 'H' },
		{ "tag", required_argument, 0, 't' },
		{ "type", required_argument, 0, 'T' },
		{ "path", required_argument, 0, 'p' },
		{ "since", required_argument, 0, 's' },
		{ "until", required_argument, 0, 'u' },
		{ 0, 0, 0, 0 },
	};
	arca_snapshot_filter f;
	arca_snapshot_list l = { 0 };
	arca_repo *r = NULL;
	size_t i, k, shown = 0;
	int o, rc;
	memset(&f, 0, sizeof(f));
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H': f.host = optarg; break;
		case 't': f.tag = optarg; break;
		case 'T': f.type = optarg; break;
		case 'p': f.path = optarg; break;
		case 's':
			if (arca_time_parse(&f.since_ns, optarg))
				return cli_usage("%s", arca_error_message());
			break;
		case 'u':
			if (arca_time_parse(&f.until_ns, optarg))
				return cli_usage("%s", arca_error_message());
			break;
		default: return cli_usage("snapshots: unknown option");
		}
	}
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = arca_snapshot_list_load(r, &l)))
		return cli_fail_close(c, r, rc);
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		cli_json_arr_begin(&j, &b);
		for (i = 0; i < l.n; i++)
			if (arca_snapshot_matches(l.v[i], &f))
				cli_json_snapshot(&j, l.v[i]);
		cli_json_arr_end(&j);
	} else {
		printf("%-8s  %-19s  %-12s  %-10s  %-16s  %s\n", "ID", "Time", "Host", "Type", "Tags", "Paths");
		printf("--------------------------------------------------------------------------------\n");
		for (i = 0; i < l.n; i++) {
			char sid[9], t[48], tags[256] = "";
			const arca_snapshot *s = l.v[i];
			if (!arca_snapshot_matches(s, &f))
				continue;
			arca_snapshot_short_id(sid, s);
			arca_time_format_local(t, sizeof(t), s->time_ns);
			for (k = 0; k < s->ntags; k++) {
				size_t tl = strlen(tags);
				snprintf(tags + tl, sizeof(tags) - tl, "%s%s", k ? "," : "", s->tags[k]);
			}
			printf("%-8s  %-19s  %-12s  %-10s  %-16s  %s\n", sid, t, s->host ? s->host : "",
			       s->type ? s->type : "", tags, s->npaths ? s->paths[0] : "");
			for (k = 1; k < s->npaths; k++)
				printf("%74s%s\n", "", s->paths[k]);
			shown++;
		}
		printf("--------------------------------------------------------------------------------\n");
		printf("%zu snapshots\n", shown);
	}
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return EXIT_OK;
}

static const char *kind_name(int k)
{
	switch (k) {
	case ARCA_NODE_FILE: return "file";
	case ARCA_NODE_DIR: return "dir";
	case ARCA_NODE_SYMLINK: return "symlink";
	case ARCA_NODE_CHARDEV: return "chardev";
	case ARCA_NODE_BLOCKDEV: return "blockdev";
	case ARCA_NODE_FIFO: return "fifo";
	case ARCA_NODE_SOCKET: return "socket";
	default: return "unknown";
	}
}

typedef struct ls_ctx {
	cli *c;
	const char *prefix;
	bool lng;
	arca_json *j;
} ls_ctx;

static int ls_cb(const char *path, const arca_node *n, void *payload)
{
	ls_ctx *x = payload;
	size_t pl = x->prefix ? strlen(x->prefix) : 0;
	if (pl && strncmp(path, x->prefix, pl))
		return n->kind == ARCA_NODE_DIR && !strncmp(x->prefix, path, strlen(path)) ? 0 : ARCA_WALK_SKIP;
	if (pl && path[pl] != '/' && path[pl] != '\0')
		return ARCA_WALK_SKIP;
	if (x->j) {
		char t[48];
		arca_json_obj_begin(x->j);
		arca_json_kstr(x->j, "path", path);
		arca_json_kstr(x->j, "name", n->name);
		arca_json_kstr(x->j, "type", kind_name(n->kind));
		arca_json_kuint(x->j, "size", n->size);
		arca_json_kuint(x->j, "mode", n->mode);
		arca_json_kuint(x->j, "uid", n->uid);
		arca_json_kuint(x->j, "gid", n->gid);
		arca_time_format(t, sizeof(t), n->mtime_ns);
		arca_json_kstr(x->j, "mtime", t);
		if (n->kind == ARCA_NODE_SYMLINK)
			arca_json_kstr(x->j, "link_target", n->link_target);
		arca_json_obj_end(x->j);
	} else if (x->lng) {
		char t[48];
		arca_time_format_local(t, sizeof(t), n->mtime_ns);
		printf("%c%04o %8s %8s %12llu %s %s%s%s\n",
		       n->kind == ARCA_NODE_DIR ? 'd' : n->kind == ARCA_NODE_SYMLINK ? 'l' : '-', n->mode,
		       n->user[0] ? n->user : "-", n->group[0] ? n->group : "-", (unsigned long long)n->size, t, path,
		       n->kind == ARCA_NODE_SYMLINK ? " -> " : "", n->kind == ARCA_NODE_SYMLINK ? n->link_target : "");
	} else {
		printf("%s\n", path);
	}
	return 0;
}

int cmd_ls(cli *c, int argc, char **argv)
{
	static const struct option opts[] = { { "long", no_argument, 0, 'l' }, { 0, 0, 0, 0 } };
	arca_snapshot_list l = { 0 };
	const arca_snapshot *s;
	arca_repo *r = NULL;
	arca_repo_reader *rd = NULL;
	ls_ctx x = { c, NULL, false, NULL };
	char prefix[8192];
	arca_buf b = ARCA_BUF_INIT;
	arca_json j;
	int o, rc, code = EXIT_OK;
	while ((o = getopt_long(argc, argv, "l", opts, NULL)) != -1) {
		if (o == 'l')
			x.lng = true;
		else
			return cli_usage("ls: unknown option");
	}
	if (optind >= argc || argc - optind > 2)
		return cli_usage("usage: arca ls SNAPSHOT [PATH]");
	if (argc - optind == 2) {
		/* "/", "dir/" and "tmp/x" mean what "", "dir" and "/tmp/x" do */
		const char *p = argv[optind + 1];
		size_t pl;
		snprintf(prefix, sizeof(prefix), "%s%s", p[0] == '/' ? "" : "/", p);
		pl = strlen(prefix);
		while (pl > 0 && prefix[pl - 1] == '/')
			prefix[--pl] = '\0';
		x.prefix = pl ? prefix : NULL;
	}
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = cli_select(c, r, &l, argv[optind], &s)) || (rc = arca_repo_reader_new(&rd, r)))
		goto fail;
	if (c->json) {
		cli_json_arr_begin(&j, &b);
		x.j = &j;
	}
	if ((rc = arca_walk(rd, &s->tree, ls_cb, &x)))
		goto fail;
	if (c->json) {
		cli_json_arr_end(&j);
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	arca_buf_free(&b);
	arca_repo_reader_free(rd);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}

int cmd_dump(cli *c, int argc, char **argv)
{
	arca_snapshot_list l = { 0 };
	const arca_snapshot *s;
	arca_repo *r = NULL;
	arca_repo_reader *rd = NULL;
	arca_node n;
	int rc, code = EXIT_OK;
	memset(&n, 0, sizeof(n));
	if (argc != 3)
		return cli_usage("usage: arca dump SNAPSHOT PATH");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if (!(rc = cli_select(c, r, &l, argv[1], &s)) && !(rc = arca_repo_reader_new(&rd, r))) {
		arca_repo_reader_trust_aead(rd);
		if (!(rc = arca_lookup_path(rd, &s->tree, argv[2], &n)))
			rc = arca_dump_file(rd, &n, 1);
	}
	if (rc)
		code = cli_fail(c, rc);
	arca_node_clear(&n);
	arca_repo_reader_free(rd);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}

int cmd_restore(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "target", required_argument, 0, 't' },
		{ "include", required_argument, 0, 'i' },
		{ "exclude", required_argument, 0, 'e' },
		{ "verify", no_argument, 0, 'V' },
		{ "threads", required_argument, 0, 'j' },
		{ 0, 0, 0, 0 },
	};
	arca_restore_opts ro = ARCA_RESTORE_OPTS_INIT;
	arca_restore_result res = { 0, 0, 0, 0, 0, 0 };
	arca_snapshot_list l = { 0 };
	const arca_snapshot *s = NULL;
	arca_repo *r = NULL;
	const char **inc = NULL, **exc = NULL;
	size_t ninc = 0, nexc = 0;
	double t0 = arca_monotonic();
	int o, rc, code = EXIT_OK;
	inc = calloc((size_t)argc, sizeof(char *));
	exc = calloc((size_t)argc, sizeof(char *));
	if (!inc || !exc) {
		free(inc);
		free(exc);
		return EXIT_ERR;
	}
	while ((o = getopt_long(argc, argv, "t:", opts, NULL)) != -1) {
		switch (o) {
		case 't': ro.target = optarg; break;
		case 'i': inc[ninc++] = optarg; break;
		case 'e': exc[nexc++] = optarg; break;
		case 'V': ro.verify = true; break;
		case 'j': ro.threads = (unsigned)atoi(optarg); break;
		default: code = cli_usage("restore: unknown option"); goto out;
		}
	}
	if (optind != argc - 1 || !ro.target) {
		code = cli_usage("usage: arca restore SNAPSHOT --target DIR [--include P] [--exclude P] [--verify]");
		goto out;
	}
	ro.includes = inc;
	ro.nincludes = ninc;
	ro.excludes = exc;
	ro.nexcludes = nexc;
	ro.progress = cli_progress_cb;
	ro.progress_payload = c;
	ro.warn = cli_warn_cb;
	ro.warn_payload = c;
	if ((rc = cli_open(c, &r))) {
		code = cli_fail_open(c, rc);
		goto out;
	}
	if ((rc = arca_repo_lock(r, false)) || (rc = cli_select(c, r, &l, argv[optind], &s)) ||
	    (rc = arca_restore(r, s, &ro, &res))) {
		cli_progress_done(c);
		code = cli_fail(c, rc);
		cli_audit(c, r, "restore", t0, code, s ? &s->id : NULL, 1, 0, NULL, ro.target);
		goto out;
	}
	cli_progress_done(c);
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		char hex[65];
		cli_json_obj_begin(&j, &b, "summary");
		arca_id_hex(hex, &s->id);
		arca_json_kstr(&j, "snapshot_id", hex);
		arca_json_kstr(&j, "target", ro.target);
		arca_json_kuint(&j, "files_restored", res.files);
		arca_json_kuint(&j, "dirs_restored", res.dirs);
		arca_json_kuint(&j, "symlinks_restored", res.links);
		arca_json_kuint(&j, "bytes_restored", res.bytes);
		arca_json_kuint(&j, "files_verified", res.verified);
		arca_json_kuint(&j, "errors", res.errors);
		arca_json_kdouble(&j, "duration_seconds", arca_monotonic() - t0);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		char sid[9], by[32];
		arca_snapshot_short_id(sid, s);
		cli_fmt_bytes(by, sizeof(by), res.bytes);
		printf("restored snapshot %s to %s: %llu files, %llu dirs, %s in %.2f s", sid, ro.target,
		       (unsigned long long)res.files, (unsigned long long)res.dirs, by, arca_monotonic() - t0);
		if (ro.verify)
			printf("; %llu files verified", (unsigned long long)res.verified);
		printf("\n");
	}
	if (res.errors) {
		fprintf(stderr, "error: %llu problem(s) during restore (see above)\n", (unsigned long long)res.errors);
		code = EXIT_ERR;
	}
	{
		char detail[4200], err[64];
		snprintf(detail, sizeof(detail), "target %s", ro.target ? ro.target : "");
		snprintf(err, sizeof(err), "%llu problem(s) during restore", (unsigned long long)res.errors);
		cli_audit(c, r, "restore", t0, code, s ? &s->id : NULL, 1, res.bytes, res.errors ? err : NULL, detail);
	}
out:
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	free(inc);
	free(exc);
	return code;
}

typedef struct diff_out {
	cli *c;
	arca_json *j;
} diff_out;

static int diff_cb(arca_diff_kind kind, const char *path, const arca_node *a, const arca_node *b, void *payload)
{
	diff_out *d = payload;
	const arca_node *n = b ? b : a;
	char k[2] = { (char)kind, 0 };
	if (d->j) {
		arca_json_obj_begin(d->j);
		arca_json_kstr(d->j, "change", kind == ARCA_DIFF_ADDED ? "added" : kind == ARCA_DIFF_REMOVED ? "removed" : "modified");
		arca_json_kstr(d->j, "path", path);
		arca_json_kstr(d->j, "type", kind_name(n->kind));
		if (a)
			arca_json_kuint(d->j, "size_before", a->size);
		if (b)
			arca_json_kuint(d->j, "size_after", b->size);
		arca_json_obj_end(d->j);
	} else {
		char sz[32] = "";
		if (n->kind == ARCA_NODE_FILE)
			cli_fmt_bytes(sz, sizeof(sz), n->size);
		printf("%s  %s%s%s%s\n", k, path, n->kind == ARCA_NODE_DIR ? "/" : "", sz[0] ? "  " : "", sz);
	}
	return 0;
}

int cmd_diff(cli *c, int argc, char **argv)
{
	arca_snapshot_list l = { 0 };
	const arca_snapshot *a, *b;
	arca_diff_result res;
	arca_repo *r = NULL;
	arca_buf out = ARCA_BUF_INIT;
	arca_json j;
	diff_out d = { c, NULL };
	int rc, code = EXIT_OK;
	if (argc != 3)
		return cli_usage("usage: arca diff SNAPSHOT_A SNAPSHOT_B");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = cli_select(c, r, &l, argv[1], &a)) || (rc = cli_select(c, r, &l, argv[2], &b)))
		goto fail;
	if (c->json) {
		cli_json_obj_begin(&j, &out, NULL);
		arca_json_key(&j, "changes");
		arca_json_arr_begin(&j);
		d.j = &j;
	}
	if ((rc = arca_diff(r, a, b, diff_cb, &d, &res)))
		goto fail;
	if (c->json) {
		arca_json_arr_end(&j);
		arca_json_kuint(&j, "added", res.added);
		arca_json_kuint(&j, "removed", res.removed);
		arca_json_kuint(&j, "modified", res.changed);
		arca_json_kuint(&j, "new_blobs", res.new_blobs);
		arca_json_kuint(&j, "new_bytes", res.new_bytes);
		cli_json_obj_end(&j);
	} else {
		char nb[32];
		cli_fmt_bytes(nb, sizeof(nb), res.new_bytes);
		printf("\n%llu added, %llu removed, %llu modified; %s of new data in B (%llu blobs)\n",
		       (unsigned long long)res.added, (unsigned long long)res.removed, (unsigned long long)res.changed, nb,
		       (unsigned long long)res.new_blobs);
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	arca_buf_free(&out);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}

/* stats --mode: restic's modes and JSON keys, plus arca's ratios */
static void print_stats_mode(cli *c, arca_stats_mode mode, const arca_stats_mode_result *m)
{
	static const char *const names[] = { "", "restore-size", "files-by-contents", "raw-data" };
	double comp = m->size ? (double)m->raw_size / (double)m->size : 0;
	double dedup = m->data_raw_size ? (double)m->restore_size / (double)m->data_raw_size : 0;
	char a[32], b[32];
	if (c->json) {
		arca_buf out = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &out, NULL);
		arca_json_kstr(&j, "mode", names[mode]);
		arca_json_kuint(&j, "total_size", m->size);
		if (mode != ARCA_STATS_RAW) {
			arca_json_kuint(&j, "total_file_count", m->files);
		} else {
			arca_json_kuint(&j, "total_uncompressed_size", m->raw_size);
			arca_json_kdouble(&j, "compression_ratio", comp);
			arca_json_kdouble(&j, "compression_space_saving",
					  m->raw_size ? 100.0 * (1.0 - (double)m->size / (double)m->raw_size) : 0);
			arca_json_kuint(&j, "total_blob_count", m->blobs);
			arca_json_kuint(&j, "tree_blob_count", m->tree_blobs);
			arca_json_kuint(&j, "missing_blob_count", m->blobs_missing);
			arca_json_kuint(&j, "restore_size", m->restore_size);
			arca_json_kuint(&j, "data_uncompressed_size", m->data_raw_size);
			arca_json_kdouble(&j, "dedup_ratio", dedup);
		}
		arca_json_kuint(&j, "snapshots_count", m->snapshots);
		cli_json_obj_end(&j);
		return;
	}
	printf("Stats in %s mode:\n", names[mode]);
	printf("     Snapshots processed:  %llu\n", (unsigned long long)m->snapshots);
	cli_fmt_bytes(a, sizeof(a), m->size);
	if (mode != ARCA_STATS_RAW) {
		printf("        Total File Count:  %llu\n", (unsigned long long)m->files);
		printf("              Total Size:  %s\n", a);
		return;
	}
	cli_fmt_bytes(b, sizeof(b), m->raw_size);
	printf("        Total Blob Count:  %llu (%llu trees)\n", (unsigned long long)m->blobs,
	       (unsigned long long)m->tree_blobs);
	printf("              Total Size:  %s (stored: compressed and sealed)\n", a);
	printf(" Total Uncompressed Size:  %s\n", b);
	printf("       Compression Ratio:  %.2fx\n", comp);
	cli_fmt_bytes(a, sizeof(a), m->restore_size);
	cli_fmt_bytes(b, sizeof(b), m->data_raw_size);
	printf("             Dedup Ratio:  %.2fx (%s restored / %s of distinct file data)\n", dedup, a, b);
	if (m->blobs_missing)
		printf("warning: %llu referenced blobs are not in the index (run 'arca check')\n",
		       (unsigned long long)m->blobs_missing);
}

int cmd_stats(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "history", no_argument, 0, 'H' },
		{ "mode", required_argument, 0, 'm' },
		{ "since", required_argument, 0, 's' },
		{ 0, 0, 0, 0 },
	};
	arca_snapshot_list l = { 0 };
	const arca_snapshot **v = NULL;
	arca_stats_result res;
	arca_repo *r = NULL;
	size_t n = 0, i;
	bool history = false;
	arca_stats_mode mode = 0;
	int64_t since = arca_time_now_ns() - 30 * 86400 * ARCA_NS_PER_SEC;
	int o, rc, code = EXIT_OK;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'H': history = true; break;
		case 'm':
			if (!strcmp(optarg, "restore-size"))
				mode = ARCA_STATS_RESTORE_SIZE;
			else if (!strcmp(optarg, "files") || !strcmp(optarg, "files-by-contents"))
				mode = ARCA_STATS_FILES;
			else if (!strcmp(optarg, "raw") || !strcmp(optarg, "raw-data"))
				mode = ARCA_STATS_RAW;
			else
				return cli_usage("--mode is restore-size, files (files-by-contents) or raw (raw-data), not '%s'",
						 optarg);
			break;
		case 's':
			if (cli_parse_since(optarg, &since))
				return cli_usage("%s", arca_error_message());
			history = true;
			break;
		default:
			return cli_usage("usage: arca stats [SNAPSHOT...] [--mode restore-size|files|raw]\n"
					 "       arca stats --history [--since 30d]");
		}
	}
	if (history && optind < argc)
		return cli_usage("stats --history takes no snapshots");
	if (history && mode)
		return cli_usage("stats --history takes no --mode");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if (history) {
		if ((rc = cli_stats_history(c, r, since)))
			goto fail;
		goto out;
	}
	if ((rc = arca_snapshot_list_load(r, &l)))
		goto fail;
	v = calloc(l.n + (size_t)argc, sizeof(*v));
	if (!v) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto fail;
	}
	if (optind < argc) {
		for (i = (size_t)optind; i < (size_t)argc; i++)
			if ((rc = arca_snapshot_select(&l, argv[i], NULL, &v[n++])))
				goto fail;
	} else {
		for (i = 0; i < l.n; i++)
			v[n++] = l.v[i];
	}
	if (mode) {
		arca_stats_mode_result m;
		if ((rc = arca_stats_mode_run(r, mode, v, n, &m)))
			goto fail;
		print_stats_mode(c, mode, &m);
		goto out;
	}
	if ((rc = arca_stats(r, v, n, &res)))
		goto fail;
	{
		double dedup = res.raw_size ? (double)res.restore_size / (double)res.raw_size : 0;
		double comp = res.stored_size ? (double)res.raw_size / (double)res.stored_size : 0;
		if (c->json) {
			arca_buf b = ARCA_BUF_INIT;
			arca_json j;
			cli_json_obj_begin(&j, &b, NULL);
			arca_json_kuint(&j, "snapshots", res.snapshots);
			arca_json_kuint(&j, "files", res.files);
			arca_json_kuint(&j, "restore_size", res.restore_size);
			arca_json_kuint(&j, "unique_blobs", res.unique_blobs);
			arca_json_kuint(&j, "raw_size", res.raw_size);
			arca_json_kuint(&j, "stored_size", res.stored_size);
			arca_json_kuint(&j, "repository_packs", res.packs);
			arca_json_kuint(&j, "repository_size", res.pack_bytes);
			arca_json_kdouble(&j, "dedup_ratio", dedup);
			arca_json_kdouble(&j, "compression_ratio", comp);
			arca_json_kdouble(&j, "space_saving_ratio",
					  res.stored_size ? (double)res.restore_size / (double)res.stored_size : 0);
			cli_json_obj_end(&j);
		} else {
			char a[32], b2[32], s2[32], p[32];
			cli_fmt_bytes(a, sizeof(a), res.restore_size);
			cli_fmt_bytes(b2, sizeof(b2), res.raw_size);
			cli_fmt_bytes(s2, sizeof(s2), res.stored_size);
			cli_fmt_bytes(p, sizeof(p), res.pack_bytes);
			printf("snapshots:          %llu\n", (unsigned long long)res.snapshots);
			printf("files:              %llu\n", (unsigned long long)res.files);
			printf("restore size:       %s\n", a);
			printf("unique data:        %s in %llu blobs\n", b2, (unsigned long long)res.unique_blobs);
			printf("stored (packed):    %s\n", s2);
			printf("repository packs:   %llu, %s\n", (unsigned long long)res.packs, p);
			printf("dedup ratio:        %.2fx\n", dedup);
			printf("compression ratio:  %.2fx\n", comp);
		}
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	free(v);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return code;
}
