"""kubeovn.live_migration.vmim through ansible-playbook against the Kubernetes API emulator:
idempotent create, check mode, cancel of in-flight migrations only, wait for deletion."""
import threading

import pytest

import ansible_run
from ansible_run import run_module

NS = "vms"
VMIMS = "virtualmachineinstancemigrations"


def add_vmi(emulator, name="db-0", node="node-a", namespace=NS):
    return emulator.create({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {}, "status": {"phase": "Running", "nodeName": node}})


def add_vmim(emulator, name, vmi="db-0", phase=None, finalizers=None, namespace=NS):
    obj = {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
           "metadata": {"name": name, "namespace": namespace}, "spec": {"vmiName": vmi}}
    if finalizers:
        obj["metadata"]["finalizers"] = finalizers
    if phase:
        obj["status"] = {"phase": phase}
    return emulator.create(obj)


def assert_clean_failure(result, *fragments):
    """ansible_run's check, minus the placeholder ansible-core 2.19 puts on every failed result.
    A real crash still shows: MODULE FAILURE carries module_stderr, and the output a Traceback."""
    result = dict(result)
    if result.get("exception") == "(traceback unavailable)":
        del result["exception"]
    assert "Traceback" not in result.get("_output", ""), result["_output"]
    ansible_run.assert_clean_failure(result, *fragments)


def vmims(emulator, namespace=NS):
    return emulator.list(VMIMS, namespace)


def until(condition, what, limit=30.0):
    """Wait for a condition of the emulator's state (never asserts on how long it took)."""
    done = threading.Event()
    waited = 0.0
    while not condition():
        if waited >= limit:
            raise AssertionError("gave up waiting for " + what)
        done.wait(0.02)
        waited += 0.02


def test_create_is_idempotent_while_in_flight(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    args = {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "labels": {"by": "test"}}
    first = run_module("vmim", args)
    assert not first["failed"], first
    assert first["changed"] is True and first["created"] is True
    created = vmims(k8s_emulator)
    assert len(created) == 1
    assert created[0]["metadata"]["name"].startswith("db-0-migration-")
    assert created[0]["metadata"]["labels"] == {"by": "test"}
    assert created[0]["spec"] == {"vmiName": "db-0"}
    assert first["migration"]["name"] == created[0]["metadata"]["name"]
    assert first["migration"]["uid"] == created[0]["metadata"]["uid"]
    assert first["migration"]["source_node"] == "node-a" and first["migration"]["in_flight"] is True

    second = run_module("vmim", args)
    assert not second["failed"], second
    assert second["changed"] is False and second["created"] is False
    assert second["migration"]["name"] == first["migration"]["name"]
    assert len(vmims(k8s_emulator)) == 1


def test_a_finished_migration_does_not_block_a_new_one(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    add_vmim(k8s_emulator, "old", phase="Succeeded")
    result = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "name": "new"})
    assert result["changed"] is True and result["migration"]["name"] == "new"
    assert sorted(o["metadata"]["name"] for o in vmims(k8s_emulator)) == ["new", "old"]


def test_existing_named_migration_is_reported_not_recreated(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    add_vmim(k8s_emulator, "m1", phase="Succeeded")
    result = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "name": "m1"})
    assert result["changed"] is False and result["migration"]["phase"] == "Succeeded"
    other = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "web-1", "name": "m1"})
    assert_clean_failure(other, "m1 already exists", "db-0")
    assert len(vmims(k8s_emulator)) == 1


def test_check_mode_creates_nothing(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    result = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0"}, check=True, diff=True)
    assert not result["failed"], result
    assert result["changed"] is True and result["created"] is True
    assert result["diff"]["after"]["vmi"] == "db-0" and result["diff"]["before"] == {}
    assert vmims(k8s_emulator) == []


def test_missing_vmi_is_a_clear_failure_and_nothing_is_written(k8s_emulator, kubeconfig):
    result = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "nope"})
    assert_clean_failure(result, "VirtualMachineInstance vms/nope not found")
    assert vmims(k8s_emulator) == []


