#!/usr/bin/env bash
# `make test`: build and run the suite twice, normally and under
# ASan+UBSan, then print one combined "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
total_pass=0; total_fail=0

suite() { # build-dir, make args...
	local build=$1; shift
	if ! make -s -j"$jobs" "$@" all unit fuzz-replay; then
		echo "build failed: make $*"; total_fail=$((total_fail+1)); return
	fi
	local out
	out=$(mktemp)
	BUILD=$build tests/run.sh | tee "$out"
	local line
	line=$(grep -E '^[a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$out" | tail -n1)
	total_pass=$((total_pass + $(echo "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')))
	total_fail=$((total_fail + $(echo "$line" | sed -E 's/.* ([0-9]+) failed/\1/')))
	rm -f "$out"
}

echo "== normal build"
suite build
echo
echo "== sanitizer build (ASan+UBSan)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ARCA_TEST_QUICK=1 suite build-san SAN=1
echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
