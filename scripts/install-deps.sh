#!/bin/sh
# Installs what building and testing alioth needs on Debian 12 (run as root,
# or with sudo available). Only Debian packages, by name.
set -eu
PKGS="build-essential meson ninja-build pkg-config clang llvm lld libclang-rt-14-dev
libcmocka-dev liburing-dev libslirp-dev libseccomp-dev zlib1g-dev libzstd-dev
acpica-tools qemu-system-x86 qemu-system-common seabios qemu-utils busybox-static cpio kmod
lz4 xz-utils zstd e2fsprogs iproute2 iputils-ping fio python3"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "install-deps: installing:$missing"
	$SUDO apt-get update -q
	# shellcheck disable=SC2086
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
