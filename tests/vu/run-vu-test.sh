#!/bin/bash
# Acceptance test of `alioth vu ... blk`: QEMU (TCG) is the vhost-user
# frontend, booting Debian's cloud kernel with a busybox initramfs whose
# virtio_blk driver talks to our backend through the socket, over guest RAM
# shared from a memfd. Boots:
#   rw-split   dd a pattern, sync, drop caches, read it back; write 1 MiB more
#              and blkdiscard it (discard_max_bytes > 0, reads back zeros);
#              busybox mke2fs, mount ext4, write a file, umount, e2fsck -fn
#              in the guest (the host's e2fsck, copied in); host: pattern in
#              the image, the discarded range is a hole, e2fsck
#   rw-packed  the same pattern check over packed rings (packed=on), served
#              by the same alioth process: its second connection, a fresh device
#   ro         readonly=true: /dev/vda is read-only and dd to it fails; the
#              image is unchanged
# QEMU's default 128-entry rings are kept on purpose: Linux then builds
# indirect tables longer than the ring (seg_max 254), which the device must
# accept (a regression test for virtq.c).
# Prints PASS/FAIL lines; exit 0, 1, or 77 (skip) when QEMU or the kernel
# cannot be had. Kernel and busybox come from the nested-lab cache
# (tests/lab/prepare.sh fills it).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ALIOTH=${ALIOTH_BIN:-$(ls -t "$root"/build*/alioth 2>/dev/null | head -n1)}
QEMU=${QEMU:-qemu-system-x86_64}
BOOT_TIMEOUT=${VU_BOOT_TIMEOUT:-40}
failed=0
passed=0

skip() {
	echo "SKIP: vhost-user QEMU test: $*" >&2
	echo "vu: 0 passed, 0 failed, 1 skipped"
	exit 77
}
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not found (apt-get install qemu-system-x86)"
[ -x "$ALIOTH" ] || skip "no alioth binary (set ALIOTH_BIN)"
command -v cpio >/dev/null 2>&1 || skip "cpio not found"

lab_env=${ALIOTH_LAB_CACHE:-$root/tests/lab/cache}/lab.env
if [ ! -f "$lab_env" ]; then
	"$root/tests/lab/prepare.sh" >&2 || skip "tests/lab/prepare.sh could not fetch the kernel"
