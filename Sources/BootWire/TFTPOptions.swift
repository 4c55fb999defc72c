// TFTP options: RFC 2347 (option extension), RFC 2348 (blksize), RFC 2349 (timeout,
// tsize), RFC 7440 (windowsize).
//
// Two layers, so that parsing a request never fails because of an odd option value:
// - `TFTPOption` is one name/value pair exactly as it was on the wire (parse keeps every
//   option, known or not, in wire order);
// - `TFTPTransferOptions` is the typed view of the options this library understands,
//   built by validating a list of `TFTPOption`s. A server parses an RRQ, then validates
//   its options, and either ignores the bad ones or refuses with error 8.

/// One RFC 2347 option: a name and a value, both NUL-terminated strings on the wire.
///
/// Names are matched case-insensitively (RFC 2347, "Options ... are case insensitive"),
/// comparing ASCII letters only, so a look-alike such as the Kelvin sign (U+212A) never
/// matches `k`. The name is kept exactly as sent, so an OACK can echo it.
///
/// Names and values are decoded as UTF-8; bytes that are not valid UTF-8 are replaced by
/// U+FFFD. Every option this library understands is plain ASCII, so such an option can
/// only ever be an unknown one, and a server never echoes unknown options.
///
/// `valueOffset` is where the value started in the packet it was parsed from (nil for an
/// option built in code). It is provenance, not content: it takes no part in `==` or
/// hashing, so two options are equal when they say the same thing on the wire.
public struct TFTPOption: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var value: String
    /// Byte offset of the value within the packet it was parsed from, or nil.
    public var valueOffset: Int?

    public init(name: String, value: String, valueOffset: Int? = nil) {
        self.name = name
        self.value = value
        self.valueOffset = valueOffset
    }

    /// RFC 2348 `blksize`.
    public static let blksize = "blksize"
    /// RFC 2349 `timeout` (whole seconds).
    public static let timeout = "timeout"
    /// RFC 2349 `tsize`.
    public static let tsize = "tsize"
    /// RFC 7440 `windowsize`.
    public static let windowsize = "windowsize"

    /// Whether this option's name is `name`, ignoring ASCII case (RFC 2347).
    public func isNamed(_ name: String) -> Bool {
        tftpASCIICaseInsensitiveEqual(self.name, name)
    }

    public static func == (l: TFTPOption, r: TFTPOption) -> Bool {
        l.name == r.name && l.value == r.value
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(value)
    }

    public var description: String { "\(name)=\(value)" }
}

/// The options this library understands, with typed, range-checked values.
///
/// Built from the options of an RRQ/WRQ (what the client asks for) or of an OACK (what the
/// server granted). An option the library does not know (e.g. tftp-hpa's `utimeout`, in
/// microseconds, or `rollover`) is kept raw in `unrecognized`.
///
/// Values must be plain decimal numbers: ASCII digits, leading zeros allowed, an optional
/// leading `-` (so that a negative value is reported as out of range rather than as
/// garbage); no `+`, spaces, fractions ("1.5") or units.
///
/// Duplicates: RFC 2347 says nothing. tftpd-hpa handles each occurrence in turn, so the
/// last valid one sets the value (and it echoes every one in its OACK). Here every
/// occurrence is validated, and the last valid one wins; a server builds its OACK from
/// the resulting single values, so each option is acknowledged once.
public struct TFTPTransferOptions: Hashable, Sendable {
    /// RFC 2348: block size in octets, 8...65464.
    public var blksize: Int?
    /// RFC 2349: retransmission timeout in whole seconds, 1...255.
    public var timeout: Int?
    /// RFC 2349: transfer size in octets, >= 0. In an RRQ, 0 means "tell me the size".
    public var tsize: Int?
    /// RFC 7440: number of blocks per window, 1...65535.
    public var windowsize: Int?
    /// Options with names this library does not know, raw and in wire order.
    public var unrecognized: [TFTPOption]

    /// RFC 2348 section "Blocksize Option Specification": "Valid values range between
    /// "8" and "65464" octets, inclusive."
    public static let blksizeRange: ClosedRange<Int> = 8...65464
    /// RFC 2349 section "Timeout Interval Option Specification": "Valid values range
    /// between "1" and "255" seconds inclusive."
    public static let timeoutRange: ClosedRange<Int> = 1...255
    /// RFC 2349 section "Transfer Size Option Specification": the size in octets, 0 in an
    /// RRQ asking the server for it.
    public static let tsizeRange: ClosedRange<Int> = 0...Int.max
    /// RFC 7440 section 3: "Valid values range between 1 and 65535 blocks, inclusive."
    public static let windowsizeRange: ClosedRange<Int> = 1...65535

    public init(
        blksize: Int? = nil, timeout: Int? = nil, tsize: Int? = nil, windowsize: Int? = nil,
        unrecognized: [TFTPOption] = []
    ) {
        self.blksize = blksize
        self.timeout = timeout
        self.tsize = tsize
        self.windowsize = windowsize
        self.unrecognized = unrecognized
    }

    /// Strict validation: the first bad value of a known option throws.
    ///
    /// The error names the field `"option blksize"` (etc.) and the offset of the value in
    /// the packet (`valueOffset`, or 0 for an option built in code), with reason
    /// `.outOfRange(value:allowed:)` or `.invalid("not a decimal number")` /
    /// `.invalid("number too large")`.
    public init(validating options: [TFTPOption]) throws(WireError) {
        self.init()
        for option in options {
            try apply(option, valueOffset: option.valueOffset ?? 0)
        }
    }

