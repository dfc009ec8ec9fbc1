# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `early_writes`: the prepare writes an event already justifies."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: early_writes
short_description: The ports an event's migrations can be prepared on before they are read back
version_added: 0.1.0
description:
  - Takes migrations as the EDA source's events describe them (C(vmi), C(namespace), C(source_node), C(target_node),
    C(network_opt)) and returns M(kubeovn.live_migration.ovn_lsp_batch) items with O(kubeovn.live_migration.ovn_lsp_batch#module:vmis[].state=prepared)
    for those with two different known nodes whose VMI is in scope (or, with O(state=pinned), V(pinned) items
    for those with a known source).
  - The prepare role writes them first, then reads the migrations back and lets the planner correct a stale event.
options:
  _input:
    description: The migrations.
    type: list
    elements: dict
    required: true
  scope:
    description: V(all) or V(opted_in).
    type: str
    default: all
  state:
    description:
      - V(prepared) - items for the migrations with two different known nodes (the prepare's head start).
      - V(pinned) - items for the migrations with a known source (the pin playbook; M(kubeovn.live_migration.ovn_lsp_batch)
        writes it only on ports that carry neither key).
    type: str
    default: prepared
    choices: [prepared, pinned]
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Bind at once on the nodes the event names
  kubeovn.live_migration.ovn_lsp_batch:
    vmis: "{{ [ansible_eda.event] | kubeovn.live_migration.early_writes('all') }}"
"""

RETURN = r"""
_value:
  description: Items for M(kubeovn.live_migration.ovn_lsp_batch) O(kubeovn.live_migration.ovn_lsp_batch#module:vmis).
  type: list
  elements: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import early_writes


class FilterModule(object):
    def filters(self):
        return {"early_writes": early_writes}
