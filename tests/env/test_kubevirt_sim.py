"""The simulated KubeVirt, observed through the official client over HTTP (no store access)."""
import threading

import pytest
from kubernetes import client, watch

GROUP, VERSION = "kubevirt.io", "v1"
VMIS, VMIMS = "virtualmachineinstances", "virtualmachineinstancemigrations"
HAPPY = ["Pending", "Scheduling", "Scheduled", "PreparingTarget", "TargetReady", "Running", "Succeeded"]


@pytest.fixture
def api(k8s_emulator):
    return client.CustomObjectsApi(k8s_emulator.api_client())


@pytest.fixture
def core(k8s_emulator):
    return client.CoreV1Api(k8s_emulator.api_client())


def get_vmi(api, name, ns="ns1"):
    return api.get_namespaced_custom_object(GROUP, VERSION, ns, VMIS, name)


def phases(vmim):
    return [t["phase"] for t in vmim["status"]["phaseTransitionTimestamps"]]


def test_vmi_runs_on_its_node_with_a_launcher_pod(kubevirt_sim, core):
    vmi = kubevirt_sim.create_vmi("ns1", "vm1", "hv1", ports=[{"name": "vm1.ns1", "mac": "0a:00:00:00:00:01"}])
    assert vmi["status"]["phase"] == "Running" and vmi["status"]["nodeName"] == "hv1"
    assert vmi["status"]["interfaces"][0]["mac"] == "0a:00:00:00:00:01"
    pods = core.list_namespaced_pod("ns1", label_selector="kubevirt.io=virt-launcher,kubevirt.io/created-by="
                                    + vmi["metadata"]["uid"]).items
    assert [(p.spec.node_name, p.status.phase, p.metadata.labels["vm.kubevirt.io/name"]) for p in pods] == \
        [("hv1", "Running", "vm1")]
    assert {"hv1", "hv2", "hv3"} <= {n.metadata.name for n in core.list_node().items}


def test_full_migration_reaches_succeeded_with_kubevirt_state(kubevirt_sim, api, core):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    seen = []
    stream = watch.Watch()
    rv = api.list_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS)["metadata"]["resourceVersion"]
    vmim = kubevirt_sim.migrate("ns1", "vm1", target_node="hv3")
    name, uid = vmim["metadata"]["name"], vmim["metadata"]["uid"]
    target_bound_at = None
    for event in stream.stream(api.list_namespaced_custom_object, GROUP, VERSION, "ns1", VMIMS,
                               resource_version=rv, timeout_seconds=20):
        phase = (event["raw_object"].get("status") or {}).get("phase")
        if phase and (not seen or seen[-1] != phase):
            seen.append(phase)
            target = core.list_namespaced_pod("ns1", label_selector="kubevirt.io/migrationJobUID=" + uid).items
            if target_bound_at is None and target and target[0].spec.node_name:
                target_bound_at = phase
        if phase == "Succeeded":
            stream.stop()
    assert seen == HAPPY
    assert target_bound_at == "Scheduled", "the target pod is scheduled by the time the VMIM says Scheduled"
    done = kubevirt_sim.wait_phase("ns1", name, "Succeeded")
    assert phases(done) == HAPPY and done["metadata"]["labels"]["kubevirt.io/vmi-name"] == "vm1"
    vmi = get_vmi(api, "vm1")
    state = vmi["status"]["migrationState"]
    assert vmi["status"]["nodeName"] == "hv3" and vmi["metadata"]["labels"]["kubevirt.io/nodeName"] == "hv3"
    assert state["migrationUid"] == uid and state["sourceNode"] == "hv1" and state["targetNode"] == "hv3"
    assert state["completed"] is True and state["failed"] is False and state["mode"] == "PreCopy"
    assert state["startTimestamp"] and state["endTimestamp"]
    target_pod = core.read_namespaced_pod(state["targetPod"], "ns1")
    assert target_pod.metadata.labels["kubevirt.io/migrationJobUID"] == uid and target_pod.spec.node_name == "hv3"
    assert done["status"]["migrationState"]["migrationUid"] == uid
    kubevirt_sim.wait_idle()
    assert kubevirt_sim.errors == []


