#!/usr/bin/env bash
# prune: after snapshots are deleted (rm REPO/snapshots/<id>, as forget
# does) the repository shrinks, every remaining snapshot restores byte for
# byte and check --read-data passes; --dry-run changes nothing; a prune
# stopped dead after any of its durable steps (ARCA_TEST_PRUNE_ABORT_AT
# makes it _exit(137) there, as kill -9 would) leaves a repository that
# checks clean and restores, and the next prune finishes the job leaving
# no pack the index does not name; a prune while a backup holds its
# shared lock exits 11; a damaged snapshot makes prune refuse.
. "$(dirname "$0")/lib.sh"

R=$T/repo
if [ -n "$QUICK" ]; then
	KB=48 ABORTS="1 2:1 3 4:1 5:2"
else
	KB=160 ABORTS="1 2:1 2:2 3 4:1 5:1 5:2 5:4"
fi
init_repo "$R" --pack-size 128K --chunker 16K,32K,128K

pack_bytes() { find "$R/data" -type f ! -name '.tmp-*' -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }
npacks() { find "$R/data" -type f ! -name '.tmp-*' | wc -l; }
# log/ is left out: a refused prune is recorded in the audit log (FORMAT.md §12)
listing() { find "$R" \( -path "$R/locks" -o -path "$R/log" \) -prune -o -type f -printf '%P %s %T@\n' | LC_ALL=C sort; }
json_num() { grep -o "\"$1\":[0-9]*" "$T/out" | head -n 1 | cut -d: -f2; }

# snapshots that must survive: "id kind source"
: >"$T/kept"
keep() { # kind source
	local id
	id=$(latest_snapshot_id "$R")
	[ -n "$id" ] || fail "no snapshot id"
	echo "$id $1 $2" >>"$T/kept"
}
forget() { # id: what `forget` does
	[ -n "$1" ] && [ -f "$R/snapshots/$1" ] || fail "no snapshot $1 to forget"
	rm -f "$R/snapshots/$1"
}
verify_kept() { # what
	local id kind src
	while read -r id kind src; do
		if [ "$kind" = tree ]; then
			rm -rf "$T/rst"
			ok arca -r "$R" restore "$id" --target "$T/rst"
			assert_same_tree "$src" "$(restored "$T/rst" "$src")"
		else
			arca -r "$R" dump "$id" "/$(basename "$src")" >"$T/dumped" 2>"$T/err" ||
				fail "$1: dump of $id failed: $(cat "$T/err")"
			cmp -s "$src" "$T/dumped" || fail "$1: snapshot $id: dumped stream differs from $src"
		fi
	done <"$T/kept"
}
check_clean() { # what: check --read-data finds nothing and no pack is a leftover
	ok arca -r "$R" check --read-data --json
	[ "$(json_num errors)" = 0 ] || fail "$1: check found errors: $(cat "$T/out")"
	[ "$(json_num unindexed_packs)" = 0 ] || fail "$1: packs no index names are left: $(cat "$T/out")"
	[ -z "$(ls -A "$R/locks")" ] || fail "$1: locks left: $(ls -A "$R/locks")"
	[ -z "$(find "$R" -name '.tmp-*')" ] || fail "$1: temporary files left"
}
# Back up a directory whose files alternate between its own and new ones
# that a second, kept snapshot (of directory $1-kept) has too, then forget
# the first: its packs then mix used and unused blobs.
mixed_garbage() { # dir
	local d=$1 i id
	mkdir -p "$d" "$d-kept"
	for i in 1 2 3; do
		rand_file "$d/$i-own.bin" "$KB"
		rand_file "$d-kept/s$i.bin" "$KB"
		cp "$d-kept/s$i.bin" "$d/$i-shared.bin"
	done
	ok arca -r "$R" backup "$d"
	id=$(latest_snapshot_id "$R")
	ok arca -r "$R" backup "$d-kept"
	keep tree "$d-kept"
	forget "$id"
}

# ---- the snapshots that stay
SHARED=$T/shared
mkdir -p "$SHARED"
for i in 1 2 3; do rand_file "$SHARED/s$i.bin" "$KB"; done
make_sample_tree "$SHARED/sample"
ok arca -r "$R" backup "$SHARED"
keep tree "$SHARED"
rand_file "$T/stream.bin" $((KB * 2))
ok arca -r "$R" backup --stdin --stdin-name stream.bin <"$T/stream.bin"
keep stream "$T/stream.bin"

# ---- snapshots that go: a mixed tree and a stream
mixed_garbage "$T/gone1"
rand_file "$T/gone-stream.bin" $((KB * 3))
ok arca -r "$R" backup --stdin --stdin-name gone.bin <"$T/gone-stream.bin"
forget "$(latest_snapshot_id "$R")"
ok arca -r "$R" check
before=$(pack_bytes)
packs_before=$(npacks)

# usage errors change nothing
expect_exit 2 arca -r "$R" prune --max-unused 150
expect_exit 2 arca -r "$R" prune --max-unused lots
expect_exit 2 arca -r "$R" prune extra-arg

