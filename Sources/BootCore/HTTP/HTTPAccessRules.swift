import BootWire

/// What the HTTP file server (`-H`, `[httpd]`) decides for one request, as a pure function
/// the server calls: who may fetch (`check_ip`) and which file a request path names.
public struct HTTPAccessRules: Sendable {
    /// `[httpd] check_ip`: only addresses this server leased may fetch.
    public var checkIP: Bool

    public init(checkIP: Bool = true) { self.checkIP = checkIP }

    public enum Decision: Hashable, Sendable {
        /// Serve this path, relative to the HTTP root.
        case serve(path: String)
        /// 403: the client may not fetch (and why, for the log).
        case forbidden(String)
        /// 400: the request path cannot name a file inside the root.
        case badRequest(String)
    }

    /// Decides a GET or HEAD of `target` (the request target as sent: path, maybe a query
    /// string) from `client`. `leases` are the DHCP engine's current bindings: with
    /// `check_ip`, the client's address must be one of them and not expired (a released
    /// lease no longer counts). Loopback is always allowed (operators testing on the host).
    public func decide(target: String, client: IPv4Address, leases: [LeaseRecord], at now: Instant) -> Decision {
        if checkIP && client.value >> 24 != 127 {
            let leased = leases.contains { $0.address == client && ($0.expires.map { $0 > now } ?? true) }
            if !leased { return .forbidden("\(client) holds no lease from this server (check_ip)") }
        }
        // The query string (iPXE scripts add ?mac=… and the like) does not name the file.
        let utf8 = target.utf8
        let rawPath = utf8[..<(utf8.firstIndex(of: UInt8(ascii: "?")) ?? utf8.endIndex)]
        guard let decoded = Self.percentDecode(rawPath) else {
            return .badRequest("malformed percent-escape in \(Substring(rawPath))")
        }
        switch TFTPPath.resolve(bytes: decoded) {
        case let .success(path):
            return .serve(path: path)
        case let .failure(refusal):
            return .badRequest("\(Substring(rawPath)): \(refusal)")
        }
    }

    /// RFC 3986 percent-decoding; nil for a `%` not followed by two hex digits.
    static func percentDecode(_ s: String) -> [UInt8]? { percentDecode(Substring(s).utf8) }

    static func percentDecode(_ bytes: Substring.UTF8View) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let b = bytes[i]
            i = bytes.index(after: i)
            guard b == UInt8(ascii: "%") else { out.append(b); continue }
            guard i < bytes.endIndex, let hi = hexValue(bytes[i]) else { return nil }
            i = bytes.index(after: i)
            guard i < bytes.endIndex, let lo = hexValue(bytes[i]) else { return nil }
            i = bytes.index(after: i)
            out.append(hi << 4 | lo)
        }
        return out
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
