# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `start_pin`: the pin the ad hoc live migration writes before it creates the VMIM."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: start_pin
short_description: The pin to write before a migration of a VMI is started
version_added: 0.2.0
description:
  - Takes the result of M(kubeovn.live_migration.vmim_info) for one VMI (O(kubeovn.live_migration.vmim_info#module:vmi))
    and returns the M(kubeovn.live_migration.ovn_lsp_batch) items that pin the VMI's ports to the node it runs on
    (C(requested-chassis=<node>)), or an empty list.
  - Kube-OVN creates a VM's ports without C(requested-chassis); without the pin, the target pod's CNI plug lets the
    target node's ovn-controller claim the running VM's port before prepare lands.
  - When a migration of the VMI is already in flight, the planner's own plan for it is returned instead; a VMI
    that is gone, runs nowhere or is out of O(scope) gets nothing.
options:
  _input:
    description: The registered result of M(kubeovn.live_migration.vmim_info) with O(kubeovn.live_migration.vmim_info#module:vmi).
    type: dict
    required: true
  scope:
    description: V(all) or V(opted_in), as the roles' C(live_migration_scope).
    type: str
    default: all
"""

EXAMPLES = r"""
- name: Pin the ports before the target pod can claim them
  kubeovn.live_migration.ovn_lsp_batch:
    vmis: "{{ before | kubeovn.live_migration.start_pin('all') }}"
  when: before | kubeovn.live_migration.start_pin('all') | length > 0
"""

RETURN = r"""
_value:
  description: Items for M(kubeovn.live_migration.ovn_lsp_batch) O(kubeovn.live_migration.ovn_lsp_batch#module:vmis).
  type: list
  elements: dict
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_plan import start_pin
from ansible_collections.kubeovn.live_migration.plugins.module_utils.plan_steps import plan_writes


def start_pin_writes(read, scope="all"):
    read = read or {}
    return plan_writes([start_pin(read.get("vmi"), read.get("migrations") or (), scope)])


class FilterModule(object):
    def filters(self):
        return {"start_pin": start_pin_writes}
