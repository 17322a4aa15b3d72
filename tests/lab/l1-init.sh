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
		*L2-NET-CUE\ *)
			# L2's side is ready (listeners up): L1's active part, now.
			lab_net_cue "$name" "${line##*L2-NET-CUE }" </dev/null ;;
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

# --- network boots -------------------------------------------------------------
# L1 is the host: a TAP (10.0.2.2/24) for --net tap, its loopback for --net user.
# Ports: 5001 (and 5003 for the second flow of a multi-queue boot) receive a
# file from L2; L2 listens on 5002 for one from L1 and, with user networking, on
# 2222 for the host-forward token. A FIFO held open read-write is the stdin of
# every receiving nc: busybox nc quits when its stdin ends, and a receiver must
# not half-close before the sender is done.
NET_FILE_MIB=8

lab_hold_fifo() {
	[ -p /tmp/hold ] || mkfifo /tmp/hold
	exec 4<>/tmp/hold
}

lab_tap_up() {   # IF QP MTU
	mq=""
	[ "$2" -gt 1 ] && mq=multi_queue
	ip-full tuntap add dev "$1" mode tap $mq || echo "LAB-TAP-FAILED add"
	ip link set "$1" mtu "$3" || echo "LAB-TAP-FAILED mtu"
	ip addr add 10.0.2.2/24 dev "$1" || echo "LAB-TAP-FAILED addr"
	ip link set "$1" up || echo "LAB-TAP-FAILED up"
	TAP_MQ=$mq
}

lab_tap_down() {   # NAME IF
	st=/sys/class/net/$2/statistics
	echo "LAB-NET $1 $2 rx_packets=$(cat $st/rx_packets) tx_packets=$(cat $st/tx_packets) tx_dropped=$(cat $st/tx_dropped)"
	ip-full tuntap del dev "$2" mode tap $TAP_MQ || echo "LAB-TAP-FAILED del"
}

# Before the boot: the receivers, the file for L2, the web page (user).
lab_net_start() {   # NAME KIND FLOWS
	lab_hold_fifo
	NET_PIDS=""
	nc -l -p 5001 >"/tmp/$1-from-l2" <&4 &
	NET_PIDS="$!"
	if [ "$3" -gt 1 ]; then
		nc -l -p 5003 >"/tmp/$1-from-l2-b" <&4 &
		NET_PIDS="$NET_PIDS $!"
	fi
	dd if=/dev/urandom of="/tmp/$1-to-l2" bs=1M count=$NET_FILE_MIB 2>/dev/null
	echo "LAB-NET $1 to-l2 md5=$(md5sum <"/tmp/$1-to-l2" | cut -d' ' -f1)"
	if [ "$2" = user ]; then
		ip link set lo up
		mkdir -p /tmp/www
		echo "lab-page-$1-$(uptime_s)" >/tmp/www/lab.txt
		echo "LAB-NET $1 page $(cat /tmp/www/lab.txt)"
		httpd -f -p 127.0.0.1:8080 -h /tmp/www &
		NET_HTTPD=$!
	fi
}

lab_elapsed() {   # T0 -> seconds since T0 (uptime_s)
	awk -v a="$1" -v b="$(uptime_s)" 'BEGIN { printf "%.1f", b - a }'
}

# busybox ping's and iputils' summary: "sent=N received=N".
lab_ping_summary() {
	sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\)\( packets\)* received.*/sent=\1 received=\2/p'
}

# L2 said "L2-NET-CUE tap|user": L1 reaches L2 now.
lab_net_cue() {   # NAME KIND
	case $2 in
	tap)
		echo "LAB-NET $1 ping-in $(ping -c 3 -i 0.3 -W 5 10.0.2.15 2>&1 | lab_ping_summary)"
		if [ "$(cat /sys/class/net/tap0/mtu)" -gt 1500 ]; then
			echo "LAB-NET $1 jumbo-in $(ping-df -M do -s 8972 -c 3 -i 0.3 -W 5 10.0.2.15 2>&1 | lab_ping_summary)"
		fi
		dest="10.0.2.15 5002" ;;
	user)
		echo "LAB-NET $1 hostfwd $(timeout 20 nc 127.0.0.1 2222 <&4)"
		dest="127.0.0.1 5002" ;;
	*) echo "LAB-NET $1 unknown-cue $2"; return ;;
	esac
	t0=$(uptime_s)
	# shellcheck disable=SC2086   # host and port
	timeout 120 nc $dest <"/tmp/$1-to-l2"
	echo "LAB-NET $1 to-l2-sent status=$? seconds=$(lab_elapsed "$t0")"
}

# After the boot: what arrived from L2; servers and TAP gone.
lab_net_stop() {   # NAME KIND
	for p in $NET_PIDS; do
		kill "$p" 2>/dev/null && echo "LAB-NET $1 receiver-killed $p"
		wait "$p" 2>/dev/null
	done
	for f in "/tmp/$1-from-l2" "/tmp/$1-from-l2-b"; do
		[ -f "$f" ] || continue
		echo "LAB-NET $1 ${f#/tmp/$1-} md5=$(md5sum <"$f" | cut -d' ' -f1) bytes=$(wc -c <"$f")"
	done
	[ "$2" = user ] && kill "$NET_HTTPD" 2>/dev/null
	[ "$2" = tap ] && lab_tap_down "$1" tap0
	rm -f /tmp/"$1"-*
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
