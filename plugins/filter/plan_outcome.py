# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `plan_outcome`: what a write did for the plans."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: plan_outcome
short_description: What a write did for the plans - Events and metrics to record, a summary
version_added: 0.1.0
description:
  - Takes the C(plans) of M(kubeovn.live_migration.vmim_info) and the C(ports) a write returned, and returns
    C(records) - one item for the C(record) role (Event reason, type, message and annotations; metric stages and
    outcome) per plan whose ports changed - C(summary), one line for the log, and C(changed_ports).
options:
  _input:
    description: The plans.
    type: list
    elements: dict
    required: true
  ports:
    description: The C(ports) of M(kubeovn.live_migration.ovn_lsp_batch) or M(kubeovn.live_migration.ovn_lsp).
    type: list
    elements: dict
    required: true
  now:
    description: When the write happened, in epoch seconds.
    type: float
    required: true
  bound:
    description: Whether the write waited for the Southbound (the target was bound by then).
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Record what changed
  ansible.builtin.include_role:
    name: kubeovn.live_migration.record
  vars:
    record_items: "{{ (read.plans | kubeovn.live_migration.plan_outcome(written.ports, now().timestamp())).records }}"
"""

RETURN = r"""
_value:
  description: C(records) (the record role's C(record_items)), C(summary) and C(changed_ports).
  type: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import plan_outcome


class FilterModule(object):
    def filters(self):
        return {"plan_outcome": plan_outcome}
