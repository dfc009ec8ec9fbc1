"""Issue 8 through the playbooks, on real OVN, the Kubernetes emulator, the simulated KubeVirt and a
real Pushgateway: each phase posts its Event on the VMI and pushes its metrics; a VMI out of scope
is never touched; a per-VM timeout cancels the migration and rolls the ports back."""
import threading
import uuid

import pytest

from ansible_run import run_playbook
from faults.fault_helpers import OwnedOptionsRecorder, owned_options

ENABLED, TIMEOUT = "live-migration.kubeovn.io/enabled", "live-migration.kubeovn.io/timeout"


@pytest.fixture
def lab(ovn_sandbox, k8s_emulator, kubeconfig, pushgateway):
    from kubevirt_sim import KubevirtSim
    sim = KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.5).start()
    try:
        yield {"ovn": ovn_sandbox, "k8s": k8s_emulator, "sim": sim, "kubeconfig": kubeconfig,
               "pushgateway": pushgateway}
    finally:
        sim.stop()


def make_vm(lab, annotations=None, providers=("net1",)):
    namespace, vm = "ns-" + uuid.uuid4().hex[:6], "vm1"
    ports = lab["ovn"].create_vm(namespace, vm, providers=providers)
    lab["sim"].create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
    if annotations:
        lab["k8s"].patch("virtualmachineinstances", namespace, vm, {"metadata": {"annotations": annotations}})
    return namespace, vm, [p["name"] for p in ports]


def variables(lab, **extra):
    ovn = lab["ovn"]
    return dict(ovn_nb_connection=ovn.nb_remote, ovn_sb_connection=ovn.sb_remote, k8s_kubeconfig=lab["kubeconfig"],
                live_migration_pushgateway_url=lab["pushgateway"].url, **extra)


def owned(ovn, names):
    return owned_options(ovn, names)


def our_events(lab, namespace, vm):
    events = [e for e in lab["k8s"].list("events", namespace)
              if e.get("reportingComponent") == "kubeovn-live-migration"
              and e["involvedObject"]["name"] == vm]
    return sorted(events, key=lambda e: e.get("eventTime") or "")


def sample(lab, name, **labels):
    found = lab["pushgateway"].samples(name, **labels)
    return found[0].value if found else None


def release_once_prepared(lab, namespace, vm):
    """Let the held migrations of `namespace` go on once the prepare run has finished its writes
    and its read-back (it posts its Event last), in the background."""
    def release():
        lab["ovn"].wait_for(lambda: "NetworkPrepared" in [e["reason"] for e in our_events(lab, namespace, vm)],
                            timeout=120, what="the NetworkPrepared Event")
        for vmim in lab["k8s"].list("virtualmachineinstancemigrations", namespace):
            lab["sim"].release(namespace, vmim["metadata"]["name"])
    thread = threading.Thread(target=release, daemon=True)
    thread.start()
    return thread


