#!/bin/bash
# Fetches and unpacks what the nested lab boots: Debian's generic kernel (L1, with
# kvm/kvm-amd modules), Debian's cloud kernel (L2) and busybox-static; extracts the
# ELF vmlinux (with its PVH note) from both kernels' bzImages. Everything lands in
# $ALIOTH_LAB_CACHE (default tests/lab/cache).
#
# Prints nothing but errors when the cache is already complete; then it does not ask
# apt at all unless ALIOTH_LAB_REFRESH=1 (look for a newer kernel ABI). On success the
# cache holds lab.env, a shell fragment naming every artifact (sourced by run-lab.sh
# and scripts/demo.sh). Exit 77 when the packages cannot be had (no apt, no network).
set -euo pipefail

export PATH=$PATH:/usr/sbin:/sbin   # depmod, for non-root PATHs
here=$(cd "$(dirname "$0")" && pwd)
cache=$(realpath -m "${ALIOTH_LAB_CACHE:-$here/cache}")
SKIP=77

say() { echo "prepare: $*" >&2; }
skip() { say "SKIP: $*"; exit $SKIP; }

# The version a meta package currently points at, e.g. linux-image-6.1.0-57-amd64.
resolve_meta() {
	apt-cache depends "$1" 2>/dev/null | awk '/Depends: linux-image-/ && !n++ { print $2 }'
}

resolve_packages() {
	generic_pkg=$(resolve_meta linux-image-amd64)
	cloud_pkg=$(resolve_meta linux-image-cloud-amd64)
	if [ -z "$generic_pkg" ] || [ -z "$cloud_pkg" ]; then
		say "apt lists do not know the kernels; running apt-get update"
		apt-get update -qq >&2 || true
		generic_pkg=$(resolve_meta linux-image-amd64)
		cloud_pkg=$(resolve_meta linux-image-cloud-amd64)
	fi
}

# apt-get download into debs/ unless a .deb of that package is already there.
download() {
	local pkg=$1
	compgen -G "$cache/debs/${pkg}_*.deb" >/dev/null && return 0
	(cd "$cache/debs" && apt-get download -q -o APT::Sandbox::User=root "$pkg" >&2) ||
		skip "apt-get download $pkg failed"
}

# dpkg-deb -x the package into DIR (once).
unpack() {
	local pkg=$1 dir=$2
	[ -e "$dir/.unpacked" ] && return 0
	rm -rf "$dir"
	mkdir -p "$dir"
	local debs=("$cache/debs/${pkg}"_*.deb)
	dpkg-deb -x "${debs[0]}" "$dir"
	touch "$dir/.unpacked"
}

