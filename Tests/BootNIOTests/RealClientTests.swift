import BootCore
import BootNIO
import BootWire
import Foundation
import Testing

/// Real TFTP clients from Debian's packages against the daemon on loopback high ports.
/// Each test is skipped (with the reason) when its client is not installed:
/// `apt-get install -y tftp-hpa atftp curl busybox`.
@Suite("BootNIO real TFTP clients", .serialized)
struct RealClientTests {
    static let smallFiles = ["empty", "one-block", "f3000"]

    @Test("tftp-hpa downloads 0 bytes, one block exactly, 3000 bytes", .enabled(if: installed("tftp"), "tftp-hpa not installed"))
    func tftpHPA() async throws {
        let d = try TestDaemon()
        for name in Self.smallFiles {
            let out = d.dir.path + "/out-" + name
            let r = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(d.tftpPort)", "-c", "get", name, out])
            #expect(d.expectSame(name, out), "\(name): \(r.output)")
        }
    }

    @Test("atftp with blksize 1428 and windowsize 8", .enabled(if: installed("atftp"), "atftp not installed"))
    func atftp() async throws {
        let d = try TestDaemon()
        for name in Self.smallFiles {
            let out = d.dir.path + "/out-" + name
            let r = try await run("atftp", ["--option", "blksize 1428", "--option", "windowsize 8", "-g", "-r", name, "-l", out,
                                      "127.0.0.1", "\(d.tftpPort)"])
            #expect(d.expectSame(name, out), "\(name): \(r.output)")
        }
    }

