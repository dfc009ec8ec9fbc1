#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: migration_metrics
short_description: Push live migration metrics to a Prometheus Pushgateway
description:
  - Records what the collection did for a VM's live migration - when each stage was reached and how the migration
    ended - and what the sweep did, as Prometheus series pushed to a Pushgateway, the standard way for batch jobs
    such as playbooks. The series and the alert rules that use them are described in C(docs/metrics.md).
  - A VM's series go to the group with grouping key O(job), O(namespace), O(vmi); the sweep's to the group of
    O(job) alone. Each push first reads the group back from the Pushgateway (C(GET /api/v1/metrics)) so that
    counters continue from their stored value and earlier stages of the same migration are kept.
  - Without a Pushgateway URL (O(pushgateway_url) or the E(PROMETHEUS_PUSHGATEWAY_URL) variable) the module does
    nothing and reports so; metrics are optional.
  - Metrics never fail a migration step by default - a Pushgateway that is down, refuses the push, or whose URL
    is malformed, and a missing C(prometheus_client) library, give a warning. Set O(fail_on_error) to fail instead.
    Bad input (unknown stage, unparsable time, missing VM name) always fails, with a message saying what is wrong.
version_added: 0.1.0
author:
  - kubeovn.live_migration contributors (@kubeovn)
requirements:
  - prometheus_client >= 0.17 (on the host that runs the module), only when a Pushgateway is configured
extends_documentation_fragment:
  - kubeovn.live_migration.attributes
attributes:
  check_mode:
    support: full
    details: Reads the group from the Pushgateway and returns what would be pushed, without pushing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - Stages and an outcome already recorded for the same O(migration) are not pushed again (C(changed=false)).
      - Every O(sweep) call records a sweep run, and an O(outcome) without O(migration) is counted each time.
