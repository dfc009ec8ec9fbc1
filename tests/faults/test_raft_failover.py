"""A clustered Northbound (and Southbound): 3-member RAFT clusters on loopback, the remote listing
all members. The leader is killed (SIGKILL) between runs and while changes are in flight: every
change lands once a new leader is elected, or fails with a clear msg, and re-running converges."""
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ansible_run import ROOT, clean_failure_problem, run_module
from fault_helpers import change, expected_options, make_vm, owned_options, ports_seen_differing, run_tasks

sys.path.insert(0, str(ROOT / ".venv" / "collections"))
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import OvsdbError  # noqa: E402

NB, SB = "ovn-nb", "ovn-sb"
# After an earlier test moved or killed leaders, northd and the ovn-controllers reconnect with
# backoff (seconds): a new VM's first binding may take longer than on a quiet cluster.
BIND_TIMEOUT = 30


@pytest.fixture(scope="module")
def sandbox(ovn_raft_sandbox):
    return ovn_raft_sandbox


@pytest.fixture
def full_cluster(sandbox):
    """Every member running and a leader elected, before and after the test (killed ones rejoin)."""
    yield sandbox
    for db in (NB, SB):
        for index in range(3):
            if not sandbox.member_alive(db, index):
                sandbox.start_member(db, index)
        sandbox.wait_cluster(db)


def remotes_leader_last(sandbox, db):
    leader = sandbox.wait_cluster(db)
    order = [i for i in range(3) if i != leader] + [leader]
    return ",".join(sandbox.member_remote(db, i) for i in order)


def test_remote_listing_all_members_finds_the_leader(full_cluster):
    sandbox = full_cluster
    vm = make_vm(sandbox, timeout=BIND_TIMEOUT)
    nb_remote, sb_remote = remotes_leader_last(sandbox, NB), remotes_leader_last(sandbox, SB)
    results = run_tasks([
        ("ovn_lsp", dict(change(sandbox, vm, "prepared"), ovn_nb_connection=nb_remote, ovn_sb_connection=sb_remote)),
        ("ovn_lsp_info", {"ovn_nb_connection": nb_remote, "ovn_sb_connection": sb_remote,
                          "vmi": vm["vm"], "namespace": vm["namespace"]}),
    ])[0]
    assert not results[0]["failed"] and results[0]["changed"], results[0]
    assert [p["binding"]["requested_additional_chassis"] for p in results[1]["ports"]] == [["hv2"], ["hv2"]]
    assert set(owned_options(sandbox, vm["ports"]).values()) == {expected_options("prepared")}


def test_leaders_killed_between_two_runs(full_cluster):
    sandbox = full_cluster
    vm = make_vm(sandbox, timeout=BIND_TIMEOUT)
    first = run_module("ovn_lsp", change(sandbox, vm, "prepared"))
    assert not first["failed"], first
    for db in (NB, SB):
        sandbox.kill_member(db, sandbox.wait_cluster(db), signal.SIGKILL)
    # The next run may come before the election ends: the client tries the members again until
    # connect_timeout, so it lands at its first attempt.
    second = run_module("ovn_lsp", change(sandbox, vm, "cutover"))
    assert not second["failed"] and second["changed"], second
    assert set(owned_options(sandbox, vm["ports"]).values()) == {expected_options("cutover")}
    for port in vm["ports"]:
        assert sandbox.port_binding(port)["requested_chassis"] == "hv2"


# A migration's phases as a role would drive them, each step retried until it lands.
STEPS = [("prepared", "hv1", "hv2"), ("cutover", "hv1", "hv2"), ("prepared", "hv2", "hv3"), ("rolled_back", "hv2", "hv3")]


