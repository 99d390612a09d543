#!/usr/bin/env bash
# test_parallel_changes: the parent logic of backup.  Back up a tree, change
# some files in every way a file can change (append; rewrite at the same
# size; rewrite at the same size with the old mtime put back; replace by
# rename with size and mtime kept), back up again: --json files_changed,
# files_unmodified and bytes_read must say exactly which files were read,
# and the restored content must be the new one.  Then metadata-only
# changes, added/removed files, and --force.
. "$(dirname "$0")/rt_lib.sh"

N=200
[ "$RT_QUICK" = 1 ] && N=20
KiB=1024
MiB=$((1024 * 1024))

rt_init
SRC=$RT_TMP/src
mkdir -p "$SRC/sub"
# file I: path of the I-th file; size: every 4th is ~1 MiB, the rest ~16 KiB
fpath() { if [ $(($1 % 2)) = 0 ]; then echo "$SRC/f$1.bin"; else echo "$SRC/sub/g$1.bin"; fi; }
fsize() { if [ $(($1 % 4)) = 0 ]; then echo $((MiB + $1)); else echo $((16 * KiB + $1 * 7)); fi; }
# (the same layout in Python, in one process: forks are slow on a busy box);
# mtimes in the past, so that "now" differs from every old mtime
total=$(python3 - "$SRC" "$N" "$MiB" "$KiB" <<'EOF'
import os, sys
src, n, mib, kib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
total = 0
for i in range(n):
    p = "%s/f%d.bin" % (src, i) if i % 2 == 0 else "%s/sub/g%d.bin" % (src, i)
    size = mib + i if i % 4 == 0 else 16 * kib + i * 7
    with open(p, "wb") as f:
        f.write(os.urandom(size))
    os.utime(p, ns=(1500000000 * 10**9 + 111, 1500000000 * 10**9 + 111))
    total += size
print(total)
EOF
)
for i in 0 1 $((N - 1)); do
	expect_eq "$(stat -c %s "$(fpath $i)")" "$(fsize $i)" "size of generated file $i"
done

# summary FILE: "new/changed/unmodified/errors bytes_read data_added"
summary() { jget '"%d/%d/%d/%d %d %d" % (d["files_new"], d["files_changed"], d["files_unmodified"], d["errors"], d["bytes_read"], d["data_added"])' <"$1"; }

note "first backup: $N files, $total bytes"
arca --json backup "$SRC" >"$RT_TMP/b1.json" || fail "first backup failed"
read -r counts read_b added < <(summary "$RT_TMP/b1.json")
expect_eq "$counts" "$N/0/0/0" "first backup new/changed/unmodified/errors"
expect_eq "$read_b" "$total" "first backup bytes_read"
snap1=$(jget 'd["snapshot_id"]' <"$RT_TMP/b1.json")

note "second backup with nothing changed"
arca --json backup "$SRC" >"$RT_TMP/b1b.json" || fail "repeat backup failed"
read -r counts read_b added < <(summary "$RT_TMP/b1b.json")
expect_eq "$counts" "0/0/$N/0" "unchanged: new/changed/unmodified/errors"
expect_eq "$read_b" 0 "unchanged: bytes_read"
[ "$added" -lt 4096 ] || fail "unchanged: data_added $added"

note "change files in every way"
changed=()
modbytes=0
# mark I: remember file I as changed (its new size counts as re-read)
mark() { changed+=("$1"); modbytes=$((modbytes + $(stat -c %s "$(fpath "$1")"))); }
get_mtime() { python3 -c 'import os, sys; print(os.lstat(sys.argv[1]).st_mtime_ns)' "$1"; }
set_mtime() { python3 -c 'import os, sys; t = int(sys.argv[2]); os.utime(sys.argv[1], ns=(t, t))' "$1" "$2"; }
# append (size grows)
for i in 1 5 8; do echo "appended $i" >>"$(fpath $i)"; mark $i; done
# rewritten in place at the same size (mtime moves on)
for i in 2 12; do
	f=$(fpath $i)
	head -c "$(stat -c %s "$f")" /dev/urandom | dd of="$f" conv=notrunc status=none
	mark $i
done
# rewritten in place at the same size, old mtime put back: only ctime tells
for i in 3 16; do
	f=$(fpath $i)
	m=$(get_mtime "$f")
	cp "$f" "$RT_TMP/old$i"
	head -c 100 /dev/urandom | dd of="$f" bs=1 seek=50 conv=notrunc status=none
	set_mtime "$f" "$m"
	expect_eq "$(get_mtime "$f")" "$m" "mtime of file $i put back"
	cmp -s "$f" "$RT_TMP/old$i" && fail "file $i did not change"
	mark $i
