import BootWire

// The typed, validated settings a PyBootd-compatible INI file describes. Value types with
// PyBootd's defaults; build them in code for tests, or with `ConfigurationLoader`.

// MARK: - Addresses and identifiers

/// A 48-bit Ethernet address.
public struct MACAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var bytes: [UInt8]
    /// Exactly six bytes; fewer are padded with zeros, more are cut.
    public init(_ bytes: [UInt8]) { self.bytes = Array((bytes + [0, 0, 0, 0, 0, 0]).prefix(6)) }
    /// `AA-BB-CC-DD-EE-FF` or `aa:bb:cc:dd:ee:ff` (two hex digits per octet, one separator
    /// kind); nil for anything else.
    public init?(_ text: String) {
        guard case .success(let (bytes, bits)) = MACAddressPattern.parseParts(text), bits == nil, bytes.count == 6 else { return nil }
        self.bytes = bytes
    }
    /// PyBootd's spelling: upper case, `-` separators.
    public var description: String { hexOctets(bytes, separator: "-") }
    public static func < (l: MACAddress, r: MACAddress) -> Bool { l.bytes.lexicographicallyPrecedes(r.bytes) }
}

/// A MAC address or prefix: the first `prefixBits` bits of `bytes` must match. PyBootd's
/// `AA-BB-CC/24` is every MAC whose first three octets are AA, BB, CC (PyBootd's own mask
/// arithmetic got this wrong). `prefixBits` is 1...48; 48 is an exact address. A /0
/// "match everything" entry is rejected when loading: use `access = none` instead.
public struct MACAddressPattern: Hashable, Sendable, CustomStringConvertible {
    /// Six bytes; bits beyond the prefix are zero.
    public private(set) var bytes: [UInt8]
    public private(set) var prefixBits: Int

    public init(bytes: [UInt8], prefixBits: Int = 48) {
        let bits = max(0, min(48, prefixBits))
        var b = Array((bytes + [0, 0, 0, 0, 0, 0]).prefix(6))
        for i in 0..<6 { b[i] &= Self.octetMask(i, bits) }
        self.bytes = b; self.prefixBits = bits
    }
    public init(_ mac: MACAddress) { self.init(bytes: mac.bytes) }

