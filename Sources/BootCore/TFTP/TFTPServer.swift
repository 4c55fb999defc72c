import BootWire

// The TFTP server as a sans-IO engine (RFC 1350, options per RFC 2347-2349, windows per
// RFC 7440). Read-only: WRQ is refused.
//
// Ports. The daemon owns sockets; the engine never names a port number it did not
// receive. In the default mode (RFC 1350 TIDs) each transfer talks from its own port:
// the engine says `.send(d, session: id)` and the daemon opens an ephemeral UDP port
// bound to `d.local.address` the first time it sees `id`, sends from it, hands what
// arrives on it to `handle(_:session:at:)` with that `id`, and closes it on
// `.closeSessionPort(id)`. A session that never sent from its port (refused before its
// first OACK/DATA) gets no `.closeSessionPort`. In single-port mode every datagram goes
// through the listening port (`session: nil`) and sessions are keyed by the peer's
// endpoint. Both work the same over NIO (a channel per port, opened lazily) and over an
// in-memory network.
//
// Errors that answer a request itself (WRQ, refused name, file not found, mode mail,
// malformed request) leave from the listening port: no session port is opened for one
// packet. Clients take the first packet from the server as its TID either way.
//
// Files. `.openFile` → `fileOpened`; `.readFile` → `dataRead`; `.closeFile`. The engine
// reads up to `readChunkSize` bytes (whole windows: whole blocks in lock-step) at a time,
// keeps one chunk per session and builds each DATA packet from it; a window never spans
// two reads (a chunk is read from the window's first block when the window is not inside
// the current one, which happens only after a partial acknowledgement).
//
// Time. The engine keeps each session's deadline and asks `.wakeUp(at:)` whenever the
// earliest one it has asked for would be late; the daemon calls `wake(at:)` at (or
// after) each such instant. Spurious or late calls are harmless; the daemon may keep
// only the earliest pending wake-up.

/// A transfer, as named between the engine and the daemon (also the name of its port).
public struct TFTPSessionID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (l: Self, r: Self) -> Bool { l.rawValue < r.rawValue }
    public var description: String { "tftp#\(rawValue)" }
}

/// What the TFTP engine asks the daemon to do, in order.
public enum TFTPServerAction: Hashable, Sendable {
    /// Send `datagram` to `datagram.peer`. `session` nil: from the listening port
    /// (`datagram.local` is the endpoint the request arrived on). Otherwise from that
    /// session's own port, opened on first use on `datagram.local.address` (the address
    /// the request arrived on; `datagram.local.port` is 0: the daemon chooses).
    case send(Datagram, session: TFTPSessionID?)
    /// Open a root-relative path (already filtered and resolved); answer with
    /// `fileOpened(_:_:at:)`.
    case openFile(TFTPSessionID, path: String)
    /// Read `count` bytes at `offset` (fewer only at the end of the file); answer with
    /// `dataRead(_:offset:_:at:)`.
    case readFile(TFTPSessionID, FileHandleID, offset: Int, count: Int)
    case closeFile(FileHandleID)
    /// The session is over: close its port (only for sessions that sent from one).
    case closeSessionPort(TFTPSessionID)
    /// Call `wake(at:)` at this instant.
    case wakeUp(at: Instant)
    case log(LogRecord)
}

/// What happened, for logs, metrics and tests.
public struct TFTPServerCounters: Hashable, Sendable {
    /// Datagrams handed to the engine.
    public var received = 0
    /// Unparseable datagrams.
    public var malformed = 0
    /// Parsed but meaningless where they arrived (DATA to the listening port, late ACKs
    /// for ended sessions...).
    public var ignored = 0
    /// RRQs accepted into a session.
    public var sessionsStarted = 0
    /// Transfers whose last block was acknowledged.
    public var sessionsCompleted = 0
    /// Sessions ended otherwise: file errors, timeouts, client errors, replaced.
    public var sessionsFailed = 0
    /// WRQs (always refused).
    public var writeRequests = 0
    /// Names refused by the path rules.
    public var refusedNames = 0
    public var notFound = 0
    /// RRQs dropped because `maxSessions` sessions exist.
    public var refusedBusy = 0
    /// Of those, dropped because their client address held `maxSessionsPerClient`.
    public var refusedPerClient = 0
    /// Client RRQ retransmissions answered by resending the first packet.
    public var duplicateRequests = 0
    /// DATA/OACK packets sent again after a timeout.
    public var retransmissions = 0
    /// DATA packets sent (first sends and retransmissions).
    public var dataPacketsSent = 0
    /// ACKs that acknowledged nothing new (ignored: no Sorcerer's Apprentice).
    public var duplicateAcks = 0
    /// ERRORs received from clients.
    public var clientErrors = 0
    /// ERRORs sent.
    public var errorsSent = 0
    /// Datagrams from a wrong peer (RFC 1350 TID), answered with ERROR 5.
    public var wrongTID = 0
    /// Sessions given up after `retries` retransmissions without progress.
    public var timeouts = 0
    public init() {}
}

