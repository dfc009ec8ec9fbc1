# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `plan_writes`: the planner's decisions as ovn_lsp_batch items."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: plan_writes
short_description: The writes the planner's decisions call for
version_added: 0.1.0
description:
  - Takes the C(plans) of M(kubeovn.live_migration.vmim_info) and returns one
    M(kubeovn.live_migration.ovn_lsp_batch) item per plan whose action is not V(none), leaving out the items
    an earlier write of the same run already made.
options:
  _input:
    description: The plans.
    type: list
    elements: dict
    required: true
  written:
    description: The items of an earlier write (the prepare role's early write), left out.
    type: list
    elements: dict
    default: []
  ports:
    description:
      - The ports the plans were decided with (M(kubeovn.live_migration.ovn_lsp_info)'s C(ports)), or null.
      - Each item whose VMI has ports here carries them as
        O(kubeovn.live_migration.ovn_lsp_batch#module:vmis[].expected), so the write fails cleanly for that VMI if
        its ports changed since that read.
    type: list
    elements: dict
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Write what the plans call for, in one transaction
  kubeovn.live_migration.ovn_lsp_batch:
    vmis: "{{ read.plans | kubeovn.live_migration.plan_writes }}"
  when: read.plans | kubeovn.live_migration.plan_writes | length > 0

- name: The same, guarded by the ports the plans were decided with (compare-and-swap)
  kubeovn.live_migration.ovn_lsp_batch:
    vmis: "{{ read.plans | kubeovn.live_migration.plan_writes([], ports_read.ports) }}"
    on_conflict: skip
"""

RETURN = r"""
_value:
  description: Items for M(kubeovn.live_migration.ovn_lsp_batch) O(kubeovn.live_migration.ovn_lsp_batch#module:vmis).
  type: list
  elements: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import plan_writes


class FilterModule(object):
    def filters(self):
        return {"plan_writes": plan_writes}
