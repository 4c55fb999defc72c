import BootCore
import BootWire
import Logging
import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import PcapKit
#if canImport(Glibc)
import Glibc
#endif

/// What the daemon runs and where it keeps state, beyond the configuration file.
public struct BootdOptions {
    public var dhcp = true
    public var tftp = true
    /// Leases journal directory (`--state-dir`).
    public var stateDirectory = "/var/lib/bootd"
    /// Every datagram received and sent (`--capture`), called on the event loop.
    public var tap: DatagramTap?
    public var logger = Logger(label: "bootd")
    /// Extension point for `access = http`: builds the authority client on the daemon's
    /// loop (the HTTP authority lives in Sources/BootNIO/HTTP*). nil: every authority
    /// question is answered `.failed` and logged, which denies that request.
    public var makeAuthority: ((any EventLoop) -> any AccessAuthority)?
    /// Extension point for a remote root (`[tftpd] root = http(s)://…`).
    public var makeRemoteFileSource: ((String, any EventLoop, NIOThreadPool) throws -> any FileSource)?
    /// Host interfaces (tests may pass their own); nil: getifaddrs.
    public var interfaces: [HostInterface]?
    public init() {}
}

public struct BootdStartError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The daemon on real sockets: one event loop runs the `BootDaemon` and every port's
/// callbacks (datagrams, timers, file completions); a small thread pool does file I/O.
public final class BootdServer: @unchecked Sendable {
    public let group: MultiThreadedEventLoopGroup
    public let loop: any EventLoop
    let pool: NIOThreadPool
    let state: NIOLoopBoundBox<State?>
    public let logger: Logger
    /// The bound ports (useful when the configuration asked for port 0).
    public let dhcpEndpoint: Endpoint?
    public let tftpEndpoint: Endpoint?
    /// The served network's interface, when DHCP runs.
    public let servedInterface: HostInterface?
    private let stopLock = NIOLock()
    private var stopped = false

    final class State {
        var daemon: BootDaemon?
        var clock: NIOClock
        /// nil when bootd serves no DHCP (`-t` alone): it then needs no journal, and never
        /// touches a state directory another bootd may own.
        var leases: LeaseFile?
        var files: (any FileSource)?
        var dhcpPort: UDPPort?
        var tftpPort: UDPPort?
        init(clock: NIOClock, leases: LeaseFile?) { self.clock = clock; self.leases = leases }
    }

    public static func start(configuration config: BootConfiguration, options: BootdOptions) throws(BootdStartError) -> BootdServer {
        do {
            return try BootdServer(config: config, options: options)
        } catch let e as BootdStartError {
            throw e
        } catch {
            throw BootdStartError("\(error)")
        }
    }