    static func octetMask(_ i: Int, _ bits: Int) -> UInt8 {
        let take = max(0, min(8, bits - 8 * i))
        return take == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - take))
    }
    public func matches(_ mac: MACAddress) -> Bool { matches(mac.bytes) }
    /// Matches a six-byte hardware address (`chaddr`'s first hlen bytes): a longer or
    /// shorter one is another client and matches no rule, as it would be another binding.
    public func matches(_ mac: [UInt8]) -> Bool {
        guard mac.count == 6 else { return false }
        for i in 0..<6 where mac[i] & Self.octetMask(i, prefixBits) != bytes[i] { return false }
        return true
    }
    public var isExact: Bool { prefixBits == 48 }
    /// `AA-BB-CC-DD-EE-FF`, or the octets the prefix covers and `/N` (`AA-BB-CC/24`).
    public var description: String {
        isExact ? hexOctets(bytes, separator: "-")
                : hexOctets(Array(bytes.prefix((prefixBits + 7) / 8)), separator: "-") + "/\(prefixBits)"
    }

    /// Parses `AA-BB-CC-DD-EE-FF`, `aa:bb:...`, or a prefix `AA-BB-CC/24`. The octets
    /// written must cover the prefix; more octets than the prefix are an error (a
    /// `/24` with four octets is probably a typo).
    public static func parse(_ text: String) -> Result<MACAddressPattern, PatternError> {
        switch parseParts(text) {
        case .failure(let e): return .failure(e)
        case .success(let (bytes, bits)):
            guard let bits else {
                guard bytes.count == 6 else {
                    return .failure(PatternError("\"\(text)\" has \(bytes.count) octet\(bytes.count == 1 ? "" : "s"); a MAC address has 6 (or add a prefix length such as /\(bytes.count * 8))"))
                }
                return .success(MACAddressPattern(bytes: bytes))
            }
            guard (1...48).contains(bits) else {
                return .failure(PatternError("prefix length /\(bits) in \"\(text)\" is outside 1...48"))
            }
            let needed = (bits + 7) / 8
            guard bytes.count >= needed else {
                return .failure(PatternError("\"\(text)\" gives \(bytes.count) octet\(bytes.count == 1 ? "" : "s") but /\(bits) needs \(needed)"))
            }
            guard bytes.count == needed || bytes.count == 6 else {
                return .failure(PatternError("\"\(text)\" gives \(bytes.count) octets for /\(bits): write \(needed) octets (or all 6)"))
            }
            let p = MACAddressPattern(bytes: bytes, prefixBits: bits)
            guard p.bytes == Array((bytes + [0, 0, 0, 0, 0, 0]).prefix(6)) else {
                return .failure(PatternError("\"\(text)\" has bits set beyond the /\(bits) prefix"))
            }
            return .success(p)
        }
    }

    public struct PatternError: Error, Hashable, Sendable, CustomStringConvertible {
        public var description: String
        init(_ d: String) { description = d }
    }

    static func parseParts(_ text: String) -> Result<([UInt8], Int?), PatternError> {
        let t = text.trimmingINIWhitespace()
        let halves = t.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        var bits: Int? = nil
        if halves.count == 2 {
            guard let n = Int(halves[1]), halves[1].allSatisfy(\.isASCII) else {
                return .failure(PatternError("bad prefix length \"/\(halves[1])\" in \"\(text)\""))
            }
            bits = n
        }
        let addr = halves[0]
        let seps = Set(addr.filter { $0 == "-" || $0 == ":" })
        guard seps.count <= 1 else { return .failure(PatternError("\"\(text)\" mixes '-' and ':' separators")) }
        let parts = seps.isEmpty ? [addr] : addr.split(separator: seps.first!, omittingEmptySubsequences: false)
        var bytes: [UInt8] = []
        for p in parts {
            guard p.count == 2, p.allSatisfy(\.isHexDigit), let v = UInt8(p, radix: 16) else {
                return .failure(PatternError("\"\(text)\" is not a MAC address (expected hex octets such as AA-BB-CC-DD-EE-FF)"))
            }
            bytes.append(v)
        }
        guard bytes.count <= 6 else { return .failure(PatternError("\"\(text)\" has \(bytes.count) octets; a MAC address has 6")) }
        return .success((bytes, bits))
    }
}

func hexOctets(_ bytes: [UInt8], separator: String) -> String {
    bytes.map { b in
        let s = String(b, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }.joined(separator: separator)
}

/// A machine UUID as `[uuid]` keys and option 97 text give it: 8-4-4-4-12 hex digits,
/// kept in lower case (matching is case-insensitive).
public struct MachineUUID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let text: String
    public init?(_ text: String) {
        let t = text.trimmingINIWhitespace()
        let groups = t.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.map(\.count) == [8, 4, 4, 4, 12], groups.allSatisfy({ $0.allSatisfy(\.isHexDigit) }),
              t.allSatisfy(\.isASCII) else { return nil }
        self.text = t.lowercased()
    }
    public var description: String { text }
    public static func < (l: Self, r: Self) -> Bool { l.text < r.text }
}

/// Where a setting came from, for messages about it later (e.g. start-up checks of static
/// bindings). Provenance only: it takes no part in equality or hashing.
public struct SourceLocation: Hashable, Sendable {
    public var location: ConfigurationLocation?
    public init(_ location: ConfigurationLocation? = nil) { self.location = location }
    public static func == (_: Self, _: Self) -> Bool { true }
    public func hash(into _: inout Hasher) {}
}

// MARK: - Sections

/// `[logger]`.
public struct LoggerSettings: Hashable, Sendable {
    public enum Output: Hashable, Sendable {
        case stderr, stdout, syslog, none
        /// `type = file` with `file = path` (relative paths: see `BootConfiguration.resolvePath`).
        case file(String)
    }
    public enum Level: String, Hashable, Sendable, CaseIterable, Comparable {
        case debug, info, warning, error, critical
        public static func < (l: Level, r: Level) -> Bool {
            allCases.firstIndex(of: l)! < allCases.firstIndex(of: r)!
        }
    }
    public var output: Output
    public var level: Level
    public init(output: Output = .stderr, level: Level = .info) { self.output = output; self.level = level }
}

