#!/usr/bin/env bash
# test_forget: `arca forget` keeps exactly what restic 0.14's `forget` keeps.
#
# About two years of snapshots (sparse at first, daily with gaps and
# several-a-day later, several an hour at the end; two hosts, two path
# sets, tags) are made with `backup --time`.  The same snapshots (times,
# hosts, paths, tags, read back from `arca snapshots --json`) are written
# into a restic repository by restic_forge.c (restic needs ~0.5 s per
# backup), and for each policy `forget --dry-run --json` of both tools must
# agree on every group: the kept and removed snapshots (matched by time),
# each kept snapshot's reasons and counters.  Once with TZ=UTC and, for the
# calendar rules, with TZ=America/New_York (restic buckets by the offset
# stored in each snapshot, so its snapshots are written with New York
# offsets there).
# Then arca alone: --dry-run deletes nothing, a real forget leaves exactly
# the kept set and the remaining snapshots restore (each to its own
# content), expired snapshots go with and without a policy (expiry beats
# keep rules), the exclusive lock, usage errors.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || fail "python3 is needed"
export TZ=UTC
R=$T/repo
SRC=$T/src
SRC2=$T/src2
mkdir -p "$SRC" "$SRC2"
echo "constant" >"$SRC/same.txt"
echo "second path" >"$SRC2/other.txt"
init_repo "$R"

# ---- the plan: "epoch rfc3339 host paths tags" (paths S = $SRC, S+S2 = $SRC
# and $SRC2; tags - = none)
python3 - "${QUICK:-0}" >"$T/plan" <<'EOF' || fail "cannot make the plan"
import datetime, sys
quick = sys.argv[1] == "1"
END, DAY = 1708387200, 86400          # 2024-02-20T00:00:00Z
rows = []
def add(t, host="h1", paths="S", tags="-"):
    rows.append((t, host, paths, tags))
i = 0
for d in range(730, 60, -(24 if quick else 8)):  # two years, sparse, wandering hours
    tags = "a,b" if i % 10 == 3 else "c" if i % 7 == 2 else "a" if i % 11 == 5 else "-"
    add(END - d * DAY + ((i * 7 + 5) % 24) * 3600 + (i * 13 % 60) * 60 + i % 60, tags=tags)
    i += 1
for d in range(60, 0, -1):                        # daily, with gaps; three a day
    if d % 5 == 0 or (d > 14 and d % (4 if quick else 2)):
        continue
    for k in range(3 if d % 4 == 1 else 1):
        add(END - d * DAY + ((d * 5 + 8 * k + 3) % 24) * 3600 + ((d * 17 + k * 29) % 60) * 60 + (d + k) % 60,
            tags="c" if (d + k) % 6 == 0 else "-")
for k in range(5 if quick else 8):                # the last hours: several an hour
    add(END - 8 * 3600 + k * 1500 + 7)
for j in range(0, 365, 90 if quick else 30):      # a second host, same path
    add(END - 365 * DAY + j * DAY + 11 * 3600 + j * 60 + 1, host="h2")
for j in range(0, 200, 50 if quick else 25):      # the first host, two paths
    add(END - 200 * DAY + j * DAY + 15 * 3600 + j + 2, paths="S+S2", tags="a,b" if j % 50 == 0 else "-")
assert len({r[0] for r in rows}) == len(rows), "times must be unique"
for t, host, paths, tags in rows:
    stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(t, stamp, host, paths, tags)
EOF
N=$(wc -l <"$T/plan")
note "$N snapshots"

# ---- arca: back up the plan; $SRC/when holds each snapshot's epoch
t0=$SECONDS
while read -r epoch stamp host paths tags; do
	echo "$epoch" >"$SRC/when"
	args=(backup -q --time "$stamp" --host "$host")
	[ "$tags" = - ] || args+=(--tag "$tags")
	args+=("$SRC")
	[ "$paths" = "S+S2" ] && args+=("$SRC2")
	arca -r "$R" "${args[@]}" >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "backup at $epoch failed"; }
