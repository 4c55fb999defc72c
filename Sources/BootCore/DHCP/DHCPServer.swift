import BootWire

/// What the DHCP engine asks the daemon to do, in order.
public enum DHCPServerAction: Hashable, Sendable {
    /// Send a reply (destination chosen per RFC 2131 section 4.1).
    case send(Datagram)
    /// Make this binding durable. Comes before the reply that depends on it.
    case storeLease(LeaseRecord)
    /// Forget the durable binding of this client (DECLINE).
    case removeLease(mac: [UInt8])
    /// Ask the access authority; give the answer to `authorityAnswered(id:_:at:)`.
    case queryAuthority(AuthorityQuery, id: UInt64)
    /// Call `wake(at:)` at this instant (authority deadlines).
    case wakeUp(at: Instant)
    /// A notify datagram (`EVENT,uuid,MAC,ip`). Never delays a reply: it comes after it.
    case notify(Datagram)
    case log(LogRecord)
}

/// What happened, for logs, metrics and tests.
public struct DHCPServerCounters: Hashable, Sendable {
    public var received = 0
    public var malformed = 0
    public var ignored = 0
    public var offers = 0
    public var acks = 0
    public var naks = 0
    public var bootpReplies = 0
    public var declines = 0
    public var releases = 0
    public var informs = 0
    /// Refused by `[mac]`, `[uuid]` or the authority.
    public var refusedByAccess = 0
    /// Plain DHCP clients refused by the PXE-then-OS rule.
    public var refusedNotPXE = 0
    public var poolExhausted = 0
    public var authorityFailures = 0
    public var pendingOverflow = 0
    public init() {}
}

/// The DHCP/BOOTP server as a sans-IO engine: datagrams and answers in, actions out.
///
/// Confined to one thread (an event loop, or the simulator). It reads no clock: every
/// event carries its instant.
public final class DHCPServer {
    public let settings: DHCPServerSettings
    public private(set) var counters = DHCPServerCounters()
    var table: LeaseTable

    struct Client {
        var mac: [UInt8]
        var uuid: String?
        var isPXE: Bool
        var isIPXE: Bool
        var architecture: ClientArchitecture?
        var phase: BootPhase { isPXE ? .pxe : .dhcp }
    }

    struct Grant: Hashable {
        var hostName: String?
        var bootFile: String?
    }

    struct Pending {
        var datagram: Datagram
        var message: DHCPMessage
        var client: Client
        var deadline: Instant
    }

    private var pending: [UInt64: Pending] = [:]
    private var pendingByClient: [[UInt8]: UInt64] = [:]
    private var nextQueryID: UInt64 = 1
    private var grants: [[UInt8]: [BootPhase: Grant]] = [:]

    public init(settings: DHCPServerSettings, leases: [LeaseRecord] = []) {
        self.settings = settings
        self.table = LeaseTable(settings: settings, records: leases)
    }

    /// The current binding of a client, if any.
    public func lease(for mac: [UInt8]) -> LeaseRecord? { table.record(for: mac) }
    /// The binding that holds `address`, if any (a lookup, not a scan).
    public func lease(holding address: IPv4Address) -> LeaseRecord? { table.record(holding: address) }
    /// Every binding.
    public var leases: [LeaseRecord] { table.all }
    /// Requests waiting for the authority.
    public var pendingQueries: Int { pending.count }

    // MARK: Events

