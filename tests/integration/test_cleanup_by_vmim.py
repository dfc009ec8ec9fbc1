"""The cleanup playbook given only the VMIM (no VMI): the role has read no ports, so converge must
get a real null and read them itself. scripts/test also runs this file on the oldest ansible-core
(before 2.19 a filtered template that yields null is the string "None", which converge's argument
spec rejected)."""
import pytest

from ansible_run import run_playbook
from faults.fault_helpers import owned_options


@pytest.fixture
def lab(ovn_sandbox, k8s_emulator, kubeconfig):
    from kubevirt_sim import KubevirtSim
    sim = KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.5).start()
    try:
        yield {"ovn": ovn_sandbox, "sim": sim, "kubeconfig": kubeconfig}
    finally:
        sim.stop()


@pytest.fixture
def plain_ovn_lab(ovn_sandbox, k8s_emulator, kubeconfig):
    """The same, without Kube-OVN's controller: no wipe of the ports when a pod of the VM goes (plain
    OVN, or a Kube-OVN whose wipe lost the race), so nothing but the collection unbinds the target."""
    from kubevirt_sim import KubevirtSim
    sim = KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.5, kube_ovn=False).start()
    try:
        yield {"ovn": ovn_sandbox, "sim": sim, "kubeconfig": kubeconfig}
    finally:
        sim.stop()


def variables(lab, **extra):
    return dict(ovn_nb_connection=lab["ovn"].nb_remote, ovn_sb_connection=lab["ovn"].sb_remote,
                k8s_kubeconfig=lab["kubeconfig"], **extra)


def test_cleanup_by_vmim_alone_rolls_a_failed_migration_back(lab):
    namespace, vm = "ns-vmim-only", "vm1"
    ports = lab["ovn"].create_vm(namespace, vm, providers=("net1",))
    lab["sim"].create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
    names = [p["name"] for p in ports]
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="TargetReady", fail_at="TargetReady")
    lab["sim"].migrate(namespace, vm, name="m1")
    lab["sim"].wait_phase(namespace, "m1", ["TargetReady"])
    prep = run_playbook("kubeovn.live_migration.prepare",
                        extra_vars=variables(lab, vmi=vm, namespace=namespace, vmim="m1"))
    assert prep.rc == 0, prep.output[-3000:]
    assert set(owned_options(lab["ovn"], names).values()) == {("hv1,hv2", "rarp")}
    lab["sim"].release(namespace, "m1")
    lab["sim"].wait_phase(namespace, "m1", ["Failed"])
    run = run_playbook("kubeovn.live_migration.cleanup", extra_vars=variables(lab, namespace=namespace, vmim="m1"))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned_options(lab["ovn"], names).values()) == {("hv1", None)}


def test_cleanup_by_vmim_alone_with_cancel_rolls_back_a_running_migration(plain_ovn_lab):
    """`cleanup -e vmim=... -e cancel=true` with no vmi: the migration is cancelled, and the VMI it
    named, read from the VMIM's spec.vmiName before the cancel deletes the VMIM, gets its ports back
    on the node it runs on. (The role used to look the deleted VMIM up by name for the rollback, find
    no VMI in play and leave the ports bound on both chassis, hv1,hv2.)"""
    lab = plain_ovn_lab
    namespace, vm = "ns-vmim-cancel", "vm1"
    ports = lab["ovn"].create_vm(namespace, vm, providers=("net1",))
    lab["sim"].create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
    names = [p["name"] for p in ports]
    lab["sim"].configure(namespace, vm, target_node="hv2", hold_at="Running")
    lab["sim"].migrate(namespace, vm, name="m2")
    lab["sim"].wait_phase(namespace, "m2", ["Running"])
    prep = run_playbook("kubeovn.live_migration.prepare",
                        extra_vars=variables(lab, vmi=vm, namespace=namespace, vmim="m2"))
    assert prep.rc == 0, prep.output[-3000:]
    assert set(owned_options(lab["ovn"], names).values()) == {("hv1,hv2", "rarp")}
    run = run_playbook("kubeovn.live_migration.cleanup",
                       extra_vars=variables(lab, namespace=namespace, vmim="m2", cancel=True))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned_options(lab["ovn"], names).values()) == {("hv1", None)}, run.output[-3000:]
    # The VMIM is gone: KubeVirt aborts a migration whose VMIM is deleted.
    left = lab["sim"].custom.list_namespaced_custom_object("kubevirt.io", "v1", namespace,
                                                           "virtualmachineinstancemigrations")["items"]
    assert [m["metadata"]["name"] for m in left] == []
