"""kubeovn.live_migration.ovn_lsp through ansible-playbook against the real OVN sandbox.

Assertions are on real NB options, real SB Port_Binding rows and real packets.
"""
import json

import pytest

from ansible_run import assert_ok, run_module
from ovn_sandbox import packets

RC, AS = "requested-chassis", "activation-strategy"


def conn(sb, **extra):
    return sb.module_args(**extra)


def nb_options(sb, lsp):
    """The LSP's whole options map, as ovn-nbctl reads it."""
    out = sb.nbctl("--format=json", "--columns=options", "find", "Logical_Switch_Port", "name=%s" % lsp)
    data = json.loads(out)["data"][0][0]
    return dict(data[1])


def binding(sb, lsp, **expected):
    def match():
        pb = sb.port_binding(lsp)
        return pb if pb and all(pb.get(k) == v for k, v in expected.items()) else None
    return sb.wait_for(match, what="%s Port_Binding %s (last: %s)" % (lsp, expected, sb.port_binding(lsp)))


def reached(sb, peers, port, payload):
    """Which of hv1/hv2 got a UDP probe sent from the peer on hv3 to the VM.

    Markers sent after the probe over the same tunnels to the peers on hv1 and hv2 are the
    barrier: once both are in, a copy of the probe that was coming has come.
    """
    lsp, src = port["name"], peers["hv3"]
    plugged = [hv for hv in ("hv1", "hv2") if sb.has_vm_port(hv, lsp)]
    for hv in plugged:
        sb.clear_received(hv, lsp)
    sb.inject("hv3", src["name"], packets.ipv4_udp(src["mac"], port["mac"], src["ip"], port["ip"], payload))
    marker = b"barrier-" + payload
    for hv in ("hv1", "hv2"):
        sb.inject("hv3", src["name"], packets.ipv4_udp(src["mac"], peers[hv]["mac"], src["ip"], peers[hv]["ip"], marker))
    for hv in ("hv1", "hv2"):
        sb.wait_for(lambda: any(packets.parse(f).get("payload") == marker for f in sb.received(hv, peers[hv]["name"])),
                    what="barrier at the peer on %s" % hv)
    return {hv for hv in plugged if any(packets.parse(f).get("payload") == payload for f in sb.received(hv, lsp))}


@pytest.fixture
def peers(ovn_sandbox):
    return {hv: ovn_sandbox.create_peer(hv) for hv in ("hv1", "hv2", "hv3")}


def test_prepare_rarp_cutover_moves_traffic_and_keeps_other_keys(ovn_sandbox, ovn_vm, peers):
    sb = ovn_sandbox
    vm = ovn_vm(providers=("net1",), hv="hv1")
    port = vm["ports"][0]
    lsp = port["name"]
    names = [p["name"] for p in vm["ports"]]
    # Another writer's key, set before we touch the port: it must survive every step.
    sb.nbctl("set", "Logical_Switch_Port", lsp, "options:foo=bar")
    selector = {"vmi": vm["vm"], "namespace": vm["namespace"]}

    prepared = assert_ok(run_module("ovn_lsp", conn(sb, state="prepared", source_chassis="hv1", target_chassis="hv2",
                                                    wait="hv", **selector)))
    assert prepared["changed"] is True
    assert [p["name"] for p in prepared["ports"]] == sorted(names)
    for p in prepared["ports"]:
        assert p["before"] == {RC: None, AS: None}
        assert p["after"] == {RC: "hv1,hv2", AS: "rarp"}
    # wait=hv returned only after the hypervisors caught up, so SB already holds the result.
    for name in names:
        pb = sb.port_binding(name)
        assert (pb["chassis"], pb["requested_chassis"], pb["requested_additional_chassis"]) == ("hv1", "hv1", ["hv2"])
    assert nb_options(sb, lsp) == {RC: "hv1,hv2", AS: "rarp", "foo": "bar"}

    # The target pod appears: bound on hv2 too, but blocked there until the VM's RARP.
    sb.add_vm_port("hv2", lsp)
    binding(sb, lsp, chassis="hv1", additional_chassis=["hv2"])
    sb.wait_hv_sync()
    assert reached(sb, peers, port, b"before-rarp") == {"hv1"}

    sb.inject("hv2", lsp, packets.rarp(port["mac"]))
    pb = binding(sb, lsp, chassis="hv1", additional_chassis=["hv2"])
    sb.wait_for(lambda: sb.port_binding(lsp)["options"].get("additional-chassis-activated") == "hv2",
                what="hv2 activated by the RARP")
    assert reached(sb, peers, port, b"after-rarp") == {"hv1", "hv2"}

    cutover = assert_ok(run_module("ovn_lsp", conn(sb, state="cutover", target_chassis="hv2", wait="hv", **selector)))
    assert cutover["changed"] is True
    assert {p["name"]: p["after"] for p in cutover["ports"]} == {n: {RC: "hv2", AS: None} for n in names}
    pb = sb.port_binding(lsp)
    assert (pb["chassis"], pb["additional_chassis"], pb["requested_additional_chassis"]) == ("hv2", [], [])
    assert reached(sb, peers, port, b"after-cutover") == {"hv2"}
    assert nb_options(sb, lsp) == {RC: "hv2", "foo": "bar"}

    again = assert_ok(run_module("ovn_lsp", conn(sb, state="cutover", target_chassis="hv2", **selector)))
    assert again["changed"] is False
    assert all(p["before"] == p["after"] == {RC: "hv2", AS: None} for p in again["ports"])


