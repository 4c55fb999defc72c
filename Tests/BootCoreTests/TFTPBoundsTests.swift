import Testing
import BootWire
@testable import BootCore

// Issue 15: 4,096 RRQs with timeout 255 from one host, never ACKed, filled max_transfers and
// every other host's download failed for 25 minutes.

@Suite("TFTP engine: one host cannot take the session table")
struct TFTPBoundsTests {
    @Test("a flood of RRQs from one host takes at most half the table; another host still downloads")
    func oneHostTakesAtMostHalf() {
        let file = tftpFile(3000)
        let h = TFTPHarness(["pxelinux.0": file]) { $0.maxSessions = 64 }
        let flooder = IPv4Address(10, 77, 0, 66)
        var answered = 0
        for port in 0..<4096 {
            let sent = h.rrq("pxelinux.0", [("timeout", "255"), ("tsize", "0")], from: Endpoint(flooder, UInt16(10_000 + port)))
            if !sent.isEmpty { answered += 1 }
        }
        #expect(answered == 32)
        #expect(h.engine.counters.refusedPerClient == 4096 - 32)
        // Another host gets its file whole.
        let got = h.download("pxelinux.0")
        #expect(got.bytes == file)
    }

    @Test("a timeout over max_timeout is not granted: the OACK leaves it out and the server's own is used")
    func clientTimeoutIsCapped() throws {
        let h = TFTPHarness(["f": tftpFile(100)]) { $0.timeout = .seconds(2); $0.retries = 5 }
        let sent = h.rrq("f", [("timeout", "255"), ("blksize", "1024")])
        guard case let .optionAck(options) = try #require(sent.first).packet else {
            Issue.record("no OACK: \(sent)"); return
        }
        #expect(!options.contains { $0.isNamed("timeout") })
        #expect(options.contains { $0.isNamed("blksize") })
        // Silent client: the session is over after six sends of 2 s, not of 255 s.
        for _ in 0..<6 { h.advance(.seconds(2)) }
        #expect(h.engine.counters.timeouts == 1)
        // Up to max_timeout, the client's value is granted as RFC 2349 asks.
        let ok = h.rrq("f", [("timeout", "10")], from: Endpoint(IPv4Address(10, 77, 0, 101), 2000))
        guard case let .optionAck(granted) = try #require(ok.first).packet else { Issue.record("no OACK"); return }
        #expect(granted.contains { $0.isNamed("timeout") && $0.value == "10" })
    }

    @Test("sessions of a host are counted down as they end: it can start again")
    func perClientCountFollowsEndedSessions() {
        let h = TFTPHarness(["f": tftpFile(10)]) { $0.maxSessions = 4 }
        for round in 0..<3 {
            var started: [(Endpoint, TFTPSessionID?)] = []
            for port in 0..<2 {
                let peer = Endpoint(tftpClient.address, UInt16(3000 + round * 10 + port))
                let got = h.rrq("f", from: peer)
                #expect(got.dataBlocks == [1], "round \(round) port \(port)")
                started.append((peer, got.first?.session))
            }
            // A third at once is one too many for this host (half of 4)…
            #expect(h.rrq("f", from: Endpoint(tftpClient.address, UInt16(3009 + round * 10))).isEmpty)
            // …and once its two transfers are done it may start two more.
            for (peer, session) in started { h.ack(1, session: session, from: peer) }
            #expect(h.engine.sessionCount == 0)
        }
    }
}
