#!/bin/bash
# Acceptance test of `alioth vu ... net`: QEMU (TCG) is the vhost-user
# frontend of a virtio-net-pci whose rings `alioth vu` serves over the TAP
# vu0 (10.0.2.2/24). vu0 and alioth live in a network namespace this script
# creates, so no frame leaves it; QEMU only needs the socket. The guest,
# Debian's cloud kernel with virtio_net and busybox, takes 10.0.2.15/24 and:
#   pings 10.0.2.2; is pinged from the namespace;
#   sends 2 MiB of random bytes to the namespace with nc, receives 2 MiB
#   from it; both sides compare SHA-256 sums.
# Boots, each a new connection to the same alioth process (a fresh device
# over the TAP opened again):
#   split    one queue pair, split rings
#   packed   packed rings (packed=on)
#   mq       qp=2 on a multi-queue TAP, 2 vCPUs: Linux asks QEMU for both
#            pairs, QEMU enables their rings, and traffic runs on them
# Checksum and TSO offloads are on both ways, so the transfers carry 64 KiB
# GSO frames through mergeable receive buffers.
# vectors=0 (INTx): QEMU 7.2 under TCG crashes in vhost_net_start with MSI-X
# and a vhost-user netdev. It turns guest-notifier masking off for
# vhost-user net, so unmasking a vector takes the KVM irqfd path, whose
# table TCG never allocated (a NULL dereference in kvm_virtio_pci_irqfd_use;
# vhost-user-blk keeps masking on and is not hit).
# Prints PASS/FAIL lines; exit 0, 1, or 77 (skip) when not root, or QEMU,
# the TAP driver or the kernel cannot be had. Kernel and busybox come from
# the nested-lab cache (tests/lab/prepare.sh fills it).
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
ALIOTH=${ALIOTH_BIN:-$(ls -t "$root"/build*/alioth 2>/dev/null | head -n1)}
QEMU=${QEMU:-qemu-system-x86_64}
BOOT_TIMEOUT=${VU_BOOT_TIMEOUT:-60}
BOOTS=${VUN_BOOTS:-split packed mq}
failed=0
passed=0

skip() {
	echo "SKIP: vhost-user net QEMU test: $*" >&2
	echo "vun: 0 passed, 0 failed, 1 skipped"
	exit 77
}
pass() { echo "PASS $*"; passed=$((passed + 1)); }
fail() { echo "FAIL $*"; failed=$((failed + 1)); }

[ "$(id -u)" = 0 ] || skip "needs root (a network namespace and a TAP)"
command -v "$QEMU" >/dev/null 2>&1 || skip "$QEMU not found (apt-get install qemu-system-x86)"
command -v ip >/dev/null 2>&1 || skip "ip not found (apt-get install iproute2)"
command -v cpio >/dev/null 2>&1 || skip "cpio not found"
command -v sha256sum >/dev/null 2>&1 || skip "sha256sum not found"
[ -x "$ALIOTH" ] || skip "no alioth binary (set ALIOTH_BIN)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"

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
kmods="$tree/lib/modules/$kver/kernel"

ns=alioth-vun-$$
work=$(mktemp -d /tmp/alioth-vun-test.XXXXXX)
pids=()
declare -A backend # alioth's pid by socket name
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip -n "$ns" link del vu0 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	if [ -n "${VUN_KEEP:-}" ]; then echo "INFO kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
in_ns() { ip netns exec "$ns" "$@"; }

# ---- the guest ----
# virtio_net's dependencies (modules.dep): net_failover, failover.
modules="drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_modern_dev
	drivers/virtio/virtio_pci_legacy_dev drivers/virtio/virtio_pci net/core/failover
	drivers/net/net_failover drivers/net/virtio_net"
mkdir -p "$work/rd/bin" "$work/rd/lib/modules"
cp "$busybox" "$work/rd/bin/busybox"
for m in $modules; do
	cp "$kmods/$m.ko" "$work/rd/lib/modules/" || skip "module $m.ko missing"
done
cat >"$work/rd/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
for m in virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci failover \
	net_failover virtio_net; do
	insmod /lib/modules/$m.ko || echo "VUN-INSMOD-FAILED $m"
