#!/usr/bin/env bash
# bench/cloud.sh - arca against S3 (s3rver on loopback, the tests' server):
#
#   replicate a local repository to S3    vs  aws s3 sync of the same directory (throughput)
#   restore latest from the S3 replica    vs  restore from the local repository (time)
#   objects and requests per GB stored    arca and restic 0.14, both to the same s3rver through
#                                         a counting pass-through proxy (tests/servers/faultd.py)
#
# Not run by the tests.  Data: bench/gen.py's tree (BENCH_SCALE of ~1 GB of /usr files),
# generated once into $BENCH_DIR/data like bench/run.sh does.  Installs awscli and restic with
# apt-get when missing (as root), and the npm test servers (make servers).
# Environment:
#   BENCH_DIR    work directory (default /var/tmp/arca-bench; data is reused from there)
#   BENCH_SCALE  data size factor (default 0.3: ~300 MB of files)
#   ARCA_BIN     arca binary (default build/arca)
#   CONNECTIONS  parallel transfers for arca replicate (default 8; aws s3 sync uses 10)
#   RESTORE_PAIRS  alternating (local, S3) restore pairs; the median ratio is reported (default 5)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$HERE/.." && pwd)
BD=${BENCH_DIR:-/var/tmp/arca-bench}
SCALE=${BENCH_SCALE:-0.3}
ARCA=${ARCA_BIN:-$ROOT_DIR/build/arca}
CONN=${CONNECTIONS:-8}
PAIRS=${RESTORE_PAIRS:-5}
W=$BD/cloud
say() { printf '[cloud-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=bench/targetfs.sh
. "$HERE/targetfs.sh"
fail() { say "error: $*"; exit 1; }
now() { date +%s.%N; }
secs() { python3 -c "print('%.2f' % ($2 - $1))"; }
ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
dirbytes() { du -sb "$1" | cut -f1; }

[ -x "$ARCA" ] || fail "no arca binary at $ARCA (run make)"
for p in awscli:aws restic:restic; do
	cmd=${p#*:}
	if [ ! -x "/usr/bin/$cmd" ]; then
		[ "$(id -u)" = 0 ] || fail "$cmd is not installed (apt-get install ${p%%:*})"
		say "installing ${p%%:*}"
		apt-get install -y -qq "${p%%:*}" >/dev/null || { apt-get update -qq && apt-get install -y -qq "${p%%:*}" >/dev/null; }
	fi
done
AWS=/usr/bin/aws # Debian's v2; a pip-installed v1 may shadow it on PATH
make -s -C "$ROOT_DIR" servers >/dev/null

# servers.sh expects lib.sh's helpers
_BG_PIDS=()
bg_track() { _BG_PIDS+=("$@"); }
T=$W/tmp
cleanup() {
	local p
	for p in "${_BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${_BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	targetfs_down
	rm -rf "$W"
}
trap cleanup EXIT
rm -rf "$W"
mkdir -p "$W" "$T"
. "$ROOT_DIR/tests/e2e/servers.sh"

DATA=$BD/data-cloud-$SCALE
if [ ! -d "$DATA/tree" ]; then
	say "generating the tree (scale $SCALE)"
	rm -rf "$DATA"
	python3 "$HERE/gen.py" tree "$DATA" "$SCALE" >/dev/null
fi
TREE=$DATA/tree
TREE_BYTES=$(dirbytes "$TREE")

export ARCA_PASSWORD=bench RESTIC_PASSWORD=bench
start_s3 "$W/s3"
make_bucket arca
make_bucket aws
make_bucket restic
S3URL=$ARCA_S3_ENDPOINT
export AWS_EC2_METADATA_DISABLED=true

say "local arca repository of the tree ($(numfmt --to=iec "$TREE_BYTES"))"
export ARCA_CACHE_DIR=$W/cache-local
"$ARCA" -r "$W/local" init >/dev/null
"$ARCA" -r "$W/local" backup -q "$TREE"
REPO_BYTES=$(dirbytes "$W/local")
REPO_OBJS=$(find "$W/local" -type f | wc -l)
sync

say "aws s3 sync of the repository directory"
t=$(now)
"$AWS" --endpoint-url "$S3URL" s3 sync --only-show-errors "$W/local" s3://aws/repo
T_AWS=$(secs "$t" "$(now)")

say "arca replicate to S3 ($CONN connections)"
t=$(now)
"$ARCA" -r "$W/local" replicate --to s3://arca/repo --connections "$CONN" -q
T_REP=$(secs "$t" "$(now)")

# Restores write ~the tree each time, so the disk's writeback makes single
# runs noisy: RESTORE_PAIRS pairs (local and S3, in alternating order), each
# after a sync, and the median of the per-pair ratios.  Every restore goes to
# a new directory on a filesystem made for them, deleted at the end (see
# targetfs.sh).
say "restore: $PAIRS pairs of (local repository, S3 replica with no local cache: the bare-machine case)"
RATIOS=() T_LOCALS=() T_S3S=()
# arca's code, with libcurl (loaded with dlopen, so ldd of arca does not list it)
mapfile -t ARCA_FILES < <(code_of "$ARCA" "$(ldconfig -p | awk '/libcurl\.so\.4 / {print $NF; exit}')")
restore_local() {
	targetfs_up "$BD/cloud-targets-l$1" 1G # a filesystem for this restore
	settle_cold "${ARCA_FILES[@]}" "$W/local" "$W/cache-local" # (see targetfs.sh)
	local t
	t=$(now)
	ARCA_CACHE_DIR=$W/cache-local "$ARCA" -r "$W/local" restore -q latest --target "$TARGETFS/rl.$1"
	tl=$(secs "$t" "$(now)")
}
restore_s3() {
	rm -rf "$W/cache-s3"
	targetfs_up "$BD/cloud-targets-s$1" 1G
	settle_cold "${ARCA_FILES[@]}" "$W/s3" # s3rver's objects
	local t
	t=$(now)
	ARCA_CACHE_DIR=$W/cache-s3 "$ARCA" -r s3://arca/repo restore -q latest --target "$TARGETFS/rs.$1"
	ts=$(secs "$t" "$(now)")
	diff -rq "$TREE" "$TARGETFS/rs.$1$TREE" >/dev/null || fail "restore from S3 differs from the tree"
}
for i in $(seq "$PAIRS"); do
	[ "$i" = 1 ] && say "restores go to fresh filesystems (see targetfs.sh)"
	if [ $((i % 2)) = 1 ]; then restore_local "$i"; restore_s3 "$i"; else restore_s3 "$i"; restore_local "$i"; fi
	say "  pair $i: local $tl s, S3 $ts s"
	T_LOCALS+=("$tl") T_S3S+=("$ts") RATIOS+=("$(ratio "$ts" "$tl")")
done
rm -rf "$W"/rl.* "$W"/rs.*
median() { python3 -c 'import statistics,sys; print("%.2f" % statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
T_RLOCAL=$(median "${T_LOCALS[@]}")
T_RS3=$(median "${T_S3S[@]}")
R_RESTORE=$(median "${RATIOS[@]}")
sync

# ---- requests per GB, through a counting pass-through proxy
# restic 0.14's S3 client (minio-go) signs its bucket-level requests (GetBucketLocation,
# HEAD bucket, ListObjectsV2) over the path "/restic/" as sent, which S3 accepts; s3rver
# 4.0.4 canonicalizes that path as "/restic" and refuses the signature.  faultd's "resign"
# rule verifies such a signature with the test key's secret and signs the same request
# again over "/restic" (one request in, one forwarded; object requests pass unchanged),
# so restic works and every request it makes is counted.  arca makes none of those.
start_faultd "$W/fd" "$S3URL"
fdstat() { curl -s "$FAULTD_URL/__faultd/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["'"$1"'"])'; }
count() { fdstat requests; }
reset() {
	faultd_rules '[{"path": "^/[^/?]+/(\\?|$)", "action": "resign", "secret": "'"$AWS_SECRET_ACCESS_KEY"'"}]'
}

say "arca: backup and restore through the counting proxy"
export ARCA_CACHE_DIR=$W/cache-count
reset
ARCA_S3_ENDPOINT=$FAULTD_URL "$ARCA" -r s3://arca/counted init >/dev/null
ARCA_S3_ENDPOINT=$FAULTD_URL "$ARCA" -r s3://arca/counted backup -q "$TREE"
A_BREQ=$(count) A_BRES=$(fdstat resigned)
A_OBJS=$(find "$W/s3/data/arca/counted" -name '*._S3rver_object' | wc -l)
A_BYTES=$(find "$W/s3/data/arca/counted" -name '*._S3rver_object' -printf '%s\n' | awk '{s+=$1} END {print s}')
rm -rf "$ARCA_CACHE_DIR" "$W/r3"
reset
ARCA_S3_ENDPOINT=$FAULTD_URL "$ARCA" -r s3://arca/counted restore -q latest --target "$W/r3"
A_RREQ=$(count) A_RRES=$(fdstat resigned)
rm -rf "$W/r3"

say "restic: backup and restore through the counting proxy"
export RESTIC_CACHE_DIR=$W/restic-cache
RREPO=s3:$FAULTD_URL/restic/repo
rm -rf "$RESTIC_CACHE_DIR"
reset
restic -q -r "$RREPO" init --repository-version 2 >/dev/null
restic -q -r "$RREPO" backup --compression auto "$TREE" >/dev/null
R_BREQ=$(count) R_BRES=$(fdstat resigned)
R_OBJS=$(find "$W/s3/data/restic/repo" -name '*._S3rver_object' | wc -l)
R_BYTES=$(find "$W/s3/data/restic/repo" -name '*._S3rver_object' -printf '%s\n' | awk '{s+=$1} END {print s}')
rm -rf "$RESTIC_CACHE_DIR" "$W/r4"
reset
restic -q -r "$RREPO" restore latest --target "$W/r4" >/dev/null
R_RREQ=$(count) R_RRES=$(fdstat resigned)
diff -rq "$TREE" "$W/r4$TREE" >/dev/null || fail "restic's restore from S3 differs from the tree"
rm -rf "$W/r4"

pergb() { python3 -c "print('%.0f' % ($1 / ($2 / 1e9)))"; }
mbs() { python3 -c "print('%.0f' % ($1 / 1048576 / $2))"; }
cat <<EOF

Cloud benchmark: tree of $(numfmt --to=iec "$TREE_BYTES") ($(find "$TREE" -type f | wc -l) files), arca repository $(numfmt --to=iec "$REPO_BYTES") in $REPO_OBJS objects; s3rver on loopback; restores into $TARGETFS_KIND
load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)

| measurement | arca | reference | ratio |
|---|---:|---:|---:|
| copy the repository to S3 | replicate ($CONN connections) $T_REP s, $(mbs "$REPO_BYTES" "$T_REP") MiB/s | aws s3 sync $T_AWS s, $(mbs "$REPO_BYTES" "$T_AWS") MiB/s | throughput $(ratio "$T_AWS" "$T_REP") |
| restore latest (median of $PAIRS pairs) | from S3, no cache: $T_RS3 s | from the local repository: $T_RLOCAL s | $R_RESTORE (pairs: ${RATIOS[*]}) |

| per GB stored (same tree, same s3rver, both through the counting proxy) | arca | restic 0.14 |
|---|---:|---:|
| bytes stored | $(numfmt --to=iec "$A_BYTES") | $(numfmt --to=iec "$R_BYTES") |
| objects per GB | $(pergb "$A_OBJS" "$A_BYTES") ($A_OBJS) | $(pergb "$R_OBJS" "$R_BYTES") ($R_OBJS) |
| requests per GB: init + backup | $(pergb "$A_BREQ" "$A_BYTES") ($A_BREQ) | $(pergb "$R_BREQ" "$R_BYTES") ($R_BREQ) |
| requests per GB: restore, no cache | $(pergb "$A_RREQ" "$A_BYTES") ($A_RREQ) | $(pergb "$R_RREQ" "$R_BYTES") ($R_RREQ) |

Requests re-signed by the proxy (bucket-level, counted once each above): arca $A_BRES + $A_RRES, restic $R_BRES + $R_RRES (backup + restore).
EOF
