import BootCore
import BootWire
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import PXEClient
import PXESimKit
import Testing

/// Counts `<g class="row">` elements, checking the document is well-formed XML.
private final class RowCounter: NSObject, XMLParserDelegate {
    var rows = 0, rects = 0, root: String?
    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if root == nil { root = name }
        if name == "g", attributes["class"] == "row" { rows += 1 }
        if name == "rect" { rects += 1 }
    }
}

private func parseSVG(_ svg: String) -> (ok: Bool, counter: RowCounter) {
    let p = XMLParser(data: Data(svg.utf8))
    let c = RowCounter()
    p.delegate = c
    return (p.parse(), c)
}

@Suite("Reports: table, JSON, timeline")
struct ReportTests {
    func simulated(_ clients: Int, loss: Double = 0, seed: UInt64 = 5) throws -> RunReport {
        var o = ScenarioOptions()
        o.clients = clients
        o.seed = seed
        o.loss = loss
        o.persona = .mixed
        return try Scenario(o).run().report(wall: .milliseconds(1234))
    }

    @Test("the JSON of a simulated run has the stable keys with the run's numbers")
    func json() throws {
        let r = try simulated(15)
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.json().utf8)) as? [String: Any])
        #expect(j["clients"] as? Int == 15)
        #expect(j["booted"] as? Int == 15)
        #expect(j["failed"] as? Int == 0)
        #expect(j["wallSeconds"] as? Double == 1.234)
        #expect(j["bytes"] as? Int == r.bytes && r.bytes > 0)
        #expect(j["discovers"] as? Int == r.discovers && r.discovers >= 15)
        #expect(j["packets"] as? Int == r.packetsSent + r.packetsReceived)
        #expect(j["retransmissions"] as? Int == 0)
        let dhcp = try #require(j["dhcp"] as? [String: Any])
        #expect(dhcp["count"] as? Int == 15)
        let p50 = try #require(dhcp["p50"] as? Double), p99 = try #require(dhcp["p99"] as? Double), max = try #require(dhcp["max"] as? Double)
        #expect(0 < p50 && p50 <= p99 && p99 <= max)
        #expect((j["http"] as? [String: Any])?["count"] as? Int == 6)   // the iPXE clients of the mix (indices 2, 3 mod 5)
    }

    @Test("failures are counted by reason, in the table and in the JSON")
    func failures() throws {
        var rows: [ReportClient] = []
        for i in 0..<4 {
            var o = ClientOutcome()
            if i == 1 { o.failure = .noOffer }
            if i == 2 { o.failure = .tftpTimeout }
            o.timings.dhcpStarted = Instant(nanoseconds: 0)
            o.timings.dhcpFinished = Instant(nanoseconds: 2_000_000)
            rows.append(ReportClient(index: i, mac: [2, 0, 0, 0, 0, UInt8(i)], persona: "bios", outcome: o,
                                     poweredOn: .zero, unfinished: i == 3))
        }
        let r = RunReport(mode: "real", title: "t", clients: rows, wall: .seconds(2), packetsSent: 3, packetsReceived: 1)
        #expect(r.booted == 1 && r.failed == 3)
        let table = r.renderTable()
        #expect(table.contains("booted 1/4"))
        #expect(table.contains("1  no OFFER") && table.contains("1  TFTP timeout") && table.contains("1  unfinished when the run timed out"))
        let j = try #require(try JSONSerialization.jsonObject(with: Data(r.json().utf8)) as? [String: Any])
        #expect(j["failuresByReason"] as? [String: Int] == ["no OFFER": 1, "TFTP timeout": 1, "unfinished when the run timed out": 1])
        #expect((j["dhcp"] as? [String: Any])?["p50"] as? Double == 0.002)
    }

    @Test("the timeline is SVG with one row per client, with bars for its phases")
    func timeline() throws {
        let r = try simulated(30)
        let (ok, c) = parseSVG(r.timelineSVG())
        #expect(ok)
        #expect(c.root == "svg")
        #expect(c.rows == 30)
        #expect(c.rects >= 30 * 2 + 5)   // DHCP and TFTP or HTTP bars, and the legend
    }

    @Test("thousands of clients are thinned to at most maximumRows rows, and failures are marked")
    func thinned() throws {
        var rows: [ReportClient] = []
        for i in 0..<2500 {
            var o = ClientOutcome()
            o.timings.dhcpStarted = Instant(nanoseconds: Int64(i) * 1_000_000)
            if i % 100 == 0 { o.failure = .noOffer; o.timings.finished = Instant(nanoseconds: Int64(i) * 1_000_000 + 60_000_000_000) }
            else { o.timings.dhcpFinished = Instant(nanoseconds: Int64(i) * 1_000_000 + 500_000_000) }
            rows.append(ReportClient(index: i, mac: [2, 0, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)], persona: "bios", outcome: o, poweredOn: .zero))
        }
        let svg = RunReport(mode: "real", title: "storm", clients: rows, wall: .seconds(61), packetsSent: 0, packetsReceived: 0)
            .timelineSVG(maximumRows: 400)
        let (ok, c) = parseSVG(svg)
        #expect(ok)
        #expect(c.rows <= 400 && c.rows >= 350)
        #expect(svg.contains("every 7th of 2500 clients"))
        #expect(svg.contains("#e15759"))   // the failed clients' red mark
    }
}
