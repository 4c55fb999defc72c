import BootCore
import BootWire
import SimNet
import Testing

// SimNet: the deterministic world every simulation test runs in. These tests pin its
// semantics (order, faults, what a server sees) so that a failing seed elsewhere can be
// trusted as a reproduction.

private let serverIP = IPv4Address(10, 0, 0, 1)
private let clientIP = IPv4Address(10, 0, 0, 2)

/// Two hosts, a socket on each (a: 10.0.0.2:1000, b: 10.0.0.1:2000), and what each received.
private final class Pair {
    let sim: Simulation
    let net: SimNetwork
    let a: SimHost, b: SimHost
    var atA: [Datagram] = [], atB: [Datagram] = []
    var arrivalsAtB: [Instant] = []
    var ta: SimTransport!, tb: SimTransport!
    init(seed: UInt64, faults: LinkFaults = .perfect) throws {
        sim = Simulation(seed: seed)
        net = SimNetwork(simulation: sim, faults: faults)
        a = net.attach("a", address: clientIP)
        b = net.attach("b", address: serverIP)
        ta = try net.bind(a, port: 1000) { [unowned self] d in self.atA.append(d) }
        tb = try net.bind(b, port: 2000) { [unowned self] d in
            self.atB.append(d); self.arrivalsAtB.append(self.sim.now)
        }
    }
    func sendAB(_ payload: [UInt8]) { ta.send(payload, to: Endpoint(serverIP, 2000)) }
}

private func counter(_ i: Int) -> [UInt8] { [UInt8(i >> 24 & 0xff), UInt8(i >> 16 & 0xff), UInt8(i >> 8 & 0xff), UInt8(i & 0xff)] }
private func number(_ b: [UInt8]) -> Int { b.prefix(4).reduce(0) { $0 << 8 | Int($1) } }

// MARK: Random

