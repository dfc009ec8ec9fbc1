"""VM interfaces on the simulated hypervisors: plug, unplug, move, inject frames, read what arrived,
and the SB Port_Binding as chassis names. Mixed into OvnSandbox."""
import hashlib
import re

from . import pcap
from .daemons import SandboxError
from .ovsdb_json import as_list, optional, quote, rows

PB_COLUMNS = "logical_port,chassis,additional_chassis,requested_chassis,requested_additional_chassis,options,up"


def ifname(lsp):
    """The OVS interface name for an LSP: the LSP name when it is short and plain, else a stable
    hash (so another process can find the same interface from the LSP name alone)."""
    if len(lsp) <= 15 and re.fullmatch(r"[A-Za-z0-9_.-]+", lsp):
        return lsp
    return "vif" + hashlib.sha1(lsp.encode()).hexdigest()[:12]


class Vifs:
    def pcap_path(self, hv, lsp, direction="tx"):
        """tx: frames OVS sent to the port (what the VM receives); rx: frames injected into it."""
        return self.workdir / hv / "pcap" / ("%s-%s.pcap" % (ifname(lsp), direction))

    def add_vm_port(self, hv, lsp):
        """Plug an interface for LSP `lsp` into br-int on `hv` (iface-id=lsp, pcap capture on)."""
        self._check_hv(hv)
        name = ifname(lsp)
        if self.has_vm_port(hv, lsp):
            return
        tx, rx = self.pcap_path(hv, lsp, "tx"), self.pcap_path(hv, lsp, "rx")
        tx.parent.mkdir(exist_ok=True)
        for old in (tx, rx):          # frames from an earlier plug of the same port
            old.unlink(missing_ok=True)
        self._marks.pop((hv, name), None)
        self.vsctl(hv, "add-port", "br-int", name, "--", "set", "Interface", name,
                   "external_ids:iface-id=%s" % quote(lsp),
                   "options:tx_pcap=%s" % quote(tx), "options:rxq_pcap=%s" % quote(rx))

    def remove_vm_port(self, hv, lsp):
        """Unplug the interface of `lsp` from `hv` (no error if it is not there)."""
        self._check_hv(hv)
        self.vsctl(hv, "--if-exists", "del-port", "br-int", ifname(lsp))

    def move_vm_port(self, lsp, src_hv, dst_hv):
        """Plug on dst_hv, then unplug from src_hv: the order of a live migration."""
        self.add_vm_port(dst_hv, lsp)
        self.remove_vm_port(src_hv, lsp)

    def has_vm_port(self, hv, lsp):
        self._check_hv(hv)
        ports = self.vsctl(hv, "list-ports", "br-int").split()
        return ifname(lsp) in ports

    def vm_port_hypervisors(self, lsp):
        """Hypervisors where `lsp` is plugged in now."""
        return [hv for hv in self.hypervisors if self.has_vm_port(hv, lsp)]

    def inject(self, hv, lsp, frame):
        """Hand `frame` (bytes) to OVS as if the VM behind `lsp` on `hv` had sent it."""
        if not isinstance(frame, (bytes, bytearray)):
            raise SandboxError("inject wants the frame as bytes, got %s" % type(frame).__name__)
        if not self.has_vm_port(hv, lsp):
            raise SandboxError("%s is not plugged in on %s" % (lsp, hv))
        self.appctl(hv, "netdev-dummy/receive", ifname(lsp), bytes(frame).hex())

    def received(self, hv, lsp):
        """Frames OVS has sent to `lsp` on `hv` since it was plugged (or since clear_received)."""
        self._check_hv(hv)
        frames = pcap.read_frames(self.pcap_path(hv, lsp, "tx"))
        return frames[self._marks.get((hv, ifname(lsp)), 0):]

    def clear_received(self, hv=None, lsp=None):
        """Forget frames received so far, on one port or (no arguments) on every plugged port."""
        if hv is not None and lsp is not None:
            targets = [(hv, lsp)]
        else:
            targets = [(h, p.name[:-len("-tx.pcap")]) for h in self.hypervisors
                       for p in (self.workdir / h / "pcap").glob("*-tx.pcap")]
        for h, name in targets:
            frames = pcap.read_frames(self.workdir / h / "pcap" / ("%s-tx.pcap" % ifname(name)))
            self._marks[(h, ifname(name))] = len(frames)

    def port_binding(self, lsp):
        """The SB Port_Binding of `lsp` with chassis as names, or None if northd has not made it.

        Keys: logical_port, chassis (name or None), additional_chassis (list of names),
        requested_chassis (name or None), requested_additional_chassis (list), options (dict),
        up (bool or None).
        """
        found = rows(self.sbctl("--format=json", "--columns=" + PB_COLUMNS, "find", "Port_Binding",
                                "logical_port=%s" % quote(lsp)))
        if not found:
            return None
        row = found[0]
        names = {r["_uuid"]: r["name"] for r in rows(self.sbctl("--format=json", "--columns=_uuid,name", "list", "Chassis"))}

        def name(uuid):
            return names.get(uuid, uuid)
        single = ("chassis", "requested_chassis")
        out = {"logical_port": row["logical_port"], "options": row["options"] or {},
               "up": optional(row["up"])}
        for column in single:
            value = optional(row[column])
            out[column] = name(value) if value else None
        for column in ("additional_chassis", "requested_additional_chassis"):
            out[column] = [name(u) for u in as_list(row[column])]
        return out