done
i=0
while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
finish() { echo "VUN-DONE"; poweroff -f; }
[ -e /sys/class/net/eth0 ] || { echo "VUN-NO-NIC"; finish; }
echo "VUN-MAC $(cat /sys/class/net/eth0/address)"
echo "VUN-QUEUES $(ls /sys/class/net/eth0/queues | tr '\n' ' ')"
ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
# A reader that never sees end of file: busybox nc ends when its stdin does.
mkfifo /tmp/idle
ping -c 3 -W 2 10.0.2.2 >/tmp/ping 2>&1 && echo "VUN-PING-OK"
tail -n 2 /tmp/ping
head -c 2097152 /dev/urandom >/tmp/g2h
echo "VUN-G2H-SUM $(sha256sum </tmp/g2h | cut -d' ' -f1)"
timeout 20 nc 10.0.2.2 5001 </tmp/g2h && echo "VUN-G2H-SENT"
timeout 20 nc 10.0.2.2 5002 <>/tmp/idle >/tmp/h2g
echo "VUN-H2G-SUM $(sha256sum </tmp/h2g | cut -d' ' -f1) $(wc -c </tmp/h2g)"
# Up until the namespace has pinged us and says so on port 5003.
timeout 25 nc -l -p 5003 <>/tmp/idle >/tmp/bye
grep -q bye /tmp/bye && echo "VUN-BYE"
cat /sys/class/net/eth0/statistics/rx_packets /sys/class/net/eth0/statistics/tx_packets |
	tr '\n' ' ' | sed 's/^/VUN-STATS /'