/// `[bootpd] access`.
public enum AccessMode: String, Hashable, Sendable, CaseIterable {
    /// Everyone may boot.
    case none
    /// `[mac]` decides.
    case mac
    /// `[uuid]` decides.
    case uuid
    /// The HTTP authority (`[http]`) decides.
    case http
}

/// `[bootpd] dns`.
public enum DNSSetting: Hashable, Sendable {
    /// These servers (empty: no option 6).
    case servers([IPv4Address])
    /// `auto`: the host's own resolvers (found at start-up, not here).
    case auto
}

/// One `[bootpd] notify` target (`ip:port`).
public struct NotifyTarget: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16
    public init(address: IPv4Address, port: UInt16) { self.address = address; self.port = port }
    public var description: String { "\(address):\(port)" }
}

/// `[bootpd]`.
public struct BOOTPSettings: Hashable, Sendable {
    public var address: IPv4Address
    public var port: UInt16
    /// Required when the DHCP service runs; selects the interface and served network.
    public var poolStart: IPv4Address?
    /// 0: static bindings only.
    public var poolCount: Int
    /// nil: the interface's netmask.
    public var netmask: IPv4Address?
    /// nil: the server's own address.
    public var gateway: IPv4Address?
    public var dns: DNSSetting
    public var domain: String?
    public var serverName: String?
    /// Seconds, 1...0xFFFFFFFE.
    public var leaseTime: UInt32
    /// Seconds a BOOTP binding (a request without option 53) lasts; nil: `leaseTime`.
    /// BOOTP clients never renew, so a binding that never ended would take its address for
    /// good (RFC 1534 leaves it to the server; dnsmasq and Kea give them a lifetime too).
    public var bootpLease: UInt32?
    /// PyBootd's single boot file; `[bootfile] default` takes precedence.
    public var bootFile: String?
    public var access: AccessMode
    public var allowSimpleDHCP: Bool
    public var notify: [NotifyTarget]

    public init(address: IPv4Address = .any, port: UInt16 = 67, poolStart: IPv4Address? = nil, poolCount: Int = 10,
                netmask: IPv4Address? = nil, gateway: IPv4Address? = nil, dns: DNSSetting = .servers([]),
                domain: String? = nil, serverName: String? = nil, leaseTime: UInt32 = 86400, bootFile: String? = nil,
                access: AccessMode = .none, allowSimpleDHCP: Bool = false, notify: [NotifyTarget] = []) {
        self.address = address; self.port = port; self.poolStart = poolStart; self.poolCount = poolCount
        self.netmask = netmask; self.gateway = gateway; self.dns = dns; self.domain = domain
        self.serverName = serverName; self.leaseTime = leaseTime; self.bootFile = bootFile
        self.access = access; self.allowSimpleDHCP = allowSimpleDHCP; self.notify = notify
    }

    /// The pool's last address, nil when the pool is empty or unset.
    public var poolEnd: IPv4Address? {
        guard let s = poolStart, poolCount > 0 else { return nil }
        return IPv4Address(s.value + UInt32(poolCount - 1))
    }
}

/// `[bootfile]`: boot file by client architecture, plus bootd's iPXE entry.
public struct BootFileSettings: Hashable, Sendable {
    /// `default`.
    public var defaultFile: String?
    /// Keys are architecture numbers (RFC 4578 / option 60 `Arch:`): `00007` is 7.
    public var byArchitecture: [UInt16: String]
    /// bootd extension, key `ipxe`: the file for clients that are already iPXE (option 77
    /// `iPXE`), typically an HTTP script URL, so that chain loading ends.
    public var iPXE: String?
    public init(defaultFile: String? = nil, byArchitecture: [UInt16: String] = [:], iPXE: String? = nil) {
        self.defaultFile = defaultFile; self.byArchitecture = byArchitecture; self.iPXE = iPXE
    }
}

/// A `[mac]` or `[buggy_clients]` entry.
public struct MACRule: Hashable, Sendable {
    public var pattern: MACAddressPattern
    public var value: Bool
    public init(_ pattern: MACAddressPattern, _ value: Bool) { self.pattern = pattern; self.value = value }
}

/// A `[uuid]` entry.
public struct UUIDRule: Hashable, Sendable {
    public var uuid: MachineUUID
    public var allow: Bool
    public init(_ uuid: MachineUUID, _ allow: Bool) { self.uuid = uuid; self.allow = allow }
}

