import Testing
import BootWire
@testable import BootCore

// TFTP engine tests: explicit events in, what a client would see out (the packets on the
// wire, the bytes reassembled), with an in-test file source that answers at once.

let tftpServerAddress = IPv4Address(10, 77, 0, 1)
let tftpListen = Endpoint(tftpServerAddress, 69)
let tftpClient = Endpoint(IPv4Address(10, 77, 0, 100), 2070)

/// A file tree answering open/read actions immediately.
final class TFTPFakeFiles {
    var files: [String: [UInt8]]
    /// Reads of this path at or past this offset fail.
    var failReads: [String: Int] = [:]
    var opened: [String] = []
    var reads: [(path: String, offset: Int, count: Int)] = []
    var closed: [FileHandleID] = []
    var handles: [FileHandleID: String] = [:]
    private var next: UInt64 = 1

    init(_ files: [String: [UInt8]]) { self.files = files }

    func open(_ path: String) -> Result<(handle: FileHandleID, size: Int), FileSourceError> {
        opened.append(path)
        guard let bytes = files[path] else { return .failure(.notFound) }
        let h = FileHandleID(id: next)
        next += 1
        handles[h] = path
        return .success((h, bytes.count))
    }

    func read(_ h: FileHandleID, offset: Int, count: Int) -> Result<ArraySlice<UInt8>, FileSourceError> {
        let path = handles[h]!
        reads.append((path, offset, count))
        if let at = failReads[path], offset + count > at { return .failure(.ioError("EIO")) }
        let bytes = files[path]!
        let end = min(bytes.count, offset + count)
        return .success(offset < end ? bytes[offset..<end] : [])
    }
}

struct TFTPSent: CustomStringConvertible {
    var packet: TFTPPacket
    var datagram: Datagram
    var session: TFTPSessionID?
    var description: String { "\(packet) → \(datagram.peer) via \(session.map(\.description) ?? "listen")" }
}

/// Drives one engine: performs its file actions at once, records the rest.
final class TFTPHarness {
    let engine: TFTPServer
    let files: TFTPFakeFiles
    var now = Instant(nanoseconds: 1_000_000_000)
    /// When false, file actions are recorded in `pendingFileActions` instead of answered.
    var answerFiles = true
    var pendingFileActions: [TFTPServerAction] = []
    var wakeUps: [Instant] = []
    var logs: [LogRecord] = []
    var closedPorts: [TFTPSessionID] = []
    var allSent: [TFTPSent] = []

    init(_ files: [String: [UInt8]], _ change: (inout TFTPServerSettings) -> Void = { _ in }) {
        var s = TFTPServerSettings()
        change(&s)
        engine = TFTPServer(settings: s)
        self.files = TFTPFakeFiles(files)
    }

    func perform(_ actions: [TFTPServerAction]) -> [TFTPSent] {
        var out: [TFTPSent] = []
        for action in actions {
            switch action {
            case let .send(d, session):
                let sent = TFTPSent(packet: try! TFTPPacket(parsing: d.payload), datagram: d, session: session)
                out.append(sent)
                allSent.append(sent)
            case let .openFile(id, path):
                if answerFiles { out += perform(engine.fileOpened(id, files.open(path), at: now)) }
                else { pendingFileActions.append(action) }
            case let .readFile(id, h, offset, count):
                if answerFiles { out += perform(engine.dataRead(id, offset: offset, files.read(h, offset: offset, count: count), at: now)) }
                else { pendingFileActions.append(action) }
            case let .closeFile(h):
                files.closed.append(h)
            case let .closeSessionPort(id):
                closedPorts.append(id)
            case let .wakeUp(at):
                wakeUps.append(at)
            case let .log(record):
                logs.append(record)
            }
        }
        return out
    }

    @discardableResult
    func receive(_ packet: TFTPPacket, from peer: Endpoint = tftpClient, session: TFTPSessionID? = nil) -> [TFTPSent] {
        let d = Datagram(payload: try! packet.serialized(), peer: peer, local: tftpListen, interface: 2)
        return perform(engine.handle(d, session: session, at: now))
    }

