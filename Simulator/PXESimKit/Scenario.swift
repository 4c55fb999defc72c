import BootCore
import BootWire
import PXEClient
import SimNet

/// Which virtual clients a scenario boots.
public enum PersonaMix: String, Hashable, Sendable, CaseIterable {
    /// A legacy BIOS PXE ROM.
    case bios
    /// EDK2's UEFI PXE (x64).
    case uefi
    /// iPXE (BIOS and EFI builds alternate): DHCP, then the HTTP script URL.
    case ipxe
    /// A network install: BIOS PXE boot, then the installed OS's plain DHCP exchange.
    case dhcp
    /// All of the above in turn.
    case mixed
}

/// What to simulate. A scenario is a pure function of these values.
public struct ScenarioOptions: Hashable, Sendable {
    public var clients: Int = 50
    public var seed: UInt64 = 1
    /// Packet loss on every link, each direction (0...1).
    public var loss: Double = 0
    public var persona: PersonaMix = .mixed
    /// PyBootd/bootd INI text; the demo configuration when nil.
    public var configurationText: String?
    public var configurationName: String = "demo.ini"
    /// Size of every boot file served (bytes).
    public var bootFileSize: Int = 64 * 1024
    /// Clients power on at random instants within this window.
    public var powerOnSpread: Duration = .seconds(1)
    /// A client whose firmware gives up is rebooted (as a lab machine set to boot from the
    /// network would be) up to this many times.
    public var reboots: Int = 3
    /// Virtual time after which the run stops.
    public var timeLimit: Duration = .seconds(1800)
    public var latency: Duration = .microseconds(200)
    public var jitter: Duration = .microseconds(100)
    public var duplication: Double = 0
    public var reordering: Double = 0
    /// Crash the server at these virtual instants and start it again (same lease store)
    /// `serverDowntime` later.
    public var serverCrashes: [Duration] = []
    public var serverDowntime: Duration = .seconds(2)
    /// Lease writes are buffered and synced once per batch of datagrams, as bootd's lease
    /// file does (group commit); a crash loses the unsynced ones. Off: durable at once.
    public var groupCommit = true
    /// With `access = http`: the clients (by index) the simulated authority denies, and
    /// its answer latency; `authorityTimeoutRate` of the questions are never answered.
    public var deniedClients: Set<Int> = []
    public var authorityLatency: Duration = .milliseconds(5)
    public var authorityTimeoutRate: Double = 0
    /// Keep the server's log lines (with virtual timestamps) in the result.
    public var keepServerLog = false
    /// Keep every packet sent (decoded, with virtual timestamps) in the result's log.
    public var tracePackets = false
    public init() {}
}

public struct ScenarioError: Error, CustomStringConvertible {
    public var description: String
}

/// One client's story, for the report.
public struct ClientRecord: Hashable, Sendable {
    public var index: Int
    public var persona: Persona
    public var mac: [UInt8]
    public var outcome: ClientOutcome
    public var attempts: Int
    public var poweredOn: Instant
}

/// What happened, as numbers.
public struct ScenarioResult: Sendable {
    public var options: ScenarioOptions
    public var clients: [ClientRecord]
    public var violation: String?
    public var virtualDuration: Duration
    public var network: SimNetworkStats
    public var dhcp: DHCPServerCounters?
    public var tftp: TFTPServerCounters?
    public var events: Int
    public var serverCrashes: Int
    /// The server's log, when `keepServerLog` was set.
    public var serverLog: [String]

    public var booted: Int { clients.filter { $0.outcome.succeeded }.count }
    public var failed: Int { clients.count - booted }
    public var ok: Bool { failed == 0 && violation == nil }
}

/// Runs virtual clients against the real daemon composition (`BootDaemon`, its DHCP and
/// TFTP engines) over SimNet. Same options, same result, byte for byte.
public final class Scenario {
    public let options: ScenarioOptions
    let simulation: Simulation
    let network: SimNetwork
    let serverHost: SimHost
    let files: SimFileTree
    let leases: SimLeaseStore
    let dhcpSettings: DHCPServerSettings
    let fileChecksums: [String: UInt64]

