import Testing
import TestSupport
@testable import BootWire

// Tests of the TFTP wire format (RFC 1350, 2347, 2348, 2349, 7440).

/// Bytes of a packet: a two-byte opcode followed by text in which "\0" is a NUL.
private func tftpBytes(_ opcode: UInt16, _ text: String) -> [UInt8] {
    [UInt8(opcode >> 8), UInt8(opcode & 0xff)] + Array(text.utf8)
}

// MARK: - Generators

private func tftpRandomString(_ rng: inout SplitMix64, maxLength: Int, allowEmpty: Bool = true) -> String {
    let count = Int.random(in: (allowEmpty ? 0 : 1)...maxLength, using: &rng)
    var scalars = String.UnicodeScalarView()
    for _ in 0..<count {
        let value: UInt32
        switch Int.random(in: 0..<10, using: &rng) {
        case 0: value = UInt32.random(in: 0x80...0x7FF, using: &rng)  // 2-byte UTF-8
        case 1: value = UInt32.random(in: 0x4E00...0x9FFF, using: &rng)  // CJK
        case 2: value = UInt32.random(in: 0x1F300...0x1F64F, using: &rng)  // emoji
        case 3: value = UInt32.random(in: 1...0x1F, using: &rng)  // control, never NUL
        default: value = UInt32.random(in: 0x20...0x7E, using: &rng)
        }
        scalars.append(Unicode.Scalar(value)!)
    }
    return String(scalars)
}

/// Known names in random ASCII case (RFC 2347 names are case-insensitive).
private func tftpRandomCase(_ name: String, _ rng: inout SplitMix64) -> String {
    String(name.map { Bool.random(using: &rng) ? Character($0.uppercased()) : $0 })
}

private func tftpRandomOption(_ rng: inout SplitMix64) -> TFTPOption {
    func number(_ range: ClosedRange<Int>) -> String {
        let n = Bool.random(using: &rng)
            ? Int.random(in: range, using: &rng)
            : (Bool.random(using: &rng) ? range.lowerBound : range.upperBound)
        return String(n)
    }
    switch Int.random(in: 0..<6, using: &rng) {
    case 0: return TFTPOption(name: tftpRandomCase("blksize", &rng), value: number(8...65464))
    case 1: return TFTPOption(name: tftpRandomCase("timeout", &rng), value: number(1...255))
    case 2: return TFTPOption(name: tftpRandomCase("tsize", &rng), value: number(0...Int.max))
    case 3: return TFTPOption(name: tftpRandomCase("windowsize", &rng), value: number(1...65535))
    default:
        // Unknown options: "x-" keeps them from colliding with a known name.
        return TFTPOption(
            name: "x-" + tftpRandomString(&rng, maxLength: 12),
            value: tftpRandomString(&rng, maxLength: 20))
    }
}

private func tftpRandomPacket(_ rng: inout SplitMix64) -> TFTPPacket {
    switch Int.random(in: 0..<6, using: &rng) {
    case 0, 1:
        var filename = rng.bytes(Int.random(in: 1...120, using: &rng))
        for i in filename.indices where filename[i] == 0 { filename[i] = 1 }  // octets, any but NUL
        let options = (0..<Int.random(in: 0...6, using: &rng)).map { _ in tftpRandomOption(&rng) }
        let request = TFTPRequest(
            filenameBytes: filename, mode: TFTPMode.allCases.randomElement(using: &rng)!, options: options)
        return Bool.random(using: &rng) ? .readRequest(request) : .writeRequest(request)
    case 2:
        let size = Int.random(in: 0..<50, using: &rng) == 0
            ? Int.random(in: 0...TFTPPacket.maximumDataPayload, using: &rng)
            : Int.random(in: 0...1468, using: &rng)
        return .data(block: UInt16.random(in: 0...UInt16.max, using: &rng), payload: rng.bytes(size))
    case 3:
        return .ack(block: UInt16.random(in: 0...UInt16.max, using: &rng))
    case 4:
        return .error(TFTPError(
            code: TFTPErrorCode(Bool.random(using: &rng)
                ? UInt16.random(in: 0...8, using: &rng) : UInt16.random(in: 0...UInt16.max, using: &rng)),
            message: tftpRandomString(&rng, maxLength: 60)))
    default:
        return .optionAck((0..<Int.random(in: 1...5, using: &rng)).map { _ in tftpRandomOption(&rng) })
    }
}