done <"$T/plan"
san_check || fail "sanitizer report from backup"
note "backups took $((SECONDS - t0)) s"
ok arca -r "$R" snapshots --json
cp "$T/out" "$T/snaps.json"

# ---- the comparison: cmp.py LIST, LIST holding "label arca.json restic.json"
# lines; both tools' forget JSON is normalised to groups -> kept and removed
# times, and each kept time's reasons and counters
cat >"$T/cmp.py" <<'EOF'
import datetime, json, sys

def epoch(s):
    return int(datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())

def norm(path):
    groups = {}
    with open(path) as f:
        data = json.load(f) or []
    for g in data:
        key = (g.get("host") or "", tuple(g.get("paths") or []), tuple(g.get("tags") or []))
        assert key not in groups, "duplicate group %r" % (key,)
        reasons = {}
        for r in g.get("reasons") or []:
            reasons[epoch(r["snapshot"]["time"])] = (r["matches"], {k: v for k, v in r["counters"].items() if v})
        groups[key] = {
            "keep": sorted(epoch(s["time"]) for s in g.get("keep") or []),
            "remove": sorted(epoch(s["time"]) for s in g.get("remove") or []),
            "reasons": reasons,
        }
    return groups

def compare(a, r):
    bad = []
    if sorted(a) != sorted(r):
        bad.append("groups differ: arca %s, restic %s" % (sorted(a), sorted(r)))
    for k in sorted(set(a) & set(r)):
        for what in ("keep", "remove"):
            if a[k][what] != r[k][what]:
                only_a = sorted(set(a[k][what]) - set(r[k][what]))
                only_r = sorted(set(r[k][what]) - set(a[k][what]))
                bad.append("%s %s: only arca %s, only restic %s" % (k, what, only_a, only_r))
        for t in sorted(set(a[k]["reasons"]) | set(r[k]["reasons"])):
            if a[k]["reasons"].get(t) != r[k]["reasons"].get(t):
                bad.append("%s reasons at %s: arca %s, restic %s"
                           % (k, t, a[k]["reasons"].get(t), r[k]["reasons"].get(t)))
    return bad

failed = 0
kept = {}
for line in open(sys.argv[1]):
    label, fa, fr = line.rstrip("\n").split("\t")
    a, r = norm(fa), norm(fr)
    kept[label] = sorted(t for g in a.values() for t in g["keep"])
    bad = compare(a, r)
    if bad:
        failed += 1
        print("# %s: arca and restic DISAGREE\n#   %s" % (label, "\n#   ".join(bad[:20])))
    else:
        print("# %s: %d groups, %d kept, %d removed: same as restic"
              % (label, len(a), len(kept[label]), sum(len(g["remove"]) for g in a.values())))
# the data must make the time zone matter, or TZ=America/New_York tests nothing
gfs = "--keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3"
if kept["TZ=UTC " + gfs] == kept["TZ=America/New_York " + gfs]:
    print("# TZ=UTC and TZ=America/New_York keep the same snapshots: the data do not exercise local time")
    failed += 1
sys.exit(1 if failed else 0)
EOF

# ---- restic
RESTIC_OK=
if ! command -v restic >/dev/null; then
	note "restic is not installed: skipping the comparison with restic"
elif ! restic version | grep -q '^restic 0\.14\.'; then
	# later versions changed the rules (they keep the oldest snapshot while
	# counts are left, and accept -1)
	note "restic is not 0.14 ($(restic version)): skipping the comparison with restic"
else
	RESTIC_OK=1
fi

