/*
 * pg/pg_proc.c - child processes for the PostgreSQL client programs and
 * the search for a binary that can talk to the server (see pg_proc.h).
 *
 * Children are started with posix_spawn and an environment built before
 * the spawn (arca has worker threads at that point: nothing may allocate
 * between fork and exec).  Every descriptor of ours is close-on-exec, so
 * a child never holds another child's pipe open.
 */
#include "pg/pg_proc.h"
#include "arca/error.h"
#include "util/buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int pg_proc_start(pg_proc *p, char *const *argv, int mode, const char *password)
{
	posix_spawn_file_actions_t fa;
	int pfd[2] = { -1, -1 }, rc = 0, err;
	char **envp = NULL, *pw = NULL;
	size_t n = 0, i, k = 0;
	const char *base = strrchr(argv[0], '/');

	memset(p, 0, sizeof(*p));
	p->fd = p->errfd = -1;
	snprintf(p->name, sizeof(p->name), "%s", base ? base + 1 : argv[0]);
	if (pipe2(pfd, O_CLOEXEC))
		return arca_error_errno(errno, "cannot create a pipe for %s", p->name);
	if ((p->errfd = memfd_create("arca-child-stderr", MFD_CLOEXEC)) < 0) {
		rc = arca_error_errno(errno, "cannot create a buffer for the messages of %s", p->name);
		goto out;
	}
	while (environ[n])
		n++;
	if (!(envp = calloc(n + 2, sizeof(char *)))) {
		rc = arca_error_set(ARCA_NOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!password || strncmp(environ[i], "PGPASSWORD=", 11))
			envp[k++] = environ[i];
	if (password) {
		size_t l = strlen(password) + 12;
		if (!(pw = malloc(l))) {
			rc = arca_error_set(ARCA_NOMEM, "out of memory");
			goto out;
		}
		snprintf(pw, l, "PGPASSWORD=%s", password);
		envp[k++] = pw;
	}
	posix_spawn_file_actions_init(&fa);
	if (mode == PG_PROC_READ) {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	} else {
		posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	}
	posix_spawn_file_actions_adddup2(&fa, p->errfd, 2);
	err = posix_spawn(&p->pid, argv[0], &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		p->pid = 0;
		rc = arca_error_errno(err, "cannot run %s", argv[0]);
		goto out;
	}
	if (mode == PG_PROC_READ) {
		p->fd = pfd[0];
		pfd[0] = -1;
	} else {
		p->fd = pfd[1];
		pfd[1] = -1;
	}
out:
	if (pfd[0] >= 0)
		close(pfd[0]);
	if (pfd[1] >= 0)
		close(pfd[1]);
	if (pw) {
		memset(pw, 0, strlen(pw));
		free(pw);
	}
	free(envp);
	if (rc && p->errfd >= 0) {
		close(p->errfd);
		p->errfd = -1;
	}
	return rc;
}

char *pg_proc_stderr(pg_proc *p)
{
	arca_buf b = ARCA_BUF_INIT;
	char tmp[4096];
	ssize_t got;
	off_t off = 0;
	if (p->errfd < 0)
		return strdup("");
	while ((got = pread(p->errfd, tmp, sizeof(tmp), off)) > 0) {
		if (arca_buf_put(&b, tmp, (size_t)got))
			break;
		off += got;
	}
	if (arca_buf_cstr(&b)) {
		arca_buf_free(&b);
		return NULL;
	}
	return (char *)arca_buf_detach(&b, NULL);
}

int pg_proc_finish(pg_proc *p, bool abort, const char *what, char **errout)
{
	int status = 0, rc = 0;
	char *msg;
	if (errout)
		*errout = NULL;
	if (p->fd >= 0) {
		close(p->fd);
		p->fd = -1;
	}
	if (p->pid > 0) {
		if (abort)
			kill(p->pid, SIGTERM);
		while (waitpid(p->pid, &status, 0) < 0) {
			if (errno != EINTR) {
				rc = arca_error_errno(errno, "cannot wait for %s", p->name);
				break;
			}
		}
		p->pid = 0;
		if (!rc && !abort && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
			size_t l, start = 0;
			msg = pg_proc_stderr(p);
			l = msg ? strlen(msg) : 0;
			while (l && (msg[l - 1] == '\n' || msg[l - 1] == ' '))
				msg[--l] = '\0';
			if (l > 1500)
				start = l - 1500;
			if (WIFEXITED(status))
				rc = arca_error_set(ARCA_ERROR, "%s failed (%s exited with status %d)%s%s", what, p->name,
						    WEXITSTATUS(status), l ? ": " : "", msg ? msg + start : "");
			else
				rc = arca_error_set(ARCA_ERROR, "%s failed (%s was killed by signal %d)%s%s", what,
						    p->name, WTERMSIG(status), l ? ": " : "", msg ? msg + start : "");
			free(msg);
		}
		if (!rc && !abort && errout)
			*errout = pg_proc_stderr(p);
	}
	if (p->errfd >= 0) {
		close(p->errfd);
		p->errfd = -1;
	}
	return rc;
}

/* Major version from "pg_dump (PostgreSQL) 15.4 (Debian ...)": 15; 9.6 -> 9. */
static int tool_version(const char *path, char *line, size_t n)
{
	char *argv[] = { (char *)path, (char *)"--version", NULL };
	char buf[512];
	size_t len = 0;
	ssize_t got;
	pg_proc p;
	const char *v;
	if (pg_proc_start(&p, argv, PG_PROC_READ, NULL)) {
		arca_error_clear();
		return -1;
	}
	while (len + 1 < sizeof(buf) && (got = read(p.fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break;
		len += (size_t)got;
	}
	buf[len] = '\0';
	if (pg_proc_finish(&p, false, "version", NULL)) {
		arca_error_clear();
		return -1;
	}
	buf[strcspn(buf, "\n")] = '\0';
	if (line)
		snprintf(line, n, "%s", buf);
	v = strstr(buf, ") ");
	return v ? atoi(v + 2) : -1;
}

static int cmp_dirent_desc(const void *a, const void *b)
{
	return atoi(*(char *const *)b) - atoi(*(char *const *)a);
}

int pg_find_tool(const char *tool, int want_major, int min_major, char *out, size_t n, char *version,
		 size_t vn)
{
	char cand[64][512], line[256], best_line[256] = "", best_path[512] = "", looked[1024] = "";
	size_t nc = 0, i;
	const char *e = getenv("ARCA_PG_BINDIR");
	int best = -1;

	if (e && *e) {
		snprintf(cand[nc++], sizeof(cand[0]), "%s/%s", e, tool);
		snprintf(looked, sizeof(looked), "%s (ARCA_PG_BINDIR)", e);
	} else {
		char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL, *tok, *save = NULL;
		DIR *d;
		if (want_major > 0)
			snprintf(cand[nc++], sizeof(cand[0]), "/usr/lib/postgresql/%d/bin/%s", want_major, tool);
		for (tok = path ? strtok_r(path, ":", &save) : NULL; tok && nc < 32; tok = strtok_r(NULL, ":", &save))
			if (*tok)
				snprintf(cand[nc++], sizeof(cand[0]), "%s/%s", tok, tool);
		free(path);
		if ((d = opendir("/usr/lib/postgresql"))) {
			struct dirent *de;
			char *names[32];
			size_t nn = 0, k;
			while ((de = readdir(d)) && nn < 32)
				if (de->d_name[0] >= '0' && de->d_name[0] <= '9')
					names[nn++] = strdup(de->d_name);
			closedir(d);
			qsort(names, nn, sizeof(char *), cmp_dirent_desc);
			for (k = 0; k < nn; k++) {
				if (names[k] && nc < 64)
					snprintf(cand[nc++], sizeof(cand[0]), "/usr/lib/postgresql/%s/bin/%s", names[k], tool);
				free(names[k]);
			}
		}
		snprintf(looked, sizeof(looked), "/usr/lib/postgresql/*/bin and PATH");
	}
	for (i = 0; i < nc; i++) {
		int major;
		if (access(cand[i], X_OK))
			continue;
		major = tool_version(cand[i], line, sizeof(line));
		if (major < 0)
			continue;
		if (major >= min_major) {
			snprintf(out, n, "%s", cand[i]);
			if (version)
				snprintf(version, vn, "%s", line);
			return 0;
		}
		if (major > best) {
			best = major;
			snprintf(best_line, sizeof(best_line), "%s", line);
			snprintf(best_path, sizeof(best_path), "%s", cand[i]);
		}
	}
	if (best >= 0)
		return arca_error_hint(arca_error_set(ARCA_ERROR,
						      "%s is too old for this server: %s (%s) is version %d, the server is "
						      "version %d",
						      tool, best_path, best_line, best, want_major),
				       "install the PostgreSQL %d client programs (Debian: apt-get install "
				       "postgresql-client-%d) or point ARCA_PG_BINDIR at a newer bin directory",
				       want_major, want_major);
	if (want_major > 0)
		return arca_error_hint(arca_error_set(ARCA_NOTFOUND, "%s not found (looked in %s)", tool, looked),
				       "install the PostgreSQL %d client programs (Debian: apt-get install "
				       "postgresql-client-%d) or set ARCA_PG_BINDIR",
				       want_major, want_major);
	return arca_error_hint(arca_error_set(ARCA_NOTFOUND, "%s not found (looked in %s)", tool, looked),
			       "install the PostgreSQL client programs (Debian: apt-get install postgresql-client) "
			       "or set ARCA_PG_BINDIR");
}
