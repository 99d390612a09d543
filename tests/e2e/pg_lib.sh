# shellcheck shell=bash disable=SC2034
# tests/e2e/pg_lib.sh - a private PostgreSQL server for one test.
#
# Source it after lib.sh:   . "$(dirname "$0")/pg_lib.sh"
#
#   pg_start            initdb + start a PostgreSQL 15 on 127.0.0.1, a free
#                       port, a socket directory under $T, fsync off; sets
#                       PG_PORT, PG_DSN (postgresql://postgres@127.0.0.1:PORT),
#                       PGHOST/PGPORT/PGUSER for psql/pgbench, and stops the
#                       server (pg_ctl stop -m immediate) from the EXIT trap.
#   pg_dsn DB           the URL of database DB
#   psql_q DB SQL       run SQL in DB, unaligned tuples only, errors fatal
#
# As root (the test machines), initdb and postgres run as the postgres
# user through runuser; $T is made traversable (711) for it.
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
PG_DATA=
PG_PORT=

_pg_run() { # run a server binary as the postgres user when we are root
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_stop() {
	[ -n "$PG_DATA" ] || return 0
	_pg_run "$PG_BINDIR/pg_ctl" stop -D "$PG_DATA" -m immediate -w >/dev/null 2>&1
	PG_DATA=
}

_pg_free_port() {
	local p
	for _ in $(seq 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

pg_start() {
	local base=$T/pg tries
	[ -x "$PG_BINDIR/initdb" ] || fail "PostgreSQL server binaries not found in $PG_BINDIR (make deps)"
	chmod 711 "$T"
	mkdir -p "$base/data" "$base/sock"
	[ "$(id -u)" = 0 ] && chown postgres "$base/data" "$base/sock"
	_pg_run "$PG_BINDIR/initdb" --no-sync -A trust -U postgres -D "$base/data" >"$base/initdb.log" 2>&1 ||
		{ cat "$base/initdb.log" >&2; fail "initdb failed"; }
	# a role that must give a password (wrong-credential tests); trust for the rest
	{ echo "host all pwuser 127.0.0.1/32 scram-sha-256"; cat "$base/data/pg_hba.conf"; } >"$base/hba" &&
		cat "$base/hba" >"$base/data/pg_hba.conf"
	PG_DATA=$base/data
	trap '_pg_rc=$?; pg_stop; (exit $_pg_rc); _cleanup' EXIT
	for tries in 1 2 3 4 5; do
		PG_PORT=$(_pg_free_port) || fail "no free port"
		if _pg_run "$PG_BINDIR/pg_ctl" start -w -t 30 -D "$PG_DATA" -l "$base/sock/server.log" \
			-o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $base/sock -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
			>/dev/null 2>&1; then
			break
		fi
		PG_PORT=
	done
	[ -n "$PG_PORT" ] || { tail -n 20 "$base/sock/server.log" >&2; fail "PostgreSQL did not start"; }
	export PGHOST=127.0.0.1 PGPORT=$PG_PORT PGUSER=postgres
	unset PGDATABASE PGPASSWORD PGSERVICE
	PG_DSN="postgresql://postgres@127.0.0.1:$PG_PORT"
}

pg_dsn() { printf '%s/%s' "$PG_DSN" "$1"; }

psql_q() { # db, sql
	psql -X -q -v ON_ERROR_STOP=1 -At -d "$1" -c "$2" || fail "psql failed in $1: $2"
}
