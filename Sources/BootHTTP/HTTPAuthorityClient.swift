import AsyncHTTPClient
import BootCore
import BootWire
import Logging
import NIOCore

/// The `[http]` access authority (`access = http`), asked over HTTP as PyBootd does:
/// `GET <location><pxe|dhcp path>?mac=AA-BB-CC-DD-EE-FF[&uuid=…]`.
///
/// 200 allows (the body's `Client: NAME` and `File: NAME` lines give the host name and the
/// boot file); 401 or 403 denies; any other status, a timeout, a refused connection or
/// any other error fails *that request only* (`.failed(reason)`, which denies it).
///
/// Confined to the daemon's event loop like the engines: `query` is called on `eventLoop`
/// and `completion` always runs there, later (never from inside `query`).
public final class HTTPAuthorityClient: AccessAuthority {
    public let settings: HTTPAuthoritySettings
    public let location: HTTPLocation
    public let eventLoop: any EventLoop
    private let client: HTTPClient
    private let logger: Logger
    /// Bodies larger than this fail the request: an authority answers a few lines.
    public static let maxBodySize = 64 * 1024

    /// nil when `settings` names no location. `client` is shared and owned by the caller,
    /// who shuts it down after the daemon stops.
    public init?(settings: HTTPAuthoritySettings, client: HTTPClient, eventLoop: any EventLoop,
                 logger: Logger = Logger(label: "bootd.http.authority")) {
        guard let location = settings.location else { return nil }
        self.settings = settings; self.location = location
        self.client = client; self.eventLoop = eventLoop; self.logger = logger
    }

    /// The URL asked for `query`: the phase's path under the location, `mac` as PyBootd
    /// writes it (upper-case hex, `-` separators), `uuid` when the client sent one.
    public func url(for query: AuthorityQuery) -> String {
        let path = (query.phase == .pxe ? settings.pxePath : settings.dhcpPath) ?? ""
        var items = ["mac=" + Self.macText(query.mac)]
        if let uuid = query.uuid { items.append("uuid=" + Self.percentEncodeQueryValue(uuid)) }
        return location.url(path: path, query: items.joined(separator: "&"))
    }

    public func query(_ query: AuthorityQuery, completion: @escaping (AuthorityAnswer) -> Void) {
        let loop = eventLoop
        let bound = NIOLoopBound(completion, eventLoop: loop)
        let url = self.url(for: query)
        let logger = self.logger
        let request: HTTPClient.Request
        do {
            request = try HTTPClient.Request(url: url, method: .GET)
        } catch {
            let reason = "bad authority URL \(url): \(error)"
            logger.error("\(reason)")
            loop.assumeIsolated().execute { bound.value(.failed(reason)) }
            return
        }
        let deadline = NIODeadline.now() + TimeAmount(settings.timeout)
        let accumulator = ResponseAccumulator(request: request, maxBodySize: Self.maxBodySize)
        client.execute(request: request, delegate: accumulator, eventLoop: .delegate(on: loop), deadline: deadline)
            .futureResult
            .hop(to: loop)
            .assumeIsolated()
            .whenComplete { result in
                let answer: AuthorityAnswer
                switch result {
                case let .success(response):
                    answer = Self.answer(status: Int(response.status.code), body: response.body.map { String(buffer: $0) } ?? "")
                case let .failure(error):
                    answer = .failed("\(url): \(Self.describe(error))")
                }
                switch answer {
                case let .allowed(host, file):
                    logger.info("authority allows \(Self.macText(query.mac))", metadata: [
                        "url": "\(url)", "client": "\(host ?? "-")", "file": "\(file ?? "-")"])
                case .denied:
                    logger.info("authority denies \(Self.macText(query.mac))", metadata: ["url": "\(url)"])
                case let .failed(reason):
                    logger.warning("authority failed, refusing this request: \(reason)")
                }
                bound.value(answer)
            }
    }

    /// The answer for a status and body (PyBootd's rules).
    public static func answer(status: Int, body: String) -> AuthorityAnswer {
        switch status {
        case 200:
            var host: String?, file: String?
            for line in body.split(whereSeparator: \.isNewline) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = line[..<colon].trimmingSpaces.lowercased()
                let value = String(line[line.index(after: colon)...].trimmingSpaces)
                guard !value.isEmpty else { continue }
                if key == "client", host == nil { host = value }
                if key == "file", file == nil { file = value }
            }
            return .allowed(hostName: host, bootFile: file)
        case 401, 403:
            return .denied
        default:
            return .failed("unexpected HTTP status \(status)")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded, .readTimeout, .connectTimeout: return "timeout"
            default: return "\(e)"
            }
        }
        return "\(error)"
    }

    /// `AA-BB-CC-DD-EE-FF`.
    public static func macText(_ mac: [UInt8]) -> String {
        mac.map { b in
            let h = String(b, radix: 16, uppercase: true)
            return h.count == 1 ? "0" + h : h
        }.joined(separator: "-")
    }

    /// Percent-encodes all but RFC 3986 unreserved characters.
    public static func percentEncodeQueryValue(_ s: String) -> String { percentEncode(s) }
}

/// RFC 3986 §2.3: everything but unreserved characters is percent-encoded.
func percentEncode(_ s: String) -> String {
    var out = ""
    for b in s.utf8 {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "_"), UInt8(ascii: "~"):
            out.unicodeScalars.append(Unicode.Scalar(b))
        default:
            let hex = Array("0123456789ABCDEF".utf8)
            out += "%" + String(decoding: [hex[Int(b >> 4)], hex[Int(b & 15)]], as: UTF8.self)
        }
    }
    return out
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