echo
finish
INIT
chmod +x "$work/rd/init"
(cd "$work/rd" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$work/initrd.gz") ||
	skip "cannot build the initramfs"

# ---- the namespace ----
ip netns add "$ns" || skip "cannot create a network namespace"
in_ns ip link set lo up
head -c 2097152 /dev/urandom >"$work/h2g"
h2g_sum=$(sha256sum <"$work/h2g" | cut -d' ' -f1)
mkfifo "$work/idle"

# NAME [QP]: vu0 again, multi-queue when QP > 1; alioth serving it.
start_backend() {
	local sock="$work/$1.sock" qp=${2:-1} mq=()
	[ "$qp" -gt 1 ] && mq=(multi_queue)
	in_ns ip link del vu0 2>/dev/null
	in_ns ip tuntap add dev vu0 mode tap "${mq[@]}" || return 1
	in_ns ip addr add 10.0.2.2/24 dev vu0 && in_ns ip link set vu0 up || return 1
	ip netns exec "$ns" "$ALIOTH" -l debug vu -s "$sock" net -p "tap,if=vu0,qp=$qp" 2>"$work/$1.alioth.log" &
	pids+=($!)
	backend[$1]=$!
	for _ in $(seq 100); do [ -S "$sock" ] && return 0; sleep 0.05; done
	return 1
}

# The namespace's side of one boot: it receives the guest's file, sends its
# own, pings the guest once it answers, then tells it to stop.
host_side() { # LABEL
	local l=$1
	ip netns exec "$ns" "$busybox" nc -l -p 5001 <>"$work/idle" >"$work/$l.g2h" &
	pids+=($!)
	ip netns exec "$ns" "$busybox" nc -l -p 5002 <"$work/h2g" >/dev/null &
	pids+=($!)
	(
		for _ in $(seq "$BOOT_TIMEOUT"); do
			in_ns "$busybox" ping -c 1 -W 1 10.0.2.15 >/dev/null 2>&1 && break
		done
		in_ns "$busybox" ping -c 3 -W 2 10.0.2.15 >"$work/$l.hostping" 2>&1 &&
			echo OK >>"$work/$l.hostping"
		for _ in $(seq 40); do
			echo bye | in_ns "$busybox" nc 10.0.2.15 5003 2>/dev/null && break
			sleep 0.5
		done
	) &
	pids+=($!)
}

boot() { # SOCKNAME LABEL SMP [NETDEV-OPTS] [DEVICE-OPTS]
	timeout "$BOOT_TIMEOUT" "$QEMU" -accel tcg -M pc -m 512 -smp "$3" -nographic \
		-no-reboot -nodefaults -no-user-config -serial stdio \
		-object memory-backend-memfd,id=m,size=512M,share=on -numa node,memdev=m \
		-chardev socket,path="$work/$1.sock",id=c -netdev vhost-user,id=n,chardev=c${4:+,$4} \
		-device virtio-net-pci,netdev=n,mac=52:54:00:12:34:56,vectors=0,romfile=""${5:+,$5} \
		-kernel "$kernel" -initrd "$work/initrd.gz" \
		-append "console=ttyS0 quiet panic=-1" </dev/null >"$work/$2.log" 2>&1
	echo "INFO $2: qemu exit $?"
}

has() { grep -aq "$1" "$work/$2"; }

check_boot() { # LABEL
	local l=$1 log=$1.log got
	if has "VUN-MAC 52:54:00:12:34:56" "$log"; then pass "$l: eth0 came up with the MAC QEMU gave"
	else fail "$l: no eth0 ($(grep -a 'VUN-NO-NIC\|INSMOD' "$work/$log" | tr -d '\r'))"; fi
	if has VUN-PING-OK "$log"; then pass "$l: guest pings 10.0.2.2"
	else fail "$l: guest ping of 10.0.2.2"; fi
	if grep -q OK "$work/$l.hostping" 2>/dev/null; then pass "$l: the namespace pings 10.0.2.15"
	else fail "$l: namespace ping of the guest"; fi
	got=$(grep -a VUN-G2H-SUM "$work/$log" | tr -d '\r' | cut -d' ' -f2)
	if [ -n "$got" ] && [ "$(sha256sum <"$work/$l.g2h" | cut -d' ' -f1)" = "$got" ]; then
		pass "$l: 2 MiB guest -> namespace over nc, SHA-256 matches"
	else
		fail "$l: guest -> namespace file (guest $got, got $(wc -c <"$work/$l.g2h") bytes)"
	fi
	if has "VUN-H2G-SUM $h2g_sum" "$log"; then pass "$l: 2 MiB namespace -> guest over nc, SHA-256 matches"
	else fail "$l: namespace -> guest file ($(grep -a VUN-H2G-SUM "$work/$log" | tr -d '\r'))"; fi
	if has VUN-BYE "$log" && has VUN-DONE "$log"; then pass "$l: guest finished and powered off"
	else fail "$l: guest did not finish"; fi
}

t0=$(date +%s)
nboot=0
for b in $BOOTS; do
	case $b in
	split) qp=1 smp=1 netdev="" dev="" ;;
	packed) qp=1 smp=1 netdev="" dev="packed=on" ;;
	mq) qp=2 smp=2 netdev="queues=2" dev="mq=on" ;;
	*) echo "unknown boot $b"; exit 2 ;;
	esac
	# One alioth per TAP shape; split and packed share the first.
	name=q$qp
	if [ ! -S "$work/$name.sock" ]; then
		start_backend "$name" "$qp" || {
			fail "$b: alioth vu did not listen"
			cat "$work/$name.alioth.log"
			continue
		}
	fi
	host_side "$b"
	boot "$name" "$b" "$smp" "$netdev" "$dev"
	check_boot "$b"
	nboot=$((nboot + 1))
	if [ "$b" = mq ]; then
		if has "VUN-QUEUES rx-0 rx-1 tx-0 tx-1" mq.log; then pass "mq: the guest has two queue pairs"
		else fail "mq: queues ($(grep -a VUN-QUEUES "$work/mq.log" | tr -d '\r'))"; fi
		# QEMU answers the driver's VQ_PAIRS_SET itself and enables both
		# pairs' rings: the device must then receive on both.
		if grep -q "vu0: 2 of 2 queue pair(s) active" "$work/q2.alioth.log"; then
			pass "mq: alioth receives on both pairs once QEMU enabled their rings"
		else
			fail "mq: alioth never had both pairs active"
		fi
	fi
done

for f in "$work"/*.alioth.log; do
	[ -f "$f" ] || continue
	if grep -q "closing the connection:\|needs reset\|failed" "$f"; then
		fail "alioth ($(basename "$f")) reported an error:"
		grep "closing\|needs reset\|failed" "$f"
	fi
done
if [ -f "$work/q1.alioth.log" ] && [ "$(grep -c 'net-[0-9]*: connected' "$work/q1.alioth.log")" -ge 2 ]; then
	if kill -0 "${pids[0]}" 2>/dev/null; then pass "alioth vu still serving after two connections"
	else fail "alioth vu exited after its connections"; fi
fi
echo "INFO took $(($(date +%s) - t0)) s for $nboot boot(s)"
if [ $failed -ne 0 ]; then
	for f in "$work"/*.log; do
		echo "---- $(basename "$f")"; tail -n 25 "$f" 2>/dev/null
	done
fi
echo "vun: $passed passed, $failed failed"
[ $failed -eq 0 ]