    /// An RRQ built by hand, so that option values the serializer refuses can be sent.
    @discardableResult
    func rrq(_ name: String, _ options: [(String, String)] = [], from peer: Endpoint = tftpClient,
             mode: TFTPMode = .octet) -> [TFTPSent] {
        var bytes: [UInt8] = [0, 1] + Array(name.utf8) + [0] + Array(mode.rawValue.utf8) + [0]
        for (name, value) in options { bytes += Array(name.utf8) + [0] + Array(value.utf8) + [0] }
        let d = Datagram(payload: bytes, peer: peer, local: tftpListen, interface: 2)
        return perform(engine.handle(d, at: now))
    }

    @discardableResult
    func ack(_ block: UInt16, session: TFTPSessionID?, from peer: Endpoint = tftpClient) -> [TFTPSent] {
        receive(.ack(block: block), from: peer, session: session)
    }

    @discardableResult
    func advance(_ d: Duration) -> [TFTPSent] {
        now = now + d
        return perform(engine.wake(at: now))
    }

    /// A whole download as a well-behaved client does it: ACK 0 after an OACK, then the
    /// last in-order block of each burst. Returns the file and every DATA block number.
    func download(_ name: String, _ options: [(String, String)] = []) -> (bytes: [UInt8], blocks: [UInt16], oack: [TFTPOption]?) {
        var sent = rrq(name, options)
        var bytes: [UInt8] = []
        var blocks: [UInt16] = []
        var oack: [TFTPOption]? = nil
        var expected: UInt16 = 1
        var blksize = 512
        while true {
            guard let first = sent.first else { return (bytes, blocks, oack) }
            let session = first.session
            if case let .optionAck(options) = first.packet {
                oack = options
                if let b = options.first(where: { $0.isNamed("blksize") }) { blksize = Int(b.value)! }
                sent = ack(0, session: session)
                continue
            }
            var done = false
            var lastGood: UInt16 = expected &- 1
            for s in sent {
                guard case let .data(block, payload) = s.packet else { return (bytes, blocks, oack) }
                blocks.append(block)
                if block == expected {
                    bytes += payload
                    lastGood = block
                    expected &+= 1
                    if payload.count < blksize { done = true; break }
                }
            }
            sent = ack(lastGood, session: session)
            if done { return (bytes, blocks, oack) }
        }
    }
}

extension [TFTPSent] {
    var dataBlocks: [UInt16] { compactMap { if case let .data(b, _) = $0.packet { b } else { nil } } }
    var errors: [TFTPError] { compactMap { if case let .error(e) = $0.packet { e } else { nil } } }
}

func tftpFile(_ count: Int, seed: UInt8 = 7) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 >> 8) }
}

func tftpOptions(_ sent: [TFTPSent]) -> [String: String]? {
    guard case let .optionAck(options)? = sent.first?.packet else { return nil }
    return Dictionary(uniqueKeysWithValues: options.map { ($0.name, $0.value) })
}

@Suite struct TFTPServerTests {
    // MARK: Plain transfers (RFC 1350)

    @Test func zeroByteFileIsOneEmptyDataBlock() {
        let h = TFTPHarness(["empty": []])
        let sent = h.rrq("empty")
        #expect(sent.count == 1)
        guard case let .data(1, payload)? = sent.first?.packet else { Issue.record("no DATA 1: \(sent)"); return }
        #expect(payload.isEmpty)
        #expect(h.files.reads.isEmpty)
        let id = sent[0].session
        #expect(id != nil)
        #expect(h.ack(1, session: id).isEmpty)
        #expect(h.engine.sessionCount == 0)
        #expect(h.engine.counters.sessionsCompleted == 1)
        #expect(h.closedPorts == [id!])
        #expect(h.files.closed.count == 1)
    }

    @Test func exactlyOneBlockIsFollowedByAnEmptyBlock() {
        let file = tftpFile(512)
        let h = TFTPHarness(["one": file])
        let r = h.download("one")
        #expect(r.bytes == file)
        #expect(r.blocks == [1, 2])
        #expect(h.engine.counters.sessionsCompleted == 1)
    }

