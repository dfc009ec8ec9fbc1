#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: vmim_info
short_description: Report KubeVirt live migrations (VirtualMachineInstanceMigration), optionally waiting for a phase
description:
  - Lists C(VirtualMachineInstanceMigration) objects (VMIMs) and reports for each the phase, the source and
    target nodes and the target pod.
  - The VMI's C(status.migrationState) is only used for a VMIM when its C(migrationUid) is that VMIM's uid, so
    the state an earlier migration left behind is never reported as a later one's.
  - With O(wait_for), waits (by watching, not polling) until the migration reaches one of the given phases,
    or until its target pod is scheduled.
version_added: 0.1.0
author:
  - kubeovn.live_migration contributors (@kubeovn)
extends_documentation_fragment:
  - kubeovn.live_migration.k8s_auth
  - kubeovn.live_migration.attributes
  - kubeovn.live_migration.attributes.INFO_MODULE
options:
  namespace:
    description:
      - Namespace of the migrations. Without it, migrations of every namespace are listed.
      - Required with O(name) or O(vmi).
    type: str
  name:
    description:
      - Name of one VMIM.
    type: str
  vmi:
    description:
      - Name of a VirtualMachineInstance; only its migrations are listed, and RV(vmi) describes the VMI itself.
    type: str
  label_selectors:
    description:
      - Label selectors the VMIMs must match, for example V(app=db) or V(tier in (a,b)).
    type: list
    elements: str
    default: []
  wait_for:
    description:
      - Wait until the migration is in one of these phases, or, with V(target_scheduled), until its target pod
        has been scheduled on a node (the moment the target node is known).
      - The migration is O(name), or else the newest migration of O(vmi), an in-flight one first. One of them is required.
      - The wait fails early if the migration ends in a phase from which the condition cannot come true, or is deleted.
      - V(target_scheduled) cannot be combined with phases.
    type: list
    elements: str
    choices: [Pending, Scheduling, Scheduled, PreparingTarget, TargetReady, Running, WaitingForSync, Succeeded, Failed,
              target_scheduled]
  wait_timeout:
    description:
      - How many seconds O(wait_for) waits before the module fails; the result still carries the last state seen.
    type: int
    default: 120
  plan:
    description:
      - Also decide what the ports of each VMI in play should be now, with the collection's one planner
        (the same decision the EDA source puts on its events), and return it in RV(plans).
      - The VMIs in play are O(vmi), O(vmis), the VMI of O(name); else every VMI with a migration in flight
        (in O(namespace), or in every namespace), every VMI owning one of O(ports) and every VMI of O(deleted_migrations).
      - With O(wait_for=target_scheduled), the wait only happens while a migration is in flight without a target,
        and a migration that ends or is deleted meanwhile is no failure - the plan says what to do about it. A
        timeout still fails.
    type: bool
    default: false
  vmis:
    description:
      - VirtualMachineInstances to plan for (O(plan)), for example the VMIs of a batch - names in O(namespace),
        or C(namespace/name) (without O(namespace), the migrations of every namespace are read).
    type: list
    elements: str
  scope:
    description:
      - Which VMIs the plan may act on - every VMI not opted out (V(all)) or only opted-in ones (V(opted_in)).
      - Marks the collection left on the ports of a VMI out of scope are still undone.
    type: str
    choices: [all, opted_in]
    default: all
  ports:
    description:
      - The VMIs' ports as M(kubeovn.live_migration.ovn_lsp_info) returns them (C(name), C(vmi), C(namespace),
        C(options)), so that the plan knows what they carry now. A VMI with no port listed has unknown ports.
    type: list
    elements: dict
  deleted_migrations:
    description:
      - Migrations the caller deleted before they ended, as M(kubeovn.live_migration.vmim) O(kubeovn.live_migration.vmim#module:state=absent) returns
        them in C(migrations); the plan rolls their VMIs back.
    type: list
    elements: dict
    default: []
  timed_out:
    description:
      - Whether the caller deleted O(deleted_migrations) because they ran out of time (the plan then records
        C(NetworkTimedOut)).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: All migrations of one VM
  kubeovn.live_migration.vmim_info:
    namespace: vms
    vmi: db-0
  register: db0

- name: Wait until the target node of a migration is known
  kubeovn.live_migration.vmim_info:
    namespace: vms
    name: db-0-migration-x7k2q
    wait_for: [target_scheduled]
    wait_timeout: 60
  register: scheduled

- name: Wait for the end of a migration, with the AWX Kubernetes credential (K8S_AUTH_* variables)
  kubeovn.live_migration.vmim_info:
    namespace: vms
    name: "{{ scheduled.migrations[0].name }}"
    wait_for: [Succeeded, Failed]
    wait_timeout: 600

- name: What the ports of db-0 need now (the decision the roles and the EDA source act on)
  kubeovn.live_migration.vmim_info:
    namespace: vms
    vmi: db-0
    plan: true
  register: db0_plan

- name: Act on it
  kubeovn.live_migration.ovn_lsp:
    vmi: db-0
    namespace: vms
    state: "{{ db0_plan.plans[0].state }}"
    source_chassis: "{{ db0_plan.plans[0].source_chassis | default(omit, true) }}"
    target_chassis: "{{ db0_plan.plans[0].target_chassis | default(omit, true) }}"
  when: db0_plan.plans[0].action != 'none'

- name: Migrations of the whole cluster that carry a label
  kubeovn.live_migration.vmim_info:
    kubeconfig: /etc/kubernetes/admin.conf
    label_selectors:
      - team=storage
"""

RETURN = r"""
migrations:
  description:
    - The matching migrations, newest first by creation time.
    - On a wait timeout, the last state seen of the migration waited for.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the VMIM.
      type: str
      sample: db-0-migration-x7k2q
    namespace:
      description: Namespace of the VMIM.
      type: str
    uid:
      description: UID of the VMIM; KubeVirt labels the target pod with it (C(kubevirt.io/migrationJobUID)).
      type: str
    vmi:
      description: Name of the migrating VirtualMachineInstance (C(spec.vmiName)).
      type: str
    phase:
      description: Phase of the VMIM, null before KubeVirt has set one.
      type: str
      sample: Running
    phase_transition_timestamps:
      description: Each phase the VMIM went through, with when.
      type: list
      elements: dict
      sample: [{phase: Pending, timestamp: "2026-01-01T10:00:00Z"}]
    source_node:
      description:
        - Node the VM migrates from - the VMI's C(migrationState.sourceNode) when that state belongs to this VMIM,
          else the node the VMI runs on.
      type: str
    target_node:
      description:
        - Node the VM migrates to - the target pod's node as soon as it is scheduled, else the VMI's
          C(migrationState.targetNode) when that state belongs to this VMIM, else null.
      type: str
    target_pod:
      description: Name of the target virt-launcher pod, or null.
      type: str
    target_scheduled_at:
      description:
        - When the target pod was scheduled on its node - the C(lastTransitionTime) of the target pod's
          C(PodScheduled) condition, else the time the VMIM entered phase C(Scheduled), else null.
        - The start of the time KubeVirt's target pod waits for its network (Kube-OVN's CNI waits a bounded time).
      type: str
      sample: "2026-01-01T10:00:02Z"
    migration_state_matches:
      description: Whether the VMI's C(status.migrationState) belongs to this VMIM.
      type: bool
    in_flight:
      description: Whether the migration has not ended (its phase is neither Succeeded nor Failed).
      type: bool
    vmi_node:
      description: Node the VMI runs on now (C(status.nodeName)), or null if the VMI does not exist.
      type: str
    created:
      description: Creation time of the VMIM.
      type: str
