// IPv4 fragment reassembly (RFC 791 section 3.2, RFC 815 hole tracking), in capture time.

/// Why a datagram could not be reassembled.
public struct ReassemblyFailure: Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// Two fragments cover some of the same bytes with different data or extent
        /// (exact duplicates are ignored). The whole datagram is rejected (as RFC 5722
        /// does for IPv6): overlaps are how firewall-evasion attacks work.
        case overlap(offset: Int, length: Int)
        /// A fragment with MF set whose length is not a multiple of 8.
        case misalignedFragment(offset: Int, length: Int)
        /// Data past 65535 bytes of IP datagram, or past the end the last fragment set,
        /// or two last fragments that disagree.
        case inconsistentLength(offset: Int, length: Int)
        /// Not complete within the timeout (capture time).
        case timedOut
        /// Dropped to keep within the pending-datagram or byte limits.
        case evicted
        /// Still incomplete at the end of the capture.
        case incompleteAtEnd
        /// Reassembled, but the UDP header was bad.
        case badDatagram(FrameDecodeError)
    }
    public var key: IPv4Fragment.Key
    public var reason: Reason
    /// Capture time of the first fragment seen.
    public var firstSeen: CaptureTimestamp
    public var fragmentsSeen: Int
    /// Capture records of the fragments seen (those that came from a capture).
    public var recordIndices: [Int]

    public var description: String {
        "IPv4 reassembly of \(key) failed: \(reason) after \(fragmentsSeen) fragment(s)"
    }
}

/// What feeding a fragment produced.
public enum ReassemblyEvent: Hashable, Sendable {
    case reassembled(UDPDatagram)
    case failed(ReassemblyFailure)
}

/// Reassembles IPv4 fragments of UDP datagrams, keyed by (source, destination,
/// protocol, identification).
///
/// Bounded: at most `maxPendingDatagrams` datagrams in progress and `maxPendingBytes`
/// of held fragment data; when either would be exceeded the oldest pending datagram is
/// evicted (and reported). A datagram not complete `timeout` after its first fragment
/// (measured in capture time, i.e. fragment timestamps) is dropped and reported.
/// Fragments may arrive in any order; exact duplicates are ignored; any other overlap
/// rejects the datagram. After a failure, further fragments of the same datagram are
/// absorbed silently until the timeout, so one bad datagram is reported once.
public struct IPv4Reassembler: Sendable {
    public var maxPendingDatagrams: Int
    public var maxPendingBytes: Int
    public var timeout: Duration

    private struct Pending: Sendable {
        var firstSeen: CaptureTimestamp
        var sequence: Int
        var pieces: [(offset: Int, data: [UInt8])] = []  // sorted by offset, disjoint
        var totalLength: Int?                            // known once the last fragment is in
        var first: IPv4Fragment?                         // offset 0: link info and hop limit
        var fragments = 0
        var records: [Int] = []
        var bytes = 0
        var failed = false
    }
    private var pending: [IPv4Fragment.Key: Pending] = [:]
    private var heldBytes = 0
    private var sequence = 0
    private var now: CaptureTimestamp?

    /// Defaults follow Linux: 30 s timeout; 64 datagrams and 4 MiB pending.
    public init(maxPendingDatagrams: Int = 64, maxPendingBytes: Int = 4 << 20,
                timeout: Duration = .seconds(30)) {
        self.maxPendingDatagrams = Swift.max(1, maxPendingDatagrams)
        self.maxPendingBytes = Swift.max(65_535, maxPendingBytes)
        self.timeout = timeout
    }

    /// Datagrams in progress (including failed ones being absorbed).
    public var pendingCount: Int { pending.count }
    /// Bytes of fragment data held.
    public var pendingBytes: Int { heldBytes }

