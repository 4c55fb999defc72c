import ArgumentParser
import BootCore
import BootNIO
import Logging
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
        if http {
            logger.warning("-H: the HTTP file server is not part of this build yet; serving DHCP and TFTP only")
        }
        if c.bootpd.access == .http, options.dhcp {
            logger.warning("access = http: the HTTP authority client is not part of this build yet; every request asking it is denied")
        }

        let server: BootdServer
        do {
            server = try BootdServer.start(configuration: c, options: options)
        } catch {
            logger.critical("\(error.description)")
            fail(error.description, code: 1)
        }
        logger.info("bootd \(bootdVersion) started (config \(config), state \(stateDir))")

        var received: Int32 = 0
        sigwait(&signals, &received)
        logger.info("signal \(received == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
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