/// The TFTP server engine. Confined to one thread (an event loop or the simulator); it
/// reads no clock: every event carries its instant. See the notes at the top of this file
/// for how ports, files and time are carried out by the daemon.
public final class TFTPServer {
    public let settings: TFTPServerSettings
    public private(set) var counters = TFTPServerCounters()

    private var sessions: [TFTPSessionID: Session] = [:]
    /// The session of each peer endpoint: the key in single-port mode, duplicate-RRQ
    /// detection in both.
    private var sessionByPeer: [Endpoint: TFTPSessionID] = [:]
    /// Sessions per client address (`maxSessionsPerClient`).
    private var sessionsByAddress: [UInt32: Int] = [:]
    private var nextID: UInt64 = 1
    /// The earliest wake-up asked for and not yet served.
    private var requestedWake: Instant?

    /// At most this many bytes of an indirection (`[path]` filter) file are read.
    static let indirectionReadLimit = 4096

    public init(settings: TFTPServerSettings = TFTPServerSettings()) {
        self.settings = settings.clamped
    }

    /// Sessions in progress (opening, transferring).
    public var sessionCount: Int { sessions.count }

    final class Session {
        enum Phase {
            /// Reading a `[path]` filter's indirection file.
            case resolvingFilter
            /// Waiting for `fileOpened`.
            case opening
            case transferring
        }

        let id: TFTPSessionID
        let peer: Endpoint
        /// The endpoint and interface the request arrived on.
        let local: Endpoint
        let interface: Int
        let requestBytes: [UInt8]
        let requestedName: String
        var path: String = ""
        var phase: Phase
        let started: Instant

        // Negotiated (RFC 2347-2349, 7440).
        let blksize: Int
        let windowsize: Int
        let timeout: Duration
        let grantedBlksize: Int?
        let grantedTimeout: Int?
        let askedTsize: Bool
        let grantedWindowsize: Int?
        var hasOACK: Bool { grantedBlksize != nil || grantedTimeout != nil || askedTsize || grantedWindowsize != nil }

        var filterHandle: FileHandleID?
        var handle: FileHandleID?
        var size = 0
        /// Absolute index of the final block (1-based; its payload is size % blksize).
        var lastBlock = 0
        /// Absolute index of the first block of the current window; 0: the OACK is the window.
        var windowStart = 0
        /// File data held: bytes `chunkOffset ..< chunkOffset + chunk.count` (a slice: often a
        /// view of the file source's cached copy; index it from `chunk.startIndex`).
        var chunk: ArraySlice<UInt8> = []
        var chunkOffset = 0
        /// The read in flight.
        var pendingRead: (offset: Int, count: Int)?
        /// The current window waits for the read in flight.
        var awaitingData = false
        var deadline: Instant?
        /// Timeouts since the last progress.
        var timeouts = 0
        var retransmissions = 0
        var usedPort = false

        init(id: TFTPSessionID, peer: Endpoint, local: Endpoint, interface: Int, requestBytes: [UInt8], requestedName: String,
             phase: Phase, started: Instant, negotiation n: Negotiation) {
            self.id = id; self.peer = peer; self.local = local; self.interface = interface
            self.requestBytes = requestBytes
            self.requestedName = requestedName; self.phase = phase; self.started = started
            blksize = n.blksize; windowsize = n.windowsize; timeout = n.timeout
            grantedBlksize = n.grantedBlksize; grantedTimeout = n.grantedTimeout
            askedTsize = n.askedTsize; grantedWindowsize = n.grantedWindowsize
        }

        /// Byte range of absolute block `b`.
        func range(ofBlock b: Int) -> Range<Int> {
            let start = (b - 1) * blksize
            return start..<min(start + blksize, size)
        }

