import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The built pxe-sim binary (debug or release).
let pxeSimBinary: String? = {
    for c in ["debug", "release"] {
        let p = repositoryRoot + "/.build/\(c)/pxe-sim"
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}()

/// The built pxe-sim: the default subcommand (simulation) with --json and --timeline, and
/// `pxe-sim replay` on every fixture capture.
@Suite("pxe-sim executable", .serialized)
struct PXESimExecutableTests {
    @Test("pxe-sim without a subcommand still simulates; --json and --timeline describe the run",
          .enabled(if: pxeSimBinary != nil, "pxe-sim not built"))
    func simulatedReports() async throws {
        let dir = TempDir()
        let r = try await run(pxeSimBinary!, ["--clients", "12", "--seed", "3", "--persona", "mixed",
                                        "--json", dir.path + "/out.json", "--timeline", dir.path + "/out.svg"])
        #expect(r.status == 0, "\(r.output)")
        #expect(r.output.contains("booted 12/12"), "\(r.output)")
        #expect(r.output.contains("wall time"), "\(r.output)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/out.json"))) as? [String: Any])
        #expect(json["clients"] as? Int == 12)
        #expect(json["booted"] as? Int == 12)
        #expect(json["failed"] as? Int == 0)
        #expect((json["failuresByReason"] as? [String: Int])?.isEmpty == true)
        for phase in ["dhcp", "tftp", "http"] {
            let p = try #require(json[phase] as? [String: Any], "\(phase) missing")
            for k in ["p50", "p90", "p99", "max"] { #expect(p[k] is Double || p[k] is Int, "\(phase).\(k)") }
        }
        #expect((json["dhcp"] as? [String: Any])?["count"] as? Int == 12)
        for k in ["wallSeconds", "bytes", "packets", "retransmissions", "discovers"] { #expect(json[k] != nil, "\(k) missing") }
        #expect((json["discovers"] as? Int ?? 0) >= 12)
        let svg = try String(contentsOfFile: dir.path + "/out.svg", encoding: .utf8)
        #expect(svg.components(separatedBy: "<g class=\"row\"").count - 1 == 12)
        #expect(svg.hasSuffix("</svg>\n"))
    }

    @Test("pxe-sim replay: every fixture capture replayed into the daemon, every verdict ok",
          .enabled(if: pxeSimBinary != nil, "pxe-sim not built"), arguments: fixtureCaptures())
    func replay(_ capture: String) async throws {
        let r = try await run(pxeSimBinary!, ["replay", repositoryRoot + "/Fixtures/pcap/" + capture])
        #expect(r.status == 0, "\(r.output)")
        let lines = r.output.split(separator: "\n")
        #expect(lines.contains { $0.hasPrefix("DHCP #0 ") || $0.hasPrefix("TFTP #0 ") }, "\(r.output)")
        #expect(!r.output.contains("NOT OK"), "\(r.output)")
        #expect(lines.last?.hasSuffix("0 not ok") == true, "\(r.output)")
    }

    @Test("pxe-sim replay without a configuration says how to give one",
          .enabled(if: pxeSimBinary != nil, "pxe-sim not built"))
    func replayNeedsConfiguration() async throws {
        let dir = TempDir()
        let copy = dir.path + "/elsewhere.pcap"
        try FileManager.default.copyItem(atPath: repositoryRoot + "/Fixtures/pcap/tftp-hpa.pcap", toPath: copy)
        let r = try await run(pxeSimBinary!, ["replay", copy])
        #expect(r.status != 0)
        #expect(r.output.contains("--config"), "\(r.output)")
        let ok = try await run(pxeSimBinary!, ["replay", copy, "--config", repositoryRoot + "/Fixtures/replay/tftp-hpa.ini"])
        #expect(ok.status == 0, "\(ok.output)")
    }

    @Test("--target needs --interface", .enabled(if: pxeSimBinary != nil, "pxe-sim not built"))
    func targetNeedsInterface() async throws {
        let r = try await run(pxeSimBinary!, ["--target", "10.78.0.1"])
        #expect(r.status != 0)
        #expect(r.output.contains("--interface"), "\(r.output)")
    }
}

func fixtureCaptures() -> [String] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/Fixtures/pcap")) ?? []
    return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
}

/// `pxe-sim --target` over real sockets in network namespaces (Tests/Lab/pxesim-target-test):
/// 100 virtual BIOS PXE clients boot from dnsmasq, then from the built bootd.
@Suite("pxe-sim against real servers in network namespaces", .serialized)
struct PXESimLabTests {
    @Test("pxesim-target-test: 100 clients boot from dnsmasq and from bootd",
          .enabled(if: pxeSimBinary != nil && bootdBinary != nil, "pxe-sim or bootd not built"),
          .enabled(if: labAvailable, "needs root and `ip netns` (network namespaces): run swift test as root"),
          .enabled(if: installed("dnsmasq"), "needs dnsmasq (apt-get install dnsmasq-base)"),
          .timeLimit(.minutes(5)))
    func target() async throws {
        let r = try await runWithDeadline(repositoryRoot + "/Tests/Lab/pxesim-target-test", [pxeSimBinary!, bootdBinary!], seconds: 280)
        print(r.output)
        if r.output.hasPrefix("SKIP:") { print("pxesim-target-test skipped: \(r.output)"); return }
        #expect(r.status == 0, "pxesim-target-test exited with \(r.status):\n\(r.output)")
        #expect(r.output.contains("PASS dnsmasq-json") && r.output.contains("PASS bootd-json"), "\(r.output)")
    }
}
