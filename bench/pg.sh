#!/usr/bin/env bash
# bench/pg.sh - arca pg against the plain tools on a pgbench database.
#
#   arca pg backup      vs  pg_dump > /dev/null             (time)
#   night 2 bytes added vs  pg_dump | restic backup --stdin  (after pgbench traffic)
#   arca pg restore     vs  psql < dump.sql                  (time)
#
# Not run by the tests.  Needs PostgreSQL 15 server binaries (make deps);
# installs restic with apt-get when it is missing and we are root.
# Environment:
#   PG_SCALE    pgbench scale (default 70, about 1 GB in the database)
#   BENCH_DIR   work directory (default /var/tmp/arca-pgbench; removed at the end)
#   ARCA_BIN    arca binary (default build/arca)
#   NIGHT_TX    pgbench transactions between the two nights (default 100 * scale)
# Timings on a shared machine are noisy: run it on an idle one for figures to publish.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
SCALE=${PG_SCALE:-70}
W=${BENCH_DIR:-/var/tmp/arca-pgbench}
ARCA=${ARCA_BIN:-$ROOT/build/arca}
NIGHT_TX=${NIGHT_TX:-$((SCALE * 100))}
PGBIN=/usr/lib/postgresql/15/bin
export ARCA_PASSWORD=bench RESTIC_PASSWORD=bench ARCA_CACHE_DIR=$W/cache

say() { printf '[pg-bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }
runpg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
now() { date +%s.%N; }
secs() { printf "%.2f" "$(echo "$2 - $1" | bc)"; }
ratio() { printf "%.2f" "$(echo "scale=4; $1 / $2" | bc)"; }
dirbytes() { du -sb "$1" | cut -f1; }

[ -x "$ARCA" ] || die "no arca binary at $ARCA (run make)"
[ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 server binaries not found in $PGBIN (make deps)"
command -v bc >/dev/null || { [ "$(id -u)" = 0 ] && apt-get install -y -qq bc >/dev/null; } || die "bc missing"
if ! command -v restic >/dev/null; then
	[ "$(id -u)" = 0 ] || die "restic is not installed (apt-get install restic)"
	say "installing restic"
	apt-get install -y -qq restic >/dev/null || { apt-get update -qq && apt-get install -y -qq restic >/dev/null; }
fi

rm -rf "$W"
mkdir -p "$W/pg/data" "$W/pg/run"
chmod 711 "$W"
[ "$(id -u)" = 0 ] && chown postgres "$W/pg/data" "$W/pg/run"
PORT=$((20000 + RANDOM % 40000))
stop() {
	runpg "$PGBIN/pg_ctl" stop -D "$W/pg/data" -m immediate -w >/dev/null 2>&1 || true
	rm -rf "$W"
}
trap stop EXIT
runpg "$PGBIN/initdb" --no-sync -A trust -U postgres -D "$W/pg/data" >/dev/null
runpg "$PGBIN/pg_ctl" start -w -D "$W/pg/data" -l "$W/pg/run/log" \
	-o "-c listen_addresses=127.0.0.1 -p $PORT -k $W/pg/run -c fsync=off -c max_wal_size=4GB" >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres
DSN="postgresql://postgres@127.0.0.1:$PORT"

say "pgbench -i -s $SCALE"
createdb bench
pgbench -i -q -s "$SCALE" bench >/dev/null 2>&1
DBSIZE=$(psql -XAtc "SELECT pg_database_size('bench')" bench)

say "night 1"
t=$(now); pg_dump bench >/dev/null; T_DUMP=$(secs "$t" "$(now)")
"$ARCA" -r "$W/arca" init >/dev/null
t=$(now); "$ARCA" -r "$W/arca" pg backup --dsn "$DSN/bench" --json >"$W/a1.json"; T_ARCA=$(secs "$t" "$(now)")
A_REPO1=$(dirbytes "$W/arca")
restic -r "$W/restic" init >/dev/null
t=$(now); pg_dump bench | restic -r "$W/restic" backup -q --stdin --stdin-filename bench.sql >/dev/null
T_RESTIC=$(secs "$t" "$(now)")
R_REPO1=$(dirbytes "$W/restic")
DUMPSIZE=$(grep -o '"total_bytes":[0-9]*' "$W/a1.json" | cut -d: -f2)

say "pgbench traffic: $NIGHT_TX transactions"
pgbench -n -c 2 -j 2 -t $((NIGHT_TX / 2)) bench >/dev/null 2>&1

say "night 2"
t=$(now); "$ARCA" -r "$W/arca" pg backup --dsn "$DSN/bench" --json >"$W/a2.json"; T_ARCA2=$(secs "$t" "$(now)")
A_ADD=$(( $(dirbytes "$W/arca") - A_REPO1 ))
t=$(now); pg_dump bench | restic -r "$W/restic" backup -q --stdin --stdin-filename bench.sql >/dev/null
T_RESTIC2=$(secs "$t" "$(now)")
R_ADD=$(( $(dirbytes "$W/restic") - R_REPO1 ))

say "restore"
t=$(now); "$ARCA" -r "$W/arca" pg restore latest --dsn "$DSN/r_arca" --create >"$W/restore.log"; T_AREST=$(secs "$t" "$(now)")
pg_dump bench >"$W/dump.sql"
createdb r_psql
t=$(now); psql -X -q -1 -v ON_ERROR_STOP=1 -d r_psql -f "$W/dump.sql" >/dev/null; T_PREST=$(secs "$t" "$(now)")

cat <<EOF

PostgreSQL benchmark: pgbench scale $SCALE, database $((DBSIZE / 1048576)) MiB, dump $((DUMPSIZE / 1048576)) MiB
load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) (shared machine: timings are noisy)

| measurement                         | arca            | reference                 | ratio arca/ref |
|-------------------------------------|-----------------|---------------------------|----------------|
| backup time, night 1                | ${T_ARCA} s | pg_dump >/dev/null ${T_DUMP} s | $(ratio "$T_ARCA" "$T_DUMP") |
| backup time, night 1 vs restic      | ${T_ARCA} s | pg_dump \| restic ${T_RESTIC} s | $(ratio "$T_ARCA" "$T_RESTIC") |
| repository after night 1            | $((A_REPO1 / 1024)) KiB | restic $((R_REPO1 / 1024)) KiB | $(ratio "$A_REPO1" "$R_REPO1") |
| night 2 time                        | ${T_ARCA2} s | restic ${T_RESTIC2} s | $(ratio "$T_ARCA2" "$T_RESTIC2") |
| night 2 bytes added ($NIGHT_TX tx)  | $((A_ADD / 1024)) KiB | restic $((R_ADD / 1024)) KiB | $(ratio "$A_ADD" "$((R_ADD > 0 ? R_ADD : 1))") |
| restore time (incl. verification)   | ${T_AREST} s | psql -1 < dump.sql ${T_PREST} s | $(ratio "$T_AREST" "$T_PREST") |
EOF
