"""meta/runtime.yml: every module can take its connection settings from one action group."""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_module_is_in_exactly_one_action_group():
    groups = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    membership = {m: [g for g, members in groups.items() if m in members] for m in modules}
    assert {m: gs for m, gs in membership.items() if len(gs) != 1} == {}
    assert groups["metrics"] == ["migration_metrics"]
