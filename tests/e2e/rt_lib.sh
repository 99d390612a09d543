# tests/e2e/rt_lib.sh - helpers for the round-trip end-to-end tests
# (test_roundtrip_tree, test_session_folders, test_stream, test_selectors,
# test_parallel_changes).  Source it first thing:
#
#     . "$(dirname "$0")/rt_lib.sh"
#
# It gives each script a private temp dir ($RT_TMP, removed on exit), a
# repository path ($REPO), a throw-away cache ($ARCA_CACHE_DIR) and password,
# and an `arca` function that runs $ARCA_BIN against $REPO.  Sanitizer
# reports (ASan/UBSan/LSan) are written to files under $RT_TMP and turn the
# script into a failure at exit even when the command that produced them
# was expected to fail, so an expected non-zero exit cannot hide one.
#
# ARCA_TEST_QUICK=1 sets RT_QUICK=1: scripts shrink their data about 10x.

set -euo pipefail

RT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ARCA_BIN=${ARCA_BIN:-$RT_ROOT/build/arca}
RT_QUICK=0
[ "${ARCA_TEST_QUICK:-0}" = 1 ] && RT_QUICK=1
RT_PY=$(dirname "${BASH_SOURCE[0]}")/rt_treecmp.py
RT_PY=$(cd "$(dirname "$RT_PY")" && pwd)/rt_treecmp.py

if [ ! -x "$ARCA_BIN" ]; then
	echo "FAIL: arca binary not found at $ARCA_BIN (run make, or set ARCA_BIN)" >&2
	exit 1
fi
command -v python3 >/dev/null || { echo "FAIL: python3 is needed" >&2; exit 1; }
# the real interpreter: a pyenv shim costs ~1 s per call on a loaded machine
RT_PYTHON=$(python3 -c 'import sys; print(sys.executable)')
python3() { "$RT_PYTHON" "$@"; }

RT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/arca-rt.XXXXXX")
RT_TMP=$(cd "$RT_TMP" && pwd -P)
REPO=$RT_TMP/repo
export ARCA_CACHE_DIR=$RT_TMP/cache
export ARCA_PASSWORD="rt-test-password correct horse"
unset ARCA_REPO ARCA_PASSWORD_FILE ARCA_NEW_PASSWORD
export TZ=UTC
mkdir -p "$RT_TMP/san"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$RT_TMP/san/asan"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:log_path=$RT_TMP/san/ubsan"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}log_path=$RT_TMP/san/lsan"
RT_T0=$SECONDS

rt_cleanup() {
	local rc=$? f j
	set +e
	# background jobs this script started (e.g. a reference generator)
	for j in $(jobs -p); do kill "$j" 2>/dev/null; done
	wait 2>/dev/null
	for f in "$RT_TMP"/san/*; do
		[ -s "$f" ] || continue
		echo "FAIL: sanitizer report $f:" >&2
		head -n 60 "$f" >&2
		rc=1
	done
	if [ "$rc" = 0 ]; then
		echo "PASS: $(basename "$0") in $((SECONDS - RT_T0)) s"
	else
		echo "FAILED: $(basename "$0") (exit $rc) after $((SECONDS - RT_T0)) s${RT_KEEP:+; kept $RT_TMP}" \
			"${RT_KEEP:-(set RT_KEEP=1 to keep the repository and data)}" >&2
	fi
	[ -n "${RT_KEEP:-}" ] || chmod -R u+rwx "$RT_TMP" 2>/dev/null
	[ -n "${RT_KEEP:-}" ] || rm -rf "$RT_TMP"
	exit "$rc"
}
trap rt_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
note() { echo "--- [$((SECONDS - RT_T0)) s] $*"; }

# arca ARGS...: run the binary against $REPO.
arca() { "$ARCA_BIN" -r "$REPO" "$@"; }

# rt_init [INIT ARGS...]: a fresh repository at $REPO with a cheap KDF.
rt_init() {
	arca init --kdf-memory 8M --kdf-time 1 "$@" >"$RT_TMP/init.out" ||
		fail "init failed: $(cat "$RT_TMP/init.out")"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"
}

# expect_fail WHAT CMD...: CMD must exit non-zero; its stderr is left in
# $RT_TMP/last.err, its stdout in $RT_TMP/last.out, its code in $RT_RC.
expect_fail() {
	local what=$1
	shift
	RT_RC=0
	"$@" >"$RT_TMP/last.out" 2>"$RT_TMP/last.err" || RT_RC=$?
	[ "$RT_RC" != 0 ] || fail "$what: expected a failure, got exit 0 (stdout: $(head -c 300 "$RT_TMP/last.out"))"
}

# jget EXPR < JSON: print a Python expression over the parsed document d
# (the last non-empty line of input if the whole input is not one document).
jget() {
	python3 -c '
import json, sys
raw = sys.stdin.read()
try:
    d = json.loads(raw)
except ValueError:
    d = json.loads([l for l in raw.splitlines() if l.strip()][-1])
v = eval(sys.argv[1], {"d": d, "len": len, "sorted": sorted, "set": set})
print(json.dumps(v) if isinstance(v, (list, dict)) else v)
' "$1"
}

# json_valid FILE WHAT: FILE holds one valid JSON document.
json_valid() {
	python3 -m json.tool "$1" >/dev/null 2>"$RT_TMP/json.err" ||
		fail "$2: not valid JSON ($(cat "$RT_TMP/json.err")): $(head -c 300 "$1")"
}

# treecmp SRC DST [OPTS]: compare trees (see rt_treecmp.py).
treecmp() { python3 "$RT_PY" "$@"; }

# snap_count: number of snapshots in the repository.
snap_count() { arca --json snapshots | jget 'len(d)'; }

# mb_per_s BYTES SECONDS(float)
mb_per_s() { python3 -c 'import sys; b, s = float(sys.argv[1]), float(sys.argv[2]); print("%.1f" % (b / 1e6 / max(s, 1e-6)))' "$1" "$2"; }
now_s() { date +%s.%N; }
