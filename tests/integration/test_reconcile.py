"""Reconcile is the planner applied to every VMI in play (issue 11): one run of the reconcile playbook
prepares a migration whose prepare events were all lost, and cuts over one whose Succeeded was lost,
on real OVN, the Kubernetes emulator and the simulated KubeVirt (which moves the VM's OVS ports)."""
import json
import uuid

from ansible_run import run_playbook
from faults.fault_helpers import owned_options


def test_one_reconcile_run_prepares_a_lost_prepare_and_cuts_over_a_lost_succeeded(ovn_sandbox, k8s_emulator,
                                                                                  kubeconfig):
    from kubevirt_sim import KubevirtSim
    namespace, vm = "ns-" + uuid.uuid4().hex[:6], "vm1"
    conn = dict(ovn_nb_connection=ovn_sandbox.nb_remote, ovn_sb_connection=ovn_sandbox.sb_remote,
                k8s_kubeconfig=kubeconfig)
    # The lost events alone: the old pinned start, and no Kube-OVN wipe when the source pod ends
    # (the wipe would clear the two chassis a lost Succeeded leaves behind).
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05, pinned_start=True,
                     kube_ovn=False) as sim:
        ports = ovn_sandbox.create_vm(namespace, vm, providers=("net1",))
        names = [p["name"] for p in ports]
        sim.create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
        sim.configure(namespace, vm, target_node="hv2", hold_at="Running")
        vmim = sim.migrate(namespace, vm, name="lost-" + vm)["metadata"]["name"]
        sim.wait_phase(namespace, vmim, ["Running"])
        # No event reached the collection: the ports are as the VM started.
        assert set(owned_options(ovn_sandbox, names).values()) == {("hv1", None)}

        first = run_playbook("kubeovn.live_migration.reconcile", extra_vars=conn)
        assert first.rc == 0, first.output[-3000:]
        assert set(owned_options(ovn_sandbox, names).values()) == {("hv1,hv2", "rarp")}
        for name in names:
            assert ovn_sandbox.port_binding(name)["requested_additional_chassis"] == ["hv2"]
        assert "%s/%s: prepare" % (namespace, vm) in first.output

        sim.release(namespace, vmim)
        sim.wait_phase(namespace, vmim, ["Succeeded"])
        # The Succeeded event is lost too: both NICs still name two chassis.
        assert set(owned_options(ovn_sandbox, names).values()) == {("hv1,hv2", "rarp")}

        second = run_playbook("kubeovn.live_migration.reconcile", extra_vars=conn)
        assert second.rc == 0, second.output[-3000:]
        assert set(owned_options(ovn_sandbox, names).values()) == {("hv2", None)}
        for name in names:
            binding = ovn_sandbox.port_binding(name)
            assert (binding["chassis"], binding["additional_chassis"]) == ("hv2", []), binding
        assert "%s/%s: cutover" % (namespace, vm) in second.output
        reasons = [e["reason"] for e in k8s_emulator.list("events", namespace)
                   if e.get("reportingComponent") == "kubeovn-live-migration"]
        assert sorted(reasons) == ["NetworkCutover", "NetworkPrepared"], reasons

        # Nothing left to do: a third run changes nothing.
        third = run_playbook("kubeovn.live_migration.reconcile", extra_vars=conn)
        assert third.rc == 0 and "(changed)" not in third.output, third.output[-3000:]


# A callback that writes one line per task a host ran (not skipped): its action and name.
CALLS_CALLBACK = """
import json, os
from ansible.plugins.callback import CallbackBase

class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "klm_calls"
    CALLBACK_NEEDS_ENABLED = True

    def _log(self, result):
        with open(os.environ["KLM_CALLS_LOG"], "a") as handle:
            handle.write(json.dumps([result._task.action, result._task.get_name()]) + "\\n")

    def v2_runner_on_ok(self, result):
        self._log(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._log(result)
"""


def module_calls(tmp_path, playbook, extra_vars):
    """Run a playbook; return the names of the collection's module tasks it ran."""
    (tmp_path / "klm_calls.py").write_text(CALLS_CALLBACK)
    log = tmp_path / "calls.jsonl"
    run = run_playbook(playbook, extra_vars=extra_vars, env={
        "ANSIBLE_CALLBACK_PLUGINS": str(tmp_path), "ANSIBLE_CALLBACKS_ENABLED": "klm_calls",
        "KLM_CALLS_LOG": str(log), "PROMETHEUS_PUSHGATEWAY_URL": ""})
    assert run.rc == 0, run.output[-3000:]
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return [name for action, name in calls if action.startswith("kubeovn.live_migration.")]


def test_an_ad_hoc_prepare_makes_three_module_calls(ovn_sandbox, k8s_emulator, kubeconfig, tmp_path):
    """Issue 11: read (vmim_info with the plan) -> write (ovn_lsp_batch) -> record (vmi_event)."""
    from kubevirt_sim import KubevirtSim
    namespace, vm = "ns-" + uuid.uuid4().hex[:6], "vm1"
    conn = dict(ovn_nb_connection=ovn_sandbox.nb_remote, ovn_sb_connection=ovn_sandbox.sb_remote,
                k8s_kubeconfig=kubeconfig, vmi=vm, namespace=namespace)
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05) as sim:
        ports = ovn_sandbox.create_vm(namespace, vm)
        sim.create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
        sim.configure(namespace, vm, target_node="hv2", hold_at="Running")
        vmim = sim.migrate(namespace, vm)["metadata"]["name"]
        sim.wait_phase(namespace, vmim, ["Running"])
        calls = module_calls(tmp_path, "kubeovn.live_migration.prepare", conn)
        assert set(owned_options(ovn_sandbox, [p["name"] for p in ports]).values()) == {("hv1,hv2", "rarp")}
        assert len(calls) <= 3, calls
        assert [c.split(" : ")[-1] for c in calls] == [
            "Read the migrations and decide", "Write what the plans call for, in one transaction",
            "Post an Event on each VMI"], calls
        sim.release(namespace, vmim)
