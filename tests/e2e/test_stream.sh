#!/usr/bin/env bash
# test_stream: back up a multi-GB stream (a database dump stand-in) from
# stdin without any temp file, dump it back and compare SHA-256 with a
# second run of the deterministic generator; the same through
# --stdin-from-command; a command that fails (exit status, signal, not
# found) saves no snapshot and arca says why.  Prints the throughput of
# the big backup and dump.
. "$(dirname "$0")/rt_lib.sh"

MiB=$((1024 * 1024))
# base64 of AES-CTR keystream: deterministic, ~25% compressible, fast
if [ "$RT_QUICK" = 1 ]; then RAW=$((150 * MiB)); SMALL=$((12 * MiB)); else RAW=$((1536 * MiB)); SMALL=$((32 * MiB)); fi
KEY1=000102030405060708090a0b0c0d0e0f
KEY2=f0e0d0c0b0a090807060504030201000
IV=0f0e0d0c0b0a09080706050403020100
# gen KEY RAWBYTES: base64 text of RAWBYTES keystream bytes (4/3 larger)
gen() { head -c "$2" /dev/zero | openssl enc -aes-128-ctr -K "$1" -iv "$IV" -nosalt | base64 -w 120; }
GEN_SH="head -c $SMALL /dev/zero | openssl enc -aes-128-ctr -K $KEY2 -iv $IV -nosalt | base64 -w 120"

rt_init

note "backup --stdin of a $((RAW / MiB * 4 / 3)) MiB stream"
TIMEF=()
[ -x /usr/bin/time ] && TIMEF=(/usr/bin/time -f %M -o "$RT_TMP/rss")
t0=$(now_s)
gen $KEY1 $RAW | "${TIMEF[@]}" "$ARCA_BIN" -r "$REPO" --json backup --stdin --stdin-name db.sql --tag dump >"$RT_TMP/b.json" ||
	fail "backup --stdin failed"
t1=$(now_s)
json_valid "$RT_TMP/b.json" "backup --stdin --json"
size=$(jget 'd["total_bytes"]' <"$RT_TMP/b.json")
expect_eq "$(jget 'd["bytes_read"]' <"$RT_TMP/b.json")" "$size" "bytes_read of the stream"
want_size=$(( RAW / 3 * 4 + (RAW / 3 * 4 + 119) / 120 ))
expect_eq "$size" "$want_size" "size of the stream in the snapshot"
backup_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
rss=""
[ -s "$RT_TMP/rss" ] && rss=$(tail -n 1 "$RT_TMP/rss")
echo "backup: $size bytes in $backup_s s = $(mb_per_s "$size" "$backup_s") MB/s${rss:+, max RSS $((rss / 1024)) MiB}"
if [ -n "$rss" ] && [ "$RT_QUICK" = 0 ] && [ "$rss" -gt $((1024 * 1024)) ]; then
	fail "backup of a stream used $((rss / 1024)) MiB of memory: it must not buffer the stream"
fi
expect_eq "$(snap_count)" 1 "snapshots after the stream backup"
arca --json ls latest >"$RT_TMP/ls.json" || fail "ls of the stream snapshot failed"
expect_eq "$(jget '[(e["path"], e["type"], e["size"]) for e in d if e["type"] != "dir"]' <"$RT_TMP/ls.json")" \
	"[[\"/db.sql\", \"file\", $size]]" "ls of the stream snapshot"

note "dump and compare with a second run of the generator"
t0=$(now_s)
arca dump latest /db.sql | sha256sum >"$RT_TMP/dump.sha" || fail "dump of the stream failed"
t1=$(now_s)
dump_s=$(python3 -c "print('%.2f' % ($t1 - $t0))")
echo "dump: $size bytes in $dump_s s = $(mb_per_s "$size" "$dump_s") MB/s"
# the reference: a second run of the generator, in the background while the
# smaller cases below run (after the timed backup and dump)
gen $KEY1 $RAW | sha256sum >"$RT_TMP/gen.sha" &
gen_pid=$!
# a prefix: the generator's output for fewer bytes is a prefix of it
expect_eq "$( (arca dump latest:dump db.sql 2>/dev/null || true) | head -c 3000)" "$(gen $KEY1 3000 | head -c 3000)" \
	"start of the stream dumped by relative name and latest:TAG"

note "backup --stdin-from-command"
arca --json backup --stdin-name dump2.sql --stdin-from-command -- sh -c "$GEN_SH" >"$RT_TMP/c.json" ||
	fail "backup --stdin-from-command failed"
