import PcapKit
import Testing
import TestSupport

@Suite("Frame decoding")
struct DecoderTests {
    let decoder = FrameDecoder()
    let packet = sampleIPv4Packet()  // hostA:68 → hostB:67, "hello, bootd"
    let payload = Array("hello, bootd".utf8)

    func expectSample(_ frame: [UInt8], _ linkType: LinkType,
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> UDPDatagram {
        let d = try #require(try decoder.decode(frame, linkType: linkType).datagram, sourceLocation: sourceLocation)
        #expect(d.source == UDPEndpoint(hostA, 68), sourceLocation: sourceLocation)
        #expect(d.destination == UDPEndpoint(hostB, 67), sourceLocation: sourceLocation)
        #expect(d.payload == payload, sourceLocation: sourceLocation)
        #expect(d.checksum == .valid, sourceLocation: sourceLocation)
        #expect(d.link.linkType == linkType, sourceLocation: sourceLocation)
        return d
    }

    @Test func ethernetWithPaddingIsTrimmed() throws {
        let frame = macB.bytes + macA.bytes + [0x08, 0x00] + packet + [UInt8](repeating: 0xEE, count: 20)
        let d = try expectSample(frame, .ethernet)
        #expect(d.sourceMAC == macA && d.destinationMAC == macB && d.vlan == nil)
        #expect(d.hopLimit == 64 && d.fragmentCount == 1)
    }

    @Test func vlanTaggedEthernet() throws {
        // 802.1Q alone, then 802.1ad outer + 802.1Q inner (QinQ).
        let single = macB.bytes + macA.bytes + [0x81, 0x00, 0xA0, 0x2A, 0x08, 0x00] + packet
        let d1 = try expectSample(single, .ethernet)
        #expect(d1.link.vlanTags == [VLANTag(tpid: 0x8100, priority: 5, id: 42)])
        #expect(d1.vlan == 42)
        let qinq = macB.bytes + macA.bytes + [0x88, 0xA8, 0x10, 0x64, 0x81, 0x00, 0x00, 0x07, 0x08, 0x00] + packet
        let d2 = try expectSample(qinq, .ethernet)
        #expect(d2.link.vlanTags == [VLANTag(tpid: 0x88A8, dropEligible: true, id: 100), VLANTag(id: 7)])
        #expect(d2.vlan == 7)
        // What FrameBuilder writes decodes the same.
        let built = try FrameBuilder.udpFrame(from: UDPEndpoint(hostA, 68), to: UDPEndpoint(hostB, 67), payload: payload,
                                              link: .ethernet(source: macA, destination: macB,
                                                              vlan: VLANTag(priority: 5, id: 42)), identification: 7)
        #expect(built == single)
    }

    @Test func linuxCookedV1() throws {
        // packet type 4 (outgoing), ARPHRD_ETHER, address length 6, address + 2 pad, protocol.
        let header: [UInt8] = [0, 4, 0, 1, 0, 6] + macA.bytes + [0, 0] + [0x08, 0x00]
        let d = try expectSample(header + packet, .linuxSLL)
        #expect(d.link.packetType == 4)
        #expect(d.sourceMAC == macA && d.destinationMAC == nil)
        #expect(d.link.interfaceIndex == nil)
    }

    @Test func linuxCookedV2() throws {
        // protocol, reserved, ifindex 3, ARPHRD_ETHER, packet type 1 (broadcast), addr len 6, address.
        let header: [UInt8] = [0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 1, 6] + macA.bytes + [0, 0]
        let d = try expectSample(header + packet, .linuxSLL2)
        #expect(d.link.interfaceIndex == 3)
        #expect(d.link.packetType == 1)
        #expect(d.sourceMAC == macA)
    }

    @Test(arguments: [LinkType.raw, .dltRaw, .ipv4])
    func rawIPv4(linkType: LinkType) throws {
        _ = try expectSample(packet, linkType)
    }

    @Test func rawIPv6AndLinkTypeIPv6() throws {
        let src = UDPEndpoint(IPAddress("2001:db8::10")!, 546), dst = UDPEndpoint(IPAddress("ff02::1:2")!, 547)
        let p6 = try FrameBuilder.ipPacket(from: src, to: dst, payload: payload, hopLimit: 1)
        #expect(verifyIPv6UDPChecksum(p6))
        for linkType in [LinkType.raw, .ipv6] {
            let d = try #require(try decoder.decode(p6, linkType: linkType).datagram)
            #expect(d.source == src && d.destination == dst && d.payload == payload)
            #expect(d.hopLimit == 1 && d.checksum == .valid)
        }
        // An IPv4 packet on the IPv6-only link type is an error, not a guess.
        #expect(throws: FrameDecodeError(.badIPVersion(4), at: 0)) { try decoder.decode(packet, linkType: .ipv6) }
    }

    @Test func bsdLoopbackBothByteOrders() throws {
        _ = try expectSample([2, 0, 0, 0] + packet, .null)   // little-endian host
        _ = try expectSample([0, 0, 0, 2] + packet, .null)   // big-endian host
        _ = try expectSample([0, 0, 0, 2] + packet, .loop)
        #expect(try decoder.decode([7, 0, 0, 0] + packet, linkType: .null).skipReason == .unknownAddressFamily(7))
    }

    @Test func ipv6ExtensionHeadersAreSkipped() throws {
        let src = UDPEndpoint(IPAddress("fe80::1")!, 546), dst = UDPEndpoint(IPAddress("ff02::1:2")!, 547)
        let p6 = try FrameBuilder.ipPacket(from: src, to: dst, payload: payload)
        let udp = Array(p6[40...])
        // Hop-by-hop (8 bytes, PadN) → destination options (16 bytes) → UDP.
        let hop: [UInt8] = [60, 0, 1, 4, 0, 0, 0, 0]
        let dest: [UInt8] = [17, 1, 1, 12] + [UInt8](repeating: 0, count: 12)
        var header = Array(p6[0..<40])
        let len = hop.count + dest.count + udp.count
        header[4] = UInt8(len >> 8); header[5] = UInt8(len & 0xFF); header[6] = 0
        let d = try #require(try decoder.decode(header + hop + dest + udp, linkType: .raw).datagram)
        #expect(d.source == src && d.destination == dst && d.payload == payload && d.checksum == .valid)

        // A fragment header is reported, not decoded.
        var fh = Array(p6[0..<40])
        fh[4] = 0; fh[5] = 16; fh[6] = 44
        let frag: [UInt8] = [17, 0, 0x00, 0x01, 0xDE, 0xAD, 0xBE, 0xEF] + [UInt8](repeating: 0, count: 8)
        #expect(try decoder.decode(fh + frag, linkType: .raw).skipReason
                == .ipv6Fragment(identification: 0xDEAD_BEEF, offset: 0, moreFragments: true))
    }

