# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter `migration_table`: the `report` playbook's rows as aligned text lines."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
name: migration_table
short_description: Recent live migrations as an aligned text table
version_added: 0.1.0
description:
  - Turns the rows of P(kubeovn.live_migration.migration_rows#filter) into text lines - a header, then one line
    per migration - with the columns aligned, for M(ansible.builtin.debug).
  - "Columns: C(STARTED) (UTC), C(VM), C(SOURCE → TARGET), C(OUTCOME) (the VMIM's phase, C(in flight) with the phase in parentheses,
    or C(Deleted)), C(NETWORK) (the collection's last Event reason), C(PREPARE) (target scheduled to the ports
    bound on both chassis), C(CUTOVER) (migration Succeeded to the ports bound on the target only, or
    C(rollback) and the time from Failed to the rollback), C(LSP) (the ports' C(requested-chassis) and
    C(activation-strategy) now)."
  - Times read from the Events' annotations are exact (C(0.42s)); times computed from the VMIM's whole-second
    timestamps are marked C(~). C(-) means unknown, C(?) a node or LSP state that could not be read.
  - VM names omit the namespace when every row is in the same one.
options:
  _input:
    description: Rows from P(kubeovn.live_migration.migration_rows#filter).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Print the table
  ansible.builtin.debug:
    msg: "{{ report_rows | kubeovn.live_migration.migration_table }}"
"""

RETURN = r"""
_value:
  description: The lines, header first; C([no migrations found]) without rows.
  type: list
  elements: str
  sample:
    - "STARTED              VM    SOURCE → TARGET  OUTCOME    NETWORK          PREPARE  CUTOVER  LSP"
    - "2026-11-25 20:27:41  db-0  hv1 → hv2        Succeeded  NetworkCutover   0.42s    0.31s    hv2"
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.kubeovn.live_migration.plugins.module_utils.migration_report import migration_table


def migration_table_filter(rows):
    if not isinstance(rows, (list, tuple)) or not all(isinstance(r, dict) for r in rows):
        raise AnsibleFilterError("migration_table: the input must be the list of rows from migration_rows")
    return migration_table(rows)


class FilterModule(object):
    def filters(self):
        return {"migration_table": migration_table_filter}
