#!/usr/bin/env python3
"""Fixtures/facts.py - decode the fixture captures and write the facts tests assert.

usage: python3 Fixtures/facts.py [PCAPDIR] > Fixtures/manifest.json
       python3 Fixtures/facts.py --stable DIR_A DIR_B   (compare two capture runs)

A tiny independent decoder (pcap, Ethernet, IPv4, UDP, BOOTP/DHCP, TFTP) in the standard
library only, so its output can be checked against tshark's (README.md shows how). Fields
that differ from run to run (timestamps, xid, secs, client TFTP ports) are left out of the
manifest; everything in it is expected to be identical on every run of capture.sh.
"""
import hashlib, json, os, struct, sys

HERE = os.path.dirname(os.path.abspath(__file__))

# What capture.sh ran for each capture (kept in step with capture.sh by hand).
CLIENTS = {
    "dhcp-ipxe-bios": dict(client="iPXE 1.0.0+git-20190125.36a4c85 (Debian ipxe-qemu, QEMU pxe/efi-virtio.rom), BIOS (SeaBIOS), QEMU 7.2 virtio-net-pci",
                           qemu_uuid="5ce1ab00-7700-4a11-9e00-000000000001",
                           exchanges="DHCP DORA; TFTP boot.ipxe (script), then the script's imgfetch of payload-3000.bin and payload-2048.bin"),
    "dhcp-ipxe-uefi": dict(client="iPXE 1.0.0+git-20190125.36a4c85 (QEMU efi-virtio.rom) under OVMF 2022.11 (Debian ovmf), QEMU 7.2 virtio-net-pci",
                           qemu_uuid="5ce1ab00-7700-4a11-9e00-000000000002",
                           exchanges="DHCP DORA; TFTP boot.ipxe, payload-3000.bin, payload-2048.bin"),
    "dhcp-ovmf-uefi": dict(client="EDK2 native PXE (OVMF 2022.11, Debian ovmf; VirtioNetDxe, no option ROM: romfile=), QEMU 7.2 virtio-net-pci",
                           qemu_uuid="5ce1ab00-7700-4a11-9e00-000000000003",
                           exchanges="DHCP DORA (REQUEST ~3.6 s after OFFER: EDK2 collects offers); TFTP size query (RRQ tsize=0 -> OACK -> client ERROR 8), then download of bootx64.efi without tsize"),
    "dhcp-ovmf-uefi-nouuid": dict(client="EDK2 native PXE as in dhcp-ovmf-uefi, but QEMU started without -uuid (no SMBIOS UUID)",
                                  qemu_uuid=None,
                                  exchanges="as dhcp-ovmf-uefi; option 97 is 0x00 + 16 zero bytes"),
    "dhcp-dhclient": dict(client="isc-dhcp-client 4.4.3-P1 (dhclient -d -cf Fixtures/lab/dhclient.conf)",
                          exchanges="DHCP DORA; RENEW at T1 = 4 s (unicast REQUEST, ciaddr set) + ACK; RELEASE (dhclient -r)"),
    "dhcp-udhcpc": dict(client="busybox 1.35.0 udhcpc (udhcpc -f -i br0 -t 5 -T 2)",
                        exchanges="DHCP DORA; renew on SIGUSR1 (unicast REQUEST) + ACK; RELEASE on SIGUSR2"),
    "tftp-hpa": dict(client="tftp-hpa 5.2 (tftp -m binary 10.77.0.1 -c get FILE), twice",
                     exchanges="two RRQs without options: payload-3000.bin (512-byte blocks), payload-2048.bin (ends with an empty DATA block)"),
    "tftp-hpa-notfound": dict(client="tftp-hpa 5.2 (tftp -v -m binary 10.77.0.1 -c get missing.bin)",
                              exchanges="RRQ of a missing file; server ERROR 1 (File not found); the client's stray ACK of block 1"),
    "tftp-atftp-blksize": dict(client="atftp 0.8.0 (--option 'blksize 1428' / 'blksize 1024', --option 'tsize 0')",
                               exchanges="RRQ payload-3000.bin blksize 1428 + tsize; RRQ payload-2048.bin blksize 1024 + tsize (ends with an empty DATA block)"),
    "tftp-atftp-windowsize": dict(client="atftp 0.8.0 (--option 'windowsize 8' --option 'tsize 0')",
                                  exchanges="RRQ payload-3000.bin with windowsize 8 + tsize; dnsmasq does not implement RFC 7440, so the OACK has tsize only and the transfer is lock-step"),
    "tftp-curl": dict(client="curl 7.88.1 (curl --tftp-blksize 1428 tftp://...; then plain curl tftp://...)",
                      exchanges="RRQ payload-3000.bin tsize+blksize 1428+timeout 6; RRQ payload-2048.bin tsize+blksize 512+timeout 6"),
    "tftp-busybox": dict(client="busybox 1.35.0 tftp (-g; then -b 1024 -g)",
                         exchanges="RRQ payload-3000.bin tsize only; RRQ payload-2048.bin blksize 1024 + tsize"),
}
SERVER = "dnsmasq 2.90 (Debian 12), Fixtures/dnsmasq/dnsmasq.conf, 10.77.0.1 on eth0 52:54:00:00:00:fe"

