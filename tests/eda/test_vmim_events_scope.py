"""The event source's per-VM scope and migration timeouts, against the Kubernetes emulator over HTTP:
which migrations give events (annotations on the VMI, option `scope`), the fields every event carries,
and the one `timeout` event of a migration in flight past its bound (option `migration_timeout`, the
VMI's annotation), also after a restart of the source."""
import logging
import time

from objects import in_flight, make_target_pod, make_vmi, make_vmim, schedule_pod, set_phase

ENABLED = "live-migration.kubeovn.io/enabled"
TIMEOUT = "live-migration.kubeovn.io/timeout"
QUIET = 0.6  # seconds without an event after which a test takes it that nothing more comes


def opt(emulator, namespace, vmi, value):
    """kubectl annotate vmi <vmi> live-migration.kubeovn.io/enabled=<value> --overwrite"""
    return emulator.patch("virtualmachineinstances", namespace, vmi, {"metadata": {"annotations": {ENABLED: value}}})


def bound(emulator, namespace, vmi, seconds):
    """kubectl annotate vmi <vmi> live-migration.kubeovn.io/timeout=<seconds> --overwrite"""
    return emulator.patch("virtualmachineinstances", namespace, vmi,
                          {"metadata": {"annotations": {TIMEOUT: seconds}}})


def migrations(run, quiet=QUIET):
    """The migration and timeout events until none comes for `quiet` seconds (heartbeats ignored)."""
    return run.events_for(quiet, where=lambda e: e["type"] != "heartbeat")


def test_an_opted_out_vmi_gives_no_event_at_all(k8s_emulator, run_source, caplog):
    caplog.set_level(logging.DEBUG, logger="kubeovn.live_migration.vmim_events")
    out = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled")
    opt(k8s_emulator, "ns1", "vm1", "false")
    in_flight(k8s_emulator, "ns1", "vm2", "m2", phase="Scheduled")
    run = run_source(migration_timeout=1, heartbeat=0.2)
    # The VMI that says nothing is in scope "all"; its event says so.
    event = run.next_event(where=lambda e: e["type"] != "heartbeat")
    assert (event["type"], event["vmim"], event["network_opt"]) == ("migration", "m2", "")
    set_phase(k8s_emulator, out, "Running")
    set_phase(k8s_emulator, out, "Succeeded")
    k8s_emulator.delete("virtualmachineinstancemigrations", "ns1", "m1")
    # Nothing for m1: no phase, no deletion, no timeout (m2 times out: the timeout is on).
    assert [(e["type"], e["vmim"]) for e in migrations(run, 2.0)] == [("timeout", "m2")]
    beat = run.next_event(where=lambda e: e["type"] == "heartbeat")
    assert beat["migrations_in_flight"] == 1
    assert 'no events for migration ns1/m1: VMI ns1/vm1 is opted out (%s: "false")' % ENABLED in caplog.text


def test_scope_opted_in_follows_only_opted_in_vmis(k8s_emulator, run_source):
    for vmi, value in (("vm1", "true"), ("vm2", None), ("vm3", "false")):
        in_flight(k8s_emulator, "ns1", vmi, "m-" + vmi, phase="Running")
        if value:
            opt(k8s_emulator, "ns1", vmi, value)
    opted_in = run_source(scope="opted_in")
    every = run_source(scope="all")
    assert [(e["vmim"], e["network_opt"]) for e in migrations(opted_in)] == [("m-vm1", "in")]
    assert sorted((e["vmim"], e["network_opt"]) for e in migrations(every)) == [("m-vm1", "in"), ("m-vm2", "")]


