/*
 * cli/main.c - entry point: global options, command dispatch, and the
 * helpers every command shares (passwords, opening, progress, errors).
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#define ARCA_VERSION "0.1.0"

static const char *usage_text =
	"usage: arca [-r REPO] [--password-file F] [--json] [-q|-v] COMMAND [ARGS]\n"
	"\n"
	"commands:\n"
	"  init        create a repository\n"
	"  backup      back up paths, a stream (--stdin) or a command's output\n"
	"  snapshots   list snapshots\n"
	"  ls          list files in a snapshot\n"
	"  dump        write one file of a snapshot to stdout\n"
	"  restore     restore a snapshot into a directory\n"
	"  diff        compare two snapshots\n"
	"  stats       sizes, dedup and compression ratios (--history: success rates per operation)\n"
	"  check       verify the repository (--read-data reads every pack)\n"
	"  forget      remove snapshots by a retention policy (--keep-daily 7 ...) and expired ones\n"
	"  policy      set|show|remove retention policies stored in the repository (forget's default)\n"
	"  prune       delete data no snapshot references (--dry-run, --max-unused 5%)\n"
	"  key         list, add, remove keys; change the password (passwd)\n"
	"  repair      rebuild the index from packs (repair index)\n"
	"  unlock      remove stale locks\n"
	"  log         the audit history of operations (--since 30d, --op backup)\n"
	"  pg          PostgreSQL: pg backup | restore | verify | drill (see 'arca pg help')\n"
	"  replicate   copy to another repository what it lacks (--to REPO, --connections N)\n"
	"  scrub       verify copies of the repository and repair each from the others (--replica REPO)\n"
	"  replicas    which snapshots each replica holds and whether they are whole (status, list)\n"
	"  version     print the version\n"
	"\n"
	"REPO is a path (or ARCA_REPO). Password: ARCA_PASSWORD, ARCA_PASSWORD_FILE or --password-file.\n"
	"Exit codes: 0 ok, 1 error, 2 usage, 3 some sources unreadable, 10 no repository,\n"
	"11 locked, 12 wrong password, 13 check found damage.\n";

int cli_usage(const char *fmt, ...)
{
	va_list ap;
	fputs("arca: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(see 'arca help')\n", stderr);
	return EXIT_USAGE;
}

int cli_fail(cli *c, int rc)
{
	const char *hint = arca_error_hint_text();
	(void)c;
	fprintf(stderr, "error: %s\n", arca_error_message());
	if (hint && *hint)
		fprintf(stderr, "hint: %s\n", hint);
	switch (rc) {
	case ARCA_LOCKED: return EXIT_LOCKED;
	case ARCA_AUTH: return EXIT_AUTH;
	case ARCA_INVAL: return EXIT_USAGE;
	default: return EXIT_ERR;
	}
}

int cli_fail_open(cli *c, int rc)
{
	int code = cli_fail(c, rc);
	return rc == ARCA_NOTFOUND ? EXIT_NOREPO : code;
}

int cli_fail_close(cli *c, arca_repo *r, int rc)
{
	int code = cli_fail(c, rc); /* before closing, which may set the error record */
	arca_repo_close(r);
	return code;
}

void cli_warn_cb(const char *msg, void *payload)
{
	cli *c = payload;
	if (c && c->progress)
		fputs("\r\033[K", stderr);
	fprintf(stderr, "warning: %s\n", msg);
}

static char *read_password_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;
	if (!f) {
		arca_error_errno(errno, "cannot read password file %s", path);
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return strdup(buf);
}

static char *prompt(const char *what)
{
	struct termios old, noecho;
	char buf[4096];
	FILE *tty = fopen("/dev/tty", "r+");
	size_t n;
	if (!tty)
		return NULL;
	fprintf(tty, "%s: ", what);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &noecho);
	if (!fgets(buf, sizeof(buf), tty))
		buf[0] = '\0';
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return strdup(buf);
}

