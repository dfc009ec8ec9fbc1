"""`wait` of ovn_lsp and ovn_lsp_batch as kubernetes.core and vmim spell it: true waits as hv (the
chassis involved applied the change), false as none; ovn-nbctl's stages keep working. Real sandbox."""
from ansible_run import assert_ok, run_tasks


def test_wait_true_waits_for_the_chassis_involved_and_false_does_not(ovn_sandbox, ovn_vm):
    vm = ovn_vm(hv="hv1")
    selector = {"vmi": vm["vm"], "namespace": vm["namespace"]}
    waited, plain, bad = run_tasks([
        ("ovn_lsp", ovn_sandbox.module_args(state="prepared", source_chassis="hv1", target_chassis="hv2",
                                            wait=True, wait_timeout=20, **selector)),
        ("ovn_lsp", ovn_sandbox.module_args(state="rolled_back", source_chassis="hv1", wait=False, **selector)),
        ("ovn_lsp", ovn_sandbox.module_args(state="rolled_back", source_chassis="hv1", wait="northd", **selector)),
    ])
    assert_ok(waited)
    assert waited["changed"] is True and waited["waited_for"] == ["hv1", "hv2"]
    for port in vm["ports"]:
        assert ovn_sandbox.port_binding(port["name"])["requested_additional_chassis"] == []
    assert_ok(plain)
    assert plain["changed"] is True and "waited_for" not in plain and "nb_cfg" not in plain
    assert bad.get("failed") and "none, sb, hv or a boolean" in bad["msg"], bad.get("msg")


def test_batch_wait_true_waits_as_hv(ovn_sandbox, ovn_vm):
    vm = ovn_vm(hv="hv1")
    (result,) = run_tasks([("ovn_lsp_batch", ovn_sandbox.module_args(
        vmis=[{"vmi": vm["vm"], "namespace": vm["namespace"], "state": "prepared",
               "source_chassis": "hv1", "target_chassis": "hv2"}], wait="yes", wait_timeout=20))])
    assert_ok(result)
    assert result["waited_for"] == ["hv1", "hv2"]
