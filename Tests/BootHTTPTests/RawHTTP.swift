import TestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct RawHTTPError: Error, CustomStringConvertible { var description: String }

/// A plain TCP connection (to 127.0.0.1 unless told), for what curl cannot show: several requests on one
/// connection, pipelining, malformed requests, a client that goes away mid-response.
final class RawConnection: @unchecked Sendable {
    let fd: Int32
    /// Bytes received but not yet consumed by `response`.
    private var pending: [UInt8] = []

    private init(fd: Int32) { self.fd = fd }

    static func connect(port: Int, host: String = "127.0.0.1", receiveBuffer: Int? = nil) async throws -> RawConnection {
        let fd: Int32 = await onThread {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { return -1 }
            var timeout = timeval(tv_sec: 20, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            if var size = receiveBuffer.map(Int32.init) {
                setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
            }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = in_port_t(UInt16(port).bigEndian)
            addr.sin_addr.s_addr = inet_addr(host)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if rc != 0 { Glibc.close(fd); return -1 }
            return fd
        }
        guard fd >= 0 else { throw RawHTTPError(description: "cannot connect to \(host):\(port)") }
        return RawConnection(fd: fd)
    }

    func send(_ text: String) async throws {
        let bytes = Array(text.utf8)
        let fd = self.fd
        let ok = await onThread {
            var sent = 0
            while sent < bytes.count {
                let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if n <= 0 { return false }
                sent += n
            }
            return true
        }
        if !ok { throw RawHTTPError(description: "send failed") }
    }

    /// Up to `count` bytes; empty at end of stream. Throws after 20 s without data.
    func receive(_ count: Int = 1 << 16) async throws -> [UInt8] {
        if !pending.isEmpty {
            let take = Array(pending.prefix(count))
            pending.removeFirst(take.count)
            return take
        }
        let fd = self.fd
        let got: [UInt8]? = await onThread {
            var buffer = [UInt8](repeating: 0, count: count)
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, count, 0) }
            if n < 0 { return nil }
            return Array(buffer[..<n])
        }
        guard let got else { throw RawHTTPError(description: "receive failed or timed out") }
        return got
    }

    /// True when the server closed the connection (end of stream, or reset) with nothing
    /// more to read.
    func isClosedByServer() async throws -> Bool {
        guard pending.isEmpty else { return false }
        let fd = self.fd
        return await onThread {
            var byte: UInt8 = 0
            let n = recv(fd, &byte, 1, 0)
            return n == 0 || (n < 0 && errno == ECONNRESET)
        }
    }

    /// The next response: status line, headers, and a body of Content-Length bytes (none
    /// for the answer to a HEAD).
    func response(toHEAD: Bool = false) async throws -> RawResponse {
        var buffer = pending
        pending = []
        var headEnd: Int?
        while true {
            headEnd = endOfHead(buffer)
            if headEnd != nil { break }
            let more = try await receive()
            if more.isEmpty { throw RawHTTPError(description: "connection closed before a response head (\(buffer.count) bytes)") }
            buffer += more
        }
        let head = String(decoding: buffer[..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw RawHTTPError(description: "bad status line \(statusLine)") }
        var headers: [String: String] = [:]
        for line in lines {
            let kv = line.split(separator: ":", maxSplits: 1)
            if kv.count == 2 { headers[kv[0].lowercased()] = kv[1].trimmingCharacters(in: .whitespaces) }
        }
        let length = toHEAD ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        var body = Array(buffer[(headEnd! + 4)...])
        while body.count < length {
            let more = try await receive(min(1 << 20, length - body.count))
            if more.isEmpty { throw RawHTTPError(description: "connection closed after \(body.count) of \(length) body bytes") }
            body += more
        }
        pending = Array(body[length...])
        body.removeLast(body.count - length)
        return RawResponse(statusLine: statusLine, status: status, headers: headers, body: body)
    }

    /// Closes; with `reset`, abortively (SO_LINGER 0: the server sees a reset).
    func close(reset: Bool = false) {
        if reset {
            var l = linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, socklen_t(MemoryLayout<linger>.size))
        }
        Glibc.close(fd)
    }
}

struct RawResponse: Sendable {
    var statusLine: String
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

/// Paths of this process's open descriptors (/proc/self/fd), to check the server keeps
/// none of a file open once its transfers are over.
func openFilePaths() -> [String] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return [] }
    return names.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0) }
}

/// Where the blank line ending a response head starts (the index of its "\r\n\r\n").
func endOfHead(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 4 else { return nil }
    for i in 0...(bytes.count - 4) where bytes[i] == 13 && bytes[i + 1] == 10 && bytes[i + 2] == 13 && bytes[i + 3] == 10 {
        return i
    }
    return nil
}
