/// A sub-option inside an encapsulating option (43 vendor, 82 relay agent, 175 iPXE).
public struct DHCPSubOption: Hashable, Sendable {
    public var code: UInt8
    public var data: [UInt8]
    public init(code: UInt8, data: [UInt8]) { self.code = code; self.data = data }
}

extension OptionContext {
    /// Reads `code, length, data` sub-options. With `padAndEnd`, 0 is padding and 255 ends
    /// the list (PXE 2.1 vendor options, iPXE's 175); without, every code is data (RFC 3046).
    func subOptions(_ d: [UInt8], padAndEnd: Bool) throws(WireError) -> [DHCPSubOption] {
        var out: [DHCPSubOption] = []
        var i = 0
        let base = offset < 0 ? -1 : offset + 2
        func at(_ k: Int) -> Int { base < 0 ? -1 : base + k }
        while i < d.count {
            let code = d[i]
            if padAndEnd && code == 0 { i += 1; continue }
            if padAndEnd && code == 255 { break }
            guard i + 1 < d.count else {
                throw WireError(field: "option \(self.code).\(code) length", offset: at(i + 1),
                                reason: .truncated(needed: 1, available: 0))
            }
            let length = Int(d[i + 1])
            guard i + 2 + length <= d.count else {
                throw WireError(field: "option \(self.code).\(code)", offset: at(i + 2),
                                reason: .truncated(needed: length, available: d.count - i - 2))
            }
            out.append(DHCPSubOption(code: code, data: Array(d[i + 2..<i + 2 + length])))
            i += 2 + length
        }
        return out
    }

    func encodeSubOptions(_ subs: [DHCPSubOption], padAndEnd: Bool) throws(WireError) -> [UInt8] {
        var out: [UInt8] = []
        for s in subs {
            if padAndEnd && (s.code == 0 || s.code == 255) {
                throw WireError(field: "option \(code).\(s.code)", offset: -1, reason: .invalid("PAD and END are not sub-options"))
            }
            if s.data.count > 255 {
                throw WireError(field: "option \(code).\(s.code)", offset: -1,
                                reason: .outOfRange(value: s.data.count, allowed: 0...255))
            }
            out.append(s.code); out.append(UInt8(s.data.count)); out += s.data
        }
        if padAndEnd { out.append(255) }
        return out
    }
}

// MARK: - 43: PXE vendor options (PXE 2.1 specification, section 2.4)

/// Discovery control bits (PXE 2.1 sub-option 6).
public struct PXEDiscoveryControl: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// Bit 0: do not discover boot servers by broadcast.
    public static let disableBroadcast = Self(rawValue: 1)
    /// Bit 1: do not discover boot servers by multicast.
    public static let disableMulticast = Self(rawValue: 2)
    /// Bit 2: only use/accept servers in the boot servers list (sub-option 8).
    public static let onlyListedServers = Self(rawValue: 4)
    /// Bit 3: the boot file name in this offer is final: download it, no menu, no discovery.
    public static let useBootFile = Self(rawValue: 8)
}

/// One entry of PXE 2.1 sub-option 8 (boot servers).
public struct PXEBootServer: Hashable, Sendable {
    public var type: UInt16
    public var addresses: [IPv4Address]
    public init(type: UInt16, addresses: [IPv4Address]) { self.type = type; self.addresses = addresses }
}

/// One entry of PXE 2.1 sub-option 9 (boot menu).
public struct PXEBootMenuItem: Hashable, Sendable {
    public var type: UInt16
    public var description: String
    public init(type: UInt16, description: String) { self.type = type; self.description = description }
}

/// PXE 2.1 sub-option 10 (menu prompt): seconds to wait (255 = until a key) and the text.
public struct PXEMenuPrompt: Hashable, Sendable {
    public var timeout: UInt8
    public var prompt: String
    public init(timeout: UInt8, prompt: String) { self.timeout = timeout; self.prompt = prompt }
}

/// PXE 2.1 sub-option 71 (boot item): server type and layer.
public struct PXEBootItem: Hashable, Sendable {
    public var type: UInt16
    public var layer: UInt16
    public init(type: UInt16, layer: UInt16) { self.type = type; self.layer = layer }
}

