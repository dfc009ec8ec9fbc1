"""The one decider, table-driven: one row per case of DESIGN.md's phase table and per edge case the
project tests end to end. Each row starts from API JSON (VMIMs, the VMI, target pods) and the ports'
owned options, goes through the same record and summary functions the modules and the EDA source
use, and checks the action, what it writes and why."""
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (  # noqa: E402
    MIGRATION_JOB_LABEL, migration_record, vmi_summary,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_plan import (  # noqa: E402
    ACTIONS, plan,
)

T0 = "2026-01-01T10:00:00Z"


def vmim(uid="uid-1", phase="Running", name=None, created=T0):
    obj = {"metadata": {"name": name or "m-" + uid, "namespace": "vms", "uid": uid, "creationTimestamp": created},
           "spec": {"vmiName": "db-0"}, "status": {}}
    if phase:
        obj["status"]["phase"] = phase
    return obj


def vmi(node="A", state=None, annotations=None, created="2026-01-01T08:00:00Z"):
    status = {"nodeName": node} if node else {}
    if state:
        status["migrationState"] = state
    return {"metadata": {"name": "db-0", "namespace": "vms", "annotations": annotations or {},
                         "creationTimestamp": created}, "status": status}


def pod(uid, node):
    return {"metadata": {"name": "virt-launcher-" + uid, "namespace": "vms", "creationTimestamp": T0,
                         "labels": {MIGRATION_JOB_LABEL: uid}}, "spec": {"nodeName": node}}


def ports(chassis, strategy=None, count=2):
    return [{"name": "db-0.vms" + (".net%d" % i if i else ""),
             "options": {"requested-chassis": chassis, "activation-strategy": strategy}} for i in range(count)]


def state(uid, source="A", target="B", **extra):
    return dict(migrationUid=uid, sourceNode=source, targetNode=target, **extra)


def decide(vmims=(), the_vmi=None, pods=(), port_options=None, scope="all", deleted=(), **kwargs):
    the_vmi = vmi() if the_vmi is None else the_vmi
    raw = None if the_vmi == "gone" else the_vmi
    records = [dict(migration_record(v, raw, pods), deleted=v["metadata"]["uid"] in deleted) for v in vmims]
    return plan(vmi_summary("vms", "db-0", raw), records, port_options, scope, **kwargs)


NOW = datetime(2026, 1, 1, 10, 5, tzinfo=timezone.utc)

# id, inputs, expected (action, state, source_chassis, target_chassis), words in the reason
ROWS = [
    # -- DESIGN's phase table
    ("pin: VMIM exists, source known, no target pod yet",
     dict(vmims=[vmim(phase="Pending")]), ("pin", "rolled_back", "A", None), "pin to the source A"),
    ("pin: unpinned ports as Kube-OVN creates them",
     dict(vmims=[vmim(phase="Scheduling")], port_options=ports(None)), ("pin", "rolled_back", "A", None), "no target"),
    ("prepare: target pod scheduled (Scheduling)",
     dict(vmims=[vmim(phase="Scheduling")], pods=[pod("uid-1", "B")]), ("prepare", "prepared", "A", "B"), "RARP"),
    ("prepare: Pending, but the target pod is already scheduled",
     dict(vmims=[vmim(phase="Pending")], pods=[pod("uid-1", "B")]), ("prepare", "prepared", "A", "B"), "Pending"),
    ("prepare: PreparingTarget, nodes from the matching migrationState",
     dict(vmims=[vmim(phase="PreparingTarget")], the_vmi=vmi("A", state("uid-1"))),
     ("prepare", "prepared", "A", "B"), "bind on A and B"),
    ("re-assert: Running and our keys were wiped (Kube-OVN, anyone)",
     dict(vmims=[vmim(phase="Running")], the_vmi=vmi("A", state("uid-1")), port_options=ports("A")),
     ("prepare", "prepared", "A", "B"), "Running"),
    ("re-assert: TargetReady and the keys are in place",
     dict(vmims=[vmim(phase="TargetReady")], the_vmi=vmi("A", state("uid-1")), port_options=ports("A,B", "rarp")),
     ("none", None, None, None), "already are so"),
    ("cutover: Succeeded, VMI node not yet updated",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("A", state("uid-1", completed=True))),
     ("cutover", "cutover", None, "B"), "succeeded"),
    ("cutover: a lost Succeeded found with the ports still prepared",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("B", state("uid-1", completed=True)),
          port_options=ports("A,B", "rarp")), ("cutover", "cutover", None, "B"), "bind on B only"),
    ("rollback: Failed (an abort ends here too)",
     dict(vmims=[vmim(phase="Failed")], the_vmi=vmi("A", state("uid-1", failed=True))),
     ("rollback", "rolled_back", "A", None), "failed"),
    ("rollback: VMIM deleted before it ended",
     dict(vmims=[vmim(phase="Running")], deleted=["uid-1"]), ("rollback", "rolled_back", "A", None),
     "deleted before it ended"),
    ("rollback: timeout, with a cancel",
     dict(vmims=[vmim(phase="Running")], pods=[pod("uid-1", "B")], now=NOW, default_timeout=60),
     ("rollback", "rolled_back", "A", None), "more than 60 s"),
    ("rollback: the VMI's own timeout annotation wins",
     dict(vmims=[vmim(phase="Running")], the_vmi=vmi("A", annotations={"live-migration.kubeovn.io/timeout": "600"}),
          pods=[pod("uid-1", "B")], now=NOW, default_timeout=60), ("prepare", "prepared", "A", "B"), "bind"),
    ("reconcile: two chassis left, no migration in flight",
     dict(vmims=[], the_vmi=vmi("B"), port_options=ports("A,B", "rarp")), ("repair", "rolled_back", "B", None),
     "no migration in flight"),
    ("reconcile: a stale pin after the VM restarted elsewhere",
     dict(vmims=[], the_vmi=vmi("C"), port_options=ports("B")), ("repair", "rolled_back", "C", None), "bind on C"),
    ("repair: the VMI was re-created on C after its migration took it to B (a node failure)",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("C", created="2026-01-01T11:00:00Z"), pods=[pod("uid-1", "B")],
          port_options=ports("B")),
     ("repair", "rolled_back", "C", None), "re-created there since"),
    ("cutover: the VMI's node lags behind and no migration state is seen yet (watch order)",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("A"), pods=[pod("uid-1", "B")]),
     ("cutover", "cutover", None, "A"), "bind on A only"),
    ("cutover: the VMI's migration state is this migration's, its node lags behind",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("A", state("uid-1", completed=True)), pods=[pod("uid-1", "B")]),
     ("cutover", "cutover", None, "B"), "bind on B only"),
    ("reconcile: the VMI is gone, its ports keep our keys",
     dict(vmims=[], the_vmi="gone", port_options=ports("B")), ("repair", "absent", None, None), "is gone"),
    ("reconcile: an unpinned port with no migration is not ours",
     dict(vmims=[], the_vmi=vmi("B"), port_options=ports(None)), ("none", None, None, None), "no migration marks"),
    ("reconcile: ports already where the VMI runs",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("B", state("uid-1", completed=True)), port_options=ports("B")),
     ("none", None, None, None), "already are so"),
    # -- edge cases the project tests end to end
    ("A->B->A: second migration in flight, the VMI's state is the first one's",
     dict(vmims=[vmim("uid-1", "Succeeded", created="2026-01-01T09:00:00Z"), vmim("uid-2", "Scheduled")],
          the_vmi=vmi("B", state("uid-1", completed=True)), pods=[pod("uid-2", "A")]),
     ("prepare", "prepared", "B", "A"), "m-uid-2"),
    ("A->B->A: the first migration's Succeeded event arrives late",
     dict(vmims=[vmim("uid-1", "Succeeded", created="2026-01-01T09:00:00Z"), vmim("uid-2", "Running")],
          the_vmi=vmi("B", state("uid-2", "B", "A")), pods=[pod("uid-2", "A")]),
     ("prepare", "prepared", "B", "A"), "m-uid-2"),
    ("re-created VMIM: same name, new uid, not scheduled yet",
     dict(vmims=[vmim("uid-new", "Pending", name="m")], the_vmi=vmi("A", state("uid-old", completed=True))),
     ("pin", "rolled_back", "A", None), "m (Pending)"),
    ("ended before its target pod was scheduled",
     dict(vmims=[vmim(phase="Failed")], port_options=ports("A")), ("none", None, None, None), "failed"),
    ("out of scope: opted out",
     dict(vmims=[vmim(phase="Running")], pods=[pod("uid-1", "B")],
          the_vmi=vmi("A", annotations={"live-migration.kubeovn.io/enabled": "false"})),
     ("none", None, None, None), "out of scope (out"),
    ("out of scope: scope opted_in, VMI not annotated",
     dict(vmims=[vmim(phase="Running")], pods=[pod("uid-1", "B")], scope="opted_in"),
     ("none", None, None, None), "not opted in"),
    ("out of scope mid-flight, the collection marked its ports: followed to its end",
     dict(vmims=[vmim(phase="Succeeded")], the_vmi=vmi("B", annotations={"live-migration.kubeovn.io/enabled": "no"}),
          port_options=ports("A,B", "rarp"), marked=True), ("cutover", "cutover", None, "B"), "the collection marked"),
    ("out of scope, marks of unknown origin (Kube-OVN writes the same keys): left alone",
     dict(vmims=[], the_vmi=vmi("B", annotations={"live-migration.kubeovn.io/enabled": "false"}),
          port_options=ports("A,B", "rarp")), ("none", None, None, None), "out of scope"),
    ("another migration of the VMI is running",
     dict(vmims=[vmim("uid-2", "Scheduling")], pods=[pod("uid-2", "B")], the_vmi=vmi("A", state("uid-9"))),
     ("none", None, None, None), "uid-9, which has not ended"),
    ("source and target the same node",
     dict(vmims=[vmim(phase="Scheduled")], pods=[pod("uid-1", "A")]), ("none", None, None, None), "same node"),
    ("unknown source",
     dict(vmims=[vmim(phase="Scheduled")], pods=[pod("uid-1", "B")], the_vmi=vmi(None)),
     ("none", None, None, None), "source node is unknown"),
    ("a cutover already landed while the VMIM still reads Running",
     dict(vmims=[vmim(phase="Running")], pods=[pod("uid-1", "B")], port_options=ports("B")),
     ("none", None, None, None), "never prepared again"),
    ("VMI gone, no ports known",
     dict(vmims=[vmim(phase="Running")], the_vmi="gone"), ("none", None, None, None), "does not exist"),
]


