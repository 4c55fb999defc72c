import Foundation
import PcapKit
import Testing
import TestSupport

@Suite("IPv4 reassembly")
struct ReassemblyTests {
    let payload = (0..<100).map { UInt8($0) }  // UDP 108 bytes → fragments of 24+24+24+24+12
    var packet: [UInt8] { sampleIPv4Packet(payload: payload, identification: 0x1234) }

    /// Decodes raw fragments (each must decode as a fragment) stamped 1 s apart.
    func fragments(_ frames: [[UInt8]], start: Int64 = 100) throws -> [IPv4Fragment] {
        try frames.enumerated().map { i, frame in
            try #require(try FrameDecoder().decode(frame, linkType: .raw,
                                                   timestamp: CaptureTimestamp(seconds: start + Int64(i), nanoseconds: 0)).fragment)
        }
    }

    func feed(_ r: inout IPv4Reassembler, _ fragments: [IPv4Fragment]) -> [ReassemblyEvent] {
        fragments.flatMap { r.add($0) }
    }

    func expectReassembled(_ events: [ReassemblyEvent], count: Int,
                           sourceLocation: SourceLocation = #_sourceLocation) {
        guard events.count == 1, case .reassembled(let d) = events[0] else {
            Issue.record("expected one reassembled datagram, got \(events)", sourceLocation: sourceLocation)
            return
        }
        #expect(d.payload == payload, sourceLocation: sourceLocation)
        #expect(d.source == UDPEndpoint(hostA, 68) && d.destination == UDPEndpoint(hostB, 67), sourceLocation: sourceLocation)
        #expect(d.checksum == .valid, sourceLocation: sourceLocation)
        #expect(d.fragmentCount == count, sourceLocation: sourceLocation)
    }

    @Test func inOrder() throws {
        let frags = try fragments(fragmentIPv4(packet, chunk: 24))
        #expect(frags.count == 5)
        #expect(frags.map(\.offset) == [0, 24, 48, 72, 96])
        #expect(frags.map(\.moreFragments) == [true, true, true, true, false])
        #expect(frags[0].key.identification == 0x1234 && frags[0].key.ipProtocol == 17)
        var r = IPv4Reassembler()
        let events = feed(&r, frags)
        expectReassembled(events, count: 5)
        if case .reassembled(let d) = events.first { #expect(d.timestamp == frags[4].timestamp) }
        #expect(r.pendingCount == 0 && r.pendingBytes == 0)
        #expect(r.finish().isEmpty)
    }

    @Test func reversed() throws {
        var r = IPv4Reassembler()
        expectReassembled(feed(&r, try fragments(fragmentIPv4(packet, chunk: 24)).reversed()), count: 5)
    }

    @Test func shuffledWithDuplicates() throws {
        var rng = SplitMix64(seed: 77)
        for round in 0..<50 {
            var frags = try fragments(fragmentIPv4(packet, chunk: 8))
            frags += frags.prefix(3)  // exact duplicates are ignored
            frags.shuffle(using: &rng)
            var r = IPv4Reassembler()
            var events: [ReassemblyEvent] = []
            for f in frags {
                events += r.add(f)
            }
            #expect(events.count == 1, "round \(round)")
            if case .reassembled(let d) = events.first { #expect(d.payload == payload, "round \(round)") }
        }
    }

    @Test func overlappingFragmentIsRejectedOnce() throws {
        let frames = fragmentIPv4(packet, chunk: 24)
        let header = Array(frames[0][0..<20])
        // Covers 16..<40, overlapping the first two fragments, with different bytes.
        let overlap = ipv4Fragment(header: header, data: [UInt8](repeating: 0xEE, count: 24), offset: 16, more: true)
        var r = IPv4Reassembler()
        var events = feed(&r, try fragments([frames[0], overlap]))
        #expect(events.count == 1)
        guard case .failed(let failure) = events.first else { Issue.record("\(events)"); return }
        #expect(failure.reason == .overlap(offset: 16, length: 24))
        #expect(failure.key.identification == 0x1234)
        // The rest of the datagram is absorbed without more reports or a datagram.
        events = feed(&r, try fragments(Array(frames[1...])))
        #expect(events.isEmpty)
        #expect(r.pendingBytes == 0)
        #expect(r.finish().isEmpty)
    }

    @Test func sameOffsetDifferentBytesIsAnOverlap() throws {
        let frames = fragmentIPv4(packet, chunk: 24)
        var other = frames[1]
        other[25] ^= 0xFF
        var r = IPv4Reassembler()
        let events = feed(&r, try fragments([frames[1], other]))
        guard case .failed(let f) = events.first else { Issue.record("\(events)"); return }
        #expect(f.reason == .overlap(offset: 24, length: 24))
    }

    @Test func missingFragmentIsReportedAtEnd() throws {
        var frames = fragmentIPv4(packet, chunk: 24)
        frames.remove(at: 2)
        var r = IPv4Reassembler()
        #expect(feed(&r, try fragments(frames)).isEmpty)
        #expect(r.pendingCount == 1)
        let failures = r.finish()
        #expect(failures.map(\.reason) == [.incompleteAtEnd])
        #expect(failures.first?.fragmentsSeen == 4)
        #expect(r.pendingCount == 0 && r.pendingBytes == 0)
    }

    @Test func timeoutInCaptureTime() throws {
        let frames = fragmentIPv4(packet, chunk: 24)
        var r = IPv4Reassembler(timeout: .seconds(30))
        let early = try fragments([frames[0]], start: 100)
        let late = try fragments(Array(frames[1...]), start: 131)  // 31 s later
        #expect(feed(&r, early).isEmpty)
        let events = feed(&r, late)
        guard case .failed(let f) = events.first, events.count == 1 else { Issue.record("\(events)"); return }
        #expect(f.reason == .timedOut)
        #expect(f.firstSeen == CaptureTimestamp(seconds: 100, nanoseconds: 0))
        // The late fragments started a new datagram that lacks its first fragment.
        #expect(r.finish().map(\.reason) == [.incompleteAtEnd])
    }

    @Test func pendingDatagramsAreBounded() throws {
        var r = IPv4Reassembler(maxPendingDatagrams: 2)
        var events: [ReassemblyEvent] = []
        for id: UInt16 in 1...3 {
            let first = fragmentIPv4(sampleIPv4Packet(payload: payload, identification: id), chunk: 24)[0]
            events += feed(&r, try fragments([first]))
        }
        #expect(r.pendingCount == 2)
        guard case .failed(let f) = events.first, events.count == 1 else { Issue.record("\(events)"); return }
        #expect(f.reason == .evicted && f.key.identification == 1)
        #expect(r.finish().map(\.key.identification) == [2, 3])
    }

    @Test func pendingBytesAreBounded() throws {
        // 65535 bytes is the smallest allowed budget: two 40000-byte pieces cannot both be held.
        var r = IPv4Reassembler(maxPendingBytes: 0)
        let big = sampleIPv4Packet(payload: [UInt8](repeating: 1, count: 60_000), identification: 9)
        let header = Array(big[0..<20])
        let piece = { (id: UInt16) -> [UInt8] in
            var h = header
            h[4] = UInt8(id >> 8); h[5] = UInt8(id & 0xFF)
            return ipv4Fragment(header: h, data: [UInt8](repeating: 2, count: 40_000), offset: 0, more: true)
        }
        var events = feed(&r, try fragments([piece(1)]))
        #expect(events.isEmpty && r.pendingBytes == 40_000)
        events = feed(&r, try fragments([piece(2)]))
        let reasons: [ReassemblyFailure.Reason] = events.compactMap { if case .failed(let f) = $0 { f.reason } else { nil } }
        #expect(reasons == [.evicted])
        #expect(r.pendingBytes == 40_000 && r.pendingCount == 1)
    }

    @Test func malformedFragmentSequences() throws {
        let frames = fragmentIPv4(packet, chunk: 24)
        let header = Array(frames[0][0..<20])
        let cases: [(String, [[UInt8]], ReassemblyFailure.Reason)] = [
            ("MF fragment not a multiple of 8", [ipv4Fragment(header: header, data: [1, 2, 3], offset: 0, more: true)],
             .misalignedFragment(offset: 0, length: 3)),
            ("past 65535", [ipv4Fragment(header: header, data: [UInt8](repeating: 0, count: 16), offset: 65_520, more: false)],
             .inconsistentLength(offset: 65_520, length: 16)),
            ("two different ends", [frames[4], ipv4Fragment(header: header, data: [UInt8](repeating: 0, count: 8), offset: 96, more: false)],
             .inconsistentLength(offset: 96, length: 8)),
            ("data past the end", [frames[4], ipv4Fragment(header: header, data: [UInt8](repeating: 0, count: 24), offset: 104, more: true)],
             .inconsistentLength(offset: 104, length: 24)),
            ("end before data already held", [frames[3], ipv4Fragment(header: header, data: [UInt8](repeating: 0, count: 8), offset: 48, more: false)],
             .inconsistentLength(offset: 48, length: 8)),
        ]
        for (name, frames, reason) in cases {
            var r = IPv4Reassembler()
            let events = feed(&r, try fragments(frames))
            let reasons: [ReassemblyFailure.Reason] = events.compactMap { if case .failed(let f) = $0 { f.reason } else { nil } }
            #expect(reasons == [reason], "\(name)")
        }
    }

    @Test func reassembledDatagramWithBadUDPHeaderIsAFailure() throws {
        var bad = packet
        bad[24] = 0xFF; bad[25] = 0xFF  // UDP length 65535
        var r = IPv4Reassembler()
        let events = feed(&r, try fragments(fragmentIPv4(bad, chunk: 24)))
        guard case .failed(let f) = events.first else { Issue.record("\(events)"); return }
        #expect(f.reason == .badDatagram(FrameDecodeError(.badUDPLength(0xFFFF, ipPayloadLength: 108), at: 4)))
    }

    @Test func randomFragmentStreamsStayWithinBounds() throws {
        let seed: UInt64 = 0xF4A6
        var rng = SplitMix64(seed: seed)
        var r = IPv4Reassembler(maxPendingDatagrams: 16, maxPendingBytes: 100_000, timeout: .seconds(5))
        var completed = 0, failed = 0
        for i in 0..<20_000 {
            let key = IPv4Fragment.Key(source: hostA, destination: hostB, ipProtocol: 17,
                                       identification: UInt16.random(in: 0..<40, using: &rng))
            let offset = Int.random(in: 0..<12, using: &rng) * 8
            let length = [0, 3, 8, 16, 24, 4000].randomElement(using: &rng)!
            let data = [UInt8](repeating: UInt8.random(in: 0...1, using: &rng), count: length)
            let f = IPv4Fragment(key: key, timestamp: CaptureTimestamp(seconds: Int64(i / 200), nanoseconds: 0),
                                 offset: offset, moreFragments: Bool.random(using: &rng), data: data,
                                 link: LinkInfo(linkType: .raw), hopLimit: 64, recordIndex: i)
            for event in r.add(f) {
                if case .reassembled = event { completed += 1 } else { failed += 1 }
            }
            #expect(r.pendingCount <= 16 && r.pendingBytes <= 100_000, "seed \(seed) step \(i)")
        }
        failed += r.finish().count
        #expect(r.pendingCount == 0 && r.pendingBytes == 0)
        #expect(completed > 0 && failed > 0, "seed \(seed): \(completed) completed, \(failed) failed")
    }

    @Test func nonUDPFragmentsAreSkipped() throws {
        var tcp = fragmentIPv4(packet, chunk: 24)[1]
        tcp[9] = 6
        fixIPv4HeaderChecksum(&tcp)
        #expect(try FrameDecoder().decode(tcp, linkType: .raw).skipReason == .notUDP(ipProtocol: 6))
    }

    @Test func captureWithFragmentsThroughAnalyzeCapture() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("frag.pcap")
        let writer = try CaptureWriter(path: path, linkType: .ethernet)
        var frames = fragmentIPv4(packet, chunk: 24).map { macB.bytes + macA.bytes + [0x08, 0x00] + $0 }
        frames.swapAt(0, 3)
        // An ARP frame in between, and an incomplete second datagram.
        frames.insert(macB.bytes + macA.bytes + [0x08, 0x06] + [UInt8](repeating: 0, count: 28), at: 2)
        let lonely = fragmentIPv4(sampleIPv4Packet(payload: payload, identification: 99), chunk: 24)[0]
        frames.append(macB.bytes + macA.bytes + [0x08, 0x00] + lonely)
        for (i, f) in frames.enumerated() {
            try writer.write(f, timestamp: CaptureTimestamp(seconds: Int64(i), nanoseconds: 0))
        }
        try writer.close()
        let analysis = try analyzeCapture(atPath: path)
        #expect(analysis.recordCount == 7)
        #expect(analysis.datagrams.count == 1)
        let d = try #require(analysis.datagrams.first)
        #expect(d.payload == payload && d.fragmentCount == 5 && d.recordIndex == 5)
        #expect(d.sourceMAC == macA)
        #expect(analysis.skipped == [SkippedRecord(recordIndex: 2, reason: .notIP(etherType: 0x0806))])
        #expect(analysis.reassemblyFailures.map(\.reason) == [.incompleteAtEnd])
        #expect(analysis.reassemblyFailures.first?.recordIndices == [6])
        #expect(try udpDatagrams(inFile: path, port: 68).count == 1)
    }
}

