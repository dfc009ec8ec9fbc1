# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `migration_rows`: one record per recent migration, from the info modules' results."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: migration_rows
short_description: One record per recent live migration, from VMIMs, the collection's Events and the LSPs
version_added: 0.1.0
description:
  - Joins the C(migrations) of M(kubeovn.live_migration.vmim_info), the C(events) of
    M(kubeovn.live_migration.vmi_event_info) and the C(ports) of M(kubeovn.live_migration.ovn_lsp_info) into one
    record per migration, newest first. The C(report) playbook prints them with
    P(kubeovn.live_migration.migration_table#filter) and sets them as the fact C(report_rows).
  - A migration whose VMIM no longer exists but which the collection's Events mention is a row with outcome
    C(Deleted) (an abort, or KubeVirt's garbage collection of finished migrations); its nodes come from the
    Events' C(source-node) and C(target-node) annotations.
  - Time to prepare is the Events' C(seconds-to-prepare) annotation, else from the target pod's scheduling
    (the C(target_scheduled_at) of M(kubeovn.live_migration.vmim_info), else the VMIM's Scheduled, else Scheduling
    timestamp) to the first C(NetworkPrepared) Event. Time to cutover is
    C(seconds-to-cutover), else from the VMIM's Succeeded timestamp to the first C(NetworkCutover) Event; for a
    rollback (C(NetworkRolledBack) or C(NetworkTimedOut)), C(seconds-to-rollback), else from Failed.
options:
  _input:
    description: The C(migrations) list of M(kubeovn.live_migration.vmim_info).
    type: list
    elements: dict
    required: true
  events:
    description: The C(events) list of M(kubeovn.live_migration.vmi_event_info).
    type: list
    elements: dict
    default: []
  ports:
    description:
      - What M(kubeovn.live_migration.ovn_lsp_info) returned - a list of ports, one registered result, or the
        registered result of a loop over the rows (each item with C(namespace) and C(vmi)); a failed or skipped item
        leaves that VM's LSP state unknown.
      - Omitted, every LSP state is unknown.
    type: raw
  limit:
    description: At most this many rows, the newest; V(0) for all.
    type: int
    default: 20
"""

EXAMPLES = r"""
- name: Rows of the report
  ansible.builtin.set_fact:
    report_rows: "{{ vmims.migrations | kubeovn.live_migration.migration_rows(events.events, lsp, limit=20) }}"
"""

RETURN = r"""
_value:
  description: One dict per migration, newest first.
  type: list
  elements: dict
  contains:
    namespace:
      description: Namespace of the VM.
      type: str
    vmi:
      description: Name of the VMI.
      type: str
    vm:
      description: C(<namespace>/<vmi>).
      type: str
    migration:
      description: Name of the VMIM.
      type: str
    migration_uid:
      description: UID of the VMIM.
      type: str
    started:
      description: When the VMIM was created (for a deleted one, the first Event).
      type: str
    phase:
      description: The VMIM's phase, null when it no longer exists.
      type: str
    outcome:
      description: The phase when final, C(in flight) with the phase in parentheses, or C(Deleted).
      type: str
    source_node:
      description: Node the VM left.
      type: str
    target_node:
      description: Node the VM went to.
      type: str
    network:
      description: Reason of the collection's last Event about the migration, or null.
      type: str
    network_message:
      description: Its message.
      type: str
    events:
      description: Reasons of the collection's Events about the migration, oldest first.
      type: list
      elements: str
    seconds_to_prepare:
      description: Target scheduled to ports prepared, or null.
      type: float
    prepare_estimated:
      description: Whether that figure comes from whole-second timestamps rather than the roles' annotation.
      type: bool
    end_action:
      description: C(cutover), C(rollback) or null.
      type: str
    seconds_to_cutover:
      description: Migration ended to cutover (or rollback), or null.
      type: float
    cutover_estimated:
      description: Whether that figure is estimated.
      type: bool
    lsp:
      description: The ports' state now, such as C(hv2) or C(hv1,hv2 rarp); C(no ports); null when unknown.
      type: str
    lsp_ports:
      description: Per port - C(name), C(requested_chassis), C(activation_strategy) - or null when unknown.
      type: list
      elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_report import migration_rows


def _list_of_dicts(value, what):
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, dict) for v in value):
        raise AnsibleFilterError("migration_rows: %s must be a list of dicts" % what)
    return list(value)


def migration_rows_filter(migrations, events=None, ports=None, limit=20):
    migrations = _list_of_dicts(migrations, "the input (vmim_info's migrations)")
    events = _list_of_dicts(events, "events (vmi_event_info's events)")
    if ports is not None and not isinstance(ports, (list, tuple, dict)):
        raise AnsibleFilterError("migration_rows: ports must be ovn_lsp_info's ports or registered result")
    try:
        limit = int(limit or 0)
    except (TypeError, ValueError):
        raise AnsibleFilterError("migration_rows: limit must be a number, not %r" % (limit,))
    if limit < 0:
        raise AnsibleFilterError("migration_rows: limit must not be negative")
    return migration_rows(migrations, events, ports, limit)


class FilterModule(object):
    def filters(self):
        return {"migration_rows": migration_rows_filter}
