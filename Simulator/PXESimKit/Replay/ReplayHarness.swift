import Foundation
import BootCore
import BootWire
import PcapKit

// Replay conformance (DESIGN.md, "Testing layers" 2): the client's side of a captured
// exchange is fed into bootd's daemon composition (`BootDaemon`, real engines) over tiny
// in-memory ports, at the capture's time offsets on a manual clock; every reply bootd
// sends is recorded for the fixture's rules (ReplayRules.swift, Rules*.swift).

// MARK: Ports

/// A manual clock: time moves only when the replay moves it; due timers fire in order.
package final class ReplayClock: Clock {
    package private(set) var now: Instant = .zero
    private var timers: [(token: TimerToken, at: Instant, action: () -> Void)] = []
    private var nextID: UInt64 = 1

    @discardableResult
    package func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> TimerToken {
        let t = TimerToken(id: nextID)
        nextID += 1
        timers.append((t, deadline, action))
        return t
    }

    package func cancel(_ token: TimerToken) { timers.removeAll { $0.token == token } }

    /// Moves to `instant` (never backwards), firing every timer due on the way.
    package func advance(to instant: Instant) {
        while let i = timers.indices.filter({ timers[$0].at <= instant }).min(by: { timers[$0].at < timers[$1].at }) {
            let t = timers.remove(at: i)
            if t.at > now { now = t.at }
            t.action()
        }
        if instant > now { now = instant }
    }
}

/// Everything bootd sent, in order, with the local endpoint it left from.
package final class Outbox {
    package var sent: [(from: Endpoint, datagram: Datagram)] = []
    package func drain() -> [(from: Endpoint, datagram: Datagram)] { defer { sent.removeAll() }; return sent }
}

package final class RecordingTransport: Transport {
    package let local: Endpoint
    package let outbox: Outbox
    package init(local: Endpoint, outbox: Outbox) { self.local = local; self.outbox = outbox }
    package func send(_ datagram: Datagram) { outbox.sent.append((local, datagram)) }
}

/// One TFTP transfer port (RFC 1350 TID) bootd opened.
package final class ReplayPort: BoundPort {
    package let local: Endpoint
    package let outbox: Outbox
    package let receive: (Datagram) -> Void
    package var closed = false
    package init(local: Endpoint, outbox: Outbox, receive: @escaping (Datagram) -> Void) {
        self.local = local; self.outbox = outbox; self.receive = receive
    }
    package func send(_ datagram: Datagram) { if !closed { outbox.sent.append((local, datagram)) } }
    package func close() { closed = true }
}

package final class ReplayPortFactory: PortFactory {
    package let outbox: Outbox
    package let serverAddress: IPv4Address
    package var ports: [UInt16: ReplayPort] = [:]
    private var next: UInt16 = 49152
    package init(outbox: Outbox, serverAddress: IPv4Address) { self.outbox = outbox; self.serverAddress = serverAddress }
    package func openPort(address: IPv4Address, port: UInt16, receive: @escaping (Datagram) -> Void) -> (any BoundPort)? {
        let n = port == 0 ? next : port
        if port == 0 { next += 1 }
        let p = ReplayPort(local: Endpoint(address == .any ? serverAddress : address, n), outbox: outbox, receive: receive)
        ports[n] = p
        return p
    }
}

/// Boot files from a directory, answered at once (no simulated latency).
package final class DirectoryFiles: FileSource {
    package let root: URL
    private var open: [UInt64: [UInt8]] = [:]
    private var next: UInt64 = 1
    package init(root: URL) { self.root = root }
    package func bytes(_ path: String) -> [UInt8]? {
        (try? Data(contentsOf: root.appendingPathComponent(path))).map { [UInt8]($0) }
    }
    package func open(_ path: String, completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void) {
        guard let b = bytes(path) else { return completion(.failure(.notFound)) }
        let id = next
        next += 1
        open[id] = b
        completion(.success(FileHandleID(id: id)))
    }
    package func size(of file: FileHandleID) -> Int { open[file.id]?.count ?? 0 }
    package func read(_ file: FileHandleID, offset: Int, count: Int, completion: @escaping (Result<ArraySlice<UInt8>, FileSourceError>) -> Void) {
        guard let b = open[file.id] else { return completion(.failure(.ioError("closed"))) }
        let lo = min(offset, b.count), hi = min(offset + count, b.count)
        completion(.success(b[lo..<hi]))
    }
    package func close(_ file: FileHandleID) { open[file.id] = nil }
}

