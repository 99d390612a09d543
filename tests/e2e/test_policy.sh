#!/usr/bin/env bash
# test_policy: retention policies stored in the repository.  Synthetic
# histories (backup --time) on two hosts; policy set/show/remove; forget
# without keep options applies each snapshot's most specific policy and
# keeps (and says so) what no policy covers; explicit keep options
# override; --dry-run, --json and --prune work; the result equals forget
# with the same rules given explicitly; a plain copy of the repository and a
# replica made by `replicate --to` carry the policies; two concurrent
# changes of one selector are reported as a conflict and forget keeps
# those snapshots (exit 1) until a new set resolves it.
. "$(dirname "$0")/lib.sh"

R=$T/repo
S=$T/src
mkdir -p "$S"
init_repo "$R"
days=14
[ -n "$QUICK" ] && days=10
for d in $(seq -w 1 $days); do
	echo "$d" >"$S/f"
	ok arca -r "$R" backup "$S" --time "2026-03-${d}T10:00:00Z" --host alpha
	ok arca -r "$R" backup "$S" --time "2026-03-${d}T22:00:00Z" --host alpha --tag db
	ok arca -r "$R" backup "$S" --time "2026-03-${d}T11:00:00Z" --host beta
done
count() { # snapshots matching filter args
	arca -r "$R" --json snapshots "$@" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'
}
ids() { arca -r "$1" --json snapshots | python3 -c 'import json,sys; print("\n".join(sorted(s["id"] for s in json.load(sys.stdin))))'; }
total=$((3 * days))
[ "$(count)" = $total ] || fail "expected $total snapshots"

note "no stored policy: forget keeps everything, as before"
ok arca -r "$R" policy show
assert_contains "$T/out" "no stored policies"
ok arca -r "$R" forget
assert_contains "$T/out" "only expired snapshots are removed"
[ "$(count)" = $total ] || fail "forget without policy removed something"

note "policy set / show / usage errors"
expect_exit 2 arca -r "$R" policy set --host alpha
expect_exit 2 arca -r "$R" policy set --keep-daily x
expect_exit 2 arca -r "$R" policy frobnicate
expect_exit 1 arca -r "$R" policy remove --host nobody
assert_contains "$T/err" "no stored policy for host=nobody"
ok arca -r "$R" policy set --host alpha --keep-daily 3
assert_contains "$T/out" "policy for host=alpha: keep 3 daily"
ok arca -r "$R" policy set --host alpha --tag db --keep-last 2 --keep-tag important
ok arca -r "$R" policy set --host gamma --keep-last 1
ok arca -r "$R" policy remove --host gamma
ok arca -r "$R" --json policy show
python3 - "$T/out" <<'EOF' || fail "policy show --json: $(cat "$T/out")"
import json, sys
v = json.load(open(sys.argv[1]))
sel = sorted(p["selector"] for p in v)
assert sel == ["host=alpha", "host=alpha tag=db"], sel
for p in v:
    assert p["current"] and not p["conflict"] and not p["removed"], p
    if p["selector"] == "host=alpha":
        assert p["keep"] == {"daily": 3}, p
    else:
        assert p["keep"] == {"last": 2, "tags": ["important"]}, p
EOF
ok arca -r "$R" policy show --all
assert_contains "$T/out" "history (4 objects"
assert_contains "$T/out" "(removed)"

note "forget --dry-run applies the stored policies; beta has none and is kept"
ok arca -r "$R" forget --dry-run
assert_contains "$T/out" "applying the stored policies"
assert_contains "$T/out" "policy for host=alpha: keep 3 daily"
assert_contains "$T/out" "policy for host=alpha tag=db: keep 2 latest"
assert_contains "$T/out" "no stored policy matches: keeping $days snapshots"
[ "$(count)" = $total ] || fail "forget --dry-run removed something"

note "the same as giving the rules explicitly, per selector"
ok arca -r "$R" --json forget --dry-run
python3 - "$T/out" "$days" <<'EOF' >"$T/stored.plan" || fail "forget --json: $(cat "$T/out")"
import json, sys
v = json.load(open(sys.argv[1])); days = int(sys.argv[2])
by = {}
for g in v:
    sel = g["policy"]["selector"] if g["policy"] else None
    by[(g["host"], sel)] = g
    if sel is None:
        assert g["host"] == "beta" and g["policy_problem"] == "no stored policy matches", g
        assert len(g["keep"]) == days and not g["remove"], g
assert len(by[("alpha", "host=alpha")]["keep"]) == 3, by
assert len(by[("alpha", "host=alpha tag=db")]["keep"]) == 2, by
for g in v:
    for s in g["remove"]:
        print(s["id"])
