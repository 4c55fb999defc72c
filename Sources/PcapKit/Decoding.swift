// Frames to UDP datagrams: link layer → IPv4/IPv6 → UDP.
// Every length read from a frame is checked against the bytes present before use.

/// An 802.1Q (TPID 0x8100) or 802.1ad (0x88A8, or the older 0x9100) VLAN tag.
public struct VLANTag: Hashable, Sendable {
    public var tpid: UInt16
    /// Priority code point, 0...7.
    public var priority: UInt8
    public var dropEligible: Bool
    /// VLAN identifier, 0...4095.
    public var id: UInt16
    public init(tpid: UInt16 = 0x8100, priority: UInt8 = 0, dropEligible: Bool = false, id: UInt16) {
        self.tpid = tpid
        self.priority = priority & 7
        self.dropEligible = dropEligible
        self.id = id & 0x0FFF
    }
}

/// What the link layer said about a frame.
public struct LinkInfo: Hashable, Sendable {
    public var linkType: LinkType
    /// Ethernet source; for Linux cooked captures the link-layer source when it is a
    /// 6-byte address.
    public var sourceMAC: MACAddress?
    /// Ethernet destination (cooked captures do not record it).
    public var destinationMAC: MACAddress?
    /// VLAN tags, outermost first.
    public var vlanTags: [VLANTag]
    /// Linux cooked v2: the interface index the packet was seen on.
    public var interfaceIndex: UInt32?
    /// Linux cooked v1/v2 packet type: 0 to us, 1 broadcast, 2 multicast,
    /// 3 to another host, 4 sent by us.
    public var packetType: UInt16?

    public init(linkType: LinkType, sourceMAC: MACAddress? = nil, destinationMAC: MACAddress? = nil,
                vlanTags: [VLANTag] = [], interfaceIndex: UInt32? = nil, packetType: UInt16? = nil) {
        self.linkType = linkType
        self.sourceMAC = sourceMAC
        self.destinationMAC = destinationMAC
        self.vlanTags = vlanTags
        self.interfaceIndex = interfaceIndex
        self.packetType = packetType
    }
}

/// The UDP checksum as found in the frame. Captures taken on the sending host often
/// hold `invalid` checksums because the NIC fills them in later (offload), so the
/// decoder reports it and does not reject.
public enum UDPChecksumStatus: Hashable, Sendable {
    /// Zero: the sender did not compute one (allowed for IPv4 only).
    case absent
    case valid
    case invalid(found: UInt16, expected: UInt16)
}

/// A UDP datagram recovered from a capture.
public struct UDPDatagram: Hashable, Sendable {
    /// When the (last fragment of the) datagram was captured.
    public var timestamp: CaptureTimestamp
    public var source: UDPEndpoint
    public var destination: UDPEndpoint
    /// The UDP payload (UDP length - 8 bytes; link padding removed).
    public var payload: [UInt8]
    /// Link-layer details (of the first fragment when reassembled).
    public var link: LinkInfo
    /// IPv4 TTL or IPv6 hop limit.
    public var hopLimit: UInt8
    public var checksum: UDPChecksumStatus
    /// 1, or the number of IPv4 fragments it was reassembled from.
    public var fragmentCount: Int
    /// Index of the capture record that completed it, when it came from a capture.
    public var recordIndex: Int?

    public init(timestamp: CaptureTimestamp = .zero, source: UDPEndpoint, destination: UDPEndpoint,
                payload: [UInt8], link: LinkInfo = LinkInfo(linkType: .raw), hopLimit: UInt8 = 64,
                checksum: UDPChecksumStatus = .valid, fragmentCount: Int = 1, recordIndex: Int? = nil) {
        self.timestamp = timestamp
        self.source = source
        self.destination = destination
        self.payload = payload
        self.link = link
        self.hopLimit = hopLimit
        self.checksum = checksum
        self.fragmentCount = fragmentCount
        self.recordIndex = recordIndex
    }

