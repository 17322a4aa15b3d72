#!/usr/bin/env python3
"""Boots the test guest (guest.elf as PVH, or guest.bzimage) with one check
selected on its command line, and asserts its console lines and the VMM's
exit status. Lifecycle options change how the VMM is run: a signal once the
guest hangs, a pseudo-terminal, a log-file console, stdin from /dev/null or
a file, a slow reader; --vmm-error runs a command line that must fail.
Exit 0 = pass, 1 = fail, 77 = skipped (no usable /dev/kvm).
--qemu runs the same guest under QEMU's emulator instead (development)."""
import argparse
import fcntl
import os
import pty
import random
import re
import select
import signal
import string
import subprocess
import sys
import tempfile
import termios
import threading
import time
import zlib

import virtio_plan

SKIP = 77
KVM_GET_API_VERSION = 0xAE00
KVM_CREATE_VM = 0xAE01
F_SETPIPE_SZ = 1031
CHECKS = ["e820", "acpi", "smp", "cmdline", "initrd", "serial", "poweroff", "flood",
          "reset-acpi", "reset-i8042", "triple-fault", "hang"] + virtio_plan.CHECKS
# Checks that end the VM otherwise than by power-off: the exit status
# (docs/exit-status.md; None = set by how the runner ends it) and the line
# the guest prints just before.
ENDINGS = {"reset-acpi": (4, "RESET acpi "), "reset-i8042": (4, "RESET i8042 "),
           "triple-fault": (5, "TRIPLE-FAULT "), "hang": (None, "READY hang"),
           **virtio_plan.ENDINGS}
SIGNALS = {"TERM": signal.SIGTERM, "INT": signal.SIGINT}
SIGNAL_GRACE = 2.0    # seconds from SIGTERM/SIGINT to the VMM's exit
FLOOD_STALL = 0.5     # the slow reader stops this long once the flood starts
CONSOLE_ESCAPE = b"\x01"


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
        self.stdin_file = None
        self.console_log = None
        self.old_log = None
        self.signal = SIGNALS[args.signal] if args.signal else None
        self.expect_status, self.end_line = ENDINGS.get(args.check, (0, "POWEROFF "))
        if self.signal:
            self.expect_status = 128 + self.signal
        elif args.pty:
            self.expect_status = 0  # Ctrl-A x
        passes = args.check not in ENDINGS and args.check != "poweroff"
        self.expect_lines = [f"PASS {args.check}"] if passes else []
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
            # Ctrl-A x and Ctrl-A Ctrl-A in piped input are data, not escapes
            self.stdin_line = "echo-" + random_text(24) + "-\x01x-\x01\x01-"
            words.append(f"echo_crc=0x{zlib.crc32(self.stdin_line.encode()):08x}")
            self.expect_lines.append(f"ECHO {self.stdin_line}")
            if args.stdin == "file":
                self.stdin_file = os.path.join(tmpdir, "stdin.txt")
                with open(self.stdin_file, "w") as f:
                    f.write(self.stdin_line + "\n")
        if args.check == "flood":
            words.append(f"flood_lines={args.flood_lines}")
            if self.signal:
                # signalled while its output is blocked: it ends mid-flood
                self.expect_lines, self.end_line = [], "FLOOD 000000 "
            else:
                self.expect_lines.append(f"FLOOD END {args.flood_lines}")
        if args.console_log:
            self.console_log = os.path.join(tmpdir, "console.log")
            self.old_log = "OLD-" + random_text(16)
            with open(self.console_log, "w") as f:
                f.write(self.old_log + "\n")
        self.devices = virtio_plan.DevicePlan(self, args, tmpdir, words)
        self.cmdline = " ".join(words)
        # the guest prints the command line it received: it must be ours, byte for byte
        self.expect_lines.append(f"cmdline: {self.cmdline}")


def alioth_command(args, plan):
    cmd = [args.alioth, "boot"]
    cmd += ["--pvh", args.image] if args.format == "elf" else ["-k", args.image]
    console = "stdio"
    if plan.console_log:
        console = f"log,path={plan.console_log}"
        if args.console_log == "append":
            console += ",append=true"
    cmd += ["-c", plan.cmdline, "-m", f"size={args.memory}", "-p", f"count={args.cpus}",
            "--console", console]
    if plan.initramfs:
        cmd += ["-i", plan.initramfs]
    return cmd + plan.devices.alioth_args()


