"""Where (a)'s time goes: one `select` round trip per way of finding the port, on an open session.

ovsdb-server answers `_uuid ==` from its row hash. In OVS 3.1 (Debian 12) every other condition
is a linear scan of the table in the server; later upstream ovsdb-servers also look `==`
conditions up in the schema's indexes (Logical_Switch_Port has one on `name`), not measured here.
So this part of a prepare grows with the NB even though only the matching rows cross the wire.
"""
import statistics
import time

from . import paths
from .fill import NAMESPACE, PRIMARY_PORT, VM

paths.use_collection()
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402  pylint: disable=wrong-import-position

REPEAT = 20


def conditions(client):
    uuid = client.select(ovn_nb.LSP_TABLE, [["name", "==", PRIMARY_PORT]], ["_uuid"])[0]["_uuid"]
    return (
        ("_uuid ==", [["_uuid", "==", uuid]]),
        ("name ==", [["name", "==", PRIMARY_PORT]]),
        ("external_ids includes pod (vmi+namespace)", ovn_nb.vmi_condition(NAMESPACE, VM)),
    )


def measure(client, size, repeat=REPEAT):
    """[(size, condition label, median ms, max ms)] for one select of the port's five columns."""
    rows = []
    for label, where in conditions(client):
        times = []
        for _run in range(repeat):
            start = time.perf_counter()
            found = client.select(ovn_nb.LSP_TABLE, where, ovn_nb.LSP_COLUMNS)
            times.append((time.perf_counter() - start) * 1000)
            if not found:
                raise RuntimeError("select %s found nothing" % label)
        rows.append((size, label, statistics.median(times), max(times)))
    return rows


def markdown(rows):
    lines = ["| LSPs in NB | select Logical_Switch_Port where | median (ms) | max (ms) |", "|---:|---|---:|---:|"]
    for size, label, median, worst in rows:
        lines.append("| %s | %s | %.2f | %.2f |" % ("{:,}".format(size), label, median, worst))
    return "\n".join(lines)