    @Test func threeThousandBytes() {
        let file = tftpFile(3000)
        let h = TFTPHarness(["boot/pxelinux.0": file])
        let r = h.download("boot/pxelinux.0")
        #expect(r.bytes == file)
        #expect(r.blocks == [1, 2, 3, 4, 5, 6])
        #expect(r.oack == nil)
        // Sent from the session's own port, on the address the request came to.
        #expect(h.allSent.allSatisfy { $0.session != nil && $0.datagram.local == Endpoint(tftpServerAddress, 0) })
        #expect(h.allSent.allSatisfy { $0.datagram.peer == tftpClient && $0.datagram.interface == 2 })
        let finished = h.logs.last!.message
        #expect(finished.contains("3000 bytes") && finished.contains("6 blocks") && finished.contains("0 retransmissions"))
    }

    @Test func netasciiIsServedAsOctet() {
        let file = Array("line\nline\n".utf8)
        let h = TFTPHarness(["a.txt": file])
        let sent = h.rrq("a.txt", mode: .netascii)
        #expect(sent.first?.packet == .data(block: 1, payload: file))
    }

    @Test func modeMailIsRefused() {
        let h = TFTPHarness(["a": [1]])
        let sent = h.rrq("a", mode: .mail)
        #expect(sent.errors.map(\.code) == [.illegalOperation])
        #expect(h.engine.sessionCount == 0)
    }

    // MARK: Options (RFC 2347-2349, 7440)

    @Test func blksizeIsNegotiated() {
        let file = tftpFile(3000)
        let h = TFTPHarness(["f": file])
        let r = h.download("f", [("blksize", "1468")])
        #expect(r.oack == [TFTPOption(name: "blksize", value: "1468")])
        #expect(r.bytes == file)
        #expect(r.blocks == [1, 2, 3])
    }

    @Test func blksizeIsClampedToTheServerMaximum() {
        let h = TFTPHarness(["f": tftpFile(10)]) { $0.maxBlksize = 1468 }
        #expect(tftpOptions(h.rrq("f", [("blksize", "9000")]))?["blksize"] == "1468")
        // Over RFC 2348's 65464 (and over Int): clamped as well, like tftpd-hpa.
        let h2 = TFTPHarness(["f": tftpFile(10)]) { $0.maxBlksize = 1468 }
        #expect(tftpOptions(h2.rrq("f", [("blksize", "70000")]))?["blksize"] == "1468")
        let h3 = TFTPHarness(["f": tftpFile(10)])
        #expect(tftpOptions(h3.rrq("f", [("BLKSIZE", "99999999999999999999999")]))?["blksize"] == "65464")
    }

    @Test func blksizeOutOfRangeOrGarbageIsOmitted() {
        for value in ["4", "0", "-1", "abc", ""] {
            let h = TFTPHarness(["f": tftpFile(600)])
            let sent = h.rrq("f", [("blksize", value)])
            // The only option was refused: no OACK, DATA 1 at 512 at once.
            guard case let .data(1, payload)? = sent.first?.packet else { Issue.record("\(value): \(sent)"); continue }
            #expect(payload.count == 512)
        }
        let h = TFTPHarness(["f": tftpFile(600)])
        #expect(tftpOptions(h.rrq("f", [("blksize", "8")]))?["blksize"] == "8")
    }

    @Test func tsizeIsAnsweredWithTheRealSize() {
        let h = TFTPHarness(["f": tftpFile(123_456)])
        let options = tftpOptions(h.rrq("f", [("tsize", "0"), ("blksize", "1432")]))
        #expect(options == ["tsize": "123456", "blksize": "1432"])
    }

    @Test func unknownOptionsOnlyMeanNoOACK() {
        let h = TFTPHarness(["f": tftpFile(10)])
        let sent = h.rrq("f", [("rollover", "0"), ("utimeout", "5000"), ("windowsize", "0")])
        #expect(sent.first?.packet == .data(block: 1, payload: tftpFile(10)))
    }

    @Test func timeoutOptionIsUsedForTheSession() {
        let h = TFTPHarness(["f": tftpFile(10)])
        let sent = h.rrq("f", [("timeout", "5")])
        #expect(tftpOptions(sent) == ["timeout": "5"])
        #expect(h.advance(.seconds(2)).isEmpty)
        #expect(h.advance(.seconds(3)).first?.packet == .optionAck([TFTPOption(name: "timeout", value: "5")]))
    }

