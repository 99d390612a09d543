#!/usr/bin/env bash
# Every documented exit code, produced by the real binary:
# 0 ok, 1 error, 2 usage, 3 some sources unreadable, 10 no repository,
# 11 locked, 12 wrong password, 13 check found damage.
. "$(dirname "$0")/lib.sh"

R=$T/repo
SRC=$T/src
make_sample_tree "$SRC"

# ---- 0
init_repo "$R"
ok arca -r "$R" backup "$SRC"
ok arca -r "$R" snapshots
if [ -z "$QUICK" ]; then
	ok arca -r "$R" check
	ok arca version
fi

# ---- 2: usage errors never touch the repository
expect_exit 2 arca -r "$R" --no-such-flag snapshots
expect_exit 2 arca -r "$R" frobnicate
assert_contains "$T/err" "unknown command" "stderr"
expect_exit 2 arca -r "$R" backup --no-such-flag "$SRC"
expect_exit 2 arca -r "$R" restore latest # no --target
expect_exit 2 arca -r "$R" check --read-data-subset 150%
if [ -z "$QUICK" ]; then
	expect_exit 2 arca -r "$R" backup
	expect_exit 2 arca -r "$R" check --read-data-subset 0%
	expect_exit 2 arca -r "$R" init --encryption rot13
	expect_exit 2 arca
	expect_exit 2 arca -r "$R" key frobnicate
	expect_exit 2 arca -r "$R" repair everything
fi

# ---- 1: a plain error
expect_exit 1 arca -r "$R" restore 0123456789abcdef --target "$T/never"
[ ! -e "$T/never" ] || fail "a failed restore of an unknown snapshot created its target"
[ -z "$QUICK" ] && expect_exit 1 arca -r "$R" dump latest /no/such/file
# A source path given on the command line that does not exist is a hard
# error (a typo must not produce a snapshot silently lacking a whole tree).
nsnap=$(arca -r "$R" snapshots --json | grep -o '"short_id"' | wc -l)
expect_exit 1 arca -r "$R" backup "$SRC" "$T/does-not-exist"
assert_contains "$T/err" "does-not-exist" "stderr"
[ "$(arca -r "$R" snapshots --json | grep -o '"short_id"' | wc -l)" = "$nsnap" ] ||
	fail "a backup that failed on a missing path still saved a snapshot"
# init over an existing repository
[ -z "$QUICK" ] && expect_exit 1 arca -r "$R" init --kdf-memory 8M --kdf-time 1

# ---- 10: no repository
expect_exit 10 arca -r "$T/nothing-here" snapshots
assert_contains "$T/err" "no repository" "stderr"
mkdir "$T/empty-dir"
expect_exit 10 arca -r "$T/empty-dir" snapshots
[ -z "$(ls -A "$T/empty-dir")" ] || fail "opening an empty directory wrote into it: $(ls -A "$T/empty-dir")"
expect_exit 10 arca -r "$T/nothing-here" backup "$SRC"
[ ! -e "$T/nothing-here" ] || fail "backup to a missing repository created $T/nothing-here"

# ---- 12: wrong password, said plainly
WRONG="wrong-pw-$RANDOM-sekrit"
wrong_cmds=(snapshots "restore latest --target $T/wrongpw")
[ -z "$QUICK" ] && wrong_cmds+=(check "backup $SRC")
for cmd in "${wrong_cmds[@]}"; do
	# shellcheck disable=SC2086
	expect_exit 12 env ARCA_PASSWORD="$WRONG" "$ARCA_BIN" -r "$R" $cmd
	assert_contains "$T/err" "wrong password" "stderr of '$cmd'"
	assert_not_contains "$T/err" "$WRONG" "stderr of '$cmd' (the password leaked)"
	# plain: only "error:"/"hint:" lines, at most three, printable text
	[ "$(wc -l <"$T/err")" -le 3 ] || fail "wrong-password message is not short: $(cat "$T/err")"
	if grep -qv -e '^error: ' -e '^hint: ' "$T/err"; then
		fail "wrong-password message has unexpected lines: $(cat "$T/err")"
	fi
	if LC_ALL=C grep -q '[^[:print:][:space:]]' "$T/err"; then
		fail "wrong-password message contains unprintable bytes"
	fi
	[ ! -s "$T/out" ] || fail "wrong password printed to stdout: $(cat "$T/out")"
