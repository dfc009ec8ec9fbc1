"""kubeovn.live_migration.ovn_lsp_info (and chassis named by hostname) on a real OVN sandbox
whose hv2 registers as chassis "chassis-2" with hostname "hv2", as a Kubernetes node name would."""
import shutil
import tempfile

import pytest

from ansible_run import assert_ok, run_module
from ovn_sandbox import OvnSandbox, packets

RC, AS = "requested-chassis", "activation-strategy"


@pytest.fixture(scope="module")
def ovn_sandbox():
    # Overrides the plugin's fixture for this module (ovn_vm uses it too): chassis name != hostname.
    workdir = tempfile.mkdtemp(prefix="ovn-info-", dir="/tmp")
    sandbox = OvnSandbox(workdir, hypervisors=("hv1", "hv2"), system_ids={"hv2": "chassis-2"})
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def conn(sb, **extra):
    return sb.module_args(**extra)


def test_info_reports_bindings_by_chassis_name_and_hostname(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm(providers=("net1",), hv="hv1")
    selector = {"vmi": vm["vm"], "namespace": vm["namespace"]}
    port = vm["ports"][0]
    # "hv2" is only chassis-2's hostname: verify_chassis must accept it, and OVN resolves it.
    assert_ok(run_module("ovn_lsp", conn(sb, state="prepared", source_chassis="hv1", target_chassis="hv2", wait="hv", **selector)))
    assert sb.port_binding(port["name"])["requested_additional_chassis"] == ["chassis-2"]
    sb.add_vm_port("hv2", port["name"])
    sb.wait_for(lambda: sb.port_binding(port["name"])["additional_chassis"] == ["chassis-2"], what="bound on chassis-2")
    sb.inject("hv2", port["name"], packets.rarp(port["mac"]))
    sb.wait_for(lambda: sb.port_binding(port["name"])["options"].get("additional-chassis-activated") == "chassis-2",
                what="activated on chassis-2")

    info = assert_ok(run_module("ovn_lsp_info", conn(sb, **selector), check=True))
    assert info["changed"] is False
    assert [p["name"] for p in info["ports"]] == sorted(p["name"] for p in vm["ports"])
    primary = info["ports"][0]
    assert primary == {
        "name": port["name"], "vmi": vm["vm"], "namespace": vm["namespace"],
        "requested_chassis": ["hv1", "hv2"], "activation_strategy": "rarp",
        "options": {RC: "hv1,hv2", AS: "rarp"},
        "binding": {"chassis": "hv1", "chassis_hostname": "hv1",
                    "additional_chassis": ["chassis-2"], "additional_chassis_hostnames": ["hv2"],
                    "requested_chassis": "hv1", "requested_chassis_hostname": "hv1",
                    "requested_additional_chassis": ["chassis-2"], "requested_additional_chassis_hostnames": ["hv2"],
                    "activated": ["chassis-2"], "up": True},
    }
    # The attachment's port is bound on hv1 only (nothing plugged on hv2 for it).
    second = info["ports"][1]["binding"]
    assert (second["chassis"], second["additional_chassis"], second["requested_additional_chassis"]) == ("hv1", [], ["chassis-2"])

    # The chassis name works as well as the hostname.
    assert_ok(run_module("ovn_lsp", conn(sb, state="cutover", target_chassis="chassis-2", wait="hv", **selector)))
    after = assert_ok(run_module("ovn_lsp_info", conn(sb, ports=[port["name"]])))["ports"][0]
    assert after["requested_chassis"] == ["chassis-2"] and after["activation_strategy"] is None
    assert (after["binding"]["chassis"], after["binding"]["chassis_hostname"]) == ("chassis-2", "hv2")
    assert after["binding"]["additional_chassis"] == [] and after["binding"]["activated"] == []


def test_only_migrating_scans_and_filters_and_empty_is_not_a_failure(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    moving, still = ovn_vm(providers=("net1",)), ovn_vm()
    moving_names = sorted(p["name"] for p in moving["ports"])
    still_name = still["ports"][0]["name"]
    sb.nbctl("set", "Logical_Switch_Port", still_name, "options:requested-chassis=hv1")
    assert_ok(run_module("ovn_lsp", conn(sb, state="prepared", source_chassis="hv1", target_chassis="chassis-2",
                                         vmi=moving["vm"], namespace=moving["namespace"])))

    scan = assert_ok(run_module("ovn_lsp_info", {"ovn_nb_connection": sb.nb_remote, "only_migrating": True}))
    names = [p["name"] for p in scan["ports"]]
    assert set(moving_names) <= set(names) and still_name not in names
    assert all(p["binding"] is None for p in scan["ports"])   # no SB connection: no binding
    assert all(p["activation_strategy"] == "rarp" or len(p["requested_chassis"]) > 1 for p in scan["ports"])

    mixed = moving_names + [still_name, "no-such-port"]
    filtered = assert_ok(run_module("ovn_lsp_info", conn(sb, ports=mixed, only_migrating=True)))
    assert [p["name"] for p in filtered["ports"]] == moving_names
    assert all(p["binding"]["requested_additional_chassis"] == ["chassis-2"] for p in filtered["ports"])
    unfiltered = assert_ok(run_module("ovn_lsp_info", conn(sb, ports=mixed)))
    assert [p["name"] for p in unfiltered["ports"]] == sorted(moving_names + [still_name])

    empty = assert_ok(run_module("ovn_lsp_info", conn(sb, vmi="ghost", namespace=still["namespace"])))
    assert empty["ports"] == [] and empty["changed"] is False