@Test func randomIsSeededAndForksAreIndependent() {
    let r1 = SimRandom(seed: 42), r2 = SimRandom(seed: 42), r3 = SimRandom(seed: 43)
    let s1 = (0..<8).map { _ in r1.next() }, s2 = (0..<8).map { _ in r2.next() }
    #expect(s1 == s2)
    #expect(s1 != (0..<8).map { _ in r3.next() })
    // A fork depends on the seed and label only, not on what the parent consumed.
    let f1 = SimRandom(seed: 7).fork("client", 3).next()
    let p = SimRandom(seed: 7); for _ in 0..<100 { _ = p.next() }
    #expect(p.fork("client", 3).next() == f1)
    #expect(SimRandom(seed: 7).fork("client", 4).next() != f1)
    #expect(SimRandom(seed: 7).fork("server", 3).next() != f1)
    // Usable as a Swift generator and as BootCore's RandomSource.
    var g = SimRandom(seed: 1)
    let x = Int.random(in: 0..<10, using: &g)
    #expect((0..<10).contains(x))
    let source: any RandomSource = SimRandom(seed: 1)
    #expect(source.next() == SimRandom(seed: 1).next())
    // below() is in range and hits every value; unit() is in [0, 1).
    var seen = Set<UInt64>()
    for _ in 0..<1000 { let v = g.below(7); #expect(v < 7); seen.insert(v) }
    #expect(seen.count == 7)
    let mean = (0..<10_000).map { _ in g.unit() }.reduce(0, +) / 10_000
    #expect(abs(mean - 0.5) < 0.02)
}

// MARK: Event queue

@Test func heapFiresInTimeThenScheduleOrder() {
    let sim = Simulation(seed: 1)
    let r = SimRandom(seed: 99)
    var fired: [(Int64, Int)] = []
    for i in 0..<2000 {
        let t = Int64(r.below(50)) * 1000  // many ties
        sim.schedule(at: Instant(nanoseconds: t)) { fired.append((sim.now.nanoseconds, i)) }
    }
    #expect(sim.pendingEvents == 2000)
    #expect(sim.runUntilIdle() == .idle)
    #expect(fired.count == 2000)
    #expect(sim.steps == 2000)
    var ordered = true
    for (x, y) in zip(fired, fired.dropFirst()) where !(x.0 < y.0 || (x.0 == y.0 && x.1 < y.1)) { ordered = false }
    #expect(ordered)
}

@Test func eventsScheduledWhileRunningAndInThePast() {
    let sim = Simulation(seed: 1)
    var log: [String] = []
    sim.schedule(at: Instant(nanoseconds: 100)) {
        log.append("a@\(sim.now.nanoseconds)")
        sim.schedule(at: Instant(nanoseconds: 50)) { log.append("past@\(sim.now.nanoseconds)") }
        sim.schedule(after: .nanoseconds(10)) { log.append("b@\(sim.now.nanoseconds)") }
    }
    sim.runUntilIdle()
    #expect(log == ["a@100", "past@100", "b@110"])
}

@Test func timersCancel() {
    let sim = Simulation(seed: 1)
    let clock: any BootCore.Clock = sim.clock()
    var fired: [Int] = []
    let t1 = clock.schedule(at: Instant(nanoseconds: 10)) { fired.append(1) }
    let t2 = clock.schedule(at: Instant(nanoseconds: 20)) { fired.append(2) }
    clock.schedule(at: Instant(nanoseconds: 30)) { fired.append(3) }
    clock.cancel(t2)
    #expect(sim.cancel(t2) == false)  // already cancelled
    sim.runUntilIdle()
    #expect(fired == [1, 3])
    #expect(sim.steps == 2)
    // A fired timer's token does not cancel a later event that reuses its slot.
    let t4 = clock.schedule(at: Instant(nanoseconds: 40)) { fired.append(4) }
    #expect(sim.cancel(t1) == false)
    sim.runUntilIdle()
    #expect(fired == [1, 3, 4])
    #expect(sim.cancel(t4) == false)
    #expect(clock.now == Instant(nanoseconds: 40))
}

@Test func runUntilDeadlineStepLimitAndStop() {
    let sim = Simulation(seed: 1)
    var n = 0
    func tick() { n += 1; sim.schedule(after: .milliseconds(1)) { tick() } }
    sim.schedule(at: .zero) { tick() }
    #expect(sim.run(until: Instant(nanoseconds: 10_500_000)) == .reachedDeadline)
    #expect(n == 11)  // t = 0, 1, ..., 10 ms
    #expect(sim.now == Instant(nanoseconds: 10_500_000))
    #expect(sim.runUntilIdle(limit: 5) == .stepLimit)
    #expect(n == 16)
    sim.schedule(after: .zero) { sim.stop() }
    #expect(sim.runUntilIdle() == .stopped)
}

// MARK: Determinism

/// Ping-pong with jitter, loss, duplication and reordering; the trace of the whole run.
private func pingPongTrace(seed: UInt64) throws -> [TraceEntry] {
    let faults = LinkFaults(latency: .microseconds(200), jitter: .microseconds(300), loss: 0.05,
                            duplication: 0.05, reordering: 0.1, reorderDelay: .milliseconds(1))
    let sim = Simulation(seed: seed)
    sim.tracing = true
    let net = SimNetwork(simulation: sim, faults: faults)
    let a = net.attach("a", address: clientIP), b = net.attach("b", address: serverIP)
    _ = try net.bind(b, port: 2000) { d in  // echo
        net.send(Datagram(payload: d.payload, peer: d.peer, local: d.local), from: b)
    }
    var ta: SimTransport!
    var received = 0
    ta = try net.bindEphemeral(a) { _ in
        received += 1
        if received < 200 { ta.send(counter(received), to: Endpoint(serverIP, 2000)) }
    }
    for i in 0..<5 {
        sim.schedule(at: Instant(nanoseconds: Int64(i) * 1_000_000), label: "kick \(i)") {
            ta.send(counter(i), to: Endpoint(serverIP, 2000))
        }
    }
    sim.runUntilIdle(limit: 100_000)
    return sim.trace
}

@Test func sameSeedSameTraceDifferentSeedDifferentTrace() throws {
    let t1 = try pingPongTrace(seed: 2024)
    let t2 = try pingPongTrace(seed: 2024)
    let t3 = try pingPongTrace(seed: 2025)
    #expect(t1.count > 100)
    #expect(t1 == t2)
    #expect(t1 != t3)
    #expect(t1.contains { $0.text.hasPrefix("deliver 10.0.0.2:49152->10.0.0.1:2000 b") })
}

// MARK: Delivery

@Test func broadcastReachesEveryBoundHostButNotTheSender() throws {
    let sim = Simulation(seed: 5)
    let net = SimNetwork(simulation: sim)
    let client = net.attach("client", address: .any)
    let s1 = net.attach("s1", address: IPv4Address(10, 0, 0, 1))
    let s2 = net.attach("s2", address: IPv4Address(10, 0, 0, 2))
    let other = net.attach("other", address: IPv4Address(10, 0, 0, 3))  // port 67 not bound
    var got: [String: [Datagram]] = [:]
    for h in [s1, s2] { _ = try net.bind(h, port: 67) { d in got[h.name, default: []].append(d) } }
    _ = try net.bind(other, port: 69) { d in got["other", default: []].append(d) }
    _ = try net.bind(client, port: 67) { d in got["client", default: []].append(d) }  // sender's own socket
    _ = try net.bind(client, port: 68) { d in got["client68", default: []].append(d) }
    net.send(Datagram(payload: [1, 2, 3], peer: Endpoint(.broadcast, 67), local: Endpoint(.any, 68)), from: client)
    sim.runUntilIdle()
    #expect(got["s1"]?.count == 1)
    #expect(got["s2"]?.count == 1)
    #expect(got["other"] == nil)
    #expect(got["client"] == nil)
    // What the server sees (IP_PKTINFO): sender 0.0.0.0:68, local 255.255.255.255:67.
    let d = try #require(got["s1"]?.first)
    #expect(d.peer == Endpoint(.any, 68))
    #expect(d.local == Endpoint(.broadcast, 67))
    #expect(d.payload == [1, 2, 3])
    #expect(d.interface == 1)
    #expect(net.stats.sent == 1)
    #expect(net.stats.delivered == 2)

    // The server's broadcast reply (source echoed as 255.255.255.255) leaves from its address.
    let t = try net.bind(s1, port: 4000) { _ in }
    t.send(Datagram(payload: [9], peer: Endpoint(.broadcast, 68), local: Endpoint(.broadcast, 67)))
    sim.runUntilIdle()
    let r = try #require(got["client68"]?.first)
    #expect(r.peer == Endpoint(IPv4Address(10, 0, 0, 1), 4000))
    #expect(r.local == Endpoint(.broadcast, 68))
}

@Test func unicastPeerAndLocalAsAServerSeesThem() throws {
    let p = try Pair(seed: 1)
    p.sendAB([7])
    p.sim.runUntilIdle()
    let d = try #require(p.atB.first)
    #expect(d.peer == Endpoint(clientIP, 1000))
    #expect(d.local == Endpoint(serverIP, 2000))
    #expect(p.sim.now == Instant(nanoseconds: 100_000))  // default latency 100 µs
    // A reply to the peer, from the received local endpoint, comes back with the roles swapped.
    p.net.send(Datagram(payload: [8], peer: d.peer, local: d.local), from: p.b)
    p.sim.runUntilIdle()
    #expect(p.atA.first?.peer == Endpoint(serverIP, 2000))
    #expect(p.atA.first?.local == Endpoint(clientIP, 1000))
}

@Test func unboundPortsAndUnknownAddressesAreDroppedAndCounted() throws {
    let p = try Pair(seed: 1)
    p.ta.send([1], to: Endpoint(serverIP, 2001))
    p.ta.send([1], to: Endpoint(IPv4Address(10, 9, 9, 9), 2000))
    p.sim.runUntilIdle()
    #expect(p.atB.isEmpty)
    #expect(p.net.stats.droppedUnbound == 2)
    #expect(p.net.stats.delivered == 0)
    #expect(p.net.stats.dropped == 2)
}

@Test func portBindingEphemeralAndUnbind() throws {
    let sim = Simulation(seed: 1)
    let net = SimNetwork(simulation: sim)
    let h = net.attach("h", address: serverIP)
    _ = try net.bind(h, port: 69) { _ in }
    #expect(throws: SimNetworkError.portInUse(host: "h", port: 69)) { _ = try net.bind(h, port: 69) { _ in } }
    let e1 = try net.bindEphemeral(h) { _ in }
    let e2 = try net.bindEphemeral(h) { _ in }
    #expect(e1.port == 49152 && e2.port == 49153)
    e1.close()
    #expect(h.boundPorts == [69, 49153])
    let e3 = try net.bindEphemeral(h) { _ in }
    #expect(e3.port == 49154)
    #expect(e3.localEndpoint == Endpoint(serverIP, 49154))
    net.setAddress(h, IPv4Address(10, 0, 0, 9))
    #expect(h.address == IPv4Address(10, 0, 0, 9))
}

@Test func aClientTakesItsLeasedAddress() throws {
    let sim = Simulation(seed: 1)
    let net = SimNetwork(simulation: sim)
    let c = net.attach("c", address: .any)
    let s = net.attach("s", address: serverIP)
    var got: [Datagram] = []
    _ = try net.bind(c, port: 68) { got.append($0) }
    let ts = try net.bind(s, port: 67) { _ in }
    ts.send([1], to: Endpoint(IPv4Address(10, 0, 0, 50), 68))  // nobody has it yet
    net.setAddress(c, IPv4Address(10, 0, 0, 50))
    sim.runUntilIdle()
    #expect(got.isEmpty)  // the route was chosen when sent
    ts.send([2], to: Endpoint(IPv4Address(10, 0, 0, 50), 68))
    sim.runUntilIdle()
    #expect(got.map(\.payload) == [[2]])
    #expect(got.first?.local == Endpoint(IPv4Address(10, 0, 0, 50), 68))
}

// MARK: Faults

private func lossRun(seed: UInt64) throws -> Pair {
    let p = try Pair(seed: seed, faults: LinkFaults(loss: 0.1))
    for i in 0..<10_000 { p.sendAB(counter(i)) }
    p.sim.runUntilIdle()
    return p
}

@Test func lossRateOverTenThousandPackets() throws {
    let p = try lossRun(seed: 12345)
    let lost = p.net.stats.droppedLoss
    #expect(lost + p.net.stats.delivered == 10_000)
    #expect(p.atB.count == p.net.stats.delivered)
    #expect(p.net.stats.bytesSent == 40_000)
    #expect(p.net.stats.bytesDelivered == 4 * p.net.stats.delivered)
    // Binomial(10000, 0.1): mean 1000, sd 30; within 5 sd.
    #expect(abs(lost - 1000) < 150, "lost \(lost)")
    // Deterministic: the same seed loses exactly the same packets.
    let again = try lossRun(seed: 12345)
    #expect(again.atB.map(\.payload) == p.atB.map(\.payload))
    #expect(lost == 1005)
    #expect(try lossRun(seed: 12346).atB.map(\.payload) != p.atB.map(\.payload))
}

@Test func duplication() throws {
    let p = try Pair(seed: 3, faults: LinkFaults(jitter: .microseconds(50), duplication: 0.2))
    for i in 0..<5_000 { p.sendAB(counter(i)) }
    p.sim.runUntilIdle()
    let dup = p.net.stats.duplicated
    #expect(abs(dup - 1000) < 170, "duplicated \(dup)")  // sd ≈ 28
    #expect(p.atB.count == 5_000 + dup)
    #expect(Set(p.atB.map { number($0.payload) }).count == 5_000)
}

@Test func reorderingHappensAndLosesNothing() throws {
    let p = try Pair(seed: 8, faults: LinkFaults(latency: .microseconds(100), reordering: 0.2, reorderDelay: .milliseconds(10)))
    for i in 0..<1_000 {
        p.sim.schedule(at: Instant(nanoseconds: Int64(i) * 1_000_000)) { p.sendAB(counter(i)) }
    }
    p.sim.runUntilIdle()
    let order = p.atB.map { number($0.payload) }
    #expect(order.count == 1_000)
    #expect(order.sorted() == Array(0..<1_000))
    let inversions = zip(order, order.dropFirst()).filter { $0 > $1 }.count
    #expect(inversions > 50, "inversions \(inversions)")
    #expect(p.net.stats.reordered > 100)
    // Without reordering (and no jitter) order is kept.
    let q = try Pair(seed: 8)
    for i in 0..<100 { q.sendAB(counter(i)) }
    q.sim.runUntilIdle()
    #expect(q.atB.map { number($0.payload) } == Array(0..<100))
}

@Test func latencyAndJitterBounds() throws {
    // Packets 10 ms apart: each takes latency + jitter, all different.
    let p = try Pair(seed: 4, faults: LinkFaults(latency: .milliseconds(2), jitter: .milliseconds(1)))
    for i in 0..<500 {
        p.sim.schedule(at: Instant(nanoseconds: Int64(i) * 10_000_000)) { p.sendAB(counter(i)) }
    }
    p.sim.runUntilIdle()
    let delays = p.arrivalsAtB.enumerated().map { $0.element.nanoseconds - Int64($0.offset) * 10_000_000 }
    #expect(delays.allSatisfy { (2_000_000...3_000_000).contains($0) })
    #expect(Set(delays).count > 400)
    // A burst sent at one instant: jitter spaces it out but a link never reorders it.
    let q = try Pair(seed: 5, faults: LinkFaults(latency: .milliseconds(2), jitter: .milliseconds(1)))
    for i in 0..<200 { q.sendAB(counter(i)) }
    q.sim.runUntilIdle()
    #expect(q.atB.map { number($0.payload) } == Array(0..<200))
    let times = q.arrivalsAtB.map(\.nanoseconds)
    #expect(times == times.sorted())
    #expect(times.allSatisfy { (2_000_000...3_000_000).contains($0) })
}

@Test func perLinkFaultsAreOneDirection() throws {
    let p = try Pair(seed: 4)
    p.net.setFaults(LinkFaults(loss: 1), from: p.a, to: p.b)
    p.sendAB([1])
    p.net.send(Datagram(payload: [2], peer: Endpoint(clientIP, 1000), local: Endpoint(serverIP, 2000)), from: p.b)
    p.sim.runUntilIdle()
    #expect(p.atB.isEmpty)
    #expect(p.atA.count == 1)
    p.net.setFaults(nil, from: p.a, to: p.b)
    p.sendAB([3])
    p.sim.runUntilIdle()
    #expect(p.atB.count == 1)
}

@Test func partitionsDropThenHeal() throws {
    let p = try Pair(seed: 6)
    let third = p.net.attach("c", address: IPv4Address(10, 0, 0, 3))
    var atC = 0
    _ = try p.net.bind(third, port: 2000) { _ in atC += 1 }
    let ms: (Int64) -> Instant = { Instant(nanoseconds: $0 * 1_000_000) }
    p.net.partition([p.b, third], from: ms(1000), until: ms(2000))
    for t: Int64 in [500, 1500, 2500] {
        p.sim.schedule(at: ms(t)) { p.sendAB(counter(Int(t))) }
    }
    // Inside the partition the two cut-off hosts still talk.
    p.sim.schedule(at: ms(1500)) {
        p.net.send(Datagram(payload: [0], peer: Endpoint(IPv4Address(10, 0, 0, 3), 2000), local: Endpoint(serverIP, 2000)), from: p.b)
    }
    // A packet in flight when the partition starts is lost.
    p.sim.schedule(at: ms(999)) {
        p.net.setFaults(LinkFaults(latency: .milliseconds(10)), from: p.a, to: p.b)
        p.sendAB(counter(999))
        p.net.setFaults(nil, from: p.a, to: p.b)
    }
    p.sim.runUntilIdle()
    #expect(p.atB.map { number($0.payload) } == [500, 2500])
    #expect(atC == 1)
    #expect(p.net.stats.droppedPartition == 2)
}

@Test func faultHookAndScheduledFaults() throws {
    let p = try Pair(seed: 6)
    var seen = 0
    p.net.faultHook = { info in
        seen += 1
        if number(info.datagram.payload) == 1 { return .drop }
        if number(info.datagram.payload) == 2 { return .delay(.seconds(1)) }
        return .deliver
    }
    for i in 0..<4 { p.sendAB(counter(i)) }
    p.sim.runUntilIdle()
    #expect(seen == 4)
    #expect(p.atB.map { number($0.payload) } == [0, 3, 2])
    #expect(p.net.stats.droppedHook == 1)
    p.net.faultHook = nil
    p.net.scheduleFaults(LinkFaults(loss: 1), at: p.sim.now + .seconds(1))
    p.sim.schedule(after: .seconds(2)) { p.sendAB(counter(9)) }
    p.sim.runUntilIdle()
    #expect(p.atB.count == 3)
    #expect(p.net.stats.droppedLoss == 1)
}

// MARK: Authority

@Test func authorityAnswersByRuleAfterLatency() {
    let sim = Simulation(seed: 1)
    let auth = SimAuthority(simulation: sim, defaultBehaviour: .answer(.denied), latency: .milliseconds(30))
    let mac: [UInt8] = [0, 1, 2, 3, 4, 5]
    auth.rules = [
        .init(mac: mac, phase: .pxe, .answer(.allowed(hostName: "node1", bootFile: "pxelinux.0"))),
        .init(uuid: "U-ERR", .error("HTTP 500")),
        .init(uuid: "U-HANG", .timeout),
    ]
    var answers: [(Instant, AuthorityAnswer)] = []
    let port: any AccessAuthority = auth
    port.query(AuthorityQuery(mac: mac, uuid: nil, phase: .pxe)) { answers.append((sim.now, $0)) }
    port.query(AuthorityQuery(mac: mac, uuid: nil, phase: .dhcp)) { answers.append((sim.now, $0)) }
    port.query(AuthorityQuery(mac: [9], uuid: "U-ERR", phase: .pxe)) { answers.append((sim.now, $0)) }
    port.query(AuthorityQuery(mac: [9], uuid: "U-HANG", phase: .pxe)) { answers.append((sim.now, $0)) }
    #expect(answers.isEmpty)  // never synchronous
    sim.runUntilIdle()
    #expect(answers.map(\.1) == [.allowed(hostName: "node1", bootFile: "pxelinux.0"), .denied, .failed("HTTP 500")])
    #expect(answers.allSatisfy { $0.0 == Instant(nanoseconds: 30_000_000) })
    #expect(auth.log.count == 4)
    #expect(auth.log[3].answerAt == nil)
    #expect(auth.log[3].behaviour == .timeout)
    #expect(auth.answered == 3)
}

@Test func authorityErrorAndTimeoutRatesAndJitter() {
    let sim = Simulation(seed: 77)
    let auth = SimAuthority(simulation: sim, latency: .milliseconds(10), jitter: .milliseconds(20))
    auth.errorRate = 0.1
    auth.timeoutRate = 0.1
    var ok = 0, failed = 0
    var times = Set<Int64>()
    for i in 0..<2_000 {
        auth.query(AuthorityQuery(mac: counter(i), uuid: nil, phase: .dhcp)) { a in
            times.insert(sim.now.nanoseconds)
            if case .failed = a { failed += 1 } else { ok += 1 }
        }
    }
    sim.runUntilIdle()
    let timeouts = 2_000 - ok - failed
    #expect(abs(failed - 200) < 70, "failed \(failed)")
    #expect(abs(timeouts - 180) < 70, "timeouts \(timeouts)")  // 0.9 × 0.1 × 2000
    #expect(times.allSatisfy { (10_000_000...30_000_000).contains($0) })
    #expect(times.count > 100)
}

@Test func authorityAnswerToACrashedProcessIsCancelled() {
    let sim = Simulation(seed: 1)
    let owner = sim.makeOwner()
    let auth = SimAuthority(simulation: sim, owner: owner)
    var answered = false
    auth.query(AuthorityQuery(mac: [1], uuid: nil, phase: .pxe)) { _ in answered = true }
    #expect(sim.kill(owner) == 1)
    sim.runUntilIdle()
    #expect(!answered)
}

// MARK: Files

@Test func fileTreeReadsSizesErrorsAndCounts() throws {
    let sim = Simulation(seed: 1)
    let big = (0..<65_536).map { UInt8(truncatingIfNeeded: $0 &* 7) }
    let tree = SimFileTree(simulation: sim, files: ["boot/pxelinux.0": big, "empty": []])
    let source: any FileSource = tree
    var handle: FileHandleID?
    source.open("boot/pxelinux.0") { handle = try? $0.get() }
    let h = try #require(handle)  // synchronous without latency
    #expect(source.size(of: h) == 65_536)
    var assembled: [UInt8] = []
    var offset = 0
    while true {
        var chunk: [UInt8] = []
        source.read(h, offset: offset, count: 512) { chunk = (try? $0.get()).map { Array($0) } ?? [] }
        assembled += chunk
        offset += chunk.count
        if chunk.count < 512 { break }
    }
    #expect(assembled == big)
    #expect(tree.reads == 129)  // 128 full blocks and the empty last one
    #expect(tree.bytesRead == 65_536)
    // Replacing the file does not disturb the open handle.
    tree.files["boot/pxelinux.0"] = [1]
    var last: [UInt8]?
    source.read(h, offset: 65_535, count: 512) { last = (try? $0.get()).map { Array($0) } }
    #expect(last == [big[65_535]])
    source.close(h)
    var afterClose: Result<ArraySlice<UInt8>, FileSourceError>?
    source.read(h, offset: 0, count: 1) { afterClose = $0 }
    #expect(afterClose == .failure(.ioError("bad handle")))
    var missing: Result<FileHandleID, FileSourceError>?
    source.open("nope") { missing = $0 }
    #expect(missing == .failure(.notFound))
    tree.failures["secret"] = .accessDenied("mode 000")
    source.open("secret") { missing = $0 }
    #expect(missing == .failure(.accessDenied("mode 000")))
    #expect(tree.opens == 3)
    #expect(tree.openHandles == 0)
}

@Test func fileTreeLatencyAndInjectedErrors() throws {
    let sim = Simulation(seed: 9)
    let tree = SimFileTree(simulation: sim, files: ["f": [UInt8](repeating: 1, count: 1000)])
    tree.latency = .milliseconds(2)
    var opened: FileHandleID?
    tree.open("f") { opened = try? $0.get() }
    #expect(opened == nil)
    sim.runUntilIdle()
    #expect(sim.now == Instant(nanoseconds: 2_000_000))
    let h = try #require(opened)
    tree.readErrorRate = 0.25
    var errors = 0, oks = 0
    for i in 0..<1000 { tree.read(h, offset: i, count: 1) { if case .failure = $0 { errors += 1 } else { oks += 1 } } }
    sim.runUntilIdle()
    #expect(errors + oks == 1000)
    #expect(abs(errors - 250) < 70, "errors \(errors)")
    #expect(tree.injectedErrors == errors)
}

// MARK: Crash and restart

/// A toy server: on each datagram it stores a lease, arms a timer and replies; it loads
/// the store when it starts.
private final class ToyServer {
    var transport: SimTransport!
    let clock: SimClock
    let store: SimLeaseStore
    let loaded: [LeaseRecord]
    var timersFired = 0
    init(net: SimNetwork, host: SimHost, store: SimLeaseStore) throws {
        self.store = store
        clock = net.simulation.clock(owner: host.owner)
        loaded = store.load()
        transport = try net.bind(host, port: 67) { [unowned self] d in self.receive(d) }
    }
    func receive(_ d: Datagram) {
        let mac = d.payload
        store.store(LeaseRecord(mac: mac, address: IPv4Address(10, 0, 0, 100 + mac[0]), expires: clock.now + .seconds(60)))
        clock.schedule(at: clock.now + .seconds(10)) { [unowned self] in self.timersFired += 1 }
        transport.send(Datagram(payload: [0xAC] + mac, peer: d.peer, local: d.local))
    }
}

@Test func leaseStoreSurvivesACrashAndTheServerRestarts() throws {
    let sim = Simulation(seed: 11)
    let net = SimNetwork(simulation: sim)
    let serverHost = net.attach("server", address: serverIP)
    let clientHost = net.attach("client", address: clientIP)
    var acks = 0
    let client = try net.bind(clientHost, port: 68) { _ in acks += 1 }
    let store = SimLeaseStore()
    let first = try ToyServer(net: net, host: serverHost, store: store)
    #expect(first.loaded.isEmpty)
    client.send([1], to: Endpoint(serverIP, 67))
    client.send([2], to: Endpoint(serverIP, 67))
    sim.run(until: Instant(nanoseconds: 1_000_000_000))
    #expect(acks == 2)
    let firstOwner = serverHost.owner
    // Crash at t=1s: its timers (due at ~10s) are cancelled, its port closes.
    net.crash(serverHost)
    #expect(!sim.isAlive(firstOwner))
    #expect(serverHost.boundPorts.isEmpty)
    #expect(serverHost.incarnation == 1)
    client.send([3], to: Endpoint(serverIP, 67))
    sim.run(until: Instant(nanoseconds: 2_000_000_000))
    #expect(acks == 2)
    #expect(net.stats.droppedUnbound == 1)
    // A dead incarnation's clock schedules nothing.
    first.clock.schedule(at: sim.now) { Issue.record("dead timer fired") }
    // Restart at t=2s with the same store: the leases are back.
    let second = try ToyServer(net: net, host: serverHost, store: store)
    #expect(second.loaded.map(\.mac) == [[1], [2]])
    #expect(second.loaded.map(\.address) == [IPv4Address(10, 0, 0, 101), IPv4Address(10, 0, 0, 102)])
    client.send([4], to: Endpoint(serverIP, 67))
    sim.runUntilIdle()
    #expect(acks == 3)
    #expect(first.timersFired == 0)
    #expect(second.timersFired == 1)
    #expect(store.records.count == 3)
    #expect(store.loads == 2)
}

@Test func leaseStoreCanLoseUnflushedWrites() {
    let store = SimLeaseStore()
    store.store(LeaseRecord(mac: [1], address: IPv4Address(10, 0, 0, 1), expires: nil))
    store.autoFlush = false
    store.store(LeaseRecord(mac: [2], address: IPv4Address(10, 0, 0, 2), expires: nil))
    store.store(LeaseRecord(mac: [3], address: IPv4Address(10, 0, 0, 3), expires: nil))
    store.remove(mac: [1])
    #expect(store.load().map(\.mac) == [[2], [3]])
    #expect(store.unflushed == 3)
    #expect(store.crash(losingUnflushed: 2) == 2)  // the remove and the store of [3] are lost
    #expect(store.load().map(\.mac) == [[1], [2]])
    store.store(LeaseRecord(mac: [4], address: IPv4Address(10, 0, 0, 4), expires: nil))
    store.flush()
    #expect(store.crash(losingUnflushed: 5) == 0)
    #expect(store.load().map(\.mac) == [[1], [2], [4]])
}

// MARK: Invariants

@Test func invariantViolationStopsTheRun() throws {
    let p = try Pair(seed: 31337, faults: LinkFaults(jitter: .milliseconds(1), duplication: 0.3))
    p.sim.addInvariant("no duplicates at b") {
        let seen = p.atB.map { number($0.payload) }
        return Set(seen).count == seen.count ? nil : "duplicate of \(seen.last ?? -1)"
    }
    p.sim.addInvariant("never fails") { nil }
    for i in 0..<100 { p.sendAB(counter(i)) }
    let result = p.sim.runUntilIdle()
    guard case .violated(let v) = result else { Issue.record("expected a violation, got \(result)"); return }
    #expect(v.name == "no duplicates at b")
    #expect(v.seed == 31337)
    #expect(v.time == p.sim.now)
    #expect(v.step == p.sim.steps)
    #expect(v.description.contains("seed 31337"))
    #expect(p.sim.pendingEvents > 0)  // stopped early
    // Further runs return the same violation at once.
    let steps = p.sim.steps
    #expect(p.sim.runUntilIdle() == .violated(v))
    #expect(p.sim.steps == steps)
}

@Test func manyCancelledTimersAreSweptAndTheRestFireInOrder() {
    let sim = Simulation(seed: 1)
    let r = SimRandom(seed: 5)
    var tokens: [(TimerToken, Int)] = []
    var fired: [(Int64, Int)] = []
    for i in 0..<20_000 {
        let t = Int64(r.below(1_000)) * 1_000
        tokens.append((sim.schedule(at: Instant(nanoseconds: t)) { fired.append((sim.now.nanoseconds, i)) }, i))
    }
    var kept = Set<Int>()
    for (token, i) in tokens {
        if r.chance(0.9) { #expect(sim.cancel(token)) } else { kept.insert(i) }
    }
    #expect(sim.pendingEvents < 20_000)  // swept
    #expect(sim.runUntilIdle() == .idle)
    #expect(Set(fired.map(\.1)) == kept)
    #expect(fired.count == kept.count)
    var ordered = true
    for (x, y) in zip(fired, fired.dropFirst()) where !(x.0 < y.0 || (x.0 == y.0 && x.1 < y.1)) { ordered = false }
    #expect(ordered)
    #expect(sim.pendingEvents == 0)
}

@Test func detachedHostsHearNothingAndFreeTheirAddress() throws {
    let sim = Simulation(seed: 1)
    let net = SimNetwork(simulation: sim)
    let s = net.attach("s", address: serverIP)
    let c1 = net.attach("c1", address: clientIP)
    var heard = 0
    _ = try net.bind(c1, port: 68) { _ in heard += 1 }
    let ts = try net.bind(s, port: 67) { _ in }
    sim.schedule(at: .zero, owner: c1.owner) { Issue.record("detached host's timer fired") }
    net.detach(c1)
    ts.send([1], to: Endpoint(.broadcast, 68))
    ts.send([1], to: Endpoint(clientIP, 68))
    let c2 = net.attach("c2", address: clientIP)  // the address is free again
    _ = try net.bind(c2, port: 68) { _ in heard += 10 }
    ts.send([2], to: Endpoint(clientIP, 68))
    sim.runUntilIdle()
    #expect(heard == 10)
    #expect(net.stats.droppedUnbound == 2)
}
