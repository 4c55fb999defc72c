/// One DHCP option: its code and its (possibly concatenated, RFC 3396) data.
///
/// `offset` is where the option's first instance began in the parsed packet (-1 when built
/// in memory); it is used in error messages and is not part of the value's identity.
public struct DHCPOption: Hashable, Sendable {
    public var code: UInt8
    public var data: [UInt8]
    public var offset: Int

    public init(code: UInt8, data: [UInt8], offset: Int = -1) {
        self.code = code; self.data = data; self.offset = offset
    }
    public static func == (l: DHCPOption, r: DHCPOption) -> Bool { l.code == r.code && l.data == r.data }
    public func hash(into h: inout Hasher) { h.combine(code); h.combine(data) }
}

/// The options of a message, in wire order, one entry per code (RFC 3396 concatenation).
public struct DHCPOptions: Hashable, Sendable, RandomAccessCollection {
    private var storage: [DHCPOption] = []

    public init() {}
    /// Room for `n` options without growing (a parsed request or a reply has about a dozen).
    public init(reservingCapacity n: Int) { storage.reserveCapacity(n) }
    public init(_ options: [DHCPOption]) {
        for o in options { appendConcatenating(o) }
    }

    public var startIndex: Int { storage.startIndex }
    public var endIndex: Int { storage.endIndex }
    public subscript(position: Int) -> DHCPOption { storage[position] }

    public var codes: [UInt8] { storage.map(\.code) }

    public func first(code: UInt8) -> DHCPOption? { storage.first { $0.code == code } }

    /// Raw data of an option, or nil. Setting replaces the data in place (or appends);
    /// setting nil removes it.
    public subscript(code code: UInt8) -> [UInt8]? {
        get { first(code: code)?.data }
        set {
            if let i = storage.firstIndex(where: { $0.code == code }) {
                if let newValue { storage[i].data = newValue } else { storage.remove(at: i) }
            } else if let newValue {
                storage.append(DHCPOption(code: code, data: newValue))
            }
        }
    }

    /// RFC 3396 section 5: a later instance of a code already present is appended to it.
    mutating func appendConcatenating(_ option: DHCPOption) {
        if let i = storage.firstIndex(where: { $0.code == option.code }) {
            storage[i].data += option.data
        } else {
            storage.append(option)
        }
    }

    public func value<V>(_ key: DHCPOptionKey<V>) throws(WireError) -> V? {
        guard let o = first(code: key.code) else { return nil }
        return try key.decode(o.data, OptionContext(code: key.code, offset: o.offset))
    }

    public mutating func setValue<V>(_ value: V?, for key: DHCPOptionKey<V>) throws(WireError) {
        guard let value else { self[code: key.code] = nil; return }
        self[code: key.code] = try key.encode(value, OptionContext(code: key.code, offset: -1))
    }

    /// Wire form of every option, each split into instances of at most 255 bytes.
    /// The options' encoded size when none needs splitting (each at most 255 bytes), after
    /// the same checks as `encodedInstances` on every option; nil when one must be split.
    func encodedDirectly() throws(WireError) -> DirectOptions? {
        var size = 0
        var needsSplit = false
        for o in storage {
            guard o.code != 0, o.code != 255, o.code != 52 else {
                throw WireError(field: "option \(o.code)", offset: o.offset,
                                reason: .invalid("PAD, END and overload are written by the serialiser"))
            }
            if o.code == 53 && o.data.count != 1 {
                throw WireError(field: "option 53", offset: o.offset, reason: .invalid("length \(o.data.count), must be 1"))
            }
            if o.data.count > 255 { needsSplit = true }
            size += 2 + o.data.count
        }
        return needsSplit ? nil : DirectOptions(options: self, size: size)
    }

    struct DirectOptions {
        let options: DHCPOptions
        let size: Int
        func write(_ out: inout [UInt8]) {
            for o in options.storage {
                out.append(o.code); out.append(UInt8(o.data.count))
                out.append(contentsOf: o.data)
            }
        }
    }

