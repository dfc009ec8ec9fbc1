#!/usr/bin/python
# Copyright: kubeovn.live_migration contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: ovn_lsp_info
short_description: Read the live-migration state of OVN logical switch ports
description:
  - Reads C(requested-chassis) and C(activation-strategy) of named ports, of every port of a VMI, or of every
    port that carries migration options, and, with O(ovn_sb_connection), where OVN bound each port.
  - Never changes anything. Finding no port is not an error.
version_added: 0.1.0
author:
  - kubeovn.live_migration contributors (@kubeovn)
extends_documentation_fragment:
  - kubeovn.live_migration.ovn_nb
  - kubeovn.live_migration.attributes
  - kubeovn.live_migration.attributes.INFO_MODULE
options:
  ports:
    description:
      - Names of Logical_Switch_Ports to read. Names that do not exist are left out of the result.
      - Mutually exclusive with O(vmi) and O(namespace).
    type: list
    elements: str
  vmi:
    description:
      - Name of a KubeVirt VirtualMachineInstance. Selects every port of type C("") whose C(external_ids:pod) is
        C(<namespace>/<vmi>).
    type: str
  namespace:
    description:
      - Namespace of O(vmi).
    type: str
  only_migrating:
    description:
      - Only ports with an C(activation-strategy) or more than one C(requested-chassis).
      - Alone, scans the Northbound database for them (one C(select) of five columns, narrowed server-side
        when O(ovn_sb_connection) is set, see O(include_pins)); with O(ports) or O(vmi), filters those.
    type: bool
    default: false
  include_pins:
    description:
      - With O(only_migrating), also ports pinned to one chassis (a C(requested-chassis) alone), so that the
        reconcile sweep can repair a pin that is not where the VMI runs.
      - With O(ovn_sb_connection), the scan is narrowed server-side (one C(select) for C(activation-strategy=rarp)
        and one per chassis name and hostname registered in the Southbound database); without it, the whole
        table is read. A pin naming a chassis the Southbound database no longer knows is only found without
        O(ovn_sb_connection).
    type: bool
    default: false
    version_added: 0.2.0
"""

EXAMPLES = r"""
- name: Where are the ports of VMI vm1?
  kubeovn.live_migration.ovn_lsp_info:
    ovn_nb_connection: tcp:192.0.2.10:6641
    ovn_sb_connection: tcp:192.0.2.10:6642
    vmi: vm1
    namespace: default
  register: vm1_ports

- name: Every port left mid-migration
  kubeovn.live_migration.ovn_lsp_info:
    only_migrating: true
  register: leftovers
"""

RETURN = r"""
ports:
  description: The matching ports, sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Logical_Switch_Port name.
      type: str
    vmi:
      description: VMI name from C(external_ids:pod), or null.
      type: str
    namespace:
      description: Namespace from C(external_ids:pod), or null.
      type: str
    requested_chassis:
      description: C(requested-chassis) split on commas (empty when unset).
      type: list
      elements: str
    activation_strategy:
      description: C(activation-strategy), or null.
      type: str
    options:
      description: The two keys C(requested-chassis) and C(activation-strategy) (null when unset).
      type: dict
    binding:
      description:
        - The Southbound Port_Binding with chassis names, or null (no O(ovn_sb_connection), or not bound yet).
        - C(activated) lists the additional chassis where the port was activated (by a RARP).
      type: dict
      contains:
        chassis:
          description: Main chassis name.
          type: str
        chassis_hostname:
          description: Main chassis hostname.
          type: str
        additional_chassis:
          description: Additional chassis names.
          type: list
          elements: str
        additional_chassis_hostnames:
          description: Additional chassis hostnames.
          type: list
          elements: str
        requested_chassis:
          description: The chassis northd resolved from the first C(requested-chassis) entry.
          type: str
        requested_chassis_hostname:
          description: Hostname of that chassis (the Kubernetes node name under Kube-OVN).
          type: str
        requested_additional_chassis:
          description: The chassis northd resolved from the other entries.
          type: list
          elements: str
        requested_additional_chassis_hostnames:
          description: Hostnames of the requested additional chassis.
          type: list
          elements: str
        activated:
          description: Chassis names in C(options:additional-chassis-activated).
          type: list
          elements: str
        up:
          description: Port_Binding C(up), or null.
          type: bool
  sample:
    - name: vm1.default
      vmi: vm1
      namespace: default
      requested_chassis: [node-a, node-b]
      activation_strategy: rarp
      options: {requested-chassis: "node-a,node-b", activation-strategy: rarp}
      binding:
        chassis: node-a
        chassis_hostname: node-a
        additional_chassis: [node-b]
        additional_chassis_hostnames: [node-b]
        requested_chassis: node-a
        requested_chassis_hostname: node-a
        requested_additional_chassis: [node-b]
        requested_additional_chassis_hostnames: [node-b]
        activated: []
        up: true
