#!/usr/bin/env bash
# A restore never writes outside --target, whatever the snapshot says and
# whatever already sits in the target: hostile names ("..", "a/b", ".",
# "", absolute paths, duplicates) are refused; symlinks restored earlier or
# planted in the target are never followed.
. "$(dirname "$0")/lib.sh"

R=$T/repo
init_repo "$R"

# ---- the crafting helper, linked against the library of the binary
# under test (instrumented too when that is a sanitizer build)
BUILD_DIR=${ARCA_BUILD:-$(dirname "$ARCA_BIN_ORIG")}
LIB=$T/bin/libarca.a
for _i in $(seq 40); do
	cp "$BUILD_DIR/libarca.a" "$LIB" 2>/dev/null && ar t "$LIB" >/dev/null 2>&1 && break
	sleep 0.5
done
[ -f "$LIB" ] || fail "no $BUILD_DIR/libarca.a"
SAN_CFLAGS=
if nm "$LIB" 2>/dev/null | grep '__asan_report' >/dev/null; then # (not grep -q: pipefail + SIGPIPE)
	SAN_CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
fi
# shellcheck disable=SC2086
gcc -std=c11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter -pthread $SAN_CFLAGS \
	-I"$ROOT_DIR/include" -I"$ROOT_DIR/src" -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 \
	-o "$T/bin/craft_hostile" "$E2E_DIR/craft_hostile.c" "$LIB" \
	$(pkg-config --libs libzstd libsodium openssl lmdb libpq libcurl expat jansson 2>/dev/null || echo -lzstd -lsodium -lssl -lcrypto -llmdb -lpq -lcurl -lexpat -ljansson) \
	-lpthread 2>"$T/cc.err" || fail "cannot build craft_hostile: $(head -c 3000 "$T/cc.err")"

# Everything a hostile entry aims at lives in the arena: the target's
# parent (where ".." leads) and OUTSIDE (where symlinks and absolute names
# lead).  Nothing but TARGET may change in it.
A=$T/arena
OUTSIDE=$A/outside
TARGET=$A/target
mkdir -p "$OUTSIDE"
echo "ORIGINAL" >"$OUTSIDE/victim.txt"
echo "ORIGINAL" >"$OUTSIDE/victim2.txt"
snapshot_arena() { # -> file: everything under the arena except the target
	# (a write through a link changes the victim's size or mtime)
	(cd "$A" && find . -mindepth 1 -path ./target -prune -o -printf '%y %m %s %T@ %p %l\n') | LC_ALL=C sort >"$1"
}
snapshot_arena "$T/arena.before"
arena_unchanged() { # what
	snapshot_arena "$T/arena.now"
	if ! diff -u "$T/arena.before" "$T/arena.now" >"$T/arena.diff"; then
		cat "$T/arena.diff" >&2
		fail "$1: something outside the target changed"
	fi
}
no_pwned_anywhere() { # hostile files persist, so one search at the end finds any escape
	local found
	found=$(find "$T" -path "$TARGET" -prune -o -name 'pwned*' -print)
	[ -z "$found" ] || fail "a hostile file appeared outside the target: $found"
}

