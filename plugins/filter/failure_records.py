# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `failure_records`: what the record role posts when a step failed."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: failure_records
short_description: The Events and metrics of a step that failed
version_added: 0.1.0
description:
  - Takes the migrations a step was about (C(vmi), C(namespace), C(vmim), C(vmim_uid)) and returns one item per VMI
    for the C(record) role - a C(Warning) Event C(NetworkActionFailed) naming the step and its error, and the
    outcome C(failed).
options:
  _input:
    description: The migrations.
    type: list
    elements: dict
    required: true
  verb:
    description: The step, such as C(prepare).
    type: str
    required: true
  msg:
    description: Why it failed.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Record the failure
  ansible.builtin.include_role:
    name: kubeovn.live_migration.record
  vars:
    record_items: "{{ [{'vmi': 'vm1', 'namespace': 'prod'}] | kubeovn.live_migration.failure_records('cutover', ansible_failed_result.msg) }}"
"""

RETURN = r"""
_value:
  description: Items for the record role's C(record_items).
  type: list
  elements: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import failure_records


class FilterModule(object):
    def filters(self):
        return {"failure_records": failure_records}
