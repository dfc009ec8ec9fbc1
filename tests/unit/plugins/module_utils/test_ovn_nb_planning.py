"""Pure parts of the NB service: validation, planned options, the mutations and the transaction shape."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError  # noqa: E402

RC, AS = "requested-chassis", "activation-strategy"


def port(options, name="vm1.ns1", uuid="11111111-2222-3333-4444-555555555555", external_ids=None, type_=""):
    return ovn_nb.Port({"_uuid": ["uuid", uuid], "name": name, "type": type_,
                        "options": ["map", sorted(options.items())],
                        "external_ids": ["map", sorted((external_ids or {}).items())]})


@pytest.mark.parametrize("state, expected", [
    ("prepared", {RC: "hv1,hv2", AS: "rarp"}),
    ("cutover", {RC: "hv2", AS: None}),
    ("rolled_back", {RC: "hv1", AS: None}),
    ("absent", {RC: None, AS: None}),
])
def test_desired_options(state, expected):
    assert ovn_nb.desired_options(state, "hv1", "hv2", "rarp") == expected


@pytest.mark.parametrize("state, source, target, fragment", [
    ("prepared", "hv1", "hv1", "both 'hv1'"),
    ("prepared", "hv1", None, "needs target_chassis"),
    ("cutover", "hv1", None, "needs target_chassis"),
    ("rolled_back", None, "hv2", "needs source_chassis"),
    ("prepared", "hv1,hv3", "hv2", "without commas"),
    ("prepared", "hv1", "hv 2", "without commas or whitespace"),
    ("cutover", None, "hv2\t", "whitespace"),
    ("prepared", "", "hv2", "source_chassis must not be empty"),
    ("rolled_back", "hv1", "  ", "target_chassis must not be empty"),
    ("bogus", "hv1", "hv2", "state must be one of"),
])
def test_validate_rejects(state, source, target, fragment):
    with pytest.raises(ModuleError) as err:
        ovn_nb.validate_chassis_args(state, source, target)
    assert fragment in err.value.msg


@pytest.mark.parametrize("state, source, target", [
    ("prepared", "hv1", "hv2"), ("cutover", None, "hv2"), ("cutover", "hv1", "hv2"),
    ("rolled_back", "hv1", None), ("absent", None, None),
])
def test_validate_accepts(state, source, target):
    ovn_nb.validate_chassis_args(state, source, target)


def test_mutations_delete_then_insert_only_changed_keys():
    current = {RC: "hv1", "foo": "bar"}
    desired = {RC: "hv1,hv2", AS: "rarp"}
    assert ovn_nb.option_mutations(current, desired) == [
        ["options", "delete", ["set", [AS, RC]]],
        ["options", "insert", ["map", [[AS, "rarp"], [RC, "hv1,hv2"]]]],
    ]


def test_mutations_only_delete_when_removing():
    current = {RC: "hv1,hv2", AS: "rarp", "foo": "bar"}
    assert ovn_nb.option_mutations(current, {RC: None, AS: None}) == [["options", "delete", ["set", [AS, RC]]]]
    assert ovn_nb.option_mutations(current, {RC: "hv2", AS: None}) == [["options", "delete", ["set", [AS, RC]]],
                                                                       ["options", "insert", ["map", [[RC, "hv2"]]]]]


def test_no_mutation_when_already_there():
    assert ovn_nb.option_mutations({RC: "hv2", "x": "y"}, {RC: "hv2", AS: None}) == []
    assert ovn_nb.option_mutations({}, {RC: None, AS: None}) == []


def test_update_operations_guard_each_changed_port_with_a_wait():
    a = port({RC: "hv1", "foo": "bar"}, name="a", uuid="aaaaaaaa-0000-0000-0000-000000000000")
    b = port({RC: "hv1,hv2", AS: "rarp"}, name="b", uuid="bbbbbbbb-0000-0000-0000-000000000000")
    ops = ovn_nb.update_operations([a, b], {RC: "hv1,hv2", AS: "rarp"}, comment="c")
    assert [o["op"] for o in ops] == ["wait", "mutate", "comment"]  # b already right: untouched
    wait, mutate = ops[0], ops[1]
    assert wait["where"] == mutate["where"] == [["_uuid", "==", ["uuid", a.uuid]]]
    assert wait["until"] == "==" and wait["timeout"] == 0 and wait["columns"] == ["options"]
    assert wait["rows"] == [{"options": ["map", [["foo", "bar"], [RC, "hv1"]]]}]
    assert ovn_nb.update_operations([b], {RC: "hv1,hv2", AS: "rarp"}, comment="c") == []


def test_is_migrating():
    assert ovn_nb.is_migrating({RC: "hv1,hv2"})
    assert ovn_nb.is_migrating({RC: "hv1", AS: "rarp"})
    assert not ovn_nb.is_migrating({RC: "hv1"})
    assert not ovn_nb.is_migrating({"foo": "a,b"})


def test_vmi_condition_selects_vifs_of_the_pod():
    assert ovn_nb.vmi_condition("ns1", "vm1") == [["type", "==", ""],
                                                  ["external_ids", "includes", ["map", [["pod", "ns1/vm1"]]]]]


def test_port_view():
    p = port({RC: "hv1", "foo": "bar"}, external_ids={"pod": "ns1/vm1", "vendor": "kube-ovn"})
    assert p.owned == {RC: "hv1", AS: None}
    assert p.pod == ("ns1", "vm1")
    assert port({}).pod == (None, None)
    assert ovn_nb.port_report(p, {RC: "hv1,hv2", AS: "rarp"}) == {
        "name": "vm1.ns1", "namespace": "ns1", "vmi": "vm1", "before": {RC: "hv1", AS: None}, "after": {RC: "hv1,hv2", AS: "rarp"}}
