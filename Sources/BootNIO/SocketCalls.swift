import BootCore
import BootWire
import CBootSocket
#if canImport(Glibc)
import Glibc
#endif

/// bind(2), sendto(2), sendmsg(2) and getsockname(2) on plain descriptors with `Endpoint`s: the few
/// places that work below NIO (transfer ports bound before NIO registers them, the replay
/// client, tests) build their `sockaddr_in` here and nowhere else.
public enum SocketCalls {
    /// The IPv4 socket address of `e`.
    public static func address(_ e: Endpoint) -> sockaddr_in {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = e.port.bigEndian
        sin.sin_addr.s_addr = e.address.value.bigEndian
        return sin
    }

    /// The endpoint of an IPv4 socket address.
    public static func endpoint(_ sin: sockaddr_in) -> Endpoint {
        Endpoint(IPv4Address(UInt32(bigEndian: sin.sin_addr.s_addr)), UInt16(bigEndian: sin.sin_port))
    }

    /// bind(2); 0 or -1 with errno set.
    public static func bind(_ fd: Int32, to e: Endpoint) -> Int32 {
        var sin = address(e)
        return withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    /// sendto(2) of one datagram; the bytes sent or -1 with errno set.
    @discardableResult
    public static func send(_ fd: Int32, _ bytes: [UInt8], to e: Endpoint) -> Int {
        var sin = address(e)
        return bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// A failed system call's errno, with its text.
    public struct Failure: Error, CustomStringConvertible {
        public let errno: Int32
        public var description: String { "\(String(cString: strerror(errno))) (errno \(errno))" }
    }

    /// sendmsg(2) of one datagram to `e` or, with `segmentSize`, of a buffer the kernel cuts
    /// into datagrams of that size (UDP GSO: a UDP_SEGMENT control message). 0 when sent,
    /// else the errno (EAGAIN when the socket's send buffer is full: nothing was sent).
    public static func send(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, to e: Endpoint, segmentSize: Int? = nil) -> Int32 {
        var sin = address(e)
        var iov = iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)
        return withUnsafeMutablePointer(to: &sin) { name in
            withUnsafeMutablePointer(to: &iov) { iov in
                // cmsghdr (length, level, type: 16 bytes on 64-bit Linux) and a UInt16, padded
                // to 8 bytes: CMSG_SPACE(2) = 24, CMSG_LEN(2) = 18.
                withUnsafeTemporaryAllocation(byteCount: 24, alignment: 8) { control in
                    var m = msghdr()
                    m.msg_name = UnsafeMutableRawPointer(name)
                    m.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                    m.msg_iov = iov
                    m.msg_iovlen = 1
                    if let segmentSize {
                        control.initializeMemory(as: UInt8.self, repeating: 0)
                        let header = control.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                        header.pointee.cmsg_len = 18
                        header.pointee.cmsg_level = 17     // SOL_UDP
                        header.pointee.cmsg_type = 103     // UDP_SEGMENT
                        control.storeBytes(of: UInt16(segmentSize), toByteOffset: MemoryLayout<cmsghdr>.size, as: UInt16.self)
                        m.msg_control = control.baseAddress
                        m.msg_controllen = 24
                    }
                    return sendmsg(fd, &m, 0) < 0 ? errno : 0
                }
            }
        }
    }

    /// setsockopt(2) of an integer option; false with errno set when refused.
    @discardableResult
    public static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) -> Bool {
        var v = value
        return setsockopt(fd, level, name, &v, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// The address a socket is bound to (getsockname(2)), nil on error.
    public static func localEndpoint(_ fd: Int32) -> Endpoint? {
        var sin = sockaddr_in()
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return rc == 0 ? endpoint(sin) : nil
    }
}

/// Datagrams to several peers in one sendmmsg(2): a listening port's replies of one loop
/// iteration (a burst of OFFERs and ACKs, or every transfer's next block with `single_port`).
/// Each payload is copied into one buffer kept from call to call, beside the addresses and
/// headers the call needs; nothing is allocated per datagram once the buffers have grown.
final class DatagramBatch {
    /// At most this many datagrams per system call (Linux accepts up to 1,024).
    static let maximumCount = 64
    private var bytes: UnsafeMutableRawBufferPointer
    private let names: UnsafeMutablePointer<sockaddr_in>
    private let vectors: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutablePointer<CBootSocket_mmsghdr>

    init() {
        bytes = .allocate(byteCount: 16 << 10, alignment: 16)
        names = .allocate(capacity: Self.maximumCount)
        vectors = .allocate(capacity: Self.maximumCount)
        headers = .allocate(capacity: Self.maximumCount)
    }

    deinit {
        bytes.deallocate(); names.deallocate(); vectors.deallocate(); headers.deallocate()
    }

    /// Sends up to `maximumCount` datagrams from the front of `datagrams`, in order: the
    /// number sent (from 1), or the negated errno of the first one when it was refused.
    func send(_ fd: Int32, _ datagrams: ArraySlice<(payload: [UInt8], peer: Endpoint)>) -> Int {
        let count = min(datagrams.count, Self.maximumCount)
        guard count > 0 else { return 0 }
        let slice = datagrams.prefix(count)
        let total = slice.reduce(0) { $0 + $1.payload.count }
        if total > bytes.count {
            let size = max(total, bytes.count * 2)
            bytes.deallocate()
            bytes = .allocate(byteCount: size, alignment: 16)
        }
        var offset = 0
        for (i, d) in slice.enumerated() {
            let at = bytes.baseAddress! + offset
            d.payload.withUnsafeBytes { if let b = $0.baseAddress { at.copyMemory(from: b, byteCount: $0.count) } }
            names[i] = SocketCalls.address(d.peer)
            vectors[i] = iovec(iov_base: at, iov_len: d.payload.count)
            var m = msghdr()
            m.msg_name = UnsafeMutableRawPointer(names + i)
            m.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            m.msg_iov = vectors + i
            m.msg_iovlen = 1
            headers[i] = CBootSocket_mmsghdr(msg_hdr: m, msg_len: 0)
            offset += d.payload.count
        }
        let sent = CBootSocket_sendmmsg(fd, headers, UInt32(count), 0)
        return sent < 0 ? -Int(errno) : Int(sent)
    }
}
