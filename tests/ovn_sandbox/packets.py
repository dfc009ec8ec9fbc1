"""Build and parse the few Ethernet frames the tests need: RARP, ARP request, IPv4/UDP probes."""
import ipaddress
import struct

BROADCAST = "ff:ff:ff:ff:ff:ff"
ETH_IPV4 = 0x0800
ETH_ARP = 0x0806
ETH_RARP = 0x8035


def mac_bytes(mac):
    raw = bytes.fromhex(mac.replace(":", "").replace("-", ""))
    if len(raw) != 6:
        raise ValueError("not a MAC address: %r" % (mac,))
    return raw


def mac_str(raw):
    return ":".join("%02x" % b for b in raw)


def ip_bytes(ip):
    return ipaddress.IPv4Address(ip).packed


def ethernet(dst_mac, src_mac, ethertype, payload):
    frame = mac_bytes(dst_mac) + mac_bytes(src_mac) + struct.pack("!H", ethertype) + payload
    return frame.ljust(60, b"\0")   # minimum Ethernet frame size without FCS


def _arp_body(op, sha, spa, tha, tpa):
    return struct.pack("!HHBBH", 1, ETH_IPV4, 6, 4, op) + mac_bytes(sha) + ip_bytes(spa) + mac_bytes(tha) + ip_bytes(tpa)


def rarp(mac):
    """The RARP 'reverse request' QEMU broadcasts after a live migration (announce-self):
    ethertype 0x8035, source = the VM's MAC, opcode 3, sender and target hardware = the MAC."""
    return ethernet(BROADCAST, mac, ETH_RARP, _arp_body(3, mac, "0.0.0.0", mac, "0.0.0.0"))


def arp_request(src_mac, src_ip, dst_ip):
    """A broadcast 'who has dst_ip' from src_mac/src_ip."""
    return ethernet(BROADCAST, src_mac, ETH_ARP, _arp_body(1, src_mac, src_ip, "00:00:00:00:00:00", dst_ip))


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp(src_mac, dst_mac, src_ip, dst_ip, payload, sport=40000, dport=7777, ttl=64):
    """An IPv4/UDP frame; the UDP checksum is left 0 (allowed for IPv4)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, ttl, 17, 0,
                         ip_bytes(src_ip), ip_bytes(dst_ip))
    header = header[:10] + struct.pack("!H", _checksum(header)) + header[12:]
    return ethernet(dst_mac, src_mac, ETH_IPV4, header + udp)


def parse(frame):
    """A dict of what the tests look at: eth_dst, eth_src, eth_type; for ARP/RARP arp_op,
    arp_sha, arp_spa, arp_tpa; for IPv4 ip_src, ip_dst, ip_proto, ttl; for UDP sport,
    dport, payload."""
    out = {"eth_dst": mac_str(frame[0:6]), "eth_src": mac_str(frame[6:12])}
    ethertype, = struct.unpack("!H", frame[12:14])
    body = frame[14:]
    if ethertype == 0x8100 and len(body) >= 4:   # one VLAN tag
        out["vlan"] = struct.unpack("!H", body[0:2])[0] & 0x0FFF
        ethertype, = struct.unpack("!H", body[2:4])
        body = body[4:]
    out["eth_type"] = ethertype
    if ethertype in (ETH_ARP, ETH_RARP) and len(body) >= 28:
        out.update(arp_op=struct.unpack("!H", body[6:8])[0], arp_sha=mac_str(body[8:14]),
                   arp_spa=str(ipaddress.IPv4Address(body[14:18])), arp_tha=mac_str(body[18:24]),
                   arp_tpa=str(ipaddress.IPv4Address(body[24:28])))
    elif ethertype == ETH_IPV4 and len(body) >= 20:
        ihl = (body[0] & 0x0F) * 4
        total_len, = struct.unpack("!H", body[2:4])
        out.update(ip_src=str(ipaddress.IPv4Address(body[12:16])), ip_dst=str(ipaddress.IPv4Address(body[16:20])),
                   ip_proto=body[9], ttl=body[8])
        l4 = body[ihl:total_len]
        if body[9] == 17 and len(l4) >= 8:
            sport, dport, length = struct.unpack("!HHH", l4[0:6])
            out.update(sport=sport, dport=dport, payload=l4[8:length])
    return out
