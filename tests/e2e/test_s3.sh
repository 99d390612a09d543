#!/usr/bin/env bash
# S3 repositories against a real S3 server on loopback (s3rver, which checks
# SigV4 signatures): every command round-trips through s3://BUCKET/PREFIX,
# big packs go up as multipart uploads, listings page with continuation
# tokens, a wrong secret fails clearly without leaking it, no credential
# ever reaches the output, credentials come from AWS profiles (shared
# credentials and config files), region "auto" (GCS's XML API) signs
# correctly, a lock left by a dead process on another host expires by its lease, and
# replicate copies a local repository into a bucket and back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
need_servers
start_s3 "$T/s3"
make_bucket arca-test
R=s3://arca-test/repos/one
ALL="$T/all-output"
: >"$ALL"
# every command's output is kept for the credential scan at the end
keep() { cat "$T/out" "$T/err" >>"$ALL"; }

# ---- init, backup, snapshots, restore, check.  The backup goes through a
# pass-through faultd, whose request log shows that a pack bigger than a
# part went up as a multipart upload.
start_faultd "$T/fd" "$ARCA_S3_ENDPOINT"
faultd_rules '[]'
init_repo "$R"; keep
make_sample_tree "$T/src"
# (a pack goes up in one PUT up to ARCA_S3_PUT_MAX, 32 MiB by default: here
# the limit is one part, so that the multipart path is taken)
if [ -n "$QUICK" ]; then
	big_kib=6144; export ARCA_S3_PART_SIZE=$((1024 * 1024)) ARCA_S3_PUT_MAX=$((1024 * 1024))
else
	big_kib=20480 # a 16 MiB pack: 2 parts of 8 MiB and the rest
	export ARCA_S3_PUT_MAX=$((8 * 1024 * 1024))
fi
rand_file "$T/src/big.bin" "$big_kib"
ARCA_S3_ENDPOINT=$FAULTD_URL ok arca -r "$R" backup "$T/src"; keep
curl -s "$FAULTD_URL/__faultd/log" >"$T/fd.log"
grep -q '^POST .*?uploads' "$T/fd.log" || fail "no multipart upload was started"
grep -q '^PUT .*partNumber=2&uploadId=' "$T/fd.log" || fail "no second part was uploaded"
grep -q '^POST .*?uploadId=' "$T/fd.log" || fail "no multipart upload was completed"
ok arca -r "$R" snapshots --json; keep
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 1 ] || fail "expected one snapshot"
ok arca -r "$R" restore latest --target "$T/dst"; keep
assert_same_tree "$T/src" "$(restored "$T/dst" "$T/src")"
cmp "$T/src/big.bin" "$(restored "$T/dst" "$T/src")/big.bin" || fail "big file differs"
ok arca -r "$R" check --read-data; keep
assert_contains "$T/out" "no errors were found"
# the objects are where FORMAT.md says: PREFIX/config, PREFIX/data/xx/...
[ -e "$T/s3/data/arca-test/repos/one/config._S3rver_object" ] || fail "no config object under the prefix"
ls "$T/s3/data/arca-test/repos/one/data/" | grep -qE '^[0-9a-f]{2}$' || fail "no data/xx/ objects"

# ---- listings page with continuation tokens (s3rver needs the legacy
# openssl provider for them): 2 keys a page
rm "$T/src/big.bin"
for i in 1 2 3; do
	echo "change $i" >>"$T/src/hello.txt"
	ok arca -r "$R" backup --tag "t$i" "$T/src"; keep
done
ARCA_S3_LIST_PAGE=2 ok arca -r "$R" snapshots --json; keep
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 4 ] || fail "paged listing did not find 4 snapshots"
ARCA_S3_LIST_PAGE=2 ok arca -r "$R" check; keep
assert_contains "$T/out" "no errors were found"

# ---- forget --prune, key add; region "auto" (GCS XML API style signing)
ok arca -r "$R" forget --keep-last 2 --prune; keep
ok arca -r "$R" snapshots --json; keep
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 2 ] || fail "forget did not keep 2 snapshots"
ARCA_NEW_PASSWORD=second-password ok arca -r "$R" key add; keep
ARCA_PASSWORD=second-password ok arca -r "$R" key list; keep
AWS_REGION=auto ok arca -r "$R" check --read-data; keep
ok arca -r "$R" restore latest --target "$T/dst3"; keep
assert_same_tree "$T/src" "$(restored "$T/dst3" "$T/src")"

# ---- NOREPLACE through a server that honours If-None-Match (faultd):
# a second init must find the config and refuse
faultd_rules '[{"action": "noreplace"}]'
ARCA_S3_ENDPOINT=$FAULTD_URL ARCA_S3_NOREPLACE=1 expect_exit 1 arca -r "$R" init --kdf-memory 8M --kdf-time 1
keep
assert_contains "$T/err" "already exists"

