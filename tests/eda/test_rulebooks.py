"""The two rulebooks come from one rule list, and their rules test the event's `action` only."""
import yaml

from generate_controller_rulebook import CONTROLLER, MAIN, controller_rulebook


def test_the_controller_rulebook_is_generated_from_the_main_one():
    assert CONTROLLER.read_text() == controller_rulebook(MAIN.read_text()), (
        "live_migration_controller.yml differs from what tests/eda/generate_controller_rulebook.py writes: run it")


def test_the_rules_test_the_planners_action():
    for path in (MAIN, CONTROLLER):
        [ruleset] = yaml.safe_load(path.read_text())
        conditions = [rule["condition"] for rule in ruleset["rules"]]
        assert all("event.action ==" in c for c in conditions), conditions
        # Nothing but the kind of event and the action (and the batch mark) decides.
        for condition in conditions:
            for word in ("phase", "changes", "in_flight", "deleted", "_node"):
                assert word not in condition, (path.name, condition)
