"""Run Debian's `prometheus-pushgateway` and `prometheus` binaries on free loopback ports.

Each daemon lives in a directory of its own (log, pidfile, Prometheus' TSDB and config); the
pidfile is written as soon as the process exists, and stop() signals that pid (checking that the
pid still runs our binary in our directory) so nothing outlives the test, even a failed one.
The children also get PR_SET_PDEATHSIG, so a test process killed outright takes them with it.
"""
import base64
import ctypes
import json
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ovn_sandbox.daemons import is_alive, log_tail, read_pid, stop_pids

PUSHGATEWAY_BIN = "prometheus-pushgateway"
PROMETHEUS_BIN = "prometheus"
PROMTOOL_BIN = "promtool"
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """A daemon did not start or answer; the message carries its log tail."""


def free_port(host="127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _die_with_parent():
    # Runs in the child between fork and exec: SIGTERM it when the test process goes away.
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def http_get(url, timeout=5.0, auth=None, cafile=None):
    """GET url (with basic `auth`=(user, password), trusting `cafile` for https), return the body as text.

    Raises urllib.error.HTTPError / URLError / OSError."""
    req = urllib.request.Request(url)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
    context = ssl.create_default_context(cafile=str(cafile)) if cafile else None
    with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
        return resp.read().decode()


class Daemon:
    """One binary started in `workdir`, with <name>.pid and <name>.log there."""

    name = None
    binary = None

    def __init__(self, workdir, host="127.0.0.1"):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = None
        self.pidfile = self.workdir / (self.name + ".pid")
        self.logfile = self.workdir / (self.name + ".log")
        self._proc = None
        self.scheme = "http"
        self.cafile = None  # the CA this side trusts when scheme is https

    @property
    def url(self):
        return "%s://%s:%d" % (self.scheme, self.host, self.port)

    def args(self):
        raise NotImplementedError

    def start(self, timeout=20.0, attempts=3):
        """Start on a free port (retrying if another process grabs it first); wait until ready."""
        for attempt in range(attempts):
            self.port = free_port(self.host)
            self._spawn()
            try:
                self._wait_ready(timeout)
                return self
            except StackError:
                in_use = "address already in use" in log_tail(self.logfile, 50)
                self.stop()
                if not in_use or attempt == attempts - 1:
                    raise
        return self

    def _spawn(self):
        cmd = [self.binary] + self.args()
        with open(self.logfile, "ab") as log:
            self._proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=str(self.workdir), preexec_fn=_die_with_parent)
        self.pidfile.write_text("%d\n" % self._proc.pid)

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise StackError("%s exited with %s:\n%s" % (self.name, self._proc.returncode, log_tail(self.logfile)))
            try:
                http_get(self.url + "/-/ready", timeout=1.0, cafile=self.cafile)
                return
            except urllib.error.HTTPError as err:
                if err.code == 401:
                    return  # it asks for credentials: it is up
                time.sleep(0.05)  # 503 while Prometheus loads
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise StackError("%s not ready on %s after %ss:\n%s" % (self.name, self.url, timeout, log_tail(self.logfile)))

    @property
    def pid(self):
        return read_pid(self.pidfile)

    def alive(self):
        return is_alive(self.pid, marker=str(self.workdir))

    def stop(self):
        """Stop by the pid in the pidfile; idempotent."""
        pid = self.pid
        if pid:
            stop_pids([pid], marker=str(self.workdir))
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)  # reap it: no zombie left behind
            except subprocess.TimeoutExpired:
                pass
            self._proc = None
        if self.pidfile.exists():
            self.pidfile.unlink()


class Pushgateway(Daemon):
    """A Pushgateway. With `basic_auth`={user: bcrypt hash} it asks for credentials (its reads
    here use `auth`=(user, password)); with `tls`=(cert, key, ca) it serves https only."""

    name = "pushgateway"
    binary = PUSHGATEWAY_BIN

    def __init__(self, workdir, host="127.0.0.1", basic_auth=None, auth=None, tls=None):
        super(Pushgateway, self).__init__(workdir, host)
        self.basic_auth = dict(basic_auth or {})
        self.auth = auth
        self.tls = tls
        if tls:
            self.scheme, self.cafile = "https", tls[2]

    def args(self):
        # The persistence file sits in the work dir (Debian's default is under /var/lib), which also
        # puts the work dir in the command line for stop()'s pid check. It is written only on exit.
        args = ["--web.listen-address=%s:%d" % (self.host, self.port),
                "--persistence.file=%s" % (self.workdir / "pushgateway.data"),
                "--web.enable-admin-api", "--log.level=warn"]
        web = {}
        if self.basic_auth:
            web["basic_auth_users"] = self.basic_auth
        if self.tls:
            web["tls_server_config"] = {"cert_file": str(self.tls[0]), "key_file": str(self.tls[1])}
        if web:
            web_config = self.workdir / "web.yml"
            web_config.write_text(json.dumps(web))
            args.append("--web.config.file=%s" % web_config)
        return args

    def metrics_text(self):
        return http_get(self.url + "/metrics", auth=self.auth, cafile=self.cafile)

    def families(self):
        """The scraped /metrics parsed by prometheus_client's text parser: {name: MetricFamily}."""
        from prometheus_client.parser import text_string_to_metric_families
        return {fam.name: fam for fam in text_string_to_metric_families(self.metrics_text())}

    def samples(self, name, **labels):
        """Samples named `name` (the sample name, e.g. x_total) whose labels include `labels`."""
        from prometheus_client.parser import text_string_to_metric_families
        found = []
        for fam in text_string_to_metric_families(self.metrics_text()):
            for sample in fam.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    found.append(sample)
        return found

    def wipe(self):
        """Delete every group (admin API), so tests sharing one Pushgateway start clean."""
        req = urllib.request.Request(self.url + "/api/v1/admin/wipe", method="PUT")
        if self.auth:
            req.add_header("Authorization", "Basic " + base64.b64encode(("%s:%s" % self.auth).encode()).decode())
        context = ssl.create_default_context(cafile=str(self.cafile)) if self.cafile else None
        with urllib.request.urlopen(req, timeout=5, context=context):
            pass


