#!/usr/bin/env python3
"""Deterministic data generator for bench/run.sh.

Every data set is a pure function of (seed, scale) -- except `tree`, which
copies real files from /usr and therefore depends on what is installed on the
machine (the selection itself is deterministic).

  gen.py dumps    OUTDIR SCALE      5 nightly pg_dump-style plain SQL dumps
  gen.py sessions DEST VERSION SCALE
                                    make DEST equal to session-folder version
                                    VERSION (1..10), touching only the files
                                    that differ (like the application would)
  gen.py tree     DATADIR SCALE     DATADIR/tree (~1 GB * SCALE of /usr files)
                                    and DATADIR/tree-changed (1 % modified)
"""

import base64
import hashlib
import json
import os
import random
import shutil
import sys

SEED = 20240611


# --------------------------------------------------------------------------
# 1. pgbench-like dump series
# --------------------------------------------------------------------------
# Modelled on `pgbench -i -s 15` (1.5 M accounts, ~150 MB dump) followed by a
# day of `pgbench` TPC-B-like traffic per night.  PostgreSQL writes an updated
# row as a new tuple, so in a plain dump (heap order) an updated row vanishes
# from its old position and reappears towards the end of the COPY block.

DUMP_HEADER = """--
-- PostgreSQL database dump
--

-- Dumped from database version 15.6 (Debian 15.6-0+deb12u1)
-- Dumped by pg_dump version 15.6 (Debian 15.6-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: pgbench_accounts; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.pgbench_accounts (
    aid integer NOT NULL,
    bid integer,
    abalance integer,
    filler character(84)
)
WITH (fillfactor='100');


ALTER TABLE public.pgbench_accounts OWNER TO postgres;

--
-- Name: pgbench_branches; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.pgbench_branches (
    bid integer NOT NULL,
    bbalance integer,
    filler character(88)
)
WITH (fillfactor='100');


ALTER TABLE public.pgbench_branches OWNER TO postgres;

--
-- Name: pgbench_history; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.pgbench_history (
    tid integer,
    bid integer,
    aid integer,
    delta integer,
    mtime timestamp without time zone,
    filler character(22)
);


ALTER TABLE public.pgbench_history OWNER TO postgres;

--
-- Name: pgbench_tellers; Type: TABLE; Schema: public; Owner: postgres
--

CREATE TABLE public.pgbench_tellers (
    tid integer NOT NULL,
    bid integer,
    tbalance integer,
    filler character(84)
)
WITH (fillfactor='100');


ALTER TABLE public.pgbench_tellers OWNER TO postgres;

"""

DUMP_FOOTER = """--
-- Name: pgbench_accounts pgbench_accounts_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.pgbench_accounts
    ADD CONSTRAINT pgbench_accounts_pkey PRIMARY KEY (aid);


--
-- Name: pgbench_branches pgbench_branches_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.pgbench_branches
    ADD CONSTRAINT pgbench_branches_pkey PRIMARY KEY (bid);


--
-- Name: pgbench_tellers pgbench_tellers_pkey; Type: CONSTRAINT; Schema: public; Owner: postgres
--

ALTER TABLE ONLY public.pgbench_tellers
    ADD CONSTRAINT pgbench_tellers_pkey PRIMARY KEY (tid);


--
-- PostgreSQL database dump complete
--

"""

FILLER84 = " " * 84


def copy_header(table, cols):
    return ("--\n-- Data for Name: %s; Type: TABLE DATA; Schema: public; "
            "Owner: postgres\n--\n\nCOPY public.%s (%s) FROM stdin;\n"
            % (table, table, ", ".join(cols)))


class Table:
    """Rows in heap order: `order` is the list of keys, `vals` the row data."""

    def __init__(self, keys, vals):
        self.order = list(keys)
        self.vals = vals

    def apply(self, updated, deleted, inserted):
        """updated: keys in update order (a key may repeat; last one wins the
        position); deleted: set; inserted: keys appended at the end."""
        moved = set(updated) | set(deleted)
        keep = [k for k in self.order if k not in moved]
        seen = set()
        tail = []
        for k in reversed(updated):
            if k not in seen and k not in deleted:
                seen.add(k)
                tail.append(k)
        tail.reverse()
        self.order = keep + tail + list(inserted)
        for k in deleted:
            self.vals.pop(k, None)