/// A `[static_dhcp]` entry.
public struct StaticBinding: Hashable, Sendable {
    public var mac: MACAddress
    public var address: IPv4Address
    public var source: SourceLocation
    public init(mac: MACAddress, address: IPv4Address, source: SourceLocation = .init()) {
        self.mac = mac; self.address = address; self.source = source
    }
}

/// `[http] location`: where the access authority lives. `host:port` means `http://host:port`.
public struct HTTPLocation: Hashable, Sendable, CustomStringConvertible {
    public enum Scheme: String, Hashable, Sendable { case http, https }
    public var scheme: Scheme
    public var host: String
    public var port: UInt16
    /// "" or a path starting with `/`, without a trailing `/`.
    public var pathPrefix: String
    public init(scheme: Scheme = .http, host: String, port: UInt16? = nil, pathPrefix: String = "") {
        self.scheme = scheme; self.host = host; self.port = port ?? (scheme == .http ? 80 : 443)
        var p = pathPrefix
        while p.hasSuffix("/") { p.removeLast() }
        if !p.isEmpty && !p.hasPrefix("/") { p = "/" + p }
        self.pathPrefix = p
    }
    public var description: String { "\(scheme.rawValue)://\(host):\(port)\(pathPrefix)" }
    /// The URL for a request path (`/boot`) and query.
    public func url(path: String, query: String? = nil) -> String {
        var p = path
        if !p.isEmpty && !p.hasPrefix("/") { p = "/" + p }
        return description + p + (query.map { "?" + $0 } ?? "")
    }
}

/// `[http]`: the access authority.
public struct HTTPAuthoritySettings: Hashable, Sendable {
    public var location: HTTPLocation?
    /// Path for PXE-phase checks (the demo authority uses `/boot`); nil: the location itself.
    public var pxePath: String?
    /// Path for OS-phase (plain DHCP) checks (demo: `/linux`); nil: the location itself.
    public var dhcpPath: String?
    /// Per request. `[http] timeout`, or `[bootpd] timeout`; default 5 s.
    public var timeout: Duration
    /// Ask for every request, not once per client.
    public var alwaysCheck: Bool
    public init(location: HTTPLocation? = nil, pxePath: String? = nil, dhcpPath: String? = nil,
                timeout: Duration = .seconds(5), alwaysCheck: Bool = false) {
        self.location = location; self.pxePath = pxePath; self.dhcpPath = dhcpPath
        self.timeout = timeout; self.alwaysCheck = alwaysCheck
    }
}

/// Where files are served from.
public enum FileRoot: Hashable, Sendable, CustomStringConvertible {
    /// A directory. Relative paths are relative to the configuration file's directory.
    case local(String)
    /// An `http://` or `https://` URL prefix; the requested name is appended.
    case remote(String)
    public var description: String {
        switch self { case .local(let p): p; case .remote(let u): u }
    }
}

/// `[tftpd]`.
public struct TFTPSettings: Hashable, Sendable {
    public var address: IPv4Address
    public var port: UInt16
    public var root: FileRoot
    /// Default block size (RFC 1350: 512); clients may negotiate another (RFC 2348).
    public var blockSize: Int
    /// Retransmission timeout.
    public var timeout: Duration
    /// Retransmissions before a transfer is abandoned (PyBootd read this from `blocksize`).
    public var retries: Int
    /// Serve every transfer from the listening port (for NAT and containers that forward
    /// one UDP port) instead of one port per transfer (RFC 1350).
    public var singlePort: Bool
    /// Transfers at once (like dnsmasq's `tftp-max`), each with its own port and socket.
    /// A PXE ROM's size probe and its download overlap for a moment, so a rack of N
    /// machines powering on needs up to 2N. Requests beyond it are dropped and come back
    /// with the client's retransmission.
    public var maxTransfers: Int
    /// Transfers one client address may hold at once (`max_transfers_per_client`); nil:
    /// half of `maxTransfers`, so one host flooding RRQs leaves the other half to everyone
    /// else (and a host running many clients, like pxe-sim, still has room for them).
    public var maxTransfersPerClient: Int?
    /// Largest RFC 2349 `timeout` a client may ask, in seconds (`max_timeout`, default 10):
    /// a larger one is not granted (left out of the OACK; `timeout` is used), so a
    /// silent session ends within (retries + 1) × max_timeout, not 6 × 255 s.
    public var maxClientTimeout: Int
    /// After each send on a transfer port, poll for the answer up to this long instead of
    /// sleeping (like Linux's `net.core.busy_poll`). Default 50 µs: a lock-step ACK is
    /// read without waking an idle CPU, about 3x the blocks per second on this project's
    /// VM, for a core that is busy while transfers run (and idle again as soon as none
    /// does). Zero: off.
    public var busyPoll: Duration
    /// UDP GSO for windowed transfers (RFC 7440): the blocks of a window leave as one
    /// segmented write (Linux UDP_SEGMENT) instead of one datagram each. Off by default: with
    /// one sendmsg per datagram the client starts on the first block while the server sends
    /// the rest, and windowsize 32 ran 18% faster that way (windowsize 8: 5%) over veth here;
    /// a segmented write reaches the client only whole. Where on and the kernel refuses it,
    /// turned off by itself, with a warning.
    public var gso: Bool
    /// Where boot files are when `root` is not set: an explicit place (tftpd-hpa's and
    /// Debian's), never the configuration file's directory, which would serve the
    /// configuration itself (PyBootd served its working directory).
    public static let defaultRoot = "/srv/tftp"

