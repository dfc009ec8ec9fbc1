"""python -m bench.nb_read [--sizes N,N] [--repeat N] [--pinned N]

Two figures of reading the NB at scale, each printed as a markdown table:
- framing: one `select` reply of N Kube-OVN-like LSP rows read by the collection's OVSDB client from
  an in-memory socket that hands out 64 KiB chunks (no server: the client's own work, which used to
  grow with the square of the reply);
- sweep: the reconcile sweep's read against a real standalone NB ovsdb-server (TCP) holding N LSPs,
  `pinned` of them carrying a pin: the whole table (`find_migrating_ports(full=True)`) against the
  server-side narrowed selects (`find_marked_ports`, 100 chassis names).
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

from bench.nb_scale import paths
from chunked_socket import ChunkedSocket
from bench.nb_scale.fill import NbFiller
from bench.nb_scale.nb_server import NbServer

paths.use_collection()
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402  pylint: disable=wrong-import-position

CHUNK = 65536
CHASSIS = ["node-%03d" % i for i in range(100)]


def _reply(count):
    rows = [{"_uuid": ["uuid", "%08x-0000-4000-8000-%012x" % (i, i)], "name": "vm-%06d.ns-%03d" % (i, i % 500),
             "type": "", "addresses": "0a:00:00:%02x:%02x:%02x 10.16.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255,
                                                                               i >> 8 & 255, i & 255),
             "options": ["map", []],
             "external_ids": ["map", [["ls", "ovn-default"], ["pod", "ns-%03d/vm-%06d" % (i % 500, i)],
                                      ["vendor", "kube-ovn"]]]} for i in range(count)]
    return json.dumps({"id": 1, "result": [{"rows": rows}], "error": None}, separators=(",", ":")).encode("utf-8")


def framing(count):
    """Seconds to read the reply of `count` rows, and its size in bytes."""
    data = _reply(count)
    conn = ovsdb.Connection(ChunkedSocket(data, [CHUNK]), ovsdb.parse_remote("tcp:127.0.0.1:6641"))
    start = time.perf_counter()
    result = conn.call("transact", [ovn_nb.NB_DATABASE])
    seconds = time.perf_counter() - start
    assert len(result[0]["rows"]) == count
    return seconds, len(data)


def sweep(client, pinned):
    """(seconds full, ports found), (seconds narrowed, ports found)."""
    start = time.perf_counter()
    full = ovn_nb.find_migrating_ports(client, full=True)
    full_s = time.perf_counter() - start
    start = time.perf_counter()
    narrowed = ovn_nb.find_marked_ports(client, CHASSIS)
    narrowed_s = time.perf_counter() - start
    assert [p.name for p in full] == [p.name for p in narrowed], (len(full), len(narrowed))
    assert len(full) >= pinned
    return (full_s, len(full)), (narrowed_s, len(narrowed))


def _spread(values):
    return "%.3f / %.3f" % (statistics.median(values), max(values))


def main(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.nb_read")
    parser.add_argument("--sizes", default="20000,50000", help="LSP counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pinned", type=int, default=20, help="ports carrying a pin in the sweep's NB")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print("load average before: %.2f %.2f %.2f" % os.getloadavg())

    print("\nframing: one select reply read from 64 KiB chunks (seconds, median / max of %d)" % args.repeat)
    print("| LSP rows | reply (MB) | read (s) |")
    print("|---:|---:|---:|")
    for size in sizes:
        runs = [framing(size) for _run in range(args.repeat)]
        print("| %d | %.1f | %s |" % (size, runs[0][1] / 1e6, _spread([r[0] for r in runs])))
        sys.stdout.flush()

    print("\nsweep: NB ovsdb-server over TCP, %d ports pinned (seconds, median / max of %d)" % (args.pinned, args.repeat))
    print("| LSPs in NB | ports found | whole table (s) | narrowed, %d chassis names (s) |" % len(CHASSIS))
    print("|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="klm-nb-read-") as workdir, NbServer(workdir) as nb:
        with ovsdb.connect(nb.remote, ovn_nb.NB_DATABASE) as client:
            filler = NbFiller(client)
            filler.init()
            for size in sizes:
                filler.grow_to(size)
                names = [r["name"] for r in client.select(ovn_nb.LSP_TABLE, [], ["name"])][:args.pinned]
                ovn_nb.set_port_options(client, ovn_nb.vif_lookup(ports=names),
                                        ovn_nb.desired_options("rolled_back", CHASSIS[7]))
                runs = [sweep(client, args.pinned) for _run in range(args.repeat)]
                full, narrowed = [r[0][0] for r in runs], [r[1][0] for r in runs]
                print("| %d | %d | %s | %s |" % (filler.count, runs[0][1][1], _spread(full), _spread(narrowed)))
                sys.stdout.flush()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
