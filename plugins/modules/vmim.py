#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: vmim
short_description: Start or cancel a KubeVirt live migration (VirtualMachineInstanceMigration)
description:
  - With O(state=present), starts a live migration of O(vmi) by creating a C(VirtualMachineInstanceMigration)
    (VMIM), unless one of that VMI is already in flight, which is then reported and left alone.
  - With O(state=absent), cancels a migration by deleting its VMIM, but only while it is in flight; a VMIM
    that has already ended (Succeeded or Failed) is history and is left alone.
version_added: 0.1.0
author:
  - kubeovn.live_migration contributors (@kubeovn)
extends_documentation_fragment:
  - kubeovn.live_migration.k8s_auth
  - kubeovn.live_migration.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    details: A second run finds the migration the first one started in flight and creates nothing.
options:
  state:
    description:
      - V(present) starts a migration of O(vmi) unless one is in flight.
      - V(absent) cancels O(name), or every in-flight migration of O(vmi).
    type: str
    choices: [present, absent]
    default: present
  namespace:
    description: Namespace of the VMI and its migrations.
    type: str
    required: true
  vmi:
    description:
      - Name of the VirtualMachineInstance to migrate. Required with O(state=present).
    type: str
  name:
    description:
      - Name of the VMIM. With O(state=present), if not set, the API server generates one from
        C(<vmi>-migration-); if a VMIM of that name already exists, it is reported and nothing is created.
    type: str
  labels:
    description: Labels to put on a VMIM this module creates.
    type: dict
  target_node:
    description:
      - Node to migrate to, as C(spec.addedNodeSelector) C(kubernetes.io/hostname=<node>) on a VMIM this
        module creates. It narrows the VM's own placement rules, never bypasses them.
      - KubeVirt releases without C(addedNodeSelector) ignore it; compare C(migration.target_node) once the
        target pod is scheduled.
      - An in-flight migration that is joined instead of created is not changed.
    type: str
  wait:
    description:
      - With O(state=present), wait until the migration has ended (Succeeded or Failed); the module does not
        fail when it ended in Failed, so check C(migration.phase) in the result.
      - With O(state=absent), wait until the cancelled VMIMs are gone.
    type: bool
    default: false
  wait_timeout:
    description: How many seconds O(wait) waits before the module fails, with the last state seen.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Live-migrate a VM and wait for the end
  kubeovn.live_migration.vmim:
    namespace: vms
    vmi: db-0
    labels:
      requested-by: ansible
    wait: true
    wait_timeout: 900
  register: migration

- name: Show where it went
  ansible.builtin.debug:
    msg: "{{ migration.migration.phase }}: {{ migration.migration.source_node }} -> {{ migration.migration.target_node }}"

- name: Live-migrate a VM to a chosen node
  kubeovn.live_migration.vmim:
    namespace: vms
    vmi: db-0
    target_node: worker-3
  register: pinned

- name: Cancel every in-flight migration of a VM
  kubeovn.live_migration.vmim:
    namespace: vms
    vmi: db-0
    state: absent
    wait: true
"""

RETURN = r"""
changed:
  description: Whether a VMIM was created or deleted (in check mode, would have been).
  returned: always
  type: bool
created:
  description: Whether this run created a VMIM (in check mode, would have created one).
  returned: always
  type: bool