int cli_get_password(cli *c, bool confirm)
{
	const char *e;
	if (c->password)
		return 0;
	if (c->password_file)
		c->password = read_password_file(c->password_file);
	else if ((e = getenv("ARCA_PASSWORD")) && *e)
		c->password = strdup(e);
	else if ((e = getenv("ARCA_PASSWORD_FILE")) && *e)
		c->password = read_password_file(e);
	else if (isatty(0)) {
		c->password = prompt("enter repository password");
		if (c->password && confirm) {
			char *again = prompt("enter password again");
			if (!again || strcmp(again, c->password)) {
				free(again);
				free(c->password);
				c->password = NULL;
				return arca_error_set(ARCA_INVAL, "passwords do not match");
			}
			free(again);
		}
	} else
		return 0; /* none: fine for unencrypted repositories */
	if (!c->password)
		return arca_error_code() ? arca_error_code() : arca_error_set(ARCA_ERROR, "cannot read password");
	return 0;
}

int cli_get_new_password(cli *c, const char *file, char **out)
{
	const char *e;
	*out = NULL;
	if (file)
		*out = read_password_file(file);
	else if ((e = getenv("ARCA_NEW_PASSWORD")) && *e)
		*out = strdup(e);
	else if (isatty(0)) {
		char *again;
		*out = prompt("enter new password");
		again = prompt("enter new password again");
		if (!*out || !again || strcmp(*out, again)) {
			free(again);
			free(*out);
			*out = NULL;
			return arca_error_set(ARCA_INVAL, "passwords do not match");
		}
		free(again);
	} else
		return arca_error_hint(arca_error_set(ARCA_INVAL, "no new password given"),
				       "set ARCA_NEW_PASSWORD or use --new-password-file");
	return *out ? 0 : arca_error_set(ARCA_ERROR, "cannot read the new password");
}

int cli_open(cli *c, arca_repo **out)
{
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	int rc;
	*out = NULL;
	if (!c->repo)
		return arca_error_hint(arca_error_set(ARCA_INVAL, "no repository given"), "use -r REPO or set ARCA_REPO");
	if ((rc = cli_get_password(c, false)))
		return rc;
	oo.cache_dir = c->cache_dir;
	oo.warn = cli_warn_cb;
	oo.warn_payload = c;
	return arca_repo_open(out, c->repo, c->password, &oo);
}

void cli_fmt_bytes(char *out, size_t n, uint64_t b)
{
	const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = (double)b;
	int i = 0;
	while (v >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, n, "%llu B", (unsigned long long)b);
	else
		snprintf(out, n, "%.2f %s", v, u[i]);
}

void cli_progress_line(cli *c, const arca_progress *p, const char *tail, const char *fmt, ...)
{
	char b[32], rate[32];
	int secs = (int)p->elapsed;
	va_list ap;
	if (!c->progress)
		return;
	cli_fmt_bytes(b, sizeof(b), p->bytes);
	cli_fmt_bytes(rate, sizeof(rate), p->elapsed > 0 ? (uint64_t)((double)p->bytes / p->elapsed) : 0);
	fprintf(stderr, "\r\033[K[%d:%02d] ", secs / 60, secs % 60);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ", %s, %s/s%s", b, rate, tail);
	fflush(stderr);
}

void cli_progress_cb(const arca_progress *p, void *payload)
{
	cli_progress_line(payload, p, p->errors ? ", some errors" : "", "%llu files, %llu dirs",
			  (unsigned long long)p->files, (unsigned long long)p->dirs);
}

void cli_progress_done(cli *c)
{
	if (c->progress)
		fputs("\r\033[K", stderr);
}

void cli_json_print(arca_buf *b)
{
	fwrite(b->data, 1, b->len, stdout);
	fputc('\n', stdout);
}

void cli_json_obj_begin(arca_json *j, arca_buf *b, const char *message_type)
{
	arca_json_init(j, b);
	arca_json_obj_begin(j);
	if (message_type)
		arca_json_kstr(j, "message_type", message_type);
}

void cli_json_obj_end(arca_json *j)
{
	arca_json_obj_end(j);
	cli_json_print(j->out);
	arca_buf_free(j->out);
}

void cli_json_arr_begin(arca_json *j, arca_buf *b)
{
	arca_json_init(j, b);
	arca_json_arr_begin(j);
}

void cli_json_arr_end(arca_json *j)
{
	arca_json_arr_end(j);
	cli_json_print(j->out);
	arca_buf_free(j->out);
}

