import ArgumentParser
import BootCore
import BootWire
import Foundation
import PXENet
import PXESimKit

/// `pxe-sim replay FILE.pcap`: the client side of a capture, re-sent to bootd's daemon
/// composition (default) or to a real server (--target), each reply with its verdict.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-send a capture's client side and print each reply's verdict.",
        discussion: """
        Without --target the capture's DHCP and TFTP requests go into bootd's daemon
        composition, configured by --config (default: Fixtures/replay/NAME.ini beside the
        capture's directory), at the capture's time offsets on a virtual clock. Each reply is
        checked by the generic replay rules (Fixtures/README.md): the reply type the
        capture's server sent, the xid echoed, yiaddr in the pool, PXE options, the OACK
        bootd should grant, the file's bytes. With --target IP[:port] --interface IFACE the
        same requests go to a real server over real sockets (DHCP with the broadcast flag
        set, so replies reach this host whatever MAC the capture's client had).
        The exit status is 1 when a verdict is not ok.
        """)

    @Argument(help: "A capture (pcap or pcapng) with a client's DHCP and/or TFTP requests.")
    var file: String

    @Option(help: "The bootd/PyBootd INI configuration of the daemon under replay.")
    var config: String?

    @Option(help: "A real server, IP[:port]: replay over real sockets to it.")
    var target: String?

    @Option(help: "With --target: the interface to send from.")
    var interface: String?

    @Option(help: "With --target: seconds to wait for each reply.")
    var wait = 2.0

    mutating func validate() throws {
        if target != nil && interface == nil { throw ValidationError("--target needs --interface IFACE") }
        if target == nil && interface != nil { throw ValidationError("--interface needs --target IP[:port]") }
    }

    func run() throws {
        let url = URL(fileURLWithPath: file)
        let name = url.deletingPathExtension().lastPathComponent
        if let target {
            guard let endpoint = parseEndpoint(target) else {
                throw PXESimError(description: "--target \(target): expected an IPv4 address with an optional :port")
            }
            let lines: [ReplayLine]
            do {
                lines = try RealReplay(capture: file, target: endpoint, interface: interface!,
                                       wait: .nanoseconds(Int64(wait * 1e9))).run()
            } catch let e as RealRunError { throw PXESimError(description: e.description) }
            catch { throw PXESimError(description: "\(error)") }
            for l in lines { print(l.text) }
            let bad = lines.filter { !$0.ok }.count
            print("\(lines.count) replies checked, \(bad) not ok")
            if bad > 0 { throw ExitCode(1) }
            return
        }
        let configPath = config ?? url.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("replay/\(name).ini").path
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw PXESimError(description: "no configuration for \(file): give --config FILE.ini (looked for \(configPath))")
        }
        let t: ReplayTranscript
        do { t = try replay(capture: file, configuration: configPath, name: name) } catch {
            throw PXESimError(description: "\(error)")
        }
        let lines = verdicts(t)
        for l in lines { print(l.text) }
        let bad = lines.filter { !$0.ok }.count
        print("\(name): \(t.dhcp.count) DHCP messages and \(t.tftp.count) TFTP transfers replayed into bootd (\(configPath)); \(bad) not ok")
        if bad > 0 { throw ExitCode(1) }
    }
}
