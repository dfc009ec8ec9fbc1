"""kubeovn.live_migration.ovn_lsp_batch through ansible-playbook against the real OVN sandbox:
many VMIs, each its own state and chassis, in one transaction; asserted on NB options and SB rows."""
from ansible_run import assert_clean_failure, assert_ok, run_module
from test_ovn_lsp import binding, nb_options

RC, AS = "requested-chassis", "activation-strategy"


def item(vm, state="prepared", source="hv1", target="hv2"):
    out = {"vmi": vm["vm"], "namespace": vm["namespace"], "state": state}
    if state in ("prepared", "rolled_back"):
        out["source_chassis"] = source
    if state in ("prepared", "cutover"):
        out["target_chassis"] = target
    return out


def test_batch_prepares_each_vmi_on_its_own_target_and_is_idempotent(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    one, two = ovn_vm(providers=("net1",), hv="hv1"), ovn_vm(hv="hv1")
    sb.nbctl("set", "Logical_Switch_Port", one["ports"][0]["name"], "options:foo=bar")
    args = sb.module_args(vmis=[item(one, target="hv2"), item(two, target="hv3")], wait="hv")
    first = assert_ok(run_module("kubeovn.live_migration.ovn_lsp_batch", args, diff=True))
    assert first["changed"] and first["not_found"] == []
    assert sorted(p["name"] for p in first["ports"]) == sorted(p["name"] for p in one["ports"] + two["ports"])
    for port in one["ports"]:
        assert {k: nb_options(sb, port["name"]).get(k) for k in (RC, AS)} == {RC: "hv1,hv2", AS: "rarp"}
        binding(sb, port["name"], requested_additional_chassis=["hv2"])
    assert nb_options(sb, one["ports"][0]["name"])["foo"] == "bar"
    assert nb_options(sb, two["ports"][0]["name"])[RC] == "hv1,hv3"
    binding(sb, two["ports"][0]["name"], requested_additional_chassis=["hv3"])
    assert first["diff"]["after"][two["ports"][0]["name"]] == {RC: "hv1,hv3", AS: "rarp"}

    again = assert_ok(run_module("kubeovn.live_migration.ovn_lsp_batch", args))
    assert not again["changed"]

    # Mixed states in one batch: one VMI cut over, the other rolled back.
    mixed = sb.module_args(vmis=[item(one, "cutover", target="hv2"), item(two, "rolled_back")], wait="sb")
    assert assert_ok(run_module("kubeovn.live_migration.ovn_lsp_batch", mixed))["changed"]
    assert {k: nb_options(sb, one["ports"][1]["name"]).get(k) for k in (RC, AS)} == {RC: "hv2", AS: None}
    assert {k: nb_options(sb, two["ports"][0]["name"]).get(k) for k in (RC, AS)} == {RC: "hv1", AS: None}
    assert nb_options(sb, one["ports"][0]["name"])["foo"] == "bar"


def test_batch_check_mode_writes_nothing_and_missing_vmi_is_left_out(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    ghost = {"vmi": "ghost", "namespace": vm["namespace"], "state": "prepared",
             "source_chassis": "hv1", "target_chassis": "hv2"}
    checked = assert_ok(run_module("kubeovn.live_migration.ovn_lsp_batch",
                                   sb.module_args(vmis=[item(vm), ghost]), check=True))
    assert checked["changed"] and RC not in nb_options(sb, vm["ports"][0]["name"])
    done = assert_ok(run_module("kubeovn.live_migration.ovn_lsp_batch", sb.module_args(vmis=[item(vm), ghost])))
    assert done["not_found"] == ["%s/ghost" % vm["namespace"]]
    assert any("ghost" in w for w in done.get("warnings", []))
    assert nb_options(sb, vm["ports"][0]["name"])[RC] == "hv1,hv2"


def test_batch_bad_input_fails_clearly_and_writes_nothing(ovn_sandbox, ovn_vm):
    sb = ovn_sandbox
    vm = ovn_vm(hv="hv1")
    name = vm["ports"][0]["name"]
    cases = [
        ([item(vm), item(vm)], ["listed twice"]),
        ([item(vm, source="hv1", target="hv1")], ["vmis[0]", "two different chassis"]),
        ([dict(item(vm), target_chassis="hv2,hv3")], ["vmis[0]", "without commas"]),
        ([{"vmi": vm["vm"], "namespace": vm["namespace"], "state": "cutover"}], ["needs target_chassis"]),
        ([dict(item(vm), vmi="nobody")], ["No port found for any of the 1 VMIs"]),
        ([], ["at least one VMI"]),
        ([dict(item(vm), target_chassis="hv9")], ["hv9 not registered"]),
    ]
    for vmis, fragments in cases:
        result = run_module("kubeovn.live_migration.ovn_lsp_batch", sb.module_args(vmis=vmis))
        assert_clean_failure(result, *fragments)
        assert RC not in nb_options(sb, name), vmis
