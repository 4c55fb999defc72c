/// A packet that could not be parsed, or a value that cannot be put on the wire.
///
/// Every error names the field that was wrong and the byte offset (from the start of
/// the packet, or of the option/sub-option area being parsed when `field` says so) at
/// which the problem was found, so a user can find it in a hex dump or in Wireshark.
public struct WireError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The field needs `needed` bytes from `offset`, but only `available` remain.
        case truncated(needed: Int, available: Int)
        /// A value outside what the protocol allows.
        case outOfRange(value: Int, allowed: ClosedRange<Int>)
        /// A required terminator (NUL byte, END option) never came.
        case missingTerminator
        /// The DHCP magic cookie was not 99.130.83.99.
        case badMagicCookie(UInt32)
        /// The TFTP opcode is not one RFC 1350/2347 defines.
        case unknownOpcode(UInt16)
        /// A value that is malformed in some other way; the text says how.
        case invalid(String)
    }

    /// The protocol field, e.g. `"hlen"`, `"option 53"`, `"option 43.6"`, `"filename"`.
    public let field: String
    /// Byte offset where the problem was found.
    public let offset: Int
    public let reason: Reason

    public init(field: String, offset: Int, reason: Reason) {
        self.field = field
        self.offset = offset
        self.reason = reason
    }

    public var description: String {
        let what: String
        switch reason {
        case let .truncated(needed, available):
            what = "truncated: needs \(needed) byte\(needed == 1 ? "" : "s"), \(available) left"
        case let .outOfRange(value, allowed):
            what = "value \(value) out of range \(allowed.lowerBound)...\(allowed.upperBound)"
        case .missingTerminator:
            what = "missing terminator"
        case let .badMagicCookie(cookie):
            let hex = String(cookie, radix: 16)
            what = "bad magic cookie 0x\(String(repeating: "0", count: max(0, 8 - hex.count)))\(hex)"
        case let .unknownOpcode(op):
            what = "unknown opcode \(op)"
        case let .invalid(text):
            what = text
        }
        return "\(field) at byte \(offset): \(what)"
    }
}

/// A bounds-checked cursor over bytes. Every read checks the remaining length first and
/// throws a `WireError` naming the field; nothing is trusted before it is checked.
struct ByteReader {
    let bytes: [UInt8]
    /// Absolute index into `bytes`.
    var position: Int
    /// One past the last byte this reader may consume.
    let end: Int
    /// Added to `position` when reporting offsets (for sub-areas reported relative to a packet).
    let reportBase: Int

    init(_ bytes: [UInt8], from start: Int = 0, to end: Int? = nil, reportBase: Int = 0) {
        self.bytes = bytes
        self.position = start
        self.end = end ?? bytes.count
        self.reportBase = reportBase
    }

    var remaining: Int { end - position }
    var isAtEnd: Bool { position >= end }
    var offset: Int { position + reportBase }

    func need(_ n: Int, _ field: @autoclosure () -> String) throws(WireError) {
        if n > remaining {
            throw WireError(field: field(), offset: offset, reason: .truncated(needed: n, available: remaining))
        }
    }

    mutating func u8(_ field: @autoclosure () -> String) throws(WireError) -> UInt8 {
        try need(1, field())
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16(_ field: @autoclosure () -> String) throws(WireError) -> UInt16 {
        try need(2, field())
        defer { position += 2 }
        return UInt16(bytes[position]) << 8 | UInt16(bytes[position + 1])
    }

    mutating func u32(_ field: @autoclosure () -> String) throws(WireError) -> UInt32 {
        try need(4, field())
        defer { position += 4 }
        return UInt32(bytes[position]) << 24 | UInt32(bytes[position + 1]) << 16
            | UInt32(bytes[position + 2]) << 8 | UInt32(bytes[position + 3])
    }

    mutating func take(_ n: Int, _ field: @autoclosure () -> String) throws(WireError) -> [UInt8] {
        try need(n, field())
        defer { position += n }
        return Array(bytes[position..<position + n])
    }
}

extension Array where Element == UInt8 {
    mutating func appendU16(_ v: UInt16) {
        append(UInt8(v >> 8)); append(UInt8(v & 0xff))
    }
    mutating func appendU32(_ v: UInt32) {
        append(UInt8(v >> 24)); append(UInt8((v >> 16) & 0xff))
        append(UInt8((v >> 8) & 0xff)); append(UInt8(v & 0xff))
    }
}
