#!/usr/bin/env bash
# Cloud faults, injected by faultd (tests/servers/faultd.py) between arca
# and a real S3 server (s3rver): a backup and a restore succeed despite 503
# SlowDown bursts, connection resets (also after the server stored a PUT),
# truncated bodies, a stalled download and a failing listing, with the
# retries counted on both sides; a permanent failure gives a clear error
# naming the bucket, key and status, and commits no snapshot that
# references a failed upload; a failure that stays transient is given up
# within the retry bound (ARCA_RETRY_MAX_SECONDS).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
need_servers
start_s3 "$T/s3"
make_bucket faults
start_faultd "$T/fd" "$ARCA_S3_ENDPOINT"
faultd_rules '[]'
export ARCA_S3_ENDPOINT=$FAULTD_URL
export ARCA_S3_PART_SIZE=$((1024 * 1024)) ARCA_S3_PUT_MAX=$((1024 * 1024)) # multipart uploads for the bigger packs
export ARCA_HTTP_TIMEOUT=2                # a stalled transfer is abandoned after 2 s
R=s3://faults/repo
init_repo "$R"
make_sample_tree "$T/src"
if [ -n "$QUICK" ]; then big_kib=2048; else big_kib=6144; fi
rand_file "$T/src/big.bin" "$big_kib"

stat_of() { faultd_stats | "$PY3" -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# ---- transient faults on the way up
faultd_rules '[
 {"method": "PUT", "path": "/data/", "action": "status", "status": 503, "code": "SlowDown", "times": 3},
 {"method": "PUT", "path": "partNumber=2", "action": "reset", "forward": true, "times": 1},
 {"method": "POST", "path": "uploadId=", "action": "status", "status": 500, "code": "InternalError", "times": 1},
 {"method": "PUT", "path": "/index/", "action": "reset", "times": 1},
 {"method": "PUT", "path": "/snapshots/", "action": "status", "status": 503, "code": "SlowDown", "times": 2},
 {"method": "GET", "path": "list-type=2", "action": "status", "status": 500, "code": "InternalError", "times": 1}
]'
ok arca -v -r "$R" backup "$T/src"
assert_contains "$T/err" "retries"
retries=$(sed -n 's/^backend .*: [0-9]* requests, \([0-9]*\) retries.*/\1/p' "$T/err")
injected=$(stat_of 'd["injected"]')
# every rule fired as often as asked, and arca retried every error status
# (a reset may instead be absorbed by libcurl, which resends a request once
# when a reused connection turns out dead)
[ "$(stat_of '[r["injected"] for r in d["rules"]]')" = "[3, 1, 1, 1, 2, 1]" ] ||
	fail "not every upload fault was injected: $(faultd_stats)"
[ -n "$retries" ] && [ "$retries" -ge 7 ] && [ "$retries" -le "$injected" ] ||
	fail "arca counted $retries retries for $injected faults (7 of them error statuses)"
note "backup: $injected faults injected, $retries retries"

# ---- transient faults on the way down
faultd_rules '[
 {"method": "GET", "path": "/data/", "action": "truncate", "times": 2},
 {"method": "GET", "path": "/data/", "action": "reset", "times": 2},
 {"method": "GET", "path": "/data/", "action": "status", "status": 503, "code": "SlowDown", "times": 2},
 {"method": "GET", "path": "/data/", "action": "stall", "seconds": 30, "times": 1},
 {"method": "GET", "path": "/snapshots/", "action": "reset", "times": 1},
 {"method": "HEAD", "action": "status", "status": 503, "times": 1}
]'
ok arca -v -r "$R" restore latest --target "$T/dst"
assert_same_tree "$T/src" "$(restored "$T/dst" "$T/src")"
cmp "$T/src/big.bin" "$(restored "$T/dst" "$T/src")/big.bin" || fail "big file differs after faults"
[ "$(stat_of '[r["injected"] for r in d["rules"]][:5]')" = "[2, 2, 2, 1, 1]" ] ||
	fail "not every download fault was injected: $(faultd_stats)"
faultd_rules '[{"method": "GET", "path": "/data/", "action": "truncate", "every": 3}]'
ok arca -r "$R" check --read-data
assert_contains "$T/out" "no errors were found"
[ "$(stat_of 'd["injected"]')" -gt 0 ] || fail "check saw no truncated body"

# ---- a permanent failure: every pack upload is refused (403).  Clear
# error (bucket, key, status), exit 1, and no new snapshot
ok arca -r "$R" snapshots --json
before=$(grep -o '"id"' "$T/out" | wc -l)
echo "new data $RANDOM" >"$T/src/new.txt"
rand_file "$T/src/new.bin" 300
faultd_rules '[{"method": "PUT", "path": "/data/", "action": "status", "status": 403, "code": "AccessDenied"}]'
expect_exit 1 arca -r "$R" backup "$T/src"
assert_contains "$T/err" "s3://faults/repo"
assert_contains "$T/err" "data/"
assert_contains "$T/err" "403"
assert_contains "$T/err" "AccessDenied"
assert_not_contains "$T/err" "arca-test-secret"
faultd_rules '[]'
ok arca -r "$R" snapshots --json
[ "$(grep -o '"id"' "$T/out" | wc -l)" = "$before" ] || fail "a snapshot was committed despite a failed upload"
ok arca -r "$R" check
assert_contains "$T/out" "no errors were found"

# ---- a failure that stays transient: given up within the bound
faultd_rules '[{"method": "PUT", "path": "/data/", "action": "status", "status": 503, "code": "SlowDown"}]'
t0=$(date +%s.%N)
ARCA_RETRY_MAX_SECONDS=2 expect_exit 1 arca -r "$R" backup "$T/src"
t1=$(date +%s.%N)
assert_contains "$T/err" "503"
assert_contains "$T/err" "SlowDown"
assert_contains "$T/err" "retries"
"$PY3" -c "import sys; sys.exit(0 if $t1 - $t0 < 12 else 1)" || fail "giving up took $(echo "$t1 - $t0" | bc) s"
faultd_rules '[]'
ok arca -r "$R" snapshots --json
[ "$(grep -o '"id"' "$T/out" | wc -l)" = "$before" ] || fail "a snapshot was committed after giving up"
# and the same backup succeeds once the store recovers
ok arca -r "$R" backup "$T/src"
ok arca -r "$R" restore latest --target "$T/dst2"
assert_same_tree "$T/src" "$(restored "$T/dst2" "$T/src")"
exit 0
