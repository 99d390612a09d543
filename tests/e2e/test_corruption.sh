#!/usr/bin/env bash
# Damage in a repository is found, named, and contained: a flipped byte in
# a pack or a missing pack is reported by check (exit 13) with the pack,
# the snapshot and the file it hurts; damaged config, key, index and
# snapshot objects give one clear error line (never a crash), the rest of
# the repository stays usable, and 'repair index' rebuilds a lost index.
. "$(dirname "$0")/lib.sh"

R=$T/repo
if [ -n "$QUICK" ]; then KB=160; else KB=400; fi

# small chunks and packs: many packs, so that damage can be pinned down
init_repo "$R" --chunker 16K,32K,128K --pack-size 64K

S1=$T/one
make_sample_tree "$S1"
rand_file "$S1/big1.bin" "$KB"
ok arca -r "$R" backup "$S1"
SNAP1=$(latest_snapshot_id "$R")
find "$R/data" -type f | sort >"$T/packs1"
ls "$R/index" >"$T/index1"

S2=$T/two
mkdir -p "$S2/deep"
rand_file "$S2/deep/victim.bin" "$KB"
echo "small" >"$S2/keep.txt"
ok arca -r "$R" backup "$S2"
SNAP2=$(latest_snapshot_id "$R")
[ -n "$SNAP1" ] && [ -n "$SNAP2" ] && [ "$SNAP1" != "$SNAP2" ] || fail "could not read snapshot ids"
find "$R/data" -type f | sort >"$T/packs2"
ls "$R/index" >"$T/index2"
NPACKS=$(wc -l <"$T/packs2")
[ "$NPACKS" -ge 8 ] || fail "expected several packs, got $NPACKS"
note "$NPACKS packs"
ok arca -r "$R" check --read-data

restore_ok() { # snapshot id, source dir: restores byte for byte
	rm -rf "$T/rst"
	ok arca -r "$R" restore "$1" --target "$T/rst"
	assert_same_tree "$2" "$(restored "$T/rst" "$2")"
}
restore_ok "$SNAP1" "$S1"
restore_ok "$SNAP2" "$S2"

# the biggest pack written by the second backup holds chunks of victim.bin
VICTIM_PACK=$(comm -13 "$T/packs1" "$T/packs2" | xargs stat -c '%s %n' | sort -n | tail -n 1 | cut -d' ' -f2)
VP_ID=$(basename "$VICTIM_PACK")
[ -n "$VP_ID" ] || fail "no pack from the second backup"
cp "$VICTIM_PACK" "$T/pack.saved"

# ---- one flipped byte in the middle of a pack
flip_byte "$VICTIM_PACK" $(($(file_size "$VICTIM_PACK") / 2))
expect_exit 13 arca -r "$R" check --read-data
assert_contains "$T/out" "$VP_ID" "check output (the pack id)"
assert_contains "$T/out" "snapshot ${SNAP2:0:8}" "check output (the snapshot short id)"
assert_contains "$T/out" "$S2/deep/victim.bin" "check output (the damaged file)"
assert_not_contains "$T/out" "snapshot ${SNAP1:0:8}" "check output (the intact snapshot is not blamed)"
# (check blames every blob of a damaged pack; keep.txt may share the pack)
keep_shares_pack=
grep -qF "keep.txt" "$T/out" && keep_shares_pack=1
expect_exit 13 arca -r "$R" --json check --read-data
assert_contains "$T/out" '"ok":false' "check --json"
assert_contains "$T/out" '"damaged_packs":1' "check --json"
# every pack read: a subset of 100% finds it too
[ -z "$QUICK" ] && expect_exit 13 arca -r "$R" check --read-data-subset 100%
# the damage stays local: the other snapshot restores, this one fails loudly
restore_ok "$SNAP1" "$S1"
rm -rf "$T/rst"
expect_exit 1 arca -r "$R" restore "$SNAP2" --target "$T/rst"
assert_contains "$T/err" "victim.bin" "restore stderr (the damaged file)"
if [ -z "$keep_shares_pack" ]; then
	cmp -s "$S2/keep.txt" "$(restored "$T/rst" "$S2")/keep.txt" || fail "an intact file of the damaged snapshot was not restored"
