import Foundation
import BootCore
import BootWire
import PcapKit

/// One client DHCP message as replayed, and what bootd answered.
package struct DHCPExchange {
    package var index: Int
    package var time: Instant
    /// The message as sent to bootd (after rewriting).
    package var request: DHCPMessage
    /// What was rewritten from bootd's earlier replies, in words.
    package var rewrites: [String]
    package var destination: Endpoint
    package var replies: [(datagram: Datagram, message: DHCPMessage)]
    /// dnsmasq's replies to the captured message.
    package var reference: [DHCPMessage]
    package var reply: DHCPMessage? { replies.first?.message }
}

/// One TFTP transfer as replayed.
package struct TFTPExchange {
    package var file: String
    package var request: TFTPRequest
    package var clientEndpoint: Endpoint
    /// bootd's transfer port (its TID), or the listening port when it answered from there.
    package var serverPort: UInt16?
    /// Every packet in order: "server OACK blksize=1432", "client ACK 0", ...
    package var trace: [String] = []
    package var oack: [TFTPOption]?
    package var errorsFromServer: [TFTPError] = []
    /// DATA blocks received in order, first copy of each.
    package var blocks: [[UInt8]] = []
    package var duplicateBlocks = 0
    package var completed = false
    package var rewrites: [String] = []
    package var reference: ReplayCapture.Transfer
    package var data: [UInt8] { blocks.flatMap { $0 } }
    package func oackValue(_ name: String) -> String? { oack?.first { $0.isNamed(name) }?.value }
}

package struct ReplayTranscript {
    package var name: String
    package var dhcp: [DHCPExchange] = []
    package var tftp: [TFTPExchange] = []
    package var problems: [String] = []
    package var serverLog: [String] = []
    package let files: DirectoryFiles
    package let serverAddress: IPv4Address
    package let dhcpSettings: DHCPServerSettings?
}

/// Replays capture `name` (Fixtures/pcap or Fixtures/user) into bootd configured by
/// Fixtures/replay/NAME.ini.
///
/// Timing: the manual clock is moved to each client packet's capture offset (from the
/// first datagram) before it is delivered; bootd's timers due on the way fire first.
/// Rewriting: see `rewrite(_:)` (DHCP) and `replayTransfer` (TFTP).
package func replay(capture path: String, configuration: String, name: String) throws -> ReplayTranscript {
    let capture = try ReplayCapture(path: path)
    let server = try ReplayServer(configurationPath: configuration)
    var t = ReplayTranscript(name: name, files: server.files, serverAddress: server.serverAddress,
                             dhcpSettings: server.dhcpSettings)
    t.problems = capture.problems
    var state = DHCPReplayState()
    for step in capture.steps {
        switch step {
        case let .dhcp(i):
            let p = capture.dhcp[i]
            server.clock.advance(to: p.time)
            _ = server.outbox.drain() // anything sent by timers belongs to no request
            var (m, rewrites) = state.rewrite(p.message, server: server.serverAddress)
            let changed = !rewrites.isEmpty
            let payload = changed ? ((try? m.serialized()) ?? p.datagram.payload) : p.datagram.payload
            if changed { m = (try? DHCPMessage(parsing: payload)) ?? m }
            let dstIP = p.datagram.destination.address.v4 ?? .broadcast
            let local = Endpoint(dstIP == .broadcast ? .broadcast : server.serverAddress, 67)
            if dstIP != .broadcast && dstIP != server.serverAddress {
                rewrites.append("unicast destination \(dstIP) → bootd's address \(server.serverAddress)")
            }
            let peerIP = m.ciaddr != .any ? m.ciaddr : (p.datagram.source.address.v4 ?? .any)
            server.daemon.receiveDHCP(Datagram(payload: payload, peer: Endpoint(peerIP, p.datagram.source.port), local: local))
            var replies: [(Datagram, DHCPMessage)] = []
            for (from, d) in server.outbox.drain() {
                guard from.port == 67, let r = try? DHCPMessage(parsing: d.payload) else {
                    t.problems.append("bootd sent an undecodable datagram from \(from) to \(d.peer)")
                    continue
                }
                replies.append((d, r))
                state.learn(r)
            }
            t.dhcp.append(DHCPExchange(index: t.dhcp.count, time: p.time, request: m, rewrites: rewrites,
                                       destination: local, replies: replies, reference: capture.referenceReplies(to: i)))
        case let .transfer(i):
            t.tftp.append(replayTransfer(capture.transfers[i], server))
        }
    }
    t.serverLog = server.serverLog
    return t
}

/// What a client learns from bootd's replies, to rewrite its next message.
package struct DHCPReplayState {
    package init() {}
    package var serverID: [UInt8]?
    package var offered: IPv4Address?
    package var acked: IPv4Address?

    package mutating func learn(_ r: DHCPMessage) {
        if let sid = r.options[code: 54] { serverID = sid }
        if r.messageType == .offer { offered = r.yiaddr }
        if r.messageType == .ack, r.yiaddr != .any { acked = r.yiaddr }
    }

    /// The xid stays as captured (bootd must echo it). A REQUEST's server identifier (54)
    /// becomes bootd's, its requested address (50) the address bootd offered, and a
    /// renewing REQUEST's or RELEASE's ciaddr the address bootd acknowledged: the client
    /// would have taken these from our replies, not dnsmasq's.
    package func rewrite(_ message: DHCPMessage, server: IPv4Address) -> (DHCPMessage, [String]) {
        var m = message
        var notes: [String] = []
        if m.options[code: 54] != nil, let sid = serverID, m.options[code: 54] != sid {
            notes.append("option 54 \(hex(m.options[code: 54]!)) → bootd's server id \(hex(sid))")
            m.options[code: 54] = sid
        }
        if m.messageType == .request, m.options[code: 50] != nil, let o = offered, m.options[code: 50] != o.bytes {
            notes.append("option 50 → offered \(o)")
            m.options[code: 50] = o.bytes
        }
        if m.ciaddr != .any, let a = acked, m.ciaddr != a {
            notes.append("ciaddr \(m.ciaddr) → acknowledged \(a)")
            m.ciaddr = a
        }
        return (m, notes)
    }
}

