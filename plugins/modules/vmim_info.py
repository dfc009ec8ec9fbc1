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


def check_options(params):
    wait_for = params["wait_for"] or []
    if TARGET_SCHEDULED in wait_for and len(wait_for) > 1:
        raise ModuleError("wait_for: target_scheduled cannot be combined with phases")
    if wait_for and not (params["name"] or params["vmi"]):
        raise ModuleError("wait_for needs the migration to wait for: set name, or vmi (with namespace)")
    if params["wait_timeout"] <= 0:
        raise ModuleError("wait_timeout must be a positive number of seconds, not %s" % params["wait_timeout"])


def main_logic(module):
    params = module.params
    check_options(params)
    service = VmimService(connect(params))
    namespace, name, vmi = params["namespace"], params["name"], params["vmi"]
    label_selector = ",".join(params["label_selectors"]) or None
    result = dict(changed=False)
    wait_for = params["wait_for"] or []
    if wait_for:
        try:
            service.wait_for(namespace, name=name, vmi=vmi, phases=[p for p in wait_for if p in PHASES],
                             target_scheduled=TARGET_SCHEDULED in wait_for, timeout=params["wait_timeout"],
                             label_selector=label_selector)
        except MigrationWaitError as err:
            details = dict(migrations=err.records)
            if vmi:
                details["vmi"] = service.vmi_summary(namespace, vmi)
            raise ModuleError(err.msg, **details)
    result["migrations"] = service.migrations(namespace, name, vmi, label_selector)
    if vmi:
        result["vmi"] = service.vmi_summary(namespace, vmi)
    return result


def main():
    module = KubeovnModule(
        argument_spec=dict(
            namespace=dict(type="str"),
            name=dict(type="str"),
            vmi=dict(type="str"),
            label_selectors=dict(type="list", elements="str", default=[]),
            wait_for=dict(type="list", elements="str", choices=list(PHASES) + [TARGET_SCHEDULED]),
            wait_timeout=dict(type="int", default=120),
        ),
        shared=("k8s_auth",),
        required_by=dict(name="namespace", vmi="namespace"),
        supports_check_mode=True,
    )
    module.run(main_logic)


if __name__ == "__main__":
    main()