// MARK: - Malformed input table

struct TFTPMalformedCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let error: WireError
    var testDescription: String { name }

    init(_ name: String, _ bytes: [UInt8], _ field: String, _ offset: Int, _ reason: WireError.Reason) {
        self.name = name
        self.bytes = bytes
        self.error = WireError(field: field, offset: offset, reason: reason)
    }
}

// Offsets: opcode 0-1; "file\0" 2-6; mode at 7; "octet\0" 7-12; first option name at 13;
// "blksize\0" 13-20; its value at 21.
private let tftpMalformedCases: [TFTPMalformedCase] = [
    .init("empty packet", [], "opcode", 0, .truncated(needed: 2, available: 0)),
    .init("1-byte packet", [0], "opcode", 0, .truncated(needed: 2, available: 1)),
    .init("opcode 0", [0, 0, 1, 2], "opcode", 0, .unknownOpcode(0)),
    .init("opcode 7", [0, 7], "opcode", 0, .unknownOpcode(7)),
    .init("opcode 0x0100", [1, 0, 0, 1], "opcode", 0, .unknownOpcode(256)),
    .init("opcode 65535", [0xff, 0xff], "opcode", 0, .unknownOpcode(65535)),
    .init("RRQ with nothing after the opcode", [0, 1], "filename", 2, .missingTerminator),
    .init("RRQ zero-length filename", tftpBytes(1, "\0octet\0"), "filename", 2, .invalid("empty file name")),
    .init("WRQ zero-length filename", tftpBytes(2, "\0"), "filename", 2, .invalid("empty file name")),
    .init("RRQ filename without NUL", tftpBytes(1, "file"), "filename", 2, .missingTerminator),
    .init("RRQ without mode", tftpBytes(1, "file\0"), "mode", 7, .missingTerminator),
    .init("RRQ mode without NUL", tftpBytes(1, "file\0octet"), "mode", 7, .missingTerminator),
    .init("RRQ unknown mode", tftpBytes(1, "file\0binary\0"), "mode", 7, .invalid("unknown mode")),
    .init("WRQ empty mode", tftpBytes(2, "file\0\0"), "mode", 7, .invalid("unknown mode")),
    .init("RRQ mode with a Kelvin sign", tftpBytes(1, "file\0netascii\u{212A}\0"), "mode", 7, .invalid("unknown mode")),
    .init("option name without NUL", tftpBytes(1, "file\0octet\0blksize"), "option name", 13, .missingTerminator),
    .init("option name without value", tftpBytes(1, "file\0octet\0blksize\0"),
          "option value", 21, .invalid("option without value")),
    .init("option value without NUL", tftpBytes(1, "file\0octet\0blksize\01468"), "option value", 21, .missingTerminator),
    .init("second option value without NUL", tftpBytes(1, "file\0octet\0tsize\00\0blksize\01468"),
          "option value", 29, .missingTerminator),
    .init("empty option name before an option", tftpBytes(1, "file\0octet\0\0blksize\0512\0"),
          "option name", 13, .invalid("empty option name")),
    .init("DATA without block", [0, 3], "block", 2, .truncated(needed: 2, available: 0)),
    .init("DATA with 1-byte block", [0, 3, 0], "block", 2, .truncated(needed: 2, available: 1)),
    .init("DATA payload 65465 octets", [0, 3, 0, 1] + [UInt8](repeating: 0xAB, count: 65465),
          "data", 4, .outOfRange(value: 65465, allowed: 0...65464)),
    .init("ACK without block", [0, 4], "block", 2, .truncated(needed: 2, available: 0)),
    .init("ACK with 1-byte block", [0, 4, 1], "block", 2, .truncated(needed: 2, available: 1)),
    .init("ERROR without code", [0, 5], "error code", 2, .truncated(needed: 2, available: 0)),
    .init("ERROR with 1-byte code", [0, 5, 0], "error code", 2, .truncated(needed: 2, available: 1)),
    .init("OACK option name without NUL", tftpBytes(6, "blksize"), "option name", 2, .missingTerminator),
    .init("OACK option without value", tftpBytes(6, "blksize\0"), "option value", 10, .invalid("option without value")),
    .init("OACK value without NUL", tftpBytes(6, "blksize\01468"), "option value", 10, .missingTerminator),
]

