#!/usr/bin/env bash
# test_roundtrip_tree: back up a tree holding every kind of entry and
# metadata arca claims to keep, restore it with --verify and compare it
# entry by entry with the source (content, mode, owner, mtime to the ns,
# symlink targets, hard-link groups, link counts, sparseness).  Then: dump
# of single files, ls --json, restore --include/--exclude subsets, and diff
# (text and --json) between two snapshots.
. "$(dirname "$0")/rt_lib.sh"

MiB=$((1024 * 1024))
if [ "$RT_QUICK" = 1 ]; then BIG=$((2 * MiB)); TEXT=$((512 * 1024)); else BIG=$((20 * MiB)); TEXT=$((5 * MiB)); fi
SPARSE=$((10 * MiB))
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1

rt_init
SRC=$RT_TMP/src/tree
mkdir -p "$SRC"
cd "$SRC"

note "building the source tree"
mkdir files
: >files/empty
printf x >files/one
head -c 4096 /dev/urandom >files/4k
head -c $((MiB + 1)) /dev/urandom >files/mib1
head -c $BIG /dev/urandom >files/big
yes 'the quick brown fox jumps over the lazy dog 0123456789' | head -c $TEXT >files/text.log || true
head -c $MiB /dev/zero >files/zeros
printf 'line1\nline2\n' >files/small.txt
# the same content twice (dedup inside one snapshot)
cp files/mib1 files/mib1.copy

mkdir -p a/b/c/d/e a/b/empty2 empty1
echo deep >a/b/c/d/e/deep.txt
echo mid >a/b/mid.txt
echo top >a/top.dat

mkdir links
ln -s ../files/one links/rel
ln -s "$SRC/files/4k" links/abs
ln -s nowhere/missing links/dangling
ln -s ../a links/dirlink
ln -s "$(printf 'x%.0s' $(seq 1 200))" links/longtarget

mkdir -p hard/sub
ln files/one hard/one_a
ln files/one hard/sub/one_b
echo pair >hard/p1
ln hard/p1 hard/p2

mkdir perm
echo secret >perm/private && chmod 0600 perm/private
printf '#!/bin/sh\necho hi\n' >perm/exec && chmod 0755 perm/exec
echo ro >perm/readonly && chmod 0444 perm/readonly
mkdir perm/setgid_dir && echo in >perm/setgid_dir/f && chmod 2755 perm/setgid_dir
mkdir perm/sticky && chmod 1777 perm/sticky
mkdir perm/closed && echo inside >perm/closed/f && chmod 0500 perm/closed
mkdir perm/noexec_dir && chmod 0700 perm/noexec_dir && echo x >perm/noexec_dir/x

mkdir owner
if [ $ROOT = 1 ]; then
	echo owned >owner/owned && chown 1234:5678 owner/owned
	mkdir owner/dir && chown 4321:8765 owner/dir
	# chown clears setuid: the restorer must chown before chmod
	echo suid >owner/suid && chown 1234:5678 owner/suid && chmod 4755 owner/suid
	ln -s owned owner/link && chown -h 1234:5678 owner/link
fi

mkdir sparse
truncate -s $SPARSE sparse/holey
head -c 65536 /dev/urandom | dd of=sparse/holey conv=notrunc status=none
head -c 65536 /dev/urandom | dd of=sparse/holey bs=65536 seek=$((SPARSE / 65536 - 1)) conv=notrunc status=none
src_blocks=$(stat -c %b sparse/holey)
FS_HOLES=1
if [ $((src_blocks * 512)) -ge $((SPARSE / 2)) ]; then
	FS_HOLES=0
	note "SKIP sparse checks: the file system under ${TMPDIR:-/tmp} does not keep holes (blocks $src_blocks)"
fi

mkdir special
mkfifo special/fifo
if [ $ROOT = 1 ] && mknod special/null c 1 3 2>/dev/null; then :; fi

mkdir names
echo space >"names/with space"
echo uni >"names/ünïcödé ✓ 日本.txt"
echo nl >"names/new"$'\n'"line"
echo tab >"names/tab"$'\t'"x"
echo dash >names/-dash
echo glob >'names/*star?[x]'
echo q >"names/quote'\"back\\slash"
echo dot >names/.hidden
mkdir "names/dir with space"
echo in >"names/dir with space/ünï"

# distinct mtimes with nanoseconds on every entry, directories last
python3 - "$SRC" <<'EOF'
import os, sys
root = sys.argv[1]
t = 1000000000 * 10**9 + 123456789
entries = []
for d, dirs, files in os.walk(root):
    for n in files + dirs:
        entries.append(os.path.join(d, n))
