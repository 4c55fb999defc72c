/// BOOTP `op` (RFC 951): who sent the message.
public enum BOOTPOp: UInt8, Hashable, Sendable {
    case request = 1
    case reply = 2
}

/// A BOOTP/DHCP message (RFC 951, RFC 2131 section 2, RFC 2132, RFC 3396).
///
/// The fixed header is kept field by field. Options are an ordered list that keeps unknown
/// options; several instances of one option (in the options field, then `file`, then
/// `sname` when option 52 overloads them) are concatenated into one as RFC 3396 section 5
/// says. Option 52 itself, PAD and END are structure, not content: `options` never holds
/// them, and serialisation writes them as needed.
public struct DHCPMessage: Hashable, Sendable {
    /// RFC 2131 section 3: 99.130.83.99.
    public static let magicCookie: UInt32 = 0x6382_5363
    /// Size of the fixed header up to (not including) the magic cookie.
    public static let fixedHeaderSize = 236
    /// RFC 1542 section 2.1: BOOTP messages are at least 300 bytes; shorter replies are padded.
    public static let minimumBOOTPSize = 300
    /// RFC 2131 section 2: a client must accept 576-byte IP datagrams, i.e. 548 bytes of DHCP.
    public static let defaultMaximumSize = 576 - 28

    public var op: BOOTPOp
    public var htype: UInt8
    public var hlen: UInt8
    public var hops: UInt8
    public var xid: UInt32
    public var secs: UInt16
    public var flags: UInt16
    public var ciaddr: IPv4Address
    public var yiaddr: IPv4Address
    public var siaddr: IPv4Address
    public var giaddr: IPv4Address
    /// Always 16 bytes on the wire; `clientHardwareAddress` is its first `hlen` bytes.
    public var chaddr: [UInt8]
    /// 64 bytes on the wire. Zeroed after parsing when option 52 used it for options.
    public var sname: [UInt8]
    /// 128 bytes on the wire. Zeroed after parsing when option 52 used it for options.
    public var file: [UInt8]
    public var options: DHCPOptions

    public init(
        op: BOOTPOp, htype: UInt8 = 1, hlen: UInt8 = 6, hops: UInt8 = 0, xid: UInt32 = 0,
        secs: UInt16 = 0, flags: UInt16 = 0, ciaddr: IPv4Address = .any, yiaddr: IPv4Address = .any,
        siaddr: IPv4Address = .any, giaddr: IPv4Address = .any, chaddr: [UInt8] = [],
        sname: [UInt8] = [], file: [UInt8] = [], options: DHCPOptions = DHCPOptions()
    ) {
        self.op = op; self.htype = htype; self.hlen = hlen; self.hops = hops; self.xid = xid
        self.secs = secs; self.flags = flags; self.ciaddr = ciaddr; self.yiaddr = yiaddr
        self.siaddr = siaddr; self.giaddr = giaddr
        self.chaddr = Self.padded(chaddr, to: 16)
        self.sname = Self.padded(sname, to: 64)
        self.file = Self.padded(file, to: 128)
        self.options = options
    }

