#!/usr/bin/env bash
# replicate, scrub, replicas status between local repositories (the cloud
# kinds run the same code through the backend interface; test_disaster.sh
# does it against S3 and GCS servers):
# - replicate creates a replica the same password opens, with the same
#   snapshots, that checks clean and restores byte for byte; a second run
#   copies nothing; --dry-run copies nothing; --verify reads back;
# - killed mid-way (kill -9, slowed by --limit-upload) it leaves a replica
#   whose snapshots are all whole, and the next run finishes;
# - it refuses a destination holding another repository, and never
#   propagates a damaged source object;
# - backup --replicate-to replicates the new snapshot;
# - scrub repairs a damaged pack in one copy and a missing one in another in
#   one run; damage with no good copy anywhere exits 13;
#   check --read-data --repair-from does the same;
# - replicas status shows present/incomplete/verified/damaged per copy.
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b C=$T/c
if [ -n "$QUICK" ]; then KB=1024; else KB=4096; fi
init_repo "$A" --pack-size 256K --chunker 16K,64K,256K
SRC=$T/src
make_sample_tree "$SRC"
rand_file "$SRC/big.bin" "$KB"
ok arca -r "$A" backup "$SRC"
S1=$(latest_snapshot_id "$A")
json_num() { grep -o "\"$1\":[0-9]*" "$T/out" | head -n 1 | cut -d: -f2; }
snap_ids() { arca -r "$1" snapshots --json | grep -o '"id":"[0-9a-f]*"' | sort; }

# ---- a new replica
ok arca -r "$A" replicate --to "$B" --dry-run --json
[ "$(json_num objects_copied)" -gt 0 ] || fail "dry run would copy nothing: $(cat "$T/out")"
[ ! -e "$B/config" ] || fail "--dry-run created the replica"
ok arca -r "$A" replicate --to "$B" --json --connections 3
assert_contains "$T/out" '"created":true'
[ "$(json_num snapshots_copied)" = 1 ] || fail "expected one snapshot copied: $(cat "$T/out")"
[ "$(snap_ids "$A")" = "$(snap_ids "$B")" ] || fail "replica snapshots differ"
ok arca -r "$B" check --read-data
rm -rf "$T/rst"
ok arca -r "$B" restore latest --target "$T/rst"
assert_same_tree "$SRC" "$(restored "$T/rst" "$SRC")"
# the replica is the same repository: same config bytes, same keys
cmp -s "$A/config" "$B/config" || fail "replica config differs"
# nothing left to copy (but the audit entry of the last run)
ok arca -r "$A" replicate --to "$B" --json --verify
[ "$(json_num packs_copied)" = 0 ] && [ "$(json_num snapshots_copied)" = 0 ] ||
	fail "a second replicate copied data again: $(cat "$T/out")"
[ "$(json_num objects_verified)" = "$(json_num objects_copied)" ] || fail "--verify did not read back: $(cat "$T/out")"

# the audit history travels with the copy: the source's backup entry is
# readable in the replica
ok arca -r "$B" log --json --op backup
grep -q "$S1" "$T/out" || fail "the replica's audit log lacks the backup of $S1: $(cat "$T/out")"

# ---- refuses another repository; usage errors
init_repo "$C"
expect_exit 1 arca -r "$A" replicate --to "$C"
assert_contains "$T/err" "different repository"
expect_exit 2 arca -r "$A" replicate
expect_exit 2 arca -r "$A" replicate --to "$B" --connections 0
expect_exit 2 arca -r "$A" replicate --to "$B" --limit-upload fast

# ---- killed mid-way, then resumed
D=$T/d
rand_file "$SRC/big2.bin" "$KB"
ok arca -r "$A" backup "$SRC"
S2=$(latest_snapshot_id "$A")
( exec "$ARCA_BIN" -r "$A" replicate --to "$D" --limit-upload 512K --connections 2 >"$T/kill.out" 2>&1 ) &
pid=$!
bg_track $pid
sleep 1.2
kill -9 $pid 2>/dev/null
wait $pid 2>/dev/null
[ -e "$D/config" ] || fail "the replicate to be killed had not started"
[ "$(find "$D/data" -type f | wc -l)" -lt "$(find "$A/data" -type f | wc -l)" ] ||
	fail "the replicate finished before it was killed"