entries.sort(key=lambda p: -p.count("/"))
for i, p in enumerate(entries + [root]):
    ns = t + i * 1000003007
    os.utime(p, ns=(ns, ns), follow_symlinks=False)
EOF

note "backup"
arca --json backup "$SRC" >"$RT_TMP/b1.json" || fail "backup failed"
json_valid "$RT_TMP/b1.json" "backup --json"
expect_eq "$(jget 'd["errors"]' <"$RT_TMP/b1.json")" 0 "backup errors"
snap1=$(jget 'd["snapshot_id"]' <"$RT_TMP/b1.json")
nfiles=$(find "$SRC" -type f -printf . | wc -c)
expect_eq "$(jget 'd["files_new"]' <"$RT_TMP/b1.json")" "$nfiles" "files_new of the first backup"

note "restore --verify and compare"
OUT=$RT_TMP/out
arca --json restore latest --target "$OUT" --verify >"$RT_TMP/r1.json" || fail "restore failed"
json_valid "$RT_TMP/r1.json" "restore --json"
expect_eq "$(jget 'd["errors"]' <"$RT_TMP/r1.json")" 0 "restore errors"
[ "$(jget 'd["files_verified"]' <"$RT_TMP/r1.json")" -gt 0 ] || fail "restore --verify verified no file"
treecmp "$SRC" "$OUT$SRC" || fail "restored tree differs from the source"

note "restore again over the first restore (an interrupted restore re-run)"
echo stale >"$OUT$SRC/files/one"          # a hard-linked file, changed since
rm "$OUT$SRC/links/rel"
arca restore latest --target "$OUT" >"$RT_TMP/r1b.out" 2>&1 || fail "restore over an existing restore failed: $(cat "$RT_TMP/r1b.out")"
treecmp "$SRC" "$OUT$SRC" || fail "tree restored over an existing restore differs from the source"

note "sparse file stays sparse"
if [ $FS_HOLES = 1 ]; then
	out_blocks=$(stat -c %b "$OUT$SRC/sparse/holey")
	[ $((out_blocks * 512)) -lt $((SPARSE / 2)) ] ||
		fail "sparse file restored dense: $out_blocks blocks for $SPARSE bytes (source: $src_blocks)"
	echo "sparse file: $SPARSE bytes, $src_blocks blocks in the source, $out_blocks restored"
	out_blocks=$(stat -c %b "$OUT$SRC/files/zeros")
	[ $((out_blocks * 512)) -lt $((MiB / 2)) ] || fail "a 1 MiB file of zeros was restored dense: $out_blocks blocks"
fi

if [ $ROOT = 1 ]; then
	expect_eq "$(stat -c %u:%g:%a "$OUT$SRC/owner/owned")" "1234:5678:644" "owner of owner/owned"
	expect_eq "$(stat -c %u:%g:%a "$OUT$SRC/owner/suid")" "1234:5678:4755" "owner and setuid of owner/suid"
	expect_eq "$(stat -c %u:%g:%a "$OUT$SRC/perm/setgid_dir")" "0:0:2755" "setgid directory"
	expect_eq "$(stat -c %u:%g "$OUT$SRC/owner/link")" "1234:5678" "owner of a symlink"
fi
expect_eq "$(stat -c %i "$OUT$SRC/files/one")" "$(stat -c %i "$OUT$SRC/hard/sub/one_b")" "hard link inode"
expect_eq "$(stat -c %h "$OUT$SRC/files/one")" 3 "hard link count"
expect_eq "$(readlink "$OUT$SRC/links/abs")" "$SRC/files/4k" "absolute symlink target (kept verbatim)"

note "dump"
for f in files/big files/empty files/one files/text.log sparse/holey "names/ünïcödé ✓ 日本.txt" "names/new"$'\n'"line"; do
	arca dump latest "$SRC/$f" >"$RT_TMP/dump.out" || fail "dump of $f failed"
	cmp -s "$RT_TMP/dump.out" "$SRC/$f" || fail "dump of $f differs from the source"
done
arca dump "${snap1:0:10}" "$SRC/files/mib1" | cmp -s - "$SRC/files/mib1" || fail "dump by id prefix differs"
expect_fail "dump of a missing path" arca dump latest "$SRC/files/no-such-file"
expect_fail "dump of a directory" arca dump latest "$SRC/files"