        func holds(_ r: Range<Int>) -> Bool {
            r.lowerBound >= chunkOffset && r.upperBound <= chunkOffset + chunk.count
        }

        /// Last absolute block of the current window.
        var windowEnd: Int { windowStart == 0 ? 0 : min(windowStart + windowsize - 1, lastBlock) }

        var oackOptions: [TFTPOption] {
            var out: [TFTPOption] = []
            if let v = grantedBlksize { out.append(TFTPOption(name: TFTPOption.blksize, value: String(v))) }
            if askedTsize { out.append(TFTPOption(name: TFTPOption.tsize, value: String(size))) }
            if let v = grantedTimeout { out.append(TFTPOption(name: TFTPOption.timeout, value: String(v))) }
            if let v = grantedWindowsize { out.append(TFTPOption(name: TFTPOption.windowsize, value: String(v))) }
            return out
        }
    }

    /// The outcome of option negotiation for one request.
    struct Negotiation {
        var blksize: Int
        var windowsize: Int
        var timeout: Duration
        /// What the OACK carries (nil: not acknowledged).
        var grantedBlksize: Int?
        var grantedTimeout: Int?
        var askedTsize = false
        var grantedWindowsize: Int?
    }

    /// RFC 2347-2349, 7440: only options asked are granted; bad values are omitted (RFC
    /// 2347: the server "should simply omit the option"); blksize is clamped to
    /// `maxBlksize` (a value over RFC 2348's 65464 too, as tftpd-hpa does); windowsize to
    /// `maxWindowSize` and the blocks of one chunk; timeout is used as asked.
    func negotiate(_ options: [TFTPOption]) -> Negotiation {
        let (asked, rejected) = TFTPTransferOptions.validatingLeniently(options)
        var n = Negotiation(blksize: settings.defaultBlksize, windowsize: 1, timeout: settings.timeout)
        var blksize = asked.blksize
        if blksize == nil, rejected.contains(where: { e in
            guard e.field == "option \(TFTPOption.blksize)" else { return false }
            switch e.reason {
            case let .outOfRange(value, allowed): return value > allowed.upperBound
            case .invalid("number too large"): return true
            default: return false
            }
        }) {
            blksize = TFTPTransferOptions.blksizeRange.upperBound
        }
        if let b = blksize {
            n.blksize = min(b, settings.maxBlksize)
            n.grantedBlksize = n.blksize
        }
        // RFC 2349 lets the server decline the option: a timeout over maxClientTimeout is
        // not granted, so a client cannot make its silent session last 6 × 255 s.
        if let t = asked.timeout, t <= settings.maxClientTimeout {
            n.timeout = .seconds(t)
            n.grantedTimeout = t
        }
        n.askedTsize = asked.tsize != nil
        if let w = asked.windowsize {
            let chunkBlocks = max(1, settings.readChunkSize / n.blksize)
            n.windowsize = min(w, settings.maxWindowSize, chunkBlocks)
            n.grantedWindowsize = n.windowsize
        }
        return n
    }

    // MARK: Events

    /// A datagram arrived: on the listening port (`session` nil) or on the port of
    /// `session` (default mode only).
    public func handle(_ datagram: Datagram, session: TFTPSessionID? = nil, at now: Instant) -> [TFTPServerAction] {
        counters.received += 1
        var out: [TFTPServerAction] = []
        let packet: TFTPPacket
        do { packet = try TFTPPacket(parsing: datagram.payload) } catch {
            counters.malformed += 1
            out.append(.log(LogRecord(.debug, "dropped malformed TFTP packet from \(datagram.peer): \(error)")))
            // A request we cannot read gets ERROR 4, so that its sender learns why.
            if session == nil, datagram.payload.count >= 2, datagram.payload[0] == 0,
               datagram.payload[1] == 1 || datagram.payload[1] == 2 {
                out += errorReply(to: datagram, .illegalOperation, "malformed request: \(error)")
            }
            return out
        }
        if let id = session {
            return onSessionPort(packet, datagram, id, at: now)
        }
        switch packet {
        case let .readRequest(request):
            return readRequest(request, datagram, at: now)
        case .writeRequest:
            counters.writeRequests += 1
            out.append(.log(LogRecord(.info, "refused WRQ from \(datagram.peer): this server is read-only")))
            out += errorReply(to: datagram, .accessViolation, "write requests are not supported")
            return out
        default:
            if settings.singlePort {
                if let id = sessionByPeer[datagram.peer], let s = sessions[id] {
                    return sessionPacket(packet, s, at: now)
                }
                return wrongPeer(packet, datagram, session: nil)
            }
            counters.ignored += 1
            return [.log(LogRecord(.debug, "ignored TFTP \(packet.opcode) from \(datagram.peer) on the listening port"))]
        }
    }