    final class Slot {
        let index: Int
        let persona: Persona
        let mac: [UInt8]
        let uuid: String
        let host: SimHost
        var client: BootClient
        var transports: [UInt16: SimTransport] = [:]
        var attempts = 1
        var poweredOn: Instant = .zero
        var done = false
        var wake: TimerToken?
        init(index: Int, persona: Persona, mac: [UInt8], uuid: String, host: SimHost, client: BootClient) {
            self.index = index; self.persona = persona; self.mac = mac; self.uuid = uuid; self.host = host; self.client = client
        }
    }
    var slots: [Slot] = []
    var finished = 0
    var addressOwner: [IPv4Address: [UInt8]] = [:]
    var violation: String?
    var allFinishedAt: Instant?
    let logBox = LogBox()

    final class LogBox { var lines: [String] = [] }

    /// Called about once per virtual second while `run()` goes: virtual now, clients
    /// started, booted, failed (for a progress line; the run does not depend on it).
    public var progress: ((Instant, _ started: Int, _ booted: Int, _ failed: Int) -> Void)?

    public init(_ options: ScenarioOptions) throws(ScenarioError) {
        self.options = options
        let text = options.configurationText ?? demoConfiguration
        let loaded: LoadedConfiguration
        do { loaded = try ConfigurationLoader.parse(text, fileName: options.configurationName) } catch {
            throw ScenarioError(description: error.errors.map(\.description).joined(separator: "\n"))
        }
        let config = loaded.configuration
        guard let poolStart = config.bootpd.poolStart else {
            throw ScenarioError(description: "\(options.configurationName): [bootpd] pool_start is required")
        }
        // The simulated server sits on the pool's network, at its first host address.
        let netmask = config.bootpd.netmask ?? IPv4Address(255, 255, 255, 0)
        let serverAddress = IPv4Address((poolStart.value & netmask.value) | 1)
        guard let dhcp = DHCPServerSettings(configuration: config, serverAddress: serverAddress, interfaceNetmask: netmask) else {
            throw ScenarioError(description: "\(options.configurationName): no DHCP service configured")
        }
        dhcpSettings = dhcp
        let tftpSettings = TFTPServerSettings(configuration: config)

        simulation = Simulation(seed: options.seed)
        network = SimNetwork(simulation: simulation,
                             faults: LinkFaults(latency: options.latency, jitter: options.jitter, loss: options.loss,
                                                duplication: options.duplication, reordering: options.reordering))
        serverHost = network.attach("server", address: serverAddress)

        // Boot files: every name the configuration can hand out, with deterministic bytes.
        var names = Set(config.bootFiles.byArchitecture.values)
        if let d = config.bootFiles.defaultFile ?? config.bootpd.bootFile { names.insert(d) }
        if let i = config.bootFiles.iPXE { names.insert(Self.pathOf(i)) }
        var tree: [String: [UInt8]] = [:]
        var sums: [String: UInt64] = [:]
        for (k, name) in names.sorted().enumerated() {
            let bytes = (0..<options.bootFileSize).map { UInt8(truncatingIfNeeded: ($0 &* 31) &+ k &* 7 &+ ($0 >> 9)) }
            let path = name.hasPrefix("/") ? String(name.dropFirst()) : name
            tree[path] = bytes
            sums[path] = ClientOutcome.fnv1a(bytes)
        }
        fileChecksums = sums
        files = SimFileTree(simulation: simulation, files: tree)
        leases = SimLeaseStore()
        authority = SimAuthority(simulation: simulation, latency: options.authorityLatency)
        authority.timeoutRate = options.authorityTimeoutRate
        self.tftpSettings = tftpSettings
        if options.tracePackets {
            network.faultHook = { [logBox, simulation] info in
                let d = info.datagram
                let ports = [d.peer.port, d.local.port]
                let text: String
                if ports.contains(67) || ports.contains(68) {
                    text = (try? DHCPMessage(parsing: d.payload).summary()) ?? "DHCP (malformed)"
                } else {
                    text = (try? TFTPPacket(parsing: d.payload).summary) ?? "\(d.payload.count) bytes"
                }
                logBox.lines.append("\(simulation.now) \(d.peer) > \(d.local) \(text)")
                return .deliver
            }
        }
        try startServer()
    }

