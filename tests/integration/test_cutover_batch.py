"""The cutover playbook with `migrations` (what the rulebook runs for the event source's cutover_batch
event, after a node drain) on real OVN, the Kubernetes emulator and the simulated KubeVirt: every VM of
the batch read back, decided and written in one run; the SB then binds each port on the target only. A
migration that failed is rolled back instead; VMs already cut over stay as they are."""
import uuid

from ansible_run import run_playbook
from faults.fault_helpers import owned_options


def make_vms(ovn_sandbox, sim, namespace, names, fail=()):
    """VMs on hv1 migrating to hv2, held at Running with their ports prepared (hv1,hv2 + rarp)."""
    vms = []
    for index, vm in enumerate(names):
        ports = ovn_sandbox.create_vm(namespace, vm, providers=("net1",) if index == 0 else ())
        sim.create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
        sim.configure(namespace, vm, target_node="hv2", hold_at="Running", fail_at="Running" if vm in fail else None)
        vmim = sim.migrate(namespace, vm, name="m-" + vm)
        vms.append({"vmi": vm, "namespace": namespace, "vmim": vmim["metadata"]["name"],
                    "vmim_uid": vmim["metadata"]["uid"], "ports": [p["name"] for p in ports]})
    for vm in vms:
        sim.wait_phase(namespace, vm["vmim"], ["Running"])
        for port in vm["ports"]:
            ovn_sandbox.nbctl("set", "Logical_Switch_Port", port, "options:requested-chassis=hv1,hv2",
                              "options:activation-strategy=rarp")
    return vms


def batch_of(vms):
    """The migrations of a cutover_batch event (the source's batch fields)."""
    return [{"vmi": v["vmi"], "namespace": v["namespace"], "vmim": v["vmim"], "vmim_uid": v["vmim_uid"],
             "source_node": "hv1", "target_node": "hv2", "network_opt": "", "target_scheduled_at": None}
            for v in vms]


def on_target_only(ovn_sandbox, vm):
    """NB: requested-chassis=hv2, no activation strategy; SB: bound on hv2, no additional chassis."""
    assert set(owned_options(ovn_sandbox, vm["ports"]).values()) == {("hv2", None)}, vm
    for port in vm["ports"]:
        binding = ovn_sandbox.port_binding(port)
        assert (binding["chassis"], binding["additional_chassis"], binding["requested_additional_chassis"]) == (
            "hv2", [], []), (port, binding)


def test_a_batch_cuts_every_vm_over_in_one_run(ovn_sandbox, k8s_emulator, kubeconfig):
    from kubevirt_sim import KubevirtSim
    ns1, ns2 = "ns-" + uuid.uuid4().hex[:6], "ns-" + uuid.uuid4().hex[:6]
    conn = dict(ovn_nb_connection=ovn_sandbox.nb_remote, ovn_sb_connection=ovn_sandbox.sb_remote,
                k8s_kubeconfig=kubeconfig)
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05) as sim:
        # vm2's migration fails at Running; the others succeed (vm0 with two NICs); vm3 in another namespace.
        vms = make_vms(ovn_sandbox, sim, ns1, ["vm0", "vm1", "vm2"], fail=("vm2",))
        vms += make_vms(ovn_sandbox, sim, ns2, ["vm3"])
        for vm in vms:
            sim.release(vm["namespace"], vm["vmim"])
        for vm in vms:
            sim.wait_phase(vm["namespace"], vm["vmim"], ["Failed" if vm["vmi"] == "vm2" else "Succeeded"])

        # One namespace: its VMIs read there by name.
        run = run_playbook("kubeovn.live_migration.cutover", extra_vars=dict(conn, migrations=batch_of(vms[:3])))
        assert run.rc == 0, run.output[-4000:]
        for vm in vms[:2]:
            on_target_only(ovn_sandbox, vm)
        # Failed meanwhile: the planner rolls it back to the node the VMI runs on.
        assert set(owned_options(ovn_sandbox, vms[2]["ports"]).values()) == {("hv1", None)}
        assert "vm2: rollback - migration m-vm2 failed: bind on hv1 only (changed)" in run.output, run.output[-3000:]
        # Not in that batch: untouched (Kube-OVN's controller wiped our keys when its source pod went).
        assert set(owned_options(ovn_sandbox, vms[3]["ports"]).values()) != {("hv2", None)}
        assert "vm3" not in run.output
        reasons = {(e["involvedObject"]["name"], e["reason"]) for e in k8s_emulator.list("events", ns1)}
        assert {("vm0", "NetworkCutover"), ("vm1", "NetworkCutover"), ("vm2", "NetworkRolledBack")} <= reasons

        # Two namespaces (namespace/name); the VMs already cut over are left as they are.
        again = run_playbook("kubeovn.live_migration.cutover", extra_vars=dict(conn, migrations=batch_of(vms)))
        assert again.rc == 0, again.output[-4000:]
        for vm in vms[:2] + vms[3:]:
            on_target_only(ovn_sandbox, vm)
        assert again.output.count("(changed)") == 1 and "vm3: cutover" in again.output, again.output[-3000:]
        assert ("vm3", "NetworkCutover") in {(e["involvedObject"]["name"], e["reason"])
                                             for e in k8s_emulator.list("events", ns2)}


def test_a_batch_without_namespaces_fails_clearly(ovn_sandbox):
    run = run_playbook("kubeovn.live_migration.cutover",
                       extra_vars=dict(ovn_nb_connection=ovn_sandbox.nb_remote, migrations=[{"vmi": "x"}]))
    assert run.rc != 0 and "cutover: each of cutover_migrations needs vmi and namespace" in run.output
    assert "Traceback" not in run.output
