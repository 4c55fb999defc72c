import BootWire
import Foundation
import PcapKit

/// The repository's `Fixtures/` directory: `BOOTD_FIXTURES` when set, else found from this
/// source file's place (Benchmarks/Sources/BootBenchKit/ → the repository root).
public let fixturesDirectory: String = {
    if let d = ProcessInfo.processInfo.environment["BOOTD_FIXTURES"], !d.isEmpty { return d }
    return URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures").path
}()

public struct BenchmarkSetupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One client message of a capture: its bytes as captured, and parsed.
public struct CapturedDHCPMessage {
    /// The capture's file name without `.pcap`, and the message type: `dhcp-ipxe-bios/DISCOVER`.
    public var name: String
    public var bytes: [UInt8]
    public var message: DHCPMessage
}

/// The first DISCOVER and the first REQUEST sent by the client of every DHCP capture under
/// Fixtures/pcap, read with PcapKit. Sorted by capture name, DISCOVER before REQUEST.
public func capturedClientMessages() throws -> [CapturedDHCPMessage] {
    let dir = fixturesDirectory + "/pcap"
    let names = try FileManager.default.contentsOfDirectory(atPath: dir)
        .filter { $0.hasPrefix("dhcp-") && $0.hasSuffix(".pcap") }.sorted()
    guard !names.isEmpty else { throw BenchmarkSetupError("no DHCP captures in \(dir)") }
    var out: [CapturedDHCPMessage] = []
    for file in names {
        let datagrams: [UDPDatagram]
        do { datagrams = try udpDatagrams(inFile: dir + "/" + file, port: 67) } catch {
            throw BenchmarkSetupError("\(file): \(error)")
        }
        let base = String(file.dropLast(".pcap".count))
        for type in [DHCPMessageType.discover, .request] {
            let found = datagrams.lazy.filter { $0.destination.port == 67 }.compactMap { d -> CapturedDHCPMessage? in
                guard let m = try? DHCPMessage(parsing: d.payload), m.messageType == type else { return nil }
                return CapturedDHCPMessage(name: "\(base)/\(type)", bytes: d.payload, message: m)
            }.first
            guard let found else { throw BenchmarkSetupError("\(file): no client \(type)") }
            out.append(found)
        }
    }
    return out
}

/// Fixtures/config/pybootd-sample.ini, every section of PyBootd's format.
public func sampleConfigurationBytes() throws -> [UInt8] {
    let path = fixturesDirectory + "/config/pybootd-sample.ini"
    guard let data = FileManager.default.contents(atPath: path) else { throw BenchmarkSetupError("cannot read \(path)") }
    return Array(data)
}
