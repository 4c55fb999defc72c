import BootWire

// The ports: everything nondeterministic that the engines need, as small protocols with a
// production implementation (BootNIO) and a simulated one (SimNet). Engines never call
// them directly: they return actions, and the daemon composition carries them out
// through these ports, in order. See DESIGN.md, "The one rule".

/// A point in time on a monotonic clock, in nanoseconds since an arbitrary origin.
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: Int64
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)
    public static func < (l: Instant, r: Instant) -> Bool { l.nanoseconds < r.nanoseconds }
    public static func + (l: Instant, r: Duration) -> Instant {
        Instant(nanoseconds: l.nanoseconds &+ r.nanosecondCount)
    }
    public static func - (l: Instant, r: Instant) -> Duration { .nanoseconds(l.nanoseconds - r.nanoseconds) }
    public var description: String {
        let ms = nanoseconds / 1_000_000
        return "\(ms / 1000).\(String(1000 + ms % 1000).dropFirst())s"
    }
}

extension Duration {
    /// Whole nanoseconds, truncated toward zero and saturating at Int64's range: the one
    /// conversion from Duration for instants, timers and virtual time. (Seconds as a Double,
    /// for reports, are `d / .seconds(1)`.)
    @inlinable
    public var nanosecondCount: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return s < 0 ? .min : .max }
        let (sum, overflow2) = ns.addingReportingOverflow(atto / 1_000_000_000)
        if overflow2 { return s < 0 ? .min : .max }
        return sum
    }
}

/// A UDP endpoint.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPv4Address
    public var port: UInt16
    public init(_ address: IPv4Address, _ port: UInt16) { self.address = address; self.port = port }
    public var description: String { "\(address):\(port)" }
}

/// A datagram as a server sees it: the peer, the local address it was sent to (or is sent
/// from) and the interface, so replies leave from the right address on the right link.
public struct Datagram: Hashable, Sendable {
    public var payload: [UInt8]
    /// For a received datagram, the sender; for one to send, the destination.
    public var peer: Endpoint
    /// The local address and port (a received broadcast's destination is 255.255.255.255).
    public var local: Endpoint
    /// Interface index, when known (0 = unknown / any).
    public var interface: Int

    public init(payload: [UInt8], peer: Endpoint, local: Endpoint, interface: Int = 0) {
        self.payload = payload; self.peer = peer; self.local = local; self.interface = interface
    }
}

/// Sends datagrams. Receiving is the daemon's business: it hands each received datagram
/// to the engine that owns the port it arrived on.
public protocol Transport: AnyObject {
    func send(_ datagram: Datagram)
}

/// A UDP port the daemon opened, e.g. one TFTP transfer's own port (RFC 1350 TID).
public protocol BoundPort: Transport {
    /// The address and port actually bound (the port chosen by the system when 0 was asked).
    var local: Endpoint { get }
    func close()
}

/// Opens UDP ports on demand. Production: NIO datagram channels. Simulation: SimNet ports.
public protocol PortFactory: AnyObject {
    /// Opens `port` (0: any free port) on `address`; every datagram received on it is given
    /// to `receive`, on the daemon's thread. nil when the port cannot be opened.
    func openPort(address: IPv4Address, port: UInt16, receive: @escaping (Datagram) -> Void) -> (any BoundPort)?
}

/// Now, and timers. Production: the NIO event loop. Simulation: virtual time.
public protocol Clock: AnyObject {
    var now: Instant { get }
    /// Calls `action` at (or as soon as possible after) `deadline`. The returned token
    /// cancels it.
    @discardableResult
    func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> TimerToken
    func cancel(_ token: TimerToken)
}

public struct TimerToken: Hashable, Sendable {
    public let id: UInt64
    public init(id: UInt64) { self.id = id }
}

/// Randomness: transaction ids, jitter. Production: the system generator. Simulation: seeded.
public protocol RandomSource: AnyObject {
    func next() -> UInt64
}

/// Which phase of a network install asks for access (PyBootd's `[http] pxe` and `dhcp`).
public enum BootPhase: String, Hashable, Sendable {
    /// The firmware's PXE request (option 60 PXEClient or option 97).
    case pxe
    /// The installed OS's plain DHCP request.
    case dhcp
}

/// A question to the access authority.
public struct AuthorityQuery: Hashable, Sendable {
    public var mac: [UInt8]
    public var uuid: String?
    public var phase: BootPhase
    public init(mac: [UInt8], uuid: String?, phase: BootPhase) { self.mac = mac; self.uuid = uuid; self.phase = phase }
}

/// The authority's answer. Anything but `allowed` denies that one request.
public enum AuthorityAnswer: Hashable, Sendable {
    /// Allowed, with an optional host name (`Client:`) and boot file (`File:`).
    case allowed(hostName: String?, bootFile: String?)
    case denied
    /// Timeout, refused connection, unexpected status: denies this request, logged.
    case failed(String)
}

