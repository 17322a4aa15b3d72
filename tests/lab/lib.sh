# shellcheck shell=bash
# Shared by run-lab.sh and scripts/demo.sh (bash, sourced): builds the L2 and L1
# initramfs images of the nested lab and knows how to start the L1 QEMU.
# Needs lab.env from prepare.sh sourced first (LAB_* variables).

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# A rootfs with busybox-static, one symlink per applet, and the device nodes that
# must exist before /init runs (the kernel opens /dev/console for it).
lab_rootfs_base() {
	local root=$1 applet
	mkdir -p "$root"/{bin,dev,proc,sys,tmp,lib/modules}
	cp "$LAB_BUSYBOX" "$root/bin/busybox"
	for applet in $("$LAB_BUSYBOX" --list); do
		[ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
	done
	ln -s bin "$root/sbin"
	mknod -m 600 "$root/dev/console" c 5 1
	mknod -m 666 "$root/dev/null" c 1 3
}

# cpio newc of DIR into OUT; COMPRESS is gzip or none. The big L1 image stays
# uncompressed: decompressing tens of MiB under TCG costs more than copying them.
lab_cpio() {
	local root=$1 out=$2 compress=${3:-gzip}
	(
		cd "$root" || exit 1
		find . -print0 | LC_ALL=C sort -z |
			cpio --null -o -H newc --owner=0:0 --quiet |
			if [ "$compress" = gzip ]; then gzip -6n; else cat; fi
	) >"$out"
}

# The cloud kernel's drivers for alioth's PCI devices (ext4 is built in); the
# names are module file names, as modules.dep spells them. virtio_net brings
# net_failover and failover.
LAB_L2_MODULES="virtio_pci virtio_blk virtio-rng pvpanic-pci virtio_net"

# The modules in load order under ROOT/lib/modules, with a load-order list.
lab_install_modules() {   # ROOT TREE KVER MODULE...
	local root=$1 kv="$2/lib/modules/$3" m order
	shift 3
	order=$(lab_module_order "$kv/modules.dep" "$@") || return 1
	mkdir -p "$root/lib/modules"
	: >"$root/lib/modules/load-order"
	for m in $order; do
		cp "$kv/$m" "$root/lib/modules/"
		basename "$m" >>"$root/lib/modules/load-order"
	done
}

# e2fsprogs from this host (with their libraries) replace busybox's mke2fs: a
# real mkfs.ext4 and e2fsck. Missing e2fsprogs is not fatal: busybox's
# mkfs.ext2 then stands in and e2fsck is absent (the checks will say so).
lab_install_e2fsprogs() {   # ROOT PROGRAM...
	local root=$1 p path
	shift
	for p in "$@"; do
		path=$(PATH=/usr/sbin:/sbin:$PATH command -v "$p") || continue
		rm -f "$root/bin/$p"
		lab_copy_program "$root" "$path" "/bin/$p"
	done
	mkdir -p "$root/etc"
	ln -sf /proc/mounts "$root/etc/mtab"
}

lab_build_l2_initramfs() {   # OUT
	local out=$1 root
	root=$(mktemp -d)
	lab_rootfs_base "$root"
	# shellcheck disable=SC2086   # a list of names
	lab_install_modules "$root" "$LAB_L2_TREE" "$LAB_L2_KVER" $LAB_L2_MODULES || return 1
	lab_install_e2fsprogs "$root" mkfs.ext4 e2fsck
	lab_install_iputils_ping "$root"
	install -m 755 "$LAB_DIR/l2-init.sh" "$root/init"
	lab_cpio "$root" "$out" gzip
	rm -rf "$root"
}

# Relative paths (as in modules.dep) of MODULES and everything they depend on,
# dependencies first: the order insmod needs.
lab_module_order() {
	local dep=$1; shift
	declare -A seen=()
	local order=()
	visit() {
		local m=$1 deps=() i
		[ -n "${seen[$m]:-}" ] && return
		seen[$m]=1
		read -r -a deps <<<"$(awk -F': *' -v m="$m" '$1 == m { print $2 }' "$dep")"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do visit "${deps[i]}"; done
		order+=("$m")
	}
	local name path
	for name in "$@"; do
		path=$(grep -oE "^[^:]*/$name\.ko" "$dep" | sed -n 1p)
		[ -n "$path" ] || { echo "lab: module $name not in $dep" >&2; return 1; }
		visit "$path"
	done
	printf '%s\n' "${order[@]}"
}

# The program and the shared libraries ldd names, at the same absolute paths.
lab_copy_program() {   # ROOT PROGRAM DEST
	local root=$1 prog=$2 dest=$3 lib
	install -D -m 755 "$prog" "$root$dest"
	for lib in $(ldd "$prog" 2>/dev/null | grep -oE '/[^ ]+'); do
		[ -e "$root$lib" ] || install -D -m 755 "$(realpath "$lib")" "$root$lib"
	done
}

# iputils' ping as /bin/ping-df, next to busybox's ping: only it can forbid
# fragmentation (-M do), which the jumbo-frame checks need. Absent on a host
# without iputils-ping (those checks then say so).
lab_install_iputils_ping() {   # ROOT
	local path
	path=$(PATH=/usr/bin:/bin:$PATH command -v ping) || return 0
	"$path" -V 2>&1 | grep -q iputils || return 0
	lab_copy_program "$1" "$path" /bin/ping-df
}

# L1 is the host of the network boots: tun for the TAP, iproute2's ip as
# /bin/ip-full (busybox's cannot make a TAP; busybox's shell runs its own applet
# for "ip" whatever /bin/ip is).
lab_install_iproute2() {   # ROOT
	local path
	path=$(PATH=/usr/sbin:/sbin:/usr/bin:/bin:$PATH command -v ip) || return 0
	"$path" -V 2>&1 | grep -q iproute2 || return 0
	lab_copy_program "$1" "$path" /bin/ip-full
}

# L1 rootfs: busybox, kvm + kvm-amd with their dependencies, tun, e2fsck and
# debugfs, iproute2's ip and iputils' ping, the L2 kernel (bzImage and PVH ELF),
# the L2 initramfs, alioth (if given) and /init = l1-init.sh.
# EXTRA files (name=path) are copied to /lab/name.
lab_build_l1_initramfs() {   # OUT L2_INITRAMFS ALIOTH|"" [name=path...]
	local out=$1 l2_initramfs=$2 alioth=$3 root
	shift 3
	root=$(mktemp -d)
	lab_rootfs_base "$root"
	lab_install_modules "$root" "$LAB_L1_TREE" "$LAB_L1_KVER" irqbypass kvm ccp kvm-amd tun || return 1
	# L1 checks the disk images L2 wrote.
	lab_install_e2fsprogs "$root" e2fsck debugfs
	lab_install_iproute2 "$root"
	lab_install_iputils_ping "$root"
	mkdir -p "$root/lab"
	cp "$LAB_L2_KERNEL" "$root/lab/vmlinuz"
	cp "$LAB_L2_VMLINUX" "$root/lab/vmlinux"
	cp "$l2_initramfs" "$root/lab/initramfs"
	[ -n "$alioth" ] && lab_copy_program "$root" "$alioth" /bin/alioth
	local kvpair
	for kvpair in "$@"; do cp "${kvpair#*=}" "$root/lab/${kvpair%%=*}"; done
	install -m 755 "$LAB_DIR/l1-init.sh" "$root/init"
	lab_cpio "$root" "$out" none
	rm -rf "$root"
}

# QEMU's software emulator with nested SVM: a hardware-style /dev/kvm inside L1.
# Sets LAB_QEMU (an array: the command line) so that callers can wrap it in
# timeout. Serial on stdio. L1_CMDLINE words are appended to L1's command line.
lab_qemu_l1() {   # L1_INITRAMFS L1_CMDLINE [extra qemu args...]
	local initramfs=$1 cmdline=$2
	shift 2
	# shellcheck disable=SC2034   # read by the caller
	LAB_QEMU=(qemu-system-x86_64 -accel tcg -cpu "${ALIOTH_LAB_L1_CPU:-max}" -M pc -m "${ALIOTH_LAB_L1_MEM:-2560M}"
		-smp "${ALIOTH_LAB_L1_SMP:-2}" -nographic -no-reboot -nodefaults -no-user-config
		-serial stdio -kernel "$LAB_L1_VMLINUX" -initrd "$initramfs"
		-append "console=ttyS0 panic=-1 quiet $cmdline" "$@")
}

# Runs CMD with its stdin on a FIFO and copies its output (stdout+stderr, CRs
# dropped) to ours; writes INPUT into the FIFO once the guest prints a line with
# READY_WORD, so that nothing reaches the guest's UART before a reader is there.
# Returns CMD's exit status. The host-side twin of lab_boot in l1-init.sh.
lab_run_fed() {   # INPUT READY_WORD CMD...
	local input=$1 ready=$2 fifo status_file fd status
	shift 2
	fifo=$(mktemp -u)
	status_file=$(mktemp)
	mkfifo "$fifo"
	exec {fd}<>"$fifo"   # read-write: never blocks, and the reader sees no EOF
	{
		local rc=0   # "|| rc=$?": callers may run under set -e
		"$@" <&"$fd" {fd}<&- 2>&1 || rc=$?
		echo "$rc" >"$status_file"
	} | while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		printf '%s\n' "$line"
		if [[ $line == *"$ready"* ]]; then cat "$input" >&"$fd"; fi
	done || true   # the status that counts is in status_file
	exec {fd}<&-
	status=$(cat "$status_file")
	rm -f "$fifo" "$status_file"
	return "${status:-1}"
}