    public init(address: IPv4Address = .any, port: UInt16 = 69, root: FileRoot = .local(TFTPSettings.defaultRoot), blockSize: Int = 512,
                timeout: Duration = .seconds(2), retries: Int = 5, singlePort: Bool = false, maxTransfers: Int = 4096,
                busyPoll: Duration = .microseconds(50), gso: Bool = false) {
        self.address = address; self.port = port; self.root = root; self.blockSize = blockSize
        self.timeout = timeout; self.retries = retries; self.singlePort = singlePort; self.maxTransfers = maxTransfers
        self.busyPoll = busyPoll; self.gso = gso
        self.maxTransfersPerClient = nil; self.maxClientTimeout = 10
    }
}

/// `[httpd]`: the boot file HTTP server.
public struct HTTPDSettings: Hashable, Sendable {
    public var address: IPv4Address
    public var port: UInt16
    public var root: String
    /// Only addresses this server leased may fetch.
    public var checkIP: Bool
    /// `root` unset: the TFTP default root (`TFTPSettings.defaultRoot`), not the
    /// configuration file's directory.
    public init(address: IPv4Address = .any, port: UInt16 = 80, root: String = TFTPSettings.defaultRoot, checkIP: Bool = true) {
        self.address = address; self.port = port; self.root = root; self.checkIP = checkIP
    }
}

// MARK: - The whole file

public struct BootConfiguration: Hashable, Sendable {
    public var logger: LoggerSettings
    public var bootpd: BOOTPSettings
    public var bootFiles: BootFileSettings
    /// `[buggy_clients]` in file order: value true = reply to 255.255.255.255.
    public var buggyClients: [MACRule]
    /// `[mac]` in file order: value true = allow, false = block.
    public var macRules: [MACRule]
    /// `[uuid]` in file order.
    public var uuidRules: [UUIDRule]
    /// `[static_dhcp]` in file order.
    public var staticBindings: [StaticBinding]
    public var http: HTTPAuthoritySettings
    public var tftpd: TFTPSettings
    public var httpd: HTTPDSettings
    /// `[filters]` in file order; the first match wins.
    public var filters: [FilterRule]
    /// The directory of the configuration file, against which relative paths resolve;
    /// nil: the working directory.
    public var baseDirectory: String?

    public init(logger: LoggerSettings = .init(), bootpd: BOOTPSettings = .init(), bootFiles: BootFileSettings = .init(),
                buggyClients: [MACRule] = [], macRules: [MACRule] = [], uuidRules: [UUIDRule] = [],
                staticBindings: [StaticBinding] = [], http: HTTPAuthoritySettings = .init(),
                tftpd: TFTPSettings = .init(), httpd: HTTPDSettings = .init(), filters: [FilterRule] = [],
                baseDirectory: String? = nil) {
        self.logger = logger; self.bootpd = bootpd; self.bootFiles = bootFiles; self.buggyClients = buggyClients
        self.macRules = macRules; self.uuidRules = uuidRules; self.staticBindings = staticBindings
        self.http = http; self.tftpd = tftpd; self.httpd = httpd; self.filters = filters
        self.baseDirectory = baseDirectory
    }