/// Option 43 as PXE clients and servers use it: a list of sub-options ended by 255.
/// Unknown sub-options are kept in order; typed accessors read and write the known ones.
public struct PXEVendorOptions: Hashable, Sendable {
    public var subOptions: [DHCPSubOption]
    public init(_ subOptions: [DHCPSubOption] = []) { self.subOptions = subOptions }

    public subscript(code: UInt8) -> [UInt8]? {
        get { subOptions.first { $0.code == code }?.data }
        set {
            if let i = subOptions.firstIndex(where: { $0.code == code }) {
                if let newValue { subOptions[i].data = newValue } else { subOptions.remove(at: i) }
            } else if let newValue { subOptions.append(DHCPSubOption(code: code, data: newValue)) }
        }
    }

    static func u16(_ d: ArraySlice<UInt8>) -> UInt16 { UInt16(d[d.startIndex]) << 8 | UInt16(d[d.startIndex + 1]) }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
    static func bad(_ code: UInt8, _ text: String) -> WireError {
        WireError(field: "option 43.\(code)", offset: -1, reason: .invalid(text))
    }

    /// Sub-option 6.
    public var discoveryControl: PXEDiscoveryControl? {
        get { self[6].flatMap { $0.count == 1 ? PXEDiscoveryControl(rawValue: $0[0]) : nil } }
        set { self[6] = newValue.map { [$0.rawValue] } }
    }

    /// Sub-option 7: discovery multicast address.
    public var discoveryMulticastAddress: IPv4Address? {
        get { self[7].flatMap { IPv4Address(bytes: $0) } }
        set { self[7] = newValue?.bytes }
    }

    /// Sub-option 8: boot servers, `type(2) count(1) address(4)*count` repeated.
    public func bootServers() throws(WireError) -> [PXEBootServer]? {
        guard let d = self[8] else { return nil }
        var out: [PXEBootServer] = []
        var i = 0
        while i < d.count {
            guard i + 3 <= d.count else { throw Self.bad(8, "boot server entry truncated at byte \(i)") }
            let type = Self.u16(d[i..<i + 2]), n = Int(d[i + 2])
            guard i + 3 + 4 * n <= d.count else { throw Self.bad(8, "boot server list of \(n) truncated at byte \(i)") }
            let addrs = (0..<n).map { IPv4Address(bytes: d[i + 3 + 4 * $0..<i + 7 + 4 * $0])! }
            out.append(PXEBootServer(type: type, addresses: addrs))
            i += 3 + 4 * n
        }
        return out
    }
    public mutating func setBootServers(_ servers: [PXEBootServer]?) throws(WireError) {
        guard let servers else { self[8] = nil; return }
        var d: [UInt8] = []
        for s in servers {
            guard s.addresses.count <= 255 else { throw Self.bad(8, "more than 255 addresses") }
            d += Self.be16(s.type) + [UInt8(s.addresses.count)] + s.addresses.flatMap(\.bytes)
        }
        guard d.count <= 255 else { throw Self.bad(8, "\(d.count) bytes, at most 255") }
        self[8] = d
    }

    /// Sub-option 9: boot menu, `type(2) length(1) description` repeated.
    public func bootMenu() throws(WireError) -> [PXEBootMenuItem]? {
        guard let d = self[9] else { return nil }
        var out: [PXEBootMenuItem] = []
        var i = 0
        while i < d.count {
            guard i + 3 <= d.count else { throw Self.bad(9, "menu entry truncated at byte \(i)") }
            let type = Self.u16(d[i..<i + 2]), n = Int(d[i + 2])
            guard i + 3 + n <= d.count else { throw Self.bad(9, "menu description truncated at byte \(i)") }
            out.append(PXEBootMenuItem(type: type, description: String(decoding: d[i + 3..<i + 3 + n], as: UTF8.self)))
            i += 3 + n
        }
        return out
    }
    public mutating func setBootMenu(_ items: [PXEBootMenuItem]?) throws(WireError) {
        guard let items else { self[9] = nil; return }
        var d: [UInt8] = []
        for item in items {
            let text = Array(item.description.utf8)
            guard text.count <= 255 else { throw Self.bad(9, "description longer than 255 bytes") }
            d += Self.be16(item.type) + [UInt8(text.count)] + text
        }
        guard d.count <= 255 else { throw Self.bad(9, "\(d.count) bytes, at most 255") }
        self[9] = d
    }

