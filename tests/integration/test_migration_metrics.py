"""migration_metrics pushes to a real Pushgateway (Debian's prometheus-pushgateway); the tests
scrape its /metrics, parse it with prometheus_client's parser and assert the series."""
import socket
import time
import urllib.request
import uuid

import pytest

from ansible_run import assert_clean_failure, assert_ok, run_module, run_tasks
from k8s_emulator.tls import CertificateAuthority
from prometheus_stack import Pushgateway
from prometheus_stack.fixtures import pushgateway  # noqa: F401  pylint: disable=unused-import

P = "kubeovn_live_migration_"
JOB = "kubeovn_live_migration"
# Debian's python3 has no prometheus_client: the module must still not fail a migration step.
SYSTEM_PYTHON = "/usr/bin/python3"
# bcrypt hash of "klm-test-password", made for this test with crypt(3).
BASIC_AUTH_HASH = "$2b$04$9xs7n.dGcIuy8qWxptjcNuHGE5rTrstgy8zV52uTCSYVrDGsqwhe."


def unique_vm():
    suffix = uuid.uuid4().hex[:6]
    return "ns-" + suffix, "vm-" + suffix


def samples(gateway, name, **labels):
    """{labels besides the grouping key: value}; an empty label is no label, as for Prometheus."""
    return {tuple(sorted((k, v) for k, v in s.labels.items()
                         if v and k not in ("job", "namespace", "vmi", "instance"))): s.value
            for s in gateway.samples(name, **labels)}


def value(gateway, name, **labels):
    found = gateway.samples(name, **labels)
    assert len(found) <= 1, found
    return found[0].value if found else None


def vm_args(gateway, namespace, vmi, **extra):
    return dict(dict(pushgateway_url=gateway.url, namespace=namespace, vmi=vmi), **extra)


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return "http://127.0.0.1:%d" % sock.getsockname()[1]


def test_prepare_then_cutover_records_durations_and_clears_dual_chassis(pushgateway):
    ns, vm = unique_vm()
    scheduled = time.time() - 60
    prepare, cutover, again = run_tasks([
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", stages=dict(
            # ISO 8601 with Kubernetes' Z, a number, and a numeric string.
            target_scheduled=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(scheduled)),
            prepared=int(scheduled) + 0.5, target_bound=str(int(scheduled) + 2)))),
        # Cutover gives no target_scheduled: the one pushed with prepare is used.
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", outcome="succeeded",
                                      stages=dict(activated=int(scheduled) + 30, cutover=int(scheduled) + 30.25))),
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", outcome="succeeded",
                                      stages=dict(activated=int(scheduled) + 30, cutover=int(scheduled) + 30.25))),
    ])
    assert_ok(prepare)["changed"] and assert_ok(cutover)["changed"]
    assert prepare["pushed"][0]["grouping_key"] == dict(job=JOB, namespace=ns, vmi=vm)
    pushed = dict(((s["name"], s["labels"].get("stage")), s["value"]) for s in prepare["pushed"][0]["series"])
    assert pushed[(P + "stage_duration_seconds", "prepared")] == 0.5
    assert pushed[(P + "dual_chassis_since_timestamp_seconds", None)] == int(scheduled) + 0.5

    durations = samples(pushgateway, P + "stage_duration_seconds", namespace=ns, vmi=vm)
    assert durations == {(("migration", "m1"), ("stage", "prepared")): 0.5,
                         (("migration", "m1"), ("stage", "target_bound")): 2.0,
                         (("migration", "m1"), ("stage", "activated")): 30.0,
                         (("migration", "m1"), ("stage", "cutover")): 30.25}
    assert value(pushgateway, P + "target_scheduled_timestamp_seconds", namespace=ns, vmi=vm) == int(scheduled)
    assert value(pushgateway, P + "dual_chassis_since_timestamp_seconds", namespace=ns, vmi=vm) == 0
    outcomes = samples(pushgateway, P + "outcomes_total", namespace=ns, vmi=vm)
    assert outcomes == {(("outcome", "succeeded"),): 1, (("outcome", "rolled_back"),): 0,
                        (("outcome", "timed_out"),): 0, (("outcome", "repaired"),): 0, (("outcome", "failed"),): 0}
    stamp = value(pushgateway, P + "last_outcome_timestamp_seconds", namespace=ns, vmi=vm, outcome="succeeded",
                  migration="m1")
    assert time.time() - 120 < stamp <= time.time()
    # The same step again (level-triggered events re-run it): nothing new, nothing counted twice.
    assert not assert_ok(again)["changed"] and again["pushed"] == []
    assert "already counted" in again["notes"][0]
    assert value(pushgateway, P + "outcomes_total", namespace=ns, vmi=vm, outcome="succeeded") == 1


