# bench/targetfs.sh - sourced by the benchmarks: restore targets on a
# filesystem made for the run.
#
# This VM's root filesystem is ext4 without a journal (mounted with
# discard).  Without a journal, ext4 does not reuse an inode freed in the
# last minute (five, while its inode table block is dirty), and it finds
# that out by reading each candidate inode: after a restored tree of 24,000
# files is deleted, the next restore spends seconds of system time in
# inode allocation.  Which tool pays for it depends on the order of the
# steps, not on the tool.  So restores go into directories on a fresh ext4
# (mkfs.ext4 defaults, journal on) in a sparse image on the same disk,
# loop-mounted, and nothing is deleted there until the end.  Each restore
# gets a filesystem of its own: after one tool's restore, the next one into
# the same filesystem could spend twice the time (seen after restic's, and
# after three of arca's: four times the system time), which again would
# depend on the order.  Without root or a loop device, the targets stay on
# the work directory's filesystem and TARGETFS_KIND says so, for the report.
#
#   targetfs_up DIR SIZE   mount a fresh filesystem of SIZE (e.g. 4G) on DIR;
#                          sets TARGETFS (where to restore) and TARGETFS_KIND
#   targetfs_down          unmount every one made and delete their images
#   settle                 write back and wait for the writeback to drain
#   settle_cold PATH...    settle, drop the page cache, read PATH... back in
#   code_of FILE...        FILE... and the shared libraries they load (ldd)

TARGETFS=
TARGETFS_KIND=
TARGETFS_ALL=() # every filesystem made so far: unmounted and deleted by targetfs_down

targetfs_up() {
	local dir=$1 size=$2 img=$1.img
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null &&
		rm -f "$img" && truncate -s "$size" "$img" &&
		mkfs.ext4 -q -F "$img" >/dev/null 2>&1 &&
		mount -o loop "$img" "$dir" 2>/dev/null; then
		TARGETFS_KIND="a fresh ext4 filesystem for every restore (loop device, mkfs.ext4 defaults)"
	else
		rm -f "$img"
		TARGETFS_KIND="restore targets on the work directory's filesystem (no loop mount: not root, or no loop device)"
	fi
	TARGETFS=$dir
	TARGETFS_ALL+=("$dir")
}

targetfs_down() {
	local d
	for d in "${TARGETFS_ALL[@]}"; do
		if mountpoint -q "$d" 2>/dev/null; then
			umount "$d" 2>/dev/null || umount -l "$d" 2>/dev/null || true
		fi
		rm -f "$d.img"
		rm -rf "$d"
	done
	TARGETFS_ALL=()
	TARGETFS=
}

# settle: before a timed step, write back everything dirty and wait until
# the kernel's writeback has drained, so that no step pays for the writes
# of the one before.  Two syncs: the loop filesystem's pages land in its
# image file's page cache, which the second one writes out.
settle() {
	local i
	sync
	sync
	for i in $(seq 100); do
		awk '/^(Dirty|Writeback):/ {s += $2} END {exit !(s < 16384)}' /proc/meminfo && return 0
		sleep 0.1
	done
	return 0
}

# settle_cold PATH...: before a restore, settle, then drop the whole page
# cache and read PATH... (the tool's binary, repository and cache) back in.
# After a few restores the kernel's page cache holds gigabytes of restored
# files, and every further restore, whichever tool's, spent up to four
# times the system time (no reclaim was involved; we could not pin it down):
# with the cache dropped, each tool's restore time no longer depends on
# what ran before it.  Without root only settle runs.
code_of() {
	local f
	for f in "$@"; do
		echo "$f"
		ldd "$f" 2>/dev/null | awk '$(NF-1) ~ /^\// {print $(NF-1)} $1 ~ /^\// {print $1}'
	done | sort -u
}

settle_cold() {
	settle
	if [ "$(id -u)" = 0 ] && echo 3 > /proc/sys/vm/drop_caches 2>/dev/null; then
		find "$@" -type f -exec cat {} + > /dev/null 2>&1 || true
	fi
}