def test_succeeded_migration_tells_its_story_in_events_and_metrics(lab):
    namespace, vm, names = make_vm(lab)
    # Held until prepare landed: on a loaded machine the simulated migration could end first.
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="Running")
    release_once_prepared(lab, namespace, vm)
    run = run_playbook("kubeovn.live_migration.live_migrate",
                       extra_vars=variables(lab, vmi=vm, namespace=namespace, target_node="hv2"))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned(lab["ovn"], names).values()) == {("hv2", None)}
    reasons = [e["reason"] for e in our_events(lab, namespace, vm)]
    assert reasons == ["NetworkPrepared", "NetworkCutover"], reasons
    prepared = our_events(lab, namespace, vm)[0]
    assert "hv1" in prepared["message"] and "hv2" in prepared["message"] and names[0] in prepared["message"]
    assert prepared["related"]["kind"] == "VirtualMachineInstanceMigration" or prepared.get("related") is None
    group = dict(namespace=namespace, vmi=vm)
    assert sample(lab, "kubeovn_live_migration_outcomes_total", outcome="succeeded", **group) == 1
    assert sample(lab, "kubeovn_live_migration_outcomes_total", outcome="rolled_back", **group) == 0
    for stage in ("prepared", "target_bound", "cutover"):
        value = sample(lab, "kubeovn_live_migration_stage_duration_seconds", stage=stage, **group)
        assert value is not None and value >= -1, (stage, value)   # timestamps from the API are whole seconds
    assert sample(lab, "kubeovn_live_migration_dual_chassis_since_timestamp_seconds", **group) == 0

    # A repeated cutover changes nothing: no second Event, the outcome is not counted twice.
    again = run_playbook("kubeovn.live_migration.cutover", extra_vars=variables(lab, vmi=vm, namespace=namespace))
    assert again.rc == 0, again.output[-3000:]
    assert [e["reason"] for e in our_events(lab, namespace, vm)] == ["NetworkPrepared", "NetworkCutover"]
    assert sample(lab, "kubeovn_live_migration_outcomes_total", outcome="succeeded", **group) == 1


def test_failed_migration_is_rolled_back_posted_and_counted(lab):
    namespace, vm, names = make_vm(lab)
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="TargetReady", fail_at="TargetReady")
    release_once_prepared(lab, namespace, vm)
    run = run_playbook("kubeovn.live_migration.live_migrate",
                       extra_vars=variables(lab, vmi=vm, namespace=namespace, fail_on_error=False))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned(lab["ovn"], names).values()) == {("hv1", None)}
    assert [e["reason"] for e in our_events(lab, namespace, vm)] == ["NetworkPrepared", "NetworkRolledBack"]
    group = dict(namespace=namespace, vmi=vm)
    assert sample(lab, "kubeovn_live_migration_outcomes_total", outcome="rolled_back", **group) == 1
    assert sample(lab, "kubeovn_live_migration_dual_chassis_since_timestamp_seconds", **group) == 0


@pytest.mark.parametrize("annotations, scope", [
    ({ENABLED: "false"}, "all"),         # opted out
    (None, "opted_in"),                  # not opted in while only opted-in VMIs are in scope
    ({ENABLED: "maybe"}, "all"),         # unclear intent counts as out
])
def test_a_vmi_out_of_scope_is_never_touched(lab, annotations, scope):
    namespace, vm, names = make_vm(lab, annotations)
    ovn = lab["ovn"]
    extra = variables(lab, vmi=vm, namespace=namespace, target_node="hv2", live_migration_scope=scope)
    # The simulated Kube-OVN pins requested-chassis to the VM's node itself; the collection's
    # marks (two chassis, an activation strategy) must never show.
    recorder = OwnedOptionsRecorder(ovn, {vm: names})
    recorder.start()
    try:
        run = run_playbook("kubeovn.live_migration.live_migrate", extra_vars=extra)
        assert run.rc == 0, run.output[-3000:]
        assert "out of scope" in run.output
        # Neither a late phase playbook nor the sweep touches it (each phase once, not per case).
        for playbook in ("prepare", "cutover", "cleanup") if annotations == {ENABLED: "false"} else ():
            other = run_playbook("kubeovn.live_migration." + playbook, extra_vars=extra)
            assert other.rc == 0, other.output[-3000:]
    finally:
        recorder.stop()
    seen = {keys for _at, snapshot in recorder.history for keys in snapshot.values()}
    assert seen <= {(None, None), ("hv1", None), ("hv2", None)}, seen
    ovn.nbctl("set", "Logical_Switch_Port", names[0], "options:requested-chassis=hv1,hv2",
              "options:activation-strategy=rarp")
    left = owned(ovn, names)
    sweep = run_playbook("kubeovn.live_migration.reconcile", extra_vars=variables(lab, live_migration_scope=scope))
    assert sweep.rc == 0, sweep.output[-3000:]
    assert owned(ovn, names) == left
    assert our_events(lab, namespace, vm) == [], [(e["reason"], e["message"], e.get("reportingInstance")) for e in our_events(lab, namespace, vm)]
    assert lab["pushgateway"].samples("kubeovn_live_migration_outcomes_total", namespace=namespace) == []