    func encodedInstances() throws(WireError) -> [[UInt8]] {
        var out: [[UInt8]] = []
        for o in storage {
            guard o.code != 0, o.code != 255, o.code != 52 else {
                throw WireError(field: "option \(o.code)", offset: o.offset,
                                reason: .invalid("PAD, END and overload are written by the serialiser"))
            }
            if o.code == 53 && o.data.count != 1 {
                throw WireError(field: "option 53", offset: o.offset, reason: .invalid("length \(o.data.count), must be 1"))
            }
            if o.data.isEmpty { out.append([o.code, 0]); continue }
            var i = 0
            while i < o.data.count {
                let n = Swift.min(255, o.data.count - i)
                out.append([o.code, UInt8(n)] + o.data[i..<i + n])
                i += n
            }
        }
        return out
    }
}

/// Where an option came from, for error messages.
public struct OptionContext: Sendable {
    public let code: UInt8
    public let offset: Int
    var field: String { "option \(code)" }

    func error(_ reason: WireError.Reason, at extra: Int = 0) -> WireError {
        WireError(field: field, offset: offset < 0 ? offset : offset + 2 + extra, reason: reason)
    }
    func requireLength(_ data: [UInt8], _ allowed: ClosedRange<Int>) throws(WireError) {
        if !allowed.contains(data.count) {
            throw WireError(field: field, offset: offset < 0 ? offset : offset + 1,
                            reason: .outOfRange(value: data.count, allowed: allowed))
        }
    }
    func requireMultiple(_ data: [UInt8], of n: Int, minimum: Int) throws(WireError) {
        if data.count < minimum || data.count % n != 0 {
            throw WireError(field: field, offset: offset < 0 ? offset : offset + 1,
                            reason: .invalid("length \(data.count), must be a multiple of \(n), at least \(minimum)"))
        }
    }
}

/// A typed view of one option code: how to read and write its value.
public struct DHCPOptionKey<Value>: Sendable {
    public let code: UInt8
    let decode: @Sendable ([UInt8], OptionContext) throws(WireError) -> Value
    let encode: @Sendable (Value, OptionContext) throws(WireError) -> [UInt8]

    public init(
        code: UInt8,
        decode: @escaping @Sendable ([UInt8], OptionContext) throws(WireError) -> Value,
        encode: @escaping @Sendable (Value, OptionContext) throws(WireError) -> [UInt8]
    ) {
        self.code = code; self.decode = decode; self.encode = encode
    }
}

// MARK: - Value shapes shared by several options

extension DHCPOptionKey where Value == IPv4Address {
    static func address(_ code: UInt8) -> Self {
        Self(code: code, decode: { d, c throws(WireError) in
            try c.requireLength(d, 4...4)
            return IPv4Address(bytes: d)!
        }, encode: { v, _ in v.bytes })
    }
    /// 1: subnet mask (RFC 2132 section 3.3).
    public static var subnetMask: Self { address(1) }
    /// 28: broadcast address (RFC 2132 section 5.3).
    public static var broadcastAddress: Self { address(28) }
    /// 50: requested IP address (RFC 2132 section 9.1).
    public static var requestedIPAddress: Self { address(50) }
    /// 54: server identifier (RFC 2132 section 9.7).
    public static var serverIdentifier: Self { address(54) }
}

extension DHCPOptionKey where Value == [IPv4Address] {
    static func addresses(_ code: UInt8) -> Self {
        Self(code: code, decode: { d, c throws(WireError) in
            try c.requireMultiple(d, of: 4, minimum: 4)
            return stride(from: 0, to: d.count, by: 4).map { IPv4Address(bytes: d[$0..<$0 + 4])! }
        }, encode: { v, c throws(WireError) in
            if v.isEmpty { throw c.error(.invalid("at least one address is required")) }
            return v.flatMap(\.bytes)
        })
    }
    /// 3: routers (RFC 2132 section 3.5).
    public static var routers: Self { addresses(3) }
    /// 6: domain name servers (RFC 2132 section 3.8).
    public static var domainNameServers: Self { addresses(6) }
}

extension DHCPOptionKey where Value == UInt32 {
    static func seconds(_ code: UInt8) -> Self {
        Self(code: code, decode: { d, c throws(WireError) in
            try c.requireLength(d, 4...4)
            return d.reduce(0) { $0 << 8 | UInt32($1) }
        }, encode: { v, _ in [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] })
    }
    /// 51: IP address lease time in seconds (RFC 2132 section 9.2).
    public static var leaseTime: Self { seconds(51) }
    /// 58: renewal (T1) time (RFC 2132 section 9.11).
    public static var renewalTime: Self { seconds(58) }
    /// 59: rebinding (T2) time (RFC 2132 section 9.12).
    public static var rebindingTime: Self { seconds(59) }
}

