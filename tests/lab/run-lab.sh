#!/bin/bash
# The nested lab: proves that alioth boots Debian's stock cloud kernel to userspace
# on a real (hardware-style) KVM, even on a host whose /dev/kvm is PVM. QEMU's
# software emulator runs L1 (Debian generic kernel, nested SVM, kvm-amd); alioth runs
# inside L1 and boots L2 (Debian cloud kernel + busybox initramfs) several times in
# one L1 boot. Prints "PASS name" / "FAIL name: reason" per check and a last line
# "lab: N passed, N failed". Exit 0 if all pass, 1 if not, 77 when skipped.
#
# Usage: run-lab.sh [BOOT...]     (default: every boot in BOOTS below; "net" is
#   every network boot)
# Environment: ALIOTH_BIN (else newest build*/alioth, built with meson if none),
#   ALIOTH_LAB_CACHE (downloads), ALIOTH_LAB_OUT (images and serial log; default
#   $ALIOTH_LAB_CACHE/run), ALIOTH_LAB_TIMEOUT (whole QEMU run, seconds; default 480),
#   ALIOTH_LAB_BOOT_TIMEOUT (one alioth run inside L1, seconds; default 60),
#   ALIOTH_LAB_NET_BOOT_TIMEOUT (the same for a network boot; default 150),
#   ALIOTH_LAB_LOG (no boot: only check this serial log of an earlier run).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache=$(realpath -m "${ALIOTH_LAB_CACHE:-$here/cache}")
out=$(realpath -m "${ALIOTH_LAB_OUT:-$cache/run}")
SKIP=77
L2_CMDLINE_BASE="console=ttyS0 quiet"
L2_INPUT="hello-from-l1-$$"

# One alioth boot per entry: name, vCPUs, MiB, kernel form, how L2 ends, whether
# a console line is fed to it, which devices it gets (DEVICES below), which
# network (NETS below). Expected exit statuses: src/util/exit_status.h.
BOOTS=(
	"count1 1 512 bzimage poweroff input - -"
	"count2 2 256 bzimage reboot - - -"
	"pvh 1 512 pvh poweroff - - -"
	"devs 1 256 bzimage panic - two-disks -"
	"devs2 2 256 bzimage poweroff - mio-mq -"
	"net-tap 1 256 bzimage poweroff - - tap"
	"net-mq 2 256 bzimage poweroff - - tap-mq-jumbo"
	"net-user 1 256 bzimage poweroff - - user"
	"topo 4 256 bzimage poweroff - - -"
)
# CPU topologies (Alioth's topology object: smt, cores, sockets,
# thread_contiguous) for the boots that have one; the others take the default.
declare -A TOPOLOGIES=(
	[topo]="smt=on,cores=2,sockets=1"
)
declare -A END_STATUS=([poweroff]=0 [reboot]=4 [panic]=3)

# Device sets: "rw-MiB ro-MiB|- entropy|- pvpanic|- extra --blk options for the
# writable disk". The disk images live in L1's RAM (tmpfs).
declare -A DEVICES=(
	[two-disks]="64 8 entropy pvpanic -"
	[mio-mq]="32 - entropy - api=mio,num_queues=2,packed=false"
)

# Networks: "backend queue-pairs MTU MAC". A TAP is tap0 in L1 (10.0.2.2/24,
# made before the boot with the same queue pairs and MTU); user networking
# forwards L1's 127.0.0.1:2222 and :5002 to the same ports of L2.
declare -A NETS=(
	[tap]="tap 1 1500 06:3a:76:53:da:01"
	[tap-mq-jumbo]="tap 2 9000 06:3a:76:53:da:02"
	[user]="user 1 1500 06:3a:76:53:da:03"
)
NET_FILE_BYTES=$((8 * 1048576))   # NET_FILE_MIB in l1-init.sh and l2-init.sh

skip() {
	echo "lab: SKIPPED: $*" >&2
	echo "lab: 0 passed, 0 failed, 1 skipped"
	exit $SKIP
}

