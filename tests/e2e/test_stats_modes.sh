#!/usr/bin/env bash
# test_stats_modes: `stats --mode restore-size|files|raw` (restic's modes)
# on a tree with known sizes: duplicate contents, a hard link, an empty
# file, then a second snapshot adding one file.  Checks counts and sizes
# per snapshot and for the whole repository, the raw-data blob count and
# uncompressed size, that the stored size covers seal overhead, the dedup
# ratio, and that plain `stats` keeps its old output.
. "$(dirname "$0")/lib.sh"

R=$T/repo
S=$T/src
mkdir -p "$S"
init_repo "$R"
head -c 1000 /dev/urandom >"$S/a"
cp "$S/a" "$S/b"
head -c 2000 /dev/urandom >"$S/c"
ln "$S/c" "$S/h"
: >"$S/e"
ok arca -r "$R" backup "$S" --time 2026-01-01T00:00:00Z
head -c 3000 /dev/urandom >"$S/d"
ok arca -r "$R" backup "$S" --time 2026-01-02T00:00:00Z

# jstat ARGS... -> "key=value ..." for the given keys of stats --json
stat_json() { # mode, snapshots...
	local mode=$1
	shift
	ok arca -r "$R" --json stats --mode "$mode" "$@"
	cp "$T/out" "$T/stats.json"
}
jv() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$T/stats.json" "$1"; }
expect() { # key, value, what
	[ "$(jv "$1")" = "$2" ] || fail "$3: $1 is $(jv "$1"), expected $2 ($(cat "$T/stats.json"))"
}

note "restore-size: files as restored, a hard link once per snapshot"
stat_json restore-size @2026-01-01T00:00:00Z
expect total_file_count 4 "restore-size of the first snapshot"
expect total_size 4000 "restore-size of the first snapshot"
expect snapshots_count 1 "restore-size of the first snapshot"
stat_json restore-size
expect total_file_count 9 "restore-size of the repository"
expect total_size 11000 "restore-size of the repository"
expect snapshots_count 2 "restore-size of the repository"

note "files: distinct contents"
stat_json files latest
expect total_file_count 4 "files of the second snapshot (a=b, c=h, e, d)"
expect total_size 6000 "files of the second snapshot"
stat_json files-by-contents
expect total_file_count 4 "files of the repository"
expect total_size 6000 "files of the repository"

note "raw: the distinct blobs as stored"
stat_json raw @2026-01-01T00:00:00Z
expect data_uncompressed_size 3000 "raw data of the first snapshot (a, c: one chunk each)"
first_blobs=$(jv total_blob_count)
first_trees=$(jv tree_blob_count)
[ $((first_blobs - first_trees)) = 2 ] || fail "raw: expected 2 data blobs in the first snapshot ($(cat "$T/stats.json"))"
stat_json raw
expect data_uncompressed_size 6000 "raw data of the repository"
expect missing_blob_count 0 "raw"
expect restore_size 11000 "raw"
blobs=$(jv total_blob_count)
trees=$(jv tree_blob_count)
[ $((blobs - trees)) = 3 ] || fail "raw: expected 3 data blobs ($(cat "$T/stats.json"))"
python3 - "$T/stats.json" "$blobs" <<'EOF' || fail "raw sizes: $(cat "$T/stats.json")"
import json, sys
d = json.load(open(sys.argv[1])); blobs = int(sys.argv[2])
# random data does not shrink: each blob is stored raw plus a 24-byte nonce and a 16-byte tag
assert d["total_size"] <= d["total_uncompressed_size"] + 40 * blobs, d
assert d["total_size"] > d["data_uncompressed_size"], d
assert abs(d["dedup_ratio"] - 11000 / 6000) < 0.001, d
assert abs(d["compression_ratio"] - d["total_uncompressed_size"] / d["total_size"]) < 0.001, d
EOF
ok arca -r "$R" stats --mode raw
assert_contains "$T/out" "Stats in raw-data mode"
assert_contains "$T/out" "Dedup Ratio:  1.83x"

note "usage errors; plain stats unchanged"
expect_exit 2 arca -r "$R" stats --mode nonsense
expect_exit 2 arca -r "$R" stats --history --mode raw
ok arca -r "$R" --json stats
python3 -c '
import json,sys
d = json.load(open(sys.argv[1]))
for k in ("snapshots","files","restore_size","unique_blobs","raw_size","stored_size","repository_packs","repository_size","dedup_ratio","compression_ratio"):
    assert k in d, k
assert d["snapshots"] == 2 and d["files"] == 11 and d["restore_size"] == 15000, d  # every path, as before' "$T/out" || fail "plain stats --json changed: $(cat "$T/out")"
ok arca -r "$R" stats
assert_contains "$T/out" "restore size:"
assert_contains "$T/out" "dedup ratio:"
