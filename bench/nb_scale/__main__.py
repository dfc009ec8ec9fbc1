"""python -m bench.nb_scale [--sizes 100,10000,50000] [--repeat 5] [--workdir DIR]

Starts one NB ovsdb-server, grows it to each size in turn, and at each size prepares the
migrating VM's ports by each method, `--repeat` times, interleaved. Before every run our two keys
are removed (untimed), so every run writes; after it, the port is read back to prove it did.
Progress goes to stderr, the table and the targets to stdout.
"""
import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

from . import child, lookups, paths, probes, table
from .fill import VM_PORTS, NbFiller
from .nb_server import NbServer

paths.use_collection()
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402  pylint: disable=wrong-import-position

DEFAULT_SIZES = "100,10000,50000"


def parse_sizes(text):
    try:
        sizes = sorted(set(int(s.replace("_", "")) for s in text.split(",") if s.strip()))
    except ValueError:
        raise argparse.ArgumentTypeError("--sizes takes comma-separated integers, e.g. 100,10000,50000")
    if not sizes or sizes[0] < len(VM_PORTS):
        raise argparse.ArgumentTypeError("every size must be at least %d" % len(VM_PORTS))
    return sizes


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.nb_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes(DEFAULT_SIZES),
                        help="numbers of LSPs in the NB, comma-separated (default %s)" % DEFAULT_SIZES)
    parser.add_argument("--repeat", type=int, default=5, help="runs per method and size (default 5)")
    parser.add_argument("--workdir", help="directory for the NB server (default: a temporary one, removed after)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def version(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()[0]


def reset(client):
    """Remove our two keys from the VM's ports (untimed), so the next run has a change to make."""
    ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=list(VM_PORTS)), ovn_nb.desired_options("absent"))


def verify(client, selector):
    """The run really wrote: the selected ports hold the prepared keys (read back from the NB)."""
    want = ovn_nb.desired_options("prepared", probes.SOURCE, probes.TARGET)
    ports, missing = ovn_nb.find_ports_by_name(client, probes.PORTS_OF[selector])
    wrong = [p.name for p in ports if p.owned != want] + missing
    if wrong:
        raise RuntimeError("prepare did not land on %s" % ", ".join(wrong))


def run(args, workdir):
    env = paths.child_env()
    samples, selects = [], []
    with NbServer(workdir) as nb:
        log("NB ovsdb-server pid %d at %s" % (nb.pid, nb.remote))
        with ovsdb.connect(nb.remote, ovn_nb.NB_DATABASE) as client:
            filler = NbFiller(client)
            filler.init()
            for size in args.sizes:
                start = time.monotonic()
                filler.grow_to(size)
                log("NB holds %d LSPs in %d switches (filled in %.1f s); ovsdb-server RSS %.0f MB"
                    % (filler.count, filler.switches, time.monotonic() - start, nb.rss_kb() / 1024.0))
                for _run in range(args.repeat):
                    for method, selector in probes.runs():
                        reset(client)
                        samples.append(probes.measure(size, method, selector, nb.remote, env))
                        verify(client, selector)
                selects.extend(lookups.measure(client, size))
                log("  measured at %d LSPs" % size)
    return samples, selects


def main(argv=None):
    args = parse_args(argv)
    workdir = args.workdir or tempfile.mkdtemp(prefix="nb-scale-")
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        samples, selects = run(args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    order = [m[0] for m in probes.METHODS]
    samples.sort(key=lambda s: (s.size, s.selector != "name", order.index(s.method)))
    print("bench.nb_scale: sizes %s, %d runs each; %s, %s, Python %s, %d CPUs; %.0f s in all" % (
        ",".join(str(s) for s in args.sizes), args.repeat, version(["ovsdb-server", "--version"]),
        version(["ovn-nbctl", "--version"]), platform.python_version(), os.cpu_count(), time.monotonic() - started))
    print("peak memory: %s; load average (1 min) %.1f before, %.1f after" % (child.meter(), load_before, os.getloadavg()[0]))
    print()
    print(table.markdown(samples))
    print()
    for line in table.targets(samples, probes.METHODS[0][0], probes.METHODS[2][0]):
        print(line)
    print()
    print("Server side of a lookup: one select of the port's columns on an open session, %d runs:" % lookups.REPEAT)
    print()
    print(lookups.markdown(selects))
    return 0


if __name__ == "__main__":
    sys.exit(main())
