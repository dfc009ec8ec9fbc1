"""The NB objects Kube-OVN would create: a subnet's logical switch and a VM's ports, named and
tagged as Kube-OVN does. Mixed into OvnSandbox. Addresses are allocated from what the NB holds,
so separate processes (the CLI, playbooks) never hand out the same MAC or IP twice."""
import ipaddress

from .daemons import SandboxError
from .ovsdb_json import as_list, quote, rows

DEFAULT_SWITCH = "ovn-default"
DEFAULT_SUBNET = "10.16.0.0/16"


class KubeOvnTopology:
    def create_switch(self, name=DEFAULT_SWITCH, subnet=DEFAULT_SUBNET):
        """A Kube-OVN subnet's logical switch (idempotent). Returns {"name", "subnet"}."""
        network = ipaddress.IPv4Network(subnet)
        self.nbctl("--may-exist", "ls-add", name, "--", "set", "Logical_Switch", name,
                   "other_config:subnet=%s" % quote(network), "external_ids:vendor=kube-ovn")
        return {"name": name, "subnet": str(network)}

    def create_vm(self, namespace, vm, providers=(), switch=DEFAULT_SWITCH):
        """The LSPs Kube-OVN makes for a KubeVirt VM: "<vm>.<ns>" plus "<vm>.<ns>.<provider>" for
        each attachment, type "", external_ids pod=<ns>/<vm>, vendor=kube-ovn, ls=<switch>.
        Returns [{"name", "mac", "ip"}], primary port first."""
        names = ["%s.%s" % (vm, namespace)] + ["%s.%s.%s" % (vm, namespace, p) for p in providers]
        ports = []
        for name in names:
            port = self._add_lsp(switch, name, {"pod": "%s/%s" % (namespace, vm), "vendor": "kube-ovn", "ls": switch})
            ports.append(port)
        return ports

    def create_peer(self, hv, name=None, switch=DEFAULT_SWITCH):
        """An ordinary LSP plugged in and bound on `hv`, to send probes from and receive them on.
        Idempotent. Returns {"name", "mac", "ip", "hv"}."""
        name = name or "peer-%s" % hv
        self._check_hv(hv)
        existing = self._lsp_address(name)
        port = existing or self._add_lsp(switch, name, {})
        self.add_vm_port(hv, name)
        chassis = self.chassis_name(hv)
        self.wait_for(lambda: (self.port_binding(name) or {}).get("chassis") == chassis,
                      timeout=10, what="peer %s bound on %s" % (name, hv))
        return dict(port, hv=hv)

    def delete_lsp(self, name):
        self.nbctl("--if-exists", "lsp-del", name)

    def vm_ports(self, namespace, vm):
        """Names of every LSP with external_ids:pod=<ns>/<vm>, as the modules look them up."""
        found = rows(self.nbctl("--format=json", "--columns=name", "find", "Logical_Switch_Port",
                                "external_ids:pod=%s" % quote("%s/%s" % (namespace, vm))))
        return sorted(r["name"] for r in found)

    # ---- helpers ------------------------------------------------------------------------------

    def _add_lsp(self, switch, name, external_ids):
        if switch == DEFAULT_SWITCH:
            self.create_switch()
        mac, ip = self._allocate(switch)
        args = ["lsp-add", switch, name, "--", "lsp-set-addresses", name, "%s %s" % (mac, ip)]
        if external_ids:
            args += ["--", "set", "Logical_Switch_Port", name] + [
                "external_ids:%s=%s" % (k, quote(v)) for k, v in sorted(external_ids.items())]
        self.nbctl(*args)
        return {"name": name, "mac": mac, "ip": ip}

    def _lsp_address(self, name):
        found = rows(self.nbctl("--format=json", "--columns=name,addresses", "find", "Logical_Switch_Port",
                                "name=%s" % quote(name)))
        if not found:
            return None
        addresses = as_list(found[0]["addresses"])
        first = (addresses[0] if addresses else "").split()
        return {"name": name, "mac": first[0] if first else None, "ip": first[1] if len(first) > 1 else None}

    def _allocate(self, switch):
        """The lowest free IP of the switch's subnet (from .2: .1 is Kube-OVN's gateway) and a MAC
        derived from it, unique among every LSP in the NB."""
        found = rows(self.nbctl("--format=json", "--columns=other_config", "find", "Logical_Switch",
                                "name=%s" % quote(switch)))
        if not found:
            raise SandboxError("no logical switch %r: create it with create_switch(name, subnet)" % switch)
        subnet = found[0]["other_config"].get("subnet")
        if not subnet:
            raise SandboxError("logical switch %r has no other_config:subnet" % switch)
        used_ips, used_macs = set(), set()
        for row in rows(self.nbctl("--format=json", "--columns=addresses", "list", "Logical_Switch_Port")):
            for entry in as_list(row["addresses"]):
                words = entry.split()
                if words and words[0] not in ("router", "unknown", "dynamic"):
                    used_macs.add(words[0].lower())
                    used_ips.update(words[1:])
        network = ipaddress.IPv4Network(subnet)
        for ip in network.hosts():
            if int(ip) - int(network.network_address) < 2 or str(ip) in used_ips:
                continue
            for prefix in range(0x0A, 0x100, 0x04):   # locally administered, unicast
                mac = "%02x:58:%s" % (prefix, ":".join("%02x" % b for b in ip.packed))
                if mac not in used_macs:
                    return mac, str(ip)
        raise SandboxError("subnet %s of switch %s is full" % (subnet, switch))
