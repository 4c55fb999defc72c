// Reading and writing capture files through libpcap.
import CPcap
import Foundation

/// A capture file could not be opened, read or written. Messages are libpcap's own
/// (or the C library's), so they say what was wrong with the file.
public enum CaptureError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The file or buffer could not be opened as a capture: missing file, permission,
    /// not a pcap/pcapng file, unsupported version. `path` is nil for in-memory bytes.
    case cannotOpen(path: String?, message: String)
    /// Reading record `recordIndex` (0-based) failed, e.g. the file is truncated.
    case readFailed(path: String?, recordIndex: Int, message: String)
    /// The output file could not be created.
    case cannotCreate(path: String, message: String)
    /// Writing or flushing failed (disk full, I/O error).
    case writeFailed(path: String, message: String)
    /// The writer was closed before this write.
    case writerClosed(path: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let message):
            "cannot open capture \(path ?? "<memory>"): \(message)"
        case .readFailed(let path, let index, let message):
            "cannot read record \(index) of capture \(path ?? "<memory>"): \(message)"
        case .cannotCreate(let path, let message):
            "cannot create capture \(path): \(message)"
        case .writeFailed(let path, let message):
            "cannot write capture \(path): \(message)"
        case .writerClosed(let path):
            "capture \(path) is closed"
        }
    }
}

/// One record of a capture.
public struct CaptureRecord: Hashable, Sendable {
    /// 0-based position in the capture.
    public var index: Int
    public var timestamp: CaptureTimestamp
    /// The link-layer header type of `bytes`.
    public var linkType: LinkType
    /// The captured bytes (`capturedLength` of them).
    public var bytes: [UInt8]
    /// The frame's length on the wire; more than `bytes.count` when the snapshot
    /// length cut the frame short.
    public var originalLength: Int

    public init(index: Int = 0, timestamp: CaptureTimestamp, linkType: LinkType,
                bytes: [UInt8], originalLength: Int? = nil) {
        self.index = index
        self.timestamp = timestamp
        self.linkType = linkType
        self.bytes = bytes
        self.originalLength = max(originalLength ?? bytes.count, bytes.count)
    }

    public var capturedLength: Int { bytes.count }
    /// True when fewer bytes were captured than were on the wire.
    public var isTruncated: Bool { originalLength > bytes.count }
}

extension LinkType {
    /// From libpcap's DLT_ value: DLT_RAW is reported as the file's LINKTYPE_RAW.
    init(dlt: Int32) {
        self = dlt == Int32(DLT_RAW) ? .raw : LinkType(rawValue: UInt32(bitPattern: dlt))
    }
}

/// Reads pcap and pcapng captures (libpcap 1.10 reads both), from a file or from
/// bytes in memory. Timestamps are read with nanosecond precision whatever the file's.
///
/// Not thread-safe: one reader per consumer.
public final class CaptureReader: Sequence, IteratorProtocol {
    /// The link-layer header type of every record (libpcap supports one per file).
    /// Raw IP captures are reported as ``LinkType/raw`` (101).
    public let linkType: LinkType
    /// The file's snapshot length.
    public let snapshotLength: Int
    /// The path read, nil for in-memory bytes.
    public let path: String?

    private var handle: OpaquePointer?
    private var memory: UnsafeMutableRawPointer?
    private var nextIndex = 0
    /// The first read error met while iterating with `next()` (the sequence ends there).
    public private(set) var error: CaptureError?

    /// Opens the capture file at `path`.
    public init(path: String) throws(CaptureError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let p = pcap_open_offline_with_tstamp_precision(
            path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            throw .cannotOpen(path: path, message: errorText(errbuf))
        }
        self.path = path
        handle = p
        linkType = LinkType(dlt: pcap_datalink(p))
        snapshotLength = Int(pcap_snapshot(p))
    }