DHCP_TYPES = {1: "DISCOVER", 2: "OFFER", 3: "REQUEST", 4: "DECLINE", 5: "ACK", 6: "NAK", 7: "RELEASE", 8: "INFORM"}
TFTP_OPS = {1: "RRQ", 2: "WRQ", 3: "DATA", 4: "ACK", 5: "ERROR", 6: "OACK"}


def mac(b): return ":".join("%02x" % x for x in b)
def ip4(b): return ".".join(str(x) for x in b)


def read_pcap(path):
    data = open(path, "rb").read()
    magic = data[:4]
    if magic == b"\xd4\xc3\xb2\xa1": e = "<"
    elif magic == b"\xa1\xb2\xc3\xd4": e = ">"
    else: raise ValueError("%s: not a microsecond pcap file" % path)
    _, _, _, _, snaplen, linktype = struct.unpack(e + "HHiIII", data[4:24])
    off, frames = 24, []
    while off < len(data):
        _, _, incl, orig = struct.unpack(e + "IIII", data[off:off + 16]); off += 16
        if incl != orig: raise ValueError("%s: truncated frame (snaplen)" % path)
        frames.append(data[off:off + incl]); off += incl
    return linktype, snaplen, frames


def udp_of(frame):
    """Ethernet II / IPv4 / UDP -> (eth_src, eth_dst, ip_src, ip_dst, sport, dport, payload) or None."""
    if len(frame) < 14 or frame[12:14] != b"\x08\x00": return None
    ip = frame[14:]
    ihl = (ip[0] & 15) * 4
    if ip[0] >> 4 != 4 or ip[9] != 17: return None
    total = struct.unpack(">H", ip[2:4])[0]
    udp = ip[ihl:total]
    sport, dport, ulen = struct.unpack(">HHH", udp[:6])
    return mac(frame[6:12]), mac(frame[0:6]), ip4(ip[12:16]), ip4(ip[16:20]), sport, dport, udp[8:ulen]


def dhcp_options(b):
    """options after the magic cookie, in wire order: list of (code, bytes); pad/end skipped."""
    out, i = [], 0
    while i < len(b):
        code = b[i]
        if code == 0: i += 1; continue
        if code == 255: break
        n = b[i + 1]; out.append((code, b[i + 2:i + 2 + n])); i += 2 + n
    return out


# iPXE's option 175 (Etherboot encapsulated) sub-options, from iPXE's include/ipxe/dhcp.h and features.h
EB_NAMES = {176: "priority/no-pxedhcp", 177: "bus-id", 235: "version", 0x10: "PXE API extensions",
            0x11: "iSCSI", 0x12: "AoE", 0x13: "HTTP", 0x14: "HTTPS", 0x15: "TFTP", 0x16: "FTP", 0x17: "DNS",
            0x18: "bzImage", 0x19: "Multiboot", 0x1a: "SLAM", 0x1b: "SRP", 0x20: "NBI", 0x21: "PXE image",
            0x22: "ELF", 0x23: "COMBOOT", 0x24: "EFI", 0x25: "FCoE", 0x26: "VLAN", 0x27: "menu", 0x28: "SDI", 0x29: "NFS"}


def suboptions(b):
    out, i = [], 0
    while i + 1 < len(b):
        code, n = b[i], b[i + 1]
        if code in (0, 255): i += 1; continue
        out.append({"code": code, "name": EB_NAMES.get(code, "?"), "hex": b[i + 2:i + 2 + n].hex()}); i += 2 + n
    return out


