// TFTP packets: RFC 1350 (RRQ, WRQ, DATA, ACK, ERROR) and RFC 2347 (OACK, options).
//
// Parsing and serialization only; sessions, retransmission and negotiation policy live in
// the TFTP engine. Strict or lenient, per place (each choice is tested):
//
// - Requests: the file name and mode must be NUL-terminated, the file name non-empty, the
//   mode one of RFC 1350's (ASCII case-insensitive). Options must come in complete
//   name/value pairs, each NUL-terminated. Option *values* are not checked by the parser
//   (see `TFTPTransferOptions`), so an RRQ with an odd option still parses.
// - Trailing NUL bytes after the last complete string of a request or OACK are accepted
//   as padding and dropped (some ROMs pad requests); any other trailing byte is parsed as
//   the start of an option and fails as such.
// - RFC 2347 limits a request to 512 octets. Neither the parser nor the serializer
//   enforces it: tftpd-hpa accepts larger requests, and long boot paths plus options
//   exceed it in practice. `TFTPPacket.rfc2347MaximumRequestSize` is there for callers
//   that want to enforce it.
// - ACK: bytes after the block number are ignored (tftpd-hpa reads only opcode and
//   block; being strict would only break transfers with sloppy clients).
// - ERROR: the message's terminating NUL may be missing (several embedded clients omit
//   it); the message then runs to the end of the packet. Bytes after the NUL are ignored.
// - DATA: the payload is everything after the block number, at most 65464 octets (the
//   largest RFC 2348 blksize).
// - OACK: an OACK with no options parses (a client can treat it as "nothing accepted"),
//   but is never serialized.

/// TFTP opcodes (RFC 1350 section 5; OACK from RFC 2347).
public enum TFTPOpcode: UInt16, Hashable, Sendable, CaseIterable {
    case readRequest = 1
    case writeRequest = 2
    case data = 3
    case ack = 4
    case error = 5
    case optionAck = 6
}

/// Transfer mode of a request (RFC 1350 section 5). Matched ASCII case-insensitively on
/// parse; serialized in lowercase. `mail` is obsolete but still a defined mode.
public enum TFTPMode: String, Hashable, Sendable, CaseIterable {
    case netascii
    case octet
    case mail

    init?(wire bytes: [UInt8]) {
        guard let mode = Self.allCases.first(where: { tftpASCIICaseInsensitiveEqual(bytes, $0.rawValue) })
        else { return nil }
        self = mode
    }
}

/// An RRQ or WRQ (RFC 1350 section 5, options per RFC 2347):
/// `| opcode | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ... |`.
public struct TFTPRequest: Hashable, Sendable {
    /// The file name exactly as sent. RFC 1350 calls it netascii, but clients send any
    /// octets, so it is kept as bytes; never empty, never containing NUL when serialized.
    public var filenameBytes: [UInt8]
    public var mode: TFTPMode
    /// Every option in wire order, known or not, values unchecked.
    public var options: [TFTPOption]

    public init(filenameBytes: [UInt8], mode: TFTPMode = .octet, options: [TFTPOption] = []) {
        self.filenameBytes = filenameBytes
        self.mode = mode
        self.options = options
    }

    public init(filename: String, mode: TFTPMode = .octet, options: [TFTPOption] = []) {
        self.init(filenameBytes: Array(filename.utf8), mode: mode, options: options)
    }

    /// The file name as UTF-8 text, or nil when the bytes are not valid UTF-8.
    public var filename: String? {
        // (`String(validating:as:)` would need macOS 15; the package targets macOS 14.)
        let text = String(decoding: filenameBytes, as: UTF8.self)
        return text.utf8.elementsEqual(filenameBytes) ? text : nil
    }

    /// The options this library understands, validated strictly (see
    /// `TFTPTransferOptions.init(validating:)`).
    public func transferOptions() throws(WireError) -> TFTPTransferOptions {
        try TFTPTransferOptions(validating: options)
    }
}

/// TFTP error codes (RFC 1350 section 5 and appendix; 8 from RFC 2347). Any other value
/// received is kept as is, not rejected.
public struct TFTPErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    /// 0: Not defined, see error message (if any).
    public static let notDefined = TFTPErrorCode(0)
    /// 1: File not found.
    public static let fileNotFound = TFTPErrorCode(1)
    /// 2: Access violation.
    public static let accessViolation = TFTPErrorCode(2)
    /// 3: Disk full or allocation exceeded.
    public static let diskFull = TFTPErrorCode(3)
    /// 4: Illegal TFTP operation.
    public static let illegalOperation = TFTPErrorCode(4)
    /// 5: Unknown transfer ID.
    public static let unknownTransferID = TFTPErrorCode(5)
    /// 6: File already exists.
    public static let fileAlreadyExists = TFTPErrorCode(6)
    /// 7: No such user.
    public static let noSuchUser = TFTPErrorCode(7)
    /// 8: Option negotiation refused (RFC 2347, "Negotiation Protocol").
    public static let optionNegotiationRefused = TFTPErrorCode(8)

    /// Whether RFC 1350 or RFC 2347 defines this code.
    public var isDefined: Bool { rawValue <= 8 }

    public var description: String {
        let names = [
            "not defined", "file not found", "access violation", "disk full",
            "illegal operation", "unknown transfer ID", "file already exists", "no such user",
            "option negotiation refused",
        ]
        return isDefined ? "\(rawValue) (\(names[Int(rawValue)]))" : "\(rawValue)"
    }
}

