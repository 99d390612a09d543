#!/usr/bin/env bash
# test_audit: every operation appends an audit log entry (docs/FORMAT.md,
# "Audit log").  backup, a failed backup (--stdin-from-command exiting 1),
# restore, a failed restore (target not writable), forget, prune, check and
# key add are listed by `arca log --json` with the right operations,
# results and snapshot ids; `stats --history --json` gives the success
# rates; dry runs record nothing; the entries are encrypted and survive a
# replica copy (cp -a), from which they are listed again.
. "$(dirname "$0")/lib.sh"

command -v jq >/dev/null || fail "jq is needed"
REPO=$T/repo
SRC=$T/src
mkdir -p "$SRC/sub"
n=20
[ -n "$QUICK" ] && n=5
for i in $(seq "$n"); do
	head -c $((i * 1000)) /dev/urandom >"$SRC/sub/f$i"
done
echo "audit-plaintext-marker" >"$SRC/marker"

init_repo "$REPO"
ok arca -r "$REPO" log --json
[ "$(jq length "$T/out")" = 0 ] || fail "a new repository has audit entries"

note "backup, failed backup, restore, failed restore"
ok arca -r "$REPO" --json backup "$SRC"
SNAP1=$(jq -r .snapshot_id "$T/out")
expect_exit 1 arca -r "$REPO" backup --stdin-from-command -- sh -c 'echo partial; exit 1'
ok arca -r "$REPO" restore "$SNAP1" --target "$T/restored"
cmp "$SRC/marker" "$(restored "$T/restored" "$SRC/marker")" || fail "restore gave different bytes"
mkdir -p "$T/ro"
echo file >"$T/ro/blocker"
# a target beneath a regular file cannot be created, even by root
expect_exit 1 arca -r "$REPO" restore "$SNAP1" --target "$T/ro/blocker/x"

note "forget (dry run records nothing), prune, check, key add"
sleep 1
ok arca -r "$REPO" --json backup "$SRC"
SNAP2=$(jq -r .snapshot_id "$T/out")
ok arca -r "$REPO" forget --keep-last 1 --dry-run
ok arca -r "$REPO" forget --keep-last 1
ok arca -r "$REPO" prune --dry-run
ok arca -r "$REPO" prune
ok arca -r "$REPO" check
ARCA_NEW_PASSWORD=second-password ok arca -r "$REPO" key add
# a wrong password cannot be logged (no key), and must not break anything
ARCA_PASSWORD=wrong expect_exit 12 arca -r "$REPO" check

ok arca -r "$REPO" log --json
cp "$T/out" "$T/log.json"
ops=$(jq -r '[.[] | .operation + ":" + .result] | join(" ")' "$T/log.json")
want="backup:ok backup:failed restore:ok restore:failed backup:ok forget:ok prune:ok check:ok key-add:ok"
[ "$ops" = "$want" ] || fail "audit log: got '$ops', want '$want'"
[ "$(jq -r '.[0].snapshots[0]' "$T/log.json")" = "$SNAP1" ] || fail "backup entry does not name its snapshot"
[ "$(jq -r '.[0].bytes > 0' "$T/log.json")" = true ] || fail "backup entry records no bytes added"
[ "$(jq -r '.[1].snapshots | length' "$T/log.json")" = 0 ] || fail "failed backup names a snapshot"
jq -r '.[1].error' "$T/log.json" | grep -q "exited with status 1" || fail "failed backup: error not recorded"
[ "$(jq -r '.[1].exit_code' "$T/log.json")" = 1 ] || fail "failed backup: exit code not recorded"
[ "$(jq -r '.[2].snapshots[0]' "$T/log.json")" = "$SNAP1" ] || fail "restore entry does not name the snapshot restored"
jq -r '.[2].detail' "$T/log.json" | grep -qF "$T/restored" || fail "restore entry does not name its target"
[ "$(jq -r '.[2].bytes > 0' "$T/log.json")" = true ] || fail "restore entry records no bytes"
[ "$(jq -r '.[2].user' "$T/log.json")" = "$(id -un)" ] || fail "restore entry does not record the user"
[ "$(jq -r '.[2].host' "$T/log.json")" = "$(hostname)" ] || fail "restore entry does not record the host"
[ "$(jq -r '.[3].snapshots[0]' "$T/log.json")" = "$SNAP1" ] || fail "failed restore does not name the snapshot"
[ "$(jq -r '.[3].error | length > 0' "$T/log.json")" = true ] || fail "failed restore: no error recorded"
[ "$(jq -r '.[4].snapshots[0]' "$T/log.json")" = "$SNAP2" ] || fail "second backup entry"
[ "$(jq -r '.[5].snapshots[0]' "$T/log.json")" = "$SNAP1" ] || fail "forget entry does not name the removed snapshot"
[ "$(jq -r '.[5].snapshots | length' "$T/log.json")" = 1 ] || fail "forget entry names kept snapshots"
[ "$(jq -r '.[6].bytes > 0' "$T/log.json")" = true ] || fail "prune entry records no bytes freed"

