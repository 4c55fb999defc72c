import BootCore
import BootWire
import Hummingbird
import Logging
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why the HTTP server cannot start.
public enum BootHTTPServerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// `[httpd] root` does not exist or is not a directory.
    case rootUnavailable(path: String, reason: String)
    public var description: String {
        switch self {
        case let .rootUnavailable(path, reason): "[httpd] root \(path): \(reason)"
        }
    }
}

/// The boot file HTTP server (`-H`, `[httpd]`), on Hummingbird.
///
/// GET and HEAD of files under `root`, with single byte ranges (RFC 9110 §14: 206 and
/// `Content-Range`, 416 when unsatisfiable; several ranges are answered with the whole
/// file, which §14.2 allows). Every request is first decided by `decide` (the daemon asks
/// the DHCP engine's leases through `HTTPAccessRules`): 403 forbidden, 400 bad request.
/// The path it returns is then resolved with realpath(3) and must still lie inside the
/// root (a symlink leading out is refused with 403); missing files and directories are
/// 404. Clients are served concurrently. One log line per request.
public struct BootHTTPServer: Sendable {
    public typealias Decide = @Sendable (_ target: String, _ client: IPv4Address) async -> HTTPAccessRules.Decision

    public let address: IPv4Address
    public let port: UInt16
    /// The root as given, and resolved (realpath) once at start.
    public let root: String
    public let resolvedRoot: String
    private let decide: Decide
    private let logger: Logger
    private let eventLoopGroup: any EventLoopGroup

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

    /// Binds `address:port` and serves until the calling task is cancelled or, inside a
    /// swift-service-lifecycle `ServiceGroup`, until graceful shutdown (in-flight
    /// responses finish). `onRunning` gets the bound port (useful with port 0). Throws
    /// when the port cannot be bound (in use, or below 1024 without privileges).
    public func run(onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) async throws {
        let handler = self
        let responder = CallbackResponder<BootRequestContext> { request, context in
            await handler.respond(to: request, context: context)
        }
        let log = logger
        let bound = "\(address):\(port)"
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(address.description, port: Int(port)), serverName: "bootd",
                                 backlog: 1024),
            onServerRunning: { channel in
                let p = channel.localAddress?.port ?? Int(handler.port)
                log.info("HTTP server listening on \(handler.address):\(p), root \(handler.resolvedRoot)")
                await onRunning(p)
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: quietLogger(logger))
        do {
            try await app.run()
        } catch {
            log.error("HTTP server on \(bound) failed: \(error)")
            throw error
        }
    }

    // MARK: - One request

    func respond(to request: Request, context: BootRequestContext) async -> Response {
        let target = request.head.path ?? "/"
        let method = request.method
        let clientText = context.remoteAddress.map { "\($0)" } ?? "?"
        var response: Response
        var note: String?
        if method != .get && method != .head {
            response = Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"])
            note = "method \(method.rawValue)"
        } else if let client = context.clientIPv4 {
            switch await decide(target, client) {
            case let .forbidden(reason):
                response = Response(status: .forbidden)
                note = reason
            case let .badRequest(reason):
                response = Response(status: .badRequest)
                note = reason
            case let .serve(path):
                (response, note) = await serve(path: path, request: request, context: context)
            }
        } else {
            response = Response(status: .forbidden)
            note = "not an IPv4 client"
        }
        let bytes = method == .head ? 0 : (response.body.contentLength ?? 0)
        var line = "\(clientText) \(method.rawValue) \(target) \(response.status.code) \(bytes)"
        if let note { line += " (\(note))" }
        logger.info("\(line)")
        if method == .head { response = response.createHeadResponse() }
        return response
    }

    private func serve(path: String, request: Request, context: BootRequestContext) async -> (Response, String?) {
        let candidate = path.isEmpty ? resolvedRoot : resolvedRoot + "/" + path
        let real: String
        switch FileSystemPaths.realPath(candidate) {
        case .failure:
            return (Response(status: .notFound), "no such file")
        case let .success(r):
            real = r
        }
        let inside = resolvedRoot == "/" || real == resolvedRoot || real.hasPrefix(resolvedRoot + "/")
        guard inside else { return (Response(status: .forbidden), "\(path) resolves outside the root") }
        guard FileSystemPaths.kind(real) == .regular, let size = FileSystemPaths.size(real) else {
            return (Response(status: .notFound), "not a regular file")
        }
        var headers: HTTPFields = [.acceptRanges: "bytes", .contentType: Self.contentType(path)]
        var range: ClosedRange<Int>?
        if let rangeHeader = request.headers[.range] {
            switch ByteRange.parse(rangeHeader, size: size) {
            case .whole: break
            case let .partial(r): range = r
            case .unsatisfiable:
                headers[.contentRange] = "bytes */\(size)"
                return (Response(status: .rangeNotSatisfiable, headers: headers), "range \(rangeHeader)")
            }
        }
        let status: HTTPResponse.Status = range == nil ? .ok : .partialContent
        if size == 0 {
            headers[.contentLength] = "0"
            return (Response(status: status, headers: headers), nil)
        }
        let span = range ?? 0...(size - 1)
        if let r = range { headers[.contentRange] = "bytes \(r.lowerBound)-\(r.upperBound)/\(size)" }
        headers[.contentLength] = "\(span.count)"
        if request.method == .head {
            let body = ResponseBody(contentLength: span.count) { _ in }
            return (Response(status: status, headers: headers, body: body), nil)
        }
        do {
            let body = try await FileIO().loadFile(path: real, range: span, context: context)
            return (Response(status: status, headers: headers, body: body), nil)
        } catch {
            return (Response(status: .notFound), "cannot read: \(error)")
        }
    }

    static func contentType(_ path: String) -> String {
        let ext = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch ext {
        case "ipxe", "txt", "cfg", "conf", "cmdline": return "text/plain"
        case "html", "htm": return "text/html"
        case "iso": return "application/x-iso9660-image"
        default: return "application/octet-stream"
        }
    }

    private func quietLogger(_ logger: Logger) -> Logger {
        // Hummingbird's own per-request logging stays at debug/trace; ours is one line.
        var l = logger
        if l.logLevel < .notice { l.logLevel = .notice }
        return l
    }
}

/// The request context: Hummingbird's core storage plus the peer's address.
public struct BootRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
    /// The client's IPv4 address (also from an IPv4-mapped IPv6 address).
    var clientIPv4: IPv4Address? {
        guard var text = remoteAddress?.ipAddress else { return nil }
        if text.hasPrefix("::ffff:") { text.removeFirst(7) }
        return IPv4Address(text)
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
