import BootWire

/// A MAC address pattern: the first `prefixBits` bits of `bytes` must match
/// (`AA-BB-CC/24` matches every MAC starting with AA:BB:CC). 48 bits is an exact match.
public struct MACPattern: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]
    public var prefixBits: Int
    public init(bytes: [UInt8], prefixBits: Int = 48) {
        self.bytes = Array((bytes + [0, 0, 0, 0, 0, 0]).prefix(6))
        self.prefixBits = max(0, min(48, prefixBits))
    }
    public func matches(_ mac: [UInt8]) -> Bool {
        guard mac.count >= 6 else { return false }
        var bits = prefixBits
        for i in 0..<6 where bits > 0 {
            let take = min(8, bits)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - take))
            if mac[i] & mask != bytes[i] & mask { return false }
            bits -= take
        }
        return true
    }
    public var description: String { macText(bytes) + (prefixBits == 48 ? "" : "/\(prefixBits)") }
}

/// Who may boot (PyBootd's `[bootpd] access`).
public enum AccessPolicy: Hashable, Sendable {
    /// Everyone.
    case open
    /// `[mac]`: the first matching pattern decides; no match denies.
    case macList([(pattern: MACPattern, allow: Bool)])
    /// `[uuid]`: by the UUID of option 97 (or the one the MAC showed in its PXE phase).
    case uuidList([String: Bool])
    /// `[http]`: ask the access authority.
    case authority

    public static func == (l: AccessPolicy, r: AccessPolicy) -> Bool {
        switch (l, r) {
        case (.open, .open), (.authority, .authority): true
        case let (.uuidList(a), .uuidList(b)): a == b
        case let (.macList(a), .macList(b)): a.elementsEqual(b) { $0.pattern == $1.pattern && $0.allow == $1.allow }
        default: false
        }
    }
    public func hash(into h: inout Hasher) {
        switch self {
        case .open: h.combine(0)
        case .authority: h.combine(1)
        case let .uuidList(u): h.combine(2); h.combine(u)
        case let .macList(m): h.combine(3); for e in m { h.combine(e.pattern); h.combine(e.allow) }
        }
    }
}

/// Boot file choice (PyBootd's `[bootpd] boot_file` and `[bootfile]`, plus iPXE's own file).
public struct BootFileTable: Hashable, Sendable {
    /// `[bootfile] default`, else `[bootpd] boot_file`.
    public var defaultFile: String?
    /// By client architecture (option 93, else option 60's `Arch:` field).
    public var byArchitecture: [UInt16: String]
    /// For iPXE (option 77 `iPXE` or option 175): typically an HTTP script URL, so that
    /// chain loading ends instead of looping.
    public var iPXE: String?

    public init(defaultFile: String? = nil, byArchitecture: [UInt16: String] = [:], iPXE: String? = nil) {
        self.defaultFile = defaultFile; self.byArchitecture = byArchitecture; self.iPXE = iPXE
    }
}

/// Everything the DHCP engine decides with. Built from the configuration by the daemon.
public struct DHCPServerSettings: Hashable, Sendable {
    /// This server's address on the served network: server identifier (54), default router,
    /// default TFTP server (siaddr).
    public var serverAddress: IPv4Address
    public var subnetMask: IPv4Address
    public var poolStart: IPv4Address
    public var poolCount: Int
    public var routers: [IPv4Address]
    public var dnsServers: [IPv4Address]
    public var domainName: String?
    /// `sname` in replies (`[bootpd] servername`).
    public var serverName: String?
    public var leaseTime: UInt32
    public var staticBindings: [[UInt8]: IPv4Address]
    public var bootFiles: BootFileTable
    /// siaddr and option 66 for PXE replies; the server address when nil.
    public var tftpServer: IPv4Address?
    public var allowSimpleDHCP: Bool
    public var access: AccessPolicy
    /// With `access = http`, ask again for every request rather than once per client.
    public var alwaysCheck: Bool
    public var authorityTimeout: Duration
    /// `[buggy_clients]`: replies to these go to 255.255.255.255 whatever they asked.
    public var buggyClients: [MACPattern]
    public var notifyTargets: [Endpoint]
    /// How long an OFFER holds an address for a client that has not yet REQUESTed it.
    public var offerHold: Duration
    /// Declined addresses are not handed out again for this long (RFC 2131 section 3.1.5).
    public var declineHold: Duration
    /// At most this many requests wait for the authority at once; more are refused.
    public var maxPendingQueries: Int

    public init(
        serverAddress: IPv4Address, subnetMask: IPv4Address = IPv4Address(255, 255, 255, 0),
        poolStart: IPv4Address, poolCount: Int = 10, routers: [IPv4Address]? = nil,
        dnsServers: [IPv4Address] = [], domainName: String? = nil, serverName: String? = nil,
        leaseTime: UInt32 = 86400, staticBindings: [[UInt8]: IPv4Address] = [:],
        bootFiles: BootFileTable = BootFileTable(), tftpServer: IPv4Address? = nil,
        allowSimpleDHCP: Bool = false, access: AccessPolicy = .open, alwaysCheck: Bool = false,
        authorityTimeout: Duration = .seconds(5), buggyClients: [MACPattern] = [],
        notifyTargets: [Endpoint] = [], offerHold: Duration = .seconds(60),
        declineHold: Duration = .seconds(3600), maxPendingQueries: Int = 1024
    ) {
        self.serverAddress = serverAddress; self.subnetMask = subnetMask
        self.poolStart = poolStart; self.poolCount = poolCount
        self.routers = routers ?? [serverAddress]; self.dnsServers = dnsServers
        self.domainName = domainName; self.serverName = serverName; self.leaseTime = leaseTime
        self.staticBindings = staticBindings; self.bootFiles = bootFiles; self.tftpServer = tftpServer
        self.allowSimpleDHCP = allowSimpleDHCP; self.access = access; self.alwaysCheck = alwaysCheck
        self.authorityTimeout = authorityTimeout; self.buggyClients = buggyClients
        self.notifyTargets = notifyTargets; self.offerHold = offerHold; self.declineHold = declineHold
        self.maxPendingQueries = maxPendingQueries
    }

    public var networkAddress: IPv4Address { IPv4Address(serverAddress.value & subnetMask.value) }
    public var broadcastAddress: IPv4Address { IPv4Address(networkAddress.value | ~subnetMask.value) }
    public func isOnServedNetwork(_ a: IPv4Address) -> Bool {
        a.value & subnetMask.value == networkAddress.value
    }
}
