#!/usr/bin/env bash
# test_selectors: snapshots made at known times (--time, given out of
# chronological order), with --tag/--host/--type, then every selector form:
# latest, latest:TAG, @TIME (newest at or before; exact hit; offsets; the
# local "YYYY-MM-DD HH:MM:SS" form; before the first -> error), full id,
# unique prefix, ambiguous prefix -> error; snapshots --json fields and
# parent links; the --host/--tag/--type/--path filters.
. "$(dirname "$0")/rt_lib.sh"

rt_init
A=$RT_TMP/data/app
B=$RT_TMP/data/db
mkdir -p "$A" "$B"
echo a >"$A/file"
echo b >"$B/file"

declare -A ID   # name -> snapshot id
# snap NAME DIR ARGS...: back up DIR with a marker file id-NAME in it
snap() {
	local name=$1 dir=$2
	shift 2
	rm -f "$dir"/id-*
	echo "$name" >"$dir/id-$name"
	arca --json backup "$dir" "$@" >"$RT_TMP/b.json" || fail "backup $name failed"
	ID[$name]=$(jget 'd["snapshot_id"]' <"$RT_TMP/b.json")
}
# which SEL: the name of the snapshot SEL selects (from its marker file)
which_snap() { arca ls "$1" | sed -n 's|.*/id-\([A-Za-z0-9]*\)$|\1|p'; }
expect_sel() { expect_eq "$(which_snap "$1")" "$2" "selector '$1'"; }
expect_sel_fails() {
	expect_fail "selector '$1'" arca ls "$1"
	[ -z "${2:-}" ] || grep -qi "$2" "$RT_TMP/last.err" || fail "selector '$1': message lacks '$2': $(cat "$RT_TMP/last.err")"
	if grep -q 'id-' "$RT_TMP/last.out"; then fail "selector '$1' failed but listed a snapshot"; fi
}

note "snapshots at known times (created out of time order)"
snap S1 "$A" --time 2026-01-10T10:00:00Z --host alpha --tag daily --type daily
snap S2 "$A" --time 2026-02-10T10:00:00Z --host alpha --tag daily --tag weekly --type daily
snap S3 "$B" --time 2026-03-10T10:00:00Z --host beta --tag manual-one --type manual
snap S4 "$A" --time 2026-01-20T10:00:00+02:00 --host alpha --tag special,keep --type pre_restore
snap S5 "$B" --time 2026-04-01T00:00:00Z --host beta --tag daily --type scheduled
snap S6 "$B" --time 2026-04-01T00:00:00.5Z --host beta --type automatic

note "snapshots --json"
arca --json snapshots >"$RT_TMP/s.json" || fail "snapshots --json failed"
json_valid "$RT_TMP/s.json" "snapshots --json"
python3 - "$RT_TMP/s.json" "$A" "$B" "${ID[S1]}" "${ID[S2]}" "${ID[S3]}" "${ID[S4]}" "${ID[S5]}" "${ID[S6]}" <<'EOF' || fail "snapshots --json content"
import json, re, sys
from datetime import datetime, timezone
l = json.load(open(sys.argv[1]))
A, B = sys.argv[2], sys.argv[3]
ids = dict(zip(["S1", "S2", "S3", "S4", "S5", "S6"], sys.argv[4:]))
assert isinstance(l, list) and len(l) == 6, "expected an array of 6 snapshots, got %r" % l
by = {s["id"]: s for s in l}
assert set(by) == set(ids.values()), "ids differ"
def utc(s):
    return datetime(*s, tzinfo=timezone.utc)