fi
cp "$T/pack.saved" "$VICTIM_PACK"
ok arca -r "$R" check --read-data

# ---- a pack that is gone: found without reading data
rm -f "$VICTIM_PACK"
expect_exit 13 arca -r "$R" check
assert_contains "$T/out" "$VP_ID" "check output (the missing pack)"
assert_contains "$T/out" "missing" "check output"
assert_contains "$T/out" "$S2/deep/victim.bin" "check output (the file that lost data)"
assert_contains "$T/out" "snapshot ${SNAP2:0:8}" "check output (the snapshot short id)"
restore_ok "$SNAP1" "$S1"
cp "$T/pack.saved" "$VICTIM_PACK"
ok arca -r "$R" check

# ---- --read-data-subset reads some packs, not all
ok arca -r "$R" --json check --read-data-subset 50%
read_n=$(grep -o '"packs_read":[0-9]*' "$T/out" | cut -d: -f2)
packs_n=$(grep -o '"packs":[0-9]*' "$T/out" | cut -d: -f2)
[ "$packs_n" = "$NPACKS" ] || fail "check counted $packs_n packs, the repository has $NPACKS"
# P(none or all of N >= 8 packs picked at 50%) <= 2/256; a retry makes it negligible
if [ "$read_n" -le 0 ] || [ "$read_n" -ge "$packs_n" ]; then
	ok arca -r "$R" --json check --read-data-subset 50%
	read_n=$(grep -o '"packs_read":[0-9]*' "$T/out" | cut -d: -f2)
fi
[ "$read_n" -gt 0 ] && [ "$read_n" -lt "$packs_n" ] ||
	fail "--read-data-subset 50% read $read_n of $packs_n packs"
if [ -z "$QUICK" ]; then
	ok arca -r "$R" check --read-data-subset 10%
	assert_contains "$T/out" "no errors" "check output"
fi