// MARK: - Option validation table

struct TFTPOptionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let bytes: [UInt8]
    let error: WireError
    var testDescription: String { name }

    init(_ name: String, _ text: String, _ field: String, _ offset: Int, _ reason: WireError.Reason) {
        self.name = name
        self.bytes = tftpBytes(1, text)
        self.error = WireError(field: field, offset: offset, reason: reason)
    }
}

private let tftpNotANumber = WireError.Reason.invalid("not a decimal number")

// Value offsets: "file\0octet\0" is bytes 2-12; the first option name starts at 13.
private let tftpOptionCases: [TFTPOptionCase] = [
    .init("blksize 7", "file\0octet\0blksize\07\0", "option blksize", 21, .outOfRange(value: 7, allowed: 8...65464)),
    .init("blksize 65465", "file\0octet\0blksize\065465\0", "option blksize", 21,
          .outOfRange(value: 65465, allowed: 8...65464)),
    .init("BLKSIZE 0 (upper case)", "file\0octet\0BLKSIZE\00\0", "option blksize", 21,
          .outOfRange(value: 0, allowed: 8...65464)),
    .init("blksize empty", "file\0octet\0blksize\0\0", "option blksize", 21, tftpNotANumber),
    .init("blksize with a space", "file\0octet\0blksize\0 512\0", "option blksize", 21, tftpNotANumber),
    .init("blksize with a plus", "file\0octet\0blksize\0+512\0", "option blksize", 21, tftpNotANumber),
    .init("blksize in hex", "file\0octet\0blksize\00x200\0", "option blksize", 21, tftpNotANumber),
    .init("blksize after tsize", "file\0octet\0tsize\00\0blksize\04\0", "option blksize", 29,
          .outOfRange(value: 4, allowed: 8...65464)),
    .init("windowsize 0", "file\0octet\0windowsize\00\0", "option windowsize", 24,
          .outOfRange(value: 0, allowed: 1...65535)),
    .init("windowsize 65536", "file\0octet\0windowsize\065536\0", "option windowsize", 24,
          .outOfRange(value: 65536, allowed: 1...65535)),
    .init("timeout 0", "file\0octet\0timeout\00\0", "option timeout", 21, .outOfRange(value: 0, allowed: 1...255)),
    .init("timeout 256", "file\0octet\0timeout\0256\0", "option timeout", 21,
          .outOfRange(value: 256, allowed: 1...255)),
    .init("timeout fractional", "file\0octet\0timeout\00.5\0", "option timeout", 21, tftpNotANumber),
    .init("tsize -1", "file\0octet\0tsize\0-1\0", "option tsize", 19, .outOfRange(value: -1, allowed: 0...Int.max)),
    .init("tsize non-numeric", "file\0octet\0tsize\0abc\0", "option tsize", 19, tftpNotANumber),
    .init("tsize lone minus", "file\0octet\0tsize\0-\0", "option tsize", 19, tftpNotANumber),
    .init("tsize beyond Int", "file\0octet\0tsize\099999999999999999999999\0", "option tsize", 19,
          .invalid("number too large")),
]

// MARK: - Invalid values that must not serialize

struct TFTPUnserializableCase: Sendable, CustomTestStringConvertible {
    let name: String
    let packet: TFTPPacket
    let error: WireError
    var testDescription: String { name }

    init(_ name: String, _ packet: TFTPPacket, _ field: String, _ offset: Int, _ reason: WireError.Reason) {
        self.name = name
        self.packet = packet
        self.error = WireError(field: field, offset: offset, reason: reason)
    }
}

private func tftpRRQ(_ filename: String, _ options: [(String, String)] = []) -> TFTPPacket {
    .readRequest(TFTPRequest(filename: filename, mode: .octet, options: options.map { TFTPOption(name: $0.0, value: $0.1) }))
}

private func tftpOACK(_ options: [(String, String)]) -> TFTPPacket {
    .optionAck(options.map { TFTPOption(name: $0.0, value: $0.1) })
}