# ---- dry run: reports, changes nothing
listing >"$T/list.before"
# --max-unused 0: every unused blob goes, so the figures below do not depend
# on how the default 5% tolerance happens to fall across packs
ok arca -r "$R" prune --dry-run --max-unused 0 --json
assert_contains "$T/out" '"dry_run":true'
dry_freed=$(json_num bytes_freed)
[ "$dry_freed" -gt $((KB * 4 * 1024)) ] || fail "dry run would free only $dry_freed bytes: $(cat "$T/out")"
ok arca -r "$R" prune --dry-run
assert_contains "$T/out" "would delete"
assert_contains "$T/out" "nothing was changed"
listing >"$T/list.after"
diff -u "$T/list.before" "$T/list.after" >&2 || fail "prune --dry-run changed the repository"

# ---- prune: the forgotten data goes, the rest stays whole
ok arca -r "$R" prune --max-unused 0 --json
assert_contains "$T/out" '"dry_run":false'
freed=$(json_num bytes_freed)
after=$(pack_bytes)
note "pack bytes $before -> $after ($packs_before -> $(npacks) packs), reported freed $freed (dry run: $dry_freed)"
[ "$after" -lt "$before" ] || fail "repository did not shrink: $before -> $after"
# gone1's own files and the gone stream: 6 * KB KiB of incompressible data
[ $((before - after)) -ge $((KB * 6 * 1024 * 9 / 10)) ] || fail "freed only $((before - after)) bytes"
[ "$freed" = $((before - after)) ] || fail "prune reported $freed bytes freed, the packs shrank by $((before - after))"
verify_kept "after prune"
check_clean "after prune"
# nothing left to do
ok arca -r "$R" prune --json
[ "$(json_num packs_deleted)" = 0 ] && [ "$(json_num packs_repacked)" = 0 ] ||
	fail "a second prune still found work: $(cat "$T/out")"
ok arca -r "$R" prune
assert_contains "$T/out" "freed 0 B"

# ---- killed at every step
hit=0
n=0
for at in $ABORTS; do
	n=$((n + 1))
	mixed_garbage "$T/victim$n"
	rc=0
	ARCA_TEST_PRUNE_ABORT_AT=$at "$ARCA_BIN" -r "$R" prune --max-unused 0 >"$T/out" 2>"$T/err" || rc=$?
	san_check || fail "sanitizer report from the prune stopped at $at"
	case $rc in
	137) hit=$((hit + 1)) state="died at step $at" ;;
	0) state="finished before step $at" ;;
	*) fail "prune to be stopped at $at exited $rc: $(cat "$T/err")" ;;
	esac
	note "kill $n: $state; $(npacks) packs, $(ls "$R/index" | wc -l) index files"
	# what it left: every snapshot whole, nothing damaged (packs no index
	# names are allowed until the next prune)
	ok arca -r "$R" check --read-data
	assert_contains "$T/out" "no errors" "check after kill $n"
	verify_kept "after kill $n"
	ok arca -r "$R" prune --max-unused 0
	check_clean "after the prune following kill $n"
done
[ $hit -ge $((n - 1)) ] || fail "only $hit of $n prunes died at their step: the test did not test"

# ---- a prune while a backup holds its shared lock
mkfifo "$T/fifo"
"$ARCA_BIN" -r "$R" backup --stdin --stdin-name slow.bin <"$T/fifo" >"$T/slow.out" 2>&1 &
slow=$!
bg_track $slow
exec 7>"$T/fifo"
rand_file "$T/slow.bin" "$KB"
cat "$T/slow.bin" >&7
for _ in $(seq 400); do
	[ -n "$(ls -A "$R/locks")" ] && break
	kill -0 $slow 2>/dev/null || break
	sleep 0.025
done
[ -n "$(ls -A "$R/locks")" ] || fail "the backup took no lock"
listing >"$T/list.before"
expect_exit 11 arca -r "$R" prune
assert_contains "$T/err" "locked"
ok arca -r "$R" prune --dry-run # a dry run only needs a shared lock
exec 7>&-
wait $slow || fail "the backup holding the lock failed: $(cat "$T/slow.out")"
listing >"$T/list.after"
diff "$T/list.before" "$T/list.after" | grep -q '^< ' && fail "a refused prune removed something"
keep stream "$T/slow.bin"
ok arca -r "$R" prune
verify_kept "after the backup that held the lock"

# ---- a damaged snapshot: prune cannot know what it references
mixed_garbage "$T/last"
victim=$(head -n 1 "$T/kept" | cut -d' ' -f1)
cp "$R/snapshots/$victim" "$T/snap.orig"
chmod u+w "$R/snapshots/$victim"
flip_byte "$R/snapshots/$victim" 20
listing >"$T/list.before"
expect_exit 1 arca -r "$R" prune
assert_contains "$T/err" "cannot be read"
assert_contains "$T/err" "changed nothing"
listing >"$T/list.after"
diff -u "$T/list.before" "$T/list.after" >&2 || fail "prune changed a repository with a damaged snapshot"
ok arca -r "$R" log --json --op prune
python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))[-1]; sys.exit(not (e["result"] == "failed" and "cannot be read" in e.get("error", "")))' "$T/out" ||
	fail "the refused prune is not in the audit log as failed: $(cat "$T/out")"
cp "$T/snap.orig" "$R/snapshots/$victim"
ok arca -r "$R" prune
check_clean "at the end"
verify_kept "at the end"