/// The body of an ERROR packet (RFC 1350 section 5): `| 05 | code | message | 0 |`.
/// This is a value on the wire, not a Swift `Error`.
public struct TFTPError: Hashable, Sendable {
    public var code: TFTPErrorCode
    /// The message. Decoded as UTF-8 on parse (invalid bytes become U+FFFD); must not
    /// contain NUL to be serialized.
    public var message: String

    public init(code: TFTPErrorCode, message: String = "") {
        self.code = code
        self.message = message
    }
}

/// A TFTP packet (RFC 1350 section 5, RFC 2347).
public enum TFTPPacket: Hashable, Sendable {
    case readRequest(TFTPRequest)
    case writeRequest(TFTPRequest)
    /// DATA: a block number and 0...65464 octets.
    case data(block: UInt16, payload: [UInt8])
    case ack(block: UInt16)
    case error(TFTPError)
    /// OACK (RFC 2347): the options the server accepts, with the values it grants.
    case optionAck([TFTPOption])

    /// RFC 2347 ("Packet Formats"): "the request packet must not exceed 512 octets". Not
    /// enforced by this type; see the notes at the top of TFTP.swift.
    public static let rfc2347MaximumRequestSize = 512
    /// Largest DATA payload: the largest blksize of RFC 2348.
    public static let maximumDataPayload = TFTPTransferOptions.blksizeRange.upperBound

    public var opcode: TFTPOpcode {
        switch self {
        case .readRequest: .readRequest
        case .writeRequest: .writeRequest
        case .data: .data
        case .ack: .ack
        case .error: .error
        case .optionAck: .optionAck
        }
    }

    // MARK: Parsing

    /// Parses one TFTP packet (a UDP payload). Throws a `WireError` naming the field and
    /// its byte offset in `bytes`:
    ///
    /// | problem | field | reason |
    /// |---|---|---|
    /// | fewer than 2 bytes | `opcode` | `.truncated` |
    /// | opcode not 1...6 | `opcode` | `.unknownOpcode` |
    /// | no NUL after a string | `filename`, `mode`, `option name`, `option value` | `.missingTerminator` (at the string's start) |
    /// | empty file name | `filename` | `.invalid("empty file name")` |
    /// | unknown mode | `mode` | `.invalid("unknown mode")` |
    /// | empty option name | `option name` | `.invalid("empty option name")` |
    /// | option name at the end of the packet | `option value` | `.invalid("option without value")` |
    /// | DATA/ACK/ERROR shorter than 4 bytes | `block` / `error code` | `.truncated` |
    /// | DATA payload over 65464 octets | `data` | `.outOfRange` |
    public init(parsing bytes: [UInt8]) throws(WireError) {
        var reader = ByteReader(bytes)
        let rawOpcode = try reader.u16("opcode")
        guard let opcode = TFTPOpcode(rawValue: rawOpcode) else {
            throw WireError(field: "opcode", offset: 0, reason: .unknownOpcode(rawOpcode))
        }
        switch opcode {
        case .readRequest:
            self = .readRequest(try Self.parseRequest(&reader))
        case .writeRequest:
            self = .writeRequest(try Self.parseRequest(&reader))
        case .data:
            let block = try reader.u16("block")
            let payloadOffset = reader.offset
            let payload = try reader.take(reader.remaining, "data")
            guard payload.count <= Self.maximumDataPayload else {
                throw WireError(
                    field: "data", offset: payloadOffset,
                    reason: .outOfRange(value: payload.count, allowed: 0...Self.maximumDataPayload))
            }
            self = .data(block: block, payload: payload)
        case .ack:
            // Lenient: trailing bytes are ignored.
            self = .ack(block: try reader.u16("block"))
        case .error:
            let code = TFTPErrorCode(try reader.u16("error code"))
            // Lenient: the NUL may be missing; bytes after it are ignored.
            let rest = reader.bytes[reader.position..<reader.end]
            let messageBytes = rest.firstIndex(of: 0).map { rest[..<$0] } ?? rest
            self = .error(TFTPError(code: code, message: String(decoding: messageBytes, as: UTF8.self)))
        case .optionAck:
            self = .optionAck(try Self.parseOptions(&reader))
        }
    }

    private static func parseRequest(_ reader: inout ByteReader) throws(WireError) -> TFTPRequest {
        let filenameOffset = reader.offset
        let filename = try reader.tftpCString("filename")
        guard !filename.isEmpty else {
            throw WireError(field: "filename", offset: filenameOffset, reason: .invalid("empty file name"))
        }
        let modeOffset = reader.offset
        let modeBytes = try reader.tftpCString("mode")
        guard let mode = TFTPMode(wire: modeBytes) else {
            throw WireError(field: "mode", offset: modeOffset, reason: .invalid("unknown mode"))
        }
        return TFTPRequest(filenameBytes: filename, mode: mode, options: try parseOptions(&reader))
    }

