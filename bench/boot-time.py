#!/usr/bin/env python3
"""Boot-time and memory benchmark: wall time from process start to the
power-off of a guest that powers off at its first instructions, and the
VMM's peak RSS, for alioth, QEMU microvm and a bare KVM program.

Every configuration is run --runs times, interleaved (round r runs each
configuration once, in an order rotated by r) so that drift on the host hits
all of them alike. Each run is timed by bench/runone.c (CLOCK_MONOTONIC
around fork..wait4; peak RSS from wait4's rusage, the number GNU time's %M
prints). See bench/README.md.
"""

import argparse
import datetime
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

AIM_MS = 5.0
AIM_RSS_KIB = 4 * 1024
QEMU_CPU_MODELS = ["host", "max", "kvm64", "qemu64"]


def loud(msg):
    bar = "!" * 72
    print(f"\n{bar}\n!! {msg}\n{bar}\n", file=sys.stderr)


def build_tools(workdir, cc):
    """Compile the launcher, the bare-KVM floor and the power-off guest."""
    out = {
        "runone": os.path.join(workdir, "runone"),
        "kvm_floor": os.path.join(workdir, "kvm-floor"),
        "guest": os.path.join(workdir, "poweroff.elf"),
    }
    cflags = ["-O2", "-Wall", "-Wextra", "-Werror"]
    steps = [
        [cc] + cflags + ["-o", out["runone"], os.path.join(HERE, "runone.c")],
        [cc] + cflags + ["-pthread", "-o", out["kvm_floor"], os.path.join(HERE, "kvm-floor.c")],
        [cc, "-m64", "-nostdlib", "-static", "-no-pie", "-fno-pic", "-Wl,--build-id=none",
         "-Wl,-n", "-T", os.path.join(HERE, "guest", "poweroff.ld"), "-o", out["guest"],
         os.path.join(HERE, "guest", "poweroff.S")],
    ]
    for cmd in steps:
        subprocess.run(cmd, check=True)
    return out


def run_once(runone, argv, log, timeout=30):
    """One timed run: (wall ms, peak RSS KiB, exit status, signal)."""
    res = subprocess.run([runone, "-o", log, "-t", str(timeout), "--"] + argv,
                         check=True, capture_output=True, text=True)
    fields = dict(kv.split("=") for kv in res.stdout.split())
    return (int(fields["wall_ns"]) / 1e6, int(fields["maxrss_kib"]),
            int(fields["status"]), int(fields["signal"]))


def last_line(path):
    try:
        with open(path, errors="replace") as f:
            lines = [ln.strip() for ln in f if ln.strip()]
    except OSError:
        return ""
    return lines[-1] if lines else "(no output)"


def qemu_argv(qemu, cpu, guest, mem, debug_exit):
    machine = "microvm,acpi=off" if debug_exit else "microvm"
    argv = [qemu, "-accel", "kvm", "-cpu", cpu, "-M", machine, "-m", mem, "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-kernel", guest]
    if debug_exit:
        argv += ["-device", "isa-debug-exit,iobase=0xf4"]
    return argv


def pick_qemu_cpu(args, tools, workdir):
    """The first -cpu model with which QEMU boots the guest under KVM.

    Returns (model or None, {model: why it was rejected})."""
    rejected = {}
    if not shutil.which(args.qemu):
        return None, {"*": f"{args.qemu} not found"}
    models = [args.qemu_cpu] if args.qemu_cpu else QEMU_CPU_MODELS
    for cpu in models:
        log = os.path.join(workdir, f"probe-qemu-{cpu}.log")
        argv = qemu_argv(args.qemu, cpu, tools["guest"], args.memory, False)
        _, _, status, sig = run_once(tools["runone"], argv, log, timeout=20)
        if status == 0 and sig == 0:
            return cpu, rejected
        why = f"signal {sig}" if sig else f"exit {status}"
        rejected[cpu] = f"{why}: {last_line(log)}"
    return None, rejected