@pytest.mark.parametrize("inputs, expected, words", [r[1:] for r in ROWS], ids=[r[0] for r in ROWS])
def test_plan(inputs, expected, words):
    result = decide(**inputs)
    assert (result["action"], result["state"], result["source_chassis"], result["target_chassis"]) == expected, result
    assert words in result["reason"], result["reason"]
    assert result["action"] in ACTIONS
    assert (result["vmi"], result["namespace"]) == ("db-0", "vms")


def test_every_action_is_reachable():
    assert set(ACTIONS) == set(r[2][0] for r in ROWS)


def test_a_timeout_is_a_cancel_and_a_timed_out_record():
    result = decide(vmims=[vmim(phase="Running")], pods=[pod("uid-1", "B")], now=NOW, default_timeout=60)
    assert (result["cancel"], result["timeout"], result["record_reason"], result["outcome"]) == \
        (True, 60, "NetworkTimedOut", "timed_out")
    # Counted from when a restarted watcher first followed it, when that is later.
    later = decide(vmims=[vmim(phase="Running")], pods=[pod("uid-1", "B")], now=NOW, default_timeout=60,
                   since={"uid-1": datetime(2026, 1, 1, 10, 4, 30, tzinfo=timezone.utc)})
    assert (later["action"], later["cancel"]) == ("prepare", False)


