"""The event source's adaptive batching (on by default), against the Kubernetes emulator over HTTP: the
first prepare (or cutover) of a quiet period comes at once, as its own event; those that come while it
is presumed running are gathered into one `prepare_batch` (or `cutover_batch`) event, their own events
marked batched; prepare_batch_window 0 turns it off."""
import time

from objects import in_flight, make_target_pod, make_vmi, make_vmim, schedule_pod, set_migration_state, set_phase


def schedule_target(k8s_emulator, vmi, node):
    """A migration of `vmi` (on hv1) whose target pod is then scheduled on `node`."""
    make_vmi(k8s_emulator, "ns1", vmi, "hv1")
    vmim = make_vmim(k8s_emulator, "ns1", "m-" + vmi, vmi, "Scheduling")
    pod = make_target_pod(k8s_emulator, vmim, "virt-launcher-%s-target" % vmi)
    schedule_pod(k8s_emulator, "ns1", pod["metadata"]["name"], node)
    set_migration_state(k8s_emulator, vmim, "hv1", node, pod["metadata"]["name"])


def acting(events, action="prepare"):
    """What the rules act on: unbatched events of `action` (their VMI) and batches (their VMIs)."""
    return [e["vmi"] if e["type"] == "migration" else [m["vmi"] for m in e["migrations"]] for e in events
            if e.get("action") == action and not e.get("batched")]


def succeeded(k8s_emulator, vmim, node="hv2"):
    """What KubeVirt writes when a migration succeeded: the VMI on the target, the VMIM's phase."""
    k8s_emulator.patch("virtualmachineinstances", "ns1", vmim["spec"]["vmiName"], {"status": {
        "nodeName": node, "migrationState": {"migrationUid": vmim["metadata"]["uid"], "sourceNode": "hv1",
                                             "targetNode": node, "completed": True}}}, subresource="status")
    set_phase(k8s_emulator, vmim, "Succeeded")


def test_by_default_the_first_comes_at_once_and_the_rest_in_one_batch(k8s_emulator, run_source):
    for vmi in ("vm1", "vm2", "vm3"):
        in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Scheduled")
    run = run_source(prepare_batch_window=None)     # the default
    events = run.events_for(1.5)
    migrations = [e for e in events if e["type"] == "migration"]
    assert [(e["vmi"], bool(e.get("batched"))) for e in migrations] == [
        ("vm1", False), ("vm2", True), ("vm3", True)], migrations
    assert acting(events) == ["vm1", ["vm2", "vm3"]]
    [batch] = [e for e in events if e["type"] == "prepare_batch"]
    assert (batch["action"], batch["count"]) == ("prepare", 2)
    assert [(m["vmi"], m["source_node"], m["target_node"]) for m in batch["migrations"]] == [
        ("vm2", "hv1", "hv2"), ("vm3", "hv1", "hv2")]
    assert {m["vmim_uid"] for m in batch["migrations"]} == {e["vmim_uid"] for e in migrations[1:]}
    assert set(batch["migrations"][0]) == {"vmim", "vmim_uid", "vmi", "namespace", "source_node", "target_node",
                                           "network_opt", "target_scheduled_at"}
    run.stop()


def test_a_lone_migration_after_a_quiet_period_is_not_held(k8s_emulator, run_source):
    run = run_source(prepare_batch_window=0.3)
    run.events_for(0.5)
    schedule_target(k8s_emulator, "vm4", "hv3")
    prepare = run.next_event(where=lambda e: e.get("action") == "prepare")
    assert (prepare["type"], prepare["vmi"], prepare["target_node"]) == ("migration", "vm4", "hv3")
    assert "batched" not in prepare
    time.sleep(0.5)     # the window passed: quiet again
    schedule_target(k8s_emulator, "vm5", "hv2")
    prepare = run.next_event(where=lambda e: e.get("action") == "prepare")
    assert (prepare["type"], prepare["vmi"], prepare.get("batched")) == ("migration", "vm5", None)
    assert not [e for e in run.events_for(0.5) if e["type"] == "prepare_batch"]
    run.stop()


def test_window_zero_no_batch_and_no_mark(k8s_emulator, run_source):
    for vmi in ("vm1", "vm2"):
        in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Scheduled")
    events = run_source(prepare_batch_window=0).events_for(1.0)
    assert [e["type"] for e in events] == ["migration", "migration"]
    assert not [e for e in events if "batched" in e]


