import BootCore
import BootWire
#if canImport(Glibc)
import Glibc
#endif

/// bind(2), sendto(2) and getsockname(2) on plain descriptors with `Endpoint`s: the few
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