    @Test func errorEightAfterOACKEndsQuietly() {
        let h = TFTPHarness(["f": tftpFile(10_000)])
        let sent = h.rrq("f", [("tsize", "0")])
        let id = sent[0].session
        #expect(h.receive(.error(TFTPError(code: .optionNegotiationRefused, message: "tsize probe")), session: id).isEmpty)
        #expect(h.engine.sessionCount == 0)
        #expect(h.advance(.seconds(60)).isEmpty)
        #expect(!h.logs.contains { $0.level >= .warning })
        #expect(Set(h.files.closed).count == 1)
    }

    @Test func windowsizeFourSlidesOnAcks() {
        let file = tftpFile(20 * 512 + 100)
        let h = TFTPHarness(["f": file])
        let oack = h.rrq("f", [("windowsize", "4")])
        #expect(tftpOptions(oack) == ["windowsize": "4"])
        let id = oack[0].session
        #expect(h.ack(0, session: id).dataBlocks == [1, 2, 3, 4])
        #expect(h.ack(4, session: id).dataBlocks == [5, 6, 7, 8])
        // Block 7 lost: the client ACKs 6, the window restarts at 7.
        #expect(h.ack(6, session: id).dataBlocks == [7, 8, 9, 10])
        // A stale ACK (6 again) and an ACK before the window change nothing.
        #expect(h.ack(6, session: id).isEmpty)
        #expect(h.ack(2, session: id).isEmpty)
        #expect(h.ack(10, session: id).dataBlocks == [11, 12, 13, 14])
        #expect(h.ack(14, session: id).dataBlocks == [15, 16, 17, 18])
        #expect(h.ack(18, session: id).dataBlocks == [19, 20, 21])
        #expect(h.ack(21, session: id).isEmpty)
        #expect(h.engine.counters.sessionsCompleted == 1)
        let r = TFTPHarness(["f": file]).download("f", [("windowsize", "4")])
        #expect(r.bytes == file)
    }

    @Test func windowsizeIsClampedToTheMaximumAndToOneChunk() {
        let h = TFTPHarness(["f": tftpFile(10)]) { $0.maxWindowSize = 8 }
        #expect(tftpOptions(h.rrq("f", [("windowsize", "100")])) == ["windowsize": "8"])
        let h2 = TFTPHarness(["f": tftpFile(10)]) { $0.readChunkSize = 4096 }
        #expect(tftpOptions(h2.rrq("f", [("windowsize", "64"), ("blksize", "1024")])) == ["windowsize": "4", "blksize": "1024"])
    }

    // MARK: Block numbers

    @Test func blockNumbersRollOverPast65535WithWindows() {
        let blocks = 70_000
        let file = tftpFile(blocks * 8 + 3)
        let h = TFTPHarness(["big": file])
        let r = h.download("big", [("blksize", "8"), ("windowsize", "64")])
        #expect(r.bytes == file)
        #expect(r.blocks.count == blocks + 1)
        let wrap = r.blocks.firstIndex(of: 65535)!
        #expect(r.blocks[wrap + 1] == 0)
        #expect(r.blocks.last == UInt16(truncatingIfNeeded: blocks + 1))
        #expect(h.engine.counters.retransmissions == 0)
    }

    /// PyBootd defect: block numbers were signed, so transfers stalled after 32768 blocks.
    @Test func pybootdSignedBlockNumbersStallPast32768() {
        let blocks = 66_000
        let file = tftpFile(blocks * 8)
        let h = TFTPHarness(["big": file])
        let r = h.download("big", [("blksize", "8")])
        #expect(r.bytes == file)
        #expect(r.blocks[32767] == 32768 && r.blocks[32768] == 32769)
        #expect(r.blocks[65535] == 0)
        #expect(h.engine.counters.sessionsCompleted == 1)
    }

    // MARK: Retransmission

    @Test func timeoutRetransmitsTheWindowThenGivesUp() {
        let h = TFTPHarness(["f": tftpFile(10 * 512)]) { $0.retries = 3 }
        let id = h.rrq("f", [("windowsize", "4")])[0].session
        #expect(h.ack(0, session: id).dataBlocks == [1, 2, 3, 4])
        #expect(h.wakeUps.last == h.now + .seconds(2))
        #expect(h.advance(.milliseconds(1999)).isEmpty)
        #expect(h.advance(.milliseconds(1)).dataBlocks == [1, 2, 3, 4])
        #expect(h.advance(.seconds(2)).dataBlocks == [1, 2, 3, 4])
        #expect(h.advance(.seconds(2)).dataBlocks == [1, 2, 3, 4])
        let last = h.advance(.seconds(2))
        #expect(last.errors.map(\.code) == [.notDefined])
        #expect(last.first?.session == id)
        #expect(h.engine.sessionCount == 0)
        #expect(h.engine.counters.timeouts == 1 && h.engine.counters.retransmissions == 12)
        #expect(h.closedPorts == [id!])
        #expect(h.advance(.seconds(10)).isEmpty)
    }