# --- result bookkeeping ------------------------------------------------------
passed=0 failed=0
pass() { echo "PASS $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); }
expect_eq() {   # NAME WHAT GOT WANT
	if [ "$3" = "$4" ]; then pass "$1"; else fail "$1" "$2 is '${3:-<none>}', expected '$4'"; fi
}

# --- alioth --------------------------------------------------------------------
find_alioth() {
	if [ -n "${ALIOTH_BIN:-}" ]; then
		[ -x "$ALIOTH_BIN" ] || { echo "lab: ALIOTH_BIN=$ALIOTH_BIN is not executable" >&2; return 1; }
		realpath "$ALIOTH_BIN"
		return
	fi
	local newest
	newest=$(ls -t "$repo"/build*/alioth 2>/dev/null | sed -n 1p || true)
	if [ -z "$newest" ]; then
		echo "lab: no build*/alioth; building build-lab" >&2
		(cd "$repo" && { [ -d build-lab ] || meson setup build-lab >&2; } && ninja -C build-lab >&2) ||
			return 1
		newest=$repo/build-lab/alioth
	fi
	echo "$newest"
}

# --- the L1 plan ---------------------------------------------------------------
l2_cmdline() {   # END INPUT DEVICES NET
	local c="$L2_CMDLINE_BASE"
	# A crash must stay a crash: with panic=-1 the kernel would reboot at once.
	[ "$1" = panic ] || c+=" panic=-1"
	c+=" lab.end=$1"
	[ "$2" = input ] && c+=" lab.input=1"
	[ "${3:--}" = - ] || c+=" lab.devs=1"
	[ "${4:--}" = - ] || c+=" lab.net=${NETS[$4]%% *}"
	echo "$c"
}

# alioth's device flags for boot NAME, and the L1 commands that make its disks.
device_args() {   # NAME DEVICES
	local rw ro entropy pvpanic extra a
	read -r rw ro entropy pvpanic extra <<<"${DEVICES[$2]}"
	a="--blk file,path=/tmp/$1-rw.img"
	[ "$extra" = - ] || a+=",$extra"
	[ "$ro" = - ] || a+=" --blk file,path=/tmp/$1-ro.img,readonly=true"
	[ "$entropy" = - ] || a+=" --entropy"
	[ "$pvpanic" = - ] || a+=" --pvpanic"
	echo "$a"
}

# alioth's --net flag (quoted for the plan's shell: hostfwd rules hold ';').
net_args() {   # NET
	local backend qp mtu mac
	read -r backend qp mtu mac <<<"${NETS[$1]}"
	if [ "$backend" = tap ]; then
		echo "--net 'tap,if=tap0,mac=$mac,mtu=$mtu,qp=$qp'"
	else
		echo "--net 'user,mac=$mac,mtu=$mtu,hostfwd=tcp:127.0.0.1:2222-:2222;tcp:127.0.0.1:5002-:5002'"
	fi
}

net_flows() {   # NET CPUS -> parallel transfers L2 makes: one per queue pair it uses
	local qp
	read -r _ qp _ <<<"${NETS[$1]}"
	[ "$qp" -gt "$2" ] && qp=$2
	echo "$qp"
}

# alioth's --cpu flag for boot NAME.
cpu_args() {   # NAME CPUS
	if [ -n "${TOPOLOGIES[$1]:-}" ]; then
		echo "-p count=$2,topology=id_topo -o id_topo,${TOPOLOGIES[$1]}"
	else
		echo "-p count=$2"
	fi
}

# /lab/plan.sh for L1's /init: one lab_boot line per selected boot.
write_plan() {   # FILE BOOT-ENTRY...
	local file=$1 entry name cpus mib kind end input devs net kernel_args feed rw ro ro_path
	local backend qp mtu
	shift
	: >"$file"
	for entry in "$@"; do
		read -r name cpus mib kind end input devs net <<<"$entry"
		net=${net:--}
		if [ "$net" = - ]; then
			echo "LAB_TIMEOUT=${ALIOTH_LAB_BOOT_TIMEOUT:-60}" >>"$file"
		else
			echo "LAB_TIMEOUT=${ALIOTH_LAB_NET_BOOT_TIMEOUT:-150}" >>"$file"
		fi
		if [ "$kind" = pvh ]; then kernel_args="--pvh /lab/vmlinux"; else kernel_args="-k /lab/vmlinuz"; fi
		feed=""
		[ "$input" = input ] && feed=/lab/input
		if [ "$devs" != - ]; then
			read -r rw ro _ <<<"${DEVICES[$devs]}"
			echo "lab_disk_rw /tmp/$name-rw.img $rw" >>"$file"
			[ "$ro" = - ] || echo "lab_disk_ro $name /tmp/$name-ro.img $ro" >>"$file"
			kernel_args+=" $(device_args "$name" "$devs")"
		fi
		if [ "$net" != - ]; then
			read -r backend qp mtu _ <<<"${NETS[$net]}"
			[ "$backend" = tap ] && echo "lab_tap_up tap0 $qp $mtu" >>"$file"
			echo "lab_net_start $name $backend $(net_flows "$net" "$cpus")" >>"$file"
			kernel_args+=" $(net_args "$net")"
		fi
		printf "lab_boot %s '%s' 'L2[%s]| ' boot %s -i /lab/initramfs %s --memory size=%sM -c '%s'\n" \
			"$name" "$feed" "$name" "$kernel_args" "$(cpu_args "$name" "$cpus")" "$mib" "$(l2_cmdline "$end" "$input" "$devs" "$net")" >>"$file"
		[ "$net" = - ] || echo "lab_net_stop $name $backend" >>"$file"
		if [ "$devs" != - ]; then
			[ "$ro" = - ] && ro_path=- || ro_path=/tmp/$name-ro.img
			echo "lab_disk_report $name /tmp/$name-rw.img $ro_path" >>"$file"
		fi
	done
}

# --- parsing the serial log -----------------------------------------------------
topo_key() {   # "k=v,k=v" KEY DEFAULT -> value of KEY
	local v
	v=$(tr ',' '\n' <<<"$1" | sed -n "s/^$2=//p" | sed -n 1p)
	echo "${v:-$3}"
}

bits_for() {   # N -> bits needed to number N things (src/arch/x86/cpuid.c)
	local b=0
	while [ $((1 << b)) -lt "$1" ]; do b=$((b + 1)); done
	echo "$b"
}

# The L2-CPU lines Linux should print for TOPOLOGY with CPUS vCPUs: APIC IDs as
# x86_apic_id() in src/arch/x86/cpuid.c numbers them (Linux's cpuN is alioth's
# vCPU N: the MADT lists them in that order, boot CPU first); the package and
# core from the APIC ID's fields; siblings = logical CPUs per package.
# With NOSMT (an AMD CPU without TOPOEXT) Linux cannot learn the SMT level:
# each thread is a core of its own, numbered by its APIC ID within the package.
expected_cpus() {   # TOPOLOGY CPUS [NOSMT]
	local t=$1 n=$2 nosmt=${3:-} threads=1 cores sockets contig smt_bits core_bits i j
	[[ $(topo_key "$t" smt off) =~ ^(on|true)$ ]] && threads=2
	sockets=$(topo_key "$t" sockets 1)
	cores=$(topo_key "$t" cores $((n / sockets / threads)))
	contig=$(topo_key "$t" thread_contiguous off)
	smt_bits=$(bits_for $threads) core_bits=$(bits_for "$cores")
	local -a apic pkg core
	for ((i = 0; i < n; i++)); do
		local th co so
		if [[ $contig =~ ^(on|true)$ ]]; then
			th=$((i % threads)) co=$((i / threads % cores)) so=$((i / threads / cores))
		else
			th=$((i / (cores * sockets))) co=$((i % (cores * sockets) % cores)) so=$((i % (cores * sockets) / cores))
		fi
		apic[i]=$(((so << (core_bits + smt_bits)) | (co << smt_bits) | th))
		pkg[i]=$so core[i]=$co
		[ -n "$nosmt" ] && core[i]=$((apic[i] & ((1 << (core_bits + smt_bits)) - 1)))
	done
	local shown_cores=$cores
	[ -n "$nosmt" ] && shown_cores=$((threads * cores))
	for ((i = 0; i < n; i++)); do
		local sib=""
		for ((j = 0; j < n; j++)); do
			[ "${pkg[j]}" = "${pkg[i]}" ] && [ "${core[j]}" = "${core[i]}" ] && sib+="$j,"
		done
		echo "cpu$i pkg=${pkg[i]} core=${core[i]} threads=${sib%,} apicid=${apic[i]} siblings=$((threads * cores)) cores=$shown_cores"
	done
}

# Linux's view of the topology (sysfs and /proc/cpuinfo) against alioth's promise.
check_topology() {   # LOG NAME CPUS
	local got want
	got=$(l2_lines "$1" "$2" L2-CPU | grep '^cpu')
	local nosmt=""
	l2_lines "$1" "$2" L2-CPUID | grep -q 'vendor=AuthenticAMD topoext=0' && nosmt=1
	want=$(expected_cpus "${TOPOLOGIES[$2]}" "$3" $nosmt)
	[ -n "$nosmt" ] && echo "INFO $2: the CPU has no TOPOEXT: Linux cannot see SMT; checking APIC IDs and cores"
	if [ "$got" = "$want" ]; then
		pass "$2-topology"
	else
		fail "$2-topology" "L2 sees '$(tr '\n' ';' <<<"$got")', expected '$(tr '\n' ';' <<<"$want")'"
	fi
	echo "INFO $2: L2 CPUs: $(tr '\n' ';' <<<"$got")"
}
l2_value() {   # LOG BOOT KEY -> rest of the first "L2[BOOT]| KEY rest" line
	sed -n "s/^L2\[$2\]| $3 //p" "$1" | sed -n 1p
}

l2_lines() {   # LOG BOOT KEY -> the rest of every "L2[BOOT]| KEY rest" line
	sed -n "s/^L2\[$2\]| $3 //p" "$1"
}

# The device checks of a lab.devs=1 boot (see check_devices in l2-init.sh).
check_devices() {   # LOG NAME DEVICES CPUS
	local log=$1 name=$2 cpus=$4 rw ro entropy pvpanic extra got want line
	read -r rw ro entropy pvpanic extra <<<"${DEVICES[$3]}"
	if ! grep -q "^L2\[$name\]| L2-DEVS-DONE" "$log"; then
		fail "$name-devices" "L2 did not finish its device checks (L2-DEVS-DONE missing)"
		return
	fi
	# Which drivers bound: one virtio-blk per disk, one virtio-rng.
	local nblk=1 nrng=0
	[ "$ro" = - ] || nblk=2
	[ "$entropy" = - ] || nrng=1
	got="blk=$(l2_lines "$log" "$name" L2-VIRTIO | grep -c 'device=0x0002 .*driver=virtio_blk')"
	got+=" rng=$(l2_lines "$log" "$name" L2-VIRTIO | grep -c 'device=0x0004 .*driver=virtio_rng')"
	expect_eq "$name-virtio-drivers" "virtio devices bound to their drivers" "$got" "blk=$nblk rng=$nrng"
	# Linux negotiates VIRTIO_F_RING_PACKED whenever the device offers it;
	# packed=false on --blk must leave the disks on split rings.
	got=$(l2_lines "$log" "$name" L2-VIRTIO | sed -n 's/.* device=\([0-9a-fx]*\) packed=\([01]\) .*/\1:\2/p' |
		sort -u | tr '\n' ' ')
	want="0x0002:1 "
	[[ "$extra" == *packed=false* ]] && want="0x0002:0 "
	[ "$ro" != - ] && [[ "$extra" == *packed=false* ]] && want="0x0002:0 0x0002:1 "
	[ "$entropy" = - ] || want+="0x0004:1 "
	expect_eq "$name-ring-format" "virtio device:RING_PACKED negotiated" "$got" "$want"
	# Sizes as the guest sees them, the read-only flag, the request queues
	# (num_queues, capped by the vCPU count).
	local queues=1
	[[ "$extra" =~ num_queues=([0-9]+) ]] && queues=${BASH_REMATCH[1]}
	[ "$queues" -gt "$cpus" ] && queues=$cpus
	got=$(l2_lines "$log" "$name" L2-BLK | sed 's/^[^ ]* //' | sort | tr '\n' ' ')
	want="bytes=$((rw * 1048576)) ro=0 queues=$queues"
	[ "$ro" = - ] || want+=$'\n'"bytes=$((ro * 1048576)) ro=1 queues=1"
	want=$(sort <<<"$want" | tr '\n' ' ')
	expect_eq "$name-blk-disks" "disks (size, ro, queues)" "$got" "$want"
	# ext4 made, written, read back cold and fsck-clean inside L2 ...
	line=$(l2_lines "$log" "$name" L2-FS | sed -n 1p)
	if [[ "$line" == *" mkfs=0 fsck=0 readback=ok md5="* ]]; then pass "$name-ext4"; else fail "$name-ext4" "L2-FS '${line:-<none>}'"; fi
	# ... and the same file, fsck-clean, in the image file after alioth exited.
	local l2_md5 l1_line
	l2_md5=${line##*md5=}
	l1_line=$(sed -n "s/^LAB-DISK $name //p" "$log")
	expect_eq "$name-image-durable" "image after the boot (fsck, md5 of L2's file)" "$l1_line" "fsck=0 md5=$l2_md5"
	if [ "$ro" != - ]; then
		got=$(l2_lines "$log" "$name" L2-RO | sed 's/^[^ ]* //')
		expect_eq "$name-ro-disk" "read-only disk (signature, write)" "$got" "sig=LAB-RO-SIGNATURE write=refused"
		local before after
		before=$(sed -n "s/^LAB-RODISK $name before //p" "$log")
		after=$(sed -n "s/^LAB-RODISK $name after //p" "$log")
		expect_eq "$name-ro-image-unchanged" "md5 of the read-only image after the boot" "$after" "${before:-<before missing>}"
	fi
	if [ "$entropy" != - ]; then
		line=$(l2_value "$log" "$name" L2-HWRNG)
		local first second
		first=$(sed -n 's/.*first=\([0-9a-f]*\).*/\1/p' <<<"$line")
		second=$(sed -n 's/.*second=\([0-9a-f]*\).*/\1/p' <<<"$line")
		if [[ "$line" == current=virtio_rng.* ]] && [ ${#first} -eq 32 ] && [ ${#second} -eq 32 ] &&
			[ "$first" != "$second" ] && [ "$first" != 00000000000000000000000000000000 ]; then
			pass "$name-hwrng"
		else
			fail "$name-hwrng" "L2-HWRNG '${line:-<none>}' (want virtio_rng current, two different 16-byte reads)"
		fi
	fi
	got=$(l2_lines "$log" "$name" L2-KERNEL-COMPLAINT | sed -n 1,3p | tr '\n' '|')
	expect_eq "$name-kernel-quiet" "kernel complaints about the devices" "$got" ""
}

lab_value() {   # LOG BOOT KEY -> rest of the first "LAB-NET BOOT KEY rest" line (L1's side)
	sed -n "s/^LAB-NET $2 $3 //p" "$1" | sed -n 1p
}

# Interrupt count of QUEUE (input.0, ...) from an "input.0=N output.0=N" list.
irq_of() {   # LIST QUEUE
	sed -n "s/.*\(^\| \)$2=\([0-9]*\).*/\2/p" <<<"$1"
}

# The network checks of a lab.net boot (see check_net in l2-init.sh and the
# lab_net_* functions in l1-init.sh).
check_net() {   # LOG NAME NET CPUS
	local log=$1 name=$2 cpus=$4 backend qp mtu mac flows got want line features i
	read -r backend qp mtu mac <<<"${NETS[$3]}"
	flows=$(net_flows "$3" "$cpus")
	if ! grep -q "^L2\[$name\]| L2-NET-DONE" "$log"; then
		fail "$name-net" "L2 did not finish its network checks (L2-NET-DONE missing; last L2 line: $(grep "^L2\[$name\]| " "$log" | tail -1 | cut -c1-120))"
		return
	fi
	# The driver, the configuration it read (MAC, MTU: VIRTIO_NET_F_MTU sets
	# eth0's MTU), the queue pairs in use and VIRTIO_NET_F_MQ (bit 22).
	features=$(l2_value "$log" "$name" L2-NET-FEATURES)
	got="$(l2_value "$log" "$name" L2-NET-DEV) mq=${features:22:1}"
	local want_mq=0
	[ "$qp" -gt 1 ] && want_mq=1
	local pairs=$qp
	[ "$pairs" -gt "$cpus" ] && pairs=$cpus
	expect_eq "$name-net-device" "eth0 (driver, MAC, MTU, queues, MQ)" "$got" \
		"eth0 driver=virtio_net mac=$mac mtu=$mtu rxq=$pairs txq=$pairs mq=$want_mq"
	if [ "$backend" = user ]; then
		expect_eq "$name-dhcp" "udhcpc's lease" "$(l2_value "$log" "$name" L2-DHCP)" \
			"ip=10.0.2.15 subnet=255.255.255.0 router=10.0.2.2 dns=10.0.2.3"
	fi
	expect_eq "$name-ping-out" "L2's ping of 10.0.2.2" "$(l2_value "$log" "$name" L2-NET-PING-OUT)" "sent=3 received=3"
	[ "$backend" != tap ] ||
		expect_eq "$name-ping-in" "L1's ping of 10.0.2.15" "$(lab_value "$log" "$name" ping-in)" "sent=3 received=3"
	if [ "$mtu" -gt 1500 ]; then
		expect_eq "$name-jumbo-out" "L2's ping -M do -s $((mtu - 28))" "$(l2_value "$log" "$name" L2-NET-JUMBO-OUT)" "sent=3 received=3"
		expect_eq "$name-jumbo-in" "L1's ping -M do -s $((mtu - 28))" "$(lab_value "$log" "$name" jumbo-in)" "sent=3 received=3"
	fi
	if [ "$backend" = user ]; then
		got=$(l2_value "$log" "$name" L2-NET-WGET)
		expect_eq "$name-http" "page fetched from L1's 127.0.0.1:8080 as 10.0.2.2:8080" "${got% }" "$(lab_value "$log" "$name" page)"
		expect_eq "$name-hostfwd" "token read by L1 from 127.0.0.1:2222" "$(lab_value "$log" "$name" hostfwd)" \
			"$(l2_value "$log" "$name" L2-NET-TOKEN)"
	fi
	# TCP both ways, 8 MiB per flow, md5 on both ends.
	local suffix=("" "-b")
	got="" want=""
	for ((i = 0; i < flows; i++)); do
		got+="$(lab_value "$log" "$name" "from-l2${suffix[i]}") "
		want+="md5=$(l2_lines "$log" "$name" L2-NET-SENT | sed -n "s/^flow$i md5=//p") bytes=$NET_FILE_BYTES "
	done
	expect_eq "$name-tcp-out" "L2 -> L1 files received by L1 ($flows flows)" "$got" "$want"
	got=$(l2_value "$log" "$name" L2-NET-RECEIVED)
	expect_eq "$name-tcp-in" "L1 -> L2 file received by L2" "$got" "ok $(lab_value "$log" "$name" to-l2) bytes=$NET_FILE_BYTES"
	if [ "$pairs" -gt 1 ]; then
		# Every queue pair carried traffic: its interrupts (one MSI-X vector
		# per virtqueue) went up during the transfers.
		local before after q b a idle=""
		before=$(l2_value "$log" "$name" L2-NET-IRQS-BEFORE)
		after=$(l2_value "$log" "$name" L2-NET-IRQS-AFTER)
		for ((i = 0; i < pairs; i++)); do
			for q in input.$i output.$i; do
				b=$(irq_of "$before" "$q") a=$(irq_of "$after" "$q")
				[ -n "$a" ] && [ "${a:-0}" -gt "${b:-0}" ] || idle+="$q "
			done
		done
		if [ -z "$idle" ]; then pass "$name-queue-pairs"; else fail "$name-queue-pairs" "no interrupts on ${idle% } (before: '$before', after: '$after')"; fi
	fi
	got=$(l2_value "$log" "$name" L2-NET-COUNTERS)
	if [ -n "$got" ] && ! grep -qE '=[1-9]' <<<"$got"; then pass "$name-net-counters"; else fail "$name-net-counters" "eth0 error/drop counters: '${got:-<none>}'"; fi
	got=$(l2_lines "$log" "$name" L2-KERNEL-COMPLAINT | sed -n 1,3p | tr '\n' '|')
	expect_eq "$name-kernel-quiet" "kernel complaints about the network" "$got" ""
	line="$(l2_value "$log" "$name" L2-NET-SEND-DONE)"
	echo "INFO $name: L2 -> L1 $flows x 8 MiB: $line; L1 -> L2 8 MiB: $(lab_value "$log" "$name" to-l2-sent); L2 eth0 $(l2_value "$log" "$name" L2-NET-PACKETS)"
	if [ "$backend" = tap ]; then echo "INFO $name: L1 tap0 $(lab_value "$log" "$name" tap0)"; fi
}

check_boot() {   # LOG BOOT-ENTRY
	local log=$1 name cpus mib kind end input devs net status got min
	read -r name cpus mib kind end input devs net <<<"$2"
	net=${net:--}
	if ! grep -q "^LAB-BEGIN $name\$" "$log"; then
		fail "$name-boot" "L1 never started this boot"
		return
	fi
	status=$(sed -n "s/^LAB-EXIT $name //p" "$log")
	if grep -q "^L2\[$name\]| L2-USERSPACE-OK" "$log"; then
		pass "$name-userspace"
	else
		local last
		last=$(grep "^L2\[$name\]| " "$log" | tail -1 | cut -c1-160)
		fail "$name-userspace" "no L2-USERSPACE-OK (alioth exit status ${status:-none}; last output: ${last:-none})"
		return
	fi
	expect_eq "$name-nproc" "nproc" "$(l2_value "$log" "$name" L2-NPROC)" "$cpus"
	got=$(l2_value "$log" "$name" L2-MEMTOTAL-KB)
	# MemTotal is RAM minus what the kernel keeps for itself: at least 80% of it.
	min=$((mib * 1024 * 8 / 10))
	if [[ "$got" =~ ^[0-9]+$ ]] && [ "$got" -ge "$min" ] && [ "$got" -le $((mib * 1024)) ]; then
		pass "$name-memory"
	else
		fail "$name-memory" "MemTotal ${got:-<none>} kB, expected $min..$((mib * 1024)) kB for ${mib}M"
	fi
	expect_eq "$name-cmdline" "/proc/cmdline" "$(l2_value "$log" "$name" L2-CMDLINE)" "$(l2_cmdline "$end" "$input" "$devs" "$net")"
	[ -z "${TOPOLOGIES[$name]:-}" ] || check_topology "$log" "$name" "$cpus"
	[ "$devs" = - ] || check_devices "$log" "$name" "$devs" "$cpus"
	[ "$net" = - ] || check_net "$log" "$name" "$net" "$cpus"
	[ "$input" = input ] &&
		expect_eq "$name-console-input" "line read by L2" "$(l2_value "$log" "$name" L2-INPUT-GOT)" "$L2_INPUT"
	if [ "$status" = 143 ]; then
		fail "$name-exit-$end" "alioth did not exit by itself; killed by L1's timeout (status 143)"
	else
		expect_eq "$name-exit-$end" "alioth exit status" "$status" "${END_STATUS[$end]}"
	fi
	local t
	t=$(sed -n "s/^LAB-TIME $name //p" "$log")
	echo "INFO $name: alioth ran ${t:-?} s (L1 guest time)"
}

main() {
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
	local rc=0
	"$here/prepare.sh" || rc=$?
	[ $rc -eq $SKIP ] && skip "the Debian kernel / busybox packages cannot be had (see prepare.sh above)"
	[ $rc -eq 0 ] || { echo "lab: prepare.sh failed ($rc)" >&2; exit 1; }
	# shellcheck source=/dev/null
	. "$cache/lab.env"
	. "$here/lib.sh"

	local selected=() entry
	if [ $# -eq 0 ]; then
		selected=("${BOOTS[@]}")
	else
		local want
		local want n
		for want in "$@"; do
			n=${#selected[@]}
			for entry in "${BOOTS[@]}"; do
				if [ "${entry%% *}" = "$want" ] || { [ "$want" = net ] && [ "${entry##* }" != - ]; }; then
					selected+=("$entry")
				fi
			done
			[ ${#selected[@]} -gt "$n" ] || { echo "lab: unknown boot '$want'; known: ${BOOTS[*]%% *} net" >&2; exit 2; }
		done
	fi

	if [ -n "${ALIOTH_LAB_LOG:-}" ]; then
		out=$(dirname "$ALIOTH_LAB_LOG")
		[ -f "$out/input" ] && L2_INPUT=$(cat "$out/input")
		check_log "$ALIOTH_LAB_LOG" 0 "${selected[@]}"
		summary
	fi

	local alioth
	alioth=$(find_alioth) || { fail build "alioth binary not found and could not be built"; summary; }
	echo "lab: alioth = $alioth"

	mkdir -p "$out"
	exec 9>"$out/.lock"
	flock -n 9 || { echo "lab: waiting for another run using $out" >&2; flock 9; }
	local t0=$SECONDS
	lab_build_l2_initramfs "$out/l2.cpio.gz"
	echo "$L2_INPUT" >"$out/input"
	write_plan "$out/plan.sh" "${selected[@]}"
	lab_build_l1_initramfs "$out/l1.cpio" "$out/l2.cpio.gz" "$alioth" \
		plan.sh="$out/plan.sh" input="$out/input"
	echo "lab: images built in $((SECONDS - t0)) s; booting L1 (serial log: $out/serial.log)"

	t0=$SECONDS
	local qrc=0
	lab_qemu_l1 "$out/l1.cpio" ""
	timeout -k 5 "${ALIOTH_LAB_TIMEOUT:-480}" "${LAB_QEMU[@]}" </dev/null 2>&1 |
		tr -d '\r' >"$out/serial.log" || qrc=$?
	echo "lab: QEMU ran $((SECONDS - t0)) s (status $qrc)"

	check_log "$out/serial.log" "$qrc" "${selected[@]}"
	summary
}

check_log() {   # LOG QEMU-STATUS BOOT-ENTRY...
	local log=$1 qrc=$2 entry
	shift 2
	if grep -q '^LAB-KVM ok' "$log"; then
		pass l1-kvm
	else
		fail l1-kvm "/dev/kvm did not appear in L1 ($(grep -m1 -E '^LAB-(KVM|INSMOD)' "$log" || echo 'L1 never reached /init'))"
	fi
	for entry in "$@"; do check_boot "$log" "$entry"; done
	grep -q '^LAB-L1-DONE' "$log" || fail l1-done "L1 did not finish (timeout or crash; QEMU status $qrc)"
}

summary() {
	[ $failed -eq 0 ] || echo "lab: the whole serial log is $out/serial.log"
	echo "lab: $passed passed, $failed failed"
	if [ $failed -eq 0 ]; then exit 0; else exit 1; fi
}

main "$@"