    /// The file source opened (or failed to open) the file asked by `.openFile(id, …)`.
    public func fileOpened(_ id: TFTPSessionID, _ result: Result<(handle: FileHandleID, size: Int), FileSourceError>,
                           at now: Instant) -> [TFTPServerAction] {
        guard let s = sessions[id], s.phase != .transferring else {
            // The session ended meanwhile (timeout, client error): give the handle back.
            if case let .success(file) = result { return [.closeFile(file.handle)] }
            return []
        }
        switch (s.phase, result) {
        case let (.resolvingFilter, .success(file)):
            s.filterHandle = file.handle
            let count = min(max(file.size, 0), Self.indirectionReadLimit)
            s.pendingRead = (0, count)
            s.deadline = now + settings.fileSourceTimeout
            return wakeUp(for: s) + [.readFile(id, file.handle, offset: 0, count: count)]
        case let (.resolvingFilter, .failure(error)):
            return fail(s, reply: fileErrorReply(error), level: .warning,
                        "filter file \(s.path) for \(s.requestedName) unavailable: \(error)", at: now)
        case let (_, .failure(error)):
            if error == .notFound { counters.notFound += 1 }
            return fail(s, reply: fileErrorReply(error), level: .info,
                        "RRQ \(s.requestedName) from \(s.peer): \(s.path): \(error)", at: now)
        case let (_, .success(file)):
            s.handle = file.handle
            s.size = max(0, file.size)
            s.lastBlock = s.size / s.blksize + 1
            s.phase = .transferring
            s.deadline = nil
            var out: [TFTPServerAction] = [.log(LogRecord(.info, startText(s)))]
            if s.hasOACK {
                // RFC 2347: the OACK is "block 0"; prefetch the first chunk meanwhile.
                s.windowStart = 0
                out += transmitWindow(s, at: now)
                out += prefetch(s)
            } else {
                s.windowStart = 1
                out += transmitWindow(s, at: now)
            }
            return out
        }
    }

    /// The file source answered `.readFile(id, _, offset: offset, _)`.
    public func dataRead(_ id: TFTPSessionID, offset: Int, _ result: Result<ArraySlice<UInt8>, FileSourceError>,
                         at now: Instant) -> [TFTPServerAction] {
        guard let s = sessions[id], let pending = s.pendingRead, pending.offset == offset else { return [] }
        s.pendingRead = nil
        if s.phase == .resolvingFilter {
            var out: [TFTPServerAction] = []
            if let h = s.filterHandle { out.append(.closeFile(h)); s.filterHandle = nil }
            guard case let .success(bytes) = result, let line = tftpFirstLine(Array(bytes)) else {
                return out + fail(s, reply: TFTPError(code: .notDefined, message: "filter file unreadable"),
                                  level: .warning, "filter file \(s.path) for \(s.requestedName) is unreadable or empty",
                                  at: now)
            }
            let name = (try? expandFilterTemplate(line, filename: s.requestedName, authFile: nil)) ?? line
            switch TFTPPath.resolve(name) {
            case let .failure(refusal):
                counters.refusedNames += 1
                return out + fail(s, reply: TFTPError(code: .accessViolation, message: "access violation"),
                                  level: .warning, "RRQ \(s.requestedName) from \(s.peer): filter file \(s.path) gives \(name): \(refusal)",
                                  at: now)
            case let .success(path):
                s.path = path
                s.phase = .opening
                s.deadline = now + settings.fileSourceTimeout
                return out + wakeUp(for: s) + [.openFile(id, path: path)]
            }
        }
        switch result {
        case let .failure(error):
            return fail(s, reply: TFTPError(code: .notDefined, message: "read error"), level: .error,
                        "reading \(s.path) at \(offset) for \(s.peer): \(error)", at: now)
        case let .success(bytes):
            let expected = max(0, min(pending.count, s.size - offset))
            guard bytes.count == expected else {
                return fail(s, reply: TFTPError(code: .notDefined, message: "read error"), level: .error,
                            "reading \(s.path) at \(offset) for \(s.peer): \(bytes.count) bytes instead of \(expected) (file changed?)",
                            at: now)
            }
            if !s.chunk.isEmpty, offset == s.chunkOffset + s.chunk.count {
                s.chunk += bytes  // after the kept tail of the previous chunk (see `read`)
            } else {
                s.chunk = bytes   // a view of the source's bytes: no copy
                s.chunkOffset = offset
            }
            if s.awaitingData {
                s.awaitingData = false
                return transmitWindow(s, at: now)
            }
            return []
        }
    }

