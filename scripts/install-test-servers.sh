#!/usr/bin/env bash
# Install the npm test servers (s3rver, the GCS emulator of firebase-tools)
# into tests/servers/node_modules from the committed lockfile.  Idempotent
# and instant when the installed tree matches the lockfile (a stamp holds
# the lockfile's hash).  --ignore-scripts: no native builds (re2), which the
# servers do not need.
set -euo pipefail
cd "$(dirname "$0")/../tests/servers"
command -v npm >/dev/null || { echo "error: npm is missing (run scripts/install-deps.sh)" >&2; exit 1; }
stamp=node_modules/.arca-lockfile.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
	exit 0
fi
echo "installing the test servers (npm ci in tests/servers)..." >&2
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
echo "$want" >"$stamp"
