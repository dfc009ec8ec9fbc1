"""python -m bench.bandwidth [--memory 512Mi,1Gi,2Gi] [--bandwidth 256Mi,512Mi,1Gi] [--repeat 1]
    [--dirty-rate 0] [--rate 1000] [--frame-size 500] [--cases unprepared,collection/playbook,collection/eda]
    [--workdir DIR] [--out DIR]

What the dual-chassis window costs the network. On one OVN sandbox, Kubernetes emulator and
simulated KubeVirt (its memory copy: memory / bandwidth), migrates a fresh VM from hv1 to hv2 for
every memory size and migration bandwidth, per case, while a peer on hv3 sends it a steady
stream; counts from the hypervisors' captures the copies tunnelled to the target chassis before
the RARP (dropped there), the copies duplicated after it and the dual-bound window, and compares
the window with the one the collection's metrics report. Progress goes to stderr; the tables to
stdout and --out/bandwidth.md, next to the PNGs (duplication vs bandwidth, one timeline per case).
"""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

from .lab import BandwidthLab, log  # first: puts tests/ on sys.path
from bench.downtime.plot import timeline_png  # noqa: I100
from kubevirt_sim.memory_copy import quantity  # noqa: I100

from . import cases, plot, table  # noqa: I100


def listed(text, check=quantity):
    items = [item.strip() for item in text.split(",") if item.strip()]
    try:
        for item in items:
            check(item)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err))
    if not items:
        raise argparse.ArgumentTypeError("give at least one value")
    return items


def parse_cases(text):
    chosen = listed(text, check=lambda c: None)
    unknown = [c for c in chosen if c not in cases.NAMES]
    if unknown:
        raise argparse.ArgumentTypeError("--cases takes a comma-separated subset of %s" % ",".join(cases.NAMES))
    return [c for c in cases.NAMES if c in chosen]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.bandwidth", description=__doc__.splitlines()[3])
    parser.add_argument("--memory", type=listed, default=["512Mi", "1Gi", "2Gi"], help="VM memory sizes")
    parser.add_argument("--bandwidth", type=listed, default=["256Mi", "512Mi", "1Gi"],
                        help="migration bandwidths per second (KubeVirt's bandwidthPerMigration)")
    parser.add_argument("--dirty-rate", type=lambda t: listed(t)[0], default="0",
                        help="memory the guest dirties per second (default 0)")
    parser.add_argument("--repeat", type=int, default=1, help="migrations per case, memory and bandwidth")
    parser.add_argument("--rate", type=int, default=1000, help="packets per second to the VM (default 1000)")
    parser.add_argument("--frame-size", type=int, default=500, help="bytes per frame to the VM (default 500)")
    parser.add_argument("--cases", type=parse_cases, default=list(cases.NAMES),
                        help="comma-separated, default %s" % ",".join(cases.NAMES))
    parser.add_argument("--workdir", help="directory for the sandbox and logs (default: a temporary one)")
    parser.add_argument("--out", default="bench-results/bandwidth", help="where the tables and PNGs go")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.rate < 1:
        parser.error("--repeat and --rate must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    started, load_before = time.monotonic(), os.getloadavg()
    runs = []
    with BandwidthLab(args.workdir, rate=args.rate, frame_size=args.frame_size, dirty_rate=args.dirty_rate) as lab:
        for case in cases.CASES:
            if case.name not in args.cases:
                continue
            log("%s: starting" % case.name)
            driver = case(lab)
            try:
                for memory in args.memory:
                    for bandwidth in args.bandwidth:
                        for _unused in range(args.repeat):
                            run = lab.run(case.name, driver, case.cni_timeout, memory, bandwidth)
                            runs.append(run)
                            log(table.runs_list([run])[0])
            finally:
                driver.close()
    load_after = os.getloadavg()
    out = Path(args.out)
    lines = ["bench.bandwidth: %d packets/s of %d bytes to the VM from hv3; memory %s; bandwidth %s/s; dirty rate "
             "%s/s; %d run(s) each; Python %s, %d CPUs; %.0f s in all" % (
                 args.rate, args.frame_size, ", ".join(args.memory), ", ".join(args.bandwidth), args.dirty_rate,
                 args.repeat,
                 platform.python_version(), os.cpu_count(), time.monotonic() - started),
             "load average (1, 5, 15 min): %.1f %.1f %.1f before, %.1f %.1f %.1f after" % (load_before + load_after),
             "", table.cost_table(runs), ""] + table.agreement_lines(runs) + ["", "Runs:"]
    lines += ["  " + line for line in table.runs_list(runs)]
    lines.append("")
    lines.append("duplication vs bandwidth: %s" % plot.duplication_png(runs, out / "duplication.png", args.rate,
                                                                       args.frame_size))
    for case in args.cases:
        # The slowest copy of the case shows its window best.
        done = [r for r in runs if r.case == case and r.timeline]
        if done:
            slowest = max(done, key=lambda r: r.model.seconds)
            png = timeline_png(slowest.timeline, out / ("timeline-%s.png" % case.replace("/", "-")))
            lines.append("timeline (%s, %s VM, %s/s): %s" % (case, slowest.memory, slowest.bandwidth, png))
    text = "\n".join(lines)
    (out / "bandwidth.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