options:
  pushgateway_url:
    description:
      - Base URL of the Pushgateway, for example V(http://pushgateway.monitoring:9091); V(host:port) means
        V(http://host:port). A path prefix is kept (V(https://gw.example.com/pushgateway)).
      - When neither this nor E(PROMETHEUS_PUSHGATEWAY_URL) is set, nothing is pushed.
    type: str
  username:
    description:
      - User for HTTP basic authentication to the Pushgateway (its C(--web.config.file) C(basic_auth_users)).
      - Falls back to E(PROMETHEUS_PUSHGATEWAY_USERNAME).
    type: str
  password:
    description:
      - Password for O(username).
      - Falls back to E(PROMETHEUS_PUSHGATEWAY_PASSWORD).
    type: str
  validate_certs:
    description:
      - Verify the Pushgateway's TLS certificate (with an V(https://) URL).
    type: bool
    default: true
  ca_cert:
    description:
      - CA certificate (PEM file) that signed the Pushgateway's certificate, instead of the system's CA bundle.
    type: path
  job:
    description:
      - The C(job) label of the pushed groups.
    type: str
    default: kubeovn_live_migration
  namespace:
    description:
      - Namespace of the VMI. With O(vmi), selects the VM's group.
    type: str
  vmi:
    description:
      - Name of the VirtualMachineInstance.
    type: str
  migration:
    description:
      - Name of the VirtualMachineInstanceMigration, the C(migration) label of the VM's stage, dual-chassis and
        outcome series.
      - Needed to add later stages to the durations of a migration whose C(target_scheduled) time was pushed by
        an earlier call, and to count an outcome only once when a step is re-run.
    type: str
  stages:
    description:
      - When stages of the migration were reached, as a dict from stage to time.
      - Stages are V(target_scheduled) (the target pod got a node), V(prepared) (the ports were bound on both
        chassis), V(target_bound) (the target chassis appeared in the Southbound C(Port_Binding)), V(activated)
        (the target chassis saw the VM's RARP), V(cutover) (the ports are bound on the target only).
      - A time is epoch seconds (a number, or a string of one) or ISO 8601 such as V(2026-01-01T10:00:00Z);
        without a zone it is UTC. A null time means the stage was not reached and is ignored.
      - Each stage after V(target_scheduled) is pushed as its duration since V(target_scheduled).
        V(prepared) also marks the ports dual-chassis since that time; V(cutover) clears that mark and records
        the window from V(prepared) to V(cutover) (a gauge of the last window and a histogram per VM).
    type: dict
    default: {}
  outcome:
    description:
      - How the migration ended, as the collection acted on it; counted once per O(migration) and outcome.
      - V(repaired) is a port fixed outside a migration (reconcile); V(failed) is a step that failed to act.
      - Any outcome clears the VM's dual-chassis mark; without a V(cutover) stage the window it records ends now.
    type: str
    choices: [succeeded, rolled_back, timed_out, repaired, failed]
  sweep:
    description:
      - Record a run of the sweep now, with O(repaired_ports).
    type: bool
    default: false
  repaired_ports:
    description:
      - Ports the sweep run repaired. Only with O(sweep).
    type: int
    default: 0
  timeout:
    description:
      - Seconds to wait for each HTTP request to the Pushgateway.
    type: float
    default: 10
  fail_on_error:
    description:
      - Fail when the metrics cannot be pushed, instead of warning.
    type: bool
    default: false
notes:
  - The read-then-push of a group is not atomic; the collection never runs two steps for one VM at once, so a
    VM's counters are exact. Two concurrent sweeps could lose one run of the repaired-ports total.
  - The Pushgateway keeps a group until it is deleted; delete the group of a VM that is gone with
    C(DELETE /metrics/job/<job>/namespace/<namespace>/vmi/<vmi>).
"""

EXAMPLES = r"""
- name: After prepare - the pod was scheduled, the ports bound on both chassis, the target chassis in SB
  kubeovn.live_migration.migration_metrics:
    pushgateway_url: http://pushgateway.monitoring:9091
    namespace: vms
    vmi: db-0
    migration: db-0-migration-x7k2q
    stages:
      target_scheduled: "2026-01-01T10:00:00Z"
      prepared: "{{ now(utc=true).isoformat() }}"
      target_bound: 1767261601.2

- name: After cutover (the URL from PROMETHEUS_PUSHGATEWAY_URL, as set in an AWX credential)
  kubeovn.live_migration.migration_metrics:
    namespace: vms
    vmi: db-0
    migration: db-0-migration-x7k2q
    stages:
      activated: "{{ activated_at }}"
      cutover: "{{ now().timestamp() }}"
    outcome: succeeded

- name: After a rollback
  kubeovn.live_migration.migration_metrics:
    namespace: vms
    vmi: db-0
    migration: db-0-migration-x7k2q
    outcome: rolled_back

- name: After a sweep run
  kubeovn.live_migration.migration_metrics:
    sweep: true
    repaired_ports: "{{ repaired | length }}"
"""

RETURN = r"""
pushed:
  description:
    - The groups pushed (in check mode - would be pushed), each with every series of the metric names pushed.
    - Empty when nothing is configured, nothing changed, or the push failed.
  returned: always
  type: list
  elements: dict
  contains:
    grouping_key:
      description: The group's labels.
      type: dict
      sample: {job: kubeovn_live_migration, namespace: vms, vmi: db-0}
    series:
      description: The series, with name, labels (besides the grouping key) and value.
      type: list
      elements: dict
      sample:
        - {name: kubeovn_live_migration_stage_duration_seconds, labels: {migration: db-0-migration-x7k2q,
           stage: prepared}, value: 0.42}
        - {name: kubeovn_live_migration_outcomes_total, labels: {outcome: succeeded}, value: 3.0}
notes:
  description: What was left out on purpose, such as an outcome already counted for this migration.
  returned: when a Pushgateway is configured
  type: list
  elements: str
pushgateway_url:
  description: The Pushgateway URL used, or null when none is configured.
  returned: always
  type: str
error:
  description: Why the metrics could not be pushed (also given as a warning).
  returned: when the push failed and O(fail_on_error=false)
  type: str
"""

from ansible.module_utils.basic import env_fallback, missing_required_lib

from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_metrics import (
    HAS_PROMETHEUS_CLIENT, OUTCOMES, PROMETHEUS_CLIENT_IMPORT_ERROR, MigrationMetrics, PushgatewayError,
    normalize_url, parse_stages,
)


def check_input(params):
    """The VM part (or None) and the sweep part (or None); ModuleError on bad input."""
    if not params["job"]:
        raise ModuleError("job must not be empty")
    if params["timeout"] <= 0:
        raise ModuleError("timeout must be a positive number of seconds, not %s" % params["timeout"])
    stages = parse_stages(params["stages"])
    vm = None
    if params["namespace"] or params["vmi"]:
        if not (params["namespace"] and params["vmi"]):
            raise ModuleError("namespace and vmi go together: the VM's metrics are grouped by both")
        vm = dict(namespace=params["namespace"], vmi=params["vmi"], migration=params["migration"],
                  stages=stages, outcome=params["outcome"])
    elif params["stages"] or params["outcome"] or params["migration"]:
        raise ModuleError("stages, outcome and migration describe a VM: give namespace and vmi too")
    if params["repaired_ports"] < 0:
        raise ModuleError("repaired_ports must be 0 or more, not %d" % params["repaired_ports"])
    if params["repaired_ports"] and not params["sweep"]:
        raise ModuleError("repaired_ports is a count of a sweep run: set sweep=true")
    sweep = params["repaired_ports"] if params["sweep"] else None
    if vm is None and sweep is None:
        raise ModuleError("nothing to record: give namespace and vmi (with stages and/or outcome), or sweep=true")
    return vm, sweep


def main_logic(module):
    params = module.params
    vm, sweep = check_input(params)
    result = dict(changed=False, pushed=[], pushgateway_url=None)
    url = (params["pushgateway_url"] or "").strip()
    if not url:
        result["msg"] = "No Pushgateway configured (pushgateway_url or PROMETHEUS_PUSHGATEWAY_URL): nothing pushed"
        return result
    try:
        if not HAS_PROMETHEUS_CLIENT:
            raise PushgatewayError(missing_required_lib("prometheus_client"), exception=str(PROMETHEUS_CLIENT_IMPORT_ERROR))
        result["pushgateway_url"] = normalize_url(url)
        metrics = MigrationMetrics(url, params["job"], timeout=params["timeout"], username=params["username"],
                                   password=params["password"], validate_certs=params["validate_certs"],
                                   ca_cert=params["ca_cert"], check_mode=module.check_mode)
        summary, warnings = metrics.run(vm=vm, sweep=sweep)
    except ModuleError as err:
        # Metrics are an aid: a broken Pushgateway must not stop a migration step unless asked to.
        if params["fail_on_error"]:
            raise
        module.warn("metrics not pushed: %s" % err.msg)
        result.update(error=err.msg, msg="Metrics not pushed: %s" % err.msg)
        return result
    for warning in warnings:
        module.warn(warning)
    result.update(summary)
    count = sum(len(group["series"]) for group in summary["pushed"])
    if not summary["pushed"]:
        result["msg"] = "Nothing to push: the Pushgateway already holds these values"
    elif module.check_mode:
        result["msg"] = "Would push %d series to %s" % (count, summary["pushgateway_url"])
    else:
        result["msg"] = "Pushed %d series to %s" % (count, summary["pushgateway_url"])
    return result


def main():
    module = KubeovnModule(
        argument_spec=dict(
            pushgateway_url=dict(type="str", fallback=(env_fallback, ["PROMETHEUS_PUSHGATEWAY_URL"])),
            username=dict(type="str", fallback=(env_fallback, ["PROMETHEUS_PUSHGATEWAY_USERNAME"])),
            password=dict(type="str", no_log=True, fallback=(env_fallback, ["PROMETHEUS_PUSHGATEWAY_PASSWORD"])),
            validate_certs=dict(type="bool", default=True),
            ca_cert=dict(type="path"),
            job=dict(type="str", default="kubeovn_live_migration"),
            namespace=dict(type="str"),
            vmi=dict(type="str"),
            migration=dict(type="str"),
            stages=dict(type="dict", default={}),
            outcome=dict(type="str", choices=list(OUTCOMES)),
            sweep=dict(type="bool", default=False),
            repaired_ports=dict(type="int", default=0),
            timeout=dict(type="float", default=10.0),
            fail_on_error=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    module.run(main_logic)


if __name__ == "__main__":
    main()
