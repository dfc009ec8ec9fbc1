"""The pin playbook (the rulebooks' pin rule) through ansible-playbook against the real OVN sandbox: one VM
or a batch in one transaction; ports that already carry a key are left as they are; bad input is refused
with a clear message and nothing written."""
import json

from ansible_run import run_playbook

RC, AS = "requested-chassis", "activation-strategy"


def owned(sandbox, lsp):
    out = sandbox.nbctl("--format=json", "--columns=options", "find", "Logical_Switch_Port", "name=%s" % lsp)
    options = dict(json.loads(out)["data"][0][0][1])
    return options.get(RC), options.get(AS)


def connection(sandbox, **extra):
    return dict(ovn_nb_connection=sandbox.nb_remote, ovn_sb_connection=sandbox.sb_remote, **extra)


def test_one_vm_then_a_batch_and_a_late_pin_leaves_a_prepare(ovn_sandbox, ovn_vm):
    one, two, three = (ovn_vm(hv="hv1") for _unused in range(3))
    ports = [vm["ports"][0]["name"] for vm in (one, two, three)]
    run = run_playbook("kubeovn.live_migration.pin",
                       extra_vars=connection(ovn_sandbox, vmi=one["vm"], namespace=one["namespace"], source_node="hv1"))
    assert run.rc == 0, run.output[-3000:]
    assert [owned(ovn_sandbox, p) for p in ports] == [("hv1", None), (None, None), (None, None)]
    # A drain: the second VM is unpinned, the third already prepared (its pin comes late).
    ovn_sandbox.nbctl("set", "Logical_Switch_Port", ports[2], "options:requested-chassis=hv1,hv2",
                      "options:activation-strategy=rarp")
    batch = [{"vmi": vm["vm"], "namespace": vm["namespace"], "source_node": "hv1"} for vm in (two, three)]
    run = run_playbook("kubeovn.live_migration.pin", extra_vars=connection(ovn_sandbox, migrations=batch))
    assert run.rc == 0, run.output[-3000:]
    assert [owned(ovn_sandbox, p) for p in ports] == [("hv1", None), ("hv1", None), ("hv1,hv2", "rarp")]
    ovn_sandbox.wait_for(lambda: (ovn_sandbox.port_binding(ports[1]) or {}).get("chassis") == "hv1",
                         what=ports[1] + " bound on hv1")


def test_no_source_is_a_clear_refusal(ovn_sandbox, ovn_vm):
    vm = ovn_vm(hv="hv1")
    run = run_playbook("kubeovn.live_migration.pin",
                       extra_vars=connection(ovn_sandbox, vmi=vm["vm"], namespace=vm["namespace"]))
    assert run.rc != 0
    assert "pin: set vmi, namespace and source_node" in run.output
    assert "Traceback" not in run.output
    assert owned(ovn_sandbox, vm["ports"][0]["name"]) == (None, None)