# The kernel release inside an unpacked linux-image tree (its lib/modules/VER).
kernel_release() {
	local dirs=("$1"/lib/modules/*)
	basename "${dirs[0]}"
}

le32_at() {   # FILE OFFSET -> unsigned little-endian 32-bit value
	od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '
}

# A bzImage's compressed payload: the setup header says where (payload_offset at
# 0x248, payload_length at 0x24c, relative to the protected-mode code after the
# setup sectors). The payload ends with a 4-byte decompressed size that the
# decompressors do not expect, so it is cut off.
extract_vmlinux() {
	local bz=$1 out=$2
	local setup_sects pm_start off len magic tmp
	setup_sects=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	[ "$setup_sects" -eq 0 ] && setup_sects=4
	pm_start=$(((setup_sects + 1) * 512))
	off=$((pm_start + $(le32_at "$bz" $((0x248)))))
	len=$(le32_at "$bz" $((0x24c)))
	tmp="$out.payload"
	dd if="$bz" of="$tmp" bs=4096 iflag=skip_bytes,count_bytes skip="$off" count=$((len - 4)) status=none
	magic=$(od -An -tx1 -N4 "$tmp" | tr -d ' ')
	case $magic in
	02214c18) lz4 -dc "$tmp" >"$out.part" ;;
	fd377a58) xz -dc --single-stream "$tmp" >"$out.part" ;;
	28b52ffd) zstd -dcq "$tmp" >"$out.part" ;;
	1f8b*) gzip -dc "$tmp" >"$out.part" ;;
	*) rm -f "$tmp"; say "unknown bzImage payload magic $magic in $bz"; return 1 ;;
	esac
	rm -f "$tmp"
	[ "$(od -An -c -N4 "$out.part" | tr -d ' ')" = '177ELF' ] ||
		{ say "payload of $bz is not an ELF"; return 1; }
	mv "$out.part" "$out"
}

LAB_VARS="LAB_GENERIC_PKG LAB_CLOUD_PKG LAB_L1_KERNEL LAB_L1_VMLINUX LAB_L1_TREE LAB_L1_KVER
	LAB_L2_KERNEL LAB_L2_VMLINUX LAB_L2_TREE LAB_L2_KVER LAB_BUSYBOX"

# lab.env exists, sets every LAB_VARS and every file it names is still there.
cache_complete() {
	[ -f "$cache/lab.env" ] || return 1
	local f v
	for v in $LAB_VARS; do grep -q "^$v=" "$cache/lab.env" || return 1; done
	for f in $(sed -n 's/^LAB_[A-Z0-9_]*=\(\/.*\)/\1/p' "$cache/lab.env"); do
		[ -e "$f" ] || return 1
	done
}

# Tools this script runs, as "command:Debian package" pairs.
need_tools() {
	local pair missing=""
	for pair in dpkg-deb:dpkg depmod:kmod lz4:lz4 xz:xz-utils zstd:zstd gzip:gzip; do
		command -v "${pair%%:*}" >/dev/null || missing+=" ${pair#*:}"
	done
	[ -z "$missing" ] || { say "missing tools; apt-get install -y$missing"; exit 1; }
}

main() {
	# The apt look-ups cost seconds; skip them unless asked to look for newer kernels.
	[ -z "${ALIOTH_LAB_REFRESH:-}" ] && cache_complete && exit 0
	command -v apt-get >/dev/null || skip "no apt-get on this host"
	need_tools
	mkdir -p "$cache/debs"
	exec 9>"$cache/.lock"
	flock 9   # one writer at a time (run-lab.sh and demo.sh may run together)

	resolve_packages
	if [ -z "$generic_pkg" ] || [ -z "$cloud_pkg" ]; then
		# Offline with a complete cache is fine: reuse what is there.
		cache_complete && exit 0
		skip "cannot resolve linux-image-amd64 / linux-image-cloud-amd64 with apt-cache"
	fi
	if cache_complete && grep -qx "LAB_GENERIC_PKG=$generic_pkg" "$cache/lab.env" &&
		grep -qx "LAB_CLOUD_PKG=$cloud_pkg" "$cache/lab.env"; then
		exit 0
	fi

	download "$generic_pkg"
	download "$cloud_pkg"
	download busybox-static
	unpack "$generic_pkg" "$cache/$generic_pkg"
	unpack "$cloud_pkg" "$cache/$cloud_pkg"
	unpack busybox-static "$cache/busybox-static"

	local gver cver
	gver=$(kernel_release "$cache/$generic_pkg")
	cver=$(kernel_release "$cache/$cloud_pkg")
	# Neither deb carries modules.dep: L1 needs kvm's, L2 the virtio drivers'.
	[ -f "$cache/$generic_pkg/lib/modules/$gver/modules.dep" ] ||
		depmod -b "$cache/$generic_pkg" "$gver"
	[ -f "$cache/$cloud_pkg/lib/modules/$cver/modules.dep" ] ||
		depmod -b "$cache/$cloud_pkg" "$cver"

	# L2's ELF is for alioth's --pvh; L1's lets QEMU skip the in-guest
	# decompression, which takes seconds under TCG (QEMU boots it through PVH too).
	local vmlinux="$cache/$cloud_pkg/boot/vmlinux-$cver"
	[ -f "$vmlinux" ] || extract_vmlinux "$cache/$cloud_pkg/boot/vmlinuz-$cver" "$vmlinux"
	local l1_vmlinux="$cache/$generic_pkg/boot/vmlinux-$gver"
	[ -f "$l1_vmlinux" ] || extract_vmlinux "$cache/$generic_pkg/boot/vmlinuz-$gver" "$l1_vmlinux"

	cat >"$cache/lab.env.part" <<-EOF
		LAB_GENERIC_PKG=$generic_pkg
		LAB_CLOUD_PKG=$cloud_pkg
		LAB_L1_KERNEL=$cache/$generic_pkg/boot/vmlinuz-$gver
		LAB_L1_VMLINUX=$l1_vmlinux
		LAB_L1_TREE=$cache/$generic_pkg
		LAB_L1_KVER=$gver
		LAB_L2_KERNEL=$cache/$cloud_pkg/boot/vmlinuz-$cver
		LAB_L2_VMLINUX=$vmlinux
		LAB_L2_TREE=$cache/$cloud_pkg
		LAB_L2_KVER=$cver
		LAB_BUSYBOX=$cache/busybox-static/bin/busybox
	EOF
	mv "$cache/lab.env.part" "$cache/lab.env"
	say "ready: $generic_pkg, $cloud_pkg, busybox-static in $cache"
}

main "$@"