snap2=$(jget 'd["snapshot_id"]' <"$RT_TMP/c.json")
arca dump "$snap2" /dump2.sql | sha256sum >"$RT_TMP/dump2.sha"
gen $KEY2 $SMALL | sha256sum >"$RT_TMP/gen2.sha"
expect_eq "$(cut -d' ' -f1 "$RT_TMP/dump2.sha")" "$(cut -d' ' -f1 "$RT_TMP/gen2.sha")" "SHA-256 of --stdin-from-command"
expect_eq "$(snap_count)" 2 "snapshots after --stdin-from-command"
# the same output again dedups completely; with a line inserted at the
# start (a dump with one changed row) content-defined chunking keeps the rest
ssize=$(jget 'd["total_bytes"]' <"$RT_TMP/c.json")
arca --json backup --stdin-name dump2.sql --stdin-from-command -- sh -c "$GEN_SH" >"$RT_TMP/c2.json" ||
	fail "second backup --stdin-from-command failed"
added=$(jget 'd["data_added"]' <"$RT_TMP/c2.json")
echo "same stream again ($ssize bytes): data_added $added"
[ "$added" -lt 65536 ] || fail "the same stream backed up again added $added bytes"
arca --json backup --stdin-name dump2.sql --stdin-from-command -- sh -c "echo 'INSERT INTO t VALUES (42);'; $GEN_SH" \
	>"$RT_TMP/c3.json" || fail "third backup --stdin-from-command failed"
added=$(jget 'd["data_added"]' <"$RT_TMP/c3.json")
echo "stream with a line inserted at the start: data_added $added of $ssize bytes"
[ "$added" -lt $((ssize / 3)) ] || fail "a line inserted at the start of a stream re-stored $added of $ssize bytes"
arca dump latest /dump2.sql | tail -c +28 | sha256sum >"$RT_TMP/dump3.sha"
expect_eq "$(cut -d' ' -f1 "$RT_TMP/dump3.sha")" "$(cut -d' ' -f1 "$RT_TMP/gen2.sha")" "SHA-256 of the edited stream after its first line"
# the name defaults to the command's base name
arca --json backup --stdin-from-command -- /bin/echo hello >/dev/null || fail "backup --stdin-from-command echo"
expect_eq "$(arca dump latest /echo)" hello "dump of a command's output named after the command"
expect_eq "$(snap_count)" 5 "snapshots after the echo backup"

note "an empty stream"
arca backup --stdin --stdin-name empty.sql </dev/null >/dev/null || fail "backup of an empty stream failed"
arca dump latest /empty.sql >"$RT_TMP/empty.out" || fail "dump of an empty stream failed"
[ ! -s "$RT_TMP/empty.out" ] || fail "dump of an empty stream is not empty"
expect_eq "$(snap_count)" 6 "snapshots after the empty stream"

note "failing commands save no snapshot"
expect_fail "command exiting 3" arca backup --stdin-name bad.sql --stdin-from-command -- sh -c 'echo partial; exit 3'
grep -q 'status 3' "$RT_TMP/last.err" || fail "the message does not name exit status 3: $(cat "$RT_TMP/last.err")"
expect_eq "$(snap_count)" 6 "snapshots after a command exited 3"
expect_fail "command killed by a signal" arca backup --stdin-from-command -- sh -c 'echo partial; kill -KILL $$'
grep -q 'signal 9' "$RT_TMP/last.err" || fail "the message does not name signal 9: $(cat "$RT_TMP/last.err")"
expect_fail "command failing after lots of output" arca backup --stdin-from-command -- \
	sh -c "head -c $((SMALL / 2)) /dev/zero | openssl enc -aes-128-ctr -K $KEY1 -iv $IV -nosalt; exit 1"
grep -q 'status 1' "$RT_TMP/last.err" || fail "the message does not name exit status 1: $(cat "$RT_TMP/last.err")"
expect_fail "command not found" arca backup --stdin-from-command -- /nonexistent/arca-no-such-command
expect_eq "$(snap_count)" 6 "snapshots after failing commands"
if arca snapshots --json | grep -q 'bad.sql'; then fail "a failed command left a snapshot"; fi

arca check >/dev/null || fail "check after failed stream backups"

note "compare the big stream with the generator's second run"
wait "$gen_pid" || fail "the second run of the generator failed"
expect_eq "$(cut -d' ' -f1 "$RT_TMP/dump.sha")" "$(cut -d' ' -f1 "$RT_TMP/gen.sha")" "SHA-256 of the dumped stream"
