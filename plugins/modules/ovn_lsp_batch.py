#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r"""
module: ovn_lsp_batch
short_description: Set the live-migration options of many VMIs' ports in one transaction
version_added: 0.1.0
description:
  - Like M(kubeovn.live_migration.ovn_lsp) for many VMIs at once, each with its own state and chassis,
    in one OVSDB transaction and one round trip to find the ports. Made for a burst of migrations
    (a node drain), where one C(ansible-playbook) run per VM cannot bind the ports before the
    target pods' CNI gives up.
  - Only C(requested-chassis) and C(activation-strategy) are changed, by C(mutate) on the C(options)
    map; other keys survive, and a concurrent change makes the module re-read and retry.
  - A VMI without ports is reported in RV(not_found) with a warning and does not hold back the others;
    the module fails only when none of the VMIs has a port.
  - V(prepared) never undoes a cutover, as in M(kubeovn.live_migration.ovn_lsp); such ports are listed in RV(kept).
  - Compare-and-swap across tasks - an item may carry the owned options its decision was made on
    (O(vmis[].expected)); when its ports no longer carry them (another writer changed them since that read),
    nothing is written for that VMI (see O(on_conflict)) and RV(conflicts) says what changed.
author:
  - kubeovn.live_migration contributors (@kubeovn)
