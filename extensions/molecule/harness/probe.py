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
