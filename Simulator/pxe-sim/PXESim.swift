import ArgumentParser
import Foundation
import PXESimKit

@main
struct PXESim: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pxe-sim",
        abstract: "Boot virtual PXE, UEFI, iPXE and DHCP clients through bootd's daemon on a simulated network.",
        discussion: """
        Every run is a pure function of its options: the same seed and flags print the same
        report. The exit status is 1 when a client failed to boot or an invariant broke (no
        address to two clients, every download identical to the served file, every session
        ends), and the report names the command that reproduces it.
        """)

    @Option(help: "Number of virtual clients.")
    var clients = 50

    @Option(help: "Seed of the run.")
    var seed: UInt64 = 1

    @Option(help: "Packet loss on every link, each direction, 0...1.")
    var loss = 0.0

    @Option(help: "Client kind: \(PersonaMix.allCases.map(\.rawValue).joined(separator: ", ")).")
    var persona: PersonaMix = .mixed

    @Option(help: "A bootd/PyBootd INI configuration (default: the built-in demo configuration).")
    var config: String?

    @Option(name: .customLong("file-size"), help: "Size in bytes of every boot file served.")
    var fileSize = 64 * 1024

    @Option(name: .customLong("spread"), help: "Clients power on within this many seconds.")
    var spread = 1.0

    @Flag(name: .customLong("server-log"), help: "Print the server's log lines (virtual time) before the report.")
    var serverLog = false

    @Flag(name: .customLong("trace"), help: "Print every packet sent (virtual time, decoded) before the report.")
    var trace = false

    mutating func validate() throws {
        guard clients >= 1 else { throw ValidationError("--clients must be at least 1") }
        guard (0...1).contains(loss) else { throw ValidationError("--loss must be between 0 and 1") }
        guard (0...(1 << 30)).contains(fileSize) else { throw ValidationError("--file-size must be 0...1 GiB") }
        guard spread >= 0 else { throw ValidationError("--spread must not be negative") }
    }

    func run() throws {
        var options = ScenarioOptions()
        options.clients = clients
        options.seed = seed
        options.loss = loss
        options.persona = persona
        options.bootFileSize = fileSize
        options.powerOnSpread = .nanoseconds(Int64(spread * 1e9))
        options.keepServerLog = serverLog
        options.tracePackets = trace
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
        let result = scenario.run()
        for line in result.serverLog { print(line) }
        print(result.render())
        if !result.ok { throw ExitCode(1) }
    }
}

extension PersonaMix: ExpressibleByArgument {}

/// A failure to set the run up (unreadable or invalid configuration): printed as is.
struct PXESimError: Error, CustomStringConvertible {
    var description: String
}