def test_fail_at_fails_and_leaves_the_vm_on_the_source(kubevirt_sim, api, core):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    vmim = kubevirt_sim.migrate("ns1", "vm1", fail_at="TargetReady")
    done = kubevirt_sim.wait_phase("ns1", vmim["metadata"]["name"], ["Succeeded", "Failed"])
    assert phases(done) == HAPPY[:5] + ["Failed"]
    kubevirt_sim.wait_idle()
    vmi = get_vmi(api, "vm1")
    state = vmi["status"]["migrationState"]
    assert vmi["status"]["nodeName"] == "hv1"
    assert state["migrationUid"] == vmim["metadata"]["uid"] and state["failed"] is True and state["completed"] is True
    assert "abortStatus" not in state
    targets = core.list_namespaced_pod("ns1", label_selector="kubevirt.io/migrationJobUID=" + vmim["metadata"]["uid"])
    assert targets.items == [], "the target pod is cleaned up"


def test_abort_by_deleting_the_vmim(kubevirt_sim, api):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    kubevirt_sim.configure("ns1", "vm1", hold_at="Running")
    vmim = kubevirt_sim.migrate("ns1", "vm1", name="mig1")
    kubevirt_sim.wait_phase("ns1", "mig1", "Running")
    deleting = api.delete_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "mig1")
    assert deleting["metadata"]["deletionTimestamp"], "KubeVirt's finalizer keeps it while it aborts"
    kubevirt_sim.wait_idle()
    with pytest.raises(client.exceptions.ApiException) as exc:
        api.get_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "mig1")
    assert exc.value.status == 404
    vmi = get_vmi(api, "vm1")
    state = vmi["status"]["migrationState"]
    assert vmi["status"]["nodeName"] == "hv1"
    assert state["migrationUid"] == vmim["metadata"]["uid"]
    assert state["abortStatus"] == "Succeeded" and state["abortRequested"] is True and state["failed"] is True


def test_hold_and_release_for_a_vmim_created_by_someone_else(kubevirt_sim, api, core):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    kubevirt_sim.configure("ns1", "vm1", target_node="hv2", hold_at="Scheduled")
    api.create_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, {
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
        "metadata": {"name": "theirs"}, "spec": {"vmiName": "vm1"}})
    held = kubevirt_sim.wait_phase("ns1", "theirs", "Scheduled")
    pods = core.list_namespaced_pod("ns1", label_selector="kubevirt.io/migrationJobUID=" + held["metadata"]["uid"])
    assert [p.spec.node_name for p in pods.items] == ["hv2"]
    assert "migrationState" not in get_vmi(api, "vm1")["status"], "no handoff before PreparingTarget"
    kubevirt_sim.release("ns1", "theirs")
    assert phases(kubevirt_sim.wait_phase("ns1", "theirs", "Succeeded")) == HAPPY


def test_stale_state_stays_until_the_next_migration_overwrites_it(kubevirt_sim, api):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    first = kubevirt_sim.migrate("ns1", "vm1", target_node="hv2")
    kubevirt_sim.wait_phase("ns1", first["metadata"]["name"], "Succeeded")
    kubevirt_sim.configure("ns1", "vm1", hold_at="Scheduled")
    second = kubevirt_sim.migrate("ns1", "vm1", target_node="hv1")
    kubevirt_sim.wait_phase("ns1", second["metadata"]["name"], "Scheduled")
    stale = get_vmi(api, "vm1")["status"]["migrationState"]
    assert stale["migrationUid"] == first["metadata"]["uid"] and stale["completed"] is True
    assert stale["sourceNode"] == "hv1" and stale["targetNode"] == "hv2"
    kubevirt_sim.release("ns1", second["metadata"]["name"])
    kubevirt_sim.wait_phase("ns1", second["metadata"]["name"], "Succeeded")
    fresh = get_vmi(api, "vm1")
    state = fresh["status"]["migrationState"]
    assert state["migrationUid"] == second["metadata"]["uid"]
    assert (state["sourceNode"], state["targetNode"], fresh["status"]["nodeName"]) == ("hv2", "hv1", "hv1")


