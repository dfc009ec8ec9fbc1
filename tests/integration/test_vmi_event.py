"""kubeovn.live_migration.vmi_event and vmi_event_info through ansible-playbook, against the Kubernetes
API emulator (which checks Events as kube-apiserver does: MicroTime, required fields, metadata)."""
import re
import shutil
import subprocess

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from ansible_run import assert_clean_failure, assert_ok, run_module, run_tasks
from k8s_emulator import K8sEmulator
from test_vmim_helpers import NS, add_vmi

MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
RULE = 'apiGroups: [""], resources: ["events"], verbs: ["create", "patch", "get", "list"]'
UID = "5e0e6c2e-2f31-4f4a-9d55-1f0a3a9e6b7c"


def prepared(kubeconfig, **extra):
    args = {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "reason": "NetworkPrepared",
            "note": "ports db-0.vms bound on hv1 and hv2", "migration": "db-0-migration-abcde",
            "migration_uid": UID, "annotations": {"seconds-to-prepare": 0.42, "source-node": "hv1"}}
    args.update(extra)
    return args


def stored(emulator, namespace=NS):
    return emulator.list("events", namespace)


def test_posts_an_event_that_kubectl_describe_vmi_finds(k8s_emulator, kubeconfig):
    vmi = add_vmi(k8s_emulator)
    result = assert_ok(run_module("vmi_event", prepared(kubeconfig)))
    assert result["changed"] is True and result["posted"] is True
    assert not result.get("warnings")
    event = result["event"]
    assert event["name"].startswith("db-0.") and event["count"] == 1
    assert (event["reason"], event["type"], event["action"]) == ("NetworkPrepared", "Normal", "Prepare")
    assert (event["migration"], event["migration_uid"], event["vmi_uid"]) == (
        "db-0-migration-abcde", UID, vmi["metadata"]["uid"])
    assert event["annotations"] == {"seconds-to-prepare": "0.42", "source-node": "hv1"}
    assert MICRO.match(event["first_time"]) and event["last_time"] == event["first_time"]

    [obj] = stored(k8s_emulator)
    assert obj["metadata"]["name"] == event["name"]
    assert obj["involvedObject"] == {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                     "name": "db-0", "namespace": NS, "uid": vmi["metadata"]["uid"]}
    assert obj["source"] == {"component": "kubeovn-live-migration"}
    assert obj["reportingComponent"] == "kubeovn-live-migration" and obj["reportingInstance"]
    assert MICRO.match(obj["eventTime"]) and SECONDS.match(obj["firstTimestamp"]) and obj["count"] == 1
    assert obj["related"]["kind"] == "VirtualMachineInstanceMigration" and obj["related"]["uid"] == UID
    assert obj["metadata"]["annotations"]["live-migration.kubeovn.io/seconds-to-prepare"] == "0.42"
    assert obj["metadata"]["labels"] == {"live-migration.kubeovn.io/migration-uid": UID}

    # kubectl describe vmi lists the VMI's Events with these field selectors.
    core = client.CoreV1Api(k8s_emulator.api_client())
    selector = ("involvedObject.name=db-0,involvedObject.namespace=%s,involvedObject.kind=VirtualMachineInstance,"
                "involvedObject.uid=%s" % (NS, vmi["metadata"]["uid"]))
    described = core.list_namespaced_event(NS, field_selector=selector).items
    assert [(e.reason, e.message, e.type, e.source.component) for e in described] == [
        ("NetworkPrepared", "ports db-0.vms bound on hv1 and hv2", "Normal", "kubeovn-live-migration")]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_the_real_kubectl_describe_vmi_tells_the_story(tmp_path):
    # kubectl sends no bearer token over plain HTTP: an emulator without a token.
    with K8sEmulator() as emulator:
        add_vmi(emulator)
        kubeconfig = str(emulator.write_kubeconfig(tmp_path / "kubeconfig"))
        cutover = prepared(kubeconfig, reason="NetworkCutover", note="ports db-0.vms bound on hv2 only")
        posts = run_tasks([("vmi_event", prepared(kubeconfig)), ("vmi_event", cutover), ("vmi_event", cutover)])
        assert all(p["posted"] for p in posts), posts
        described = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "describe", "vmi", "-n", NS, "db-0"],
                                   capture_output=True, text=True, check=False, timeout=60)
    assert described.returncode == 0, described.stderr
    story = described.stdout.split("Events:", 1)[1]
    assert re.search(r"Normal\s+NetworkPrepared\s+\S+\s+kubeovn-live-migration\s+ports db-0.vms bound on hv1 and hv2",
                     story), story
    assert re.search(r"Normal\s+NetworkCutover\s+.*\(x2 over .*\)\s+kubeovn-live-migration\s+ports db-0.vms bound on hv2 only",
                     story), story


