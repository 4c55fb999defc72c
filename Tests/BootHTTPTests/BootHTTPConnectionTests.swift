import BootCore
import BootHTTP
import BootWire
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Testing

/// Writes `count` random bytes to `root/name` and returns them.
func writeRandomFile(_ root: TempRoot, _ name: String, count: Int) throws -> [UInt8] {
    var rng = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    for i in stride(from: 0, to: count, by: 8) {
        let x = rng.next()
        for j in 0..<min(8, count - i) { bytes[i + j] = UInt8(truncatingIfNeeded: x >> (8 * j)) }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: root.path + "/" + name))
    return bytes
}

/// A sparse file of `count` zero bytes (large without costing the disk).
func writeSparseFile(_ root: TempRoot, _ name: String, count: Int) throws {
    let fd = Glibc.open(root.path + "/" + name, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
    guard fd >= 0, ftruncate(fd, off_t(count)) == 0 else { throw RawHTTPError(description: "cannot create \(name)") }
    Glibc.close(fd)
}

@Suite("BootHTTPServer connections")
struct BootHTTPConnectionTests {
    let root: TempRoot
    init() throws { root = try TempRoot() }

    @Test("A large file of random bytes arrives byte for byte through curl -sS -o", .enabled(if: hasCurl, "curl is not installed at /usr/bin/curl: skipped"))
    func largeFileWithCurl() async throws {
        let expected = try writeRandomFile(root, "large.bin", count: 24 << 20 | 12345)
        let out = root.path + "/../curl-out.bin"
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: curlPath)
            process.arguments = ["-sS", "-o", out, "http://127.0.0.1:\(port)/large.bin"]
            let status: Int32 = try await withCheckedThrowingContinuation { cont in
                process.terminationHandler = { cont.resume(returning: $0.terminationStatus) }
                do { try process.run() } catch { cont.resume(throwing: error) }
            }
            #expect(status == 0)
        }
        let got = [UInt8](FileManager.default.contents(atPath: out) ?? Data())
        #expect(got.count == expected.count)
        #expect(firstDifference(got, expected) == nil)
    }

    @Test("An idle keep-alive connection is closed after the idle timeout; a slow download in progress is not")
    func idleTimeout() async throws {
        let expected = try writeRandomFile(root, "slow.bin", count: 2 << 20)
        // 2 s: long enough that a loaded machine (CI runs suites in parallel) still reads a
        // request well within it; the sleeps below are what outlast it.
        try await withHTTPServer(root: root.path, idleTimeout: .seconds(2), decide: openRules) { port in
            // One request answered, then silence: the server closes the connection.
            let idle = try await RawConnection.connect(port: port)
            try await idle.send("GET /slow.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n")
            let first = try await idle.response()
            #expect(first.status == 206)
            try await Task.sleep(for: .seconds(4))
            #expect(try await idle.isClosedByServer())
            idle.close()
            // A client with a small receive buffer reading 2 MiB slowly, well past the
            // idle timeout: it still gets every byte.
            let slow = try await RawConnection.connect(port: port, receiveBuffer: 4096)
            try await slow.send("GET /slow.bin HTTP/1.1\r\nHost: t\r\n\r\n")
            try await Task.sleep(for: .seconds(4))
            let whole = try await slow.response()
            #expect(whole.status == 200)
            #expect(whole.body.count == expected.count && whole.body == expected)
            slow.close()
        }
    }

    @Test("Several requests on one keep-alive connection, pipelined ones answered in order")
    func keepAliveAndPipelining() async throws {
        let root = self.root
        let large = try writeRandomFile(root, "large.bin", count: 5 << 20)
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let c = try await RawConnection.connect(port: port)
            defer { c.close() }
            // One after the other.
            try await c.send("GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            let first = try await c.response()
            #expect(first.status == 200 && first.body == root.bytes("a.bin"))
            #expect(first.headers["connection"] == nil)
            try await c.send("GET /sub/dir/boot.ipxe HTTP/1.1\r\nHost: x\r\n\r\n")
            let second = try await c.response()
            #expect(second.status == 200 && second.body == Array("#!ipxe\nboot\n".utf8))
            #expect(second.headers["content-type"] == "text/plain")
            // Four in one write: a large file, a range, a missing file, an empty file.
            try await c.send("GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /a.bin HTTP/1.1\r\nHost: x\r\nRange: bytes=10-19\r\n\r\n"
                + "GET /nope.bin HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /empty.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            let big = try await c.response()
            #expect(big.status == 200 && big.body.count == large.count)
            #expect(firstDifference(big.body, large) == nil)
            let range = try await c.response()
            #expect(range.status == 206 && range.body == Array(root.bytes("a.bin")[10...19]))
            #expect(range.headers["content-range"] == "bytes 10-19/1000")
            let missing = try await c.response()
            #expect(missing.status == 404 && missing.headers["content-length"] == "0")
            let empty = try await c.response()
            #expect(empty.status == 200 && empty.body.isEmpty && empty.headers["content-length"] == "0")
            // Still open.
            try await c.send("GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await c.response().body == root.bytes("a.bin"))
        }
    }

    @Test("A client pipelining 40 large GETs without reading holds few files open; then every response arrives whole, in order")
    func pipelinedWithoutReading() async throws {
        let root = self.root
        let large = try writeRandomFile(root, "piped.bin", count: 4 << 20)
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let c = try await RawConnection.connect(port: port, receiveBuffer: 64 << 10)
            defer { c.close() }
            let count = 40
            try await c.send(String(repeating: "GET /piped.bin HTTP/1.1\r\nHost: x\r\n\r\n", count: count))
            try await Task.sleep(for: .milliseconds(500))
            // This process is the server: its descriptors open on piped.bin are the files
            // of responses under way. One is sent at a time; the next waits for room.
            let open = openDescriptors(to: root.path + "/piped.bin")
            #expect(open >= 1 && open <= 2, "\(open) descriptors open on piped.bin")
            for i in 0..<count {
                let r = try await c.response()
                #expect(r.status == 200 && r.body.count == large.count, "response \(i)")
                if i == 0 || i == count - 1 { #expect(firstDifference(r.body, large) == nil) }
            }
        }
    }

    @Test("HEAD of a large file has Content-Length and no body: the next response follows the headers")
    func headHasNoBody() async throws {
        let root = self.root
        _ = try writeRandomFile(root, "large.bin", count: 6 << 20)
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let c = try await RawConnection.connect(port: port)
            defer { c.close() }
            try await c.send("HEAD /large.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try await c.response(toHEAD: true)
            #expect(head.status == 200 && head.body.isEmpty)
            #expect(head.headers["content-length"] == "\(6 << 20)")
            #expect(head.headers["accept-ranges"] == "bytes")
            let get = try await c.response()
            #expect(get.status == 200 && get.body == root.bytes("a.bin"))
        }
    }

    @Test("Connection: close and HTTP/1.0 close after the response; HTTP/1.0 keep-alive stays open")
    func connectionClose() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let c = try await RawConnection.connect(port: port)
            defer { c.close() }
            try await c.send("GET /a.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let r = try await c.response()
            #expect(r.status == 200 && r.body == root.bytes("a.bin") && r.headers["connection"] == "close")
            #expect(try await c.isClosedByServer())

            let old = try await RawConnection.connect(port: port)
            defer { old.close() }
            try await old.send("GET /a.bin HTTP/1.0\r\n\r\n")
            let r10 = try await old.response()
            #expect(r10.status == 200 && r10.body == root.bytes("a.bin"))
            #expect(try await old.isClosedByServer())

            let kept = try await RawConnection.connect(port: port)
            defer { kept.close() }
            try await kept.send("GET /a.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let k1 = try await kept.response()
            #expect(k1.status == 200 && k1.headers["connection"]?.lowercased() == "keep-alive")
            try await kept.send("GET /a.bin HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            #expect(try await kept.response().body == root.bytes("a.bin"))
        }
    }

    @Test("Malformed requests get 400 and the connection is closed", arguments: [
        "GARBAGE\r\n\r\n", "GET /a.bin HTTP/1.1\r\nHost x\r\n\r\n", "GET /a.bin HTTP/9.9.9\r\n\r\n",
    ])
    func malformed(request: String) async throws {
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let c = try await RawConnection.connect(port: port)
            defer { c.close() }
            try await c.send(request)
            let r = try await c.response()
            #expect(r.status == 400)
            #expect(try await c.isClosedByServer())
        }
    }

    @Test("Methods other than GET and HEAD get 405 with Allow: GET, HEAD, and the connection goes on")
    func methodNotAllowed() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let c = try await RawConnection.connect(port: port)
            defer { c.close() }
            try await c.send("POST /a.bin HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
            let r = try await c.response()
            #expect(r.status == 405 && r.headers["allow"] == "GET, HEAD")
            try await c.send("GET /a.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await c.response().body == root.bytes("a.bin"))
        }
    }

    @Test("Clients that go away mid-transfer leave no descriptor open, and the server goes on")
    func disconnectMidTransfer() async throws {
        let root = self.root
        try writeSparseFile(root, "huge.bin", count: 256 << 20)
        let huge = root.path + "/huge.bin"
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            for i in 0..<8 {
                let c = try await RawConnection.connect(port: port, receiveBuffer: 64 << 10)
                try await c.send("GET /huge.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                var got = 0
                while got < 1 << 20 {
                    let more = try await c.receive()
                    if more.isEmpty { break }
                    got += more.count
                }
                #expect(got >= 1 << 20)
                #expect(openFilePaths().contains(huge), "the transfer holds the file open")
                c.close(reset: i % 2 == 0)
            }
            // The server notices each close and closes the file.
            var stillOpen = openFilePaths().filter { $0 == huge }.count
            for _ in 0..<100 where stillOpen > 0 {
                try await Task.sleep(for: .milliseconds(50))
                stillOpen = openFilePaths().filter { $0 == huge }.count
            }
            #expect(stillOpen == 0)
            let after = try await curlOrRaw(port: port, "/a.bin")
            #expect(after.status == 200 && after.body == root.bytes("a.bin"))
        }
    }

    @Test("Graceful shutdown: no new connections, the response in flight finishes", .timeLimit(.minutes(1)))
    func gracefulShutdown() async throws {
        let root = self.root
        let large = try writeRandomFile(root, "large.bin", count: 32 << 20)
        var logger = Logger(label: "test.httpd")
        logger.logLevel = .critical
        // 127.0.0.2: once this listener is gone, no other test's server (all on 127.0.0.1)
        // can answer on its port.
        let server = try BootHTTPServer(address: IPv4Address(127, 0, 0, 2), port: 0, root: root.path, logger: logger,
                                        decide: openRules)
        let (ports, portsContinuation) = AsyncStream.makeStream(of: Int.self)
        let service = PortReportingService(server: server) { portsContinuation.yield($0) }
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [], logger: logger)
        let running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        let port = try #require(await iterator.next())
        let c = try await RawConnection.connect(port: port, host: "127.0.0.2", receiveBuffer: 64 << 10)
        defer { c.close() }
        try await c.send("GET /large.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        let first = try await c.receive()
        #expect(!first.isEmpty)
        await group.triggerGracefulShutdown()
        // The listener closes at once; the download goes on to the last byte.
        var refused = false
        for _ in 0..<50 where !refused {
            try await Task.sleep(for: .milliseconds(20))
            if let late = try? await RawConnection.connect(port: port, host: "127.0.0.2") { late.close() } else { refused = true }
        }
        #expect(refused, "new connections are refused once the graceful shutdown began")
        var all = first
        while true {
            let more = try await c.receive(1 << 20)
            if more.isEmpty { break }
            all += more
        }
        let headerEnd = try #require(endOfHead(all))
        #expect(String(decoding: all[..<headerEnd], as: UTF8.self).hasPrefix("HTTP/1.1 200"))
        #expect(firstDifference(Array(all[(headerEnd + 4)...]), large) == nil)
        try await running.value
    }

    @Test("A port already in use is a clear error")
    func portInUse() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let second = try BootHTTPServer(address: IPv4Address(127, 0, 0, 1), port: UInt16(port), root: root.path,
                                            logger: Logger(label: "test.httpd", factory: { _ in SwiftLogNoOpLogHandler() }),
                                            decide: openRules)
            do {
                try await second.run()
                Issue.record("a second server bound port \(port)")
            } catch let error as BootHTTPServerError {
                #expect(error == .cannotListen(address: "127.0.0.1", port: port, reason: "Address already in use"))
                #expect("\(error)".contains("Address already in use"))
            }
        }
    }
}

/// Where two byte arrays first differ (nil when equal). For large bodies: `#expect(a == b)`
/// on two arrays of megabytes makes Swift Testing compute a diff that takes minutes.
func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> Int? {
    if a == b { return nil }
    return zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)
}

/// curl when installed, else one request on a raw connection.
func curlOrRaw(port: Int, _ path: String) async throws -> (status: Int, body: [UInt8]) {
    if hasCurl {
        let r = try await curl(["http://127.0.0.1:\(port)\(path)"])
        return (r.status, r.body)
    }
    let c = try await RawConnection.connect(port: port)
    defer { c.close() }
    try await c.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
    let r = try await c.response()
    return (r.status, r.body)
}

/// The server as `bootd` runs it (a Service in a ServiceGroup), reporting its port.
struct PortReportingService: Service {
    let server: BootHTTPServer
    let onRunning: @Sendable (Int) async -> Void
    func run() async throws { try await server.run(onRunning: onRunning) }
}

/// How many of this process's descriptors are open on `path` (/proc/self/fd).
func openDescriptors(to path: String) -> Int {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    return fds.filter { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == path }.count
}
