"""The migration record: pure logic over API JSON, above all never trusting another migration's state."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (  # noqa: E402
    MIGRATION_JOB_LABEL, is_in_flight, migration_body, migration_record, newest_first, vmi_summary,
)


def vmim(name="db-0-migration-a", uid="uid-a", phase="Running", created="2026-01-01T10:00:00Z", vmi="db-0"):
    obj = {"metadata": {"name": name, "namespace": "vms", "uid": uid, "creationTimestamp": created},
           "spec": {"vmiName": vmi}, "status": {}}
    if phase:
        obj["status"]["phase"] = phase
        obj["status"]["phaseTransitionTimestamps"] = [
            {"phase": "Pending", "phaseTransitionTimestamp": "2026-01-01T10:00:00Z"},
            {"phase": phase, "phaseTransitionTimestamp": "2026-01-01T10:00:05Z"}]
    return obj


def vmi(node="node-a", state=None):
    status = {"nodeName": node, "phase": "Running"}
    if state:
        status["migrationState"] = state
    return {"metadata": {"name": "db-0", "namespace": "vms"}, "status": status}


def pod(uid, node=None, name="virt-launcher-db-0-x", created="2026-01-01T10:00:01Z"):
    return {"metadata": {"name": name, "namespace": "vms", "creationTimestamp": created,
                         "labels": {MIGRATION_JOB_LABEL: uid}},
            "spec": {"nodeName": node} if node else {}}


def test_matching_state_gives_source_and_target():
    state = {"migrationUid": "uid-a", "sourceNode": "node-a", "targetNode": "node-b", "targetPod": "tp"}
    rec = migration_record(vmim(), vmi("node-a", state))
    assert rec["migration_state_matches"] is True
    assert (rec["source_node"], rec["target_node"], rec["target_pod"]) == ("node-a", "node-b", "tp")
    assert rec["in_flight"] is True
    assert rec["phase_transition_timestamps"][1] == {"phase": "Running", "timestamp": "2026-01-01T10:00:05Z"}
    assert (rec["name"], rec["namespace"], rec["uid"], rec["vmi"], rec["vmi_node"], rec["created"]) == (
        "db-0-migration-a", "vms", "uid-a", "db-0", "node-a", "2026-01-01T10:00:00Z")


def test_stale_state_of_an_earlier_migration_is_ignored():
    # A->B finished (uid-old); the VM is on node-b; a new migration uid-a has not been scheduled yet.
    stale = {"migrationUid": "uid-old", "sourceNode": "node-a", "targetNode": "node-b", "targetPod": "old-pod",
             "completed": True}
    rec = migration_record(vmim(phase="Scheduling"), vmi("node-b", stale), [pod("uid-old", "node-b")])
    assert rec["migration_state_matches"] is False
    assert rec["source_node"] == "node-b"
    assert rec["target_node"] is None
    assert rec["target_pod"] is None


def test_scheduled_target_pod_wins_over_state_and_is_known_first():
    rec = migration_record(vmim(phase="Scheduled"), vmi("node-a"), [pod("uid-a", "node-c", name="tp-1")])
    assert (rec["source_node"], rec["target_node"], rec["target_pod"]) == ("node-a", "node-c", "tp-1")


def test_unscheduled_target_pod_is_named_but_gives_no_node():
    rec = migration_record(vmim(phase="Scheduling"), vmi("node-a"), [pod("uid-a", None, name="tp-1")])
    assert rec["target_pod"] == "tp-1"
    assert rec["target_node"] is None


def test_scheduled_pod_preferred_over_an_unscheduled_one():
    pods = [pod("uid-a", None, name="late", created="2026-01-01T10:00:09Z"), pod("uid-a", "node-d", name="early")]
    rec = migration_record(vmim(), vmi(), pods)
    assert (rec["target_pod"], rec["target_node"]) == ("early", "node-d")


def test_phase_not_set_yet_is_in_flight_and_missing_vmi_is_tolerated():
    rec = migration_record(vmim(phase=None), None)
    assert rec["phase"] is None and rec["in_flight"] is True
    assert rec["source_node"] is None and rec["vmi_node"] is None
    assert rec["phase_transition_timestamps"] == []


def test_final_phases_are_not_in_flight():
    assert not is_in_flight(vmim(phase="Succeeded"))
    assert not is_in_flight(vmim(phase="Failed"))
    assert is_in_flight(vmim(phase="PreparingTarget"))


def test_newest_first():
    a = vmim(name="a", created="2026-01-01T10:00:00Z")
    b = vmim(name="b", created="2026-01-02T09:00:00Z")
    c = vmim(name="c", created="2026-01-01T11:00:00Z")
    assert [o["metadata"]["name"] for o in newest_first([a, b, c])] == ["b", "c", "a"]


def test_vmi_summary():
    state = {"migrationUid": "u"}
    unset = {"network_opt": "", "migration_timeout": None, "annotation_errors": []}   # not annotated (test_vmi_scope.py)
    found = vmi("node-a", state)
    assert vmi_summary("vms", "db-0", found) == dict(
        unset, name="db-0", namespace="vms", exists=True, node="node-a", migration_state=state,
        created=found["metadata"].get("creationTimestamp"))
    assert vmi_summary("vms", "gone", None) == dict(
        unset, name="gone", namespace="vms", exists=False, node=None, migration_state=None, created=None)


def test_migration_body():
    body = migration_body("vms", "db-0", labels={"by": "ansible", "n": 1})
    assert body["metadata"] == {"namespace": "vms", "generateName": "db-0-migration-", "labels": {"by": "ansible", "n": "1"}}
    assert body["spec"] == {"vmiName": "db-0"}
    assert (body["apiVersion"], body["kind"]) == ("kubevirt.io/v1", "VirtualMachineInstanceMigration")
    assert migration_body("vms", "db-0", name="m1")["metadata"] == {"namespace": "vms", "name": "m1"}