# ---- damaged metadata objects, each in a fresh copy with a fresh cache
cp -a "$R" "$T/pristine"
case_n=0
fresh_copy() {
	case_n=$((case_n + 1))
	rm -rf "$T/case"
	cp -a "$T/pristine" "$T/case"
	export ARCA_CACHE_DIR="$T/cache-$case_n"
	C=$T/case
}
# A failing command: allowed exit codes, never a crash, exactly one error
# line that names what is wrong.
one_error() { # "codes" what-to-mention cmd...
	local codes=$1 what=$2
	shift 2
	expect_exit_in "$codes" "$@"
	[ "$(grep -c '^error: ' "$T/err")" = 1 ] || fail "expected one error line from '$*', got: $(cat "$T/err")"
	grep '^error: ' "$T/err" | grep -qF -- "$what" || fail "error of '$*' does not mention '$what': $(cat "$T/err")"
	if LC_ALL=C grep -q '[^[:print:][:space:]]' "$T/err"; then
		fail "error output of '$*' has unprintable bytes"
	fi
}
hex_to_file() { # hex string -> bytes on stdout
	local h=$1 i
	for ((i = 0; i < ${#h}; i += 2)); do
		printf "\\x${h:i:2}"
	done
}

# config truncated
fresh_copy
head -c 60 "$T/pristine/config" >"$C/config"
one_error 1 config arca -r "$C" snapshots
if [ -z "$QUICK" ]; then
	one_error 1 config arca -r "$C" restore latest --target "$T/x"
	one_error 1 config arca -r "$C" check
fi

# config with a flipped byte (its checksum catches it)
fresh_copy
flip_byte "$C/config" 50
one_error 1 config arca -r "$C" snapshots

# config rewritten to say "no encryption", with a valid checksum: the keys
# commit to the config, so this is refused rather than misread
fresh_copy
printf '\000' | dd of="$C/config" bs=1 seek=44 count=1 conv=notrunc status=none
printf '\000' | dd of="$C/config" bs=1 seek=47 count=1 conv=notrunc status=none
sum=$(head -c 96 "$C/config" | sha256sum | cut -c1-64)
{ head -c 96 "$C/config"; hex_to_file "$sum"; } >"$C/config.new" && mv "$C/config.new" "$C/config"
[ "$(file_size "$C/config")" = 128 ] || fail "rewritten config has the wrong size"
one_error 1 config arca -r "$C" snapshots
one_error 1 config arca -r "$C" restore latest --target "$T/x"
[ ! -e "$T/x" ] || [ -z "$(ls -A "$T/x")" ] || fail "restore from a downgraded config wrote files"
rm -rf "$T/x"
# above all, no backup may write plaintext into it
ls -R "$C" >"$T/before"
one_error 1 config arca -r "$C" backup "$S2"
ls -R "$C" >"$T/after"
diff -q "$T/before" "$T/after" >/dev/null || fail "a backup wrote into a repository with a downgraded config"

# config missing: no repository
fresh_copy
rm -f "$C/config"
one_error 10 "no repository" arca -r "$C" snapshots

# key file truncated
fresh_copy
KEY=$(ls "$C/keys" | head -n 1)
head -c 100 "$T/pristine/keys/$KEY" >"$C/keys/$KEY"
one_error 1 "$KEY" arca -r "$C" snapshots
[ -z "$QUICK" ] && one_error 1 "$KEY" arca -r "$C" check

# key file with a flipped byte: reported as damage, not as a wrong password
fresh_copy
flip_byte "$C/keys/$KEY" 150
one_error 1 "$KEY" arca -r "$C" snapshots
assert_contains "$T/err" "damaged" "stderr"

# key file gone
if [ -z "$QUICK" ]; then
	fresh_copy
	rm -f "$C/keys/$KEY"
	one_error 1 "key" arca -r "$C" snapshots
fi

# the index file of the second backup damaged: the first snapshot still
# restores, the second fails clearly, check reports it, repair fixes it
fresh_copy
IX2=$(comm -13 "$T/index1" "$T/index2")
[ -n "$IX2" ] && [ "$(echo "$IX2" | wc -l)" = 1 ] || fail "cannot tell which index file the second backup wrote"
head -c 30 "$T/pristine/index/$IX2" >"$C/index/$IX2"
expect_exit 0 arca -r "$C" snapshots
assert_contains "$T/out" "${SNAP2:0:8}" "snapshots output"
assert_contains "$T/err" "$IX2" "stderr (warning about the damaged index file)"
R_SAVED=$R
R=$C
restore_ok "$SNAP1" "$S1"
rm -rf "$T/rst"
expect_exit 1 arca -r "$C" restore "$SNAP2" --target "$T/rst"
expect_exit 13 arca -r "$C" check
ok arca -r "$C" repair index
[ ! -e "$C/index/$IX2" ] || fail "repair index kept the damaged index file"
ok arca -r "$C" snapshots
assert_not_contains "$T/err" "$IX2" "stderr after repair"
restore_ok "$SNAP2" "$S2"
ok arca -r "$C" check --read-data

# every index file deleted: repair index rebuilds from the packs
fresh_copy
rm -f "$C"/index/*
expect_exit 13 arca -r "$C" check
ok arca -r "$C" repair index
[ -n "$(ls "$C/index")" ] || fail "repair index wrote no index file"
ok arca -r "$C" check --read-data
restore_ok "$SNAP1" "$S1"
restore_ok "$SNAP2" "$S2"
# ... also with a cache that still remembers the old index files
if [ -z "$QUICK" ]; then
	rm -f "$C"/index/*
	ok arca -r "$C" repair index
	restore_ok "$SNAP2" "$S2"
fi

# a damaged snapshot object: the others are listed and restore
hows="flip truncate"
[ -n "$QUICK" ] && hows=flip
for how in $hows; do
	fresh_copy
	if [ $how = flip ]; then
		flip_byte "$C/snapshots/$SNAP1" 20
	else
		: >"$C/snapshots/$SNAP1"
	fi
	expect_exit 0 arca -r "$C" snapshots
	assert_contains "$T/out" "${SNAP2:0:8}" "snapshots output"
	assert_not_contains "$T/out" "${SNAP1:0:8}" "snapshots output"
	assert_contains "$T/err" "$SNAP1" "stderr (warning naming the damaged snapshot)"
	restore_ok "$SNAP2" "$S2"
	one_error 1 "${SNAP1:0:8}" arca -r "$C" restore "${SNAP1:0:8}" --target "$T/x"
	expect_exit 13 arca -r "$C" check
	assert_contains "$T/out" "damaged" "check output"
done
R=$R_SAVED
