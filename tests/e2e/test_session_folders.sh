#!/usr/bin/env bash
# test_session_folders: many small Baileys-style auth folders (auth_<n>/ with
# creds.json, pre-key-*.json, app-state-sync-key-*.json, session-*.json),
# 10 versions with ~3% of the files rewritten, added or removed between
# versions.  Every version is backed up (path: the parent directory) and
# recorded as a manifest (every file's content hash, mode, owner, mtime:
# cheaper than a cp -a copy of 12,000 files); afterwards EVERY version is
# restored and compared with its manifest.  Also: a second backup of an unchanged version reads ~0
# bytes and adds ~nothing, the per-version new/changed counts match what
# was changed, and the repository after 10 versions is far smaller than
# 10 times one version.
. "$(dirname "$0")/rt_lib.sh"

NFOLDERS=300
[ "$RT_QUICK" = 1 ] && NFOLDERS=30
NVERSIONS=10

rt_init
SESS=$RT_TMP/srv/sessions
COPIES=$RT_TMP/copies
mkdir -p "$SESS" "$COPIES"

# gen init DIR N | gen mutate DIR VERSION -> prints {"modified":..,"added":..,"removed":..,"total":..}
cat >"$RT_TMP/gen.py" <<'EOF'
import base64, json, os, random, sys

def blob(rng, lo, hi):
    n = rng.randint(lo, hi)
    return base64.b64encode(rng.getrandbits(8 * n).to_bytes(n, "little")).decode()

def content(rng, name):
    if name == "creds.json":
        d = {"noiseKey": {"private": blob(rng, 32, 32), "public": blob(rng, 32, 32)},
             "signedIdentityKey": {"private": blob(rng, 32, 32), "public": blob(rng, 32, 32)},
             "registrationId": rng.randint(1, 16380), "advSecretKey": blob(rng, 32, 32),
             "me": {"id": "%d:%d@s.whatsapp.net" % (rng.randint(10**10, 10**11), rng.randint(1, 60))},
             "account": {"details": blob(rng, 200, 900), "accountSignature": blob(rng, 64, 64)},
             "nextPreKeyId": rng.randint(30, 5000), "platform": "android"}
    elif name.startswith("pre-key-"):
        d = {"private": blob(rng, 32, 32), "public": blob(rng, 32, 32)}
    elif name.startswith("app-state-sync-key-"):
        d = {"keyData": blob(rng, 32, 32), "fingerprint": {"rawId": rng.randint(1, 1 << 30),
             "currentIndex": rng.randint(0, 99), "deviceIndexes": [0, 1, 2]}, "timestamp": str(rng.randint(1, 1 << 40))}
    else:  # session-*.json, sender-key-*.json: the bulky ones
        d = {"_sessions": {blob(rng, 33, 33): {"registrationId": rng.randint(1, 16380),
             "currentRatchet": {"ephemeralKeyPair": {"pubKey": blob(rng, 33, 33), "privKey": blob(rng, 32, 32)},
             "lastRemoteEphemeralKey": blob(rng, 33, 33), "previousCounter": rng.randint(0, 99),
             "rootKey": blob(rng, 32, 32)}, "indexInfo": {"baseKey": blob(rng, 33, 33), "closed": -1},
             "_chains": {blob(rng, 33, 33): {"chainKey": {"counter": 0, "key": blob(rng, 32, 32)},
                                            "messageKeys": {str(i): blob(rng, 32, 32) for i in range(rng.randint(0, 40))}}}}},
             "version": "v1"}
    return json.dumps(d, indent=rng.choice([None, 2]))

def write(path, rng):
    with open(path, "w") as f:
        f.write(content(rng, os.path.basename(path)))

def new_name(rng, folder):
    while True:
        k = rng.random()
        if k < 0.5:
            n = "pre-key-%d.json" % rng.randint(1, 99999)
        elif k < 0.7:
            n = "app-state-sync-key-AAAAA%s.json" % blob(rng, 4, 4).replace("/", "_").replace("+", "-").rstrip("=")
        else:
            n = "session-%d.%d.json" % (rng.randint(10**10, 10**11), rng.randint(0, 30))
        if not os.path.exists(os.path.join(folder, n)):
            return n

cmd, root = sys.argv[1], sys.argv[2]
st = {"modified": 0, "added": 0, "removed": 0}
if cmd == "init":
    rng = random.Random(12345)
    for i in range(int(sys.argv[3])):
        folder = os.path.join(root, "auth_%d" % i)
        os.mkdir(folder)
        write(os.path.join(folder, "creds.json"), rng)
        for _ in range(rng.randint(34, 44)):
            write(os.path.join(folder, new_name(rng, folder)), rng)
else:
    rng = random.Random(int(sys.argv[3]) * 7919)
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
    picks = rng.sample(files, max(3, round(len(files) * 0.03)))
    for p in picks:
        r = rng.random()
        if r < 0.6 or os.path.basename(p) == "creds.json":
            write(p, rng)  # rewritten in place, as Baileys does
            st["modified"] += 1
        elif r < 0.8:
            os.unlink(p)
            st["removed"] += 1
        else:
            write(os.path.join(os.path.dirname(p), new_name(rng, os.path.dirname(p))), rng)
            st["added"] += 1
