"""The prepare_batch playbook (what the rulebook runs for the event source's prepare_batch event) on
real OVN, the Kubernetes emulator and the simulated KubeVirt: many VMs bound in one run; a migration
that ended before the batch landed is handed to cleanup; ports already cut over stay as they are."""
import uuid

from ansible_run import run_playbook
from faults.fault_helpers import owned_options

PREPARED = ("hv1,hv2", "rarp")


def make_vms(ovn_sandbox, sim, count, namespace, fail=None):
    vms = []
    for index in range(count):
        vm = "vm%d" % index
        ports = ovn_sandbox.create_vm(namespace, vm, providers=("net1",) if index == 0 else ())
        sim.create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
        sim.configure(namespace, vm, target_node="hv2", hold_at="Running", fail_at=(fail or {}).get(vm))
        vmim = sim.migrate(namespace, vm, name="m-" + vm)
        vms.append({"vmi": vm, "namespace": namespace, "vmim": vmim["metadata"]["name"],
                    "vmim_uid": vmim["metadata"]["uid"], "ports": [p["name"] for p in ports]})
    for vm in vms:
        sim.wait_phase(namespace, vm["vmim"], ["Running"])
    return vms


def batch_of(vms):
    return [{"vmi": v["vmi"], "namespace": v["namespace"], "vmim": v["vmim"], "vmim_uid": v["vmim_uid"],
             "source_node": "hv1", "target_node": "hv2", "network_opt": "", "target_scheduled_at": None}
            for v in vms]


def test_a_batch_binds_every_vm_in_one_run(ovn_sandbox, k8s_emulator, kubeconfig):
    from kubevirt_sim import KubevirtSim
    namespace = "ns-" + uuid.uuid4().hex[:6]
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05) as sim:
        # vm3's migration fails before the batch lands; vm2 was already cut over.
        vms = make_vms(ovn_sandbox, sim, 4, namespace, fail={"vm3": "Running"})
        sim.release(namespace, vms[3]["vmim"])
        sim.wait_phase(namespace, vms[3]["vmim"], ["Failed"])
        for port in vms[2]["ports"]:
            ovn_sandbox.nbctl("set", "Logical_Switch_Port", port, "options:requested-chassis=hv2")
        conn = dict(ovn_nb_connection=ovn_sandbox.nb_remote, ovn_sb_connection=ovn_sandbox.sb_remote,
                    k8s_kubeconfig=kubeconfig)
        run = run_playbook("kubeovn.live_migration.prepare_batch", extra_vars=dict(conn, migrations=batch_of(vms)))
        assert run.rc == 0, run.output[-4000:]
        for vm in vms[:2]:
            assert set(owned_options(ovn_sandbox, vm["ports"]).values()) == {PREPARED}, vm
            for port in vm["ports"]:
                assert ovn_sandbox.port_binding(port)["requested_additional_chassis"] == ["hv2"]
        assert set(owned_options(ovn_sandbox, vms[2]["ports"]).values()) == {("hv2", None)}
        assert "left as they are: a cutover to their target already landed" in run.output
        # Ended meanwhile: handed to cleanup, back on the node the VMI runs on.
        assert set(owned_options(ovn_sandbox, vms[3]["ports"]).values()) == {("hv1", None)}
        assert "vm3: rollback - migration m-vm3 failed: bind on hv1 only (changed)" in run.output, run.output[-3000:]
        reasons = {(e["involvedObject"]["name"], e["reason"]) for e in k8s_emulator.list("events", namespace)}
        assert {("vm0", "NetworkPrepared"), ("vm1", "NetworkPrepared")} <= reasons
        # Again: nothing changes.
        again = run_playbook("kubeovn.live_migration.prepare_batch", extra_vars=dict(conn, migrations=batch_of(vms[:2])))
        assert again.rc == 0 and "(changed)" not in again.output and "changed=0" in again.output, again.output[-3000:]
        for vm in vms:
            sim.release(namespace, vm["vmim"])


def test_a_batch_without_migrations_fails_clearly(ovn_sandbox):
    run = run_playbook("kubeovn.live_migration.prepare_batch",
                       extra_vars=dict(ovn_nb_connection=ovn_sandbox.nb_remote, migrations=[{"vmi": "x"}]))
    assert run.rc != 0 and "prepare: each of prepare_migrations needs vmi and namespace" in run.output
    assert "Traceback" not in run.output
