"""The RBAC manifests against what the modules and the event source really call: the emulator
enforces extensions/awx/rbac.yml (or the namespaced variant) for the identity a bound token
stands for, every module call and the source's lists and watches get through (no 403), and a call
outside the rights (the event source's identity starting a migration, the namespaced playbooks'
identity reading another namespace) gets 403 with a clear msg."""
from pathlib import Path

import pytest
import yaml

from ansible_run import assert_clean_failure, assert_ok, run_tasks
from k8s_emulator import K8sEmulator
from eda.objects import in_flight
from eda.source_run import SourceRun

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = ROOT / "extensions" / "awx" / "rbac.yml"
NAMESPACED = ROOT / "extensions" / "awx" / "rbac-namespaced.yml"
PLAYBOOKS = "system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration"
SOURCE = "system:serviceaccount:kubeovn-live-migration:kubeovn-live-migration-events"
TOKENS = {"playbooks-token": PLAYBOOKS, "source-token": SOURCE}
NS = "vms"


def items(path):
    return yaml.safe_load(path.read_text())["items"]


def module_calls(auth, namespace):
    """Every module, each API path it has: lists, the plan's reads, a watch-based wait, create and
    cancel, an Event posted then bumped (patch), the Events read back."""
    event = dict(auth, namespace=namespace, vmi="db-0", reason="NetworkPrepared", note="prepared",
                 migration="db-0-m1", migration_uid="uid-1")
    return [
        ("vmim_info", dict(auth, namespace=namespace)),
        ("vmim_info", dict(auth, namespace=namespace, vmi="db-0", plan=True)),
        ("vmim_info", dict(auth, namespace=namespace, name="db-0-m1", wait_for=["Running"], wait_timeout=10)),
        ("vmim", dict(auth, namespace=namespace, vmi="db-1", name="db-1-m1")),
        ("vmim", dict(auth, namespace=namespace, name="db-1-m1", state="absent", wait=True, wait_timeout=10)),
        ("vmi_event", event),
        ("vmi_event", event),
        ("vmi_event_info", dict(auth, namespace=namespace, vmi="db-0")),
    ]


def source_lists_and_watches(emulator, namespaces):
    run = SourceRun({"host": emulator.url, "api_key": "source-token", "namespaces": namespaces}).start()
    try:
        event = run.next_event(30, where=lambda e: e.get("vmim") == "db-0-m1")
    finally:
        error = run.stop()
    assert error is None
    return event


@pytest.mark.parametrize("manifest, cluster_wide", [(CLUSTER, True), (NAMESPACED, False)], ids=["cluster", "namespaced"])
def test_the_manifest_grants_every_call_and_nothing_more(manifest, cluster_wide):
    emulator = K8sEmulator(tokens=TOKENS).start()
    try:
        emulator.enforce_rbac(manifest)
        in_flight(emulator, NS, "db-0", "db-0-m1")
        emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                         "metadata": {"namespace": NS, "name": "db-1"}, "spec": {},
                         "status": {"phase": "Running", "nodeName": "hv1"}})
        auth = {"host": emulator.url, "api_key": "playbooks-token"}
        calls = module_calls(auth, NS)
        if cluster_wide:
            calls.append(("vmim_info", dict(auth, namespace=None)))  # all namespaces
        outside = [("vmim", {"host": emulator.url, "api_key": "source-token", "namespace": NS, "vmi": "db-1"})]
        if not cluster_wide:
            outside.append(("vmim_info", dict(auth, namespace="other")))
        results = run_tasks(calls + outside)
        for (module, _args), result in zip(calls, results):
            assert_ok(result)
        event = source_lists_and_watches(emulator, [NS] if not cluster_wide else [])
        assert event["vmi"] == "db-0"

        denied = [r for r in emulator.requests if not r[-1]]
        # Starting a migration reads its VMI first: that read is the first call the source's identity lacks.
        expected = [(SOURCE, "get", "kubevirt.io", "virtualmachineinstances", NS, "db-1", False)]
        if not cluster_wide:
            expected.append((PLAYBOOKS, "list", "kubevirt.io", "virtualmachineinstancemigrations", "other", None, False))
        assert denied == expected
        assert {r[0] for r in emulator.requests} == {PLAYBOOKS, SOURCE}
        # The source only reads; the playbooks' identity used each write the manifest grants it.
        assert {r[1] for r in emulator.requests if r[0] == SOURCE and r[-1]} <= {"list", "watch"}
        writes = {(r[1], r[3]) for r in emulator.requests if r[0] == PLAYBOOKS and r[1] in ("create", "delete", "patch")}
        assert writes == {("create", "virtualmachineinstancemigrations"), ("delete", "virtualmachineinstancemigrations"),
                          ("create", "events"), ("patch", "events")}
        assert_clean_failure(results[len(calls)], "forbidden", "get", "virtualmachineinstances", NS, SOURCE)
        if not cluster_wide:
            assert_clean_failure(results[-1], "forbidden", "list", "virtualmachineinstancemigrations", "other")
        assert "validate_certs" not in results[len(calls)]["msg"]
    finally:
        emulator.stop()


def test_manifests_hold_no_token_secret_and_the_variants_grant_the_same():
    cluster, namespaced = items(CLUSTER), items(NAMESPACED)
    for manifest in (cluster, namespaced):
        assert not [o for o in manifest if o["kind"] == "Secret"]
        for role in (o for o in manifest if o["kind"] in ("Role", "ClusterRole")):
            for rule in role["rules"]:
                assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], role["metadata"]["name"]
    cluster_rules = {o["metadata"]["name"]: o["rules"] for o in cluster if o["kind"] == "ClusterRole"}
    role_rules = {o["metadata"]["name"]: o["rules"] for o in namespaced if o["kind"] == "Role"}
    assert cluster_rules == role_rules