    let authority: SimAuthority
    let tftpSettings: TFTPServerSettings
    /// The running server incarnation; replaced on a simulated crash and restart.
    private(set) var daemon: BootDaemon!
    /// Counters of every incarnation that has crashed.
    var pastDHCP: [DHCPServerCounters] = []
    var pastTFTP: [TFTPServerCounters] = []
    var crashes = 0

    /// Starts a server incarnation on the server host: binds 67 and 69, loads the leases.
    func startServer() throws(ScenarioError) {
        let box = DaemonBox()
        let dhcpTransport: SimTransport
        let tftpTransport: SimTransport
        do {
            dhcpTransport = try network.bind(serverHost, port: 67) { d in box.daemon?.receiveDHCP(d) }
            tftpTransport = try network.bind(serverHost, port: 69) { d in box.daemon?.receiveTFTP(d) }
        } catch {
            throw ScenarioError(description: "cannot bind the simulated server's ports: \(error)")
        }
        authority.owner = serverHost.owner
        files.owner = serverHost.owner
        var ports = DaemonPorts(
            clock: simulation.clock(owner: serverHost.owner), leaseStore: leases, authority: authority,
            dhcpTransport: dhcpTransport, tftpTransport: tftpTransport,
            ports: SimPortFactory(network: network, host: serverHost), files: files,
            log: { [logBox, simulation, keep = options.keepServerLog] record in
                if keep { logBox.lines.append("\(simulation.now) \(record)") }
            })
        if options.groupCommit {
            leases.autoFlush = false
            // After the events already due at this instant: the datagrams of the same batch.
            ports.deferSync = { [simulation, owner = serverHost.owner] body in
                _ = simulation.schedule(after: .zero, owner: owner, label: "lease sync", body)
            }
        }
        daemon = BootDaemon(dhcp: dhcpSettings, tftp: tftpSettings, ports: ports)
        box.daemon = daemon
    }

    /// Crashes the server (ports closed, timers and pending answers gone) and starts a new
    /// incarnation after the downtime, with the same lease store.
    func crashServer() {
        if let c = daemon.dhcp?.counters { pastDHCP.append(c) }
        if let c = daemon.tftp?.counters { pastTFTP.append(c) }
        daemon.stop()
        // Writes not yet synced never reached the disk; no ACK depended on them yet.
        leases.crash()
        _ = network.crash(serverHost)
        crashes += 1
        if options.keepServerLog { logBox.lines.append("\(simulation.now) server crashed") }
        simulation.schedule(after: options.serverDowntime, label: "restart server") { [unowned self] in
            do throws(ScenarioError) { try self.startServer() } catch { self.fail(error.description) }
            if self.options.keepServerLog { self.logBox.lines.append("\(self.simulation.now) server restarted") }
        }
    }

    final class DaemonBox { var daemon: BootDaemon? }

    /// The daemon, its sockets and the simulation's pending events refer to each other
    /// (a socket's handler reaches the daemon, whose ports reach the network and the
    /// simulation's clock): break those cycles, or each run leaks its whole world.
    deinit {
        daemon?.stop()
        network.detach(serverHost)
        for slot in slots { network.detach(slot.host) }
        network.faultHook = nil
        simulation.clearPending()
    }

