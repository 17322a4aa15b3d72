"""The PCI/virtio device checks' side of run-guest-test.py: which devices
the VMM gets (alioth --blk/--entropy/--pvpanic, or QEMU q35 devices), the
disk file with known bytes and the expected values on the guest command
line, the SIGKILL on FLUSHED (blk-durable), and the file's bytes after the
VMM is gone."""
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zlib

import net_plan

SECTOR = 512
BLK_CHECKS = ["blk", "blk-ro", "blk-durable", "blk-hostile"]
CHECKS = BLK_CHECKS + ["blkbench"] + ["entropy", "pvpanic", "net"]
# (exit status, line printed just before); see docs/exit-status.md
ENDINGS = {"pvpanic": (3, "PVPANIC "), "blk-durable": (-signal.SIGKILL, "FLUSHED ")}
QEMU_PVPANIC_STATUS = 1   # -action panic=exit-failure
WRITE_SECTORS = {"blk": 8, "blk-durable": 64}   # as vtests.c writes them
# QEMU bounce-buffers DMA to unbacked guest addresses instead of refusing it,
# so only the ring-rule cases are expected to set NEEDS_RESET there.
QEMU_HOSTILE = "loop,jump"


def add_args(ap):
    ap.add_argument("--vring", choices=["split", "packed"], default="split",
                    help="virtio checks: ring layout to negotiate")
    ap.add_argument("--vfeat", default="",
                    help="virtio checks: also negotiate these (indirect,event_idx)")
    ap.add_argument("--vmode", choices=["irq", "poll"], default="irq",
                    help="virtio checks: completion by MSI-X interrupt or by polling")
    ap.add_argument("--net-qp", type=int, choices=[1, 2], default=1,
                    help="net check: queue pairs of the virtio-net device")
    ap.add_argument("--vu-backend", choices=list(VU_BACKENDS),
                    help="blk checks: the disk is served by this vhost-user backend process "
                         "(alioth vu, or qemu-storage-daemon) through --blk vu,socket=; "
                         "net check: alioth vu net on the TAP, through --net vu,socket=")


