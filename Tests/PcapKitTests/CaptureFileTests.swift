import Foundation
import PcapKit
import Testing

@Suite("Capture files")
struct CaptureFileTests {
    @Test func writeSynthesizedFramesThenReadAndDecode() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("out.pcap")
        let v6a = IPAddress("fe80::1")!, v6b = IPAddress("ff02::1:2")!
        let cases: [(UDPEndpoint, UDPEndpoint, [UInt8])] = [
            (UDPEndpoint(.v4Any, 68), UDPEndpoint(.v4Broadcast, 67), Array(repeating: 0x42, count: 300)),
            (UDPEndpoint(hostB, 67), UDPEndpoint(hostA, 68), Array("offer".utf8)),
            (UDPEndpoint(hostA, 50_000), UDPEndpoint(hostB, 69), []),
            (UDPEndpoint(hostA, 1), UDPEndpoint(hostB, 2), [0xFF]),  // odd length
            (UDPEndpoint(v6a, 546), UDPEndpoint(v6b, 547), Array("solicit".utf8)),
        ]
        let writer = try CaptureWriter(path: path, linkType: .ethernet)
        var frames: [[UInt8]] = []
        for (i, (src, dst, payload)) in cases.enumerated() {
            let frame = try FrameBuilder.udpFrame(from: src, to: dst, payload: payload,
                                                  link: .ethernet(source: macA, destination: macB),
                                                  identification: UInt16(i))
            frames.append(frame)
            try writer.write(frame, timestamp: CaptureTimestamp(seconds: 1_700_000_000 + Int64(i), microseconds: 123_456))
        }
        #expect(writer.recordCount == cases.count)
        try writer.close()
        try writer.close()  // idempotent

        // Checksums verified by an independent computation.
        for (frame, c) in zip(frames, cases) {
            let packet = Array(frame[14...])
            if c.0.address.isIPv4 {
                let ok = verifyIPv4UDPChecksums(packet)
                #expect(ok.header && ok.udp)
            } else {
                #expect(verifyIPv6UDPChecksum(packet))
            }
        }

        let reader = try CaptureReader(path: path)
        #expect(reader.linkType == .ethernet)
        let records = try reader.readAll()
        #expect(records.count == cases.count)
        #expect(records.map(\.bytes) == frames)
        #expect(records[2].timestamp == CaptureTimestamp(seconds: 1_700_000_002, nanoseconds: 123_456_000))