    /// The path part of an `http://host[:port]/path` URL (the name itself otherwise).
    static func pathOf(_ url: String) -> String {
        let parts = url.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].hasSuffix(":"), parts[1].isEmpty else { return url }
        return parts.count == 4 ? String(parts[3]) : ""
    }

    public static func persona(for index: Int, _ mix: PersonaMix) -> (Persona, continueToOS: Bool) {
        switch mix {
        case .bios: return (.biosPXE, false)
        case .uefi: return (.uefiPXE, false)
        case .ipxe: return (.iPXE(index % 2 == 0 ? .bios : .efi), false)
        case .dhcp: return (.biosPXE, true)
        case .mixed:
            switch index % 5 {
            case 0: return (.biosPXE, false)
            case 1: return (.uefiPXE, false)
            case 2: return (.iPXE(.bios), false)
            case 3: return (.iPXE(.efi), false)
            default: return (.biosPXE, true)
            }
        }
    }

    /// Runs to the end and returns what happened.
    public func run() -> ScenarioResult {
        let r = simulation.fork("clients")
        for i in 0..<options.clients {
            let (persona, os) = Self.persona(for: i, options.persona)
            let mac: [UInt8] = [0x52, 0x54, 0x00, UInt8((i >> 16) & 0xff), UInt8((i >> 8) & 0xff), UInt8(i & 0xff)]
            let hex = String(i, radix: 16)
            let uuid = "5ce1ab00-7700-4a11-9e00-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
            let host = network.attach("client\(i)", address: .any)
            let slot = Slot(index: i, persona: persona, mac: mac, uuid: String(uuid), host: host,
                            client: makeClient(persona, mac: mac, uuid: String(uuid), os: os, attempt: 1, index: i))
            slots.append(slot)
            let spreadNs = options.powerOnSpread.nanosecondCount
            let at = Instant(nanoseconds: spreadNs > 0 ? Int64(r.below(UInt64(spreadNs))) : 0)
            slot.poweredOn = at
            if options.deniedClients.contains(i) {
                authority.rules.append(SimAuthority.Rule(mac: mac, .answer(.denied)))
            }
            simulation.schedule(at: at, label: "power on client\(i)") { [unowned self] in
                self.perform(slot, slot.client.start(at: self.simulation.now))
            }
        }
        for t in options.serverCrashes {
            simulation.schedule(at: .zero + t, label: "crash server") { [unowned self] in self.crashServer() }
        }
        simulation.addInvariant("bounded TFTP sessions") { [unowned self] in
            let n = self.daemon.tftp?.sessionCount ?? 0
            return n > (self.daemon.tftp?.settings.maxSessions ?? 0) ? "\(n) TFTP sessions open" : nil
        }
        let limit = Instant.zero + options.timeLimit
        var result = SimRunResult.idle
        while finished < slots.count && violation == nil {
            result = simulation.run(until: min(limit, simulation.now + .seconds(1)))
            if let progress {
                let now = simulation.now
                let done = slots.filter(\.done)
                let booted = done.filter { $0.client.outcome.succeeded }.count
                progress(now, slots.filter { $0.poweredOn <= now }.count, booted, done.count - booted)
            }
            if simulation.now >= limit || result == .idle { break }
            if case .violated = result { break }
        }
        if case let .violated(v) = result { violation = violation ?? v.description }
        // Let the server finish what it was doing (last ACKs, session ends) before checking.
        if violation == nil { _ = simulation.run(until: simulation.now + .seconds(30)) }
        if violation == nil, let open = daemon.tftp?.sessionCount, open > 0, finished == slots.count {
            violation = "\(open) TFTP sessions never ended"
        }
        if violation == nil { violation = checkServerBindings() }
        let records = slots.map {
            ClientRecord(index: $0.index, persona: $0.persona, mac: $0.mac, outcome: $0.client.outcome,
                         attempts: $0.attempts, poweredOn: $0.poweredOn)
        }
        return ScenarioResult(options: options, clients: records, violation: violation,
                              virtualDuration: (allFinishedAt ?? simulation.now) - .zero, network: network.stats,
                              dhcp: (pastDHCP + [daemon.dhcp?.counters].compactMap { $0 }).reduce(into: DHCPServerCounters()) { $0.add($1) },
                              tftp: (pastTFTP + [daemon.tftp?.counters].compactMap { $0 }).reduce(into: TFTPServerCounters()) { $0.add($1) },
                              events: simulation.steps,
                              serverCrashes: crashes, serverLog: logBox.lines)
    }

    func makeClient(_ persona: Persona, mac: [UInt8], uuid: String, os: Bool, attempt: Int, index: Int) -> BootClient {
        var o = ClientOptions()
        o.continueToOS = os
        return BootClient(persona: persona, mac: mac, uuid: uuid,
                          seed: simulation.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(attempt), options: o)
    }

    func perform(_ slot: Slot, _ actions: [ClientAction]) {
        guard !slot.done else { return }
        for action in actions {
            switch action {
            case let .send(d):
                if let t = slot.transports[d.local.port] { t.send(d) }
            case let .bindPort(port):
                slot.transports[port] = try? network.bind(slot.host, port: port) { [unowned self] d in
                    self.perform(slot, slot.client.receive(d, at: self.simulation.now))
                }
            case let .releasePort(port):
                slot.transports.removeValue(forKey: port)?.close()
            case let .wakeUp(at):
                if let w = slot.wake { simulation.cancel(w) }
                slot.wake = simulation.schedule(at: at, label: "") { [unowned self] in
                    slot.wake = nil
                    self.perform(slot, slot.client.wake(at: self.simulation.now))
                }
            case let .httpGet(url):
                // The iPXE script over HTTP: served from the same file tree after a short
                // simulated round trip (bootd's HTTP server is not simulated yet).
                let body = files.files[Self.pathOf(url)]
                simulation.schedule(after: .milliseconds(2), label: "") { [unowned self] in
                    self.perform(slot, slot.client.httpCompleted(status: body == nil ? 404 : 200, body: body ?? [],
                                                                 at: self.simulation.now))
                }
            case let .finished(outcome):
                finish(slot, outcome)
                return
            }
        }
        checkLease(slot)
    }

    /// Invariants on every lease a client takes: inside the pool or its static address,
    /// and never an address another client holds.
    func checkLease(_ slot: Slot) {
        let outcome = slot.client.outcome
        for address in [outcome.leasedAddress, outcome.osLeasedAddress].compactMap({ $0 }) {
            if slot.host.address != address { network.setAddress(slot.host, address) }
            if let owner = addressOwner[address], owner != slot.mac {
                fail("address \(address) leased to \(macText(owner)) and \(macText(slot.mac))")
            }
            addressOwner[address] = slot.mac
            let inPool = address.value >= dhcpSettings.poolStart.value
                && Int(address.value - dhcpSettings.poolStart.value) < dhcpSettings.poolCount
            if !inPool && dhcpSettings.staticBindings[slot.mac] != address {
                fail("address \(address) leased to \(macText(slot.mac)) is outside the pool and the static table")
            }
        }
    }

    func finish(_ slot: Slot, _ outcome: ClientOutcome) {
        checkLease(slot)
        for (_, t) in slot.transports { t.close() }
        slot.transports.removeAll()
        if let w = slot.wake { simulation.cancel(w); slot.wake = nil }
        if outcome.succeeded {
            if let file = outcome.bootFile.map({ Self.pathOf($0) }), let want = fileChecksums[file.hasPrefix("/") ? String(file.dropFirst()) : file],
               outcome.httpURL == nil, want != outcome.checksum {
                fail("\(macText(slot.mac)) received \(file) with a different content than served")
            }
            markDone(slot)
            return
        }
        guard slot.attempts <= options.reboots else {
            markDone(slot)
            return
        }
        // The firmware gave up: the machine reboots and tries again from the start.
        slot.attempts += 1
        let os: Bool = { if case .dhcp = options.persona { return true }; return options.persona == .mixed && slot.index % 5 == 4 }()
        slot.client = makeClient(slot.persona, mac: slot.mac, uuid: slot.uuid, os: os, attempt: slot.attempts, index: slot.index)
        if let leased = outcome.leasedAddress, addressOwner[leased] == slot.mac { addressOwner[leased] = nil }
        network.setAddress(slot.host, .any)
        simulation.schedule(after: .seconds(5), label: "reboot client\(slot.index)") { [unowned self] in
            self.perform(slot, slot.client.start(at: self.simulation.now))
        }
    }

    func markDone(_ slot: Slot) {
        slot.done = true
        finished += 1
        if finished == slots.count { allFinishedAt = simulation.now }
    }

    func checkServerBindings() -> String? {
        var seen: [IPv4Address: [UInt8]] = [:]
        for r in daemon.dhcp?.leases ?? [] {
            if let other = seen[r.address], other != r.mac {
                return "server bound \(r.address) to \(macText(other)) and \(macText(r.mac))"
            }
            seen[r.address] = r.mac
        }
        return nil
    }

    func fail(_ message: String) {
        guard violation == nil else { return }
        violation = "invariant broken at \(simulation.now) (seed \(options.seed)): \(message)"
        simulation.stop()
    }
}
