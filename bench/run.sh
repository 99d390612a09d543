#!/usr/bin/env bash
# bench/run.sh - compare arca with restic, borg (and casync) on the same
# machine and disk, in one run.  See bench/README.md.
#
# Environment:
#   BENCH_DIR     work dir for data, repos, logs   (default /var/tmp/arca-bench)
#   BENCH_SCALE   data size factor, 0.05 = smoke   (default 1)
#   BENCH_TOOLS   tools to run                     (default "arca restic borg casync")
#   BENCH_SERIES  series to run                    (default "tree dumps sessions")
#   BENCH_OUT     markdown report                  (default bench/results/latest.md)
#   ARCA_BIN      arca binary                      (default build/arca)
#   BENCH_NO_INSTALL=1  never apt-get install missing tools
#   BENCH_STEP_TIMEOUT  limit per measured command, s (default 1800)
#   BENCH_VERIFY=0      skip comparing the restored tree with tree-changed/
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
W=${BENCH_DIR:-/var/tmp/arca-bench}
SCALE=${BENCH_SCALE:-1}
ARCA=${ARCA_BIN:-$ROOT/build/arca}
TOOLS_REQ=${BENCH_TOOLS:-arca restic borg casync}
SERIES=${BENCH_SERIES:-tree dumps sessions}
OUT=${BENCH_OUT:-$HERE/results/latest.md}
NO_INSTALL=${BENCH_NO_INSTALL:-0}
STEP_TIMEOUT=${BENCH_STEP_TIMEOUT:-1800}   # seconds, per measured command
VERIFY=${BENCH_VERIFY:-1}
GEN="$HERE/gen.py"
NDUMPS=5
NSESSIONS=10
T0=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

progress() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# shellcheck source=bench/targetfs.sh
. "$HERE/targetfs.sh"
die() { progress "error: $*"; exit 1; }

