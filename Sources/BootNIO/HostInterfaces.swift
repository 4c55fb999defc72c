import BootWire
#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 address of one of the host's interfaces (getifaddrs).
public struct HostInterface: Hashable, Sendable, CustomStringConvertible {
    public var name: String
    public var index: Int
    public var address: IPv4Address
    public var netmask: IPv4Address
    public var description: String { "\(name) \(address)/\(netmask)" }

    public func contains(_ a: IPv4Address) -> Bool { a.value & netmask.value == address.value & netmask.value }

    /// Every IPv4 address of every interface that is up.
    public static func all() -> [HostInterface] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var out: [HostInterface] = []
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let i = p {
            defer { p = i.pointee.ifa_next }
            guard let sa = i.pointee.ifa_addr, sa.pointee.sa_family == sa_family_t(AF_INET),
                  let nm = i.pointee.ifa_netmask,
                  i.pointee.ifa_flags & UInt32(IFF_UP) != 0 else { continue }
            let addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let mask = nm.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            let name = String(cString: i.pointee.ifa_name)
            out.append(HostInterface(name: name, index: Int(if_nametoindex(name)), address: IPv4Address(addr), netmask: IPv4Address(mask)))
        }
        return out
    }

    /// The interface whose network contains `poolStart` (PyBootd: the served network).
    public static func serving(poolStart: IPv4Address, among interfaces: [HostInterface] = all()) throws(NoInterfaceError) -> HostInterface {
        if let i = interfaces.first(where: { $0.contains(poolStart) }) { return i }
        throw NoInterfaceError(poolStart: poolStart, interfaces: interfaces)
    }
}

public struct NoInterfaceError: Error, CustomStringConvertible, Sendable {
    public var poolStart: IPv4Address
    public var interfaces: [HostInterface]
    public var description: String {
        "no interface on the network of pool_start \(poolStart) (this host has: \(interfaces.map(\.description).joined(separator: ", ")))"
    }
}
