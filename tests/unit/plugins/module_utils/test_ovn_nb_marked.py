"""The sweep's server-side narrowing (issue 12): which selects find every port carrying our keys."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb  # noqa: E402


def test_one_select_per_value_never_a_full_table_select():
    queries = nb.marked_queries(["hv2", "hv1", "hv1", "", None])
    wheres = [where for _table, where, _columns in queries]
    assert all(where for where in wheres)                        # no condition-less select
    assert wheres == [[["options", "includes", ["map", [["activation-strategy", "rarp"]]]]],
                      [["options", "includes", ["map", [["requested-chassis", "hv1"]]]]],
                      [["options", "includes", ["map", [["requested-chassis", "hv2"]]]]]]


class FakeClient(object):
    def __init__(self, results):
        self.results = results

    def select_many(self, queries):
        assert len(queries) == len(self.results)
        return self.results


def row(uuid, name, options):
    return {"_uuid": ["uuid", uuid], "name": name, "type": "", "options": ["map", sorted(options.items())],
            "external_ids": ["map", []]}


def test_a_port_found_by_two_selects_is_reported_once():
    both = row("u1", "b", {"requested-chassis": "hv1", "activation-strategy": "rarp"})
    pin = row("u2", "a", {"requested-chassis": "hv1"})
    ports = nb.find_marked_ports(FakeClient([[both], [both, pin]]), ["hv1"])
    assert [p.name for p in ports] == ["a", "b"]
    assert nb.is_marked(ports[0].options) and not nb.is_migrating(ports[0].options)
