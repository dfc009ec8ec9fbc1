"""The dual-chassis window per migration: the last-window gauge and the histogram that
migration_metrics.plan_vm pushes when a cutover or an outcome ends the mark set by prepare."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / ".venv" / "collections"))

from ansible_collections.kubeovn.live_migration.plugins.module_utils import migration_metrics as mm  # noqa: E402

T0 = 1796400000.0


def push(current, migration, stages=None, outcome=None, now=T0 + 1000):
    """plan_vm, then what the group holds afterwards (a POST replaces the names it carries)."""
    plan = mm.plan_vm(current, "vms", "vm1", migration, stages or {}, outcome, now)
    after = dict(current)
    after.update(plan.families)
    return plan, after


def buckets(family):
    return dict(family.buckets())


def test_cutover_observes_the_window_from_prepare_to_cutover():
    _plan, group = push({}, "m1", {"target_scheduled": T0, "prepared": T0 + 2})
    # The first push creates the histogram at 0, so increase() sees the first window too.
    assert group[mm.DUAL_CHASSIS_WINDOW].get(le="+Inf") == 0 and group[mm.DUAL_CHASSIS_WINDOW].total == 0
    plan, group = push(group, "m1", {"cutover": T0 + 9.5}, "succeeded")
    assert group[mm.DUAL_CHASSIS_LAST_WINDOW].get(migration="m1") == 7.5
    histogram = group[mm.DUAL_CHASSIS_WINDOW]
    assert histogram.total == 7.5
    assert buckets(histogram)["5.0"] == 0 and buckets(histogram)["10.0"] == 1 and buckets(histogram)["+Inf"] == 1
    names = [s["name"] for s in plan.summary()["series"]]
    assert mm.DUAL_CHASSIS_WINDOW + "_count" in names and mm.DUAL_CHASSIS_WINDOW + "_sum" in names


def test_a_repeated_cutover_is_not_observed_twice():
    _plan, group = push({}, "m1", {"target_scheduled": T0, "prepared": T0 + 2})
    _plan, group = push(group, "m1", {"cutover": T0 + 9.5}, "succeeded")
    again, group = push(group, "m1", {"cutover": T0 + 9.5}, "succeeded")
    assert mm.DUAL_CHASSIS_WINDOW not in again.families
    assert group[mm.DUAL_CHASSIS_WINDOW].get(le="+Inf") == 1


def test_windows_of_later_migrations_add_up_and_a_rollback_ends_at_its_time():
    _plan, group = push({}, "m1", {"target_scheduled": T0, "prepared": T0 + 2})
    _plan, group = push(group, "m1", {"cutover": T0 + 3}, "succeeded")
    _plan, group = push(group, "m2", {"target_scheduled": T0 + 100, "prepared": T0 + 101})
    # A rollback carries no cutover stage: the window ends when it is recorded.
    _plan, group = push(group, "m2", {}, "rolled_back", now=T0 + 141)
    assert group[mm.DUAL_CHASSIS_LAST_WINDOW].series == {(("migration", "m2"),): 40.0}
    histogram = group[mm.DUAL_CHASSIS_WINDOW]
    assert histogram.total == 41.0
    assert buckets(histogram)["1.0"] == 1 and buckets(histogram)["30.0"] == 1 and buckets(histogram)["60.0"] == 2


def test_one_push_that_prepared_and_cut_over_observes_its_own_window():
    # A prepare run that found the migration over: both ends in one push, no mark left behind.
    plan, group = push({}, "m1", {"target_scheduled": T0, "prepared": T0 + 2, "cutover": T0 + 6}, "succeeded")
    assert group[mm.DUAL_CHASSIS_LAST_WINDOW].get(migration="m1") == 4.0
    assert group[mm.DUAL_CHASSIS_WINDOW].total == 4.0
    assert group[mm.DUAL_CHASSIS_SINCE].get(migration="m1") == 0
    # A mark pushed earlier wins over a later prepared stage (the window began at the first prepare).
    _plan, group = push({}, "m2", {"target_scheduled": T0, "prepared": T0 + 1})
    _plan, group = push(group, "m2", {"prepared": T0 + 5, "cutover": T0 + 7}, "succeeded")
    assert group[mm.DUAL_CHASSIS_LAST_WINDOW].get(migration="m2") == 6.0


def test_no_mark_no_window():
    # An outcome without a prepare before it (a repair) observes nothing.
    plan, group = push({}, "", {}, "repaired")
    assert mm.DUAL_CHASSIS_LAST_WINDOW not in plan.families
    assert group[mm.DUAL_CHASSIS_WINDOW].get(le="+Inf") == 0


def test_clock_skew_is_observed_as_zero_with_a_warning():
    _plan, group = push({}, "m1", {"target_scheduled": T0, "prepared": T0 + 5})
    plan, group = push(group, "m1", {"cutover": T0 + 4}, "succeeded")
    assert group[mm.DUAL_CHASSIS_LAST_WINDOW].get(migration="m1") == 0
    assert any("clock skew" in w for w in plan.warnings)


def test_the_histogram_round_trips_through_the_pushgateway_json():
    body = {"type": "HISTOGRAM", "metrics": [{"buckets": {"1": "0", "10": "2", "+Inf": "3"}, "count": "3",
                                              "sum": "712.5", "labels": {"job": "j"}}]}
    family = mm._histogram_from_json(mm.DUAL_CHASSIS_WINDOW, body)  # pylint: disable=protected-access
    assert family.buckets() == [("1.0", 0.0), ("10.0", 2.0), ("+Inf", 3.0)]
    assert family.total == 712.5
    more = mm.observe(family, mm.DUAL_CHASSIS_WINDOW, 4.0, bounds=(1.0, 10.0))
    assert more.buckets() == [("1.0", 0.0), ("10.0", 3.0), ("+Inf", 4.0)] and more.total == 716.5