    /// Sub-option 10: menu prompt.
    public func menuPrompt() throws(WireError) -> PXEMenuPrompt? {
        guard let d = self[10] else { return nil }
        guard !d.isEmpty else { throw Self.bad(10, "empty") }
        return PXEMenuPrompt(timeout: d[0], prompt: String(decoding: d.dropFirst(), as: UTF8.self))
    }
    public mutating func setMenuPrompt(_ p: PXEMenuPrompt?) throws(WireError) {
        guard let p else { self[10] = nil; return }
        let d = [p.timeout] + Array(p.prompt.utf8)
        guard d.count <= 255 else { throw Self.bad(10, "\(d.count) bytes, at most 255") }
        self[10] = d
    }

    /// Sub-option 71: boot item.
    public func bootItem() throws(WireError) -> PXEBootItem? {
        guard let d = self[71] else { return nil }
        guard d.count == 4 else { throw Self.bad(71, "length \(d.count), must be 4") }
        return PXEBootItem(type: Self.u16(d[0..<2]), layer: Self.u16(d[2..<4]))
    }
    public mutating func setBootItem(_ item: PXEBootItem?) {
        self[71] = item.map { Self.be16($0.type) + Self.be16($0.layer) }
    }
}

extension DHCPOptionKey where Value == PXEVendorOptions {
    /// 43 in PXE form (PXE 2.1 section 2.4).
    public static var pxeVendorOptions: Self {
        Self(code: 43, decode: { d, c throws(WireError) in
            PXEVendorOptions(try c.subOptions(d, padAndEnd: true))
        }, encode: { v, c throws(WireError) in
            try c.encodeSubOptions(v.subOptions, padAndEnd: true)
        })
    }
}

// MARK: - 82: relay agent information (RFC 3046)

public struct RelayAgentInformation: Hashable, Sendable {
    public var subOptions: [DHCPSubOption]
    public init(_ subOptions: [DHCPSubOption]) { self.subOptions = subOptions }
    /// Sub-option 1.
    public var circuitID: [UInt8]? { subOptions.first { $0.code == 1 }?.data }
    /// Sub-option 2.
    public var remoteID: [UInt8]? { subOptions.first { $0.code == 2 }?.data }
    /// Sub-option 5 (RFC 3527): the subnet the client is on, when it differs from giaddr's.
    public var linkSelection: IPv4Address? {
        subOptions.first { $0.code == 5 }.flatMap { IPv4Address(bytes: $0.data) }
    }
}

extension DHCPOptionKey where Value == RelayAgentInformation {
    public static var relayAgentInformation: Self {
        Self(code: 82, decode: { d, c throws(WireError) in
            try c.requireLength(d, 2...Int.max)
            return RelayAgentInformation(try c.subOptions(d, padAndEnd: false))
        }, encode: { v, c throws(WireError) in
            try c.encodeSubOptions(v.subOptions, padAndEnd: false)
        })
    }
}

// MARK: - 175: iPXE encapsulated options

extension DHCPOptionKey where Value == [DHCPSubOption] {
    /// 175: iPXE's encapsulated options (e.g. 176 = skip the proxyDHCP wait, feature flags
    /// such as 19 = HTTP, 21 = PXE extensions, 23 = DNS...). Sent by iPXE in requests.
    public static var iPXEEncapsulated: Self {
        Self(code: 175, decode: { d, c throws(WireError) in
            try c.subOptions(d, padAndEnd: true)
        }, encode: { v, c throws(WireError) in
            var e = try c.encodeSubOptions(v, padAndEnd: true)
            e.removeLast() // iPXE's own encoding carries no END inside 175
            return e
        })
    }
}

// MARK: - 61: client identifier (RFC 2132 section 9.14)

public struct ClientIdentifier: Hashable, Sendable {
    /// Hardware type (1 = Ethernet), or 0 for an opaque identifier, 255 for RFC 4361.
    public var type: UInt8
    public var identifier: [UInt8]
    public init(type: UInt8, identifier: [UInt8]) { self.type = type; self.identifier = identifier }
}