note "ls"
arca --json ls latest >"$RT_TMP/ls.json" || fail "ls --json failed"
json_valid "$RT_TMP/ls.json" "ls --json"
python3 - "$RT_TMP/ls.json" "$SRC" "$BIG" <<'EOF' || fail "ls --json content"
import json, os, sys
ls = json.load(open(sys.argv[1]))
src, big = sys.argv[2], int(sys.argv[3])
by = {e["path"]: e for e in ls}
def need(p, **kw):
    e = by.get(p)
    assert e is not None, "ls --json lacks %r" % p
    for k, v in kw.items():
        assert e.get(k) == v, "%r: %s is %r, expected %r" % (p, k, e.get(k), v)
need(src + "/files/big", type="file", size=big, name="big")
need(src + "/files/empty", type="file", size=0)
need(src + "/links/abs", type="symlink", link_target=src + "/files/4k")
need(src + "/links/dangling", type="symlink", link_target="nowhere/missing")
need(src + "/empty1", type="dir")
need(src + "/special/fifo", type="fifo")
need(src + "/names/new\nline", type="file")
need(src + "/names/ünïcödé ✓ 日本.txt", type="file")
need(src + "/perm/private", mode=0o600)
need(src + "/perm/setgid_dir", mode=0o2755)
# every source entry is listed exactly once
want = {src}
for d, dirs, files in os.walk(src):
    for n in dirs + files:
        want.add(os.path.join(d, n))
got = [e["path"] for e in ls if e["path"] == src or e["path"].startswith(src + "/")]
assert len(got) == len(set(got)), "ls --json lists duplicates"
assert set(got) == want, "ls --json: missing %s, extra %s" % (sorted(want - set(got))[:5], sorted(set(got) - want)[:5])
EOF
arca ls latest "$SRC/a" >"$RT_TMP/ls.txt" || fail "ls SNAP PATH failed"
grep -qx "$SRC/a/b/c/d/e/deep.txt" "$RT_TMP/ls.txt" || fail "ls SNAP PATH lacks a/b/c/d/e/deep.txt"
if grep -q "$SRC/files" "$RT_TMP/ls.txt"; then fail "ls SNAP $SRC/a lists files outside it"; fi
# the same entries whichever way the path is spelled
for p in "$SRC/a/" "${SRC#/}/a" "${SRC#/}/a//"; do
	arca ls latest "$p" >"$RT_TMP/ls2.txt" || fail "ls SNAP '$p' failed"
	cmp -s "$RT_TMP/ls.txt" "$RT_TMP/ls2.txt" || fail "ls SNAP '$p' differs from ls SNAP '$SRC/a': $(head -3 "$RT_TMP/ls2.txt")"
done
arca ls latest >"$RT_TMP/ls-all.txt" && arca ls latest / >"$RT_TMP/ls-root.txt" || fail "ls SNAP / failed"
cmp -s "$RT_TMP/ls-all.txt" "$RT_TMP/ls-root.txt" || fail "ls SNAP / differs from ls SNAP ($(wc -l <"$RT_TMP/ls-root.txt") lines)"
arca ls latest "$SRC/files/one" >"$RT_TMP/ls1.txt" || fail "ls SNAP FILE failed"
expect_eq "$(cat "$RT_TMP/ls1.txt")" "$SRC/files/one" "ls SNAP FILE"
arca ls latest "$SRC/fil" >"$RT_TMP/ls3.txt" || fail "ls SNAP of a name prefix failed"
[ ! -s "$RT_TMP/ls3.txt" ] || fail "ls SNAP $SRC/fil lists $(head -1 "$RT_TMP/ls3.txt")"

# list0 DIR: NUL-separated, sorted relative paths below DIR
list0() { (cd "$1" && find . -mindepth 1 -print0 | sort -z); }

note "restore --include a subtree"
OUT2=$RT_TMP/out-include
arca restore latest --target "$OUT2" --include "$SRC/a" >/dev/null || fail "restore --include failed"
treecmp "$SRC/a" "$OUT2$SRC/a" || fail "included subtree differs"
expect_eq "$(ls -A "$OUT2$SRC")" "a" "restore --include $SRC/a restored other entries"

note "restore --include of one hard link of a group"
OUT3=$RT_TMP/out-hard
arca restore latest --target "$OUT3" --include "$SRC/hard" >/dev/null || fail "restore --include hard failed"
cmp -s "$OUT3$SRC/hard/one_a" "$SRC/files/one" || fail "hard link restored without its content (first link excluded)"
cmp -s "$OUT3$SRC/hard/sub/one_b" "$SRC/files/one" || fail "hard/sub/one_b content"
expect_eq "$(stat -c %i "$OUT3$SRC/hard/one_a")" "$(stat -c %i "$OUT3$SRC/hard/sub/one_b")" "hard links within the included subset"
[ ! -e "$OUT3$SRC/files" ] || fail "restore --include $SRC/hard restored files/"

