"""python -m bench.downtime [--repeat 10] [--cases unprepared,collection/playbook,collection/eda] [--workdir DIR] [--out DIR]

On one OVN sandbox, Kubernetes emulator and simulated KubeVirt, migrates a fresh VM from hv1 to
hv2 `--repeat` times per case while a peer on hv3 sends it a UDP probe every 2 ms, and measures
the traffic gap. The cases run one block after the other (the rulebook must not see the other
cases' migrations). Progress goes to stderr, the tables to stdout and to --out/downtime.md, next
to a timeline PNG of each case's first migration (--out/timeline-<case>.png).
"""
import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from .lab import Lab, log  # first: puts tests/ on sys.path
from . import cases, plot, table  # noqa: I100


def parse_cases(text):
    chosen = [c.strip() for c in text.split(",") if c.strip()]
    unknown = [c for c in chosen if c not in cases.NAMES]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError("--cases takes a comma-separated subset of %s" % ",".join(cases.NAMES))
    return [c for c in cases.NAMES if c in chosen]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.downtime", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="migrations per case (default 10; 1 = tiny)")
    parser.add_argument("--cases", type=parse_cases, default=list(cases.NAMES),
                        help="comma-separated, default %s" % ",".join(cases.NAMES))
    parser.add_argument("--workdir", help="directory for the sandbox and logs (default: a temporary one)")
    parser.add_argument("--out", default="bench-results/downtime", help="where the tables and PNGs go "
                        "(default bench-results/downtime)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def version(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()[0]


def main(argv=None):
    args = parse_args(argv)
    started = time.monotonic()
    load_before = os.getloadavg()
    samples = []
    with Lab(args.workdir) as lab:
        for case in cases.CASES:
            if case.name not in args.cases:
                continue
            log("%s: starting" % case.name)
            driver = case(lab)
            try:
                # `repeat` migrations that succeeded; a failed one (the CNI gave up) is counted and retried, up to 2x.
                done = attempts = 0
                while done < args.repeat and attempts < 2 * args.repeat:
                    attempts += 1
                    sample = lab.run(case.name, driver, case.cni_timeout)
                    samples.append(sample)
                    done += not sample.failure
                    log("%s run %d/%d: %s" % (case.name, done, args.repeat, table.runs_list([sample])[0].split(None, 1)[1]))
            finally:
                driver.close()
    load_after = os.getloadavg()
    lines = []
    print_ = lines.append
    print_("bench.downtime: %d runs per case, a probe every %.0f ms from %s; %s, %s, Python %s, %d CPUs; %.0f s in all"
           % (args.repeat, lab.interval * 1000, "hv3", version(["ovs-vswitchd", "--version"]),
              version(["ovn-controller", "--version"]), platform.python_version(), os.cpu_count(),
              time.monotonic() - started))
    print_("load average (1, 5, 15 min): %.1f %.1f %.1f before, %.1f %.1f %.1f after" % (load_before + load_after))
    lines += ["", table.gap_table(samples, args.cases), "", table.wait_table(samples, args.cases), ""]
    lines += table.targets(samples, args.cases) + ["", "Runs:"] + ["  " + line for line in table.runs_list(samples)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for case in args.cases:
        first = next((s for s in samples if s.case == case and s.timeline), None)
        if first:
            png = plot.timeline_png(first.timeline, out / ("timeline-%s.png" % case.replace("/", "-")))
            lines.append("timeline of the first %s run: %s" % (case, png))
    text = "\n".join(lines)
    (out / "downtime.md").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