        let datagrams = try udpDatagrams(inFile: path)
        #expect(datagrams.count == cases.count)
        for (d, c) in zip(datagrams, cases) {
            #expect(d.source == c.0)
            #expect(d.destination == c.1)
            #expect(d.payload == c.2)
            #expect(d.checksum == .valid)
            #expect(d.sourceMAC == macA)
            #expect(d.destinationMAC == macB)
            #expect(d.link.linkType == .ethernet)
        }
        #expect(datagrams.map(\.recordIndex) == [0, 1, 2, 3, 4])
        #expect(try udpDatagrams(inFile: path, port: 67).count == 2)
        #expect(try udpDatagrams(inFile: path, port: 547).map(\.source) == [UDPEndpoint(v6a, 546)])
    }

    @Test func rawLinkTypeAndNanosecondPrecision() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("raw.pcap")
        let writer = try CaptureWriter(path: path, linkType: .raw, precision: .nanoseconds)
        let ts = CaptureTimestamp(seconds: 42, nanoseconds: 987_654_321)
        try writer.write(sampleIPv4Packet(), timestamp: ts)
        try writer.close()
        let reader = try CaptureReader(path: path)
        // libpcap reports the file's LINKTYPE_RAW as DLT_RAW; PcapKit maps it back.
        #expect(reader.linkType == .raw)
        let record = try #require(try reader.read())
        #expect(record.timestamp == ts)
        #expect(try reader.read() == nil)
        #expect(try FrameDecoder().decode(record).datagram?.payload == Array("hello, bootd".utf8))
    }

    @Test func snapshotLengthTruncatesAndIsReported() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("snap.pcap")
        let frame = try FrameBuilder.udpFrame(from: UDPEndpoint(hostA, 68), to: UDPEndpoint(hostB, 67),
                                              payload: Array(repeating: 1, count: 200),
                                              link: .ethernet(source: macA, destination: macB))
        let writer = try CaptureWriter(path: path, linkType: .ethernet, snapshotLength: 64)
        try writer.write(frame, timestamp: .zero)
        try writer.close()
        let analysis = try analyzeCapture(atPath: path)
        #expect(analysis.truncatedRecordIndices == [0])
        #expect(analysis.datagrams.isEmpty)
        #expect(analysis.malformed == [MalformedRecord(recordIndex: 0, error: FrameDecodeError(
            .truncated(.ipv4Payload, needed: frame.count - 14, available: 50), at: 14))])
        let record = try #require(try CaptureReader(path: path).read())
        #expect(record.capturedLength == 64 && record.originalLength == frame.count && record.isTruncated)
    }

    @Test func writerRejectsWritesAfterClose() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("closed.pcap")
        let writer = try CaptureWriter(path: path, linkType: .raw, flushEachRecord: false)
        try writer.write(sampleIPv4Packet(), timestamp: .zero)
        try writer.flush()
        // Flushed records are readable while the writer is still open.
        #expect(try CaptureReader(path: path).readAll().count == 1)
        try writer.close()
        #expect(throws: CaptureError.writerClosed(path: path)) {
            try writer.write(sampleIPv4Packet(), timestamp: .zero)
        }
        #expect(throws: CaptureError.writerClosed(path: path)) { try writer.flush() }
    }

    @Test func writerCannotCreateInMissingDirectory() throws {
        #expect {
            try CaptureWriter(path: "/nonexistent-pcapkit-dir/x.pcap", linkType: .ethernet)
        } throws: { error in
            guard case .cannotCreate(_, let message) = error as? CaptureError else { return false }
            return message.contains("No such file or directory")
        }
    }

    @Test func readFromMemory() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("m.pcap")
        let writer = try CaptureWriter(path: path, linkType: .raw)
        for i in 0..<3 { try writer.write(sampleIPv4Packet(identification: UInt16(i)), timestamp: .zero) }
        try writer.close()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let reader = try CaptureReader(bytes: bytes)
        #expect(reader.path == nil)
        #expect(Array(reader).count == 3)
        #expect(reader.error == nil)
    }

    @Test func pcapngWithNanosecondResolution() throws {
        let packet = sampleIPv4Packet()
        let frame = try FrameBuilder.udpFrame(from: UDPEndpoint(hostA, 68), to: UDPEndpoint(hostB, 67),
                                              payload: Array("hello, bootd".utf8),
                                              link: .ethernet(source: macA, destination: macB), identification: 7)
        let ts: UInt64 = 1_700_000_000 * 1_000_000_000 + 5
        let bytes = handMadePcapng(linkType: 1, tsresol: 9, packets: [
            (ts, frame, frame.count),
            (ts + 1_000_000_000, Array(frame.prefix(20)), frame.count),  // truncated by snaplen
        ])
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("hand.pcapng")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        for reader in [try CaptureReader(path: path), try CaptureReader(bytes: bytes)] {
            #expect(reader.linkType == .ethernet)
            let records = try reader.readAll()
            #expect(records.count == 2)
            #expect(records[0].timestamp == CaptureTimestamp(seconds: 1_700_000_000, nanoseconds: 5))
            #expect(records[0].bytes == frame && !records[0].isTruncated)
            #expect(records[1].isTruncated && records[1].originalLength == frame.count)
            #expect(records[1].timestamp == CaptureTimestamp(seconds: 1_700_000_001, nanoseconds: 5))
        }
        let analysis = try analyzeCapture(atPath: path)
        #expect(analysis.datagrams.count == 1)
        #expect(analysis.datagrams.first?.payload == Array(packet[28...]))
        #expect(analysis.truncatedRecordIndices == [1])
        #expect(analysis.malformed.map(\.recordIndex) == [1])
    }

    @Test func pcapngWithDefaultMicrosecondResolution() throws {
        let packet = sampleIPv4Packet()
        let bytes = handMadePcapng(linkType: 101, tsresol: nil, packets: [(1_500_000_250_000, packet, packet.count)])
        let records = try CaptureReader(bytes: bytes).readAll()
        #expect(records.map(\.timestamp) == [CaptureTimestamp(seconds: 1_500_000, microseconds: 250_000)])
        #expect(try FrameDecoder().decode(records[0]).datagram?.destination == UDPEndpoint(hostB, 67))
    }

    @Test func missingFileIsAClearError() {
        #expect {
            try CaptureReader(path: "/nonexistent/pcapkit.pcap")
        } throws: { error in
            guard case .cannotOpen(let path, let message) = error as? CaptureError else { return false }
            return path == "/nonexistent/pcapkit.pcap" && message.contains("No such file or directory")
        }
    }

    @Test func nonCaptureFileIsAClearError() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("notes.txt")
        try Data("[bootpd]\naccess = mac\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            try CaptureReader(path: path)
        } throws: { error in
            guard case .cannotOpen(_, let message) = error as? CaptureError else { return false }
            return message.contains("unknown file format")
        }
        #expect(throws: CaptureError.self) { try CaptureReader(bytes: []) }
        #expect(throws: CaptureError.self) { try CaptureReader(bytes: Array("not a capture".utf8)) }
    }

    @Test func truncatedFileIsAReadError() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("t.pcap")
        let writer = try CaptureWriter(path: path, linkType: .raw)
        try writer.write(sampleIPv4Packet(), timestamp: .zero)
        try writer.write(sampleIPv4Packet(), timestamp: .zero)
        try writer.close()
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        // Cut inside the second record's data, then inside its header.
        for (cut, expected) in [(5, "captured bytes"), (40 + 8, "header bytes")] {
            let reader = try CaptureReader(bytes: Array(whole.dropLast(cut)))
            #expect(try reader.read() != nil)
            #expect {
                try reader.read()
            } throws: { error in
                guard case .readFailed(nil, 1, let message) = error as? CaptureError else { return false }
                return message.contains(expected)
            }
        }
        // Through the Sequence interface the error is kept, not thrown.
        let reader = try CaptureReader(bytes: Array(whole.dropLast(3)))
        #expect(Array(reader).count == 1)
        #expect(reader.error != nil)
        // And through analyzeCapture it is thrown.
        try Data(whole.dropLast(3)).write(to: URL(fileURLWithPath: path))
        #expect(throws: CaptureError.self) { try analyzeCapture(atPath: path) }
    }

    static let tsharkPath = "/usr/bin/tshark"

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: tsharkPath),
                   "tshark is not installed at /usr/bin/tshark"))
    func tsharkDecodesWhatWeWrite() throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("tshark.pcap")
        let writer = try CaptureWriter(path: path, linkType: .ethernet)
        try writer.write(FrameBuilder.udpFrame(from: UDPEndpoint(.v4Any, 68), to: UDPEndpoint(.v4Broadcast, 67),
                                               payload: Array(repeating: 0, count: 240),
                                               link: .ethernet(source: macA, destination: .broadcast,
                                                               vlan: VLANTag(id: 42))), timestamp: .zero)
        try writer.write(FrameBuilder.udpFrame(from: UDPEndpoint(IPAddress("2001:db8::1")!, 1069),
                                               to: UDPEndpoint(IPAddress("2001:db8::2")!, 69),
                                               payload: Array("\u{0}\u{1}pxelinux.0\u{0}octet\u{0}".utf8),
                                               link: .ethernet(source: macA, destination: macB)), timestamp: .zero)
        try writer.close()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.tsharkPath)
        process.arguments = ["-n", "-r", path, "-o", "udp.check_checksum:TRUE", "-T", "fields",
                             "-e", "ip.src", "-e", "ipv6.src", "-e", "udp.srcport", "-e", "udp.dstport",
                             "-e", "udp.checksum.status", "-e", "vlan.id", "-E", "separator=,"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = Pipe()
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
        // udp.checksum.status 1 is "Good" (0 bad, 2 unverified).
        #expect(lines == ["0.0.0.0,,68,67,1,42", ",2001:db8::1,1069,69,1,"])
    }
}

@Suite("Capture writer under concurrency")
struct CaptureWriterConcurrencyTests {
    @Test func concurrentWritersProduceWholeRecords() async throws {
        let dir = try TempDir()
        defer { dir.cleanup() }
        let path = dir.path("concurrent.pcap")
        let writer = try CaptureWriter(path: path, linkType: .raw)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for i in 0..<50 {
                        try writer.write(sampleIPv4Packet(payload: [UInt8(task), UInt8(i)], identification: UInt16(task * 100 + i)),
                                         timestamp: CaptureTimestamp(seconds: Int64(i), nanoseconds: 0))
                    }
                }
            }
            try await group.waitForAll()
        }
        try writer.close()
        let datagrams = try udpDatagrams(inFile: path)
        #expect(datagrams.count == 200)
        #expect(Set(datagrams.map(\.payload)).count == 200)
        #expect(datagrams.allSatisfy { $0.checksum == .valid })
    }
}