def test_leader_killed_while_changes_are_in_flight(full_cluster):
    sandbox = full_cluster
    vm = make_vm(sandbox, timeout=BIND_TIMEOUT)
    log = []
    northd = sandbox.pids["northd/ovn-northd"]

    def drive():
        for step, (state, source, target) in enumerate(STEPS):
            for attempt in range(15):
                # Only the first run waits for SB: it holds its session while the leader dies.
                wait = "sb" if (step, attempt) == (0, 0) else "none"
                began = time.monotonic()
                result = run_module("ovn_lsp", change(sandbox, vm, state, source, target, wait=wait))
                log.append((step, attempt, result, time.monotonic(), began))
                if not result["failed"]:
                    break
                time.sleep(0.2)

    # northd paused: the first run commits its change, then holds its session to the leader while
    # it waits for SB (wait=sb). The leader dies right then, with the run in flight.
    os.kill(northd, signal.SIGSTOP)
    try:
        worker = threading.Thread(target=drive)
        worker.start()
        sandbox.wait_for(lambda: set(owned_options(sandbox, vm["ports"]).values()) == {expected_options("prepared")},
                         timeout=60, what="the first change in the NB")
        killed_at = time.monotonic()
        sandbox.kill_member(NB, sandbox.wait_cluster(NB), signal.SIGKILL)
    finally:
        os.kill(northd, signal.SIGCONT)
    mixed = ports_seen_differing(sandbox, vm["ports"], worker, pause=0.05)
    assert not mixed, "a VM's ports differed: %s" % mixed[:3]
    failures = [entry[:3] for entry in log if entry[2]["failed"]]
    for step, attempt, result in failures:
        assert clean_failure_problem(result) is None, (step, attempt, result)
    for step, (state, source, target) in enumerate(STEPS):
        attempts = [entry[2] for entry in log if entry[0] == step]
        assert not attempts[-1]["failed"], (step, attempts[-1])
        # Lands exactly once: at most one successful attempt changed something, and exactly one
        # when no attempt of the step failed with an unknown outcome.
        changed = [r for r in attempts if not r["failed"] and r["changed"]]
        assert len(changed) <= 1 and (len(changed) == 1 or len(attempts) > 1), (step, attempts)
    # Re-running the last step converges: nothing left to change.
    state, source, target = STEPS[-1]
    again = run_module("ovn_lsp", change(sandbox, vm, state, source, target))
    assert not again["failed"] and not again["changed"], again
    assert set(owned_options(sandbox, vm["ports"]).values()) == {expected_options(state, source, target)}
    landed = [entry[3] for entry in log if not entry[2]["failed"] and entry[3] > killed_at]
    # The run in flight waits (read-only) with its session to the dying leader: it finds the new
    # leader within connect_timeout and goes on; if it failed instead, the failure is clean (above).
    in_flight = log[0][2]
    assert in_flight["failed"] or (in_flight["changed"] and log[0][3] > killed_at), in_flight
    print("\nRAFT in-flight kill: %d module runs for %d changes, %d failed clearly during the election, "
          "changes lost: 0; first run to land after the kill ended %.2f s after it"
          % (len(log), len(STEPS), len(failures), landed[0] - killed_at))
    print("the run in flight %s" % ("said: " + in_flight["msg"] if in_flight["failed"] else "reconnected and succeeded"))
    print("runs (step/attempt: start..end, s from the kill): " + ", ".join(
        "%d/%d: %.1f..%.1f%s" % (e[0], e[1], e[4] - killed_at, e[3] - killed_at, " failed" if e[2]["failed"] else "")
        for e in log))


def test_time_a_change_waits_across_a_leader_failover(full_cluster):
    """The real client, retried every 10 ms as a caller with retries would: from the kill to the
    change committed by the new leader. Printed (never asserted)."""
    sandbox = full_cluster
    vm = make_vm(sandbox, providers=(), timeout=BIND_TIMEOUT)
    lookup = ovn_nb.vif_lookup(namespace=vm["namespace"], vmi=vm["vm"])
    figures = []
    for round_no, (state, source, target) in enumerate(STEPS[:3]):
        desired = ovn_nb.desired_options(state, source, target)
        sandbox.kill_member(NB, sandbox.wait_cluster(NB), signal.SIGKILL)
        killed_at = time.monotonic()
        errors = set()
        deadline = killed_at + 30
        while True:
            try:
                with ovsdb.connect(sandbox.nb_remote, "OVN_Northbound", timeout=2) as client:
                    result = ovn_nb.set_port_options(client, lookup, desired)
                break
            except OvsdbError as err:
                errors.add(err.msg.split(": ")[-1][:80])
                assert time.monotonic() < deadline, errors
                time.sleep(0.01)
        figures.append(time.monotonic() - killed_at)
        assert result["changed"]
        assert owned_options(sandbox, vm["ports"])[vm["ports"][0]] == expected_options(state, source, target)
        for index in range(3):
            if not sandbox.member_alive(NB, index):
                sandbox.start_member(NB, index)
        sandbox.wait_cluster(NB)
    print("\nleader failover: a change waited %s s (kill -> committed by the new leader)"
          % ", ".join("%.2f" % f for f in figures))


