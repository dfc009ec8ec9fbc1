# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `in_scope`: the roles' one test of whether the collection may act on a VMI."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: in_scope
short_description: Whether the collection may act on a VMI, given its opt and the scope
version_added: 0.1.0
description:
  - Takes a VMI's opt (the C(network_opt) field of M(kubeovn.live_migration.vmim_info)'s C(vmi)
    result or of an event - C(in), C(out), or empty when the VMI carries no
    C(live-migration.kubeovn.io/enabled) annotation) and returns whether the collection acts on it.
  - Scope C(all) acts on every VMI that is not opted out; C(opted_in) only on opted-in VMIs.
options:
  _input:
    description: The VMI's opt.
    type: str
    required: true
  scope:
    description: The cluster-wide default.
    type: str
    choices: [all, opted_in]
    default: all
"""

EXAMPLES = r"""
- name: Skip VMIs out of scope
  ansible.builtin.debug:
    msg: "acting on {{ vmi_name }}"
  when: vmim_lookup.vmi.network_opt | kubeovn.live_migration.in_scope('opted_in')
"""

RETURN = r"""
_value:
  description: True when the collection may act on the VMI.
  type: bool
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.live_migration.plugins.module_utils.k8s.vmi_scope import SCOPES, in_scope


def in_scope_filter(opt, scope="all"):
    if scope not in SCOPES:
        raise AnsibleFilterError("in_scope: scope must be one of %s, got %r" % (", ".join(SCOPES), scope))
    return in_scope(opt or "", scope)


class FilterModule(object):
    def filters(self):
        return {"in_scope": in_scope_filter}