def test_record_reasons_follow_the_action():
    assert decide(vmims=[vmim(phase="Succeeded")])["record_reason"] == "NetworkCutover"
    assert decide(vmims=[vmim(phase="Failed")])["outcome"] == "rolled_back"
    assert decide(vmims=[], the_vmi=vmi("B"), port_options=ports("A,B", "rarp"))["record_reason"] == "NetworkRepaired"
    nothing = decide(vmims=[vmim(phase="Failed")], port_options=ports("A"))
    assert (nothing["record_reason"], nothing["outcome"]) == (None, None)


def test_the_caller_may_know_the_marks_without_the_ports():
    opted_out = vmi("B", annotations={"live-migration.kubeovn.io/enabled": "false"})
    assert decide(vmims=[vmim(phase="Succeeded")], the_vmi=opted_out)["action"] == "none"
    assert decide(vmims=[vmim(phase="Succeeded")], the_vmi=opted_out, marked=True)["action"] == "cutover"


# ---- start_pin: the ad hoc live_migrate pins before it creates the VMIM (issue 12) -------------

def start(vmims=(), the_vmi=None, scope="all"):
    from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_plan import start_pin
    the_vmi = vmi() if the_vmi is None else the_vmi
    raw = None if the_vmi == "gone" else the_vmi
    return start_pin(vmi_summary("vms", "db-0", raw), [migration_record(v, raw, ()) for v in vmims], scope)


def test_start_pin_pins_a_running_vmi_to_its_node():
    result = start()
    assert (result["action"], result["state"], result["source_chassis"]) == ("pin", "rolled_back", "A")
    assert "before any target pod" in result["reason"]


def test_start_pin_after_an_ended_migration_pins_to_where_the_vmi_runs_now():
    result = start([vmim(phase="Succeeded")], vmi(node="B", state=state("uid-1", completed=True)))
    assert (result["action"], result["source_chassis"]) == ("pin", "B")


def test_start_pin_joins_an_in_flight_migration_with_the_planners_plan():
    result = start([vmim(phase="Scheduling")])
    assert (result["action"], result["source_chassis"], result["migration"]) == ("pin", "A", "m-uid-1")


@pytest.mark.parametrize("the_vmi, scope", [
    ("gone", "all"), (vmi(node=None), "all"), (vmi(), "opted_in"),
    (vmi(annotations={"live-migration.kubeovn.io/enabled": "false"}), "all")])
def test_start_pin_writes_nothing_for_a_vmi_it_must_not_or_cannot_pin(the_vmi, scope):
    assert start(the_vmi=the_vmi, scope=scope)["action"] == "none"