def test_second_migration_while_one_is_in_flight_fails(kubevirt_sim):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    kubevirt_sim.configure("ns1", "vm1", hold_at="Scheduling")
    first = kubevirt_sim.migrate("ns1", "vm1")
    kubevirt_sim.wait_phase("ns1", first["metadata"]["name"], "Scheduling")
    second = kubevirt_sim.migrate("ns1", "vm1")
    assert kubevirt_sim.wait_phase("ns1", second["metadata"]["name"], ["Failed", "Succeeded"])["status"]["phase"] == "Failed"
    kubevirt_sim.release("ns1", first["metadata"]["name"])
    assert kubevirt_sim.wait_phase("ns1", first["metadata"]["name"], ["Failed", "Succeeded"])["status"]["phase"] == "Succeeded"


def test_sim_survives_cut_watches_and_expired_history(kubevirt_sim, k8s_emulator):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    for _unused in range(1000):
        if k8s_emulator.open_watches >= 2:
            break
        threading.Event().wait(0.01)
    k8s_emulator.cut_watches()
    k8s_emulator.compact()
    vmim = kubevirt_sim.migrate("ns1", "vm1")
    assert kubevirt_sim.wait_phase("ns1", vmim["metadata"]["name"], ["Succeeded", "Failed"])["status"]["phase"] == "Succeeded"


def test_bad_phase_option_is_refused(kubevirt_sim):
    with pytest.raises(ValueError, match="fail_at"):
        kubevirt_sim.migrate("ns1", "vm1", fail_at="Finished")


def failure_events(core, vmim):
    found = core.list_namespaced_event("ns1", field_selector="involvedObject.name=" + vmim).items
    return [(e.reason, e.message) for e in found]


def test_failure_is_recorded_as_an_event(kubevirt_sim, core):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    vmim = kubevirt_sim.migrate("ns1", "vm1", fail_at="Scheduled", name="mig1")
    kubevirt_sim.wait_phase("ns1", "mig1", "Failed")
    kubevirt_sim.wait_idle()
    assert failure_events(core, vmim["metadata"]["name"]) == [("FailedMigration", "simulated failure at phase Scheduled")]


# ---- with the OVN sandbox: the simulated KubeVirt plays the VM's data plane too ----------------

@pytest.fixture
def ovn_sim(k8s_emulator, ovn_sandbox):
    from kubevirt_sim import KubevirtSim
    sim = KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.02, cni_timeout=10)
    sim.start()
    yield sim
    sim.stop()


def bound(sandbox, lsp, chassis):
    binding = sandbox.port_binding(lsp) or {}
    return binding.get("chassis") == chassis


def test_ovn_migration_plugs_announces_and_unplugs(ovn_sim, ovn_sandbox, ovn_vm):
    # Kube-OVN's wipe when the source pod ends would clear the activation mark looked for below.
    ovn_sim.kube_ovn.wipe_enabled = False
    vm = ovn_vm(providers=("net1",), namespace="ns1")
    names = [p["name"] for p in vm["ports"]]
    ovn_sim.create_vmi("ns1", vm["vm"], "hv1", ports=vm["ports"])
    for name in names:
        ovn_sandbox.wait_for(lambda n=name: bound(ovn_sandbox, n, "hv1"), what=name + " bound on hv1")
    ovn_sim.configure("ns1", vm["vm"], target_node="hv2", hold_at="Scheduling")
    vmim = ovn_sim.migrate("ns1", vm["vm"], name="mig1")
    ovn_sim.wait_phase("ns1", "mig1", "Scheduling")
    for name in names:   # what the collection's prepare does; the sim's CNI waits for it
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", name, "options:requested-chassis=hv1,hv2",
                          "options:activation-strategy=rarp")
    ovn_sim.release("ns1", "mig1")
    done = ovn_sim.wait_phase("ns1", "mig1", ["Succeeded", "Failed"])
    assert done["status"]["phase"] == "Succeeded", failure_events(client.CoreV1Api(ovn_sim.core.api_client), "mig1")
    for name in names:
        ovn_sandbox.wait_for(lambda n=name: (ovn_sandbox.port_binding(n) or {}).get("options", {}).get(
            "additional-chassis-activated") == "hv2", what=name + " activated on hv2 by the RARP")
    ovn_sim.wait_idle()
    assert all(ovn_sandbox.has_vm_port("hv2", n) and not ovn_sandbox.has_vm_port("hv1", n) for n in names)
    assert vmim["metadata"]["uid"] == get_vmi(client.CustomObjectsApi(ovn_sim.custom.api_client), vm["vm"])[
        "status"]["migrationState"]["migrationUid"]


