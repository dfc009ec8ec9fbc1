"""The alert rules shipped in extensions/prometheus/alerts.yml: promtool accepts them, promtool's
rule unit tests pass with the shipped thresholds, and a real Prometheus scraping a real
Pushgateway fires them on scenarios pushed by the migration_metrics module.

For the live scenarios the test shortens only the documented thresholds (10 minutes, 1 hour) to
a few seconds; everything else is the shipped file as it is."""
import time
import uuid
from pathlib import Path

import pytest
import yaml

from ansible_run import ROOT, assert_ok, run_tasks
from prometheus_stack import PrometheusStack, promtool_check_rules
from prometheus_stack.fixtures import prometheus_stack  # noqa: F401  pylint: disable=unused-import
from prometheus_stack.stack import PROMTOOL_BIN, StackError

RULES = ROOT / "extensions" / "prometheus" / "alerts.yml"
RULES_UNIT_TESTS = ROOT / "extensions" / "prometheus" / "alerts_test.yml"
JOB = "kubeovn_live_migration"
SHORT = 3  # seconds: what the 10 minutes and the hour become
# The documented thresholds (see the header of alerts.yml) and what the live tests make of them.
SHORTENED = {
    "KubeovnLiveMigrationDualChassisTooLong": [("> 600", "> %d" % SHORT)],
    "KubeovnLiveMigrationSweepStale": [("> 3600", "> %d" % SHORT), ("[1h]", "[%ds]" % SHORT)],
}
WAIT = 30  # seconds, bound of every wait for an alert


def shortened_rules(dest):
    """alerts.yml with the documented thresholds replaced (each must occur exactly once)."""
    doc = yaml.safe_load(RULES.read_text())
    for alert, replacements in SHORTENED.items():
        rules = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == alert]
        assert rules, "no rule %s in %s" % (alert, RULES)
        for old, new in replacements:
            assert sum(r["expr"].count(old) for r in rules) == 1, "threshold %r of %s not found once" % (old, alert)
            for rule in rules:
                rule["expr"] = rule["expr"].replace(old, new)
    Path(dest).write_text(yaml.safe_dump(doc, sort_keys=False))
    return Path(dest)


def alert_names():
    return {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]}


def test_promtool_check_rules():
    rc, output = promtool_check_rules(RULES)
    assert rc == 0, output
    assert "SUCCESS" in output
    assert {"KubeovnLiveMigrationRolledBack", "KubeovnLiveMigrationDualChassisTooLong",
            "KubeovnLiveMigrationSweepStale"} <= alert_names()


