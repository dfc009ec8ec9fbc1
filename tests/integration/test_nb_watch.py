"""The NB port watcher (ovsdbapp's IDL, conditional monitoring) on the real OVN sandbox: it reports the
owned options of the watched VMIs' ports when they change, never the ports of other VMIs, follows a
change of the watched set, and keeps only the watched rows."""
import queue
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb_watch import NbPortWatcher  # noqa: E402

NONE = {"requested-chassis": None, "activation-strategy": None}


def next_report(reports, timeout=10):
    return reports.get(timeout=timeout)


def test_the_watcher_reports_only_the_watched_ports_when_their_keys_change(ovn_sandbox, ovn_vm):
    one, two = ovn_vm(providers=("net1",)), ovn_vm()
    key_one, key_two = (one["namespace"], one["vm"]), (two["namespace"], two["vm"])
    names = [p["name"] for p in one["ports"]]
    reports = queue.Queue()
    watcher = NbPortWatcher(ovn_sandbox.nb_remote, reports)
    watcher.watch([key_one])
    watcher.start()
    try:
        assert next_report(reports) == ("ports", key_one, dict((n, NONE) for n in names))
        # Another VMI's ports and keys that are not ours give no report.
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", two["ports"][0]["name"], "options:requested-chassis=hv2")
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", names[0], "options:foo=bar")
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", names[0], 'options:requested-chassis="hv1,hv2"',
                          "options:activation-strategy=rarp")
        kind, key, ports = next_report(reports)
        assert key == key_one
        assert ports[names[0]] == {"requested-chassis": "hv1,hv2", "activation-strategy": "rarp"}
        # The wipe (Kube-OVN's CleanLogicalSwitchPortMigrateOptions removes both keys).
        ovn_sandbox.nbctl("remove", "Logical_Switch_Port", names[0], "options", "requested-chassis",
                          "activation-strategy")
        assert next_report(reports)[2][names[0]] == NONE
        # Only the watched VMI's rows are replicated.
        assert list(watcher.replica) == sorted(names)
        # A new watched set: the other VMI's ports come, the first one's go.
        watcher.watch([key_two])
        kind, key, ports = next_report(reports)
        assert key == key_two and ports[two["ports"][0]["name"]]["requested-chassis"] == "hv2"
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", names[0], "options:requested-chassis=hv3")
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", two["ports"][0]["name"], "options:requested-chassis=hv3")
        assert next_report(reports)[1] == key_two
        assert reports.empty()
    finally:
        watcher.stop()
        watcher.join(10)
    assert not watcher.is_alive()
