#!/usr/bin/env python3
"""Boots firmware under `alioth boot -f` and checks what it reports.
--firmware IMAGE --kernel BZIMAGE: the project's test firmware (fwtest.bin)
runs its fw_cfg/ACPI/DMA checks, then boots the test guest through fw_cfg;
the guest's own checks (acpi, e820, initrd) must pass and it powers off.
--seabios BIN: SeaBIOS must print its banner on the debug port within a
timeout (then the VMM is stopped); skipped loudly when BIN is missing.
Exit 0 = pass, 1 = fail, 77 = skipped (no usable /dev/kvm or no SeaBIOS)."""
import argparse
import fcntl
import os
import random
import subprocess
import sys
import tempfile
import zlib

SKIP = 77
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
MEMORY = "256M"


def kvm_unusable_reason():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"cannot open /dev/kvm: {e.strerror}"
    try:
        if fcntl.ioctl(fd, KVM_GET_API_VERSION, 0) != 12:
            return "/dev/kvm API version is not 12"
        os.close(fcntl.ioctl(fd, KVM_CREATE_VM, 0))
    except OSError as e:
        return f"/dev/kvm ioctl failed: {e.strerror}"
    finally:
        os.close(fd)
    return None


def skip(why):
    print("=" * 70)
    print(f"SKIP: {why}")
    print("=" * 70)
    sys.exit(SKIP)


def run(cmd, timeout):
    """Returns (exit status or None on timeout, stdout, stderr)."""
    env = dict(os.environ, ALIOTH_LOG="info")
    print("running:", " ".join(cmd))
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env)
    try:
        out, err = proc.communicate(timeout=timeout)
        status = proc.returncode
    except subprocess.TimeoutExpired:
        proc.terminate()
        out, err = proc.communicate()
        status = None
    out, err = out.decode(errors="replace"), err.decode(errors="replace")
    print("---- console ----\n" + out + "---- log ----\n" + err + "----")
    return status, out, err


def test_image(args):
    with tempfile.TemporaryDirectory() as tmp:
        initrd = os.path.join(tmp, "initrd.bin")
        data = os.urandom(random.randint(16 << 10, 64 << 10))
        with open(initrd, "wb") as f:
            f.write(data)
        mem = 256 << 20
        cmdline = (f"console=ttyS0 test=acpi,e820,initrd ncpus=1 expect_mem={mem} "
                   f"initrd_size={len(data)} initrd_crc=0x{zlib.crc32(data):08x}")
        cmd = [args.alioth, "boot", "-f", args.firmware, "-k", args.kernel, "-i", initrd,
               "-c", cmdline, "-m", f"size={MEMORY}", "-p", "count=1", "--console", "stdio",
               "--fw-cfg", "name=opt/test,string=hello"]
        status, out, err = run(cmd, args.timeout)
    lines = out.splitlines()
    problems = []
    for want in ["FW PASS signature", "FW PASS id", "FW PASS dir", "FW PASS acpi",
                 "FW PASS dma-item", "PASS acpi", "PASS e820", "PASS initrd",
                 f"cmdline: {cmdline}"]:
        if want not in lines:
            problems.append(f"missing line {want!r}")
    if not any(line.startswith("FW BOOT kernel") for line in lines):
        problems.append("the firmware did not boot the kernel")
    if not any(line.startswith("POWEROFF") for line in lines):
        problems.append("the guest did not power off")
    problems += [f"failure reported: {line!r}" for line in lines if "FAIL" in line]
    if "firmware: fwtest: hello from the test firmware" not in err:
        problems.append("the debug port line is not in the log")
    if status != 0:
        problems.append(f"exit status {status}, expected 0")
    return problems


def test_seabios(args):
    if not os.path.exists(args.seabios):
        skip(f"{args.seabios} not found (apt-get install seabios)")
    cmd = [args.alioth, "boot", "-f", args.seabios, "-m", "size=128M", "--console", "stdio"]
    status, out, err = run(cmd, args.seabios_timeout)
    banner = "SeaBIOS (version"
    if banner in err or banner in out:
        return []
    return [f"no {banner!r} on the debug port or console (exit status {status})"]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--alioth", required=True)
    ap.add_argument("--firmware")
    ap.add_argument("--kernel")
    ap.add_argument("--seabios")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--seabios-timeout", type=float, default=5)
    args = ap.parse_args()
    why = kvm_unusable_reason()
    if why:
        skip(why)
    problems = test_seabios(args) if args.seabios else test_image(args)
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("PASS")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