    public var sourceMAC: MACAddress? { link.sourceMAC }
    public var destinationMAC: MACAddress? { link.destinationMAC }
    /// The innermost VLAN id, if the frame was tagged.
    public var vlan: UInt16? { link.vlanTags.last?.id }
}

/// One IPv4 fragment of a UDP datagram, for ``IPv4Reassembler``.
public struct IPv4Fragment: Hashable, Sendable {
    /// What identifies the datagram a fragment belongs to (RFC 791).
    public struct Key: Hashable, Sendable, CustomStringConvertible {
        public var source: IPAddress
        public var destination: IPAddress
        public var ipProtocol: UInt8
        public var identification: UInt16
        public init(source: IPAddress, destination: IPAddress, ipProtocol: UInt8, identification: UInt16) {
            self.source = source
            self.destination = destination
            self.ipProtocol = ipProtocol
            self.identification = identification
        }
        public var description: String {
            "\(source) > \(destination) proto \(ipProtocol) id \(identification)"
        }
    }
    public var key: Key
    public var timestamp: CaptureTimestamp
    /// Byte offset of `data` within the datagram's IP payload (fragment offset × 8).
    public var offset: Int
    /// The MF flag.
    public var moreFragments: Bool
    /// This fragment's share of the IP payload.
    public var data: [UInt8]
    public var link: LinkInfo
    public var hopLimit: UInt8
    public var recordIndex: Int?

    public init(key: Key, timestamp: CaptureTimestamp, offset: Int, moreFragments: Bool, data: [UInt8],
                link: LinkInfo, hopLimit: UInt8 = 64, recordIndex: Int? = nil) {
        self.key = key
        self.timestamp = timestamp
        self.offset = offset
        self.moreFragments = moreFragments
        self.data = data
        self.link = link
        self.hopLimit = hopLimit
        self.recordIndex = recordIndex
    }
}

/// Why a frame held no UDP datagram. Not an error: captures hold other traffic.
public enum SkipReason: Hashable, Sendable, CustomStringConvertible {
    case unsupportedLinkType(LinkType)
    /// The link layer carried something other than IPv4/IPv6 (ARP, LLDP, 802.3 LLC…).
    case notIP(etherType: UInt16)
    /// BSD loopback address family that is not IPv4/IPv6.
    case unknownAddressFamily(UInt32)
    /// IP carried another protocol (TCP 6, ICMP 1, ICMPv6 58…).
    case notUDP(ipProtocol: UInt8)
    /// IPv6 fragments are reported, not reassembled.
    case ipv6Fragment(identification: UInt32, offset: Int, moreFragments: Bool)
    /// IPv6 payload length 0 (jumbogram) is not supported.
    case ipv6Jumbogram

    public var description: String {
        switch self {
        case .unsupportedLinkType(let t): "unsupported link type \(t)"
        case .notIP(let e): "not IP (ethertype 0x\(String(e, radix: 16)))"
        case .unknownAddressFamily(let f): "loopback address family \(f) is not IP"
        case .notUDP(let p): "not UDP (IP protocol \(p))"
        case .ipv6Fragment(let id, let off, let mf): "IPv6 fragment id \(id) offset \(off)\(mf ? " MF" : "")"
        case .ipv6Jumbogram: "IPv6 jumbogram"
        }
    }
}

/// The header a decode error is about.
public enum FrameHeader: String, Hashable, Sendable {
    case ethernet, vlanTag, linuxCooked, linuxCooked2, loopback
    case ipv4, ipv4Payload, ipv6, ipv6Payload, ipv6ExtensionHeader, udp, udpPayload
}

