#!/bin/bash
# Boots Debian's cloud kernel with a busybox initramfs to a shell on alioth's console.
# Builds alioth (build/) and fetches the kernel (tests/lab/prepare.sh) if needed.
#
# On hardware KVM alioth runs directly. On a host whose /dev/kvm cannot run stock
# Linux (PVM) alioth runs inside the nested lab (QEMU TCG, nested SVM), with the L1
# serial on this terminal, so what you type reaches L2's shell. Leave the shell with
# `poweroff -f` (or quit QEMU with Ctrl-A x).
#
# Without a terminal on stdin, stdin is a script for the guest shell:
#   echo 'uname -a; poweroff -f' | scripts/demo.sh
# it is typed in once the shell is up, then `poweroff -f`; the exit status is
# alioth's (0 after a power-off).
#
# Environment: ALIOTH_BIN (skip the build), ALIOTH_DEMO_MODE=direct|lab (skip the
# detection), ALIOTH_DEMO_MEM (guest memory, default 512M), ALIOTH_DEMO_CPUS (1),
# ALIOTH_DEMO_TIMEOUT (piped use in the lab: seconds before alioth is stopped; 300).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
lab=$repo/tests/lab
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
L2_CMDLINE="console=ttyS0 quiet panic=-1 lab.end=shell"

say() { echo "demo: $*" >&2; }

build_alioth() {
	if [ -n "${ALIOTH_BIN:-}" ]; then
		echo "$ALIOTH_BIN"
		return
	fi
	if [ ! -f "$repo/build/build.ninja" ]; then
		say "configuring build/"
		meson setup "$repo/build" >&2
	fi
	ninja -C "$repo/build" alioth >&2
	echo "$repo/build/alioth"
}

# Hardware KVM: the CPU shows svm/vmx, or the KVM in use is not PVM.
hardware_kvm() {
	[ -c /dev/kvm ] || return 1
	grep -qwE 'svm|vmx' /proc/cpuinfo || [ ! -d /sys/module/kvm_pvm ]
}

alioth_args() {   # KERNEL INITRAMFS
	echo boot -k "$1" -i "$2" -p "count=${ALIOTH_DEMO_CPUS:-1}" \
		--memory "size=${ALIOTH_DEMO_MEM:-512M}"
}

# The piped script, followed by a power-off in case it has none.
save_stdin_script() {   # OUT
	cat >"$1"
	printf '\npoweroff -f\n' >>"$1"
}

run_direct() {   # ALIOTH
	local alioth=$1 args
	read -r -a args <<<"$(alioth_args "$LAB_L2_KERNEL" "$work/l2.cpio.gz")"
	say "hardware KVM: running alioth directly"
	if [ -t 0 ]; then
		"$alioth" "${args[@]}" -c "$L2_CMDLINE"   # its status is ours (set -e)
		return
	fi
	save_stdin_script "$work/input"
	lab_run_fed "$work/input" L2-SHELL-READY "$alioth" "${args[@]}" -c "$L2_CMDLINE"
}

run_in_lab() {   # ALIOTH
	local alioth=$1 args
	command -v qemu-system-x86_64 >/dev/null ||
		{ say "this /dev/kvm cannot run Linux and qemu-system-x86_64 is missing"; exit 1; }
	args="$(alioth_args /lab/vmlinuz /lab/initramfs) -c '$L2_CMDLINE'"
	if [ -t 0 ]; then
		echo "lab_console $args" >"$work/plan.sh"
	else
		save_stdin_script "$work/input"
		echo "LAB_TIMEOUT=${ALIOTH_DEMO_TIMEOUT:-300}; lab_boot demo /lab/input 'L2| ' $args" >"$work/plan.sh"
	fi
	local extra=(plan.sh="$work/plan.sh")
	[ -f "$work/input" ] && extra+=(input="$work/input")
	lab_build_l1_initramfs "$work/l1.cpio" "$work/l2.cpio.gz" "$alioth" "${extra[@]}"
	lab_qemu_l1 "$work/l1.cpio" "loglevel=1"
	say "PVM host: running alioth inside the nested lab (QEMU TCG, L1 Debian kernel)"
	if [ -t 0 ]; then
		say "L2's shell comes up in about 20 s; Ctrl-A x quits QEMU"
		"${LAB_QEMU[@]}"
		return
	fi
	# Show L2's output only; end with alioth's exit status as L1 reports it.
	"${LAB_QEMU[@]}" </dev/null 2>&1 | tr -d '\r' | tee "$work/serial.log" |
		sed -n 's/^L2| //p' || true
	local status
	status=$(sed -n 's/^LAB-EXIT demo //p' "$work/serial.log")
	if [ -z "$status" ]; then
		say "alioth did not run to the end in L1; L1's serial log:"
		cat "$work/serial.log" >&2
	fi
	return "${status:-1}"
}

main() {
	local alioth rc=0
	alioth=$(build_alioth)
	"$lab/prepare.sh" || rc=$?
	[ $rc -eq 0 ] || { say "cannot get the Debian kernel (prepare.sh status $rc)"; exit 1; }
	# shellcheck source=/dev/null
	. "$lab/cache/lab.env"
	. "$lab/lib.sh"
	lab_build_l2_initramfs "$work/l2.cpio.gz"
	case ${ALIOTH_DEMO_MODE:-} in
	direct) run_direct "$alioth" ;;
	lab) run_in_lab "$alioth" ;;
	*) if hardware_kvm; then run_direct "$alioth"; else run_in_lab "$alioth"; fi ;;
	esac
}

main "$@"