extension DHCPOptionKey where Value == ClientIdentifier {
    public static var clientIdentifier: Self {
        Self(code: 61, decode: { d, c throws(WireError) in
            try c.requireLength(d, 2...Int.max)
            return ClientIdentifier(type: d[0], identifier: Array(d.dropFirst()))
        }, encode: { v, c throws(WireError) in
            if v.identifier.isEmpty { throw c.error(.invalid("empty identifier")) }
            return [v.type] + v.identifier
        })
    }
}

// MARK: - 77: user class (RFC 3004)

/// Option 77. RFC 3004 encodes a list of length-prefixed classes; iPXE and some other
/// clients send one plain string (`iPXE`) instead. Both forms are read and kept as sent.
public enum UserClass: Hashable, Sendable {
    case rfc3004([[UInt8]])
    case plain([UInt8])

    /// Each class as text.
    public var classes: [String] {
        switch self {
        case let .rfc3004(list): list.map { String(decoding: $0, as: UTF8.self) }
        case let .plain(b): [String(decoding: b, as: UTF8.self)]
        }
    }
    public func contains(_ name: String) -> Bool { classes.contains(name) }

    /// RFC 3004 form when the bytes are exactly a list of (length >= 1, data); else plain.
    public init(decoding d: [UInt8]) {
        var list: [[UInt8]] = []
        var i = 0
        while i < d.count {
            let n = Int(d[i])
            guard n >= 1, i + 1 + n <= d.count else { self = .plain(d); return }
            list.append(Array(d[i + 1..<i + 1 + n]))
            i += 1 + n
        }
        self = list.isEmpty ? .plain(d) : .rfc3004(list)
    }
}

extension DHCPOptionKey where Value == UserClass {
    public static var userClass: Self {
        Self(code: 77, decode: { d, c throws(WireError) in
            try c.requireLength(d, 1...Int.max)
            return UserClass(decoding: d)
        }, encode: { v, c throws(WireError) in
            switch v {
            case let .plain(b):
                if b.isEmpty { throw c.error(.invalid("empty user class")) }
                return b
            case let .rfc3004(list):
                if list.isEmpty { throw c.error(.invalid("empty user class list")) }
                var out: [UInt8] = []
                for item in list {
                    guard (1...255).contains(item.count) else {
                        throw c.error(.outOfRange(value: item.count, allowed: 1...255))
                    }
                    out.append(UInt8(item.count)); out += item
                }
                return out
            }
        })
    }
}

// MARK: - 93, 94, 97: PXE client identification (RFC 4578)

/// Client system architecture (RFC 4578 section 2.1 and IANA's registry).
public struct ClientArchitecture: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let x86BIOS = Self(rawValue: 0)
    public static let x86UEFI = Self(rawValue: 6)
    public static let x64UEFI = Self(rawValue: 7)
    public static let ebc = Self(rawValue: 9)
    public static let arm32UEFI = Self(rawValue: 10)
    public static let arm64UEFI = Self(rawValue: 11)
    public static let x86UEFIHTTP = Self(rawValue: 15)
    public static let x64UEFIHTTP = Self(rawValue: 16)
    public static let ebcHTTP = Self(rawValue: 17)
    public static let arm32UEFIHTTP = Self(rawValue: 18)
    public static let arm64UEFIHTTP = Self(rawValue: 19)
    public static let x86BIOSHTTP = Self(rawValue: 20)
    public static let riscv64UEFI = Self(rawValue: 27)
    public static let riscv64UEFIHTTP = Self(rawValue: 28)

    /// IANA "Processor Architecture Types" names, 0 through 41.
    static let names: [String] = [
        "x86 BIOS", "NEC/PC98", "Itanium", "DEC Alpha", "Arc x86", "Intel Lean Client",
        "x86 UEFI", "x64 UEFI", "EFI Xscale", "EBC", "ARM 32-bit UEFI", "ARM 64-bit UEFI",
        "PowerPC Open Firmware", "PowerPC ePAPR", "POWER OPAL v3", "x86 UEFI HTTP",
        "x64 UEFI HTTP", "EBC HTTP", "ARM 32-bit UEFI HTTP", "ARM 64-bit UEFI HTTP",
        "x86 BIOS HTTP", "ARM 32-bit uboot", "ARM 64-bit uboot", "ARM uboot 32 HTTP",
        "ARM uboot 64 HTTP", "RISC-V 32-bit UEFI", "RISC-V 32-bit UEFI HTTP",
        "RISC-V 64-bit UEFI", "RISC-V 64-bit UEFI HTTP", "RISC-V 128-bit UEFI",
        "RISC-V 128-bit UEFI HTTP", "s390 Basic", "s390 Extended", "MIPS 32-bit UEFI",
        "MIPS 64-bit UEFI", "Sunway 32-bit UEFI", "Sunway 64-bit UEFI", "LoongArch 32-bit UEFI",
        "LoongArch 32-bit UEFI HTTP", "LoongArch 64-bit UEFI", "LoongArch 64-bit UEFI HTTP",
        "ARM rpiboot",
    ]
    public var description: String {
        rawValue < Self.names.count ? Self.names[Int(rawValue)] : "architecture \(rawValue)"
    }
    /// True for the architectures that boot over HTTP rather than TFTP (UEFI HTTP boot).
    public var isHTTPBoot: Bool {
        [15, 16, 17, 18, 19, 20, 23, 24, 26, 28, 30, 38, 40].contains(rawValue)
    }
    /// The five-digit decimal form used in option 60 (`PXEClient:Arch:00007:...`) and in
    /// PyBootd's `[bootfile]` keys.
    public var fiveDigits: String {
        let s = String(rawValue)
        return String(repeating: "0", count: max(0, 5 - s.count)) + s
    }
}