    /// Reads a capture held in memory (the bytes are copied).
    public init(bytes: [UInt8]) throws(CaptureError) {
        path = nil
        // fmemopen of a zero-sized buffer fails; one spare byte keeps it valid and is
        // never read (the size passed is the real one unless it is zero).
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Swift.max(bytes.count, 1), alignment: 8)
        bytes.withUnsafeBytes { src in
            if let base = src.baseAddress { buffer.copyMemory(from: base, byteCount: src.count) }
        }
        guard let file = fmemopen(buffer, Swift.max(bytes.count, 1), "rb") else {
            let message = String(cString: strerror(errno))
            buffer.deallocate()
            throw .cannotOpen(path: nil, message: message)
        }
        if bytes.isEmpty { _ = fgetc(file) }  // consume the spare byte: the file is empty
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let p = pcap_fopen_offline_with_tstamp_precision(
            file, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            fclose(file)  // libpcap leaves the FILE open when it fails
            buffer.deallocate()
            throw .cannotOpen(path: nil, message: errorText(errbuf))
        }
        handle = p
        memory = buffer
        linkType = LinkType(dlt: pcap_datalink(p))
        snapshotLength = Int(pcap_snapshot(p))
    }

    deinit { close() }

    /// Releases libpcap's handle; further reads return nil. Idempotent.
    public func close() {
        if let h = handle { pcap_close(h) }  // also closes the FILE
        handle = nil
        memory?.deallocate()
        memory = nil
    }

    /// The next record, nil at the end of the capture.
    public func read() throws(CaptureError) -> CaptureRecord? {
        guard let h = handle else { return nil }
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let status = pcap_next_ex(h, &header, &data)
        switch status {
        case 1:
            guard let hdr = header?.pointee else { return nil }
            let caplen = Int(hdr.caplen)
            let bytes = caplen > 0 && data != nil
                ? [UInt8](UnsafeBufferPointer(start: data, count: caplen)) : []
            // With nanosecond precision libpcap stores nanoseconds in tv_usec.
            let ts = CaptureTimestamp(seconds: Int64(hdr.ts.tv_sec), nanoseconds: UInt32(truncatingIfNeeded: hdr.ts.tv_usec))
            defer { nextIndex += 1 }
            return CaptureRecord(index: nextIndex, timestamp: ts, linkType: linkType,
                                 bytes: bytes, originalLength: Int(hdr.len))
        case PCAP_ERROR_BREAK:  // -2: end of file
            return nil
        default:
            let message = String(cString: pcap_geterr(h))
            throw .readFailed(path: path, recordIndex: nextIndex, message: message)
        }
    }

    /// Every remaining record; throws on the first read error.
    public func readAll() throws(CaptureError) -> [CaptureRecord] {
        var records: [CaptureRecord] = []
        while let r = try read() { records.append(r) }
        return records
    }

    /// Iteration stops at the end or at the first error, which is kept in `error`.
    public func next() -> CaptureRecord? {
        guard error == nil else { return nil }
        do { return try read() } catch { self.error = error; return nil }
    }
}

/// Timestamp precision of a written pcap file.
public enum TimestampPrecision: Sendable {
    /// Classic pcap (magic a1b2c3d4), microseconds: read by everything.
    case microseconds
    /// Nanosecond pcap (magic a1b23c4d).
    case nanoseconds
}

/// Writes a pcap file through libpcap, for a daemon's whole life.
///
/// Thread-safe (a lock serializes writes). With `flushEachRecord` (the default) every
/// record is on disk when `write` returns, so a crash loses nothing and `tail -f`
/// style readers see records at once. `close()` is idempotent; writes after it throw
/// ``CaptureError/writerClosed(path:)``. The file is closed on deinit too.
public final class CaptureWriter: @unchecked Sendable {
    public let path: String
    public let linkType: LinkType
    public let snapshotLength: Int
    public let precision: TimestampPrecision
    public let flushEachRecord: Bool

    private let lock = NSLock()
    private var pcap: OpaquePointer?
    private var dumper: OpaquePointer?
    private var count = 0