def qemu_command(args, plan):
    machine = "pc" if args.format == "bzimage" or args.qemu_machine == "pc" else "microvm,acpi=on"
    machine = plan.devices.qemu_machine(machine)
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-M", machine, "-m", args.memory,
           "-smp", str(args.cpus), "-nographic", "-nodefaults", "-no-user-config",
           "-no-reboot", "-serial", "stdio", "-monitor", "none",
           "-kernel", args.image, "-append", plan.cmdline]
    if plan.initramfs:
        cmd += ["-initrd", plan.initramfs]
    return cmd + plan.devices.qemu_args()


def open_stdin(args, plan):
    if args.stdin == "null":
        return open(os.devnull, "rb")
    if plan.stdin_file:
        return open(plan.stdin_file, "rb")
    return subprocess.PIPE


class Run:
    """What one VMM run produced."""

    def __init__(self):
        self.status = None        # exit status, None on timeout
        self.lines = []           # console lines (stdout, or the log file)
        self.stdout_lines = []
        self.stderr_lines = []
        self.signalled_at = None  # time.monotonic() of the signal sent
        self.exited_at = None
        self.termios_problems = []


def signal_while_blocked(proc, plan, result):
    """The reader has stopped and the small pipe is full, so a vCPU thread
    is blocked writing guest output: the signal must end the VMM anyway.
    Keep not reading until it exits (or clearly failed to)."""
    time.sleep(FLOOD_STALL)
    result.signalled_at = time.monotonic()
    proc.send_signal(plan.signal)
    try:
        proc.wait(timeout=SIGNAL_GRACE + 1)
    except subprocess.TimeoutExpired:
        pass


def send_on_ready(proc, plan, line, result):
    """Console input or a signal, once the guest says it is waiting."""
    plan.devices.on_line(proc, line)
    if plan.stdin_line and line == "READY serial" and proc.stdin:
        try:
            proc.stdin.write((plan.stdin_line + "\n").encode())
            proc.stdin.flush()
        except OSError:
            pass
    if plan.signal and line == "READY hang" and result.signalled_at is None:
        result.signalled_at = time.monotonic()
        proc.send_signal(plan.signal)


def run(cmd, args, plan):
    """Runs the VMM with pipes (or the given stdin) and a reader thread."""
    result = Run()
    stdin = open_stdin(args, plan)
    stderr = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=stderr)
    if stdin is not subprocess.PIPE:
        stdin.close()
    if plan.check == "flood":
        # a small pipe and a stalled reader make the VMM's writes block
        fcntl.fcntl(proc.stdout.fileno(), F_SETPIPE_SZ, 4096)

    def reader():
        stalled = False
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\r\n")
            result.stdout_lines.append(line)
            if not line.startswith("FLOOD "):
                print(line, flush=True)
            elif not stalled:
                stalled = True
                if plan.signal:
                    signal_while_blocked(proc, plan, result)
                else:
                    time.sleep(FLOOD_STALL)
            send_on_ready(proc, plan, line, result)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        result.status = proc.wait(timeout=args.timeout)
        result.exited_at = time.monotonic()
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    t.join(5)
    stderr.seek(0)
    result.stderr_lines = stderr.read().decode(errors="replace").splitlines()
    stderr.close()
    for line in result.stderr_lines:
        print("stderr:", line, flush=True)
    result.lines = result.stdout_lines
    if plan.console_log:
        with open(plan.console_log, "rb") as f:
            result.lines = [l.decode(errors="replace").rstrip("\r") for l in f.read().split(b"\n")]
        print(f"--- {plan.console_log}:", *result.lines, sep="\n", flush=True)
    return result


def is_raw(attrs):
    lflag = attrs[3]
    return not lflag & (termios.ICANON | termios.ECHO | termios.ISIG)