    /// Time passed: retransmit the windows whose deadline is over, give up sessions out of
    /// retries or waiting too long for the file source.
    public func wake(at now: Instant) -> [TFTPServerAction] {
        if let w = requestedWake, w <= now { requestedWake = nil }
        var out: [TFTPServerAction] = []
        let due = sessions.values.filter { ($0.deadline.map { $0 <= now }) ?? false }.sorted { $0.id < $1.id }
        for s in due {
            if s.phase != .transferring || s.awaitingData {
                out += fail(s, reply: TFTPError(code: .notDefined, message: "file source timeout"), level: .error,
                            "\(s.path.isEmpty ? s.requestedName : s.path) for \(s.peer): no answer from the file source within \(settings.fileSourceTimeout)",
                            at: now)
            } else if s.timeouts >= settings.retries {
                counters.timeouts += 1
                out += fail(s, reply: TFTPError(code: .notDefined, message: "timeout"), level: .warning,
                            "gave up sending \(s.path) to \(s.peer) at block \(s.windowStart): no ACK after \(settings.retries) retransmissions",
                            at: now)
            } else {
                s.timeouts += 1
                out += transmitWindow(s, at: now, retransmission: true)
            }
        }
        if let next = sessions.values.compactMap(\.deadline).min(), requestedWake.map({ next < $0 }) ?? true {
            requestedWake = next
            out.append(.wakeUp(at: next))
        }
        return out
    }

    // MARK: Requests

    func readRequest(_ request: TFTPRequest, _ d: Datagram, at now: Instant) -> [TFTPServerAction] {
        var out: [TFTPServerAction] = []
        if let id = sessionByPeer[d.peer], let existing = sessions[id] {
            if existing.requestBytes == d.payload {
                // The client retransmitted its RRQ: answer again with the first packet,
                // never start a second transfer.
                counters.duplicateRequests += 1
                if existing.phase == .transferring, existing.windowStart <= 1, !existing.awaitingData {
                    return transmitWindow(existing, at: now, retransmission: true)
                }
                // Past its first block a client never repeats its RRQ, so an identical one is
                // a late duplicate (ignored) — unless the transfer has gone silent: then the
                // client that held this endpoint is gone and a new one reuses its port (a
                // host starting many transfers at once), and it must not wait for the old
                // session's retries to run out.
                guard existing.phase == .transferring, existing.timeouts > 0 else {
                    return [.log(LogRecord(.debug, "duplicate RRQ from \(d.peer) ignored: transfer under way"))]
                }
                out += end(existing, failed: true, level: .info,
                           "\(existing.path) to \(d.peer) abandoned: no ACK since block \(existing.windowStart - 1), and a new request came from the same endpoint",
                           at: now)
            } else {
                // Same endpoint, another request: the client started over (e.g. a PXE ROM's
                // tsize probe then the real request, its ERROR lost). The old one is over.
                out += end(existing, failed: true, level: .info,
                           "\(existing.path) to \(d.peer) abandoned: a new request came from the same endpoint", at: now)
            }
        }
        guard sessions.count < settings.maxSessions else {
            counters.refusedBusy += 1
            return out + [.log(LogRecord(.debug, "dropped RRQ from \(d.peer): \(settings.maxSessions) sessions in progress"))]
        }
        let perClient = settings.maxSessionsPerClient ?? settings.maxSessions
        guard sessionsByAddress[d.peer.address.value, default: 0] < perClient else {
            counters.refusedBusy += 1
            counters.refusedPerClient += 1
            return out + [.log(LogRecord(.debug, "dropped RRQ from \(d.peer): \(perClient) sessions in progress for \(d.peer.address) (max_transfers_per_client)"))]
        }
        guard request.mode != .mail else {
            return out + errorReply(to: d, .illegalOperation, "mode mail is not supported")
        }
        guard let name = request.filename else {
            counters.refusedNames += 1
            return out + [.log(LogRecord(.info, "refused RRQ from \(d.peer): \(TFTPPathRefusal.notUTF8)"))]
                + errorReply(to: d, .accessViolation, "access violation")
        }
        // [filters], first match wins, then the path rules.
        var target = name
        var indirection = false
        if let result = settings.filters.lazy.compactMap({ $0.apply(to: name, authFile: nil) }).first {
            switch result {
            case let .name(rewritten): target = rewritten
            case let .contentsOf(path): target = path; indirection = true
            }
        }
        let path: String
        switch TFTPPath.resolve(target) {
        case let .failure(refusal):
            counters.refusedNames += 1
            return out + [.log(LogRecord(.info, "refused RRQ \(name) from \(d.peer): \(refusal)"))]
                + errorReply(to: d, .accessViolation, "access violation")
        case let .success(p):
            path = p
        }
        let id = TFTPSessionID(rawValue: nextID)
        nextID += 1
        let s = Session(id: id, peer: d.peer, local: d.local, interface: d.interface, requestBytes: d.payload, requestedName: name,
                        phase: indirection ? .resolvingFilter : .opening, started: now,
                        negotiation: negotiate(request.options))
        s.path = path
        s.deadline = now + settings.fileSourceTimeout
        sessions[id] = s
        sessionByPeer[d.peer] = id
        sessionsByAddress[d.peer.address.value, default: 0] += 1
        counters.sessionsStarted += 1
        if request.mode == .netascii {
            out.append(.log(LogRecord(.debug, "RRQ \(name) from \(d.peer) in netascii: served as octet")))
        }
        out += wakeUp(for: s)
        out.append(.openFile(id, path: path))
        return out
    }

