"""Collection metadata: action groups in meta/runtime.yml, the docsite pages."""

import pathlib
import re

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_module_is_in_exactly_one_action_group():
    groups = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())["action_groups"]
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if p.stem != "__init__")
    membership = {m: [g for g, members in groups.items() if m in members] for m in modules}
    assert {m: gs for m, gs in membership.items() if len(gs) != 1} == {}
    assert groups["metrics"] == ["migration_metrics"]


def test_the_docsite_guides_page_lists_every_guide():
    """docs/docsite/rst/guides.rst (rendered on Galaxy / docs.ansible.com) names every docs/*.md."""
    page = (ROOT / "docs" / "docsite" / "rst" / "guides.rst").read_text()
    listed = set(re.findall(r"``docs/([\w.-]+\.md)``", page))
    assert listed == {p.name for p in (ROOT / "docs").glob("*.md")}
    extra = yaml.safe_load((ROOT / "docs" / "docsite" / "extra-docs.yml").read_text())
    for section in extra["sections"]:
        for page_name in section["toctree"]:
            assert (ROOT / "docs" / "docsite" / "rst" / (page_name + ".rst")).is_file()
