"""The report's rows and table, and the Event helpers they rest on: pure logic over the info modules' output."""
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.events import (  # noqa: E402
    build_event, bump_patch, event_name, micro_time, parse_time, repeated, summary,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import seconds_between  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_report import (  # noqa: E402
    lsp_state, migration_rows, migration_table, port_index,
)

NS = "vms"


def record(name, uid, vmi, phase, created, **stamps):
    return {"name": name, "namespace": NS, "uid": uid, "vmi": vmi, "phase": phase, "created": created,
            "source_node": "hv1", "target_node": "hv2",
            "phase_transition_timestamps": [{"phase": p, "timestamp": t} for p, t in stamps.items()]}


def event(vmi, reason, first, uid=None, migration=None, annotations=None, namespace=NS):
    return {"namespace": namespace, "vmi": vmi, "reason": reason, "first_time": first, "last_time": first,
            "migration": migration, "migration_uid": uid, "annotations": annotations or {}, "message": reason}


def port(name, vmi, chassis, strategy=None):
    return {"name": name, "namespace": NS, "vmi": vmi, "requested_chassis": chassis, "activation_strategy": strategy}


def test_times_parse_with_and_without_fraction_and_zone():
    assert parse_time("2026-01-01T10:00:00Z") == datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    assert parse_time("2026-01-01T10:00:00.5+01:00") == datetime(2026, 1, 1, 9, 0, 0, 500000, tzinfo=timezone.utc)
    assert parse_time("yesterday") is None and parse_time(None) is None
    assert seconds_between("2026-01-01T10:00:00Z", "2026-01-01T10:00:01.250000Z") == 1.25
    assert micro_time(datetime(2026, 1, 1, 10, tzinfo=timezone.utc)) == "2026-01-01T10:00:00.000000Z"


def test_event_names_are_stable_per_vmi_migration_and_reason():
    name = event_name(NS, "db-0", "vmi-uid", "m-uid", "NetworkPrepared")
    assert name == event_name(NS, "db-0", "vmi-uid", "m-uid", "NetworkPrepared") and name.startswith("db-0.")
    others = {event_name(NS, "db-0", "vmi-uid", "m-uid", "NetworkCutover"),
              event_name(NS, "db-0", "vmi-uid", "other", "NetworkPrepared"),
              event_name(NS, "db-0", "new-vmi-uid", "m-uid", "NetworkPrepared")}
    assert name not in others and len(others) == 3
    assert len(event_name(NS, "a" * 253, "u", "m", "R")) <= 253


def test_a_repeat_bumps_count_and_keeps_the_first_time():
    request = {"namespace": NS, "vmi": "db-0", "reason": "NetworkPrepared", "message": "é" * 600,
               "annotations": {"seconds-to-prepare": 0.5, "dual": True}}
    first_at = datetime(2026, 1, 1, 10, tzinfo=timezone.utc)
    body = build_event(request, {"metadata": {"uid": "u1"}}, first_at, "host")
    assert len(body["message"].encode("utf-8")) <= 1024 and body["message"].endswith("\u2026")
    assert body["metadata"]["annotations"] == {"live-migration.kubeovn.io/seconds-to-prepare": "0.5",
                                               "live-migration.kubeovn.io/dual": "true"}
    assert "related" not in body and "labels" not in body["metadata"]
    body["metadata"]["resourceVersion"] = "7"
    again = repeated(body, dict(body, message="again"), datetime(2026, 1, 1, 10, 0, 3, tzinfo=timezone.utc))
    assert (again["count"], again["series"]["count"], again["eventTime"]) == (2, 2, "2026-01-01T10:00:00.000000Z")
    assert summary(again)["last_time"] == "2026-01-01T10:00:03.000000Z" and summary(again)["message"] == "again"
    ops = bump_patch(body, again)
    assert ops[0] == {"op": "add", "path": "/metadata/resourceVersion", "value": "7"}
    assert {"op": "add", "path": "/count", "value": 2} in ops


def test_lsp_state_wording():
    assert lsp_state(None) is None and lsp_state([]) == "no ports"
    assert lsp_state([port("a", "x", ["hv2"])]) == "hv2"
    assert lsp_state([port("a", "x", ["hv1", "hv2"], "rarp"), port("b", "x", ["hv1", "hv2"], "rarp")]) == "hv1,hv2 rarp"
    assert lsp_state([port("b", "x", ["hv2"]), port("a", "x", [])]) == "a: unset; b: hv2"


def test_port_index_from_a_flat_list_or_a_loop():
    flat, absent_none = port_index([port("a", "x", ["hv1"])])
    assert flat == {(NS, "x"): [port("a", "x", ["hv1"])]} and absent_none is True
    loop = {"results": [{"item": {"namespace": NS, "vmi": "x"}, "ports": []},
                        {"item": {"namespace": NS, "vmi": "y"}, "failed": True, "msg": "down"}]}
    index, absent_none = port_index(loop)
    assert index == {(NS, "x"): []} and absent_none is False
    assert port_index(None) == ({}, False)


def test_rows_join_migrations_events_and_ports():
    migrations = [
        record("m-ok", "u-ok", "db-0", "Succeeded", "2026-01-01T10:00:00Z", Scheduling="2026-01-01T10:00:01Z",
               Scheduled="2026-01-01T10:00:02Z", Succeeded="2026-01-01T10:00:09Z"),
        record("m-bad", "u-bad", "web-1", "Failed", "2026-01-01T11:00:00Z", Scheduled="2026-01-01T11:00:02Z",
               Failed="2026-01-01T11:00:05Z"),
        record("m-run", "u-run", "app-2", "Running", "2026-01-01T12:00:00Z"),
    ]
    events = [
        event("db-0", "NetworkPrepared", "2026-01-01T10:00:02.400000Z", "u-ok", "m-ok"),
        event("db-0", "NetworkCutover", "2026-01-01T10:00:09.300000Z", "u-ok", "m-ok",
              annotations={"seconds-to-cutover": "0.25"}),
        # Posted with the migration's name only (a failure path without the uid): still this migration's.
        event("web-1", "NetworkRolledBack", "2026-01-01T11:00:06.000000Z", None, "m-bad"),
        event("gone", "NetworkPrepared", "2026-01-01T09:00:00.000000Z", "u-gone", "m-gone",
              annotations={"source-node": "hv3", "target-node": "hv1", "seconds-to-prepare": "0.1"}),
        event("gone", "NetworkRepaired", "2026-01-01T09:30:00.000000Z"),      # a sweep: no row
    ]
    ports = [port("db-0.vms", "db-0", ["hv2"]), port("app-2.vms", "app-2", ["hv1", "hv2"], "rarp")]
    rows = migration_rows(migrations, events, ports)
    assert [r["vmi"] for r in rows] == ["app-2", "web-1", "db-0", "gone"]
    run, bad, ok, gone = rows
    assert (ok["outcome"], ok["network"], ok["end_action"], ok["lsp"]) == ("Succeeded", "NetworkCutover", "cutover", "hv2")
    assert (ok["seconds_to_prepare"], ok["prepare_estimated"]) == (0.4, True)
    assert (ok["seconds_to_cutover"], ok["cutover_estimated"]) == (0.25, False)
    assert (bad["end_action"], bad["seconds_to_cutover"], bad["cutover_estimated"]) == ("rollback", 1.0, True)
    assert bad["seconds_to_prepare"] is None and bad["lsp"] == "no ports"
    assert (run["outcome"], run["lsp"], run["network"]) == ("in flight (Running)", "hv1,hv2 rarp", None)
    assert (gone["outcome"], gone["source_node"], gone["target_node"], gone["migration"]) == ("Deleted", "hv3", "hv1", "m-gone")
    assert gone["seconds_to_prepare"] == 0.1 and gone["started"] == "2026-01-01T09:00:00.000000Z"
    assert [r["vmi"] for r in migration_rows(migrations, events, ports, limit=2)] == ["app-2", "web-1"]

    lines = migration_table(rows)
    assert lines[0].split() == ["STARTED", "VM", "SOURCE", "\u2192", "TARGET", "OUTCOME", "NETWORK", "PREPARE",
                                "CUTOVER", "LSP"]
    assert "~0s" in lines[3] and "0.25s" in lines[3] and "rollback ~1s" in lines[2] and "0.10s" in lines[4]
    assert all(line[19:21] == "  " and line[21] != " " for line in lines)   # VM starts at one column everywhere
    assert migration_table([]) == ["no migrations found"]
    # Rows of several namespaces name the VM with its namespace; without port data the LSP is unknown.
    other = migration_rows([dict(migrations[0], namespace="other")] + migrations[1:2], [], None)
    table = migration_table(other)
    assert "other/db-0" in table[2] and table[1].rstrip().endswith("?")