// In an RRQ for "f", the first option name starts at 10 ("f\0" 2-3, "octet\0" 4-9).
private let tftpUnserializableCases: [TFTPUnserializableCase] = [
    .init("empty file name", tftpRRQ(""), "filename", 2, .invalid("empty file name")),
    .init("NUL in file name", tftpRRQ("a\0b"), "filename", 3, .invalid("NUL in file name")),
    .init("WRQ NUL in file name", .writeRequest(TFTPRequest(filenameBytes: [0x41, 0x00], mode: .netascii)),
          "filename", 3, .invalid("NUL in file name")),
    .init("empty option name", tftpRRQ("f", [("", "1")]), "option name", 10, .invalid("empty option name")),
    .init("NUL in option name", tftpRRQ("f", [("bl\0k", "1")]), "option name", 12, .invalid("NUL in option name")),
    .init("NUL in option value", tftpRRQ("f", [("x", "a\0")]), "option value", 13, .invalid("NUL in option value")),
    .init("RRQ blksize 7", tftpRRQ("f", [("blksize", "7")]), "option blksize", 18,
          .outOfRange(value: 7, allowed: 8...65464)),
    .init("RRQ second option bad", tftpRRQ("f", [("tsize", "0"), ("Timeout", "1.5")]), "option timeout", 26,
          .invalid("not a decimal number")),
    .init("OACK blksize 65465", tftpOACK([("blksize", "65465")]), "option blksize", 10,
          .outOfRange(value: 65465, allowed: 8...65464)),
    .init("OACK timeout non-numeric", tftpOACK([("timeout", "abc")]), "option timeout", 10,
          .invalid("not a decimal number")),
    .init("OACK timeout 256", tftpOACK([("timeout", "256")]), "option timeout", 10,
          .outOfRange(value: 256, allowed: 1...255)),
    .init("OACK windowsize 0", tftpOACK([("windowsize", "0")]), "option windowsize", 13,
          .outOfRange(value: 0, allowed: 1...65535)),
    .init("OACK tsize negative", tftpOACK([("blksize", "512"), ("TSIZE", "-5")]), "option tsize", 20,
          .outOfRange(value: -5, allowed: 0...Int.max)),
    .init("OACK without options", .optionAck([]), "options", 2, .invalid("OACK without options")),
    .init("DATA 65465 octets", .data(block: 1, payload: [UInt8](repeating: 0, count: 65465)), "data", 4,
          .outOfRange(value: 65465, allowed: 0...65464)),
    .init("NUL in error message", .error(TFTPError(code: .fileNotFound, message: "a\0b")), "message", 5,
          .invalid("NUL in error message")),
]

@Suite("TFTP wire format")
struct TFTPWireTests {
    // MARK: 1. Round trips

    @Test("parse(serialize(p)) == p over generated packets", arguments: [1, 2, 0xB007D, 0xDEAD_BEEF, 20_260_127] as [UInt64])
    func roundTrip(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        for index in 0..<2_000 {
            let packet = tftpRandomPacket(&rng)
            let bytes: [UInt8]
            let parsed: TFTPPacket
            do {
                bytes = try packet.serialized()
                parsed = try TFTPPacket(parsing: bytes)
            } catch {
                Issue.record("seed \(seed), packet \(index): \(packet): \(error)")
                return
            }
            #expect(parsed == packet, "seed \(seed), packet \(index)")
            if parsed != packet { return }
            // Generated options are all valid; validation must accept them.
            if case let .readRequest(request) = parsed {
                #expect(throws: Never.self, "seed \(seed), packet \(index)") { try request.transferOptions() }
            }
        }
    }

    // MARK: 2. Malformed input

    @Test("malformed packets fail with the exact WireError", arguments: tftpMalformedCases)
    func malformed(_ c: TFTPMalformedCase) {
        #expect(throws: c.error) { try TFTPPacket(parsing: c.bytes) }
    }

    @Test("bad option values parse, then fail validation with the exact WireError", arguments: tftpOptionCases)
    func badOptionValue(_ c: TFTPOptionCase) throws {
        let packet = try TFTPPacket(parsing: c.bytes)  // the parser never judges option values
        guard case let .readRequest(request) = packet else {
            Issue.record("not an RRQ: \(packet)")
            return
        }
        #expect(throws: c.error) { try request.transferOptions() }
        let (options, rejected) = TFTPTransferOptions.validatingLeniently(request.options)
        #expect(rejected == [c.error])
        #expect(options.options.count == request.options.count - 1)  // only the bad one is dropped
    }