extension DHCPOptionKey where Value == [ClientArchitecture] {
    public static var clientArchitectures: Self {
        Self(code: 93, decode: { d, c throws(WireError) in
            try c.requireMultiple(d, of: 2, minimum: 2)
            return stride(from: 0, to: d.count, by: 2).map {
                ClientArchitecture(rawValue: UInt16(d[$0]) << 8 | UInt16(d[$0 + 1]))
            }
        }, encode: { v, c throws(WireError) in
            if v.isEmpty { throw c.error(.invalid("at least one architecture is required")) }
            return v.flatMap { [UInt8($0.rawValue >> 8), UInt8($0.rawValue & 0xff)] }
        })
    }
}

/// Option 94 (RFC 4578 section 2.2): network interface type (1 = UNDI) and version.
public struct ClientNetworkInterface: Hashable, Sendable, CustomStringConvertible {
    public var type: UInt8
    public var major: UInt8
    public var minor: UInt8
    public init(type: UInt8 = 1, major: UInt8, minor: UInt8) { self.type = type; self.major = major; self.minor = minor }
    public var description: String { "\(type).\(major).\(minor)" }
}

extension DHCPOptionKey where Value == ClientNetworkInterface {
    public static var clientNetworkInterface: Self {
        Self(code: 94, decode: { d, c throws(WireError) in
            try c.requireLength(d, 3...3)
            return ClientNetworkInterface(type: d[0], major: d[1], minor: d[2])
        }, encode: { v, _ in [v.type, v.major, v.minor] })
    }
}

/// Option 97 (RFC 4578 section 2.3): client machine identifier, type 0 + 16-byte UUID/GUID.
public struct ClientMachineID: Hashable, Sendable {
    public var type: UInt8
    public var identifier: [UInt8]
    public init(type: UInt8 = 0, identifier: [UInt8]) { self.type = type; self.identifier = identifier }

