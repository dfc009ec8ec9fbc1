"""The event source kubeovn.live_migration.vmim_events against the Kubernetes emulator over HTTP:
what it emits on start, on each change, and across restarts, dropped streams, 410 and outages."""
import logging
import time

from objects import in_flight, make_target_pod, make_vmi, make_vmim, schedule_pod, set_migration_state, set_phase

HAPPY = ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]
QUIET = 0.6  # seconds without an event after which a test takes it that nothing more comes


def test_start_emits_each_migration_in_flight_with_every_field(k8s_emulator, run_source):
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running", source="hv1", target="hv2")
    make_vmi(k8s_emulator, "ns1", "vm2", "hv3")
    make_vmim(k8s_emulator, "ns1", "old", "vm2", phase="Succeeded", ended_ago=3600)
    run = run_source()
    event = run.next_event()
    assert event.pop("reason").startswith("migration m1 (Running): bind on hv1 and hv2")
    assert event == {
        "type": "migration", "vmim": "m1", "vmim_uid": vmim["metadata"]["uid"], "vmi": "vm1", "namespace": "ns1",
        "phase": "Running", "in_flight": True, "deleted": False, "source_node": "hv1", "target_node": "hv2",
        "target_pod": "virt-launcher-vm1-target", "migration_state_matches": True,
        "network_opt": "", "migration_timeout": None, "target_scheduled_at": None,
        "changes": ["vmim", "vmim_uid", "vmi", "namespace", "phase", "in_flight", "deleted", "source_node",
                    "target_node", "target_pod", "migration_state_matches"],
        # The planner's decision for the VMI: the first event after a start acts (replay).
        "action": "prepare", "source_chassis": "hv1", "target_chassis": "hv2", "cancel": False, "timeout": None,
    }
    # The migration that ended an hour ago is history: not replayed.
    assert run.events_for(QUIET) == []


def test_start_replays_migrations_that_ended_recently(k8s_emulator, run_source):
    make_vmi(k8s_emulator, "ns1", "vm1", "hv2")
    make_vmim(k8s_emulator, "ns1", "m1", "vm1", phase="Succeeded", ended_ago=5)
    make_vmi(k8s_emulator, "ns1", "vm2", "hv1")
    make_vmim(k8s_emulator, "ns1", "m2", "vm2", phase="Failed", ended_ago=5)
    assert sorted((e["vmim"], e["phase"]) for e in run_source().events_for(QUIET)) == [
        ("m1", "Succeeded"), ("m2", "Failed")]
    assert run_source(replay_ended_within=0).events_for(QUIET) == []


def test_a_whole_migration_gives_one_event_per_meaningful_change(kubevirt_sim, run_source):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    run = run_source(heartbeat=0.05)
    run.next_event(where=lambda e: e["type"] == "heartbeat")   # heartbeats start once the first lists are in
    kubevirt_sim.migrate("ns1", "vm1", target_node="hv2", name="mig1")
    events = []
    while not events or events[-1]["phase"] != "Succeeded":
        events.append(run.next_event(where=lambda e: e["type"] == "migration"))
    # The first event is the VMIM as created (no phase yet), with every field as changed.
    assert events[0]["phase"] is None and len(events[0]["changes"]) == 11
    assert [e["phase"] for e in events[1:] if "phase" in e["changes"]] == HAPPY
    # Every event differs from the one before it in the fields it says changed, and only in those.
    # (network_opt, migration_timeout and target_scheduled_at ride along: never a change of their own.)
    # (Nor do the planner's fields: they say what to do, once per action.)
    riding = ("type", "changes", "network_opt", "migration_timeout", "target_scheduled_at",
              "action", "reason", "source_chassis", "target_chassis", "cancel", "timeout")
    fields = [k for k in events[0] if k not in riding]
    for before, after in zip(events, events[1:]):
        assert after["changes"] == [f for f in fields if before[f] != after[f]] != []
    # KubeVirt binds the target pod before it moves to phase Scheduled: the target is known then.
    first_target = next(e for e in events if e["target_node"])
    assert (first_target["phase"], first_target["target_node"], first_target["changes"]) == (
        "Scheduling", "hv2", ["target_node"])
    assert all(e["source_node"] == "hv1" and e["vmim"] == "mig1" and e["vmi"] == "vm1" for e in events)
    assert events[-1]["in_flight"] is False and events[-1]["migration_state_matches"] is True
    # One action per step of the migration, edge-triggered: pin while no target pod is scheduled,
    # prepare once the target is known, cutover once it succeeded; "none" on every other event.
    acted = [(e["phase"], e["action"], e["source_chassis"], e["target_chassis"]) for e in events if e["action"] != "none"]
    assert acted == [(None, "pin", "hv1", None), ("Scheduling", "prepare", "hv1", "hv2"),
                     ("Succeeded", "cutover", None, "hv2")], acted
    assert run.events_for(QUIET, where=lambda e: e["type"] == "migration") == []


