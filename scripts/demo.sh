#!/usr/bin/env bash
# `make demo`: back up a sample tree into a local encrypted repository,
# change a few files, back up again, restore, verify byte for byte, and
# show what was stored and the dedup ratio.
#   DEMO_DIR (default /tmp/arca-demo) holds the sample data, the repository
#   and the restore; it is recreated on every run.
set -euo pipefail
ARCA=${1:-build/arca}
ARCA=$(readlink -f "$ARCA")
DEMO_DIR=${DEMO_DIR:-/tmp/arca-demo}
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
cd "$DEMO_DIR"
export ARCA_CACHE_DIR="$DEMO_DIR/cache"
head -c 24 /dev/urandom | base64 > password
chmod 600 password
arca() { "$ARCA" -r "$DEMO_DIR/repo" --password-file "$DEMO_DIR/password" "$@"; }
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "making sample data in $DEMO_DIR/data"
mkdir -p data/sessions data/docs
# 20 WhatsApp/Baileys-style session folders of small JSON files
awk -v base=data/sessions 'BEGIN {
	srand(42)
	for (i = 1; i <= 20; i++) {
		d = base "/auth_" i
		system("mkdir -p " d)
		printf "{\"noiseKey\":\"%08x%08x\",\"registrationId\":%d}\n", rand()*2^31, rand()*2^31, i > (d "/creds.json")
		close(d "/creds.json")
		for (k = 1; k <= 30; k++) {
			f = d "/pre-key-" k ".json"
			printf "{\"keyId\":%d,\"public\":\"", k > f
			for (j = 0; j < 8; j++) printf "%08x", rand()*2^31 > f
			printf "\"}\n" > f
			close(f)
		}
	}
}'
# real files: some of this machine's documentation, twice (dedup at work)
find /usr/share/doc -type f -size -2M -print0 2>/dev/null | head -z -n 1500 |
	tar --null -T - -cf - 2>/dev/null | tar -xf - -C data/docs || true
cp -r data/docs data/docs-copy
du -sh data

say "arca init"
arca init
say "arca backup (first)"
arca backup data
say "change 3 session files, back up again (only changed files are read)"
for i in 1 2 3; do echo "{\"rotated\":$RANDOM}" > "data/sessions/auth_$i/creds.json"; done
arca backup data
say "arca snapshots"
arca snapshots
say "arca diff (first vs latest)"
first=$(arca snapshots --json | sed -E 's/.*"id":"([0-9a-f]{64})".*"id":"([0-9a-f]{64})".*/\1/' | head -c 64)
arca diff "$first" latest | tail -n 6
say "arca restore latest --verify"
arca restore latest --target restore --verify
say "byte-for-byte comparison of the restore with the source"
diff -r data "restore$DEMO_DIR/data" && echo "restore is identical to the source"
say "arca check --read-data"
arca check --read-data
say "what it stored"
arca stats
echo
echo "repository on disk: $(du -sh repo | cut -f1) for $(du -sh data | cut -f1) of data x 2 snapshots"
echo "demo finished: everything lives in $DEMO_DIR"
