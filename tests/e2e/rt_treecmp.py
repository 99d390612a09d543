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

SRC or DST may be @FILE, a manifest saved earlier with
    rt_treecmp.py --save DIR FILE
(every field above, content as SHA-256), so a version of a tree can be
checked later without keeping a copy of it.
"""
import hashlib
import json
import os
import stat
import sys


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


def scan(root):
    """rel path -> record of everything compared"""
    if root.startswith("@"):
        with open(root[1:]) as f:
            return json.load(f)
    out = {}

    def rec(rel):
        p = os.path.join(root, rel) if rel else root
        st = os.lstat(p)
        k = kind(st.st_mode)
        out[rel] = {"kind": k, "mode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid,
                    "mtime": st.st_mtime_ns, "size": st.st_size, "nlink": st.st_nlink, "rdev": st.st_rdev,
                    "ino": "%d:%d" % (st.st_dev, st.st_ino),
                    "sha": sha(p) if k == "file" else None,
                    "link": os.readlink(p) if k == "symlink" else None}
        if k == "dir":
            for name in sorted(os.listdir(p)):
                rec(os.path.join(rel, name) if rel else name)

    rec("")
    return out


def main():
    args = sys.argv[1:]
    flags = {a for a in args if a.startswith("--")}
    pos = [a for a in args if not a.startswith("--")]
    if "--save" in flags and len(pos) == 2:
        with open(pos[1], "w") as f:
            json.dump(scan(pos[0]), f)
        return 0
    if len(pos) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src, dst = pos
    a, b = scan(src), scan(dst)
    errs = []

    def err(msg):
        errs.append(msg)

    for rel in sorted(set(a) - set(b)):
        err("missing in restore: %r" % rel)
    for rel in sorted(set(b) - set(a)):
        err("extra in restore: %r" % rel)
    for rel in sorted(set(a) & set(b)):
        ra, rb = a[rel], b[rel]
        name = rel or "."
        ka, kb = ra["kind"], rb["kind"]
        if ka != kb:
            err("%r: type %s restored as %s" % (name, ka, kb))
            continue
        root_meta = not (rel == "" and "--no-root-meta" in flags)
        if ka != "symlink" and root_meta and ra["mode"] != rb["mode"]:
            err("%r: mode %04o restored as %04o" % (name, ra["mode"], rb["mode"]))
        if "--no-owner" not in flags and root_meta and (ra["uid"], ra["gid"]) != (rb["uid"], rb["gid"]):
            err("%r: owner %d:%d restored as %d:%d" % (name, ra["uid"], ra["gid"], rb["uid"], rb["gid"]))
        check_mtime = "--no-mtime" not in flags and root_meta
        if ka == "dir" and "--no-dir-mtime" in flags:
            check_mtime = False
        if ka == "symlink" and "--no-symlink-mtime" in flags:
            check_mtime = False
        if check_mtime and ra["mtime"] != rb["mtime"]:
            err("%r (%s): mtime %d restored as %d" % (name, ka, ra["mtime"], rb["mtime"]))
        if ka == "file":
            if ra["size"] != rb["size"]:
                err("%r: size %d restored as %d" % (name, ra["size"], rb["size"]))
            elif ra["sha"] != rb["sha"]:
                err("%r: content differs" % name)
        if ka == "symlink" and ra["link"] != rb["link"]:
            err("%r: link target %r restored as %r" % (name, ra["link"], rb["link"]))
        if ka in ("chardev", "blockdev") and ra["rdev"] != rb["rdev"]:
            err("%r: device %x restored as %x" % (name, ra["rdev"], rb["rdev"]))
        if ka != "dir" and ra["nlink"] != rb["nlink"]:
            err("%r: link count %d restored as %d" % (name, ra["nlink"], rb["nlink"]))

    # hard-link grouping: same partition of non-directory paths by inode
    def groups(t):
        g = {}
        for rel, r in t.items():
            if r["kind"] != "dir":
                g.setdefault(r["ino"], []).append(rel)
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