def test_the_same_event_again_bumps_its_count(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    first, again, cutover, other_migration = run_tasks([
        ("vmi_event", prepared(kubeconfig)),
        ("vmi_event", prepared(kubeconfig, note="ports re-bound", annotations={"seconds-to-prepare": 0.5})),
        ("vmi_event", prepared(kubeconfig, reason="NetworkCutover", annotations={})),
        ("vmi_event", prepared(kubeconfig, migration_uid="0b3f1b8e-0000-4000-8000-000000000001")),
    ])
    for result in (first, again, cutover, other_migration):
        assert_ok(result)
        assert result["changed"] is True and result["posted"] is True
    assert again["event"]["name"] == first["event"]["name"] and again["event"]["count"] == 2
    assert again["event"]["first_time"] == first["event"]["first_time"]
    assert MICRO.match(again["event"]["last_time"]) and again["event"]["last_time"] > first["event"]["first_time"]
    assert again["event"]["message"] == "ports re-bound"
    assert again["event"]["annotations"]["seconds-to-prepare"] == "0.5"
    assert len({first["event"]["name"], cutover["event"]["name"], other_migration["event"]["name"]}) == 3

    objects = dict((o["metadata"]["name"], o) for o in stored(k8s_emulator))
    assert len(objects) == 3
    bumped = objects[first["event"]["name"]]
    assert bumped["count"] == 2 and bumped["series"]["count"] == 2 and MICRO.match(bumped["series"]["lastObservedTime"])
    assert bumped["eventTime"] == first["event"]["first_time"]
    assert bumped["metadata"]["annotations"]["live-migration.kubeovn.io/source-node"] == "hv1"


def test_a_missing_permission_is_a_warning_not_a_failure(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    k8s_emulator.deny("create", "events")
    denied, strict = run_tasks([
        ("vmi_event", prepared(kubeconfig)),
        ("vmi_event", prepared(kubeconfig, fail_on_error=True)),
    ])
    assert not denied["failed"], denied
    assert denied["changed"] is False and denied["posted"] is False
    [warning] = denied["warnings"]
    assert "may not create events in namespace vms (403 Forbidden)" in warning
    assert RULE in warning and "not affected" in warning
    assert denied["event"]["reason"] == "NetworkPrepared"      # what was meant to be posted
    assert_clean_failure(strict, "may not create events", RULE)
    assert stored(k8s_emulator) == []

    # Allowed to create but not to patch: the first post lands, the repeat warns about patch.
    k8s_emulator.allow_all()
    k8s_emulator.deny("patch", "events")
    posted, repeat = run_tasks([("vmi_event", prepared(kubeconfig)), ("vmi_event", prepared(kubeconfig))])
    assert posted["posted"] is True and not posted.get("warnings")
    assert not repeat["failed"] and repeat["posted"] is False and repeat["changed"] is False
    assert "may not patch events" in repeat["warnings"][0]
    assert [o["count"] for o in stored(k8s_emulator)] == [1]


def test_a_vmi_that_is_gone_or_an_unreachable_api_is_a_warning(k8s_emulator, kubeconfig):
    gone, gone_strict = run_tasks([
        ("vmi_event", prepared(kubeconfig, vmi="ghost")),
        ("vmi_event", prepared(kubeconfig, vmi="ghost", fail_on_error=True)),
    ])
    for result in (gone, gone_strict):
        assert not result["failed"], result
        assert result["changed"] is False and result["posted"] is False
        assert "VirtualMachineInstance vms/ghost not found" in result["warnings"][0]
    assert stored(k8s_emulator) == []

    unreachable = {"host": "http://127.0.0.1:9", "api_key": "x", "namespace": NS, "vmi": "db-0",
                   "reason": "NetworkRolledBack"}
    down, down_strict = run_tasks([("vmi_event", unreachable), ("vmi_event", dict(unreachable, fail_on_error=True))])
    assert not down["failed"] and down["posted"] is False
    assert "cannot reach the Kubernetes API at http://127.0.0.1:9" in down["warnings"][0]
    assert_clean_failure(down_strict, "NetworkRolledBack", "cannot reach the Kubernetes API")


def test_check_mode_reports_and_writes_nothing(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    fresh = assert_ok(run_module("vmi_event", prepared(kubeconfig), check=True))
    assert fresh["changed"] is True and fresh["posted"] is False
    assert fresh["event"]["count"] == 1 and fresh["event"]["vmi_uid"]
    assert stored(k8s_emulator) == []

    real, checked = run_tasks([("vmi_event", prepared(kubeconfig)),
                               ("vmi_event", prepared(kubeconfig), {"check_mode": True})])
    assert real["posted"] is True
    assert checked["changed"] is True and checked["posted"] is False and checked["event"]["count"] == 2
    assert checked["event"]["name"] == real["event"]["name"]
    assert [o["count"] for o in stored(k8s_emulator)] == [1]


@pytest.mark.parametrize("args, fragments", [
    ({"reason": "network prepared"}, ["reason", "UpperCamelCase"]),
    ({"type": "Info"}, ["type", "Normal", "Warning"]),
    ({"annotations": {"seconds to prepare": 1}}, ["annotation key", "seconds to prepare"]),
    ({"annotations": {"nodes": ["hv1"]}}, ["annotation", "string or a number"]),
    ({"vmi": ""}, ["vmi must not be empty"]),
    ({"vmi": "DB_0"}, ["vmi", "not a valid Kubernetes name"]),
    ({"migration_uid": "not a uid"}, ["migration_uid", "not a Kubernetes uid"]),
    # Ansible reserves `message` as an option name: the text is `note`.
    ({"message": "text"}, ["Unsupported parameters", "message"]),
])
def test_bad_input_fails_with_a_clear_message(k8s_emulator, kubeconfig, args, fragments):
    add_vmi(k8s_emulator)
    assert_clean_failure(run_module("vmi_event", prepared(kubeconfig, **args)), *fragments)
    assert stored(k8s_emulator) == []


def test_info_lists_only_our_events_oldest_first_with_filters(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator, "db-0")
    add_vmi(k8s_emulator, "web-1")
    add_vmi(k8s_emulator, "db-0", namespace="other")
    other_uid = "0b3f1b8e-0000-4000-8000-000000000002"
    posts = run_tasks([
        ("vmi_event", prepared(kubeconfig)),
        ("vmi_event", prepared(kubeconfig, reason="NetworkCutover", annotations={"seconds-to-cutover": "0.31"})),
        ("vmi_event", prepared(kubeconfig, vmi="web-1", migration="web-1-migration-x", migration_uid=other_uid,
                               reason="NetworkRolledBack", type="Warning")),
        ("vmi_event", prepared(kubeconfig, namespace="other", migration_uid=None, migration=None,
                               reason="NetworkRepaired", annotations=None)),
    ])
    assert all(p["posted"] for p in posts), posts
    # Someone else's Event on the same VMI is not ours.
    client.CoreV1Api(k8s_emulator.api_client()).create_namespaced_event(NS, {
        "metadata": {"name": "db-0.foreign", "namespace": NS},
        "involvedObject": {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": "db-0",
                           "namespace": NS},
        "reason": "Migrated", "message": "done", "type": "Normal", "source": {"component": "virt-handler"},
        "firstTimestamp": "2026-01-01T00:00:00Z", "lastTimestamp": "2026-01-01T00:00:00Z", "count": 1})

    env = {"K8S_AUTH_KUBECONFIG": kubeconfig}
    one_vmi, namespace, cluster, migration, empty = run_tasks([
        ("vmi_event_info", {"namespace": NS, "vmi": "db-0"}),
        ("vmi_event_info", {"namespace": NS}),
        ("vmi_event_info", {}),
        ("vmi_event_info", {"migration_uid": other_uid}),
        ("vmi_event_info", {"namespace": "nobody"}),
    ], env=env)
    assert [e["reason"] for e in assert_ok(one_vmi)["events"]] == ["NetworkPrepared", "NetworkCutover"]
    first = one_vmi["events"][0]
    assert first == dict(posts[0]["event"])
    assert one_vmi["events"][1]["annotations"] == {"seconds-to-cutover": "0.31"}
    assert [(e["vmi"], e["reason"]) for e in namespace["events"]] == [
        ("db-0", "NetworkPrepared"), ("db-0", "NetworkCutover"), ("web-1", "NetworkRolledBack")]
    assert [(e["namespace"], e["reason"]) for e in cluster["events"]] == [
        (NS, "NetworkPrepared"), (NS, "NetworkCutover"), (NS, "NetworkRolledBack"), ("other", "NetworkRepaired")]
    repaired = cluster["events"][-1]
    assert repaired["migration"] is None and repaired["migration_uid"] is None and repaired["annotations"] == {}
    [rolled_back] = migration["events"]
    assert (rolled_back["vmi"], rolled_back["type"], rolled_back["migration"]) == ("web-1", "Warning", "web-1-migration-x")
    assert empty["events"] == [] and empty["changed"] is False


def test_info_bad_input_and_missing_permission(k8s_emulator, kubeconfig):
    k8s_emulator.deny("list", "events")
    no_namespace, bad_uid, forbidden = run_tasks([
        ("vmi_event_info", {"kubeconfig": kubeconfig, "vmi": "db-0"}),
        ("vmi_event_info", {"kubeconfig": kubeconfig, "migration_uid": "a b"}),
        ("vmi_event_info", {"kubeconfig": kubeconfig, "namespace": NS}),
    ])
    assert_clean_failure(no_namespace, "namespace")
    assert_clean_failure(bad_uid, "migration_uid", "not a Kubernetes uid")
    assert_clean_failure(forbidden, "forbidden", "list", "events")


def test_the_emulator_refuses_events_the_api_server_refuses(k8s_emulator):
    """What vmi_event must get right: MicroTime with six digits, and the fields an eventTime requires."""
    core = client.CoreV1Api(k8s_emulator.api_client())
    base = {"metadata": {"name": "x.1", "namespace": NS},
            "involvedObject": {"kind": "VirtualMachineInstance", "name": "x", "namespace": NS},
            "reason": "NetworkPrepared", "type": "Normal", "action": "Prepare",
            "reportingComponent": "kubeovn-live-migration", "reportingInstance": "here",
            "eventTime": "2026-01-01T10:00:00.123456Z"}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event(NS, dict(base, eventTime="2026-01-01T10:00:00Z"))
    assert caught.value.status == 400 and "MicroTime" in caught.value.body
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event(NS, dict(base, action=None, reportingInstance=None))
    assert caught.value.status == 422 and "action: Required value" in caught.value.body
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_event(NS, dict(base, message="x" * 1025))
    assert caught.value.status == 422 and "at most 1024" in caught.value.body
    created = core.create_namespaced_event(NS, dict(base, lastTimestamp="2026-01-01T10:00:01.5+01:00"))
    assert created.last_timestamp.isoformat() == "2026-01-01T09:00:01+00:00"
    # The `source` field selector is source.component, as kube-apiserver has it.
    assert core.list_namespaced_event(NS, field_selector="source=nobody").items == []
