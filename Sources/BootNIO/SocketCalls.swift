import BootCore
import BootWire
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
