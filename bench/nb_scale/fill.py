"""Fill the NB with Kube-OVN-like Logical_Switch_Ports, a few large OVSDB transactions at a time.

ovn-nbctl lsp-add checks every existing port on each call (quadratic: minutes at 50,000), so each
batch is one `transact`: a new Kube-OVN subnet switch plus up to BATCH `insert`s it references
(Logical_Switch_Port is not a root table: an unreferenced port would be garbage-collected).

Every port looks like one Kube-OVN writes for a KubeVirt VM: name `<vm>.<ns>`, addresses
"MAC IP", external_ids pod=<ns>/<vm>, vendor=kube-ovn, ls=<switch>. The VM we migrate has two
NICs, `bench-vm.bench` and its attachment `bench-vm.bench.net1`; both are part of the count.
"""
import ipaddress

from . import paths

paths.use_collection()
from ansible_collections.kubeovn.live_migration.plugins.module_utils.ovn import ovsdb  # noqa: E402  pylint: disable=wrong-import-position

BATCH = 10000
VM = "bench-vm"
NAMESPACE = "bench"
PRIMARY_PORT = "%s.%s" % (VM, NAMESPACE)
VM_PORTS = (PRIMARY_PORT, PRIMARY_PORT + ".net1")
NAMESPACES = 20


class NbFiller(object):
    """Grows the NB to a given number of LSPs; remembers what it inserted so sizes only add."""

    def __init__(self, client, batch=BATCH):
        self.client = client
        self.batch = batch
        self.count = 0
        self.switches = 0

    def init(self):
        """What `ovn-nbctl init` does: the NB_Global row (ovn-nbctl and wait= expect it)."""
        if not self.client.select("NB_Global", [], ["_uuid"]):
            self.client.transact([{"op": "insert", "table": "NB_Global", "row": {}}])

    def grow_to(self, total):
        if total < len(VM_PORTS):
            raise ValueError("a size must be at least %d (the migrating VM's ports)" % len(VM_PORTS))
        while self.count < total:
            size = min(self.batch, total - self.count)
            self.client.transact(self._batch_ops(size))
            self.count += size
            self.switches += 1

    def _batch_ops(self, size):
        switch = "bench-subnet-%d" % self.switches
        subnet = ipaddress.IPv4Network("10.%d.0.0/16" % (16 + self.switches))
        names = self._port_names(size)
        ops, refs = [], []
        for index, (name, vm, namespace) in enumerate(names):
            ip = subnet.network_address + index + 2          # .1 is Kube-OVN's gateway
            mac = "0a:58:%s" % ":".join("%02x" % b for b in ip.packed)
            ref = "p%d" % index
            refs.append(["named-uuid", ref])
            ops.append({"op": "insert", "table": "Logical_Switch_Port", "uuid-name": ref, "row": {
                "name": name,
                "addresses": "%s %s" % (mac, ip),
                "external_ids": ovsdb.encode_map({"pod": "%s/%s" % (namespace, vm), "vendor": "kube-ovn", "ls": switch}),
            }})
        ops.append({"op": "insert", "table": "Logical_Switch", "row": {
            "name": switch,
            "other_config": ovsdb.encode_map({"subnet": str(subnet)}),
            "external_ids": ovsdb.encode_map({"vendor": "kube-ovn"}),
            "ports": ["set", refs],
        }})
        return ops

    def _port_names(self, size):
        """(port name, vm, namespace) for the next `size` ports; the migrating VM's come first."""
        names = []
        if self.count == 0:
            names = [(port, VM, NAMESPACE) for port in VM_PORTS][:size]
        for seq in range(self.count + len(names), self.count + size):
            vm, namespace = "vm-%06d" % seq, "ns-%02d" % (seq % NAMESPACES)
            names.append(("%s.%s" % (vm, namespace), vm, namespace))
        return names
