"""kubeovn.live_migration.vmim through ansible-playbook against the Kubernetes API emulator:
idempotent create, check mode, cancel of in-flight migrations only, wait for deletion."""
from ansible_run import run_module
from test_vmim_helpers import NS, VMIMS, add_vmi, add_vmim, assert_clean_failure, in_background, run_tasks, until


def names(emulator):
    return sorted(o["metadata"]["name"] for o in emulator.list(VMIMS, NS))


def test_create_is_idempotent_while_in_flight(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    args = {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "labels": {"by": "test"}}
    first, second = run_tasks([("vmim", args), ("vmim", args)])
    assert not first["failed"], first
    assert first["changed"] is True and first["created"] is True
    [created] = k8s_emulator.list(VMIMS, NS)
    assert created["metadata"]["name"].startswith("db-0-migration-")
    assert created["metadata"]["labels"] == {"by": "test"} and created["spec"] == {"vmiName": "db-0"}
    assert (first["migration"]["name"], first["migration"]["uid"]) == (created["metadata"]["name"],
                                                                       created["metadata"]["uid"])
    assert first["migration"]["source_node"] == "hv1" and first["migration"]["in_flight"] is True

    assert not second["failed"], second
    assert second["changed"] is False and second["created"] is False
    assert second["migration"]["name"] == first["migration"]["name"]


def test_finished_migrations_do_not_block_and_names_are_respected(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    add_vmim(k8s_emulator, "old", phase="Succeeded")
    base = {"kubeconfig": kubeconfig, "namespace": NS}
    existing, new, clash = run_tasks([
        ("vmim", dict(base, vmi="db-0", name="old")),    # exists: reported, not re-created
        ("vmim", dict(base, vmi="db-0", name="new")),    # the finished one does not block a new one
        ("vmim", dict(base, vmi="web-1", name="old")),   # a name taken by another VMI's migration
    ])
    assert existing["changed"] is False and existing["migration"]["phase"] == "Succeeded"
    assert new["changed"] is True and new["migration"]["name"] == "new"
    assert_clean_failure(clash, "vms/old already exists and migrates VMI db-0, not web-1")
    assert names(k8s_emulator) == ["new", "old"]


def test_check_mode_and_bad_input_create_nothing(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    base = {"kubeconfig": kubeconfig}
    check, *bad = run_tasks([
        ("vmim", dict(base, namespace=NS, vmi="db-0"), {"check_mode": True, "diff": True}),
        ("vmim", dict(base, namespace=NS, vmi="nope")),
        ("vmim", dict(base, namespace=NS)),
        ("vmim", dict(base, namespace=NS, state="absent")),
        ("vmim", dict(base, namespace=NS, vmi="db-0", wait_timeout=0)),
        ("vmim", dict(base, vmi="db-0")),
    ])
    assert not check["failed"], check
    assert check["changed"] is True and check["created"] is True
    assert check["diff"]["before"] == {} and check["diff"]["after"]["vmi"] == "db-0"
    fragments = ["VirtualMachineInstance vms/nope not found", "state is present but all of the following are missing: vmi",
                 "state=absent needs the migration to cancel: set name, or vmi", "wait_timeout must be a positive",
                 "missing required arguments: namespace"]
    for result, fragment in zip(bad, fragments):
        assert_clean_failure(result, fragment)
    assert names(k8s_emulator) == []


def test_cancel_deletes_in_flight_and_leaves_finished(k8s_emulator, kubeconfig):
    add_vmi(k8s_emulator)
    for name, vmi, phase in (("done", "db-0", "Succeeded"), ("failed", "db-0", "Failed"),
                             ("running", "db-0", "Running"), ("other-vm", "web-1", "Running")):
        add_vmim(k8s_emulator, name, vmi=vmi, phase=phase)
    # KubeVirt's finalizer keeps a deleted VMIM until the abort is done: here, forever.
    add_vmim(k8s_emulator, "stuck", vmi="web-2", phase="Running", finalizers=["kubevirt.io/migrationJobFinalize"])
    absent = {"kubeconfig": kubeconfig, "namespace": NS, "state": "absent"}
    check, cancel, again, finished, missing, stuck = run_tasks([
        ("vmim", dict(absent, vmi="db-0"), {"check_mode": True}),
        ("vmim", dict(absent, vmi="db-0"), {"diff": True}),
        ("vmim", dict(absent, vmi="db-0")),
        ("vmim", dict(absent, name="done")),
        ("vmim", dict(absent, name="ghost")),
        ("vmim", dict(absent, name="stuck", wait=True, wait_timeout=1)),
    ])
    assert check["changed"] is True and [m["name"] for m in check["migrations"]] == ["running"]
    # Check mode deleted nothing: the real run still finds it in flight.
    assert cancel["changed"] is True
    assert (cancel["migration"]["name"], cancel["migration"]["phase"]) == ("running", "Running")
    assert cancel["diff"]["before"]["migrations"][0]["name"] == "running"
    assert again["changed"] is False and again["migrations"] == []
    assert finished["changed"] is False and finished["migration"]["phase"] == "Succeeded"
    assert not missing["failed"] and missing["changed"] is False and missing["migration"] is None
    assert_clean_failure(stuck, "timed out after 1s waiting for the deletion of migration vms/stuck")
    assert stuck["changed"] is True and stuck["migration"]["name"] == "stuck"
    assert names(k8s_emulator) == ["done", "failed", "other-vm", "stuck"]
    assert k8s_emulator.get(VMIMS, NS, "stuck")["metadata"]["deletionTimestamp"]


def test_cancel_waits_for_the_finalizer(k8s_emulator, kubeconfig):
    add_vmim(k8s_emulator, "m1", phase="Running", finalizers=["kubevirt.io/migrationJobFinalize"])
    worker, box = in_background("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "name": "m1",
                                         "state": "absent", "wait": True, "wait_timeout": 60})
    # Deleted, but KubeVirt's finalizer keeps it (marked for deletion) until the abort is done.
    until(lambda: (k8s_emulator.get(VMIMS, NS, "m1") or {}).get("metadata", {}).get("deletionTimestamp"),
          "the deletion to start")
    until(lambda: k8s_emulator.open_watches >= 1, "the module to watch")
    assert worker.is_alive()
    k8s_emulator.patch(VMIMS, NS, "m1", {"metadata": {"finalizers": None}})
    worker.join(120)
    result = box["result"]
    assert not result["failed"], result
    assert result["changed"] is True and k8s_emulator.get(VMIMS, NS, "m1") is None


def test_create_and_wait_for_the_end(k8s_emulator, kubeconfig, kubevirt_sim):
    kubevirt_sim.create_vmi(NS, "db-0", "hv1")
    result = run_module("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0", "name": "go",
                                 "wait": True, "wait_timeout": 60})
    assert not result["failed"], result
    assert result["changed"] is True and result["created"] is True
    rec = result["migration"]
    assert (rec["name"], rec["phase"], rec["in_flight"]) == ("go", "Succeeded", False)
    assert rec["source_node"] == "hv1" and rec["target_node"] not in (None, "hv1") and rec["vmi_node"] == rec["target_node"]


def test_target_node_is_requested_and_honoured(k8s_emulator, kubeconfig, kubevirt_sim):
    kubevirt_sim.create_vmi(NS, "db-0", "hv1")   # left alone, the sim would pick hv2
    [started] = run_tasks([("vmim", {"kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0",
                                     "target_node": "hv3", "wait": True, "wait_timeout": 60})])
    assert not started["failed"], started
    [created] = k8s_emulator.list(VMIMS, NS)
    assert created["spec"]["addedNodeSelector"] == {"kubernetes.io/hostname": "hv3"}
    assert started["migration"]["phase"] == "Succeeded"
    assert started["migration"]["target_node"] == "hv3"
    assert k8s_emulator.get("vmi", NS, "db-0")["status"]["nodeName"] == "hv3"
