"""Compare-and-swap across tasks: the expectation a write carries (plan_writes) and its check (lsp_apply)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

import pytest  # noqa: E402

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import lsp_apply  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb  # noqa: E402
from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import (  # noqa: E402
    merge_plans, plan_writes,
)

RC, AS = "requested-chassis", "activation-strategy"
PREPARED = {RC: "A,B", AS: "rarp"}
WIPED = {RC: None, AS: None}


def nb_port(name, vmi, options):
    return ovn_nb.Port({"_uuid": ["uuid", "11111111-2222-3333-4444-%012d" % len(name)], "name": name, "type": "",
                        "options": ["map", sorted((k, v) for k, v in options.items() if v is not None)],
                        "external_ids": ["map", [["pod", "vms/" + vmi]]]})


def info_port(name, vmi, options):
    """A port as ovn_lsp_info returns it."""
    return {"name": name, "vmi": vmi, "namespace": "vms", "options": dict(options)}


def a_plan(vmi, action, state):
    return {"vmi": vmi, "namespace": "vms", "action": action, "state": state, "source_chassis": "A",
            "target_chassis": None, "reason": "why"}


def test_plan_writes_carry_what_the_decision_read():
    plans = [a_plan("a", "repair", "rolled_back"), a_plan("b", "repair", "rolled_back"), a_plan("c", "none", None)]
    ports = [info_port("a.vms", "a", PREPARED), info_port("a.vms.net1", "a", {RC: "A,B"}),
             info_port("c.vms", "c", PREPARED), {"name": "stray", "vmi": None, "namespace": None, "options": {}}]
    items = plan_writes(plans, (), ports)
    assert [(i["vmi"], i.get("expected")) for i in items] == [
        ("a", {"a.vms": PREPARED, "a.vms.net1": {RC: "A,B", AS: None}}),
        ("b", None)]       # b's ports were not read: nothing to compare with
    assert "expected" not in plan_writes(plans)[0]   # no read at all: the items are as before


def test_merge_plans_puts_the_new_decision_in_place():
    old = [a_plan("a", "repair", "rolled_back"), a_plan("b", "repair", "rolled_back")]
    again = [a_plan("b", "none", None)]
    assert [(p["vmi"], p["action"]) for p in merge_plans(old, again)] == [("a", "repair"), ("b", "none")]
    assert merge_plans(old, []) == old


@pytest.mark.parametrize("found, expected, mismatched", [
    ({RC: "A,B", AS: "rarp"}, PREPARED, False),
    ({RC: "A,B", AS: "rarp", "other": "x"}, PREPARED, False),     # other keys are not ours
    ({RC: "A,B", AS: "rarp"}, {RC: "A,B", AS: "rarp"}, False),
    ({}, PREPARED, True),                                            # Kube-OVN's wipe
    ({RC: "A,C", AS: "rarp"}, PREPARED, True),                       # another migration's prepare
    ({RC: "A"}, {RC: "A", AS: ""}, False),                           # empty is absent
])
def test_expectation_mismatches(found, expected, mismatched):
    result = lsp_apply.expectation_mismatches([nb_port("a.vms", "a", found)], {"a.vms": expected})
    assert bool(result) == mismatched
    if mismatched:
        assert result["a.vms"]["expected"] == {RC: expected.get(RC) or None, AS: expected.get(AS) or None}


def test_a_gone_port_is_a_mismatch():
    assert lsp_apply.expectation_mismatches([], {"a.vms": PREPARED}) == {"a.vms": {"expected": PREPARED, "found": None}}


def _lookup(ports):
    return lambda client: list(ports)


def test_expecting_skips_only_the_changed_vmi():
    ports = [nb_port("a.vms", "a", {}), nb_port("b.vms", "b", PREPARED), nb_port("c.vms", "c", PREPARED)]
    items = [{"vmi": "a", "namespace": "vms", "expected": {"a.vms": PREPARED}},
             {"vmi": "b", "namespace": "vms", "expected": {"b.vms": PREPARED}},
             {"vmi": "c", "namespace": "vms"}]
    conflicts = []
    left = lsp_apply.expecting(_lookup(ports), items, "skip", conflicts)(None)
    assert [p.name for p in left] == ["b.vms", "c.vms"]
    assert conflicts == [{"vmi": "a", "namespace": "vms", "ref": "vms/a", "ports": ["a.vms"],
                          "changed": {"a.vms": {"expected": PREPARED, "found": WIPED}}}]
    # Each attempt judges afresh: the conflict list is the last read's.
    lsp_apply.expecting(_lookup(ports[1:]), items[1:], "skip", conflicts)(None)
    assert conflicts == []


def test_expecting_fails_before_the_write():
    items = [{"vmi": "a", "namespace": "vms", "expected": {"a.vms": PREPARED}}]
    with pytest.raises(ModuleError) as err:
        lsp_apply.expecting(_lookup([nb_port("a.vms", "a", {RC: "A"})]), items, "fail", [])(None)
    assert err.value.msg == ("the ports changed since the decision was made, nothing written for them: vms/a "
                             "(a.vms carries requested-chassis=A, the decision saw requested-chassis=A,B, "
                             "activation-strategy=rarp)")
    assert err.value.details["conflicts"][0]["ref"] == "vms/a"


@pytest.mark.parametrize("expected", [{"a.vms": "x"}, {"a.vms": {"other": "y"}}, {"a.vms": {RC: 3}}])
def test_a_malformed_expectation_is_refused_clearly(expected):
    with pytest.raises(ModuleError) as err:
        lsp_apply.check_expected(expected)
    assert err.value.msg.startswith("expected[a.vms] must be a dict of requested-chassis and activation-strategy")


def test_a_wellformed_expectation_passes():
    lsp_apply.check_expected({"a.vms": {RC: "A,B", AS: None}, "b.vms": {}})
    lsp_apply.check_expected(None)
