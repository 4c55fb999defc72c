import Testing
import BootWire
@testable import BootCore

// Issue 15, the DHCP engine on a shared network: no address for two machines after a
// restart, and no handful of packets that takes the pool away from everyone else.

/// A lease store in memory that keeps what a real store keeps (`LeaseBindings`): the
/// engine restarts from it as bootd restarts from its journal.
final class BindingsStore {
    var bindings = LeaseBindings()
    func apply(_ actions: [DHCPServerAction]) {
        for a in actions {
            switch a {
            case let .storeLease(r): bindings.store(r)
            case let .removeLease(mac): bindings.remove(mac)
            default: break
            }
        }
    }
    func restart(_ s: DHCPServerSettings) -> DHCPServer { DHCPServer(settings: s, leases: bindings.sorted) }
}

private func randomMAC(_ g: inout some RandomNumberGenerator) -> [UInt8] {
    [0x02] + (0..<5).map { _ in UInt8.random(in: 0...255, using: &g) }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("DHCP engine: trust on a shared network")
struct TrustTests {
    @Test("A releases, C gets the address; over 20 restarts C keeps it and D is offered nothing")
    func releasedThenReusedAddressSurvivesRestarts() throws {
        let s = settings { $0.poolCount = 1 }
        let store = BindingsStore()
        var engine = DHCPServer(settings: s)
        let a = mac(0xA), c = mac(0xC), d = mac(0xD)
        let first = try dora(engine, mac: a)
        let addr = try #require(first.offer?.yiaddr)
        store.apply(first.ack)
        store.apply(engine.handle(try datagram(clientMessage(.release, mac: a, ciaddr: addr, serverID: server), from: Endpoint(addr, 68)), at: t0))
        let second = try dora(engine, mac: c, at: t0 + .seconds(1))
        #expect(second.offer?.yiaddr == addr)
        store.apply(second.ack)
        for restart in 1...20 {
            engine = store.restart(s)
            let now = t0 + .seconds(Int64(10 * restart))
            // RENEWING: unicast from the address, ciaddr set, no option 50 nor 54.
            let renew = engine.handle(try datagram(clientMessage(.request, mac: c, xid: UInt32(restart), ciaddr: addr), from: Endpoint(addr, 68)), at: now)
            #expect(renew.sent.first?.message.messageType == .ack, "restart \(restart): C's renewal")
            store.apply(renew)
            let offer = engine.handle(try datagram(clientMessage(.discover, mac: d, xid: UInt32(restart))), at: now)
            #expect(offer.sent.isEmpty, "restart \(restart): D was offered \(offer.sent.first.map { "\($0.message.yiaddr)" } ?? "")")
        }
    }

    @Test("BOOTP bindings last bootp_lease: twenty BOOTREQUESTs do not take a pool of twenty for good")
    func bootpBindingsExpire() throws {
        let s = settings { $0.poolCount = 20; $0.bootpLease = 600 }
        let engine = DHCPServer(settings: s)
        var g = SplitMix(state: 15)
        var given: [[UInt8]: IPv4Address] = [:]
        for i in 0..<20 {
            let m = randomMAC(&g)
            let r = engine.handle(try datagram(clientMessage(nil, mac: m, xid: UInt32(i))), at: t0)
            let reply = try #require(r.sent.first?.message)
            #expect(reply.messageType == nil)
            #expect(r.stored.first?.expires == t0 + .seconds(600))
            given[m] = reply.yiaddr
        }
        #expect(Set(given.values).count == 20)
        // The pool is full now…
        #expect(try dora(engine, mac: mac(1)).offer == nil)
        // …and a BOOTP client that comes back gets its address again (and a new term).
        let (back, addr) = try #require(given.first)
        let again = engine.handle(try datagram(clientMessage(nil, mac: back, xid: 99)), at: t0 + .seconds(300))
        #expect(again.sent.first?.message.yiaddr == addr)
        // Once the others' terms are over, a new client is served.
        let later = try dora(engine, mac: mac(1), at: t0 + .seconds(601))
        #expect(later.offer != nil)
        #expect(later.ack.sent.first?.message.messageType == .ack)
        #expect(later.offer?.yiaddr != addr)
    }

    @Test("DECLINE of an address that was only offered is ignored: 40 packets do not take a pool of 20")
    func declineOfAnOfferIsIgnored() throws {
        let engine = DHCPServer(settings: settings { $0.poolCount = 20 })
        var g = SplitMix(state: 40)
        for i in 0..<20 {
            let m = randomMAC(&g)
            let offer = try #require(engine.handle(try datagram(clientMessage(.discover, mac: m, xid: UInt32(i))), at: t0).sent.first?.message)
            let r = engine.handle(try datagram(clientMessage(.decline, mac: m, xid: UInt32(i), requested: offer.yiaddr, serverID: server)), at: t0)
            #expect(r.logs.contains { $0.contains("ignored DECLINE") && $0.contains("not a lease ACKed to it") })
        }
        #expect(engine.counters.declines == 0)
        // The offers lapse; every address is free for the next clients.
        for i in 0..<20 {
            #expect(try dora(engine, mac: mac(UInt8(i)), at: t0 + .seconds(61)).ack.sent.first?.message.messageType == .ack)
        }
    }

    @Test("DECLINEs of ACKed leases hold back at most a quarter of the pool, and those come back before anyone's lease")
    func declinedAddressesAreBounded() throws {
        let engine = DHCPServer(settings: settings { $0.poolCount = 20 })
        var held: [IPv4Address] = []
        for i in 0..<20 {
            let addr = try #require(try dora(engine, mac: mac(UInt8(i))).offer?.yiaddr)
            _ = engine.handle(try datagram(clientMessage(.decline, mac: mac(UInt8(i)), requested: addr, serverID: server)), at: t0 + .seconds(Int64(i)))
            held.append(addr)
        }
        #expect(engine.counters.declines == 20)
        #expect(engine.table.declinedCount == 5)
        // 15 addresses are free again, then the 5 held ones (the oldest hold first).
        var got: [IPv4Address] = []
        for i in 0..<20 {
            let r = try dora(engine, mac: mac(UInt8(100 + i)), at: t0 + .seconds(30))
            got.append(try #require(r.offer?.yiaddr, "client \(i) got no address"))
        }
        #expect(Set(got).count == 20)
        #expect(Array(got.suffix(5)) == Array(held.suffix(5)))
        #expect(try dora(engine, mac: mac(200), at: t0 + .seconds(30)).offer == nil)
    }

    @Test("RELEASE from another address than the one released is ignored; the owner's lease stays")
    func releaseOnlyFromItsOwner() throws {
        let engine = DHCPServer(settings: settings())
        let addr = try #require(try dora(engine, mac: mac(1)).offer?.yiaddr)
        let forged = engine.handle(try datagram(clientMessage(.release, mac: mac(1), ciaddr: addr, serverID: server), from: Endpoint(IPv4Address(10, 77, 0, 66), 68)), at: t0)
        #expect(forged.stored.isEmpty)
        #expect(forged.logs.contains { $0.contains("not from the address released") })
        #expect(engine.lease(for: mac(1))?.expires == t0 + .seconds(86400))
        // An offered (not ACKed) client cannot release its offer early either.
        let offered = try #require(engine.handle(try datagram(clientMessage(.discover, mac: mac(2))), at: t0).sent.first?.message.yiaddr)
        #expect(engine.handle(try datagram(clientMessage(.release, mac: mac(2), ciaddr: offered, serverID: server), from: Endpoint(offered, 68)), at: t0).stored.isEmpty)
        // The owner's own RELEASE works.
        #expect(engine.handle(try datagram(clientMessage(.release, mac: mac(1), ciaddr: addr, serverID: server), from: Endpoint(addr, 68)), at: t0).stored.first?.expires == t0)
    }

    @Test("one allowed MAC sent with hlen 7-16 and varying chaddr bytes is not sixteen clients")
    func hardwareAddressLengthIsEthernets() throws {
        let allowed = mac(1)
        let engine = DHCPServer(settings: settings {
            $0.poolCount = 20
            $0.access = .macList([MACRule(MACAddressPattern(bytes: allowed), true)])
        })
        for hlen in UInt8(7)...16 {
            var m = try clientMessage(.discover, mac: allowed, xid: UInt32(hlen))
            m.hlen = hlen
            m.chaddr = allowed + (6..<16).map { UInt8($0) &* hlen }
            let r = engine.handle(try datagram(m), at: t0)
            #expect(r.sent.isEmpty, "hlen \(hlen) was answered")
        }
        #expect(engine.leases.isEmpty)
        // A rule reads the same bytes as the binding key: a 7-byte key matches no six-byte rule.
        #expect(!MACAddressPattern(bytes: allowed).matches(allowed + [0]))
        // The real six-byte client is still served.
        #expect(try dora(engine, mac: allowed).ack.sent.first?.message.messageType == .ack)
        #expect(engine.leases.count == 1)
    }
}