done
# replaced by rename: new inode, same size, same mtime
for i in 4 17; do
	f=$(fpath $i)
	head -c "$(stat -c %s "$f")" /dev/urandom >"$f.tmp"
	touch -r "$f" "$f.tmp"
	mv "$f.tmp" "$f"
	mark $i
done
nchanged=${#changed[@]}

arca --json backup "$SRC" >"$RT_TMP/b2.json" || fail "second backup failed"
read -r counts read_b added < <(summary "$RT_TMP/b2.json")
expect_eq "$counts" "0/$nchanged/$((N - nchanged))/0" "after changes: new/changed/unmodified/errors"
expect_eq "$read_b" "$modbytes" "after changes: bytes_read (exactly the changed files)"
expect_eq "$(jget 'd["parent"]' <"$RT_TMP/b2.json")" "$(jget 'd["snapshot_id"]' <"$RT_TMP/b1b.json")" "parent of the second backup"
snap2=$(jget 'd["snapshot_id"]' <"$RT_TMP/b2.json")
echo "changed $nchanged files ($modbytes bytes): bytes_read $read_b, data_added $added"

for i in "${changed[@]}"; do
	arca dump "$snap2" "$(fpath "$i")" | cmp -s - "$(fpath "$i")" || fail "file $i: the new snapshot holds old content"
done
for i in 3 16; do
	arca dump "$snap1" "$(fpath "$i")" | cmp -s - "$RT_TMP/old$i" || fail "file $i: the first snapshot lost its old content"
done
arca restore "$snap2" --target "$RT_TMP/out2" --verify >/dev/null || fail "restore of the second snapshot failed"
treecmp "$SRC" "$RT_TMP/out2$SRC" >/dev/null || fail "restored second snapshot differs from the source"

note "metadata-only changes"
# (data_added still counts the rewritten tree nodes: ~20 KiB here; a
# re-stored file would add its 1 MiB)
touch "$(fpath 0)"                                 # mtime only: content re-read, nothing new stored
chmod 0600 "$(fpath 7)"                            # mode only (ctime moves)
touched=$(( $(stat -c %s "$(fpath 0)") + $(stat -c %s "$(fpath 7)") ))
arca --json backup "$SRC" >"$RT_TMP/b3.json" || fail "third backup failed"
read -r counts read_b added < <(summary "$RT_TMP/b3.json")
c=${counts%%/*}; rest=${counts#*/}
expect_eq "$c" 0 "metadata-only: files_new"
nch=${rest%%/*}; rest=${rest#*/}
nun=${rest%%/*}
expect_eq "$((nch + nun))" "$N" "metadata-only: changed + unmodified"
[ "$nun" -ge $((N - 2)) ] || fail "metadata-only: $nun unmodified, expected at least $((N - 2))"
[ "$read_b" -le "$touched" ] || fail "metadata-only: bytes_read $read_b > $touched"
[ "$read_b" -ge "$(stat -c %s "$(fpath 0)")" ] || fail "metadata-only: a touched file was not re-read (bytes_read $read_b)"
[ "$added" -lt $((256 * KiB)) ] || fail "metadata-only: $added bytes of data added for unchanged content"
arca restore latest --target "$RT_TMP/out3" >/dev/null || fail "restore of the third snapshot failed"
treecmp "$SRC" "$RT_TMP/out3$SRC" >/dev/null || fail "restored third snapshot differs (mtime/mode)"

note "files added and removed"
rm "$(fpath 9)" "$(fpath 10)"
head -c 5000 /dev/urandom >"$SRC/new1"
head -c 7000 /dev/urandom >"$SRC/sub/new2"
arca --json backup "$SRC" >"$RT_TMP/b4.json" || fail "fourth backup failed"
read -r counts read_b added < <(summary "$RT_TMP/b4.json")
expect_eq "$counts" "2/0/$((N - 2))/0" "added/removed: new/changed/unmodified/errors"
expect_eq "$read_b" 12000 "added/removed: bytes_read"

note "--force reads everything again and stores nothing new"
arca --json backup --force "$SRC" >"$RT_TMP/b5.json" || fail "backup --force failed"
read -r counts read_b added < <(summary "$RT_TMP/b5.json")
now_total=$(find "$SRC" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
expect_eq "$read_b" "$now_total" "--force: bytes_read"
[ "$added" -lt $((256 * KiB)) ] || fail "--force: $added bytes of data added for unchanged content"
expect_eq "${counts##*/}" 0 "--force: errors"

arca check --read-data >/dev/null || fail "check --read-data"