"""

from ansible_collections.kubeovn.live_migration.plugins.module_utils.module import KubeovnModule
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import nb as ovn_nb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import sb as ovn_sb
from ansible_collections.kubeovn.live_migration.plugins.module_utils.errors import ModuleError


def port_info(port):
    namespace, vmi = port.pod
    owned = port.owned
    chassis = owned[ovn_nb.KEY_CHASSIS]
    return {
        "name": port.name,
        "vmi": vmi,
        "namespace": namespace,
        "requested_chassis": [c.strip() for c in chassis.split(",") if c.strip()] if chassis else [],
        "activation_strategy": owned[ovn_nb.KEY_STRATEGY],
        "options": owned,
        "binding": None,
    }


def run(module):
    p = module.params
    if p["ports"] is not None and any(not name or not name.strip() for name in p["ports"]):
        raise ModuleError("ports must hold port names, not empty strings")
    if p["ports"] is None and p["vmi"] is None and not p["only_migrating"]:
        raise ModuleError("give ports, vmi and namespace, or only_migrating=true")
    for option in ("vmi", "namespace"):
        if p[option] is not None and not p[option].strip():
            raise ModuleError("%s must not be empty" % option)

    sb = ovn_sb.connect_sb(p)
    try:
        return {"changed": False, "ports": read_ports(p, sb)}
    finally:
        if sb is not None:
            sb.close()


def read_ports(p, sb):
    # A scan with the SB at hand is narrowed server-side to the chassis it knows (ovn_nb.marked_queries).
    scan = p["ports"] is None and p["vmi"] is None
    chassis = ovn_sb.chassis_names(sb) if sb is not None and scan else None
    with ovn_nb.connect_nb(p) as nb:
        if p["ports"] is not None:
            ports, _missing = ovn_nb.find_ports_by_name(nb, p["ports"])
            ports.sort(key=lambda port: port.name)
        elif p["vmi"] is not None:
            ports = ovn_nb.find_vmi_ports(nb, p["namespace"], p["vmi"])
        elif chassis is not None:
            ports = ovn_nb.find_marked_ports(nb, chassis)
        else:
            ports = ovn_nb.find_migrating_ports(nb, full=True)
    if p["only_migrating"]:
        keep = ovn_nb.is_marked if p["include_pins"] else ovn_nb.is_migrating
        ports = [port for port in ports if keep(port.options)]
    infos = [port_info(port) for port in ports]
    if sb is not None and infos:
        bindings = ovn_sb.port_bindings(sb, [info["name"] for info in infos])
        for info in infos:
            info["binding"] = bindings.get(info["name"])
    return infos


def main():
    module = KubeovnModule(
        argument_spec=dict(
            ports=dict(type="list", elements="str"),
            vmi=dict(type="str"),
            namespace=dict(type="str"),
            only_migrating=dict(type="bool", default=False),
            include_pins=dict(type="bool", default=False),
        ),
        shared=("ovn_nb",),
        mutually_exclusive=[("ports", "vmi"), ("ports", "namespace")],
        required_together=[("vmi", "namespace")],
        supports_check_mode=True,
    )
    module.run(run)


if __name__ == "__main__":
    main()