# Leadership moves without a crash: a transfer (as before a snapshot) and a leader leaving the cluster.

def ctl(sandbox, db, index):
    return str(sandbox.workdir / sandbox.members[db][index]["name"] / "ovsdb-server.ctl")


def appctl(sandbox, db, index, *args):
    return subprocess.run(["ovs-appctl", "-t", ctl(sandbox, db, index), "--timeout=5"] + list(args),
                          check=True, capture_output=True, text=True, timeout=10).stdout


def rejoin(sandbox, db, index):
    """A member that left the cluster: a fresh db file joined to the others at the same address."""
    member = sandbox.members[db][index]
    if sandbox.member_alive(db, index):
        sandbox.kill_member(db, index, signal.SIGTERM)
    os.unlink(member["db_file"])
    others = [m["raft"] for i, m in enumerate(sandbox.members[db]) if i != index]
    subprocess.run(["ovsdb-tool", "join-cluster", member["db_file"], "OVN_Northbound" if db == NB else "OVN_Southbound",
                    member["raft"]] + others, check=True, timeout=30)
    sandbox.start_member(db, index)
    sandbox.wait_for(lambda: sandbox.cluster_status(db, index).get("Status") == "cluster member", timeout=20,
                     what="%s back in the cluster" % member["name"])


def test_leadership_transferred_while_a_change_commits_lands_once(full_cluster):
    sandbox = full_cluster
    vm = make_vm(sandbox, timeout=BIND_TIMEOUT)
    leader = sandbox.wait_cluster(NB)
    # The leader hands leadership over right after it sent our transaction's log entry out.
    appctl(sandbox, NB, leader, "cluster/failure-test", "transfer-leadership-after-sending-append-request")
    try:
        results = run_tasks([("ovn_lsp", change(sandbox, vm, "prepared")), ("ovn_lsp", change(sandbox, vm, "prepared"))])[0]
    finally:
        appctl(sandbox, NB, leader, "cluster/failure-test", "clear")
    assert sandbox.wait_cluster(NB) != leader, "leadership did not move"
    first, again = results
    assert not first["failed"] and first["changed"], first
    assert not again["failed"] and not again["changed"], again
    assert set(owned_options(sandbox, vm["ports"]).values()) == {expected_options("prepared")}


def test_leader_leaving_between_read_and_write_lands_once(full_cluster):
    """The real client: the leader leaves the cluster after the ports were read, so the write meets
    a closed session; it finds the new leader and sends the guarded transaction again."""
    sandbox = full_cluster
    vm = make_vm(sandbox, providers=(), timeout=BIND_TIMEOUT)
    leader = sandbox.wait_cluster(NB)
    inner = ovn_nb.vif_lookup(namespace=vm["namespace"], vmi=vm["vm"])
    reads = []

    def lookup_then_leave(client):
        ports = inner(client)
        reads.append(client.remote)
        if len(reads) == 1:
            appctl(sandbox, NB, leader, "cluster/leave", "OVN_Northbound")
            sandbox.wait_for(lambda: sandbox.leader(NB) not in (None, leader), timeout=20, what="a new NB leader")
        return ports

    try:
        with ovsdb.connect(sandbox.nb_remote, "OVN_Northbound") as client:
            assert client.remote == sandbox.member_remote(NB, leader)
            result = ovn_nb.set_port_options(client, lookup_then_leave, ovn_nb.desired_options("prepared", "hv1", "hv2"),
                                             wait="sb")
            assert client.reconnects >= 1 and client.remote != sandbox.member_remote(NB, leader)
        assert result["changed"] is True
        assert owned_options(sandbox, vm["ports"])[vm["ports"][0]] == expected_options("prepared")
        with ovsdb.connect(sandbox.nb_remote, "OVN_Northbound") as client:
            assert ovn_nb.set_port_options(client, inner, ovn_nb.desired_options("prepared", "hv1", "hv2"))["changed"] is False
    finally:
        rejoin(sandbox, NB, leader)
