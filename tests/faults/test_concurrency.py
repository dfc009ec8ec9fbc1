"""Concurrency: two runs acting on the same VM at once, and many VMs at once, against one real NB.

1. A rulebook event's run (the prepare playbook with the event's extra vars) and an operator's ad
   hoc run (cutover after Succeeded, cleanup after Failed) on the same VM, in both orders: the
   prepare run reads the migration while it is Running and writes after the ad hoc run has
   landed (held between its read and its write by a callback, the way a busy controller holds
   it); or the ad hoc run lands first and a late prepare event's run follows while it is still
   going. The end state is the one the later phase demands, the VM's ports never differ from
   each other, and a key another writer keeps changing in the same options maps survives.
2. Eight VMs of two ports each, prepared then cut over or rolled back by eight ansible-playbook
   processes at once, while another writer changes every port: each VM ends right, with its own
   chassis only; the NB transactions that conflicted (and were retried) are counted from the NB
   server's own log.

Figures are printed (pytest -s) and recorded in docs/reliability.md, section Concurrency.
"""
import threading
import time

import pytest

from ansible_run import run_playbook
from fault_helpers import (Background, NbTransactionLog, OptionsWriter, OwnedOptionsRecorder, TaskGate,
                           bound_only_on, change, expected_options, owned_options, run_tasks)
from kubevirt_sim import KubevirtSim

pytestmark = pytest.mark.timeout(600)

# The prepare role's write after it has read the migration back (roles/converge/tasks/main.yml).
PREPARE_BIND = "Write what the plans call for, in one transaction"
ADHOC = {"Succeeded": ("kubeovn.live_migration.cutover", "cutover", "hv2"),
         "Failed": ("kubeovn.live_migration.cleanup", "rolled_back", "hv1")}
FIGURES = {"runs": 0, "vms": 0, "mixed": 0, "foreign_keys_lost": 0, "wrong_end_states": 0}


@pytest.fixture(scope="module", autouse=True)
def totals():
    """The totals for docs/reliability.md, printed after the last test of this file."""
    yield
    print("\nconcurrency totals: %(runs)d playbook runs on %(vms)d VMs; mixed snapshots %(mixed)d; foreign "
          "options keys lost %(foreign_keys_lost)d; wrong end states %(wrong_end_states)d" % FIGURES)


@pytest.fixture
def sim(k8s_emulator, ovn_sandbox):
    # The collection's own concurrent writes alone: Kube-OVN's wipe (one port at a time when a pod of
    # the VM goes) would show mixed snapshots that are not ours.
    kubevirt = KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05, kube_ovn=False).start()
    try:
        yield kubevirt
    finally:
        kubevirt.stop()


def connections(sandbox, kubeconfig):
    return {"ovn_nb_connection": sandbox.nb_remote, "ovn_sb_connection": sandbox.sb_remote,
            "k8s_kubeconfig": kubeconfig}


def assert_run_clean(run):
    """rc 0, or a clear failure (a `msg`, never a traceback)."""
    assert "Traceback" not in run.output, run.output[-4000:]
    if run.rc != 0:
        assert "fatal:" in run.output and '"msg"' in run.output, run.output[-4000:]


def seconds_in(recorder, ports, state, since):
    """How long, from monotonic time `since` until the recorder stopped, `ports` were all in `state`."""
    total, entered = 0.0, None
    for stamp, seen in recorder.history + [(recorder.stopped_at, None)]:
        inside = seen is not None and stamp >= since and set(seen[p] for p in ports) == {state}
        if inside and entered is None:
            entered = stamp
        elif not inside and entered is not None:
            total += stamp - entered
            entered = None
    return total


