#!/usr/bin/env python3
"""Render bench/run.sh results (results.tsv, meta.tsv) as a markdown report."""

import sys

MiB = 1024 * 1024


def load(res_path, meta_path):
    res = {}
    with open(res_path) as f:
        for line in f:
            tool, key, val = line.rstrip("\n").split("\t")
            res[(tool, key)] = val
    meta = {}
    notes = []
    with open(meta_path) as f:
        for line in f:
            k, v = line.rstrip("\n").split("\t", 1)
            if k == "note":
                notes.append(v)
            else:
                meta[k] = v
    return res, meta, notes


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def fmt(v, kind):
    x = num(v)
    if kind == "text":
        return v if v is not None else "n/a"
    if x is None:
        return "n/a"
    if kind == "time":
        return "%.2f s" % x if x < 10 else "%.1f s" % x
    if kind == "rss":      # KiB from /usr/bin/time
        return "%.0f MiB" % (x / 1024)
    if kind == "size":
        return "%.1f MiB" % (x / MiB) if x < 100 * MiB else "%.0f MiB" % (x / MiB)
    return str(v)


def main():
    res, meta, notes = load(sys.argv[1], sys.argv[2])
    tools = meta.get("tools", "").split()
    others = [t for t in tools if t != "arca"]
    scale = meta.get("scale", "?")

    def mb(k):
        x = num(meta.get(k))
        if x is None:
            return "?"
        return "%.0f MB" % (x / 1e6) if x >= 10e6 else "%.1f MB" % (x / 1e6)

    rows = []   # (label, key, kind) or (section,)
    if "tree.bytes" in meta:
        rows += [("**Tree** (%s, %s files)" % (mb("tree.bytes"), meta.get("tree.files")),),
                 ("a. first backup: time", "tree-first.time", "time"),
                 ("a. first backup: CPU (user+sys)", "tree-first.cpu", "time"),
                 ("a. first backup: peak RSS", "tree-first.rss", "rss"),
                 ("a. repo size after first backup", "tree-first.size", "size"),
                 ("b. 1 %%-changed backup (%s files changed): time" % meta.get("tree.changed"),
                  "tree-changed.time", "time"),
                 ("b. 1 %-changed backup: CPU (user+sys)", "tree-changed.cpu", "time"),
                 ("b. 1 %-changed backup: peak RSS", "tree-changed.rss", "rss"),
                 ("b. repo size after both backups", "tree-changed.size", "size"),
                 ("c. full restore of latest: time", "restore.time", "time"),
                 ("c. full restore: CPU (user+sys)", "restore.cpu", "time"),
                 ("c. full restore: peak RSS", "restore.rss", "rss"),
                 ("c. restored tree identical to tree-changed", "restore.verify", "text")]
    if "dumps.bytes" in meta:
        rows += [("**Dump series** (5 nightly pg_dump files via stdin, %s in total, first %s)"
                  % (mb("dumps.bytes"), mb("dumps.first")),),
                 ("d. first dump: time", "dump-1.time", "time"),
                 ("d. all 5 dumps: total time", "dumps.time", "time"),
                 ("d. all 5 dumps: total CPU (user+sys)", "dumps.cpu", "time"),
                 ("d. peak RSS (max of the 5)", "dumps.rss", "rss"),
                 ("d. repo size after dump 1", "dump-1.size", "size"),
                 ("d. repo size after all 5", "dumps.size", "size")]
    if "sessions.files" in meta:
        rows += [("**Session-folder series** (%s folders, %s files, %s per version)"
                  % (meta.get("sessions.folders"), meta.get("sessions.files"), mb("sessions.bytes")),),
                 ("e. 10 versions: total time", "sessions.time", "time"),
                 ("e. 10 versions: total CPU (user+sys)", "sessions.cpu", "time"),
                 ("e. peak RSS (max of the 10)", "sessions.rss", "rss"),
                 ("e. repo size after 10 versions", "sessions.size", "size"),
                 ("e. unchanged session-folder series (11th backup): time",
                  "session-unchanged.time", "time"),
                 ("e. unchanged backup: CPU (user+sys)", "session-unchanged.cpu", "time"),
                 ("e. unchanged backup: peak RSS", "session-unchanged.rss", "rss"),
                 ("e. repo size after the unchanged backup", "sessions-unchanged.size", "size")]

    out = []
    out.append("# arca benchmark: arca vs %s" % ", ".join(others))
    out.append("")
    out.append("- date: %s; scale: %s; total run time: %s s" % (meta.get("date"), scale, meta.get("runtime")))
    out.append("- machine: %s; work dir on %s; load average %s"
               % (meta.get("host"), meta.get("fs"), meta.get("load")))
    out.append("- restores: %s" % meta.get("restorefs", "n/a"))
    out.append("- versions: " + "; ".join(meta.get("version." + t, t) for t in tools))
    out.append("- all tools ran one after the other on the same machine and disk; page caches "
               "were **not** dropped (not reliably possible here): instead every tool's series "
               "starts after a full read of its input (`cat` of every file), so all tools see a "
               "warm page cache.")
    out.append("- settings: arca `init --compression zstd:3` (default encryption); restic repo v2, "
               "`--compression auto` (zstd default level, about level 3), AES-256 + Poly1305; borg "
               "`init -e repokey-blake2`, `create --compression zstd,3`; casync "
               "`--compression=zstd` (level not settable, **no encryption**, no session series).")
    out.append("- time = wall clock, CPU = user + system time, peak RSS = max resident set size "
               "(`/usr/bin/time -f '%e %M %U %S'`); wall times depend on what else runs on the "
               "machine (see the load average), CPU times much less; "
               "repo size = `du -sb` of the repository (client caches excluded). Ratios are "
               "arca / other: below 1 means arca is faster / smaller / leaner.")
    out.append("")
    head = ["scenario"] + tools + ["arca/%s" % t for t in others]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for r in rows:
        if len(r) == 1:
            out.append("| " + r[0] + " |" + " |" * (len(head) - 1))
            continue
        label, key, kind = r
        cells = [label]
        for t in tools:
            v = res.get((t, key))
            if v is None and t == "casync" and key.startswith("session"):
                cells.append("–")
            else:
                cells.append(fmt(v, kind))
        a = num(res.get(("arca", key)))
        for t in others:
            b = num(res.get((t, key)))
            if kind == "text":
                cells.append("")
            elif a is None or b is None or b == 0:
                cells.append("n/a" if not (t == "casync" and key.startswith("session")) else "–")
            else:
                cells.append("%.2f" % (a / b))
        out.append("| " + " | ".join(cells) + " |")
    out.append("")
    if notes:
        out.append("Notes from this run:")
        out.append("")
        for n in notes:
            out.append("- " + n)
        out.append("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