    // MARK: Session traffic

    func onSessionPort(_ packet: TFTPPacket, _ d: Datagram, _ id: TFTPSessionID, at now: Instant) -> [TFTPServerAction] {
        guard let s = sessions[id] else {
            counters.ignored += 1
            return [.log(LogRecord(.debug, "ignored TFTP \(packet.opcode) from \(d.peer) for ended session \(id)"))]
        }
        guard d.peer == s.peer else { return wrongPeer(packet, d, session: s) }
        return sessionPacket(packet, s, at: now)
    }

    /// RFC 1350 section 4: a packet from an unexpected TID gets ERROR 5 and does not
    /// disturb the transfer. An ERROR is never answered (no error loops).
    func wrongPeer(_ packet: TFTPPacket, _ d: Datagram, session s: Session?) -> [TFTPServerAction] {
        counters.wrongTID += 1
        var out: [TFTPServerAction] = [.log(LogRecord(.debug, "TFTP \(packet.opcode) from unknown transfer ID \(d.peer)"))]
        if case .error = packet { return out }
        let error = TFTPError(code: .unknownTransferID, message: "unknown transfer ID")
        counters.errorsSent += 1
        if let s, !settings.singlePort {
            s.usedPort = true
            out.append(.send(Datagram(payload: Self.bytes(.error(error)), peer: d.peer,
                                      local: Endpoint(s.local.address, 0), interface: s.interface),
                             session: s.id))
        } else {
            out.append(.send(Datagram(payload: Self.bytes(.error(error)), peer: d.peer, local: d.local,
                                      interface: d.interface), session: nil))
        }
        return out
    }

    func sessionPacket(_ packet: TFTPPacket, _ s: Session, at now: Instant) -> [TFTPServerAction] {
        switch packet {
        case let .ack(block):
            return ack(block, s, at: now)
        case let .error(error):
            counters.clientErrors += 1
            // RFC 2347: ERROR 8 is the client declining the OACK (PXE ROMs' tsize probe).
            let quiet = error.code == .optionNegotiationRefused
            return end(s, failed: true, level: quiet ? .debug : .info,
                       "\(s.path) to \(s.peer): client ended the transfer with ERROR \(error.code) \"\(error.message)\"",
                       at: now)
        case .readRequest:
            // Single-port mode only (requests on the listening port come to readRequest).
            counters.ignored += 1
            return []
        default:
            counters.ignored += 1
            return [.log(LogRecord(.debug, "ignored TFTP \(packet.opcode) from \(s.peer) in a read transfer"))]
        }
    }