    /// Adds a fragment; returns the datagrams it completed and failures it caused
    /// (including timeouts of other datagrams, judged at this fragment's time).
    public mutating func add(_ fragment: IPv4Fragment) -> [ReassemblyEvent] {
        var events: [ReassemblyEvent] = []
        if now.map({ fragment.timestamp > $0 }) ?? true { now = fragment.timestamp }
        events += expire()
        let key = fragment.key
        if pending[key] == nil {
            while pending.count >= maxPendingDatagrams || heldBytes + fragment.data.count > maxPendingBytes,
                  let oldest = pending.min(by: { $0.value.sequence < $1.value.sequence })?.key {
                events += drop(oldest, reason: .evicted)
            }
            sequence += 1
            pending[key] = Pending(firstSeen: fragment.timestamp, sequence: sequence)
        } else if heldBytes + fragment.data.count > maxPendingBytes {
            while heldBytes + fragment.data.count > maxPendingBytes,
                  let oldest = pending.filter({ $0.key != key })
                    .min(by: { $0.value.sequence < $1.value.sequence })?.key {
                events += drop(oldest, reason: .evicted)
            }
            if heldBytes + fragment.data.count > maxPendingBytes {
                events += drop(key, reason: .evicted)
                return events
            }
        }
        var entry = pending[key]!
        entry.fragments += 1
        if let r = fragment.recordIndex { entry.records.append(r) }
        if entry.failed { pending[key] = entry; return events }

        let offset = fragment.offset, length = fragment.data.count, end = offset + length
        func fail(_ reason: ReassemblyFailure.Reason) -> [ReassemblyEvent] {
            pending[key] = entry
            return events + drop(key, reason: reason, keepAbsorbing: true)
        }
        if fragment.moreFragments && length % 8 != 0 {
            return fail(.misalignedFragment(offset: offset, length: length))
        }
        if end > 65_535 - 20 || (!fragment.moreFragments && length == 0 && offset == 0) {
            return fail(.inconsistentLength(offset: offset, length: length))
        }
        if let total = entry.totalLength {
            if end > total || (!fragment.moreFragments && end != total) {
                return fail(.inconsistentLength(offset: offset, length: length))
            }
        } else if !fragment.moreFragments {
            if let last = entry.pieces.last, last.offset + last.data.count > end {
                return fail(.inconsistentLength(offset: offset, length: length))
            }
            entry.totalLength = end
        }
        // Place the piece; exact duplicates are ignored, other overlaps reject.
        var insertAt = entry.pieces.count
        for (i, piece) in entry.pieces.enumerated() {
            let pieceEnd = piece.offset + piece.data.count
            if piece.offset == offset && piece.data == fragment.data {
                pending[key] = entry
                return events
            }
            if offset < pieceEnd && piece.offset < end || (length == 0 && offset == piece.offset) {
                return fail(.overlap(offset: offset, length: length))
            }
            if piece.offset > offset { insertAt = i; break }
        }
        entry.pieces.insert((offset, fragment.data), at: insertAt)
        entry.bytes += length
        heldBytes += length
        if offset == 0 { entry.first = fragment }
        pending[key] = entry

        // Complete when the pieces cover 0 ..< totalLength without holes.
        guard let total = entry.totalLength else { return events }
        var covered = 0
        for piece in entry.pieces {
            guard piece.offset == covered else { return events }
            covered += piece.data.count
        }
        guard covered == total, let first = entry.first else { return events }
        heldBytes -= entry.bytes
        pending[key] = nil
        var payload: [UInt8] = []
        payload.reserveCapacity(total)
        for piece in entry.pieces { payload += piece.data }
        do {
            var datagram = try decodeUDP(payload[...], base: 0, source: key.source,
                                         destination: key.destination, link: first.link,
                                         hopLimit: first.hopLimit, timestamp: fragment.timestamp,
                                         fragmentCount: entry.fragments)
            datagram.recordIndex = fragment.recordIndex
            events.append(.reassembled(datagram))
        } catch {
            events.append(.failed(ReassemblyFailure(key: key, reason: .badDatagram(error),
                                                    firstSeen: entry.firstSeen, fragmentsSeen: entry.fragments,
                                                    recordIndices: entry.records)))
        }
        return events
    }

    /// Reports every datagram still incomplete (as `incompleteAtEnd`) and empties the
    /// reassembler. Failed datagrams already reported are not reported again.
    public mutating func finish() -> [ReassemblyFailure] {
        let keys = pending.sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
        var failures: [ReassemblyFailure] = []
        for key in keys {
            for case .failed(let f) in drop(key, reason: .incompleteAtEnd) { failures.append(f) }
        }
        return failures
    }

    private mutating func expire() -> [ReassemblyEvent] {
        guard let now else { return [] }
        let expired = pending.filter { now.duration(since: $0.value.firstSeen) > timeout }
            .sorted { $0.value.sequence < $1.value.sequence }.map(\.key)
        return expired.flatMap { drop($0, reason: .timedOut) }
    }

    /// Removes (or, with `keepAbsorbing`, empties and marks failed) a pending datagram,
    /// reporting it unless it had already failed.
    private mutating func drop(_ key: IPv4Fragment.Key, reason: ReassemblyFailure.Reason,
                               keepAbsorbing: Bool = false) -> [ReassemblyEvent] {
        guard var entry = pending[key] else { return [] }
        heldBytes -= entry.bytes
        let alreadyFailed = entry.failed
        if keepAbsorbing {
            entry.failed = true
            entry.pieces = []
            entry.bytes = 0
            entry.first = nil
            pending[key] = entry
        } else {
            pending[key] = nil
        }
        if alreadyFailed { return [] }
        return [.failed(ReassemblyFailure(key: key, reason: reason, firstSeen: entry.firstSeen,
                                          fragmentsSeen: entry.fragments, recordIndices: entry.records))]
    }
}