    @Test func nonUDPFramesAreSkippedWithAReason() throws {
        let arp = macB.bytes + macA.bytes + [0x08, 0x06] + [UInt8](repeating: 0, count: 28)
        #expect(try decoder.decode(arp, linkType: .ethernet).skipReason == .notIP(etherType: 0x0806))
        let llc = macB.bytes + macA.bytes + [0x00, 0x26] + [UInt8](repeating: 0, count: 38)
        #expect(try decoder.decode(llc, linkType: .ethernet).skipReason == .notIP(etherType: 0x0026))
        for proto: UInt8 in [1, 6] {  // ICMP, TCP
            var p = packet
            p[9] = proto
            fixIPv4HeaderChecksum(&p)
            #expect(try decoder.decode(p, linkType: .raw).skipReason == .notUDP(ipProtocol: proto))
        }
        let icmp6 = [0x60, 0, 0, 0, 0, 8, 58, 255] + [UInt8](repeating: 0, count: 32) + [128, 0, 0, 0, 0, 0, 0, 0]
        #expect(try decoder.decode(icmp6, linkType: .raw).skipReason == .notUDP(ipProtocol: 58))
        #expect(try decoder.decode(packet, linkType: LinkType(rawValue: 127)).skipReason
                == .unsupportedLinkType(LinkType(rawValue: 127)))
    }

    @Test func badUDPChecksumIsReportedNotRejected() throws {
        var p = packet
        p[26] ^= 0xFF
        let d = try #require(try decoder.decode(p, linkType: .raw).datagram)
        guard case .invalid = d.checksum else { Issue.record("expected invalid, got \(d.checksum)"); return }
        p[26] = 0; p[27] = 0
        #expect(try decoder.decode(p, linkType: .raw).datagram?.checksum == .absent)
    }

    @Test func headerChecksumCheckCanBeTurnedOff() throws {
        var p = packet
        p[10] ^= 1
        #expect(throws: FrameDecodeError.self) { try decoder.decode(p, linkType: .raw) }
        #expect(try FrameDecoder(verifyIPv4HeaderChecksum: false).decode(p, linkType: .raw).datagram != nil)
    }

    /// Malformed inputs, each with the exact error expected.
    static func malformedCases() -> [(String, [UInt8], LinkType, FrameDecodeError)] {
        let p = sampleIPv4Packet()  // 20 + 8 + 12 = 40 bytes
        let eth = macB.bytes + macA.bytes + [0x08, 0x00]
        func ip(_ edit: (inout [UInt8]) -> Void, fix: Bool = true) -> [UInt8] {
            var q = p
            edit(&q)
            if fix && q.count >= 20 && q[0] & 0x0F >= 5 && Int(q[0] & 0x0F) * 4 <= q.count { fixIPv4HeaderChecksum(&q) }
            return q
        }
        let v6 = try! FrameBuilder.ipPacket(from: UDPEndpoint(IPAddress("fe80::1")!, 1),
                                            to: UDPEndpoint(IPAddress("fe80::2")!, 2), payload: [1, 2, 3, 4])
        func v6With(next: UInt8, ext: [UInt8]) -> [UInt8] {
            var h = Array(v6[0..<40])
            h[4] = UInt8(ext.count >> 8); h[5] = UInt8(ext.count & 0xFF); h[6] = next
            return h + ext
        }
        let destOpts = (0..<17).flatMap { _ in [60, 0, 1, 4, 0, 0, 0, 0] as [UInt8] }
        return [
            ("ethernet short", Array(eth.prefix(10)), .ethernet, .init(.truncated(.ethernet, needed: 14, available: 10), at: 0)),
            ("vlan tag short", macB.bytes + macA.bytes + [0x81, 0x00, 0x00], .ethernet,
             .init(.truncated(.vlanTag, needed: 4, available: 1), at: 14)),
            ("SLL short", [UInt8](repeating: 0, count: 15), .linuxSLL, .init(.truncated(.linuxCooked, needed: 16, available: 15), at: 0)),
            ("SLL2 short", [UInt8](repeating: 0, count: 19), .linuxSLL2, .init(.truncated(.linuxCooked2, needed: 20, available: 19), at: 0)),
            ("loopback short", [2, 0, 0], .null, .init(.truncated(.loopback, needed: 4, available: 3), at: 0)),
            ("raw empty", [], .raw, .init(.truncated(.ipv4, needed: 1, available: 0), at: 0)),
            ("raw version 7", [0x70] + Array(p.dropFirst()), .raw, .init(.badIPVersion(7), at: 0)),
            ("ipv4 header short", eth + Array(p.prefix(10)), .ethernet, .init(.truncated(.ipv4, needed: 20, available: 10), at: 14)),
            ("ipv4 version 5 on IPv4 ethertype", eth + ip({ $0[0] = 0x55 }, fix: false), .ethernet, .init(.badIPVersion(5), at: 14)),
            ("ipv4 IHL 4", ip({ $0[0] = 0x44 }, fix: false), .ipv4, .init(.badIPv4HeaderLength(4), at: 0)),
            ("ipv4 IHL 15 > captured", Array(ip({ $0[0] = 0x4F }, fix: false).prefix(30)), .ipv4,
             .init(.truncated(.ipv4, needed: 60, available: 30), at: 0)),
            ("ipv4 total length < header", ip({ $0[2] = 0; $0[3] = 19 }), .raw, .init(.badIPv4TotalLength(19), at: 2)),
            ("ipv4 total length > captured", ip({ $0[2] = 0; $0[3] = 41 }), .raw,
             .init(.truncated(.ipv4Payload, needed: 41, available: 40), at: 0)),
            ("ipv4 bad header checksum", ip({ $0[10] = 0xAB; $0[11] = 0xCD }, fix: false), .raw,
             .init(.badIPv4HeaderChecksum(found: 0xABCD, expected: UInt16(p[10]) << 8 | UInt16(p[11])), at: 10)),
            ("udp header short", ip({ $0 = Array($0.prefix(24)); $0[2] = 0; $0[3] = 24 }), .raw,
             .init(.truncated(.udp, needed: 8, available: 4), at: 20)),
            ("udp length 7", ip({ $0[24] = 0; $0[25] = 7 }), .raw, .init(.badUDPLength(7, ipPayloadLength: 20), at: 24)),
            ("udp length > ip payload", ip({ $0[24] = 0; $0[25] = 21 }), .raw, .init(.badUDPLength(21, ipPayloadLength: 20), at: 24)),
            ("ipv6 header short", Array(v6.prefix(39)), .raw, .init(.truncated(.ipv6, needed: 40, available: 39), at: 0)),
            ("ipv6 payload length > captured", Array(v6.dropLast()), .ipv6, .init(.truncated(.ipv6Payload, needed: 52, available: 51), at: 0)),
            ("ipv6 extension header short", v6With(next: 0, ext: [17, 0, 0, 0]), .raw,
             .init(.truncated(.ipv6ExtensionHeader, needed: 8, available: 4), at: 40)),
            ("ipv6 extension header length > payload", v6With(next: 60, ext: [17, 1, 0, 0, 0, 0, 0, 0]), .raw,
             .init(.truncated(.ipv6ExtensionHeader, needed: 16, available: 8), at: 40)),
            ("ipv6 too many extension headers", v6With(next: 60, ext: destOpts), .raw,
             .init(.tooManyExtensionHeaders, at: 40 + 17 * 8)),
            ("ipv6 udp short", v6With(next: 17, ext: [0, 1, 0, 2]), .raw, .init(.truncated(.udp, needed: 8, available: 4), at: 40)),
            ("ipv6 udp length > payload", v6With(next: 17, ext: [0, 1, 0, 2, 0, 9, 0, 0]), .raw,
             .init(.badUDPLength(9, ipPayloadLength: 8), at: 44)),
        ]
    }

    @Test func malformedFramesGiveTheExactError() {
        for (name, frame, linkType, expected) in Self.malformedCases() {
            #expect(throws: expected, "\(name)") { try decoder.decode(frame, linkType: linkType) }
        }
    }

    @Test func everyTruncationOfEveryValidFrameIsHandled() throws {
        // Cut each valid frame at every length: a typed error or (for lengths that
        // still hold the whole datagram) the datagram; never a crash.
        let frames: [([UInt8], LinkType)] = [
            (macB.bytes + macA.bytes + [0x81, 0x00, 0, 5, 0x08, 0x00] + packet, .ethernet),
            ([0, 0, 0, 1, 0, 6] + macA.bytes + [0, 0, 0x08, 0x00] + packet, .linuxSLL),
            ([0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 1, 6] + macA.bytes + [0, 0] + packet, .linuxSLL2),
            (try FrameBuilder.ipPacket(from: UDPEndpoint(IPAddress("::1")!, 1), to: UDPEndpoint(IPAddress("::2")!, 2),
                                       payload: payload), .raw),
        ]
        for (frame, linkType) in frames {
            for n in 0..<frame.count {
                #expect(throws: FrameDecodeError.self, "\(linkType) cut at \(n)") {
                    try decoder.decode(Array(frame.prefix(n)), linkType: linkType)
                }
            }
            #expect(try decoder.decode(frame, linkType: linkType).datagram?.payload == payload)
        }
    }

    @Test func randomlyMutatedFramesNeverCrash() throws {
        let seed: UInt64 = 0x5EED_B007
        var rng = SplitMix64(seed: seed)
        let v6 = try FrameBuilder.ipPacket(from: UDPEndpoint(IPAddress("fe80::1")!, 546),
                                           to: UDPEndpoint(IPAddress("ff02::1:2")!, 547), payload: payload)
        let bases: [([UInt8], LinkType)] = [
            (macB.bytes + macA.bytes + [0x81, 0x00, 0, 5, 0x08, 0x00] + packet, .ethernet),
            (macB.bytes + macA.bytes + [0x86, 0xDD] + v6, .ethernet),
            ([0, 0, 0, 1, 0, 6] + macA.bytes + [0, 0, 0x08, 0x00] + packet, .linuxSLL),
            ([0x86, 0xDD, 0, 0, 0, 0, 0, 3, 0, 1, 1, 6] + macA.bytes + [0, 0] + v6, .linuxSLL2),
            (packet, .raw), (v6, .raw), ([2, 0, 0, 0] + packet, .null),
            (fragmentIPv4(sampleIPv4Packet(payload: Array(repeating: 9, count: 64)), chunk: 24)[1], .raw),
        ]
        let linkTypes: [LinkType] = [.ethernet, .linuxSLL, .linuxSLL2, .raw, .ipv4, .ipv6, .null, .loop]
        var outcomes = (datagrams: 0, fragments: 0, skipped: 0, errors: 0)
        var reassembler = IPv4Reassembler(maxPendingDatagrams: 8, maxPendingBytes: 70_000)
        for i in 0..<50_000 {
            var (frame, linkType) = bases[i % bases.count]
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                switch Int.random(in: 0..<6, using: &rng) {
                case 0 where !frame.isEmpty, 1 where !frame.isEmpty:  // flip a byte, biased to headers
                    let at = Int.random(in: 0..<min(frame.count, 64), using: &rng)
                    frame[at] = UInt8.random(in: 0...255, using: &rng)
                case 2 where !frame.isEmpty:
                    frame.removeLast(Int.random(in: 0...frame.count, using: &rng))
                case 3:
                    frame += rng.bytes(Int.random(in: 0...8, using: &rng))
                case 4:
                    linkType = linkTypes.randomElement(using: &rng)!
                default:
                    if frame.count > 2 { frame.remove(at: Int.random(in: 0..<frame.count, using: &rng)) }
                }
            }
            do {
                switch try decoder.decode(frame, linkType: linkType) {
                case .datagram: outcomes.datagrams += 1
                case .fragment(let f): outcomes.fragments += 1; _ = reassembler.add(f)
                case .skipped: outcomes.skipped += 1
                }
            } catch {
                outcomes.errors += 1
            }
        }
        _ = reassembler.finish()
        // Every branch was exercised (seed \(seed)).
        #expect(outcomes.datagrams > 0 && outcomes.fragments > 0 && outcomes.skipped > 0 && outcomes.errors > 0,
                "seed \(seed): \(outcomes)")
        #expect(reassembler.pendingCount == 0 && reassembler.pendingBytes == 0)
    }
}