def configurations(args, tools, qemu_cpu):
    """(name, argv, expected exit status) of everything to measure."""
    g, m = tools["guest"], args.memory
    alioth = [args.alioth, "boot", "--pvh", g]
    confs = [
        ("true", ["/bin/true"], 0),
        ("kvm-floor", [tools["kvm_floor"], "--memory", m], 0),
        ("alioth", alioth + ["-m", f"size={m}"], 0),
        ("alioth -p count=2", alioth + ["-m", f"size={m}", "-p", "count=2"], 0),
        ("alioth -m size=4G", alioth + ["-m", "size=4G"], 0),
    ]
    if args.breakdown:
        # the bare program gaining, step by step, the kernel objects alioth creates
        floor = [tools["kvm_floor"], "--memory", m]
        confs[2:2] = [
            ("kvm-floor +split-irqchip", floor + ["--split-irqchip"], 0),
            ("kvm-floor +irqchip", floor + ["--irqchip"], 0),
            ("kvm-floor +irqchip+pit", floor + ["--irqchip", "--pit"], 0),
            ("kvm-floor +irqchip+pit+thread", floor + ["--irqchip", "--pit", "--thread"], 0),
            ("kvm-floor +irqchip+pit+thread, memory first",
             floor + ["--irqchip", "--pit", "--thread", "--memory-first"], 0),
        ]
    if qemu_cpu:
        confs += [
            ("qemu-microvm", qemu_argv(args.qemu, qemu_cpu, g, m, False), 0),
            ("qemu-microvm acpi=off debug-exit", qemu_argv(args.qemu, qemu_cpu, g, m, True), 1),
        ]
    if args.project_guest:
        pg = args.project_guest
        cmd = "test=poweroff"
        confs.append(("alioth project-guest", [args.alioth, "boot", "--pvh", pg, "-m", f"size={m}",
                                               "-c", cmd], 0))
        if qemu_cpu:
            confs.append(("qemu-microvm project-guest",
                          qemu_argv(args.qemu, qemu_cpu, pg, m, False) + ["-append", cmd], 0))
    return confs


def percentile(sorted_vals, p):
    """Nearest-rank percentile."""
    return sorted_vals[max(0, math.ceil(p / 100 * len(sorted_vals)) - 1)]


def summarize(samples):
    ok = [s for s in samples if s["ok"]]
    if not ok:
        return None
    wall = sorted(s["wall_ms"] for s in ok)
    rss = sorted(s["rss_kib"] for s in ok)
    return {"runs": len(samples), "ok": len(ok), "min": wall[0],
            "median": statistics.median(wall), "p90": percentile(wall, 90), "max": wall[-1],
            "rss_median": statistics.median(rss), "rss_peak": rss[-1]}