    private init(config: BootConfiguration, options: BootdOptions) throws {
        let logger = options.logger
        self.logger = logger
        // The served network: from pool_start among the host's interfaces.
        var dhcpSettings: DHCPServerSettings?
        var iface: HostInterface?
        // The DHCP socket's interface: the one holding `[bootpd] address` when it names one,
        // else the served network's (found from pool_start).
        var dhcpInterfaceIndex: Int?
        let interfaces = options.dhcp ? (options.interfaces ?? HostInterface.all()) : []
        if options.dhcp {
            guard let poolStart = config.bootpd.poolStart else {
                throw BootdStartError("[bootpd] pool_start is required to serve DHCP (or run with -t for TFTP only)")
            }
            let i: HostInterface
            do { i = try HostInterface.serving(poolStart: poolStart, among: interfaces) } catch { throw BootdStartError(error.description) }
            iface = i
            let serverAddress = config.bootpd.address == .any ? i.address : config.bootpd.address
            dhcpInterfaceIndex = i.index
            if config.bootpd.address != .any {
                guard let owner = interfaces.first(where: { $0.address == config.bootpd.address }) else {
                    throw BootdStartError("[bootpd] address \(config.bootpd.address) is not an address of this host (interfaces: \(interfaces.map(\.description).joined(separator: ", ")))")
                }
                dhcpInterfaceIndex = owner.index
            }
            let problems = config.staticBindingProblems(network: i.address, netmask: config.bootpd.netmask ?? i.netmask, serverAddress: serverAddress)
            if !problems.isEmpty { throw BootdStartError(problems.map(\.description).joined(separator: "\n")) }
            guard let s = DHCPServerSettings(configuration: config, serverAddress: serverAddress, interfaceNetmask: i.netmask,
                                             hostResolvers: Self.hostResolvers()) else {
                throw BootdStartError("[bootpd]: no DHCP service configured")
            }
            dhcpSettings = s
            dhcpSettings?.logLevel = BootLogging.recordLevel(logger.logLevel)
        }
        servedInterface = iface
        var tftpSettings: TFTPServerSettings?
        if options.tftp {
            var t = TFTPServerSettings(configuration: config)
            // Each transfer holds a socket: stay within the descriptor limit (bootd raises
            // its soft limit to the hard one), keeping 256 for everything else.
            var limit = rlimit()
            if !t.singlePort, getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < rlim_t(Int32.max) {
                let fit = max(16, Int(limit.rlim_cur) - 256)
                if fit < t.maxSessions {
                    logger.warning("[tftpd] max_transfers \(t.maxSessions) lowered to \(fit): the descriptor limit is \(limit.rlim_cur) (raise it with `ulimit -n` or LimitNOFILE=)")
                    t.maxSessions = fit
                }
            }
            tftpSettings = t
        }

        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        state = NIOLoopBoundBox.makeEmptyBox(valueType: State.self, eventLoop: loop)
        let loop = self.loop, pool = self.pool, state = self.state
        let opts = Unchecked(options)

        do {
            // Ports, clock, leases and files, built on the loop they are confined to.
            try loop.submit {
                let options = opts.value
                let clock = NIOClock(loop: loop)
                var leases: LeaseFile?
                if options.dhcp {
                    do { leases = try LeaseFile(directory: options.stateDirectory, monotonicNow: { clock.now }) }
                    catch { throw BootdStartError("\(error)") }
                    if let leases, leases.ignoredLines > 0 {
                        logger.warning("lease file \(leases.path): ignored \(leases.ignoredLines) torn or damaged line(s)")
                    }
                }
                let s = State(clock: clock, leases: leases)
                if options.tftp {
                    switch config.resolvedTFTPRoot {
                    case .local(let root):
                        do { s.files = try LocalFileSource(root: root, loop: loop, pool: pool) }
                        catch { throw BootdStartError("[tftpd] root \(root): \((error as? FileSourceError) == .notFound ? "no such directory" : "\(error)")") }
                    case .remote(let url):
                        guard let make = options.makeRemoteFileSource else {
                            throw BootdStartError("[tftpd] root \(url): remote (http/https) roots are not available in this build yet")
                        }
                        s.files = try make(url, loop, pool)
                    }
                }
                state.value = s
            }.wait()
        } catch {
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw error
        }

        // Handed to the loop once; from then on only used there.
        let tapValue = Unchecked(options.tap)
        let settings = Unchecked((dhcpSettings, tftpSettings))
        var dhcpEndpoint: Endpoint?
        var tftpEndpoint: Endpoint?
        var dhcpReceiveBuffer = 0
        do {
            if let dhcpSettings {
                let serverPort = config.bootpd.port
                // Off the well-known port (tests, unprivileged runs), replies keep the same
                // shape: client port = server port + 1, as dnsmasq's --dhcp-alternate-port.
                let portMap: @Sendable (UInt16) -> UInt16 = { p in
                    serverPort == 67 ? p : p == 67 ? serverPort : p == 68 ? serverPort &+ 1 : p
                }
                let p = try NIOPortFactory.listen(
                    // Always the wildcard address: a socket bound to a unicast address never
                    // receives the broadcast DISCOVERs of clients without an address. A
                    // configured `address` picks the interface (the one holding it) and the
                    // server identifier instead, as dnsmasq's bind-interfaces does.
                    service: "DHCP", on: loop, address: .any, port: serverPort,
                    interfaceIndex: dhcpInterfaceIndex, tap: tapValue.value,
                    ownAddresses: Set(interfaces.map(\.address)), portMap: portMap,
                    priority: DHCPIngress.completesExchange
                ) { d in state.value?.daemon?.receiveDHCP(d) }
                dhcpEndpoint = p.local
                dhcpReceiveBuffer = p.receiveBufferBytes
                let port = Unchecked(p)
                try loop.submit { state.value?.dhcpPort = port.value }.wait()
                _ = dhcpSettings
            }
            if options.tftp {
                let p = try NIOPortFactory.listen(service: "TFTP", on: loop, address: config.tftpd.address,
                                                  port: config.tftpd.port, tap: tapValue.value) { d in
                    state.value?.daemon?.receiveTFTP(d)
                }
                tftpEndpoint = p.local
                let port = Unchecked(p)
                try loop.submit { state.value?.tftpPort = port.value }.wait()
            }
            try loop.submit {
                guard let s = state.value else { return }
                let factory = NIOPortFactory(loop: loop, tap: tapValue.value)
                factory.busyPoll = config.tftpd.busyPoll
                if config.tftpd.gso {
                    factory.enableSegmentation { BootLogging.log(LogRecord(.warning, $0), to: logger) }
                }
                var ports = DaemonPorts(clock: s.clock, leaseStore: s.leases ?? NoLeaseStore(), authority: opts.value.makeAuthority?(loop),
                                        dhcpTransport: s.dhcpPort, tftpTransport: s.tftpPort, ports: factory,
                                        files: s.files, log: { BootLogging.log($0, to: logger) })
                // Group commit: the lease file syncs once after each batch of datagrams the
                // loop read (a task runs after the I/O of its loop iteration), then the ACKs
                // that waited for it leave.
                ports.deferSync = { body in
                    let task = NIOLoopBound(body, eventLoop: loop)
                    loop.execute { task.value() }
                }
                s.daemon = BootDaemon(dhcp: settings.value.0, tftp: settings.value.1, ports: ports)
            }.wait()
        } catch {
            try? loop.submit {
                state.value?.dhcpPort?.close(); state.value?.tftpPort?.close(); state.value?.leases?.close()
            }.wait()
            try? pool.syncShutdownGracefully()
            try? group.syncShutdownGracefully()
            throw error
        }
        self.dhcpEndpoint = dhcpEndpoint
        self.tftpEndpoint = tftpEndpoint
        if let dhcpEndpoint, let iface {
            logger.info("DHCP listening on \(dhcpEndpoint) serving \(iface.name) \(iface.address)/\(iface.netmask), receive buffer \(dhcpReceiveBuffer / 1024) KiB")
        }
        if let tftpEndpoint { logger.info("TFTP listening on \(tftpEndpoint), root \(config.resolvedTFTPRoot)") }
    }

