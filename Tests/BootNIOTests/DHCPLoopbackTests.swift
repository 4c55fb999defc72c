import BootCore
import BootNIO
import BootWire
import Foundation
import Testing

/// DHCP over real sockets on loopback. The daemon runs on a high port P; off port 67 it
/// sends replies meant for port 68 to P+1 and relay replies meant for 67 to P (as
/// dnsmasq's --dhcp-alternate-port). Replies to 255.255.255.255 would need a real link, so
/// the client sets ciaddr = 127.0.0.1 and the engine answers it by unicast to
/// 127.0.0.1:68 → P+1, where the test listens.
@Suite("BootNIO DHCP on loopback", .serialized)
struct DHCPLoopbackTests {
    @Test func discoverGetsAnOfferOverRealSockets() throws {
        let d = try TestDaemon()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        try #require(SocketCalls.bind(fd, to: Endpoint(IPv4Address(127, 0, 0, 1), d.dhcpPort + 1)) == 0)

        let mac: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
        var m = DHCPMessage(op: .request, xid: 0xB007_D000, ciaddr: IPv4Address(127, 0, 0, 1), chaddr: mac)
        try m.setValue(.discover, for: .messageType)
        try m.setValue("PXEClient:Arch:00000:UNDI:002001", for: .vendorClassIdentifier)
        let bytes = try m.serialized()
        let to = Endpoint(IPv4Address(127, 0, 0, 1), d.dhcpPort)
        // Like a real client: retransmit the DISCOVER when no answer comes (up to 4 tries).
        var buffer = [UInt8](repeating: 0, count: 2048)
        var n = -1
        for _ in 0..<4 where n <= 0 {
            let sent = SocketCalls.send(fd, bytes, to: to)
            try #require(sent == bytes.count)
            n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        }
        try #require(n > 0, "no reply from the daemon on 127.0.0.1:\(d.dhcpPort + 1)")
        let reply = try DHCPMessage(parsing: Array(buffer[0..<n]))
        #expect(reply.messageType == .offer)
        #expect(reply.xid == 0xB007_D000)
        #expect(reply.yiaddr.value >= IPv4Address(127, 0, 0, 100).value && reply.yiaddr.value < IPv4Address(127, 0, 0, 110).value)
    }

    @Test("a full DORA over real sockets: the ACK leaves only once its lease is in the lease file")
    func doraLeaseIsDurableAtAck() throws {
        let d = try TestDaemon()
        let client = try LoopbackDHCPClient(serverPort: d.dhcpPort)
        let mac: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x77]
        var discover = DHCPMessage(op: .request, xid: 0x0D0A, ciaddr: IPv4Address(127, 0, 0, 1), chaddr: mac)
        try discover.setValue(.discover, for: .messageType)
        let offer = try #require(try client.exchange(discover), "no OFFER")
        #expect(offer.messageType == .offer)
        var request = DHCPMessage(op: .request, xid: 0x0D0A, ciaddr: IPv4Address(127, 0, 0, 1), chaddr: mac)
        try request.setValue(.request, for: .messageType)
        try request.setValue(offer.yiaddr, for: .requestedIPAddress)
        if let sid = try offer.value(.serverIdentifier) { try request.setValue(sid, for: .serverIdentifier) }
        let ack = try #require(try client.exchange(request), "no ACK")
        #expect(ack.messageType == .ack)
        #expect(ack.yiaddr == offer.yiaddr)
        // Read the journal as another process would, right after the ACK arrived.
        let journal = try String(contentsOfFile: d.dir.path + "/state/leases", encoding: .utf8)
        #expect(journal.contains("L 52:54:00:12:34:77 \(ack.yiaddr) "), "\(journal)")
    }
}

@Suite("BootNIO DHCP read order")
struct DHCPIngressTests {
    func datagram(_ type: DHCPMessageType) throws -> Datagram {
        var m = DHCPMessage(op: .request, xid: 1, chaddr: [2, 0, 0, 0, 0, 1])
        try m.setValue("PXEClient:Arch:00000:UNDI:002001", for: .vendorClassIdentifier)   // before 53: the scan skips it
        try m.setValue(type, for: .messageType)
        return Datagram(payload: try m.serialized(), peer: Endpoint(.any, 68), local: Endpoint(.broadcast, 67), interface: 1)
    }

    @Test("REQUEST, DECLINE, RELEASE, INFORM complete an exchange and go first; DISCOVER and garbage wait")
    func order() throws {
        for t: DHCPMessageType in [.request, .decline, .release, .inform] {
            #expect(DHCPIngress.completesExchange(try datagram(t)), "\(t)")
        }
        #expect(!DHCPIngress.completesExchange(try datagram(.discover)))
        #expect(!DHCPIngress.completesExchange(Datagram(payload: [1, 2, 3], peer: Endpoint(.any, 68), local: Endpoint(.any, 67), interface: 0)))
        var truncated = try datagram(.request).payload
        truncated.removeLast(truncated.count - 243)   // cut inside the options
        #expect(!DHCPIngress.completesExchange(Datagram(payload: truncated, peer: Endpoint(.any, 68), local: Endpoint(.any, 67), interface: 0)))
    }
}

/// A DHCP client on 127.0.0.1:P+1 (see the suite's comment), retransmitting like a real one.
final class LoopbackDHCPClient {
    let fd: Int32
    let serverPort: UInt16
    init(serverPort: UInt16) throws {
        self.serverPort = serverPort
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        try #require(SocketCalls.bind(fd, to: Endpoint(IPv4Address(127, 0, 0, 1), serverPort + 1)) == 0)
    }
    deinit { close(fd) }

    /// Sends `m` (up to 4 times) and returns the first reply with its xid.
    func exchange(_ m: DHCPMessage) throws -> DHCPMessage? {
        let bytes = try m.serialized()
        let to = Endpoint(IPv4Address(127, 0, 0, 1), serverPort)
        var buffer = [UInt8](repeating: 0, count: 2048)
        for _ in 0..<4 {
            SocketCalls.send(fd, bytes, to: to)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n <= 0 { break }
                if let reply = try? DHCPMessage(parsing: Array(buffer[0..<n])), reply.xid == m.xid { return reply }
            }
        }
        return nil
    }
}
