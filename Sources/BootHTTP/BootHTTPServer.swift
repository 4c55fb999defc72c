import BootCore
import BootWire
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the HTTP server cannot start.
public enum BootHTTPServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `[httpd] root` does not exist or is not a directory.
    case rootUnavailable(path: String, reason: String)
    /// The listening socket could not be bound (port in use, privileged port without root…).
    case cannotListen(address: String, port: Int, reason: String)
    public var description: String {
        switch self {
        case let .rootUnavailable(path, reason): "[httpd] root \(path): \(reason)"
        case let .cannotListen(address, port, reason): "[httpd] cannot listen on \(address):\(port): \(reason)"
        }
    }
}

/// The boot file HTTP server (`-H`, `[httpd]`), on SwiftNIO's HTTP/1.1 codec.
///
/// GET and HEAD of files under `root`, with single byte ranges (RFC 9110 §14: 206 and
/// `Content-Range`, 416 when unsatisfiable; several ranges are answered with the whole
/// file, which §14.2 allows). Every request is first decided by `decide` (the daemon asks
/// the DHCP engine's leases through `HTTPAccessRules`): 403 forbidden, 400 bad request.
/// The path it returns is then resolved with realpath(3) and must still lie inside the
/// root (a symlink leading out is refused with 403); missing files and directories are
/// 404. File bodies are written as `FileRegion`s, which NIO sends with sendfile(2): the
/// file's bytes never pass through user space, and a slow client holds a descriptor, not a
/// buffer. HTTP/1.1 keep-alive and pipelining (answered in order); malformed requests get
/// 400 and the connection is closed. Clients are served concurrently. One log line per
/// request.
public struct BootHTTPServer: Sendable {
    public typealias Decide = @Sendable (_ target: String, _ client: IPv4Address) async -> HTTPAccessRules.Decision

    public let address: IPv4Address
    public let port: UInt16
    /// The root as given, and resolved (realpath) once at start.
    public let root: String
    public let resolvedRoot: String
    private let decide: Decide
    let logger: Logger
    private let eventLoopGroup: any EventLoopGroup
    /// A connection with no request in progress and nothing received for this long is
    /// closed (as nginx's `keepalive_timeout`, 75 s there): idle keep-alive connections
    /// cannot pile up and hold descriptors. A response being sent, however slowly, is
    /// never cut by it.
    public var idleTimeout: TimeAmount = .seconds(60)