    /// A datagram arrived on the DHCP port.
    public func handle(_ datagram: Datagram, at now: Instant) -> [DHCPServerAction] {
        counters.received += 1
        let message: DHCPMessage
        do { message = try DHCPMessage(parsing: datagram.payload) } catch {
            counters.malformed += 1
            return [.log(LogRecord(.debug, "dropped malformed DHCP packet from \(datagram.peer): \(error)"))]
        }
        guard message.op == .request, message.hlen > 0 else {
            counters.ignored += 1
            return []
        }
        // Ethernet addresses are six bytes. A longer hlen would make one machine many
        // clients (the binding key is the first hlen bytes of chaddr, the [mac] rules read
        // six): such a request is malformed.
        if message.htype == 1 && message.hlen != 6 {
            counters.malformed += 1
            return [.log(LogRecord(.info, "ignored DHCP from \(macText(Array(message.chaddr.prefix(6)))): htype 1 (Ethernet) with hlen \(message.hlen), not 6"))]
        }
        // A relay agent names its client's network in giaddr. bootd serves one network
        // (the pool's): a request relayed from another network would get an address that
        // cannot work there, so it gets nothing (as dnsmasq with no dhcp-range for it).
        if message.giaddr != .any,
           message.giaddr.value & settings.subnetMask.value != settings.networkAddress.value {
            counters.ignored += 1
            return [.log(LogRecord(.info, "ignored DHCP from relay \(message.giaddr): its network is not the one served (\(settings.networkAddress)/\(settings.subnetMask))"))]
        }
        let client = identify(message)
        var out: [DHCPServerAction] = []
        let type = message.messageType
        switch type {
        case .release?:
            return release(message, datagram, client, at: now)
        case .decline?:
            return decline(message, client, at: now)
        case nil, .discover?, .request?, .inform?:
            break
        default:
            counters.ignored += 1
            return [.log(LogRecord(.debug, "ignored DHCP \(type!) from \(macText(client.mac))"))]
        }
        // PyBootd's PXE-then-OS rule: a plain DHCP client is served only once its MAC
        // booted through PXE, unless allow_simple_dhcp.
        if !client.isPXE && !settings.allowSimpleDHCP && !(table.record(for: client.mac)?.pxeBooted ?? false) {
            counters.refusedNotPXE += 1
            return [.log(LogRecord(.info, "ignored \(typeName(type)) from \(macText(client.mac)): not a PXE client and it has not booted through PXE (allow_simple_dhcp is off)"))]
        }
        switch decideAccess(client) {
        case let .allowed(grant):
            out += process(message, datagram, client, grant, at: now)
        case let .denied(reason):
            counters.refusedByAccess += 1
            out.append(.log(LogRecord(.info, "refused \(typeName(type)) from \(macText(client.mac)): \(reason)")))
        case .ask:
            out += park(message, datagram, client, at: now)
        }
        return out
    }

    /// The authority answered query `id`.
    public func authorityAnswered(id: UInt64, _ answer: AuthorityAnswer, at now: Instant) -> [DHCPServerAction] {
        guard let p = pending.removeValue(forKey: id) else { return [] }
        if pendingByClient[p.client.mac] == id { pendingByClient[p.client.mac] = nil }
        let who = macText(p.client.mac)
        switch answer {
        case let .allowed(hostName, bootFile):
            let grant = Grant(hostName: hostName, bootFile: bootFile)
            if !settings.alwaysCheck { grants[p.client.mac, default: [:]][p.client.phase] = grant }
            return process(p.message, p.datagram, p.client, grant, at: now)
        case .denied:
            counters.refusedByAccess += 1
            return [.log(LogRecord(.info, "refused \(typeName(p.message.messageType)) from \(who): the authority denied \(p.client.phase) access"))]
        case let .failed(why):
            counters.authorityFailures += 1
            return [.log(LogRecord(.warning, "refused \(typeName(p.message.messageType)) from \(who): authority failed (\(why))"))]
        }
    }

    /// Time passed: requests whose authority deadline is over are refused.
    public func wake(at now: Instant) -> [DHCPServerAction] {
        var out: [DHCPServerAction] = []
        for (id, p) in pending where p.deadline <= now {
            pending[id] = nil
            if pendingByClient[p.client.mac] == id { pendingByClient[p.client.mac] = nil }
            counters.authorityFailures += 1
            out.append(.log(LogRecord(.warning, "refused request from \(macText(p.client.mac)): no answer from the authority within \(settings.authorityTimeout)")))
        }
        return out
    }

    // MARK: Who is asking

    func identify(_ m: DHCPMessage) -> Client {
        let vendor = (try? m.value(.vendorClassIdentifier)) ?? nil
        let vendorClass = vendor.flatMap(PXEVendorClass.init)
        let machineID = (try? m.value(.clientMachineID)) ?? nil
        let uuid = machineID?.uuid
        let isPXE = (vendorClass?.isPXEClient ?? false) || (machineID?.type == 0 && machineID?.identifier.count == 16)
        let userClass = (try? m.value(.userClass)) ?? nil
        let isIPXE = (userClass?.contains("iPXE") ?? false) || m.options.first(code: 175) != nil
        let arch = ((try? m.value(.clientArchitectures)) ?? nil)?.first ?? vendorClass?.architecture
        return Client(mac: m.clientHardwareAddress, uuid: uuid, isPXE: isPXE, isIPXE: isIPXE, architecture: arch)
    }

    enum Decision { case allowed(Grant), denied(String), ask }