def test_outcome_counter_increments_across_pushes(pushgateway):
    ns, vm = unique_vm()
    results = run_tasks([
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", outcome="rolled_back")),
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m2", outcome="rolled_back")),
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m3", outcome="timed_out")),
        # A repair outside a migration has no migration name: counted every time.
        ("migration_metrics", vm_args(pushgateway, ns, vm, outcome="repaired")),
        ("migration_metrics", vm_args(pushgateway, ns, vm, outcome="repaired")),
    ])
    assert all(assert_ok(r)["changed"] for r in results)
    outcomes = samples(pushgateway, P + "outcomes_total", namespace=ns, vmi=vm)
    assert outcomes == {(("outcome", "succeeded"),): 0, (("outcome", "rolled_back"),): 2,
                        (("outcome", "timed_out"),): 1, (("outcome", "repaired"),): 2, (("outcome", "failed"),): 0}
    stamps = samples(pushgateway, P + "last_outcome_timestamp_seconds", namespace=ns, vmi=vm)
    assert sorted(stamps) == sorted([(("outcome", "repaired"),), (("migration", "m2"), ("outcome", "rolled_back")),
                                     (("migration", "m3"), ("outcome", "timed_out"))])
    # Another VM's counters are its own.
    other_ns, other_vm = unique_vm()
    assert_ok(run_module("migration_metrics", vm_args(pushgateway, other_ns, other_vm, migration="m9",
                                                      outcome="rolled_back")))
    assert value(pushgateway, P + "outcomes_total", namespace=other_ns, vmi=other_vm, outcome="rolled_back") == 1
    assert value(pushgateway, P + "outcomes_total", namespace=ns, vmi=vm, outcome="rolled_back") == 2


def test_dual_chassis_set_by_prepare_and_cleared_by_rollback_of_that_migration_only(pushgateway):
    ns, vm = unique_vm()
    now = time.time()
    first, stale, rollback = run_tasks([
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m2",
                                      stages=dict(target_scheduled=now - 5, prepared=now - 4))),
        # A late rollback of an earlier migration must not hide that m2 is in flight.
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", outcome="rolled_back")),
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m2", outcome="rolled_back")),
    ])
    assert_ok(first) and assert_ok(stale) and assert_ok(rollback)
    stale_names = set(s["name"] for s in stale["pushed"][0]["series"])
    assert P + "dual_chassis_since_timestamp_seconds" not in stale_names
    assert P + "dual_chassis_since_timestamp_seconds" in set(s["name"] for s in rollback["pushed"][0]["series"])
    assert samples(pushgateway, P + "dual_chassis_since_timestamp_seconds", namespace=ns, vmi=vm) == {
        (("migration", "m2"),): 0}
    # A new migration replaces the stage durations of the last one.
    assert_ok(run_module("migration_metrics", vm_args(pushgateway, ns, vm, migration="m3",
                                                      stages=dict(target_scheduled=now, prepared=now + 1.5))))
    assert samples(pushgateway, P + "stage_duration_seconds", namespace=ns, vmi=vm) == {
        (("migration", "m3"), ("stage", "prepared")): 1.5}
    assert value(pushgateway, P + "dual_chassis_since_timestamp_seconds", namespace=ns, vmi=vm,
                 migration="m3") == pytest.approx(now + 1.5)


def test_sweep_series(pushgateway):
    before = time.time()
    first, second = run_tasks([
        ("migration_metrics", dict(pushgateway_url=pushgateway.url, sweep=True, repaired_ports=2)),
        ("migration_metrics", dict(pushgateway_url=pushgateway.url, sweep=True, repaired_ports=3)),
    ])
    assert assert_ok(first)["changed"] and assert_ok(second)["changed"]
    assert second["pushed"][0]["grouping_key"] == dict(job=JOB)
    # The sweep group has no namespace/vmi labels.
    for name in ("sweep_last_run_timestamp_seconds", "sweep_last_run_repaired_ports", "sweep_repaired_ports_total"):
        (sample,) = pushgateway.samples(P + name, job=JOB)
        assert "namespace" not in sample.labels and "vmi" not in sample.labels
    assert value(pushgateway, P + "sweep_last_run_repaired_ports") == 3
    assert value(pushgateway, P + "sweep_repaired_ports_total") == 5
    assert before <= value(pushgateway, P + "sweep_last_run_timestamp_seconds") <= time.time()


def test_check_mode_pushes_nothing(pushgateway):
    ns, vm = unique_vm()
    result = run_module("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", outcome="failed"), check=True)
    assert assert_ok(result)["changed"]
    assert "Would push" in result["msg"]
    assert {(s["name"], s["labels"].get("outcome")): s["value"] for s in result["pushed"][0]["series"]}[
        (P + "outcomes_total", "failed")] == 1
    assert pushgateway.samples(P + "outcomes_total", namespace=ns) == []