extension IPv4Address {
    package var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
}

package func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

/// Replays one TFTP transfer. The RRQ is sent as captured (options in wire order) to
/// port 69. The client's later packets are rewritten from bootd's replies: they go to
/// bootd's transfer port (its TID, not dnsmasq's); after an OACK the client sends what it
/// sent in the capture (ACK 0, or EDK2's ERROR 8 after its size query); after DATA it
/// ACKs the highest block received once bootd's window is out (lock-step when no
/// windowsize was granted, as in the capture). Each client packet is sent at the capture
/// time of the client's packet in the same position (or, past the end, of its last one).
package func replayTransfer(_ ref: ReplayCapture.Transfer, _ server: ReplayServer) -> TFTPExchange {
    let src = ref.rrq.datagram.source
    let client = Endpoint(src.address.v4 ?? IPv4Address(10, 77, 0, 20), src.port)
    var x = TFTPExchange(file: ref.request.filename ?? "?", request: ref.request, clientEndpoint: client, reference: ref)
    let clientTimes = ref.clientPackets.map(\.time)
    let capturedAfterOACK = ref.clientPackets.first?.packet
    server.clock.advance(to: ref.rrq.time)
    _ = server.outbox.drain()
    server.daemon.receiveTFTP(Datagram(payload: ref.rrq.datagram.payload, peer: client,
                                       local: Endpoint(server.serverAddress, 69)))
    x.trace.append("client RRQ \(ref.request.filename ?? "?") \(ref.request.options.map(\.description).joined(separator: " "))")
    var sentByClient = 0
    var highest: UInt16 = 0
    var blksize = 512
    var rounds = 0
    while rounds < 10_000 {
        rounds += 1
        var next: BootWire.TFTPPacket?
        var lastDataShort = false
        var sawSomething = false
        for (from, d) in server.outbox.drain() where d.peer == client {
            guard let p = try? BootWire.TFTPPacket(parsing: d.payload) else { x.trace.append("server undecodable"); continue }
            sawSomething = true
            if x.serverPort == nil { x.serverPort = from.port }
            else if x.serverPort != from.port { x.trace.append("server changed port \(x.serverPort!) → \(from.port)") }
            switch p {
            case let .optionAck(o):
                x.trace.append("server OACK \(o.map(\.description).joined(separator: " "))")
                x.oack = o
                if let b = o.first(where: { $0.isNamed("blksize") }).flatMap({ Int($0.value) }) { blksize = b }
                // The client answers an OACK as it did in the capture (ACK 0 or ERROR).
                next = capturedAfterOACK ?? .ack(block: 0)
            case let .data(block, payload):
                x.trace.append("server DATA \(block) (\(payload.count))")
                if block == highest &+ 1 {
                    x.blocks.append(payload)
                    highest = block
                    lastDataShort = payload.count < blksize
                } else {
                    x.duplicateBlocks += 1
                }
                next = .ack(block: highest)
            case let .error(e):
                x.trace.append("server ERROR \(e.code.rawValue) \(e.message)")
                x.errorsFromServer.append(e)
                next = nil
            default:
                x.trace.append("server \(p)")
            }
        }
        if lastDataShort { x.completed = true }
        guard sawSomething, let packet = next else { break }
        if case .error = packet {} else if !x.errorsFromServer.isEmpty { break }
        let at = sentByClient < clientTimes.count ? clientTimes[sentByClient] : (clientTimes.last ?? server.clock.now)
        sentByClient += 1
        server.clock.advance(to: at)
        guard let port = x.serverPort, let bound = server.portFactory.ports[port] else { break }
        if x.rewrites.isEmpty {
            x.rewrites.append("client packets go to bootd's transfer port \(port)")
        }
        x.trace.append("client \(describe(packet))")
        if let bytes = try? packet.serialized(), !bound.closed {
            bound.receive(Datagram(payload: bytes, peer: client, local: bound.local))
        }
        if case .error = packet { break }
        if x.completed { break }
    }
    // Let the server finish (a stray timer must not resend anything after the final ACK).
    server.clock.advance(to: server.clock.now + .seconds(10))
    for (_, d) in server.outbox.drain() where d.peer == client {
        if let p = try? BootWire.TFTPPacket(parsing: d.payload) {
            x.trace.append("server (after the end) \(describe(p))")
            if case .data = p { x.duplicateBlocks += 1 }
        }
    }
    return x
}

package func describe(_ p: BootWire.TFTPPacket) -> String {
    switch p {
    case let .ack(b): "ACK \(b)"
    case let .data(b, d): "DATA \(b) (\(d.count))"
    case let .error(e): "ERROR \(e.code.rawValue) \(e.message)"
    case let .optionAck(o): "OACK \(o.map(\.description).joined(separator: " "))"
    case let .readRequest(r): "RRQ \(r.filename ?? "?")"
    case let .writeRequest(r): "WRQ \(r.filename ?? "?")"
    }
}
