#!/bin/sh
# /init of the L2 guest (busybox, the virtio/pvpanic modules, e2fsprogs). Prints
# machine-parsable "L2-..." lines about the machine it finds, then ends as
# /proc/cmdline asks:
#   lab.input=1        print L2-INPUT-READY, read one console line, echo it back
#   lab.devs=1         exercise the virtio disks, the entropy device and report
#                      the negotiated virtio features (see check_devices)
#   lab.end=poweroff   poweroff -f (the default)
#   lab.end=reboot     reboot -f
#   lab.end=panic      crash the kernel (sysrq c): pvpanic should tell the VMM
#   lab.end=shell      interactive shell on the console; poweroff -f when it exits
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null

cmdline_value() {   # KEY -> value of the first KEY=value word on the kernel cmdline
	for w in $(cat /proc/cmdline); do
		case $w in "$1"=*) echo "${w#*=}"; return ;; esac
	done
}

# The driver modules (virtio-pci, virtio-blk, virtio-rng, pvpanic-pci) in
# dependency order; a device present before its driver is probed on insmod.
load_modules() {
	[ -f /lib/modules/load-order ] || return 0
	while read -r m; do
		insmod "/lib/modules/$m" 2>/dev/null || echo "L2-INSMOD-FAILED $m"
	done </lib/modules/load-order
}

# One line per virtio device: its type and whether the packed ring
# (VIRTIO_F_RING_PACKED, feature bit 34: character 35 of the features file) is in use.
report_virtio() {
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d/device" ] || continue
		echo "L2-VIRTIO $(basename "$d") device=$(cat "$d/device") packed=$(cut -c35 "$d/features") driver=$(basename "$(readlink "$d/driver" 2>/dev/null)")"
	done
}

# The writable disk: ext4 made by mkfs, a file written and read back after a
# remount with cold caches, fsck clean. Prints the file's md5 so that L1 can
# compare it with what reached the image file.
check_rw_disk() {   # DEV
	dev=$1
	mkdir -p /mnt
	mkfs.ext4 -q -F "$dev" >/tmp/mkfs.log 2>&1
	mkfs=$?
	sum=none readback=bad
	if [ $mkfs = 0 ] && mount -t ext4 "$dev" /mnt; then
		dd if=/dev/urandom of=/mnt/lab-file bs=64k count=32 2>/dev/null
		sum=$(md5sum </mnt/lab-file | cut -d' ' -f1)
		umount /mnt
		echo 3 >/proc/sys/vm/drop_caches
		if mount -t ext4 -o ro "$dev" /mnt; then
			[ "$(md5sum </mnt/lab-file | cut -d' ' -f1)" = "$sum" ] && readback=ok
			umount /mnt
		fi
	fi
	e2fsck -fn "$dev" >/tmp/fsck.log 2>&1
	fsck=$?
	echo "L2-FS $(basename "$dev") mkfs=$mkfs fsck=$fsck readback=$readback md5=$sum"
	[ $mkfs = 0 ] || sed 's/^/L2-MKFS-LOG /' /tmp/mkfs.log
	[ $fsck = 0 ] || sed 's/^/L2-FSCK-LOG /' /tmp/fsck.log | head -20
}

# The read-only disk: the signature L1 wrote is readable, a write is refused.
check_ro_disk() {   # DEV
	dev=$1
	sig=$(head -c 16 "$dev")
	if dd if=/dev/zero of="$dev" bs=4096 count=1 conv=fsync 2>/dev/null; then w=accepted; else w=refused; fi
	echo "L2-RO $(basename "$dev") sig=$sig write=$w"
}

check_devices() {
	report_virtio
	for b in /sys/block/vd*; do
		[ -e "$b" ] || continue
		echo "L2-BLK $(basename "$b") bytes=$(($(cat "$b/size") * 512)) ro=$(cat "$b/ro") queues=$(ls "$b/mq" | wc -l)"
	done
	for b in /sys/block/vd*; do
		[ -e "$b" ] || continue
		if [ "$(cat "$b/ro")" = 1 ]; then check_ro_disk "/dev/$(basename "$b")"; else check_rw_disk "/dev/$(basename "$b")"; fi
	done
	if [ -c /dev/hwrng ]; then
		a=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
		b=$(dd if=/dev/hwrng bs=16 count=1 2>/dev/null | od -An -tx1 | tr -d ' \n')
		echo "L2-HWRNG current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null) first=$a second=$b"
	else
		echo "L2-HWRNG none"
	fi
	# Kernel complaints about the devices (the driver's own words).
	dmesg | grep -iE 'I/O error|virtio.*(error|fail|bad|broken|invalid)|blk_update|EXT4-fs (error|warning)|Buffer I/O|hw_random.*fail|pvpanic.*fail|irq [0-9]+: nobody' |
		sed 's/^/L2-KERNEL-COMPLAINT /' | head -20
	echo "L2-DEVS-DONE"
}

load_modules
echo "L2-USERSPACE-OK"
echo "L2-NPROC $(nproc)"
echo "L2-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "L2-CMDLINE $(cat /proc/cmdline)"
echo "L2-UPTIME $(cut -d' ' -f1 /proc/uptime)"

if [ "$(cmdline_value lab.input)" = 1 ]; then
	# Canonical mode, no echo: the only copy of the line is ours.
	stty -echo 2>/dev/null
	echo "L2-INPUT-READY"
	if read -t 60 -r line; then echo "L2-INPUT-GOT $line"; else echo "L2-INPUT-NONE"; fi
fi

[ "$(cmdline_value lab.devs)" = 1 ] && check_devices

case $(cmdline_value lab.end) in
reboot)
	echo "L2-END reboot"
	reboot -f ;;
panic)
	echo "L2-END panic"
	echo c >/proc/sysrq-trigger ;;
shell)
	# Said by the shell itself, once it is about to read: input sent on this
	# cue is not echoed early by the tty.
	mkdir -p /etc
	echo 'echo "L2-SHELL-READY (poweroff -f or exit to leave)"' >/etc/profile
	setsid cttyhack sh -l
	poweroff -f ;;
*)
	echo "L2-END poweroff"
	poweroff -f ;;
esac
