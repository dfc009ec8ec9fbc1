"""extensions/prometheus/dual_chassis.yml: promtool accepts the recording rules and the alert,
its rule unit tests pass with the shipped threshold, and a real Prometheus scraping a real
Pushgateway computes the window of a migration pushed through the migration_metrics module (the
histogram is created at 0 with prepare, so increase() sees the first window) and fires the alert
with the threshold lowered to a few seconds."""
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from ansible_run import ROOT, assert_ok, run_tasks
from prometheus_stack import PrometheusStack, promtool_check_rules
from prometheus_stack.stack import PROMTOOL_BIN, StackError

RULES = ROOT / "extensions" / "prometheus" / "dual_chassis.yml"
RULES_UNIT_TESTS = ROOT / "extensions" / "prometheus" / "dual_chassis_test.yml"
THRESHOLD, SHORT = "> 300", "> 5"
WAIT = 30


def shortened(dest):
    doc = yaml.safe_load(RULES.read_text())
    rules = [r for g in doc["groups"] for r in g["rules"] if r.get("alert") == "KubeovnLiveMigrationDualChassisWindowLong"]
    assert len(rules) == 1 and rules[0]["expr"].count(THRESHOLD) == 1
    rules[0]["expr"] = rules[0]["expr"].replace(THRESHOLD, SHORT)
    Path(dest).write_text(yaml.safe_dump(doc, sort_keys=False))
    return Path(dest)


def test_promtool_check_rules():
    rc, output = promtool_check_rules(RULES)
    assert rc == 0 and "SUCCESS" in output, output


def test_promtool_rule_unit_tests_with_the_shipped_threshold():
    proc = subprocess.run([PROMTOOL_BIN, "test", "rules", str(RULES_UNIT_TESTS)], capture_output=True, text=True,
                          timeout=120, check=False, cwd=str(RULES_UNIT_TESTS.parent))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("dual-chassis")
    with PrometheusStack(workdir, rule_files=[shortened(workdir / "dual_chassis.yml")]) as running:
        yield running


def query_until(stack, expr, accept=lambda value: True):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = stack.prometheus.query(expr)
        if result and accept(float(result[0]["value"][1])):
            return float(result[0]["value"][1])
        time.sleep(0.25)
    raise StackError("Prometheus never had %s as wanted: %s" % (expr, stack.prometheus.query(expr)))


def test_a_pushed_migration_window_reaches_the_recording_rules_and_the_alert(stack):
    suffix = uuid.uuid4().hex[:6]
    vm = dict(namespace="ns-" + suffix, vmi="vm-" + suffix, migration="mig-" + suffix,
              pushgateway_url=stack.pushgateway.url)
    now = time.time()
    prepared, = run_tasks([("migration_metrics", dict(vm, stages=dict(target_scheduled=now - 9, prepared=now - 8)))])
    assert_ok(prepared)
    # Dual-bound now, and the zero histogram is scraped before the window is observed.
    assert query_until(stack, "job:kubeovn_live_migration_dual_chassis_vms:count") >= 1
    query_until(stack, 'kubeovn_live_migration_dual_chassis_window_seconds_count{vmi="%s"}' % vm["vmi"])
    cutover, = run_tasks([("migration_metrics", dict(vm, stages=dict(cutover=now - 0.5), outcome="succeeded"))])
    assert_ok(cutover)
    last = query_until(stack, 'kubeovn_live_migration_dual_chassis_last_window_seconds{vmi="%s"}' % vm["vmi"])
    assert last == 7.5
    assert query_until(stack, 'kubeovn_live_migration_dual_chassis_window_seconds_sum{vmi="%s"}' % vm["vmi"]) == 7.5
    # increase() extrapolates over the range: the mean of one window is that window.
    assert query_until(stack, "job:kubeovn_live_migration_dual_chassis_window_seconds:mean1h", lambda v: v > 0) \
        == pytest.approx(7.5)
    alert = stack.prometheus.wait_for_alert("KubeovnLiveMigrationDualChassisWindowLong", timeout=WAIT)
    assert alert["labels"]["severity"] == "warning"
    assert all(state == "ok" for state, _unused in stack.prometheus.rule_health().values())
