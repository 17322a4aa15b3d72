#!/bin/sh
# /init of the L2 guest (busybox, the virtio/pvpanic modules, e2fsprogs). Prints
# machine-parsable "L2-..." lines about the machine it finds, then ends as
# /proc/cmdline asks:
#   lab.input=1        print L2-INPUT-READY, read one console line, echo it back
#   lab.devs=1         exercise the virtio disks, the entropy device and report
#                      the negotiated virtio features (see check_devices)
#   lab.net=tap|user   bring up eth0 (virtio-net) and exchange traffic with L1
#                      (see check_net); lab.mtu=N is the MTU alioth was given
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

# --- network (lab.net) ---------------------------------------------------------
# L1 is 10.0.2.2: the TAP's address, or libslirp's gateway (L1's loopback).
# L1 listens on 5001 (and 5003) for a file; L2 listens on 5002 for one from L1
# and, with user networking, on 2222 (host-forwarded) to serve a token.

wait_pid() {   # PID SECONDS: 0 if PID ended within SECONDS (then it is reaped)
	n=$(($2 * 5))
	while kill -0 "$1" 2>/dev/null; do
		if [ $n -le 0 ]; then kill "$1" 2>/dev/null; return 1; fi
		n=$((n - 1))
		sleep 0.2
	done
	wait "$1" 2>/dev/null
	return 0
}

wait_listen() {   # PORT: a TCP listener on PORT exists (within 5 s)
	n=25
	until netstat -ltn 2>/dev/null | grep -q ":$1 "; do
		[ $n -gt 0 ] || return 1
		n=$((n - 1))
		sleep 0.2
	done
}

md5() { md5sum <"$1" | cut -d' ' -f1; }
ping_summary() {
	sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\)\( packets\)* received.*/sent=\1 received=\2/p'
}
elapsed() { awk -v a="$1" -v b="$(cut -d' ' -f1 /proc/uptime)" 'BEGIN { printf "%.1f", b - a }'; }

# Interrupts per virtqueue (MSI-X vector names such as virtio2-input.0):
# "input.0=N output.0=N ..."; empty when the queues share a vector.
queue_irqs() {   # VIRTIO-DEV
	awk -v d="$1" '$NF ~ "^" d "-(input|output)\\." {
		n = 0
		for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i
		sub("^" d "-", "", $NF)
		printf "%s=%d ", $NF, n
	}' /proc/interrupts
}

report_net_dev() {
	d=/sys/class/net/eth0
	if [ ! -e $d/device ]; then
		echo "L2-NET-DEV none"
		return 1
	fi
	NET_VDEV=$(basename "$(readlink $d/device)")
	echo "L2-NET-DEV eth0 driver=$(basename "$(readlink $d/device/driver)") mac=$(cat $d/address) mtu=$(cat $d/mtu) rxq=$(ls -d $d/queues/rx-* | wc -l) txq=$(ls -d $d/queues/tx-* | wc -l)"
	echo "L2-NET-FEATURES $(cat $d/device/features)"
}

# Error and drop counters of eth0, all of them (they should stay 0).
report_net_counters() {
	c=""
	for f in /sys/class/net/eth0/statistics/*; do
		case ${f##*/} in *error* | *dropped* | *fifo* | collisions) c="$c ${f##*/}=$(cat "$f")" ;; esac
	done
	echo "L2-NET-COUNTERS$c"
	echo "L2-NET-PACKETS rx=$(cat /sys/class/net/eth0/statistics/rx_packets) tx=$(cat /sys/class/net/eth0/statistics/tx_packets)"
}

# L2 -> L1: FLOWS files of NET_FILE_MIB MiB at once, flow i pinned to CPU i
# (with MQ, virtio_net's XPS maps CPU i to transmit queue i, and L1's TAP sends
# the replies of a flow back on the queue it came from).
send_files() {   # FLOWS
	pids=""
	for i in $(seq 0 $(($1 - 1))); do
		dd if=/dev/urandom of=/tmp/out$i bs=1M count="$NET_FILE_MIB" 2>/dev/null
		echo "L2-NET-SENT flow$i md5=$(md5 /tmp/out$i)"
	done
	t0=$(cut -d' ' -f1 /proc/uptime)
	for i in $(seq 0 $(($1 - 1))); do
		taskset -c "$i" nc 10.0.2.2 $((5001 + 2 * i)) </tmp/out$i &
		pids="$pids $!"
	done
	st=""
	for p in $pids; do
		if wait_pid "$p" 120; then st="${st}ok "; else st="${st}timeout "; fi
	done
	echo "L2-NET-SEND-DONE $st seconds=$(elapsed "$t0")"
	rm -f /tmp/out*
}

udhcpc_script() {
	cat >/tmp/udhcpc.script <<-'EOF'
		#!/bin/sh
		# udhcpc's hook: configure eth0 from the lease and say what it was.
		case $1 in
		bound | renew)
			ifconfig "$interface" "$ip" netmask "$subnet" up
			for r in $router; do route add default gw "$r" dev "$interface"; break; done
			for d in $dns; do echo "nameserver $d"; done >/etc/resolv.conf
			echo "ip=$ip subnet=$subnet router=$router dns=$dns" >/tmp/lease
			;;
		esac
	EOF
	chmod +x /tmp/udhcpc.script
}

