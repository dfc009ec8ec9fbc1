"""python -m bench.nb_watch [--size N] [--repeat N]: the NB watcher against a full-table IDL replica."""
import argparse
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import time

from bench.nb_scale import paths
from bench.nb_scale.fill import NAMESPACE, VM, VM_PORTS, NbFiller
from bench.nb_scale.nb_server import NbServer

paths.use_collection()
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb_watch import (  # noqa: E402  pylint: disable=wrong-import-position
    COLUMNS, NbPortWatcher,
)

PREPARED = ovn_nb.desired_options("prepared", "node-a", "node-b")


def _peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_watcher(remote):
    """The source's watcher: start -> first report, then wipe -> its report."""
    reports = queue.Queue()
    watcher = NbPortWatcher(remote, reports)
    watcher.watch([(NAMESPACE, VM)])
    start = time.monotonic()
    watcher.start()
    reports.get(timeout=300)
    first = time.monotonic() - start
    with ovsdb.connect(remote, ovn_nb.NB_DATABASE) as client:
        wiped = time.monotonic()
        ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=list(VM_PORTS)), ovn_nb.desired_options("absent"))
        reports.get(timeout=60)
        seen = time.monotonic() - wiped
    rows = len(watcher.replica)
    watcher.stop()
    watcher.join(10)
    return {"first": first, "wipe_seen": seen, "rows": rows, "peak_mb": _peak_mb()}


def child_full(remote):
    """ovsdbapp's IDL with the same columns and no condition: the whole table."""
    from ovs import poller as ovs_poller
    from ovs.db import idl as ovs_idl
    from ovsdbapp.backend.ovs_idl import connection
    start = time.monotonic()
    with ovsdb.connect(remote, ovn_nb.NB_DATABASE) as client:
        schema = client.schema()
    helper = ovs_idl.SchemaHelper(schema_json=schema)
    helper.register_columns(ovn_nb.LSP_TABLE, list(COLUMNS))
    idl = connection.OvsdbIdl(remote, helper, leader_only=True)
    while not idl.has_ever_connected():
        idl.run()
        poller = ovs_poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()
    first = time.monotonic() - start
    rows = len(idl.tables[ovn_nb.LSP_TABLE].rows)
    idl.close()
    return {"first": first, "wipe_seen": None, "rows": rows, "peak_mb": _peak_mb()}


def sample(mode, remote):
    out = subprocess.run([sys.executable, "-m", "bench.nb_watch", "child", mode, remote], check=True,
                         capture_output=True, text=True, env=paths.child_env(), cwd=str(paths.ROOT))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv):
    if argv[:1] == ["child"]:
        mode, remote = argv[1], argv[2]
        print(json.dumps((child_watcher if mode == "watcher" else child_full)(remote)))
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.nb_watch")
    parser.add_argument("--size", type=int, default=50000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="klm-nb-watch-") as workdir, NbServer(workdir) as nb:
        with ovsdb.connect(nb.remote, ovn_nb.NB_DATABASE) as client:
            filler = NbFiller(client)
            filler.init()
            filler.grow_to(args.size)
            print("NB holds %d LSPs; ovsdb-server RSS %.0f MB" % (filler.count, nb.rss_kb() / 1024.0))
            print("| mode | rows held | start to first report / copy (s) | wipe to report (s) | peak RSS (MB) |")
            print("|---|---:|---:|---:|---:|")
            for _run in range(args.repeat):
                for mode in ("watcher", "full"):
                    ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=list(VM_PORTS)), PREPARED)
                    s = sample(mode, nb.remote)
                    print("| %s | %d | %.3f | %s | %.0f |" % (
                        "conditional (the source's watcher)" if mode == "watcher" else "whole table, no condition",
                        s["rows"], s["first"], "%.3f" % s["wipe_seen"] if s["wipe_seen"] is not None else "-",
                        s["peak_mb"]))
                    sys.stdout.flush()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