def test_env_var_configures_and_no_url_does_nothing(pushgateway):
    ns, vm = unique_vm()
    args = dict(namespace=ns, vmi=vm, migration="m1", outcome="succeeded")
    unset = run_module("migration_metrics", args, env={"PROMETHEUS_PUSHGATEWAY_URL": ""})
    assert not assert_ok(unset)["changed"] and unset["pushed"] == []
    assert "No Pushgateway configured" in unset["msg"]
    assert pushgateway.samples(P + "outcomes_total", namespace=ns) == []
    # host:port without a scheme, from the environment as AWX would inject it.
    from_env = run_module("migration_metrics", args,
                          env={"PROMETHEUS_PUSHGATEWAY_URL": "%s:%d" % (pushgateway.host, pushgateway.port)})
    assert assert_ok(from_env)["changed"] and from_env["pushgateway_url"] == pushgateway.url
    assert value(pushgateway, P + "outcomes_total", namespace=ns, vmi=vm, outcome="succeeded") == 1


def test_pushgateway_down_hanging_or_refusing_warns_and_never_fails_the_step(tmp_path):
    ns, vm = unique_vm()
    nowhere = closed_port_url()
    gateway = Pushgateway(tmp_path).start()
    hanging = socket.socket()  # accepts connections (kernel backlog) and never answers
    try:
        hanging.bind(("127.0.0.1", 0))
        hanging.listen(8)
        hung = "http://127.0.0.1:%d" % hanging.getsockname()[1]
        # Another job pushed a counter under the name of our gauge: the Pushgateway refuses ours (400).
        body = (b"# TYPE kubeovn_live_migration_dual_chassis_since_timestamp_seconds counter\n"
                b"kubeovn_live_migration_dual_chassis_since_timestamp_seconds 1\n")
        urllib.request.urlopen(urllib.request.Request(gateway.url + "/metrics/job/intruder", data=body,
                                                      method="POST"), timeout=5).close()
        now = time.time()
        args = dict(namespace=ns, vmi=vm, migration="m1", stages=dict(target_scheduled=now - 1, prepared=now))
        down, slow, refused, malformed, strict_down, strict_refused = run_tasks([
            ("migration_metrics", dict(args, pushgateway_url=nowhere)),
            ("migration_metrics", dict(args, pushgateway_url=hung, timeout=1)),
            ("migration_metrics", dict(args, pushgateway_url=gateway.url)),
            ("migration_metrics", dict(args, pushgateway_url="ftp://pushgateway:9091")),
            ("migration_metrics", dict(args, pushgateway_url=nowhere, fail_on_error=True)),
            ("migration_metrics", dict(args, pushgateway_url=gateway.url, fail_on_error=True, timeout=2)),
        ])
        for result, words in ((down, ["cannot talk to Pushgateway", "refused"]), (slow, ["timed out"]),
                              # The Pushgateway names whichever of the two clashing series it checks
                              # first ("... is not a COUNTER" or "... is not a GAUGE").
                              (refused, ["answered 400", "inconsistent with existing metrics"]),
                              (malformed, ["is not an http:// or https:// URL"])):
            assert not assert_ok(result)["changed"] and result["pushed"] == []
            for word in words:
                assert word in result["error"], result["error"]
                assert any(word in w for w in result["warnings"]), result["warnings"]
        assert_clean_failure(strict_down, "cannot talk to Pushgateway " + nowhere, "refused")
        assert_clean_failure(strict_refused, "answered 400")
        assert gateway.samples(P + "stage_duration_seconds", namespace=ns) == []
    finally:
        hanging.close()
        gateway.stop()


def test_missing_prometheus_client_is_a_warning_unless_asked_to_fail(pushgateway):
    ns, vm = unique_vm()
    args = vm_args(pushgateway, ns, vm, outcome="succeeded")
    env = {"ANSIBLE_PYTHON_INTERPRETER": SYSTEM_PYTHON}
    lenient, strict = run_tasks([("migration_metrics", args),
                                 ("migration_metrics", dict(args, fail_on_error=True))], env=env)
    assert not assert_ok(lenient)["changed"]
    assert "prometheus_client" in lenient["warnings"][0]
    assert_clean_failure(strict, "prometheus_client")
    # Without a Pushgateway the library is not needed at all.
    assert_ok(run_module("migration_metrics", dict(args, pushgateway_url=""), env=env))


