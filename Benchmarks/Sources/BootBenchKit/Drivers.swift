import BootCore
import BootWire
import PXESimKit

// The operations measured by both harnesses (package-benchmark and bootd-instructions), so
// that throughput, mallocs and instruction counts describe the same code. Everything a
// client would do — building its packets, reading the server's replies — is prepared
// beforehand or left out: one operation is the server's work only.

private let serverAddress = IPv4Address(10, 77, 0, 1)
private let start = Instant(nanoseconds: 1_000_000_000)

/// DISCOVER → OFFER, REQUEST → ACK through `DHCPServer`, each time for a client the
/// server has never seen (a BIOS PXE ROM's options). The engine is replaced every
/// `clientsPerServer` clients, so the lease table stays small and the cost of an
/// operation does not depend on how many were run.
public final class DORADriver {
    public static let clientsPerServer = 1000
    let settings: DHCPServerSettings
    let discovers: [Datagram]
    let requests: [Datagram]
    var engine: DHCPServer
    var next = 0

    /// `logLevel`: the least severe line the engine builds. bootd's default logger level
    /// (info) builds an OFFER and an ACK line per client; at warning (the peers benchmark's
    /// configuration) it builds none.
    public init(logLevel: LogRecord.Level = .info) throws {
        let poolStart = IPv4Address(10, 77, 1, 0)
        var settings = DHCPServerSettings(
            serverAddress: serverAddress, subnetMask: IPv4Address(255, 255, 0, 0),
            poolStart: poolStart, poolCount: Self.clientsPerServer,
            dnsServers: [serverAddress], domainName: "lab",
            bootFiles: BootFileSettings(defaultFile: "pxelinux.0", byArchitecture: [7: "bootx64.efi"],
                                        iPXE: "http://10.77.0.1/boot.ipxe"))
        settings.logLevel = logLevel
        self.settings = settings
        var discovers: [Datagram] = []
        var requests: [Datagram] = []
        for i in 0..<Self.clientsPerServer {
            let mac: [UInt8] = [0x52, 0x54, 0x00, 0x01, UInt8(i >> 8), UInt8(i & 0xFF)]
            // The pool's cursor hands out addresses in order, so client i is offered poolStart + i.
            let offered = IPv4Address(poolStart.value + UInt32(i))
            discovers.append(try Self.datagram(.discover, mac: mac, xid: UInt32(0x1000_0000 + i)))
            requests.append(try Self.datagram(.request, mac: mac, xid: UInt32(0x1000_0000 + i), requested: offered))
        }
        self.discovers = discovers
        self.requests = requests
        engine = DHCPServer(settings: settings)
    }

    /// A BIOS PXE ROM's message (the options of Fixtures/pcap's PXE clients).
    static func datagram(_ type: DHCPMessageType, mac: [UInt8], xid: UInt32, requested: IPv4Address? = nil) throws -> Datagram {
        var m = DHCPMessage(op: .request, xid: xid, flags: 0x8000, chaddr: mac)
        try m.setValue(type, for: .messageType)
        if let requested {
            try m.setValue(requested, for: .requestedIPAddress)
            try m.setValue(serverAddress, for: .serverIdentifier)
        }
        try m.setValue(1472, for: .maximumMessageSize)
        try m.setValue([1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135],
                       for: .parameterRequestList)
        m.options[code: 93] = [0, 0]
        m.options[code: 94] = [1, 2, 1]
        m.options[code: 97] = [0, 0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, UInt8(mac[5])]
        try m.setValue("PXEClient:Arch:00000:UNDI:002001", for: .vendorClassIdentifier)
        return Datagram(payload: try m.serialized(), peer: Endpoint(.any, 68), local: Endpoint(.broadcast, 67), interface: 2)
    }