def test_only_prepare_worthy_changes_are_batched(k8s_emulator, run_source):
    # A migration whose target is not known yet, and one that has ended: neither joins a batch.
    make_vmi(k8s_emulator, "ns1", "vm1", "hv1")
    make_vmim(k8s_emulator, "ns1", "m1", "vm1", "Pending")
    make_vmi(k8s_emulator, "ns1", "vm2", "hv2")
    make_vmim(k8s_emulator, "ns1", "m2", "vm2", "Succeeded", ended_ago=5)
    events = run_source(prepare_batch_window=0.2).events_for(1.0)
    assert sorted(e["vmim"] for e in events if e["type"] == "migration") == ["m1", "m2"]
    assert not [e for e in events if e["type"] == "prepare_batch" or e.get("batched")], events


def test_cutovers_of_a_drain_are_gathered_like_prepares(k8s_emulator, run_source):
    # Four migrations prepared, then all succeed at once (as after a node drain): every VM is cut over
    # once, by its own event or in a cutover_batch; those that came while two runs were presumed running
    # are in the batch (how many go alone depends on how far apart the watch events come: at most two).
    vmis = ["vm%d" % i for i in range(1, 5)]
    vmims = [in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Running") for vmi in vmis]
    run = run_source(prepare_batch_window=0.5)
    prepared = run.events_for(1.0)          # the start's prepares (one alone, a batch); then quiet
    assert [e["type"] for e in prepared if not e.get("batched")] == ["migration", "prepare_batch"], prepared
    for vmim in vmims:
        succeeded(k8s_emulator, vmim)
    events = run.events_for(1.5)
    cutovers = [e for e in events if e["type"] == "migration" and e["action"] == "cutover"]
    assert sorted(e["vmi"] for e in cutovers) == vmis, events
    acts = acting(events, "cutover")
    alone = [a for a in acts if isinstance(a, str)]
    batches = [e for e in events if e["type"] == "cutover_batch"]
    assert 1 <= len(alone) <= 2 and batches, acts
    assert sorted(alone + [v for b in batches for v in (m["vmi"] for m in b["migrations"])]) == vmis
    assert sorted(e["vmi"] for e in cutovers if e.get("batched")) == sorted(
        m["vmi"] for b in batches for m in b["migrations"])
    for batch in batches:
        assert (batch["action"], batch["count"]) == ("cutover", len(batch["migrations"]))
        assert {(m["source_node"], m["target_node"]) for m in batch["migrations"]} == {("hv1", "hv2")}
        assert set(batch["migrations"][0]) == {"vmim", "vmim_uid", "vmi", "namespace", "source_node",
                                               "target_node", "network_opt", "target_scheduled_at"}
    # Each batch comes after its VMIs' own (batched) events, as a prepare_batch does.
    order = [(e["type"], e.get("vmi")) for e in events]
    for batch in batches:
        for m in batch["migrations"]:
            assert order.index(("migration", m["vmi"])) < events.index(batch)
    run.stop()


def test_a_restart_after_a_drain_gives_one_cutover_at_once_and_the_rest_in_one_batch(k8s_emulator, run_source):
    # The rulebook was down while the drain's migrations succeeded: the start replays their cutovers.
    vmis = ["vm1", "vm2", "vm3"]
    for vmi in vmis:
        succeeded(k8s_emulator, in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Running"))
    events = run_source(prepare_batch_window=None).events_for(1.0)     # the default
    assert [(e["vmi"], e["action"], bool(e.get("batched"))) for e in events if e["type"] == "migration"] == [
        ("vm1", "cutover", False), ("vm2", "cutover", True), ("vm3", "cutover", True)], events
    assert acting(events, "cutover") == ["vm1", ["vm2", "vm3"]]
    assert not [e for e in events if e["type"] == "prepare_batch"]


def test_window_zero_sends_every_cutover_alone(k8s_emulator, run_source):
    for vmi in ("vm1", "vm2", "vm3"):
        succeeded(k8s_emulator, in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Running"))
    events = run_source(prepare_batch_window=0).events_for(1.0)
    assert [(e["type"], e["action"]) for e in events] == [("migration", "cutover")] * 3
    assert not [e for e in events if "batched" in e]