def gen_dumps(outdir, scale):
    rng = random.Random(SEED)
    nbranches = max(1, round(15 * scale))
    naccounts = max(1000, round(1_500_000 * scale))
    ntellers = nbranches * 10
    per_branch = max(1, naccounts // nbranches)
    # accounts: aid -> [bid, abalance]
    accounts = Table(range(1, naccounts + 1),
                     {a: [min(nbranches, (a - 1) // per_branch + 1), 0]
                      for a in range(1, naccounts + 1)})
    tellers = Table(range(1, ntellers + 1),
                    {t: [(t - 1) // 10 + 1, 0] for t in range(1, ntellers + 1)})
    branches = Table(range(1, nbranches + 1),
                     {b: 0 for b in range(1, nbranches + 1)})
    history = []          # preformatted lines, append-only
    next_aid = naccounts + 1
    os.makedirs(outdir, exist_ok=True)

    for night in range(1, 6):
        if night > 1:
            # one day of traffic: ~3 % of the accounts updated
            ntx = max(10, round(naccounts * 0.03))
            upd_a, upd_t, upd_b = [], [], []
            aids = accounts.order
            for i in range(ntx):
                aid = aids[rng.randrange(len(aids))]
                tid = rng.randrange(1, ntellers + 1)
                bid = accounts.vals[aid][0]
                delta = rng.randint(-5000, 5000)
                accounts.vals[aid][1] += delta
                tellers.vals[tid][1] += delta
                branches.vals[bid] += delta
                upd_a.append(aid)
                upd_t.append(tid)
                upd_b.append(bid)
                secs = 2 * 3600 + i * 86000 // ntx
                history.append("%d\t%d\t%d\t%d\t2024-03-%02d %02d:%02d:%02d.%06d\t\\N\n"
                               % (tid, bid, aid, delta, night - 1, secs // 3600,
                                  secs // 60 % 60, secs % 60, rng.randrange(1000000)))
            # some closed accounts (~0.1 %) and new ones (~0.2 %) at the end
            deleted = set(rng.sample(accounts.order, max(1, naccounts // 1000)))
            deleted -= set(upd_a[-100:])
            nnew = max(1, naccounts // 500)
            new = list(range(next_aid, next_aid + nnew))
            for a in new:
                accounts.vals[a] = [rng.randrange(1, nbranches + 1), 0]
            next_aid += nnew
            accounts.apply(upd_a, deleted, new)
            tellers.apply(upd_t, set(), [])
            branches.apply(upd_b, set(), [])

        path = os.path.join(outdir, "dump-%d.sql" % night)
        with open(path + ".tmp", "w", buffering=1 << 20) as f:
            f.write(DUMP_HEADER)
            f.write(copy_header("pgbench_accounts", ["aid", "bid", "abalance", "filler"]))
            v = accounts.vals
            buf = []
            for aid in accounts.order:
                r = v[aid]
                buf.append("%d\t%d\t%d\t%s\n" % (aid, r[0], r[1], FILLER84))
                if len(buf) >= 65536:
                    f.write("".join(buf))
                    buf = []
            f.write("".join(buf))
            f.write("\\.\n\n\n")
            f.write(copy_header("pgbench_branches", ["bid", "bbalance", "filler"]))
            f.write("".join("%d\t%d\t\\N\n" % (b, branches.vals[b]) for b in branches.order))
            f.write("\\.\n\n\n")
            f.write(copy_header("pgbench_history",
                                ["tid", "bid", "aid", "delta", "mtime", "filler"]))
            f.write("".join(history))
            f.write("\\.\n\n\n")
            f.write(copy_header("pgbench_tellers", ["tid", "bid", "tbalance", "filler"]))
            f.write("".join("%d\t%d\t%d\t\\N\n" % (t, tellers.vals[t][0], tellers.vals[t][1])
                            for t in tellers.order))
            f.write("\\.\n\n\n")
            f.write(DUMP_FOOTER)
        os.replace(path + ".tmp", path)
        print("dump-%d.sql: %d bytes" % (night, os.path.getsize(path)), file=sys.stderr)


# --------------------------------------------------------------------------
# 2. session-folder series (WhatsApp-/Baileys-style auth state folders)
# --------------------------------------------------------------------------

def b64(rng, n):
    return base64.b64encode(rng.randbytes(n)).decode()


def session_file(rng, name):
    """JSON text of 200 B - 3 KB, base64-ish like libsignal key material."""
    if name == "creds.json":
        d = {"noiseKey": {"private": {"type": "Buffer", "data": b64(rng, 32)},
                          "public": {"type": "Buffer", "data": b64(rng, 32)}},
             "signedIdentityKey": {"private": {"type": "Buffer", "data": b64(rng, 32)},
                                   "public": {"type": "Buffer", "data": b64(rng, 32)}},
             "signedPreKey": {"keyPair": {"private": {"type": "Buffer", "data": b64(rng, 32)},
                                          "public": {"type": "Buffer", "data": b64(rng, 32)}},
                              "signature": {"type": "Buffer", "data": b64(rng, 64)},
                              "keyId": 1},
             "registrationId": rng.randrange(1, 16380),
             "advSecretKey": b64(rng, 32),
             "nextPreKeyId": rng.randrange(30, 2000),
             "firstUnuploadedPreKeyId": rng.randrange(30, 2000),
             "accountSyncCounter": rng.randrange(0, 50),
             "accountSettings": {"unarchiveChats": False},
             "me": {"id": "%d:%d@s.whatsapp.net" % (rng.randrange(10**10, 10**12),
                                                    rng.randrange(1, 40))},
             "platform": "android",
             "lastAccountSyncTimestamp": 1700000000 + rng.randrange(10**7)}
        return json.dumps(d)
    if name.startswith("pre-key-"):
        return json.dumps({"keyPair": {"private": {"type": "Buffer", "data": b64(rng, 32)},
                                       "public": {"type": "Buffer", "data": b64(rng, 33)}},
                           "keyId": rng.randrange(1, 1 << 24),
                           "uploaded": True})
    if name.startswith("app-state-sync-key-"):
        return json.dumps({"keyData": b64(rng, 32),
                           "fingerprint": {"rawId": rng.randrange(10**9), "currentIndex": 1,
                                           "deviceIndexes": [0, 1]},
                           "timestamp": str(1700000000000 + rng.randrange(10**10))})
    # session-*.json: chains grow and shrink; 0.8 - 3 KB
    n = rng.randrange(450, 2150)
    return json.dumps({"_sessions": {b64(rng, 33): {"registrationId": rng.randrange(16380),
                                                    "currentRatchet": {"rootKey": b64(rng, 32)},
                                                    "chain": b64(rng, n)}},
                       "version": "v1"})


def session_state(version, scale):
    """{relative path: content} for session-folder version 1..10."""
    rng = random.Random(SEED + 1)
    nfolders = max(10, round(300 * scale)) if scale < 1 else 300
    state = {}
    prekey_next = {}
    for n in range(1, nfolders + 1):
        d = "auth_%d/" % n
        state[d + "creds.json"] = session_file(rng, "creds.json")
        for k in range(1, 26):
            state[d + "pre-key-%d.json" % k] = session_file(rng, "pre-key-")
        prekey_next[n] = 26
        for _ in range(6):
            name = "app-state-sync-key-%s.json" % rng.randbytes(6).hex().upper()
            state[d + name] = session_file(rng, name)
        for _ in range(8):
            name = "session-%d.%d.json" % (rng.randrange(10**10, 10**12), rng.randrange(0, 3))
            state[d + name] = session_file(rng, "session-")
    for _ in range(2, version + 1):
        paths = sorted(state)
        # ~3 % of the files rewritten, mostly sessions and creds
        for p in rng.sample(paths, max(1, len(paths) * 3 // 100)):
            state[p] = session_file(rng, os.path.basename(p))
        # a few folders consume pre-keys (deleted) and upload new ones
        for n in rng.sample(range(1, nfolders + 1), max(1, nfolders // 20)):
            d = "auth_%d/" % n
            pks = sorted(p for p in state if p.startswith(d + "pre-key-"))
            for p in pks[:2]:
                del state[p]
            for _ in range(2):
                state[d + "pre-key-%d.json" % prekey_next[n]] = session_file(rng, "pre-key-")
                prekey_next[n] += 1
            name = "session-%d.0.json" % rng.randrange(10**10, 10**12)
            state[d + name] = session_file(rng, "session-")
    return state


def apply_sessions(dest, version, scale):
    state = session_state(version, scale)
    os.makedirs(dest, exist_ok=True)
    written = removed = 0
    want_dirs = {p.split("/")[0] for p in state}
    for d in sorted(os.listdir(dest)):
        if d not in want_dirs:
            shutil.rmtree(os.path.join(dest, d))
    for d in want_dirs:
        os.makedirs(os.path.join(dest, d), exist_ok=True)
        for f in os.listdir(os.path.join(dest, d)):
            if d + "/" + f not in state:
                os.unlink(os.path.join(dest, d, f))
                removed += 1
    for p, content in state.items():
        fp = os.path.join(dest, p)
        data = content.encode()
        try:
            with open(fp, "rb") as f:
                if f.read() == data:
                    continue
        except FileNotFoundError:
            pass
        with open(fp, "wb") as f:  # rewritten in place, as the app does
            f.write(data)
        written += 1
    print("sessions v%d: %d files, %d written, %d removed"
          % (version, len(state), written, removed), file=sys.stderr)


# --------------------------------------------------------------------------
# 3. tree of real files
# --------------------------------------------------------------------------

def gen_tree(datadir, scale):
    target = int(1_000_000_000 * scale)
    maxfile = max(1 << 20, target // 20)
    cands = []
    for root in ("/usr/bin", "/usr/lib", "/usr/share"):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for fn in sorted(filenames):
                p = os.path.join(dirpath, fn)
                try:
                    st = os.lstat(p)
                except OSError:
                    continue
                if not (st.st_mode & 0o170000 == 0o100000) or st.st_size > maxfile:
                    continue
                if not os.access(p, os.R_OK):
                    continue
                cands.append((p, st.st_size))
    # deterministic, well-mixed selection: order by a hash of the path, take
    # files until the target size is reached, then copy in path order
    cands.sort(key=lambda c: hashlib.sha1(c[0].encode()).digest())
    chosen, total = [], 0
    for p, sz in cands:
        if total >= target:
            break
        chosen.append(p)
        total += sz
    chosen.sort()
    tree = os.path.join(datadir, "tree")
    changed = os.path.join(datadir, "tree-changed")
    for d in (tree, changed):
        if os.path.exists(d):
            shutil.rmtree(d)
    rels = []
    for p in chosen:
        rel = p.lstrip("/")
        dst = os.path.join(tree, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        try:
            shutil.copyfile(p, dst)
            shutil.copystat(p, dst)
            os.chmod(dst, os.stat(dst).st_mode | 0o600)
        except OSError:
            continue
        rels.append(rel)
    # tree-changed: hard links to tree (same inode, mtime, ctime: unchanged
    # for every tool) except 1 % of the files, which are new files with a few
    # bytes appended or overwritten.
    rng = random.Random(SEED + 2)
    mod = set(rng.sample(rels, max(1, len(rels) // 100)))
    for rel in rels:
        src = os.path.join(tree, rel)
        dst = os.path.join(changed, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if rel not in mod:
            os.link(src, dst)
            continue
        with open(src, "rb") as f:
            data = bytearray(f.read())
        patch = ("arca-bench %08x\n" % rng.randrange(1 << 32)).encode()
        if rng.random() < 0.5 or len(data) < 64:
            data += patch
        else:
            off = rng.randrange(0, len(data) - len(patch))
            data[off:off + len(patch)] = patch
        with open(dst, "wb") as f:
            f.write(data)
        shutil.copymode(src, dst)
    size = sum(os.path.getsize(os.path.join(tree, r)) for r in rels)
    print("tree: %d files, %d bytes; tree-changed: %d files modified"
          % (len(rels), size, len(mod)), file=sys.stderr)


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd = argv[1]
    if cmd == "dumps":
        gen_dumps(argv[2], float(argv[3]))
    elif cmd == "sessions":
        apply_sessions(argv[2], int(argv[3]), float(argv[4]))
    elif cmd == "tree":
        gen_tree(argv[2], float(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
