#!/usr/bin/env bash
# Run one build's whole suite: cmocka unit tests, fuzz corpus replays and
# end-to-end tests.  BUILD selects the build directory (build or build-san).
# Prints one line per test and ends with "N passed, N failed".
# ARCA_TEST_QUICK=1 skips the slowest end-to-end cases (used under ASan).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export ARCA_BIN="$PWD/$BUILD/arca"
export ARCA_BUILD="$PWD/$BUILD"
pass=0; fail=0; failed=()
logdir=$(mktemp -d /tmp/arca-test-logs.XXXXXX)

run() { # name, command...
	local name=$1; shift
	local log="$logdir/${name//\//_}.log" t0=$SECONDS
	if "$@" >"$log" 2>&1; then
		pass=$((pass+1)); printf 'ok      %-40s %3ds\n' "$name" $((SECONDS-t0))
	else
		fail=$((fail+1)); failed+=("$name"); printf 'FAILED  %-40s %3ds (log: %s)\n' "$name" $((SECONDS-t0)) "$log"
		tail -n 30 "$log" | sed 's/^/    | /'
	fi
}

for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && run "unit/$(basename "$t")" "$t"
done
for r in "$BUILD"/fuzz/replay_*; do
	[ -x "$r" ] || continue
	name=${r##*/replay_}
	run "fuzz-replay/$name" "$r" "fuzz/corpus/$name"
done
for e in tests/e2e/test_*.sh; do
	[ -f "$e" ] && run "e2e/$(basename "$e" .sh)" bash "$e"
done

echo
[ $fail -gt 0 ] && echo "failed: ${failed[*]}"
echo "$BUILD: $pass passed, $fail failed"
[ $fail -eq 0 ]
