#!/usr/bin/env bash
# The disaster drill, against real protocol servers on loopback (s3rver for
# S3, the firebase Storage emulator for GCS):
# - back up locally with --replicate-to both clouds, twice;
# - the machine is gone: delete the local repository and every cache;
# - from each cloud alone: snapshots, restore latest byte for byte (and the
#   first snapshot by id), check --read-data, replicate to a new local path
#   that restores too;
# - self-healing: a pack corrupted in the local copy and another deleted in
#   the S3 replica are both repaired by one scrub run; check --read-data then
#   passes everywhere, and replicas status shows every snapshot verified.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
need_servers
start_s3 "$T/s3"
make_bucket drill
start_gcs "$T/gcs"
S3=s3://drill/arca
GS=gs://drill/arca
L=$T/local
if [ -n "$QUICK" ]; then KB=1500; else KB=6000; fi

init_repo "$L" --pack-size 1M
SRC=$T/srv/app
make_sample_tree "$SRC"
mkdir -p "$SRC/auth_1"
for i in $(seq 1 30); do printf '{"creds":%d,"key":"%s"}\n' "$i" "$(head -c 24 /dev/urandom | base64)" >"$SRC/auth_1/pre-key-$i.json"; done
rand_file "$SRC/db.dump" "$KB"
ok arca -r "$L" backup "$SRC" --replicate-to "$S3" --replicate-to "$GS"
assert_contains "$T/out" "replicated to $S3"
assert_contains "$T/out" "replicated to $GS"
FIRST=$(latest_snapshot_id "$L")
cp -a "$SRC" "$T/first-src"
echo '{"creds":"rotated"}' >"$SRC/auth_1/creds.json"
rand_file "$SRC/db2.dump" 300
ok arca -r "$L" backup "$SRC" --replicate-to "$S3" --replicate-to "$GS"

# ---- the machine is gone
rm -rf "$L" "$ARCA_CACHE_DIR"
for R in "$S3" "$GS"; do
	export ARCA_CACHE_DIR="$T/cache-$(echo "$R" | cut -c1-2)"
	ok arca -r "$R" snapshots --json
	[ "$(grep -o '"id"' "$T/out" | wc -l)" = 2 ] || fail "$R: expected 2 snapshots: $(cat "$T/out")"
	rm -rf "$T/rst"
	ok arca -r "$R" restore latest --target "$T/rst"
	assert_same_tree "$SRC" "$(restored "$T/rst" "$SRC")"
	rm -rf "$T/rst"
	ok arca -r "$R" restore "$FIRST" --target "$T/rst"
	assert_same_tree "$T/first-src" "$(restored "$T/rst" "$SRC")"
	ok arca -r "$R" check --read-data
	assert_contains "$T/out" "no errors were found"
done

# ---- a new local repository from the S3 replica
export ARCA_CACHE_DIR=$T/cache-new
ok arca -r "$S3" replicate --to "$L" --json
assert_contains "$T/out" '"created":true'
rm -rf "$T/rst"
ok arca -r "$L" restore latest --target "$T/rst"
assert_same_tree "$SRC" "$(restored "$T/rst" "$SRC")"

# ---- self-healing: damage here, loss there, one repair run
pa=$(cd "$L" && find data -type f | sort | head -n 1)
pb=$(cd "$L" && find data -type f | sort | tail -n 1)
[ "$pa" != "$pb" ] || fail "need two packs"
flip_byte "$L/$pa" 100
s3obj="$T/s3/data/drill/arca/$pb._S3rver_object"
[ -e "$s3obj" ] || fail "cannot find $pb in s3rver's store"
rm -f "$s3obj" "$T/s3/data/drill/arca/$pb._S3rver_metadata.json"
expect_exit 13 arca -r "$L" check --read-data
expect_exit 13 arca -r "$S3" check --read-data
ok arca -r "$L" scrub --replica "$S3" --replica "$GS" --json
assert_contains "$T/out" '"unrepaired":0'
for R in "$L" "$S3" "$GS"; do
	ok arca -r "$R" check --read-data
	assert_contains "$T/out" "no errors were found"
done
ok arca -r "$L" replicas status --replica "$S3" --replica "$GS" --read-data --json
[ "$(grep -o '"verified"' "$T/out" | wc -l)" = 6 ] || fail "expected 2 snapshots verified in 3 copies: $(cat "$T/out")"