def pattern_bytes(seed, offset, length):
    """vtests.c pattern_fill: one LE word per 4 bytes of file offset."""
    out = bytearray()
    for i in range(0, length, 4):
        k = ((offset + i) // 4) & 0xFFFFFFFF
        v = ((seed ^ k) * 2654435761) & 0xFFFFFFFF
        v ^= v >> 16
        out += v.to_bytes(4, "little")
    return bytes(out)


class DevicePlan:
    def __init__(self, plan, args, tmpdir, words):
        self.check = args.check
        self.qemu = args.qemu
        self.disk = None
        self.original = None
        self.wseed = random.randint(1, 0xFFFFFFFF)
        self.wsector = random.randint(16, 64)
        vu_net = self.check == "net" and args.vu_backend and not args.qemu
        if vu_net and args.vu_backend != "alioth":
            sys.exit("the net check has only the alioth vhost-user backend")
        self.net = None
        if self.check == "net":  # with vu_net: through `alioth vu ... net`
            self.net = net_plan.NetPlan(args, words, vu_tmpdir=tmpdir if vu_net else None)
        elif args.vu_backend and not args.qemu:
            # the runner drives a per-run helper (setup, wrap, cleanup) through .net
            self.net = VuBackendPlan(self, args, tmpdir)
        if self.check not in CHECKS:
            return
        words += [f"vring={args.vring}", f"vmode={args.vmode}"]
        if args.vfeat:
            words.append(f"vfeat={args.vfeat}")
        if self.check == "pvpanic" and args.qemu:
            plan.expect_status = QEMU_PVPANIC_STATUS
        if self.check in BLK_CHECKS:
            self.make_disk(tmpdir, words)
        if self.check == "blkbench":
            self.make_bench_disk(tmpdir, words)
        if self.check == "blk-hostile" and args.qemu:
            words.append(f"hostile={QEMU_HOSTILE}")

    def make_disk(self, tmpdir, words):
        sectors = 2048 + random.randint(0, 64)
        self.original = random.randbytes(sectors * SECTOR)
        self.disk = f"{tmpdir}/disk.img"
        with open(self.disk, "wb") as f:
            f.write(self.original)
        words += [f"blk_sectors={sectors}",
                  f"blk_crc0=0x{zlib.crc32(self.original[:4096]):08x}",
                  f"blk_crc_last=0x{zlib.crc32(self.original[-SECTOR:]):08x}",
                  f"wseed={self.wseed}", f"wsector={self.wsector}"]

    def make_bench_disk(self, tmpdir, words):
        """test=blkbench (bench/blk-bench.py's guest side), small: a tagged
        disk (bench/blkbench_disk.py) that it must read back, unchanged."""
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
        import blkbench_disk
        self.disk = f"{tmpdir}/disk.img"
        blkbench_disk.make_disk(self.disk, 4 << 20, self.wseed)
        with open(self.disk, "rb") as f:
            self.original = f.read()
        words += [f"bb_seed={self.wseed}", "bb_bs=65536", "bb_rops=256", "bb_qd=1,16"]

    def alioth_args(self):
        if self.net:
            return self.net.alioth_args()
        if self.disk:
            ro = ",readonly=true" if self.check == "blk-ro" else ""
            return ["--blk", f"file,path={self.disk}{ro}"]
        return {"entropy": ["--entropy"], "pvpanic": ["--pvpanic"]}.get(self.check, [])

    def qemu_machine(self, machine):
        """Devices need PCI with ECAM: q35 (its SeaBIOS assigns the BARs)."""
        return "q35" if self.check in CHECKS else machine

    def qemu_args(self):
        if self.disk:
            ro = ",readonly=on" if self.check == "blk-ro" else ""
            return ["-drive", f"file={self.disk},if=none,format=raw,id=d0{ro}",
                    "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,packed=on,serial=guest-test"]
        if self.check == "entropy":
            return ["-device", "virtio-rng-pci,disable-legacy=on,packed=on"]
        if self.check == "pvpanic":
            return ["-device", "pvpanic-pci", "-action", "panic=exit-failure"]
        return []

    def on_line(self, proc, line):
        if self.net:
            self.net.on_line(proc, line)
        # the durability claim: every acknowledged byte survives a kill -9 now
        if self.check == "blk-durable" and line.startswith("FLUSHED "):
            proc.send_signal(signal.SIGKILL)

    def expected_file(self):
        n = WRITE_SECTORS.get(self.check, 0)
        if not n:
            return self.original
        start = self.wsector * SECTOR
        return (self.original[:start] + pattern_bytes(self.wseed, start, n * SECTOR) +
                self.original[start + n * SECTOR:])

    def problems(self):
        """The disk file (or the net check's results) after the VMM exited."""
        if self.net:
            return self.net.problems()
        return self.disk_problems()

    def disk_problems(self):
        if not self.disk:
            return []
        with open(self.disk, "rb") as f:
            got = f.read()
        want = self.expected_file()
        if len(got) != len(want):
            return [f"disk file is {len(got)} bytes, expected {len(want)}"]
        if got == want:
            print(f"disk file: as expected ({len(got)} bytes)")
            return []
        first = next(i for i in range(len(got)) if got[i] != want[i])
        bad = sum(1 for s in range(0, len(got), SECTOR) if got[s:s + SECTOR] != want[s:s + SECTOR])
        return [f"disk file differs from the expected bytes from offset {first}"
                f" (sector {first // SECTOR}; {bad} sectors differ)"]


# --vu-backend: how each backend serves self.disk at a socket
VU_BACKENDS = {
    "alioth": lambda args, disk, sock, ro: [
        args.alioth, "vu", "-s", sock, "blk", "-p", f"path={disk}" + (",readonly=true" if ro else "")],
    "qsd": lambda args, disk, sock, ro: [
        "qemu-storage-daemon", "--blockdev",
        f"driver=file,node-name=f,filename={disk}" + (",read-only=on" if ro else ""),
        "--export", "type=vhost-user-blk,id=e,node-name=f,addr.type=unix,"
        f"addr.path={sock},writable={'off' if ro else 'on'}"],
}
VU_SOCKET_WAIT = 10.0


def skip(why):
    msg = f"SKIP: {why}"
    print("*" * len(msg), msg, "*" * len(msg), sep="\n", flush=True)
    print(msg, file=sys.stderr)
    sys.exit(77)


class VuBackendPlan:
    """A vhost-user backend process serving the blk check's disk; alioth
    boots with --blk vu,socket= and guest memory from a memfd."""

    def __init__(self, devices, args, tmpdir):
        if devices.check not in BLK_CHECKS:
            sys.exit(f"--vu-backend works with the blk checks {BLK_CHECKS}")
        tool = VU_BACKENDS[args.vu_backend](args, devices.disk, "", False)[0]
        if not shutil.which(tool):
            skip(f"{tool} not found: the vhost-user {args.vu_backend} test needs it")
        self.devices = devices
        self.args = args
        self.sock = os.path.join(tmpdir, "vu.sock")
        self.proc = None

    def setup(self):
        ro = self.devices.check == "blk-ro"
        cmd = VU_BACKENDS[self.args.vu_backend](self.args, self.devices.disk, self.sock, ro)
        print("+ backend:", " ".join(cmd), flush=True)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + VU_SOCKET_WAIT
        while not os.path.exists(self.sock):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the vhost-user backend did not listen at {self.sock}")
            time.sleep(0.05)

    def wrap(self, cmd):
        """The backend maps guest memory: it must come from a memfd."""
        i = cmd.index("-m")
        return cmd[:i + 1] + [cmd[i + 1] + ",backend=memfd"] + cmd[i + 2:]

    def alioth_args(self):
        return ["--blk", f"vu,socket={self.sock}"]

    def on_line(self, proc, line):
        pass  # DevicePlan.on_line does blk-durable's kill

    def problems(self):
        problems = self.devices.disk_problems()
        if self.proc and self.proc.poll() is not None:
            problems.append(f"the vhost-user backend exited early (status {self.proc.returncode})")
        return problems

    def cleanup(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