/// A frame is malformed. `offset` is where in the frame the bad field or the missing
/// bytes start.
public struct FrameDecodeError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// `header` needs `needed` bytes from `offset`, only `available` are there.
        case truncated(FrameHeader, needed: Int, available: Int)
        /// IP version nibble not 4 (or 6 where IPv6 is expected).
        case badIPVersion(UInt8)
        /// IPv4 IHL below 5.
        case badIPv4HeaderLength(UInt8)
        /// IPv4 total length smaller than the header.
        case badIPv4TotalLength(UInt16)
        case badIPv4HeaderChecksum(found: UInt16, expected: UInt16)
        /// UDP length below 8, or above what the IP payload holds.
        case badUDPLength(UInt16, ipPayloadLength: Int)
        /// More than 16 IPv6 extension headers.
        case tooManyExtensionHeaders
    }
    public var reason: Reason
    public var offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        switch reason {
        case .truncated(let h, let needed, let available):
            "truncated \(h.rawValue) at offset \(offset): needs \(needed) bytes, \(available) present"
        case .badIPVersion(let v): "bad IP version \(v) at offset \(offset)"
        case .badIPv4HeaderLength(let ihl): "bad IPv4 header length \(ihl) at offset \(offset)"
        case .badIPv4TotalLength(let t): "bad IPv4 total length \(t) at offset \(offset)"
        case .badIPv4HeaderChecksum(let f, let e):
            "bad IPv4 header checksum 0x\(String(f, radix: 16)) (expected 0x\(String(e, radix: 16))) at offset \(offset)"
        case .badUDPLength(let l, let p): "bad UDP length \(l) (IP payload \(p)) at offset \(offset)"
        case .tooManyExtensionHeaders: "too many IPv6 extension headers at offset \(offset)"
        }
    }
}

/// What one frame held.
public enum DecodedFrame: Hashable, Sendable {
    case datagram(UDPDatagram)
    /// An IPv4 fragment of a UDP datagram: give it to an ``IPv4Reassembler``.
    case fragment(IPv4Fragment)
    case skipped(SkipReason)
}

/// Decodes captured frames into UDP datagrams. A pure value: no state between frames
/// (IPv4 reassembly is ``IPv4Reassembler``'s job).
public struct FrameDecoder: Sendable {
    /// Reject IPv4 headers whose checksum is wrong (default true: Linux computes
    /// IPv4 header checksums in software, so a bad one is a damaged frame).
    public var verifyIPv4HeaderChecksum: Bool

    public init(verifyIPv4HeaderChecksum: Bool = true) {
        self.verifyIPv4HeaderChecksum = verifyIPv4HeaderChecksum
    }

    /// Decodes one capture record.
    public func decode(_ record: CaptureRecord) throws(FrameDecodeError) -> DecodedFrame {
        var result = try decode(record.bytes, linkType: record.linkType, timestamp: record.timestamp)
        switch result {
        case .datagram(var d): d.recordIndex = record.index; result = .datagram(d)
        case .fragment(var f): f.recordIndex = record.index; result = .fragment(f)
        case .skipped: break
        }
        return result
    }