note "restore --include a name pattern"
OUT4=$RT_TMP/out-txt
arca restore latest --target "$OUT4" --include '*.txt' >/dev/null || fail "restore --include '*.txt' failed"
(cd "$SRC" && find . -name '*.txt' ! -type d -print0 | sort -z) >"$RT_TMP/want.txt"
(cd "$OUT4$SRC" && find . ! -type d -print0 | sort -z) >"$RT_TMP/got.txt"
cmp -s "$RT_TMP/want.txt" "$RT_TMP/got.txt" ||
	fail "restore --include '*.txt': got [$(tr '\0' ' ' <"$RT_TMP/got.txt")], want [$(tr '\0' ' ' <"$RT_TMP/want.txt")]"
cmp -s "$OUT4$SRC/a/b/c/d/e/deep.txt" "$SRC/a/b/c/d/e/deep.txt" || fail "included *.txt content"

note "restore --exclude"
OUT5=$RT_TMP/out-exclude
arca restore latest --target "$OUT5" --exclude '*.log' --exclude "$SRC/names" --exclude big >/dev/null ||
	fail "restore --exclude failed"
list0 "$SRC" | grep -zv -e '\.log$' -e '^\./names' -e '^\./files/big$' >"$RT_TMP/want.ex" || true
list0 "$OUT5$SRC" >"$RT_TMP/got.ex"
cmp -s "$RT_TMP/want.ex" "$RT_TMP/got.ex" ||
	fail "restore --exclude: restored set differs: $(diff <(tr '\0' '\n' <"$RT_TMP/want.ex") <(tr '\0' '\n' <"$RT_TMP/got.ex") | head -5)"
cmp -s "$OUT5$SRC/files/mib1" "$SRC/files/mib1" || fail "content after restore --exclude"

note "backup --exclude"
arca --json backup "$SRC" --exclude '*.log' --exclude "$SRC/names" --exclude big --tag excl >"$RT_TMP/bx.json" ||
	fail "backup --exclude failed"
arca --json ls latest:excl >"$RT_TMP/lsx.json" || fail "ls of the --exclude snapshot failed"
python3 - "$RT_TMP/lsx.json" "$SRC" <<'EOF' || fail "backup --exclude content"
import json, os, sys
ls, src = json.load(open(sys.argv[1])), sys.argv[2]
got = {e["path"] for e in ls if e["path"].startswith(src + "/")}
want = set()
for d, dirs, files in os.walk(src):
    dirs[:] = [x for x in dirs if os.path.join(d, x) != src + "/names"]
    for n in dirs + files:
        if not n.endswith(".log") and n != "big":
            want.add(os.path.join(d, n))
assert got == want, "missing %s, extra %s" % (sorted(want - got)[:5], sorted(got - want)[:5])
EOF
arca restore latest:excl --target "$RT_TMP/out-bx" >/dev/null || fail "restore of the --exclude snapshot failed"
cmp -s "$RT_TMP/out-bx$SRC/files/mib1" "$SRC/files/mib1" || fail "content of a --exclude snapshot"

note "second snapshot and diff"
head -c 4096 /dev/urandom >files/4k          # modified, same size
echo appended >>a/b/mid.txt                   # modified, grows
rm files/text.log                             # removed
rm -r a/b/c                                   # removed subtree
echo new >files/new.txt                       # added
mkdir added_dir && echo x >added_dir/x        # added subtree
chmod 0640 perm/private                       # metadata only
rm a/top.dat && mkdir a/top.dat && echo inner >a/top.dat/inner     # file -> directory
rm -r perm/noexec_dir && echo now-a-file >perm/noexec_dir          # directory -> file
arca --json backup "$SRC" >"$RT_TMP/b2.json" || fail "second backup failed"
snap2=$(jget 'd["snapshot_id"]' <"$RT_TMP/b2.json")
expect_eq "$(jget 'd.get("parent")' <"$RT_TMP/b2.json")" "$(jget 'd["snapshot_id"]' <"$RT_TMP/bx.json")" \
	"parent of the second backup (the newest of the same paths: the --exclude one)"

