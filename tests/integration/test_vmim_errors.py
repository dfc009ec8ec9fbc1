"""What the operator sees when Kubernetes says no: 401, 403, 404, no server, no library, bad
options. Always a clear msg through ansible-playbook, never a traceback, nothing written."""
import socket

from ansible_run import run_module
from test_vmim_helpers import NS, VMIMS, add_vmi, assert_clean_failure, in_background, run_tasks, until

# Debian's python3 has no `kubernetes` package: the module must say what to install.
SYSTEM_PYTHON = "/usr/bin/python3"


def test_missing_kubernetes_library_says_what_to_install(kubeconfig):
    result = run_module("vmim_info", {"kubeconfig": kubeconfig}, env={"ANSIBLE_PYTHON_INTERPRETER": SYSTEM_PYTHON})
    assert_clean_failure(result, "the kubernetes Python library is required", "pip install kubernetes")


def test_configuration_permission_and_option_errors(k8s_emulator, kubeconfig, tmp_path):
    add_vmi(k8s_emulator)
    k8s_emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                         "metadata": {"name": "m1", "namespace": NS}, "spec": {"vmiName": "web-1"},
                         "status": {"phase": "Scheduling"}})
    k8s_emulator.deny("create", VMIMS, namespace=NS)
    k8s_emulator.deny("watch", "pods")
    wrong_token = str(k8s_emulator.write_kubeconfig(tmp_path / "wrong-token", token="not-the-token"))
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        nowhere = "http://127.0.0.1:%d" % sock.getsockname()[1]
    ok = {"kubeconfig": kubeconfig, "namespace": NS}
    cases = [
        ({"module": "vmim", "kubeconfig": kubeconfig, "namespace": NS, "vmi": "db-0"},
         ['may not create resource "virtualmachineinstancemigrations" in API group "kubevirt.io" in namespace "vms"',
          k8s_emulator.user]),
        (dict(ok, name="m1", wait_for=["target_scheduled"]),
         ['may not watch resource "pods" in API group "core" in namespace "vms"']),
        ({"kubeconfig": wrong_token, "namespace": NS},
         ["authentication to the Kubernetes API at " + k8s_emulator.url, "401", "check api_key/kubeconfig"]),
        # An API server without KubeVirt's API (here: a path where nothing is served).
        ({"host": k8s_emulator.url + "/no-such-prefix", "api_key": k8s_emulator.token, "namespace": NS},
         ["does not serve virtualmachineinstancemigrations.kubevirt.io/v1", "is KubeVirt installed"]),
        ({"host": nowhere, "api_key": "unused-token", "namespace": NS},
         ["cannot reach the Kubernetes API at " + nowhere, "refused"]),
        ({"kubeconfig": str(tmp_path / "nope")}, ["cannot load kubeconfig", "nope", "no such file"]),
        (dict(ok, wait_for=["Succeeded"]), ["wait_for needs the migration to wait for"]),
        (dict(ok, name="m1", wait_for=["target_scheduled", "Running"]),
         ["target_scheduled cannot be combined with phases"]),
        (dict(ok, name="m1", wait_for=["Done"]), ["value of wait_for must be one or more of"]),
        ({"kubeconfig": kubeconfig, "name": "m1"}, ["missing parameter(s) required by 'name': namespace"]),
    ]
    results = run_tasks([(case[0].pop("module", "vmim_info"), case[0]) for case in cases])
    for result, case in zip(results, cases):
        assert_clean_failure(result, *case[1])
    assert [o["metadata"]["name"] for o in k8s_emulator.list(VMIMS, NS)] == ["m1"]


def test_deleted_while_waiting(k8s_emulator, kubeconfig):
    k8s_emulator.create({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceMigration",
                         "metadata": {"name": "m1", "namespace": NS}, "spec": {"vmiName": "db-0"},
                         "status": {"phase": "Running"}})
    worker, box = in_background("vmim_info", {"kubeconfig": kubeconfig, "namespace": NS, "name": "m1",
                                              "wait_for": ["Succeeded"], "wait_timeout": 60})
    until(lambda: k8s_emulator.open_watches >= 1, "the module to watch")
    k8s_emulator.delete(VMIMS, NS, "m1")
    worker.join(120)
    result = box["result"]
    assert_clean_failure(result, "migration vms/m1 was deleted while waiting for phase Succeeded")
    assert result["migrations"][0]["name"] == "m1"