    /// Decodes one frame of the given link type.
    public func decode(_ frame: [UInt8], linkType: LinkType,
                       timestamp: CaptureTimestamp = .zero) throws(FrameDecodeError) -> DecodedFrame {
        var p = Parse(bytes: frame, end: frame.count)
        var link = LinkInfo(linkType: linkType)
        let network: Network
        switch linkType.rawValue {
        case 1:
            try p.need(.ethernet, 0, 14)
            link.destinationMAC = MACAddress(bytes: frame[0..<6])
            link.sourceMAC = MACAddress(bytes: frame[6..<12])
            guard let n = try etherPayload(&p, etherType: p.u16(12), at: 14, link: &link) else {
                return .skipped(.notIP(etherType: p.lastEtherType))
            }
            network = n
        case 113:
            // Linux cooked v1: packet type, ARPHRD, address length, 8 address bytes, protocol.
            try p.need(.linuxCooked, 0, 16)
            link.packetType = p.u16(0)
            let addrLen = Int(p.u16(4))
            if addrLen == 6 { link.sourceMAC = MACAddress(bytes: frame[6..<12]) }
            guard let n = try etherPayload(&p, etherType: p.u16(14), at: 16, link: &link) else {
                return .skipped(.notIP(etherType: p.lastEtherType))
            }
            network = n
        case 276:
            // Linux cooked v2: protocol, reserved, interface index, ARPHRD, packet type,
            // address length, 8 address bytes.
            try p.need(.linuxCooked2, 0, 20)
            link.interfaceIndex = UInt32(p.u16(4)) << 16 | UInt32(p.u16(6))
            link.packetType = UInt16(frame[10])
            if frame[11] == 6 { link.sourceMAC = MACAddress(bytes: frame[12..<18]) }
            guard let n = try etherPayload(&p, etherType: p.u16(0), at: 20, link: &link) else {
                return .skipped(.notIP(etherType: p.lastEtherType))
            }
            network = n
        case 12, 101:
            try p.need(.ipv4, 0, 1)
            switch frame[0] >> 4 {
            case 4: network = .v4(0)
            case 6: network = .v6(0)
            default: throw FrameDecodeError(.badIPVersion(frame[0] >> 4), at: 0)
            }
        case 228: network = .v4(0)
        case 229: network = .v6(0)
        case 0, 108:
            try p.need(.loopback, 0, 4)
            let be = UInt32(p.u16(0)) << 16 | UInt32(p.u16(2))
            // LOOP is network order; NULL is the capturing host's order, which we guess:
            // families are small, so a big-endian reading above 0xFFFF means little-endian.
            let family = linkType.rawValue == 108 || be <= 0xFFFF ? be : be.byteSwapped
            switch family {
            case 2: network = .v4(4)
            case 10, 24, 28, 30: network = .v6(4)
            default: return .skipped(.unknownAddressFamily(family))
            }
        default:
            return .skipped(.unsupportedLinkType(linkType))
        }
        switch network {
        case .v4(let at): return try decodeIPv4(&p, at: at, link: link, timestamp: timestamp)
        case .v6(let at): return try decodeIPv6(&p, at: at, link: link, timestamp: timestamp)
        }
    }

    private enum Network { case v4(Int), v6(Int) }

    /// Follows VLAN tags from an EtherType; nil when the payload is not IP.
    private func etherPayload(_ p: inout Parse, etherType: UInt16, at start: Int,
                              link: inout LinkInfo) throws(FrameDecodeError) -> Network? {
        var type = etherType, at = start
        while type == 0x8100 || type == 0x88A8 || type == 0x9100 {
            try p.need(.vlanTag, at, 4)
            let tci = p.u16(at)
            link.vlanTags.append(VLANTag(tpid: type, priority: UInt8(tci >> 13),
                                         dropEligible: tci & 0x1000 != 0, id: tci & 0x0FFF))
            type = p.u16(at + 2)
            at += 4
        }
        p.lastEtherType = type
        switch type {
        case 0x0800: return .v4(at)
        case 0x86DD: return .v6(at)
        default: return nil
        }
    }