    func decideAccess(_ c: Client) -> Decision {
        switch settings.access {
        case .open:
            return .allowed(Grant())
        case let .macList(list):
            for rule in list where rule.pattern.matches(c.mac) {
                return rule.value ? .allowed(Grant()) : .denied("blocked by [mac] \(rule.pattern)")
            }
            return .denied("not listed in [mac]")
        case let .uuidList(list):
            guard let uuid = c.uuid ?? table.record(for: c.mac)?.uuid else {
                return .denied("no UUID (option 97) known for this client, and access is by [uuid]")
            }
            guard let id = MachineUUID(uuid), let rule = list.first(where: { $0.uuid == id }) else {
                return .denied("UUID \(uuid) not listed in [uuid]")
            }
            return rule.allow ? .allowed(Grant()) : .denied("UUID \(uuid) blocked by [uuid]")
        case .authority:
            if !settings.alwaysCheck, let g = grants[c.mac]?[c.phase] { return .allowed(g) }
            return .ask
        }
    }

    func park(_ m: DHCPMessage, _ d: Datagram, _ c: Client, at now: Instant) -> [DHCPServerAction] {
        // A retransmission while the question is out replaces the parked request.
        if let id = pendingByClient[c.mac], var p = pending[id] {
            p.message = m; p.datagram = d; p.client = c
            pending[id] = p
            return []
        }
        guard pending.count < settings.maxPendingQueries else {
            counters.pendingOverflow += 1
            return [.log(LogRecord(.warning, "refused request from \(macText(c.mac)): \(settings.maxPendingQueries) requests already wait for the authority"))]
        }
        let id = nextQueryID
        nextQueryID += 1
        let deadline = now + settings.authorityTimeout
        pending[id] = Pending(datagram: d, message: m, client: c, deadline: deadline)
        pendingByClient[c.mac] = id
        let uuid = c.uuid ?? table.record(for: c.mac)?.uuid
        return [.queryAuthority(AuthorityQuery(mac: c.mac, uuid: uuid, phase: c.phase), id: id), .wakeUp(at: deadline)]
    }

    // MARK: Messages

    func process(_ m: DHCPMessage, _ d: Datagram, _ c: Client, _ grant: Grant, at now: Instant) -> [DHCPServerAction] {
        switch m.messageType {
        case nil: return bootp(m, d, c, grant, at: now)
        case .discover?: return discover(m, d, c, grant, at: now)
        case .request?: return request(m, d, c, grant, at: now)
        case .inform?: return inform(m, d, c, grant)
        default: return []
        }
    }

    func discover(_ m: DHCPMessage, _ d: Datagram, _ c: Client, _ grant: Grant, at now: Instant) -> [DHCPServerAction] {
        let requested = (try? m.value(.requestedIPAddress)) ?? nil
        guard let address = table.choose(for: c.mac, requested: requested, at: now) else {
            counters.poolExhausted += 1
            return [.log(LogRecord(.warning, "no address for \(macText(c.mac)): pool of \(settings.poolCount) from \(settings.poolStart) exhausted"))]
        }
        let existing = table.record(for: c.mac)
        var record = existing ?? LeaseRecord(mac: c.mac, address: address, expires: nil)
        var offerOnly: Bool?   // nil: a live lease stays what it is
        if existing == nil || record.address != address || (record.expires.map { $0 <= now } ?? false) {
            // A new or lapsed binding is held for the offer, and is an offer until the REQUEST.
            record.address = address
            record.expires = now + settings.offerHold
            offerOnly = true
        }
        record.uuid = c.uuid ?? record.uuid
        table.bind(record, offer: offerOnly)
        counters.offers += 1
        var out: [DHCPServerAction] = []
        if let reply = reply(.offer, to: m, d, c, grant, yiaddr: address, lease: true) { out.append(reply) }
        if settings.logLevel <= .info {
            out.append(.log(LogRecord(.info, "OFFER \(address) to \(macText(c.mac))\(describe(c))")))
        }
        return out
    }