def test_a_vmi_annotated_later_gets_its_first_event_then(k8s_emulator, run_source):
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Scheduled", source="hv1", target="hv2")
    make_vmi(k8s_emulator, "ns1", "vm2", "hv3")
    make_vmim(k8s_emulator, "ns1", "m2", "vm2", phase="Scheduled")
    run = run_source(scope="opted_in")
    assert migrations(run) == []
    set_phase(k8s_emulator, vmim, "Running")
    set_phase(k8s_emulator, {"metadata": {"namespace": "ns1", "name": "m2"}}, "Failed")   # ends out of scope
    assert migrations(run) == []
    opt(k8s_emulator, "ns1", "vm1", "true")
    [event] = migrations(run)
    # As on a start: every field counts as changed, so the rules prepare it.
    assert (event["vmim"], event["phase"], event["network_opt"], event["source_node"], event["target_node"]) == (
        "m1", "Running", "in", "hv1", "hv2")
    assert {"target_node", "source_node", "phase", "in_flight"} <= set(event["changes"])
    # A migration that ended while its VMI was out of scope is history, not news.
    opt(k8s_emulator, "ns1", "vm2", "true")
    assert migrations(run) == []
    set_phase(k8s_emulator, vmim, "Succeeded")
    assert [(e["vmim"], e["phase"], e["changes"]) for e in migrations(run)] == [
        ("m1", "Succeeded", ["phase", "in_flight"])]


def test_a_followed_migration_is_finished_when_its_vmi_opts_out_meanwhile(k8s_emulator, run_source):
    vmim = in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    bound(k8s_emulator, "ns1", "vm1", "2")
    run = run_source()
    assert run.next_event()["vmim"] == "m1"
    opt(k8s_emulator, "ns1", "vm1", "false")
    # Its timeout would cancel the migration of a VM that opted out: none comes.
    assert migrations(run, 2.5) == []
    set_phase(k8s_emulator, vmim, "Succeeded")
    [event] = migrations(run)
    # What was prepared is still cut over; the event says the VM has opted out.
    assert (event["phase"], event["network_opt"], event["changes"]) == ("Succeeded", "out", ["phase", "in_flight"])
    assert (event["action"], event["target_chassis"]) == ("cutover", "hv2"), event["reason"]
    # The next migration of that VM is not followed.
    make_vmim(k8s_emulator, "ns1", "m2", "vm1", phase="Scheduled")
    assert migrations(run) == []


def test_bad_annotation_values_are_logged_and_never_guessed_at(k8s_emulator, run_source, caplog):
    caplog.set_level(logging.INFO)
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    opt(k8s_emulator, "ns1", "vm1", "yes")
    in_flight(k8s_emulator, "ns1", "vm2", "m2", phase="Running")
    bound(k8s_emulator, "ns1", "vm2", "5m")
    run = run_source(migration_timeout=30)
    # vm1's intent is unclear: treated as opted out. vm2's timeout is unreadable: the default applies.
    [event] = migrations(run)
    assert (event["vmim"], event["network_opt"], event["migration_timeout"]) == ("m2", "", 30)
    assert ('annotation %s on VMI ns1/vm1 is "yes", not "true" or "false": the VM is treated as opted out'
            % ENABLED) in caplog.text
    assert 'annotation %s on VMI ns1/vm2 is "5m", not a positive whole number of seconds' % TIMEOUT in caplog.text
    # Logged once per VMI and value, not on every change.
    set_phase(k8s_emulator, {"metadata": {"namespace": "ns1", "name": "m2"}}, "Succeeded")
    migrations(run)
    assert caplog.text.count('is "5m"') == 1
    # Fixed: vm1 comes into scope, vm2's own timeout is read.
    k8s_emulator.patch("virtualmachineinstances", "ns1", "vm1",
                       {"metadata": {"annotations": {ENABLED: "true", TIMEOUT: "120"}}})
    [event] = migrations(run)
    assert (event["vmim"], event["network_opt"], event["migration_timeout"]) == ("m1", "in", 120)