done
[ ! -e "$T/wrongpw" ] || [ -z "$(ls -A "$T/wrongpw")" ] || fail "restore with a wrong password wrote files"
# no password at all for an encrypted repository
expect_exit 12 env -u ARCA_PASSWORD "$ARCA_BIN" -r "$R" snapshots </dev/null

# ---- 11: locks
# lock object: "ARCALOCK", u8 version 1, u8 exclusive, u64 LE time (ns),
# u64 LE pid, varint-length host, varint-length user.
le64() {
	local v=$1 i
	for i in 0 1 2 3 4 5 6 7; do
		printf "\\$(printf '%03o' $(((v >> (8 * i)) & 255)))"
	done
}
vstr() { # strings shorter than 128 bytes: a one-byte varint length
	printf "\\$(printf '%03o' ${#1})"
	printf '%s' "$1"
}
plant_lock() { # repo exclusive(0|1) pid host [time_ns]
	local name f
	name=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
	f=$1/locks/$name
	mkdir -p "$1/locks"
	{
		printf 'ARCALOCK\001'
		printf "\\$(printf '%03o' "$2")"
		le64 "${5:-$(date +%s%N)}"
		le64 "$3"
		vstr "$4"
		vstr "e2e-user"
	} >"$f" || fail "cannot plant lock"
	[ "$(file_size "$f")" = $((8 + 1 + 1 + 8 + 8 + 1 + ${#4} + 1 + 8)) ] || fail "planted lock has wrong size"
	echo "$f"
}
HOST=$(uname -n)
sleep 120 &
LIVE=$!
bg_track $LIVE
[ -z "$(ls -A "$R/locks")" ] || fail "locks left behind by earlier commands: $(ls "$R/locks")"

# a live exclusive lock blocks even a shared (backup) lock
L=$(plant_lock "$R" 1 "$LIVE" "$HOST")
expect_exit 11 arca -r "$R" backup "$SRC"
assert_contains "$T/err" "locked" "stderr"
assert_contains "$T/err" "$LIVE" "stderr (the lock holder's pid)"
if [ -z "$QUICK" ]; then
	expect_exit 11 arca -r "$R" restore latest --target "$T/locked-restore"
	expect_exit 11 arca -r "$R" repair index
fi
[ -e "$L" ] || fail "a live lock was removed"
# plain unlock does not remove a live lock
expect_exit 11 arca -r "$R" unlock
[ -e "$L" ] || fail "unlock removed a live lock"
rm -f "$L"

# a lock held by a live process on another host is not judged stale
L=$(plant_lock "$R" 1 1 "some-other-host.example")
expect_exit 11 arca -r "$R" backup "$SRC"
rm -f "$L"

# a live shared lock: backups may run side by side, exclusive commands wait
L=$(plant_lock "$R" 0 "$LIVE" "$HOST")
ok arca -r "$R" backup "$SRC"
expect_exit 11 arca -r "$R" repair index
assert_contains "$T/err" "$LIVE" "stderr (the lock holder's pid)"
[ -e "$L" ] || fail "a live shared lock was removed"
rm -f "$L"

# a real backup in progress (stuck reading stdin) holds a shared lock
mkfifo "$T/fifo"
"$ARCA_BIN" -r "$R" backup --stdin --stdin-name stream.bin <"$T/fifo" >"$T/bg.out" 2>"$T/bg.err" &
BG=$!
bg_track $BG
exec 7>"$T/fifo" # unblock the backup's open; it now waits for data
for _ in $(seq 200); do # (ls without -A: a lock still being written is a .tmp- file)
	[ -n "$(ls "$R/locks")" ] && break
	sleep 0.05
done
[ -n "$(ls "$R/locks")" ] || fail "a running backup holds no lock"
expect_exit 11 arca -r "$R" repair index
assert_contains "$T/err" "$BG" "stderr (pid of the running backup)"
echo "stream data" >&7
exec 7>&-
wait $BG || fail "the concurrent backup failed: $(cat "$T/bg.err")"
[ -z "$(ls -A "$R/locks")" ] || fail "backup left its lock behind"

# a stale lock (dead pid on this host) is taken over with a warning
true &
DEAD=$!
wait $DEAD
kill -0 $DEAD 2>/dev/null && fail "pid $DEAD unexpectedly alive"
L=$(plant_lock "$R" 1 "$DEAD" "$HOST")
ok arca -r "$R" backup "$SRC"
assert_contains "$T/err" "stale" "stderr (warning about the stale lock)"
[ ! -e "$L" ] || fail "the stale lock was not removed"
# so is one that has not been refreshed for over 30 minutes, on any host
L=$(plant_lock "$R" 1 "$LIVE" "some-other-host.example" $(($(date +%s%N) - 31 * 60 * 1000000000)))
ok arca -r "$R" repair index
assert_contains "$T/err" "stale" "stderr (warning about the old lock)"
[ ! -e "$L" ] || fail "the expired lock was not removed"
[ -z "$(ls -A "$R/locks")" ] || fail "locks left behind: $(ls "$R/locks")"

# ---- 3: some sources unreadable.  Root reads everything, so the backup
# runs as an unprivileged user on a repository it owns.
if [ "$(id -u)" != 0 ] || { id nobody >/dev/null 2>&1 && command -v runuser >/dev/null; }; then
	U=$T/unpriv
	mkdir -p "$U/src/closed-dir"
	chmod 711 "$T"
	echo "readable" >"$U/src/readable.txt"
	echo "secret" >"$U/src/unreadable.txt"
	echo "inner" >"$U/src/closed-dir/inner.txt"
	if [ "$(id -u)" = 0 ]; then
		chown -R nobody "$U"
		as_nobody() {
			runuser -u nobody -- env ARCA_CACHE_DIR="$U/cache" ARCA_PASSWORD="$ARCA_PASSWORD" \
				ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
				"$ARCA_BIN" "$@"
		}
	else
		as_nobody() { ARCA_CACHE_DIR="$U/cache" "$ARCA_BIN" "$@"; } # already unprivileged
	fi
	chmod 000 "$U/src/unreadable.txt" "$U/src/closed-dir"
	expect_exit 0 as_nobody -r "$U/repo" init --kdf-memory 8M --kdf-time 1
	expect_exit 3 as_nobody -r "$U/repo" backup "$U/src"
	assert_contains "$T/err" "unreadable.txt" "stderr (names the unreadable file)"
	assert_contains "$T/err" "closed-dir" "stderr (names the unreadable directory)"
	expect_exit 0 as_nobody -r "$U/repo" ls latest
	assert_contains "$T/out" "$U/src/readable.txt" "ls of the partial snapshot"
	assert_not_contains "$T/out" "inner.txt" "ls of the partial snapshot"
	if [ -z "$QUICK" ]; then # --json summary counts the errors too
		expect_exit 3 as_nobody -r "$U/repo" --json backup "$U/src"
		assert_contains "$T/out" '"errors":2' "backup --json summary"
	fi
else
	fail "cannot test exit 3: needs the user 'nobody' and runuser"
fi

# ---- 13: check finds damage
PACK=$(find "$R/data" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2)
[ -n "$PACK" ] || fail "no pack found"
ok arca -r "$R" check --read-data
flip_byte "$PACK" $(($(file_size "$PACK") / 2))
expect_exit 13 arca -r "$R" check --read-data
assert_contains "$T/out" "$(basename "$PACK")" "check output (names the damaged pack)"