def test_cancel_deletes_in_flight_and_leaves_finished(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    add_vmim(k8s_emulator, "done", phase="Succeeded")
    add_vmim(k8s_emulator, "failed", phase="Failed")
    add_vmim(k8s_emulator, "running", phase="Running")
    add_vmim(k8s_emulator, "other-vm", vmi="web-1", phase="Running")
    args = {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "state": "absent"}

    check = run_module("vmim", args, check=True)
    assert check["changed"] is True and [m["name"] for m in check["migrations"]] == ["running"]
    assert len(vmims(k8s_emulator)) == 4

    result = run_module("vmim", args, diff=True)
    assert not result["failed"], result
    assert result["changed"] is True
    assert result["migration"]["name"] == "running" and result["migration"]["phase"] == "Running"
    assert result["diff"]["before"]["migrations"][0]["name"] == "running"
    assert sorted(o["metadata"]["name"] for o in vmims(k8s_emulator)) == ["done", "failed", "other-vm"]

    again = run_module("vmim", args)
    assert again["changed"] is False and again["migrations"] == []


def test_cancel_by_name_leaves_a_finished_or_missing_one(k8s_emulator, kubeconfig):
    add_vmim(k8s_emulator, "done", phase="Succeeded")
    finished = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "name": "done", "state": "absent"})
    assert finished["changed"] is False and finished["migration"]["phase"] == "Succeeded"
    missing = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "name": "ghost", "state": "absent"})
    assert not missing["failed"], missing
    assert missing["changed"] is False and missing["migration"] is None
    assert [o["metadata"]["name"] for o in vmims(k8s_emulator)] == ["done"]


def test_cancel_waits_for_the_finalizer(k8s_emulator, kubeconfig):
    add_vmim(k8s_emulator, "m1", phase="Running", finalizers=["kubevirt.io/migrationJobFinalize"])
    box = {}
    worker = threading.Thread(target=lambda: box.update(result=run_module("vmim", {
        "kubeconfig": kubeconfig, "namespace": NS, "name": "m1", "state": "absent", "wait": True,
        "wait_timeout": 60})))
    worker.start()
    # The module deleted it: KubeVirt's finalizer keeps it, marked for deletion, until the abort is done.
    until(lambda: (k8s_emulator.get(VMIMS, NS, "m1") or {}).get("metadata", {}).get("deletionTimestamp"),
          "the deletion to start")
    until(lambda: k8s_emulator.open_watches >= 1, "the module to watch")
    assert worker.is_alive()
    k8s_emulator.patch(VMIMS, NS, "m1", {"metadata": {"finalizers": None}})
    worker.join(120)
    result = box["result"]
    assert not result["failed"], result
    assert result["changed"] is True and k8s_emulator.get(VMIMS, NS, "m1") is None


def test_cancel_wait_timeout_keeps_the_last_state(k8s_emulator, kubeconfig):
    add_vmim(k8s_emulator, "m1", phase="Running", finalizers=["kubevirt.io/migrationJobFinalize"])
    result = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "name": "m1", "state": "absent",
                                 "wait": True, "wait_timeout": 1})
    assert_clean_failure(result, "timed out after 1s waiting for the deletion of migration vms/m1")
    assert result["changed"] is True and result["migration"]["name"] == "m1"


@pytest.mark.parametrize("args, fragment", [
    ({"namespace": NS}, "state is present but all of the following are missing: vmi"),
    ({"namespace": NS, "state": "absent"}, "set name, or vmi"),
    ({"namespace": NS, "vmi": "db-0", "wait_timeout": 0}, "wait_timeout must be a positive"),
    ({"vmi": "db-0"}, "missing required arguments: namespace"),
])
def test_bad_input_is_a_clear_failure(k8s_emulator, kubeconfig, args, fragment):
    add_vmi(k8s_emulator)
    result = run_module("vmim", dict(args, kubeconfig=kubeconfig))
    assert_clean_failure(result, fragment)
    assert vmims(k8s_emulator) == []
