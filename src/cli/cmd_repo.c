/*
 * cli/cmd_repo.c - repository-level commands: init, key, repair, unlock.
 */
#include "cli/cli.h"
#include "util/timefmt.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static int parse_size(const char *s, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	if (end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v *= 1024, end++;
	else if (*end == 'M' || *end == 'm')
		v *= 1024 * 1024, end++;
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end == 'B')
		end++;
	if (*end || v > 0xffffffffULL)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

int cmd_init(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "encryption", required_argument, 0, 'e' },
		{ "compression", required_argument, 0, 'c' },
		{ "chunker", required_argument, 0, 'k' },
		{ "pack-size", required_argument, 0, 'P' },
		{ "kdf-time", required_argument, 0, 't' },
		{ "kdf-memory", required_argument, 0, 'm' },
		{ 0, 0, 0, 0 },
	};
	arca_repo_init_opts io = ARCA_REPO_INIT_OPTS_INIT;
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	arca_repo *r = NULL;
	const arca_cipher *ci;
	char hex[65];
	int o, rc;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'e':
			if (!(ci = arca_cipher_by_name(optarg)))
				return cli_usage("unknown encryption '%s' (use xchacha20-poly1305, aes-256-gcm or none)", optarg);
			io.cipher = ci->id;
			break;
		case 'c':
			if (arca_compress_parse(optarg, &io.compress_algo, &io.compress_level))
				return cli_usage("%s", arca_error_message());
			break;
		case 'k': {
			char *a = strdup(optarg), *s1, *s2;
			s1 = strchr(a, ',');
			s2 = s1 ? strchr(s1 + 1, ',') : NULL;
			if (!s1 || !s2) {
				free(a);
				return cli_usage("--chunker takes MIN,AVG,MAX (e.g. 512K,1M,8M)");
			}
			*s1 = *s2 = '\0';
			if (parse_size(a, &io.chunker.min) || parse_size(s1 + 1, &io.chunker.avg) ||
			    parse_size(s2 + 1, &io.chunker.max)) {
				free(a);
				return cli_usage("--chunker takes MIN,AVG,MAX (e.g. 512K,1M,8M)");
			}
			free(a);
			if (arca_chunker_params_check(&io.chunker))
				return cli_usage("%s", arca_error_message());
			break;
		}
		case 'P':
			if (parse_size(optarg, &io.pack_size))
				return cli_usage("bad --pack-size '%s'", optarg);
			break;
		case 't': io.kdf_t = (uint32_t)atoi(optarg); break;
		case 'm':
			if (parse_size(optarg, &io.kdf_m_kib))
				return cli_usage("bad --kdf-memory '%s'", optarg);
			io.kdf_m_kib /= 1024;
			break;
		default: return cli_usage("init: unknown option");
		}
	}
	if (optind != argc)
		return cli_usage("init takes no arguments");
	if (!c->repo)
		return cli_usage("no repository given: use -r REPO or set ARCA_REPO");
	if (io.cipher != ARCA_CIPHER_NONE) {
		if ((rc = cli_get_password(c, true)))
			return cli_fail(c, rc);
		if (!c->password || !*c->password)
			return cli_usage("an encrypted repository needs a password: set ARCA_PASSWORD, "
					 "ARCA_PASSWORD_FILE or --password-file (or --encryption none)");
	}
	oo.cache_dir = c->cache_dir;
	oo.warn = cli_warn_cb;
	oo.warn_payload = c;
	if ((rc = arca_repo_init(&r, c->repo, c->password, &io, &oo)))
		return cli_fail(c, rc);
	arca_id_hex(hex, arca_repo_id(r));
	if (c->json) {
		arca_buf b = ARCA_BUF_INIT;
		arca_json j;
		cli_json_obj_begin(&j, &b, NULL);
		arca_json_kstr(&j, "id", hex);
		arca_json_kstr(&j, "repository", c->repo);
		arca_json_kstr(&j, "encryption", arca_repo_cipher(r)->name);
		arca_json_kstr(&j, "compression", arca_compress_name(io.compress_algo));
		arca_json_kint(&j, "compression_level", io.compress_level);
		arca_json_key(&j, "chunker");
		arca_json_obj_begin(&j);
		arca_json_kuint(&j, "min", io.chunker.min);
		arca_json_kuint(&j, "avg", io.chunker.avg);
		arca_json_kuint(&j, "max", io.chunker.max);
		arca_json_obj_end(&j);
		cli_json_obj_end(&j);
	} else if (c->verbose >= 0) {
		printf("created arca repository %.10s at %s (%s, %s", hex, c->repo, arca_repo_cipher(r)->name,
		       arca_compress_name(io.compress_algo));
		if (io.compress_algo)
			printf(":%d", io.compress_level);
		printf(")\n");
		if (io.cipher != ARCA_CIPHER_NONE)
			printf("keep the password safe: without it the data cannot be read\n");
	}
	arca_repo_close(r);
	return EXIT_OK;
}

