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
# loop-mounted, and nothing is deleted there until the end.  Without root
# or a loop device, the targets stay on the work directory's filesystem
# and TARGETFS_KIND says so, for the report.
#
#   targetfs_up DIR SIZE   mount a fresh filesystem of SIZE (e.g. 16G) on DIR;
#                          sets TARGETFS (where to restore) and TARGETFS_KIND
#   targetfs_down          unmount it and delete the image
#   settle                 write back and wait for the writeback to drain

TARGETFS=
TARGETFS_KIND=
TARGETFS_IMG=

targetfs_up() {
	local dir=$1 size=$2
	targetfs_down
	mkdir -p "$dir"
	TARGETFS_IMG=$dir.img
	if [ "$(id -u)" = 0 ] && command -v mkfs.ext4 >/dev/null &&
		rm -f "$TARGETFS_IMG" && truncate -s "$size" "$TARGETFS_IMG" &&
		mkfs.ext4 -q -F "$TARGETFS_IMG" >/dev/null 2>&1 &&
		mount -o loop "$TARGETFS_IMG" "$dir" 2>/dev/null; then
		TARGETFS=$dir
		TARGETFS_KIND="a fresh ext4 filesystem (loop device, mkfs.ext4 defaults) for the restore targets"
	else
		rm -f "$TARGETFS_IMG"
		TARGETFS_IMG=
		TARGETFS=$dir
		TARGETFS_KIND="restore targets on the work directory's filesystem (no loop mount: not root, or no loop device)"
	fi
}

targetfs_down() {
	if [ -n "$TARGETFS" ] && mountpoint -q "$TARGETFS" 2>/dev/null; then
		umount "$TARGETFS" 2>/dev/null || umount -l "$TARGETFS" 2>/dev/null || true
	fi
	[ -n "$TARGETFS_IMG" ] && rm -f "$TARGETFS_IMG"
	[ -n "$TARGETFS" ] && rm -rf "$TARGETFS"
	TARGETFS=
	TARGETFS_IMG=
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