    /// RFC 1350, RFC 7440 section 4: an ACK of block k within the current window slides
    /// it to k+1 and the new window is sent at once; an ACK of anything already
    /// acknowledged is ignored, so duplicates never double the traffic (RFC 1123
    /// 4.2.3.1, the Sorcerer's Apprentice). Block numbers wrap 65535 → 0: the wire number
    /// is mapped to the one absolute block it can mean near the window.
    func ack(_ block: UInt16, _ s: Session, at now: Instant) -> [TFTPServerAction] {
        guard s.phase == .transferring else {
            counters.ignored += 1
            return []
        }
        let end = s.windowEnd
        let k = end - Int(UInt16(truncatingIfNeeded: end) &- block)
        guard k >= s.windowStart else {
            counters.duplicateAcks += 1
            return []
        }
        s.windowStart = k + 1
        s.timeouts = 0
        if k >= s.lastBlock {
            return complete(s, at: now)
        }
        return transmitWindow(s, at: now)
    }

    // MARK: Sending

    /// Sends the current window (the OACK when `windowStart` is 0), or first reads the
    /// chunk it needs.
    func transmitWindow(_ s: Session, at now: Instant, retransmission: Bool = false) -> [TFTPServerAction] {
        var out: [TFTPServerAction] = []
        if s.windowStart == 0 {
            out.append(send(Self.bytes(.optionAck(s.oackOptions)), s))
            if retransmission { counters.retransmissions += 1; s.retransmissions += 1 }
        } else {
            let first = s.windowStart, last = s.windowEnd
            guard s.holds(s.range(ofBlock: first).lowerBound..<s.range(ofBlock: last).upperBound) else {
                s.awaitingData = true
                if s.pendingRead == nil { out += read(s, fromBlock: first) }
                if s.awaitingData {
                    s.deadline = now + settings.fileSourceTimeout
                    out += wakeUp(for: s)
                }
                return out
            }
            for b in first...last {
                let r = s.range(ofBlock: b)
                var payload: [UInt8] = []
                payload.reserveCapacity(4 + r.count)
                payload.append(0); payload.append(3)
                payload.append(UInt8(truncatingIfNeeded: b >> 8)); payload.append(UInt8(truncatingIfNeeded: b))
                let base = s.chunk.startIndex - s.chunkOffset
                payload.append(contentsOf: s.chunk[(base + r.lowerBound)..<(base + r.upperBound)])
                out.append(send(payload, s))
            }
            let count = last - first + 1
            counters.dataPacketsSent += count
            if retransmission { counters.retransmissions += count; s.retransmissions += count }
        }
        s.deadline = now + s.timeout
        out += wakeUp(for: s)
        return out
    }

    /// Bytes per read: whole windows (whole blocks in lock-step), `readChunkSize` rounded
    /// down, at least one window (the window size is capped to fit a chunk). A window that
    /// straddled two chunks had the kept tail and the next chunk copied into one buffer
    /// (~2,000 instructions a block at windowsize 32); aligned, a window lies in one chunk
    /// while the client acknowledges whole windows.
    func readCount(_ s: Session) -> Int {
        let window = s.blksize * max(1, s.windowsize)
        return max(1, settings.readChunkSize / window) * window
    }

    /// Reads the chunk that starts at block `b`. The blocks of the current chunk from `b`
    /// on (at most a window's worth, the tail a window straddled) are kept, moved to the
    /// front, and only what follows them is read: no byte is read twice.
    func read(_ s: Session, fromBlock b: Int) -> [TFTPServerAction] {
        let start = (b - 1) * s.blksize
        let chunkEnd = s.chunkOffset + s.chunk.count
        if start >= s.chunkOffset, start < chunkEnd {
            s.chunk = s.chunk[(s.chunk.startIndex + start - s.chunkOffset)...]
        } else {
            s.chunk = []
        }
        s.chunkOffset = start
        let offset = start + s.chunk.count
        let count = max(0, min(readCount(s) - s.chunk.count, s.size - offset))
        guard count > 0, let h = s.handle else {
            // Nothing to read (the empty final block): the chunk holds the window.
            s.awaitingData = false
            return []
        }
        s.pendingRead = (offset, count)
        return [.readFile(s.id, h, offset: offset, count: count)]
    }

    /// While the OACK waits for its ACK, read the first chunk.
    func prefetch(_ s: Session) -> [TFTPServerAction] {
        guard s.pendingRead == nil, !s.holds(s.range(ofBlock: 1)) else { return [] }
        return read(s, fromBlock: 1)
    }