int cli_select(cli *c, arca_repo *r, arca_snapshot_list *l, const char *sel, const arca_snapshot **out)
{
	int rc;
	if (!l->v && (rc = arca_snapshot_list_load(r, l)))
		return rc;
	return arca_snapshot_select(l, sel, NULL, out);
}

void cli_json_snapshot(arca_json *j, const arca_snapshot *s)
{
	char hex[65], sid[9], t[48];
	size_t i;
	arca_json_obj_begin(j);
	arca_id_hex(hex, &s->id);
	arca_snapshot_short_id(sid, s);
	arca_json_kstr(j, "id", hex);
	arca_json_kstr(j, "short_id", sid);
	arca_time_format(t, sizeof(t), s->time_ns);
	arca_json_kstr(j, "time", t);
	arca_json_kstr(j, "host", s->host ? s->host : "");
	arca_json_kstr(j, "username", s->user ? s->user : "");
	arca_json_key(j, "paths");
	arca_json_arr_begin(j);
	for (i = 0; i < s->npaths; i++)
		arca_json_str(j, s->paths[i]);
	arca_json_arr_end(j);
	arca_json_key(j, "tags");
	arca_json_arr_begin(j);
	for (i = 0; i < s->ntags; i++)
		arca_json_str(j, s->tags[i]);
	arca_json_arr_end(j);
	arca_json_kstr(j, "type", s->type ? s->type : "manual");
	if (s->has_parent) {
		arca_id_hex(hex, &s->parent);
		arca_json_kstr(j, "parent", hex);
	} else {
		arca_json_key(j, "parent");
		arca_json_null(j);
	}
	arca_id_hex(hex, &s->tree);
	arca_json_kstr(j, "tree", hex);
	if (s->expires_ns) {
		arca_time_format(t, sizeof(t), s->expires_ns);
		arca_json_kstr(j, "expires", t);
	}
	if (s->nmeta) {
		arca_json_key(j, "meta");
		arca_json_obj_begin(j);
		for (i = 0; i < s->nmeta; i++)
			arca_json_kstr(j, s->meta[i].key, s->meta[i].value);
		arca_json_obj_end(j);
	}
	if (s->nsource) {
		arca_json_key(j, "source");
		arca_json_obj_begin(j);
		for (i = 0; i < s->nsource; i++)
			arca_json_kstr(j, s->source[i].key, s->source[i].value);
		arca_json_obj_end(j);
	}
	arca_json_key(j, "summary");
	arca_json_obj_begin(j);
	arca_json_kuint(j, "files_new", s->stats.files_new);
	arca_json_kuint(j, "files_changed", s->stats.files_changed);
	arca_json_kuint(j, "files_unmodified", s->stats.files_unmodified);
	arca_json_kuint(j, "dirs", s->stats.dirs);
	arca_json_kuint(j, "total_bytes", s->stats.bytes_total);
	arca_json_kuint(j, "bytes_read", s->stats.bytes_read);
	arca_json_kuint(j, "blobs_added", s->stats.blobs_new);
	arca_json_kuint(j, "data_added", s->stats.bytes_added_raw);
	arca_json_kuint(j, "data_added_packed", s->stats.bytes_added);
	arca_json_kdouble(j, "duration_seconds", (double)s->stats.duration_ms / 1000.0);
	arca_json_kuint(j, "errors", s->stats.errors);
	arca_json_obj_end(j);
	arca_json_obj_end(j);
}

static const struct {
	const char *name;
	int (*fn)(cli *, int, char **);
} commands[] = {
	{ "init", cmd_init }, { "key", cmd_key }, { "backup", cmd_backup }, { "snapshots", cmd_snapshots },
	{ "ls", cmd_ls }, { "dump", cmd_dump }, { "restore", cmd_restore }, { "diff", cmd_diff },
	{ "stats", cmd_stats }, { "check", cmd_check }, { "prune", cmd_prune }, { "repair", cmd_repair },
	{ "unlock", cmd_unlock },
	{ "forget", cmd_forget }, { "log", cmd_log },
	{ "pg", cmd_pg }, { "policy", cmd_policy },
	{ "replicate", cmd_replicate }, { "scrub", cmd_scrub }, { "replicas", cmd_replicas },
};