def test_check_mode_and_diff_write_nothing(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    lsp = vm["ports"][0]["name"]
    sb.nbctl("set", "Logical_Switch_Port", lsp, "options:requested-chassis=hv1", "options:foo=bar")
    before = nb_options(sb, lsp)
    result = assert_ok(run_module("ovn_lsp", conn(sb, ports=[lsp], state="prepared", source_chassis="hv1",
                                                  target_chassis="hv3", wait="hv"), check=True, diff=True))
    assert result["changed"] is True
    assert result["diff"] == {"before": {lsp: {RC: "hv1", AS: None}}, "after": {lsp: {RC: "hv1,hv3", AS: "rarp"}}}
    assert "nb_cfg" not in result
    assert nb_options(sb, lsp) == before
    assert sb.port_binding(lsp)["requested_additional_chassis"] == []


def test_rollback_then_absent(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    lsp = vm["ports"][0]["name"]
    sb.nbctl("set", "Logical_Switch_Port", lsp, "options:kube-ovn-key=1")
    assert_ok(run_module("ovn_lsp", conn(sb, ports=[lsp], state="prepared", source_chassis="hv1", target_chassis="hv2")))
    sb.add_vm_port("hv2", lsp)
    binding(sb, lsp, chassis="hv1", additional_chassis=["hv2"])

    rolled = assert_ok(run_module("ovn_lsp", conn(sb, ports=[lsp], state="rolled_back", source_chassis="hv1", wait="sb")))
    assert rolled["changed"] is True
    assert [dict((k, p[k]) for k in ("name", "before", "after")) for p in rolled["ports"]] == [
        {"name": lsp, "before": {RC: "hv1,hv2", AS: "rarp"}, "after": {RC: "hv1", AS: None}}]
    assert rolled["ports"][0]["vmi"] and rolled["ports"][0]["namespace"]
    binding(sb, lsp, chassis="hv1", additional_chassis=[], requested_additional_chassis=[])
    assert nb_options(sb, lsp) == {RC: "hv1", "kube-ovn-key": "1"}

    absent = assert_ok(run_module("ovn_lsp", conn(sb, ports=[lsp], state="absent"), diff=True))
    assert absent["changed"] is True and absent["diff"]["after"] == {lsp: {RC: None, AS: None}}
    assert nb_options(sb, lsp) == {"kube-ovn-key": "1"}
    assert assert_ok(run_module("ovn_lsp", conn(sb, ports=[lsp], state="absent")))["changed"] is False


def test_chassis_named_by_hostname_or_name_without_sb_warns(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm()
    lsp = vm["ports"][0]["name"]
    # Without SB the chassis cannot be verified: the module says so and goes on.
    result = assert_ok(run_module("ovn_lsp", {"ovn_nb_connection": sb.nb_unix, "ports": [lsp], "state": "cutover",
                                              "target_chassis": "hv3"}))
    assert result["changed"] is True
    assert any("cannot verify that hv3 exist" in w for w in result.get("warnings", [])), result
    assert nb_options(sb, lsp)[RC] == "hv3"


def test_pinned_binds_an_unpinned_vm_to_the_source_and_never_undoes_a_prepare(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm(providers=("net1",), hv="hv1")
    names = [p["name"] for p in vm["ports"]]
    args = conn(sb, vmi=vm["vm"], namespace=vm["namespace"], state="pinned", source_chassis="hv1")
    # As Kube-OVN creates them: pinned, with the commit time on each port changed.
    planned = assert_ok(run_module("ovn_lsp", args, check=True, diff=True))
    assert planned["changed"] is True and [nb_options(sb, n).get(RC) for n in names] == [None, None]
    pinned = assert_ok(run_module("ovn_lsp", args))
    assert pinned["changed"] is True and pinned["kept"] == []
    assert all(isinstance(p["written_at"], float) for p in pinned["ports"])
    assert [nb_options(sb, n).get(RC) for n in names] == ["hv1", "hv1"]
    # Once the prepare landed on one port, a late pin leaves the whole VM as it is.
    sb.nbctl("set", "Logical_Switch_Port", names[1], "options:requested-chassis=hv1,hv2",
             "options:activation-strategy=rarp")
    late = assert_ok(run_module("ovn_lsp", args))
    assert (late["changed"], sorted(late["kept"])) == (False, sorted(names))
    assert any("left as they are" in w for w in late.get("warnings", []))
    assert (nb_options(sb, names[0]).get(RC), nb_options(sb, names[1]).get(RC)) == ("hv1", "hv1,hv2")
    binding(sb, names[0], chassis="hv1", additional_chassis=[])
