"""bench/bandwidth/traffic.py: the Geneve frames a hypervisor received, unwrapped, and the
per-probe accounting of duplicated copies around the RARP."""
import struct

from ovn_sandbox import packets

from bench.bandwidth import traffic
from bench.downtime.prober import payload

VM_MAC, PEER_MAC = "0a:00:00:00:00:02", "0a:00:00:00:00:03"
HV1, HV2 = "127.0.10.11", "127.0.10.12"


def probe(tag, seq, pad=0):
    return packets.ipv4_udp(PEER_MAC, VM_MAC, "10.16.0.3", "10.16.0.2", payload(tag, seq) + bytes(pad), dport=7777)


def geneve(inner, dst_ip, option_words=2, dport=traffic.GENEVE_PORT):
    """An outer Ethernet/IPv4/UDP/Geneve frame around `inner`, with `option_words` of options."""
    header = struct.pack("!BBHI", option_words, 0, 0x6558, 0x000001 << 8) + bytes(4 * option_words)
    udp = struct.pack("!HHHH", 50000, dport, 8 + len(header) + len(inner), 0) + header + inner
    return packets.ipv4_udp("aa:00:00:00:00:01", "aa:00:00:00:00:02", "127.0.10.13", dst_ip, b"", dport=dport)[:14] \
        + struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                      packets.ip_bytes("127.0.10.13"), packets.ip_bytes(dst_ip)) + udp


def test_tunnelled_unwraps_geneve_to_this_chassis_only():
    inner = probe(7, 0)
    frames = [geneve(inner, HV2), geneve(inner, HV1), geneve(inner, HV2, dport=4789), inner]
    found = traffic.tunnelled(frames, HV2)
    assert found == [(inner, len(frames[0]))]
    assert len(frames[0]) == len(inner) + 14 + 20 + 8 + 8 + 8


def test_copies_keep_this_runs_probes_with_their_bytes():
    frames = [geneve(probe(7, seq, pad=100), HV1) for seq in range(3)] + [geneve(probe(8, 9), HV1)]
    assert traffic.copies(frames, HV1, 7) == {0: len(frames[0]), 1: len(frames[0]), 2: len(frames[0])}


def test_account_splits_the_extra_copies_at_the_rarp():
    # Probes every 10 ms from t=0; the migration starts at 0.02 (seq 2); RARP at 0.055 (after seq 5).
    sent_at = [i * 0.01 for i in range(10)]
    source = {seq: 100 for seq in range(0, 8)}          # the source gets copies until seq 7
    target = {seq: 100 for seq in range(4, 10)}         # dual from seq 4
    delivered = {6, 7, 8, 9}                            # the target port only after the RARP
    counted = traffic.account(sent_at, 0.02, 0.055, 0.01, source, target, delivered)
    assert counted.sent == 8
    assert counted.to_target_before == 2                # seqs 4, 5: tunnelled, dropped there
    assert counted.delivered_before == 0
    assert counted.duplicated_after == 2                # seqs 6, 7 reached both
    assert counted.extra_packets == 4 and counted.extra_bytes == 400
    assert abs(counted.window_s - 0.04) < 1e-9          # seq 4 to seq 7, plus one interval


def test_an_unprepared_migration_duplicates_nothing():
    sent_at = [i * 0.01 for i in range(10)]
    counted = traffic.account(sent_at, 0.0, 0.05, 0.01, {s: 100 for s in range(6)}, {s: 100 for s in range(7, 10)},
                              {7, 8, 9})
    assert (counted.extra_packets, counted.to_target_before, counted.window_s) == (0, 0, 0.0)


def test_agreement_is_checked_per_case_and_a_missing_metrics_window_misses():
    from types import SimpleNamespace

    from bench.bandwidth import table

    def run(case, sb, metrics):
        return SimpleNamespace(case=case, sb_window_s=sb, metrics_window_s=metrics, failure="", traffic=None)
    lines = table.agreement_lines([run("unprepared", None, None), run("collection/playbook", 10.0, 10.9),
                                   run("collection/eda", 10.0, None), run("collection/eda", 10.0, 10.2)])
    assert lines[0] == ("window agreement, collection/playbook (SB vs metrics, within 10 %): 1 of 1 runs, "
                        "worst 9.0 %: met")
    assert lines[1].endswith("1 of 1 runs, worst 2.0 %, 1 without a window in the metrics: MISSED")
    assert table.agreement_lines([run("collection/playbook", 10.0, 11.5)])[0].endswith("0 of 1 runs, worst 15.0 %: MISSED")