def two_runs_on_one_vm(order, outcome, sim, sandbox, vm, kubeconfig, workdir):
    """One VM migrating hv1 -> hv2 that ends in `outcome`; the prepare playbook run as the
    rulebook's prepare rule starts it and the operator's run (cutover or cleanup), in `order`.
    Returns what happened; asserts nothing itself."""
    namespace, name, ports = vm["namespace"], vm["vm"], [p["name"] for p in vm["ports"]]
    sim.create_vmi(namespace, name, "hv1", ports=vm["ports"])
    sim.configure(namespace, name, target_node="hv2", hold_at="Running",
                  fail_at="Running" if outcome == "Failed" else None)
    vmim = sim.migrate(namespace, name, name="mig1")
    sim.wait_phase(namespace, "mig1", "Running", timeout=60)
    conn = connections(sandbox, kubeconfig)
    # What the rulebook's prepare rule passes: the event of a migration in flight.
    event = dict(conn, vmim="mig1", vmim_uid=vmim["metadata"]["uid"], vmi=name, namespace=namespace, phase="Running",
                 source_node="hv1", target_node="hv2", migration_state_matches=True)
    adhoc_book, end_state, end_chassis = ADHOC[outcome]
    adhoc_vars = dict(conn, vmi=name, namespace=namespace)          # what an operator types
    writer = OptionsWriter(sandbox, ports)
    recorder = OwnedOptionsRecorder(sandbox, {name: ports})
    writer.start()
    recorder.start()
    adhoc_landed = None
    try:
        if order == "event_run_writes_last":
            # The event's run binds early, reads the migration (Running) and is held right before
            # its own write; meanwhile the migration ends and the operator's run lands.
            gate = TaskGate(workdir / "gate", PREPARE_BIND)
            prepare = Background("kubeovn.live_migration.prepare", event, env=gate.env())
            prepare.start()
            gate.wait_reached(prepare)
            sim.release(namespace, "mig1")
            sim.wait_phase(namespace, "mig1", outcome, timeout=60)
            adhoc = run_playbook(adhoc_book, extra_vars=adhoc_vars)
            if set(owned_options(sandbox, ports).values()) == {expected_options(end_state)}:
                adhoc_landed = time.monotonic()
            gate.open()
            prepare_run = prepare.result()
        else:
            # The migration ends, the operator's run lands, and a late prepare event's run starts
            # while the operator's run is still verifying.
            sim.release(namespace, "mig1")
            sim.wait_phase(namespace, "mig1", outcome, timeout=60)
            adhoc_worker = Background(adhoc_book, adhoc_vars)
            adhoc_worker.start()
            adhoc_landed = sandbox.wait_for(
                lambda: set(owned_options(sandbox, ports).values()) == {expected_options(end_state)} and time.monotonic(),
                timeout=120, what="the operator's %s to land" % end_state)
            prepare = Background("kubeovn.live_migration.prepare", event)
            prepare.start()
            prepare_run = prepare.result()
            adhoc = adhoc_worker.result()
    finally:
        writer.stop()
        recorder.stop()
    return {"order": order, "outcome": outcome, "ports": ports, "end_state": end_state, "end_chassis": end_chassis,
            "prepare": prepare_run, "adhoc": adhoc, "adhoc_book": adhoc_book.rsplit(".", 1)[1],
            "final": owned_options(sandbox, ports), "lost": writer.lost(), "written": writer.last,
            "writer_failures": writer.failures, "mixed": recorder.mixed,
            "states": recorder.states_since(adhoc_landed, ports) if adhoc_landed else None,
            "prepared_after_end": seconds_in(recorder, ports, expected_options("prepared"), adhoc_landed)
            if adhoc_landed else None}


# The prepare role reads the migration, then writes: its write may land after the migration ended
# and an operator's run converged the ports. It reads the migration again after writing and hands
# an ended one to cleanup; and ovn_lsp never prepares ports already cut over to the target
# (docs/reliability.md, Concurrency).
@pytest.mark.parametrize("order", ["event_run_writes_last", "adhoc_run_first"])
def test_an_event_run_and_an_adhoc_run_on_one_vm(order, sim, ovn_sandbox, ovn_vm, kubeconfig, tmp_path):
    """Two VMs side by side (one migration Succeeds, one Fails), each with the two runs in `order`."""
    vms = {outcome: ovn_vm(providers=("net1",), hv="hv1") for outcome in ADHOC}
    done, errors = {}, {}

    def scenario(outcome):
        try:
            done[outcome] = two_runs_on_one_vm(order, outcome, sim, ovn_sandbox, vms[outcome], kubeconfig,
                                               tmp_path / outcome)
        except Exception as exc:  # noqa: BLE001 - raised again in the test's thread below
            errors[outcome] = exc

    threads = [threading.Thread(target=scenario, args=(outcome,)) for outcome in ADHOC]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(400)
    for outcome, exc in errors.items():
        raise AssertionError("%s: %r" % (outcome, exc)) from exc
    for outcome in ADHOC:
        got = done[outcome]
        wrong = set(got["final"].values()) != {expected_options(got["end_state"])}
        FIGURES["runs"] += 2
        FIGURES["vms"] += 1
        FIGURES["mixed"] += len(got["mixed"])
        FIGURES["foreign_keys_lost"] += len(got["lost"])
        FIGURES["wrong_end_states"] += int(wrong)
        print("\n%s, migration %s: prepare rc=%d, %s rc=%d; end state %s; states after the %s landed: %s (prepared "
              "again for %s s); options:foo written %d times, lost %d; mixed snapshots %d"
              % (order, outcome, got["prepare"].rc, got["adhoc_book"], got["adhoc"].rc,
                 "right" if not wrong else "WRONG %s" % got["final"], got["adhoc_book"], got["states"],
                 "%.1f" % got["prepared_after_end"] if got["prepared_after_end"] is not None else "?",
                 got["written"], len(got["lost"]), len(got["mixed"])))
    for outcome in ADHOC:
        got = done[outcome]
        assert got["adhoc"].rc == 0, got["adhoc"].output[-4000:]
        assert_run_clean(got["prepare"])
        assert not got["mixed"], got["mixed"][:3]
        assert not got["writer_failures"], got["writer_failures"][:3]
        assert not got["lost"], got["lost"]
        assert set(got["final"].values()) == {expected_options(got["end_state"])}, \
            (outcome, got["final"], got["prepare"].output[-3000:])
        bound_only_on(ovn_sandbox, got["ports"], got["end_chassis"])
    # After a cutover the VM runs on hv2 alone: ports prepared again would make hv2 an additional
    # chassis waiting for a RARP the VM already sent, and OVN would drop its traffic (after a
    # rollback hv1 stays the main chassis: no outage). The cutover guard of ovn_lsp prevents it.
    blackout = done["Succeeded"]["prepared_after_end"]
    assert not blackout, "ports re-prepared for %.1f s after the cutover landed" % blackout