    private func decodeIPv4(_ p: inout Parse, at ip: Int, link: LinkInfo,
                            timestamp: CaptureTimestamp) throws(FrameDecodeError) -> DecodedFrame {
        try p.need(.ipv4, ip, 20)
        let b = p.bytes
        let version = b[ip] >> 4, ihl = b[ip] & 0x0F
        guard version == 4 else { throw FrameDecodeError(.badIPVersion(version), at: ip) }
        guard ihl >= 5 else { throw FrameDecodeError(.badIPv4HeaderLength(ihl), at: ip) }
        let headerLength = Int(ihl) * 4
        try p.need(.ipv4, ip, headerLength)
        let total = p.u16(ip + 2)
        guard Int(total) >= headerLength else { throw FrameDecodeError(.badIPv4TotalLength(total), at: ip + 2) }
        try p.need(.ipv4Payload, ip, Int(total))
        if verifyIPv4HeaderChecksum {
            let sum = internetChecksum(b[ip..<(ip + headerLength)])
            if sum != 0 {
                let found = p.u16(ip + 10)
                var copy = Array(b[ip..<(ip + headerLength)])
                copy[10] = 0; copy[11] = 0
                throw FrameDecodeError(.badIPv4HeaderChecksum(found: found, expected: internetChecksum(copy[...])), at: ip + 10)
            }
        }
        let proto = b[ip + 9]
        let source = IPAddress(bytes: b[(ip + 12)..<(ip + 16)])!
        let destination = IPAddress(bytes: b[(ip + 16)..<(ip + 20)])!
        guard proto == 17 else { return .skipped(.notUDP(ipProtocol: proto)) }
        let flagsOffset = p.u16(ip + 6)
        let moreFragments = flagsOffset & 0x2000 != 0
        let fragmentOffset = Int(flagsOffset & 0x1FFF) * 8
        let payloadStart = ip + headerLength, payloadEnd = ip + Int(total)  // drops link padding
        if moreFragments || fragmentOffset != 0 {
            let key = IPv4Fragment.Key(source: source, destination: destination, ipProtocol: proto,
                                       identification: p.u16(ip + 4))
            return .fragment(IPv4Fragment(key: key, timestamp: timestamp, offset: fragmentOffset,
                                          moreFragments: moreFragments, data: Array(b[payloadStart..<payloadEnd]),
                                          link: link, hopLimit: b[ip + 8], recordIndex: nil))
        }
        return .datagram(try decodeUDP(b[payloadStart..<payloadEnd], base: payloadStart, source: source,
                                       destination: destination, link: link, hopLimit: b[ip + 8],
                                       timestamp: timestamp))
    }

    private func decodeIPv6(_ p: inout Parse, at ip: Int, link: LinkInfo,
                            timestamp: CaptureTimestamp) throws(FrameDecodeError) -> DecodedFrame {
        try p.need(.ipv6, ip, 40)
        let b = p.bytes
        let version = b[ip] >> 4
        guard version == 6 else { throw FrameDecodeError(.badIPVersion(version), at: ip) }
        let payloadLength = Int(p.u16(ip + 4))
        var next = b[ip + 6]
        if payloadLength == 0 && next == 0 { return .skipped(.ipv6Jumbogram) }
        try p.need(.ipv6Payload, ip, 40 + payloadLength)
        let source = IPAddress(bytes: b[(ip + 8)..<(ip + 24)])!
        let destination = IPAddress(bytes: b[(ip + 24)..<(ip + 40)])!
        let end = ip + 40 + payloadLength
        p.end = end  // extension headers may not run past the IPv6 payload
        var at = ip + 40, count = 0
        loop: while true {
            switch next {
            case 0, 43, 60, 135, 139, 140:  // hop-by-hop, routing, destination options, mobility, HIP, shim6
                try p.need(.ipv6ExtensionHeader, at, 8)
                let length = (Int(b[at + 1]) + 1) * 8
                try p.need(.ipv6ExtensionHeader, at, length)
                next = b[at]
                at += length
            case 51:  // AH: length in 4-byte units minus 2 (RFC 4302)
                try p.need(.ipv6ExtensionHeader, at, 8)
                let length = (Int(b[at + 1]) + 2) * 4
                try p.need(.ipv6ExtensionHeader, at, length)
                next = b[at]
                at += length
            case 44:  // fragment
                try p.need(.ipv6ExtensionHeader, at, 8)
                let off = p.u16(at + 2)
                let id = UInt32(p.u16(at + 4)) << 16 | UInt32(p.u16(at + 6))
                return .skipped(.ipv6Fragment(identification: id, offset: Int(off & 0xFFF8),
                                              moreFragments: off & 1 != 0))
            default:
                break loop
            }
            count += 1
            if count > 16 { throw FrameDecodeError(.tooManyExtensionHeaders, at: at) }
        }
        guard next == 17 else { return .skipped(.notUDP(ipProtocol: next)) }
        return .datagram(try decodeUDP(b[at..<end], base: at, source: source, destination: destination,
                                       link: link, hopLimit: b[ip + 7], timestamp: timestamp))
    }
}