    @Test func progressResetsTheRetryCount() {
        let h = TFTPHarness(["f": tftpFile(10 * 512)]) { $0.retries = 1 }
        let id = h.rrq("f")[0].session
        #expect(h.advance(.seconds(2)).dataBlocks == [1])
        #expect(h.ack(1, session: id).dataBlocks == [2])
        #expect(h.advance(.seconds(2)).dataBlocks == [2])
        #expect(h.advance(.seconds(2)).errors.count == 1)
    }

    @Test func fractionalTimeoutFromSettings() {
        let h = TFTPHarness(["f": tftpFile(10)]) { $0.timeout = .milliseconds(500) }
        h.rrq("f")
        #expect(h.advance(.milliseconds(500)).dataBlocks == [1])
    }

    /// PyBootd defect: the final block was never retransmitted.
    @Test func pybootdLastBlockIsRetransmittedUntilAcked() {
        let h = TFTPHarness(["f": tftpFile(700)])
        let id = h.rrq("f")[0].session
        #expect(h.ack(1, session: id).dataBlocks == [2])
        for _ in 0..<5 { #expect(h.advance(.seconds(2)).dataBlocks == [2]) }
        #expect(h.ack(2, session: id).isEmpty)
        #expect(h.engine.counters.sessionsCompleted == 1)
        #expect(h.advance(.seconds(2)).isEmpty)
    }

    /// RFC 1123 4.2.3.1: a duplicate ACK must not trigger a retransmission.
    @Test func duplicateAcksDoNotDoubleTheTraffic() {
        let file = tftpFile(5000)
        let h = TFTPHarness(["f": file])
        let id = h.rrq("f")[0].session
        #expect(h.ack(1, session: id).dataBlocks == [2])
        #expect(h.ack(1, session: id).isEmpty)
        #expect(h.ack(2, session: id).dataBlocks == [3])
        #expect(h.ack(2, session: id).isEmpty)
        #expect(h.ack(1, session: id).isEmpty)
        #expect(h.engine.counters.duplicateAcks == 3)
        #expect(h.engine.counters.dataPacketsSent == 3)
    }

    @Test func duplicateRRQResendsTheFirstPacketWithoutASecondSession() {
        let h = TFTPHarness(["f": tftpFile(3000)])
        let first = h.rrq("f", [("tsize", "0")])
        let again = h.rrq("f", [("tsize", "0")])
        #expect(again.map(\.packet) == first.map(\.packet))
        #expect(again.first?.session == first.first?.session)
        #expect(h.files.opened == ["f"])
        #expect(h.engine.sessionCount == 1)
        // Once the transfer is under way a retransmitted RRQ changes nothing.
        let id = first[0].session
        h.ack(0, session: id)
        h.ack(1, session: id)
        #expect(h.rrq("f", [("tsize", "0")]).isEmpty)
        // Gone silent (the server retransmitted): the same RRQ now comes from a new client
        // on the old one's port, and it gets a transfer of its own at once.
        #expect(h.advance(.seconds(2)).dataBlocks == [2])
        let reused = h.rrq("f", [("tsize", "0")])
        #expect(reused.first?.packet == first.first?.packet)
        #expect(reused.first?.session != id)
        #expect(h.closedPorts == [id!])
        #expect(h.engine.sessionCount == 1)
        let id2 = reused[0].session
        h.ack(0, session: id2)
        h.ack(1, session: id2)
        // Another request from the same endpoint replaces the old transfer.
        let other = h.rrq("f")
        #expect(other.dataBlocks == [1])
        #expect(other[0].session != id2)
        #expect(h.closedPorts == [id!, id2!])
        #expect(h.engine.sessionCount == 1)
    }

    // MARK: Peers and errors

    /// PyBootd defect: a client ERROR was answered by a resend.
    @Test func pybootdClientErrorEndsTheSession() {
        let h = TFTPHarness(["f": tftpFile(3000)])
        let id = h.rrq("f")[0].session
        #expect(h.receive(.error(TFTPError(code: .notDefined, message: "user abort")), session: id).isEmpty)
        #expect(h.engine.sessionCount == 0)
        #expect(h.engine.counters.clientErrors == 1)
        #expect(h.closedPorts == [id!])
        #expect(h.advance(.seconds(30)).isEmpty)
        #expect(h.ack(1, session: id).isEmpty)
    }

    @Test func wrongTIDGetsErrorFiveAndTheSessionGoesOn() {
        let file = tftpFile(1000)
        let h = TFTPHarness(["f": file])
        let id = h.rrq("f")[0].session
        let samePortOther = Endpoint(tftpClient.address, 9999)
        let otherHost = Endpoint(IPv4Address(10, 77, 0, 200), 2070)
        for intruder in [samePortOther, otherHost] {
            let reply = h.ack(1, session: id, from: intruder)
            #expect(reply.errors.map(\.code) == [.unknownTransferID])
            #expect(reply.first?.datagram.peer == intruder)
            #expect(reply.first?.session == id)
        }
        // An ERROR from a stranger is not answered, and does not end the transfer.
        #expect(h.receive(.error(TFTPError(code: .notDefined)), from: otherHost, session: id).isEmpty)
        #expect(h.engine.counters.wrongTID == 3)
        #expect(h.ack(1, session: id).dataBlocks == [2])
        #expect(h.ack(2, session: id).isEmpty)
        #expect(h.engine.counters.sessionsCompleted == 1)
    }

    /// PyBootd defect: WRQ wrote anywhere on the host.
    @Test func pybootdWriteRequestIsRefused() {
        let h = TFTPHarness([:])
        let sent = h.receive(.writeRequest(TFTPRequest(filename: "../../etc/cron.d/x")))
        #expect(sent.errors.map(\.code) == [.accessViolation])
        #expect(sent.first?.session == nil && sent.first?.datagram.local == tftpListen)
        #expect(h.engine.sessionCount == 0 && h.files.opened.isEmpty)
        #expect(h.engine.counters.writeRequests == 1)
    }

    @Test func fileNotFoundIsErrorOne() {
        let h = TFTPHarness([:])
        let sent = h.rrq("missing.efi")
        #expect(sent.errors.map(\.code) == [.fileNotFound])
        #expect(sent.first?.session == nil)
        #expect(h.engine.sessionCount == 0 && h.closedPorts.isEmpty)
        #expect(h.engine.counters.notFound == 1)
    }

    @Test func ioErrorMidTransferIsErrorZero() {
        let h = TFTPHarness(["f": tftpFile(200_000)]) { $0.readChunkSize = 8192 }
        h.files.failReads["f"] = 10_000
        let id = h.rrq("f")[0].session
        var sent: [TFTPSent] = []
        for b: UInt16 in 1...16 { sent = h.ack(b, session: id) }
        #expect(sent.errors.map(\.code) == [.notDefined])
        #expect(sent.first?.session == id)
        #expect(h.engine.sessionCount == 0 && h.engine.counters.sessionsFailed == 1)
        #expect(h.files.closed.count == 1 && h.closedPorts == [id!])
    }

    @Test func malformedRequestGetsErrorFour() {
        let h = TFTPHarness([:])
        let d = Datagram(payload: [0, 1, 0x66, 0], peer: tftpClient, local: tftpListen)
        let sent = h.perform(h.engine.handle(d, at: h.now))
        #expect(sent.errors.map(\.code) == [.illegalOperation])
        let junk = Datagram(payload: [0, 9, 1], peer: tftpClient, local: tftpListen)
        #expect(h.perform(h.engine.handle(junk, at: h.now)).isEmpty)
        #expect(h.engine.counters.malformed == 2)
    }

    @Test func fileSourceThatNeverAnswersIsGivenUp() {
        let h = TFTPHarness(["f": tftpFile(10)]) { $0.fileSourceTimeout = .seconds(5) }
        h.answerFiles = false
        h.rrq("f")
        #expect(h.advance(.seconds(5)).errors.map(\.code) == [.notDefined])
        #expect(h.engine.sessionCount == 0)
        // The late answer's handle is given back.
        guard case let .openFile(id, _) = h.pendingFileActions[0] else { Issue.record(); return }
        let late = h.engine.fileOpened(id, .success((FileHandleID(id: 42), 10)), at: h.now)
        #expect(late == [.closeFile(FileHandleID(id: 42))])
    }

    // MARK: Names

    @Test func pathRules() {
        #expect(TFTPPath.resolve("pxelinux.0") == .success("pxelinux.0"))
        #expect(TFTPPath.resolve("/boot/grub/x86_64-efi/normal.mod") == .success("boot/grub/x86_64-efi/normal.mod"))
        #expect(TFTPPath.resolve("\\Boot\\x64\\wdsmgfw.efi") == .success("Boot/x64/wdsmgfw.efi"))
        #expect(TFTPPath.resolve("a//./b/") == .success("a/b"))
        #expect(TFTPPath.resolve("a..b/..c") == .success("a..b/..c"))
        #expect(TFTPPath.resolve("%2e%2e/etc/passwd") == .success("%2e%2e/etc/passwd"))
        for bad in ["../etc/passwd", "a/../../b", "a/../b", "..", "..\\..\\windows\\win.ini", "a\\..\\..\\b", "/../x"] {
            #expect(TFTPPath.resolve(bad) == .failure(.parentComponent), "\(bad)")
        }
        for empty in [".", "/", "//", "./.", "\\"] {
            #expect(TFTPPath.resolve(empty) == .failure(.empty), "\(empty)")
        }
        #expect(TFTPPath.resolve("a\u{0}b") == .failure(.nul))
        #expect(TFTPPath.resolve("../a\u{0}") == .failure(.nul))  // NUL is checked before anything else
        #expect(TFTPPath.resolve("/café//ünï.bin") == .success("café/ünï.bin"))
        #expect(TFTPPath.resolve(bytes: Array("\\日本\\語.efi".utf8)) == .success("日本/語.efi"))
        #expect(TFTPPath.resolve(bytes: Array("./a/.../b".utf8)) == .success("a/.../b"))
        #expect(TFTPPath.resolve(bytes: [0x61, 0xFF]) == .failure(.notUTF8))
    }

    /// PyBootd defect: `../`, absolute paths and the current directory escaped the root.
    @Test func pybootdEscapesAreRefused() {
        for bad in ["../etc/passwd", "a/../../b", "..\\..\\windows\\win.ini", "boot\\..\\..\\x", ".", "/"] {
            let h = TFTPHarness(["etc/passwd": [1]])
            let sent = h.rrq(bad)
            #expect(sent.errors.map(\.code) == [.accessViolation], "\(bad)")
            #expect(h.files.opened.isEmpty, "\(bad)")
            #expect(h.engine.counters.refusedNames == 1)
        }
        // Absolute names are root-relative: `/etc/passwd` is `<root>/etc/passwd`.
        let h = TFTPHarness(["etc/passwd": [1, 2, 3]])
        #expect(h.rrq("/etc/passwd").first?.packet == .data(block: 1, payload: [1, 2, 3]))
        #expect(h.files.opened == ["etc/passwd"])
    }

    @Test func filterGlobAndFilename() {
        let rules = [
            FilterRule(pattern: "*.efi", replacement: .template("uefi/{filename}")),
            FilterRule(pattern: "pxelinux.?", replacement: .template("bios/pxelinux.0")),
            FilterRule(pattern: "*", replacement: .template("never/{filename}")),
        ]
        #expect(globMatches(rules[0].pattern, "grubx64.efi") && globMatches(rules[0].pattern, "/EFI/boot/bootx64.efi"))
        #expect(!globMatches(rules[0].pattern, "grubx64.efi.sig") && !globMatches(rules[1].pattern, "pxelinux.00"))
        let h = TFTPHarness(["uefi/grubx64.efi": [1], "bios/pxelinux.0": [2], "never/x": [3]]) { $0.filters = rules }
        #expect(h.rrq("grubx64.efi").first?.packet == .data(block: 1, payload: [1]))
        #expect(h.rrq("pxelinux.7", from: Endpoint(tftpClient.address, 3000)).first?.packet == .data(block: 1, payload: [2]))
        #expect(h.rrq("x", from: Endpoint(tftpClient.address, 3001)).first?.packet == .data(block: 1, payload: [3]))
        #expect(h.files.opened == ["uefi/grubx64.efi", "bios/pxelinux.0", "never/x"])
        // A filter's output is resolved like any name: it cannot escape either.
        let h2 = TFTPHarness([:]) { $0.filters = [FilterRule(pattern: "*", replacement: .template("../{filename}"))] }
        #expect(h2.rrq("x").errors.map(\.code) == [.accessViolation])
    }

    /// PyBootd defect: `[file]` filters crashed under Python 3. The README's promise: the
    /// replacement is read from that file.
    @Test func pybootdFileIndirectionFilter() {
        let rule = FilterRule(pattern: "boot.*", replacement: .file("choice.txt"))
        #expect(rule.replacement == .file("choice.txt"))
        let h = TFTPHarness(["choice.txt": Array("\n  images/{filename}.new \r\nignored\n".utf8),
                             "images/boot.efi.new": [9, 9]]) { $0.filters = [rule] }
        #expect(h.rrq("boot.efi").first?.packet == .data(block: 1, payload: [9, 9]))
        #expect(h.files.opened == ["choice.txt", "images/boot.efi.new"])
        #expect(h.files.closed.count == 1)  // the indirection file, already
        let empty = TFTPHarness(["choice.txt": []]) { $0.filters = [rule] }
        #expect(empty.rrq("boot.x").errors.map(\.code) == [.notDefined])
        #expect(empty.engine.sessionCount == 0)
    }

    // MARK: Bounds

    @Test func maxSessionsDropsFurtherRequests() {
        let h = TFTPHarness(["f": tftpFile(3000)]) { $0.maxSessions = 2; $0.maxSessionsPerClient = 2 }
        let a = h.rrq("f", from: Endpoint(tftpClient.address, 1001))
        h.rrq("f", from: Endpoint(tftpClient.address, 1002))
        #expect(h.rrq("f", from: Endpoint(tftpClient.address, 1003)).isEmpty)
        #expect(h.engine.counters.refusedBusy == 1 && h.engine.sessionCount == 2)
        h.receive(.error(TFTPError(code: .notDefined)), from: Endpoint(tftpClient.address, 1001), session: a[0].session)
        #expect(h.rrq("f", from: Endpoint(tftpClient.address, 1003)).dataBlocks == [1])
    }

    @Test func filesAreReadInChunksNeverPerBlock() {
        let file = tftpFile(200_000)
        let h = TFTPHarness(["f": file]) { $0.readChunkSize = 65536 }
        let r = h.download("f", [("blksize", "1400"), ("windowsize", "16"), ("tsize", "0")])
        #expect(r.bytes == file)
        // Consecutive, non-overlapping reads of at most one chunk: every byte read once.
        var next = 0
        for read in h.files.reads {
            #expect(read.offset == next && read.count <= 65536)
            next = read.offset + read.count
        }
        #expect(next == file.count)
        #expect(h.files.reads.count <= 5)
    }

    // MARK: Single-port mode

    @Test func singlePortModeServesFromTheListeningPort() {
        let file = tftpFile(3000)
        let h = TFTPHarness(["f": file]) { $0.singlePort = true }
        let r = h.download("f", [("windowsize", "2")])
        #expect(r.bytes == file)
        #expect(h.allSent.allSatisfy { $0.session == nil && $0.datagram.local == tftpListen })
        #expect(h.closedPorts.isEmpty)
        // An ACK from a peer with no session gets ERROR 5.
        #expect(h.ack(3, session: nil, from: Endpoint(tftpClient.address, 5)).errors.map(\.code) == [.unknownTransferID])
    }

    /// PyBootd defect: option negotiation never happened (no OACK; blksize, tsize and
    /// timeout ignored).
    @Test func pybootdOptionsAreNegotiated() {
        let file = tftpFile(5000)
        let h = TFTPHarness(["f": file])
        let r = h.download("f", [("blksize", "1468"), ("tsize", "0"), ("timeout", "3")])
        #expect(r.oack.map { Set($0) } == [TFTPOption(name: "blksize", value: "1468"),
                                           TFTPOption(name: "tsize", value: "5000"),
                                           TFTPOption(name: "timeout", value: "3")])
        #expect(r.bytes == file && r.blocks == [1, 2, 3, 4])
    }
}