    /// `root` relative paths resolve against `baseDirectory` (the configuration file's
    /// directory) when given. Throws `rootUnavailable` when the root is not a directory.
    public init(address: IPv4Address, port: UInt16, root: String, baseDirectory: String? = nil,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "bootd.httpd"), decide: @escaping Decide) throws {
        self.address = address; self.port = port; self.root = root
        self.decide = decide; self.logger = logger; self.eventLoopGroup = eventLoopGroup
        var full = root
        if !root.hasPrefix("/"), let base = baseDirectory { full = base + "/" + root }
        switch FileSystemPaths.realPath(full) {
        case let .failure(reason):
            throw BootHTTPServerError.rootUnavailable(path: full, reason: reason.description)
        case let .success(resolved):
            guard FileSystemPaths.kind(resolved) == .directory else {
                throw BootHTTPServerError.rootUnavailable(path: full, reason: "not a directory")
            }
            self.resolvedRoot = resolved
        }
    }

    /// From `[httpd]`.
    public init(settings: HTTPDSettings, baseDirectory: String? = nil,
                eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "bootd.httpd"), decide: @escaping Decide) throws {
        try self.init(address: settings.address, port: settings.port, root: settings.root, baseDirectory: baseDirectory,
                      eventLoopGroup: eventLoopGroup, logger: logger, decide: decide)
    }

    /// Binds `address:port` and serves until the calling task is cancelled (every
    /// connection is closed at once) or, inside a swift-service-lifecycle `ServiceGroup`,
    /// until graceful shutdown (no new connections; idle ones close, in-flight responses
    /// finish, then their connections close). `onRunning` gets the bound port (useful with
    /// port 0). Throws `cannotListen` when the port cannot be bound (in use, or below 1024
    /// without privileges).
    public func run(onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) async throws {
        let server = self
        let connections = Connections()
        let idle = idleTimeout
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            // Accept up to 64 waiting connections per wakeup, not NIO's default 4: when a rack
            // connects at once, the last of 1,000 would otherwise wait behind ~250 rounds of
            // everyone else's sends (seconds; wrk measured a 10 s worst case).
            .serverChannelOption(ChannelOptions.maxMessagesPerRead, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard connections.add(channel) else { return channel.close() }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    // NIO's request decoder; the rest of HTTP/1.1 is BootHTTPConnection's.
                    try sync.addHandler(ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try sync.addHandler(BootHTTPConnection(server: server, channel: channel, idleTimeout: idle))
                }
            }
        let listener: any Channel
        do {
            listener = try await bootstrap.bind(host: address.description, port: Int(port)).get()
        } catch {
            var reason = "\(error)"
            if let io = error as? IOError {
                reason = String(cString: strerror(io.errnoCode))
                if io.errnoCode == EACCES && port < 1024 {
                    reason += " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                }
            }
            let failure = BootHTTPServerError.cannotListen(address: address.description, port: Int(port), reason: reason)
            logger.error("HTTP server: \(failure)")
            throw failure
        }
        let boundPort = listener.localAddress?.port ?? Int(port)
        logger.info("HTTP server listening on \(address):\(boundPort), root \(resolvedRoot)")
        await onRunning(boundPort)

        await withGracefulShutdownHandler {
            await withTaskCancellationHandler {
                try? await listener.closeFuture.get()
            } onCancel: {
                listener.close(promise: nil)
                connections.closeAll()
            }
        } onGracefulShutdown: {
            listener.close(promise: nil)
            connections.quiesce()
        }
        // The listener is closed (shutdown, cancellation or an error): let the connections
        // finish what they are sending, unless the task is (or gets) cancelled.
        connections.quiesce()
        if Task.isCancelled { connections.closeAll() }
        await withTaskCancellationHandler {
            await connections.allClosed()
        } onCancel: {
            connections.closeAll()
        }
        logger.info("HTTP server on \(address):\(boundPort) stopped")
    }

    // MARK: - One request, off the event loop

    /// What to answer to one request: decided (the `decide` closure) and resolved (realpath,
    /// open, fstat) off the event loop, sent on it.
    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var headers: HTTPHeaders = [:]
        /// The open file and the bytes of it to send (GET only; nil for HEAD and empty bodies).
        var file: NIOFileHandle?
        var range: Range<Int> = 0..<0
        /// Content-Length: what a GET sends, also for HEAD.
        var contentLength = 0
        var note: String?

        init(_ status: HTTPResponseStatus, note: String? = nil) {
            self.status = status; self.note = note
        }
    }

    func answer(method: HTTPMethod, target: String, client: IPv4Address?, rangeHeader: String?) async -> Answer {
        guard method == .GET || method == .HEAD else {
            var a = Answer(.methodNotAllowed, note: "method \(method.rawValue)")
            a.headers.add(name: "Allow", value: "GET, HEAD")
            return a
        }
        guard let client else { return Answer(.forbidden, note: "not an IPv4 client") }
        switch await decide(target, client) {
        case let .forbidden(reason): return Answer(.forbidden, note: reason)
        case let .badRequest(reason): return Answer(.badRequest, note: reason)
        case let .serve(path): return serve(path: path, method: method, rangeHeader: rangeHeader)
        }
    }

    private func serve(path: String, method: HTTPMethod, rangeHeader: String?) -> Answer {
        let candidate = path.isEmpty ? resolvedRoot : resolvedRoot + "/" + path
        let real: String
        switch FileSystemPaths.realPath(candidate) {
        case .failure: return Answer(.notFound, note: "no such file")
        case let .success(r): real = r
        }
        let inside = resolvedRoot == "/" || real == resolvedRoot || real.hasPrefix(resolvedRoot + "/")
        guard inside else { return Answer(.forbidden, note: "\(path) resolves outside the root") }
        // O_NONBLOCK: opening a FIFO must not block; reads of a regular file ignore it.
        let fd = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            return Answer(.notFound, note: "cannot open: \(String(cString: strerror(errno)))")
        }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            return Answer(.notFound, note: "not a regular file")
        }
        let size = Int(st.st_size)
        var a = Answer(.ok)
        a.headers.add(name: "Accept-Ranges", value: "bytes")
        a.headers.add(name: "Content-Type", value: Self.contentType(path))
        var range: ClosedRange<Int>?
        if let rangeHeader {
            switch ByteRange.parse(rangeHeader, size: size) {
            case .whole: break
            case let .partial(r): range = r
            case .unsatisfiable:
                close(fd)
                a.status = .rangeNotSatisfiable
                a.headers.add(name: "Content-Range", value: "bytes */\(size)")
                a.note = "range \(rangeHeader)"
                return a
            }
        }
        if let r = range {
            a.status = .partialContent
            a.headers.add(name: "Content-Range", value: "bytes \(r.lowerBound)-\(r.upperBound)/\(size)")
        }
        let span = range.map { $0.lowerBound..<($0.upperBound + 1) } ?? 0..<size
        a.contentLength = span.count
        if method == .GET && !span.isEmpty {
            a.file = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: fd)
            a.range = span
        } else {
            close(fd)
        }
        return a
    }

    /// By the name's extension, ASCII case-insensitive (bytes, not Characters: this runs
    /// for every request).
    static func contentType(_ path: String) -> String {
        var ext: [UInt8] = []
        var dotted = false
        for b in path.utf8.reversed() {
            if b == UInt8(ascii: ".") { dotted = true; break }
            if b == UInt8(ascii: "/") || ext.count == 7 { break }
            ext.append(b | (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? 0x20 : 0))
        }
        if !dotted { ext = [] }
        switch String(decoding: ext.reversed(), as: UTF8.self) {
        case "ipxe", "txt", "cfg", "conf", "cmdline": return "text/plain"
        case "html", "htm": return "text/html"
        case "iso": return "application/x-iso9660-image"
        default: return "application/octet-stream"
        }
    }
}

