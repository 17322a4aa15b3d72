#!/usr/bin/env python3
"""Block benchmark: sequential-read MB/s and 4 KiB random-read IOPS that the
project's test guest (tests/guest, test=blkbench) gets from virtio-blk under
alioth and under QEMU (q35, virtio-blk-pci), at queue depth 1 and 16, against
the host reading the same file with fio.

The guest times each phase with the TSC (the host's, unscaled under PVM; the
rate is measured here by bench/tsc-khz.c and passed as tsc_khz=); the runner
also timestamps the guest's "begin" and result lines as they arrive, a
host-side check of that clock. Runs are interleaved: round r runs every
configuration once, in an order rotated by r. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import blkbench_disk  # noqa: E402

PHASES = [("seq", 1), ("seq", 16), ("rand", 1), ("rand", 16)]


def loud(msg):
    bar = "!" * 72
    print(f"\n{bar}\n!! {msg}\n{bar}\n", file=sys.stderr)


def parse_size(text):
    units = {"K": 10, "M": 20, "G": 30}
    t = text.upper()
    return int(t[:-1]) << units[t[-1]] if t[-1] in units else int(t)


def build_tsc_tool(workdir, cc):
    out = os.path.join(workdir, "tsc-khz")
    subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-o", out,
                    os.path.join(HERE, "tsc-khz.c")], check=True)
    return out


def host_tsc_khz(tool):
    fields = dict(kv.split("=") for kv in subprocess.run(
        [tool], check=True, capture_output=True, text=True).stdout.split())
    return int(fields["tsc_khz"]), int(fields["spread_ppm"])


def guest_cmdline(args, phase, qd, tsc_khz, verify=None, extra=""):
    return (f"console=ttyS0 test=blkbench bb={phase} bb_qd={qd} bb_bs={args.bs} "
            f"bb_rops={args.rand_ops} bb_seed={args.seed} tsc_khz={tsc_khz} vmode={args.vmode} "
            f"bb_verify={verify or args.verify}{extra}")


def alioth_argv(args, disk, cmdline, api):
    blk = f"file,path={disk}" + (f",api={api}" if api else "")
    return [args.alioth, "boot", "--pvh", args.guest, "-m", f"size={args.memory}",
            "--console", "stdio", "--blk", blk, "-c", cmdline]


def qemu_argv(args, disk, cmdline, accel):
    cpu = ["-cpu", args.qemu_cpu] if accel == "kvm" else []
    return [args.qemu, "-accel", accel] + cpu + [
        "-M", "q35", "-m", args.memory, "-smp", "1", "-nographic", "-nodefaults",
        "-no-user-config", "-no-reboot", "-serial", "stdio", "-monitor", "none",
        "-kernel", args.guest, "-append", cmdline,
        "-drive", f"file={disk},if=none,format=raw,id=d0",
        "-device", "virtio-blk-pci,drive=d0,disable-legacy=on"]


def run_guest(argv, log, timeout):
    """Runs one VMM; returns (BLKBENCH results, host line-arrival seconds
    per phase, PASS seen, exit status)."""
    results, begins, spans = [], {}, []
    passed = False
    with open(log, "w") as logf:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        for raw in proc.stdout:
            now = time.monotonic()
            line = raw.decode(errors="replace").rstrip("\r\n")
            logf.write(line + "\n")
            if line.startswith("BLKBENCH begin "):
                begins[line.split(" ", 2)[2]] = now
            elif line.startswith("BLKBENCH "):
                words = line.split()
                kv = dict(w.split("=", 1) for w in words[2:] if "=" in w)
                key = f"{words[1]} qd={kv['qd']}"
                results.append({"phase": words[1], "qd": int(kv["qd"]), "bs": int(kv["bs"]),
                                "ops": int(kv["ops"]), "bytes": int(kv["bytes"]),
                                "cycles": int(kv["cycles"])})
                spans.append(now - begins.get(key, now))
            elif line == "PASS blkbench":
                passed = True
            if now > deadline:
                proc.kill()
                break
        try:
            status = proc.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            status = proc.wait()
    return results, spans, passed, status


def fio_argv(args, disk, phase, qd, direct):
    bs = args.bs if phase == "seq" else 4096
    size = os.path.getsize(disk)
    return ["fio", "--output-format=json", "--name=blk", f"--filename={disk}", "--readonly",
            f"--rw={'read' if phase == 'seq' else 'randread'}", f"--bs={bs}",
            f"--direct={direct}", f"--size={size}", "--norandommap",
            # time-based: a cached file is read in ~1 ms, below fio's ms runtime
            "--time_based", f"--runtime={args.fio_seconds}",
            f"--ioengine={'psync' if qd == 1 else 'io_uring'}", f"--iodepth={qd}",
            "--invalidate=0"]


def run_fio(argv):
    out = subprocess.run(argv, capture_output=True, text=True)
    if out.returncode:
        return None
    job = json.loads(out.stdout[out.stdout.index("{"):])["jobs"][0]["read"]
    return {"bytes": job["io_bytes"], "ops": job["total_ios"], "seconds": job["runtime"] / 1000}


def prepare_cache(mode, disk):
    """warm: the whole file in the page cache for every party; drop: none."""
    if mode == "drop":
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
    else:
        with open(disk, "rb") as f:
            while f.read(1 << 20):
                pass


def validation_cmdline(args, tsc_khz):
    """Every phase, small, with every sector's tag checked (bb_verify=all):
    the timed runs check less, see --verify."""
    probe = argparse.Namespace(**vars(args))
    probe.rand_ops = 256
    return guest_cmdline(probe, "seq,rand", "1,16", tsc_khz, "all", f" bb_bytes={8 << 20}")


def validate_alioth(args, disk, tsc_khz, workdir):
    log = os.path.join(workdir, "validate-alioth.log")
    res, _, ok, status = run_guest(alioth_argv(args, disk, validation_cmdline(args, tsc_khz), None),
                                   log, 300)
    return ok and len(res) == 4 and status == 0, log


def probe_qemu(args, disk, tsc_khz, workdir):
    """kvm if QEMU's virtio-blk path runs under this KVM, else tcg (labelled);
    the probe is the validation run."""
    if args.no_qemu or not shutil.which(args.qemu):
        return None, "skipped" if args.no_qemu else f"{args.qemu} not found"
    cmd = validation_cmdline(args, tsc_khz)
    for accel in ("kvm", "tcg"):
        log = os.path.join(workdir, f"probe-qemu-{accel}.log")
        res, _, ok, status = run_guest(qemu_argv(args, disk, cmd, accel), log, 300)
        if ok and len(res) == 4 and status == 0:
            return accel, f"ok (-accel {accel})"
        if accel == "kvm":
            loud(f"QEMU -accel kvm -cpu {args.qemu_cpu} with virtio-blk-pci did not work here "
                 f"(exit {status}, see {log}); falling back to TCG: NOT COMPARABLE")
    return None, "QEMU runs neither under KVM nor TCG"


def configurations(args, qemu_accel):
    confs = [("alioth", "vmm", None)]
    if args.mio:
        confs.append(("alioth api=mio", "vmm", "mio"))
    if qemu_accel:
        name = "qemu" if qemu_accel == "kvm" else "qemu-TCG (not comparable)"
        confs.append((name, "qemu", qemu_accel))
    if not args.no_fio and shutil.which("fio"):
        confs += [("host fio O_DIRECT", "fio", 1), ("host fio buffered", "fio", 0)]
    return confs


def rate(sample, phase):
    if phase == "seq":
        return sample["bytes"] / sample["seconds"] / 1e6
    return sample["ops"] / sample["seconds"]


def summarize(vals):
    if not vals:
        return None
    s = sorted(vals)
    return {"n": len(s), "min": s[0], "median": statistics.median(s), "max": s[-1]}


def one_round(args, confs, disk, tsc_khz, r, workdir, results):
    """Every (configuration, phase) once, in an order rotated by r."""
    jobs = [(c, p) for c in confs for p in PHASES]
    shift = r % len(jobs)
    for (name, kind, extra), (phase, qd) in jobs[shift:] + jobs[:shift]:
        prepare_cache(args.cache, disk)
        key = f"{name}|{phase}|{qd}"
        if kind == "fio":
            s = run_fio(fio_argv(args, disk, phase, qd, extra))
            if not s:
                print(f"blk-bench: fio failed for {key}", file=sys.stderr)
                results[key]["failed"] += 1
                continue
            s["host_seconds"] = s["seconds"]
        else:
            cmd = guest_cmdline(args, phase, qd, tsc_khz)
            argv = (alioth_argv(args, disk, cmd, extra) if kind == "vmm"
                    else qemu_argv(args, disk, cmd, extra))
            log = os.path.join(workdir, f"{name.split()[0]}-{phase}-{qd}-{r}.log")
            res, spans, ok, status = run_guest(argv, log, args.timeout)
            if not (ok and res and status == 0):
                print(f"blk-bench: {key} round {r}: exit {status}, pass={ok}; see {log}",
                      file=sys.stderr)
                results[key]["failed"] += 1
                continue
            g = res[0]
            s = {"bytes": g["bytes"], "ops": g["ops"], "cycles": g["cycles"],
                 "seconds": g["cycles"] / (tsc_khz * 1e3), "host_seconds": spans[0]}
        if r >= 0:
            results[key]["samples"].append(s)


def report(args, facts, confs, results):
    print(f"# block benchmark, {facts['date']}")
    print(f"host: kernel {facts['kernel']}, {facts['cpu']} x{facts['ncpus']}, /dev/kvm: {facts['kvm']}, "
          f"load average {facts['load_start']} -> {facts['load_end']}")
    print(f"TSC {facts['tsc_khz']} kHz (spread {facts['tsc_spread_ppm']} ppm); qemu: {facts['qemu']}")
    print(f"file {facts['disk_bytes'] >> 20} MiB; seq {args.bs // 1024} KiB requests over the whole "
          f"file; rand {args.rand_ops} x 4 KiB; guest completions by {args.vmode}; "
          f"page cache: {args.cache}; sector tags checked: {args.verify} (a run checking all passed "
          f"first); {args.runs} interleaved runs after {args.warmup} warm-up\n")
    print("| configuration | phase | qd | ok | min | median | max | unit | guest TSC vs host lines |")
    print("|---|---|---|---|---|---|---|---|---|")
    base = {}
    for name, kind, _ in confs:
        for phase, qd in PHASES:
            rec = results[f"{name}|{phase}|{qd}"]
            vals = [rate(s, phase) for s in rec["samples"]]
            st = summarize(vals)
            unit = "MB/s" if phase == "seq" else "IOPS"
            if not st:
                print(f"| {name} | {phase} | {qd} | 0 | - | - | - | {unit} | |")
                continue
            err = ""
            if kind in ("vmm", "qemu"):
                d = [(s["host_seconds"] - s["seconds"]) * 1e3 for s in rec["samples"]]
                err = f"host - guest {statistics.median(d):+.1f} ms (median)"
            rec["summary"] = st
            print(f"| {name} | {phase} | {qd} | {st['n']}/{st['n'] + rec['failed']} | {st['min']:.1f} | "
                  f"{st['median']:.1f} | {st['max']:.1f} | {unit} | {err} |")
            if name == "alioth":
                base[(phase, qd)] = st
    print()
    for name, _, _ in confs:
        if name == "alioth":
            continue
        parts = []
        for phase, qd in PHASES:
            st = results[f"{name}|{phase}|{qd}"].get("summary")
            b = base.get((phase, qd))
            if st and b:
                parts.append(f"{phase} qd{qd} {b['median'] / st['median']:.2f}x")
        if parts:
            print(f"alioth / {name} (medians): " + ", ".join(parts))


def host_facts(args, tsc, disk):
    model = ""
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
            "disk_bytes": os.path.getsize(disk),
            "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alioth", default=os.path.join(ROOT, "build", "alioth"))
    ap.add_argument("--guest", default=os.path.join(ROOT, "build", "tests", "guest", "guest.elf"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--qemu-cpu", default="kvm64", help="QEMU -cpu under KVM (host/max abort on PVM)")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--no-fio", action="store_true")
    ap.add_argument("--mio", action="store_true", help="also alioth with --blk ...,api=mio")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--size", default="64M", help="disk file size (default 64M)")
    ap.add_argument("--bs", type=int, default=128 << 10, help="sequential request bytes (<= 256 KiB)")
    ap.add_argument("--fio-seconds", type=int, default=2, help="length of each fio run")
    ap.add_argument("--rand-ops", type=int, default=8192, help="4 KiB random reads per phase")
    ap.add_argument("--vmode", choices=["irq", "poll"], default="irq",
                    help="guest waits for completions by MSI-X interrupt or by polling")
    ap.add_argument("--verify", choices=["none", "first", "all"], default="none",
                    help="sector tags the guest checks in timed runs (default none: on PVM each "
                    "read of host-written data is an emulated access; a bb_verify=all run of "
                    "every phase precedes the rounds)")
    ap.add_argument("--cache", choices=["warm", "drop"], default="warm",
                    help="file in the page cache before every run, or caches dropped (root)")
    ap.add_argument("--memory", default="256M")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--seed", type=int, default=random.randint(1, 1 << 62))
    ap.add_argument("--workdir")
    ap.add_argument("--json")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = ap.parse_args()

    for path in (args.alioth, args.guest):
        if not os.path.exists(path):
            sys.exit(f"blk-bench: {path} not found; build it or pass --alioth/--guest")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        loud("/dev/kvm is not usable: nothing can be measured")
        return 77
    workdir = args.workdir or tempfile.mkdtemp(prefix="alioth-blk-bench-")
    os.makedirs(workdir, exist_ok=True)
    disk = os.path.join(workdir, "disk.img")
    blkbench_disk.make_disk(disk, parse_size(args.size), args.seed)
    tsc = host_tsc_khz(build_tsc_tool(workdir, args.cc))
    facts = host_facts(args, tsc, disk)
    ok, log = validate_alioth(args, disk, tsc[0], workdir)
    if not ok:
        loud(f"alioth failed the validation run (every sector checked): see {log}")
        return 1
    qemu_accel, qemu_why = probe_qemu(args, disk, tsc[0], workdir)
    facts["qemu_probe"] = qemu_why
    confs = configurations(args, qemu_accel)
    results = {f"{n}|{p}|{q}": {"samples": [], "failed": 0} for n, _, _ in confs for p, q in PHASES}
    for r in range(-args.warmup, args.runs):
        one_round(args, confs, disk, tsc[0], r, workdir, results)
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


if __name__ == "__main__":
    sys.exit(main())
