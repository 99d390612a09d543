#!/usr/bin/env bash
# Keys and ciphers: key add/list/passwd/remove behave, the key in use
# cannot be removed, and each --encryption round-trips a tree (none
# without any password) while encrypted repositories hold no plaintext.
. "$(dirname "$0")/lib.sh"

R=$T/repo
SRC=$T/src
make_sample_tree "$SRC"
P2="second-password-$RANDOM"
P3="third-password-$RANDOM"

init_repo "$R"
ok arca -r "$R" backup "$SRC"
K1=$(ls "$R/keys")
[ "$(echo "$K1" | wc -l)" = 1 ] || fail "init wrote $(echo "$K1" | wc -l) key files"

json_entries() { grep -o '"id":"[0-9a-f]*"' "$T/out" | wc -l; }
current_id() { grep -o '"id":"[0-9a-f]*","current":true' "$T/out" | cut -d'"' -f4; }

ok arca -r "$R" --json key list
[ "$(json_entries)" = 1 ] || fail "key list --json: expected 1 entry: $(cat "$T/out")"
[ "$(current_id)" = "$K1" ] || fail "key list --json: the current key is not $K1: $(cat "$T/out")"

# ---- key add: a second password opens the same repository
expect_exit 2 arca -r "$R" key add </dev/null # no new password given
ok env ARCA_NEW_PASSWORD="$P2" "$ARCA_BIN" -r "$R" key add
K2=$(ls "$R/keys" | grep -v "^$K1\$")
[ "$(echo "$K2" | wc -l)" = 1 ] && [ -n "$K2" ] || fail "key add did not write exactly one key file"
assert_contains "$T/out" "${K2:0:10}" "key add output (the new key id)"
ok env ARCA_PASSWORD="$P2" "$ARCA_BIN" -r "$R" snapshots
ok env ARCA_PASSWORD="$P2" "$ARCA_BIN" -r "$R" restore latest --target "$T/rst2"
assert_same_tree "$SRC" "$(restored "$T/rst2" "$SRC")"
ok arca -r "$R" snapshots # the first password still works

ok arca -r "$R" --json key list
[ "$(json_entries)" = 2 ] || fail "key list --json: expected 2 entries: $(cat "$T/out")"
[ "$(grep -o '"current":true' "$T/out" | wc -l)" = 1 ] || fail "key list --json: expected one current key: $(cat "$T/out")"
[ "$(current_id)" = "$K1" ] || fail "key list --json (password 1): current is not $K1"
ok env ARCA_PASSWORD="$P2" "$ARCA_BIN" -r "$R" --json key list
[ "$(current_id)" = "$K2" ] || fail "key list --json (password 2): current is not $K2"
ok arca -r "$R" key list # the table
assert_contains "$T/out" "*${K1:0:10}" "key list (current key marked)"
assert_contains "$T/out" " ${K2:0:10}" "key list"

# ---- key passwd: the old password stops working, the new one works
ok env ARCA_NEW_PASSWORD="$P3" "$ARCA_BIN" -r "$R" key passwd
[ ! -e "$R/keys/$K1" ] || fail "key passwd kept the old key file"
expect_exit 12 arca -r "$R" snapshots
assert_contains "$T/err" "wrong password" "stderr"
ok env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" snapshots
ok env ARCA_PASSWORD="$P2" "$ARCA_BIN" -r "$R" snapshots # other keys untouched
K3=$(ls "$R/keys" | grep -v "^$K2\$")
[ "$(ls "$R/keys" | wc -l)" = 2 ] && [ -n "$K3" ] || fail "after passwd: expected keys $K2 and one new: $(ls "$R/keys")"

# ---- key remove: never the key in use; another one, yes
expect_exit_in "1 2" env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" key remove "$K3"
assert_contains "$T/err" "key in use" "stderr"
[ -e "$R/keys/$K3" ] || fail "the key in use was removed"
ok env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" snapshots
expect_exit 1 env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" key remove 0000000000deadbeef
ok env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" key remove "${K2:0:12}"
[ ! -e "$R/keys/$K2" ] || fail "key remove left $K2"
expect_exit 12 env ARCA_PASSWORD="$P2" "$ARCA_BIN" -r "$R" snapshots
ok env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" --json key list
[ "$(json_entries)" = 1 ] && [ "$(current_id)" = "$K3" ] || fail "after remove: key list is $(cat "$T/out")"
ok env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" check --read-data
rm -rf "$T/rst"
ok env ARCA_PASSWORD="$P3" "$ARCA_BIN" -r "$R" restore latest --target "$T/rst"
assert_same_tree "$SRC" "$(restored "$T/rst" "$SRC")"

# ---- every cipher round-trips; encrypted repositories hold no plaintext
MARK="arca-plaintext-marker-$RANDOM$RANDOM$RANDOM-end"
{
	head -c 3000 /dev/urandom
	printf '%s' "$MARK"
	head -c 3000 /dev/urandom
} >"$SRC/marked.bin"
printf '%s\n' "$MARK" >"$SRC/marked-name-$MARK.txt"
for enc in xchacha20-poly1305 aes-256-gcm none; do
	RE=$T/repo-$enc
	export ARCA_CACHE_DIR="$T/cache-$enc"
	if [ $enc = none ]; then
		# no password anywhere: not in the environment, not on a terminal
		run() { env -u ARCA_PASSWORD "$ARCA_BIN" "$@" </dev/null; }
	else
		run() { "$ARCA_BIN" "$@"; }
	fi
	expect_exit 0 run -r "$RE" --json init --encryption $enc --kdf-memory 8M --kdf-time 1
	assert_contains "$T/out" "\"encryption\":\"$enc\"" "init --json"
	expect_exit 0 run -r "$RE" backup "$SRC"
	rm -rf "$T/rst-$enc"
	expect_exit 0 run -r "$RE" restore latest --target "$T/rst-$enc"
	assert_same_tree "$SRC" "$(restored "$T/rst-$enc" "$SRC")"
	expect_exit 0 run -r "$RE" check --read-data
	if [ $enc = none ]; then
		[ -z "$(ls -A "$RE/keys" 2>/dev/null)" ] || fail "an unencrypted repository has key files"
		# the positive control for the plaintext search below
		grep -rqaF -- "$MARK" "$RE" || fail "marker not found in the unencrypted repository: the search is broken"
		# a password, if given anyway, does no harm
		ok arca -r "$RE" snapshots
	else
		if grep -rlaF -- "$MARK" "$RE" "$ARCA_CACHE_DIR" >"$T/found"; then
			fail "$enc: plaintext (content or file name) found in $(cat "$T/found")"
		fi
		expect_exit 12 env ARCA_PASSWORD="not-$ARCA_PASSWORD" "$ARCA_BIN" -r "$RE" snapshots
		expect_exit 12 env -u ARCA_PASSWORD "$ARCA_BIN" -r "$RE" snapshots </dev/null
	fi
done
# an encrypted init without a password is a usage error, and creates nothing
expect_exit 2 env -u ARCA_PASSWORD "$ARCA_BIN" -r "$T/repo-nopw" init --kdf-memory 8M --kdf-time 1 </dev/null
[ ! -e "$T/repo-nopw/config" ] || fail "init without a password wrote a config"
