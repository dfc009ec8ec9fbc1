"""A VM restarted on another node after its migration, through the real ansible-rulebook (issue 12): the
cutover left requested-chassis=hv2 on its ports; hv2 fails and the VM is re-created on hv3, where hv3's
ovn-controller refuses ports pinned to hv2 (the VM is offline). The event source sees the VMI run on
another node with no migration in flight and the rulebook runs cleanup for it: the planner repairs the
pin. Asserted on NB options, SB Port_Binding rows and packets."""
import sys
from pathlib import Path

import pytest

from rulebook_process import rulebook_lab, vm_started_on_hv1
from test_rulebook_end_to_end import CNI_TIMEOUT, settled

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "extensions" / "molecule" / "harness"))
from probe import Prober  # noqa: E402

pytestmark = pytest.mark.timeout(400)


@pytest.fixture
def lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path):
    yield from rulebook_lab(k8s_emulator, ovn_sandbox, kubeconfig, tmp_path, CNI_TIMEOUT, pinned_start=False)


def test_a_vm_restarted_elsewhere_gets_the_pin_its_cutover_left_repaired(lab, ovn_sandbox, ovn_vm):
    sim, rulebook = lab
    made = vm_started_on_hv1(sim, ovn_vm)
    namespace, vm = made["namespace"], made["vm"]
    ports = [p["name"] for p in made["ports"]]
    run = rulebook()
    run.wait_log("following VirtualMachineInstanceMigrations")
    sim.migrate(namespace, vm, target_node="hv2", name="mig1")
    assert sim.wait_phase(namespace, "mig1", ["Succeeded", "Failed"], timeout=CNI_TIMEOUT + 60)["status"]["phase"] \
        == "Succeeded"
    settled(ovn_sandbox, ports, {"requested-chassis": "hv2"}, "hv2")
    # The cutover rule's own run (its playbook may start after the prepare run already cut over) has ended.
    ovn_sandbox.wait_for(lambda: "PLAY [Cut migrated VMIs" in run.log()
                         and run.log().count("PLAY RECAP") == run.log().count("PLAY ["), timeout=120,
                         what="the rulebook's cutover run finished")

    # hv2 fails. kube-ovn-controller ran there too: the old pod's deletion is not handled (no wipe)
    # before the VM is re-created on hv3, whose ovn-controller refuses a port pinned to hv2.
    sim.kube_ovn.wipe_enabled = False
    for lsp in ports:
        ovn_sandbox.remove_vm_port("hv2", lsp)
    sim.custom.delete_namespaced_custom_object("kubevirt.io", "v1", namespace, "virtualmachineinstances", vm)
    sim.create_vmi(namespace, vm, "hv3", ports=made["ports"])

    run.wait_log("re-created there since")
    settled(ovn_sandbox, ports, {"requested-chassis": "hv3"}, "hv3")
    reached = Prober(ovn_sandbox, peer_hv="hv1").probe(made["ports"])
    assert reached == dict((lsp, ["hv3"]) for lsp in ports), reached
