#!/usr/bin/env python3
"""Network benchmark: frames per second and MB/s that the project's test
guest (tests/guest, test=netbench) moves through virtio-net over a TAP,
guest->host (nb=tx) and host->guest (nb=rx), with 64- and 1500-byte frames,
under alioth and under QEMU (q35, virtio-net-pci, TAP backend, vhost=off).

Everything runs in a network namespace this script creates (a TAP with no
address, IPv6 off: no traffic but the benchmark's, nothing leaves it) and
deletes on every exit path. The host side is bench/netbench-host.c, an
AF_PACKET socket on the TAP: a counter for tx, a sender for rx. The guest
times each phase with the TSC (the host's, unscaled under PVM; measured
here by bench/tsc-khz.c and passed as tsc_khz=); the host side times the
same traffic with its own clock. Rounds are interleaved: round r runs every
(configuration, phase) once, in an order rotated by r. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TAP = "tap0"
SKIP = 77


def loud(msg):
    bar = "!" * 72
    print(f"\n{bar}\n!! {msg}\n{bar}\n", file=sys.stderr, flush=True)


def skip_reason():
    if os.geteuid() != 0:
        return "not root: the benchmark creates a network namespace and a TAP"
    if not shutil.which("ip"):
        return "no `ip` command (package iproute2)"
    if not os.path.exists("/dev/net/tun"):
        return "no /dev/net/tun"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "/dev/kvm is not usable"
    return None


class Namespace:
    """A private network namespace holding one TAP; deleted (with the TAP)
    by close(), which every exit path reaches."""

    def __init__(self):
        self.name = f"alioth-nbench-{os.getpid()}-{random.randint(0, 1 << 20)}"
        self.created = False

    def sh(self, *argv):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)

    def open(self):
        self.sh("ip", "netns", "add", self.name)
        self.created = True
        for key in ("all", "default"):
            self.sh("ip", "netns", "exec", self.name, "sysctl", "-qw",
                    f"net.ipv6.conf.{key}.disable_ipv6=1")
        self.sh("ip", "-n", self.name, "link", "set", "lo", "up")
        self.sh("ip", "-n", self.name, "tuntap", "add", "dev", TAP, "mode", "tap")
        self.sh("ip", "-n", self.name, "link", "set", TAP, "up")

    def close(self):
        if self.created:
            subprocess.run(["ip", "netns", "del", self.name], timeout=60)
            self.created = False

    def wrap(self, argv):
        return ["ip", "netns", "exec", self.name] + argv


def build_tools(workdir, cc):
    out = {}
    for name, src in (("tsc-khz", "tsc-khz.c"), ("netbench-host", "netbench-host.c")):
        out[name] = os.path.join(workdir, name)
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", out[name],
                        os.path.join(HERE, src)], check=True)
    return out


def host_tsc_khz(tool):
    fields = dict(kv.split("=") for kv in subprocess.run(
        [tool], check=True, capture_output=True, text=True).stdout.split())
    return int(fields["tsc_khz"]), int(fields["spread_ppm"])


def kv_words(line):
    return {k: v for k, v in (w.split("=", 1) for w in line.split() if "=" in w)}


def guest_cmdline(args, direction, size, tsc_khz, verify=0, count=None):
    count = args.tx_frames if count is None else count
    return (f"console=ttyS0 test=netbench nb={direction} nb_size={size} "
            f"nb_count={count if direction == 'tx' else 0} nb_batch={args.batch} "
            f"nb_idle_ms={args.idle_ms} nb_verify={verify} tsc_khz={tsc_khz}")


def alioth_argv(args, cmdline):
    return [args.alioth, "boot", "--pvh", args.guest, "-m", f"size={args.memory}",
            "--console", "stdio", "--net", f"if={TAP},mac={args.mac},mtu=1500", "-c", cmdline]


def qemu_argv(args, cmdline, accel):
    cpu = ["-cpu", args.qemu_cpu] if accel == "kvm" else []
    return [args.qemu, "-accel", accel] + cpu + [
        "-M", "q35", "-m", args.memory, "-smp", "1", "-nographic", "-nodefaults",
        "-no-user-config", "-no-reboot", "-serial", "stdio", "-monitor", "none",
        "-kernel", args.guest, "-append", cmdline,
        "-netdev", f"tap,id=n0,ifname={TAP},script=no,downscript=no,vhost=off",
        "-device", f"virtio-net-pci,netdev=n0,disable-legacy=on,mac={args.mac}"]


class GuestRun:
    """One VMM run inside the namespace; `on_line` sees every console line."""

    def __init__(self, ns, argv, log, timeout, on_line=None):
        self.result = None       # the guest's NETBENCH tx/rx words
        self.passed = False
        self.status = None
        with open(log, "w") as logf:
            proc = subprocess.Popen(ns.wrap(argv), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            timer = threading.Timer(timeout, proc.kill)
            timer.start()
            try:
                for raw in proc.stdout:
                    line = raw.decode(errors="replace").rstrip("\r\n")
                    logf.write(line + "\n")
                    if line.startswith(("NETBENCH tx ", "NETBENCH rx ")):
                        self.result = kv_words(line)
                    elif line == "PASS netbench":
                        self.passed = True
                    if on_line:
                        on_line(line)
                self.status = proc.wait()
            finally:
                timer.cancel()
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()


def run_tx(args, ns, tools, argv_for, size, log, verify):
    """Counter first (it says `listening`), then the guest; the counter ends
    when every frame arrived (or after silence)."""
    counter = subprocess.Popen(ns.wrap([tools["netbench-host"], "count", TAP, str(size),
                                        str(args.tx_frames), "2000"]),
                               stdout=subprocess.PIPE, text=True)
    try:
        if counter.stdout.readline().strip() != "listening":
            return None, "the host counter did not start"
        g = GuestRun(ns, argv_for(guest_cmdline(args, "tx", size, args.tsc_khz, verify)), log,
                     args.timeout)
        try:
            out, _ = counter.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            counter.kill()
            out, _ = counter.communicate()
    finally:
        if counter.poll() is None:
            counter.kill()
            counter.wait()
    host = kv_words(out) if out else {}
    if not (g.passed and g.status == 0 and g.result):
        return None, f"guest: exit {g.status}, pass={g.passed}"
    frames = int(g.result["frames"])
    if int(host.get("frames", -1)) != frames or int(host.get("gaps", 1)) or int(host.get("misorder", 1)):
        return None, f"host counter {host} for {frames} frames sent"
    return {"frames": frames, "bytes": int(g.result["bytes"]), "cycles": int(g.result["cycles"]),
            "kicks": int(g.result["kicks"]), "host_frames": int(host["frames"]),
            "host_ns": int(host["ns"])}, None


def run_rx(args, ns, tools, argv_for, size, log, verify):
    """The guest first; on its READY the sender blasts for --seconds (it
    backs off while the TAP's queue is full); the guest stops after
    --idle-ms of silence."""
    sender = {}

    def send():
        r = subprocess.run(ns.wrap([tools["netbench-host"], "send", TAP, args.mac, str(size),
                                    str(args.seconds)]), capture_output=True, text=True)
        sender.update(kv_words(r.stdout))

    threads = []

    def on_line(line):
        if line.startswith("NETBENCH ready rx") and not threads:
            t = threading.Thread(target=send, daemon=True)
            t.start()
            threads.append(t)

    g = GuestRun(ns, argv_for(guest_cmdline(args, "rx", size, args.tsc_khz, verify)), log,
                 args.timeout, on_line)
    for t in threads:
        t.join(args.seconds + 30)
    if not (g.passed and g.status == 0 and g.result):
        return None, f"guest: exit {g.status}, pass={g.passed}"
    frames, sent = int(g.result["frames"]), int(sender.get("sent", -1))
    # the sender only counts frames the TAP took; every one must arrive
    if frames != sent or int(g.result["other"]):
        return None, f"the host sent {sent} frames, the guest counted {frames} ({g.result})"
    return {"frames": frames - 1, "bytes": int(g.result["bytes"]) - size,  # first frame opens the interval
            "cycles": int(g.result["cycles"]), "kicks": int(g.result["kicks"]),
            "gaps": int(g.result["gaps"]), "host_frames": sent, "host_ns": int(sender["ns"]),
            "nobufs": int(sender["nobufs"])}, None


PHASE_RUNNERS = {"tx": run_tx, "rx": run_rx}


def argv_maker(args, kind, accel):
    if kind == "alioth":
        return lambda cmd: alioth_argv(args, cmd)
    return lambda cmd: qemu_argv(args, cmd, accel)


def validate(args, ns, tools, kind, accel, workdir):
    """Both directions at the smallest and largest size, with the frames'
    contents checked by the guest (rx) and the host counter (tx, always)."""
    small = argparse.Namespace(**vars(args))
    small.tx_frames = min(args.tx_frames, 2000)
    small.seconds = min(args.seconds, 0.5)
    for direction in ("tx", "rx"):
        for size in sorted({min(args.sizes), max(args.sizes)}):
            log = os.path.join(workdir, f"validate-{kind}-{accel}-{direction}-{size}.log")
            s, why = PHASE_RUNNERS[direction](small, ns, tools, argv_maker(args, kind, accel),
                                              size, log, 1)
            if not s:
                return f"{direction} {size}: {why} (see {log})"
    return None


def probe_qemu(args, ns, tools, workdir):
    if args.no_qemu or not shutil.which(args.qemu):
        return None, "skipped" if args.no_qemu else f"{args.qemu} not found"
    for accel in ("kvm", "tcg"):
        why = validate(args, ns, tools, "qemu", accel, workdir)
        if not why:
            return accel, f"ok (-accel {accel})"
        if accel == "kvm":
            loud(f"QEMU -accel kvm -cpu {args.qemu_cpu} with virtio-net-pci did not work here "
                 f"({why}); falling back to TCG: NOT COMPARABLE")
    return None, "QEMU runs neither under KVM nor TCG"


def phases(args):
    return [(d, s) for d in ("tx", "rx") for s in args.sizes]


def summarize(vals):
    s = sorted(vals)
    return {"n": len(s), "min": s[0], "median": statistics.median(s), "max": s[-1]} if s else None


def one_round(args, ns, tools, confs, r, workdir, results):
    jobs = [(c, p) for c in confs for p in phases(args)]
    shift = r % len(jobs)
    for (name, kind, accel), (direction, size) in jobs[shift:] + jobs[:shift]:
        key = f"{name}|{direction}|{size}"
        log = os.path.join(workdir, f"{kind}-{direction}-{size}-{r}.log")
        s, why = PHASE_RUNNERS[direction](args, ns, tools, argv_maker(args, kind, accel), size,
                                          log, 0)
        if not s:
            print(f"net-bench: {key} round {r}: {why}; see {log}", file=sys.stderr, flush=True)
            results[key]["failed"] += 1
            continue
        s["seconds"] = s["cycles"] / (args.tsc_khz * 1e3)
        s["pps"] = s["frames"] / s["seconds"]
        s["MBps"] = s["bytes"] / s["seconds"] / 1e6
        print(f"net-bench: round {r} {key}: {s['pps']:.0f} frames/s {s['MBps']:.2f} MB/s "
              f"({s['kicks']} doorbells)", flush=True)
        if r >= 0:
            results[key]["samples"].append(s)


def report(args, facts, confs, results):
    print(f"\n# network benchmark, {facts['date']}")
    print(f"host: kernel {facts['kernel']}, {facts['cpu']} x{facts['ncpus']}, /dev/kvm: "
          f"{facts['kvm']}, load average {facts['load_start']} -> {facts['load_end']}")
    print(f"TSC {facts['tsc_khz']} kHz; qemu: {facts['qemu']} ({facts['qemu_probe']})")
    print(f"tx: {args.tx_frames} frames per run; rx: the host sends for {args.seconds} s; "
          f"256-entry polled split rings, doorbell/refill every {args.batch} buffers; "
          f"{args.runs} interleaved runs after {args.warmup} warm-up\n")
    print("| configuration | direction | frame | ok | frames/s min | median | max | MB/s median | "
          "doorbells/frame | host clock vs guest |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, _, _ in confs:
        for direction, size in phases(args):
            rec = results[f"{name}|{direction}|{size}"]
            pps = summarize([s["pps"] for s in rec["samples"]])
            if not pps:
                print(f"| {name} | {direction} | {size} | 0/{rec['failed']} | - | - | - | - | - | - |")
                continue
            mb = summarize([s["MBps"] for s in rec["samples"]])
            rec["pps"], rec["MBps"] = pps, mb
            kpf = statistics.median(s["kicks"] / max(1, s["frames"]) for s in rec["samples"])
            # tx: first-to-last arrival at the host counter; rx: the sender's span
            hvg = statistics.median(s["host_ns"] / 1e9 / s["seconds"] for s in rec["samples"])
            print(f"| {name} | {direction} | {size} | {pps['n']}/{pps['n'] + rec['failed']} | "
                  f"{pps['min']:.0f} | {pps['median']:.0f} | {pps['max']:.0f} | "
                  f"{mb['median']:.2f} | {kpf:.3f} | {hvg:.2f} |")
    print()
    base = confs[0][0]
    for name, _, _ in confs[1:]:
        parts = []
        for direction, size in phases(args):
            a = results[f"{base}|{direction}|{size}"].get("pps")
            b = results[f"{name}|{direction}|{size}"].get("pps")
            if a and b:
                parts.append(f"{direction} {size} B {a['median'] / b['median']:.2f}x")
        if parts:
            print(f"{base} / {name} (median frames/s): " + ", ".join(parts))


def host_facts(args, tsc):
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    qver = ""
    if shutil.which(args.qemu):
        qver = subprocess.run([args.qemu, "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "kernel": platform.release(), "cpu": model, "ncpus": os.cpu_count(),
            "kvm": "PVM (kvm_pvm)" if os.path.isdir("/sys/module/kvm_pvm") else "hardware KVM",
            "qemu": qver, "tsc_khz": tsc[0], "tsc_spread_ppm": tsc[1],
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alioth", default=os.path.join(ROOT, "build", "alioth"))
    ap.add_argument("--guest", default=os.path.join(ROOT, "build", "tests", "guest", "guest.elf"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--qemu-cpu", default="kvm64", help="QEMU -cpu under KVM (host/max abort on PVM)")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--sizes", default="64,1500", help="frame sizes in bytes (no FCS), 18..1514")
    ap.add_argument("--tx-frames", type=int, default=20000, help="frames the guest sends per tx run")
    ap.add_argument("--seconds", type=float, default=2.0, help="how long the host sends per rx run")
    ap.add_argument("--batch", type=int, default=64,
                    help="guest: buffers per doorbell (tx posts, rx refills), 1..256")
    ap.add_argument("--idle-ms", type=int, default=500, help="rx: silence that ends the guest's count")
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--workdir")
    ap.add_argument("--json")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = ap.parse_args()
    args.sizes = [int(x) for x in args.sizes.split(",")]
    if any(not 18 <= s <= 1514 for s in args.sizes):
        ap.error("--sizes: 18..1514")
    b = bytearray(random.randbytes(6))
    b[0] = (b[0] & 0xFE) | 0x02
    args.mac = ":".join(f"{x:02x}" for x in b)
    return args


def bench(args, ns, workdir):
    tools = build_tools(workdir, args.cc)
    tsc = host_tsc_khz(tools["tsc-khz"])
    args.tsc_khz = tsc[0]
    facts = host_facts(args, tsc)
    ns.open()
    why = validate(args, ns, tools, "alioth", None, workdir)
    if why:
        loud(f"alioth failed the validation run: {why}")
        return 1
    accel, facts["qemu_probe"] = probe_qemu(args, ns, tools, workdir)
    confs = [("alioth", "alioth", None)]
    if accel:
        confs.append(("qemu" if accel == "kvm" else "qemu-TCG (not comparable)", "qemu", accel))
    results = {f"{n}|{d}|{s}": {"samples": [], "failed": 0}
               for n, _, _ in confs for d, s in phases(args)}
    for r in range(-args.warmup, args.runs):
        one_round(args, ns, tools, confs, r, workdir, results)
    facts["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    report(args, facts, confs, results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"host": facts, "args": vars(args), "results": results}, f, indent=1)
    failed = [k for k, v in results.items() if v["failed"]]
    if failed:
        loud("runs that failed: " + ", ".join(failed))
        return 1
    return 0


def main():
    args = parse_args()
    for path in (args.alioth, args.guest):
        if not os.path.exists(path):
            sys.exit(f"net-bench: {path} not found; build it or pass --alioth/--guest")
    why = skip_reason()
    if why:
        loud(f"SKIP: {why}")
        return SKIP
    workdir = args.workdir or tempfile.mkdtemp(prefix="alioth-net-bench-")
    os.makedirs(workdir, exist_ok=True)
    ns = Namespace()
    # SIGTERM/SIGHUP unwind like Ctrl-C, so the namespace is always deleted
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        return bench(args, ns, workdir)
    finally:
        ns.close()


if __name__ == "__main__":
    sys.exit(main())
