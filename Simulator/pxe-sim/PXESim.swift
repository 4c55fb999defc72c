import ArgumentParser
import BootCore
import BootWire
import Foundation
import PXENet
import PXESimKit

@main
struct PXESim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pxe-sim",
        abstract: "Boot virtual PXE, UEFI, iPXE and DHCP clients through bootd's daemon on a simulated network, or against a real server.",
        discussion: """
        Without --target every run is a pure function of its options: the same seed and flags
        print the same report. The exit status is 1 when a client failed to boot or an
        invariant broke (no address to two clients, every download identical to the served
        file, every session ends), and the report names the command that reproduces it.
        With --target IP[:port] --interface IFACE the same virtual clients boot over real
        sockets from that server (root: port 68). Every flag: pxe-sim run --help;
        captures: pxe-sim replay --help.
        """,
        subcommands: [Run.self, Replay.self],
        defaultSubcommand: Run.self)
}

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run", abstract: "Boot many virtual clients (the default subcommand).")

    @Option(help: "Number of virtual clients.")
    var clients = 50

    @Option(help: "Seed of the run (the simulation; with --target the MACs, xids and jitter).")
    var seed: UInt64 = 1

    @Option(help: "Packet loss on every link, each direction, 0...1 (simulation only).")
    var loss = 0.0

    @Option(help: "Client kind: \(PersonaMix.allCases.map(\.rawValue).joined(separator: ", ")).")
    var persona: PersonaMix = .mixed

    @Option(help: "A bootd/PyBootd INI configuration (simulation only; default: the built-in demo configuration).")
    var config: String?

    @Option(name: .customLong("file-size"), help: "Size in bytes of every boot file served (simulation only).")
    var fileSize = 64 * 1024

    @Option(name: .customLong("spread"), help: "Clients power on within this many seconds (simulation only; --rate with --target).")
    var spread = 1.0

    @Flag(name: .customLong("server-log"), help: "Print the server's log lines (virtual time) before the report (simulation only).")
    var serverLog = false

    @Flag(name: .customLong("trace"), help: "Print every packet sent (virtual time, decoded) before the report (simulation only).")
    var trace = false

    @Option(help: "A real DHCP server, IP[:port] (port 67 by default): boot the clients over real sockets from it.")
    var target: String?

    @Option(help: "With --target: the interface the clients use (DHCP broadcasts leave through it; its address is the TFTP source).")
    var interface: String?

    @Option(help: "With --target: clients started per second (0: all at once).")
    var rate = 0.0

    @Option(help: "Seconds after which the run ends; unfinished clients count as failed (default: 60 with --target, 1800 virtual seconds without).")
    var timeout: Double?

    @Flag(help: "With --target: send DHCP to the target's address instead of broadcasting it.")
    var unicast = false

    @Option(help: "Write the numbers as JSON to this file.")
    var json: String?

    @Option(help: "Write each client's phases as an SVG timeline to this file.")
    var timeline: String?

    @Flag(help: "Print a progress line on stderr while the run goes (default: when stderr is a terminal).")
    var progress = false

    mutating func validate() throws {
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1") }
        guard (0...1).contains(loss) else { throw ValidationError("--loss must be between 0 and 1") }
        guard (0...(1 << 30)).contains(fileSize) else { throw ValidationError("--file-size must be 0...1 GiB") }
        guard spread >= 0 else { throw ValidationError("--spread must not be negative") }
        guard rate >= 0 else { throw ValidationError("--rate must not be negative") }
        if let timeout { guard timeout > 0 else { throw ValidationError("--timeout must be positive") } }
        if target != nil && interface == nil { throw ValidationError("--target needs --interface IFACE") }
        if target == nil && interface != nil { throw ValidationError("--interface needs --target IP[:port]") }
    }

    var showProgress: Bool { progress || isatty(2) != 0 }

    func run() throws {
        if let target { return try runReal(target) }
        var options = ScenarioOptions()
        options.clients = clients
        options.seed = seed
        options.loss = loss
        options.persona = persona
        options.bootFileSize = fileSize
        options.powerOnSpread = .nanoseconds(Int64(spread * 1e9))
        options.keepServerLog = serverLog
        options.tracePackets = trace
        if let timeout { options.timeLimit = .nanoseconds(Int64(timeout * 1e9)) }
        if let config {
            do { options.configurationText = try String(contentsOfFile: config, encoding: .utf8) } catch {
                throw PXESimError(description: "cannot read \(config): \(error.localizedDescription)")
            }
            options.configurationName = config
        }
        let scenario: Scenario
        do { scenario = try Scenario(options) } catch {
            throw PXESimError(description: error.description)
        }
        let clock = ContinuousClock()
        let t0 = clock.now
        if showProgress {
            var last = t0
            scenario.progress = { now, started, booted, failed in
                guard clock.now - last > .milliseconds(250) else { return }
                last = clock.now
                progressLine(RunReport.progressLine(elapsed: now - .zero, started: started, booted: booted,
                                                    failed: failed, total: options.clients) + " (virtual time)")
            }
        }
        let result = scenario.run()
        let wall = clock.now - t0
        if showProgress { endProgress() }
        for line in result.serverLog { print(line) }
        print(result.render())
        // On stderr: stdout stays a pure function of the flags (same seed, same report).
        FileHandle.standardError.write(Data("wall time \(String(format: "%.3f", wall / .seconds(1))) s\n".utf8))
        try writeOutputs(result.report(wall: wall), extra: [("seed", "\(seed)"), ("persona", "\"\(persona.rawValue)\"")])
        if !result.ok { throw ExitCode(1) }
    }

    func runReal(_ target: String) throws {
        guard let endpoint = parseEndpoint(target) else {
            throw PXESimError(description: "--target \(target): expected an IPv4 address with an optional :port")
        }
        var o = RealRunOptions(target: endpoint, interface: interface!)
        o.clients = clients
        o.rate = rate
        o.timeout = .nanoseconds(Int64((timeout ?? 60) * 1e9))
        o.seed = seed
        o.persona = persona
        o.unicast = unicast
        let run: RealRun
        do { run = try RealRun(o) } catch { throw PXESimError(description: error.description) }
        let printer: (@Sendable (String) -> Void)? = showProgress ? { @Sendable line in progressLine(line) } : nil
        let result = try run.run(progress: printer)
        if showProgress { endProgress() }
        let report = result.report
        print(report.renderTable())
        try writeOutputs(report, extra: [("seed", "\(seed)"), ("persona", "\"\(persona.rawValue)\""),
                                         ("target", "\"\(endpoint)\""), ("interface", "\"\(result.interface.name)\"")])
        if report.failed > 0 { throw ExitCode(1) }
    }

    func writeOutputs(_ report: RunReport, extra: [(String, String)]) throws {
        if let json {
            do { try report.json(extra: extra).write(toFile: json, atomically: true, encoding: .utf8) } catch {
                throw PXESimError(description: "cannot write \(json): \(error.localizedDescription)")
            }
        }
        if let timeline {
            do { try report.timelineSVG().write(toFile: timeline, atomically: true, encoding: .utf8) } catch {
                throw PXESimError(description: "cannot write \(timeline): \(error.localizedDescription)")
            }
        }
    }
}

/// "10.77.0.1" or "10.77.0.1:1067".
func parseEndpoint(_ s: String) -> Endpoint? {
    let parts = s.split(separator: ":", omittingEmptySubsequences: false)
    guard (1...2).contains(parts.count), let a = IPv4Address(String(parts[0])) else { return nil }
    if parts.count == 2 {
        guard let p = UInt16(parts[1]), p > 0 else { return nil }
        return Endpoint(a, p)
    }
    return Endpoint(a, 67)
}

/// Overwrites the progress line on stderr.
/// Overwrites the progress line on a terminal; one line each otherwise (a log).
func progressLine(_ s: String) {
    FileHandle.standardError.write(Data((isatty(2) != 0 ? "\r\u{1b}[K" + s : s + "\n").utf8))
}

func endProgress() { if isatty(2) != 0 { FileHandle.standardError.write(Data("\n".utf8)) } }

extension PersonaMix: ExpressibleByArgument {}

/// A failure to set the run up (unreadable or invalid configuration): printed as is.
struct PXESimError: Error, CustomStringConvertible {
    var description: String
}
