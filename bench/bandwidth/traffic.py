"""Per-probe accounting of one migration from the captures: the Geneve frames each hypervisor's
underlay port received (rxq_pcap) and the frames OVS handed to the VM's port on each chassis.

A probe sent to the VM is tunnelled from the peer's chassis to every chassis the port is bound
on. While it is bound on two, one copy is extra: before the RARP the copy to the target (OVN
drops it there: activation-strategy=rarp blocks the port), after the RARP the copy to the source
(the VM has left it). Both cross the network for nothing.
"""
from dataclasses import dataclass

from ovn_sandbox.packets import ip_bytes

from bench.downtime import gap

ETH_IPV4, UDP, GENEVE_PORT = b"\x08\x00", 17, 6081


def tunnelled(frames, encap_ip):
    """(inner frame, outer frame length) of each Geneve frame addressed to `encap_ip`."""
    want = ip_bytes(encap_ip)
    found = []
    for frame in frames:
        if frame[12:14] != ETH_IPV4 or len(frame) < 50 or frame[23] != UDP or frame[30:34] != want:
            continue
        udp = 14 + (frame[14] & 0x0F) * 4
        if int.from_bytes(frame[udp + 2:udp + 4], "big") != GENEVE_PORT:
            continue
        geneve = udp + 8
        inner = geneve + 8 + (frame[geneve] & 0x3F) * 4    # fixed header + options (length in 4-byte words)
        found.append((frame[inner:], len(frame)))
    return found


def copies(frames, encap_ip, tag):
    """{probe sequence number: outer bytes} of this run's probes tunnelled to `encap_ip`."""
    found = {}
    for inner, size in tunnelled(frames, encap_ip):
        for seq in gap.probe_seqs([inner], tag):
            found[seq] = size
    return found


@dataclass
class Traffic:
    sent: int                   # probes sent from the migration's start to the end of the run
    to_target_before: int       # copies tunnelled to the target chassis before the RARP
    delivered_before: int       # of those, handed to the VM's port there (the RARP strategy blocks them: 0)
    duplicated_after: int       # probes sent after the RARP that reached both chassis
    extra_packets: int          # copies to the chassis the VM was not on
    extra_bytes: int            # their bytes on the underlay (Geneve frames)
    window_s: float             # first to last probe that reached both chassis, plus one interval; 0 if none


def account(sent_at, start, switchover, interval, at_source_tunnel, at_target_tunnel, at_target_port):
    """sent_at: send instants by sequence number; the others: {seq: bytes} or sets of seqs."""
    window = [seq for seq, t in enumerate(sent_at) if t >= start]
    both = sorted(seq for seq in window if seq in at_source_tunnel and seq in at_target_tunnel)
    before = [seq for seq in window if sent_at[seq] < switchover and seq in at_target_tunnel]
    extra = {seq: (at_target_tunnel[seq] if sent_at[seq] < switchover else at_source_tunnel[seq]) for seq in both}
    return Traffic(
        sent=len(window),
        to_target_before=len(before),
        delivered_before=sum(1 for seq in before if seq in at_target_port),
        duplicated_after=sum(1 for seq in both if sent_at[seq] >= switchover),
        extra_packets=len(extra),
        extra_bytes=sum(extra.values()),
        window_s=(sent_at[both[-1]] - sent_at[both[0]] + interval) if both else 0.0)
