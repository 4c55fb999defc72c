import Testing
import BootWire
@testable import BootCore

// The daemon composition's group commit: an ACK never leaves before the lease it grants
// is durable, and one sync covers every lease of a batch.

final class ManualClock: Clock {
    var now = t0
    func schedule(at deadline: Instant, _ action: @escaping () -> Void) -> TimerToken { TimerToken(id: 0) }
    func cancel(_ token: TimerToken) {}
}

final class RecordingTransport: Transport {
    var sent: [DHCPMessage] = []
    func send(_ d: Datagram) { sent.append(try! DHCPMessage(parsing: d.payload)) }
    var types: [DHCPMessageType?] { sent.map(\.messageType) }
}

/// A store that buffers until `sync`, counting syncs and what was durable at each send.
final class BufferedLeases: LeaseStore {
    var durable: [[UInt8]: LeaseRecord] = [:]
    var buffered: [LeaseRecord] = []
    var syncs = 0
    func load() -> [LeaseRecord] { [] }
    func store(_ r: LeaseRecord) { buffered.append(r) }
    func remove(mac: [UInt8]) {}
    var hasUnsyncedChanges: Bool { !buffered.isEmpty }
    /// With `full`, the disk is full: nothing is written and sync says so.
    var full = false
    func sync() -> Bool {
        syncs += 1
        if full { return false }
        for r in buffered { durable[r.mac] = r }
        buffered.removeAll()
        return true
    }
}

@Suite("Daemon: lease group commit")
struct GroupCommitTests {
    final class Fixture {
        let clock = ManualClock()
        let transport = RecordingTransport()
        let leases = BufferedLeases()
        var deferred: [() -> Void] = []
        var durableAtSend: [Bool] = []
        let daemon: BootDaemon
        init(deferSync: Bool) {
            var ports = DaemonPorts(clock: clock, leaseStore: leases, dhcpTransport: transport)
            let box = Box()
            if deferSync { ports.deferSync = { box.fixture?.deferred.append($0) } }
            daemon = BootDaemon(dhcp: settings(), tftp: nil, ports: ports)
            box.fixture = self
        }
        final class Box { weak var fixture: Fixture? }
        func runDeferred() { let d = deferred; deferred = []; for f in d { f() } }
    }

    func dora(_ f: Fixture, clients: ClosedRange<UInt8>) throws {
        for c in clients { f.daemon.receiveDHCP(try datagram(clientMessage(.discover, mac: mac(c), xid: UInt32(c)))) }
        f.runDeferred()
        let offers = f.transport.sent.filter { $0.messageType == DHCPMessageType.offer }
        #expect(offers.count == clients.count)
        for o in offers {
            f.daemon.receiveDHCP(try datagram(clientMessage(.request, mac: o.chaddr, xid: o.xid,
                                                            requested: o.yiaddr, serverID: server)))
        }
    }

    @Test("ACKs wait for the sync; one sync covers the whole batch; then every ACK leaves")
    func acksWaitForOneSync() throws {
        let f = Fixture(deferSync: true)
        try dora(f, clients: 1...5)
        // Five leases buffered, no ACK on the wire yet, one sync scheduled.
        #expect(f.leases.buffered.count == 5)
        #expect(!f.transport.types.contains(.ack))
        #expect(f.daemon.repliesAwaitingSync == 5)
        #expect(f.deferred.count == 1)
        f.runDeferred()
        #expect(f.leases.syncs == 1)
        let acks = f.transport.sent.filter { $0.messageType == DHCPMessageType.ack }
        #expect(acks.count == 5)
        // Every ACKed address is durable.
        for a in acks { #expect(f.leases.durable[Array(a.chaddr.prefix(6))]?.address == a.yiaddr) }
    }

    @Test("a reply made while others wait is queued behind them, in order")
    func laterRepliesKeepOrder() throws {
        let f = Fixture(deferSync: true)
        try dora(f, clients: 1...1)
        // A new client's DISCOVER arrives in the same batch: its OFFER waits behind the ACK.
        f.daemon.receiveDHCP(try datagram(clientMessage(.discover, mac: mac(9), xid: 9)))
        let before = f.transport.sent.count
        f.runDeferred()
        #expect(Array(f.transport.types.suffix(2)) == [.ack, .offer])
        #expect(f.transport.sent.count == before + 2)
    }

    @Test("without a deferred sync the store is synced before each ACK")
    func immediateSync() throws {
        let f = Fixture(deferSync: false)
        try dora(f, clients: 1...3)
        #expect(f.deferred.isEmpty)
        #expect(f.leases.syncs == 3)
        #expect(f.transport.types.filter { $0 == .ack }.count == 3)
        #expect(f.leases.buffered.isEmpty)
    }

    @Test("stop drops replies still waiting: none leaves after stop")
    func stopDropsWaitingReplies() throws {
        let f = Fixture(deferSync: true)
        try dora(f, clients: 1...2)
        f.daemon.stop()
        f.runDeferred()
        #expect(!f.transport.types.contains(.ack))
    }

    @Test("a lease the store cannot make durable (full disk) gets no ACK; the client's retry does, once the disk has room")
    func noAckWithoutDurableLease() throws {
        let f = Fixture(deferSync: true)
        f.leases.full = true
        try dora(f, clients: 1...2)
        f.runDeferred()
        #expect(!f.transport.types.contains(.ack))
        #expect(f.leases.durable.isEmpty)
        #expect(f.daemon.leaseSyncFailures == 1)
        #expect(f.daemon.repliesDroppedUnsynced == 2)
        // The disk has room again; the clients retransmit their REQUESTs.
        f.leases.full = false
        let offers = f.transport.sent.filter { $0.messageType == DHCPMessageType.offer }
        for o in offers {
            f.daemon.receiveDHCP(try datagram(clientMessage(.request, mac: o.chaddr, xid: o.xid, requested: o.yiaddr, serverID: server)))
        }
        f.runDeferred()
        let acks = f.transport.sent.filter { $0.messageType == DHCPMessageType.ack }
        #expect(acks.count == 2)
        for a in acks { #expect(f.leases.durable[Array(a.chaddr.prefix(6))]?.address == a.yiaddr) }
    }
}
