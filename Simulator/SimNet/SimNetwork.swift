import BootCore
import BootWire

/// The faults of a link direction. Every random choice comes from the sending host's
/// seeded stream.
public struct LinkFaults: Hashable, Sendable {
    /// One-way delay of every packet.
    public var latency: Duration
    /// Extra delay, uniform in 0...jitter.
    public var jitter: Duration
    /// Probability that a packet is lost.
    public var loss: Double
    /// Probability that a delivered packet arrives twice (the copy with its own delay).
    public var duplication: Double
    /// Probability that a packet is held back by an extra delay uniform in
    /// 0...reorderDelay, so that later packets overtake it.
    public var reordering: Double
    public var reorderDelay: Duration

    public init(latency: Duration = .microseconds(100), jitter: Duration = .zero, loss: Double = 0,
                duplication: Double = 0, reordering: Double = 0, reorderDelay: Duration = .milliseconds(5)) {
        self.latency = latency; self.jitter = jitter; self.loss = loss
        self.duplication = duplication; self.reordering = reordering; self.reorderDelay = reorderDelay
    }

    /// A clean LAN: 100 µs, no faults.
    public static let perfect = LinkFaults()

    struct Compiled {
        var latency: Int64, jitter: UInt64, loss: Double, duplication: Double, reordering: Double, reorderDelay: UInt64
        init(_ f: LinkFaults) {
            latency = max(0, f.latency.nanosecondCount)
            jitter = UInt64(max(0, f.jitter.nanosecondCount))
            loss = f.loss; duplication = f.duplication; reordering = f.reordering
            reorderDelay = UInt64(max(0, f.reorderDelay.nanosecondCount))
        }
    }
}

/// A set of hosts cut off from all the others from `start` until `end` (both directions;
/// hosts inside the set still reach each other, as do hosts outside it).
public struct Partition: Hashable, Sendable {
    public var hosts: Set<Int>
    public var start: Instant
    public var end: Instant
    public init(hosts: Set<Int>, start: Instant, end: Instant) { self.hosts = hosts; self.start = start; self.end = end }
    func separates(_ a: Int, _ b: Int, at t: Instant) -> Bool {
        t >= start && t < end && hosts.contains(a) != hosts.contains(b)
    }
}

/// What a fault hook decides for one packet (on top of the link's faults).
public enum PacketFate: Hashable, Sendable {
    case deliver
    case drop
    /// Deliver, with this much extra delay.
    case delay(Duration)
}

/// One packet offered to the fault hook.
public struct PacketInfo {
    public var from: Int
    public var to: Int
    public var datagram: Datagram  // as the receiver will see it
    public var time: Instant
}

/// Counters of the network.
public struct SimNetworkStats: Hashable, Sendable {
    /// `send` calls.
    public var sent = 0
    /// Copies handed to a receiver.
    public var delivered = 0
    public var droppedLoss = 0
    public var droppedPartition = 0
    /// Dropped by the fault hook.
    public var droppedHook = 0
    /// No host has the address, or it has no socket bound to the port (at delivery time).
    public var droppedUnbound = 0
    public var duplicated = 0
    public var reordered = 0
    public var bytesSent = 0
    public var bytesDelivered = 0
    public var dropped: Int { droppedLoss + droppedPartition + droppedHook + droppedUnbound }
    public init() {}
}

/// A simulated machine on the segment: an address, sockets (bound ports) and an owner for
/// the process running on it (a new one after each crash).
public final class SimHost {
    public let index: Int
    public let name: String
    public internal(set) var address: IPv4Address
    /// The owner of the current incarnation: give it to clocks, authorities, file trees.
    public internal(set) var owner: OwnerID
    /// Crashes so far.
    public internal(set) var incarnation = 0
    /// The interface index its datagrams report.
    public var interface = 1
    let random: SimRandom
    var sockets: [UInt16: (Datagram) -> Void] = [:]
    var nextEphemeral: UInt16 = 49152

    init(index: Int, name: String, address: IPv4Address, owner: OwnerID, random: SimRandom) {
        self.index = index; self.name = name; self.address = address; self.owner = owner; self.random = random
    }
    public var boundPorts: [UInt16] { sockets.keys.sorted() }
}