// MARK: - One connection, on its event loop

/// A connection's whole HTTP/1.1 server side after NIO's request decoder: requests are
/// answered one at a time in the order they came (pipelining), each response written as
/// its head (bytes formatted here) and the file as a `FileRegion`, which NIO sends with
/// sendfile(2). NIO's response encoder, pipelining handler and protocol error handler did
/// this before; every write of every response passed through all three (about a fifth of
/// the server's instructions per request under wrk), for features this server does not
/// use (chunked bodies, trailers, upgrades).
///
/// Each request's answer is computed in a task (the `decide` closure is async) and sent
/// back on the channel's event loop. The next pipelined request is taken once the previous
/// response is queued and the channel is writable again (a 1 MiB file region makes it
/// unwritable until most of it is sent), so a client that pipelines many requests without
/// reading holds one open file at a time, not one per request; past
/// `maxWaitingRequests` received requests the socket is not read. The file descriptor is
/// closed when its region's write completes or fails (the client went away: NIO fails the
/// pending writes when the channel closes).
final class BootHTTPConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let server: BootHTTPServer
    private let peer: String
    private let clientIPv4: IPv4Address?
    private var head: HTTPRequestHead?
    /// False once the channel is inactive or this handler is gone: answers that arrive
    /// later only close their file.
    private var live = true
    /// A response said `Connection: close`, or the server is stopping: no further request
    /// is answered, and the connection closes once `inFlight` is back to 0.
    private var closing = false
    /// Received and not yet answered, in order.
    private var waiting = CircularBuffer<HTTPRequestHead>(initialCapacity: 2)
    static let maxWaitingRequests = 16
    /// A `read` held back while `waiting` is full.
    private var readHeld = false
    /// A request being decided (its answer not yet written): the next one waits.
    private var answering = false
    /// Requests taken from `waiting` and not yet completely sent (being decided, or their
    /// bytes still queued in the channel): a graceful stop waits for them.
    private var inFlight = 0
    /// File responses being sent: TCP_CORK is on while there is one (see `send`).
    private var corkedResponses = 0
    private static let tcpCork = ChannelOptions.tcpOption(NIOBSDSocket.Option(rawValue: 3)) // TCP_CORK, Linux
    /// Nothing received for this long and no response going out: the connection is closed.
    /// Kept here rather than by NIO's IdleStateHandler, which also sits on the outbound path.
    private let idleTimeout: TimeAmount
    private var lastRead = NIODeadline.now()
    private var idleTimer: Scheduled<Void>?

    init(server: BootHTTPServer, channel: any Channel, idleTimeout: TimeAmount) {
        self.server = server
        self.idleTimeout = idleTimeout
        let remote = channel.remoteAddress
        peer = remote.map { "\($0)" } ?? "?"
        if var text = remote?.ipAddress {
            if text.hasPrefix("::ffff:") { text.removeFirst(7) }
            clientIPv4 = IPv4Address(text)
        } else {
            clientIPv4 = nil
        }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive && idleTimer == nil { scheduleIdleCheck(in: idleTimeout, context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        lastRead = .now()
        if idleTimer == nil { scheduleIdleCheck(in: idleTimeout, context: context) }
        context.fireChannelActive()
    }

    private func scheduleIdleCheck(in delay: TimeAmount, context: ChannelHandlerContext) {
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { self.idleCheck(context: context) }
    }

    private func idleCheck(context: ChannelHandlerContext) {
        guard live else { return }
        let quiet = NIODeadline.now() - lastRead
        if quiet < idleTimeout {
            scheduleIdleCheck(in: idleTimeout - quiet, context: context)
        } else if inFlight == 0 && waiting.isEmpty {
            // Nothing received for `idleTimeout` and nothing being sent: close.
            closing = true
            context.close(promise: nil)
        } else {
            // A response is still going out (a slow client reading a large file sends
            // nothing meanwhile): look again in a full period.
            scheduleIdleCheck(in: idleTimeout, context: context)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        switch unwrapInboundIn(data) {
        case let .head(h):
            head = h
        case .body:
            break // GET and HEAD have no body; anything else gets 405 whatever it sends
        case .end:
            guard let request = head, !closing else { return }
            head = nil
            waiting.append(request)
            answerNext(context: context)
        }
    }

    /// Outbound `read`: held while `maxWaitingRequests` wait (a client pipelining without
    /// reading its responses is not read further).
    func read(context: ChannelHandlerContext) {
        if waiting.count >= Self.maxWaitingRequests {
            readHeld = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { answerNext(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Starts answering the first waiting request, unless one is being decided or the
    /// channel's buffer is full.
    private func answerNext(context: ChannelHandlerContext) {
        guard live, !answering, !closing, !waiting.isEmpty, context.channel.isWritable else { return }
        let request = waiting.removeFirst()
        if readHeld && waiting.count < Self.maxWaitingRequests {
            readHeld = false
            context.read()
        }
        answering = true
        inFlight += 1
        let server = self.server
        let client = clientIPv4
        let promise = context.eventLoop.makePromise(of: BootHTTPServer.Answer.self)
        Self.start(promise) {
            await server.answer(method: request.method, target: request.uri, client: client,
                                rangeHeader: request.headers.first(name: "range"))
        }
        promise.futureResult.assumeIsolated().whenSuccess { answer in
            self.answering = false
            self.send(answer, to: request, context: context)
            self.answerNext(context: context)
        }
    }

    /// Runs `work` for `promise`. Where the runtime has `Task.immediate`, it starts right
    /// here on the event loop's thread and, when `decide` does not suspend (no check_ip),
    /// finishes here too: no hop to Swift's thread pool and back for each request (the
    /// wakeups were a visible share of a 1,000-connection run). Otherwise, and after a
    /// suspension, it runs on the global executor, and NIO hops the result to the loop.
    private static func start(_ promise: EventLoopPromise<BootHTTPServer.Answer>,
                              _ work: @escaping @Sendable () async -> BootHTTPServer.Answer) {
        #if compiler(>=6.2)
        if #available(macOS 26.0, iOS 26.0, tvOS 26.0, watchOS 26.0, visionOS 26.0, *) {
            Task.immediate { promise.succeed(await work()) }
            return
        }
        #endif
        promise.completeWithTask(work)
    }

    private func send(_ answer: BootHTTPServer.Answer, to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let file = answer.file
        guard live else {
            try? file?.close()
            inFlight -= 1
            return
        }
        let keepAlive = request.isKeepAlive && !closing
        if !keepAlive { stopTakingRequests() }
        var head = context.channel.allocator.buffer(capacity: 256)
        head.writeString("HTTP/1.1 \(answer.status.code) \(answer.status.reasonPhrase)\r\n")
        for (name, value) in answer.headers {
            head.writeString(name)
            head.writeString(": ")
            head.writeString(value)
            head.writeString("\r\n")
        }
        head.writeString("Content-Length: \(answer.contentLength)\r\nDate: ")
        head.writeString(HTTPDate.now())
        head.writeString("\r\nServer: bootd\r\n")
        if !keepAlive {
            head.writeString("Connection: close\r\n")
        } else if request.version.major == 1 && request.version.minor == 0 {
            head.writeString("Connection: keep-alive\r\n")
        }
        head.writeString("\r\n")
        log(request, answer)
        // A file response is sent corked, as nginx's tcp_nopush does: the head goes out in
        // the first segment with the file's bytes, and sendfile's 64 KiB pieces leave as
        // full segments, not a full one and a small remainder each (a third more packets
        // on loopback, measured). Uncorked when its last byte is written.
        let channel = context.channel
        if file != nil {
            if corkedResponses == 0 { Self.setCork(true, channel) }
            corkedResponses += 1
        }
        // Whether the bytes went out or the client went away (NIO fails the pending writes
        // when the channel closes), the descriptor is closed here, and only here.
        let sent = context.eventLoop.makePromise(of: Void.self)
        sent.futureResult.assumeIsolated().whenComplete { result in
            self.inFlight -= 1
            if let file {
                try? file.close()
                self.corkedResponses -= 1
                if self.corkedResponses == 0 { Self.setCork(false, channel) }
            }
            if case .failure = result {
                channel.close(promise: nil)
            } else if self.closing && self.inFlight == 0 {
                channel.close(promise: nil)
            }
        }
        if let file {
            context.write(wrapOutboundOut(.byteBuffer(head)), promise: nil)
            let region = FileRegion(fileHandle: file, readerIndex: answer.range.lowerBound, endIndex: answer.range.upperBound)
            context.writeAndFlush(wrapOutboundOut(.fileRegion(region)), promise: sent)
        } else {
            context.writeAndFlush(wrapOutboundOut(.byteBuffer(head)), promise: sent)
        }
    }

    /// No further request is answered: those received and not begun are dropped (as
    /// after any `Connection: close`), and the socket is read again only to see it close.
    private func stopTakingRequests() {
        closing = true
        waiting.removeAll()
    }

    private static func setCork(_ on: Bool, _ channel: any Channel) {
        #if os(Linux)
        try? channel.syncOptions?.setOption(tcpCork, value: on ? 1 : 0)
        #endif
    }

    private func log(_ request: HTTPRequestHead, _ answer: BootHTTPServer.Answer) {
        let logger = server.logger
        guard logger.logLevel <= .info else { return }
        let bytes = request.method == .HEAD ? 0 : answer.contentLength
        var line = "\(peer) \(request.method.rawValue) \(request.uri) \(answer.status.code) \(bytes)"
        if let note = answer.note { line += " (\(note))" }
        logger.info("\(line)")
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let logger = server.logger
        if error is HTTPParserError {
            // A malformed request: 400 when no response is under way (as NIO's protocol
            // error handler did), then close; a response being sent is finished first.
            logger.info("\(peer) - - 400 0 (malformed request: \(error))")
            stopTakingRequests()
            head = nil
            if inFlight == 0 {
                let bad = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(.byteBuffer(channel.allocator.buffer(string: bad))))
                    .assumeIsolated().whenComplete { _ in channel.close(promise: nil) }
            }
            return
        }
        if logger.logLevel <= .debug {
            logger.debug("\(peer): \(error)")
        }
        stopTakingRequests()
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is BootHTTPQuiesce else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Graceful stop: the responses under way finish (the one being decided says
        // `Connection: close`), then the connection closes.
        stopTakingRequests()
        if inFlight == 0 { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        live = false
        idleTimer?.cancel()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        live = false
        idleTimer?.cancel()
    }
}

/// Asks a connection to close once the responses it has started are sent (graceful stop).
struct BootHTTPQuiesce: Sendable {}

/// The server's open connections: graceful shutdown asks each to finish (an idle one
/// closes at once, a busy one after the responses it started, with `Connection: close`
/// on those not yet begun), and the server waits for them all to close; cancellation
/// closes them at once.
final class Connections: @unchecked Sendable {
    private enum State { case serving, quiescing, closing }
    private let lock = NIOLock()
    private var state = State.serving
    private var open: [ObjectIdentifier: any Channel] = [:]
    private var waiters: [CheckedContinuation<Void, Never>] = []

    /// False when the server is stopping (the connection is to be closed).
    func add(_ channel: any Channel) -> Bool {
        let accepted: Bool = lock.withLock {
            guard state == .serving else { return false }
            open[ObjectIdentifier(channel)] = channel
            return true
        }
        guard accepted else { return false }
        channel.closeFuture.whenComplete { _ in self.remove(channel) }
        return true
    }

    private func remove(_ channel: any Channel) {
        let resume: [CheckedContinuation<Void, Never>] = lock.withLock {
            open[ObjectIdentifier(channel)] = nil
            guard open.isEmpty, state != .serving else { return [] }
            defer { waiters = [] }
            return waiters
        }
        for w in resume { w.resume() }
    }

    func quiesce() {
        let channels: [any Channel] = lock.withLock {
            guard state == .serving else { return [] }
            state = .quiescing
            return Array(open.values)
        }
        for c in channels { c.pipeline.fireUserInboundEventTriggered(BootHTTPQuiesce()) }
    }

    func closeAll() {
        let channels: [any Channel] = lock.withLock {
            state = .closing
            return Array(open.values)
        }
        for c in channels { c.close(promise: nil) }
    }

    func allClosed() async {
        await withCheckedContinuation { (w: CheckedContinuation<Void, Never>) in
            let done: Bool = lock.withLock {
                if open.isEmpty { return true }
                waiters.append(w)
                return false
            }
            if done { w.resume() }
        }
    }
}

/// The `Date` header (RFC 9110 §5.6.7, IMF-fixdate), formatted once a second.
enum HTTPDate {
    private static let cache = NIOLockedValueBox<(second: Int, text: String)>((-1, ""))

    static func now() -> String {
        let t = time(nil)
        return cache.withLockedValue { c in
            if c.second == t { return c.text }
            var clock = t
            var tm = tm()
            gmtime_r(&clock, &tm)
            var buffer = [CChar](repeating: 0, count: 64)
            let n = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S GMT", &tm)
            c = (t, String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self))
            return c.text
        }
    }
}

/// A `Range` header against a file of `size` bytes (RFC 9110 §14.1.2), one range only.
enum ByteRange: Equatable {
    case whole
    case partial(ClosedRange<Int>)
    case unsatisfiable

    static func parse(_ header: String, size: Int) -> ByteRange {
        let h = Substring(header).trimmingSpaces
        guard h.lowercased().hasPrefix("bytes=") else { return .whole }
        let spec = h.dropFirst(6)
        guard !spec.contains(",") else { return .whole }
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let first = parts[0].trimmingSpaces, last = parts[1].trimmingSpaces
        if first.isEmpty {
            // Suffix: the last N bytes.
            guard let n = Int(last), n >= 0 else { return .whole }
            guard n > 0, size > 0 else { return .unsatisfiable }
            return .partial(max(0, size - n)...(size - 1))
        }
        guard let start = Int(first), start >= 0 else { return .whole }
        var end = size - 1
        if !last.isEmpty {
            guard let e = Int(last), e >= start else { return .whole }
            end = min(e, size - 1)
        }
        guard start < size else { return .unsatisfiable }
        return .partial(start...end)
    }
}

/// realpath(3) and stat(2), without Foundation.
enum FileSystemPaths {
    enum Kind { case regular, directory, other }

    struct Failure: Error, CustomStringConvertible { var description: String }

    static func realPath(_ path: String) -> Result<String, Failure> {
        guard !path.utf8.contains(0) else { return .failure(Failure(description: "NUL byte in path")) }
        guard let p = realpath(path, nil) else { return .failure(Failure(description: String(cString: strerror(errno)))) }
        defer { free(p) }
        return .success(String(cString: p))
    }

    static func kind(_ path: String) -> Kind {
        var st = stat()
        guard stat(path, &st) == 0 else { return .other }
        switch st.st_mode & S_IFMT {
        case S_IFREG: return .regular
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    static func size(_ path: String) -> Int? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return Int(st.st_size)
    }
}