    /// Creates (truncating) `path`. Records longer than `snapshotLength` are cut to it,
    /// keeping their original length.
    public init(path: String, linkType: LinkType, snapshotLength: Int = 262_144,
                precision: TimestampPrecision = .microseconds,
                flushEachRecord: Bool = true) throws(CaptureError) {
        self.path = path
        self.linkType = linkType
        self.snapshotLength = max(1, min(snapshotLength, Int(Int32.max)))
        self.precision = precision
        self.flushEachRecord = flushEachRecord
        let prec = precision == .nanoseconds ? PCAP_TSTAMP_PRECISION_NANO : PCAP_TSTAMP_PRECISION_MICRO
        // pcap_open_dead takes a DLT_ value; only LINKTYPE_RAW differs from its DLT.
        let dlt = linkType == .raw ? Int32(DLT_RAW) : Int32(bitPattern: linkType.rawValue)
        guard let p = pcap_open_dead_with_tstamp_precision(
            dlt, Int32(self.snapshotLength), UInt32(prec)) else {
            throw .cannotCreate(path: path, message: "pcap_open_dead failed for link type \(linkType.rawValue)")
        }
        guard let d = pcap_dump_open(p, path) else {
            let message = String(cString: pcap_geterr(p))
            pcap_close(p)
            throw .cannotCreate(path: path, message: message)
        }
        pcap = p
        dumper = d
    }

    deinit { try? close() }

    /// Number of records written so far.
    public var recordCount: Int { lock.withLock { count } }

    /// Writes one record. `originalLength` defaults to `bytes.count`.
    public func write(_ bytes: [UInt8], timestamp: CaptureTimestamp,
                      originalLength: Int? = nil) throws(CaptureError) {
        lock.lock()
        defer { lock.unlock() }
        guard let d = dumper else { throw .writerClosed(path: path) }
        let caplen = min(bytes.count, snapshotLength)
        let len = max(originalLength ?? bytes.count, bytes.count)
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(truncatingIfNeeded: timestamp.seconds)
        header.ts.tv_usec = Int(precision == .nanoseconds ? timestamp.nanoseconds : timestamp.microseconds)
        header.caplen = UInt32(caplen)
        header.len = UInt32(truncatingIfNeeded: min(len, Int(UInt32.max)))
        bytes.withUnsafeBufferPointer { buf in
            let user = UnsafeMutableRawPointer(d).assumingMemoryBound(to: UInt8.self)
            if let base = buf.baseAddress {
                pcap_dump(user, &header, base)
            } else {
                var empty: UInt8 = 0
                pcap_dump(user, &header, &empty)
            }
        }
        count += 1
        if flushEachRecord {
            try flushLocked(d)
        } else if let f = pcap_dump_file(d), ferror(f) != 0 {
            throw .writeFailed(path: path, message: String(cString: strerror(errno)))
        }
    }

    /// Writes a record read elsewhere (its link type should match the writer's).
    public func write(_ record: CaptureRecord) throws(CaptureError) {
        try write(record.bytes, timestamp: record.timestamp, originalLength: record.originalLength)
    }

    /// Pushes buffered records to the file.
    public func flush() throws(CaptureError) {
        lock.lock()
        defer { lock.unlock() }
        guard let d = dumper else { throw .writerClosed(path: path) }
        try flushLocked(d)
    }

    private func flushLocked(_ d: OpaquePointer) throws(CaptureError) {
        if pcap_dump_flush(d) != 0 || (pcap_dump_file(d).map { ferror($0) != 0 } ?? false) {
            throw .writeFailed(path: path, message: String(cString: strerror(errno)))
        }
    }

    /// Flushes and closes the file. Idempotent: later calls do nothing.
    /// Throws if the final flush failed (the file is closed anyway).
    public func close() throws(CaptureError) {
        lock.lock()
        defer { lock.unlock() }
        guard let d = dumper else { return }
        var failure: CaptureError?
        if pcap_dump_flush(d) != 0 {
            failure = .writeFailed(path: path, message: String(cString: strerror(errno)))
        }
        pcap_dump_close(d)
        if let p = pcap { pcap_close(p) }
        dumper = nil
        pcap = nil
        if let failure { throw failure }
    }
}

/// The NUL-terminated text in a libpcap error buffer.
private func errorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