def test_ovn_cni_timeout_fails_without_prepare(ovn_sim, ovn_sandbox, ovn_vm, core):
    # A port pinned to the source cannot bind on the target before prepare (an unpinned one would:
    # test_kube_ovn_sim.py).
    ovn_sim.cni_timeout = 0.3
    ovn_sim.pinned_start = True
    vm = ovn_vm(namespace="ns1")
    name = vm["ports"][0]["name"]
    ovn_sim.create_vmi("ns1", vm["vm"], "hv1", ports=vm["ports"])
    ovn_sandbox.wait_for(lambda: bound(ovn_sandbox, name, "hv1"), what=name + " bound on hv1")
    ovn_sim.migrate("ns1", vm["vm"], target_node="hv2", name="mig2")
    assert ovn_sim.wait_phase("ns1", "mig2", ["Succeeded", "Failed"])["status"]["phase"] == "Failed"
    ovn_sim.wait_idle()
    [(reason, message)] = failure_events(core, "mig2")
    assert reason == "FailedMigration" and "CNI timeout" in message
    assert not ovn_sandbox.has_vm_port("hv2", name) and ovn_sandbox.has_vm_port("hv1", name)
    assert bound(ovn_sandbox, name, "hv1")


def test_command_line_emulator_and_sim(tmp_path):
    """Both CLIs as a demo runs them: separate processes, a kubeconfig file, SIGTERM to stop."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    from kubernetes import config

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig, pidfile = tmp_path / "kubeconfig", tmp_path / "emulator.pid"
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))
    emulator = subprocess.Popen([sys.executable, "-m", "k8s_emulator", "--port", str(port), "--token", "t",
                                 "--kubeconfig", str(kubeconfig), "--pidfile", str(pidfile)], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sim = None
    try:
        assert "listening" in emulator.stdout.readline()
        assert json.loads(pidfile.read_text()) == emulator.pid
        sim = subprocess.Popen([sys.executable, "-m", "kubevirt_sim", "--kubeconfig", str(kubeconfig),
                                "--step-delay", "0.01", "--vmi", "ns1/vm1@hv1"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        api = client.CustomObjectsApi(config.new_client_from_config(config_file=str(kubeconfig)))
        deadline = time.monotonic() + 30
        while (api.list_namespaced_custom_object(GROUP, VERSION, "ns1", VMIS)["items"] or [{}])[0].get(
                "status", {}).get("phase") != "Running":
            assert time.monotonic() < deadline and sim.poll() is None, sim.stdout.read() if sim.poll() else "timeout"
            time.sleep(0.05)
        api.create_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, {
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
            "metadata": {"name": "m1", "labels": {"kubevirt-sim.test/fail-at": "TargetReady"}},
            "spec": {"vmiName": "vm1"}})
        while (api.get_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1").get("status") or {}).get(
                "phase") not in ("Failed", "Succeeded"):
            assert time.monotonic() < deadline, "migration did not end"
            time.sleep(0.05)
        vmim = api.get_namespaced_custom_object(GROUP, VERSION, "ns1", VMIMS, "m1")
        assert phases(vmim)[-2:] == ["TargetReady", "Failed"]
    finally:
        for proc in (sim, emulator):
            if proc is not None:
                proc.send_signal(signal.SIGTERM)
        output = sim.communicate(timeout=20)[0] if sim else ""
        emulator.communicate(timeout=20)
    assert sim.returncode == 0 and emulator.returncode == 0, output
    assert "VMIM ns1/m1 (VMI vm1): TargetReady" in output
    assert not pidfile.exists()