    /// Lenient validation, for a server that ignores the options it cannot honour (RFC
    /// 2347: the server "should simply omit the option from the OACK"): every bad value is
    /// skipped and reported in `rejected`, in wire order; the good ones are kept.
    public static func validatingLeniently(
        _ options: [TFTPOption]
    ) -> (options: TFTPTransferOptions, rejected: [WireError]) {
        var result = TFTPTransferOptions()
        var rejected: [WireError] = []
        for option in options {
            do {
                try result.apply(option, valueOffset: option.valueOffset ?? 0)
            } catch {
                rejected.append(error)
            }
        }
        return (result, rejected)
    }

    /// The known options as wire options, in a fixed order (blksize, timeout, tsize,
    /// windowsize) with lowercase names. `unrecognized` is deliberately left out: an OACK
    /// must list only options the server accepts (RFC 2347, "Negotiation Protocol"); a
    /// client that wants to send unknown options appends them itself.
    public var options: [TFTPOption] {
        var out: [TFTPOption] = []
        if let blksize { out.append(TFTPOption(name: TFTPOption.blksize, value: String(blksize))) }
        if let timeout { out.append(TFTPOption(name: TFTPOption.timeout, value: String(timeout))) }
        if let tsize { out.append(TFTPOption(name: TFTPOption.tsize, value: String(tsize))) }
        if let windowsize {
            out.append(TFTPOption(name: TFTPOption.windowsize, value: String(windowsize)))
        }
        return out
    }

    private mutating func apply(_ option: TFTPOption, valueOffset: Int) throws(WireError) {
        guard let (known, value) = try Self.check(option, valueOffset: valueOffset) else {
            unrecognized.append(option)
            return
        }
        switch known {
        case .blksize: blksize = value
        case .timeout: timeout = value
        case .tsize: tsize = value
        case .windowsize: windowsize = value
        }
    }

    enum Known: CaseIterable {
        case blksize, timeout, tsize, windowsize

        var name: String {
            switch self {
            case .blksize: TFTPOption.blksize
            case .timeout: TFTPOption.timeout
            case .tsize: TFTPOption.tsize
            case .windowsize: TFTPOption.windowsize
            }
        }

        var range: ClosedRange<Int> {
            switch self {
            case .blksize: TFTPTransferOptions.blksizeRange
            case .timeout: TFTPTransferOptions.timeoutRange
            case .tsize: TFTPTransferOptions.tsizeRange
            case .windowsize: TFTPTransferOptions.windowsizeRange
            }
        }
    }

    /// Validates one option: nil when its name is not a known one; otherwise its typed
    /// value, or a `WireError` at `valueOffset`. Shared with the serializer, which passes
    /// the offset the value will have in the packet it is building.
    static func check(_ option: TFTPOption, valueOffset: Int) throws(WireError) -> (Known, Int)? {
        guard let known = Known.allCases.first(where: { option.isNamed($0.name) }) else {
            return nil
        }
        let field = "option \(known.name)"
        let value: Int
        switch tftpParseDecimal(option.value) {
        case .notANumber:
            throw WireError(field: field, offset: valueOffset, reason: .invalid("not a decimal number"))
        case .tooLarge:
            throw WireError(field: field, offset: valueOffset, reason: .invalid("number too large"))
        case let .number(n):
            value = n
        }
        guard known.range.contains(value) else {
            throw WireError(field: field, offset: valueOffset, reason: .outOfRange(value: value, allowed: known.range))
        }
        return (known, value)
    }
}

enum TFTPDecimal: Equatable {
    case number(Int)
    case notANumber
    case tooLarge
}

/// Parses `-?[0-9]+` exactly; anything else (empty, `+`, spaces, fractions) is not a number.
func tftpParseDecimal(_ text: String) -> TFTPDecimal {
    var utf8 = Substring(text).utf8[...]
    var negative = false
    if utf8.first == UInt8(ascii: "-") {
        negative = true
        utf8 = utf8.dropFirst()
    }
    guard !utf8.isEmpty else { return .notANumber }
    var value = 0
    var overflow = false
    for byte in utf8 {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return .notANumber }
        if overflow { continue }
        let digit = Int(byte - UInt8(ascii: "0"))
        let (times10, o1) = value.multipliedReportingOverflow(by: 10)
        let (next, o2) = negative
            ? times10.subtractingReportingOverflow(digit)
            : times10.addingReportingOverflow(digit)
        if o1 || o2 { overflow = true } else { value = next }
    }
    return overflow ? .tooLarge : .number(value)
}

/// ASCII-only case-insensitive comparison (RFC 2347 option names, RFC 1350 modes).
func tftpASCIICaseInsensitiveEqual(_ a: String, _ b: String) -> Bool {
    tftpASCIICaseInsensitiveEqual(Array(a.utf8), b)
}

func tftpASCIICaseInsensitiveEqual(_ a: [UInt8], _ b: String) -> Bool {
    var bi = b.utf8.makeIterator()
    for x in a {
        guard let y = bi.next(), tftpASCIILower(x) == tftpASCIILower(y) else { return false }
    }
    return bi.next() == nil
}

@inline(__always)
private func tftpASCIILower(_ byte: UInt8) -> UInt8 {
    (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) ? byte | 0x20 : byte
}
