#!/usr/bin/env python3
"""busybox-storm.py PCAP SERVER-IP CLIENT-IP: what happened to each TFTP client in a capture.

Reads a pcap of UDP headers (and the first TFTP bytes) taken on the server side, and
prints: how many client ports sent an RRQ, transfers (client port, server port) by their
DATA and ACK counts, transfers that ended short of the longest one, client ports that more
than one transfer used (a new client on a port a finished one had), and RRQ retransmissions.
"""
import collections
import struct
import sys

path, server, client = sys.argv[1], sys.argv[2], sys.argv[3]
srv_last, cli_last = int(server.split(".")[3]), int(client.split(".")[3])

f = open(path, "rb")
header = f.read(24)
nano = struct.unpack("<I", header[:4])[0] == 0xA1B23C4D
linktype = struct.unpack("<I", header[20:24])[0]
link_len = 14 if linktype == 1 else 16   # Ethernet, or Linux cooked capture
packets = []
while True:
    h = f.read(16)
    if len(h) < 16:
        break
    sec, frac, incl, _ = struct.unpack("<IIII", h)
    data = f.read(incl)
    ip = data[link_len:]
    if len(ip) < 28 or ip[9] != 17:
        continue
    ihl = (ip[0] & 15) * 4
    sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
    payload = ip[ihl + 8:]
    op = struct.unpack(">H", payload[:2])[0] if len(payload) >= 2 else -1
    block = struct.unpack(">H", payload[2:4])[0] if len(payload) >= 4 else -1
    packets.append((sec + frac / (1e9 if nano else 1e6), ip[15], sport, ip[19], dport, op, block))
if not packets:
    sys.exit("no UDP datagram in the capture")
t0 = packets[0][0]

rrqs = collections.defaultdict(list)   # client port -> RRQ times
flows = collections.defaultdict(lambda: {"first": None, "last": None, "data": 0, "acks": 0, "oack": 0, "errors": 0})
for t, src, sport, dst, dport, op, block in packets:
    if src == cli_last and dport == 69 and op == 1:
        rrqs[sport].append(t - t0)
    elif src == srv_last and dst == cli_last and sport != 69:
        fl = flows[(dport, sport)]
        fl["first"] = fl["first"] if fl["first"] is not None else t - t0
        fl["last"] = t - t0
        if op == 3:
            fl["data"] += 1
        elif op == 6:
            fl["oack"] += 1
        elif op == 5:
            fl["errors"] += 1
    elif src == cli_last and dst == srv_last and dport != 69:
        fl = flows[(sport, dport)]
        if op == 4:
            fl["acks"] += 1

by_client = collections.defaultdict(list)
for (cport, sport), fl in flows.items():
    by_client[cport].append((sport, fl))
full = max((fl["data"] for fl in flows.values()), default=0)
print(f"{len(packets)} datagrams; {len(rrqs)} client ports sent an RRQ; {len(flows)} transfers; "
      f"the longest sent {full} DATA")
no_reply = [p for p in rrqs if p not in by_client]
print(f"client ports whose RRQ got no answer from any port: {len(no_reply)} {no_reply[:10]}")
short = sorted(((fl["first"], c, s, fl) for (c, s), fl in flows.items() if fl["data"] < full))
print(f"transfers that sent fewer DATA than the longest: {len(short)}")
for first, c, s, fl in short[:20]:
    print(f"  client port {c} <- server port {s}: {fl['data']} DATA, {fl['acks']} ACKs, {fl['oack']} OACKs, "
          f"{fl['errors']} ERRORs, from {first:.2f} s to {fl['last']:.2f} s")
reused = {c: l for c, l in by_client.items() if len(l) > 1}
print(f"client ports used by more than one transfer: {len(reused)}")
for c, l in list(reused.items())[:20]:
    print(f"  {c}: RRQs at {[round(x, 2) for x in rrqs[c]][:16]}; transfers "
          + ", ".join(f"server port {s} {fl['data']} DATA from {fl['first']:.2f} s" for s, fl in sorted(l, key=lambda x: x[1]['first'])))
retries = collections.Counter(len(v) for v in rrqs.values())
print("RRQs per client port:", dict(sorted(retries.items())))