# the manifest of this version (see rt_treecmp.py), and its totals
sys.path.insert(0, os.environ["RT_PYDIR"])
import rt_treecmp
man = rt_treecmp.scan(root)
with open(sys.argv[4], "w") as f:
    json.dump(man, f)
st["total"] = sum(1 for r in man.values() if r["kind"] == "file")
st["bytes"] = sum(r["size"] for r in man.values() if r["kind"] == "file")
print(json.dumps(st))
EOF
export RT_PYDIR=$(dirname "$RT_PY")

declare -a SNAP TOTAL
for v in $(seq 0 $((NVERSIONS - 1))); do
	if [ "$v" = 0 ]; then
		python3 "$RT_TMP/gen.py" init "$SESS" "$NFOLDERS" "$COPIES/v$v.json" >"$RT_TMP/gen.json"
	else
		python3 "$RT_TMP/gen.py" mutate "$SESS" "$v" "$COPIES/v$v.json" >"$RT_TMP/gen.json"
	fi
	[ "$v" != 3 ] || cp -a "$SESS/auth_7" "$RT_TMP/v3-auth_7"
	read -r total nbytes want < <(jget '"%d %d %d/%d/%d/0" % (d["total"], d["bytes"], d["added"], d["modified"],
		d["total"] - d["added"] - d["modified"])' <"$RT_TMP/gen.json")
	TOTAL[$v]=$total
	[ "$v" != 0 ] || want="$total/0/0/0"
	arca --json backup "$SESS" >"$RT_TMP/b.json" || fail "backup of version $v failed"
	read -r snap got read_b < <(jget '"%s %d/%d/%d/%d %d" % (d["snapshot_id"], d["files_new"], d["files_changed"],
		d["files_unmodified"], d["errors"], d["bytes_read"])' <"$RT_TMP/b.json")
	SNAP[$v]=$snap
	expect_eq "$got" "$want" "version $v: new/changed/unmodified/errors"
	if [ "$v" = 0 ]; then
		expect_eq "$read_b" "$nbytes" "version 0: bytes_read (every byte of the tree)"
		size1=$(du -sb "$REPO" | cut -f1)
	fi

	# the same, unchanged version again: nothing read, (almost) nothing added
	if [ "$v" = 0 ] || [ "$v" = 5 ] || [ "$v" = $((NVERSIONS - 1)) ]; then
		arca --json backup "$SESS" >"$RT_TMP/b2.json" || fail "repeat backup of version $v failed"
		read -r got parent read_b added < <(jget '"%d/%d/%d %s %d %d" % (d["files_new"], d["files_changed"],
			d["files_unmodified"], d.get("parent"), d["bytes_read"], d["data_added"])' <"$RT_TMP/b2.json")
		expect_eq "$got" "0/0/$total" "repeat backup of version $v: new/changed/unmodified"
		expect_eq "$parent" "$snap" "parent of the repeat backup of version $v"
		[ "$read_b" -le 4096 ] || fail "repeat backup of unchanged version $v read $read_b bytes"
		[ "$added" -le 4096 ] || fail "repeat backup of unchanged version $v added $added bytes"
		echo "version $v repeat backup: read $read_b B, added $added B"
	fi
	echo "version $v: $(cat "$RT_TMP/gen.json") snapshot ${snap:0:8}"
done

note "dedup"
arca --json stats >"$RT_TMP/stats.json" || fail "stats failed"
json_valid "$RT_TMP/stats.json" "stats --json"
sizeN=$(du -sb "$REPO" | cut -f1)
echo "repository: $size1 B after one version, $sizeN B after $NVERSIONS versions ($(python3 -c "print('%.2f' % ($sizeN / $size1))")x)"
[ "$sizeN" -lt $((size1 * 3)) ] || fail "no dedup: $sizeN B after $NVERSIONS versions vs $size1 B after one"
expect_eq "$(jget 'd["snapshots"]' <"$RT_TMP/stats.json")" $((NVERSIONS + 3)) "stats: snapshot count"

note "restore every version"
# each comparison runs in the background while the next version restores
cmp_pid=
for v in $(seq 0 $((NVERSIONS - 1))); do
	out=$RT_TMP/restore-v$v
	t0=$SECONDS
	arca restore "${SNAP[$v]}" --target "$out" --verify >"$RT_TMP/r.out" || fail "restore of version $v failed"
	t1=$SECONDS
	[ -z "$cmp_pid" ] || wait "$cmp_pid" || fail "restored version $((v - 1)) differs from what was saved"
	echo "version $v: restore $((t1 - t0)) s, then waited $((SECONDS - t1)) s for the previous comparison"
	(treecmp "@$COPIES/v$v.json" "$out$SESS" >/dev/null && rm -rf "$out") &
	cmp_pid=$!
done
wait "$cmp_pid" || fail "restored version $((NVERSIONS - 1)) differs from what was saved"
# a single folder, as the service restores one session on start
arca restore "${SNAP[3]}" --target "$RT_TMP/one" --include "$SESS/auth_7" >/dev/null || fail "restore of one folder failed"
treecmp "$RT_TMP/v3-auth_7" "$RT_TMP/one$SESS/auth_7" >/dev/null || fail "restored auth_7 of version 3 differs"
expect_eq "$(ls "$RT_TMP/one$SESS")" auth_7 "restore --include of one folder"