/*
 * Global options may also follow the command, as with restic
 * ("arca snapshots --json"): move them to the front, before getopt sees
 * the command.  Nothing after "--" is touched (a command's own argv).
 */
static int hoist_globals(int argc, char **argv)
{
	static const char *const with_arg[] = { "-r", "--repo", "--password-file", "--cache-dir", NULL };
	static const char *const flags[] = { "--json", "-q", "--quiet", "-v", "--verbose", NULL };
	char **front, **rest;
	int i, k, nf = 0, nr = 0;
	front = calloc((size_t)argc + 1, sizeof(char *));
	rest = calloc((size_t)argc + 1, sizeof(char *));
	if (!front || !rest) {
		free(front);
		free(rest);
		return argc;
	}
	for (i = 1; i < argc; i++) {
		bool moved = false;
		if (!strcmp(argv[i], "--")) {
			while (i < argc)
				rest[nr++] = argv[i++];
			break;
		}
		for (k = 0; flags[k]; k++)
			if (!strcmp(argv[i], flags[k])) {
				front[nf++] = argv[i];
				moved = true;
			}
		for (k = 0; !moved && with_arg[k]; k++) {
			size_t l = strlen(with_arg[k]);
			if (!strcmp(argv[i], with_arg[k]) && i + 1 < argc) {
				front[nf++] = argv[i];
				front[nf++] = argv[++i];
				moved = true;
			} else if (!strncmp(argv[i], with_arg[k], l) && argv[i][l] == '=' && with_arg[k][1] == '-') {
				front[nf++] = argv[i];
				moved = true;
			}
		}
		if (!moved)
			rest[nr++] = argv[i];
	}
	for (i = 0; i < nf; i++)
		argv[1 + i] = front[i];
	for (i = 0; i < nr; i++)
		argv[1 + nf + i] = rest[i];
	free(front);
	free(rest);
	return argc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repo", required_argument, 0, 'r' },
		{ "password-file", required_argument, 0, 'p' },
		{ "cache-dir", required_argument, 0, 'C' },
		{ "json", no_argument, 0, 'j' },
		{ "quiet", no_argument, 0, 'q' },
		{ "verbose", no_argument, 0, 'v' },
		{ "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' },
		{ 0, 0, 0, 0 },
	};
	cli c;
	const char *e;
	size_t i;
	int o, rc;
	/* Few arenas: worker threads allocate little, and per-thread arenas
	 * only hold on to freed memory. */
	mallopt(M_ARENA_MAX, 2);
	memset(&c, 0, sizeof(c));
	c.repo = getenv("ARCA_REPO");
	if ((e = getenv("ARCA_CACHE_DIR")) && *e)
		c.cache_dir = e;
	argc = hoist_globals(argc, argv);
	while ((o = getopt_long(argc, argv, "+r:p:jqvhV", opts, NULL)) != -1) {
		switch (o) {
		case 'r': c.repo = optarg; break;
		case 'p': c.password_file = optarg; break;
		case 'C': c.cache_dir = optarg; break;
		case 'j': c.json = true; break;
		case 'q': c.verbose = -1; break;
		case 'v': c.verbose++; break;
		case 'h': fputs(usage_text, stdout); return EXIT_OK;
		case 'V': printf("arca %s\n", ARCA_VERSION); return EXIT_OK;
		default: return cli_usage("unknown global option");
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	c.progress = isatty(2) && c.verbose >= 0 && !c.json;
	if (!strcmp(argv[optind], "help")) {
		fputs(usage_text, stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[optind], "version")) {
		printf("arca %s\n", ARCA_VERSION);
		return EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[optind], commands[i].name)) {
			int cargc = argc - optind;
			char **cargv = argv + optind;
			optind = 0; /* re-initialise getopt: each command parses its own options */
			rc = commands[i].fn(&c, cargc, cargv);
			if (c.password) {
				memset(c.password, 0, strlen(c.password));
				free(c.password);
			}
			return rc;
		}
	}
	return cli_usage("unknown command '%s'", argv[optind]);
}