def pin_and_plug(sandbox, ports, source, target):
    """Kube-OVN pins a pod's port to its node; the VM's interface exists on both chassis (source
    and target virt-launcher pods), so the SB binding follows requested-chassis alone."""
    for port in ports:
        sandbox.nbctl("set", "Logical_Switch_Port", port, "options:requested-chassis=" + source)
    for port in ports:
        sandbox.add_vm_port(source, port)
        sandbox.add_vm_port(target, port)


def test_many_vms_at_once_share_nothing_but_the_connection(ovn_sandbox, ovn_vm):
    hvs = ovn_sandbox.hypervisors[:3]
    vms = []
    for i in range(8):
        made = ovn_vm(providers=("net1",))
        source, target = hvs[i % 3], hvs[(i + 1) % 3]
        vm = {"namespace": made["namespace"], "vm": made["vm"], "ports": [p["name"] for p in made["ports"]],
              "source": source, "target": target, "end": "cutover" if i % 2 == 0 else "rolled_back"}
        pin_and_plug(ovn_sandbox, vm["ports"], source, target)
        vms.append(vm)
    for vm in vms:
        bound_only_on(ovn_sandbox, vm["ports"], vm["source"])
    all_ports = [p for vm in vms for p in vm["ports"]]
    writer = OptionsWriter(ovn_sandbox, all_ports)
    recorder = OwnedOptionsRecorder(ovn_sandbox, {vm["vm"]: vm["ports"] for vm in vms})
    outcome = {}

    def one_vm(vm):
        outcome[vm["vm"]] = run_tasks([
            ("ovn_lsp", change(ovn_sandbox, vm, "prepared", vm["source"], vm["target"])),
            ("ovn_lsp", change(ovn_sandbox, vm, vm["end"], vm["source"], vm["target"]))])[0]

    started = time.monotonic()
    writer.start()
    recorder.start()
    with NbTransactionLog(ovn_sandbox) as txlog:
        threads = [threading.Thread(target=one_vm, args=(vm,)) for vm in vms]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(300)
    writer.stop()
    recorder.stop()
    elapsed = time.monotonic() - started
    failed = {name: [r.get("msg") for r in results if r.get("failed")] for name, results in outcome.items()}
    failed = {k: v for k, v in failed.items() if v}
    wrong = {}
    final = owned_options(ovn_sandbox, all_ports)
    for vm in vms:
        want = expected_options(vm["end"], vm["source"], vm["target"])
        got = {p: final[p] for p in vm["ports"]}
        if set(got.values()) != {want}:
            wrong[vm["vm"]] = (want, got)
    lost = writer.lost()
    FIGURES["runs"] += len(vms)
    FIGURES["vms"] += len(vms)
    FIGURES["mixed"] += len(recorder.mixed)
    FIGURES["foreign_keys_lost"] += len(lost)
    FIGURES["wrong_end_states"] += len(wrong)
    print("\n%d VMs x %d ports, %d ansible-playbook processes at once, %.1f s: %d option writes sent, %d conflicted "
          "and were retried; options:foo written %d times on every port, lost on %d ports; mixed snapshots %d; "
          "wrong end states %d" % (len(vms), len(vms[0]["ports"]), len(vms), elapsed, txlog.attempts,
                                   txlog.conflicts, writer.last, len(lost), len(recorder.mixed), len(wrong)))
    assert len(outcome) == len(vms), "a run did not finish"
    assert not failed, failed
    assert not wrong, wrong
    assert not recorder.mixed, recorder.mixed[:3]
    assert not writer.failures, writer.failures[:3]
    assert not lost, lost
    # Each module run changed its VM in one transaction; a conflict costs one more.
    assert txlog.attempts == 2 * len(vms) + txlog.conflicts, (txlog.attempts, txlog.conflicts)
    for vm in vms:
        bound_only_on(ovn_sandbox, vm["ports"], vm["target"] if vm["end"] == "cutover" else vm["source"])
    # The interface left on the other chassis: unplugged by ovn_vm's teardown.
