"""The Prometheus stack of the tests: Debian's Pushgateway and Prometheus on loopback ports,
stopped by pid whatever happens."""
import subprocess
import sys
import time

import pytest

from ansible_run import ansible_env
from prometheus_stack import PrometheusStack, Pushgateway, StackError, http_get, pids_alive
from prometheus_stack.stack import is_alive, read_pid


def test_stack_runs_both_daemons_and_stops_them_when_the_test_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with PrometheusStack(tmp_path, with_prometheus=True) as stack:
            pids = sorted(pids_alive(tmp_path))
            assert len(pids) == 2
            assert stack.pushgateway.url.startswith("http://127.0.0.1:")
            assert "pushgateway_build_info" in stack.pushgateway.metrics_text()
            # Prometheus scrapes the Pushgateway (honor_labels) every second.
            deadline = time.monotonic() + 20
            while not stack.prometheus.query('up{job="pushgateway"} == 1'):
                assert time.monotonic() < deadline, "Prometheus never scraped the Pushgateway"
                time.sleep(0.25)
            raise RuntimeError("a failing test")
    assert pids_alive(tmp_path) == []
    assert not any(is_alive(pid) for pid in pids)
    assert list(tmp_path.rglob("*.pid")) == []


def test_two_pushgateways_get_their_own_ports(tmp_path):
    first, second = Pushgateway(tmp_path / "a").start(), Pushgateway(tmp_path / "b").start()
    try:
        assert first.port != second.port
        first.stop()
        first.stop()  # idempotent
        assert not first.alive() and second.alive()
        with pytest.raises(OSError):
            http_get(first.url + "/metrics", timeout=1)
    finally:
        first.stop()
        second.stop()


def test_a_daemon_that_cannot_start_says_why(tmp_path):
    gateway = Pushgateway(tmp_path)
    gateway.args = lambda: ["--no-such-flag"]
    with pytest.raises(StackError, match="pushgateway exited"):
        gateway.start(timeout=10)
    assert pids_alive(tmp_path) == []


def test_command_line_serves_until_sigterm(tmp_path):
    pidfile = tmp_path / "stack.pid"
    proc = subprocess.Popen([sys.executable, "-m", "prometheus_stack", str(tmp_path / "run"), "--pidfile", str(pidfile)],
                            stdout=subprocess.PIPE, text=True, env=ansible_env())
    try:
        line = proc.stdout.readline()
        assert line.startswith("pushgateway http://127.0.0.1:"), line
        http_get(line.split()[1] + "/-/ready")
        assert read_pid(pidfile) == proc.pid
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        assert pids_alive(tmp_path) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
