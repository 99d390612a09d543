#!/usr/bin/env bash
# kill -9 in the middle of a backup loses nothing that was committed:
# after each kill, check passes (unindexed packs are allowed), every
# earlier snapshot restores byte for byte, the next backup succeeds, and
# it leaves no temporary files (.tmp-*) or locks behind.
. "$(dirname "$0")/lib.sh"

R=$T/repo
if [ -n "$QUICK" ]; then
	MB=32 CHUNK_MB=2 PAUSE=0.05
else
	MB=200 CHUNK_MB=4 PAUSE=0.04
fi
init_repo "$R" --pack-size 4M

# committed snapshots and where their content lives: "id kind source"
: >"$T/committed"
remember() { # kind source
	local id
	id=$(latest_snapshot_id "$R")
	[ -n "$id" ] || fail "no snapshot id"
	echo "$id $1 $2" >>"$T/committed"
}
verify_committed() { # [N]: the first N (default all) remembered snapshots restore byte for byte
	local id kind src
	head -n "${1:-1000000}" "$T/committed" >"$T/to-verify"
	while read -r id kind src; do
		if [ "$kind" = tree ]; then
			rm -rf "$T/rst"
			ok arca -r "$R" restore "$id" --target "$T/rst"
			assert_same_tree "$src" "$(restored "$T/rst" "$src")"
		else
			arca -r "$R" dump "$id" "/$(basename "$src")" >"$T/dumped" 2>"$T/err" ||
				fail "dump of $id failed: $(cat "$T/err")"
			cmp -s "$src" "$T/dumped" || fail "snapshot $id: dumped stream differs from $src"
		fi
	done <"$T/to-verify"
}
no_leftovers() { # what
	local left
	left=$(find "$R" -name '.tmp-*')
	[ -z "$left" ] || fail "$1: temporary files left: $left"
	[ -z "$(ls -A "$R/locks")" ] || fail "$1: locks left: $(ls -A "$R/locks")"
}

# ---- snapshots that must survive everything below
BASE=$T/base
make_sample_tree "$BASE"
for i in 1 2 3; do rand_file "$BASE/r$i.bin" 700; done
ok arca -r "$R" backup "$BASE"
remember tree "$BASE"
rand_file "$T/stream0.bin" 3000
ok arca -r "$R" backup --stdin --stdin-name stream0.bin <"$T/stream0.bin"
remember stream "$T/stream0.bin"

# the victim: a big stream, fed at a bounded rate so kills land mid-way
head -c $((MB * 1024 * 1024)) /dev/urandom >"$T/big.bin" || fail "cannot write big.bin"
slow_feed() {
	local i
	for ((i = 0; i < MB / CHUNK_MB; i++)); do
		dd if="$T/big.bin" bs=1M skip=$((i * CHUNK_MB)) count=$CHUNK_MB status=none || exit 0
		sleep $PAUSE
	done
}
# a tree victim too: many small files
VT=$T/victim-tree
for i in $(seq 1 8); do
	mkdir -p "$VT/d$i"
	head -c $((1024 * 1024)) /dev/urandom | split -b 37K -a 2 - "$VT/d$i/f-" || fail "split"
done
rand_file "$VT/large.bin" $((MB * 256)) # MB/4 MiB

# Kill points: a delay in seconds, or "tmp": the moment a pack is being
# written (a .tmp- file exists outside locks/), so the kill lands mid-write.
if [ -n "$QUICK" ]; then
	PLAN="stream:0.3 stream:tmp tree:0.6"
else
	PLAN="stream:0.2 stream:0.5 stream:1 stream:tmp tree:tmp"
