# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Live migration metrics pushed to a Prometheus Pushgateway (see docs/metrics.md).

The playbooks are batch jobs, so they push: one Pushgateway group per VM (grouping key job,
namespace, vmi) and one for the sweep (job only). A push with POST replaces, within its group,
every series of each metric name it carries and leaves other names alone. So before each push
the group's current series are read back (GET /api/v1/metrics) and merged: counters become
value + 1, the outcomes not being counted keep their series, stages of the same migration stay.

MigrationMetrics.plan_*() only compute; push() talks HTTP. Errors reaching the Pushgateway raise
PushgatewayError (the module turns them into a warning unless fail_on_error); bad input raises
ModuleError at once.
"""

import base64
import json
import math
import os
import re
import time

from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit

from ansible.module_utils.urls import ConnectionError as UrlsConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.timestamps import parse_time as parse_rfc3339

try:
    import prometheus_client
    from prometheus_client import CollectorRegistry, Counter, Gauge, pushadd_to_gateway
    from prometheus_client.core import HistogramMetricFamily
    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module with missing_required_lib
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = exc

STAGES = ("target_scheduled", "prepared", "target_bound", "activated", "cutover")
DURATION_STAGES = STAGES[1:]
OUTCOMES = ("succeeded", "rolled_back", "timed_out", "repaired", "failed")

PREFIX = "kubeovn_live_migration_"
STAGE_DURATION = PREFIX + "stage_duration_seconds"
TARGET_SCHEDULED_TS = PREFIX + "target_scheduled_timestamp_seconds"
DUAL_CHASSIS_SINCE = PREFIX + "dual_chassis_since_timestamp_seconds"
DUAL_CHASSIS_WINDOW = PREFIX + "dual_chassis_window_seconds"
DUAL_CHASSIS_LAST_WINDOW = PREFIX + "dual_chassis_last_window_seconds"
OUTCOMES_TOTAL = PREFIX + "outcomes_total"
LAST_OUTCOME_TS = PREFIX + "last_outcome_timestamp_seconds"
SWEEP_LAST_RUN_TS = PREFIX + "sweep_last_run_timestamp_seconds"
SWEEP_LAST_RUN_REPAIRED = PREFIX + "sweep_last_run_repaired_ports"
SWEEP_REPAIRED_TOTAL = PREFIX + "sweep_repaired_ports_total"

# Upper bounds of the window histogram (seconds): a memory copy takes seconds to minutes
# (docs/rollout.md); DualChassisTooLong alerts at 600.
WINDOW_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0)

# name -> (type, label names, help). Counter names are the sample names (with _total).
SERIES = {
    STAGE_DURATION: ("gauge", ("migration", "stage"),
                     "Seconds from the target pod being scheduled to each later stage of the VM's last migration."),
    TARGET_SCHEDULED_TS: ("gauge", ("migration",),
                          "Unix time the target pod of the VM's last migration was scheduled."),
    DUAL_CHASSIS_SINCE: ("gauge", ("migration",),
                         "Unix time since which the VM's ports are bound on two chassis; 0 when on one."),
    DUAL_CHASSIS_LAST_WINDOW: ("gauge", ("migration",),
                               "Seconds the VM's ports were bound on two chassis in its last migration that ended."),
    DUAL_CHASSIS_WINDOW: ("histogram", (),
                          "Seconds the VM's ports were bound on two chassis, one observation per migration."),
    OUTCOMES_TOTAL: ("counter", ("outcome",),
                     "Migrations of the VM that ended with each outcome, as acted on by the collection."),
    LAST_OUTCOME_TS: ("gauge", ("migration", "outcome"),
                      "Unix time the VM last had each outcome, with the migration it belonged to."),
    SWEEP_LAST_RUN_TS: ("gauge", (), "Unix time the sweep last ran."),
    SWEEP_LAST_RUN_REPAIRED: ("gauge", (), "Ports the last sweep run repaired."),
    SWEEP_REPAIRED_TOTAL: ("counter", (), "Ports the sweep has repaired, over all runs."),
}

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


class PushgatewayError(ModuleError):
    """The Pushgateway could not be read or written; a warning unless fail_on_error."""


def parse_time(value, what):
    """Epoch seconds (number or numeric string) or ISO 8601 -> float epoch seconds.

    A time without a zone is taken as UTC (Ansible's now(utc=True).isoformat() has none)."""
    if isinstance(value, bool):
        raise ModuleError("%s: %r is not a time (epoch seconds or ISO 8601)" % (what, value))
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and _NUMBER.match(value.strip()):
        seconds = float(value.strip())
    elif isinstance(value, str):
        stamp = parse_rfc3339(value)
        if stamp is None:
            raise ModuleError("%s: %r is not a time: give epoch seconds or ISO 8601 such as "
                              "2026-01-01T10:00:00Z" % (what, value))
        seconds = stamp.timestamp()
    else:
        raise ModuleError("%s: %r is not a time (epoch seconds or ISO 8601)" % (what, value))
    if math.isnan(seconds) or math.isinf(seconds) or seconds <= 0:
        raise ModuleError("%s: %r is not a time after 1970" % (what, value))
    return seconds


def parse_stages(stages):
    """{stage: time or null} -> {stage: epoch float}; null means not reached and is dropped."""
    parsed = {}
    for stage, value in (stages or {}).items():
        if stage not in STAGES:
            raise ModuleError("stages: unknown stage %r; stages are %s" % (stage, ", ".join(STAGES)))
        if value is None or value == "":
            continue
        parsed[stage] = parse_time(value, "stages.%s" % stage)
    return parsed


def normalize_url(url):
    """The Pushgateway base URL with a scheme; ModuleError when it is not http(s)://host[:port][/prefix]."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ModuleError("pushgateway_url %r is not an http:// or https:// URL of a Pushgateway" % url)
    try:
        port = parts.port  # raises on a port that is not a number or out of range
    except ValueError:
        port = 0
    if port == 0:
        raise ModuleError("pushgateway_url %r has an invalid port" % url)
    return url


def _labels_key(labels):
    # Prometheus treats an empty label value as no label: compare without them.
    return tuple(sorted((k, v) for k, v in labels.items() if v not in ("", None)))


class Family(object):
    """The series of one metric name in one group: {labels key: value}."""

    def __init__(self, name, series=None, total=0.0):
        self.name = name
        self.series = dict(series or {})
        self.total = total  # a histogram's sum; its series are the cumulative counts by `le`

    def set(self, value, **labels):
        self.series[_labels_key(labels)] = float(value)

    def get(self, **labels):
        return self.series.get(_labels_key(labels))

    def find(self, **labels):
        """(labels dict, value) of the series that carry `labels` (among others)."""
        return [(dict(key), value) for key, value in self.series.items()
                if all(dict(key).get(k, "") == v for k, v in labels.items())]

    def as_list(self):
        if SERIES.get(self.name, ("",))[0] == "histogram":
            buckets = [dict(name=self.name + "_bucket", labels={"le": le}, value=count) for le, count in self.buckets()]
            return buckets + [dict(name=self.name + "_sum", labels={}, value=self.total),
                              dict(name=self.name + "_count", labels={}, value=self.get(le="+Inf") or 0.0)]
        return [dict(name=self.name, labels=dict(key), value=value) for key, value in sorted(self.series.items())]

    def buckets(self):
        """A histogram's (le, cumulative count), by increasing bound, +Inf last."""
        found = [(dict(key).get("le", "+Inf"), value) for key, value in self.series.items()]
        return sorted(found, key=lambda item: float(item[0]))


def _le(bound):
    return "+Inf" if math.isinf(bound) else repr(float(bound))


def observe(previous, name, seconds=None, bounds=WINDOW_BUCKETS):
    """A histogram Family: `previous` (or an empty one) plus one observation of `seconds` (None: none)."""
    family = Family(name, total=(previous.total if previous else 0.0) + (seconds or 0.0))
    for bound in tuple(bounds) + (float("inf"),):
        before = previous.get(le=_le(bound)) if previous else None
        family.set((before or 0.0) + (1 if seconds is not None and seconds <= bound else 0), le=_le(bound))
    family.total = round(family.total, 6)
    return family


class GroupPlan(object):
    """What to push to one group: families by name, plus what was skipped and why."""

    def __init__(self, grouping_key):
        self.grouping_key = grouping_key
        self.families = {}
        self.notes = []  # informational: what was left out on purpose
        self.warnings = []  # input the metrics could not use fully

    def add(self, family):
        self.families[family.name] = family

    def series(self):
        found = []
        for name in sorted(self.families):
            found.extend(self.families[name].as_list())
        return found

    def summary(self):
        return dict(grouping_key=dict(self.grouping_key), series=self.series())


def _histogram_from_json(name, body):
    """A histogram as /api/v1/metrics shows it: {"metrics": [{"buckets": {le: count}, "sum": ...}]}."""
    family = Family(name)
    for metric in (body.get("metrics") or [])[:1]:   # label-less: one series per group
        try:
            for le, count in (metric.get("buckets") or {}).items():
                family.set(float(count), le=_le(float(le)))
            family.total = float(metric.get("sum") or 0.0)
        except (TypeError, ValueError):
            return Family(name)
    return family


class _Collected(object):
    """Families built by hand (a histogram with given buckets) for a CollectorRegistry."""

    def __init__(self, metrics):
        self.metrics = metrics

    def collect(self):
        return self.metrics


class Pushgateway(object):
    """HTTP to one Pushgateway: read a group, push a registry to a group."""

    def __init__(self, url, timeout=10.0, username=None, password=None, validate_certs=True, ca_cert=None):
        self.url = normalize_url(url)
        self.timeout = timeout
        self.validate_certs = validate_certs
        self.ca_cert = ca_cert
        if ca_cert and not os.path.isfile(ca_cert):
            raise PushgatewayError("ca_cert %s: no such file" % ca_cert)
        self.headers = {}
        if username is not None or password is not None:
            token = base64.b64encode(("%s:%s" % (username or "", password or "")).encode()).decode()
            self.headers["Authorization"] = "Basic " + token

    def _request(self, method, url, data=None, headers=None):
        all_headers = dict(self.headers)
        all_headers.update(headers or {})
        try:
            resp = open_url(url, data=data, headers=all_headers, method=method, timeout=self.timeout,
                            validate_certs=self.validate_certs, ca_path=self.ca_cert, use_netrc=False,
                            follow_redirects="none")
            try:
                return resp.read()
            finally:
                resp.close()
        except HTTPError as err:
            body = err.read().decode("utf-8", "replace").strip() if err.fp else ""
            raise PushgatewayError("Pushgateway %s answered %s %s to %s %s%s" % (
                self.url, err.code, err.reason, method, url, (": " + body[:500]) if body else ""))
        except (URLError, UrlsConnectionError, OSError) as err:
            reason = getattr(err, "reason", None) or err
            raise PushgatewayError("cannot talk to Pushgateway %s (%s %s): %s" % (self.url, method, url, reason))

    def read_group(self, labels):
        """{metric name: Family} of the group whose grouping labels are exactly `labels`."""
        raw = self._request("GET", self.url + "/api/v1/metrics")
        try:
            groups = json.loads(raw.decode("utf-8"))["data"] or []
        except (ValueError, KeyError, TypeError, UnicodeDecodeError):
            groups = None
        if not isinstance(groups, list):
            raise PushgatewayError("Pushgateway %s: /api/v1/metrics did not answer the JSON of a Pushgateway" % self.url)
        want = _labels_key(labels)
        for group in groups:
            if not isinstance(group, dict) or _labels_key(group.get("labels") or {}) != want:
                continue
            families = {}
            for name, body in group.items():
                if name not in SERIES or not isinstance(body, dict):
                    continue
                family = Family(name)
                if SERIES[name][0] == "histogram":
                    families[name] = _histogram_from_json(name, body)
                    continue
                for metric in body.get("metrics") or []:
                    mlabels = dict((k, v) for k, v in (metric.get("labels") or {}).items()
                                   if k not in labels and k != "instance")
                    try:
                        family.set(float(metric.get("value")), **mlabels)
                    except (TypeError, ValueError):
                        continue
                families[name] = family
            return families
        return {}

    def push(self, job, grouping_key, plan):
        """POST the plan's families to the group (other metric names of the group stay)."""
        # A counter's _created series would only say when this short process ran (the switch exists
        # from prometheus_client 0.20; older ones push it, which is noise but harmless).
        getattr(prometheus_client, "disable_created_metrics", lambda: None)()
        registry = CollectorRegistry()
        collected = []
        for name, family in plan.families.items():
            kind, labelnames, doc = SERIES[name]
            if kind == "histogram":
                histogram = HistogramMetricFamily(name, doc, labels=[])
                histogram.add_metric([], buckets=family.buckets(), sum_value=family.total)
                collected.append(histogram)
                continue
            if kind == "counter":
                metric = Counter(name[:-len("_total")], doc, labelnames, registry=registry)
            else:
                metric = Gauge(name, doc, labelnames, registry=registry)
            for key, value in family.series.items():
                labels = dict(key)
                child = metric.labels(**dict((n, labels.get(n, "")) for n in labelnames)) if labelnames else metric
                if kind == "counter":
                    child.inc(max(value, 0.0))  # a counter cannot go below 0
                else:
                    child.set(value)
        if collected:
            registry.register(_Collected(collected))

        def handler(url, method, timeout, headers, data):
            def send():
                self._request(method, url, data=data, headers=dict(headers))
            return send

        pushadd_to_gateway(self.url, job=job, registry=registry, grouping_key=grouping_key,
                           timeout=self.timeout, handler=handler)


def plan_vm(current, namespace, vmi, migration, stages, outcome, now):
    """The VM group's families to push, from its `current` families ({name: Family})."""
    plan = GroupPlan(dict(namespace=namespace, vmi=vmi))
    migration = migration or ""

    def existing(name):
        return current.get(name) or Family(name)

    # When the target pod was scheduled: given now, or pushed earlier for this same migration.
    scheduled = stages.get("target_scheduled")
    if scheduled is None and migration:
        scheduled = existing(TARGET_SCHEDULED_TS).get(migration=migration)
    if "target_scheduled" in stages:
        family = Family(TARGET_SCHEDULED_TS)
        family.set(stages["target_scheduled"], migration=migration)
        plan.add(family)

    later = dict((s, t) for s, t in stages.items() if s in DURATION_STAGES)
    if later and scheduled is None:
        plan.warnings.append("no target_scheduled time for migration %r (neither given nor pushed before): "
                             "durations of %s not pushed" % (migration, ", ".join(sorted(later))))
    elif later:
        # Keep the stages already pushed for this migration; an earlier migration's are dropped.
        durations = Family(STAGE_DURATION, dict((k, v) for k, v in existing(STAGE_DURATION).series.items()
                                                if dict(k).get("migration", "") == migration))
        for stage, stamp in sorted(later.items()):
            seconds = stamp - scheduled
            if seconds < 0:
                plan.warnings.append("stage %s is %.3fs before target_scheduled (clock skew?): pushed as 0" %
                                     (stage, -seconds))
                seconds = 0.0
            # Microseconds: finer digits are float noise of epoch times near 1.8e9.
            durations.set(round(seconds, 6), migration=migration, stage=stage)
        plan.add(durations)

    # Dual chassis: from prepare until the migration ends (outcome or cutover). A late outcome of
    # an earlier migration must not clear the mark of the migration now in flight.
    dual = existing(DUAL_CHASSIS_SINCE)
    if outcome or "cutover" in stages:
        marked = [labels.get("migration", "") for labels, value in dual.find() if value > 0]
        if not (migration and marked and migration not in marked):
            family = Family(DUAL_CHASSIS_SINCE)
            family.set(0, migration=migration)
            plan.add(family)
            # The window this mark closes, once: a repeated cutover finds the mark cleared. A run that
            # prepared and cut over at once (the migration ended during it) gives both ends itself.
            since = dual.get(migration=migration)
            if not (since and since > 0) and "cutover" in stages:
                since = stages.get("prepared")
            if since and since > 0:
                window = round((stages.get("cutover") or now) - since, 6)
                if window < 0:
                    plan.warnings.append("the dual-chassis window of migration %r ends %.3fs before it began "
                                         "(clock skew?): observed as 0" % (migration, -window))
                window = max(window, 0.0)
                last = Family(DUAL_CHASSIS_LAST_WINDOW)
                last.set(window, migration=migration)
                plan.add(last)
                plan.add(observe(current.get(DUAL_CHASSIS_WINDOW), DUAL_CHASSIS_WINDOW, window))
    elif "prepared" in stages:
        family = Family(DUAL_CHASSIS_SINCE)
        family.set(stages["prepared"], migration=migration)
        plan.add(family)

    counts = existing(OUTCOMES_TOTAL)
    if outcome:
        last = existing(LAST_OUTCOME_TS)
        already = [labels for labels, _unused in last.find(outcome=outcome)
                   if migration and labels.get("migration", "") == migration]
        if already:
            plan.notes.append("outcome %s of migration %s was already counted" % (outcome, migration))
        else:
            stamps = Family(LAST_OUTCOME_TS, dict((k, v) for k, v in last.series.items()
                                                  if dict(k).get("outcome") != outcome))
            stamps.set(now, migration=migration, outcome=outcome)
            plan.add(stamps)
            totals = Family(OUTCOMES_TOTAL)
            for name in OUTCOMES:
                totals.set((counts.get(outcome=name) or 0.0) + (1 if name == outcome else 0), outcome=name)
            plan.add(totals)
    if DUAL_CHASSIS_WINDOW not in current and DUAL_CHASSIS_WINDOW not in plan.families:
        plan.add(observe(None, DUAL_CHASSIS_WINDOW))   # at 0 first, as the counters below
    if OUTCOMES_TOTAL not in current and OUTCOMES_TOTAL not in plan.families:
        # Every outcome starts at 0, so increase() sees the first one too.
        totals = Family(OUTCOMES_TOTAL)
        for name in OUTCOMES:
            totals.set(0, outcome=name)
        plan.add(totals)
    return plan


def plan_sweep(current, repaired_ports, now):
    plan = GroupPlan({})
    stamp = Family(SWEEP_LAST_RUN_TS)
    stamp.set(now)
    last = Family(SWEEP_LAST_RUN_REPAIRED)
    last.set(repaired_ports)
    total = Family(SWEEP_REPAIRED_TOTAL)
    total.set(((current.get(SWEEP_REPAIRED_TOTAL) or Family("")).get() or 0.0) + repaired_ports)
    for family in (stamp, last, total):
        plan.add(family)
    return plan


def unchanged(plan, current):
    """True when every family of the plan already holds exactly these series."""
    return all(name in current and current[name].series == family.series for name, family in plan.families.items())


class MigrationMetrics(object):
    """Compute and push one call's metrics. run() returns (result dict, warnings)."""

    def __init__(self, url, job, timeout=10.0, username=None, password=None, validate_certs=True, ca_cert=None,
                 check_mode=False, clock=time.time):
        self.gateway = Pushgateway(url, timeout=timeout, username=username, password=password,
                                   validate_certs=validate_certs, ca_cert=ca_cert)
        self.job = job
        self.check_mode = check_mode
        self.clock = clock

    def run(self, vm=None, sweep=None):
        """vm: dict(namespace, vmi, migration, stages, outcome) or None; sweep: repaired ports or None."""
        now = self.clock()
        plans = []
        if vm is not None:
            grouping = dict(job=self.job, namespace=vm["namespace"], vmi=vm["vmi"])
            current = self.gateway.read_group(grouping)
            plan = plan_vm(current, vm["namespace"], vm["vmi"], vm.get("migration"), vm["stages"],
                           vm.get("outcome"), now)
            plans.append((plan, current))
        if sweep is not None:
            current = self.gateway.read_group(dict(job=self.job))
            plans.append((plan_sweep(current, sweep, now), current))
        pushed, notes, warnings = [], [], []
        for plan, current in plans:
            notes.extend(plan.notes)
            warnings.extend(plan.warnings)
            if not plan.families or unchanged(plan, current):
                continue
            if not self.check_mode:
                self.gateway.push(self.job, plan.grouping_key, plan)
            summary = plan.summary()
            summary["grouping_key"]["job"] = self.job
            pushed.append(summary)
        return dict(changed=bool(pushed), pushed=pushed, notes=notes, pushgateway_url=self.gateway.url), warnings
