"""The event source's adaptive batching (on by default), against the Kubernetes emulator over HTTP: the
first prepare of a quiet period comes at once, as its own event; the prepares that come while it is
presumed running are gathered into one `prepare_batch` event, their own events marked batched;
prepare_batch_window 0 turns it off."""
import time

from objects import in_flight, make_target_pod, make_vmi, make_vmim, schedule_pod, set_migration_state


def schedule_target(k8s_emulator, vmi, node):
    """A migration of `vmi` (on hv1) whose target pod is then scheduled on `node`."""
    make_vmi(k8s_emulator, "ns1", vmi, "hv1")
    vmim = make_vmim(k8s_emulator, "ns1", "m-" + vmi, vmi, "Scheduling")
    pod = make_target_pod(k8s_emulator, vmim, "virt-launcher-%s-target" % vmi)
    schedule_pod(k8s_emulator, "ns1", pod["metadata"]["name"], node)
    set_migration_state(k8s_emulator, vmim, "hv1", node, pod["metadata"]["name"])


def acting(events):
    """What the rules act on: unbatched prepares (their VMI) and batches (their VMIs)."""
    return [e["vmi"] if e["type"] == "migration" else [m["vmi"] for m in e["migrations"]] for e in events
            if e.get("action") == "prepare" and not e.get("batched")]


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
