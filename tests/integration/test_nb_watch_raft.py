"""The NB watcher against a 3-member RAFT Northbound: it monitors the leader only (the remote lists the
leader last) and, after the leader is killed, reconnects to the new one and reports the changes made
meanwhile and after."""
import queue
import signal
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / ".venv" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from fault_helpers import make_vm  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb_watch import NbPortWatcher  # noqa: E402

NB = "ovn-nb"


@pytest.fixture
def cluster(ovn_raft_sandbox):
    yield ovn_raft_sandbox
    for index in range(3):
        if not ovn_raft_sandbox.member_alive(NB, index):
            ovn_raft_sandbox.start_member(NB, index)
    ovn_raft_sandbox.wait_cluster(NB)


def chassis_of(report, names):
    """requested-chassis of each port, in the order of `names`."""
    return [report[2][name]["requested-chassis"] for name in names]


def test_the_watcher_follows_the_leader_across_a_leader_kill(cluster):
    vm = make_vm(cluster)
    key = (vm["namespace"], vm["vm"])
    leader = cluster.wait_cluster(NB)
    remotes = ",".join(cluster.member_remote(NB, i) for i in [i for i in range(3) if i != leader] + [leader])
    reports = queue.Queue()
    watcher = NbPortWatcher(remotes, reports)
    watcher.watch([key])
    watcher.start()
    try:
        assert reports.get(timeout=20)[1] == key
        assert watcher.connected
        cluster.nbctl("set", "Logical_Switch_Port", vm["ports"][0], "options:requested-chassis=hv2")
        assert chassis_of(reports.get(timeout=20), vm["ports"]) == ["hv2", None]

        cluster.kill_member(NB, leader, signal.SIGKILL)
        cluster.wait_cluster(NB)
        # A change made while the watcher reconnects, then one after: both reach it, in order.
        cluster.nbctl("set", "Logical_Switch_Port", vm["ports"][1], "options:requested-chassis=hv3")
        assert chassis_of(reports.get(timeout=30), vm["ports"]) == ["hv2", "hv3"]
        cluster.nbctl("remove", "Logical_Switch_Port", vm["ports"][0], "options", "requested-chassis")
        assert chassis_of(reports.get(timeout=20), vm["ports"]) == [None, "hv3"]
        assert watcher.connected
    finally:
        watcher.stop()
        watcher.join(10)
