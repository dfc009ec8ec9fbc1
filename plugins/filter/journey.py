# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `journey`: the migrate role's result."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: journey
short_description: How a live migration ended, for the migrate role's result
version_added: 0.1.0
description:
  - Takes the cleanup role's result (the plan the end was converged with, with the migrations read) and returns
    the migrate role's C(migrate_result) - phase (C(Cancelled) when the role cancelled it, C(Deleted) when it is
    gone), KubeVirt's failure reason, nodes, and the prepare and finish results.
options:
  _input:
    description: The cleanup role's C(cleanup_result).
    type: dict
    required: true
  started:
    description: The migration M(kubeovn.live_migration.vmim) started or joined (its C(migration)).
    type: dict
    required: true
  prepare:
    description: The prepare role's C(prepare_result).
    type: dict
  error:
    description: Why the migration could not be followed, if so.
    type: str
  cancelled:
    description: Whether the role cancelled the migration.
    type: bool
"""

EXAMPLES = r"""
- name: Sum up the journey
  ansible.builtin.set_fact:
    migrate_result: "{{ cleanup_result | kubeovn.live_migration.journey(started.migration, prepare_result, '', false) }}"
"""

RETURN = r"""
_value:
  description: C(vmi), C(namespace), C(vmim), C(created), C(phase), C(error), C(reason), C(source_node), C(target_node),
    C(prepare), C(finish), C(phase_transition_timestamps).
  type: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import journey


class FilterModule(object):
    def filters(self):
        return {"journey": journey}