fi
killed=0
mid_write=0
n=0
for step in $PLAN; do
	victim=${step%%:*}
	at=${step#*:}
	n=$((n + 1))
	nsnap_before=$(arca -r "$R" snapshots --json | grep -o '"short_id"' | wc -l)
	if [ "$victim" = stream ]; then
		"$ARCA_BIN" -r "$R" backup --stdin --stdin-name big.bin < <(slow_feed) >"$T/victim.out" 2>&1 &
	else
		"$ARCA_BIN" -r "$R" backup --force "$VT" >"$T/victim.out" 2>&1 &
	fi
	pid=$!
	bg_track $pid
	if [ "$at" = tmp ]; then
		for _ in $(seq 2000); do
			# packs stream into a temporary file (repository root or data/)
			[ -n "$(find "$R" -path "$R/locks" -prune -o -name '.tmp-*' -print -quit)" ] && break
			kill -0 $pid 2>/dev/null || break
			sleep 0.005
		done
	else
		sleep "$at"
	fi
	if kill -0 $pid 2>/dev/null; then
		kill -9 $pid
		wait $pid 2>/dev/null
		killed=$((killed + 1))
		state="killed"
	else
		wait $pid
		state="finished before the kill (exit $?)"
	fi
	tmps=$(find "$R" -name '.tmp-*' | wc -l)
	[ "$tmps" -gt 0 ] && mid_write=$((mid_write + 1))
	note "kill $n: $victim backup at $at: $state; $tmps temporary file(s) left"

	# a snapshot appears only if the backup finished; then it is whole
	nsnap=$(arca -r "$R" snapshots --json | grep -o '"short_id"' | wc -l)
	if [ "$state" = killed ]; then
		[ "$nsnap" = "$nsnap_before" ] || fail "kill $n: a killed backup left a snapshot"
	elif [ "$nsnap" != "$nsnap_before" ]; then
		if [ "$victim" = stream ]; then remember stream "$T/big.bin"; else remember tree "$VT"; fi
	fi

	# check passes: leftovers are unindexed packs, not damage; the dead
	# backup's lock is recognised as stale
	ok arca -r "$R" check
	assert_contains "$T/out" "no errors" "check after kill $n"
	[ -z "$(ls "$R/locks")" ] || fail "kill $n: the dead backup's lock is still there: $(ls "$R/locks")"
	verify_committed 2 # the snapshots made before any kill

	# the next backup succeeds and cleans up
	rand_file "$T/next$n.bin" 500
	ok arca -r "$R" backup --stdin --stdin-name "next$n.bin" <"$T/next$n.bin"
	remember stream "$T/next$n.bin"
	no_leftovers "after the backup following kill $n"
done
note "$killed of $n backups killed while running, $mid_write while writing a pack"
[ $killed -ge 2 ] || fail "only $killed backups were still running when killed: the test did not test"
[ $mid_write -ge 1 ] || note "no kill landed while a pack was being written (timing); the planted leftovers below still test the cleanup"

# ---- leftovers of writers, planted: a dead writer's temporary file goes
# at the next backup; a live writer's young one stays (it is still being
# written); a live writer's file a day old goes
true &
DEAD=$!
wait $DEAD
sleep 120 &
LIVE=$!
bg_track $LIVE
sub=$(ls "$R/data" | head -n 1)
head -c 5000 /dev/urandom >"$R/data/$sub/.tmp-$DEAD-0123456789abcdef"
head -c 5000 /dev/urandom >"$R/index/.tmp-$DEAD-00112233aabbccdd"
head -c 5000 /dev/urandom >"$R/data/$sub/.tmp-$LIVE-fedcba9876543210"
head -c 5000 /dev/urandom >"$R/data/$sub/.tmp-$LIVE-0000000000000000"
touch -d '2 days ago' "$R/data/$sub/.tmp-$LIVE-0000000000000000"
ok arca -r "$R" check
rand_file "$T/next-final.bin" 100
ok arca -r "$R" backup --stdin --stdin-name next-final.bin <"$T/next-final.bin"
remember stream "$T/next-final.bin"
[ ! -e "$R/data/$sub/.tmp-$DEAD-0123456789abcdef" ] || fail "a dead writer's temporary pack was not removed"
[ ! -e "$R/index/.tmp-$DEAD-00112233aabbccdd" ] || fail "a dead writer's temporary index file was not removed"
[ ! -e "$R/data/$sub/.tmp-$LIVE-0000000000000000" ] || fail "a day-old temporary file was not removed"
[ -e "$R/data/$sub/.tmp-$LIVE-fedcba9876543210" ] || fail "a live writer's temporary file was removed under its feet"
rm -f "$R/data/$sub/.tmp-$LIVE-fedcba9876543210"

# repair index adopts the orphaned packs; the killed runs' leftovers do
# not confuse a full read of the data
ok arca -r "$R" repair index
ok arca -r "$R" check --read-data
assert_not_contains "$T/out" "not in the index" "check after repair index"
verify_committed
no_leftovers "at the end"