check_net() {   # tap|user
	kind=$1 flows=1 NET_FILE_MIB=8
	report_net_dev || { echo "L2-NET-DONE"; return; }
	# One flow per queue pair the driver uses (a vCPU each).
	[ -e /sys/class/net/eth0/queues/rx-1 ] && [ "$(nproc)" -gt 1 ] && flows=2
	ip link set lo up
	ip link set eth0 up
	if [ "$kind" = user ]; then
		mkdir -p /etc
		udhcpc_script
		udhcpc -i eth0 -n -q -t 5 -T 2 -s /tmp/udhcpc.script >/tmp/udhcpc.log 2>&1 ||
			sed 's/^/L2-UDHCPC-LOG /' /tmp/udhcpc.log
		echo "L2-DHCP $(cat /tmp/lease 2>/dev/null)"
		echo "L2-NET-ROUTE $(ip route | grep '^default' | sed -n 1p)"
		echo "L2-NET-RESOLV $(cat /etc/resolv.conf 2>/dev/null | tr '\n' ' ')"
	else
		ip addr add 10.0.2.15/24 dev eth0
	fi
	irq0=$(queue_irqs "$NET_VDEV")
	echo "L2-NET-PING-OUT $(ping -c 3 -i 0.3 -W 5 10.0.2.2 2>&1 | ping_summary)"
	if [ "$(cat /sys/class/net/eth0/mtu)" -gt 1500 ]; then
		echo "L2-NET-JUMBO-OUT $(ping-df -M do -s 8972 -c 3 -i 0.3 -W 5 10.0.2.2 2>&1 | ping_summary)"
	fi
	if [ "$kind" = user ]; then
		# (busybox 1.35's wget -T crashes: timeout instead)
		echo "L2-NET-WGET $(timeout 20 wget -q -O - http://10.0.2.2:8080/lab.txt 2>&1 | head -c 200 | tr '\n' ' ')"
	fi
	send_files "$flows"
	# L1 -> L2, after L1 pinged us (tap) or fetched the token (user).
	[ -p /tmp/hold ] || mkfifo /tmp/hold
	exec 4<>/tmp/hold
	nc -l -p 5002 >/tmp/in <&4 &
	rx=$!
	if [ "$kind" = user ]; then
		token=lab-token-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')
		echo "L2-NET-TOKEN $token"
		echo "$token" >/tmp/token
		nc -l -p 2222 </tmp/token >/dev/null &
		fwd=$!
		wait_listen 2222 || echo "L2-NET-NOT-LISTENING 2222"
	fi
	wait_listen 5002 || echo "L2-NET-NOT-LISTENING 5002"
	echo "L2-NET-CUE $kind"
	[ "$kind" = user ] && { wait_pid "$fwd" 30 || echo "L2-NET-HOSTFWD-TIMEOUT"; }
	if wait_pid "$rx" 100; then st=ok; else st=timeout; fi
	echo "L2-NET-RECEIVED $st md5=$(md5 /tmp/in) bytes=$(wc -c </tmp/in)"
	echo "L2-NET-IRQS-BEFORE $irq0"
	echo "L2-NET-IRQS-AFTER $(queue_irqs "$NET_VDEV")"
	report_net_counters
	dmesg | grep -iE 'virtio|eth0|net_failover|NETDEV WATCHDOG|tx timeout|bad gso|hw csum' |
		grep -iE 'error|fail|bad|broken|invalid|timeout|timed out|unexpected|dropp' |
		sed 's/^/L2-KERNEL-COMPLAINT /' | head -20
	echo "L2-NET-DONE"
}

# One line per CPU: the topology Linux derived from CPUID (sysfs) and what
# /proc/cpuinfo says about it, so that L1 can compare with alioth's promise.
report_cpus() {
	# On AMD, Linux reads SMT topology only when the CPU has TOPOEXT; the
	# lab's emulated L1 CPU lacks it (QEMU's TCG cannot provide it).
	echo "L2-CPUID vendor=$(awk -F': *' '/^vendor_id/ {print $2; exit}' /proc/cpuinfo)" \
		"topoext=$(grep -qw topoext /proc/cpuinfo && echo 1 || echo 0)"
	awk -F': *' '/^processor/ { p = $2 } /^apicid/ { a[p] = $2 }
		/^siblings/ { s[p] = $2 } /^cpu cores/ { c[p] = $2 }
		END { for (p in a) print p, a[p], s[p], c[p] }' /proc/cpuinfo | sort -n |
		while read -r n apicid siblings cores; do
			t=/sys/devices/system/cpu/cpu$n/topology
			echo "L2-CPU cpu$n pkg=$(cat $t/physical_package_id) core=$(cat $t/core_id) threads=$(cat $t/thread_siblings_list) apicid=$apicid siblings=$siblings cores=$cores"
		done
}

load_modules
echo "L2-USERSPACE-OK"
echo "L2-NPROC $(nproc)"
echo "L2-MEMTOTAL-KB $(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)"
echo "L2-CMDLINE $(cat /proc/cmdline)"
echo "L2-UPTIME $(cut -d' ' -f1 /proc/uptime)"
report_cpus

if [ "$(cmdline_value lab.input)" = 1 ]; then
	# Canonical mode, no echo: the only copy of the line is ours.
	stty -echo 2>/dev/null
	echo "L2-INPUT-READY"
	if read -t 60 -r line; then echo "L2-INPUT-GOT $line"; else echo "L2-INPUT-NONE"; fi
fi

[ "$(cmdline_value lab.devs)" = 1 ] && check_devices
net=$(cmdline_value lab.net)
[ -n "$net" ] && check_net "$net"

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