def test_target_scheduled_before_the_phase_changes(k8s_emulator, run_source):
    make_vmi(k8s_emulator, "ns1", "vm1", "hv1")
    vmim = make_vmim(k8s_emulator, "ns1", "m1", "vm1", phase="Scheduling")
    make_target_pod(k8s_emulator, vmim, "target")
    run = run_source()
    start = run.next_event()
    assert (start["phase"], start["target_pod"], start["target_node"]) == ("Scheduling", "target", None)
    schedule_pod(k8s_emulator, "ns1", "target", "hv3")
    event = run.next_event()
    assert (event["phase"], event["target_node"], event["changes"]) == ("Scheduling", "hv3", ["target_node"])


def test_changes_that_touch_no_field_of_the_event_are_dropped(k8s_emulator, run_source):
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled")
    run = run_source()
    run.next_event()
    k8s_emulator.patch("virtualmachineinstancemigrations", "ns1", "m1", {"metadata": {"annotations": {"a": "1"}}})
    k8s_emulator.patch("virtualmachineinstances", "ns1", "vm1", {"status": {"guestOSInfo": {"id": "fedora"}}},
                       subresource="status")
    k8s_emulator.patch("pods", "ns1", "virt-launcher-vm1-target", {"status": {"phase": "Running"}},
                       subresource="status")
    set_migration_state(k8s_emulator, vmim, "hv1", "hv2", "virt-launcher-vm1-target")  # the same state again
    set_phase(k8s_emulator, vmim, "Scheduled")               # the same phase, a new timestamp
    assert run.events_for(QUIET) == []
    set_phase(k8s_emulator, vmim, "PreparingTarget")
    assert [(e["phase"], e["changes"]) for e in run.events_for(QUIET)] == [("PreparingTarget", ["phase"])]


def test_a_restarted_source_picks_up_where_it_was(k8s_emulator, run_source):
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled")
    first = run_source()
    assert first.next_event()["phase"] == "Scheduled"
    first.stop()
    set_phase(k8s_emulator, vmim, "Running")                 # while no source runs
    second = run_source()
    event = second.next_event()
    assert (event["vmim"], event["phase"], event["target_node"], event["in_flight"]) == ("m1", "Running", "hv2", True)
    assert "target_node" in event["changes"]                 # a new source has sent nothing yet: all fields
    second.stop()
    set_phase(k8s_emulator, vmim, "Succeeded")               # it ends while no source runs
    third = run_source()
    assert [(e["vmim"], e["phase"], e["action"]) for e in third.events_for(QUIET)] == [("m1", "Succeeded", "cutover")]


def test_410_gone_relists_and_emits_what_changed_meanwhile(k8s_emulator, run_source, caplog):
    caplog.set_level(logging.INFO)
    done = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    in_flight(k8s_emulator, "ns1", "vm2", "m2", phase="Running")
    run = run_source()
    assert sorted(e["vmim"] for e in run.events_for(QUIET)) == ["m1", "m2"]
    k8s_emulator.stop()                                      # the API server goes away; its store stays
    set_phase(k8s_emulator, done, "Succeeded")
    k8s_emulator.delete("virtualmachineinstancemigrations", "ns1", "m2")
    in_flight(k8s_emulator, "ns1", "vm3", "m3", phase="Scheduled")
    k8s_emulator.compact()                                   # every resourceVersion the source holds is gone
    k8s_emulator.restart()
    events = sorted(run.events_for(2.5), key=lambda e: e["vmim"])
    assert [(e["vmim"], e["phase"], e["deleted"], e["in_flight"]) for e in events] == [
        ("m1", "Succeeded", False, False), ("m2", "Running", True, True), ("m3", "Scheduled", False, True)]
    assert "410 Gone" in caplog.text
    assert run.running