/// Decodes a UDP header and payload held in `segment` (whose first byte is at frame
/// offset `base`, for error offsets).
func decodeUDP(_ segment: ArraySlice<UInt8>, base: Int, source: IPAddress, destination: IPAddress,
               link: LinkInfo, hopLimit: UInt8, timestamp: CaptureTimestamp,
               fragmentCount: Int = 1) throws(FrameDecodeError) -> UDPDatagram {
    let s = segment.startIndex
    guard segment.count >= 8 else {
        throw FrameDecodeError(.truncated(.udp, needed: 8, available: segment.count), at: base)
    }
    let length = UInt16(segment[s + 4]) << 8 | UInt16(segment[s + 5])
    guard length >= 8, Int(length) <= segment.count else {
        throw FrameDecodeError(.badUDPLength(length, ipPayloadLength: segment.count), at: base + 4)
    }
    let udp = segment[s..<(s + Int(length))]
    let found = UInt16(segment[s + 6]) << 8 | UInt16(segment[s + 7])
    let status: UDPChecksumStatus
    if found == 0 {
        status = .absent
    } else {
        var copy = Array(udp)
        copy[6] = 0; copy[7] = 0
        var expected = udpChecksum(source: source, destination: destination, udp: copy)
        if expected == 0 { expected = 0xFFFF }
        status = expected == found ? .valid : .invalid(found: found, expected: expected)
    }
    return UDPDatagram(timestamp: timestamp,
                       source: UDPEndpoint(source, UInt16(segment[s]) << 8 | UInt16(segment[s + 1])),
                       destination: UDPEndpoint(destination, UInt16(segment[s + 2]) << 8 | UInt16(segment[s + 3])),
                       payload: Array(udp.dropFirst(8)), link: link, hopLimit: hopLimit,
                       checksum: status, fragmentCount: fragmentCount)
}

/// A bounds-checked view of a frame.
struct Parse {
    let bytes: [UInt8]
    /// Bytes at or past `end` are not part of what is being decoded.
    var end: Int
    var lastEtherType: UInt16 = 0

    /// Throws unless `count` bytes from `offset` are present.
    func need(_ header: FrameHeader, _ offset: Int, _ count: Int) throws(FrameDecodeError) {
        guard offset >= 0, count >= 0, offset <= end, count <= end - offset else {
            throw FrameDecodeError(.truncated(header, needed: count, available: Swift.max(0, end - offset)), at: offset)
        }
    }

    /// Big-endian 16 bits at a checked offset.
    func u16(_ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
}

/// The Internet checksum (RFC 1071) of `bytes`: the one's complement of the one's
/// complement sum of 16-bit words. Zero over a header that holds a correct checksum.
func internetChecksum<C: Collection>(_ bytes: C, initial: UInt32 = 0) -> UInt16 where C.Element == UInt8 {
    var sum = initial
    var iterator = bytes.makeIterator()
    while let high = iterator.next() {
        let low = iterator.next() ?? 0
        sum &+= UInt32(high) << 8 | UInt32(low)
        if sum > 0xFFFF_0000 { sum = (sum & 0xFFFF) + (sum >> 16) }
    }
    while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
    return ~UInt16(sum)
}

/// UDP checksum over the pseudo-header (RFC 768 / RFC 8200 8.1) and `udp` (header
/// with a zero checksum field, and payload). Returns the raw value (0 is not mapped).
func udpChecksum(source: IPAddress, destination: IPAddress, udp: [UInt8]) -> UInt16 {
    var pseudo = source.bytes + destination.bytes
    if source.isIPv4 {
        pseudo += [0, 17, UInt8(udp.count >> 8 & 0xFF), UInt8(udp.count & 0xFF)]
    } else {
        let n = UInt32(udp.count)
        pseudo += [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF), 0, 0, 0, 17]
    }
    var sum: UInt32 = 0
    for i in stride(from: 0, to: pseudo.count, by: 2) { sum += UInt32(pseudo[i]) << 8 | UInt32(pseudo[i + 1]) }
    return internetChecksum(udp, initial: sum)
}
