// Addresses and small value types shared by the reader, decoder and frame builder.
// PcapKit deliberately does not depend on BootWire: these are its own.

/// An IPv4 or IPv6 address.
///
/// `description` is the dotted quad for IPv4 and the RFC 5952 canonical text
/// (lower case, longest run of two or more zero groups compressed) for IPv6.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    /// IPv4, as the 32-bit value in host order (`0xC0A80001` is 192.168.0.1).
    case v4(UInt32)
    /// IPv6, as two 64-bit halves in host order (`high` holds the first 8 bytes).
    case v6(high: UInt64, low: UInt64)

    /// IPv4 0.0.0.0.
    public static let v4Any = IPAddress.v4(0)
    /// IPv4 255.255.255.255.
    public static let v4Broadcast = IPAddress.v4(0xFFFF_FFFF)

    /// Builds an address from 4 (IPv4) or 16 (IPv6) network-order bytes; nil otherwise.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        switch bytes.count {
        case 4:
            self = .v4(bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            var high: UInt64 = 0, low: UInt64 = 0
            for (i, b) in bytes.enumerated() {
                if i < 8 { high = high << 8 | UInt64(b) } else { low = low << 8 | UInt64(b) }
            }
            self = .v6(high: high, low: low)
        default:
            return nil
        }
    }

    /// Parses dotted-quad IPv4 or textual IPv6 (with `::` and an optional trailing
    /// dotted quad); nil when the text is not an address.
    public init?(_ text: String) {
        if !text.contains(":") {
            guard let v = IPAddress.parseV4(Substring(text)) else { return nil }
            self = .v4(v)
            return
        }
        guard let bytes = IPAddress.parseV6(text) else { return nil }
        self.init(bytes: bytes)
    }

    /// The address in network byte order: 4 or 16 bytes.
    public var bytes: [UInt8] {
        switch self {
        case .v4(let v):
            return [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)]
        case .v6(let high, let low):
            return (0..<8).map { UInt8(high >> (56 - 8 * $0) & 0xFF) }
                + (0..<8).map { UInt8(low >> (56 - 8 * $0) & 0xFF) }
        }
    }

    public var isIPv4: Bool { if case .v4 = self { true } else { false } }

    public var description: String {
        switch self {
        case .v4(let v):
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)"
        case .v6:
            let b = bytes
            let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
            // Longest run (first if tied) of at least two zero groups (RFC 5952 4.2).
            var bestStart = -1, bestLength = 0, i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > bestLength { bestStart = i; bestLength = j - i }
                    i = j
                } else {
                    i += 1
                }
            }
            func hex(_ range: Range<Int>) -> String {
                range.map { String(groups[$0], radix: 16) }.joined(separator: ":")
            }
            if bestLength < 2 { return hex(0..<8) }
            return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
        }
    }

    private static func parseV4(_ text: Substring) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ $0 >= "0" && $0 <= "9" }),
                  let n = UInt8(part) else { return nil }
            value = value << 8 | UInt32(n)
        }
        return value
    }

    private static func parseV6(_ text: String) -> [UInt8]? {
        func groups(_ s: Substring, allowV4Tail: Bool) -> [UInt8]? {
            if s.isEmpty { return [] }
            var out: [UInt8] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, part) in parts.enumerated() {
                if allowV4Tail && i == parts.count - 1 && part.contains(".") {
                    guard let v = parseV4(part) else { return nil }
                    out += IPAddress.v4(v).bytes
                } else {
                    guard (1...4).contains(part.count), part.allSatisfy(\.isHexDigit),
                          let g = UInt16(part, radix: 16) else { return nil }
                    out += [UInt8(g >> 8), UInt8(g & 0xFF)]
                }
            }
            return out
        }
        let halves = text.components(separatedBy: "::")
        switch halves.count {
        case 1:
            guard let all = groups(Substring(text), allowV4Tail: true), all.count == 16 else { return nil }
            return all
        case 2:
            guard let head = groups(Substring(halves[0]), allowV4Tail: false),
                  let tail = groups(Substring(halves[1]), allowV4Tail: true),
                  head.count + tail.count <= 14 else { return nil }
            return head + [UInt8](repeating: 0, count: 16 - head.count - tail.count) + tail
        default:
            return nil
        }
    }
}

/// An address and UDP port.
public struct UDPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public init(_ address: IPAddress, _ port: UInt16) {
        self.address = address
        self.port = port
    }
    /// `192.0.2.1:67` or `[2001:db8::1]:547`.
    public var description: String {
        address.isIPv4 ? "\(address):\(port)" : "[\(address)]:\(port)"
    }
}

