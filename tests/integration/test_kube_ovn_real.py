"""Issue 12 through the playbooks, against Kube-OVN as it really is (tests/kubevirt_sim/kube_ovn.py): VM
ports start unpinned, any pod of the VM going wipes both owned keys, a node can be NotReady, and a pin
can be left naming a node the VM no longer runs on. Real OVN (SB rows, packets), the Kubernetes
emulator through the official client, the simulated KubeVirt, ansible-playbook."""
import sys
import threading
import uuid
from pathlib import Path

import pytest

from ansible_run import run_playbook
from faults.fault_helpers import owned_options
from kubevirt_sim.objects import launcher_pod

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "extensions" / "molecule" / "harness"))
from probe import Prober, check_early_plug_is_not_claimed  # noqa: E402

VMIMS = "virtualmachineinstancemigrations"


@pytest.fixture
def sim(k8s_emulator, ovn_sandbox):
    from kubevirt_sim import KubevirtSim
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.1) as started:
        yield started


def start_vm(sandbox, sim, node, providers=("net1",)):
    namespace, vm = "ns-" + uuid.uuid4().hex[:6], "vm1"
    ports = sandbox.create_vm(namespace, vm, providers=providers)
    sim.create_vmi(namespace, vm, node, ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
    for port in ports:
        sandbox.wait_for(lambda p=port: chassis_of(sandbox, p["name"]) == node, timeout=15,
                         what="%s bound on %s" % (port["name"], node))
    return namespace, vm, ports


def chassis_of(sandbox, name):
    return (sandbox.port_binding(name) or {}).get("chassis")


def connection(sandbox, kubeconfig, **extra):
    return dict(ovn_nb_connection=sandbox.nb_remote, ovn_sb_connection=sandbox.sb_remote, k8s_kubeconfig=kubeconfig,
                **extra)


def in_background(playbook, extra):
    box = {}
    worker = threading.Thread(target=lambda: box.update(run=run_playbook(playbook, extra_vars=extra, timeout=300)),
                              daemon=True)
    worker.start()
    return worker, box


def wait_phase(sandbox, k8s, namespace, name, phase, worker, box):
    def reached():
        if not worker.is_alive():
            raise AssertionError("the playbook ended early:\n" + box["run"].output[-3000:])
        found = [v for v in k8s.list(VMIMS, namespace) if v["metadata"]["name"] == name]
        return found and (found[0].get("status") or {}).get("phase") == phase
    sandbox.wait_for(reached, timeout=120, what="VMIM %s at %s" % (name, phase))


def test_live_migrate_pins_first_so_the_target_plug_never_claims_the_port(ovn_sandbox, k8s_emulator, kubeconfig, sim):
    namespace, vm, ports = start_vm(ovn_sandbox, sim, "hv1")
    names = [p["name"] for p in ports]
    assert set(owned_options(ovn_sandbox, names).values()) == {(None, None)}     # as Kube-OVN creates them
    # Held before the scheduler binds the target pod: no prepare can land yet.
    sim.configure(namespace, vm, target_node="hv2", hold_at="Scheduling")
    worker, box = in_background("kubeovn.live_migration.live_migrate",
                                connection(ovn_sandbox, kubeconfig, vmi=vm, namespace=namespace, vmim="mig-pin"))
    wait_phase(ovn_sandbox, k8s_emulator, namespace, "mig-pin", "Scheduling", worker, box)
    assert set(owned_options(ovn_sandbox, names).values()) == {("hv1", None)}    # pinned before the VMIM existed
    # The target pod's CNI plugs the iface-id on hv2 before prepare lands.
    check_early_plug_is_not_claimed(ovn_sandbox, ports)
    sim.release(namespace, "mig-pin")
    worker.join(300)
    assert box["run"].rc == 0, box["run"].output[-3000:]
    for name in names:
        binding = ovn_sandbox.port_binding(name)
        assert (binding["chassis"], binding["additional_chassis"]) == ("hv2", []), binding


def test_kube_ovn_wipe_during_a_prepared_migration_is_restored_before_the_switchover(ovn_sandbox, k8s_emulator,
                                                                                     kubeconfig, sim):
    namespace, vm, ports = start_vm(ovn_sandbox, sim, "hv1")
    names = [p["name"] for p in ports]
    sim.configure(namespace, vm, target_node="hv2", hold_at="PreparingTarget")
    worker, box = in_background("kubeovn.live_migration.live_migrate",
                                connection(ovn_sandbox, kubeconfig, vmi=vm, namespace=namespace, vmim="mig-wipe"))
    wait_phase(ovn_sandbox, k8s_emulator, namespace, "mig-wipe", "PreparingTarget", worker, box)
    ovn_sandbox.wait_for(lambda: set(owned_options(ovn_sandbox, names).values()) == {("hv1,hv2", "rarp")},
                         timeout=120, what="prepare to land")
    # An earlier failed migration's target pod is deleted now: Kube-OVN cleans the VM's ports.
    vmi = sim.custom.get_namespaced_custom_object("kubevirt.io", "v1", namespace, "virtualmachineinstances", vm)
    stale = sim.core.create_namespaced_pod(namespace, launcher_pod(vmi, migration_uid="an-earlier-failed-one"))
    sim.core.delete_namespaced_pod(stale.metadata.name, namespace)
    sim.kube_ovn.wait_wiped(namespace, vm)
    assert set(owned_options(ovn_sandbox, names).values()) == {(None, None)}
    # Target ready; held again at Running, before the switchover: the migrate role has restored the keys.
    sim.move_hold(namespace, "mig-wipe", "Running")
    ovn_sandbox.wait_for(lambda: set(owned_options(ovn_sandbox, names).values()) == {("hv1,hv2", "rarp")}
                         or not worker.is_alive(), timeout=120, what="the prepare re-asserted")
    assert set(owned_options(ovn_sandbox, names).values()) == {("hv1,hv2", "rarp")}, box.get("run")
    for name in names:
        binding = ovn_sandbox.port_binding(name)
        assert (binding["chassis"], binding["requested_additional_chassis"]) == ("hv1", ["hv2"]), binding
    sim.release(namespace, "mig-wipe")
    worker.join(300)
    assert box["run"].rc == 0, box["run"].output[-3000:]
    for name in names:
        binding = ovn_sandbox.port_binding(name)
        assert (binding["chassis"], binding["additional_chassis"]) == ("hv2", []), binding


def test_a_notready_node_elsewhere_neither_delays_nor_cancels_a_migration(
        ovn_sandbox, k8s_emulator, kubeconfig, sim):
    namespace, vm, ports = start_vm(ovn_sandbox, sim, "hv1")
    names = [p["name"] for p in ports]
    ovn_sandbox.stop_controller("hv3")
    try:
        run = run_playbook("kubeovn.live_migration.live_migrate",
                           extra_vars=connection(ovn_sandbox, kubeconfig, vmi=vm, namespace=namespace,
                                                 target_node="hv2", vmim="mig-notready"))
    finally:
        ovn_sandbox.restart_controller("hv3")
    assert run.rc == 0, run.output[-3000:]
    # No wait ran into its timeout (it would warn that a chassis "did not apply it within" 30 s).
    assert "did not apply it within" not in run.output and "hv3" not in run.output, run.output[-3000:]
    [vmim] = [v for v in k8s_emulator.list(VMIMS, namespace) if v["metadata"]["name"] == "mig-notready"]
    assert vmim["status"]["phase"] == "Succeeded"          # not cancelled (a cancel deletes the VMIM)
    for name in names:
        binding = ovn_sandbox.port_binding(name)
        assert (binding["chassis"], binding["additional_chassis"]) == ("hv2", []), binding
    ovn_sandbox.wait_hv_sync(timeout=30)


def test_the_sweep_repairs_a_stale_pin_and_drops_the_pins_of_a_vm_that_is_gone(ovn_sandbox, kubeconfig, sim):
    # The VM runs on hv3 now (restarted there after its node failed); a late write left requested-chassis=hv2.
    namespace, vm, ports = start_vm(ovn_sandbox, sim, "hv3")
    names = [p["name"] for p in ports]
    for name in names:
        ovn_sandbox.nbctl("set", "Logical_Switch_Port", name, "options:requested-chassis=hv2")
    for name in names:
        ovn_sandbox.wait_for(lambda n=name: chassis_of(ovn_sandbox, n) is None, timeout=15,
                             what="%s released: hv3 refuses a port pinned to hv2" % name)
    prober = Prober(ovn_sandbox, peer_hv="hv1")
    assert prober.probe(ports) == {name: [] for name in names}
    # Ports of a VM deleted meanwhile, still pinned.
    gone = ovn_sandbox.create_vm(namespace, "vm-gone")
    ovn_sandbox.nbctl("set", "Logical_Switch_Port", gone[0]["name"], "options:requested-chassis=hv1")

    run = run_playbook("kubeovn.live_migration.reconcile", extra_vars=connection(ovn_sandbox, kubeconfig))
    assert run.rc == 0, run.output[-3000:]
    assert set(owned_options(ovn_sandbox, names).values()) == {("hv3", None)}
    assert owned_options(ovn_sandbox, [gone[0]["name"]]) == {gone[0]["name"]: (None, None)}
    for name in names:
        ovn_sandbox.wait_for(lambda n=name: chassis_of(ovn_sandbox, n) == "hv3", timeout=15, what=name + " on hv3")
    assert prober.probe(ports) == {name: ["hv3"] for name in names}
    ovn_sandbox.delete_lsp(gone[0]["name"])