fi
# shellcheck disable=SC1090
. "$lab_env" 2>/dev/null || skip "no $lab_env"
kernel=${LAB_L2_KERNEL:-}
busybox=${LAB_BUSYBOX:-}
[ -f "$kernel" ] && [ -x "$busybox" ] || skip "kernel or busybox missing from the lab cache"
tree=$(dirname "$(dirname "$kernel")")
kver=${kernel##*/vmlinuz-}
mods="$tree/lib/modules/$kver/kernel/drivers"

work=$(mktemp -d /tmp/alioth-vu-test.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# ---- the guest ----
mkdir -p "$work/rd/bin" "$work/rd/lib/modules"
cp "$busybox" "$work/rd/bin/busybox"
for m in virtio/virtio_ring virtio/virtio virtio/virtio_pci_modern_dev \
	virtio/virtio_pci_legacy_dev virtio/virtio_pci block/virtio_blk; do
	cp "$mods/$m.ko" "$work/rd/lib/modules/" || skip "module $m.ko missing"
done
# The host's e2fsck with its libraries, the nested lab's way (busybox has none).
# shellcheck disable=SC1091   # sourced from the tree
. "$root/tests/lab/lib.sh"
lab_install_e2fsprogs "$work/rd" e2fsck
cat >"$work/rd/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp /mnt
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk; do
	insmod /lib/modules/$m.ko || echo "VU-INSMOD-FAILED $m"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
mode=$(sed -n 's/.*vu.mode=\([a-z]*\).*/\1/p' /proc/cmdline)
if [ ! -b /dev/vda ]; then
	echo "VU-NO-DISK"
else
	echo "VU-SIZE $(cat /sys/block/vda/size) RO $(cat /sys/block/vda/ro)"
	# 1 MiB of pattern at 24 MiB, past the 16 MiB file system
	yes ALIOTH-VU-PATTERN-0123456789 | head -c 1048576 >/tmp/p
	if [ "$mode" = ro ]; then
		if dd if=/tmp/p of=/dev/vda bs=4096 seek=6144 conv=fsync 2>/dev/null; then
			echo "VU-RO-WRITE-ACCEPTED"
		else
			echo "VU-RO-WRITE-REFUSED"
		fi
		dd if=/dev/vda bs=4096 count=1 2>/dev/null | md5sum | sed 's/^/VU-READ /'
	else
		dd if=/tmp/p of=/dev/vda bs=4096 seek=6144 conv=fsync 2>/dev/null && sync
		echo 3 >/proc/sys/vm/drop_caches
		dd if=/dev/vda of=/tmp/r bs=4096 skip=6144 count=256 2>/dev/null
		cmp /tmp/p /tmp/r && echo "VU-READBACK-OK"
		if [ "$mode" = rwfs ]; then
			# 1 MiB at 20 MiB, between the file system and the pattern:
			# written and read back from the device, then discarded.
			echo "VU-DISCARD-MAX $(cat /sys/block/vda/queue/discard_max_bytes)"
			dd if=/tmp/p of=/dev/vda bs=4096 seek=5120 conv=fsync 2>/dev/null && sync
			echo 3 >/proc/sys/vm/drop_caches
			dd if=/dev/vda of=/tmp/r bs=4096 skip=5120 count=256 2>/dev/null
			cmp /tmp/p /tmp/r && echo "VU-DISCARD-WRITTEN"
			if blkdiscard -o 20971520 -l 1048576 /dev/vda; then
				echo "VU-DISCARD-OK"
				echo 3 >/proc/sys/vm/drop_caches
				dd if=/dev/vda of=/tmp/r bs=4096 skip=5120 count=256 2>/dev/null
				head -c 1048576 /dev/zero >/tmp/z
				cmp /tmp/z /tmp/r && echo "VU-DISCARD-ZEROS"
			else
				echo "VU-DISCARD-FAILED"
			fi
			if mke2fs -q -b 1024 /dev/vda 16384 >/dev/null 2>&1 || mke2fs -b 1024 /dev/vda 16384; then
				mount -t ext4 /dev/vda /mnt && echo hello-from-guest >/mnt/hello &&
					umount /mnt && echo "VU-FS-OK"
				if [ -x /bin/e2fsck ]; then
					e2fsck -fn /dev/vda
					echo "VU-E2FSCK-RC $?"
				else
					echo "VU-NO-E2FSCK"
				fi
			else
				echo "VU-NO-MKFS"
			fi
		fi
	fi
fi
sync
echo "VU-DONE"
poweroff -f
INIT
chmod +x "$work/rd/init"
(cd "$work/rd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.gz") ||
	skip "cannot build the initramfs"

# ---- the backend and the frontend ----
start_backend() { # NAME PARAM
	local sock="$work/$1.sock"
	"$ALIOTH" -l info vu -s "$sock" blk -p "$2" 2>"$work/$1.alioth.log" &
	pids+=($!)
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
	return 1
}

boot() { # SOCKNAME LOG MODE [DEVICE-OPTS]
	timeout "$BOOT_TIMEOUT" "$QEMU" -accel tcg -M pc -m 512 -smp 1 -nographic -no-reboot \
		-nodefaults -no-user-config -serial stdio \
		-object memory-backend-memfd,id=m,size=512M,share=on -numa node,memdev=m \
		-chardev socket,path="$work/$1.sock",id=c \
		-device vhost-user-blk-pci,chardev=c${4:+,$4} \
		-kernel "$kernel" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1 vu.mode=$3" >"$work/$2" 2>&1
	echo "INFO $2: qemu exit $?"
}

has() { grep -q "$1" "$work/$2"; }
img_size=$((32 * 1024 * 1024))
expect_sectors=$((img_size / 512))

check_guest() { # LOG LABEL
	if has "VU-SIZE $expect_sectors RO 0" "$1"; then pass "$2: /dev/vda has $expect_sectors sectors"
	else fail "$2: disk size ($(grep -a 'VU-SIZE\|VU-NO-DISK' "$work/$1" | tr -d '\r'))"; fi
	if has VU-READBACK-OK "$1"; then pass "$2: pattern written, synced and read back"
	else fail "$2: guest read-back (see $1)"; fi
}

check_pattern_on_host() { # IMG LABEL
	yes ALIOTH-VU-PATTERN-0123456789 | head -c 1048576 >"$work/p"
	if cmp -s "$work/p" <(dd if="$1" bs=4096 skip=6144 count=256 2>/dev/null); then
		pass "$2: the host file holds the pattern"
	else
		fail "$2: the host file lacks the pattern"
	fi
}

# The guest wrote 1 MiB at 20 MiB, read it back, then discarded it: the file
# must now have a hole there (SEEK_DATA from its start lands past its end).
range_is_hole() { # IMG OFFSET LENGTH
	python3 - "$@" <<'PY'
import errno, os, sys
path, off, length = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
fd = os.open(path, os.O_RDONLY)
try:
    data = os.lseek(fd, off, os.SEEK_DATA)
except OSError as e:
    if e.errno != errno.ENXIO:
        raise
    data = os.fstat(fd).st_size
print(data)
sys.exit(0 if data >= off + length else 1)
PY
}

check_discard() { # LOG IMG LABEL
	local max next
	max=$(grep -a 'VU-DISCARD-MAX' "$work/$1" | tr -d '\r' | sed -n 's/.*VU-DISCARD-MAX \([0-9]*\).*/\1/p')
	if [ "${max:-0}" -gt 0 ]; then pass "$3: /dev/vda offers discard (discard_max_bytes $max)"
	else fail "$3: no discard in the guest (discard_max_bytes ${max:-?})"; fi
	if has VU-DISCARD-WRITTEN "$1" && has VU-DISCARD-OK "$1"; then
		pass "$3: 1 MiB written, read back and blkdiscard-ed in the guest"
	else
		fail "$3: guest write + blkdiscard ($(grep -a 'VU-DISCARD-FAILED' "$work/$1" | tr -d '\r'))"
	fi
	if has VU-DISCARD-ZEROS "$1"; then pass "$3: the discarded range reads back as zeros"
	else fail "$3: the discarded range does not read back as zeros"; fi
	if next=$(range_is_hole "$2" $((20 << 20)) $((1 << 20))); then
		pass "$3: the discarded range is a hole in the host file (next data at $next)"
	else
		fail "$3: the discarded range still holds data in the host file (data at ${next:-?})"
	fi
}

t0=$(date +%s)
truncate -s $img_size "$work/rw.img"
start_backend rw "file,path=$work/rw.img" || { fail "alioth vu did not listen"; cat "$work/rw.alioth.log"; exit 1; }

boot rw rw-split.log rwfs
check_guest rw-split.log rw-split
check_pattern_on_host "$work/rw.img" rw-split
check_discard rw-split.log "$work/rw.img" rw-split
if has VU-FS-OK rw-split.log; then
	if e2fsck -fn "$work/rw.img" >"$work/e2fsck.log" 2>&1 &&
		[ "$(debugfs -R 'cat /hello' "$work/rw.img" 2>/dev/null)" = hello-from-guest ]; then
		pass "rw-split: guest mke2fs + ext4 mount/write; host e2fsck clean, file readable"
	else
		fail "rw-split: host e2fsck/debugfs ($(tail -n 3 "$work/e2fsck.log"))"
	fi
elif has VU-NO-MKFS rw-split.log; then
	echo "NOTE rw-split: busybox mke2fs failed; file-system check not done"
else
	fail "rw-split: guest file system (see log)"
fi
if has "VU-E2FSCK-RC 0" rw-split.log; then pass "rw-split: e2fsck -fn in the guest is clean"
elif has VU-NO-E2FSCK rw-split.log; then fail "rw-split: no e2fsck in the guest (e2fsprogs not on the host?)"
else fail "rw-split: guest e2fsck ($(grep -a 'VU-E2FSCK-RC' "$work/rw-split.log" | tr -d '\r'))"; fi

# Second connection to the same process: a fresh device, packed rings.
truncate -s 0 "$work/rw.img"; truncate -s $img_size "$work/rw.img"
boot rw rw-packed.log rw packed=on
check_guest rw-packed.log rw-packed
check_pattern_on_host "$work/rw.img" rw-packed
if kill -0 "${pids[0]}" 2>/dev/null; then pass "alioth vu still serving after two connections"
else fail "alioth vu exited after its connections"; fi

# Read-only backend.
truncate -s $img_size "$work/ro.img"
printf 'ALIOTH-RO-IMAGE' | dd of="$work/ro.img" conv=notrunc 2>/dev/null
before=$(md5sum <"$work/ro.img")
start_backend ro "file,path=$work/ro.img,readonly=true" || fail "alioth vu (ro) did not listen"
boot ro ro.log ro
if has "VU-SIZE $expect_sectors RO 1" ro.log; then pass "ro: /dev/vda is read-only in the guest"
else fail "ro: read-only flag ($(grep -a 'VU-SIZE' "$work/ro.log" | tr -d '\r'))"; fi
if has VU-RO-WRITE-REFUSED ro.log; then pass "ro: the guest's write was refused"
else fail "ro: write not refused"; fi
want_read=$(head -c 4096 "$work/ro.img" | md5sum | cut -d' ' -f1)
if has "VU-READ $want_read" ro.log; then pass "ro: the guest reads the image"
else fail "ro: guest read differs"; fi
if [ "$(md5sum <"$work/ro.img")" = "$before" ]; then pass "ro: the image is unchanged"
else fail "ro: the image changed"; fi

for f in rw ro; do
	if grep -q "closing the connection:" "$work/$f.alioth.log"; then
		fail "alioth ($f) closed a connection on a protocol error:"
		grep "closing" "$work/$f.alioth.log"
	fi
done
echo "INFO took $(($(date +%s) - t0)) s"
if [ $failed -ne 0 ]; then
	for f in rw-split.log rw-packed.log ro.log rw.alioth.log ro.alioth.log; do
		echo "---- $f"; tail -n 25 "$work/$f" 2>/dev/null
	done
fi
echo "vu: $passed passed, $failed failed"
[ $failed -eq 0 ]
