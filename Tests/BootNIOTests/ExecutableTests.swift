import BootWire
import Foundation
import PcapKit
import Testing

/// The built `bootd` binary: --check-config, start-up errors, --capture, SIGTERM.
@Suite("BootNIO bootd executable", .serialized)
struct ExecutableTests {
    @Test("--check-config accepts the sample configurations", .enabled(if: bootdBinary != nil, "bootd not built"),
          arguments: ["minimal.ini", "pybootd-sample.ini"])
    func checkConfig(_ name: String) async throws {
        let r = try await run(bootdBinary!, ["-c", repositoryRoot + "/Fixtures/config/" + name, "--check-config"])
        #expect(r.status == 0, "\(r.output)")
        #expect(!r.output.isEmpty)
    }

    @Test("--check-config reports file:line errors", .enabled(if: bootdBinary != nil, "bootd not built"))
    func checkConfigErrors() async throws {
        let dir = TempDir()
        dir.write("bad.ini", Array("[bootpd]\npool_start = 10.0.0.100\nallow_simple_dhcp = perhaps\n".utf8))
        let r = try await run(bootdBinary!, ["-c", dir.path + "/bad.ini", "--check-config"])
        #expect(r.status != 0)
        #expect(r.output.contains("bad.ini:3"), "\(r.output)")
    }

    @Test("missing file, -p with -t, no interface for pool_start: clear errors",
          .enabled(if: bootdBinary != nil, "bootd not built"))
    func startErrors() async throws {
        let dir = TempDir()
        let missing = try await run(bootdBinary!, ["-c", dir.path + "/nope.ini"])
        #expect(missing.status != 0)
        #expect(missing.output.contains("not found"), "\(missing.output)")
        let both = try await run(bootdBinary!, ["-p", "-t", "-c", dir.path + "/nope.ini"])
        #expect(both.status != 0)
        dir.write("far.ini", Array("[bootpd]\nport = \(freeUDPPortPair())\npool_start = 203.0.113.100\n".utf8))
        let far = try await run(bootdBinary!, ["-p", "-c", dir.path + "/far.ini", "--state-dir", dir.path + "/state"])
        #expect(far.status != 0)
        #expect(far.output.contains("no interface on the network of pool_start 203.0.113.100"), "\(far.output)")
    }

    @Test("port in use is reported", .enabled(if: bootdBinary != nil, "bootd not built"))
    func portInUse() async throws {
        let port = freeUDPPortPair()
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        sin.sin_addr.s_addr = IPv4Address(127, 0, 0, 1).value.bigEndian
        _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/root", withIntermediateDirectories: true)
        dir.write("t.ini", Array("[tftpd]\naddress = 127.0.0.1\nport = \(port)\nroot = ./root\n".utf8))
        let r = try await run(bootdBinary!, ["-t", "-c", dir.path + "/t.ini", "--state-dir", dir.path + "/state"])
        #expect(r.status != 0)
        #expect(r.output.contains("address in use"), "\(r.output)")
    }