EOF
ok arca -r "$R" --json forget --dry-run --host alpha --tag db --keep-last 2 --keep-tag important
python3 -c 'import json,sys; [print(s["id"]) for g in json.load(open(sys.argv[1])) for s in g["remove"]]' "$T/out" >"$T/explicit.plan"
ok arca -r "$R" --json forget --dry-run --host alpha --tag "" --keep-daily 3
python3 -c 'import json,sys; [print(s["id"]) for g in json.load(open(sys.argv[1])) for s in g["remove"] if not s.get("tags")]' "$T/out" >>"$T/explicit.plan"
sort -o "$T/explicit.plan" "$T/explicit.plan"
sort -o "$T/stored.plan" "$T/stored.plan"
diff -u "$T/explicit.plan" "$T/stored.plan" || fail "stored policies remove other snapshots than the same rules given explicitly"

note "explicit keep options override the stored policies"
ok arca -r "$R" forget --dry-run --keep-last 1
assert_contains "$T/out" "keep 1 latest"
assert_not_contains "$T/out" "stored policies"
assert_contains "$T/out" "would remove $((total - 2)) snapshots"

note "a replica (plain copy) carries the policies"
cp -a "$R" "$T/replica"
ok arca -r "$T/replica" --cache-dir "$T/cache-replica" forget --dry-run
assert_contains "$T/out" "policy for host=alpha: keep 3 daily"
ok arca -r "$R" replicate --to "$T/replica2"
ok arca -r "$T/replica2" policy show
assert_contains "$T/out" "keep 3 daily"
ok arca -r "$T/replica2" forget --dry-run
assert_contains "$T/out" "policy for host=alpha: keep 3 daily"

note "forget (for real) with --prune"
ok arca -r "$R" forget --prune
assert_contains "$T/out" "removed $((2 * days - 5)) snapshots"
[ "$(count --host alpha)" = 5 ] || fail "alpha should keep 5 snapshots (3 daily + 2 db)"
[ "$(count --host beta)" = "$days" ] || fail "beta (no policy) lost snapshots"
ok arca -r "$R" check
ok arca -r "$R" log --json --op forget
assert_contains "$T/out" "removed $((2 * days - 5)) snapshots"

note "a default policy (no selector) covers beta; the more specific host=alpha still wins"
ok arca -r "$R" policy set --keep-last 4
ok arca -r "$R" forget
[ "$(count --host beta)" = 4 ] || fail "beta should keep 4 snapshots under the default policy"
[ "$(count --host alpha)" = 5 ] || fail "alpha changed although its own policy keeps all 5"

note "two writers change one selector at once: a conflict, never a silent loss"
cp -a "$R/policies" "$T/policies.before"
ok arca -r "$R" policy set --host alpha --keep-last 1
ls "$R/policies" | sort >"$T/p.after1"
ls "$T/policies.before" | sort | comm -13 - "$T/p.after1" >"$T/p.new1"
[ "$(wc -l <"$T/p.new1")" = 1 ] || fail "policy set should write exactly one object"
mv "$R/policies/$(cat "$T/p.new1")" "$T/writer1.obj"
# the second writer read the same state as the first
ok arca -r "$R" policy set --host alpha --keep-last 2
mv "$T/writer1.obj" "$R/policies/$(cat "$T/p.new1")"
ok arca -r "$R" policy show
assert_contains "$T/out" "[CONFLICT]"
assert_contains "$T/out" "keep 1 latest"
assert_contains "$T/out" "keep 2 latest"
ok arca -r "$R" --json policy show
python3 -c 'import json,sys; v=json.load(open(sys.argv[1])); c=[p for p in v if p["conflict"]]; sys.exit(len(c) != 2)' "$T/out" ||
	fail "policy show --json should mark both heads as conflicting: $(cat "$T/out")"
expect_exit 1 arca -r "$R" forget
assert_contains "$T/err" "in conflict"
[ "$(count --host alpha)" = 5 ] || fail "forget removed snapshots whose policy is in conflict"
ok arca -r "$R" policy set --host alpha --keep-last 2
ok arca -r "$R" policy show
assert_not_contains "$T/out" "CONFLICT"
ok arca -r "$R" forget
[ "$(count --host alpha)" = 4 ] || fail "after resolving: host=alpha keep-last 2 plus the db policy's 2"

note "remove falls back to the less specific policy"
ok arca -r "$R" policy remove --host alpha --tag db
ok arca -r "$R" --json forget --dry-run
python3 -c '
import json,sys
v = json.load(open(sys.argv[1]))
a = [g for g in v if g["host"] == "alpha"]
assert len(a) == 1 and a[0]["policy"]["selector"] == "host=alpha", a
assert len(a[0]["keep"]) == 2, a' "$T/out" || fail "after removing host=alpha tag=db: $(cat "$T/out")"