def dhcp_msg(p):
    op, htype, hlen, hops, xid, secs, flags = struct.unpack(">BBBBIHH", p[:12])
    ciaddr, yiaddr, siaddr, giaddr = (ip4(p[12 + 4 * k:16 + 4 * k]) for k in range(4))
    assert p[236:240] == b"\x63\x82\x53\x63", "no DHCP magic cookie"
    opts = dhcp_options(p[240:])
    d = dict(op=op, htype=htype, hlen=hlen, hops=hops, flags=flags, broadcast_flag=bool(flags & 0x8000),
             ciaddr=ciaddr, yiaddr=yiaddr, siaddr=siaddr, giaddr=giaddr, chaddr=mac(p[28:28 + hlen]),
             sname=p[44:108].split(b"\0")[0].decode("latin-1"), file=p[108:236].split(b"\0")[0].decode("latin-1"),
             length=len(p), option_order=[c for c, _ in opts],
             options={str(c): v.hex() for c, v in opts})
    t = dict(opts).get(53)
    d["type"] = DHCP_TYPES.get(t[0], str(t[0])) if t else "BOOTP"
    return d, xid, secs


def client_facts(d):
    """Readable forms of the options a PXE client sends (from its first DISCOVER)."""
    o = {int(k): bytes.fromhex(v) for k, v in d["options"].items()}
    f = {"client_mac": d["chaddr"]}
    if 55 in o: f["opt55_parameter_request_list"] = list(o[55])
    if 57 in o: f["opt57_max_message_size"] = struct.unpack(">H", o[57])[0]
    if 60 in o: f["opt60_vendor_class"] = o[60].decode("latin-1")
    if 61 in o: f["opt61_client_id_hex"] = o[61].hex()
    if 93 in o: f["opt93_client_arch"] = [struct.unpack(">H", o[93][i:i + 2])[0] for i in range(0, len(o[93]), 2)]
    if 94 in o: f["opt94_client_ndi"] = ".".join(str(x) for x in o[94]); f["opt94_hex"] = o[94].hex()
    if 77 in o: f["opt77_user_class_hex"] = o[77].hex(); f["opt77_user_class_text"] = o[77].decode("latin-1")
    if 97 in o:
        u = o[97]; f["opt97_hex"] = u.hex(); f["opt97_len"] = len(u)
        if len(u) == 17 and u[0] == 0:
            g = u[1:]  # SMBIOS order: time_low, time_mid, time_hi little-endian on the wire
            s = g[3::-1] + g[5:3:-1] + g[7:5:-1] + g[8:]
            f["opt97_uuid"] = "%s-%s-%s-%s-%s" % (s[:4].hex(), s[4:6].hex(), s[6:8].hex(), s[8:10].hex(), s[10:].hex())
    if 175 in o: f["opt175_hex"] = o[175].hex(); f["opt175_suboptions"] = suboptions(o[175])
    if 12 in o: f["opt12_host_name"] = o[12].decode("latin-1")
    return f


def tftp_packet(p):
    op = struct.unpack(">H", p[:2])[0]
    name = TFTP_OPS.get(op, str(op))
    if op in (1, 2):
        parts = p[2:].split(b"\0")
        opts = [[parts[i].decode("latin-1"), parts[i + 1].decode("latin-1")] for i in range(2, len(parts) - 2, 2)]
        return dict(op=name, file=parts[0].decode("latin-1"), mode=parts[1].decode("latin-1"), options=opts)
    if op == 3: return dict(op=name, block=struct.unpack(">H", p[2:4])[0], data=p[4:])
    if op == 4: return dict(op=name, block=struct.unpack(">H", p[2:4])[0])
    if op == 5: return dict(op=name, code=struct.unpack(">H", p[2:4])[0], message=p[4:].split(b"\0")[0].decode("latin-1"))
    if op == 6:
        parts = p[2:].split(b"\0")
        return dict(op=name, options=[[parts[i].decode("latin-1"), parts[i + 1].decode("latin-1")] for i in range(0, len(parts) - 1, 2)])
    return dict(op=name)


