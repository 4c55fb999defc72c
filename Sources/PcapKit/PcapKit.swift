// PcapKit: captures through libpcap, and the UDP datagrams in them.
//
// - ``CaptureReader`` / ``CaptureWriter``: pcap and pcapng files through libpcap.
// - ``FrameDecoder``: one frame (Ethernet/VLAN, Linux cooked v1/v2, raw IP, BSD
//   loopback) to a UDP datagram, an IPv4 fragment, or a reason it was skipped.
// - ``IPv4Reassembler``: bounded IPv4 fragment reassembly in capture time.
// - ``FrameBuilder``: frames for UDP datagrams with correct checksums.
// - ``analyzeCapture(atPath:)`` / ``udpDatagrams(inFile:port:)``: all of it at once.

/// A record that held no UDP datagram, and why.
public struct SkippedRecord: Hashable, Sendable {
    public var recordIndex: Int
    public var reason: SkipReason
    public init(recordIndex: Int, reason: SkipReason) {
        self.recordIndex = recordIndex
        self.reason = reason
    }
}

/// A record whose frame was malformed.
public struct MalformedRecord: Hashable, Sendable {
    public var recordIndex: Int
    public var error: FrameDecodeError
    public init(recordIndex: Int, error: FrameDecodeError) {
        self.recordIndex = recordIndex
        self.error = error
    }
}

/// Everything found in a capture.
public struct CaptureAnalysis: Sendable {
    public var linkType: LinkType
    public var recordCount = 0
    /// Records whose captured length is less than their original length.
    public var truncatedRecordIndices: [Int] = []
    /// In capture order (a reassembled datagram at its completing fragment).
    public var datagrams: [UDPDatagram] = []
    public var skipped: [SkippedRecord] = []
    public var malformed: [MalformedRecord] = []
    /// Fragmented datagrams not recovered, including those incomplete at the end.
    public var reassemblyFailures: [ReassemblyFailure] = []

    public init(linkType: LinkType) { self.linkType = linkType }
}

/// Reads every record of `reader` and decodes it, reassembling IPv4 fragments.
/// Only errors reading the capture itself throw; frame problems are reported in the
/// result.
public func analyzeCapture(_ reader: CaptureReader, decoder: FrameDecoder = FrameDecoder(),
                           reassembler: IPv4Reassembler = IPv4Reassembler()) throws(CaptureError) -> CaptureAnalysis {
    var analysis = CaptureAnalysis(linkType: reader.linkType)
    var reassembler = reassembler
    while let record = try reader.read() {
        analysis.recordCount += 1
        if record.isTruncated { analysis.truncatedRecordIndices.append(record.index) }
        do {
            switch try decoder.decode(record) {
            case .datagram(let d):
                analysis.datagrams.append(d)
            case .fragment(let f):
                for event in reassembler.add(f) {
                    switch event {
                    case .reassembled(let d): analysis.datagrams.append(d)
                    case .failed(let failure): analysis.reassemblyFailures.append(failure)
                    }
                }
            case .skipped(let reason):
                analysis.skipped.append(SkippedRecord(recordIndex: record.index, reason: reason))
            }
        } catch {
            analysis.malformed.append(MalformedRecord(recordIndex: record.index, error: error))
        }
    }
    analysis.reassemblyFailures += reassembler.finish()
    return analysis
}

/// ``analyzeCapture(_:decoder:reassembler:)`` of the file at `path`.
public func analyzeCapture(atPath path: String) throws(CaptureError) -> CaptureAnalysis {
    try analyzeCapture(CaptureReader(path: path))
}

/// The UDP datagrams in a capture file, in capture order; with `port`, only those
/// from or to that port. Malformed and non-UDP frames are left out: use
/// ``analyzeCapture(atPath:)`` to see them.
public func udpDatagrams(inFile path: String, port: UInt16? = nil) throws(CaptureError) -> [UDPDatagram] {
    let all = try analyzeCapture(atPath: path).datagrams
    guard let port else { return all }
    return all.filter { $0.source.port == port || $0.destination.port == port }
}
