"""Packet check: send a UDP probe to each of a VM's ports from a peer port on another hypervisor
and report on which hypervisors a copy reached the VM's interface (its tx pcap). Each probe
carries a unique payload, so earlier traffic never counts."""
import time
import uuid

from ovn_sandbox import packets

SETTLE = 0.4    # seconds to keep looking after the last new arrival
LIMIT = 2.0     # seconds in all


class Prober:
    def __init__(self, sandbox, peer_hv=None):
        self.sandbox = sandbox
        self.peer_hv = peer_hv or sandbox.hypervisors[-1]
        self.peer = None

    def _peer(self):
        if self.peer is None:
            self.peer = self.sandbox.create_peer(self.peer_hv)
        return self.peer

    def probe(self, ports):
        """ports: [{"name", "mac", "ip"}]. Returns {port name: [hypervisors that received it]}."""
        peer = self._peer()
        sent = {}
        for port in ports:
            payload = ("probe-%s" % uuid.uuid4().hex).encode()
            frame = packets.ipv4_udp(peer["mac"], port["mac"], peer["ip"], port["ip"], payload)
            self.sandbox.inject(self.peer_hv, peer["name"], frame)
            sent[port["name"]] = payload
        reached = {name: set() for name in sent}
        deadline = time.monotonic() + LIMIT
        settle = time.monotonic() + SETTLE
        while time.monotonic() < min(deadline, settle):
            grew = False
            for name, payload in sent.items():
                for hv in self.sandbox.hypervisors:
                    if hv in reached[name]:
                        continue
                    try:
                        frames = self.sandbox.received(hv, name)
                    except Exception:   # not plugged there (no capture file)
                        continue
                    if any(payload in frame for frame in frames):
                        reached[name].add(hv)
                        grew = True
            if grew:
                settle = time.monotonic() + SETTLE
            time.sleep(0.05)
        return {name: sorted(hvs) for name, hvs in reached.items()}


def check_early_plug_is_not_claimed(sandbox, ports, plug_hv="hv2", pinned_hv="hv1", peer_hv="hv3"):
    """A target pod's CNI plugs the VM's iface-ids on `plug_hv` while the ports are pinned to
    `pinned_hv`: the SB must keep them on `pinned_hv` alone and packets reach only that copy.
    The plug is removed again, whatever the outcome. ports: [{"name", "mac", "ip"}]."""
    names = [port["name"] for port in ports]
    for name in names:
        sandbox.add_vm_port(plug_hv, name)
    sandbox.wait_hv_sync(timeout=20)
    try:
        for name in names:
            binding = sandbox.port_binding(name)
            assert (binding["chassis"], binding["additional_chassis"]) == (pinned_hv, []), binding
        reached = Prober(sandbox, peer_hv=peer_hv).probe(ports)
        assert reached == {name: [pinned_hv] for name in names}, reached
    finally:
        for name in names:
            sandbox.remove_vm_port(plug_hv, name)
