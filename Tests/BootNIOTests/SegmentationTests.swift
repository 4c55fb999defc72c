import BootCore
@testable import BootNIO
import BootWire
import Foundation
import NIOCore
import NIOPosix
import Testing

// UDP GSO on transfer ports: what the peer receives is the same datagrams, in the same
// order, whether the kernel cut them from one segmented write or they were sent one by one.
@Suite("BootNIO transfer ports: UDP GSO")
struct SegmentationTests {
    /// Sends `sizes.count` datagrams from a transfer port in one loop iteration to a plain
    /// socket on 127.0.0.1; returns what that socket received and the segmented writes made.
    func sendAndReceive(_ sizes: [Int], gso: Bool, refuse: (@Sendable (_ call: Int, _ segmented: Bool) -> Int32?)? = nil,
                        onFailure: @escaping @Sendable (String) -> Void = { _ in }) throws -> (received: [[UInt8]], sent: [[UInt8]], segmentedWrites: Int?) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let sink = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sink) }
        #expect(SocketCalls.bind(sink, to: Endpoint(IPv4Address(127, 0, 0, 1), 0)) == 0)
        var big = Int32(8 << 20)
        setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &big, socklen_t(MemoryLayout<Int32>.size))
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(sink, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let to = try #require(SocketCalls.localEndpoint(sink))
        var sent: [[UInt8]] = []
        for (i, n) in sizes.enumerated() {
            sent.append((0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ i &* 7) })
        }
        let payloads = sent
        let writes = try loop.submit { () -> EventLoopFuture<Int?> in
            let factory = NIOPortFactory(loop: loop)
            if gso { factory.enableSegmentation(onFailure: onFailure) }
            if let refuse {
                // The kernel's answer for some calls: the errno `refuse` gives, nothing sent.
                var calls = 0
                factory.sendCall = { fd, bytes, to, segmentSize in
                    calls += 1
                    if let e = refuse(calls, segmentSize != nil) { return e }
                    return SocketCalls.send(fd, bytes, to: to, segmentSize: segmentSize)
                }
            }
            let port = factory.openPort(address: IPv4Address(127, 0, 0, 1), port: 0) { _ in }
            // all in one loop iteration: one flush for the lot
            for p in payloads { port?.send(Datagram(payload: p, peer: to, local: Endpoint(.any, 0))) }
            // the port registers asynchronously: let the sends leave, then read the counter
            let bound = NIOLoopBound((factory, port), eventLoop: loop)
            return loop.scheduleTask(in: .milliseconds(300)) { () -> Int? in
                defer { bound.value.1?.close() }
                return bound.value.0.segmentedWrites
            }.futureResult
        }.wait().wait()
        var received: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 70_000)
        while received.count < sizes.count {
            let n = recv(sink, &buf, buf.count, 0)
            if n < 0 { break }
            received.append(Array(buf[0..<n]))
        }
        return (received, sent, writes)
    }

    @Test("a window of equal datagrams and a shorter last one arrive whole and in order, in segmented writes where the kernel has UDP GSO")
    func windowArrivesWhole() throws {
        // 40 blocks of 1432 + 4 bytes, a short last block, then 70 more full ones: more
        // than one GSO run (at most 64 segments each), split by the short one.
        let sizes = Array(repeating: 1436, count: 40) + [100] + Array(repeating: 1436, count: 70)
        let r = try sendAndReceive(sizes, gso: true)
        expectAllArrived(r.received, r.sent)
        if System.supportsUDPSegmentationOffload {
            #expect((r.segmentedWrites ?? 0) >= 3, "expected segmented writes, got \(String(describing: r.segmentedWrites))")
        } else {
            #expect(r.segmentedWrites == nil)
        }
    }

    @Test("with [tftpd] gso off, the same datagrams leave one by one")
    func off() throws {
        let r = try sendAndReceive(Array(repeating: 1436, count: 20) + [7], gso: false)
        expectAllArrived(r.received, r.sent)
        #expect(r.segmentedWrites == nil)
    }

    @Test("a full socket (EAGAIN) in mid-transfer hands the port to NIO: every datagram still arrives, in order", arguments: [false, true])
    func fullSocket(gso: Bool) throws {
        // The third send is refused; with GSO that is the segmented run after the first block.
        let sizes = Array(repeating: 1436, count: 30) + [9]
        let r = try sendAndReceive(sizes, gso: gso, refuse: { call, _ in call == 3 ? EAGAIN : nil })
        expectAllArrived(r.received, r.sent)
    }

    @Test("a segmented write the kernel refuses (EIO: no checksum offload) turns GSO off, says so, and the run leaves one datagram at a time")
    func refusedSegmentation() throws {
        guard System.supportsUDPSegmentationOffload else {
            print("SKIP refusedSegmentation: this kernel has no UDP GSO"); return
        }
        let said = Said()
        let r = try sendAndReceive(Array(repeating: 1436, count: 20) + [9], gso: true,
                                   refuse: { _, segmented in segmented ? EIO : nil },
                                   onFailure: { m in said.add(m) })
        expectAllArrived(r.received, r.sent)
        #expect(r.segmentedWrites == 0)
        let messages = said.all
        #expect(messages.count == 1)
        #expect(messages.first?.contains("UDP GSO refused") == true)
    }
}

/// Every datagram arrived, whole and in order. On failure it says how many arrived and
/// their sizes, not every byte of both lists.
func expectAllArrived(_ received: [[UInt8]], _ sent: [[UInt8]], sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    let same = received == sent
    #expect(same, "\(received.count) of \(sent.count) datagrams arrived; sizes \(received.map(\.count))",
            sourceLocation: sourceLocation)
}

/// What the port said, from the loop's thread.
final class Said: @unchecked Sendable {
    private let lock = NSLock()
    private var messages: [String] = []
    func add(_ m: String) { lock.lock(); messages.append(m); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
}
