import Foundation
import PXESimKit

/// The package's `Fixtures/` directory, found from this file's location.
let fixturesDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures")

/// Every capture with a replay configuration beside it: `Fixtures/replay/NAME.ini` for
/// `Fixtures/pcap/NAME.pcap`, `Fixtures/pcap-bootd/NAME.pcap` or `Fixtures/user/NAME.pcap` (see Fixtures/README.md,
/// "A fixture for every bug").
func replayableCaptures() -> [String] {
    let fm = FileManager.default
    let configs = (try? fm.contentsOfDirectory(atPath: fixturesDirectory.appendingPathComponent("replay").path)) ?? []
    var out: [String] = []
    for c in configs.sorted() where c.hasSuffix(".ini") {
        let name = String(c.dropLast(4))
        for dir in ["pcap", "pcap-bootd", "user"] {
            for ext in ["pcap", "pcapng"] where fm.fileExists(atPath: fixturesDirectory.appendingPathComponent("\(dir)/\(name).\(ext)").path) {
                out.append(name)
            }
        }
    }
    return out
}

func capturePath(_ name: String) -> String? {
    for dir in ["pcap", "pcap-bootd", "user"] {
        for ext in ["pcap", "pcapng"] {
            let p = fixturesDirectory.appendingPathComponent("\(dir)/\(name).\(ext)").path
            if FileManager.default.fileExists(atPath: p) { return p }
        }
    }
    return nil
}

/// Replays capture `name` (Fixtures/pcap or Fixtures/user) into bootd configured by
/// Fixtures/replay/NAME.ini (the harness is PXESimKit's, shared with `pxe-sim replay`).
func replay(_ name: String) throws -> ReplayTranscript {
    guard let path = capturePath(name) else { throw ReplayError(description: "no capture named \(name)") }
    return try replay(capture: path, configuration: fixturesDirectory.appendingPathComponent("replay/\(name).ini").path, name: name)
}