migration:
  description:
    - The migration created, found in flight, or cancelled, in the shape of RV(kubeovn.live_migration.vmim_info#module:migrations);
      null when there was none. In check mode, a migration that would be created has only C(name), C(namespace),
      C(vmi) and C(in_flight) set.
  returned: always
  type: dict
  sample:
    name: db-0-migration-x7k2q
    namespace: vms
    uid: 6c1a0f0e-6f3e-4a4e-9d0b-1f2d3c4b5a69
    vmi: db-0
    phase: Succeeded
    phase_transition_timestamps: [{phase: Pending, timestamp: "2026-01-01T10:00:00Z"}]
    source_node: node-a
    target_node: node-b
    target_pod: virt-launcher-db-0-abcde
    migration_state_matches: true
    in_flight: false
    vmi_node: node-b
    created: "2026-01-01T10:00:00Z"
migrations:
  description: With O(state=absent), every migration cancelled (or that would be), newest first.
  returned: when O(state=absent)
  type: list
  elements: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import connect
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_record import (
    FINAL_PHASES, is_in_flight, name_of, phase_of, vmi_name_of,
)
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmim_service import (
    MigrationWaitError, VmimService,
)


def _diff_view(record):
    return dict((k, record.get(k)) for k in ("name", "namespace", "vmi", "phase")) if record else {}


def ensure_present(module, service):
    params = module.params
    namespace, vmi, name = params["namespace"], params["vmi"], params["name"]
    existing = None
    if name:
        named = service.vmims(namespace, name=name)
        if named:
            existing = named[0]
            if vmi_name_of(existing) != vmi:
                raise ModuleError("migration %s/%s already exists and migrates VMI %s, not %s"
                                  % (namespace, name, vmi_name_of(existing), vmi))
    if existing is None:
        in_flight = [v for v in service.vmims(namespace, vmi=vmi) if is_in_flight(v)]
        existing = in_flight[0] if in_flight else None
    result = dict(changed=False, created=False)
    if existing is not None:
        vmim = existing
    else:
        vm = service.get_vmi(namespace, vmi)
        if vm is None:
            raise ModuleError("VirtualMachineInstance %s/%s not found: there is nothing to migrate" % (namespace, vmi))
        vm_phase = (vm.get("status") or {}).get("phase")
        if vm_phase and vm_phase != "Running":
            raise ModuleError("VirtualMachineInstance %s/%s is %s, not Running: KubeVirt only migrates running VMs"
                              % (namespace, vmi, vm_phase))
        result.update(changed=True, created=True)
        if module.check_mode:
            record = dict(name=name, namespace=namespace, vmi=vmi, phase=None, in_flight=True)
            result.update(migration=record, diff=dict(before={}, after=_diff_view(record)))
            return result
        vmim = service.create(namespace, vmi, name=name, labels=params["labels"], target_node=params["target_node"])
    record = service.record(vmim)
    if result["created"]:
        result["diff"] = dict(before={}, after=_diff_view(record))
    result["migration"] = record
    if params["wait"] and not module.check_mode and phase_of(vmim) not in FINAL_PHASES:
        try:
            result["migration"] = service.wait_for(namespace, name=name_of(vmim), phases=FINAL_PHASES,
                                                   timeout=params["wait_timeout"])
        except MigrationWaitError as err:
            raise ModuleError(err.msg, changed=result["changed"], created=result["created"],
                              migration=err.details.get("migration") or record)
    return result


def ensure_absent(module, service):
    params = module.params
    namespace, vmi, name = params["namespace"], params["vmi"], params["name"]
    if not (name or vmi):
        raise ModuleError("state=absent needs the migration to cancel: set name, or vmi to cancel all of its in-flight migrations")
    found = service.vmims(namespace, name=name, vmi=vmi)
    targets = [v for v in found if is_in_flight(v)]
    records = service.records(targets) if targets else []
    result = dict(changed=bool(targets), created=False, migrations=records,
                  migration=records[0] if records else (service.record(found[0]) if found else None))
    if targets:
        result["diff"] = dict(before=dict(migrations=[_diff_view(r) for r in records]), after=dict(migrations=[]))
    if not targets or module.check_mode:
        return result
    for vmim in targets:
        service.delete(namespace, name_of(vmim))
    if params["wait"]:
        try:
            service.wait_deleted(namespace, [name_of(v) for v in targets], timeout=params["wait_timeout"])
        except MigrationWaitError as err:
            raise ModuleError(err.msg, changed=True, created=False, migrations=records,
                              migration=err.details.get("migration"))
    return result


def main_logic(module):
    params = module.params
    if params["wait_timeout"] <= 0:
        raise ModuleError("wait_timeout must be a positive number of seconds, not %s" % params["wait_timeout"])
    service = VmimService(connect(params))
    if params["state"] == "present":
        result = ensure_present(module, service)
    else:
        result = ensure_absent(module, service)
    if not module._diff:
        result.pop("diff", None)
    return result


def main():
    module = KubeovnModule(
        argument_spec=dict(
            state=dict(type="str", choices=["present", "absent"], default="present"),
            namespace=dict(type="str", required=True),
            vmi=dict(type="str"),
            name=dict(type="str"),
            labels=dict(type="dict"),
            target_node=dict(type="str"),
            wait=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=120),
        ),
        shared=("k8s_auth",),
        required_if=[("state", "present", ("vmi",))],
        supports_check_mode=True,
    )
    module.run(main_logic)


if __name__ == "__main__":
    main()
