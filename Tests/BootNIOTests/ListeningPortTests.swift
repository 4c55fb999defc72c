import BootCore
@testable import BootNIO
import BootWire
import Foundation
import NIOCore
import NIOPosix
import Testing

// A listening port (DHCP, TFTP) sends the replies of one loop iteration with one
// sendmmsg: what the peers receive is every datagram, whole, in order, whatever the
// kernel refuses on the way.
@Suite("BootNIO listening ports: replies of a loop iteration in one sendmmsg")
struct ListeningPortTests {
    /// A plain socket on 127.0.0.1 that collects what arrives.
    final class Sink {
        let fd: Int32
        let endpoint: Endpoint
        init() throws {
            fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            #expect(SocketCalls.bind(fd, to: Endpoint(IPv4Address(127, 0, 0, 1), 0)) == 0)
            var big = Int32(8 << 20)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(MemoryLayout<Int32>.size))
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            endpoint = try #require(SocketCalls.localEndpoint(fd))
        }
        deinit { close(fd) }
        func receive(_ count: Int) -> [[UInt8]] {
            var out: [[UInt8]] = []
            var buf = [UInt8](repeating: 0, count: 70_000)
            while out.count < count {
                let n = recv(fd, &buf, buf.count, 0)
                if n < 0 { break }
                out.append(Array(buf[0..<n]))
            }
            return out
        }
    }

    /// Rounds of datagrams, each round sent in one loop iteration from a listening port on
    /// 127.0.0.1, alternately to two sinks; `refuse` answers some sendmmsg calls in the
    /// kernel's place (call number → -errno). Returns what each sink received, what was
    /// sent to it, the calls made and the port's send errors.
    func run(rounds: [[Int]], lost: [Int] = [0, 0], refuse: (@Sendable (_ call: Int) -> Int?)? = nil)
        throws -> (received: [[[UInt8]]], sent: [[[UInt8]]], calls: Int, sendErrors: Int) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let sinks = [try Sink(), try Sink()]
        let port = try NIOPortFactory.listen(service: "test", on: loop, address: IPv4Address(127, 0, 0, 1), port: 0) { _ in }
        #expect(port.listenFD >= 0)
        let calls = Box(0)   // touched on the loop only
        if let refuse {
            try loop.submit {
                let original = port.batchCall
                port.batchCall = { fd, d in
                    calls.value += 1
                    if let e = refuse(calls.value) { return e }
                    return original(fd, d)
                }
            }.wait()
        }
        var sent: [[[UInt8]]] = [[], []]
        var n = 0
        for round in rounds {
            var batch: [(Int, [UInt8])] = []
            for size in round {
                let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ n) }
                batch.append((n % 2, bytes)); sent[n % 2].append(bytes); n += 1
            }
            let work = batch, to = sinks.map(\.endpoint)
            try loop.submit { for (i, b) in work { port.send(Datagram(payload: b, peer: to[i], local: Endpoint(.any, 0))) } }.wait()
        }
        let received = (0..<2).map { sinks[$0].receive(sent[$0].count - lost[$0]) }
        let (made, errors) = try loop.submit { (calls.value, port.sendErrors) }.wait()
        try loop.submit { port.close() }.wait()
        return (received, sent, made, errors)
    }

    final class Box<T>: @unchecked Sendable { var value: T; init(_ v: T) { value = v } }

    @Test("150 replies of one iteration, to two peers, arrive whole and in order (three sendmmsg of at most 64)")
    func manyInOneIteration() throws {
        let sizes = (0..<150).map { [1, 300, 548, 1456, 0, 4][$0 % 6] + $0 }
        let r = try run(rounds: [sizes], refuse: { _ in nil })
        for i in 0..<2 { expectAllArrived(r.received[i], r.sent[i]) }
        #expect(r.calls == 3)
        #expect(r.sendErrors == 0)
    }

    @Test("a full socket (EAGAIN) hands the rest to NIO; later replies queue behind them, and go direct again once NIO is done")
    func fullSocket() throws {
        // The second call of the first round is refused: 64 leave direct, 36 through NIO;
        // the next rounds, once NIO has sent those, are direct again.
        let r = try run(rounds: [Array(repeating: 700, count: 100), Array(repeating: 90, count: 10), Array(repeating: 91, count: 10)],
                        refuse: { call in call == 2 ? -Int(EAGAIN) : nil })
        for i in 0..<2 { expectAllArrived(r.received[i], r.sent[i]) }
        #expect(r.calls >= 3, "direct sends did not resume after NIO drained (\(r.calls) calls)")
        #expect(r.sendErrors == 0)
    }

    @Test("a datagram the kernel refuses (ENETUNREACH) is counted and lost; the others still leave, in order")
    func refusedDatagram() throws {
        let r = try run(rounds: [Array(repeating: 100, count: 10)], lost: [1, 0], refuse: { call in call == 1 ? -Int(ENETUNREACH) : nil })
        // The first datagram (to the first sink) was refused, every other one arrived.
        expectAllArrived(r.received[0], Array(r.sent[0].dropFirst()))
        expectAllArrived(r.received[1], r.sent[1])
        #expect(r.sendErrors == 1)
    }

    @Test("a port that cannot be bound says why: in use, or not an address of this host")
    func bindFails() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let holder = try Sink()   // holds 127.0.0.1:port without SO_REUSEADDR
        do {
            _ = try NIOPortFactory.listen(service: "test", on: group.next(), address: IPv4Address(127, 0, 0, 1), port: holder.endpoint.port) { _ in }
            Issue.record("bound a port another socket holds")
        } catch {
            #expect("\(error)".contains("address in use"), "\(error)")
        }
        do {
            _ = try NIOPortFactory.listen(service: "test", on: group.next(), address: IPv4Address(192, 0, 2, 77), port: 0) { _ in }
            Issue.record("bound to an address this host does not have")
        } catch {
            #expect("\(error)".contains("is not an address of this host"), "\(error)")
        }
    }
}
