#!/usr/bin/env python3
"""Boots the test guest (guest.elf as PVH, or guest.bzimage) with one check
selected on its command line, and asserts its console lines and the VMM's
exit status. Exit 0 = pass, 1 = fail, 77 = skipped (no usable /dev/kvm).
--qemu runs the same guest under QEMU's emulator instead (development)."""
import argparse
import fcntl
import os
import random
import re
import string
import subprocess
import sys
import tempfile
import threading
import time
import zlib

SKIP = 77
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01


def kvm_unusable_reason():
    """None if /dev/kvm can create a VM, else why not."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"cannot open /dev/kvm: {e.strerror}"
    try:
        version = fcntl.ioctl(fd, KVM_GET_API_VERSION, 0)
        if version != 12:
            return f"/dev/kvm API version {version}, expected 12"
        vm = fcntl.ioctl(fd, KVM_CREATE_VM, 0)
        os.close(vm)
    except OSError as e:
        return f"/dev/kvm ioctl failed: {e.strerror}"
    finally:
        os.close(fd)
    return None


def parse_size(text):
    m = re.fullmatch(r"(\d+)([KMGT]?)", text.upper())
    if not m:
        sys.exit(f"bad size {text!r}")
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[m.group(2)]


def random_text(n):
    return "".join(random.choice(string.ascii_letters + string.digits) for _ in range(n))


class Plan:
    """The guest command line, files and console input for one check."""

    def __init__(self, args, tmpdir):
        self.check = args.check
        self.initramfs = None
        self.stdin_line = None
        self.expect_lines = [f"PASS {args.check}"] if args.check != "poweroff" else []
        words = ["console=ttyS0", f"test={args.check}", f"ncpus={args.cpus}",
                 f"expect_mem={parse_size(args.memory)}"]
        if args.check == "initrd":
            data = os.urandom(random.randint(16 << 10, 64 << 10))
            self.initramfs = os.path.join(tmpdir, "initramfs.bin")
            with open(self.initramfs, "wb") as f:
                f.write(data)
            words += [f"initrd_size={len(data)}", f"initrd_crc=0x{zlib.crc32(data):08x}"]
        if args.check == "cmdline":
            pad = random_text(args.pad)
            words += [f"pad={pad}", f"padlen={len(pad)}",
                      f"padcrc=0x{zlib.crc32(pad.encode()):08x}"]
        if args.x2apic:
            words.append("apic=x2apic")
        if args.check == "serial":
            self.stdin_line = "echo-" + random_text(24)
            words.append(f"echo_crc=0x{zlib.crc32(self.stdin_line.encode()):08x}")
            self.expect_lines.append(f"ECHO {self.stdin_line}")
        self.cmdline = " ".join(words)
        # the guest prints the command line it received: it must be ours, byte for byte
        self.expect_lines.append(f"cmdline: {self.cmdline}")


def alioth_command(args, plan):
    cmd = [args.alioth, "boot"]
    cmd += ["--pvh", args.image] if args.format == "elf" else ["-k", args.image]
    cmd += ["-c", plan.cmdline, "-m", f"size={args.memory}", "-p", f"count={args.cpus}",
            "--console", "stdio"]
    if plan.initramfs:
        cmd += ["-i", plan.initramfs]
    return cmd


def qemu_command(args, plan):
    machine = "pc" if args.format == "bzimage" or args.qemu_machine == "pc" else "microvm,acpi=on"
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-M", machine, "-m", args.memory,
           "-smp", str(args.cpus), "-nographic", "-nodefaults", "-no-user-config",
           "-no-reboot", "-serial", "stdio", "-monitor", "none",
           "-kernel", args.image, "-append", plan.cmdline]
    if plan.initramfs:
        cmd += ["-initrd", plan.initramfs]
    return cmd


def run(cmd, plan, timeout):
    """Runs the VMM; returns (exit status or None on timeout, console lines)."""
    lines = []
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)

    def reader():
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            lines.append(line)
            print(line, flush=True)
            if plan.stdin_line and line == "READY serial":
                try:
                    proc.stdin.write((plan.stdin_line + "\n").encode())
                    proc.stdin.flush()
                except OSError:
                    pass

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        status = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        status = None
    t.join(5)
    return status, lines


def verdict(args, plan, status, lines):
    problems = []
    for want in plan.expect_lines:
        if want not in lines:
            problems.append(f"missing console line {want[:100]!r}")
    for line in lines:
        if line.startswith("FAIL "):
            problems.append(f"guest reported {line!r}")
    if not any(line.startswith("POWEROFF ") for line in lines):
        problems.append("guest never reached its ACPI power-off")
    if status is None:
        problems.append(f"timed out after {args.timeout} s")
    elif status != 0:
        problems.append(f"VMM exit status {status}, expected 0 (ACPI power-off)")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--alioth", default=os.environ.get("ALIOTH_BIN"))
    ap.add_argument("--image", required=True)
    ap.add_argument("--format", choices=["elf", "bzimage"], required=True)
    ap.add_argument("--check", required=True,
                    choices=["e820", "acpi", "smp", "cmdline", "initrd", "serial", "poweroff"])
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--pad", type=int, default=1000, help="cmdline check: pad length")
    ap.add_argument("--x2apic", action="store_true", help="smp check: switch to x2APIC mode first")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--qemu", action="store_true", help="run under QEMU TCG instead of alioth")
    ap.add_argument("--qemu-machine", default="microvm", choices=["microvm", "pc"],
                    help="QEMU machine for the PVH ELF")
    args = ap.parse_args()

    if not args.qemu:
        why = kvm_unusable_reason()
        if why:
            msg = f"SKIP: {why}: guest tests need a usable /dev/kvm"
            print("*" * len(msg), msg, "*" * len(msg), sep="\n", flush=True)
            print(msg, file=sys.stderr)
            return SKIP
        if not args.alioth:
            sys.exit("no --alioth and no ALIOTH_BIN")

    with tempfile.TemporaryDirectory(prefix="alioth-guest-") as tmpdir:
        plan = Plan(args, tmpdir)
        cmd = qemu_command(args, plan) if args.qemu else alioth_command(args, plan)
        print("+", " ".join(cmd)[:400], flush=True)
        start = time.monotonic()
        status, lines = run(cmd, plan, args.timeout)
        elapsed = time.monotonic() - start
    problems = verdict(args, plan, status, lines)
    print(f"exit status {status}, {elapsed:.2f} s")
    if problems:
        for p in problems:
            print(f"FAIL {args.check}-{args.format}: {p}")
        return 1
    if args.check == "poweroff":
        print("PASS poweroff")
    print(f"PASS {args.check}-{args.format}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
