#!/usr/bin/env bash
# GCS repositories (gs://BUCKET/PREFIX, JSON API) against the Cloud Storage
# emulator of firebase-tools on loopback.  The emulator checks no
# credentials, so the authenticated round trip goes through faultd in token
# mode: it is the OAuth2 token endpoint of a throwaway service account (an
# RSA key made here with openssl) and refuses every storage request without
# the bearer token it handed out.  The JWT assertions it received are
# verified here with openssl and the public key; the token is fetched once
# per command and cached; neither the token nor the key ever reaches the
# output.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/servers.sh"
need_servers
start_gcs "$T/gcs"
EMU=$ARCA_GCS_ENDPOINT
TOKEN="ya29.arca-test-token-$RANDOM$RANDOM"
start_faultd "$T/fd" "$EMU" --token "$TOKEN"
faultd_rules '[]'
ALL="$T/all-output"
: >"$ALL"
keep() { cat "$T/out" "$T/err" >>"$ALL"; }

# ---- a throwaway service account
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/sa.pem" 2>/dev/null || fail "openssl genpkey"
openssl pkey -in "$T/sa.pem" -pubout -out "$T/sa.pub" 2>/dev/null || fail "openssl pkey"
"$PY3" - "$T/sa.pem" "$FAULTD_URL/token" >"$T/sa.json" <<'EOF' || fail "cannot write the key file"
import json, sys
print(json.dumps({"type": "service_account", "project_id": "arca-test", "private_key_id": "k1",
                  "private_key": open(sys.argv[1]).read(), "client_email": "backup@arca-test.iam.gserviceaccount.com",
                  "token_uri": sys.argv[2]}))
EOF
export GOOGLE_APPLICATION_CREDENTIALS=$T/sa.json
export ARCA_GCS_ENDPOINT=$FAULTD_URL
R=gs://arca-bucket/hosts/alpha

# ---- round trip: init, backup, snapshots, restore, check --read-data
init_repo "$R"; keep
[ "$(faultd_stats | grep -o '"tokens": [0-9]*')" = '"tokens": 1' ] || fail "init fetched more than one token"
make_sample_tree "$T/src"
if [ -n "$QUICK" ]; then big_kib=3072; else big_kib=18432; fi
rand_file "$T/src/big.bin" "$big_kib"
ok arca -r "$R" backup "$T/src"; keep
# one token per command, however many requests and threads
[ "$(faultd_stats | grep -o '"tokens": [0-9]*')" = '"tokens": 2' ] || fail "backup did not reuse its token"
curl -s "$FAULTD_URL/__faultd/log" | grep -c -- '-> pass' >"$T/npass"
[ "$(cat "$T/npass")" -gt 5 ] || fail "too few authenticated requests went through"
ok arca -r "$R" snapshots --json; keep
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 1 ] || fail "expected one snapshot"
ok arca -r "$R" restore latest --target "$T/dst"; keep
assert_same_tree "$T/src" "$(restored "$T/dst" "$T/src")"
ok arca -r "$R" check --read-data; keep
assert_contains "$T/out" "no errors were found"
# the objects are where FORMAT.md says (asked of the emulator directly)
curl -s "$EMU/storage/v1/b/arca-bucket/o?prefix=hosts/alpha/" >"$T/objs.json"
assert_contains "$T/objs.json" '"name":"hosts/alpha/config"'
grep -qE '"name":"hosts/alpha/data/[0-9a-f]{2}/[0-9a-f]{64}"' "$T/objs.json" || fail "no data/xx/<id> objects"

