"""wait: hv waits for the chassis involved only (their SB Chassis_Private.nb_cfg), bumps nb_cfg only
when it writes, and a wait that times out after the write is a warning, never a failure.
On the real OVN sandbox, with one ovn-controller stopped as a NotReady Kubernetes node would be."""
import pytest

from ansible_run import assert_ok, run_tasks

RC, AS = "requested-chassis", "activation-strategy"


def nb_global(sb, column):
    return int(sb.nbctl("get", "NB_Global", ".", column).strip())


def warnings_of(result):
    return " | ".join(result.get("warnings") or []) + result.get("_output", "")


@pytest.fixture
def controller_stopped(ovn_sandbox):
    """Stop one hypervisor's ovn-controller for the test (a NotReady node), start it again after."""
    stopped = []

    def stop(hv):
        ovn_sandbox.kill_daemon("%s/ovn-controller" % hv)
        stopped.append(hv)

    yield stop
    for hv in stopped:
        ovn_sandbox.start_controller(hv)
    ovn_sandbox.wait_hv_sync(timeout=20)


def test_a_notready_node_elsewhere_does_not_hold_wait_hv_back(ovn_sandbox, ovn_vm, controller_stopped):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    selector = {"vmi": vm["vm"], "namespace": vm["namespace"]}
    controller_stopped("hv3")
    prepare = sb.module_args(state="prepared", source_chassis="hv1", target_chassis="hv2", wait="hv",
                             wait_timeout=20, **selector)
    first, again = run_tasks([("ovn_lsp", prepare), ("ovn_lsp", prepare)])
    assert_ok(first)
    assert first["changed"] is True and first["waited_for"] == ["hv1", "hv2"]
    assert "did not apply" not in warnings_of(first)
    # hv1 and hv2 applied the change; hv3 never did, so NB_Global.hv_cfg (the old wait) is behind.
    assert nb_global(sb, "nb_cfg") == first["nb_cfg"]
    assert nb_global(sb, "hv_cfg") < first["nb_cfg"]
    for port in vm["ports"]:
        pb = sb.port_binding(port["name"])
        assert (pb["chassis"], pb["requested_additional_chassis"]) == ("hv1", ["hv2"])
    # The same call again changes nothing and leaves nb_cfg alone.
    assert_ok(again)
    assert again["changed"] is False and again["nb_cfg"] == first["nb_cfg"]
    assert nb_global(sb, "nb_cfg") == first["nb_cfg"]


def test_an_involved_chassis_that_lags_is_a_warning_naming_it(ovn_sandbox, ovn_vm, controller_stopped):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    controller_stopped("hv2")
    result = assert_ok(run_tasks([("ovn_lsp", sb.module_args(
        ports=[p["name"] for p in vm["ports"]], state="prepared", source_chassis="hv1", target_chassis="hv2",
        wait="hv", wait_timeout=1))])[0])
    assert result["changed"] is True
    assert "chassis hv2 (nb_cfg" in warnings_of(result)
    assert "did not apply it within 1.0 s" in warnings_of(result)
    for port in vm["ports"]:
        assert sb.nbctl("get", "Logical_Switch_Port", port["name"], "options:%s" % RC).strip().strip('"') == "hv1,hv2"


def test_without_the_southbound_wait_hv_falls_back_to_hv_cfg_with_a_warning(ovn_sandbox, ovn_vm, controller_stopped):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    controller_stopped("hv3")
    args = sb.module_args(ports=[vm["ports"][0]["name"]], state="cutover", target_chassis="hv1", wait="hv",
                          wait_timeout=1)
    del args["ovn_sb_connection"]
    result = assert_ok(run_tasks([("ovn_lsp", args)])[0])
    assert result["changed"] is True and result["waited_for"] == []
    text = warnings_of(result)
    assert "wait=hv without ovn_sb_connection waits for NB_Global.hv_cfg" in text
    assert "the hypervisors did not apply it within 1.0 s (NB_Global.hv_cfg is" in text