package final class MemoryLeases: LeaseStore {
    package var records: [[UInt8]: LeaseRecord] = [:]
    package func load() -> [LeaseRecord] { Array(records.values) }
    package func store(_ record: LeaseRecord) { records[record.mac] = record }
    package func remove(mac: [UInt8]) { records[mac] = nil }
}

// MARK: The daemon under replay

package struct ReplayError: Error, CustomStringConvertible {
    package var description: String
    package init(description: String) { self.description = description }
}

/// bootd's daemon composition configured from `Fixtures/replay/NAME.ini`, on in-memory ports.
package final class ReplayServer {
    package let serverAddress: IPv4Address
    package let clock = ReplayClock()
    package let outbox = Outbox()
    package let daemon: BootDaemon
    package let files: DirectoryFiles
    package let portFactory: ReplayPortFactory
    package let dhcpSettings: DHCPServerSettings?
    package var log: [String] = []

    /// bootd configured by the INI file at `configurationPath` (paths in it relative to its directory).
    package init(configurationPath: String) throws {
        let file = URL(fileURLWithPath: configurationPath)
        let dir = file.deletingLastPathComponent()
        let text: String
        do { text = try String(contentsOf: file, encoding: .utf8) } catch {
            throw ReplayError(description: "cannot read \(configurationPath): \(error.localizedDescription)")
        }
        // The loader needs pool_start even for TFTP-only fixtures: it places the server.
        let loaded: LoadedConfiguration
        do { loaded = try ConfigurationLoader.parse(text, fileName: file.path, baseDirectory: dir.path, dhcpEnabled: true) } catch {
            throw ReplayError(description: error.errors.map(\.description).joined(separator: "\n"))
        }
        let c = loaded.configuration
        // The server sits at the first host address of the pool's network, as the
        // reference did (dnsmasq at 10.77.0.1 for the 10.77.0.0/24 fixtures).
        let netmask = c.bootpd.netmask ?? IPv4Address(255, 255, 255, 0)
        let pool = c.bootpd.poolStart ?? IPv4Address(10, 77, 0, 100)
        serverAddress = IPv4Address((pool.value & netmask.value) | 1)
        dhcpSettings = DHCPServerSettings(configuration: c, serverAddress: serverAddress, interfaceNetmask: netmask)
        let tftp = TFTPServerSettings(configuration: c)
        let root: URL
        switch c.tftpd.root {
        case let .local(p): root = p.hasPrefix("/") ? URL(fileURLWithPath: p) : dir.appendingPathComponent(p)
        case let .remote(u): throw ReplayError(description: "replay needs a local TFTP root, not \(u)")
        }
        files = DirectoryFiles(root: root.standardizedFileURL)
        portFactory = ReplayPortFactory(outbox: outbox, serverAddress: serverAddress)
        let box = LogBox()
        let ports = DaemonPorts(
            clock: clock, leaseStore: MemoryLeases(), authority: nil,
            dhcpTransport: RecordingTransport(local: Endpoint(serverAddress, 67), outbox: outbox),
            tftpTransport: RecordingTransport(local: Endpoint(serverAddress, 69), outbox: outbox),
            ports: portFactory, files: files,
            log: { [clock] r in box.lines.append("\(clock.now) \(r)") })
        daemon = BootDaemon(dhcp: dhcpSettings, tftp: tftp, ports: ports)
        logBox = box
    }
    private let logBox: LogBox
    package final class LogBox { var lines: [String] = [] }
    package var serverLog: [String] { logBox.lines }
}