def test_opted_in_vmi_is_handled_when_scope_is_opted_in(lab):
    namespace, vm, names = make_vm(lab, {ENABLED: "true"})
    run = run_playbook("kubeovn.live_migration.live_migrate",
                       extra_vars=variables(lab, vmi=vm, namespace=namespace, target_node="hv2",
                                            live_migration_scope="opted_in"))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned(lab["ovn"], names).values()) == {("hv2", None)}


def test_per_vm_timeout_cancels_rolls_back_posts_and_counts(lab):
    namespace, vm, names = make_vm(lab, {TIMEOUT: "4"})
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="Running")
    run = run_playbook("kubeovn.live_migration.live_migrate",
                       extra_vars=variables(lab, vmi=vm, namespace=namespace, fail_on_error=False,
                                            timeout_seconds=300))
    assert run.rc == 0, run.output[-3000:]
    assert lab["k8s"].list("virtualmachineinstancemigrations", namespace) == []
    assert set(owned(lab["ovn"], names).values()) == {("hv1", None)}
    reasons = [e["reason"] for e in our_events(lab, namespace, vm)]
    assert reasons == ["NetworkPrepared", "NetworkTimedOut"], reasons
    assert our_events(lab, namespace, vm)[-1]["type"] == "Warning"
    assert sample(lab, "kubeovn_live_migration_outcomes_total", outcome="timed_out", namespace=namespace, vmi=vm) == 1


def test_timeout_event_through_the_cleanup_playbook_cancels_first(lab):
    namespace, vm, names = make_vm(lab)
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="Running")
    vmim = lab["sim"].migrate(namespace, vm, name="m1")
    lab["sim"].wait_phase(namespace, "m1", ["Running"])
    prep = run_playbook("kubeovn.live_migration.prepare", extra_vars=variables(lab, vmi=vm, namespace=namespace,
                                                                               vmim="m1"))
    assert prep.rc == 0, prep.output[-3000:]
    assert set(owned(lab["ovn"], names).values()) == {("hv1,hv2", "rarp")}
    # What the rulebook passes for the event source's timeout event.
    run = run_playbook("kubeovn.live_migration.cleanup",
                       extra_vars=variables(lab, vmi=vm, namespace=namespace, vmim="m1",
                                            ansible_eda={"event": {"type": "timeout", "vmi": vm, "vmim": "m1",
                                                                   "namespace": namespace}}))
    assert run.rc == 0, run.output[-3000:]
    assert vmim and lab["k8s"].list("virtualmachineinstancemigrations", namespace) == []
    assert set(owned(lab["ovn"], names).values()) == {("hv1", None)}
    assert [e["reason"] for e in our_events(lab, namespace, vm)][-1] == "NetworkTimedOut"


def test_sweep_repairs_posts_and_pushes_its_run(lab):
    namespace, vm, names = make_vm(lab)
    ovn = lab["ovn"]
    for name in names:
        ovn.nbctl("set", "Logical_Switch_Port", name, "options:requested-chassis=hv1,hv3",
                  "options:activation-strategy=rarp")
    run = run_playbook("kubeovn.live_migration.reconcile", extra_vars=variables(lab))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned(ovn, names).values()) == {("hv1", None)}
    assert [e["reason"] for e in our_events(lab, namespace, vm)] == ["NetworkRepaired"]
    assert sample(lab, "kubeovn_live_migration_outcomes_total", outcome="repaired", namespace=namespace, vmi=vm) == 1
    assert sample(lab, "kubeovn_live_migration_sweep_last_run_repaired_ports") >= len(names)
    assert sample(lab, "kubeovn_live_migration_sweep_last_run_timestamp_seconds") > 0