    /// RFC 2347 options: NUL-terminated name/value pairs up to the end of the packet.
    private static func parseOptions(_ reader: inout ByteReader) throws(WireError) -> [TFTPOption] {
        var options: [TFTPOption] = []
        while !reader.isAtEnd {
            if reader.bytes[reader.position..<reader.end].allSatisfy({ $0 == 0 }) {
                break  // NUL padding
            }
            let nameOffset = reader.offset
            let name = try reader.tftpCString("option name")
            guard !name.isEmpty else {
                throw WireError(field: "option name", offset: nameOffset, reason: .invalid("empty option name"))
            }
            guard !reader.isAtEnd else {
                throw WireError(field: "option value", offset: reader.offset, reason: .invalid("option without value"))
            }
            let valueOffset = reader.offset
            let value = try reader.tftpCString("option value")
            options.append(TFTPOption(
                name: String(decoding: name, as: UTF8.self),
                value: String(decoding: value, as: UTF8.self),
                valueOffset: valueOffset))
        }
        return options
    }

    // MARK: Serialization

    /// The packet's bytes. Throws, and produces nothing, when the value cannot be put on
    /// the wire as a valid packet; the error names the field and the offset it would have
    /// had in the packet:
    ///
    /// - file name empty (`.invalid("empty file name")`) or containing NUL (`.invalid("NUL in file name")`);
    /// - option name empty or containing NUL, option value containing NUL;
    /// - a known option (blksize, timeout, tsize, windowsize, any case) whose value is not
    ///   a decimal number in its range, in a request or an OACK (same errors as
    ///   `TFTPTransferOptions.init(validating:)`, field `"option blksize"` etc.);
    /// - DATA payload over 65464 octets (field `data`, `.outOfRange`);
    /// - NUL in an error message (field `message`);
    /// - OACK with no options (field `options`, `.invalid("OACK without options")`).
    public func serialized() throws(WireError) -> [UInt8] {
        var out: [UInt8] = []
        out.appendU16(opcode.rawValue)
        switch self {
        case let .readRequest(request), let .writeRequest(request):
            try Self.appendString(request.filenameBytes, to: &out, field: "filename", what: "file name")
            out.append(contentsOf: request.mode.rawValue.utf8)
            out.append(0)
            try Self.appendOptions(request.options, to: &out)
        case let .data(block, payload):
            out.appendU16(block)
            guard payload.count <= Self.maximumDataPayload else {
                throw WireError(
                    field: "data", offset: out.count,
                    reason: .outOfRange(value: payload.count, allowed: 0...Self.maximumDataPayload))
            }
            out.append(contentsOf: payload)
        case let .ack(block):
            out.appendU16(block)
        case let .error(error):
            out.appendU16(error.code.rawValue)
            let message = Array(error.message.utf8)
            if let nul = message.firstIndex(of: 0) {
                throw WireError(field: "message", offset: out.count + nul, reason: .invalid("NUL in error message"))
            }
            out.append(contentsOf: message)
            out.append(0)
        case let .optionAck(options):
            guard !options.isEmpty else {
                throw WireError(field: "options", offset: out.count, reason: .invalid("OACK without options"))
            }
            try Self.appendOptions(options, to: &out)
        }
        return out
    }

    private static func appendOptions(_ options: [TFTPOption], to out: inout [UInt8]) throws(WireError) {
        for option in options {
            try appendString(Array(option.name.utf8), to: &out, field: "option name", what: "option name")
            _ = try TFTPTransferOptions.check(option, valueOffset: out.count)
            try appendString(Array(option.value.utf8), to: &out, field: "option value", what: "option value",
                             allowEmpty: true)
        }
    }

    /// Appends a NUL-terminated string, refusing embedded NULs (and empty strings unless
    /// `allowEmpty`).
    private static func appendString(
        _ bytes: [UInt8], to out: inout [UInt8], field: String, what: String, allowEmpty: Bool = false
    ) throws(WireError) {
        if !allowEmpty && bytes.isEmpty {
            throw WireError(field: field, offset: out.count, reason: .invalid("empty \(what)"))
        }
        if let nul = bytes.firstIndex(of: 0) {
            throw WireError(field: field, offset: out.count + nul, reason: .invalid("NUL in \(what)"))
        }
        out.append(contentsOf: bytes)
        out.append(0)
    }
}

extension ByteReader {
    /// Reads a NUL-terminated string and consumes its NUL. Throws `.missingTerminator` at
    /// the string's first byte when no NUL comes before the end.
    fileprivate mutating func tftpCString(_ field: String) throws(WireError) -> [UInt8] {
        guard let nul = bytes[position..<end].firstIndex(of: 0) else {
            throw WireError(field: field, offset: offset, reason: .missingTerminator)
        }
        defer { position = nul + 1 }
        return Array(bytes[position..<nul])
    }
}
