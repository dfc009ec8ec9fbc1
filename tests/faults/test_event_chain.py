"""The whole chain with events that arrive late or twice: the real ansible-rulebook running the
collection's rulebook (kubeovn.live_migration.live_migration) fed by the real event source, the
Kubernetes API emulator, the simulated KubeVirt (its target pod's CNI gives up unless the port is
bound on the target in time) and a real OVN. Assertions are on NB options and SB bindings.

Already covered in tests/eda/test_rulebook_end_to_end.py (not repeated here): a migration through
every phase, a failed one, and a rulebook stopped mid-migration and started again only after the
migration succeeded (the Succeeded event arrives late, by the source's replay). Added here:

- twice: a rulebook restarted while the migration is in flight replays it, so prepare runs a
  second time on ports already prepared; after a second, back-to-back migration (hv1 -> hv2 ->
  hv1) a restarted rulebook replays both Succeeded events, the stale one (target hv2) included
  (the planner decides for the VMI: one cutover runs, to hv1);
- late: the API refuses watch and list while the migration goes from TargetReady through Running
  to Succeeded; the source re-lists when it answers again and the cutover runs then.
"""
import sys
import time
from pathlib import Path

import pytest

from fault_helpers import OwnedOptionsRecorder, bound_only_on_now, expected_options, owned_options

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "eda"))
from rulebook_process import rulebook_lab, vm_on_hv1  # noqa: E402  pylint: disable=wrong-import-position

pytestmark = pytest.mark.timeout(600)

# As in tests/eda: generous, so that the test never asserts on time on a loaded machine.
CNI_TIMEOUT = 120
PREPARED = expected_options("prepared")


@pytest.fixture
def lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path):
    yield from rulebook_lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path, CNI_TIMEOUT)


def settled(sandbox, ports, chassis, timeout=120):
    """Every port: NB requested-chassis=chassis without activation-strategy; SB bound there only."""
    def done():
        return (set(owned_options(sandbox, ports).values()) == {(chassis, None)}
                and bound_only_on_now(sandbox, ports, chassis))
    sandbox.wait_for(done, timeout=timeout, what="%s: NB and SB on %s only" % (ports, chassis))


def summaries(run, phase, namespace, vm):
    """The `msg` lines the playbooks the rulebook ran printed for `phase` (prepare, cutover, cleanup)."""
    head = '"msg": "%s %s/%s: ' % (phase, namespace, vm)
    return [line.strip() for line in run.log().splitlines() if head in line]


def wait_summaries(run, phase, namespace, vm, count, timeout=120):
    deadline = time.monotonic() + timeout
    while len(summaries(run, phase, namespace, vm)) < count:
        if run.proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError("%d %s run(s) expected in %s's log:\n%s"
                                 % (count, phase, run.log_path.name, run.log()[-5000:]))
        time.sleep(0.2)
    return summaries(run, phase, namespace, vm)


def test_replayed_and_repeated_events_end_where_the_vm_runs(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    namespace, vm, ports = vm_on_hv1(sim, ovn_vm)
    sim.configure(namespace, vm, target_node="hv2", hold_at="Running")
    first = rulebook("first")
    sim.migrate(namespace, vm, name="mig1")
    sim.wait_phase(namespace, "mig1", "Running", timeout=CNI_TIMEOUT + 60)   # past the CNI: prepare landed
    assert set(owned_options(ovn_sandbox, ports).values()) == {PREPARED}
    first.stop()              # its prepare run may still be reading back: stopped mid-run

    # Restarted mid-migration: the source replays mig1 (in flight), prepare runs a second time.
    second = rulebook("second")
    again = wait_summaries(second, "prepare", namespace, vm, 1)
    assert ": prepare - " in again[0] and "(changed)" not in again[0], again
    assert set(owned_options(ovn_sandbox, ports).values()) == {PREPARED}
    sim.release(namespace, "mig1")
    assert sim.wait_phase(namespace, "mig1", ["Succeeded", "Failed"])["status"]["phase"] == "Succeeded"
    settled(ovn_sandbox, ports, "hv2")
    wait_summaries(second, "cutover", namespace, vm, 1)

    # Back to hv1 with the same rulebook, then restarted: both Succeeded events come again, the
    # first one's (target hv2) now stale. The ports must stay on hv1 all along.
    sim.configure(namespace, vm, target_node="hv1")
    sim.migrate(namespace, vm, name="mig2")
    assert sim.wait_phase(namespace, "mig2", ["Succeeded", "Failed"], timeout=CNI_TIMEOUT + 60)["status"]["phase"] \
        == "Succeeded", (sim.errors, second.log()[-4000:])
    settled(ovn_sandbox, ports, "hv1")
    wait_summaries(second, "cutover", namespace, vm, 2)
    second.stop()
    recorder = OwnedOptionsRecorder(ovn_sandbox, {vm: ports})
    recorder.start()
    try:
        third = rulebook("third")
        # One cutover: the planner decides for the VMI, and the stale mig1 event carries none.
        replayed = wait_summaries(third, "cutover", namespace, vm, 1)
    finally:
        recorder.stop()
    states = recorder.states_since(0, ports)
    print("\nrestarted in flight: prepare again: %s\nrestarted after hv1->hv2->hv1: %s\nNB states meanwhile: %s"
          % (again[0], replayed, states))
    assert states == [(("hv1", None), ("hv1", None))], states
    assert all("(changed)" not in line for line in replayed), replayed
    assert not recorder.mixed
    settled(ovn_sandbox, ports, "hv1")
    assert not summaries(third, "prepare", namespace, vm)


def test_events_late_after_a_watch_outage_still_cut_over(lab, ovn_sandbox, ovn_vm, k8s_emulator):
    sim, rulebook = lab
    namespace, vm, ports = vm_on_hv1(sim, ovn_vm)
    sim.configure(namespace, vm, target_node="hv2", hold_at="TargetReady")
    run = rulebook("rulebook")
    sim.migrate(namespace, vm, name="mig1")
    sim.wait_phase(namespace, "mig1", "TargetReady", timeout=CNI_TIMEOUT + 60)
    wait_summaries(run, "prepare", namespace, vm, 1)
    run.wait_log("PLAY RECAP")
    # The API refuses the source's watches and lists (the simulated KubeVirt only gets, patches
    # and creates from here on), the open streams are cut, and the migration goes on.
    k8s_emulator.deny("watch", "*")
    k8s_emulator.deny("list", "*")
    cut = k8s_emulator.cut_watches()
    outage = time.monotonic()
    sim.release(namespace, "mig1")
    assert sim.wait_phase(namespace, "mig1", ["Succeeded", "Failed"])["status"]["phase"] == "Succeeded"
    time.sleep(1)        # well past the switchover: nobody has cut over, nobody could know
    assert set(owned_options(ovn_sandbox, ports).values()) == {PREPARED}
    assert not summaries(run, "cutover", namespace, vm)
    k8s_emulator.allow_all()
    back = time.monotonic()
    settled(ovn_sandbox, ports, "hv2")
    landed = time.monotonic()
    wait_summaries(run, "cutover", namespace, vm, 1)
    print("\nwatch outage: %d streams cut, API refused list and watch for %.1f s while mig1 went TargetReady -> "
          "Running -> Succeeded; cut over %.1f s after the API answered again"
          % (cut, back - outage, landed - back))
    assert "listing" in run.log() or "answers again" in run.log()