int cmd_key(cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "new-password-file", required_argument, 0, 'n' },
		{ 0, 0, 0, 0 },
	};
	const char *npf = NULL, *sub;
	arca_repo *r = NULL;
	char *npw = NULL, hex[65];
	int o, rc = 0, code = EXIT_OK;
	double t0 = arca_monotonic();
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (o == 'n')
			npf = optarg;
		else
			return cli_usage("key: unknown option");
	}
	if (optind >= argc)
		return cli_usage("key needs a subcommand: list, add, remove ID, passwd");
	sub = argv[optind];
	if (strcmp(sub, "list") && strcmp(sub, "add") && strcmp(sub, "remove") && strcmp(sub, "passwd"))
		return cli_usage("unknown key subcommand '%s'", sub);
	if (!strcmp(sub, "remove") && optind + 1 >= argc)
		return cli_usage("key remove needs a key id");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if (!strcmp(sub, "list")) {
		arca_key_info *v = NULL;
		size_t n, i;
		if ((rc = arca_repo_key_list(r, &v, &n)))
			goto fail;
		if (c->json) {
			arca_buf b = ARCA_BUF_INIT;
			arca_json j;
			char t[48];
			cli_json_arr_begin(&j, &b);
			for (i = 0; i < n; i++) {
				arca_json_obj_begin(&j);
				arca_id_hex(hex, &v[i].id);
				arca_json_kstr(&j, "id", hex);
				arca_json_kbool(&j, "current", v[i].current);
				arca_json_kstr(&j, "host", v[i].host);
				arca_json_kstr(&j, "user", v[i].user);
				arca_time_format(t, sizeof(t), v[i].created_ns);
				arca_json_kstr(&j, "created", t);
				arca_json_kuint(&j, "kdf_time", v[i].kdf_t);
				arca_json_kuint(&j, "kdf_memory_kib", v[i].kdf_m_kib);
				arca_json_obj_end(&j);
			}
			cli_json_arr_end(&j);
		} else {
			char t[48];
			printf(" %-10s  %-20s  %-12s  %s\n", "ID", "Host", "User", "Created");
			for (i = 0; i < n; i++) {
				arca_id_hex(hex, &v[i].id);
				arca_time_format_local(t, sizeof(t), v[i].created_ns);
				printf("%c%.10s  %-20s  %-12s  %s\n", v[i].current ? '*' : ' ', hex, v[i].host, v[i].user, t);
			}
		}
		free(v);
	} else if (!strcmp(sub, "add") || !strcmp(sub, "passwd")) {
		arca_id nid;
		if ((rc = arca_repo_lock(r, false)) || (rc = cli_get_new_password(c, npf, &npw)))
			goto fail;
		if (!strcmp(sub, "add"))
			rc = arca_repo_key_add(r, npw, &nid);
		else
			rc = arca_repo_key_passwd(r, npw);
		if (rc)
			goto fail;
		if (!strcmp(sub, "add")) {
			arca_id_hex(hex, &nid);
			if (c->verbose >= 0)
				printf("added key %.10s\n", hex);
		} else if (c->verbose >= 0) {
			printf("password changed\n");
		}
	} else {
		if ((rc = arca_repo_lock(r, true)) || (rc = arca_repo_key_remove(r, argv[optind + 1])))
			goto fail;
		if (c->verbose >= 0)
			printf("removed key %s\n", argv[optind + 1]);
	}
	goto out;
fail:
	code = cli_fail(c, rc);
out:
	if (strcmp(sub, "list")) {
		char op[16];
		snprintf(op, sizeof(op), "key-%s", sub);
		cli_audit(c, r, op, t0, code, NULL, 0, 0, NULL, !strcmp(sub, "remove") ? argv[optind + 1] : NULL);
	}
	if (npw) {
		memset(npw, 0, strlen(npw));
		free(npw);
	}
	arca_repo_close(r);
	return code;
}

int cmd_repair(cli *c, int argc, char **argv)
{
	arca_repo *r = NULL;
	uint64_t np = 0, nb = 0;
	int rc;
	double t0 = arca_monotonic();
	char detail[96];
	if (argc != 2 || strcmp(argv[1], "index"))
		return cli_usage("usage: arca repair index");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if ((rc = arca_repo_lock(r, true)) || (rc = arca_repo_index_rebuild_from_packs(r, &np, &nb))) {
		rc = cli_fail(c, rc);
		cli_audit(c, r, "repair-index", t0, rc, NULL, 0, 0, NULL, NULL);
		arca_repo_close(r);
		return rc;
	}
	snprintf(detail, sizeof(detail), "%llu packs, %llu blobs", (unsigned long long)np, (unsigned long long)nb);
	cli_audit(c, r, "repair-index", t0, EXIT_OK, NULL, 0, 0, NULL, detail);
	if (c->json)
		printf("{\"packs\":%llu,\"blobs\":%llu}\n", (unsigned long long)np, (unsigned long long)nb);
	else if (c->verbose >= 0)
		printf("index rebuilt from %llu packs (%llu blobs)\n", (unsigned long long)np, (unsigned long long)nb);
	arca_repo_close(r);
	return EXIT_OK;
}

static int remove_lock(const char *key, uint64_t size, void *payload)
{
	arca_repo *r = payload;
	return arca_be_remove(arca_repo_backend(r), key);
}

int cmd_unlock(cli *c, int argc, char **argv)
{
	arca_repo *r = NULL;
	bool all = argc == 2 && !strcmp(argv[1], "--remove-all");
	int rc;
	if (argc > 2 || (argc == 2 && !all))
		return cli_usage("usage: arca unlock [--remove-all]");
	if ((rc = cli_open(c, &r)))
		return cli_fail_open(c, rc);
	if (all)
		rc = arca_be_list(arca_repo_backend(r), "locks/", remove_lock, r);
	else if (!(rc = arca_repo_lock(r, true)))
		rc = arca_repo_unlock(r); /* taking a lock clears stale ones */
	if (rc == ARCA_LOCKED && !all) {
		fprintf(stderr, "%s\n(a live lock is not removed; use --remove-all if you are sure)\n",
			arca_error_message());
		arca_repo_close(r);
		return EXIT_LOCKED;
	}
	if (rc)
		return cli_fail_close(c, r, rc);
	if (c->verbose >= 0)
		printf("%s\n", all ? "removed all locks" : "stale locks removed");
	arca_repo_close(r);
	return EXIT_OK;
}
