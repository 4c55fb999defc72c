import TestSupport
import BootCore
import BootNIO
import BootWire
import Foundation
import Logging

/// A temp directory removed at deinit.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "bootnio-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func write(_ name: String, _ bytes: [UInt8]) {
        let created = FileManager.default.createFile(atPath: path + "/" + name, contents: Data(bytes))
        precondition(created, "cannot create \(path)/\(name)")
    }
}

/// A free UDP port on 127.0.0.1 (bound and released; good enough for tests) and its +1.
func freeUDPPortPair() -> UInt16 {
    for _ in 0..<50 {
        let p = UInt16.random(in: 20000...60000)
        if udpPortFree(p) && udpPortFree(p + 1) { return p }
    }
    return 0
}

func udpPortFree(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    defer { close(fd) }
    var sin = sockaddr_in()
    sin.sin_family = sa_family_t(AF_INET)
    sin.sin_port = port.bigEndian
    sin.sin_addr.s_addr = INADDR_ANY
    return withUnsafePointer(to: &sin) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    } == 0
}

func installed(_ tool: String) -> Bool {
    ["/usr/bin/", "/bin/", "/usr/sbin/", "/usr/local/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + tool) }
}

/// Runs a program, waiting for it off Swift concurrency's pool (`onThread`); returns its
/// status and combined output.
@discardableResult
func run(_ tool: String, _ args: [String], cwd: String? = nil) async throws -> (status: Int32, output: String) {
    try await onThread { Result { try runBlocking(tool, args, cwd: cwd) } }.get()
}

func runBlocking(_ tool: String, _ args: [String], cwd: String? = nil) throws -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ["/usr/bin/", "/bin/", "/usr/sbin/"].map { $0 + tool }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? tool)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A daemon in-process on loopback high ports, with a TFTP root of test files.
final class TestDaemon {
    let dir = TempDir()
    let server: BootdServer
    let tftpPort: UInt16
    let dhcpPort: UInt16
    var root: String { dir.path + "/root" }

    static let sizes: [String: Int] = ["empty": 0, "one-block": 512, "f3000": 3000]

    init(extraConfig: String = "", bigFile: Int? = nil) throws {
        let d = dir
        try FileManager.default.createDirectory(atPath: d.path + "/root", withIntermediateDirectories: true)
        for (name, size) in Self.sizes { d.write("root/" + name, Self.bytes(size, seed: UInt8(size & 0xff))) }
        if let bigFile { d.write("root/big", Self.bytes(bigFile, seed: 7)) }
        let base = freeUDPPortPair()
        dhcpPort = base
        tftpPort = freeUDPPortPair()
        let text = """
        [logger]
        level = debug
        [bootpd]
        address = 0.0.0.0
        port = \(dhcpPort)
        pool_start = 127.0.0.100
        pool_count = 10
        allow_simple_dhcp = yes
        [bootfile]
        default = pxelinux.0
        [tftpd]
        address = 127.0.0.1
        port = \(tftpPort)
        root = ./root
        \(extraConfig)
        """
        let loaded = try ConfigurationLoader.parse(text, fileName: "test.ini", baseDirectory: d.path)
        var options = BootdOptions()
        options.stateDirectory = d.path + "/state"
        options.logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        server = try BootdServer.start(configuration: loaded.configuration, options: options)
    }

    deinit { server.shutdown() }

    static func bytes(_ n: Int, seed: UInt8) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var x = UInt32(seed) &+ 0x9E37_79B9
        for i in 0..<n { x ^= x << 13; x ^= x >> 17; x ^= x << 5; out[i] = UInt8(truncatingIfNeeded: x) }
        return out
    }

    func expectSame(_ name: String, _ out: String) -> Bool {
        guard let a = FileManager.default.contents(atPath: root + "/" + name),
              let b = FileManager.default.contents(atPath: out) else { return false }
        return a == b
    }
}

/// The built `bootd` executable, when `swift build`/`swift test` built it.
let bootdBinary: String? = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    for c in ["debug", "release"] {
        let p = url.path + "/.build/\(c)/bootd"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}()

let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
