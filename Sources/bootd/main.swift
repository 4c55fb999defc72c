import ArgumentParser
import AsyncHTTPClient
import BootCore
import BootHTTP
import BootNIO
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// bootd: PyBootd's command line (`-c -p -t -H -d`) plus what a daemon needs.
struct Bootd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bootd",
        abstract: "Network-boot server: BOOTP/DHCP with PXE, TFTP and HTTP (PyBootd compatible).",
        version: bootdVersion)

    @Option(name: [.customShort("c"), .customLong("config")], help: "Configuration file (PyBootd INI).")
    var config: String = "/etc/bootd/bootd.ini"

    @Flag(name: [.customShort("p"), .customLong("pxe")], help: "Only BOOTP/DHCP/PXE.")
    var onlyDHCP = false

    @Flag(name: [.customShort("t"), .customLong("tftp")], help: "Only TFTP.")
    var onlyTFTP = false

    @Flag(name: [.customShort("H"), .customLong("http")], help: "Also the HTTP file server ([httpd]).")
    var http = false

    @Flag(name: [.customShort("d"), .customLong("debug")], help: "Debug log level.")
    var debug = false

    @Flag(name: .customLong("check-config"), help: "Validate the configuration, print the effective settings, exit.")
    var checkConfig = false

    @Option(name: .customLong("capture"), help: "Write every datagram received and sent to this pcap file.")
    var capture: String?

    @Option(name: .customLong("state-dir"), help: "Directory of the lease file.")
    var stateDir: String = "/var/lib/bootd"

    func validate() throws {
        if onlyDHCP && onlyTFTP { throw ValidationError("-p (only DHCP) and -t (only TFTP) cannot be used together") }
    }

    func run() throws {
        // Signals are taken synchronously by sigwait on this thread: block them before any
        // other thread exists so every thread inherits the mask.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)

        guard access(config, F_OK) == 0 else {
            fail("configuration file \(config) not found (use -c FILE)", code: 2)
        }
        // Relative paths in the file resolve against its own directory: load it by its real path.
        var configPath = config
        if let r = realpath(config, nil) { configPath = String(cString: r); free(r) }
        let loaded: LoadedConfiguration
        do {
            loaded = try ConfigurationLoader.load(contentsOfFile: configPath, dhcpEnabled: !onlyTFTP)
        } catch {
            for w in error.warnings { writeError("\(w)\n") }
            fail("invalid configuration:\n\(error.description)", code: 2)
        }
        for w in loaded.warnings { writeError("warning: \(w)\n") }
        let c = loaded.configuration
        if checkConfig {
            print(c.effectiveSettingsDescription())
            return
        }

        let level: Logger.Level = debug ? .debug : BootLogging.level(c.logger.level)
        let factory: @Sendable (String) -> any LogHandler
        do {
            factory = try BootLogging.makeHandler(output: c.logger.output, level: level, resolvePath: { c.resolvePath($0) })
        } catch { fail(error.description, code: 1) }
        LoggingSystem.bootstrap(factory)
        let logger = Logger(label: "bootd")
        // One UDP socket per TFTP transfer: a rack booting at once needs more descriptors
        // than the usual soft limit of 1024. Raise it to the hard limit, as a daemon may.
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }

        var options = BootdOptions()
        options.dhcp = !onlyTFTP
        options.tftp = !onlyDHCP
        options.stateDirectory = stateDir
        options.logger = logger
        var pcap: PcapTap?
        if let capture {
            do { pcap = try PcapTap(path: capture) } catch { fail("--capture \(capture): \(error)", code: 1) }
            let p = pcap!
            options.tap = { d, sent in p.record(d, sent: sent) }
        }
        // One HTTP client for the authority (`access = http`) and a remote TFTP root, on the
        // daemon's own event loop: its requests are made and answered there (AsyncHTTPClient
        // requires the loop a request names to belong to the client's group).
        let httpClients = SharedHTTPClient()
        let authoritySettings = c.http
        let authorityLogger = Logger(label: "bootd.authority")
        options.makeAuthority = { (loop: any EventLoop) -> any AccessAuthority in
            if let client = HTTPAuthorityClient(settings: authoritySettings, client: httpClients.client(on: loop),
                                                eventLoop: loop, logger: authorityLogger) {
                return client
            }
            return UnconfiguredAuthority()
        }
        options.makeRemoteFileSource = { (prefix: String, loop: any EventLoop, _: NIOThreadPool) -> any FileSource in
            HTTPFileSource(prefix: prefix, client: httpClients.client(on: loop), eventLoop: loop,
                           logger: Logger(label: "bootd.tftp-root"))
        }

        let server: BootdServer
        do {
            server = try BootdServer.start(configuration: c, options: options)
        } catch {
            logger.critical("\(error.description)")
            fail(error.description, code: 1)
        }
        // -H: the HTTP file server ([httpd]), every request decided by check_ip against
        // the DHCP engine's leases and kept inside the root.
        var httpGroup: ServiceGroup?
        let httpDone = DispatchSemaphore(value: 0)
        // One event loop per CPU the process may run on: two loops taking turns on one CPU
        // (bootd pinned with taskset or CPUAffinity=) cost throughput and fairness.
        var httpLoops: MultiThreadedEventLoopGroup?
        if http {
            let loops = MultiThreadedEventLoopGroup(numberOfThreads: AllowedCPUs.count)
            httpLoops = loops
            let rules = HTTPAccessRules(checkIP: c.httpd.checkIP)
            let httpServer: BootHTTPServer
            do {
                httpServer = try BootHTTPServer(settings: c.httpd, baseDirectory: c.baseDirectory,
                                                eventLoopGroup: loops, logger: Logger(label: "bootd.httpd")) { target, client in
                    // Without check_ip the leases are not consulted: no hop to the daemon's loop.
                    guard rules.checkIP else { return rules.decide(target: target, client: client, leases: [], at: .zero) }
                    let (lease, now) = await server.lease(holding: client)
                    return rules.decide(target: target, client: client, leases: lease.map { [$0] } ?? [], at: now)
                }
            } catch {
                server.shutdown()
                fail("[httpd]: \(error)", code: 1)
            }
            // In a ServiceGroup so that stopping is a graceful shutdown (in-flight responses end).
            let group = ServiceGroup(services: [HTTPService(server: httpServer)], gracefulShutdownSignals: [],
                                     logger: Logger(label: "bootd.httpd"))
            httpGroup = group
            Task {
                defer { httpDone.signal() }
                do { try await group.run() } catch {
                    // A service that fails takes the daemon down with a non-zero status.
                    logger.critical("HTTP server failed: \(error)")
                    writeError("bootd: HTTP server failed: \(error)\n")
                    Glibc.exit(1)
                }
            }
        }
        logger.info("bootd \(bootdVersion) started (config \(config), state \(stateDir))")

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("signal \(received == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
        if let httpGroup {
            Task { await httpGroup.triggerGracefulShutdown() }
            httpDone.wait()
        }
        try? httpLoops?.syncShutdownGracefully()
        // The HTTP client first (it lives on the daemon's loop: pending authority questions
        // and file fetches fail over to the daemon, which drops them), then the daemon.
        httpClients.shutdown()
        server.shutdown()
        pcap?.close()
    }

    func fail(_ message: String, code: Int32) -> Never {
        writeError("bootd: \(message)\n")
        Foundation_exit(code)
    }
}

