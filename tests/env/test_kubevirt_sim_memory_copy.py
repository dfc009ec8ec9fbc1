"""The simulated KubeVirt's memory copy (tests/kubevirt_sim/memory_copy.py) on the Running phase,
steered by the VMI's annotations and seen through the official client."""
from kubernetes import client

from kubevirt_sim.memory_copy import BANDWIDTH_KEY, DIRTY_RATE_KEY

GROUP, VERSION, VMIS = "kubevirt.io", "v1", "virtualmachineinstances"


def knobs(k8s_emulator, name, memory, annotations):
    api = client.CustomObjectsApi(k8s_emulator.api_client())
    api.patch_namespaced_custom_object(GROUP, VERSION, "ns1", VMIS, name, {
        "metadata": {"annotations": annotations},
        "spec": {"domain": {"resources": {"requests": {"memory": memory}}}}})


def test_a_copy_that_converges_ends_succeeded(kubevirt_sim, k8s_emulator):
    kubevirt_sim.create_vmi("ns1", "vm1", "hv1")
    knobs(k8s_emulator, "vm1", "4Mi", {BANDWIDTH_KEY: "16Mi", DIRTY_RATE_KEY: "1Mi"})
    vmim = kubevirt_sim.migrate("ns1", "vm1", target_node="hv2")["metadata"]["name"]
    done = kubevirt_sim.wait_phase("ns1", vmim, ["Succeeded", "Failed"])
    assert done["status"]["phase"] == "Succeeded"
    assert [t["phase"] for t in done["status"]["phaseTransitionTimestamps"]][-2:] == ["Running", "Succeeded"]
    assert not kubevirt_sim.errors


def test_a_guest_dirtying_memory_faster_than_the_link_fails_the_migration(kubevirt_sim, k8s_emulator):
    # 1 MiB guest: KubeVirt's completionTimeoutPerGiB (800 s) gives it 0.78 s before the abort.
    kubevirt_sim.create_vmi("ns1", "vm2", "hv1")
    knobs(k8s_emulator, "vm2", "1Mi", {BANDWIDTH_KEY: "1Mi", DIRTY_RATE_KEY: "2Mi"})
    vmim = kubevirt_sim.migrate("ns1", "vm2", target_node="hv2")["metadata"]["name"]
    done = kubevirt_sim.wait_phase("ns1", vmim, ["Succeeded", "Failed"])
    assert done["status"]["phase"] == "Failed"
    assert "did not converge" in done["status"]["migrationState"]["failureReason"]
    vmi = client.CustomObjectsApi(k8s_emulator.api_client()).get_namespaced_custom_object(GROUP, VERSION, "ns1",
                                                                                          VMIS, "vm2")
    assert vmi["status"]["nodeName"] == "hv1"
