#!/usr/bin/env bash
# A repository stored in PostgreSQL (-r postgres://...): the core commands
# round-trip on it, packs are split into 1 MiB rows, a byte flipped in a
# stored pack is found by check --read-data (exit 13) and repaired by scrub
# from a local replica, replicate copies between it and other kinds, a
# read-only command creates no tables, and a wrong URL gives a clear error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"

pg_start
psql_q postgres "CREATE DATABASE repodb" >/dev/null
R="postgres://postgres@127.0.0.1:$PG_PORT/repodb?schema=arca_t"
BIG=6144
[ -n "$QUICK" ] && BIG=3072

make_sample_tree "$T/src"
rand_file "$T/src/big.bin" "$BIG"

note "read-only commands on a database without a repository create nothing there"
expect_exit 10 arca -r "$R" snapshots
assert_contains "$T/err" "no repository"
expect_exit 10 arca -r "$R" check
[ "$(psql_q repodb "SELECT count(*) FROM pg_namespace WHERE nspname = 'arca_t'")" = 0 ] ||
	fail "a read-only command created the schema"

note "init, backup, restore byte for byte"
init_repo "$R"
[ "$(psql_q repodb "SELECT count(*) FROM arca_t.objects WHERE key = 'config'")" = 1 ] || fail "no config row"
ok arca -r "$R" backup "$T/src"
ok arca -r "$R" restore latest --target "$T/r1"
assert_same_tree "$T/src" "$(restored "$T/r1" "$T/src")"
[ "$(psql_q repodb "SELECT max(seq) FROM arca_t.chunks")" -ge 1 ] || fail "packs were not split into 1 MiB rows"
[ "$(psql_q repodb "SELECT max(length(data)) FROM arca_t.chunks")" -le 1048576 ] || fail "a row holds more than 1 MiB"

note "more snapshots, ls, dump, diff, stats, check, forget, prune"
echo "changed" >>"$T/src/hello.txt"
rand_file "$T/src/second.bin" 512
ok arca -r "$R" backup "$T/src"
ok arca -r "$R" snapshots
ok arca -r "$R" ls latest
assert_contains "$T/out" "second.bin"
ok arca -r "$R" dump latest "$T/src/hello.txt"
cmp -s "$T/out" "$T/src/hello.txt" || fail "dump differs"
ok arca -r "$R" diff "$(arca -r "$R" snapshots --json | grep -o '"id":"[0-9a-f]*"' | head -n 1 | cut -d'"' -f4)" latest
ok arca -r "$R" stats
ok arca -r "$R" check --read-data
rm "$T/src/big.bin"
ok arca -r "$R" backup "$T/src"
ok arca -r "$R" forget --keep-last 1
ok arca -r "$R" prune --max-unused 0
ok arca -r "$R" check --read-data
ok arca -r "$R" restore latest --target "$T/r2"
assert_same_tree "$T/src" "$(restored "$T/r2" "$T/src")"
[ "$(psql_q repodb "SELECT count(*) FROM arca_t.chunks c LEFT JOIN arca_t.objects o ON o.id = c.id WHERE o.id IS NULL")" = 0 ] ||
	fail "prune left chunk rows without an object"

note "replicate: postgres -> local -> another postgres schema, which restores"
ok arca -r "$R" replicate --to "$T/local"
R2="postgres://postgres@127.0.0.1:$PG_PORT/repodb?schema=arca_copy"
ok arca -r "$T/local" replicate --to "$R2" --json
assert_contains "$T/out" '"created":true'
ok arca -r "$R2" restore latest --target "$T/r3"
assert_same_tree "$T/src" "$(restored "$T/r3" "$T/src")"

note "a byte flipped in a stored pack is damage, which scrub repairs from the local copy"
psql_q repodb "UPDATE arca_t.chunks SET data = set_byte(data, 100, 255 - get_byte(data, 100))
  WHERE seq = 0 AND id = (SELECT id FROM arca_t.objects WHERE key LIKE 'data/%' ORDER BY size DESC LIMIT 1)" >/dev/null
expect_exit 13 arca -r "$R" check --read-data
ok arca -r "$R" scrub --replica "$T/local"
assert_contains "$T/out" "repaired from"
ok arca -r "$R" check --read-data

note "wrong URLs give clear errors"
expect_exit 1 arca -r "postgres://postgres@127.0.0.1:1/repodb" snapshots
assert_contains "$T/err" "cannot connect to PostgreSQL at 127.0.0.1:1"
expect_exit_in "1 10" arca -r "postgresql://postgres@127.0.0.1:$PG_PORT/nosuchdb" snapshots
assert_contains "$T/err" 'database "nosuchdb" does not exist'
expect_exit 2 arca -r "postgres://postgres@127.0.0.1:$PG_PORT/repodb?schema=Bad-Name" snapshots
assert_contains "$T/err" "schema name"
psql_q postgres "CREATE ROLE pwuser LOGIN PASSWORD 'right-pw'" >/dev/null
expect_exit 12 arca -r "postgres://pwuser:secret-wrong-99@127.0.0.1:$PG_PORT/repodb" snapshots
assert_contains "$T/err" "refused the credentials"
assert_not_contains "$T/err" "secret-wrong-99"