class Prometheus(Daemon):
    name = "prometheus"
    binary = PROMETHEUS_BIN

    def __init__(self, workdir, scrape_targets=(), rule_files=(), interval="1s", host="127.0.0.1"):
        super(Prometheus, self).__init__(workdir, host)
        self.scrape_targets = list(scrape_targets)
        self.rule_files = [str(p) for p in rule_files]
        self.interval = interval
        self.config = self.workdir / "prometheus.yml"

    def args(self):
        self.config.write_text(json.dumps({
            "global": {"scrape_interval": self.interval, "evaluation_interval": self.interval,
                       "scrape_timeout": self.interval},
            "rule_files": self.rule_files,
            # honor_labels: the pushed job/namespace/vmi labels win over the target's own,
            # as Prometheus' docs require for a Pushgateway.
            "scrape_configs": [{"job_name": "pushgateway", "honor_labels": True,
                                "static_configs": [{"targets": self.scrape_targets}]}],
        }, indent=1))
        return ["--config.file=%s" % self.config, "--storage.tsdb.path=%s" % (self.workdir / "data"),
                "--web.listen-address=%s:%d" % (self.host, self.port), "--log.level=warn",
                "--web.console.templates=%s" % (self.workdir / "consoles"),
                "--web.console.libraries=%s" % (self.workdir / "console_libraries")]

    def api(self, path, **params):
        url = self.url + "/api/v1/" + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        body = json.loads(http_get(url))
        if body.get("status") != "success":
            raise StackError("Prometheus %s: %s" % (path, body))
        return body["data"]

    def alerts(self):
        """Alerts of /api/v1/alerts: [{"labels", "annotations", "state", "activeAt", "value"}]."""
        return self.api("alerts")["alerts"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def rule_health(self):
        """{rule name: (health, lastError)} of every loaded rule."""
        health = {}
        for group in self.api("rules")["groups"]:
            for rule in group["rules"]:
                health[rule["name"]] = (rule.get("health"), rule.get("lastError", ""))
        return health

    def wait_for_alert(self, name, state="firing", timeout=30.0, **labels):
        """The first alert `name` in `state` whose labels include `labels`; StackError after timeout."""
        deadline = time.monotonic() + timeout
        seen = []
        while time.monotonic() < deadline:
            seen = self.alerts()
            for alert in seen:
                if (alert["labels"].get("alertname") == name and alert["state"] == state
                        and all(alert["labels"].get(k) == v for k, v in labels.items())):
                    return alert
            time.sleep(0.25)
        raise StackError("alert %s %s not %s after %ss; alerts: %s" % (name, labels, state, timeout, json.dumps(seen)))


def promtool_check_rules(path):
    """Run `promtool check rules PATH`; return (rc, output)."""
    proc = subprocess.run([PROMTOOL_BIN, "check", "rules", str(path)], capture_output=True, text=True,
                          timeout=60, check=False)
    return proc.returncode, proc.stdout + proc.stderr


class PrometheusStack:
    """A Pushgateway and, optionally, a Prometheus scraping it every second with `rule_files`.

        with PrometheusStack(workdir, rule_files=[rules]) as stack:
            stack.pushgateway.url, stack.prometheus.wait_for_alert("X", namespace="ns")
    """

    def __init__(self, workdir, rule_files=None, with_prometheus=None):
        self.workdir = Path(workdir)
        self.pushgateway = Pushgateway(self.workdir / "pushgateway")
        self.rule_files = list(rule_files or [])
        self.with_prometheus = bool(self.rule_files) if with_prometheus is None else with_prometheus
        self.prometheus = None

    def start(self):
        try:
            self.pushgateway.start()
            if self.with_prometheus:
                target = "%s:%d" % (self.pushgateway.host, self.pushgateway.port)
                self.prometheus = Prometheus(self.workdir / "prometheus", [target], self.rule_files).start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for daemon in (self.prometheus, self.pushgateway):
            if daemon is not None:
                daemon.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def pids_alive(workdir):
    """Pids from the pidfiles under workdir that still run (for tests of the stack itself)."""
    return [pid for pid in (read_pid(p) for p in Path(workdir).rglob("*.pid")) if is_alive(pid)]


__all__ = ["Prometheus", "PrometheusStack", "Pushgateway", "StackError", "free_port", "http_get",
           "pids_alive", "promtool_check_rules"]