    static func padded(_ bytes: [UInt8], to count: Int) -> [UInt8] {
        if bytes.count >= count { return bytes }
        // An empty field (every reply's sname and file before they are set) shares one
        // array of zeros: copy-on-write, no allocation per message.
        if bytes.isEmpty {
            switch count {
            case 16: return zeros16
            case 64: return zeros64
            case 128: return zeros128
            default: break
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(count)
        out += bytes
        out.append(contentsOf: repeatElement(0, count: count - bytes.count))
        return out
    }
    private static let zeros16 = [UInt8](repeating: 0, count: 16)
    private static let zeros64 = [UInt8](repeating: 0, count: 64)
    private static let zeros128 = [UInt8](repeating: 0, count: 128)

    // MARK: Convenience views of header fields

    /// RFC 2131 section 2, figure 2: the leftmost bit of `flags`.
    public var broadcastFlag: Bool {
        get { flags & 0x8000 != 0 }
        set { flags = newValue ? flags | 0x8000 : flags & 0x7FFF }
    }

    /// The first `hlen` bytes of `chaddr` (at most 16).
    public var clientHardwareAddress: [UInt8] {
        Array(chaddr.prefix(Int(min(hlen, 16))))
    }

    /// `sname` as text up to its first NUL; nil when empty.
    public var serverHostName: String? {
        get { Self.cString(sname) }
        set { sname = Self.padded(Array((newValue ?? "").utf8), to: 64) }
    }

    /// `file` as text up to its first NUL; nil when empty.
    public var bootFileName: String? {
        get { Self.cString(file) }
        set { file = Self.padded(Array((newValue ?? "").utf8), to: 128) }
    }

    static func cString(_ bytes: [UInt8]) -> String? {
        let text = bytes.prefix { $0 != 0 }
        return text.isEmpty ? nil : String(decoding: text, as: UTF8.self)
    }

    /// Typed value of an option; nil when absent. Throws when the option is present but
    /// malformed (the error names the option and where it was in the parsed packet).
    public func value<V>(_ key: DHCPOptionKey<V>) throws(WireError) -> V? {
        try options.value(key)
    }

    /// Sets (or with nil removes) a typed option, keeping its place if already present.
    public mutating func setValue<V>(_ value: V?, for key: DHCPOptionKey<V>) throws(WireError) {
        try options.setValue(value, for: key)
    }

    /// The DHCP message type (option 53); nil for plain BOOTP.
    public var messageType: DHCPMessageType? {
        // Validated while parsing; a value set in memory is always one byte.
        (try? options.value(.messageType)) ?? nil
    }

    /// The largest reply this client accepts, as DHCP payload bytes: option 57 less the
    /// IP and UDP headers (RFC 2132 section 9.10), never below 548.
    public var maximumReplySize: Int {
        guard let size = (try? options.value(.maximumMessageSize)) ?? nil else {
            return Self.defaultMaximumSize
        }
        return max(Int(size), 576) - 28
    }
}

// MARK: - Parsing

extension DHCPMessage {
    /// Parses and validates one BOOTP/DHCP message (UDP payload).
    ///
    /// Checked: every header field's bounds, `op` (1 or 2), `hlen` (at most 16), the magic
    /// cookie, every option's length, the END option of each option area, option 52 and
    /// the areas it points to, and option 53's length. Options are otherwise validated when
    /// read through `value(_:)`.
    public init(parsing bytes: [UInt8]) throws(WireError) {
        var r = ByteReader(bytes)
        let opOffset = r.offset
        let rawOp = try r.u8("op")
        guard let op = BOOTPOp(rawValue: rawOp) else {
            throw WireError(field: "op", offset: opOffset, reason: .outOfRange(value: Int(rawOp), allowed: 1...2))
        }
        let htype = try r.u8("htype")
        let hlenOffset = r.offset
        let hlen = try r.u8("hlen")
        if hlen > 16 {
            throw WireError(field: "hlen", offset: hlenOffset, reason: .outOfRange(value: Int(hlen), allowed: 0...16))
        }
        let hops = try r.u8("hops")
        let xid = try r.u32("xid")
        let secs = try r.u16("secs")
        let flags = try r.u16("flags")
        let ciaddr = IPv4Address(try r.u32("ciaddr"))
        let yiaddr = IPv4Address(try r.u32("yiaddr"))
        let siaddr = IPv4Address(try r.u32("siaddr"))
        let giaddr = IPv4Address(try r.u32("giaddr"))
        let chaddr = try r.take(16, "chaddr")
        let snameStart = r.position
        var sname = try r.take(64, "sname")
        let fileStart = r.position
        var file = try r.take(128, "file")
        let cookieOffset = r.offset
        let cookie = try r.u32("magic cookie")
        if cookie != Self.magicCookie {
            throw WireError(field: "magic cookie", offset: cookieOffset, reason: .badMagicCookie(cookie))
        }

        // Options straight into their collection (RFC 3396 concatenation as they come);
        // option 52 is structure, not content: noted, never stored.
        var options = DHCPOptions(reservingCapacity: 16)
        var overload: DHCPOption?
        try Self.parseOptionArea(bytes, from: r.position, to: bytes.count, area: "options", into: &options, overload: &overload)
        // RFC 2131 section 4.1 / RFC 2132 section 9.3: option 52 says `file` and/or `sname`
        // carry more options, read in the order options, file, sname.
        if let overload {
            guard overload.data.count == 1 else {
                throw WireError(field: "option 52", offset: overload.offset,
                                reason: .invalid("length \(overload.data.count), must be 1"))
            }
            let value = overload.data[0]
            guard (1...3).contains(value) else {
                throw WireError(field: "option 52", offset: overload.offset + 2,
                                reason: .outOfRange(value: Int(value), allowed: 1...3))
            }
            var ignored: DHCPOption?   // option 52 inside file or sname means nothing
            if value & 1 != 0 {
                try Self.parseOptionArea(bytes, from: fileStart, to: fileStart + 128, area: "file", into: &options, overload: &ignored)
                file = Self.zeros128
            }
            if value & 2 != 0 {
                try Self.parseOptionArea(bytes, from: snameStart, to: snameStart + 64, area: "sname", into: &options, overload: &ignored)
                sname = Self.zeros64
            }
        }

        // Option 53 decides what the message is: a malformed one makes the message unusable.
        if let mt = options.first(code: 53), mt.data.count != 1 {
            throw WireError(field: "option 53", offset: mt.offset, reason: .invalid("length \(mt.data.count), must be 1"))
        }

        self.init(op: op, htype: htype, hlen: hlen, hops: hops, xid: xid, secs: secs, flags: flags,
                  ciaddr: ciaddr, yiaddr: yiaddr, siaddr: siaddr, giaddr: giaddr,
                  chaddr: chaddr, sname: sname, file: file, options: options)
    }

    /// Reads code/length/value options until END into `options` (a later instance of a
    /// code is appended to the earlier one, RFC 3396). PAD (0) is skipped; the first option
    /// 52 goes to `overload` instead. Each option's data must lie inside the area; the area
    /// must contain END (RFC 2131 section 4.1).
    static func parseOptionArea(_ bytes: [UInt8], from start: Int, to end: Int, area: String,
                                into options: inout DHCPOptions, overload: inout DHCPOption?) throws(WireError) {
        var r = ByteReader(bytes, from: start, to: end)
        while !r.isAtEnd {
            let optionOffset = r.offset
            let code = try r.u8("\(area) option code")
            if code == 0 { continue }
            if code == 255 { return }
            let length = try r.u8("option \(code) length")
            let data = try r.take(Int(length), "option \(code)")
            if code == 52 {
                if overload == nil { overload = DHCPOption(code: code, data: data, offset: optionOffset) }
            } else {
                options.appendConcatenating(DHCPOption(code: code, data: data, offset: optionOffset))
            }
        }
        throw WireError(field: area == "options" ? "end option" : "end option in \(area)",
                        offset: end, reason: .missingTerminator)
    }
}

// MARK: - Serialisation

extension DHCPMessage {
    /// Serialises the message.
    ///
    /// Options longer than 255 bytes are split into consecutive instances (RFC 3396). The
    /// result is padded to 300 bytes (RFC 1542). When `maximumSize` is given (for a reply,
    /// use the request's `maximumReplySize`) and the options do not fit, the unused `file`
    /// and `sname` fields carry the rest, with option 52 saying so (RFC 2131 section 4.1);
    /// if they still do not fit, this throws rather than emit a message the client would
    /// truncate.
    public func serialized(maximumSize: Int? = nil) throws(WireError) -> [UInt8] {
        guard chaddr.count == 16 else {
            throw WireError(field: "chaddr", offset: 28, reason: .invalid("\(chaddr.count) bytes, must be 16"))
        }
        guard hlen <= 16 else {
            throw WireError(field: "hlen", offset: 2, reason: .outOfRange(value: Int(hlen), allowed: 0...16))
        }
        guard sname.count == 64 else {
            throw WireError(field: "sname", offset: 44, reason: .outOfRange(value: sname.count, allowed: 0...64))
        }
        guard file.count == 128 else {
            throw WireError(field: "file", offset: 108, reason: .outOfRange(value: file.count, allowed: 0...128))
        }
        // Validates every option (the same checks and errors as `encodedInstances`).
        let direct = try options.encodedDirectly()
        let limit = maximumSize ?? Int.max
        if limit < Self.minimumBOOTPSize {
            throw WireError(field: "maximum message size", offset: 0,
                            reason: .outOfRange(value: limit, allowed: Self.minimumBOOTPSize...Int.max))
        }
        var out: [UInt8] = []
        out.reserveCapacity(max(Self.minimumBOOTPSize, 240 + (direct?.size ?? 0) + 1))
        out.append(op.rawValue); out.append(htype); out.append(hlen); out.append(hops)
        out.appendU32(xid); out.appendU16(secs); out.appendU16(flags)
        out.appendU32(ciaddr.value); out.appendU32(yiaddr.value)
        out.appendU32(siaddr.value); out.appendU32(giaddr.value)
        out += chaddr

        if let direct, 240 + direct.size + 1 <= limit {
            // Nearly every reply: no option needs splitting and all fit without overload;
            // written straight into the message, no array per option.
            out += sname; out += file
            out.appendU32(Self.magicCookie)
            direct.write(&out)
            out.append(255)
        } else {
            try appendSplitOrOverloaded(to: &out, limit: limit)
        }
        if out.count < Self.minimumBOOTPSize {
            out += [UInt8](repeating: 0, count: Self.minimumBOOTPSize - out.count)
        }
        return out
    }

    /// Options that need splitting (RFC 3396) or do not fit in the options area (option 52
    /// overload into `file` and `sname`), after the fixed header and `chaddr`.
    private func appendSplitOrOverloaded(to out: inout [UInt8], limit: Int) throws(WireError) {
        let chunks = try options.encodedInstances()
        let total = chunks.reduce(0) { $0 + $1.count }
        if 240 + total + 1 <= limit {
            out += sname; out += file
            out.appendU32(Self.magicCookie)
            for c in chunks { out += c }
            out.append(255)
        } else {
            // Overload: options area first, then file (if unused), then sname (if unused).
            let optionsCapacity = limit - 240 - 3 - 1
            var areas: [(capacity: Int, bytes: [UInt8])] = [(optionsCapacity, [])]
            let fileFree = file.allSatisfy { $0 == 0 }
            let snameFree = sname.allSatisfy { $0 == 0 }
            if fileFree { areas.append((127, [])) }
            if snameFree { areas.append((63, [])) }
            var area = 0
            for c in chunks {
                while area < areas.count && areas[area].bytes.count + c.count > areas[area].capacity {
                    area += 1
                }
                guard area < areas.count else {
                    throw WireError(field: "options", offset: 240, reason: .invalid(
                        "\(total) bytes of options do not fit in a \(limit)-byte message, even using file and sname"))
                }
                areas[area].bytes += c
            }
            var overload: UInt8 = 0
            var fileBytes = file, snameBytes = sname
            var next = 1
            if fileFree {
                if !areas[next].bytes.isEmpty {
                    overload |= 1
                    fileBytes = Self.padded(areas[next].bytes + [255], to: 128)
                }
                next += 1
            }
            if snameFree, next < areas.count, !areas[next].bytes.isEmpty {
                overload |= 2
                snameBytes = Self.padded(areas[next].bytes + [255], to: 64)
            }
            out += snameBytes; out += fileBytes
            out.appendU32(Self.magicCookie)
            if overload != 0 { out += [52, 1, overload] }
            out += areas[0].bytes
            out.append(255)
        }
    }
}