plans:
  description:
    - With O(plan), one decision per VMI in play, sorted by namespace and VMI name.
  returned: when O(plan=true)
  type: list
  elements: dict
  contains:
    action:
      description: What the ports need - V(pin), V(prepare), V(cutover), V(rollback), V(repair) or V(none).
      type: str
      sample: prepare
    state:
      description: The M(kubeovn.live_migration.ovn_lsp) O(kubeovn.live_migration.ovn_lsp#module:state) that does it, or null.
      type: str
      sample: prepared
    source_chassis:
      description: The chassis to keep (pin, prepare, rollback, repair), or null.
      type: str
    target_chassis:
      description: The chassis to add or move to (prepare, cutover), or null.
      type: str
    reason:
      description: Why, in words.
      type: str
      sample: "migration db-0-migration-x7k2q (Scheduled): bind on node-a and node-b, target activated by the VM's RARP"
    vmi:
      description: Name of the VMI.
      type: str
    namespace:
      description: Namespace of the VMI.
      type: str
    migration:
      description: The migration the decision is about, or null.
      type: str
    migration_uid:
      description: Its uid, or null.
      type: str
    phase:
      description: Its phase, or null.
      type: str
    target_scheduled_at:
      description: When its target pod was scheduled, or null.
      type: str
    cancel:
      description: Whether the migration must be cancelled first (it ran out of time).
      type: bool
    timeout:
      description: The timeout in seconds that ran out, or null.
      type: int
    record_reason:
      description: The Kubernetes Event reason to post once the ports changed, or null.
      type: str
      sample: NetworkPrepared
    outcome:
      description: The outcome to count in the metrics once the ports changed, or null.
      type: str
vmi:
  description: The VirtualMachineInstance named by O(vmi).
  returned: when O(vmi) is given
  type: dict
  contains:
    name:
      description: Name of the VMI.
      type: str
    namespace:
      description: Namespace of the VMI.
      type: str
    exists:
      description: Whether the VMI exists.
      type: bool
    created:
      description: The VMI's C(metadata.creationTimestamp), or null (a VMI re-created after a migration is not the one it moved).
      type: str
      version_added: 0.2.0
    node:
      description: Node the VMI runs on, or null.
      type: str
    migration_state:
      description: The VMI's raw C(status.migrationState) (of whichever migration ran last), or null.
      type: dict
    network_opt:
      description:
        - The VMI's opt from its annotation C(live-migration.kubeovn.io/enabled) - C(in) (V(true)), C(out) (V(false),
          or a value that is neither), or empty when the VMI has no such annotation or does not exist.
        - KubeVirt copies a VM's C(spec.template.metadata.annotations) onto the VMIs it starts; the VMI's
          annotations are what counts.
      type: str
      choices: ["in", "out", ""]
      sample: in
    migration_timeout:
      description: The VMI's own migration timeout in seconds (annotation C(live-migration.kubeovn.io/timeout)),
        or null when it has none or its value is not a positive whole number.
      type: int
      sample: 300
    annotation_errors:
      description: One message per C(live-migration.kubeovn.io/) annotation whose value cannot be read, naming the
        annotation and the value; empty when all is well.
      type: list
      elements: str
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import connect
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_service import (
    TARGET_SCHEDULED, MigrationWaitError, VmimService,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import PHASES
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import SCOPES


def check_options(params):
    wait_for = params["wait_for"] or []
    if TARGET_SCHEDULED in wait_for and len(wait_for) > 1:
        raise ModuleError("wait_for: target_scheduled cannot be combined with phases")
    if wait_for and not (params["name"] or params["vmi"]):
        raise ModuleError("wait_for needs the migration to wait for: set name, or vmi (with namespace)")
    if params["wait_timeout"] <= 0:
        raise ModuleError("wait_timeout must be a positive number of seconds, not %s" % params["wait_timeout"])
    if params["vmis"] and (params["name"] or params["vmi"]):
        raise ModuleError("vmis cannot be combined with name or vmi")
    if not params["namespace"] and any("/" not in v for v in params["vmis"] or ()):
        raise ModuleError("vmis: without namespace, name each VMI as namespace/name")
    for index, port in enumerate(params["ports"] or ()):
        if not isinstance(port.get("options"), dict) or not port.get("name"):
            raise ModuleError("ports[%d] must be a port as ovn_lsp_info returns it, with name, vmi, namespace and "
                              "options" % index)


def main_logic(module):
    params = module.params
    check_options(params)
    service = VmimService(connect(params))
    namespace, name, vmi = params["namespace"], params["name"], params["vmi"]
    label_selector = ",".join(params["label_selectors"]) or None
    result = dict(changed=False)
    wait_for = params["wait_for"] or []
    if wait_for and not (params["plan"] and wait_for == [TARGET_SCHEDULED]
                         and not awaiting_target(service.migrations(namespace, name, vmi, label_selector))):
        try:
            service.wait_for(namespace, name=name, vmi=vmi, phases=[p for p in wait_for if p in PHASES],
                             target_scheduled=TARGET_SCHEDULED in wait_for, timeout=params["wait_timeout"],
                             label_selector=label_selector)
        except MigrationWaitError as err:
            # Planning: a migration that ended or went away meanwhile is what the plan is about.
            if err.timeout or not params["plan"]:
                details = dict(migrations=err.records)
                if vmi:
                    details["vmi"] = service.vmi_summary(namespace, vmi)
                raise ModuleError(err.msg, **details)
    if params["plan"] and vmi and not label_selector:
        # The roles' path: the plan's own reads (the VMI's VMIMs, the VMI, its target pods) are the result.
        read = plan_read(service, params, [(namespace, vmi)])
        result["migrations"] = [r for r in read["records"] if not name or r["name"] == name]
        result["vmi"] = read["vmis"][(namespace, vmi)]
        result["plans"] = read["plans"]
        return result
    result["migrations"] = service.migrations(namespace, name, vmi, label_selector)
    if vmi:
        result["vmi"] = service.vmi_summary(namespace, vmi)
    if params["plan"]:
        result["plans"] = plan_read(service, params, plan_targets(params, result["migrations"]))["plans"]
    return result


def plan_read(service, params, targets):
    return service.plan_read(params["namespace"], targets, params["ports"], params["scope"],
                             params["deleted_migrations"], params["timed_out"])


def awaiting_target(records):
    """Whether a migration is in flight without a target node yet (worth waiting for)."""
    return any(r["in_flight"] and not r["target_node"] for r in records)


def plan_targets(params, migrations):
    """[(namespace, vmi)] to plan for, or None for every VMI in play."""
    namespace = params["namespace"]
    if params["vmi"]:
        return [(namespace, params["vmi"])]
    if params["vmis"]:
        return [tuple(v.split("/", 1)) if "/" in v else (namespace, v) for v in params["vmis"]]
    if params["name"]:
        return [(namespace, m["vmi"]) for m in migrations[:1]]
    return None


def main():
    module = KubeovnModule(
        argument_spec=dict(
            namespace=dict(type="str"),
            name=dict(type="str"),
            vmi=dict(type="str"),
            label_selectors=dict(type="list", elements="str", default=[]),
            wait_for=dict(type="list", elements="str", choices=list(PHASES) + [TARGET_SCHEDULED]),
            wait_timeout=dict(type="int", default=120),
            plan=dict(type="bool", default=False),
            vmis=dict(type="list", elements="str"),
            scope=dict(type="str", default="all", choices=list(SCOPES)),
            ports=dict(type="list", elements="dict"),
            deleted_migrations=dict(type="list", elements="dict", default=[]),
            timed_out=dict(type="bool", default=False),
        ),
        shared=("k8s_auth",),
        required_by=dict(name="namespace", vmi="namespace"),
        supports_check_mode=True,
    )
    module.run(main_logic)


if __name__ == "__main__":
    main()
