"""Compare-and-swap across tasks, on the real OVN sandbox: a write carries the owned options it was
decided on and refuses a VMI whose ports changed since; the converge role then reads them again and
decides anew. The race it closes (issue 12): the reconcile sweep reads leftover marks and decides a
repair, a new migration's prepare lands, and the sweep's write would undo it."""
import sys
import uuid
from pathlib import Path

from ansible_run import assert_clean_failure, assert_ok, run_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "faults"))

from fault_helpers import Background, TaskGate, owned_options  # noqa: E402

PREPARED_HV2 = {"requested-chassis": "hv1,hv2", "activation-strategy": "rarp"}


def set_owned(sandbox, names, chassis, strategy):
    """Another writer (a prepare of another run, Kube-OVN, an operator) sets our two keys."""
    for name in names:
        sandbox.nbctl("set", "Logical_Switch_Port", name, 'options:requested-chassis="%s"' % chassis,
                      "options:activation-strategy=%s" % strategy)


def test_batch_refuses_a_vmi_whose_ports_changed_and_writes_the_others(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    changed, untouched = ovn_vm(hv="hv1"), ovn_vm(hv="hv1")
    name, other = changed["ports"][0]["name"], untouched["ports"][0]["name"]
    # The decision read both VMIs' ports carrying no mark; then another writer prepared `changed` to hv3.
    set_owned(sb, [name], "hv1,hv3", "rarp")
    items = [dict(vmi=vm["vm"], namespace=vm["namespace"], state="prepared", source_chassis="hv1",
                  target_chassis="hv2", expected={port: {}})
             for vm, port in ((changed, name), (untouched, other))]

    failed = run_module("kubeovn.live_migration.ovn_lsp_batch", sb.module_args(vmis=items))
    assert_clean_failure(failed, "changed since the decision", name, "requested-chassis=hv1,hv3")
    assert [c["ref"] for c in failed["conflicts"]] == ["%s/%s" % (changed["namespace"], changed["vm"])]
    # Nothing at all was written.
    assert owned_options(sb, [name, other]) == {name: ("hv1,hv3", "rarp"), other: (None, None)}

    skipped = assert_ok(run_module("kubeovn.live_migration.ovn_lsp_batch", sb.module_args(vmis=items,
                                                                                          on_conflict="skip")))
    assert skipped["changed"] and [c["vmi"] for c in skipped["conflicts"]] == [changed["vm"]]
    assert owned_options(sb, [name, other]) == {name: ("hv1,hv3", "rarp"), other: ("hv1,hv2", "rarp")}
    assert sb.port_binding(name)["requested_additional_chassis"] == [sb.chassis_name("hv3")]

    # ovn_lsp takes the same expectation: the ports as they are now pass.
    single = dict(vmi=changed["vm"], namespace=changed["namespace"], state="rolled_back", source_chassis="hv1")
    assert_clean_failure(run_module("kubeovn.live_migration.ovn_lsp", sb.module_args(expected={name: {}}, **single)),
                         "changed since the decision")
    now = {name: {"requested-chassis": "hv1,hv3", "activation-strategy": "rarp"}}
    assert assert_ok(run_module("kubeovn.live_migration.ovn_lsp", sb.module_args(expected=now, **single)))["changed"]
    assert owned_options(sb, [name]) == {name: ("hv1", None)}


def test_the_sweep_redecides_when_a_prepare_lands_between_its_read_and_its_write(ovn_sandbox, k8s_emulator,
                                                                                 kubeconfig, tmp_path):
    from kubevirt_sim import KubevirtSim
    namespace, vm = "ns-" + uuid.uuid4().hex[:6], "vm1"
    conn = dict(ovn_nb_connection=ovn_sandbox.nb_remote, ovn_sb_connection=ovn_sandbox.sb_remote,
                k8s_kubeconfig=kubeconfig)
    with KubevirtSim(k8s_emulator.api_client(), ovn=ovn_sandbox, step_delay=0.05) as sim:
        ports = ovn_sandbox.create_vm(namespace, vm, providers=("net1",))
        names = [p["name"] for p in ports]
        sim.create_vmi(namespace, vm, "hv1", ports=[{"name": p["name"], "mac": p["mac"]} for p in ports])
        # Marks a lost rollback left behind; no migration in flight: the sweep decides a repair to hv1.
        set_owned(ovn_sandbox, names, "hv1,hv2", "rarp")

        gate = TaskGate(tmp_path / "gate", "Write what the plans call for")
        sweep = Background("kubeovn.live_migration.reconcile", extra_vars=conn, env=gate.env())
        sweep.start()
        gate.wait_reached(sweep)
        # Between the sweep's read and its write: a new migration to hv3 starts and its prepare lands.
        sim.configure(namespace, vm, target_node="hv3", hold_at="Running")
        vmim = sim.migrate(namespace, vm, name="new-" + vm)["metadata"]["name"]
        sim.wait_phase(namespace, vmim, ["Running"])
        set_owned(ovn_sandbox, names, "hv1,hv3", "rarp")
        gate.open()
        run = sweep.result()
        assert run.rc == 0, run.output[-4000:]

        # The sweep did not undo the prepare: it read the ports again and decided anew (prepare, already so).
        assert set(owned_options(ovn_sandbox, names).values()) == {("hv1,hv3", "rarp")}
        for name in names:
            assert ovn_sandbox.port_binding(name)["requested_additional_chassis"] == [ovn_sandbox.chassis_name("hv3")]
        assert "Decide again for their VMIs" in run.output
        assert "%s/%s: none - migration %s (Running): bind on hv1 and hv3" % (namespace, vm, vmim) in run.output
        assert "the ports already are so" in run.output
        sim.release(namespace, vmim)
