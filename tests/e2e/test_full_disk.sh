#!/usr/bin/env bash
# A full disk: a restore or a backup that runs out of space stops with a
# clear error (the system's words: "No space left on device"), and loses
# nothing: the repository still checks, its snapshots still restore, and
# the next backup that fits succeeds.
#
# The small filesystems are tmpfs mounts in a private mount namespace (as
# root; otherwise in a user namespace, where the kernel allows one).
if [ -z "${ARCA_IN_MOUNT_NS:-}" ]; then
	if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then
		exec env ARCA_IN_MOUNT_NS=1 unshare -m bash "$0" "$@"
	elif unshare -rm true 2>/dev/null; then
		exec env ARCA_IN_MOUNT_NS=1 unshare -rm bash "$0" "$@"
	fi
	echo "SKIP [test_full_disk]: cannot create a mount namespace to mount a small filesystem in"
	exit 0
fi
. "$(dirname "$0")/lib.sh"

small_fs() { # dir, size
	mkdir -p "$1"
	mount -t tmpfs -o "size=$2" tmpfs "$1" || fail "cannot mount a $2 tmpfs on $1"
}

S=$T/src
mkdir -p "$S/docs"
head -c 3000000 /dev/urandom >"$S/a-big.bin" # does not compress; restored first
for i in $(seq 30); do echo "document $i" >"$S/docs/d$i.txt"; done
# enough directories that the restore's walk is still going when a worker
# finds the disk full
for i in $(seq 400); do mkdir -p "$S/many/d$i" && echo "$i" >"$S/many/d$i/f"; done

R=$T/repo
init_repo "$R"
ok arca -r "$R" backup "$S"
SNAP=$(latest_snapshot_id "$R")

# ---- a restore into a filesystem with 1 MiB of room
small_fs "$T/small" 1m
expect_exit 1 arca -r "$R" restore "$SNAP" --target "$T/small/t"
assert_contains "$T/err" "No space left on device" "restore stderr"
assert_not_contains "$T/err" "unknown error" "restore stderr"
umount "$T/small"
# the repository is untouched: it checks, and restores where there is room
ok arca -r "$R" check --read-data
ok arca -r "$R" restore "$SNAP" --target "$T/rst"
assert_same_tree "$S" "$(restored "$T/rst" "$S")"

# ---- a backup into a repository whose filesystem fills up
small_fs "$T/small" 2m
SR=$T/small/repo
init_repo "$SR"
ok arca -r "$SR" backup "$S/docs"
expect_exit 1 arca -r "$SR" backup "$S"
assert_contains "$T/err" "No space left on device" "backup stderr"
assert_not_contains "$T/err" "unknown error" "backup stderr"
# nothing half-written stays behind to take the room, and nothing was
# committed: one snapshot, and it checks and restores
arca -r "$SR" snapshots --json >"$T/snaps.json" || fail "snapshots after the failed backup"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/snaps.json")" = 1 ] ||
	fail "the failed backup left a snapshot: $(cat "$T/snaps.json")"
ok arca -r "$SR" check --read-data
rm -rf "$T/rst2"
ok arca -r "$SR" restore latest --target "$T/rst2"
assert_same_tree "$S/docs" "$(restored "$T/rst2" "$S/docs")"
# the next backup that fits succeeds
echo "one more" >"$S/docs/new.txt"
ok arca -r "$SR" backup "$S/docs"
ok arca -r "$SR" check
umount "$T/small"
