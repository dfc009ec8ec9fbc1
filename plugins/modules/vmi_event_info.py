#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: vmi_event_info
short_description: List the Events the collection posted on VirtualMachineInstances
description:
  - Lists the core/v1 Events that M(kubeovn.live_migration.vmi_event) posted (C(reportingComponent) and
    C(source.component) C(kubeovn-live-migration)) on one VMI, on the VMIs of a namespace, or cluster-wide.
  - The selection happens on the API server (field selectors), so the cost does not grow with the other Events
    of the cluster.
  - Kubernetes keeps Events for a limited time (the API server's C(--event-ttl), one hour by default).
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
      - Namespace of the VMIs. Without it, Events of every namespace are listed.
      - Required with O(vmi).
    type: str
  vmi:
    description: Name of one VirtualMachineInstance.
    type: str
  migration_uid:
    description: Only the Events about the migration with this uid.
    type: str
notes:
  - The credentials need C(list) on C(events) (cluster-wide without O(namespace)).
"""

EXAMPLES = r"""
- name: What the collection did to db-0's network
  kubeovn.live_migration.vmi_event_info:
    namespace: vms
    vmi: db-0
  register: db0_events

- name: The Events of one migration, anywhere in the cluster
  kubeovn.live_migration.vmi_event_info:
    migration_uid: 5e0e6c2e-2f31-4f4a-9d55-1f0a3a9e6b7c
"""

RETURN = r"""
events:
  description: The matching Events, oldest first (by when each first happened).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Name of the Event.
      type: str
    namespace:
      description: Namespace of the Event and the VMI.
      type: str
    vmi:
      description: Name of the VMI.
      type: str
    vmi_uid:
      description: UID of the VMI the Event was posted on.
      type: str
    reason:
      description: The reason, such as C(NetworkPrepared).
      type: str
    message:
      description: The message.
      type: str
    type:
      description: V(Normal) or V(Warning).
      type: str
    action:
      description: What the collection was doing.
      type: str
    count:
      description: How many times it happened.
      type: int
    first_time:
      description: When it first happened; RFC 3339 with microseconds when the Event has an C(eventTime).
      type: str
      sample: "2026-01-01T10:00:00.123456Z"
    last_time:
      description: When it last happened; with microseconds when known.
      type: str
    migration:
      description: Name of the migration (VMIM), or null.
      type: str
    migration_uid:
      description: UID of the migration, or null.
      type: str
    annotations:
      description: The Event's C(live-migration.kubeovn.io/) annotations, prefix stripped.
      type: dict
      sample: {seconds-to-prepare: "0.42"}
    reporting_instance:
      description: The host that posted it.
      type: str
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.client import connect
from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.events import list_events


def main_logic(module):
    params = module.params
    for option in ("namespace", "vmi", "migration_uid"):
        if params[option] is not None and not params[option].strip():
            raise ModuleError("%s must not be empty" % option)
    events = list_events(connect(params), params["namespace"], params["vmi"], params["migration_uid"])
    return dict(changed=False, events=events)


def main():
    module = KubeovnModule(
        argument_spec=dict(
            namespace=dict(type="str"),
            vmi=dict(type="str"),
            migration_uid=dict(type="str"),
        ),
        shared=("k8s_auth",),
        required_by=dict(vmi="namespace"),
        supports_check_mode=True,
    )
    module.run(main_logic)


if __name__ == "__main__":
    main()