if [ -n "$RESTIC_OK" ]; then
	gcc -std=c11 -O1 -Wall -Wextra -Werror -o "$T/bin/restic_forge" "$E2E_DIR/restic_forge.c" -lcrypto \
		2>"$T/cc.err" || fail "cannot build restic_forge: $(head -c 2000 "$T/cc.err")"
	export RESTIC_PASSWORD=e2e-restic RESTIC_REPOSITORY=$T/restic XDG_CACHE_HOME=$T/restic-cache
	ok restic init --repository-version 1
	ok restic cat masterkey --no-lock --no-cache
	cp "$T/out" "$T/masterkey.json"
	# a key with cheap scrypt parameters instead of the calibrated one
	rm -f "$RESTIC_REPOSITORY"/keys/*
	"$T/bin/restic_forge" --key "$RESTIC_REPOSITORY" "$T/masterkey.json" e2e-cheap >/dev/null ||
		fail "restic_forge --key failed"
	export RESTIC_PASSWORD=e2e-cheap
	mkdir -p "$T/empty"
	ok restic backup --no-cache "$T/empty" # for a real tree id
	ok restic snapshots --json --no-lock --no-cache
	TREE=$(grep -o '"tree":"[0-9a-f]*"' "$T/out" | head -n 1 | cut -d'"' -f4)
	[ -n "$TREE" ] || fail "no restic tree id"

	# restic_snapshots TZ: replace restic's snapshots by arca's, with TZ offsets
	restic_snapshots() {
		rm -f "$RESTIC_REPOSITORY"/snapshots/*
		TZ=$1 python3 - "$T/snaps.json" "$TREE" >"$T/restic.jsonl" <<-'EOF' || fail "cannot convert snapshots"
			import datetime, json, sys
			for s in json.load(open(sys.argv[1])):
			    t = datetime.datetime.fromisoformat(s["time"].replace("Z", "+00:00")).astimezone()
			    print(json.dumps({"time": t.isoformat(), "tree": sys.argv[2], "paths": s["paths"],
			                      "hostname": s["host"], "username": "u", "tags": s["tags"]}))
		EOF
		"$T/bin/restic_forge" "$RESTIC_REPOSITORY" "$T/masterkey.json" <"$T/restic.jsonl" >"$T/forged" ||
			fail "restic_forge failed"
		[ "$(wc -l <"$T/forged")" = "$N" ] || fail "forged $(wc -l <"$T/forged") of $N snapshots"
	}

	# compare TZ FLAGS...: both tools' dry runs, checked later by cmp.py
	: >"$T/pairs"
	compare() {
		local tz=$1 rpid rrc=0 n
		shift
		n=$(wc -l <"$T/pairs")
		# restic runs meanwhile: --no-lock, and arca's dry run takes a shared lock
		TZ=$tz restic forget --dry-run --json --no-lock --no-cache "$@" >"$T/restic-$n.json" 2>"$T/restic.err" &
		rpid=$!
		TZ=$tz expect_exit 0 arca -r "$R" forget --dry-run --json "$@"
		cp "$T/out" "$T/arca-$n.json"
		wait "$rpid" || rrc=$?
		[ "$rrc" = 0 ] || fail "restic forget $* failed ($rrc): $(head -c 2000 "$T/restic.err")"
		printf 'TZ=%s %s\t%s\t%s\n' "$tz" "$*" "$T/arca-$n.json" "$T/restic-$n.json" >>"$T/pairs"
	}

	t0=$SECONDS
	restic_snapshots UTC
	ok restic snapshots --json --no-lock --no-cache # restic reads every forged snapshot
	[ "$(grep -o '"short_id"' "$T/out" | wc -l)" = "$N" ] || fail "restic does not list $N snapshots"
	compare UTC --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3
	compare UTC --keep-last 5 --keep-hourly 6
	compare UTC --keep-within 2m3d --keep-last 2 --keep-tag c
	compare UTC --keep-tag a,b --keep-tag c --keep-monthly 6 --group-by host
	compare UTC --keep-within-hourly 1d --keep-within-daily 10d --keep-within-weekly 2m \
		--keep-within-monthly 1y --keep-within-yearly 5y
	compare UTC --keep-weekly 9 --keep-tag '' --group-by tags
	compare UTC --keep-daily 3 --keep-yearly 2 --group-by ''
	compare UTC --keep-monthly 3 --host h2
	compare UTC --keep-daily 2 --keep-last 1 --tag c --group-by paths,tags
	compare UTC --keep-weekly 3 --tag '' --tag a,b --path "$SRC"
	restic_snapshots America/New_York
	compare America/New_York --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3
	compare America/New_York --keep-hourly 30 --keep-within 1y5m7d2h
	compare America/New_York --keep-within-daily 20d --keep-within-weekly 3m --keep-within-monthly 1y2m
	python3 "$T/cmp.py" "$T/pairs" || fail "arca forget and restic forget disagree (see above)"
	note "restic comparison took $((SECONDS - t0)) s"
fi

# ---- human output: group headers, reasons, the policy
ok arca -r "$R" forget --dry-run --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3
assert_contains "$T/out" "applying policy: keep 7 daily, 4 weekly, 12 monthly, 3 yearly snapshots"
assert_contains "$T/out" "snapshots for (host [h2], paths [$SRC]):"
assert_contains "$T/out" "snapshots for (host [h1], paths [$SRC, $SRC2]):"
assert_contains "$T/out" "daily snapshot"
assert_contains "$T/out" "yearly snapshot"
assert_contains "$T/out" "(dry run: nothing was changed)"

# ---- --dry-run deletes nothing
count_snapshots() { find "$R/snapshots" -type f ! -name '.tmp-*' | wc -l; }
[ "$(count_snapshots)" = "$N" ] || fail "expected $N snapshot objects, found $(count_snapshots)"
ok arca -r "$R" forget --dry-run --json --keep-last 1
[ "$(count_snapshots)" = "$N" ] || fail "forget --dry-run removed snapshots"

# ---- a real forget leaves exactly what the dry run promised
POLICY=(--keep-daily 7 --keep-weekly 4 --keep-monthly 12 --keep-yearly 3)
ok arca -r "$R" forget --dry-run --json "${POLICY[@]}"
python3 -c '
import json, sys
keep = sorted(s["id"] for g in json.load(open(sys.argv[1])) for s in g["keep"])
print("\n".join(keep))' "$T/out" >"$T/promised" || fail "cannot read the dry run"
ok arca -r "$R" forget "${POLICY[@]}"
assert_contains "$T/out" "removed $((N - $(wc -l <"$T/promised"))) snapshots"
ok arca -r "$R" snapshots --json
python3 -c '
import json, sys
print("\n".join(sorted(s["id"] for s in json.load(open(sys.argv[1])))))' "$T/out" >"$T/left"
diff -u "$T/promised" "$T/left" >&2 || fail "the snapshots left are not the ones the dry run kept"
[ "$(count_snapshots)" = "$(wc -l <"$T/left")" ] || fail "snapshot objects and the listing disagree"
ok arca -r "$R" forget "${POLICY[@]}" # idempotent
assert_contains "$T/out" "nothing to remove"
ok arca -r "$R" check

# every remaining snapshot still restores, each to its own content
python3 -c '
import datetime, json, sys
for s in json.load(open(sys.argv[1])):
    t = int(datetime.datetime.fromisoformat(s["time"].replace("Z", "+00:00")).timestamp())
    print(s["id"], t)' "$T/snaps.json" >"$T/times"
n=0
while read -r id; do
	want=$(grep "^$id " "$T/times" | cut -d' ' -f2)
	rm -rf "$T/restore"
	ok arca -r "$R" restore "$id" --target "$T/restore"
	got=$(cat "$(restored "$T/restore" "$SRC")/when") || fail "snapshot $id restored no $SRC/when"
	[ "$got" = "$want" ] || fail "snapshot $id restored the content of $got, not $want"
	cmp -s "$(restored "$T/restore" "$SRC")/same.txt" "$SRC/same.txt" || fail "snapshot $id: same.txt differs"
	n=$((n + 1))
done < <(awk 'NR % 6 == 1' "$T/left") # every sixth: ids are in random order
note "restored $n remaining snapshots"

# ---- expiry: removed without a policy, and whatever the keep rules say
E=$T/repo-expiry
init_repo "$E"
ok arca -r "$E" backup --tag keep "$SRC"
ok arca -r "$E" backup --expires 1s "$SRC"
ok arca -r "$E" backup --expires 1s --tag keep "$SRC"
ok arca -r "$E" backup --expires 30d "$SRC"
ok arca -r "$E" backup --time 2020-01-01T00:00:00Z --expires 1d "$SRC" # expired in 2020
sleep 1.2
ok arca -r "$E" forget --dry-run --json --keep-tag keep --keep-last 100
python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
assert len(g) == 1, g
keep = [s for s in g[0]["keep"]]
remove = [s for s in g[0]["remove"]]
assert len(keep) == 2 and len(remove) == 3, (len(keep), len(remove))
assert all("expires" in s for s in remove), "a snapshot without expiry was removed"
assert sum("keep" in s["tags"] for s in remove) == 1, "the expired tagged snapshot was kept"
assert all(r["matches"] for r in g[0]["reasons"])
' "$T/out" || fail "expired snapshots are not removed whatever the keep rules say"
ok arca -r "$E" forget
assert_contains "$T/out" "no policy given: only expired snapshots are removed"
assert_contains "$T/out" "expired 2020-01-02 00:00:00" "the remove table"
assert_contains "$T/out" "removed 3 snapshots (3 expired), kept 2"
ok arca -r "$E" snapshots --json
[ "$(grep -o '"short_id"' "$T/out" | wc -l)" = 2 ] || fail "expected 2 snapshots after forgetting the expired"
ok arca -r "$E" forget
assert_contains "$T/out" "no snapshot has expired: nothing to remove (2 snapshots)"
ok arca -r "$E" forget --json
python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
assert len(g) == 1 and len(g[0]["keep"]) == 2 and g[0]["remove"] == [], g
assert all(r["matches"] == ["policy is empty"] for r in g[0]["reasons"])' "$T/out" || fail "forget --json without a policy"
rm -rf "$T/restore"
ok arca -r "$E" restore latest --target "$T/restore"
cmp -s "$(restored "$T/restore" "$SRC")/same.txt" "$SRC/same.txt" || fail "restore after forgetting expired snapshots"

# ---- a real forget takes the exclusive lock, a dry run a shared one; locks
# are not waited for: while a backup runs, forget fails (exit 11), a dry run works
{ sleep 2; echo "slow stream"; } | arca -r "$E" backup --stdin --stdin-name slow >"$T/slow.out" 2>&1 &
slow=$!
bg_track "$slow"
for _i in $(seq 100); do
	[ -n "$(ls -A "$E/locks" 2>/dev/null)" ] && break
	sleep 0.05
done
[ -n "$(ls -A "$E/locks")" ] || fail "the slow backup took no lock"
expect_exit 11 arca -r "$E" forget --keep-last 1
ok arca -r "$E" forget --dry-run --keep-last 1
wait "$slow" || fail "the slow backup failed: $(cat "$T/slow.out")"

# ---- usage errors
expect_exit 2 arca -r "$E" forget --keep-last -1
expect_exit 2 arca -r "$E" forget --keep-daily x
expect_exit 2 arca -r "$E" forget --keep-within 5
assert_contains "$T/err" "no unit"
expect_exit 2 arca -r "$E" forget --keep-within 1w
expect_exit 2 arca -r "$E" forget --group-by host,time
assert_contains "$T/err" "unknown grouping option 'time'"
expect_exit 2 arca -r "$E" forget --keep-last 1 some-snapshot-id