    /// One DORA; returns the number of datagrams the server sent (2).
    @inline(never)
    public func run() -> Int {
        if next == Self.clientsPerServer {
            engine = DHCPServer(settings: settings)
            next = 0
        }
        var sent = 0
        for a in engine.handle(discovers[next], at: start) { if case .send = a { sent += 1 } }
        for a in engine.handle(requests[next], at: start) { if case .send = a { sent += 1 } }
        next += 1
        return sent
    }

    /// Runs the first clients on a fresh engine and checks every reply.
    public func check(clients: Int = 50) throws {
        let e = DHCPServer(settings: settings)
        for i in 0..<min(clients, Self.clientsPerServer) {
            for (d, want) in [(discovers[i], DHCPMessageType.offer), (requests[i], .ack)] {
                let replies = e.handle(d, at: start).compactMap { a -> DHCPMessage? in
                    if case let .send(d) = a { return try? DHCPMessage(parsing: d.payload) } else { return nil }
                }
                guard replies.count == 1, replies[0].messageType == want,
                      replies[0].yiaddr == IPv4Address(10, 77, 1, 0).advanced(by: i) else {
                    throw BenchmarkSetupError("DORA client \(i): wanted one \(want) of 10.77.1.0+\(i), got \(replies)")
                }
            }
        }
    }
}

extension IPv4Address {
    func advanced(by n: Int) -> IPv4Address { IPv4Address(UInt32(truncatingIfNeeded: Int(value) + n)) }
}

/// One TFTP session of `TFTPServer`, driven like a well-behaved client: each `run()` is the
/// ACK of the last block of the window just sent, in on the session's port, and the next
/// window out (with the file reads it asks for answered at once, as from a page cache). A
/// session serves `windowsPerSession` windows; then the next starts (RRQ, OACK, ACK 0).
public final class TFTPWindowDriver {
    public let blksize: Int
    public let windowsize: Int
    public static let windowsPerSession = 1000
    let engine = TFTPServer(settings: TFTPServerSettings())
    let client = Endpoint(IPv4Address(10, 77, 1, 7), 2070)
    let listen = Endpoint(serverAddress, 69)
    let fileSize: Int
    /// The file's bytes are this pattern, repeated (one chunk's worth is all a read needs).
    let pattern: [UInt8]
    var session: TFTPSessionID?
    var lastBlock: UInt16 = 0
    var handle: FileHandleID?
    var nextHandle: UInt64 = 1
    public private(set) var sessions = 0

    public init(blksize: Int, windowsize: Int) {
        self.blksize = blksize
        self.windowsize = windowsize
        fileSize = blksize * windowsize * Self.windowsPerSession - 1
        pattern = (0..<(128 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8) }
    }

    /// Carries out the engine's actions; returns the DATA packets sent.
    func perform(_ actions: [TFTPServerAction]) -> Int {
        var data = 0
        for action in actions {
            switch action {
            case let .send(d, s):
                if d.payload.count >= 4, d.payload[1] == 3 {
                    data += 1
                    lastBlock = UInt16(d.payload[2]) << 8 | UInt16(d.payload[3])
                }
                if let s { session = s }
            case let .openFile(id, _):
                let h = FileHandleID(id: nextHandle)
                nextHandle += 1
                handle = h
                data += perform(engine.fileOpened(id, .success((h, fileSize)), at: start))
            case let .readFile(id, _, offset, count):
                let n = max(0, min(count, fileSize - offset))
                data += perform(engine.dataRead(id, offset: offset, .success(pattern[0..<n]), at: start))
            case .closeFile, .closeSessionPort, .wakeUp, .log:
                break
            }
        }
        return data
    }

    func ack(_ block: UInt16) -> [TFTPServerAction] {
        let d = Datagram(payload: [0, 4, UInt8(block >> 8), UInt8(block & 0xFF)], peer: client,
                         local: Endpoint(serverAddress, 40000), interface: 2)
        return engine.handle(d, session: session, at: start)
    }

