# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `merge_plans`: the plans of a run with the ones decided again after a write conflict."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: merge_plans
short_description: Replace the plans of the VMIs decided again
version_added: 0.2.0
description:
  - Takes the C(plans) of M(kubeovn.live_migration.vmim_info) and the plans decided again for some of their VMIs
    (after their write met a conflict, see M(kubeovn.live_migration.ovn_lsp_batch)'s C(conflicts)) and returns the
    plans with each VMI's newer plan in place of its older one.
options:
  _input:
    description: The plans.
    type: list
    elements: dict
    required: true
  again:
    description: The plans decided again.
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: What was decided in the end
  ansible.builtin.debug:
    msg: "{{ read.plans | kubeovn.live_migration.merge_plans(read_again.plans | default([])) }}"
"""

RETURN = r"""
_value:
  description: The plans, one per VMI, the newer one where a VMI was decided again.
  type: list
  elements: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import merge_plans


class FilterModule(object):
    def filters(self):
        return {"merge_plans": merge_plans}