    func request(_ m: DHCPMessage, _ d: Datagram, _ c: Client, _ grant: Grant, at now: Instant) -> [DHCPServerAction] {
        let serverID = (try? m.value(.serverIdentifier)) ?? nil
        let requestedOption = (try? m.value(.requestedIPAddress)) ?? nil
        let current = table.record(for: c.mac)
        if let serverID, serverID != settings.serverAddress {
            // SELECTING another server's offer: drop our offer if it never became a lease.
            if let current, current.expires.map({ $0 <= now + settings.offerHold }) ?? false,
               settings.staticBindings[c.mac] == nil, !(current.pxeBooted) {
                table.remove(c.mac)
            }
            counters.ignored += 1
            return [.log(LogRecord(.debug, "\(macText(c.mac)) chose server \(serverID)"))]
        }
        let requested: IPv4Address
        if let r = requestedOption { requested = r }
        else if m.ciaddr != .any { requested = m.ciaddr }
        else {
            counters.malformed += 1
            return [.log(LogRecord(.debug, "REQUEST from \(macText(c.mac)) names no address"))]
        }
        let staticAddress = settings.staticBindings[c.mac]
        let mine = staticAddress ?? current?.address
        if mine != requested || !table.usable(requested, for: c.mac, at: now) && staticAddress == nil {
            // RFC 2131 section 4.3.2: NAK when the address is not (or no longer) the client's
            // or is not on this network; stay silent in INIT-REBOOT when we know nothing of it.
            if serverID == nil && mine == nil && settings.isOnServedNetwork(requested) && table.owner(of: requested) == nil {
                counters.ignored += 1
                return [.log(LogRecord(.debug, "no record of \(macText(c.mac)) requesting \(requested): silent"))]
            }
            counters.naks += 1
            var out: [DHCPServerAction] = []
            if let nak = nakReply(to: m, d, reason: "address \(requested) is not yours") { out.append(nak) }
            out.append(.log(LogRecord(.info, "NAK \(requested) to \(macText(c.mac)): \(mine.map { "its address is \($0)" } ?? "no binding")")))
            return out
        }
        var record = current ?? LeaseRecord(mac: c.mac, address: requested, expires: nil)
        record.address = requested
        record.expires = now + .seconds(Int64(settings.leaseTime))
        record.pxeBooted = record.pxeBooted || c.isPXE
        record.uuid = c.uuid ?? record.uuid
        record.hostName = grant.hostName ?? record.hostName
        table.bind(record)
        counters.acks += 1
        var out: [DHCPServerAction] = [.storeLease(record)]
        if let reply = reply(.ack, to: m, d, c, grant, yiaddr: requested, lease: true) { out.append(reply) }
        if settings.logLevel <= .info {
            out.append(.log(LogRecord(.info, "ACK \(requested) to \(macText(c.mac))\(describe(c))")))
        }
        out += notify(c.isPXE ? "BOOT" : "LEASE", c, requested)
        return out
    }

    func inform(_ m: DHCPMessage, _ d: Datagram, _ c: Client, _ grant: Grant) -> [DHCPServerAction] {
        counters.informs += 1
        var out: [DHCPServerAction] = []
        if let r = reply(.ack, to: m, d, c, grant, yiaddr: .any, lease: false) { out.append(r) }
        out.append(.log(LogRecord(.info, "ACK (INFORM) to \(macText(c.mac)) at \(m.ciaddr)")))
        return out
    }

    func bootp(_ m: DHCPMessage, _ d: Datagram, _ c: Client, _ grant: Grant, at now: Instant) -> [DHCPServerAction] {
        guard let address = table.choose(for: c.mac, requested: nil, at: now) else {
            counters.poolExhausted += 1
            return [.log(LogRecord(.warning, "no address for BOOTP client \(macText(c.mac)): pool exhausted"))]
        }
        var record = table.record(for: c.mac) ?? LeaseRecord(mac: c.mac, address: address, expires: nil)
        record.address = address
        // RFC 1534 lets the server choose: a BOOTP client never renews nor releases, so a
        // permanent binding would take its address for good. It lasts bootp_lease and is
        // renewed by each BOOTREQUEST; a returning client gets the same address back.
        record.expires = now + .seconds(Int64(settings.bootpLease))
        record.pxeBooted = record.pxeBooted || c.isPXE
        table.bind(record)
        counters.bootpReplies += 1
        var out: [DHCPServerAction] = [.storeLease(record)]
        if let r = reply(nil, to: m, d, c, grant, yiaddr: address, lease: false) { out.append(r) }
        if settings.logLevel <= .info {
            out.append(.log(LogRecord(.info, "BOOTREPLY \(address) to \(macText(c.mac))\(describe(c))")))
        }
        return out
    }