def test_promtool_rule_unit_tests_with_the_shipped_thresholds():
    """alerts_test.yml drives the rules over simulated hours with the real 10 minutes and 1 hour."""
    import subprocess
    proc = subprocess.run([PROMTOOL_BIN, "test", "rules", str(RULES_UNIT_TESTS)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=str(RULES_UNIT_TESTS.parent))
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_severity_summary_and_description():
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("warning", "critical"), rule
            assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule


def test_shortened_rules_are_still_valid(tmp_path):
    rc, output = promtool_check_rules(shortened_rules(tmp_path / "alerts.yml"))
    assert rc == 0, output


@pytest.fixture(scope="module")
def alerting(tmp_path_factory):
    """A Pushgateway and a Prometheus (1 s scrape and evaluation, honor_labels) with the shortened rules."""
    workdir = tmp_path_factory.mktemp("alerting")
    with PrometheusStack(workdir, rule_files=[shortened_rules(workdir / "alerts.yml")]) as stack:
        yield stack


def vm(tag):
    suffix = uuid.uuid4().hex[:6]
    return dict(namespace="ns-%s-%s" % (tag, suffix), vmi="vm-%s-%s" % (tag, suffix), migration="mig-" + suffix)


def push(stack, *calls):
    results = run_tasks([("migration_metrics", dict(args, pushgateway_url=stack.pushgateway.url)) for args in calls])
    for result in results:
        assert assert_ok(result)["changed"], result
    return results


def alerts_for(stack, **labels):
    return [a for a in stack.prometheus.alerts() if all(a["labels"].get(k) == v for k, v in labels.items())]


def ingested(stack, expr, timeout=WAIT):
    """Wait until Prometheus has scraped what `expr` selects; return the result."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = stack.prometheus.query(expr)
        if result:
            return result
        time.sleep(0.25)
    raise StackError("Prometheus never saw %s" % expr)


def test_rollback_timeout_and_failure_fire(alerting):
    rolled, timed, failed = vm("rb"), vm("to"), vm("fail")
    now = time.time()
    push(alerting,
         dict(rolled, stages=dict(target_scheduled=now - 3, prepared=now - 2)),
         dict(rolled, outcome="rolled_back"),
         dict(timed, outcome="timed_out"),
         dict(failed, outcome="failed"))
    alert = alerting.prometheus.wait_for_alert("KubeovnLiveMigrationRolledBack", timeout=WAIT, vmi=rolled["vmi"])
    assert {k: alert["labels"].get(k) for k in ("namespace", "vmi", "migration", "outcome", "severity", "job")} == dict(
        namespace=rolled["namespace"], vmi=rolled["vmi"], migration=rolled["migration"], outcome="rolled_back",
        severity="warning", job=JOB)
    assert rolled["namespace"] in alert["annotations"]["summary"] and "rolled_back" in alert["annotations"]["summary"]
    alert = alerting.prometheus.wait_for_alert("KubeovnLiveMigrationRolledBack", timeout=WAIT, vmi=timed["vmi"])
    assert alert["labels"]["outcome"] == "timed_out"
    alert = alerting.prometheus.wait_for_alert("KubeovnLiveMigrationActionFailed", timeout=WAIT, vmi=failed["vmi"])
    assert alert["labels"]["severity"] == "critical" and alert["labels"]["migration"] == failed["migration"]
    # The rollback ended the dual-chassis state: that alert never comes for this VM.
    assert not alerts_for(alerting, alertname="KubeovnLiveMigrationDualChassisTooLong", vmi=rolled["vmi"])


def test_dual_chassis_too_long_fires_only_without_cutover(alerting):
    done, stuck = vm("done"), vm("stuck")
    now = time.time()
    # The VM that completes is prepared first: if its mark were left, it would fire first.
    push(alerting,
         dict(done, stages=dict(target_scheduled=now - 1, prepared=now - 0.5)),
         dict(done, stages=dict(activated=now, cutover=now), outcome="succeeded"),
         dict(stuck, stages=dict(target_scheduled=time.time() - 0.5, prepared=time.time())))
    alert = alerting.prometheus.wait_for_alert("KubeovnLiveMigrationDualChassisTooLong", timeout=WAIT,
                                               vmi=stuck["vmi"])
    assert {k: alert["labels"].get(k) for k in ("namespace", "vmi", "migration", "severity")} == dict(
        namespace=stuck["namespace"], vmi=stuck["vmi"], migration=stuck["migration"], severity="critical")
    assert float(alert["value"]) > SHORT
    # Prometheus has the completed VM's series (cleared to 0), and over more evaluations no alert.
    sample = ingested(alerting, 'kubeovn_live_migration_dual_chassis_since_timestamp_seconds{vmi="%s"}' % done["vmi"])
    assert float(sample[0]["value"][1]) == 0
    deadline = time.monotonic() + SHORT
    while time.monotonic() < deadline:
        assert not alerts_for(alerting, alertname="KubeovnLiveMigrationDualChassisTooLong", vmi=done["vmi"])
        time.sleep(0.5)


def test_slow_prepare_fires(alerting):
    slow, fast = vm("slow"), vm("fast")
    now = time.time()
    push(alerting,
         dict(slow, stages=dict(target_scheduled=now - 25, prepared=now)),
         dict(fast, stages=dict(target_scheduled=now - 1, prepared=now)))
    alert = alerting.prometheus.wait_for_alert("KubeovnLiveMigrationPrepareSlow", timeout=WAIT, vmi=slow["vmi"])
    assert alert["labels"]["stage"] == "prepared" and alert["labels"]["migration"] == slow["migration"]
    ingested(alerting, 'kubeovn_live_migration_stage_duration_seconds{vmi="%s"}' % fast["vmi"])
    time.sleep(2)  # two more evaluations
    assert not alerts_for(alerting, alertname="KubeovnLiveMigrationPrepareSlow", vmi=fast["vmi"])


def test_rules_evaluate_without_errors(alerting):
    ingested(alerting, "kubeovn_live_migration_outcomes_total")
    health = alerting.prometheus.rule_health()
    assert set(health) == alert_names()
    assert all(state == "ok" for state, _unused in health.values()), health


def test_sweep_stale_fires_when_absent_and_when_it_stops_running(prometheus_stack, tmp_path):
    """Own stack: the sweep series is one per job, shared by nothing else."""
    stack = prometheus_stack(rule_files=[shortened_rules(tmp_path / "alerts.yml")])
    # Never reported: the absent branch fires, without labels of a series.
    alert = stack.prometheus.wait_for_alert("KubeovnLiveMigrationSweepStale", timeout=WAIT)
    assert "job" not in alert["labels"] and alert["labels"]["severity"] == "warning"
    assert "No kubeovn_live_migration_sweep_last_run_timestamp_seconds series" in alert["annotations"]["description"]
    # One run, then none: the stale branch fires, with the job of the pushed series.
    push(stack, dict(sweep=True, repaired_ports=1))
    alert = stack.prometheus.wait_for_alert("KubeovnLiveMigrationSweepStale", timeout=WAIT, job=JOB)
    assert float(alert["value"]) > SHORT
    assert "last ran" in alert["annotations"]["description"]
    ingested(stack, "kubeovn_live_migration_sweep_repaired_ports_total == 1")
    # The absent branch resolved once the series was scraped.
    deadline = time.monotonic() + WAIT
    while any("job" not in a["labels"] for a in alerts_for(stack, alertname="KubeovnLiveMigrationSweepStale")):
        assert time.monotonic() < deadline, stack.prometheus.alerts()
        time.sleep(0.25)