    /// The UUID as text, when type is 0 and 16 bytes follow. Firmware puts SMBIOS's byte
    /// order on the wire: the first three fields little-endian, the rest as is.
    public var uuid: String? {
        guard type == 0, identifier.count == 16 else { return nil }
        let b = identifier
        let order = [3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11, 12, 13, 14, 15]
        var out = [UInt8](); out.reserveCapacity(36)
        for i in order {
            if i < 0 { out.append(UInt8(ascii: "-")); continue }
            out.append(hexDigit(b[b.startIndex + i] >> 4)); out.append(hexDigit(b[b.startIndex + i] & 15))
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// From UUID text (`8-4-4-4-12` hex), stored in SMBIOS wire order.
    public init?(uuid text: String) {
        let hex = text.filter { $0 != "-" }
        guard text.count == 36, hex.count == 32 else { return nil }
        var b: [UInt8] = []
        var it = hex.makeIterator()
        while let h = it.next(), let l = it.next() {
            guard let v = UInt8(String([h, l]), radix: 16) else { return nil }
            b.append(v)
        }
        let wire = [b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6]] + b[8...]
        self.init(type: 0, identifier: Array(wire))
    }
}

extension DHCPOptionKey where Value == ClientMachineID {
    public static var clientMachineID: Self {
        Self(code: 97, decode: { d, c throws(WireError) in
            try c.requireLength(d, 1...Int.max)
            if d[0] == 0 && d.count != 17 {
                throw c.error(.invalid("type 0 needs a 16-byte UUID, got \(d.count - 1) bytes"))
            }
            return ClientMachineID(type: d[0], identifier: Array(d.dropFirst()))
        }, encode: { v, c throws(WireError) in
            if v.type == 0 && v.identifier.count != 16 {
                throw c.error(.invalid("type 0 needs a 16-byte UUID, got \(v.identifier.count) bytes"))
            }
            return [v.type] + v.identifier
        })
    }
}

// MARK: - 60 in PXE form

/// The structured form of option 60 that PXE and UEFI HTTP clients send:
/// `PXEClient:Arch:xxxxx:UNDI:yyyzzz` (PXE 2.1 section 2.2), or `HTTPClient:Arch:...`.
public struct PXEVendorClass: Hashable, Sendable {
    /// `PXEClient` or `HTTPClient`.
    public var prefix: String
    public var architecture: ClientArchitecture?
    public var undiMajor: Int?
    public var undiMinor: Int?

    public var isPXEClient: Bool { prefix == "PXEClient" }
    public var isHTTPClient: Bool { prefix == "HTTPClient" }

    /// nil unless the text starts with `PXEClient` or `HTTPClient`. Fields after the prefix
    /// are read when well formed and left nil when not (clients vary; the prefix decides).
    public init?(_ text: String) {
        var text = text
        // Byte by byte on the UTF-8 bytes, in place: this runs for every PXE request
        // (String.split and a String per field were 15% of a whole DORA; an array of field
        // slices and generic comparisons still a tenth).
        guard let parsed = text.withUTF8({ Self.parse($0) }) else { return nil }
        self = parsed
    }

    private init(prefix: String) { self.prefix = prefix }

    private static func parse(_ b: UnsafeBufferPointer<UInt8>) -> PXEVendorClass? {
        func field(_ from: Int) -> Range<Int> {
            var i = from
            while i < b.count && b[i] != UInt8(ascii: ":") { i += 1 }
            return from..<i
        }
        func equals(_ r: Range<Int>, _ literal: StaticString) -> Bool {
            guard r.count == literal.utf8CodeUnitCount else { return false }
            let l = literal.utf8Start
            for k in 0..<r.count where b[r.lowerBound + k] != l[k] { return false }
            return true
        }
        func number(_ r: Range<Int>) -> Int? {
            guard !r.isEmpty else { return nil }
            var v = 0
            for k in r { let d = b[k]; guard d >= 48, d <= 57 else { return nil }; v = v * 10 + Int(d - 48) }
            return v
        }
        let first = field(0)
        var result: PXEVendorClass
        if equals(first, "PXEClient") { result = PXEVendorClass(prefix: "PXEClient") }
        else if equals(first, "HTTPClient") { result = PXEVendorClass(prefix: "HTTPClient") }
        else { return nil }
        // name:value pairs after the prefix; a trailing name without a value is ignored
        var next = first.upperBound
        while next < b.count {
            let name = field(next + 1)
            guard name.upperBound < b.count else { break }
            let value = field(name.upperBound + 1)
            if equals(name, "Arch") {
                if value.count == 5, let v = number(value), v <= Int(UInt16.max) { result.architecture = ClientArchitecture(rawValue: UInt16(v)) }
            } else if equals(name, "UNDI") {
                if value.count == 6, let major = number(value.lowerBound..<value.lowerBound + 3),
                   let minor = number(value.lowerBound + 3..<value.upperBound) {
                    result.undiMajor = major; result.undiMinor = minor
                }
            }
            next = value.upperBound
        }
        return result
    }
}

/// Lower-case hex digit of a nibble, as a UTF-8 byte.
@inline(__always) func hexDigit(_ n: UInt8) -> UInt8 { n < 10 ? 48 + n : 87 + n }