@Suite("Addresses and timestamps")
struct AddressTests {
    @Test(arguments: [
        ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"), ("192.0.2.1", "192.0.2.1"),
        ("::", "::"), ("::1", "::1"), ("2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"), ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1"),
        ("fe80::1:0:0:1", "fe80::1:0:0:1"), ("1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"),
        ("::ffff:192.0.2.1", "::ffff:c000:201"), ("ff02::1:2", "ff02::1:2"),
    ])
    func textRoundTrip(input: String, canonical: String) throws {
        let a = try #require(IPAddress(input))
        #expect(a.description == canonical)
        #expect(IPAddress(canonical) == a)
        #expect(IPAddress(bytes: a.bytes) == a)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "::1::", "1:2:3:4:5:6:7:8:9",
                      "12345::", "g::", ":1", "1.2.3.4::", "+1.2.3.4"])
    func invalidText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func macAndTimestamp() {
        #expect(MACAddress("02:00:5E:10:00:FF")?.description == "02:00:5e:10:00:ff")
        #expect(MACAddress("02:00:5e:10:00") == nil)
        #expect(MACAddress("02:00:5e:10:00:+f") == nil)
        #expect(MACAddress(bytes: [1, 2, 3, 4, 5, 6])?.description == "01:02:03:04:05:06")
        let t = CaptureTimestamp(seconds: 1, microseconds: 2_500_000)
        #expect(t == CaptureTimestamp(seconds: 3, nanoseconds: 500_000_000))
        #expect(t.description == "3.500000000")
        #expect(t.duration(since: CaptureTimestamp(seconds: 1, nanoseconds: 750_000_000)) == .milliseconds(1750))
        #expect(UDPEndpoint(IPAddress("fe80::1")!, 547).description == "[fe80::1]:547")
    }

    @Test func frameBuilderErrors() {
        #expect(throws: FrameBuildError.mixedAddressFamilies(source: hostA, destination: IPAddress("::1")!)) {
            try FrameBuilder.udpFrame(from: UDPEndpoint(hostA, 1), to: UDPEndpoint(IPAddress("::1")!, 2), payload: [])
        }
        #expect(throws: FrameBuildError.payloadTooLarge(65_508)) {
            try FrameBuilder.udpFrame(from: UDPEndpoint(hostA, 1), to: UDPEndpoint(hostB, 2), payload: [UInt8](repeating: 0, count: 65_508))
        }
        let d = UDPDatagram(source: UDPEndpoint(IPAddress("::1")!, 1), destination: UDPEndpoint(IPAddress("::2")!, 2), payload: [])
        #expect(throws: FrameBuildError.linkTypeCannotCarry(.ipv4, IPAddress("::1")!)) {
            try FrameBuilder.frame(for: d, linkType: .ipv4)
        }
    }
}