def host_facts(args, qemu_cpu):
    pvm = os.path.isdir("/sys/module/kvm_pvm")
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    qver = ""
    if shutil.which(args.qemu):
        qver = subprocess.run([args.qemu, "--version"], capture_output=True,
                              text=True).stdout.splitlines()[0]
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "kernel": platform.release(), "cpu": model, "ncpus": os.cpu_count(),
            "kvm": "PVM (kvm_pvm loaded, no vmx/svm)" if pvm else "hardware KVM",
            "qemu": qver, "qemu_cpu": qemu_cpu, "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def report(facts, results, confs, rejected, args):
    print(f"# boot-time benchmark, {facts['date']}")
    print(f"host: kernel {facts['kernel']}, {facts['cpu']} x{facts['ncpus']}, /dev/kvm: {facts['kvm']}, "
          f"load average at the end {facts['loadavg']}")
    if facts["qemu"]:
        print(f"qemu: {facts['qemu']}, -cpu {facts['qemu_cpu'] or '(none runs)'}")
    for cpu, why in rejected.items():
        print(f"qemu -cpu {cpu} rejected: {why}")
    print(f"guest RAM {args.memory} unless named; {args.runs} interleaved runs each "
          f"(after {args.warmup} warm-up)\n")
    print("| configuration | ok/runs | min ms | median ms | p90 ms | max ms | RSS median KiB | RSS peak KiB |")
    print("|---|---|---|---|---|---|---|---|")
    for name, _, _ in confs:
        s = results[name]["summary"]
        if s is None:
            print(f"| {name} | 0/{len(results[name]['samples'])} | - | - | - | - | - | - |")
            continue
        print(f"| {name} | {s['ok']}/{s['runs']} | {s['min']:.2f} | {s['median']:.2f} | "
              f"{s['p90']:.2f} | {s['max']:.2f} | {s['rss_median']:.0f} | {s['rss_peak']} |")
    ours = results.get("alioth", {}).get("summary")
    print()
    for name in ("qemu-microvm", "qemu-microvm acpi=off debug-exit", "qemu-microvm project-guest"):
        theirs = results.get(name, {}).get("summary")
        base = results.get("alioth project-guest" if "project" in name else "alioth", {}).get("summary")
        if theirs and base:
            print(f"ratio {name} / alioth: medians {theirs['median'] / base['median']:.2f}x, "
                  f"minimums {theirs['min'] / base['min']:.2f}x, "
                  f"RSS peak {theirs['rss_peak'] / base['rss_peak']:.1f}x")
    if args.no_qemu:
        print("QEMU column: skipped (--no-qemu)")
    elif not any(n.startswith("qemu") for n, _, _ in confs):
        print("QEMU column: NOT RUNNABLE HERE (see the rejected -cpu models above)")
    if ours:
        t_ok = ours["median"] < AIM_MS
        r_ok = ours["rss_peak"] < AIM_RSS_KIB
        print(f"aim (median < {AIM_MS} ms, peak RSS < {AIM_RSS_KIB // 1024} MiB): time "
              f"{'met' if t_ok else 'MISSED'} ({ours['median']:.2f} ms), RSS "
              f"{'met' if r_ok else 'MISSED'} ({ours['rss_peak']} KiB)")
    grow = [results[n]["summary"] for n in ("alioth", "alioth -m size=4G")]
    if all(grow):
        print(f"RSS growth 256M->4G guest: {grow[1]['rss_median'] - grow[0]['rss_median']:+.0f} KiB (median)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alioth", default=os.path.join(ROOT, "build", "alioth"),
                    help="alioth binary (default: build/alioth)")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--qemu-cpu", help="QEMU -cpu model (default: first of "
                    + ", ".join(QEMU_CPU_MODELS) + " that boots under KVM)")
    ap.add_argument("--no-qemu", action="store_true", help="measure alioth only")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--memory", default="256M", help="guest RAM (default 256M)")
    ap.add_argument("--breakdown", action="store_true",
                    help="also run the bare KVM program with alioth's kernel objects added one by one")
    ap.add_argument("--project-guest", help="also boot this tests/guest guest.elf with test=poweroff")
    ap.add_argument("--workdir", help="where tools are built and logs kept (default: a temp dir)")
    ap.add_argument("--json", help="write raw samples and summaries here")
    ap.add_argument("--cc", default=os.environ.get("CC", "cc"))
    args = ap.parse_args()

    if not os.access(args.alioth, os.X_OK):
        sys.exit(f"boot-time: {args.alioth} is not an executable; build it or pass --alioth")
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        loud("/dev/kvm is not usable: nothing can be measured")
        sys.exit(77)
    workdir = args.workdir or tempfile.mkdtemp(prefix="alioth-bench-")
    os.makedirs(workdir, exist_ok=True)
    tools = build_tools(workdir, args.cc)

    qemu_cpu, rejected = (None, {"*": "--no-qemu"}) if args.no_qemu else \
        pick_qemu_cpu(args, tools, workdir)
    if not qemu_cpu and not args.no_qemu:
        loud("QEMU is NOT RUNNABLE under this KVM: " +
             "; ".join(f"-cpu {c}: {w}" for c, w in rejected.items()))

    confs = configurations(args, tools, qemu_cpu)
    results = {name: {"argv": argv, "samples": []} for name, argv, _ in confs}
    for r in range(-args.warmup, args.runs):
        shift = r % len(confs)
        for i, (name, argv, expect) in enumerate(confs[shift:] + confs[:shift]):
            log = os.path.join(workdir, f"run-{i}.log")
            wall, rss, status, sig = run_once(tools["runone"], argv, log)
            ok = status == expect and sig == 0
            if not ok:
                kept = os.path.join(workdir, f"failed-{name.replace(' ', '_')}-{r}.log")
                shutil.copy(log, kept)
                print(f"boot-time: {name} round {r}: exit {status} signal {sig} "
                      f"(want {expect}); output in {kept}", file=sys.stderr)
            if r >= 0:
                results[name]["samples"].append({"wall_ms": wall, "rss_kib": rss,
                                                 "status": status, "signal": sig, "ok": ok})
    for name in results:
        results[name]["summary"] = summarize(results[name]["samples"])

    facts = host_facts(args, qemu_cpu)
    report(facts, results, confs, rejected, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"host": facts, "qemu_rejected": rejected, "results": results}, f, indent=1)
    failed = [n for n in results if any(not s["ok"] for s in results[n]["samples"])]
    if failed:
        loud("runs with an unexpected exit: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