def run_pty(cmd, args, plan):
    """Runs the VMM on a pseudo-terminal; --pty says how it ends. The slave's
    termios before and after must be identical, and raw while the guest runs."""
    result = Run()
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    buf = b""
    deadline = time.monotonic() + args.timeout
    acted = False
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            buf += os.read(master, 65536)
        if not acted and b"READY hang" in buf:
            acted = True
            if not is_raw(termios.tcgetattr(slave)):
                result.termios_problems.append("the terminal is not raw while the guest runs")
            result.signalled_at = time.monotonic()
            if plan.signal:
                proc.send_signal(plan.signal)
            else:
                os.write(master, CONSOLE_ESCAPE + b"x")
        if proc.poll() is not None:
            result.status = proc.returncode
            result.exited_at = time.monotonic()
            break
    if result.status is None:
        proc.kill()
        proc.wait()
    while select.select([master], [], [], 0.2)[0]:
        buf += os.read(master, 65536)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    if after != before:
        names = ["iflag", "oflag", "cflag", "lflag", "ispeed", "ospeed", "cc"]
        diff = [n for n, a, b in zip(names, before, after) if a != b]
        result.termios_problems.append(f"terminal settings changed: {', '.join(diff)}")
    result.lines = [l.rstrip("\r") for l in buf.decode(errors="replace").split("\n")]
    for line in result.lines:
        print(line, flush=True)
    return result


