import Foundation
import BootWire
import PcapKit

/// The package's `Fixtures/` directory, found from this source file's location so the
/// tests run from any working directory.
let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// Every capture under Fixtures/ (recursively), sorted by path.
func fixtureCaptures() -> [String] {
    guard let e = FileManager.default.enumerator(atPath: fixturesDirectory.path) else { return [] }
    var out: [String] = []
    while let p = e.nextObject() as? String {
        if p.hasSuffix(".pcap") || p.hasSuffix(".pcapng") { out.append(p) }
    }
    return out.sorted()
}

/// A capture's UDP datagrams split into DHCP and TFTP, with TFTP transfers followed from
/// their RRQ to the server's session port (RFC 1350 TIDs).
struct FixtureTraffic {
    var dhcp: [(datagram: UDPDatagram, message: DHCPMessage)] = []
    var tftp: [(datagram: UDPDatagram, packet: TFTPPacket)] = []
    var failures: [String] = []

    init(path: String) throws {
        let analysis = try analyzeCapture(atPath: fixturesDirectory.appendingPathComponent(path).path)
        for m in analysis.malformed { failures.append("record \(m)") }
        var tftpClients = Set<UDPEndpoint>()
        for d in analysis.datagrams {
            let ports = [d.source.port, d.destination.port]
            if ports.contains(67) || ports.contains(68) {
                do { dhcp.append((d, try DHCPMessage(parsing: d.payload))) } catch {
                    failures.append("DHCP record \(d.recordIndex ?? -1): \(error)")
                }
            } else if d.destination.port == 69 || tftpClients.contains(d.source) || tftpClients.contains(d.destination) {
                do {
                    let p = try TFTPPacket(parsing: d.payload)
                    if case .readRequest = p { tftpClients.insert(d.source) }
                    tftp.append((d, p))
                } catch {
                    failures.append("TFTP record \(d.recordIndex ?? -1): \(error)")
                }
            }
        }
    }

    func dhcp(_ type: DHCPMessageType) -> [DHCPMessage] { dhcp.map(\.message).filter { $0.messageType == type } }
    var readRequests: [TFTPRequest] { tftp.compactMap { if case let .readRequest(r) = $0.packet { r } else { nil } } }
}