def test_a_dropped_stream_resumes_without_loss_or_duplicates(k8s_emulator, run_source):
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled")
    run = run_source()
    run.next_event()
    for graceful in (False, True):
        # The first event can come from the initial list, before the three watches are open.
        deadline = time.monotonic() + 10
        while k8s_emulator.open_watches < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert k8s_emulator.cut_watches(graceful=graceful) == 3
        phase = "PreparingTarget" if not graceful else "TargetReady"
        set_phase(k8s_emulator, vmim, phase)
        assert [e["phase"] for e in run.events_for(QUIET * 2)] == [phase]


def test_an_unreachable_api_is_retried_and_logged_and_never_ends_the_source(k8s_emulator, run_source, caplog):
    caplog.set_level(logging.INFO)
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled")
    run = run_source()
    run.next_event()
    k8s_emulator.stop()
    deadline = time.monotonic() + 10
    while "cannot reach the Kubernetes API" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "cannot reach the Kubernetes API" in caplog.text
    set_phase(k8s_emulator, vmim, "Running")
    time.sleep(1.5)                                          # several retries, capped at retry_max_delay
    assert run.running
    k8s_emulator.restart()
    assert [e["phase"] for e in run.events_for(2.5)] == ["Running"]


def test_a_source_started_while_the_api_is_down_waits_for_it(k8s_emulator, run_source, caplog):
    caplog.set_level(logging.INFO)
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    k8s_emulator.stop()
    run = run_source()
    assert run.events_for(1.0) == [] and run.running
    assert "cannot reach the Kubernetes API" in caplog.text
    k8s_emulator.restart()
    assert run.next_event()["vmim"] == "m1"
    assert "answers again" in caplog.text


def test_forbidden_is_logged_and_retried_until_granted(k8s_emulator, run_source, caplog):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    k8s_emulator.deny("list", "pods")
    run = run_source()
    assert run.events_for(1.0) == [] and run.running
    assert 'may not list resource "pods"' in caplog.text
    k8s_emulator.allow_all()
    assert run.next_event()["vmim"] == "m1"


def test_options_namespaces_label_selector_and_phases(k8s_emulator, run_source):
    for namespace in ("ns1", "ns2"):
        make_vmi(k8s_emulator, namespace, "vm1", "hv1")
    m1 = make_vmim(k8s_emulator, "ns1", "m1", "vm1", phase="Running", labels={"team": "a"})
    make_vmim(k8s_emulator, "ns2", "m2", "vm1", phase="Running", labels={"team": "a"})
    by_namespace = run_source(namespaces="ns2")
    by_label = run_source(label_selector="team=b")
    by_phase = run_source(phases=["Succeeded", "Failed"])
    assert [e["vmim"] for e in by_namespace.events_for(QUIET)] == ["m2"]
    assert by_label.events_for(0.1) == [] and by_phase.events_for(0.1) == []
    set_phase(k8s_emulator, m1, "Succeeded")
    assert [(e["vmim"], e["phase"]) for e in by_phase.events_for(QUIET)] == [("m1", "Succeeded")]
    assert by_namespace.events_for(0.1) == [] and by_label.events_for(0.1) == []


def test_heartbeat_counts_the_migrations_in_flight(k8s_emulator, run_source):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    run = run_source(heartbeat=0.2)
    beat = run.next_event(where=lambda e: e["type"] == "heartbeat")
    assert (beat["migrations_in_flight"], beat["api_reachable"], beat["problems"]) == (1, True, [])


def test_auth_falls_back_to_k8s_auth_environment(k8s_emulator, kubeconfig, run_source, monkeypatch):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    monkeypatch.setenv("K8S_AUTH_KUBECONFIG", kubeconfig)
    assert run_source(host=None, api_key=None).next_event()["vmim"] == "m1"


def test_a_wrong_token_is_logged_and_retried(k8s_emulator, run_source, caplog):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    run = run_source(api_key="wrong")
    assert run.events_for(1.0) == [] and run.running
    assert "401 Unauthorized" in caplog.text
