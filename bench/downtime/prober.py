"""The peer's probe sender, a process of its own so the bench's threads (the simulated KubeVirt,
watches, the Kubernetes client) never delay it on the GIL.

    python -m bench.downtime.prober --ctl HV3/ovs-vswitchd.ctl --ifname IF --src-mac M --src-ip I
        --dst-mac M --dst-ip I --tag N --out FILE [--interval 0.002] [--pad 0]

Every `interval` seconds (a time.monotonic() schedule) it injects one IPv4/UDP probe into the
peer's interface on its hypervisor (netdev-dummy/receive over one open unixctl session, without
waiting for each answer: a slow vswitchd delays the probe, as a busy hypervisor would, but not
the schedule; a thread reads the answers). The
payload is MAGIC, the tag and the sequence number. It prints "ready" once connected; on SIGTERM
it stops and writes each probe's send instant (time.monotonic(), index = sequence number) to
--out as native doubles. CLOCK_MONOTONIC is system-wide, so the bench compares them with its own.
"""
import argparse
import array
import os
import signal
import struct
import sys
import threading
import time

from ovn_sandbox import packets

from .unixctl import Unixctl

MAGIC = b"DTPR"
PAYLOAD = struct.Struct("!4sII")   # magic, tag, sequence number
DPORT = 7777


def payload(tag, seq):
    return PAYLOAD.pack(MAGIC, tag, seq)


def parse_payload(data):
    """(tag, seq) of a probe payload, or None for anything else."""
    if len(data) < PAYLOAD.size:
        return None
    magic, tag, seq = PAYLOAD.unpack_from(data)
    return (tag, seq) if magic == MAGIC else None


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.downtime.prober")
    for name in ("ctl", "ifname", "src-mac", "src-ip", "dst-mac", "dst-ip", "out"):
        parser.add_argument("--" + name, required=True)
    parser.add_argument("--tag", type=int, required=True)
    parser.add_argument("--interval", type=float, default=0.002)
    parser.add_argument("--pad", type=int, default=0, help="zero bytes after the payload (a known frame size)")
    args = parser.parse_args(argv)

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    try:
        os.nice(-10)   # ahead of the daemons and ansible sharing the cores: the schedule is the measure
    except OSError:
        pass
    ctl = Unixctl(args.ctl)
    errors = []
    reader = threading.Thread(target=lambda: errors.append(ctl.drain()), daemon=True)
    reader.start()
    sent = array.array("d")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    due = time.monotonic()
    while not stop:
        frame = packets.ipv4_udp(args.src_mac, args.dst_mac, args.src_ip, args.dst_ip,
                                 payload(args.tag, len(sent)) + bytes(args.pad), dport=DPORT)
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        sent.append(time.monotonic())
        ctl.post("netdev-dummy/receive", args.ifname, frame.hex())
        # Keep the schedule; after a stall (the machine is loaded) restart it rather than burst.
        due += args.interval
        if due < time.monotonic() - args.interval:
            due = time.monotonic()
    time.sleep(0.05)    # the last answers
    ctl.sock.shutdown(2)
    reader.join(5)
    ctl.close()
    if errors and errors[0]:
        sys.stderr.write("prober: vswitchd refused %d probes\n" % errors[0])
        return 1
    with open(args.out, "wb") as out:
        sent.tofile(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