want = {
    "S1": (utc((2026, 1, 10, 10)), "alpha", [A], ["daily"], "daily", None),
    "S2": (utc((2026, 2, 10, 10)), "alpha", [A], ["daily", "weekly"], "daily", "S1"),
    "S3": (utc((2026, 3, 10, 10)), "beta", [B], ["manual-one"], "manual", None),
    "S4": (utc((2026, 1, 20, 8)), "alpha", [A], ["keep", "special"], "pre_restore", None),
    "S5": (utc((2026, 4, 1, 0)), "beta", [B], ["daily"], "scheduled", "S3"),
    "S6": (utc((2026, 4, 1, 0, 0, 0, 500000)), "beta", [B], [], "automatic", "S5"),
}
rfc3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
for name, (t, host, paths, tags, typ, parent) in want.items():
    s = by[ids[name]]
    for k in ("id", "short_id", "time", "host", "paths", "tags", "type", "parent"):
        assert k in s, "%s lacks %s" % (name, k)
    assert re.fullmatch(r"[0-9a-f]{64}", s["id"]), s["id"]
    assert s["short_id"] == s["id"][:8], "%s short_id %r" % (name, s["short_id"])
    assert rfc3339.match(s["time"]), "%s time %r is not RFC 3339" % (name, s["time"])
    got_t = datetime.fromisoformat(s["time"].replace("Z", "+00:00"))
    assert got_t == t, "%s time %s, expected %s" % (name, got_t, t)
    assert s["host"] == host, "%s host %r" % (name, s["host"])
    assert s["paths"] == paths, "%s paths %r" % (name, s["paths"])
    assert sorted(s["tags"]) == tags, "%s tags %r" % (name, s["tags"])
    assert s["type"] == typ, "%s type %r" % (name, s["type"])
    if name in ("S1", "S3"):
        assert s["parent"] is None, "%s: first backup of its paths has parent %r" % (name, s["parent"])
    elif parent:
        assert s["parent"] == ids[parent], "%s parent %r, expected %s" % (name, s["parent"], parent)
EOF

note "latest and latest:TAG"
expect_sel latest S6
expect_sel latest:weekly S2
expect_sel latest:daily S5
expect_sel latest:special S4
expect_sel latest:keep S4
expect_sel latest:manual-one S3
expect_sel_fails latest:no-such-tag "no snapshot"

note "@TIME"
expect_sel @2026-02-10T10:00:00Z S2                   # exact hit
expect_sel @2026-02-10T09:59:59Z S4                   # newest at or before, though created later
expect_sel @2026-02-10T09:59:59.999999999Z S4
expect_sel @2026-01-20T08:00:00Z S4                   # exact, given in UTC
expect_sel @2026-01-20T10:00:00+02:00 S4              # exact, given with an offset
expect_sel @2026-01-20T03:00:00-05:00 S4
expect_sel @2026-01-20T07:59:59Z S1
expect_sel @2026-01-10T10:00:00Z S1                   # exactly the first
expect_sel @2026-03-10T10:00 S3                       # no seconds, local (TZ=UTC)
expect_sel "@2026-03-10 10:00:00" S3                  # restic's local form
expect_sel @2026-04-01T00:00:00Z S5
expect_sel @2026-04-01T00:00:00.4Z S5
expect_sel @2026-04-01T00:00:00.5Z S6
expect_sel @2030-01-01T00:00:00Z S6
if [ -e /usr/share/zoneinfo/Europe/Berlin ]; then
	# local time in another zone: 09:00 in Berlin (UTC+1 in January) is 08:00Z
	expect_eq "$(TZ=Europe/Berlin which_snap "@2026-01-20 09:00:00")" S4 "@TIME in local time (TZ=Europe/Berlin)"
	expect_eq "$(TZ=Europe/Berlin which_snap "@2026-01-20 08:59:59")" S1 "@TIME in local time (TZ=Europe/Berlin), just before"
fi
expect_sel_fails @2026-01-10T09:59:59Z "no snapshot"  # before the first
expect_sel_fails @1999-01-01T00:00:00Z "no snapshot"
expect_sel_fails @2026-13-01T00:00:00Z "time"         # not a time
expect_sel_fails @2026-02-30T00:00:00Z "time"
expect_sel_fails @yesterday "time"

