"""Per-VM opt-in / opt-out and timeout annotations, and the record fields built on them."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import (  # noqa: E402
    ENABLED_ANNOTATION, SCOPES, TIMEOUT_ANNOTATION, annotation_errors, effective_timeout, in_scope,
    migration_timeout, network_opt, scope_error,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (  # noqa: E402
    MIGRATION_JOB_LABEL, migration_record, vmi_summary,
)


def vmi(annotations=None, name="db-0"):
    meta = {"name": name, "namespace": "vms"}
    if annotations is not None:
        meta["annotations"] = annotations
    return {"metadata": meta, "status": {"nodeName": "node-a"}}


@pytest.mark.parametrize("value, opt", [("true", "in"), ("false", "out"), ("True", "in"), (" FALSE ", "out")])
def test_enabled_annotation_gives_the_opt(value, opt):
    obj = vmi({ENABLED_ANNOTATION: value})
    assert network_opt(obj) == opt and annotation_errors(obj) == []


def test_no_annotation_no_vmi_no_opt():
    for obj in (vmi(), vmi({}), vmi({"other": "x"}), None):
        assert network_opt(obj) == "" and migration_timeout(obj) is None and annotation_errors(obj) == []


@pytest.mark.parametrize("value", ["yes", "1", "", "enabled", 1, True])
def test_an_unclear_enabled_value_is_opted_out_and_reported(value):
    obj = vmi({ENABLED_ANNOTATION: value})
    assert network_opt(obj) == "out"
    [error] = annotation_errors(obj)
    assert ENABLED_ANNOTATION in error and "vms/db-0" in error and "opted out" in error
    assert (('"%s"' % value) if isinstance(value, str) else repr(value)) in error


@pytest.mark.parametrize("value, seconds", [("300", 300), (" 45 ", 45), ("1", 1), (600, 600)])
def test_timeout_annotation(value, seconds):
    obj = vmi({TIMEOUT_ANNOTATION: value})
    assert migration_timeout(obj) == seconds and annotation_errors(obj) == []


@pytest.mark.parametrize("value", ["0", "-5", "5m", "1.5", "", "soon", 0, True])
def test_a_bad_timeout_is_ignored_and_reported(value):
    obj = vmi({TIMEOUT_ANNOTATION: value})
    assert migration_timeout(obj) is None
    [error] = annotation_errors(obj)
    assert TIMEOUT_ANNOTATION in error and "positive whole number of seconds" in error and "default" in error


def test_both_annotations_bad_give_two_errors():
    errors = annotation_errors(vmi({ENABLED_ANNOTATION: "maybe", TIMEOUT_ANNOTATION: "later"}))
    assert len(errors) == 2 and '"maybe"' in errors[0] and '"later"' in errors[1]


def test_effective_timeout_prefers_the_vmi():
    assert effective_timeout(vmi({TIMEOUT_ANNOTATION: "30"}), 600) == 30
    assert effective_timeout(vmi({TIMEOUT_ANNOTATION: "bad"}), 600) == 600
    assert effective_timeout(vmi(), 0) is None and effective_timeout(vmi(), None) is None


@pytest.mark.parametrize("opt, scope, expected", [
    ("", "all", True), ("in", "all", True), ("out", "all", False),
    ("", "opted_in", False), ("in", "opted_in", True), ("out", "opted_in", False),
])
def test_in_scope(opt, scope, expected):
    assert in_scope(opt, scope) is expected


def test_an_unknown_scope_is_refused():
    assert SCOPES == ("all", "opted_in") and scope_error("all") is None
    assert "all, opted_in" in scope_error("some") and '"some"' in scope_error("some")
    with pytest.raises(ValueError, match="scope must be one of"):
        in_scope("in", "everything")


def test_vmi_summary_reports_opt_timeout_and_errors():
    summary = vmi_summary("vms", "db-0", vmi({ENABLED_ANNOTATION: "true", TIMEOUT_ANNOTATION: "90"}))
    assert (summary["network_opt"], summary["migration_timeout"], summary["annotation_errors"]) == ("in", 90, [])
    bad = vmi_summary("vms", "db-0", vmi({ENABLED_ANNOTATION: "on"}))
    assert bad["network_opt"] == "out" and len(bad["annotation_errors"]) == 1
    gone = vmi_summary("vms", "gone", None)
    assert (gone["network_opt"], gone["migration_timeout"], gone["annotation_errors"]) == ("", None, [])


def vmim(transitions=()):
    return {"metadata": {"name": "m", "namespace": "vms", "uid": "uid-a"}, "spec": {"vmiName": "db-0"},
            "status": {"phase": "Running", "phaseTransitionTimestamps": [
                {"phase": p, "phaseTransitionTimestamp": t} for p, t in transitions]}}


def pod(node="node-b", conditions=()):
    return {"metadata": {"name": "tp", "namespace": "vms", "labels": {MIGRATION_JOB_LABEL: "uid-a"}},
            "spec": {"nodeName": node} if node else {},
            "status": {"conditions": [dict(type=t, status=s, lastTransitionTime=at) for t, s, at in conditions]}}


def test_target_scheduled_at_from_the_pods_condition_first():
    transitions = [("Pending", "2026-01-01T10:00:00Z"), ("Scheduled", "2026-01-01T10:00:09Z")]
    scheduled = pod(conditions=[("Initialized", "True", "2026-01-01T10:00:01Z"),
                                ("PodScheduled", "True", "2026-01-01T10:00:02Z")])
    assert migration_record(vmim(transitions), vmi(), [scheduled])["target_scheduled_at"] == "2026-01-01T10:00:02Z"
    # No condition (or a pod not bound yet, or unschedulable): the VMIM's Scheduled phase.
    for other in (pod(), pod(node=None, conditions=[("PodScheduled", "False", "2026-01-01T10:00:02Z")])):
        assert migration_record(vmim(transitions), vmi(), [other])["target_scheduled_at"] == "2026-01-01T10:00:09Z"
    assert migration_record(vmim(transitions), vmi())["target_scheduled_at"] == "2026-01-01T10:00:09Z"
    assert migration_record(vmim([("Pending", "2026-01-01T10:00:00Z")]), vmi(), [pod()])["target_scheduled_at"] is None
