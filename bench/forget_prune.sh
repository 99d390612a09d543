#!/usr/bin/env bash
# bench/forget_prune.sh - `forget --keep-last 50 --prune` over 100 dump
# snapshots, arca against restic (not run by tests).
#
# Builds, once, a repository per tool with 100 stdin backups of the dump
# series (bench/gen.py dumps: 5 nightly pgbench-like dumps, used in turn)
# each followed by a tail unique to that snapshot (FP_TAIL_KIB KiB of
# deterministic noise), so that half of the history holds data of its own
# for prune to free.  Each measured run works on a fresh copy of the built
# repository (cp -a; page cache warm), runs forget --keep-last 50 --prune,
# and reports wall time, CPU, peak RSS and repository sizes before/after.
# Both tools prune with their defaults (max-unused 5 %).  Built repositories
# are cached under $BENCH_DIR/forget-prune (delete it to rebuild).
#
#   bench/forget_prune.sh            FP_RUNS=3 FP_TAIL_KIB=512 BENCH_DIR=/var/tmp/arca-bench
set -eu
cd "$(dirname "$0")/.."
W=${BENCH_DIR:-/var/tmp/arca-bench}
FP=$W/forget-prune
RUNS=${FP_RUNS:-3}
TAIL_KIB=${FP_TAIL_KIB:-512}
N=100
DUMPS=$W/data/dumps
make -s -j2 all
mkdir -p "$FP"
cp build/arca "$FP/arca.bin"
ARCA=$FP/arca.bin
PWFILE=$FP/password
[ -s "$PWFILE" ] || echo "forget-prune-bench" >"$PWFILE"
export ARCA_PASSWORD_FILE=$PWFILE RESTIC_PASSWORD_FILE=$PWFILE
command -v restic >/dev/null || { echo "restic is not installed (apt-get install restic)" >&2; exit 1; }

if [ ! -f "$DUMPS/dump-5.sql" ]; then
	echo "generating the dump series (bench/gen.py dumps, scale 1)" >&2
	python3 bench/gen.py dumps "$DUMPS" 1
fi

tail_of() { # i: deterministic noise unique to snapshot i
	python3 -c 'import random,sys; r=random.Random(int(sys.argv[1])); sys.stdout.buffer.write(r.randbytes(int(sys.argv[2])*1024))' "$1" "$TAIL_KIB"
}

build() { # tool
	local tool=$1 repo=$FP/$1-base i d t
	[ -f "$repo.done" ] && return
	rm -rf "$repo" "$FP/cache-$tool"
	echo "building $tool repository: $N snapshots" >&2
	case $tool in
	arca) "$ARCA" -q -r "$repo" --cache-dir "$FP/cache-arca" init >/dev/null ;;
	restic) restic -q -r "$repo" --cache-dir "$FP/cache-restic" init --repository-version 2 >/dev/null ;;
	esac
	for i in $(seq 1 $N); do
		d=$DUMPS/dump-$(((i - 1) % 5 + 1)).sql
		t=$(date -u -d "2026-01-01 02:00 UTC + $i days" +%Y-%m-%dT%H:%M:%SZ)
		case $tool in
		arca) { cat "$d"; tail_of "$i"; } | "$ARCA" -q -r "$repo" --cache-dir "$FP/cache-arca" backup --stdin \
			--stdin-name pgbench.sql --host bench --time "$t" >/dev/null ;;
		restic) { cat "$d"; tail_of "$i"; } | restic -q -r "$repo" --cache-dir "$FP/cache-restic" backup --stdin \
			--stdin-filename pgbench.sql --host bench --time "$(date -u -d "$t" '+%Y-%m-%d %H:%M:%S')" --compression auto >/dev/null ;;
		esac
	done
	touch "$repo.done"
}
build arca
build restic

run() { # tool k -> "wall cpu rss_kib before_bytes after_bytes"
	local tool=$1 k=$2 repo=$FP/$1-work tf=$FP/$1-$2.time rc=0
	rm -rf "$repo" "$FP/cache-$tool-work"
	cp -a "$FP/$tool-base" "$repo"
	cat "$repo"/data/*/* >/dev/null 2>&1 || true # warm page cache, as for both tools
	local before
	before=$(du -sb "$repo" | cut -f1)
	case $tool in
	arca) /usr/bin/time -f '%e %U %S %M' -o "$tf" "$ARCA" -r "$repo" --cache-dir "$FP/cache-arca-work" \
		forget --keep-last 50 --prune >"$FP/$tool-$k.log" 2>&1 || rc=$? ;;
	restic) /usr/bin/time -f '%e %U %S %M' -o "$tf" restic -r "$repo" --cache-dir "$FP/cache-restic-work" \
		forget --keep-last 50 --prune >"$FP/$tool-$k.log" 2>&1 || rc=$? ;;
	esac
	[ $rc = 0 ] || { tail -5 "$FP/$tool-$k.log" >&2; echo "$tool forget --prune failed" >&2; exit 1; }
	read -r e u s m <"$tf"
	echo "$e $(awk -v a="$u" -v b="$s" 'BEGIN{print a+b}') $m $before $(du -sb "$repo" | cut -f1)"
}

echo "forget --keep-last 50 --prune over $N snapshots (dump series + ${TAIL_KIB} KiB unique tail each); $(nproc) cores; load $(cut -d' ' -f1 /proc/loadavg); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
printf '%-7s %4s %9s %9s %9s %12s %12s\n' tool run wall_s cpu_s rss_MiB before_MiB after_MiB
for k in $(seq 1 "$RUNS"); do
	for tool in arca restic; do
		read -r e c m b a < <(run "$tool" "$k")
		printf '%-7s %4s %9s %9s %9s %12s %12s\n' "$tool" "$k" "$e" "$c" "$((m / 1024))" \
			"$(awk -v x="$b" 'BEGIN{printf "%.1f", x/1048576}')" "$(awk -v x="$a" 'BEGIN{printf "%.1f", x/1048576}')"
	done
done
