import BootCore
import BootNIO
import BootWire
import PXESimKit
#if canImport(Glibc)
import Glibc
#endif

/// `pxe-sim replay FILE --target`: a capture's client requests re-sent, one at a time, to
/// a real server, with the same rewriting as the in-memory replay (option 54/50 and
/// ciaddr from the server's own replies) plus the broadcast flag, so replies come back to
/// this host whatever MAC the captured client had. Blocking sockets: one request at a time.
public final class RealReplay {
    let capturePath: String
    let target: Endpoint
    let interface: HostInterface
    let interfaceIndex: Int32
    let wait: Duration

    public init(capture: String, target: Endpoint, interface name: String, wait: Duration) throws(RealRunError) {
        capturePath = capture
        self.target = target
        self.wait = wait
        let index = if_nametoindex(name)
        guard index > 0 else { throw RealRunError("no interface named \(name)") }
        guard let iface = HostInterface.all().first(where: { $0.name == name }) else {
            throw RealRunError("interface \(name) has no IPv4 address (or is down)")
        }
        interface = iface
        interfaceIndex = Int32(index)
    }

    public func run() throws -> [ReplayLine] {
        let capture = try ReplayCapture(path: capturePath)
        var out: [ReplayLine] = capture.problems.map { ReplayLine(text: "capture: \($0)", ok: false) }
        let clientPort: UInt16 = target.port == 67 ? 68 : target.port &+ 1
        var dhcpSocket: UDPSocket?
        var state = DHCPReplayState()
        for step in capture.steps {
            switch step {
            case let .dhcp(i):
                if dhcpSocket == nil {
                    dhcpSocket = try UDPSocket(address: .any, port: clientPort, interfaceIndex: interfaceIndex, broadcast: true)
                }
                out.append(replayDHCP(capture, i, &state, dhcpSocket!))
            case let .transfer(i):
                out.append(try replayTFTP(capture.transfers[i], index: out.count))
            }
        }
        return out
    }

    func replayDHCP(_ capture: ReplayCapture, _ i: Int, _ state: inout DHCPReplayState, _ socket: UDPSocket) -> ReplayLine {
        let p = capture.dhcp[i]
        var (m, _) = state.rewrite(p.message, server: target.address)
        m.broadcastFlag = true
        let type = m.messageType.map(\.description) ?? "BOOTREQUEST"
        let unicast = m.ciaddr != .any
        let destination = Endpoint(unicast ? target.address : .broadcast, target.port)
        let payload = (try? m.serialized()) ?? p.datagram.payload
        socket.send(payload, to: destination)
        // Replies: the first, plus any that follow within 100 ms (a second is a defect).
        var replies: [DHCPMessage] = []
        var deadline = wait
        while let (bytes, from) = socket.receive(within: deadline) {
            guard from.address == target.address, let r = try? DHCPMessage(parsing: bytes), r.op == .reply,
                  r.xid == m.xid, r.chaddr == m.chaddr else { continue }
            replies.append(r)
            state.learn(r)
            deadline = .milliseconds(100)
        }
        let want = capture.referenceReplies(to: i).first?.messageType
        var problems: [String] = []
        switch (want, replies.first?.messageType) {
        case (nil, nil): break
        case (nil, let got?): problems.append("the capture's server was silent, this one sent \(got)")
        case (let w?, nil): problems.append("no reply, want \(w)")
        case let (w?, got): if got != w { problems.append("reply is \(got.map(\.description) ?? "BOOTREPLY"), want \(w)") }
        }
        if replies.count > 1 { problems.append("\(replies.count) replies, want one") }
        if let r = replies.first, r.options[code: 54] == nil { problems.append("no server identifier (54)") }
        let got = replies.map { r in
            (r.messageType.map(\.description) ?? "BOOTREPLY") + " \(r.yiaddr)" + (r.bootFileName.map { " file \($0)" } ?? "")
        }.joined(separator: ", ")
        let verdict = problems.isEmpty ? "ok" : "NOT OK: " + problems.joined(separator: "; ")
        return ReplayLine(text: "DHCP #\(i) \(type) xid \(String(m.xid, radix: 16)) to \(destination) → \(got.isEmpty ? "no reply" : got): \(verdict)",
                          ok: problems.isEmpty)
    }

