#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ovn_lsp
short_description: Set the live-migration options of OVN logical switch ports
description:
  - Sets the two Logical_Switch_Port options that make OVN bind a VM's ports on two chassis during a
    live migration, C(requested-chassis) and C(activation-strategy), on named ports or on every port of a VMI.
  - Only those two keys are changed, with an OVSDB C(mutate) on the C(options) map, in one transaction for
    all the ports; every other key (written by Kube-OVN or others) is left as it is. If another writer changes
    the ports' options meanwhile, the ports are read again and the transaction retried.
version_added: 0.1.0
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
  ports:
    description:
      - Names of the Logical_Switch_Ports to change. All must exist and be VIF ports (type C("")).
      - Mutually exclusive with O(vmi) and O(namespace).
    type: list
    elements: str
  vmi:
    description:
      - Name of a KubeVirt VirtualMachineInstance. Selects every port of type C("") whose
        C(external_ids:pod) is C(<namespace>/<vmi>), that is every NIC of the VM.
    type: str
  namespace:
    description:
      - Namespace of O(vmi).
    type: str
  state:
    description:
      - V(prepared) sets C(requested-chassis=SOURCE,TARGET) and C(activation-strategy), so the port is bound on
        both chassis and activated on the target when the VM sends a RARP.
      - V(prepared) never undoes a cutover. When any selected port already has C(requested-chassis=TARGET)
        alone, no port is changed and RV(kept) lists them, with a warning. Preparing them again would block the
        target port until a RARP the VM sent long ago, and drop its traffic.
      - V(cutover) sets C(requested-chassis=TARGET) and removes C(activation-strategy).
      - V(rolled_back) sets C(requested-chassis=SOURCE) and removes C(activation-strategy).
      - V(pinned) sets C(requested-chassis=SOURCE) only on a VM whose ports carry neither key, as Kube-OVN
        creates them; a VM any of whose ports carries one is left as it is (RV(kept) lists its ports). The
        rulebooks pin a VM's ports before its migration's target pod exists, so that the target pod's CNI plug
        cannot claim them; a pin that comes after the prepare never undoes it.
      - V(absent) removes both keys.
    type: str
    required: true
    choices: [prepared, cutover, rolled_back, pinned, absent]
  source_chassis:
    description:
      - The chassis the VM runs on before the migration (OVN Chassis name or hostname, for Kube-OVN the node name).
      - Required with O(state=prepared), O(state=rolled_back) and O(state=pinned).
    type: str
  target_chassis:
    description:
      - The chassis the VM migrates to. Required with O(state=prepared) and O(state=cutover).
    type: str
  activation_strategy:
    description:
      - The C(activation-strategy) written with O(state=prepared).
    type: str
    default: rarp
    choices: [rarp]
  verify_chassis:
    description:
      - With O(ovn_sb_connection) set, fail unless each named chassis is registered in the Southbound
        database by name or hostname. Without O(ovn_sb_connection) the check is skipped with a warning.
    type: bool
    default: true
  wait:
    description:
      - Like C(ovn-nbctl --wait). V(sb) waits until ovn-northd copied the change to the Southbound database,
        V(hv) until the chassis involved applied it (their C(Chassis_Private.nb_cfg)), that is the source and
        target chassis and every chassis the ports' C(requested-chassis) named before. A NotReady node elsewhere does
        not hold the wait back. V(none) does not wait.
      - V(hv) reads C(Chassis_Private) from O(ovn_sb_connection). Without it, V(hv) falls back to
        C(NB_Global.hv_cfg), the slowest chassis of the whole cluster, with a warning.
      - The NB_Global C(nb_cfg) counter is bumped only when a port changes; a call that changes nothing waits
        for the current value without bumping it.
      - A wait that times out after the change was written is a warning naming what lags (northd or the
        chassis), never a failure; the result reports the change.
      - Since version 0.2.0 a boolean works too, as O(kubeovn.live_migration.vmim#module:wait) and
        kubernetes.core spell it. V(true) waits as V(hv), V(false) as V(none).
    type: raw
    default: none
  wait_timeout:
    description:
      - Seconds O(wait) may take.
    type: float
    default: 30
  expected:
    description:
      - Compare-and-swap across tasks - the ports' C(requested-chassis) and C(activation-strategy) as the read this
        call was decided on found them (port name to a dict of the two keys, null - absent; the C(options) of
        M(kubeovn.live_migration.ovn_lsp_info)). When a port named here carries something else or is gone, the
        module fails before writing anything, naming what changed (C(conflicts) in the result).
    type: dict
    version_added: 0.2.0
notes:
  - OVN older than 22.06 cannot bind a port on two chassis and reads C(requested-chassis=A,B) as one unknown
    chassis. Such an OVN is refused before anything is written (a Northbound schema older than 6.3.0, or,
    when the Southbound database is contacted, no C(Port_Binding.additional_chassis) column).
  - Kube-OVN's controller writes the same keys while its C(--enable-live-migration-optimize) flag is on; turn it off
    when this collection drives migrations.
"""

EXAMPLES = r"""
- name: Bind every port of VMI vm1 on both chassis during its migration
  kubeovn.live_migration.ovn_lsp:
    ovn_nb_connection: tcp:192.0.2.10:6641
    ovn_sb_connection: tcp:192.0.2.10:6642
    vmi: vm1
    namespace: default
    state: prepared
    source_chassis: node-a
    target_chassis: node-b
    wait: hv

- name: After the migration succeeded, keep only the target
  kubeovn.live_migration.ovn_lsp:
    vmi: vm1
    namespace: default
    state: cutover
    target_chassis: node-b

- name: Roll back named ports over TLS to a RAFT cluster
  kubeovn.live_migration.ovn_lsp:
    ovn_nb_connection: ssl:192.0.2.10:6641,ssl:192.0.2.11:6641,ssl:192.0.2.12:6641
    private_key: /etc/ovn/key.pem
    certificate: /etc/ovn/cert.pem
    ovn_ca_cert: /etc/ovn/cacert.pem
    ports: [vm1.default, vm1.default.net1]
    state: rolled_back
    source_chassis: node-a
"""

RETURN = r"""
ports:
  description: Every selected port with our two option keys before and after (a missing key is null).
  returned: success, and on failure after the ports were read
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
      description: C(requested-chassis) and C(activation-strategy) as they are now (or would be, in check mode).
      type: dict
    written_at:
      description:
        - When the transaction that changed the port was committed, in epoch seconds (the metrics' stage times).
        - Only on ports this call changed, not in check mode.
      type: float
      returned: when the port was changed
      version_added: 0.2.0
  sample:
    - name: vm1.default
      before: {requested-chassis: node-a, activation-strategy: null}
      after: {requested-chassis: "node-a,node-b", activation-strategy: rarp}
kept:
  description:
    - Ports left as they were because a cutover to the target had already landed (O(state=prepared)), or because
      they already carried one of the two keys (O(state=pinned)).
  returned: success
  type: list
  elements: str
  sample: []
nb_cfg:
  description: The NB_Global nb_cfg value waited for.
  returned: when O(wait) is not V(none) and not in check mode
  type: int
  sample: 42
waited_for:
  description: The chassis (Chassis names) whose C(Chassis_Private.nb_cfg) O(wait=hv) waited for; empty
    when it waited for northd or the NB_Global C(hv_cfg) fallback.
  returned: when O(wait) is not V(none) and not in check mode
  type: list
  elements: str
  sample: [node-a, node-b]
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.argspec import ovn_wait
from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import lsp_apply
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError


def run(module):
    p = module.params
    p["wait"] = ovn_wait(p["wait"])
    if p["ports"] is not None:
        if not p["ports"] or any(not name or not name.strip() for name in p["ports"]):
            raise ModuleError("ports must be a non-empty list of port names")
    for option in ("vmi", "namespace"):
        if p[option] is not None and not p[option].strip():
            raise ModuleError("%s must not be empty" % option)
    ovn_nb.validate_chassis_args(p["state"], p["source_chassis"], p["target_chassis"])
    desired = ovn_nb.desired_options(p["state"], p["source_chassis"], p["target_chassis"], p["activation_strategy"])
    lookup = ovn_nb.vif_lookup(ports=p["ports"], namespace=p["namespace"], vmi=p["vmi"])
    if p["expected"] is not None:
        lsp_apply.check_expected(p["expected"])
        lookup = lsp_apply.expecting(lookup, [{"vmi": p["vmi"], "namespace": p["namespace"], "expected": p["expected"]}],
                                     "fail", [])
    guard = {"prepared": ovn_nb.cut_over_guard(lambda port: p["target_chassis"]),
             "pinned": ovn_nb.marked_guard}.get(p["state"])
    # Named ports are one VM: a port the guard keeps keeps them all.
    keep = guard if guard is None or p["vmi"] else (lambda ports: guard(ports) and set(port.name for port in ports))
    return lsp_apply.apply(module, lookup, desired, [p["source_chassis"], p["target_chassis"]],
                           "kubeovn.live_migration.ovn_lsp state=%s" % p["state"], keep=keep)


def main():
    module = KubeovnModule(
        argument_spec=dict(
            ports=dict(type="list", elements="str"),
            vmi=dict(type="str"),
            namespace=dict(type="str"),
            state=dict(type="str", required=True, choices=list(ovn_nb.STATES)),
            source_chassis=dict(type="str"),
            target_chassis=dict(type="str"),
            activation_strategy=dict(type="str", default="rarp", choices=list(ovn_nb.STRATEGIES)),
            verify_chassis=dict(type="bool", default=True),
            wait=dict(type="raw", default="none"),
            wait_timeout=dict(type="float", default=30),
            expected=dict(type="dict"),
        ),
        shared=("ovn_nb",),
        mutually_exclusive=[("ports", "vmi"), ("ports", "namespace")],
        required_together=[("vmi", "namespace")],
        required_one_of=[("ports", "vmi")],
        required_if=[
            ("state", "prepared", ("source_chassis", "target_chassis")),
            ("state", "cutover", ("target_chassis",)),
            ("state", "rolled_back", ("source_chassis",)),
            ("state", "pinned", ("source_chassis",)),
        ],
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
