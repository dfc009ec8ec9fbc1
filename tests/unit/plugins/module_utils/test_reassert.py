"""Re-assert without I/O: the VMIs the NB watcher watches, and the event a change of their ports calls
for, decided by the planner through the source's view."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_migration_view import pod, state, view, vmi, vmim  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.reassert import ReassertGuard  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn.nb_watch import (  # noqa: E402
    changed_vmis, owned_by_vmi, vmi_clauses,
)

RC, AS = "requested-chassis", "activation-strategy"
KEY = ("vms", "vm1")
PREPARED = {"vm1.vms": {RC: "A,B", AS: "rarp"}, "vm1.vms.net1": {RC: "A,B", AS: "rarp"}}
WIPED = {"vm1.vms": {RC: None, AS: None}, "vm1.vms.net1": {RC: None, AS: None}}


def prepared_view():
    v = view()
    [event] = v.load([vmim("u1", "Running")], [vmi("A", state("u1"))], [pod("u1", "B")])
    assert event["action"] == "prepare"
    return v


def test_the_watched_vmis_are_those_with_a_migration_in_flight():
    v = prepared_view()
    guard = ReassertGuard(v)
    assert guard.watched() == {KEY}
    v.apply("vmim", "MODIFIED", vmim("u1", "Succeeded"))
    assert guard.watched() == set()


def test_a_wipe_after_the_prepare_landed_is_reasserted_once():
    guard = ReassertGuard(prepared_view())
    # The prepare run has not written yet: the ports as Kube-OVN created them are left to it.
    assert guard.ports_changed(KEY, WIPED) == []
    assert guard.ports_changed(KEY, PREPARED) == []          # our write landed
    [event] = guard.ports_changed(KEY, WIPED)                 # Kube-OVN's wipe
    assert (event["type"], event["vmim"], event["action"], event["source_chassis"], event["target_chassis"],
            event["changes"]) == ("migration", "m-u1", "prepare", "A", "B", ["ports"])
    assert event["reason"].startswith("the ports changed during the migration (vm1.vms: neither key; ")
    # A second change before the re-assert landed: the run already on its way writes it.
    assert guard.ports_changed(KEY, {"vm1.vms": {RC: "A", AS: None}}) == []
    assert guard.ports_changed(KEY, PREPARED) == []
    changed = dict(PREPARED, **{"vm1.vms": {RC: "A,C", AS: "rarp"}})   # anyone else's change
    assert [e["action"] for e in guard.ports_changed(KEY, changed)] == ["prepare"]


def test_no_reassert_once_the_migration_ended_or_for_a_cutover():
    v = prepared_view()
    guard = ReassertGuard(v)
    guard.ports_changed(KEY, PREPARED)
    assert guard.ports_changed(KEY, {"vm1.vms": {RC: "B", AS: None}}) == []   # a cutover landed: never undone
    v.apply("vmim", "MODIFIED", vmim("u1", "Succeeded"))
    assert guard.ports_changed(KEY, WIPED) == []
    assert guard.landed == {}


def test_a_pin_is_reasserted_too():
    v = view()
    [event] = v.load([vmim("u1", "Scheduling")], [vmi("A")], [])
    assert event["action"] == "pin"
    guard = ReassertGuard(v)
    guard.ports_changed(KEY, {"vm1.vms": {RC: "A", AS: None}})
    [again] = guard.ports_changed(KEY, {"vm1.vms": {RC: None, AS: None}})
    assert (again["action"], again["source_chassis"]) == ("pin", "A")


def test_monitor_condition_and_snapshots():
    assert vmi_clauses([("b", "y"), ("a", "x")]) == [
        ["external_ids", "includes", ["map", [["pod", "a/x"]]]],
        ["external_ids", "includes", ["map", [["pod", "b/y"]]]]]
    assert vmi_clauses([]) == []
    rows = [("vm1.vms", "", {RC: "A", "other": "x"}, {"pod": "vms/vm1"}),
            ("router", "router", {}, {"pod": "vms/vm1"}),     # not a VIF
            ("stray", "", {}, {})]
    now = owned_by_vmi(rows)
    assert now == {KEY: {"vm1.vms": {RC: "A", AS: None}}}
    assert changed_vmis({}, now, {KEY, ("vms", "vm2")}) == {KEY: now[KEY]}
    assert changed_vmis(now, now, {KEY}) == {}
    assert changed_vmis(now, {}, {KEY}) == {KEY: {}}          # its ports went away
    assert changed_vmis(now, {}, set()) == {}                 # no longer watched: nothing


def test_watch_options_take_theirs_and_fall_back_to_ovn_nb_db(monkeypatch):
    import pytest
    from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.reassert import watch_options
    from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.source_options import SourceOptionError
    monkeypatch.setenv("OVN_NB_DB", "tcp:10.0.0.1:6641")
    rest, options = watch_options({"scope": "all", "reassert": "false"})
    assert rest == {"scope": "all"}
    assert (options["reassert"], options["ovn_nb_connection"]) == (False, "tcp:10.0.0.1:6641")
    assert watch_options({"ovn_nb_connection": "unix:/x"})[1]["ovn_nb_connection"] == "unix:/x"
    monkeypatch.delenv("OVN_NB_DB")
    assert watch_options({})[1] == {"reassert": True, "ovn_nb_connection": None, "ovn_private_key": None,
                                    "ovn_certificate": None, "ovn_ca_cert": None}
    with pytest.raises(SourceOptionError):
        watch_options({"ovn_private_key": "/k"})