case $SCALE in ''|*[!0-9.]*) die "BENCH_SCALE must be a number, got '$SCALE'";; esac
[[ $W == /* ]] || W="$PWD/$W"

# ---------------------------------------------------------------- deps
installed_apt=0
apt_install() {
    [ "$NO_INSTALL" = 1 ] && return 1
    [ "$(id -u)" = 0 ] || return 1
    command -v apt-get >/dev/null || return 1
    if [ $installed_apt = 0 ]; then
        progress "apt-get update"
        apt-get update -qq >/dev/null 2>&1 || true
        installed_apt=1
    fi
    progress "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1
}

need=()
command -v python3 >/dev/null || need+=(python3)
[ -x /usr/bin/time ] || need+=(time)
for t in $TOOLS_REQ; do
    case $t in
        restic) command -v restic >/dev/null || need+=(restic) ;;
        borg)   command -v borg >/dev/null || need+=(borgbackup) ;;
    esac
done
if [ ${#need[@]} -gt 0 ]; then
    apt_install "${need[@]}" || die "missing ${need[*]} (install them or run as root)"
fi
command -v python3 >/dev/null || die "python3 missing"
[ -x /usr/bin/time ] || die "/usr/bin/time missing"

TOOLS=()
NOTES=()
for t in $TOOLS_REQ; do
    case $t in
        arca)
            if [ -x "$ARCA" ]; then TOOLS+=(arca)
            else TOOLS+=(arca); NOTES+=("arca: $ARCA not found (run \`make\`); arca figures are n/a."); fi ;;
        restic) command -v restic >/dev/null && TOOLS+=(restic) ;;
        borg)   command -v borg >/dev/null && TOOLS+=(borg) ;;
        casync)
            if ! command -v casync >/dev/null; then
                cand=$(apt-cache policy casync 2>/dev/null | awk '/Candidate:/ {print $2}')
                if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
                    apt_install casync || true   # apt-get update, then check again
                    cand=$(apt-cache policy casync 2>/dev/null | awk '/Candidate:/ {print $2}')
                fi
                if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then apt_install casync || true; fi
            fi
            if command -v casync >/dev/null; then TOOLS+=(casync)
            else NOTES+=("casync: not installable here; left out."); fi ;;
        *) die "unknown tool '$t' in BENCH_TOOLS" ;;
    esac
done

# ---------------------------------------------------------------- layout
DATA="$W/data"; STAGE="$W/stage"; REPOS="$W/repos"; LOGS="$W/logs"; CACHE="$W/cache"
mkdir -p "$DATA" "$STAGE" "$REPOS" "$LOGS" "$CACHE"
RES="$W/results.tsv"; META="$W/meta.tsv"
: > "$RES"; : > "$META"
rm -f "$LOGS"/*

PWFILE="$W/password"
[ -s "$PWFILE" ] || printf 'arca-bench-password-%s\n' "$RANDOM$RANDOM" > "$PWFILE"
chmod 600 "$PWFILE"
PW=$(head -n 1 "$PWFILE")

# The tree is backed up from the fixed path $STAGE/tree, so the second backup
# (tree-changed) is an incremental of the same path for every tool.  The data
# dirs are moved (rename, same inodes and ctimes) into place and back.
STAGED=""
unstage() {
    if [ -n "$STAGED" ] && [ -d "$STAGE/tree" ]; then mv "$STAGE/tree" "$DATA/$STAGED"; fi
    STAGED=""
}
stage() { unstage; mv "$DATA/$1" "$STAGE/tree"; STAGED=$1; }
trap 'unstage; targetfs_down' EXIT
if [ -e "$STAGE/tree" ]; then   # left over from an interrupted run
    progress "stale $STAGE/tree from an interrupted run: regenerating the tree"
    rm -rf "$STAGE/tree" "$DATA/tree" "$DATA/tree-changed" "$DATA/tree.stamp"
fi

# Run a private copy of arca, so that a rebuild of build/arca by someone else
# during the run cannot change or break the binary being measured.
if [ -x "$ARCA" ]; then
    cp "$ARCA" "$W/arca.bin" && ARCA="$W/arca.bin"
fi

# ---------------------------------------------------------------- data
GENSUM=$(sha256sum "$GEN" | cut -c1-16)
gen_if_needed() {   # name, command...
    local name=$1; shift
    local stamp="$DATA/$name.stamp" want="gen=$GENSUM scale=$SCALE"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        progress "data: $name up to date ($want)"
        return
    fi
    progress "data: generating $name (scale $SCALE)"
    rm -f "$stamp"
    "$@"
    echo "$want" > "$stamp"
}
need_series() { [[ " $SERIES " == *" $1 "* ]]; }

need_series tree && gen_if_needed tree python3 "$GEN" tree "$DATA" "$SCALE"
need_series dumps && gen_if_needed dumps python3 "$GEN" dumps "$DATA/dumps" "$SCALE"

warm() {   # read everything once so every tool starts with a warm page cache
    find "$@" -type f -print0 | xargs -0 -r cat > /dev/null
}

# ---------------------------------------------------------------- results
put()  { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$RES"; }     # tool key value
meta() { printf '%s\t%s\n' "$1" "$2" >> "$META"; }
note() { NOTES+=("$*"); }
dusize() { du -sb "$1" | cut -f1; }

LAST_TIME=0; LAST_RSS=0; LAST_CPU=0
# measure TOOL KEY CMD...   (stdin is passed through)
measure() {
    local tool=$1 key=$2; shift 2
    local log="$LOGS/$tool-$key.log" tf="$LOGS/$tool-$key.time" rc=0
    progress "$tool: $key"
    settle
    /usr/bin/time -f '%e %M %U %S' -o "$tf" timeout "$STEP_TIMEOUT" "$@" > "$log" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        [ $rc -eq 124 ] && echo "timed out after $STEP_TIMEOUT s" >> "$log"
        progress "$tool: $key FAILED (exit $rc), log: $log"
        tail -n 5 "$log" | sed 's/^/    /' >&2
        note "$tool: \`$key\` failed (exit $rc): $(tail -n 1 "$log" | cut -c1-160)"
        return 1
    fi
    local u s
    read -r LAST_TIME LAST_RSS u s < <(tail -n 1 "$tf")
    LAST_CPU=$(awk -v a="$u" -v b="$s" 'BEGIN{print a+b}')
    progress "$tool: $key: $LAST_TIME s, $LAST_CPU s CPU, $(( LAST_RSS / 1024 )) MiB peak RSS"
    put "$tool" "$key.time" "$LAST_TIME"
    put "$tool" "$key.cpu" "$LAST_CPU"
    put "$tool" "$key.rss" "$LAST_RSS"
}

# ---------------------------------------------------------------- tools
arca_cmd()   { env ARCA_PASSWORD="$PW" XDG_CACHE_HOME="$CACHE/arca" HOME="$CACHE/arca-home" "$ARCA" "$@"; }
restic_cmd() { env RESTIC_PASSWORD_FILE="$PWFILE" RESTIC_CACHE_DIR="$CACHE/restic" restic "$@"; }
BORG_ENV=(BORG_PASSCOMMAND="head -n 1 $PWFILE" BORG_BASE_DIR="$CACHE/borg"
          BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
          BORG_DISPLAY_PASSPHRASE=no)
borg_cmd()   { env "${BORG_ENV[@]}" borg "$@"; }
# `measure` runs its command through /usr/bin/time, which can only exec
# programs, so the wrappers are expanded into plain argv arrays there.
tool_argv() {
    case $1 in
        arca)   ARGV=(env ARCA_PASSWORD="$PW" XDG_CACHE_HOME="$CACHE/arca" HOME="$CACHE/arca-home" "$ARCA") ;;
        restic) ARGV=(env RESTIC_PASSWORD_FILE="$PWFILE" RESTIC_CACHE_DIR="$CACHE/restic" restic) ;;
        borg)   ARGV=(env "${BORG_ENV[@]}" borg) ;;
        casync) ARGV=(casync) ;;
    esac
}

t_init() {   # tool repo
    local tool=$1 repo=$2 log
    log="$LOGS/$1-init-$(basename "$2").log"
    rm -rf "$repo"
    mkdir -p "$(dirname "$repo")" "$CACHE/arca" "$CACHE/arca-home"
    case $tool in
        arca)   [ -x "$ARCA" ] || return 1
                arca_cmd -r "$repo" init --compression zstd:3 > "$log" 2>&1 ;;
        restic) restic_cmd -r "$repo" init --repository-version 2 > "$log" 2>&1 ;;
        borg)   borg_cmd init -e repokey-blake2 "$repo" > "$log" 2>&1 ;;
        casync) mkdir -p "$repo/store" ;;
    esac || { note "$tool: init of $(basename "$repo") repo failed: $(tail -n 1 "$log" | cut -c1-160)"
              progress "$tool: init FAILED, log: $log"; return 1; }
}

t_backup() {   # tool repo key path
    local tool=$1 repo=$2 key=$3 path=$4
    tool_argv "$tool"
    case $tool in
        arca)   measure arca "$key" "${ARGV[@]}" -r "$repo" backup --host bench "$path" ;;
        restic) measure restic "$key" "${ARGV[@]}" -r "$repo" backup -q --host bench --compression auto "$path" ;;
        borg)   measure borg "$key" "${ARGV[@]}" create --compression zstd,3 "$repo::$key" "$path" ;;
        casync) measure casync "$key" casync make --compression=zstd --store="$repo/store" "$repo/$key.caidx" "$path" ;;
    esac
}

t_backup_stdin() {   # tool repo key file
    local tool=$1 repo=$2 key=$3 file=$4
    tool_argv "$tool"
    case $tool in
        arca)   measure arca "$key" "${ARGV[@]}" -r "$repo" backup --stdin --stdin-name pgbench.sql < "$file" ;;
        restic) measure restic "$key" "${ARGV[@]}" -r "$repo" backup -q --host bench --compression auto \
                    --stdin --stdin-filename pgbench.sql < "$file" ;;
        borg)   measure borg "$key" "${ARGV[@]}" create --compression zstd,3 --stdin-name pgbench.sql \
                    "$repo::$key" - < "$file" ;;
        casync) measure casync "$key" casync make --compression=zstd --store="$repo/store" "$repo/$key.caibx" - < "$file" ;;
    esac
}

t_restore() {   # tool repo key target last-backup-key
    local tool=$1 repo=$2 key=$3 target=$4 last=$5
    tool_argv "$tool"
    # a cold page cache but for this tool's code, repository and cache (see targetfs.sh)
    case $tool in
        arca)   settle_cold $(code_of "$ARCA") "$repo" "$CACHE/arca" ;;
        restic) settle_cold $(code_of "$(command -v restic)") "$repo" "$CACHE/restic" ;;
        borg)   settle_cold $(code_of "$(command -v python3)") /usr/lib/python3/dist-packages/borg "$repo" "$CACHE/borg" ;;
        casync) settle_cold $(code_of "$(command -v casync)") "$repo" ;;
    esac
    case $tool in
        arca)   measure arca "$key" "${ARGV[@]}" -r "$repo" restore latest --target "$target" ;;
        restic) measure restic "$key" "${ARGV[@]}" -r "$repo" restore latest --target "$target" ;;
        borg)   measure borg "$key" env -C "$target" "${ARGV[@]}" extract "$repo::$last" ;;
        casync) measure casync "$key" casync extract --store="$repo/store" "$repo/$last.caidx" "$target/tree" ;;
    esac
}

# ---------------------------------------------------------------- series
series_tree() {
    local tool=$1 repo="$REPOS/$1/tree" tgt
    t_init "$tool" "$repo" || return 1
    # tree-changed/ shares all but its modified files with tree/ (hard links)
    progress "$tool: warm-up read of tree/ and tree-changed/"
    warm "$DATA/tree"
    find "$DATA/tree-changed" -type f -links 1 -print0 | xargs -0 -r cat > /dev/null
    stage tree
    t_backup "$tool" "$repo" tree-first "$STAGE/tree" || return 1
    put "$tool" tree-first.size "$(dusize "$repo")"
    stage tree-changed
    t_backup "$tool" "$repo" tree-changed "$STAGE/tree" || return 1
    put "$tool" tree-changed.size "$(dusize "$repo")"
    targetfs_up "$W/restore-$tool" 3G   # a filesystem for this restore (see targetfs.sh)
    tgt=$TARGETFS/$tool
    mkdir -p "$tgt"
    if t_restore "$tool" "$repo" restore "$tgt" tree-changed && [ "$VERIFY" = 1 ]; then
        # the restored tree may be under the absolute path (restic), the path
        # without its leading / (borg), or under the base name
        local d found="" rc=0
        for d in "$tgt$STAGE/tree" "$tgt/tree" "$tgt"; do
            if [ -d "$d/usr" ]; then found=$d; break; fi
        done
        if [ -z "$found" ]; then
            put "$tool" restore.verify "not found"
            note "$tool: restored tree not found under $tgt"
        else
            progress "$tool: comparing the restored tree with tree-changed/"
            diff -r --no-dereference -q "$found" "$STAGE/tree" > "$LOGS/$tool-restore.diff" 2>&1 || rc=$?
            if [ $rc -eq 0 ]; then put "$tool" restore.verify ok
            else put "$tool" restore.verify DIFFERS
                 note "$tool: restored tree differs from tree-changed (see $LOGS/$tool-restore.diff)"; fi
        fi
    fi
    # the restored tree stays until the end (see targetfs.sh)
    unstage
}

series_dumps() {
    local tool=$1 repo="$REPOS/$1/dumps" i total=0 cpu=0 rss=0
    t_init "$tool" "$repo" || return 1
    progress "$tool: warm-up read of the dumps"; warm "$DATA/dumps"
    for i in $(seq 1 $NDUMPS); do
        t_backup_stdin "$tool" "$repo" "dump-$i" "$DATA/dumps/dump-$i.sql" || return 1
        total=$(awk -v a="$total" -v b="$LAST_TIME" 'BEGIN{print a+b}')
        cpu=$(awk -v a="$cpu" -v b="$LAST_CPU" 'BEGIN{print a+b}')
        [ "$LAST_RSS" -gt "$rss" ] && rss=$LAST_RSS
        [ "$i" = 1 ] && put "$tool" dump-1.size "$(dusize "$repo")"
    done
    put "$tool" dumps.time "$total"
    put "$tool" dumps.cpu "$cpu"
    put "$tool" dumps.rss "$rss"
    put "$tool" dumps.size "$(dusize "$repo")"
}

series_sessions() {
    local tool=$1 repo="$REPOS/$1/sessions" v total=0 cpu=0 rss=0
    [ "$tool" = casync ] && return 0
    t_init "$tool" "$repo" || return 1
    rm -rf "$STAGE/sessions"
    for v in $(seq 1 $NSESSIONS); do
        python3 "$GEN" sessions "$STAGE/sessions" "$v" "$SCALE" 2>> "$LOGS/$tool-sessions-gen.log"
        t_backup "$tool" "$repo" "session-$v" "$STAGE/sessions" || return 1
        total=$(awk -v a="$total" -v b="$LAST_TIME" 'BEGIN{print a+b}')
        cpu=$(awk -v a="$cpu" -v b="$LAST_CPU" 'BEGIN{print a+b}')
        [ "$LAST_RSS" -gt "$rss" ] && rss=$LAST_RSS
    done
    put "$tool" sessions.time "$total"
    put "$tool" sessions.cpu "$cpu"
    put "$tool" sessions.rss "$rss"
    put "$tool" sessions.size "$(dusize "$repo")"
    t_backup "$tool" "$repo" session-unchanged "$STAGE/sessions" || return 1
    put "$tool" sessions-unchanged.size "$(dusize "$repo")"
}

# ---------------------------------------------------------------- inputs
if need_series tree; then
    meta tree.bytes "$(find "$DATA/tree" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}')"
    meta tree.files "$(find "$DATA/tree" -type f | wc -l)"
    meta tree.changed "$(find "$DATA/tree-changed" -type f -links 1 | wc -l)"
fi
if need_series dumps; then
    meta dumps.first "$(stat -c %s "$DATA/dumps/dump-1.sql")"
    meta dumps.bytes "$(cat "$DATA"/dumps/dump-*.sql | wc -c)"
fi
if need_series sessions; then
    rm -rf "$STAGE/sessions"
    python3 "$GEN" sessions "$STAGE/sessions" "$NSESSIONS" "$SCALE" 2>/dev/null
    meta sessions.files "$(find "$STAGE/sessions" -type f | wc -l)"
    meta sessions.folders "$(find "$STAGE/sessions" -mindepth 1 -maxdepth 1 -type d | wc -l)"
    meta sessions.bytes "$(find "$STAGE/sessions" -type f -printf '%s\n' | awk '{s+=$1} END{print s+0}')"
    rm -rf "$STAGE/sessions"
fi

# ---------------------------------------------------------------- run
rm -rf "$CACHE" "$REPOS" "$W/restore" "$W"/restore-*
mkdir -p "$CACHE" "$REPOS"
ARCA_OK=1
[ -x "$ARCA" ] || ARCA_OK=0
for s in $SERIES; do
    case $s in tree|dumps|sessions) ;; *) die "unknown series '$s' in BENCH_SERIES" ;; esac
    for t in "${TOOLS[@]}"; do
        [ "$t" = arca ] && [ $ARCA_OK = 0 ] && continue
        progress "== series $s: $t"
        if ! "series_$s" "$t"; then
            unstage
            progress "$t: series $s incomplete; its remaining figures are n/a"
        fi
    done
    # keep the disk tidy between series: repos of a finished series are not
    # needed any more (sizes are recorded)
    for t in "${TOOLS[@]}"; do rm -rf "${REPOS:?}/$t/$s"; done
done
rm -rf "$STAGE/sessions" "$CACHE"

# ---------------------------------------------------------------- report
meta scale "$SCALE"
meta date "$(date -u '+%Y-%m-%d %H:%M UTC')"
meta host "$(nproc) CPUs ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
meta fs "$(df -PT "$W" | awk 'NR==2 {print $2 " on " $1}')"
meta restorefs "${TARGETFS_KIND:-n/a}"
meta runtime "$(( $(date +%s) - T0 ))"
meta load "$LOAD0 at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
meta tools "${TOOLS[*]}"
for t in "${TOOLS[@]}"; do
    case $t in
        arca)   v=$( { [ -x "$ARCA" ] && "$ARCA" --version 2>/dev/null | head -n 1; } || true)
                rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || true)
                [ -n "$rev" ] && ! git -C "$ROOT" diff --quiet HEAD -- src include 2>/dev/null && rev="$rev+dirty"
                meta version.arca "${v:-arca}${rev:+ (git $rev)}" ;;
        restic) meta version.restic "$(restic version | head -n 1 | cut -d' ' -f1-2)" ;;
        borg)   meta version.borg "$(borg --version)" ;;
        casync) meta version.casync "casync $(dpkg-query -W -f '${Version}' casync 2>/dev/null || casync --version | head -n 1)" ;;
    esac
done
for n in "${NOTES[@]}"; do meta note "$n"; done

mkdir -p "$(dirname "$OUT")"
python3 "$HERE/report.py" "$RES" "$META" > "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
cat "$OUT"
progress "done in $(( $(date +%s) - T0 )) s; report: $OUT; logs: $LOGS"
