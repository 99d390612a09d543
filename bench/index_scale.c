/*
 * bench/index_scale.c - the LMDB blob index at millions of chunks: insert
 * N synthetic blob entries in pack-sized batches (as backups do) and report,
 * at checkpoints, insert rate, random-lookup latency, and the process's
 * memory split into anonymous memory (heap: what must stay flat) and
 * file-backed pages of the memory-mapped database (page cache, reclaimable).
 *
 *   build/bench/index_scale [N_MILLIONS (default 5)] [DIR]
 */
#include "arca/error.h"
#include "index/index.h"
#include "util/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void mem(long *anon_kb, long *file_kb, long *hwm_kb)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	*anon_kb = *file_kb = *hwm_kb = -1;
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "RssAnon: %ld", anon_kb);
		sscanf(line, "RssFile: %ld", file_kb);
		sscanf(line, "VmHWM: %ld", hwm_kb);
	}
	if (f)
		fclose(f);
}

static void make_id(arca_id *id, uint64_t i)
{
	/* a cheap bijective mix: uniformly spread ids like real hashes */
	uint64_t z = i * 0x9E3779B97F4A7C15ULL, w;
	int k;
	for (k = 0; k < 4; k++) {
		z += 0x9E3779B97F4A7C15ULL;
		w = z;
		w = (w ^ (w >> 30)) * 0xBF58476D1CE4E5B9ULL;
		w = (w ^ (w >> 27)) * 0x94D049BB133111EBULL;
		w ^= w >> 31;
		memcpy(id->b + 8 * k, &w, 8);
	}
}

int main(int argc, char **argv)
{
	uint64_t n = (uint64_t)((argc > 1 ? atof(argv[1]) : 5.0) * 1e6), done = 0, per_pack = 4000;
	char dir[256];
	arca_index *ix;
	arca_blob_entry *e = calloc(per_pack, sizeof(*e));
	uint64_t checkpoints[] = { 500000, 1000000, 2000000, 3000000, 4000000, 5000000, 10000000, 0 };
	int cp = 0;
	double t0 = arca_monotonic();
	if (argc > 2)
		snprintf(dir, sizeof(dir), "%s", argv[2]);
	else
		snprintf(dir, sizeof(dir), "/var/tmp/arca-index-scale-%d", (int)getpid());
	if (!e || arca_index_open(&ix, dir)) {
		fprintf(stderr, "error: %s\n", arca_error_message());
		return 1;
	}
	printf("| blobs indexed | insert rate (blobs/s) | random lookup (us) | anon RSS (MiB) | mapped db pages (MiB) |\n");
	printf("|---|---|---|---|---|\n");
	while (done < n) {
		arca_index_batch *b;
		arca_id pack;
		uint64_t i, m = n - done < per_pack ? n - done : per_pack;
		make_id(&pack, ~done);
		for (i = 0; i < m; i++) {
			make_id(&e[i].id, done + i);
			e[i].offset = i * 4096;
			e[i].stored_len = 4096;
			e[i].raw_len = 4000;
		}
		if (arca_index_batch_begin(ix, &b) || arca_index_batch_add_pack(b, &pack, e, m) ||
		    arca_index_batch_commit(b)) {
			fprintf(stderr, "error: %s\n", arca_error_message());
			return 1;
		}
		done += m;
		if (checkpoints[cp] && done >= checkpoints[cp]) {
			double t1 = arca_monotonic(), t2;
			long anon, file, hwm;
			arca_index_loc loc;
			int k, misses = 0;
			for (k = 0; k < 100000; k++) {
				arca_id id;
				make_id(&id, (uint64_t)rand() % done);
				if (arca_index_lookup(ix, &id, &loc))
					misses++;
			}
			t2 = arca_monotonic();
			mem(&anon, &file, &hwm);
			printf("| %llu | %.0f | %.2f | %.1f | %.1f |%s\n", (unsigned long long)done, (double)done / (t1 - t0),
			       (t2 - t1) / 100000 * 1e6, anon / 1024.0, file / 1024.0, misses ? " (lookups missed!)" : "");
			fflush(stdout);
			cp++;
		}
	}
	arca_index_close(ix);
	free(e);
	if (argc <= 2) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd))
			return 1;
	}
	return 0;
}