def test_one_timeout_event_per_migration_in_flight_past_its_bound(k8s_emulator, run_source):
    slow = in_flight(k8s_emulator, "ns1", "vm1", "slow", phase="Running")
    in_flight(k8s_emulator, "ns1", "vm2", "own", phase="Running")
    bound(k8s_emulator, "ns1", "vm2", "1")           # the VMI's own bound wins over the option
    quick = in_flight(k8s_emulator, "ns1", "vm3", "quick", phase="Running")
    bound(k8s_emulator, "ns1", "vm3", "3")
    run = run_source(migration_timeout=1.5)
    started = time.monotonic()
    first = {}
    while len(first) < 3:
        event = run.next_event(where=lambda e: e["type"] == "migration")
        first[event["vmim"]] = event
    assert {k: e["migration_timeout"] for k, e in first.items()} == {"slow": 1.5, "own": 1, "quick": 3}
    set_phase(k8s_emulator, quick, "Succeeded")       # ends before its deadline: no timeout
    timeouts = []
    while time.monotonic() - started < 4.5:
        timeouts += [e for e in migrations(run, 0.5) if e["type"] == "timeout"]
    assert [(e["vmim"], e["timeout"]) for e in timeouts] == [("own", 1), ("slow", 1.5)]
    event = timeouts[1]
    # The fields of a migration event (as they are now), no `changes`, the bound, and the planner's
    # decision: cancel the migration and roll back to the node the VMI runs on.
    plan_fields = ("type", "changes", "action", "reason", "source_chassis", "target_chassis", "cancel", "timeout")
    assert {k: v for k, v in event.items() if k not in plan_fields} == {
        k: v for k, v in first["slow"].items() if k not in plan_fields}
    assert (event["action"], event["cancel"], event["source_chassis"], event["target_chassis"], event["timeout"]) == (
        "rollback", True, "hv1", None, 1.5)
    assert "in flight for more than 1.5 s" in event["reason"]
    assert (event["type"], event["vmim_uid"], event["vmi"], event["phase"], event["in_flight"], event["source_node"],
            event["target_node"], event["migration_timeout"]) == (
        "timeout", slow["metadata"]["uid"], "vm1", "Running", True, "hv1", "hv2", 1.5)
    assert "changes" not in event
    # Still in flight, long past the deadline: nothing more.
    assert migrations(run, 1.5) == []


def test_no_timeout_without_a_bound_and_a_bound_added_later_counts(k8s_emulator, run_source):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    run = run_source()
    [event] = migrations(run)
    assert event["migration_timeout"] is None
    assert migrations(run, 1.2) == []
    bound(k8s_emulator, "ns1", "vm1", "1")           # the source has followed it for more than that already
    timeout = run.next_event(3, where=lambda e: e["type"] == "timeout")
    assert (timeout["vmim"], timeout["timeout"]) == ("m1", 1)


def test_a_restarted_source_times_out_a_migration_still_in_flight(k8s_emulator, run_source):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    bound(k8s_emulator, "ns1", "vm1", "1")
    first = run_source()
    assert [e["type"] for e in migrations(first, 2.0)] == ["migration", "timeout"]
    first.stop()
    second = run_source()
    # It picks the migration up (first event, every field) and times it out once more, once.
    events = migrations(second, 2.0)
    assert [e["type"] for e in events] == ["migration", "timeout"]
    assert events[1]["vmim"] == "m1" and events[1]["timeout"] == 1
    assert migrations(second, 1.0) == []


def test_a_deleted_or_deleting_migration_does_not_time_out(k8s_emulator, run_source):
    in_flight(k8s_emulator, "ns1", "vm1", "m1", phase="Running")
    run = run_source(migration_timeout=1)
    assert [e["vmim"] for e in migrations(run, 0.3)] == ["m1"]
    k8s_emulator.delete("virtualmachineinstancemigrations", "ns1", "m1")
    events = migrations(run, 1.5)
    assert [(e["type"], e["deleted"], e["action"], e["cancel"]) for e in events] == [("migration", True, "rollback", False)]


def test_target_scheduled_at_is_the_pods_scheduling_time(k8s_emulator, run_source):
    make_vmi(k8s_emulator, "ns1", "vm1", "hv1")
    vmim = make_vmim(k8s_emulator, "ns1", "m1", "vm1", phase="Scheduling")
    make_target_pod(k8s_emulator, vmim, "target")
    run = run_source()
    assert run.next_event()["target_scheduled_at"] is None
    schedule_pod(k8s_emulator, "ns1", "target", "hv3")
    event = run.next_event()
    pod = k8s_emulator.get("pods", "ns1", "target")
    [condition] = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    # Rides along with the target node; not a change of its own.
    assert (event["target_node"], event["target_scheduled_at"], event["changes"]) == (
        "hv3", condition["lastTransitionTime"], ["target_node"])