    func release(_ m: DHCPMessage, _ d: Datagram, _ c: Client, at now: Instant) -> [DHCPServerAction] {
        guard isForUs(m), let r = table.record(for: c.mac), r.address == m.ciaddr, table.isCommitted(c.mac) else {
            counters.ignored += 1
            return [.log(LogRecord(.debug, "ignored RELEASE of \(m.ciaddr) from \(macText(c.mac)): not its lease here"))]
        }
        // RFC 2131 4.4.6: the client unicasts RELEASE from the address it gives up. One from
        // another address (not through a relay) is someone else speaking for it.
        if m.giaddr == .any && d.peer.address != m.ciaddr {
            counters.ignored += 1
            return [.log(LogRecord(.info, "ignored RELEASE of \(m.ciaddr) for \(macText(c.mac)): sent from \(d.peer.address), not from the address released"))]
        }
        counters.releases += 1
        // The binding stays sticky (same address next time if still free) but is no longer held.
        table.update(c.mac) { $0.expires = now }
        var rec = r
        rec.expires = now
        return [.storeLease(rec), .log(LogRecord(.info, "RELEASE \(r.address) by \(macText(c.mac))"))]
            + notify("RELEASE", c, r.address)
    }

    func decline(_ m: DHCPMessage, _ c: Client, at now: Instant) -> [DHCPServerAction] {
        let requested = (try? m.value(.requestedIPAddress)) ?? nil
        // RFC 2131 4.3.3: only the client the address was ACKed to may decline it; an address
        // that was merely offered is not its to decline.
        guard isForUs(m), let requested, let r = table.record(for: c.mac), r.address == requested,
              table.isCommitted(c.mac) else {
            counters.ignored += 1
            return [.log(LogRecord(.info, "ignored DECLINE of \(requested.map(\.description) ?? "no address") from \(macText(c.mac)): not a lease ACKed to it here"))]
        }
        counters.declines += 1
        table.decline(requested, until: now + settings.declineHold, at: now)
        return [.removeLease(mac: c.mac),
                .log(LogRecord(.warning, "DECLINE \(requested) by \(macText(c.mac)): address in use on the network, held back for \(settings.declineHold)"))]
    }

    func isForUs(_ m: DHCPMessage) -> Bool {
        guard let sid = (try? m.value(.serverIdentifier)) ?? nil else { return true }
        return sid == settings.serverAddress
    }

    // MARK: Replies

    func bootFile(for c: Client, _ grant: Grant) -> String? {
        if let f = grant.bootFile { return f }
        if c.isIPXE, let f = settings.bootFiles.iPXE { return f }
        if let a = c.architecture, let f = settings.bootFiles.byArchitecture[a.rawValue] { return f }
        return settings.bootFiles.defaultFile
    }

    func reply(_ type: DHCPMessageType?, to m: DHCPMessage, _ d: Datagram, _ c: Client, _ grant: Grant,
               yiaddr: IPv4Address, lease: Bool) -> DHCPServerAction? {
        var r = DHCPMessage(op: .reply, htype: m.htype, hlen: m.hlen, xid: m.xid, flags: m.flags,
                            ciaddr: type == .offer ? .any : m.ciaddr, // RFC 2131 table 3
                            yiaddr: yiaddr, giaddr: m.giaddr, chaddr: m.chaddr,
                            options: DHCPOptions(reservingCapacity: 16))
        if let name = settings.serverName, name.utf8.count < 64 { r.serverHostName = name }
        let requestList = ((try? m.value(.parameterRequestList)) ?? nil) ?? []   // a few dozen codes: no Set
        do {
            if let type { try r.setValue(type, for: .messageType) }
            if type != nil { try r.setValue(settings.serverAddress, for: .serverIdentifier) }
            if lease && type != nil {
                try r.setValue(settings.leaseTime, for: .leaseTime)
                try r.setValue(settings.leaseTime / 2, for: .renewalTime)
                try r.setValue(settings.leaseTime / 8 * 7, for: .rebindingTime)
            }
            try r.setValue(settings.subnetMask, for: .subnetMask)
            if !settings.routers.isEmpty { try r.setValue(settings.routers, for: .routers) }
            if !settings.dnsServers.isEmpty { try r.setValue(settings.dnsServers, for: .domainNameServers) }
            if let dn = settings.domainName, !dn.isEmpty { try r.setValue(dn, for: .domainName) }
            if let host = grant.hostName ?? table.record(for: c.mac)?.hostName, !host.isEmpty {
                try r.setValue(host, for: .hostName)
            }
            try r.setValue(settings.broadcastAddress, for: .broadcastAddress)
            // RFC 6842: a client identifier (option 61) comes back unaltered in every reply.
            if let id = m.options[code: 61] { r.options[code: 61] = id }
            if c.isPXE, let file = bootFile(for: c, grant) {
                let tftp = settings.tftpServer ?? settings.serverAddress
                r.siaddr = tftp
                if file.utf8.count < 128 { r.bootFileName = file }
                if requestList.contains(66) { try r.setValue(tftp.description, for: .tftpServerName) }
                if requestList.contains(67) || file.utf8.count >= 128 { try r.setValue(file, for: .bootfileName) }
            }
            if c.isPXE {
                try r.setValue("PXEClient", for: .vendorClassIdentifier)
                if let id = m.options[code: 97] { r.options[code: 97] = id }
                // PXE 2.1: discovery control bit 3, boot the file named here, no menu.
                var pxe = PXEVendorOptions()
                pxe.discoveryControl = .useBootFile
                try r.setValue(pxe, for: .pxeVendorOptions)
            }
            if c.isIPXE {
                // iPXE: 176 = 1 skips its wait for proxyDHCP offers.
                try r.setValue([DHCPSubOption(code: 176, data: [1])], for: .iPXEEncapsulated)
            }
            let bytes = try r.serialized(maximumSize: m.maximumReplySize)
            return .send(Datagram(payload: bytes, peer: destination(for: m, c, nak: false),
                                  local: Endpoint(settings.serverAddress, 67), interface: d.interface))
        } catch {
            return .log(LogRecord(.error, "cannot build reply to \(macText(c.mac)): \(error)"))
        }
    }