    func startSession() {
        sessions += 1
        session = nil
        lastBlock = 0
        let rrq = TFTPPacket.readRequest(TFTPRequest(filename: "pxelinux.0", options: [
            TFTPOption(name: "blksize", value: String(blksize)), TFTPOption(name: "tsize", value: "0"),
            TFTPOption(name: "windowsize", value: String(windowsize)),
        ]))
        let d = Datagram(payload: try! rrq.serialized(), peer: client, local: listen, interface: 2)
        _ = perform(engine.handle(d, at: start))  // the OACK
    }

    /// One ACK in, one window out; returns the DATA packets sent (`windowsize`, fewer at the
    /// end of a file). (`check` calls `step`, so that a profile of `run` is the loop's only.)
    @inline(never)
    public func run() -> Int { step() }

    func step() -> Int {
        if session == nil { startSession() }
        let sent = perform(ack(lastBlock))
        if sent == 0 {
            // The ACK of the last block ended the session: start the next one.
            startSession()
            return perform(ack(0))
        }
        return sent
    }

    /// One whole session, checked: every window full, blocks in order, the session closed.
    public func check() throws {
        let fresh = TFTPWindowDriver(blksize: blksize, windowsize: windowsize)
        var total = 0
        for w in 0..<Self.windowsPerSession {
            let n = fresh.step()
            guard n == windowsize, Int(fresh.lastBlock) == (w + 1) * windowsize else {
                throw BenchmarkSetupError("TFTP window \(w): \(n) DATA packets, last block \(fresh.lastBlock)")
            }
            total += n
        }
        guard fresh.step() == windowsize, fresh.sessions == 2, fresh.engine.sessionCount == 1,
              fresh.engine.counters.sessionsCompleted == 1 else {
            throw BenchmarkSetupError("TFTP: the session did not end after \(total) blocks: \(fresh.engine.counters)")
        }
    }
}

/// A whole boot through the daemon composition (`BootDaemon` on SimNet, via PXESimKit's
/// `Scenario`): one BIOS PXE client, DHCP then TFTP of a 64 KiB boot file. Includes the
/// scenario's set-up (configuration parse, simulated network, file tree).
public struct SimulatedBootDriver {
    public var options: ScenarioOptions
    public init(clients: Int = 1, fileSize: Int = 64 * 1024) {
        options = ScenarioOptions()
        options.clients = clients
        options.persona = .bios
        options.bootFileSize = fileSize
        options.seed = 1
    }

    /// One scenario, set up and run; returns the clients booted.
    @inline(never)
    public func run() -> Int {
        guard let scenario = try? Scenario(options) else { return 0 }
        return scenario.run().booted
    }

    /// The simulated world (configuration, network, server, boot files), ready to run.
    public func makeScenario() throws -> Scenario { try Scenario(options) }

    /// The boot alone: clients through the daemon on SimNet, the set-up excluded.
    @inline(never)
    public func run(_ scenario: Scenario) -> Int { scenario.run().booted }

    public func check() throws {
        let r = try Scenario(options).run()
        guard r.ok, r.booted == options.clients else {
            throw BenchmarkSetupError("simulated boot: \(r.booted) of \(options.clients) booted, \(r.violation ?? "no violation")")
        }
    }
}

/// Fixtures/config/pybootd-sample.ini through `ConfigurationLoader` (INI syntax, then the
/// typed, validated configuration), from bytes already in memory.
public struct INIParseDriver {
    public let bytes: [UInt8]
    public init() throws { bytes = try sampleConfigurationBytes() }

    /// One parse; returns 1 when it succeeded.
    @inline(never)
    public func run() -> Int {
        do { _ = try ConfigurationLoader.parse(bytes: bytes, fileName: "pybootd-sample.ini", baseDirectory: "/etc/bootd"); return 1 } catch {
            return 0
        }
    }

    public func check() throws {
        _ = try ConfigurationLoader.parse(bytes: bytes, fileName: "pybootd-sample.ini", baseDirectory: "/etc/bootd")
    }
}
