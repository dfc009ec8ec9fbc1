"""From plans to the roles' module calls: the filters the roles chain instead of deciding in Jinja."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import (  # noqa: E402
    early_writes, failure_records, journey, plan_outcome, plan_writes,
)


def event(vmi, source="A", target="B", opt="", namespace="vms"):
    return {"vmi": vmi, "namespace": namespace, "source_node": source, "target_node": target, "network_opt": opt,
            "vmim": "m-" + vmi, "vmim_uid": "u-" + vmi}


def a_plan(vmi, action, state=None, source=None, target=None, reason="why", **extra):
    plan = {"vmi": vmi, "namespace": "vms", "action": action, "state": state, "source_chassis": source,
            "target_chassis": target, "reason": reason, "migration": "m-" + vmi, "migration_uid": "u-" + vmi,
            "record_reason": None, "outcome": None, "timeout": None, "source_node": "A", "target_node": "B"}
    plan.update(extra)
    return plan


def port(vmi, before, after, name=None):
    return {"name": name or vmi + ".vms", "vmi": vmi, "namespace": "vms", "before": before, "after": after}


def test_early_writes_take_only_what_the_event_justifies():
    items = early_writes([event("a"), event("b", target=None), event("c", target="A"), event("d", opt="out"),
                          event("e", opt="")], "all")
    assert [(i["vmi"], i["state"], i["source_chassis"], i["target_chassis"]) for i in items] == [
        ("a", "prepared", "A", "B"), ("e", "prepared", "A", "B")]
    assert [i["vmi"] for i in early_writes([event("a"), event("f", opt="in")], "opted_in")] == ["f"]


def test_early_pins_need_only_the_source():
    items = early_writes([event("a", target=None), event("b"), event("c", source=None), event("d", opt="out")],
                         "all", "pinned")
    assert [(i["vmi"], i["state"], i["source_chassis"], i["target_chassis"]) for i in items] == [
        ("a", "pinned", "A", None), ("b", "pinned", "A", None)]


def test_plan_writes_skip_none():
    plans = [a_plan("a", "prepare", "prepared", "A", "B"), a_plan("b", "none"), a_plan("c", "repair", "absent")]
    assert plan_writes(plans) == [
        {"vmi": "a", "namespace": "vms", "state": "prepared", "source_chassis": "A", "target_chassis": "B"},
        {"vmi": "c", "namespace": "vms", "state": "absent", "source_chassis": None, "target_chassis": None}]


def test_plan_writes_leave_out_what_the_early_write_made():
    plans = [a_plan("a", "prepare", "prepared", "A", "B"), a_plan("b", "rollback", "rolled_back", "A")]
    early = early_writes([event("a"), event("b")])
    # a: the read confirmed the early write, so it is not written again; b ended meanwhile.
    assert [i["vmi"] for i in plan_writes(plans, early)] == ["b"]


def test_plan_outcome_records_only_what_changed():
    prepared = {"requested-chassis": "A,B", "activation-strategy": "rarp"}
    pinned = {"requested-chassis": "A", "activation-strategy": None}
    plans = [a_plan("a", "prepare", "prepared", "A", "B", record_reason="NetworkPrepared", target_scheduled_at="T"),
             a_plan("b", "prepare", "prepared", "A", "B", record_reason="NetworkPrepared"),
             a_plan("c", "rollback", "rolled_back", "A", record_reason="NetworkTimedOut", outcome="timed_out",
                    timeout=30)]
    ports = [port("a", pinned, prepared), port("a", pinned, prepared, "a.vms.net1"), port("b", prepared, prepared),
             port("c", prepared, pinned)]
    outcome = plan_outcome(plans, ports, 100.0, bound=True)
    assert [(r["vmi"], r["reason"], r["type"]) for r in outcome["records"]] == [
        ("a", "NetworkPrepared", "Normal"), ("c", "NetworkTimedOut", "Warning")]
    first = outcome["records"][0]
    assert first["message"].startswith("ports a.vms, a.vms.net1 bound on A and B")
    assert first["stages"] == {"target_scheduled": "T", "prepared": 100.0, "target_bound": 100.0}
    assert outcome["records"][1]["message"].startswith("migration timed out and was cancelled; ports c.vms bound on A")
    assert outcome["changed_ports"] == ["a.vms", "a.vms.net1", "c.vms"]
    assert outcome["summary"] == "vms/a: prepare - why (changed); vms/b: prepare - why; vms/c: rollback - why (changed)"
    assert plan_outcome([], [], 1.0)["summary"] == "no VMI in play"


def test_stages_are_the_times_the_writes_were_committed():
    unpinned = {"requested-chassis": None, "activation-strategy": None}
    prepared = {"requested-chassis": "A,B", "activation-strategy": "rarp"}
    cut = {"requested-chassis": "B", "activation-strategy": None}
    early = [dict(port("a", unpinned, prepared), written_at=90.0),
             dict(port("a", unpinned, prepared, "a.vms.net1"), written_at=90.5)]
    plans = [a_plan("a", "prepare", "prepared", "A", "B", record_reason="NetworkPrepared", target_scheduled_at=80.0)]
    # The rulebook's early write, confirmed by the read: prepared when it was committed, not when recorded.
    [record] = plan_outcome(plans, early, 100.0, bound=False)["records"]
    assert record["stages"] == {"target_scheduled": 80.0, "prepared": 90.0}
    # The migration ended while the run read it back: the same run cuts over; both ends of the window.
    later = [dict(port("a", prepared, cut), written_at=97.0), dict(port("a", prepared, cut, "a.vms.net1"), written_at=97.2)]
    plans = [a_plan("a", "cutover", "cutover", None, "B", record_reason="NetworkCutover", outcome="succeeded",
                    target_scheduled_at=80.0, activated_at=95.0)]
    [record] = plan_outcome(plans, early + later, 100.0)["records"]
    assert record["stages"] == {"target_scheduled": 80.0, "prepared": 90.0, "activated": 95.0, "cutover": 97.2}
    assert record["message"].startswith("ports a.vms, a.vms.net1 bound on B only")
    # A cutover alone (no dual write in this run): no prepared stage; without written_at, `now`.
    [record] = plan_outcome(plans, [port("a", prepared, cut)], 100.0)["records"]
    assert record["stages"] == {"target_scheduled": 80.0, "activated": 95.0, "cutover": 100.0}


def test_failure_records_one_warning_per_vmi():
    items = failure_records([event("a"), event("a")], "prepare", "boom")
    assert [(i["vmi"], i["reason"], i["type"], i["message"], i["outcome"]) for i in items] == [
        ("a", "NetworkActionFailed", "Warning", "prepare failed: boom", "failed")]


def test_journey_phase_and_reason():
    started = {"name": "m1", "uid": "u1", "vmi": "a", "namespace": "vms", "created": True}
    finish = {"migrations": [{"uid": "u1", "phase": "Failed", "source_node": "A", "target_node": "B",
                              "phase_transition_timestamps": []}],
              "vmi_state": {"migration_state": {"migrationUid": "u1", "failureReason": "TargetReady failed"}}}
    result = journey(finish, started, {"source_node": "A", "target_node": "B"}, "")
    assert (result["phase"], result["reason"], result["target_node"]) == ("Failed", "TargetReady failed", "B")
    assert journey({"migrations": []}, started, {}, "timed out", cancelled=True)["phase"] == "Cancelled"
    assert journey({"migrations": []}, started)["phase"] == "Deleted"