    @Test("--capture records TFTP both ways; SIGTERM exits 0",
          .enabled(if: bootdBinary != nil && installed("tftp"), "bootd not built or tftp-hpa missing"))
    func capture() async throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/root", withIntermediateDirectories: true)
        dir.write("root/file", [UInt8](repeating: 0x41, count: 1000))
        let port = freeUDPPortPair()
        dir.write("t.ini", Array("[tftpd]\naddress = 127.0.0.1\nport = \(port)\nroot = ./root\n".utf8))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bootdBinary!)
        p.arguments = ["-t", "-c", dir.path + "/t.ini", "--state-dir", dir.path + "/state", "--capture", dir.path + "/cap.pcap"]
        p.standardError = FileHandle.nullDevice
        try p.run()
        try await Task.sleep(for: .seconds(1))
        let r = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(port)", "-c", "get", "file", dir.path + "/out"])
        #expect(FileManager.default.contents(atPath: dir.path + "/out")?.count == 1000, "\(r.output)")
        p.terminate()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let reader = try CaptureReader(path: dir.path + "/cap.pcap")
        let records = try reader.readAll()
        // RRQ, DATA 1000 (2 blocks: 512 + 488), 2 ACKs at least.
        #expect(records.count >= 5)
        let frames = records.compactMap { try? FrameDecoder().decode($0) }
        #expect(frames.count == records.count)
        // The RRQ is recorded with the port it was sent to (the listening port), not 0.
        let datagrams = frames.compactMap { if case let .datagram(d) = $0 { d } else { nil } }
        let rrq = try #require(datagrams.first { $0.payload.starts(with: [0, 1]) })
        #expect(rrq.destination.port == port)
        if installed("tshark") {
            let t = try await run("tshark", ["-r", dir.path + "/cap.pcap", "-d", "udp.port==\(port),tftp", "-Y", "tftp"])
            #expect(t.output.contains("Read Request"), "\(t.output)")
            #expect(t.output.contains("Data Packet"), "\(t.output)")
        }
    }

    /// Issue 15: a second bootd on the same --state-dir compacted the journal under the
    /// first, which then wrote to a deleted file. Now the second start fails and names the
    /// owner, a TFTP-only bootd never touches the journal, and the first keeps every lease.
    @Test("a second bootd on the same state directory is refused; -t alone needs no journal",
          .enabled(if: bootdBinary != nil, "bootd not built"))
    func oneBootdAStateDirectory() async throws {
        let dir = TempDir()
        try FileManager.default.createDirectory(atPath: dir.path + "/root", withIntermediateDirectories: true)
        let dhcpPort = freeUDPPortPair(), tftpPort = freeUDPPortPair()
        dir.write("d.ini", Array("[bootpd]\nport = \(dhcpPort)\npool_start = 127.0.0.100\nallow_simple_dhcp = yes\n".utf8))
        dir.write("t.ini", Array("[tftpd]\naddress = 127.0.0.1\nport = \(tftpPort)\nroot = ./root\n".utf8))
        let state = dir.path + "/state"
        let first = Process()
        first.executableURL = URL(fileURLWithPath: bootdBinary!)
        first.arguments = ["-p", "-c", dir.path + "/d.ini", "--state-dir", state]
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { first.terminate(); first.waitUntilExit() } }
        // Wait for the first to hold its journal.
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: state + "/leases") {
            try await Task.sleep(for: .milliseconds(50))
        }
        let journal = try FileManager.default.attributesOfItem(atPath: state + "/leases")[.systemFileNumber] as? Int
        let second = try await run(bootdBinary!, ["-p", "-c", dir.path + "/d.ini", "--state-dir", state])
        #expect(second.status != 0)
        #expect(second.output.contains("state directory \(state) is in use by another bootd (pid \(first.processIdentifier))"), "\(second.output)")
        // A TFTP-only bootd on the same directory starts and leaves the journal alone.
        let tftpOnly = Process()
        tftpOnly.executableURL = URL(fileURLWithPath: bootdBinary!)
        tftpOnly.arguments = ["-t", "-c", dir.path + "/t.ini", "--state-dir", state]
        tftpOnly.standardError = FileHandle.nullDevice
        try tftpOnly.run()
        try await Task.sleep(for: .seconds(1))
        #expect(tftpOnly.isRunning)
        tftpOnly.terminate()
        tftpOnly.waitUntilExit()
        #expect(tftpOnly.terminationStatus == 0)
        #expect(first.isRunning)
        // The first one's journal is the same file it opened (not compacted under it).
        #expect(try FileManager.default.attributesOfItem(atPath: state + "/leases")[.systemFileNumber] as? Int == journal)
    }

    /// Issue 15: with no root set, TFTP served the configuration file's directory (and so
    /// the configuration). The default root is now /srv/tftp: the configuration is not
    /// served, and where /srv/tftp is missing bootd says so instead of serving anything.
    @Test("with no [tftpd] root the configuration's directory is not served",
          .enabled(if: bootdBinary != nil && installed("tftp"), "bootd not built or tftp-hpa missing"))
    func noRootDoesNotServeTheConfiguration() async throws {
        let dir = TempDir()
        let port = freeUDPPortPair()
        dir.write("bootd.ini", Array("[tftpd]\naddress = 127.0.0.1\nport = \(port)\n".utf8))
        let check = try await run(bootdBinary!, ["-t", "-c", dir.path + "/bootd.ini", "--check-config"])
        #expect(check.output.contains("root = /srv/tftp"), "\(check.output)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bootdBinary!)
        p.arguments = ["-t", "-c", dir.path + "/bootd.ini", "--state-dir", dir.path + "/state"]
        let errors = Pipe()
        p.standardError = errors
        p.standardOutput = errors
        try p.run()
        defer { if p.isRunning { p.terminate(); p.waitUntilExit() } }
        try await Task.sleep(for: .seconds(1))
        if p.isRunning {
            // /srv/tftp exists here: it is what is served, and the configuration is not in it.
            _ = try await run("tftp", ["-m", "binary", "127.0.0.1", "\(port)", "-c", "get", "bootd.ini", dir.path + "/out"])
            #expect(FileManager.default.contents(atPath: dir.path + "/out").map { $0.isEmpty } ?? true)
        } else {
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus != 0)
            #expect(text.contains("[tftpd] root /srv/tftp: no such directory"), "\(text)")
        }
    }
}
