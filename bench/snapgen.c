/*
 * bench/snapgen.c - write many real snapshot manifests quickly, for the
 * snapshot-scale benchmark (bench/snapshots_scale.sh) and cache tests.
 *
 * Takes the newest snapshot of an existing repository as a template (its
 * root tree, paths, type) and saves N new snapshot objects through the
 * library (arca_snapshot_save: sealed, content-named, durable), one hour
 * apart going back from the template's time, spread over three hosts and
 * two tags.  They are ordinary snapshots that every command reads; only the
 * data walk of a backup is skipped (each references the same tree).
 *
 *   ARCA_PASSWORD=... build/bench/snapgen REPO N
 */
#include "arca/snapshot.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	arca_repo_open_opts oo = ARCA_REPO_OPEN_OPTS_INIT;
	arca_snapshot_list l = { 0 };
	arca_repo *r = NULL;
	const arca_snapshot *tpl;
	long i, n;
	double t0;
	int rc;
	if (argc != 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: ARCA_PASSWORD=... %s REPO N\n", argv[0]);
		return 2;
	}
	if ((rc = arca_repo_open(&r, argv[1], getenv("ARCA_PASSWORD"), &oo)) ||
	    (rc = arca_repo_lock(r, false)) || (rc = arca_snapshot_list_load(r, &l)))
		goto fail;
	if (!l.n) {
		fprintf(stderr, "snapgen: the repository needs one snapshot to copy (run a backup first)\n");
		arca_repo_close(r);
		return 1;
	}
	tpl = l.v[l.n - 1];
	t0 = arca_monotonic();
	for (i = 0; i < n; i++) {
		static const char *const hosts[] = { "alpha", "beta", "gamma" };
		static const char *const tagv[] = { "nightly", "hourly" };
		char *tags[1] = { (char *)tagv[i % 2] };
		arca_snapshot s = *tpl;
		s.time_ns = tpl->time_ns - (int64_t)(i + 1) * 3600 * ARCA_NS_PER_SEC;
		s.host = (char *)hosts[i % 3];
		s.tags = tags;
		s.ntags = 1;
		s.has_parent = false;
		if ((rc = arca_snapshot_save(r, &s)))
			goto fail;
		if ((i + 1) % 1000 == 0)
			fprintf(stderr, "snapgen: %ld snapshots, %.1f s\n", i + 1, arca_monotonic() - t0);
	}
	printf("wrote %ld snapshots in %.1f s\n", n, arca_monotonic() - t0);
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return 0;
fail:
	fprintf(stderr, "snapgen: %s\n", arca_error_message());
	arca_snapshot_list_free(&l);
	arca_repo_close(r);
	return 1;
}