if [ -d "$D/snapshots" ] && [ -n "$(ls -A "$D/snapshots")" ]; then
	note "killed after some snapshots were copied"
fi
# whatever it holds now is whole: every snapshot it has checks out
ok arca -r "$D" check
unlock_stale() { arca -r "$D" unlock >/dev/null 2>&1 || true; }
unlock_stale
ok arca -r "$A" replicate --to "$D" --json
[ "$(snap_ids "$A")" = "$(snap_ids "$D")" ] || fail "resumed replica lacks snapshots"
ok arca -r "$D" check --read-data

# ---- a damaged source object is not propagated
E=$T/e
ok arca -r "$A" replicate --to "$E"
rand_file "$SRC/big3.bin" 600
ok arca -r "$A" backup "$SRC"
newpack=$(comm -23 <(cd "$A" && find data -type f | sort) <(cd "$E" && find data -type f | sort) | head -n 1)
[ -n "$newpack" ] || fail "no new pack to damage"
cp "$A/$newpack" "$T/pack.good"
flip_byte "$A/$newpack" 300
expect_exit 1 arca -r "$A" replicate --to "$E"
assert_contains "$T/err" "damaged"
[ ! -e "$E/$newpack" ] || fail "a damaged pack was copied to the replica"
[ "$(snap_ids "$E" | wc -l)" = 2 ] || fail "the replica got the snapshot whose data failed to copy"
ok arca -r "$E" check
cp "$T/pack.good" "$A/$newpack"

# ---- backup --replicate-to
rand_file "$SRC/small.bin" 40
ok arca -r "$A" backup "$SRC" --replicate-to "$B"
assert_contains "$T/out" "replicated to $B"
[ "$(snap_ids "$A")" = "$(snap_ids "$B")" ] || fail "backup --replicate-to did not bring the replica up to date"
ok arca -r "$A" replicas list
assert_contains "$T/out" "$B"

# ---- scrub: one damaged pack here, one missing pack there, one run
ok arca -r "$A" replicas status --replica "$B"
pa=$(cd "$A" && find data -type f | sort | head -n 1)
pb=$(cd "$B" && find data -type f | sort | tail -n 1)
[ "$pa" != "$pb" ] || fail "picked the same pack twice"
flip_byte "$A/$pa" 64
rm -f "$B/$pb"
expect_exit 13 arca -r "$A" replicas status --replica "$B" --read-data --json
assert_contains "$T/out" '"damaged"'
assert_contains "$T/out" '"incomplete"'
expect_exit 13 arca -r "$A" scrub --replica "$B" --dry-run
assert_contains "$T/out" "is damaged"
assert_contains "$T/out" "is missing"
ok arca -r "$A" scrub --replica "$B" --json
assert_contains "$T/out" '"unrepaired":0'
ok arca -r "$A" check --read-data
ok arca -r "$B" check --read-data
ok arca -r "$A" replicas status --replica "$B" --read-data
assert_not_contains "$T/out" "damaged"
assert_not_contains "$T/out" "incomplete"
assert_contains "$T/out" "verified"

# ---- check --read-data --repair-from
flip_byte "$B/$pa" 99
expect_exit 13 arca -r "$B" check --read-data
ok arca -r "$B" check --read-data --repair-from "$A"
assert_contains "$T/out" "repaired from"
ok arca -r "$B" check --read-data

# ---- damage with no good copy anywhere
flip_byte "$A/$pb" 10
flip_byte "$B/$pb" 10
expect_exit 13 arca -r "$A" scrub --replica "$B"
assert_contains "$T/out" "NOT repaired"
note "S1=$S1 S2=$S2"