# ---- the JWT assertions verify with the service account's public key
curl -s "$FAULTD_URL/__faultd/assertions" | head -n 1 >"$T/jwt"
"$PY3" - "$T/jwt" "$T" <<'EOF' || fail "cannot split the JWT"
import base64, json, sys
jwt = open(sys.argv[1]).read().strip()
h, c, s = jwt.split(".")
pad = lambda x: x + "=" * (-len(x) % 4)
open(sys.argv[2] + "/jwt.signed", "w").write(h + "." + c)
open(sys.argv[2] + "/jwt.sig", "wb").write(base64.urlsafe_b64decode(pad(s)))
claims = json.loads(base64.urlsafe_b64decode(pad(c)))
assert json.loads(base64.urlsafe_b64decode(pad(h))) == {"alg": "RS256", "typ": "JWT"}
assert claims["iss"] == "backup@arca-test.iam.gserviceaccount.com", claims
assert claims["aud"].endswith("/token"), claims
assert claims["scope"] == "https://www.googleapis.com/auth/devstorage.read_write", claims
assert claims["exp"] - claims["iat"] == 3600, claims
EOF
openssl dgst -sha256 -verify "$T/sa.pub" -signature "$T/jwt.sig" "$T/jwt.signed" >/dev/null ||
	fail "the JWT signature does not verify with the public key"

# ---- more commands: paged listings, several snapshots, forget --prune, keys
rm "$T/src/big.bin"
for i in 1 2; do
	echo "change $i" >>"$T/src/hello.txt"
	ok arca -r "$R" backup "$T/src"; keep
done
ARCA_GCS_LIST_PAGE=2 ok arca -r "$R" snapshots --json; keep
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 3 ] || fail "paged listing did not find 3 snapshots"
ok arca -r "$R" forget --keep-last 1 --prune; keep
ok arca -r "$R" snapshots --json; keep
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 1 ] || fail "forget did not keep 1 snapshot"
ARCA_NEW_PASSWORD=other-pass ok arca -r "$R" key add; keep
ARCA_PASSWORD=other-pass ARCA_GCS_LIST_PAGE=3 ok arca -r "$R" check --read-data; keep
ok arca -r "$R" restore latest --target "$T/dst2"; keep
assert_same_tree "$T/src" "$(restored "$T/dst2" "$T/src")"

# ---- without credentials the token-checking server refuses: exit 1, 401
env -u GOOGLE_APPLICATION_CREDENTIALS "$ARCA_BIN" -r "$R" snapshots >"$T/out" 2>"$T/err" &&
	fail "snapshots without a token succeeded"
keep
assert_contains "$T/err" "401"
assert_contains "$T/err" "gs://arca-bucket/hosts/alpha"
# a key file that is not a service account: a clear message
echo '{"type": "authorized_user"}' >"$T/bad.json"
GOOGLE_APPLICATION_CREDENTIALS=$T/bad.json expect_exit_in "1 2" arca -r "$R" snapshots; keep
assert_contains "$T/err" "service account"
# no credentials and Google's endpoint: refused before any request
env -u GOOGLE_APPLICATION_CREDENTIALS -u ARCA_GCS_ENDPOINT "$ARCA_BIN" -r "$R" snapshots >"$T/out" 2>"$T/err" &&
	fail "snapshots without credentials succeeded"
assert_contains "$T/err" "GOOGLE_APPLICATION_CREDENTIALS"

# ---- the emulator without auth (as STORAGE_EMULATOR_HOST names it)
env -u GOOGLE_APPLICATION_CREDENTIALS -u ARCA_GCS_ENDPOINT STORAGE_EMULATOR_HOST="${EMU#http://}" \
	"$ARCA_BIN" -r "$R" snapshots --json >"$T/out" 2>"$T/err" || { cat "$T/err"; fail "snapshots via STORAGE_EMULATOR_HOST"; }
[ "$(grep -o '"id"' "$T/out" | wc -l)" = 1 ] || fail "STORAGE_EMULATOR_HOST: wrong snapshot count"

# ---- no secret anywhere
assert_not_contains "$ALL" "$TOKEN" "command output"
assert_not_contains "$ALL" "PRIVATE KEY" "command output"
assert_not_contains "$ALL" "$(sed -n 2p "$T/sa.pem")" "command output"
exit 0