    // MARK: Derived answers

    /// The boot file for a client: iPXE's own file for iPXE clients when set; else the
    /// file for its architecture; else `[bootfile] default`; else `[bootpd] boot_file`.
    public func bootFile(architecture: UInt16?, isIPXE: Bool = false) -> String? {
        if isIPXE, let f = bootFiles.iPXE { return f }
        if let a = architecture, let f = bootFiles.byArchitecture[a] { return f }
        return bootFiles.defaultFile ?? bootpd.bootFile
    }

    /// Whether `[mac]` allows this MAC: the first matching entry decides; nil if none matches.
    public func macAccess(_ mac: [UInt8]) -> Bool? { macRules.first { $0.pattern.matches(mac) }?.value }

    /// Whether `[uuid]` allows this UUID; nil if it is not listed.
    public func uuidAccess(_ uuid: String) -> Bool? {
        guard let u = MachineUUID(uuid) else { return nil }
        return uuidRules.first { $0.uuid == u }?.allow
    }

    /// Whether replies to this MAC must go to 255.255.255.255 (`[buggy_clients]`).
    public func isBuggyClient(_ mac: [UInt8]) -> Bool { buggyClients.first { $0.pattern.matches(mac) }?.value ?? false }

    /// The first `[filters]` rule that applies to a requested file name.
    public func applyFilters(to filename: String, authFile: String?) -> FilterResult? {
        for rule in filters { if let r = rule.apply(to: filename, authFile: authFile) { return r } }
        return nil
    }

    /// A path as the configuration meant it: absolute paths as they are, relative ones
    /// (`./images`, `images`) against the configuration file's directory.
    public func resolvePath(_ path: String) -> String {
        Self.resolve(path, against: baseDirectory)
    }

    public static func resolve(_ path: String, against base: String?) -> String {
        guard !path.hasPrefix("/"), let base, !base.isEmpty else { return path }
        var rel = Substring(path)
        while rel.hasPrefix("./") { rel = rel.dropFirst(2) }
        if rel == "." { rel = "" }
        let b = base.hasSuffix("/") ? String(base.dropLast()) : base
        return rel.isEmpty ? b : b + "/" + rel
    }

    /// The TFTP root with a relative local path resolved; remote roots as they are.
    public var resolvedTFTPRoot: FileRoot {
        switch tftpd.root {
        case .local(let p): .local(resolvePath(p))
        case .remote: tftpd.root
        }
    }
    public var resolvedHTTPDRoot: String { resolvePath(httpd.root) }

    /// Start-up check of `[static_dhcp]` against the served network (known only once the
    /// interface is): every address must be on the network, not its network or broadcast
    /// address, and not the server's own.
    public func staticBindingProblems(network: IPv4Address, netmask: IPv4Address, serverAddress: IPv4Address? = nil) -> [ConfigurationError] {
        let net = network.value & netmask.value
        let broadcast = net | ~netmask.value
        return staticBindings.compactMap { b in
            let a = b.address.value
            let message: String
            if a & netmask.value != net {
                message = "\(b.address) is not on the served network \(IPv4Address(net))/\(prefixLength(netmask) ?? 0)"
            } else if a == net && netmask.value != 0xFFFF_FFFF {
                message = "\(b.address) is the network address of the served network"
            } else if a == broadcast && netmask.value != 0xFFFF_FFFF {
                message = "\(b.address) is the broadcast address of the served network"
            } else if let s = serverAddress, s == b.address {
                message = "\(b.address) is this server's own address"
            } else {
                return nil
            }
            return ConfigurationError(location: b.source.location ?? .init(file: "<configuration>", line: nil),
                                      section: "static_dhcp", key: b.mac.description, message: message)
        }
    }
}

/// The prefix length of a contiguous netmask; nil when the mask is not contiguous.
public func prefixLength(_ mask: IPv4Address) -> Int? {
    let ones = mask.value.leadingZeroBitCount == 0 ? (~mask.value).leadingZeroBitCount : 0
    let n = mask.value.nonzeroBitCount
    guard n == ones || (n == 0 && mask.value == 0) else { return nil }
    return n
}
