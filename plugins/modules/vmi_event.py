#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: vmi_event
short_description: Post a Kubernetes Event on a VirtualMachineInstance about its migration's network
description:
  - Records what the collection did to a VMI's network as a core/v1 C(Event) on the VMI, so that
    C(kubectl describe vmi) and C(kubectl events) tell what happened to each migration.
  - The Event is named after the VMI, the migration and the reason, so posting the same event again
    (a phase that runs twice) bumps its C(count) and last time instead of adding another Event.
  - B(Never fails a migration step because of the API.) A missing permission (403), an unreachable API
    server or a VMI that no longer exists is returned as a warning with C(changed=false) and
    RV(posted=false), unless O(fail_on_error) is set. Only bad input fails.
  - The roles of the collection call it after each phase; see C(docs/events-and-report.md).
version_added: 0.1.0
author:
  - kubeovn.live_migration contributors (@kubeovn)
extends_documentation_fragment:
  - kubeovn.live_migration.k8s_auth
  - kubeovn.live_migration.attributes
attributes:
  check_mode:
    support: full
    details: Reads the VMI and the existing Event and returns the Event that would be posted; writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run records an occurrence (a new Event, or the count of the existing one bumped).
options:
  namespace:
    description: Namespace of the VMI (and of the Event).
    type: str
    required: true
  vmi:
    description: Name of the VirtualMachineInstance the Event is about (its C(involvedObject)).
    type: str
    required: true
  reason:
    description:
      - Short UpperCamelCase reason. The collection posts V(NetworkPrepared), V(NetworkCutover),
        V(NetworkRolledBack), V(NetworkRepaired), V(NetworkTimedOut) and V(NetworkActionFailed).
    type: str
    required: true
  note:
    description:
      - What happened, for people - for example the source and target nodes and the ports. It becomes the Event's
        C(message) (C(events.k8s.io/v1) calls that field C(note); Ansible reserves the option name C(message)).
      - At most 1024 bytes are kept (the API server's limit). Default is a sentence naming the reason, the VMI and
        O(migration).
    type: str
  type:
    description: Event type.
    type: str
    choices: [Normal, Warning]
    default: Normal
  migration:
    description: Name of the VirtualMachineInstanceMigration the Event is about (recorded as the Event's C(related) object).
    type: str
  migration_uid:
    description:
      - UID of that migration. Recorded in C(related) and as the label C(live-migration.kubeovn.io/migration-uid),
        which M(kubeovn.live_migration.vmi_event_info) filters on.
    type: str
  annotations:
    description:
      - Figures to keep with the Event, such as V(seconds-to-prepare). Each key is stored as the annotation
        C(live-migration.kubeovn.io/<key>); values become strings.
      - Keys are at most 63 letters, digits, C(-), C(_) or C(.), starting and ending with a letter or digit.
      - The C(report) playbook reads V(seconds-to-prepare), V(seconds-to-cutover), V(source-node) and V(target-node).
    type: dict
  fail_on_error:
    description:
      - Fail when the Event cannot be written because of the API (a 403, an unreachable server, any API error)
        instead of returning a warning. A VMI that does not exist is a warning either way.
    type: bool
    default: false
notes:
  - The credentials need C(create), C(patch) and C(get) on C(events) in the VMI's namespace, and C(get) on
    C(virtualmachineinstances); C(extensions/awx/rbac.yml) grants them.
"""

EXAMPLES = r"""
- name: Tell the VMI's story after the prepare phase
  kubeovn.live_migration.vmi_event:
    namespace: vms
    vmi: db-0
    reason: NetworkPrepared
    note: ports db-0.vms bound on node-a and node-b for migration db-0-migration-x7k2q
    migration: db-0-migration-x7k2q
    migration_uid: 5e0e6c2e-2f31-4f4a-9d55-1f0a3a9e6b7c
    annotations:
      seconds-to-prepare: 0.42
      source-node: node-a
      target-node: node-b

- name: A warning Event, failing the task if it cannot be written
  kubeovn.live_migration.vmi_event:
    namespace: vms
    vmi: db-0
    reason: NetworkTimedOut
    type: Warning
    note: migration timed out after 600s and was cancelled; ports bound on node-a only
    fail_on_error: true
"""

RETURN = r"""
posted:
  description: Whether an Event was written (created, or its count bumped).
  returned: always
  type: bool
event:
  description:
    - The Event as written, or as it would be written (check mode), or as it was meant to be (when it could not be).
  returned: always
  type: dict
  contains:
    name:
      description: Name of the Event, C(<vmi>.<hash of the VMI, migration and reason>).
      type: str
      sample: db-0.3f9a1c0b5e7d2a64
    namespace:
      description: Namespace of the Event and the VMI.
      type: str
    vmi:
      description: Name of the VMI.
      type: str
    vmi_uid:
      description: UID of the VMI, null when it was not read.
      type: str
    reason:
      description: The reason.
      type: str
      sample: NetworkPrepared
    message:
      description: The message.
      type: str
    type:
      description: V(Normal) or V(Warning).
      type: str
    action:
      description: What the collection was doing (C(Prepare), C(Cutover), C(Rollback), C(Repair), C(UpdateNetwork)).
      type: str
    count:
      description: How many times this Event happened.
      type: int
      sample: 1
    first_time:
      description: When it first happened (C(eventTime), microsecond precision).
      type: str
      sample: "2026-01-01T10:00:00.123456Z"
    last_time:
      description: When it last happened (microsecond precision).
      type: str
    migration:
      description: The migration's name, or null.
      type: str
    migration_uid:
      description: The migration's uid, or null.
      type: str
    annotations:
      description: The Event's C(live-migration.kubeovn.io/) annotations, prefix stripped.
      type: dict
    reporting_instance:
      description: The C(reportingInstance), C(kubeovn-live-migration-<host that ran the module>).
      type: str
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import connect
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.events import MISSING_VMI, post_event

REQUEST_OPTIONS = ("namespace", "vmi", "reason", "type", "migration", "migration_uid", "annotations")


def main_logic(module):
    params = module.params
    request = dict((k, params[k]) for k in REQUEST_OPTIONS)
    request["message"] = params["note"]
    outcome = post_event(lambda: connect(params), request, check_mode=module.check_mode)
    if outcome.problem:
        if params["fail_on_error"] and outcome.kind != MISSING_VMI:
            raise ModuleError(outcome.problem, event=outcome.event, posted=False)
        module.warn(outcome.problem)
    return dict(changed=outcome.changed, posted=outcome.posted, event=outcome.event)


def main():
    module = KubeovnModule(
        argument_spec=dict(
            namespace=dict(type="str", required=True),
            vmi=dict(type="str", required=True),
            reason=dict(type="str", required=True),
            note=dict(type="str"),
            type=dict(type="str", choices=["Normal", "Warning"], default="Normal"),
            migration=dict(type="str"),
            migration_uid=dict(type="str"),
            annotations=dict(type="dict"),
            fail_on_error=dict(type="bool", default=False),
        ),
        shared=("k8s_auth",),
        supports_check_mode=True,
    )
    module.run(main_logic)


if __name__ == "__main__":
    main()
