import Hummingbird
import Logging
import NIOCore

/// The demo access authority, bootd's equivalent of PyBootd's test server: allows listed
/// MACs and UUIDs on the PXE path (`/boot`) and the OS path (`/linux`), answering
/// `200` with `Client: NAME` (and `File: NAME`) lines, `401` otherwise. It is how users
/// try `access = http`; the `bootd-demo-authority` executable runs it.
public struct DemoAuthority: Sendable {
    public struct Entry: Hashable, Sendable {
        public var hostName: String?
        public var bootFile: String?
        public init(hostName: String? = nil, bootFile: String? = nil) { self.hostName = hostName; self.bootFile = bootFile }
    }

    public enum ParseError: Error, Hashable, Sendable, CustomStringConvertible {
        case badKey(String, line: Int?)
        public var description: String {
            switch self {
            case let .badKey(k, line?): "line \(line): \(k) is neither a MAC address nor a UUID"
            case let .badKey(k, nil): "\(k) is neither a MAC address nor a UUID"
            }
        }
    }

    /// Normalised key (see `key(_:)`) → what to answer.
    public var allowed: [String: Entry]
    public var pxePath: String
    public var dhcpPath: String
    /// Wait this long before answering (to try the daemon's `[http] timeout`).
    public var delay: Duration

    public init(allowed: [String: Entry], pxePath: String = "/boot", dhcpPath: String = "/linux", delay: Duration = .zero) {
        self.allowed = allowed; self.pxePath = pxePath; self.dhcpPath = dhcpPath; self.delay = delay
    }

    /// A MAC (`-` or `:` separated, any case) as `aabbccddeeff`; a UUID (with or without
    /// dashes) as 32 lower-case hex digits; nil for anything else.
    public static func key(_ text: String) -> String? {
        let hex = text.lowercased().filter { $0 != "-" && $0 != ":" }
        guard hex.allSatisfy(\.isHexDigit), hex.count == 12 || hex.count == 32 else { return nil }
        return hex
    }

    /// `KEY[=HOSTNAME[,FILE]]`, as `--allow` takes it.
    public static func parseAllow(_ text: String, line: Int? = nil) throws -> (key: String, entry: Entry) {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard let first = parts.first, let key = key(String(Substring(first).trimmingSpaces)) else { throw ParseError.badKey(text, line: line) }
        var entry = Entry()
        if parts.count == 2 {
            let v = parts[1].split(separator: ",", maxSplits: 1).map { String(Substring($0).trimmingSpaces) }
            entry.hostName = v.first.flatMap { $0.isEmpty ? nil : $0 }
            entry.bootFile = v.count > 1 && !v[1].isEmpty ? v[1] : nil
        }
        return (key, entry)
    }

    /// A list file: one `KEY [HOSTNAME [FILE]]` or `KEY[=HOSTNAME[,FILE]]` a line; `#` comments.
    public static func parseList(_ contents: String) throws -> [String: Entry] {
        var out: [String: Entry] = [:]
        for (n, raw) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = (raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "").trimmingSpaces
            guard !line.isEmpty else { continue }
            if line.contains("=") {
                let (k, e) = try parseAllow(String(line), line: n + 1)
                out[k] = e
            } else {
                let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
                guard let k = key(words[0]) else { throw ParseError.badKey(words[0], line: n + 1) }
                out[k] = Entry(hostName: words.count > 1 ? words[1] : nil, bootFile: words.count > 2 ? words[2] : nil)
            }
        }
        return out
    }

    /// The answer to `GET path?mac=…&uuid=…`: 404 for another path, 200 with the entry's
    /// lines when the MAC or the UUID is listed, 401 otherwise.
    public func answer(path: String, mac: String?, uuid: String?) -> (status: Int, body: String) {
        guard path == pxePath || path == dhcpPath else { return (404, "unknown path \(path)\n") }
        let entry = [mac, uuid].lazy.compactMap { $0.flatMap(Self.key) }.compactMap { allowed[$0] }.first
        guard let entry else { return (401, "not allowed\n") }
        var body = ""
        if let h = entry.hostName { body += "Client: \(h)\n" }
        if let f = entry.bootFile { body += "File: \(f)\n" }
        return (200, body)
    }

    /// Serves on `host:port` until the task is cancelled (or graceful shutdown).
    public func run(host: String = "127.0.0.1", port: Int, logger: Logger = Logger(label: "bootd.demo-authority"),
                    onRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }) async throws {
        let authority = self
        let responder = CallbackResponder<BasicRequestContext> { request, context in
            if authority.delay > .zero { try await Task.sleep(for: authority.delay) }
            let q = request.uri.queryParameters
            let mac = q["mac"].map(String.init), uuid = q["uuid"].map(String.init)
            let (status, body) = authority.answer(path: request.uri.path, mac: mac, uuid: uuid)
            logger.info("\(request.method.rawValue) \(request.uri.path) mac=\(mac ?? "-") uuid=\(uuid ?? "-") → \(status)\(body.isEmpty ? "" : " " + body.split(separator: "\n").joined(separator: "; "))")
            return Response(status: .init(code: status), headers: [.contentType: "text/plain"],
                            body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        var quiet = logger
        if quiet.logLevel < .notice { quiet.logLevel = .notice }
        let app = Application(
            responder: responder,
            configuration: .init(address: .hostname(host, port: port), serverName: "bootd-demo-authority"),
            onServerRunning: { channel in
                let p = channel.localAddress?.port ?? port
                logger.info("demo authority on \(host):\(p): \(authority.allowed.count) allowed, paths \(authority.pxePath) \(authority.dhcpPath)")
                await onRunning(p)
            },
            logger: quiet)
        try await app.run()
    }
}