    func nakReply(to m: DHCPMessage, _ d: Datagram, reason: String) -> DHCPServerAction? {
        var r = DHCPMessage(op: .reply, htype: m.htype, hlen: m.hlen, xid: m.xid, flags: m.flags,
                            giaddr: m.giaddr, chaddr: m.chaddr)
        if m.giaddr != .any { r.broadcastFlag = true }
        do {
            try r.setValue(.nak, for: .messageType)
            try r.setValue(settings.serverAddress, for: .serverIdentifier)
            try r.setValue(reason, for: .message)
            if let id = m.options[code: 61] { r.options[code: 61] = id }   // RFC 6842
            let bytes = try r.serialized(maximumSize: m.maximumReplySize)
            return .send(Datagram(payload: bytes, peer: destination(for: m, nil, nak: true),
                                  local: Endpoint(settings.serverAddress, 67), interface: d.interface))
        } catch {
            return .log(LogRecord(.error, "cannot build NAK: \(error)"))
        }
    }

    /// RFC 2131 section 4.1: relay → giaddr:67; NAK → broadcast; a client with an address
    /// (ciaddr) → unicast; otherwise broadcast to 255.255.255.255 (never the subnet
    /// broadcast: EDK2 ignores it), which also serves `[buggy_clients]`.
    func destination(for m: DHCPMessage, _ c: Client?, nak: Bool) -> Endpoint {
        if m.giaddr != .any { return Endpoint(m.giaddr, 67) }
        if nak { return Endpoint(.broadcast, 68) }
        if let c, settings.buggyClients.first(where: { $0.pattern.matches(c.mac) })?.value == true { return Endpoint(.broadcast, 68) }
        if m.ciaddr != .any { return Endpoint(m.ciaddr, 68) }
        return Endpoint(.broadcast, 68)
    }

    func notify(_ event: String, _ c: Client, _ address: IPv4Address) -> [DHCPServerAction] {
        guard !settings.notifyTargets.isEmpty else { return [] }
        let uuid = c.uuid ?? table.record(for: c.mac)?.uuid
        let text = [event] + (uuid.map { [$0] } ?? []) + [macText(c.mac), address.description]
        let payload = Array(text.joined(separator: ",").utf8)
        return settings.notifyTargets.map {
            .notify(Datagram(payload: payload, peer: $0, local: Endpoint(settings.serverAddress, 0)))
        }
    }

    func typeName(_ t: DHCPMessageType?) -> String { t.map(\.description) ?? "BOOTREQUEST" }

    func describe(_ c: Client) -> String {
        var parts: [String] = []
        if c.isIPXE { parts.append("iPXE") } else if c.isPXE { parts.append("PXE") }
        if let a = c.architecture { parts.append(a.description) }
        if let u = c.uuid { parts.append("uuid \(u)") }
        return parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")"
    }
}