craft() { # case placement [case placement]... -> "case placement id" lines in $T/crafted
	"$T/bin/craft_hostile" "${CRAFT_REPO:-$R}" "$OUTSIDE" "$@" >"$T/crafted" 2>"$T/craft.err" ||
		fail "craft_hostile $* failed: $(cat "$T/craft.err")"
	san_check || fail "sanitizer report from craft_hostile"
	[ "$(wc -l <"$T/crafted")" = $(($# / 2)) ] || fail "craft_hostile printed $(cat "$T/crafted")"
}

# ---- control: a legitimate crafted snapshot restores (so the refusals
# below are about the names, not about the helper)
craft valid root valid sub
while read -r c place id; do
	rm -rf "$TARGET"
	ok arca -r "$R" restore "$id" --target "$TARGET"
	base=$TARGET
	[ "$place" = sub ] && base=$TARGET/sub
	[ "$(cat "$base/dir/inner.txt")" = inner ] || fail "valid $place: dir/inner.txt not restored"
	[ "$(cat "$base/plain.txt")" = plain ] || fail "valid $place: plain.txt not restored"
	[ "$(readlink "$base/link-out")" = "$OUTSIDE" ] || fail "valid $place: symlink not restored as is"
	[ "$(cat "$TARGET/ok.txt")" = ok ] || fail "valid $place: ok.txt not restored"
	arena_unchanged "valid $place"
done <"$T/crafted"

# ---- hostile names: each placed in the root tree (nothing restores) and
# in a subdirectory (the entry is skipped, its neighbour ok.txt restored)
CASES="dotdot-dir dotdot-file dot-dir empty-name slash-through-symlink slash-dir absolute-file
       absolute-dir absolute-symlink dup-symlink-dir dup-symlink-file"
args=()
for c in $CASES; do
	args+=("$c" sub)
	# under ASan, the root placement only for the cases that escape upwards
	case $c in dotdot-dir | absolute-file | dup-symlink-dir) args+=("$c" root) ;;
	*) [ -z "$QUICK" ] && args+=("$c" root) ;;
	esac
done
craft "${args[@]}"
cp "$T/crafted" "$T/hostile-list"
while read -r c place id; do
	rm -rf "$TARGET"
	expect_exit 1 arca -r "$R" restore "$id" --target "$TARGET"
	grep -q '^error: ' "$T/err" || fail "$c $place: restore failed without an error message"
	arena_unchanged "$c $place"
	[ -z "$(find "$TARGET" -name 'pwned*')" ] ||
		fail "$c $place: restored a refused entry inside the target: $(find "$TARGET" -name 'pwned*')"
	if [ "$place" = sub ]; then
		[ "$(cat "$TARGET/ok.txt" 2>/dev/null)" = ok ] || fail "$c sub: ok.txt next to the hostile directory not restored"
	fi
done <"$T/hostile-list"
no_pwned_anywhere
# check calls every one of those trees damage
expect_exit 13 arca -r "$R" check
assert_contains "$T/out" "malformed tree" "check output"

# ---- a writer that sealed the wrong bytes under an id.  In an encrypted
# repository a blob's AEAD tag covers its id, so restore does not re-hash
# what it writes (borg 2 reads the same way); restore --verify and check
# --read-data hash, and catch it.  Unencrypted, the hash is the only
# check, and every restore makes it.
craft lying-blob sub
read -r _ _ id <"$T/crafted"
rm -rf "$TARGET"
expect_exit 1 arca -r "$R" restore "$id" --target "$TARGET" --verify
assert_contains "$T/err" "liar.txt" "restore --verify stderr (the file)"
assert_contains "$T/err" "content differs" "restore --verify stderr"
[ "$(cat "$TARGET/ok.txt" 2>/dev/null)" = ok ] || fail "lying blob: ok.txt not restored"
expect_exit 13 arca -r "$R" check --read-data
assert_contains "$T/out" "does not hash to its id" "check --read-data output"
U=$T/plain-repo
init_repo "$U" --encryption none
CRAFT_REPO=$U craft lying-blob sub
read -r _ _ id <"$T/crafted"
rm -rf "$TARGET"
expect_exit 1 arca -r "$U" restore "$id" --target "$TARGET"
assert_contains "$T/err" "liar.txt" "unencrypted restore stderr (the file)"
assert_contains "$T/err" "does not hash to its id" "unencrypted restore stderr"
[ ! -e "$TARGET/sub/liar.txt" ] || [ "$(cat "$TARGET/sub/liar.txt")" != "lies!" ] ||
	fail "unencrypted restore wrote the lying blob's bytes"
rm -rf "$TARGET" "$U"

# ---- very deep nesting: no crash, nothing outside, the neighbour restored
craft deep sub
read -r _ _ id <"$T/crafted"
rm -rf "$TARGET"
deep_restore() { (ulimit -n 256 && exec "$ARCA_BIN" "$@"); }
expect_exit_in "0 1" deep_restore -r "$R" restore "$id" --target "$TARGET"
arena_unchanged "deep nesting"
[ "$(cat "$TARGET/ok.txt" 2>/dev/null)" = ok ] || fail "deep nesting: ok.txt not restored"
expect_exit_in "0 1" arca -r "$R" ls "$id"
rm -rf "$TARGET"

# ---- a symlink restored earlier is not followed by a later restore
SRC=$T/src
mkdir -p "$SRC/d"
ln -s "$OUTSIDE" "$SRC/d/s"
ok arca -r "$R" backup "$SRC"
SNAP_LINK=$(latest_snapshot_id "$R")
rm "$SRC/d/s"
mkdir "$SRC/d/s"
echo "through the link" >"$SRC/d/s/via-link.txt"
ok arca -r "$R" backup "$SRC"
SNAP_DIR=$(latest_snapshot_id "$R")
rm -rf "$TARGET"
ok arca -r "$R" restore "$SNAP_LINK" --target "$TARGET"
RS=$(restored "$TARGET" "$SRC")
[ -L "$RS/d/s" ] && [ "$(readlink "$RS/d/s")" = "$OUTSIDE" ] || fail "first restore did not create the symlink d/s"
rc=0
arca -r "$R" restore "$SNAP_DIR" --target "$TARGET" >"$T/out" 2>"$T/err" || rc=$?
[ $rc -lt 128 ] || fail "restore crashed (exit $rc)"
san_check || fail "sanitizer report from restore"
arena_unchanged "directory over an earlier symlink"
if [ $rc -eq 0 ]; then
	# replacing the link by a real directory is fine too
	[ -d "$RS/d/s" ] && [ ! -L "$RS/d/s" ] && [ -f "$RS/d/s/via-link.txt" ] ||
		fail "restore succeeded but d/s is not the snapshot's directory"
else
	assert_contains "$T/err" "d/s" "restore stderr (names the refused directory)"
fi

# ---- a symlink planted in the target where a file will be restored
SRC2=$T/src2
mkdir -p "$SRC2/sub"
echo "RESTORED" >"$SRC2/f.txt"
echo "RESTORED" >"$SRC2/g.txt"
echo "RESTORED" >"$SRC2/sub/h.txt"
ok arca -r "$R" backup "$SRC2"
SNAP2=$(latest_snapshot_id "$R")
rm -rf "$TARGET"
RS2=$(restored "$TARGET" "$SRC2")
mkdir -p "$RS2/sub"
ln -s "$OUTSIDE/victim.txt" "$RS2/f.txt"
ln "$OUTSIDE/victim2.txt" "$RS2/g.txt" # a hard link to an outside file
ln -s "$OUTSIDE/victim.txt" "$RS2/sub/h.txt"
ok arca -r "$R" restore "$SNAP2" --target "$TARGET"
[ "$(cat "$OUTSIDE/victim.txt")" = ORIGINAL ] || fail "restore wrote through a planted symlink"
[ "$(cat "$OUTSIDE/victim2.txt")" = ORIGINAL ] || fail "restore wrote through a planted hard link"
for f in f.txt g.txt sub/h.txt; do
	[ -f "$RS2/$f" ] && [ ! -L "$RS2/$f" ] || fail "$f was not replaced by a regular file"
	[ "$(cat "$RS2/$f")" = RESTORED ] || fail "$f has the wrong content"
done
arena_unchanged "planted symlink and hard link"

# ---- a symlink planted in the target where a directory will be restored
for where in sub first-component; do
	rm -rf "$TARGET"
	if [ $where = sub ]; then
		mkdir -p "$RS2"
		ln -s "$OUTSIDE" "$RS2/sub"
	else
		# the snapshot's absolute path starts with /tmp (or wherever $T is)
		first=${SRC2#/}
		first=${first%%/*}
		mkdir -p "$TARGET"
		ln -s "$OUTSIDE" "$TARGET/$first"
	fi
	rc=0
	arca -r "$R" restore "$SNAP2" --target "$TARGET" >"$T/out" 2>"$T/err" || rc=$?
	[ $rc -ne 0 ] || fail "planted directory symlink ($where): restore reported success"
	[ $rc -lt 128 ] || fail "restore crashed (exit $rc)"
	san_check || fail "sanitizer report from restore"
	arena_unchanged "planted directory symlink ($where)"
	[ -z "$(ls -A "$OUTSIDE" | grep -v '^victim')" ] || fail "files appeared in OUTSIDE: $(ls -A "$OUTSIDE")"
done
no_pwned_anywhere
