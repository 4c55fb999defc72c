import BootWire

/// The ports a daemon runs on. Production fills them with SwiftNIO and friends (BootNIO);
/// the simulator with SimNet's in-memory versions. The daemon code is the same.
public struct DaemonPorts {
    public var clock: any Clock
    public var leaseStore: any LeaseStore
    public var authority: (any AccessAuthority)?
    /// Sends DHCP replies (bound to the DHCP port) and notify datagrams.
    public var dhcpTransport: (any Transport)?
    public var log: (LogRecord) -> Void

    public init(clock: any Clock, leaseStore: any LeaseStore, authority: (any AccessAuthority)? = nil,
                dhcpTransport: (any Transport)? = nil, log: @escaping (LogRecord) -> Void = { _ in }) {
        self.clock = clock; self.leaseStore = leaseStore; self.authority = authority
        self.dhcpTransport = dhcpTransport; self.log = log
    }
}

/// The daemon composition: engines wired to ports. Both `bootd` and the simulator start
/// this object; it carries out the engines' actions in the order they are given (a lease
/// is stored before the ACK that depends on it is sent; notify goes after the reply).
///
/// Confined to one thread: every call (datagrams, answers, timers) must come from the
/// loop the ports call back on.
public final class BootDaemon {
    public let dhcp: DHCPServer?
    let ports: DaemonPorts
    private var wakeScheduled: Set<Int64> = []

    public init(dhcp settings: DHCPServerSettings?, ports: DaemonPorts) {
        self.ports = ports
        self.dhcp = settings.map { DHCPServer(settings: $0, leases: ports.leaseStore.load()) }
    }

    /// A datagram arrived on the DHCP port.
    public func receiveDHCP(_ datagram: Datagram) {
        guard let dhcp else { return }
        perform(dhcp.handle(datagram, at: ports.clock.now))
    }

    func perform(_ actions: [DHCPServerAction]) {
        for action in actions {
            switch action {
            case let .send(d), let .notify(d):
                ports.dhcpTransport?.send(d)
            case let .storeLease(r):
                ports.leaseStore.store(r)
            case let .removeLease(mac):
                ports.leaseStore.remove(mac: mac)
            case let .queryAuthority(q, id):
                guard let authority = ports.authority else {
                    perform(dhcp?.authorityAnswered(id: id, .failed("no authority configured"), at: ports.clock.now) ?? [])
                    continue
                }
                authority.query(q) { [weak self] answer in
                    guard let self, let dhcp = self.dhcp else { return }
                    self.perform(dhcp.authorityAnswered(id: id, answer, at: self.ports.clock.now))
                }
            case let .wakeUp(at):
                // One timer per instant is enough: wake handles everything due.
                guard wakeScheduled.insert(at.nanoseconds).inserted else { continue }
                ports.clock.schedule(at: at) { [weak self] in
                    guard let self, let dhcp = self.dhcp else { return }
                    self.wakeScheduled.remove(at.nanoseconds)
                    self.perform(dhcp.wake(at: self.ports.clock.now))
                }
            case let .log(record):
                ports.log(record)
            }
        }
    }
}
