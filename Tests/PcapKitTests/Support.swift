import Foundation
import PcapKit


/// A fresh path in a per-test temporary directory; removed by `cleanup`.
struct TempDir {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("pcapkit-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    func cleanup() { try? FileManager.default.removeItem(at: url) }
}

// MARK: independent checksums (written separately from PcapKit's)

/// RFC 1071 by the book: sum 16-bit big-endian words in 64 bits, fold, complement.
func referenceChecksum(_ data: [UInt8]) -> UInt16 {
    var words = data
    if words.count % 2 == 1 { words.append(0) }
    var total: UInt64 = 0
    var i = 0
    while i < words.count {
        total += UInt64(words[i]) * 256 + UInt64(words[i + 1])
        i += 2
    }
    while total >> 16 != 0 { total = (total & 0xFFFF) + (total >> 16) }
    return UInt16(0xFFFF - total)
}

/// Verifies an IPv4 UDP packet's checksums independently: header sums to zero and
/// the UDP sum over pseudo-header + segment is zero.
func verifyIPv4UDPChecksums(_ packet: [UInt8]) -> (header: Bool, udp: Bool) {
    let ihl = Int(packet[0] & 0x0F) * 4
    let header = referenceChecksum(Array(packet[0..<ihl])) == 0
    let segment = Array(packet[ihl...])
    let pseudo = Array(packet[12..<20]) + [0, 17, UInt8(segment.count >> 8), UInt8(segment.count & 0xFF)]
    return (header, referenceChecksum(pseudo + segment) == 0)
}

func verifyIPv6UDPChecksum(_ packet: [UInt8]) -> Bool {
    let segment = Array(packet[40...])
    let n = segment.count
    let pseudo = Array(packet[8..<40]) + [0, 0, UInt8(n >> 8), UInt8(n & 0xFF), 0, 0, 0, 17]
    return referenceChecksum(pseudo + segment) == 0
}

/// Recomputes an IPv4 header checksum in place (header at `at`).
func fixIPv4HeaderChecksum(_ frame: inout [UInt8], at: Int = 0) {
    let ihl = Int(frame[at] & 0x0F) * 4
    frame[at + 10] = 0; frame[at + 11] = 0
    let c = referenceChecksum(Array(frame[at..<(at + ihl)]))
    frame[at + 10] = UInt8(c >> 8); frame[at + 11] = UInt8(c & 0xFF)
}

// MARK: builders

let hostA = IPAddress("192.0.2.10")!
let hostB = IPAddress("198.51.100.1")!
let macA = MACAddress("02:00:00:00:00:0a")!
let macB = MACAddress("02:00:00:00:00:0b")!

/// A raw IPv4 UDP packet from hostA:68 to hostB:67.
func sampleIPv4Packet(payload: [UInt8] = Array("hello, bootd".utf8), identification: UInt16 = 7) -> [UInt8] {
    try! FrameBuilder.ipPacket(from: UDPEndpoint(hostA, 68), to: UDPEndpoint(hostB, 67),
                               payload: payload, identification: identification)
}

/// Splits an unfragmented IPv4 packet into fragments of `chunk` payload bytes
/// (a multiple of 8), each a raw IPv4 packet with a correct header checksum.
func fragmentIPv4(_ packet: [UInt8], chunk: Int) -> [[UInt8]] {
    let ihl = Int(packet[0] & 0x0F) * 4
    let body = Array(packet[ihl...])
    var fragments: [[UInt8]] = []
    var offset = 0
    while offset < body.count {
        let end = min(offset + chunk, body.count)
        fragments.append(ipv4Fragment(header: Array(packet[0..<ihl]), data: Array(body[offset..<end]),
                                      offset: offset, more: end < body.count))
        offset = end
    }
    return fragments
}

/// One raw IPv4 fragment with the given header template, data, byte offset and MF.
func ipv4Fragment(header: [UInt8], data: [UInt8], offset: Int, more: Bool) -> [UInt8] {
    var h = header
    let total = h.count + data.count
    h[2] = UInt8(total >> 8); h[3] = UInt8(total & 0xFF)
    let field = UInt16(offset / 8) | (more ? 0x2000 : 0)
    h[6] = UInt8(field >> 8); h[7] = UInt8(field & 0xFF)
    var frame = h + data
    fixIPv4HeaderChecksum(&frame)
    return frame
}

func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xFF) } }
func be16t(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
func be32t(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (24 - 8 * $0) & 0xFF) } }

/// pcapng assembled by hand (little-endian), per draft-ietf-opsawg-pcapng: one SHB,
/// one IDB (with if_tsresol when given), one EPB per packet.
func handMadePcapng(linkType: UInt16, tsresol: UInt8?, packets: [(ts: UInt64, data: [UInt8], originalLength: Int)]) -> [UInt8] {
    func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
        let total = UInt32(12 + body.count)
        return le32(type) + le32(total) + body + le32(total)
    }
    func pad(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: (4 - b.count % 4) % 4) }
    var out = block(0x0A0D_0D0A, le32(0x1A2B_3C4D) + le16(1) + le16(0) + [UInt8](repeating: 0xFF, count: 8))
    var idb = le16(linkType) + le16(0) + le32(0)
    if let tsresol {
        idb += le16(9) + le16(1) + pad([tsresol]) + le16(0) + le16(0)  // if_tsresol, opt_endofopt
    }
    out += block(1, idb)
    for p in packets {
        out += block(6, le32(0) + le32(UInt32(p.ts >> 32)) + le32(UInt32(p.ts & 0xFFFF_FFFF))
                        + le32(UInt32(p.data.count)) + le32(UInt32(p.originalLength)) + pad(p.data))
    }
    return out
}

extension DecodedFrame {
    var datagram: UDPDatagram? { if case .datagram(let d) = self { d } else { nil } }
    var fragment: IPv4Fragment? { if case .fragment(let f) = self { f } else { nil } }
    var skipReason: SkipReason? { if case .skipped(let r) = self { r } else { nil } }
}