# ---- replicate (the generic backend API) from a local repository into the
# bucket and back: the layouts are the same
init_repo "$T/local"; keep
ok arca -r "$T/local" backup "$T/src"; keep
ok arca -r "$T/local" replicate --to s3://arca-test/replica; keep
ok arca -r s3://arca-test/replica check --read-data; keep
assert_contains "$T/out" "no errors were found"
ok arca -r s3://arca-test/replica replicate --to "$T/back"; keep
ok arca -r "$T/back" restore latest --target "$T/dst4"; keep
assert_same_tree "$T/src" "$(restored "$T/dst4" "$T/src")"

# ---- a wrong secret: exit 1, names the status, never shows a secret
AWS_SECRET_ACCESS_KEY=wrong-secret-4711 expect_exit 1 arca -r "$R" snapshots
assert_contains "$T/err" "403"
assert_contains "$T/err" "arca-test"
assert_not_contains "$T/err" "wrong-secret-4711"
assert_not_contains "$T/out" "wrong-secret-4711"
assert_not_contains "$T/err" "Signature="
# no credentials at all: a clear message
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$T/none" AWS_CONFIG_FILE="$T/none" \
	"$ARCA_BIN" -r "$R" snapshots >"$T/out" 2>"$T/err" && fail "snapshots without credentials succeeded"
assert_contains "$T/err" "AWS_ACCESS_KEY_ID"

# ---- credentials from the AWS shared files, as the AWS CLI reads them:
# AWS_PROFILE's section of the credentials file, else "profile NAME" of the
# config file (which also gives the region); the environment's keys win
mkdir -p "$T/aws"
cat >"$T/aws/credentials" <<EOF
# written by hand
[default]
aws_access_key_id = NOTTHEKEY
aws_secret_access_key = not-the-secret-0815

[arca]
aws_access_key_id = $AWS_ACCESS_KEY_ID
aws_secret_access_key=$AWS_SECRET_ACCESS_KEY
EOF
printf '[profile cfg]\r\nregion = us-east-1\r\naws_access_key_id = %s\r\naws_secret_access_key = %s\r\n' \
	"$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$T/aws/config"
profile_run() { # AWS_PROFILE value ("" for none), arca args...
	local p=$1; shift
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_REGION -u AWS_PROFILE \
		AWS_SHARED_CREDENTIALS_FILE="$T/aws/credentials" AWS_CONFIG_FILE="$T/aws/config" \
		${p:+AWS_PROFILE=$p} "$ARCA_BIN" "$@" >"$T/out" 2>"$T/err"
}
profile_run arca -r "$R" snapshots --json || fail "profile arca: $(cat "$T/err")"
grep -q '"id"' "$T/out" || fail "profile arca listed no snapshot"
profile_run cfg -r "$R" snapshots --json || fail "profile cfg (config file): $(cat "$T/err")"
grep -q '"id"' "$T/out" || fail "profile cfg listed no snapshot"
# no AWS_PROFILE: [default], whose keys the server refuses
profile_run "" -r "$R" snapshots && fail "the default profile's wrong keys were accepted"
assert_contains "$T/err" "403"
assert_not_contains "$T/err" "not-the-secret-0815"
# keys in the environment: an unreadable config file only costs the region lookup
env -u AWS_REGION AWS_CONFIG_FILE="$T/aws" "$ARCA_BIN" -r "$R" snapshots >"$T/out" 2>"$T/err" ||
	fail "an unreadable config file failed a command with keys in the environment: $(cat "$T/err")"
profile_run nosuch -r "$R" snapshots && fail "a missing profile was accepted"
assert_contains "$T/err" 'profile "nosuch"'
assert_contains "$T/err" "$T/aws/credentials"
keep
# an empty bucket name or a missing bucket
expect_exit_in "1 10" arca -r s3://no-such-bucket/x snapshots
keep

# ---- a lock of a dead process on another host: refused while its lease
# runs, taken over once it expired (no pid can be checked remotely)
mkfifo "$T/hold.fifo"
unshare -u sh -c 'hostname other-host; exec "$0" -r "$1" backup --stdin --stdin-name slow.txt' \
	"$ARCA_BIN" "$R" <"$T/hold.fifo" >"$T/holder.out" 2>&1 &
holder=$!
bg_track "$holder"
exec 7>"$T/hold.fifo" # its stdin stays open (and empty) until we close it
for _ in $(seq 100); do
	curl -s "$ARCA_S3_ENDPOINT/arca-test?list-type=2&prefix=repos/one/locks/" | grep -q '<Key>' && break
	sleep 0.1
done
curl -s "$ARCA_S3_ENDPOINT/arca-test?list-type=2&prefix=repos/one/locks/" | grep -q '<Key>' ||
	fail "the holder wrote no lock"
kill -9 "$holder"
wait "$holder" 2>/dev/null
exec 7>&-
ARCA_LOCK_STALE_SECONDS=3 expect_exit 11 arca -r "$R" prune
assert_contains "$T/err" "other-host"
sleep 4.2
ARCA_LOCK_STALE_SECONDS=3 ok arca -r "$R" prune; keep
assert_contains "$T/err" "stale"

# ---- nothing anywhere shows a credential
assert_not_contains "$ALL" "arca-test-secret" "command output"
assert_not_contains "$ALL" "$ARCA_PASSWORD" "command output"
exit 0