    @Test("[tftpd] single_port: tftp-hpa and atftp get every file, and replies come from the listening port",
          .enabled(if: installed("tftp") && installed("atftp"), "tftp-hpa or atftp not installed"))
    func singlePort() async throws {
        let d = try TestDaemon(extraConfig: "single_port = yes")
        try await Self.hpaAndAtftpGetEverySmallFile(d, prefix: "sp")
        // The first DATA of a plain RRQ comes from the port the RRQ went to.
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_port = d.tftpPort.bigEndian
        to.sin_addr.s_addr = IPv4Address(127, 0, 0, 1).value.bigEndian
        let rrq: [UInt8] = [0, 1] + Array("f3000".utf8) + [0] + Array("octet".utf8) + [0]
        _ = withUnsafePointer(to: &to) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                rrq.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, sa, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        var from = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        var buffer = [UInt8](repeating: 0, count: 1024)
        let n = withUnsafeMutablePointer(to: &from) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                buffer.withUnsafeMutableBytes { recvfrom(fd, $0.baseAddress, $0.count, 0, sa, &len) }
            }
        }
        try #require(n == 516, "no first DATA block")
        #expect(Array(buffer[0..<4]) == [0, 3, 0, 1])
        #expect(UInt16(bigEndian: from.sin_port) == d.tftpPort)
    }

    @Test("curl tftp://", .enabled(if: installed("curl"), "curl not installed"))
    func curl() async throws {
        let d = try TestDaemon()
        // Not the empty file: curl (lib/tftp.c) rejects `tsize 0` in an OACK as invalid
        // ("invalid tsize -:0:- value in OACK packet", exit 71), whoever the server is.
        for name in Self.smallFiles where name != "empty" {
            let out = d.dir.path + "/out-" + name
            let r = try await run("curl", ["-s", "-S", "-o", out, "tftp://127.0.0.1:\(d.tftpPort)/\(name)"])
            #expect(d.expectSame(name, out), "\(name): \(r.output)")
        }
    }

    @Test("[tftpd] busy_poll = 0 (polling off; the other tests run the default 50 µs): tftp-hpa and atftp (windowsize 8) get every file byte for byte",
          .enabled(if: installed("tftp") && installed("atftp"), "tftp-hpa or atftp not installed"))
    func busyPoll() async throws {
        let d = try TestDaemon(extraConfig: "busy_poll = 0")
        try await Self.hpaAndAtftpGetEverySmallFile(d, prefix: "bp")
    }

    @Test("[tftpd] gso = yes (windows sent as UDP GSO writes where the kernel has it; the default sends one datagram at a time): tftp-hpa and atftp (windowsize 8) get every file byte for byte",
          .enabled(if: installed("tftp") && installed("atftp"), "tftp-hpa or atftp not installed"))
    func gsoOn() async throws {
        let d = try TestDaemon(extraConfig: "gso = yes")
        try await Self.hpaAndAtftpGetEverySmallFile(d, prefix: "gso")
    }

    /// tftp-hpa (no options) and atftp (blksize 1428, windowsize 8) each download every
    /// small file, compared byte for byte.
    static func hpaAndAtftpGetEverySmallFile(_ d: TestDaemon, prefix: String) async throws {
        for name in smallFiles {
            let out = d.dir.path + "/\(prefix)-hpa-" + name
            let r = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(d.tftpPort)", "-c", "get", name, out])
            #expect(d.expectSame(name, out), "tftp-hpa \(name): \(r.output)")
            let out2 = d.dir.path + "/\(prefix)-atftp-" + name
            let r2 = try await run("atftp", ["--option", "blksize 1428", "--option", "windowsize 8", "-g", "-r", name, "-l", out2,
                                       "127.0.0.1", "\(d.tftpPort)"])
            #expect(d.expectSame(name, out2), "atftp \(name): \(r2.output)")
        }
    }

    @Test("busybox tftp", .enabled(if: installed("busybox"), "busybox not installed"))
    func busybox() async throws {
        let d = try TestDaemon()
        for name in Self.smallFiles {
            let out = d.dir.path + "/out-" + name
            let r = try await run("busybox", ["tftp", "-g", "-r", name, "-l", out, "127.0.0.1", "\(d.tftpPort)"])
            #expect(d.expectSame(name, out), "\(name): \(r.output)")
        }
    }

    @Test("33 MiB at blksize 512: block numbers roll over past 65535 (tftp-hpa, atftp windowsize 8)",
          .enabled(if: installed("tftp") && installed("atftp"), "tftp-hpa or atftp not installed"))
    func rollover() async throws {
        let size = (ProcessInfo.processInfo.environment["BOOTD_BIG_MIB"].flatMap(Int.init) ?? 33) << 20
        let d = try TestDaemon(bigFile: size)
        let out = d.dir.path + "/out-big"
        let start = Date()
        let r = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(d.tftpPort)", "-c", "get", "big", out])
        let hpa = Date().timeIntervalSince(start)
        #expect(d.expectSame("big", out), "\(r.output)")
        try? FileManager.default.removeItem(atPath: out)
        let start2 = Date()
        let r2 = try await run("atftp", ["--option", "blksize 1428", "--option", "windowsize 8", "-g", "-r", "big", "-l", out,
                                   "127.0.0.1", "\(d.tftpPort)"])
        let at = Date().timeIntervalSince(start2)
        #expect(d.expectSame("big", out), "\(r2.output)")
        print("rollover: \(size >> 20) MiB tftp-hpa blksize 512 \(String(format: "%.1f", Double(size) / 1048576 / hpa)) MiB/s, atftp 1428/w8 \(String(format: "%.1f", Double(size) / 1048576 / at)) MiB/s")
    }

    @Test("WRQ is refused", .enabled(if: installed("tftp"), "tftp-hpa not installed"))
    func writeRefused() async throws {
        let d = try TestDaemon()
        d.dir.write("upload", [1, 2, 3])
        let r = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(d.tftpPort)", "-c", "put", d.dir.path + "/upload", "upload"])
        #expect(r.output.contains("Error code"), "\(r.output)")
        #expect(!FileManager.default.fileExists(atPath: d.root + "/upload"))
    }

    @Test("escapes are refused: .., absolute, symlink out of the root", .enabled(if: installed("tftp"), "tftp-hpa not installed"))
    func escapes() async throws {
        let d = try TestDaemon()
        d.dir.write("secret", Array("secret".utf8))
        try FileManager.default.createSymbolicLink(atPath: d.root + "/link", withDestinationPath: d.dir.path + "/secret")
        try FileManager.default.createSymbolicLink(atPath: d.root + "/inside", withDestinationPath: d.root + "/f3000")
        for name in ["../secret", d.dir.path + "/secret", "link", "sub/../../secret"] {
            let out = d.dir.path + "/out-esc"
            try? FileManager.default.removeItem(atPath: out)
            let r = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(d.tftpPort)", "-c", "get", name, out])
            #expect(r.output.contains("Error code"), "\(name): \(r.output)")
            let got = FileManager.default.contents(atPath: out) ?? Data()
            #expect(got.isEmpty, "\(name) leaked \(got.count) bytes")
        }
        // A symlink that stays inside the root is fine.
        let out = d.dir.path + "/out-inside"
        try await run("tftp", ["-m", "binary", "127.0.0.1", "\(d.tftpPort)", "-c", "get", "inside", out])
        #expect(d.expectSame("f3000", out))
    }
}

@Suite("BootNIO file source containment")
struct ContainmentTests {
    @Test func lexicalChecks() {
        #expect(LocalFileSource.lexicalProblem("a/../../b") != nil)
        #expect(LocalFileSource.lexicalProblem("/etc/passwd") != nil)
        #expect(LocalFileSource.lexicalProblem("a\u{0}b") != nil)
        #expect(LocalFileSource.lexicalProblem("") != nil)
        #expect(LocalFileSource.lexicalProblem("pxelinux.cfg/default") == nil)
        #expect(LocalFileSource.lexicalProblem("a..b") == nil)
    }
}