func writeError(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

@inline(__always) func Foundation_exit(_ code: Int32) -> Never { exit(code) }

let bootdVersion = "0.1.0"

Bootd.main()

/// `access = http` without `[http] location` is refused by the configuration loader; this
/// is the defensive answer if it ever gets here: every question fails, logged.
final class UnconfiguredAuthority: AccessAuthority {
    func query(_ query: AuthorityQuery, completion: @escaping (AuthorityAnswer) -> Void) {
        completion(.failed("no [http] location configured"))
    }
}

/// The HTTP file server as a swift-service-lifecycle service.
struct HTTPService: Service {
    let server: BootHTTPServer
    func run() async throws { try await server.run() }
}

/// The daemon's HTTP client, made on first use on the daemon's event loop.
final class SharedHTTPClient: @unchecked Sendable {
    private let lock = NIOLock()
    private var made: HTTPClient?
    func client(on loop: any EventLoop) -> HTTPClient {
        lock.lock(); defer { lock.unlock() }
        if let made { return made }
        let c = HTTPClient(eventLoopGroupProvider: .shared(loop), configuration: HTTPClient.Configuration())
        made = c
        return c
    }
    /// Call after the daemon's loop stopped taking work (HTTPClient shuts down on its own
    /// threads, not on the loop).
    func shutdown() {
        lock.lock(); let c = made; made = nil; lock.unlock()
        try? c?.syncShutdown()
    }
}
