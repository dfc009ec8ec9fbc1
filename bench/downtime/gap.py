"""From the probes sent and the frames the VM's two ports received, the traffic gap of one run.

A probe counts as delivered only if it reached the port where the VM ran when it was sent: the
source port before the switchover instant, the target port from it on. Probes sent before the
migration started (the warm-up that proves the path works) are left out.
"""
from dataclasses import dataclass

from ovn_sandbox import pcap

from .prober import DPORT, parse_payload

ETH_IPV4 = b"\x08\x00"


def probe_seqs(frames, tag):
    """Sequence numbers of this run's probes among `frames` (raw Ethernet)."""
    seqs = set()
    for frame in frames:
        if frame[12:14] != ETH_IPV4 or len(frame) < 34 or frame[23] != 17:
            continue
        l4 = 14 + (frame[14] & 0x0F) * 4
        if int.from_bytes(frame[l4 + 2:l4 + 4], "big") != DPORT:
            continue
        found = parse_payload(frame[l4 + 8:])
        if found and found[0] == tag:
            seqs.add(found[1])
    return seqs


@dataclass
class Gap:
    sent: int               # probes in the measured window
    lost: int               # of those, not delivered where the VM ran
    gap_ms: float           # longest run of lost probes: its first send -> the next delivered send
    gap_offset_ms: float    # where that run started, relative to the switchover (negative = before)
    max_send_interval_ms: float   # the sender's worst stall in the window (resolution of gap_ms)
    # Probes sent before the switchover that reached the target anyway
    # (activation-strategy=rarp blocks them; a probe in flight at the instant may pass).
    early_at_target: int


def measure(sent_at, source_frames, target_frames, tag, switchover, start):
    """sent_at: send instants by sequence number; switchover, start: monotonic instants."""
    at_source = probe_seqs(source_frames, tag)
    at_target = probe_seqs(target_frames, tag)
    window = [seq for seq, t in enumerate(sent_at) if t >= start]
    if not window:
        raise RuntimeError("no probe was sent during the migration")
    delivered = [(seq in at_source) if sent_at[seq] < switchover else (seq in at_target) for seq in window]
    longest, best_first, best_end = 0, None, None
    run_first = None
    for index, ok in enumerate(delivered + [True]):
        if not ok:
            if run_first is None:
                run_first = index
            continue
        if run_first is not None:
            if index - run_first > longest:
                longest, best_first, best_end = index - run_first, run_first, index
            run_first = None
    gap_ms = offset_ms = 0.0
    if longest:
        first_t = sent_at[window[best_first]]
        if best_end < len(window):
            end_t = sent_at[window[best_end]]
        else:    # lost up to the end of the window: count to the last send
            end_t = sent_at[window[-1]]
        gap_ms = (end_t - first_t) * 1000
        offset_ms = (first_t - switchover) * 1000
    times = [sent_at[seq] for seq in window]
    stall = max((b - a for a, b in zip(times, times[1:])), default=0.0) * 1000
    early = sum(1 for seq in window if sent_at[seq] < switchover and seq in at_target)
    return Gap(len(window), delivered.count(False), gap_ms, offset_ms, stall, early)


def read(sandbox, hv, lsp):
    return pcap.read_frames(sandbox.pcap_path(hv, lsp, "tx"))
