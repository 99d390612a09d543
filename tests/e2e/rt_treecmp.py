#!/usr/bin/env python3
"""rt_treecmp.py - compare a source tree with its restored copy.

usage: rt_treecmp.py SRC DST [--no-owner] [--no-mtime] [--no-dir-mtime]
                     [--no-symlink-mtime] [--no-root-meta] [--only-listed FILE]

Walks SRC and DST (no symlink following) and compares, entry by entry:
type, permission bits incl. setuid/setgid/sticky, uid/gid, mtime to the
nanosecond, size and SHA-256 of regular files, symlink targets, device
numbers, link counts of non-directories, and the hard-link grouping (paths
that share an inode in SRC must share one in DST, and only those).
Entries present on one side only are errors.  Exits 1 with one line per
difference (at most 50 shown), 0 when equal.
"""
import hashlib
import os
import stat
import sys


def walk(root):
    out = {}

    def rec(rel):
        p = os.path.join(root, rel) if rel else root
        st = os.lstat(p)
        out[rel] = (p, st)
        if stat.S_ISDIR(st.st_mode):
            for name in sorted(os.listdir(p)):
                rec(os.path.join(rel, name) if rel else name)

    rec("")
    return out


def sha(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def kind(m):
    for t, n in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "dir"), (stat.S_ISLNK, "symlink"),
                 (stat.S_ISFIFO, "fifo"), (stat.S_ISCHR, "chardev"), (stat.S_ISBLK, "blockdev"),
                 (stat.S_ISSOCK, "socket")):
        if t(m):
            return n
    return "?"


def main():
    args = sys.argv[1:]
    flags = {a for a in args if a.startswith("--")}
    pos = [a for a in args if not a.startswith("--")]
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = pos
    a, b = walk(src), walk(dst)
    errs = []

    def err(msg):
        errs.append(msg)

    for rel in sorted(set(a) - set(b)):
        err("missing in restore: %r" % rel)
    for rel in sorted(set(b) - set(a)):
        err("extra in restore: %r" % rel)
    for rel in sorted(set(a) & set(b)):
        (pa, sa), (pb, sb) = a[rel], b[rel]
        name = rel or "."
        ka, kb = kind(sa.st_mode), kind(sb.st_mode)
        if ka != kb:
            err("%r: type %s restored as %s" % (name, ka, kb))
            continue
        root_meta = not (rel == "" and "--no-root-meta" in flags)
        if ka != "symlink" and root_meta and stat.S_IMODE(sa.st_mode) != stat.S_IMODE(sb.st_mode):
            err("%r: mode %04o restored as %04o" % (name, stat.S_IMODE(sa.st_mode), stat.S_IMODE(sb.st_mode)))
        if "--no-owner" not in flags and root_meta and (sa.st_uid, sa.st_gid) != (sb.st_uid, sb.st_gid):
            err("%r: owner %d:%d restored as %d:%d" % (name, sa.st_uid, sa.st_gid, sb.st_uid, sb.st_gid))
        check_mtime = "--no-mtime" not in flags and root_meta
        if ka == "dir" and "--no-dir-mtime" in flags:
            check_mtime = False
        if ka == "symlink" and "--no-symlink-mtime" in flags:
            check_mtime = False
        if check_mtime and sa.st_mtime_ns != sb.st_mtime_ns:
            err("%r (%s): mtime %d restored as %d" % (name, ka, sa.st_mtime_ns, sb.st_mtime_ns))
        if ka == "file":
            if sa.st_size != sb.st_size:
                err("%r: size %d restored as %d" % (name, sa.st_size, sb.st_size))
            elif sha(pa) != sha(pb):
                err("%r: content differs" % name)
        if ka == "symlink" and os.readlink(pa) != os.readlink(pb):
            err("%r: link target %r restored as %r" % (name, os.readlink(pa), os.readlink(pb)))
        if ka in ("chardev", "blockdev") and sa.st_rdev != sb.st_rdev:
            err("%r: device %x restored as %x" % (name, sa.st_rdev, sb.st_rdev))
        if ka != "dir" and sa.st_nlink != sb.st_nlink:
            err("%r: link count %d restored as %d" % (name, sa.st_nlink, sb.st_nlink))

    # hard-link grouping: same partition of non-directory paths by inode
    def groups(t):
        g = {}
        for rel, (_, st) in t.items():
            if not stat.S_ISDIR(st.st_mode):
                g.setdefault((st.st_dev, st.st_ino), []).append(rel)
        return {frozenset(v) for v in g.values()}

    common = set(a) & set(b)
    ga = {frozenset(x & common) for x in groups(a)} - {frozenset()}
    gb = {frozenset(x & common) for x in groups(b)} - {frozenset()}
    for x in sorted(ga - gb, key=sorted):
        if len(x) > 1:
            err("hard-link group not restored as one inode: %s" % sorted(x))
    for x in sorted(gb - ga, key=sorted):
        if len(x) > 1:
            err("restored paths share an inode but did not in the source: %s" % sorted(x))

    if errs:
        for e in errs[:50]:
            print("treecmp: " + e, file=sys.stderr)
        if len(errs) > 50:
            print("treecmp: ... %d more" % (len(errs) - 50), file=sys.stderr)
        return 1
    print("treecmp: %d entries equal" % len(a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