note "ids and prefixes"
for n in S1 S2 S3 S4 S5 S6; do
	expect_sel "${ID[$n]}" "$n"
	expect_sel "${ID[$n]:0:8}" "$n"
done
# the shortest unique prefix of each, and a prefix shared by two snapshots
# (made certain by adding snapshots until two ids share a first digit)
shared=""
for k in $(seq 7 30); do
	shared=$(printf '%s\n' "${ID[@]}" | cut -c1 | sort | uniq -d | head -n 1)
	[ -z "$shared" ] || break
	snap "X$k" "$B" --time "2025-06-01T00:$(printf %02d "$k"):00Z" --host gamma
done
[ -n "$shared" ] || fail "could not make two snapshot ids share a prefix"
expect_sel_fails "$shared" "ambiguous"
for n in "${!ID[@]}"; do
	id=${ID[$n]}
	for l in $(seq 1 64); do
		p=${id:0:$l}
		[ "$(printf '%s\n' "${ID[@]}" | grep -c "^$p")" = 1 ] && break
	done
	expect_sel "$p" "$n"
	if [ "$l" -gt 1 ]; then expect_sel_fails "${id:0:$((l - 1))}" "ambiguous"; fi
done
absent=""
for c in 0 1 2 3 4 5 6 7 8 9 a b c d e f; do
	printf '%s\n' "${ID[@]}" | grep -q "^$c" || { absent=$c; break; }
done
[ -z "$absent" ] || expect_sel_fails "${absent}0" "no snapshot"
expect_sel_fails "$(printf '%s' "${ID[S1]}" | tr '0-9a-f' '1-9a-f0')" "no snapshot"
expect_sel_fails "not-a-snapshot"
expect_sel_fails "${ID[S1]}0"   # 65 hex digits

note "filters"
# filter ARGS... -> sorted names of the snapshots listed
filter() {
	arca --json snapshots "$@" >"$RT_TMP/f.json" || fail "snapshots $* failed"
	local id
	for id in $(jget '" ".join(s["id"] for s in d)' <"$RT_TMP/f.json"); do
		for n in "${!ID[@]}"; do [ "${ID[$n]}" = "$id" ] && echo "$n"; done
	done | sort | tr '\n' ' ' | sed 's/ $//'
}
expect_eq "$(filter --host alpha)" "S1 S2 S4" "snapshots --host alpha"
expect_eq "$(filter --host beta)" "S3 S5 S6" "snapshots --host beta"
expect_eq "$(filter --host nobody)" "" "snapshots --host nobody"
expect_eq "$(filter --tag daily)" "S1 S2 S5" "snapshots --tag daily"
expect_eq "$(filter --tag keep)" "S4" "snapshots --tag keep"
expect_eq "$(filter --type daily)" "S1 S2" "snapshots --type daily"
expect_eq "$(filter --type pre_restore)" "S4" "snapshots --type pre_restore"
expect_eq "$(filter --path "$A")" "S1 S2 S4" "snapshots --path $A"
expect_eq "$(filter --path "$B" --host beta --tag daily)" "S5" "snapshots --path --host --tag combined"
expect_eq "$(filter --path "$RT_TMP/data")" "" "snapshots --path of a parent directory"
arca snapshots --host alpha >"$RT_TMP/s.txt" || fail "snapshots (text) failed"
grep -q '^3 snapshots$' "$RT_TMP/s.txt" || fail "snapshots --host alpha (text) does not count 3: $(cat "$RT_TMP/s.txt")"
for n in S1 S2 S4; do grep -q "^${ID[$n]:0:8} " "$RT_TMP/s.txt" || fail "snapshots (text) lacks $n"; done
if grep -q "^${ID[S3]:0:8} " "$RT_TMP/s.txt"; then fail "snapshots --host alpha (text) lists S3"; fi

note "bad backup options"
expect_fail "backup --type bogus" arca backup "$A" --type bogus
expect_fail "backup --time garbage" arca backup "$A" --time 2026-99-99