    @Test("lenient validation keeps good options and reports bad ones in wire order")
    func lenientValidation() throws {
        let bytes = tftpBytes(1, "f\0octet\0blksize\07\0tsize\00\0utimeout\0500000\0windowsize\04\0timeout\0x\0")
        guard case let .readRequest(request) = try TFTPPacket(parsing: bytes) else {
            Issue.record("not an RRQ")
            return
        }
        let (options, rejected) = TFTPTransferOptions.validatingLeniently(request.options)
        #expect(options == TFTPTransferOptions(
            tsize: 0, windowsize: 4, unrecognized: [TFTPOption(name: "utimeout", value: "500000")]))
        #expect(rejected == [
            WireError(field: "option blksize", offset: 18, reason: .outOfRange(value: 7, allowed: 8...65464)),
            WireError(field: "option timeout", offset: 65, reason: .invalid("not a decimal number")),
        ])
        // What a server would put in its OACK: known options only, never utimeout.
        #expect(options.options == [TFTPOption(name: "tsize", value: "0"), TFTPOption(name: "windowsize", value: "4")])
    }

    @Test("duplicate options: every one is validated, the last valid one wins")
    func duplicateOptions() throws {
        let twice = [TFTPOption(name: "blksize", value: "1024"), TFTPOption(name: "BlkSize", value: "1468")]
        #expect(try TFTPTransferOptions(validating: twice).blksize == 1468)

        let badLast = [
            TFTPOption(name: "blksize", value: "1024", valueOffset: 21),
            TFTPOption(name: "blksize", value: "7", valueOffset: 34),
        ]
        #expect(throws: WireError(field: "option blksize", offset: 34, reason: .outOfRange(value: 7, allowed: 8...65464))) {
            try TFTPTransferOptions(validating: badLast)
        }
        let (lenient, rejected) = TFTPTransferOptions.validatingLeniently(badLast)
        #expect(lenient.blksize == 1024)
        #expect(rejected.count == 1)
    }

    @Test("option names match ASCII case-insensitively only")
    func optionNameCase() throws {
        #expect(TFTPOption(name: "WindowSize", value: "1").isNamed("windowsize"))
        #expect(TFTPOption(name: "TSIZE", value: "1").isNamed(TFTPOption.tsize))
        // U+212A KELVIN SIGN lowercases to "k" in Unicode; it must not pass for "blksize".
        let kelvin = TFTPOption(name: "bl\u{212A}size", value: "7")
        #expect(!kelvin.isNamed("blksize"))
        #expect(try TFTPTransferOptions(validating: [kelvin]) == TFTPTransferOptions(unrecognized: [kelvin]))
        #expect(!TFTPOption(name: "blksize2", value: "1").isNamed("blksize"))
        #expect(!TFTPOption(name: "blksiz", value: "1").isNamed("blksize"))
    }

    @Test("boundary values of every known option are accepted")
    func optionBoundaries() throws {
        let cases: [(String, Int)] = [
            ("blksize", 8), ("blksize", 65464), ("timeout", 1), ("timeout", 255),
            ("tsize", 0), ("tsize", Int.max), ("windowsize", 1), ("windowsize", 65535),
        ]
        for (name, value) in cases {
            let options = try TFTPTransferOptions(validating: [TFTPOption(name: name, value: String(value))])
            #expect(options.options == [TFTPOption(name: name, value: String(value))], "\(name)=\(value)")
        }
        // Leading zeros are still decimal.
        #expect(try TFTPTransferOptions(validating: [TFTPOption(name: "blksize", value: "01468")]).blksize == 1468)
    }

    // MARK: 3. Known bytes

    @Test("RRQ as EDK2 (UEFI PXE) sends it")
    func edk2ReadRequest() throws {
        let bytes = tftpBytes(1, "EFI/BOOT/BOOTX64.EFI\0octet\0tsize\00\0blksize\01468\0windowsize\04\0")
        let packet = try TFTPPacket(parsing: bytes)
        #expect(packet.opcode == .readRequest)
        guard case let .readRequest(request) = packet else {
            Issue.record("not an RRQ: \(packet)")
            return
        }
        #expect(request.filename == "EFI/BOOT/BOOTX64.EFI")
        #expect(request.filenameBytes == Array("EFI/BOOT/BOOTX64.EFI".utf8))
        #expect(request.mode == .octet)
        #expect(request.options.map(\.name) == ["tsize", "blksize", "windowsize"])
        #expect(request.options.map(\.value) == ["0", "1468", "4"])
        // "EFI/BOOT/BOOTX64.EFI\0" 2-22, "octet\0" 23-28, "tsize\0" 29-34, "0\0" 35-36,
        // "blksize\0" 37-44, "1468\0" 45-49, "windowsize\0" 50-60, "4\0" 61-62.
        #expect(request.options.map(\.valueOffset) == [35, 45, 61])
        #expect(try request.transferOptions() == TFTPTransferOptions(blksize: 1468, tsize: 0, windowsize: 4))
        #expect(try packet.serialized() == bytes)
    }

    @Test("RRQ as atftp sends it with --option blksize and --option windowsize")
    func atftpReadRequest() throws {
        let bytes = tftpBytes(1, "pxelinux.0\0octet\0blksize\01428\0windowsize\08\0")
        guard case let .readRequest(request) = try TFTPPacket(parsing: bytes) else {
            Issue.record("not an RRQ")
            return
        }
        #expect(request.filename == "pxelinux.0")
        #expect(request.mode == .octet)
        #expect(request.options == [
            TFTPOption(name: "blksize", value: "1428"), TFTPOption(name: "windowsize", value: "8"),
        ])
        #expect(request.options.map(\.valueOffset) == [27, 43])
        #expect(try request.transferOptions() == TFTPTransferOptions(blksize: 1428, windowsize: 8))
    }

    @Test("RRQ as tftp-hpa sends it with no options (default netascii mode)")
    func tftpHPAReadRequest() throws {
        let bytes = tftpBytes(1, "pxelinux.cfg/default\0netascii\0")
        let packet = try TFTPPacket(parsing: bytes)
        #expect(packet == .readRequest(TFTPRequest(filename: "pxelinux.cfg/default", mode: .netascii)))
        #expect(try packet.serialized() == bytes)
    }

    @Test("WRQ, upper-case mode and option names, utimeout kept raw")
    func writeRequestMixedCase() throws {
        let bytes = tftpBytes(2, "upload.bin\0OCTET\0TSize\01048576\0utimeout\010000\0")
        guard case let .writeRequest(request) = try TFTPPacket(parsing: bytes) else {
            Issue.record("not a WRQ")
            return
        }
        #expect(request.mode == .octet)
        #expect(request.options.map(\.name) == ["TSize", "utimeout"])  // kept as sent
        #expect(try request.transferOptions() == TFTPTransferOptions(
            tsize: 1_048_576, unrecognized: [TFTPOption(name: "utimeout", value: "10000")]))
        // Serialization writes the mode in lower case; names are echoed as given.
        #expect(try TFTPPacket.writeRequest(request).serialized()
            == tftpBytes(2, "upload.bin\0octet\0TSize\01048576\0utimeout\010000\0"))
    }

    @Test("mail mode and a non-UTF-8 file name")
    func octetFilename() throws {
        let bytes: [UInt8] = [0, 1, 0x62, 0xE9, 0x2E, 0x62, 0x69, 0x6E, 0] + Array("MaIl\0".utf8)
        guard case let .readRequest(request) = try TFTPPacket(parsing: bytes) else {
            Issue.record("not an RRQ")
            return
        }
        #expect(request.filenameBytes == [0x62, 0xE9, 0x2E, 0x62, 0x69, 0x6E])
        #expect(request.filename == nil)  // Latin-1 "bé.bin" is not UTF-8
        #expect(request.mode == .mail)
        #expect(TFTPRequest(filename: "été/☃.efi").filename == "été/☃.efi")
    }

    @Test("trailing NULs after a request or OACK are padding")
    func nulPadding() throws {
        #expect(try TFTPPacket(parsing: tftpBytes(1, "f\0octet\0\0\0\0"))
            == .readRequest(TFTPRequest(filename: "f", mode: .octet)))
        #expect(try TFTPPacket(parsing: tftpBytes(1, "f\0octet\0blksize\0512\0\0"))
            == tftpRRQ("f", [("blksize", "512")]))
        // An OACK with no options parses (but never serializes).
        #expect(try TFTPPacket(parsing: [0, 6]) == .optionAck([]))
        #expect(try TFTPPacket(parsing: [0, 6, 0]) == .optionAck([]))
        // An empty option value is kept as such; validation judges it.
        #expect(try TFTPPacket(parsing: tftpBytes(1, "f\0octet\0x\0\0")) == tftpRRQ("f", [("x", "")]))
    }

    @Test("DATA and ACK: exact bytes, empty payload, lenient ACK")
    func dataAndAck() throws {
        #expect(try TFTPPacket.data(block: 0x0102, payload: [9, 8, 7]).serialized() == [0, 3, 1, 2, 9, 8, 7])
        #expect(try TFTPPacket(parsing: [0, 3, 0xFF, 0xFF]) == .data(block: 65535, payload: []))
        let full = [UInt8](repeating: 0x5A, count: 65464)
        #expect(try TFTPPacket(parsing: [0, 3, 0, 1] + full) == .data(block: 1, payload: full))
        #expect(try TFTPPacket.ack(block: 513).serialized() == [0, 4, 2, 1])
        // Bytes after an ACK's block number are ignored.
        #expect(try TFTPPacket(parsing: [0, 4, 0, 1, 0xDE, 0xAD]) == .ack(block: 1))
    }

    @Test("ERROR: exact bytes, missing NUL accepted, unknown code kept")
    func errorPackets() throws {
        let error = TFTPPacket.error(TFTPError(code: .fileNotFound, message: "File not found"))
        #expect(try error.serialized() == tftpBytes(5, "\0\u{1}File not found\0"))
        #expect(try TFTPPacket(parsing: tftpBytes(5, "\0\u{1}File not found\0")) == error)
        // No NUL after the message: the message runs to the end of the packet.
        #expect(try TFTPPacket(parsing: tftpBytes(5, "\0\u{1}File not found")) == error)
        // Bytes after the NUL are ignored.
        #expect(try TFTPPacket(parsing: tftpBytes(5, "\0\u{1}File not found\0junk")) == error)
        #expect(try TFTPPacket(parsing: [0, 5, 0, 8]) == .error(TFTPError(code: .optionNegotiationRefused)))
        let unknown = try TFTPPacket(parsing: [0, 5, 0x01, 0x00, 0x68, 0x69, 0])
        #expect(unknown == .error(TFTPError(code: TFTPErrorCode(256), message: "hi")))
        #expect(!TFTPErrorCode(9).isDefined && TFTPErrorCode.noSuchUser.isDefined)
        #expect(TFTPErrorCode.optionNegotiationRefused.rawValue == 8)
        #expect(TFTPErrorCode.unknownTransferID.description == "5 (unknown transfer ID)")
        #expect(try TFTPPacket.error(TFTPError(code: TFTPErrorCode(0xABCD), message: "")).serialized()
            == [0, 5, 0xAB, 0xCD, 0])
    }

    @Test("OACK: exact bytes, built from negotiated options")
    func optionAckBytes() throws {
        let negotiated = TFTPTransferOptions(blksize: 1468, tsize: 123_456, windowsize: 4)
        let oack = TFTPPacket.optionAck(negotiated.options)
        #expect(try oack.serialized() == tftpBytes(6, "blksize\01468\0tsize\0123456\0windowsize\04\0"))
        let parsed = try TFTPPacket(parsing: tftpBytes(6, "blksize\01468\0tsize\0123456\0windowsize\04\0"))
        #expect(parsed == oack)
        guard case let .optionAck(options) = parsed else { return }
        #expect(options.map(\.valueOffset) == [10, 21, 39])
        #expect(try TFTPTransferOptions(validating: options) == negotiated)
    }

    @Test("valueOffset is provenance: it takes no part in equality or hashing")
    func valueOffsetNotSalient() {
        let a = TFTPOption(name: "blksize", value: "512", valueOffset: 21)
        let b = TFTPOption(name: "blksize", value: "512")
        #expect(a == b)
        #expect(Set([a, b]).count == 1)
        #expect(a != TFTPOption(name: "BLKSIZE", value: "512"))
    }

    // MARK: 4. Invalid values never serialize

    @Test("invalid values throw instead of serializing", arguments: tftpUnserializableCases)
    func unserializable(_ c: TFTPUnserializableCase) {
        #expect(throws: c.error) { try c.packet.serialized() }
    }

    @Test("corrupting a valid packet's value makes serialization throw", arguments: [7, 99] as [UInt64])
    func corruptedValuesThrow(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        let badValues: [(String, String)] = [
            ("blksize", "7"), ("blksize", "65465"), ("timeout", "0"), ("timeout", "256"),
            ("tsize", "-1"), ("windowsize", "0"), ("windowsize", "65536"), ("blksize", "1e3"),
        ]
        for index in 0..<1_000 {
            let packet = tftpRandomPacket(&rng)
            let corrupted: TFTPPacket
            switch packet {
            case var .readRequest(r), var .writeRequest(r):
                if Bool.random(using: &rng) {
                    r.filenameBytes.insert(0, at: Int.random(in: 0...r.filenameBytes.count, using: &rng))
                } else {
                    let (name, value) = badValues.randomElement(using: &rng)!
                    r.options.insert(TFTPOption(name: tftpRandomCase(name, &rng), value: value),
                                     at: Int.random(in: 0...r.options.count, using: &rng))
                }
                corrupted = packet.opcode == .readRequest ? .readRequest(r) : .writeRequest(r)
            case .data:
                corrupted = .data(block: 1, payload: [UInt8](repeating: 1, count: 65465 + Int.random(in: 0...100, using: &rng)))
            case .ack:
                continue  // every ACK is representable
            case var .error(e):
                let i = Int.random(in: 0...e.message.unicodeScalars.count, using: &rng)
                e.message.unicodeScalars.insert("\0", at: e.message.unicodeScalars.index(e.message.unicodeScalars.startIndex, offsetBy: i))
                corrupted = .error(e)
            case var .optionAck(options):
                let (name, value) = badValues.randomElement(using: &rng)!
                options.append(TFTPOption(name: name, value: value))
                corrupted = .optionAck(options)
            }
            #expect(throws: WireError.self, "seed \(seed), packet \(index): \(corrupted)") {
                try corrupted.serialized()
            }
        }
    }

    // MARK: 5. No crash

    @Test("100k random and mutated inputs: parse returns or throws WireError, never traps")
    func noCrash() {
        var rng = SplitMix64(seed: 0x7F7F_0001)
        let seeds: [[UInt8]] = [
            tftpBytes(1, "EFI/BOOT/BOOTX64.EFI\0octet\0tsize\00\0blksize\01468\0windowsize\04\0"),
            tftpBytes(2, "f\0netascii\0"),
            tftpBytes(6, "blksize\01468\0tsize\0123456\0"),
            tftpBytes(5, "\0\u{1}File not found\0"),
            [0, 3, 0, 1, 1, 2, 3], [0, 4, 0, 1],
        ]
        var parsed = 0, rejected = 0
        for index in 0..<100_000 {
            var input: [UInt8]
            if index % 2 == 0 {
                // Random bytes, mostly with a plausible opcode.
                input = rng.bytes(Int.random(in: 0...48, using: &rng))
                if input.count >= 2, Int.random(in: 0..<4, using: &rng) != 0 {
                    input[0] = 0
                    input[1] = UInt8.random(in: 0...7, using: &rng)
                }
            } else {
                input = seeds.randomElement(using: &rng)!
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0 where !input.isEmpty:
                        input[Int.random(in: input.indices, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                    case 1 where !input.isEmpty:
                        input[Int.random(in: input.indices, using: &rng)] = 0
                    case 2:
                        input.removeLast(Int.random(in: 0...input.count, using: &rng))
                    case 3:
                        input.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...input.count, using: &rng))
                    default:
                        if !input.isEmpty { input.remove(at: Int.random(in: input.indices, using: &rng)) }
                    }
                }
            }
            do {
                let packet = try TFTPPacket(parsing: input)
                parsed += 1
                if case let .readRequest(r) = packet { _ = TFTPTransferOptions.validatingLeniently(r.options) }
                // Whatever parsed and re-serializes must parse back to itself.
                if let bytes = try? packet.serialized() {
                    #expect(try TFTPPacket(parsing: bytes) == packet, "input \(input)")
                }
            } catch {
                rejected += 1
                #expect((0...input.count).contains(error.offset), "input \(input): \(error)")
            }
        }
        #expect(parsed + rejected == 100_000)
        #expect(parsed > 1_000 && rejected > 1_000)
    }
}
