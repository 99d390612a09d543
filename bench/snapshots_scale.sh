#!/usr/bin/env bash
# bench/snapshots_scale.sh - listing and selecting among many snapshots.
#
# Makes a repository with one real backup of a tiny file, adds N-1 more
# snapshot objects with build/bench/snapgen (real sealed manifests written
# through the library, one hour apart, three hosts, two tags; far faster
# than N backups), then times, best of 3, each of:
#   snapshots | --json snapshots | ls latest | ls @TIME | forget --dry-run
# with a cold snapshot cache (snapshots.cache deleted before each run: every
# object fetched, as before the cache existed) and a warm one.  With
# ARCA_BEFORE_BIN=/path/to/older/arca the same commands also run with that
# binary (e.g. one built before the cache).
#
#   bench/snapshots_scale.sh [N (default 10000)] [DIR (default /var/tmp/arca-bench/snapscale)]
set -eu
cd "$(dirname "$0")/.."
N=${1:-10000}
DIR=${2:-/var/tmp/arca-bench/snapscale}
make -s -j2 all build/bench/snapgen
ARCA=$PWD/build/arca
export ARCA_PASSWORD=bench-snapscale
export ARCA_CACHE_DIR=$DIR/cache
R=$DIR/repo-$N
if [ ! -f "$R/config" ]; then
	rm -rf "$R" "$ARCA_CACHE_DIR"
	mkdir -p "$DIR/src"
	echo "tiny" >"$DIR/src/file"
	"$ARCA" -r "$R" init >/dev/null
	"$ARCA" -q -r "$R" backup "$DIR/src" >/dev/null
	[ "$N" -gt 1 ] && build/bench/snapgen "$R" $((N - 1)) 2>/dev/null
fi
got=$(ls "$R/snapshots" | wc -l)
echo "repository $R: $got snapshots; $(nproc) cores; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
mid=$("$ARCA" -r "$R" --json snapshots | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v[len(v)//2]["time"])')

best() { # BIN PRE ARGS...: best wall time of 3 runs; PRE is "cold" or "warm"
	local bin=$1 pre=$2 i t0 t1 b=
	shift 2
	"$bin" -r "$R" "$@" >/dev/null 2>&1 || true # fills the cache (warm runs)
	for i in 1 2 3; do
		[ "$pre" = cold ] && rm -f "$ARCA_CACHE_DIR"/*/snapshots.cache
		t0=$(date +%s.%N)
		"$bin" -r "$R" "$@" >/dev/null 2>"$DIR/err" || { cat "$DIR/err" >&2; return 1; }
		t1=$(date +%s.%N)
		b=$(python3 -c "import sys; t=$t1-$t0; b='$b'; print(f'{min(t, float(b)) if b else t:.3f}')")
	done
	echo "$b"
}

printf '%-52s %8s %8s' "command" "cold s" "warm s"
[ -n "${ARCA_BEFORE_BIN:-}" ] && printf ' %9s' "before s"
echo
while IFS= read -r cmd; do
	# shellcheck disable=SC2086
	printf '%-52s %8s %8s' "arca $cmd" "$(best "$ARCA" cold $cmd)" "$(best "$ARCA" warm $cmd)"
	# shellcheck disable=SC2086
	[ -n "${ARCA_BEFORE_BIN:-}" ] && printf ' %9s' "$(best "$ARCA_BEFORE_BIN" warm $cmd)"
	echo
done <<EOF
snapshots
--json snapshots
ls latest
ls @$mid
forget --dry-run --keep-daily 7 --keep-weekly 4
EOF
