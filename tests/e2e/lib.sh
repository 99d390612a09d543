# shellcheck shell=bash disable=SC2034
# tests/e2e/lib.sh - shared helpers for the end-to-end tests.
#
# Source it first thing in a test:   . "$(dirname "$0")/lib.sh"
#
# It gives every test its own temporary directory $T (removed on exit, with
# any background process registered through bg_track), a private cache
# ($ARCA_CACHE_DIR) and password ($ARCA_PASSWORD), and these helpers:
#   arca ARGS...                 run $ARCA_BIN (default build/arca; a private
#                                copy, so a concurrent relink cannot hurt)
#   expect_exit CODE CMD...      run CMD, fail unless it exits with CODE; its
#                                output is kept in $T/out and $T/err
#   expect_exit_in "C1 C2" CMD   the same, for a set of acceptable codes
#   ok CMD...                    expect_exit 0
#   assert_contains FILE STR [WHAT] / assert_not_contains
#   assert_same_tree A B         same names, types, modes, symlink targets,
#                                file mtimes and file contents
#   fail MSG                     print MSG and end the test with status 1
#   init_repo DIR [ARGS...]      fast init (small Argon2id parameters)
#   restored TARGET PATH         where restore puts absolute PATH
#   flip_byte FILE OFFSET        invert one byte in place
#
# ARCA_TEST_QUICK=1 ($QUICK) asks the test to shrink its data: the suite
# also runs under ASan.  Sanitizer reports (files in $T/san/, or on stderr)
# fail the test even when the command's exit code looked right.
# KEEP_TMP=1 keeps $T of a failed test for a post-mortem.
set -u
set -o pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT_DIR=$(cd "$E2E_DIR/../.." && pwd)
ARCA_BIN=${ARCA_BIN:-$ROOT_DIR/build/arca}
case $ARCA_BIN in /*) ;; *) ARCA_BIN=$PWD/$ARCA_BIN ;; esac
export ARCA_BIN
QUICK=${ARCA_TEST_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=
TEST_NAME=$(basename "$0" .sh)

[ -x "$ARCA_BIN" ] || { echo "FAIL [$TEST_NAME]: no arca binary at $ARCA_BIN (run make)" >&2; exit 1; }

T=$(mktemp -d "/tmp/arca-e2e-$TEST_NAME.XXXXXX")
mkdir -p "$T/san" "$T/cache" "$T/bin"
chmod 1777 "$T/san" # an unprivileged helper may write reports too

# Work on a private copy: other people may relink build/arca meanwhile.
for _i in $(seq 40); do
	if cp "$ARCA_BIN" "$T/bin/arca" 2>/dev/null && "$T/bin/arca" version >/dev/null 2>&1; then
		break
	fi
	sleep 0.5
done
"$T/bin/arca" version >/dev/null 2>&1 || { echo "FAIL [$TEST_NAME]: $ARCA_BIN does not run" >&2; rm -rf "$T"; exit 1; }
ARCA_BIN_ORIG=$ARCA_BIN
ARCA_BIN=$T/bin/arca
_BG_PIDS=()

# Sanitizers: reports go to files we look at after every command and at
# exit, so a report cannot hide behind an expected exit code of 1.
# UBSan (linked with ASan) ignores log_path and prints to stderr, so
# expect_exit also greps stderr; distinct exit codes (66 ASan/LSan, 67
# UBSan) keep a report from passing for an expected "exit 1".
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}:exitcode=66:log_path=$T/san/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}:exitcode=67"

export ARCA_CACHE_DIR="$T/cache"
export ARCA_PASSWORD="e2e-correct-horse"
unset ARCA_REPO ARCA_PASSWORD_FILE ARCA_NEW_PASSWORD

_fail_msg() { printf 'FAIL [%s]: %s\n' "$TEST_NAME" "$*" >&2; }

fail() {
	_fail_msg "$@"
	exit 1
}

note() { printf '# %s\n' "$*"; }

bg_track() { _BG_PIDS+=("$@"); }

san_check() {
	local f found=
	if [ -f "$T/err" ] && grep -qE 'runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer' "$T/err"; then
		found=1
		echo "---- sanitizer report on stderr" >&2
		head -n 60 "$T/err" >&2
	fi
	for f in "$T"/san/*; do
		[ -e "$f" ] || continue
		found=1
		echo "---- sanitizer report $f" >&2
		head -n 60 "$f" >&2
	done
	[ -z "$found" ]
}

_cleanup() {
	local rc=$? p
	trap - EXIT
	for p in "${_BG_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${_BG_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	if ! san_check; then
		_fail_msg "sanitizer reported errors (see above)"
		[ $rc -eq 0 ] && rc=1
	fi
	if [ $rc -eq 0 ]; then
		echo "PASS [$TEST_NAME]"
	elif [ -n "${KEEP_TMP:-}" ]; then
		echo "kept $T" >&2
	fi
	if [ $rc -eq 0 ] || [ -z "${KEEP_TMP:-}" ]; then
		chmod -R u+rwX "$T" 2>/dev/null
		rm -rf "$T"
	fi
	exit $rc
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

arca() {
	"$ARCA_BIN" "$@"
}

# expect_exit CODE CMD... : stdout -> $T/out, stderr -> $T/err
expect_exit() {
	local want=$1 rc=0
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	LAST_RC=$rc
	if [ "$rc" != "$want" ]; then
		echo "---- stdout of: $*" >&2
		head -c 4000 "$T/out" >&2
		echo "---- stderr" >&2
		head -c 4000 "$T/err" >&2
		fail "expected exit $want, got $rc from: $*"
	fi
	san_check || fail "sanitizer report from: $*"
}

# Exit code must be one of a list; never a crash.  expect_exit_in "1 12" CMD...
expect_exit_in() {
	local want=$1 rc=0 w
	shift
	"$@" >"$T/out" 2>"$T/err" || rc=$?
	LAST_RC=$rc
	for w in $want; do
		if [ "$rc" = "$w" ]; then
			san_check || fail "sanitizer report from: $*"
			return 0
		fi
	done
	echo "---- stdout of: $*" >&2
	head -c 4000 "$T/out" >&2
	echo "---- stderr" >&2
	head -c 4000 "$T/err" >&2
	fail "expected exit in {$want}, got $rc from: $*"
}

# Run a command that must succeed; on failure show its output.
ok() { expect_exit 0 "$@"; }

assert_contains() { # file, fixed string, what
	grep -qF -- "$2" "$1" || {
		echo "---- $1:" >&2
		head -c 4000 "$1" >&2
		fail "${3:-output} does not contain '$2'"
	}
}

assert_not_contains() {
	if grep -qF -- "$2" "$1"; then
		echo "---- $1:" >&2
		head -c 4000 "$1" >&2
		fail "${3:-output} contains '$2'"
	fi
}

# One line per entry: type, mode, path, symlink target; plus the mtime for
# regular files.  Sorted, so that two trees can be diffed.
_tree_listing() {
	(cd "$1" && find . -mindepth 1 \( -type f -printf '%y %m %p mtime=%T@\n' \) -o \
		\( -type l -printf '%y %m %p -> %l\n' \) -o -printf '%y %m %p\n') | LC_ALL=C sort
}

assert_same_tree() {
	local a=$1 b=$2 f
	[ -d "$a" ] || fail "assert_same_tree: $a is not a directory"
	[ -d "$b" ] || fail "assert_same_tree: $b is not a directory"
	_tree_listing "$a" >"$T/tree.a" || fail "cannot list $a"
	_tree_listing "$b" >"$T/tree.b" || fail "cannot list $b"
	if ! diff -u "$T/tree.a" "$T/tree.b" >"$T/tree.diff"; then
		head -n 40 "$T/tree.diff" >&2
		fail "trees differ: $a vs $b"
	fi
	while IFS= read -r -d '' f; do
		cmp -s "$a/$f" "$b/$f" || fail "content differs: $a/$f vs $b/$f"
	done < <(cd "$a" && find . -type f -printf '%P\0')
}

# Fast repository: small Argon2id parameters.
init_repo() {
	local dir=$1
	shift
	expect_exit 0 arca -r "$dir" init --kdf-memory 8M --kdf-time 1 "$@"
}

# restore recreates absolute source paths beneath the target.
restored() { # target, absolute source path
	printf '%s%s' "$1" "$2"
}

flip_byte() { # file, offset
	local f=$1 off=$2 v
	v=$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')
	[ -n "$v" ] || fail "flip_byte: offset $off beyond $f"
	printf "\\$(printf '%03o' $((v ^ 0xff)))" | dd of="$f" bs=1 seek="$off" count=1 conv=notrunc status=none ||
		fail "flip_byte: cannot write $f"
	[ "$(od -An -tu1 -j "$off" -N1 "$f" | tr -d ' ')" = $((v ^ 0xff)) ] || fail "flip_byte: $f unchanged"
}

file_size() { stat -c %s "$1"; }

# Random data of N KiB into FILE.
rand_file() { head -c "$(($2 * 1024))" /dev/urandom >"$1" || fail "cannot write $1"; }

# A small tree with the usual kinds of entries.
make_sample_tree() { # dir
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/empty" || fail "mkdir $d"
	echo "hello arca" >"$d/hello.txt"
	printf '' >"$d/zero-length"
	rand_file "$d/sub/random.bin" 300
	seq 1 20000 >"$d/sub/deeper/numbers.txt"
	chmod 640 "$d/sub/random.bin"
	chmod 755 "$d/hello.txt"
	ln -s hello.txt "$d/link-to-hello"
	ln -s /nonexistent/target "$d/sub/dangling"
	touch -d '2001-02-03 04:05:06.789' "$d/sub/deeper/numbers.txt"
}

# Id of the newest snapshot (full hex) from `snapshots --json`.
latest_snapshot_id() { # repo
	arca -r "$1" snapshots --json | grep -o '"id":"[0-9a-f]*"' | tail -n 1 | cut -d'"' -f4
}