arca diff "$snap1" "$snap2" >"$RT_TMP/diff.txt" || fail "diff failed"
arca --json diff "$snap1" "$snap2" >"$RT_TMP/diff.json" || fail "diff --json failed"
json_valid "$RT_TMP/diff.json" "diff --json"
# has_line K PATH: the text diff has the line "K  $SRC/PATH" (+ "/" for a
# directory, "  SIZE" for a file)
has_line() {
	awk -v p="$1  $SRC/$2" 'index($0, p) == 1 { r = substr($0, length(p) + 1); if (r == "" || r == "/" || r ~ /^  /) f = 1 }
		END { exit !f }' "$RT_TMP/diff.txt" || fail "diff lacks '$1  $2': $(cat "$RT_TMP/diff.txt")"
}
has_line M files/4k
has_line M a/b/mid.txt
has_line - files/text.log
has_line - a/b/c
has_line - a/b/c/d/e/deep.txt
has_line + files/new.txt
has_line + added_dir
has_line + added_dir/x
has_line M perm/private
has_line M a/top.dat
has_line + a/top.dat/inner
has_line M perm/noexec_dir
has_line - perm/noexec_dir/x
if grep -E "  $SRC/(files/big|files/mib1|hard/p1|links/abs)(  |\$)" "$RT_TMP/diff.txt"; then
	fail "diff lists unchanged entries"
fi
python3 - "$RT_TMP/diff.json" "$SRC" <<'EOF' || fail "diff --json content"
import json, sys
d = json.load(open(sys.argv[1]))
src = sys.argv[2]
# directories whose entries changed may or may not be reported as modified
parents = {"files", "a", "a/b", "perm"}
files = {(c["change"], c["path"][len(src) + 1:]) for c in d["changes"] if c["path"].startswith(src + "/")
         and not (c["change"] == "modified" and c["type"] == "dir" and c["path"][len(src) + 1:] in parents)}
others = [c for c in d["changes"] if not c["path"].startswith(src + "/") and c["type"] != "dir"]
assert not others, "diff --json lists changes outside the tree: %r" % others
want = {("modified", "files/4k"), ("modified", "a/b/mid.txt"), ("removed", "files/text.log"),
        ("removed", "a/b/c"), ("removed", "a/b/c/d"), ("removed", "a/b/c/d/e"), ("removed", "a/b/c/d/e/deep.txt"),
        ("added", "files/new.txt"), ("added", "added_dir"), ("added", "added_dir/x"),
        ("modified", "perm/private"), ("modified", "a/top.dat"), ("added", "a/top.dat/inner"),
        ("modified", "perm/noexec_dir"), ("removed", "perm/noexec_dir/x")}
assert files == want, "diff --json changes: missing %s, unexpected %s" % (sorted(want - files), sorted(files - want))
assert d["added"] == sum(1 for c in d["changes"] if c["change"] == "added"), "added count"
assert d["removed"] == sum(1 for c in d["changes"] if c["change"] == "removed"), "removed count"
assert d["modified"] == sum(1 for c in d["changes"] if c["change"] == "modified"), "modified count"
m = [c for c in d["changes"] if c["path"] == src + "/a/b/mid.txt"][0]
assert m["size_before"] == 4 and m["size_after"] == 13, m
t = [c for c in d["changes"] if c["path"] == src + "/a/top.dat"][0]
assert t["type"] == "dir", "a/top.dat (file -> dir) reported as %r" % t
assert d["new_bytes"] >= 4096 + 13 + 6 and d["new_bytes"] < 1 << 20, "new_bytes %d" % d["new_bytes"]
EOF
arca diff "$snap1" "$snap1" >"$RT_TMP/diff0.txt" || fail "diff of a snapshot with itself failed"
if grep -E '^[-+M]  ' "$RT_TMP/diff0.txt"; then fail "diff of a snapshot with itself lists changes"; fi

note "restore of the second snapshot (files reused from the parent)"
OUT6=$RT_TMP/out2
arca restore "$snap2" --target "$OUT6" --verify >/dev/null || fail "restore of the second snapshot failed"
treecmp "$SRC" "$OUT6$SRC" || fail "second restored tree differs from the source"
# the first snapshot is still intact
OUT7=$RT_TMP/out1-again
arca restore "$snap1" --target "$OUT7" --include "$SRC/a" >/dev/null || fail "restore of the first snapshot failed"
[ -f "$OUT7$SRC/a/b/c/d/e/deep.txt" ] || fail "first snapshot lost a/b/c after the second backup"

arca check --read-data >/dev/null || fail "check --read-data after the round trips"