    func send(_ payload: [UInt8], _ s: Session) -> TFTPServerAction {
        if settings.singlePort {
            return .send(Datagram(payload: payload, peer: s.peer, local: s.local, interface: s.interface),
                         session: nil)
        }
        s.usedPort = true
        return .send(Datagram(payload: payload, peer: s.peer, local: Endpoint(s.local.address, 0), interface: s.interface),
                     session: s.id)
    }

    func wakeUp(for s: Session) -> [TFTPServerAction] {
        guard let d = s.deadline, requestedWake.map({ d < $0 }) ?? true else { return [] }
        requestedWake = d
        return [.wakeUp(at: d)]
    }

    /// An ERROR answering a request, from the listening port.
    func errorReply(to d: Datagram, _ code: TFTPErrorCode, _ message: String) -> [TFTPServerAction] {
        counters.errorsSent += 1
        let error = TFTPError(code: code, message: message)
        return [.send(Datagram(payload: Self.bytes(.error(error)), peer: d.peer, local: d.local, interface: d.interface),
                      session: nil)]
    }

    func fileErrorReply(_ error: FileSourceError) -> TFTPError {
        switch error {
        case .notFound: TFTPError(code: .fileNotFound, message: "file not found")
        case .accessDenied: TFTPError(code: .accessViolation, message: "access violation")
        case .ioError: TFTPError(code: .notDefined, message: "read error")
        }
    }

    static func bytes(_ packet: TFTPPacket) -> [UInt8] {
        // Every packet built here is valid (checked option values, no NUL in messages).
        try! packet.serialized()
    }

    // MARK: Ending

    /// Ends `s` with an ERROR to its peer (from its port if it has used one, else from
    /// the listening port).
    func fail(_ s: Session, reply: TFTPError?, level: LogRecord.Level, _ why: String, at now: Instant) -> [TFTPServerAction] {
        var out: [TFTPServerAction] = []
        if let reply {
            counters.errorsSent += 1
            let payload = Self.bytes(.error(reply))
            if s.usedPort, !settings.singlePort {
                out.append(send(payload, s))
            } else {
                out.append(.send(Datagram(payload: payload, peer: s.peer, local: s.local, interface: s.interface), session: nil))
            }
        }
        return out + end(s, failed: true, level: level, why, at: now)
    }

    func complete(_ s: Session, at now: Instant) -> [TFTPServerAction] {
        let blocks = s.lastBlock
        let text = "sent \(s.path) to \(s.peer): \(s.size) bytes, \(blocks) block\(blocks == 1 ? "" : "s") of \(s.blksize), \(s.retransmissions) retransmission\(s.retransmissions == 1 ? "" : "s"), \(now - s.started)"
        return end(s, failed: false, level: .info, text, at: now)
    }

    /// Forgets `s`: closes its files and port, counts and logs.
    func end(_ s: Session, failed: Bool, level: LogRecord.Level, _ why: String, at now: Instant) -> [TFTPServerAction] {
        var out: [TFTPServerAction] = [.log(LogRecord(level, why))]
        if let h = s.filterHandle { out.append(.closeFile(h)) }
        if let h = s.handle { out.append(.closeFile(h)) }
        if s.usedPort, !settings.singlePort { out.append(.closeSessionPort(s.id)) }
        let wasLive = sessions.removeValue(forKey: s.id) != nil
        if sessionByPeer[s.peer] == s.id { sessionByPeer[s.peer] = nil }
        let a = s.peer.address.value
        if wasLive, let n = sessionsByAddress[a] { sessionsByAddress[a] = n > 1 ? n - 1 : nil }
        if failed { counters.sessionsFailed += 1 } else { counters.sessionsCompleted += 1 }
        return out
    }

    func startText(_ s: Session) -> String {
        var options = "blksize \(s.blksize)"
        if s.windowsize > 1 || s.grantedWindowsize != nil { options += ", windowsize \(s.windowsize)" }
        options += ", timeout \(s.timeout)"
        let oack = s.hasOACK ? "OACK " + s.oackOptions.map(\.description).joined(separator: " ") : "no options"
        let filtered = s.path == s.requestedName ? "" : " as \(s.path)"
        return "RRQ \(s.requestedName)\(filtered) from \(s.peer): \(s.size) bytes, \(options) (\(oack))"
    }
}