    /// Runs `body` with the daemon on its loop (tests, introspection).
    public func withDaemon<T: Sendable>(_ body: @escaping @Sendable (BootDaemon) -> T) throws -> T? {
        let state = self.state
        return try loop.submit { state.value?.daemon.map(body) }.wait()
    }

    /// The DHCP engine's binding of `address` (if any) and the daemon's clock, read on its
    /// loop: what the HTTP server's `check_ip` decides with. One lookup: copying every
    /// binding for each request cost the loop time in proportion to the leases held.
    public func lease(holding address: IPv4Address) async -> (lease: LeaseRecord?, now: Instant) {
        let state = self.state
        let result = try? await loop.submit { () -> (LeaseRecord?, Instant) in
            guard let s = state.value else { return (nil, .zero) }
            return (s.daemon?.dhcp?.lease(holding: address), s.clock.now)
        }.get()
        return result.map { (lease: $0.0, now: $0.1) } ?? (lease: nil, now: .zero)
    }

    /// Stops answering, cuts transfers, closes ports, flushes the leases, stops the loop.
    /// Blocking: call from outside the loop. Idempotent.
    public func shutdown() {
        let first = stopLock.withLock { () -> Bool in
            if stopped { return false }
            stopped = true
            return true
        }
        guard first else { return }
        let state = self.state
        try? loop.submit {
            guard let s = state.value else { return }
            s.daemon?.stop()
            s.clock.cancelAll()
            s.dhcpPort?.close()
            s.tftpPort?.close()
            s.leases?.close()
            (s.files as? LocalFileSource)?.closeAll()
            s.daemon = nil
            state.value = nil
        }.wait()
        try? pool.syncShutdownGracefully()
        try? group.syncShutdownGracefully()
        logger.info("stopped")
    }

    /// The host's resolvers from /etc/resolv.conf (`dns = auto`).
    public static func hostResolvers(path: String = "/etc/resolv.conf") -> [IPv4Address] {
        guard let f = fopen(path, "r") else { return [] }
        defer { fclose(f) }
        var out: [IPv4Address] = []
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, 512, f) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            if parts.count >= 2, parts[0] == "nameserver", let a = IPv4Address(String(parts[1])) { out.append(a) }
        }
        return out
    }
}

/// Writes every datagram to a pcap file (link type raw IPv4), for `--capture`.
public final class PcapTap: @unchecked Sendable {
    let writer: CaptureWriter
    private var ident: UInt16 = 0
    public init(path: String) throws {
        writer = try CaptureWriter(path: path, linkType: .raw)
    }
    public func record(_ d: Datagram, sent: Bool) {
        let peer = UDPEndpoint(.v4(d.peer.address.value), d.peer.port)
        let local = UDPEndpoint(.v4(d.local.address.value), d.local.port)
        ident &+= 1
        guard let frame = try? FrameBuilder.udpFrame(from: sent ? local : peer, to: sent ? peer : local,
                                                     payload: d.payload, link: .raw, identification: ident) else { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        try? writer.write(frame, timestamp: CaptureTimestamp(seconds: Int64(ts.tv_sec), microseconds: UInt32(ts.tv_nsec / 1000)))
    }
    public func close() { try? writer.close() }
}

/// A value handed from the starting thread to the event loop once, then used only there.
struct Unchecked<T>: @unchecked Sendable {
    var value: T
    init(_ value: T) { self.value = value }
}
