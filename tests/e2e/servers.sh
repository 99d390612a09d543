# shellcheck shell=bash
# tests/e2e/servers.sh - start the protocol servers of the cloud tests on
# loopback, on free ports, for one test.  Source it after lib.sh.
#
#   need_servers          fail unless node and the npm servers are installed
#                         (tests/servers/node_modules: `make servers`, which
#                         `make test` and `make test-fast` run)
#   start_s3 DIR          s3rver with its data in DIR; exports ARCA_S3_ENDPOINT,
#                         AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
#                         S3_PORT; creates no bucket (make_bucket does)
#   make_bucket NAME      create a bucket on that s3rver
#   start_gcs DIR         the GCS emulator (TMPDIR=DIR); exports ARCA_GCS_ENDPOINT,
#                         GCS_PORT
#   start_faultd DIR UPSTREAM_URL [--token T]   the fault-injecting proxy (tests/servers/faultd.py);
#                         exports FAULTD_URL; faultd_rules JSON / faultd_stats
# Every server is registered with lib.sh's cleanup (bg_track): killed by PID
# when the test exits.  A server that dies while starting fails the test at
# once, with its log.
SERVERS_DIR=$ROOT_DIR/tests/servers
# the system python: a pyenv shim on PATH costs a second per start
if [ -x /usr/bin/python3 ]; then PY3=/usr/bin/python3; else PY3=python3; fi

need_servers() {
	command -v node >/dev/null || fail "node is not installed (run scripts/install-deps.sh)"
	[ -d "$SERVERS_DIR/node_modules/@20minutes/s3rver" ] && [ -d "$SERVERS_DIR/node_modules/firebase-tools" ] ||
		fail "test servers are not installed: run 'make servers' (npm ci in tests/servers)"
}

# A port nobody listens on now (the kernel's choice for an ephemeral bind).
free_port() {
	"$PY3" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http PID URL LOG WHAT: poll URL every 0.1 s until it answers (any
# HTTP status), for at most 15 s; fail early when PID died.
wait_http() {
	local pid=$1 url=$2 log=$3 what=$4 i
	for i in $(seq 150); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "---- $log" >&2
			tail -n 30 "$log" >&2
			return 1
		fi
		if curl -s -o /dev/null --max-time 1 "$url" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	echo "---- $log" >&2
	tail -n 30 "$log" >&2
	fail "$what did not answer on $url within 15 s"
}

start_s3() { # dir
	local dir=$1 try port pid
	mkdir -p "$dir/data"
	for try in 1 2 3; do
		port=$(free_port)
		node --openssl-legacy-provider "$SERVERS_DIR/s3rver.js" "$dir/data" "$port" \
			</dev/null >"$dir/s3rver.log" 2>&1 &
		pid=$!
		bg_track "$pid"
		if wait_http "$pid" "http://127.0.0.1:$port/" "$dir/s3rver.log" s3rver; then
			export S3_PORT=$port
			export ARCA_S3_ENDPOINT="http://127.0.0.1:$port"
			export AWS_ACCESS_KEY_ID=ARCATESTKEY
			export AWS_SECRET_ACCESS_KEY=arca-test-secret
			export AWS_REGION=us-east-1
			unset AWS_SESSION_TOKEN AWS_DEFAULT_REGION ARCA_S3_PATH_STYLE ARCA_S3_NOREPLACE ARCA_S3_PART_SIZE ARCA_S3_PUT_MAX
			return 0
		fi
	done
	fail "s3rver did not start (log: $dir/s3rver.log)"
}

make_bucket() { # name
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$ARCA_S3_ENDPOINT/$1") || fail "cannot create bucket $1"
	[ "$code" = 200 ] || fail "creating bucket $1: HTTP $code"
}

start_gcs() { # dir
	local dir=$1 try port pid
	mkdir -p "$dir/tmp"
	for try in 1 2 3; do
		port=$(free_port)
		TMPDIR="$dir/tmp" node "$SERVERS_DIR/gcs-emulator.js" "$port" </dev/null >"$dir/gcs.log" 2>&1 &
		pid=$!
		bg_track "$pid"
		if wait_http "$pid" "http://127.0.0.1:$port/storage/v1/b" "$dir/gcs.log" "gcs emulator"; then
			export GCS_PORT=$port
			export ARCA_GCS_ENDPOINT="http://127.0.0.1:$port"
			unset STORAGE_EMULATOR_HOST GOOGLE_APPLICATION_CREDENTIALS
			return 0
		fi
	done
	fail "gcs emulator did not start (log: $dir/gcs.log)"
}

start_faultd() { # dir upstream-url [faultd options, e.g. --token T]
	local dir=$1 up=$2 pid i
	shift 2
	mkdir -p "$dir"
	rm -f "$dir/faultd.port"
	"$PY3" "$SERVERS_DIR/faultd.py" --upstream "$up" --port-file "$dir/faultd.port" "$@" \
		</dev/null >"$dir/faultd.log" 2>&1 &
	pid=$!
	bg_track "$pid"
	for i in $(seq 100); do
		[ -s "$dir/faultd.port" ] && break
		kill -0 "$pid" 2>/dev/null || { tail -n 30 "$dir/faultd.log" >&2; fail "faultd died"; }
		sleep 0.05
	done
	[ -s "$dir/faultd.port" ] || fail "faultd did not start"
	export FAULTD_URL="http://127.0.0.1:$(cat "$dir/faultd.port")"
}

# faultd_rules JSON: replace the fault script (see faultd.py) and its counters.
faultd_rules() {
	local code
	code=$(curl -s -o "$T/faultd.reply" -w '%{http_code}' -X POST --data-binary "$1" "$FAULTD_URL/__faultd/rules") ||
		fail "cannot reach faultd"
	[ "$code" = 200 ] || { cat "$T/faultd.reply" >&2; fail "faultd refused the rules: HTTP $code"; }
}

# faultd_stats: JSON {"requests": N, "injected": N, "rules": [{"hits": N}...]}
faultd_stats() {
	curl -s "$FAULTD_URL/__faultd/stats" || fail "cannot reach faultd"
}
