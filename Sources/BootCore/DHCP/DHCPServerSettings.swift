import BootWire

/// Who may boot (PyBootd's `[bootpd] access`).
public enum AccessPolicy: Hashable, Sendable {
    /// Everyone.
    case open
    /// `[mac]`: the first matching rule decides; no match denies.
    case macList([MACRule])
    /// `[uuid]`: by the UUID of option 97 (or the one the MAC showed in its PXE phase).
    case uuidList([UUIDRule])
    /// `[http]`: ask the access authority.
    case authority
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
    /// How long a BOOTP binding lasts (`[bootpd] bootp_lease`, default `leaseTime`).
    public var bootpLease: UInt32
    public var staticBindings: [[UInt8]: IPv4Address]
    public var bootFiles: BootFileSettings
    /// siaddr and option 66 for PXE replies; the server address when nil.
    public var tftpServer: IPv4Address?
    public var allowSimpleDHCP: Bool
    public var access: AccessPolicy
    /// With `access = http`, ask again for every request rather than once per client.
    public var alwaysCheck: Bool
    public var authorityTimeout: Duration
    /// `[buggy_clients]`: replies to those set true go to 255.255.255.255 whatever they asked.
    public var buggyClients: [MACRule]
    public var notifyTargets: [Endpoint]
    /// How long an OFFER holds an address for a client that has not yet REQUESTed it.
    public var offerHold: Duration
    /// Declined addresses are not handed out again for this long (RFC 2131 section 3.1.5).
    public var declineHold: Duration
    /// At most this share of the pool (in percent, at least one address) is held back by
    /// DECLINE at once; beyond it the oldest hold ends, and when the pool runs out declined
    /// addresses are reused before any expired lease.
    public var maxDeclinedPercent: Int = 25
    /// At most this many requests wait for the authority at once; more are refused.
    public var maxPendingQueries: Int
    /// The least severe per-message log line worth building (the daemon sets it from the
    /// logger's level): the OFFER/ACK lines cost a quarter of a DORA when nobody reads them.
    public var logLevel: LogRecord.Level = .debug

    public init(
        serverAddress: IPv4Address, subnetMask: IPv4Address = IPv4Address(255, 255, 255, 0),
        poolStart: IPv4Address, poolCount: Int = 10, routers: [IPv4Address]? = nil,
        dnsServers: [IPv4Address] = [], domainName: String? = nil, serverName: String? = nil,
        leaseTime: UInt32 = 86400, staticBindings: [[UInt8]: IPv4Address] = [:],
        bootFiles: BootFileSettings = BootFileSettings(), tftpServer: IPv4Address? = nil,
        allowSimpleDHCP: Bool = false, access: AccessPolicy = .open, alwaysCheck: Bool = false,
        authorityTimeout: Duration = .seconds(5), buggyClients: [MACRule] = [],
        notifyTargets: [Endpoint] = [], offerHold: Duration = .seconds(60),
        declineHold: Duration = .seconds(3600), maxPendingQueries: Int = 1024
    ) {
        self.serverAddress = serverAddress; self.subnetMask = subnetMask
        self.poolStart = poolStart; self.poolCount = poolCount
        self.routers = routers ?? [serverAddress]; self.dnsServers = dnsServers
        self.domainName = domainName; self.serverName = serverName; self.leaseTime = leaseTime
        self.bootpLease = leaseTime
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

extension DHCPServerSettings {
    /// The engine's settings from a loaded configuration, once the daemon knows its own
    /// address on the served network (found from `pool_start` among the host's interfaces)
    /// and that interface's netmask. nil when the configuration serves no DHCP.
    public init?(configuration c: BootConfiguration, serverAddress: IPv4Address, interfaceNetmask: IPv4Address,
                 hostResolvers: [IPv4Address] = []) {
        guard let poolStart = c.bootpd.poolStart else { return nil }
        let access: AccessPolicy
        switch c.bootpd.access {
        case .none: access = .open
        case .mac: access = .macList(c.macRules)
        case .uuid: access = .uuidList(c.uuidRules)
        case .http: access = .authority
        }
        let dns: [IPv4Address]
        switch c.bootpd.dns {
        case let .servers(list): dns = list
        case .auto: dns = hostResolvers
        }
        var files = c.bootFiles
        if files.defaultFile == nil { files.defaultFile = c.bootpd.bootFile }
        self.init(
            serverAddress: serverAddress, subnetMask: c.bootpd.netmask ?? interfaceNetmask,
            poolStart: poolStart, poolCount: c.bootpd.poolCount,
            routers: [c.bootpd.gateway ?? serverAddress], dnsServers: dns,
            domainName: c.bootpd.domain, serverName: c.bootpd.serverName, leaseTime: c.bootpd.leaseTime,
            staticBindings: Dictionary(c.staticBindings.map { ($0.mac.bytes, $0.address) }, uniquingKeysWith: { a, _ in a }),
            bootFiles: files, allowSimpleDHCP: c.bootpd.allowSimpleDHCP, access: access,
            alwaysCheck: c.http.alwaysCheck, authorityTimeout: c.http.timeout,
            buggyClients: c.buggyClients,
            notifyTargets: c.bootpd.notify.map { Endpoint($0.address, $0.port) })
        self.bootpLease = c.bootpd.bootpLease ?? c.bootpd.leaseTime
    }
}
