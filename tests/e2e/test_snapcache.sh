#!/usr/bin/env bash
# test_snapcache: the local snapshot manifest cache (<cache>/<repo id>/
# <location>/snapshots.cache) never gives an answer the repository does not confirm:
# snapshots removed or added by another process (another cache) show up at
# once; a corrupt, truncated, garbage or foreign cache file is rebuilt with
# the same content; a cached copy of a damaged snapshot object does not hide
# the damage from check; the cached run lists exactly what a cold run lists.
. "$(dirname "$0")/lib.sh"

R=$T/repo
mkdir -p "$T/src"
echo one >"$T/src/f"
init_repo "$R"
for t in 2026-01-01T10:00:00Z 2026-01-02T10:00:00Z 2026-01-03T10:00:00Z 2026-01-04T10:00:00Z; do
	echo "$t" >"$T/src/f"
	ok arca -r "$R" backup "$T/src" --time "$t" --tag "t${t:8:2}"
done
CF=$(find "$T/cache" -name snapshots.cache)
[ -f "$CF" ] || fail "no snapshot cache file after backups"
ids() { # the ids `snapshots --json` lists, sorted
	arca -r "$R" --json snapshots | python3 -c 'import json,sys; print("\n".join(sorted(s["id"] for s in json.load(sys.stdin))))'
}
cached_ids() { # ids recorded in the cache file (raw 32-byte ids, found as hex)
	local id hex
	hex=$(xxd -p "$CF" | tr -d '\n')
	for id in $(ls "$R/snapshots"; echo "$@"); do
		case $hex in *"$id"*) echo "$id" ;; esac
	done | sort -u
}
ids >"$T/ids.all"
[ "$(wc -l <"$T/ids.all")" = 4 ] || fail "expected 4 snapshots: $(cat "$T/ids.all")"
ls "$R/snapshots" | sort >"$T/ids.repo"
diff -u "$T/ids.repo" "$T/ids.all" || fail "listing differs from snapshots/"
cached_ids | diff -u "$T/ids.all" - || fail "cache does not hold the listed snapshots"

note "a warm cache lists exactly what a cold one does"
ok arca -r "$R" snapshots
cp "$T/out" "$T/warm.txt"
ok arca -r "$R" --cache-dir "$T/cold" snapshots
diff -u "$T/out" "$T/warm.txt" || fail "cached listing differs from a cold listing"

note "another process forgets a snapshot: it disappears here at once"
ok arca -r "$R" --json snapshots --tag t01
gone=$(python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])' <"$T/out")
ok arca -r "$R" --cache-dir "$T/other" forget --tag t01 --keep-tag no-such-tag
[ -e "$R/snapshots/$gone" ] && fail "forget $gone did not remove it"
ok arca -r "$R" snapshots
assert_not_contains "$T/out" "${gone:0:8}" "snapshots after another process forgot $gone"
expect_exit 1 arca -r "$R" ls "${gone:0:8}"
ids >"$T/ids.now"
grep -v "$gone" "$T/ids.all" | diff -u - "$T/ids.now" || fail "wrong snapshots after the forget"
cached_ids "$gone" | diff -u "$T/ids.now" - || fail "the cache still holds the forgotten snapshot"

note "another process adds a snapshot: it appears here at once"
echo new >"$T/src/f"
ok arca -r "$R" --cache-dir "$T/other" backup "$T/src" --time 2026-01-05T10:00:00Z --tag t05
ok arca -r "$R" ls latest
assert_contains "$T/out" "/f" "ls latest"
ok arca -r "$R" --json snapshots
assert_contains "$T/out" "t05" "snapshots after another process backed up"
ids >"$T/ids.now"
cached_ids | diff -u "$T/ids.now" - || fail "the cache did not learn the new snapshot"

note "a corrupted, truncated, garbage or foreign cache file is rebuilt"
ok arca -r "$R" snapshots
cp "$T/out" "$T/good.txt"
cp "$CF" "$T/good.cache"
for how in flip truncate garbage empty foreign; do
	case $how in
	flip) flip_byte "$CF" $(($(stat -c %s "$CF") / 2)) ;;
	truncate) head -c 100 "$T/good.cache" >"$CF" ;;
	garbage) head -c 5000 /dev/urandom >"$CF" ;;
	empty) : >"$CF" ;;
	foreign)
		init_repo "$T/repo2"
		ok arca -r "$T/repo2" backup "$T/src"
		ok arca -r "$T/repo2" snapshots
		cp "$(find "$T/cache" -name snapshots.cache | grep -vxF "$CF")" "$CF"
		;;
	esac
	ok arca -r "$R" snapshots
	diff -u "$T/good.txt" "$T/out" || fail "listing with a $how cache file differs"
	cmp -s "$T/good.cache" "$CF" || fail "the $how cache file was not rebuilt to the same content"
done
rm -f "$CF"
ok arca -r "$R" snapshots
diff -u "$T/good.txt" "$T/out" || fail "listing after deleting the cache file differs"
[ -f "$CF" ] || fail "the deleted cache file was not written again"

note "a damaged snapshot object: truncation is seen despite the cache; check always reads the repository"
victim=$(tail -n 1 "$T/ids.now")
cp "$R/snapshots/$victim" "$T/victim.orig"
chmod u+w "$R/snapshots/$victim"
flip_byte "$R/snapshots/$victim" 20
expect_exit 13 arca -r "$R" check
assert_contains "$T/out" "damaged" "check output with a warm cache"
head -c 50 "$T/victim.orig" >"$R/snapshots/$victim"
ok arca -r "$R" snapshots
assert_not_contains "$T/out" "${victim:0:8}" "snapshots with a truncated object and a warm cache"
assert_contains "$T/err" "$victim" "warning naming the damaged snapshot"
cp "$T/victim.orig" "$R/snapshots/$victim"
ok arca -r "$R" check
ok arca -r "$R" snapshots
diff -u "$T/good.txt" "$T/out" || fail "listing after the repair differs"
