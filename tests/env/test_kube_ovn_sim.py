"""The simulator's Kube-OVN (tests/kubevirt_sim/kube_ovn.py) and a NotReady node, on the real OVN sandbox."""
import pytest
from kubernetes import client

from kubevirt_sim.kube_ovn import ACTIVATION_ANNOTATION
from kubevirt_sim.objects import launcher_pod


@pytest.fixture
def sim(k8s_emulator, ovn_sandbox):
    from kubevirt_sim import KubevirtSim
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.02) as started:
        yield started


def options(sandbox, lsp):
    return sandbox.nbctl("get", "Logical_Switch_Port", lsp, "options").strip()


def test_vm_ports_start_unpinned_and_the_target_plug_claims_them(sim, ovn_sandbox, ovn_vm):
    """Real Kube-OVN: no requested-chassis at start, so the target pod's CNI plug makes the port move."""
    vm = ovn_vm(namespace="ns-unpinned")
    name = vm["ports"][0]["name"]
    sim.create_vmi("ns-unpinned", vm["vm"], "hv1", ports=vm["ports"])
    ovn_sandbox.wait_for(lambda: (ovn_sandbox.port_binding(name) or {}).get("chassis") == "hv1", what="bound on hv1")
    assert "requested-chassis" not in options(ovn_sandbox, name)
    sim.configure("ns-unpinned", vm["vm"], target_node="hv2", hold_at="Scheduled")
    sim.migrate("ns-unpinned", vm["vm"], name="mig-flap")
    sim.wait_phase("ns-unpinned", "mig-flap", "Scheduled")
    # Both hypervisors have the iface-id now: hv2's ovn-controller claims the running VM's port.
    ovn_sandbox.wait_for(lambda: (ovn_sandbox.port_binding(name) or {}).get("chassis") == "hv2",
                         what="the unpinned port claimed by hv2")
    sim.release("ns-unpinned", "mig-flap")
    sim.wait_phase("ns-unpinned", "mig-flap", ["Succeeded", "Failed"])
    sim.wait_idle()


def test_deleting_any_pod_of_the_vm_wipes_both_keys_on_every_port(sim, ovn_sandbox, ovn_vm, k8s_emulator):
    vm = ovn_vm(providers=("net1",), namespace="ns-wipe")
    names = [p["name"] for p in vm["ports"]]
    vmi = sim.create_vmi("ns-wipe", vm["vm"], "hv1", ports=vm["ports"])
    for lsp in names:
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", lsp, "options:requested-chassis=hv1,hv2",
                          "options:activation-strategy=rarp", "options:mcast_flood=false")
    core = client.CoreV1Api(k8s_emulator.api_client())
    stale = core.create_namespaced_pod("ns-wipe", launcher_pod(vmi, migration_uid="failed-one"))
    core.delete_namespaced_pod(stale.metadata.name, "ns-wipe")
    sim.kube_ovn.wait_wiped("ns-wipe", vm["vm"])
    for lsp in names:
        left = options(ovn_sandbox, lsp)
        assert "requested-chassis" not in left and "activation-strategy" not in left
        assert "mcast_flood" in left          # other keys survive


def test_activation_strategy_annotation_writes_both_keys(sim, ovn_sandbox, ovn_vm, k8s_emulator):
    vm = ovn_vm(namespace="ns-annot")
    name = vm["ports"][0]["name"]
    vmi = sim.create_vmi("ns-annot", vm["vm"], "hv1", ports=vm["ports"])
    core = client.CoreV1Api(k8s_emulator.api_client())
    body = launcher_pod(vmi, migration_uid="annotated")
    body["metadata"]["annotations"][ACTIVATION_ANNOTATION] = "rarp"
    pod = core.create_namespaced_pod("ns-annot", body)
    sim.bind_pod("ns-annot", pod.metadata.name, "hv3")
    ovn_sandbox.wait_for(lambda: "hv3,hv3" in options(ovn_sandbox, name), what="Kube-OVN's annotation write")
    assert "activation-strategy=rarp" in options(ovn_sandbox, name)


def test_a_stopped_ovn_controller_holds_hv_cfg_back_but_not_its_neighbours(ovn_sandbox):
    """A NotReady node: NB_Global.hv_cfg stops following nb_cfg; the other chassis' nb_cfg follows."""
    ovn_sandbox.stop_controller("hv3")
    try:
        ovn_sandbox.nbctl("--wait=sb", "sync")
        nb_cfg = int(ovn_sandbox.nbctl("get", "NB_Global", ".", "nb_cfg").strip())
        ovn_sandbox.wait_for(lambda: all(
            int(ovn_sandbox.sbctl("get", "Chassis_Private", hv, "nb_cfg").strip()) >= nb_cfg for hv in ("hv1", "hv2")),
            what="hv1 and hv2 caught up")
        assert int(ovn_sandbox.sbctl("get", "Chassis_Private", "hv3", "nb_cfg").strip()) < nb_cfg
        assert int(ovn_sandbox.nbctl("get", "NB_Global", ".", "hv_cfg").strip()) < nb_cfg
    finally:
        ovn_sandbox.restart_controller("hv3")
    ovn_sandbox.wait_hv_sync(timeout=20)
