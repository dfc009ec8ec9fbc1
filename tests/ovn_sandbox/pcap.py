"""Read the classic pcap files that OVS netdev-dummy writes (options:tx_pcap / rxq_pcap)."""
import struct
from pathlib import Path

_MAGICS = {
    b"\xd4\xc3\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">",   # microsecond timestamps
    b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\x3c\x4d": ">",   # nanosecond timestamps
}


def read_frames(path):
    """Every complete frame in the pcap file at `path`, oldest first; [] if it does not exist yet.

    OVS appends and flushes record by record, so a record cut short at the end (being written
    right now) is left out rather than misread.
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    if len(data) < 24:
        return []
    endian = _MAGICS.get(data[:4])
    if endian is None:
        raise ValueError("%s is not a pcap file (magic %s)" % (path, data[:4].hex()))
    frames = []
    offset = 24
    while offset + 16 <= len(data):
        _sec, _frac, caplen, _origlen = struct.unpack(endian + "IIII", data[offset:offset + 16])
        end = offset + 16 + caplen
        if end > len(data):
            break
        frames.append(data[offset + 16:end])
        offset = end
    return frames