note "filters"
ok arca -r "$REPO" log --json --op restore
[ "$(jq length "$T/out")" = 2 ] || fail "log --op restore"
ok arca -r "$REPO" log --json --since 1d
[ "$(jq length "$T/out")" = 9 ] || fail "log --since 1d"
ok arca -r "$REPO" log --json --since 2200-01-01T00:00:00Z
[ "$(jq length "$T/out")" = 0 ] || fail "log --since the future"
ok arca -r "$REPO" log
assert_contains "$T/out" "exited with status 1" "log table"
expect_exit 2 arca -r "$REPO" log --since yesterdayish

note "stats --history"
ok arca -r "$REPO" stats --history --json
[ "$(jq -r '.operations.backup.count' "$T/out")" = 3 ] || fail "stats --history: backup count"
[ "$(jq -r '.operations.backup.successes' "$T/out")" = 2 ] || fail "stats --history: backup successes"
rate=$(jq -r '.operations.backup.success_rate * 1000 | round' "$T/out")
[ "$rate" = 667 ] || fail "stats --history: backup success rate $rate/1000"
[ "$(jq -r '.operations.restore.success_rate' "$T/out")" = 0.5 ] || fail "stats --history: restore success rate"
[ "$(jq -r '.operations.check.success_rate' "$T/out")" = 1 ] || fail "stats --history: check success rate"
[ "$(jq -r '.operations.backup.avg_bytes > 0' "$T/out")" = true ] || fail "stats --history: average size"
ok arca -r "$REPO" stats --history --since 2200-01-01T00:00:00Z --json
[ "$(jq -r '.entries' "$T/out")" = 0 ] || fail "stats --history: window"
ok arca -r "$REPO" stats --history
assert_contains "$T/out" "66.7%" "stats --history table"
ok arca -r "$REPO" stats --json latest # snapshot selectors still work
[ "$(jq -r .snapshots "$T/out")" = 1 ] || fail "stats SNAPSHOT"

note "entries are sealed and survive a replica copy"
nlog=$(find "$REPO/log" -type f | wc -l)
[ "$nlog" = 9 ] || fail "expected 9 objects in log/, found $nlog"
if grep -rqF -e "$T/restored" -e "exited with status" "$REPO/log"; then
	fail "an audit entry is stored in plaintext"
fi
cp -a "$REPO" "$T/replica"
ok arca -r "$T/replica" log --json
jq -c '[.[] | [.id, .operation, .result, .snapshots]]' "$T/out" >"$T/replica.sum"
jq -c '[.[] | [.id, .operation, .result, .snapshots]]' "$T/log.json" >"$T/orig.sum"
cmp -s "$T/orig.sum" "$T/replica.sum" || fail "the replica lists different audit entries"

note "a damaged entry is skipped with a warning"
victim=$(find "$T/replica/log" -type f | head -n 1)
flip_byte "$victim" 20
ok arca -r "$T/replica" log --json
[ "$(jq length "$T/out")" = 8 ] || fail "damaged entry not skipped"
assert_contains "$T/err" "skipping unreadable log entry" "warning for a damaged entry"