/// A 48-bit IEEE MAC address; `description` is `aa:bb:cc:dd:ee:ff`.
public struct MACAddress: Hashable, Sendable, CustomStringConvertible {
    /// The address in the low 48 bits, first byte most significant.
    public let rawValue: UInt64

    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    public static let zero = MACAddress(rawValue: 0)

    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    /// From exactly 6 bytes; nil otherwise.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 6 else { return nil }
        self.init(rawValue: bytes.reduce(0) { $0 << 8 | UInt64($1) })
    }

    /// From `aa:bb:cc:dd:ee:ff` (or `-` separated); nil otherwise.
    public init?(_ text: String) {
        let parts = text.split(whereSeparator: { $0 == ":" || $0 == "-" })
        guard parts.count == 6 else { return nil }
        var bytes: [UInt8] = []
        for p in parts {
            guard p.count == 2, p.allSatisfy(\.isHexDigit), let b = UInt8(p, radix: 16) else { return nil }
            bytes.append(b)
        }
        self.init(bytes: bytes)
    }

    public var bytes: [UInt8] { (0..<6).map { UInt8(rawValue >> (40 - 8 * $0) & 0xFF) } }

    public var description: String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined(separator: ":")
    }
}

/// The link-layer header type of a capture: the LINKTYPE_/DLT_ value libpcap reports.
///
/// libpcap reports a file's LINKTYPE_RAW (101) as DLT_RAW (12 on Linux); both are
/// accepted by ``FrameDecoder``.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    public static let null = LinkType(rawValue: 0)
    /// Ethernet II (DLT_EN10MB), with optional 802.1Q/802.1ad tags.
    public static let ethernet = LinkType(rawValue: 1)
    /// DLT_RAW as libpcap names it on most platforms: raw IPv4 or IPv6.
    public static let dltRaw = LinkType(rawValue: 12)
    /// LINKTYPE_RAW as stored in files: raw IPv4 or IPv6.
    public static let raw = LinkType(rawValue: 101)
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    public static let loop = LinkType(rawValue: 108)
    /// Linux cooked capture v1 (16-byte header).
    public static let linuxSLL = LinkType(rawValue: 113)
    /// Raw IPv4 only.
    public static let ipv4 = LinkType(rawValue: 228)
    /// Raw IPv6 only.
    public static let ipv6 = LinkType(rawValue: 229)
    /// Linux cooked capture v2 (20-byte header, with interface index).
    public static let linuxSLL2 = LinkType(rawValue: 276)

    public var description: String {
        switch rawValue {
        case 0: "NULL"
        case 1: "EN10MB"
        case 12, 101: "RAW"
        case 108: "LOOP"
        case 113: "LINUX_SLL"
        case 228: "IPV4"
        case 229: "IPV6"
        case 276: "LINUX_SLL2"
        default: "linktype \(rawValue)"
        }
    }
}

/// A capture timestamp: seconds since the Unix epoch and nanoseconds within the second.
public struct CaptureTimestamp: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var seconds: Int64
    /// 0 ..< 1_000_000_000.
    public var nanoseconds: UInt32

    public static let zero = CaptureTimestamp(seconds: 0, nanoseconds: 0)

    public init(seconds: Int64, nanoseconds: UInt32) {
        self.seconds = seconds + Int64(nanoseconds / 1_000_000_000)
        self.nanoseconds = nanoseconds % 1_000_000_000
    }

    public init(seconds: Int64, microseconds: UInt32) {
        self.init(seconds: seconds, nanoseconds: microseconds % 1_000_000 * 1000)
        self.seconds += Int64(microseconds / 1_000_000)
    }

    /// Microseconds within the second (truncated).
    public var microseconds: UInt32 { nanoseconds / 1000 }

    /// `self - earlier`; negative when `earlier` is later.
    public func duration(since earlier: CaptureTimestamp) -> Duration {
        .seconds(seconds - earlier.seconds) + .nanoseconds(Int64(nanoseconds) - Int64(earlier.nanoseconds))
    }

    public static func < (a: CaptureTimestamp, b: CaptureTimestamp) -> Bool {
        (a.seconds, a.nanoseconds) < (b.seconds, b.nanoseconds)
    }

    /// `1700000000.123456789`.
    public var description: String {
        let frac = String(nanoseconds)
        return "\(seconds).\(String(repeating: "0", count: 9 - frac.count))\(frac)"
    }
}