def flood_line(n):
    """Line n of the guest's flood check (main.c flood_line), without CR LF."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits
    return f"FLOOD {n % 1000000:06d} " + "".join(
        alphabet[(n * 7 + i) % len(alphabet)] for i in range(64))


def flood_problems(args, lines, complete):
    """The flood lines must be the expected ones in order; all of them unless
    the run was cut short on purpose (then the last one may be partial)."""
    got = [l for l in lines if l.startswith("FLOOD ") and not l.startswith("FLOOD END")]
    if not complete and got:
        last = got.pop()
        if not flood_line(len(got)).startswith(last):
            return [f"last flood line {len(got)} is {last[:90]!r}"]
    for n, line in enumerate(got):
        if n >= args.flood_lines or line != flood_line(n):
            return [f"flood line {n} is {line[:90]!r}, expected {flood_line(n)!r}"
                    f" ({len(got)} flood lines arrived)"]
    if complete and len(got) != args.flood_lines:
        return [f"{len(got)} of {args.flood_lines} flood lines arrived"]
    return []


def console_log_problems(args, plan, result):
    problems = [f"guest output on stdout with a log console: {l[:80]!r}"
                for l in result.stdout_lines if l.strip()][:3]
    kept = result.lines[:1] == [plan.old_log]
    if args.console_log == "append" and not kept:
        problems.append("append=true did not keep the log file's old content")
    if args.console_log == "truncate" and plan.old_log in result.lines:
        problems.append("the log file was not truncated (old content still there)")
    return problems


def verdict(args, plan, result):
    lines = result.lines
    problems = list(result.termios_problems)
    for want in plan.expect_lines:
        if want not in lines:
            problems.append(f"missing console line {want[:100]!r}")
    for line in lines:
        if line.startswith("FAIL "):
            problems.append(f"guest reported {line!r}")
    if not any(line.startswith(plan.end_line) for line in lines):
        problems.append(f"guest never printed {plan.end_line.strip()!r}")
    if plan.end_line != "POWEROFF " and any(line.startswith("POWEROFF ") for line in lines):
        problems.append("guest powered off instead")
    if result.status is None:
        problems.append(f"timed out after {args.timeout} s")
    elif result.status != plan.expect_status:
        problems.append(f"VMM exit status {result.status}, expected {plan.expect_status}")
    if result.signalled_at and result.exited_at:
        took = result.exited_at - result.signalled_at
        print(f"exited {took:.3f} s after the signal or Ctrl-A x")
        if took > SIGNAL_GRACE:
            problems.append(f"exit took {took:.2f} s after the signal, allowed {SIGNAL_GRACE} s")
    if plan.console_log:
        problems += console_log_problems(args, plan, result)
    if plan.check == "flood":
        problems += flood_problems(args, lines, complete=not plan.signal)
    problems += plan.devices.problems()
    return problems


# --vmm-error: the status, and a word the one stderr line must contain
VMM_ERRORS = {"no-kernel": (1, "/nonexistent/kernel"), "small-memory": (2, "--memory"),
              "unknown-flag": (2, "--no-such-flag")}


def vmm_error_command(args):
    cmd = [args.alioth, "boot"]
    if args.vmm_error == "unknown-flag":
        return cmd + ["--no-such-flag"]
    kernel = "/nonexistent/kernel" if args.vmm_error == "no-kernel" else args.image
    cmd += ["--pvh", kernel] if args.format == "elf" else ["-k", kernel]
    memory = "8M" if args.vmm_error == "small-memory" else args.memory
    return cmd + ["-m", f"size={memory}", "--console", "stdio", "-c", "test=poweroff"]


def vmm_error_verdict(args, result):
    """One line (stderr; all output on a pty) naming the problem, the status."""
    status, word = VMM_ERRORS[args.vmm_error]
    problems = list(result.termios_problems)
    out = [l for l in (result.lines if args.pty else result.stderr_lines) if l.strip()]
    if len(out) != 1 or word not in out[0]:
        problems.append(f"expected one error line naming {word!r}, got {out!r}")
    if not args.pty and any(l.strip() for l in result.stdout_lines):
        problems.append(f"output on stdout: {result.stdout_lines!r}")
    if result.status != status:
        problems.append(f"VMM exit status {result.status}, expected {status}")
    return problems


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--alioth", default=os.environ.get("ALIOTH_BIN"))
    ap.add_argument("--image", required=True)
    ap.add_argument("--format", choices=["elf", "bzimage"], required=True)
    ap.add_argument("--check", default="poweroff", choices=CHECKS)
    ap.add_argument("--memory", default="1G")
    ap.add_argument("--cpus", type=int, default=1)
    ap.add_argument("--pad", type=int, default=1000, help="cmdline check: pad length")
    ap.add_argument("--x2apic", action="store_true", help="smp check: switch to x2APIC mode first")
    ap.add_argument("--flood-lines", type=int, default=600, help="flood check: lines of 80 bytes")
    ap.add_argument("--signal", choices=SIGNALS,
                    help="send it once the guest hangs (hang), or while its output is blocked (flood)")
    ap.add_argument("--stdin", choices=["pipe", "null", "file"], default="pipe",
                    help="console input: a pipe, /dev/null, or a file holding the serial line")
    ap.add_argument("--console-log", choices=["truncate", "append"],
                    help="console to a log file that already has content")
    ap.add_argument("--pty", action="store_true",
                    help="run on a pseudo-terminal; ended by --signal, --vmm-error, or else Ctrl-A x")
    ap.add_argument("--vmm-error", choices=VMM_ERRORS, help="a command line that must fail")
    ap.add_argument("--timeout", type=float, default=90)
    ap.add_argument("--qemu", action="store_true", help="run under QEMU TCG instead of alioth")
    virtio_plan.add_args(ap)
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
        why = virtio_plan.net_plan.skip_reason() if args.check == "net" else None
        if why:
            msg = f"SKIP: {why}"
            print("*" * len(msg), msg, "*" * len(msg), sep="\n", flush=True)
            print(msg, file=sys.stderr)
            return SKIP

    if args.vmm_error:
        # the error lines are counted: no log level from the environment
        for var in ("ALIOTH_LOG", "RUST_LOG"):
            os.environ.pop(var, None)
    name = args.vmm_error or args.check
    with tempfile.TemporaryDirectory(prefix="alioth-guest-") as tmpdir:
        plan = Plan(args, tmpdir)
        if args.vmm_error:
            cmd = vmm_error_command(args)
        elif args.qemu:
            cmd = qemu_command(args, plan)
        else:
            cmd = alioth_command(args, plan)
        net = plan.devices.net  # its own network namespace, always removed
        try:
            if net and not args.qemu:
                net.setup()
                cmd = net.wrap(cmd)
            print("+", " ".join(cmd)[:400], flush=True)
            start = time.monotonic()
            result = run_pty(cmd, args, plan) if args.pty else run(cmd, args, plan)
            elapsed = time.monotonic() - start
            if args.vmm_error:
                problems = vmm_error_verdict(args, result)
            else:
                problems = verdict(args, plan, result)
        finally:
            if net:
                net.cleanup()
    print(f"exit status {result.status}, {elapsed:.2f} s")
    if problems:
        for p in problems:
            print(f"FAIL {name}-{args.format}: {p}")
        return 1
    if args.check == "poweroff" and not args.vmm_error:
        print("PASS poweroff")
    print(f"PASS {name}-{args.format}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