public enum SimNetworkError: Error, Hashable, Sendable {
    case portInUse(host: String, port: UInt16)
    case noEphemeralPort(host: String)
}

/// One broadcast domain (an L2 segment) with unicast by IPv4 address, and seeded link
/// faults. Deliveries are events of the simulation: a packet's fate (loss, delay,
/// duplication) is drawn when it is sent, and the receiving socket is looked up when it
/// arrives, so a packet to a crashed server is dropped and one to a restarted server that
/// bound the port again reaches the new incarnation.
public final class SimNetwork: SimEventTarget {
    public unowned let simulation: Simulation
    public private(set) var hosts: [SimHost] = []
    public private(set) var stats = SimNetworkStats()
    /// Faults of every link without its own.
    public var faults: LinkFaults { didSet { compiledDefault = .init(faults) } }
    /// Decides a packet's fate before the link faults are applied (a fault schedule in
    /// code: drop the third ACK, delay everything to host 3 after t=5s...).
    public var faultHook: ((PacketInfo) -> PacketFate)?
    public private(set) var partitions: [Partition] = []

    private var compiledDefault: LinkFaults.Compiled
    private var linkFaults: [Int: LinkFaults.Compiled] = [:]  // key from << 32 | to
    private var byAddress: [IPv4Address: Int] = [:]
    /// Hosts with each port bound, in host order: who hears a broadcast, without a scan
    /// of every host.
    private var listeners: [UInt16: [Int]] = [:]

    private struct InFlight { var from: Int; var to: Int; var datagram: Datagram }
    private var inFlight: [InFlight?] = []
    private var freeInFlight: [Int] = []

    public init(simulation: Simulation, faults: LinkFaults = .perfect) {
        self.simulation = simulation
        self.faults = faults
        self.compiledDefault = .init(faults)
    }

    // MARK: Hosts and sockets

    /// Adds a host. `address` may be 0.0.0.0 (a client before it has a lease).
    public func attach(_ name: String, address: IPv4Address) -> SimHost {
        let host = SimHost(index: hosts.count, name: name, address: address, owner: simulation.makeOwner(),
                           random: simulation.fork("net.host", UInt64(hosts.count)))
        hosts.append(host)
        if address != .any { byAddress[address] = host.index }
        return host
    }

    /// Gives a host a new address (a client that got its lease).
    public func setAddress(_ host: SimHost, _ address: IPv4Address) {
        if host.address != .any, byAddress[host.address] == host.index { byAddress[host.address] = nil }
        host.address = address
        if address != .any { byAddress[address] = host.index }
    }

    /// Binds `port` on `host`; `receive` gets each datagram that arrives there.
    public func bind(_ host: SimHost, port: UInt16, receive: @escaping (Datagram) -> Void) throws(SimNetworkError) -> SimTransport {
        guard host.sockets[port] == nil else { throw .portInUse(host: host.name, port: port) }
        host.sockets[port] = receive
        var list = listeners[port, default: []]
        list.insert(host.index, at: insertionPoint(host.index, in: list))
        listeners[port] = list
        return SimTransport(network: self, host: host, port: port)
    }

    /// Binds a free port from 49152...65535 (sequential per host, deterministic).
    public func bindEphemeral(_ host: SimHost, receive: @escaping (Datagram) -> Void) throws(SimNetworkError) -> SimTransport {
        for _ in 0..<16384 {
            let port = host.nextEphemeral
            host.nextEphemeral = port == 65535 ? 49152 : port + 1
            if host.sockets[port] == nil { return try bind(host, port: port, receive: receive) }
        }
        throw .noEphemeralPort(host: host.name)
    }

    public func unbind(_ host: SimHost, port: UInt16) {
        guard host.sockets.removeValue(forKey: port) != nil, var list = listeners[port] else { return }
        let i = insertionPoint(host.index, in: list)
        if i < list.count, list[i] == host.index { list.remove(at: i) }
        listeners[port] = list.isEmpty ? nil : list
    }