extends_documentation_fragment:
  - kubeovn.live_migration.ovn_nb
  - kubeovn.live_migration.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  vmis:
    description:
      - The VMIs and what their ports need. Each VMI at most once.
    type: list
    elements: dict
    required: true
    suboptions:
      vmi:
        description: Name of the VirtualMachineInstance.
        type: str
        required: true
      namespace:
        description: Its namespace.
        type: str
        required: true
      state:
        description: As O(kubeovn.live_migration.ovn_lsp#module:state).
        type: str
        required: true
        choices: [prepared, cutover, rolled_back, pinned, absent]
      source_chassis:
        description:
          - The chassis the VM runs on before the migration (V(prepared), V(rolled_back), V(pinned)).
          - The alias is the field name of the EDA source's events.
        type: str
        aliases: [source_node]
      target_chassis:
        description: The chassis the VM migrates to (V(prepared), V(cutover)).
        type: str
        aliases: [target_node]
      expected:
        description:
          - The ports' C(requested-chassis) and C(activation-strategy) as the read this item was decided on found
            them - port name to a dict of the two keys (null or missing - the key was absent), as
            M(kubeovn.live_migration.ovn_lsp_info) returns them in C(options).
          - The ports are compared with it right before the write, and the transaction guards them from that
            comparison on. A port named here that changed or is gone is a conflict.
          - Not given - no comparison; the module still re-reads and retries when a port changes during its own
            read and write.
        type: dict
        version_added: 0.2.0
  on_conflict:
    description:
      - What to do when the ports of an item with O(vmis[].expected) changed since that read.
      - V(fail) - fail before anything is written, listing the conflicts.
      - V(skip) - write the other items and list the changed ones in RV(conflicts), with a warning; the caller
        reads them again and decides anew (the converge role does).
    type: str
    default: fail
    choices: [fail, skip]
    version_added: 0.2.0
  activation_strategy:
    description: The C(activation-strategy) written for V(prepared).
    type: str
    default: rarp
    choices: [rarp]
  verify_chassis:
    description:
      - With O(ovn_sb_connection) set, fail unless every named chassis is registered in the Southbound database.
    type: bool
    default: true
  wait:
    description:
      - As O(kubeovn.live_migration.ovn_lsp#module:wait) of M(kubeovn.live_migration.ovn_lsp), once for the whole
        batch. V(hv) waits for the chassis of every VMI in the batch only (needs O(ovn_sb_connection)), and a
        wait that times out after the write is a warning, never a failure.
      - V(none), V(sb), V(hv), or a boolean (V(true) waits as V(hv), V(false) as V(none)).
    type: raw
    default: none
  wait_timeout:
    description: Seconds O(wait) may take.
    type: float
    default: 30
notes:
  - OVN older than 22.06 (no multi-chassis port bindings) is refused before anything is written, as in
    M(kubeovn.live_migration.ovn_lsp).
"""

EXAMPLES = r"""
- name: A node drain - bind every migrating VM's ports on its source and target at once
  kubeovn.live_migration.ovn_lsp_batch:
    vmis:
      - {vmi: vm1, namespace: prod, state: prepared, source_chassis: node-a, target_chassis: node-b}
      - {vmi: vm2, namespace: prod, state: prepared, source_chassis: node-a, target_chassis: node-c}
    wait: sb
"""

RETURN = r"""
ports:
  description: Every port found, with our two option keys before and after.
  returned: success
  type: list
  elements: dict
  contains:
    name:
      description: Logical_Switch_Port name.
      type: str
    namespace:
      description: Namespace of the VMI the port belongs to (from C(external_ids:pod)), or null.
      type: str
    vmi:
      description: Name of that VMI, or null.
      type: str
    before:
      description: C(requested-chassis) and C(activation-strategy) as they were.
      type: dict
    after:
      description: The two keys as they are now (or would be, in check mode).
      type: dict
    written_at:
      description:
        - When the transaction that changed the port was committed, in epoch seconds (the metrics' stage times).
        - Only on ports this call changed, not in check mode.
      type: float
      returned: when the port was changed
      version_added: 0.2.0
kept:
  description:
    - Ports left as they were because a cutover to their target had already landed, or because they already
      carried one of the two keys (V(pinned)).
  returned: success
  type: list
  elements: str
not_found:
  description: The VMIs (C(namespace/vmi)) with no port, left out.
  returned: success
  type: list
  elements: str
  sample: [prod/vm9]
conflicts:
  description:
    - The VMIs whose ports changed since the read their item was decided on (O(vmis[].expected)); nothing was
      written for them. Also returned when the module fails for them (O(on_conflict=fail)).
  returned: success, and on a conflict failure
  type: list
  elements: dict
  version_added: 0.2.0
  contains:
    vmi:
      description: The VMI.
      type: str
    namespace:
      description: Its namespace.
      type: str
    ref:
      description: C(namespace/vmi), as M(kubeovn.live_migration.vmim_info) O(kubeovn.live_migration.vmim_info#module:vmis) takes it.
      type: str
    ports:
      description: The port names the item's O(vmis[].expected) named (what to read again).
      type: list
      elements: str
    changed:
      description: Port name to C(expected) and C(found) (the two keys; C(found) null when the port is gone).
      type: dict
  sample:
    - vmi: vm1
      namespace: prod
      ref: prod/vm1
      ports: [vm1.prod]
      changed:
        vm1.prod:
          expected: {requested-chassis: "node-a,node-b", activation-strategy: rarp}
          found: {requested-chassis: null, activation-strategy: null}
nb_cfg:
  description: The NB_Global nb_cfg value waited for.
  returned: when O(wait) is not V(none) and not in check mode
  type: int
waited_for:
  description: The chassis whose C(Chassis_Private.nb_cfg) O(wait=hv) waited for, as in M(kubeovn.live_migration.ovn_lsp).
  returned: when O(wait) is not V(none) and not in check mode
  type: list
  elements: str
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.argspec import ovn_wait
from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import lsp_apply
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError


def checked_items(items):
    """The batch with every item validated; messages name the item."""
    seen = set()
    for index, item in enumerate(items):
        label = "vmis[%d] (%s/%s)" % (index, item["namespace"], item["vmi"])
        for option in ("vmi", "namespace"):
            if not item[option].strip():
                raise ModuleError("vmis[%d]: %s must not be empty" % (index, option))
        if (item["namespace"], item["vmi"]) in seen:
            raise ModuleError("%s: the VMI is listed twice" % label)
        lsp_apply.check_expected(item.get("expected"), "%s: expected" % label)
        seen.add((item["namespace"], item["vmi"]))
        try:
            ovn_nb.validate_chassis_args(item["state"], item["source_chassis"], item["target_chassis"])
        except ModuleError as err:
            raise ModuleError("%s: %s" % (label, err.msg))
    return items


def run(module):
    p = module.params
    p["wait"] = ovn_wait(p["wait"])
    if not p["vmis"]:
        raise ModuleError("vmis must list at least one VMI")
    items = checked_items(p["vmis"])
    not_found, conflicts = [], []
    lookup = lsp_apply.expecting(ovn_nb.batch_lookup(items, not_found), items, p["on_conflict"], conflicts)
    desired = ovn_nb.batch_desired(items, p["activation_strategy"])
    chassis = [i[k] for i in items for k in ("source_chassis", "target_chassis")]
    targets = dict(((i["namespace"], i["vmi"]), i["target_chassis"]) for i in items if i["state"] == "prepared")
    cut_over = ovn_nb.cut_over_guard(lambda port: targets.get(port.pod))
    pinned = set((i["namespace"], i["vmi"]) for i in items if i["state"] == "pinned")

    def keep(ports):
        return cut_over(ports) | ovn_nb.marked_guard([port for port in ports if port.pod in pinned])
    result = lsp_apply.apply(module, lookup, desired, chassis,
                             "kubeovn.live_migration.ovn_lsp_batch %d VMIs" % len(items), keep=keep)
    for conflict in conflicts:
        module.warn(lsp_apply.conflict_message([conflict]))
    result["conflicts"] = list(conflicts)
    if len(not_found) == len(items):
        raise ModuleError("No port found for any of the %d VMIs: searched Logical_Switch_Port of type \"\" with "
                          "external_ids:pod=<namespace>/<vmi>" % len(items))
    for ref in not_found:
        module.warn("No port found for VMI %s: left out of the batch" % ref)
    result["not_found"] = list(not_found)
    return result


def main():
    module = KubeovnModule(
        argument_spec=dict(
            vmis=dict(type="list", elements="dict", required=True, options=dict(
                vmi=dict(type="str", required=True),
                namespace=dict(type="str", required=True),
                state=dict(type="str", required=True, choices=list(ovn_nb.STATES)),
                source_chassis=dict(type="str", aliases=["source_node"]),
                target_chassis=dict(type="str", aliases=["target_node"]),
                expected=dict(type="dict"),
            )),
            on_conflict=dict(type="str", default="fail", choices=list(lsp_apply.CONFLICT_ACTIONS)),
            activation_strategy=dict(type="str", default="rarp", choices=list(ovn_nb.STRATEGIES)),
            verify_chassis=dict(type="bool", default=True),
            wait=dict(type="raw", default="none"),
            wait_timeout=dict(type="float", default=30),
        ),
        shared=("ovn_nb",),
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