extension DHCPOptionKey where Value == UInt16 {
    /// 13: boot file size in 512-byte blocks (RFC 2132 section 3.16).
    public static var bootFileSize: Self {
        Self(code: 13, decode: { d, c throws(WireError) in
            try c.requireLength(d, 2...2)
            return UInt16(d[0]) << 8 | UInt16(d[1])
        }, encode: { v, _ in [UInt8(v >> 8), UInt8(v & 0xff)] })
    }
    /// 57: maximum DHCP message size, at least 576 (RFC 2132 section 9.10).
    public static var maximumMessageSize: Self {
        Self(code: 57, decode: { d, c throws(WireError) in
            try c.requireLength(d, 2...2)
            let v = UInt16(d[0]) << 8 | UInt16(d[1])
            if v < 576 { throw c.error(.outOfRange(value: Int(v), allowed: 576...65535)) }
            return v
        }, encode: { v, c throws(WireError) in
            if v < 576 { throw c.error(.outOfRange(value: Int(v), allowed: 576...65535)) }
            return [UInt8(v >> 8), UInt8(v & 0xff)]
        })
    }
}

extension DHCPOptionKey where Value == String {
    /// NVT ASCII text of at least one byte (RFC 2132 section 2). Trailing NULs, which some
    /// clients send, are dropped when reading; a NUL inside the text cannot be written.
    static func text(_ code: UInt8) -> Self {
        Self(code: code, decode: { d, c throws(WireError) in
            try c.requireLength(d, 1...Int.max)
            var t = d[...]
            while t.last == 0 { t = t.dropLast() }
            return String(decoding: t, as: UTF8.self)
        }, encode: { v, c throws(WireError) in
            let b = Array(v.utf8)
            if b.isEmpty { throw c.error(.invalid("empty text")) }
            if b.contains(0) { throw c.error(.invalid("NUL byte inside text")) }
            return b
        })
    }
    /// 12: host name (RFC 2132 section 3.14).
    public static var hostName: Self { text(12) }
    /// 15: domain name (RFC 2132 section 3.17).
    public static var domainName: Self { text(15) }
    /// 60: vendor class identifier (RFC 2132 section 9.13), e.g. `PXEClient:Arch:00007:UNDI:003000`.
    public static var vendorClassIdentifier: Self { text(60) }
    /// 66: TFTP server name (RFC 2132 section 9.4).
    public static var tftpServerName: Self { text(66) }
    /// 67: boot file name (RFC 2132 section 9.5).
    public static var bootfileName: Self { text(67) }
    /// 56: message (RFC 2132 section 9.9), e.g. why a NAK was sent.
    public static var message: Self { text(56) }
}

extension DHCPOptionKey where Value == DHCPMessageType {
    /// 53: DHCP message type (RFC 2132 section 9.6).
    public static var messageType: Self {
        Self(code: 53, decode: { d, c throws(WireError) in
            try c.requireLength(d, 1...1)
            return DHCPMessageType(rawValue: d[0])
        }, encode: { v, _ in [v.rawValue] })
    }
}

extension DHCPOptionKey where Value == [UInt8] {
    /// 55: parameter request list (RFC 2132 section 9.8), option codes in the client's order.
    public static var parameterRequestList: Self {
        Self(code: 55, decode: { d, c throws(WireError) in
            try c.requireLength(d, 1...Int.max)
            return d
        }, encode: { v, c throws(WireError) in
            if v.isEmpty { throw c.error(.invalid("empty list")) }
            return v
        })
    }
}

/// DHCP message types (RFC 2132 section 9.6, RFC 3203, RFC 4388). Unknown values are kept.
public struct DHCPMessageType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let discover = Self(rawValue: 1)
    public static let offer = Self(rawValue: 2)
    public static let request = Self(rawValue: 3)
    public static let decline = Self(rawValue: 4)
    public static let ack = Self(rawValue: 5)
    public static let nak = Self(rawValue: 6)
    public static let release = Self(rawValue: 7)
    public static let inform = Self(rawValue: 8)
    public static let forceRenew = Self(rawValue: 9)

    public var description: String {
        let names = ["DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM", "FORCERENEW"]
        return (1...9).contains(rawValue) ? names[Int(rawValue) - 1] : "TYPE\(rawValue)"
    }
}