/// Asks the authority; the answer comes back through `completion` on the engine's loop.
public protocol AccessAuthority: AnyObject {
    func query(_ query: AuthorityQuery, completion: @escaping (AuthorityAnswer) -> Void)
}

/// One durable binding of a client to an address.
public struct LeaseRecord: Hashable, Sendable {
    public var mac: [UInt8]
    public var address: IPv4Address
    /// When the lease ends, on the daemon's clock; nil for a binding that does not expire
    /// (static, BOOTP). Bindings stay sticky after expiry unless the address is needed.
    public var expires: Instant?
    /// The client booted through PXE once (PyBootd's PXE-then-OS rule).
    public var pxeBooted: Bool
    public var uuid: String?
    public var hostName: String?
    public init(mac: [UInt8], address: IPv4Address, expires: Instant?, pxeBooted: Bool = false,
                uuid: String? = nil, hostName: String? = nil) {
        self.mac = mac; self.address = address; self.expires = expires
        self.pxeBooted = pxeBooted; self.uuid = uuid; self.hostName = hostName
    }
}

/// The bindings a lease store holds: one record per client and one client per address.
/// A record stored for an address another client holds replaces that client's record, so
/// what a store loads is decided by the order of its writes alone (the last one wins),
/// never by dictionary order. Every store applies its writes through this.
public struct LeaseBindings: Sendable {
    public private(set) var byMAC: [[UInt8]: LeaseRecord] = [:]
    private var holder: [UInt32: [UInt8]] = [:]
    public init() {}

    public var count: Int { byMAC.count }

    public mutating func store(_ record: LeaseRecord) {
        let a = record.address.value
        if let other = holder[a], other != record.mac { byMAC[other] = nil }
        if let old = byMAC[record.mac], old.address.value != a, holder[old.address.value] == record.mac {
            holder[old.address.value] = nil
        }
        byMAC[record.mac] = record
        holder[a] = record.mac
    }

    /// Removes the record of `mac`; false when there was none.
    @discardableResult
    public mutating func remove(_ mac: [UInt8]) -> Bool {
        guard let r = byMAC.removeValue(forKey: mac) else { return false }
        if holder[r.address.value] == mac { holder[r.address.value] = nil }
        return true
    }

    /// Every record, by address (so a load is deterministic).
    public var sorted: [LeaseRecord] { byMAC.values.sorted { $0.address < $1.address } }
}

/// Durable MAC → IP bindings. `load` at start; `store` before the ACK that depends on it
/// leaves (the daemon orders this); `remove` on RELEASE or DECLINE. A store keeps one
/// client per address, the last stored (`LeaseBindings`).
///
/// A store may buffer changes and make them durable in `sync` (group commit: many leases,
/// one write and one sync). While `hasUnsyncedChanges` is true the daemon holds every reply
/// that depends on them and sends it only after `sync` returns true. When `sync` returns
/// false (a write or flush failed: a full disk, an I/O error) the changes are not durable:
/// the daemon drops the replies that depended on them (the clients ask again), and the
/// store keeps them to write with the next `sync`.
public protocol LeaseStore: AnyObject {
    func load() -> [LeaseRecord]
    func store(_ record: LeaseRecord)
    func remove(mac: [UInt8])
    /// Changes made by `store`/`remove` that are not durable yet.
    var hasUnsyncedChanges: Bool { get }
    /// Makes every change so far durable; returns when it is, true when it is durable.
    @discardableResult func sync() -> Bool
    /// Why the last `sync` failed, for the log.
    var failureReason: String? { get }
}

/// The store of a daemon that serves no DHCP: nothing to keep.
public final class NoLeaseStore: LeaseStore {
    public init() {}
    public func load() -> [LeaseRecord] { [] }
    public func store(_ record: LeaseRecord) {}
    public func remove(mac: [UInt8]) {}
}

extension LeaseStore {
    /// Stores that are durable on `store` (or not durable at all, like the simulator's).
    public var hasUnsyncedChanges: Bool { false }
    @discardableResult public func sync() -> Bool { true }
    public var failureReason: String? { nil }
}

/// The bytes of a boot file. Size first (for tsize and the OACK), then reads by offset.
public protocol FileSource: AnyObject {
    /// Opens `path` (already resolved and checked by the TFTP engine's rules) and reports
    /// its size, or why it cannot be served.
    func open(_ path: String, completion: @escaping (Result<FileHandleID, FileSourceError>) -> Void)
    func size(of file: FileHandleID) -> Int
    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file. A slice,
    /// so a source holding the file in memory hands out views of one copy: a thousand
    /// transfers of one cached file then hold no bytes of their own.
    func read(_ file: FileHandleID, offset: Int, count: Int, completion: @escaping (Result<ArraySlice<UInt8>, FileSourceError>) -> Void)
    func close(_ file: FileHandleID)
}

public struct FileHandleID: Hashable, Sendable {
    public let id: UInt64
    public init(id: UInt64) { self.id = id }
}

public enum FileSourceError: Error, Hashable, Sendable {
    case notFound
    case accessDenied(String)
    case ioError(String)
}