    func replayTFTP(_ ref: ReplayCapture.Transfer, index: Int) throws -> ReplayLine {
        let socket = try UDPSocket(address: interface.address, port: 0, interfaceIndex: interfaceIndex, broadcast: false)
        let server69 = Endpoint(target.address, 69)
        socket.send(ref.rrq.datagram.payload, to: server69)
        let afterOACK = ref.clientPackets.first?.packet
        var tid: Endpoint?
        var oack: [TFTPOption]?
        var data: [UInt8] = []
        var highest: UInt16 = 0
        var blksize = 512
        var completed = false
        var serverError: TFTPError?
        var duplicates = 0
        while !completed, serverError == nil, let (bytes, from) = socket.receive(within: wait) {
            guard from.address == target.address, tid == nil || tid == from, let packet = try? TFTPPacket(parsing: bytes) else { continue }
            tid = from
            var reply: TFTPPacket?
            switch packet {
            case let .optionAck(o):
                oack = o
                if let b = o.first(where: { $0.isNamed("blksize") }).flatMap({ Int($0.value) }) { blksize = b }
                reply = afterOACK ?? .ack(block: 0)
            case let .data(block, payload):
                if block == highest &+ 1 {
                    data += payload
                    highest = block
                    completed = payload.count < blksize
                } else { duplicates += 1 }
                reply = .ack(block: highest)
            case let .error(e): serverError = e
            default: break
            }
            if let reply, let b = try? reply.serialized() { socket.send(b, to: from) }
            if case .error? = reply { break }
        }
        socket.close()
        let referenceError = ref.serverPackets.compactMap { p -> UInt16? in if case let .error(e) = p.packet { e.code.rawValue } else { nil } }.first
        var clientAborts = false
        if case .error? = afterOACK { clientAborts = true }
        var problems: [String] = []
        if let code = referenceError {
            if serverError?.code.rawValue != code { problems.append("want ERROR \(code), got \(serverError.map { "ERROR \($0.code.rawValue)" } ?? "none")") }
        } else if let e = serverError {
            problems.append("ERROR \(e.code.rawValue) \(e.message)")
        } else if !clientAborts && !completed {
            problems.append("transfer did not complete (\(data.count) bytes)")
        }
        if completed, let t = oack?.first(where: { $0.isNamed("tsize") }).flatMap({ Int($0.value) }), t != data.count {
            problems.append("OACK tsize \(t), \(data.count) bytes received")
        }
        if ref.referenceOACK != nil && oack == nil && referenceError == nil { problems.append("no OACK (the capture's server sent one)") }
        var what: [String] = []
        if let o = oack { what.append("OACK " + o.map(\.description).joined(separator: " ")) }
        if !data.isEmpty || completed { what.append("\(highest) blocks, \(data.count) bytes" + (duplicates > 0 ? ", \(duplicates) duplicates" : "")) }
        if let e = serverError { what.append("ERROR \(e.code.rawValue) \(e.message)") }
        let verdict = problems.isEmpty ? "ok" : "NOT OK: " + problems.joined(separator: "; ")
        return ReplayLine(text: "TFTP #\(index) RRQ \(ref.request.filename ?? "?") \(ref.request.options.map(\.description).joined(separator: " ")) → \(what.isEmpty ? "nothing" : what.joined(separator: ", ")): \(verdict)",
                          ok: problems.isEmpty)
    }
}

/// A blocking UDP socket (replay sends one request at a time).
final class UDPSocket {
    let fd: Int32
    init(address: IPv4Address, port: UInt16, interfaceIndex: Int32, broadcast: Bool) throws(RealRunError) {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw RealRunError("socket: \(String(cString: strerror(errno)))") }
        SocketCalls.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
        if broadcast { SocketCalls.setOption(fd, SOL_SOCKET, SO_BROADCAST, 1) }
        SocketCalls.setOption(fd, SOL_SOCKET, 62 /* SO_BINDTOIFINDEX */, interfaceIndex)
        guard SocketCalls.bind(fd, to: Endpoint(address, port)) == 0 else {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw RealRunError("cannot bind UDP \(address):\(port): \(why)")
        }
    }

    func send(_ bytes: [UInt8], to e: Endpoint) {
        SocketCalls.send(fd, bytes, to: e)
    }

    /// The next datagram within `timeout`, or nil.
    func receive(within timeout: Duration) -> ([UInt8], Endpoint)? {
        let ms = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, max(0, ms)) > 0 else { return nil }
        var buffer = [UInt8](repeating: 0, count: 65536)
        var sin = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let n = buffer.withUnsafeMutableBytes { b in
            withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, b.baseAddress, b.count, 0, $0, &len) }
            }
        }
        guard n >= 0 else { return nil }
        return (Array(buffer[..<n]), SocketCalls.endpoint(sin))
    }

    func close() { Glibc.close(fd) }
    deinit {}
}