// MARK: The capture

/// A capture's datagrams as the replay needs them: the client's side to send, the
/// reference server's side to compare with.
package struct ReplayCapture {
    package struct DHCPPacket { package var time: Instant; package var datagram: UDPDatagram; package var message: DHCPMessage }
    package struct TFTPPacket { package var time: Instant; package var datagram: UDPDatagram; package var packet: BootWire.TFTPPacket }
    /// One transfer, keyed by the client's endpoint and its RRQ.
    package struct Transfer {
        package var rrq: TFTPPacket
        /// Everything after the RRQ between the client and the server's transfer port (and
        /// ERRORs from port 69 answering this RRQ), in capture order.
        package var rest: [TFTPPacket] = []
        package var request: TFTPRequest { if case let .readRequest(r) = rrq.packet { r } else { fatalError() } }
        package var clientPackets: [TFTPPacket] { rest.filter { $0.datagram.source == rrq.datagram.source } }
        package var serverPackets: [TFTPPacket] { rest.filter { $0.datagram.source != rrq.datagram.source } }
        package var referenceOACK: [TFTPOption]? {
            for p in serverPackets { if case let .optionAck(o) = p.packet { return o } }
            return nil
        }
        package var referenceBlockSizes: [Int] {
            var seen = Set<UInt16>(), out: [Int] = []
            for p in serverPackets { if case let .data(b, d) = p.packet, seen.insert(b).inserted { out.append(d.count) } }
            return out
        }
    }
    /// A step of the client's, in capture order: a DHCP message or a transfer's RRQ.
    package enum Step { case dhcp(Int), transfer(Int) }

    package var dhcp: [DHCPPacket] = []
    package var transfers: [Transfer] = []
    package var steps: [Step] = []
    package var problems: [String] = []

    package init(path: String) throws {
        let analysis = try analyzeCapture(atPath: path)
        for m in analysis.malformed { problems.append("malformed record \(m)") }
        guard let first = analysis.datagrams.first?.timestamp else { return }
        func offset(_ t: CaptureTimestamp) -> Instant {
            Instant(nanoseconds: (t.seconds - first.seconds) * 1_000_000_000 + Int64(t.nanoseconds) - Int64(first.nanoseconds))
        }
        var transferOf: [UDPEndpoint: Int] = [:]
        for d in analysis.datagrams {
            let ports = [d.source.port, d.destination.port]
            if ports.contains(67) || ports.contains(68) {
                guard let m = try? DHCPMessage(parsing: d.payload) else { problems.append("undecodable DHCP record \(d.recordIndex ?? -1)"); continue }
                dhcp.append(DHCPPacket(time: offset(d.timestamp), datagram: d, message: m))
                if m.op == .request { steps.append(.dhcp(dhcp.count - 1)) }
            } else if let p = try? BootWire.TFTPPacket(parsing: d.payload) {
                let pkt = TFTPPacket(time: offset(d.timestamp), datagram: d, packet: p)
                if case .readRequest = p, d.destination.port == 69 {
                    transfers.append(Transfer(rrq: pkt))
                    transferOf[d.source] = transfers.count - 1
                    steps.append(.transfer(transfers.count - 1))
                } else if let i = transferOf[d.source] ?? transferOf[d.destination] {
                    transfers[i].rest.append(pkt)
                }
            }
        }
    }

    /// The reference server's DHCP replies to client message `i`: the server messages
    /// after it and before the client's next message.
    package func referenceReplies(to i: Int) -> [DHCPMessage] {
        var out: [DHCPMessage] = []
        for p in dhcp[(i + 1)...] {
            if p.message.op == .request { break }
            if p.message.xid == dhcp[i].message.xid { out.append(p.message) }
        }
        return out
    }
}

extension IPAddress {
    package var v4: IPv4Address? { if case let .v4(v) = self { IPv4Address(v) } else { nil } }
}
