#!/bin/sh
# /init of the L1 guest (Debian generic kernel under QEMU TCG with nested SVM).
# Loads kvm + kvm-amd, then runs /lab/plan.sh, which calls lab_boot once per alioth
# boot. Every line it prints starts with "LAB-" or with "L2[name]| " (output of boot
# NAME), so that the host can parse the serial log. Powers L1 off at the end.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /tmp
CR=$(printf '\r')

uptime_s() { cut -d' ' -f1 /proc/uptime; }

load_kvm() {
	while read -r m; do
		insmod "/lib/modules/$m" || echo "LAB-INSMOD-FAILED $m"
	done </lib/modules/load-order
	if [ -c /dev/kvm ]; then echo "LAB-KVM ok"; else echo "LAB-KVM missing"; fi
}

# lab_boot NAME INPUT PREFIX ARGS...: runs `alioth ARGS` with its stdin on a FIFO
# and its output (stdout and stderr) line by line through PREFIX. INPUT (a file, or
# "" for none) is written to the FIFO when the guest says it waits for input, so no
# byte reaches the guest's UART before its driver is ready for it.
lab_boot() {
	name=$1 input=$2 prefix=$3
	shift 3
	echo "LAB-BEGIN $name"
	t0=$(uptime_s)
	rm -f /tmp/stdin /tmp/status
	mkfifo /tmp/stdin
	exec 3<>/tmp/stdin   # read-write: opening never blocks, and no EOF for alioth
	{
		timeout "${LAB_TIMEOUT:-120}" /bin/alioth "$@" <&3 3<&- 2>&1
		echo $? >/tmp/status
	} | while IFS= read -r line || [ -n "$line" ]; do
		line=${line%"$CR"}
		echo "$prefix$line"
		case $line in
		*L2-INPUT-READY* | *L2-SHELL-READY*)
			[ -n "$input" ] && cat "$input" >&3 ;;
		esac
	done
	exec 3<&-
	echo "LAB-EXIT $name $(cat /tmp/status)"
	echo "LAB-TIME $name $(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }')"
}

# Disk images for alioth's --blk, in L1's RAM. A read-only one starts with a
# signature L2 must read back; its md5 is printed to prove nothing changed it.
lab_disk_rw() {   # PATH MIB
	rm -f "$1"
	truncate -s "${2}M" "$1"
}
lab_disk_ro() {   # NAME PATH MIB
	lab_disk_rw "$2" "$3"
	printf 'LAB-RO-SIGNATURE' | dd of="$2" conv=notrunc 2>/dev/null
	echo "LAB-RODISK $1 before $(md5sum <"$2" | cut -d' ' -f1)"
}
# After the boot: the read-only image's md5 again; the writable image's fsck
# status and the md5 of the file L2 wrote into it, read by debugfs.
lab_disk_report() {   # NAME RW_PATH RO_PATH|-
	[ "$3" = - ] || echo "LAB-RODISK $1 after $(md5sum <"$3" | cut -d' ' -f1)"
	e2fsck -fn "$2" >/tmp/fsck.log 2>&1
	echo "LAB-DISK $1 fsck=$? md5=$(debugfs -R 'cat /lab-file' "$2" 2>/dev/null | md5sum | cut -d' ' -f1)"
	rm -f "$2" "$3"
}

# lab_console ARGS...: alioth with L1's console as its stdio (interactive demo).
lab_console() {
	/bin/alioth "$@"
	echo "LAB-EXIT console $?"
}

echo   # the firmware's last line may lack its newline
echo "LAB-L1-INIT $(uptime_s)"
load_kvm
[ -x /bin/alioth ] || echo "LAB-NO-ALIOTH"
[ -c /dev/kvm ] && [ -x /bin/alioth ] && [ -f /lab/plan.sh ] && . /lab/plan.sh
echo "LAB-L1-DONE $(uptime_s)"
poweroff -f
