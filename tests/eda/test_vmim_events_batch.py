"""The event source's prepare_batch_window, against the Kubernetes emulator over HTTP: the
migrations whose target became known in one window come as one `prepare_batch` event, their own
events marked batched; without the option nothing changes."""
from objects import in_flight, make_target_pod, make_vmi, make_vmim, schedule_pod, set_migration_state


def test_migrations_of_one_window_come_as_one_batch(k8s_emulator, run_source):
    for vmi in ("vm1", "vm2", "vm3"):
        in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Scheduled")
    run = run_source(prepare_batch_window=0.3)
    events = run.events_for(1.5)
    migrations = [e for e in events if e["type"] == "migration"]
    batches = [e for e in events if e["type"] == "prepare_batch"]
    assert len(migrations) == 3 and all(e.get("batched") for e in migrations), migrations
    assert len(batches) == 1, batches
    batch = batches[0]
    assert batch["count"] == 3
    assert [(m["vmi"], m["source_node"], m["target_node"]) for m in batch["migrations"]] == [
        ("vm1", "hv1", "hv2"), ("vm2", "hv1", "hv2"), ("vm3", "hv1", "hv2")]
    assert {m["vmim_uid"] for m in batch["migrations"]} == {e["vmim_uid"] for e in migrations}
    assert set(batch["migrations"][0]) == {"vmim", "vmim_uid", "vmi", "namespace", "source_node", "target_node",
                                           "network_opt", "target_scheduled_at"}

    # A target scheduled later opens a new window: a batch of one.
    make_vmi(k8s_emulator, "ns1", "vm4", "hv1")
    vmim = make_vmim(k8s_emulator, "ns1", "m-vm4", "vm4", "Scheduling")
    pod = make_target_pod(k8s_emulator, vmim, "virt-launcher-vm4-target")
    schedule_pod(k8s_emulator, "ns1", pod["metadata"]["name"], "hv3")
    set_migration_state(k8s_emulator, vmim, "hv1", "hv3", pod["metadata"]["name"])
    later = run.next_event(where=lambda e: e["type"] == "prepare_batch")
    assert [(m["vmi"], m["target_node"]) for m in later["migrations"]] == [("vm4", "hv3")]
    run.stop()


def test_no_window_no_batch_and_no_mark(k8s_emulator, run_source):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled")
    events = run_source().events_for(1.0)
    assert [e["type"] for e in events] == ["migration"]
    assert "batched" not in events[0]


def test_only_prepare_worthy_changes_are_batched(k8s_emulator, run_source):
    # A migration whose target is not known yet, and one that has ended: neither joins a batch.
    make_vmi(k8s_emulator, "ns1", "vm1", "hv1")
    make_vmim(k8s_emulator, "ns1", "m1", "vm1", "Pending")
    make_vmi(k8s_emulator, "ns1", "vm2", "hv2")
    make_vmim(k8s_emulator, "ns1", "m2", "vm2", "Succeeded", ended_ago=5)
    events = run_source(prepare_batch_window=0.2).events_for(1.0)
    assert sorted(e["vmim"] for e in events if e["type"] == "migration") == ["m1", "m2"]
    assert not [e for e in events if e["type"] == "prepare_batch" or e.get("batched")], events