    private func insertionPoint(_ index: Int, in list: [Int]) -> Int {
        var lo = 0, hi = list.count
        while lo < hi { let mid = (lo + hi) / 2; if list[mid] < index { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    /// Takes a host off the segment for good: its sockets close, its process's events are
    /// cancelled and its address is free for another host. (Its index is not reused.)
    public func detach(_ host: SimHost) {
        for port in host.boundPorts { unbind(host, port: port) }
        simulation.kill(host.owner)
        setAddress(host, .any)
    }

    /// The host's process crashes: every socket closes, every event of its owner is
    /// cancelled, and a new owner is made for the next incarnation. Packets in flight to
    /// it arrive later to whatever is bound then. Returns the new owner.
    @discardableResult
    public func crash(_ host: SimHost) -> OwnerID {
        for port in host.boundPorts { unbind(host, port: port) }
        simulation.kill(host.owner)
        host.owner = simulation.makeOwner()
        host.incarnation += 1
        simulation.note("crash \(host.name)")
        return host.owner
    }

    // MARK: Faults

    /// Faults for packets from `from` to `to` (one direction), or nil to use `faults`.
    public func setFaults(_ f: LinkFaults?, from: SimHost, to: SimHost) {
        linkFaults[from.index << 32 | to.index] = f.map(LinkFaults.Compiled.init)
    }

    /// Cuts `hosts` off from the rest during [start, end).
    public func partition(_ hosts: [SimHost], from start: Instant, until end: Instant) {
        partitions.append(Partition(hosts: Set(hosts.map(\.index)), start: start, end: end))
    }

    public func clearPartitions() { partitions.removeAll() }

    /// Changes the default faults at a virtual instant (a fault schedule).
    public func scheduleFaults(_ f: LinkFaults, at time: Instant) {
        simulation.schedule(at: time, label: "faults") { [unowned self] in self.faults = f }
    }

    private func partitioned(_ a: Int, _ b: Int) -> Bool {
        for p in partitions where p.separates(a, b, at: simulation.now) { return true }
        return false
    }

    // MARK: Sending

    /// Sends from `host`. The source is `datagram.local` (address 0.0.0.0 or
    /// 255.255.255.255 means the host's own address); the destination `datagram.peer`.
    /// 255.255.255.255 reaches every other host with the port bound.
    public func send(_ datagram: Datagram, from host: SimHost) {
        stats.sent += 1
        stats.bytesSent += datagram.payload.count
        var source = datagram.local
        if source.address == .any || source.address == .broadcast { source.address = host.address }
        let destination = datagram.peer
        if destination.address == .broadcast {
            guard let list = listeners[destination.port] else {
                stats.droppedUnbound += 1
                simulation.note("drop \(source)->\(destination): nobody listens")
                return
            }
            for index in list where index != host.index {
                transmit(datagram.payload, source: source, destination: destination, from: host, to: hosts[index])
            }
        } else if let to = byAddress[destination.address] {
            transmit(datagram.payload, source: source, destination: destination, from: host, to: hosts[to])
        } else {
            stats.droppedUnbound += 1
            simulation.note("drop \(source)->\(destination): no host")
        }
    }

    /// Latest scheduled arrival per directed link (from << 32 | to), for FIFO delivery.
    private var lastArrival: [UInt64: Int64] = [:]

    private func transmit(_ payload: [UInt8], source: Endpoint, destination: Endpoint, from: SimHost, to: SimHost) {
        let received = Datagram(payload: payload, peer: source, local: destination, interface: to.interface)
        if !partitions.isEmpty, partitioned(from.index, to.index) {
            stats.droppedPartition += 1
            simulation.note("drop \(source)->\(destination): partition")
            return
        }
        var extra: Int64 = 0
        if let hook = faultHook {
            switch hook(PacketInfo(from: from.index, to: to.index, datagram: received, time: simulation.now)) {
            case .deliver: break
            case .drop:
                stats.droppedHook += 1
                simulation.note("drop \(source)->\(destination): hook")
                return
            case .delay(let d): extra = max(0, d.nanosecondCount)
            }
        }
        let f = linkFaults.isEmpty ? compiledDefault : (linkFaults[from.index << 32 | to.index] ?? compiledDefault)
        let r = from.random
        if r.chance(f.loss) {
            stats.droppedLoss += 1
            simulation.note("drop \(source)->\(destination): loss")
            return
        }
        let copies = r.chance(f.duplication) ? 2 : 1
        if copies == 2 { stats.duplicated += 1 }
        let link = UInt64(from.index) << 32 | UInt64(to.index)
        for _ in 0..<copies {
            var delay = f.latency &+ extra &+ Int64(r.below(f.jitter &+ 1))
            if r.chance(f.reordering) {
                stats.reordered += 1
                delay &+= Int64(r.below(f.reorderDelay &+ 1))
            } else if extra == 0 {
                // A link is a FIFO: jitter spaces packets out but never overtakes an
                // earlier one. Only the `reordering` fault and a hook's delay reorder.
                let arrival = max(simulation.now.nanoseconds &+ delay, lastArrival[link] ?? 0)
                lastArrival[link] = arrival
                delay = arrival &- simulation.now.nanoseconds
            }
            let slot: Int
            if let free = freeInFlight.popLast() {
                slot = free; inFlight[slot] = InFlight(from: from.index, to: to.index, datagram: received)
            } else {
                slot = inFlight.count; inFlight.append(InFlight(from: from.index, to: to.index, datagram: received))
            }
            simulation.schedule(at: Instant(nanoseconds: simulation.now.nanoseconds &+ delay), target: self, tag: UInt64(slot))
        }
    }

    /// A packet arrives (an event of the simulation).
    public func fire(_ tag: UInt64) {
        let slot = Int(tag)
        guard let packet = inFlight[slot] else { return }
        inFlight[slot] = nil
        freeInFlight.append(slot)
        let host = hosts[packet.to]
        let d = packet.datagram
        if !partitions.isEmpty, partitioned(packet.from, packet.to) {  // cut while in flight
            stats.droppedPartition += 1
            simulation.note("drop \(d.peer)->\(d.local): partition")
            return
        }
        guard let receive = host.sockets[d.local.port],
              d.local.address == .broadcast || d.local.address == host.address else {
            stats.droppedUnbound += 1
            simulation.note("drop \(d.peer)->\(d.local): unbound")
            return
        }
        stats.delivered += 1
        stats.bytesDelivered += d.payload.count
        simulation.note("deliver \(d.peer)->\(d.local) \(host.name) \(d.payload.count)B")
        receive(d)
    }
}

/// BootCore's `Transport` for one socket (host and port) of the simulated network.
/// `send` fills in the source port; a source address of 0.0.0.0 (or a received
/// broadcast's 255.255.255.255, echoed back) means the host's address.
public final class SimTransport: Transport {
    public unowned let network: SimNetwork
    public let host: SimHost
    public let port: UInt16
    init(network: SimNetwork, host: SimHost, port: UInt16) { self.network = network; self.host = host; self.port = port }

    public var localEndpoint: Endpoint { Endpoint(host.address, port) }

    public func send(_ datagram: Datagram) {
        var d = datagram
        d.local.port = port
        network.send(d, from: host)
    }

    /// Sends `payload` to `destination`.
    public func send(_ payload: [UInt8], to destination: Endpoint) {
        network.send(Datagram(payload: payload, peer: destination, local: Endpoint(host.address, port)), from: host)
    }

    /// Closes the socket.
    public func close() { network.unbind(host, port: port) }
}

// MARK: - Daemon ports over SimNet

extension SimTransport: BoundPort {
    public var local: Endpoint { localEndpoint }
}

/// Opens ephemeral (or given) ports on one simulated host, for the daemon's TFTP transfers.
public final class SimPortFactory: PortFactory {
    public let network: SimNetwork
    public let host: SimHost
    public init(network: SimNetwork, host: SimHost) { self.network = network; self.host = host }

    public func openPort(address: IPv4Address, port: UInt16, receive: @escaping (Datagram) -> Void) -> (any BoundPort)? {
        if port == 0 { return try? network.bindEphemeral(host, receive: receive) }
        return try? network.bind(host, port: port, receive: receive)
    }
}