def test_basic_auth(tmp_path):
    gateway = Pushgateway(tmp_path, basic_auth={"klm": BASIC_AUTH_HASH}, auth=("klm", "klm-test-password"))
    gateway.start()
    try:
        ns, vm = unique_vm()
        args = vm_args(gateway, ns, vm, migration="m1", outcome="succeeded", username="klm")
        good, bad, from_env = run_tasks([
            ("migration_metrics", dict(args, password="klm-test-password")),
            ("migration_metrics", dict(args, migration="m2", password="wrong")),
            ("migration_metrics", dict(args, migration="m3")),
        ], env={"PROMETHEUS_PUSHGATEWAY_PASSWORD": "klm-test-password"})
        assert assert_ok(good)["changed"]
        assert "answered 401" in bad["error"]
        assert assert_ok(from_env)["changed"]
        assert value(gateway, P + "outcomes_total", namespace=ns, vmi=vm, outcome="succeeded") == 2
    finally:
        gateway.stop()


def test_https_with_ca_cert(tmp_path):
    (tmp_path / "ca").mkdir()
    ca = CertificateAuthority(tmp_path / "ca")
    cert, key = ca.issue("pushgateway", "127.0.0.1", server_names=("IP:127.0.0.1", "DNS:localhost"))
    gateway = Pushgateway(tmp_path / "gw", tls=(cert, key, ca.cert)).start()
    try:
        ns, vm = unique_vm()
        args = vm_args(gateway, ns, vm, outcome="repaired")
        assert args["pushgateway_url"].startswith("https://")
        trusted, untrusted, unverified, no_ca = run_tasks([
            ("migration_metrics", dict(args, ca_cert=str(ca.cert))),
            ("migration_metrics", args),
            ("migration_metrics", dict(args, validate_certs=False)),
            ("migration_metrics", dict(args, ca_cert=str(tmp_path / "nope.pem"))),
        ])
        assert assert_ok(trusted)["changed"] and assert_ok(unverified)["changed"]
        assert not assert_ok(untrusted)["changed"] and "certificate verify failed" in untrusted["error"]
        assert not assert_ok(no_ca)["changed"] and "nope.pem: no such file" in no_ca["error"]
        assert value(gateway, P + "outcomes_total", namespace=ns, vmi=vm, outcome="repaired") == 2
    finally:
        gateway.stop()


def test_missing_target_scheduled_and_clock_skew_are_warnings(pushgateway):
    ns, vm = unique_vm()
    now = time.time()
    unknown, skewed = run_tasks([
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m1", outcome="succeeded",
                                      stages=dict(cutover=now))),
        ("migration_metrics", vm_args(pushgateway, ns, vm, migration="m2",
                                      stages=dict(target_scheduled=now, prepared=now - 2))),
    ])
    assert "no target_scheduled time for migration 'm1'" in assert_ok(unknown)["warnings"][0]
    assert value(pushgateway, P + "outcomes_total", namespace=ns, vmi=vm, outcome="succeeded") == 1
    assert "before target_scheduled" in assert_ok(skewed)["warnings"][0]
    assert value(pushgateway, P + "stage_duration_seconds", namespace=ns, vmi=vm, stage="prepared") == 0


def test_bad_input_gives_a_clear_msg(pushgateway):
    base = dict(pushgateway_url=pushgateway.url, namespace="ns-bad", vmi="vm-bad")
    cases = [
        (dict(base, stages=dict(prepare=1)), ["unknown stage 'prepare'", "target_scheduled, prepared"]),
        (dict(base, stages=dict(prepared="yesterday")), ["stages.prepared", "'yesterday' is not a time", "ISO 8601"]),
        (dict(base, stages=dict(prepared=True)), ["stages.prepared", "is not a time"]),
        (dict(base, stages=dict(prepared=-5)), ["stages.prepared", "not a time after 1970"]),
        (dict(base, stages=dict(prepared=[1])), ["stages.prepared", "is not a time"]),
        (dict(base, outcome="exploded"), ["outcome", "succeeded, rolled_back, timed_out, repaired, failed"]),
        (dict(pushgateway_url=pushgateway.url, vmi="vm-bad", outcome="succeeded"), ["namespace and vmi go together"]),
        (dict(pushgateway_url=pushgateway.url, outcome="succeeded"), ["give namespace and vmi"]),
        (dict(pushgateway_url=pushgateway.url), ["nothing to record"]),
        (dict(pushgateway_url=pushgateway.url, repaired_ports=2), ["repaired_ports", "sweep=true"]),
        (dict(pushgateway_url=pushgateway.url, sweep=True, repaired_ports=-1), ["repaired_ports must be 0 or more"]),
        (dict(base, outcome="failed", timeout=0), ["timeout must be a positive number"]),
        (dict(base, outcome="failed", job=""), ["job must not be empty"]),
        # Input is checked even when no Pushgateway is configured, so a role's mistake shows at once.
        (dict(base, pushgateway_url="", stages=dict(cutover="soon")), ["'soon' is not a time"]),
    ]
    results = run_tasks([("migration_metrics", args) for args, _unused in cases])
    for result, (_unused, fragments) in zip(results, cases):
        assert_clean_failure(result, *fragments)
    assert pushgateway.samples(P + "outcomes_total", namespace="ns-bad") == []
