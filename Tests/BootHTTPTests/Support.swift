import AsyncHTTPClient
import BootCore
import BootHTTP
import BootWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

let curlPath = "/usr/bin/curl"
let hasCurl = FileManager.default.isExecutableFile(atPath: curlPath)

struct Unchecked<T>: @unchecked Sendable { let value: T }

/// Runs `body` on `loop` (as the daemon would call a port) and waits for the value it
/// reports through its callback.
func onLoop<T: Sendable>(_ loop: any EventLoop, _ body: @escaping (@escaping (T) -> Void) -> Void) async -> T {
    let box = Unchecked(value: body)
    return await withCheckedContinuation { cont in
        loop.execute { box.value { cont.resume(returning: $0) } }
    }
}

/// A temporary HTTP root with known files, removed at the end.
final class TempRoot: Sendable {
    let path: String
    let outside: String
    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("boothttp-\(UUID().uuidString)").path
        path = base + "/root"
        outside = base + "/outside"
        let fm = FileManager.default
        try fm.createDirectory(atPath: path + "/sub/dir", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: outside, withIntermediateDirectories: true)
        try Data(Self.pattern(1000, seed: 1)).write(to: URL(fileURLWithPath: path + "/a.bin"))
        try Data(Self.pattern(3 << 20, seed: 2)).write(to: URL(fileURLWithPath: path + "/big.bin"))
        try Data("#!ipxe\nboot\n".utf8).write(to: URL(fileURLWithPath: path + "/sub/dir/boot.ipxe"))
        try Data(Self.pattern(777, seed: 3)).write(to: URL(fileURLWithPath: path + "/with space+plus.bin"))
        try Data().write(to: URL(fileURLWithPath: path + "/empty.bin"))
        try Data("secret\n".utf8).write(to: URL(fileURLWithPath: outside + "/secret.txt"))
        try fm.createSymbolicLink(atPath: path + "/leak.txt", withDestinationPath: outside + "/secret.txt")
        try fm.createSymbolicLink(atPath: path + "/leakdir", withDestinationPath: outside)
        try fm.createSymbolicLink(atPath: path + "/alias.bin", withDestinationPath: "a.bin")
    }
    deinit { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }

    func bytes(_ name: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: path + "/" + name) ?? Data()) }

    static func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }
}

actor Counter {
    private(set) var count = 0
    private(set) var targets: [String] = []
    func add(_ t: String) { count += 1; targets.append(t) }
}

/// Starts the HTTP server on 127.0.0.1, an ephemeral port, runs `body` with the port,
/// then stops the server.
func withHTTPServer<T: Sendable>(root: String, idleTimeout: TimeAmount? = nil, decide: @escaping BootHTTPServer.Decide,
                                 _ body: @Sendable (Int) async throws -> T) async throws -> T {
    var logger = Logger(label: "test.httpd")
    logger.logLevel = .critical
    var configured = try BootHTTPServer(address: IPv4Address(127, 0, 0, 1), port: 0, root: root, logger: logger, decide: decide)
    if let idleTimeout { configured.idleTimeout = idleTimeout }
    let server = configured
    return try await withRunningService({ onRunning in try await server.run(onRunning: onRunning) }, body)
}

/// Starts the demo authority on 127.0.0.1, an ephemeral port.
func withDemoAuthority<T: Sendable>(_ authority: DemoAuthority, _ body: @Sendable (Int) async throws -> T) async throws -> T {
    var quiet = Logger(label: "test.authority")
    quiet.logLevel = .critical
    let logger = quiet
    return try await withRunningService({ onRunning in
        try await authority.run(host: "127.0.0.1", port: 0, logger: logger, onRunning: onRunning)
    }, body)
}

/// Runs a service that reports its bound port through `onRunning`, gives the port to
/// `body`, then cancels the service and waits for it to end.
func withRunningService<T: Sendable>(
    _ run: @escaping @Sendable (_ onRunning: @escaping @Sendable (Int) async -> Void) async throws -> Void,
    _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let (ports, portsContinuation) = AsyncStream.makeStream(of: Int.self)
    let task = Task { try await run { portsContinuation.yield($0) } }
    defer { task.cancel() }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next() else { throw CancellationError() }
    let result = try await body(port)
    task.cancel()
    _ = await task.result
    return result
}

struct CurlResult: Sendable {
    var exitCode: Int32
    var status: Int
    var body: [UInt8]
    var headers: String
}

/// Runs curl: `-s -D headers -o body -w %{http_code}` plus `args`.
func curl(_ args: [String]) async throws -> CurlResult {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: curlPath)
    process.arguments = ["-s", "--max-time", "60", "-D", dir + "/h", "-o", dir + "/b", "-w", "%{http_code}"] + args
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    let done: Int32 = try await withCheckedThrowingContinuation { cont in
        process.terminationHandler = { p in cont.resume(returning: p.terminationStatus) }
        do { try process.run() } catch { cont.resume(throwing: error) }
    }
    let code = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return CurlResult(exitCode: done, status: Int(code) ?? -1,
                      body: [UInt8](FileManager.default.contents(atPath: dir + "/b") ?? Data()),
                      headers: String(decoding: FileManager.default.contents(atPath: dir + "/h") ?? Data(), as: UTF8.self))
}

extension CurlResult {
    func header(_ name: String) -> String? {
        for line in headers.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == name.lowercased() {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        return nil
    }
}
