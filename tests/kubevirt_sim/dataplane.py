"""The VM's side of the OVN data plane, played on an OVN sandbox (tests/ovn_sandbox): plug the
VM's ports where its virt-launcher pod runs, announce it with RARP at switchover, unplug."""
import re
import time

MAC_RE = re.compile(r"([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})")


class OvnDataPlane:
    def __init__(self, sandbox):
        self.sandbox = sandbox

    @property
    def nodes(self):
        return list(self.sandbox.hypervisors)

    def discover_ports(self, namespace, vm):
        """The VM's LSPs as Kube-OVN made them (external_ids:pod=<ns>/<vm>), with their MACs."""
        ports = []
        for name in self.sandbox.vm_ports(namespace, vm):
            match = MAC_RE.search(self.sandbox.nbctl("get", "Logical_Switch_Port", name, "addresses"))
            ports.append({"name": name, "mac": match.group(1) if match else None})
        return ports

    def pin(self, node, ports):
        """The simulator's old pinned start (KubevirtSim(pinned_start=True)): requested-chassis names the
        pod's node. Kube-OVN itself never does this (kube_ovn.py). Left alone when already set."""
        for port in ports:
            current = self.sandbox.nbctl("--if-exists", "get", "Logical_Switch_Port", port["name"],
                                         "options:requested-chassis").strip()
            if not current:
                self.sandbox.nbctl("set", "Logical_Switch_Port", port["name"], "options:requested-chassis=" + node)

    def plug(self, node, ports):
        for port in ports:
            self.sandbox.add_vm_port(node, port["name"])

    def unplug(self, node, ports):
        for port in ports:
            self.sandbox.remove_vm_port(node, port["name"])

    def announce(self, node, ports):
        """What the VM's guest does on the target after resume: a RARP per NIC."""
        from ovn_sandbox import packets
        for port in ports:
            if port.get("mac"):
                self.sandbox.inject(node, port["name"], packets.rarp(port["mac"]))

    def unbound(self, node, ports):
        """Ports whose SB binding does not (yet) include `node`'s chassis, main or additional."""
        chassis = self.sandbox.chassis_name(node)
        missing = []
        for port in ports:
            binding = self.sandbox.port_binding(port["name"]) or {}
            if chassis != binding.get("chassis") and chassis not in (binding.get("additional_chassis") or []):
                missing.append(port["name"])
        return missing

    def wait_bound(self, node, ports, timeout, cancelled):
        """What Kube-OVN's CNI does for the target pod: wait for the ports to be bound on the node.
        Returns the ports still unbound after `timeout` (empty list = all bound)."""
        deadline = time.monotonic() + timeout
        while True:
            missing = self.unbound(node, ports)
            if not missing or time.monotonic() >= deadline or cancelled():
                return missing
            time.sleep(0.05)
