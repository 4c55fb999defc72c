import BootCore
import BootNIO
import BootWire
import Logging
import Testing
import Foundation

/// Issue 15: a TFTP file name with a newline or terminal escapes was logged verbatim at
/// info level, so one RRQ could write a forged line into bootd's log.
@Suite("BootNIO log lines from the network")
struct LogEscapingTests {
    final class Capture: @unchecked Sendable {
        let lock = NSLock()
        var lines: [String] = []
        func add(_ s: String) { lock.lock(); lines.append(s); lock.unlock() }
    }

    struct Handler: LogHandler {
        let capture: Capture
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]
        subscript(metadataKey key: String) -> Logger.Metadata.Value? { get { nil } set {} }
        func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
            capture.add(message.description)
        }
    }

    @Test func aFileNameCannotForgeALogLineOrDriveTheTerminal() {
        let capture = Capture()
        let logger = Logger(label: "test") { _ in Handler(capture: capture) }
        let engine = TFTPServer(settings: TFTPServerSettings())
        let name = "pxelinux.0\n2026-12-08T00:00:00Z info bootd: ACK 10.0.0.5 to admin\u{1B}[2J\\"
        let rrq: [UInt8] = [0, 1] + Array(name.utf8) + [0] + Array("octet".utf8) + [0]
        let d = Datagram(payload: rrq, peer: Endpoint(IPv4Address(127, 0, 0, 1), 2070), local: Endpoint(IPv4Address(127, 0, 0, 1), 69), interface: 1)
        var actions = engine.handle(d, at: Instant(nanoseconds: 1))
        while !actions.isEmpty {
            var next: [TFTPServerAction] = []
            for a in actions {
                switch a {
                case let .log(record) where record.level >= .info: BootLogging.log(record, to: logger)
                case let .openFile(id, _): next += engine.fileOpened(id, .failure(.notFound), at: Instant(nanoseconds: 2))
                default: break
                }
            }
            actions = next
        }
        #expect(!capture.lines.isEmpty)
        for line in capture.lines {
            #expect(!line.contains("\n") && !line.contains("\u{1B}"), "\(line)")
        }
        #expect(capture.lines.contains { $0.contains("pxelinux.0\\x0A2026-12-08") && $0.contains("\\x1B[2J\\\\") })
        // Plain text is left as it is.
        #expect(LogRecord(.info, "RRQ pxelinux.0 from 10.0.0.5:2070").escapedMessage == "RRQ pxelinux.0 from 10.0.0.5:2070")
    }
}