def decode(path):
    linktype, snaplen, frames = read_pcap(path)
    dhcp, transfers, seq, other = [], [], [], 0
    by_client = {}  # (client ip, client port) -> transfer
    for fr in frames:
        u = udp_of(fr)
        if u is None: other += 1; continue
        esrc, edst, src, dst, sp, dp, pl = u
        if {sp, dp} & {67, 68}:
            d, xid, secs = dhcp_msg(pl)
            d.update(eth_src=esrc, eth_dst=edst, ip_src=src, ip_dst=dst, udp_src=sp, udp_dst=dp)
            dhcp.append(d); seq.append("DHCP " + d["type"]); continue
        t = tftp_packet(pl)
        if dp == 69:
            tr = dict(client_ip=src, server_ip=dst, client_mac=esrc, rrq=dict(file=t.get("file"), mode=t.get("mode"), options=t.get("options")),
                      events=[], blocks={}, retransmitted_data=0)
            transfers.append(tr); by_client[(src, sp)] = tr
        else:
            tr = by_client.get((src, sp)) or by_client.get((dst, dp))
            if tr is None: other += 1; continue
            from_server = (dst, dp) in by_client
            if t["op"] == "DATA":
                if t["block"] in tr["blocks"]: tr["retransmitted_data"] += 1
                tr["blocks"][t["block"]] = t["data"]
            ev = {"from": "server" if from_server else "client", "op": t["op"]}
            for k in ("block", "code", "message", "options"):
                if k in t: ev[k] = t[k]
            if t["op"] == "DATA": ev["len"] = len(t["data"])
            tr["events"].append(ev)
        seq.append("TFTP " + t["op"])
    out_tr = []
    for tr in transfers:
        blocks = tr.pop("blocks")
        data = b"".join(blocks[k] for k in sorted(blocks))
        oack = [e for e in tr["events"] if e["op"] == "OACK"]
        errs = [e for e in tr["events"] if e["op"] == "ERROR"]
        tr.update(oack_options=oack[0]["options"] if oack else None,
                  errors=[{"from": e["from"], "code": e["code"], "message": e["message"]} for e in errs],
                  data_blocks=len(blocks), block_sizes=[len(blocks[k]) for k in sorted(blocks)],
                  bytes=len(data), sha256=hashlib.sha256(data).hexdigest() if blocks else None,
                  complete=bool(blocks) and len(blocks[max(blocks)]) < int(dict(oack[0]["options"]).get("blksize", 512) if oack else 512))
        tr["sequence"] = ["%s %s%s" % (e["from"], e["op"], " %d" % e["block"] if "block" in e else "") for e in tr.pop("events")]
        out_tr.append(tr)
    return dict(linktype=linktype, snaplen=snaplen, frames=len(frames), non_dhcp_tftp_frames=other,
                sequence=seq, dhcp=dhcp, tftp=out_tr)


def facts(name, dec):
    f = dict(CLIENTS.get(name, {}))
    f["server"] = SERVER
    f["dhcp_sequence"] = [d["type"] for d in dec["dhcp"]]
    f["tftp_reads"] = [dict(file=t["rrq"]["file"], options=t["rrq"]["options"], oack=t["oack_options"],
                            data_blocks=t["data_blocks"], bytes=t["bytes"], errors=t["errors"]) for t in dec["tftp"]]
    disc = [d for d in dec["dhcp"] if d["type"] == "DISCOVER"]
    if disc: f["client_discover"] = client_facts(disc[0])
    acks = [d for d in dec["dhcp"] if d["type"] == "ACK"]
    if acks:
        o = acks[0]["options"]
        f["leased_address"] = acks[0]["yiaddr"]
        f["server_identifier"] = ip4(bytes.fromhex(o["54"])) if "54" in o else None
        f["lease_time"] = struct.unpack(">I", bytes.fromhex(o["51"]))[0] if "51" in o else None
        # dnsmasq sends the boot file as option 67 (with a trailing NUL) when the client
        # asks for 67, and leaves the BOOTP file field empty
        f["boot_file_field"] = acks[0]["file"]
        f["opt67_hex"] = o.get("67")
        f["boot_file"] = acks[0]["file"] or (bytes.fromhex(o["67"]).rstrip(b"\0").decode("latin-1") if "67" in o else None)
        f["next_server"] = acks[0]["siaddr"]
    return f


def build(pcapdir):
    m = {"format": 1,
         "about": "Facts about Fixtures/pcap/*.pcap, written by Fixtures/facts.py from the captures made by Fixtures/capture.sh. "
                  "Omitted as unstable: timestamps, DHCP xid and secs, client TFTP ports (and the server's TFTP source ports).",
         "boot_files": {}, "captures": {}}
    root = os.path.join(HERE, "tftproot")
    for fn in sorted(os.listdir(root)):
        b = open(os.path.join(root, fn), "rb").read()
        m["boot_files"][fn] = {"size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
    for fn in sorted(os.listdir(pcapdir)):
        if not fn.endswith(".pcap"): continue
        name = fn[:-5]; dec = decode(os.path.join(pcapdir, fn))
        m["captures"][fn] = dict(facts=facts(name, dec), **dec)
    return m


def stable_view(m):
    """what must not change between runs (the manifest is already stripped of xid/secs/ports)"""
    return json.dumps(m["captures"], indent=1, sort_keys=True).splitlines()


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "--stable":
        import difflib
        x, y = stable_view(build(a[1])), stable_view(build(a[2]))
        diff = list(difflib.unified_diff(x, y, a[1], a[2], lineterm=""))
        print("\n".join(diff) if diff else "identical facts: %s and %s" % (a[1], a[2]))
        sys.exit(1 if diff else 0)
    print(json.dumps(build(a[0] if a else os.path.join(HERE, "pcap")), indent=1))
