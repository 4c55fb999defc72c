import AsyncHTTPClient
import BootCore
import BootNIO
import BootWire
import NIOCore
import NIOPosix
import PXEClient
import PXESimKit
#if canImport(Glibc)
import Glibc
#endif

/// What `pxe-sim --target` runs: virtual clients over real sockets against one server.
public struct RealRunOptions: Sendable {
    /// The DHCP server (port 67 normally). TFTP and HTTP go only to this address.
    public var target: Endpoint
    /// The interface the DHCP broadcasts leave through; its IPv4 address is the source of
    /// every TFTP transfer.
    public var interface: String
    public var clients = 1
    /// Clients started per second; 0 starts them all at once.
    public var rate = 0.0
    /// The whole run ends after this long; clients still going count as failed.
    public var timeout: Duration = .seconds(60)
    public var seed: UInt64 = 1
    public var persona: PersonaMix = .bios
    /// Send DHCP to the target's address instead of 255.255.255.255 (always on loopback).
    public var unicast = false
    public init(target: Endpoint, interface: String) { self.target = target; self.interface = interface }
}

public struct RealRunError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// What happened on the wire.
public struct RealRunResult: Sendable {
    public var options: RealRunOptions
    public var clients: [ReportClient]
    public var wall: Duration
    public var interface: HostInterface
    public var packetsSent = 0
    public var packetsReceived = 0
    /// Datagrams from other servers on the segment, dropped unread.
    public var foreignReplies = 0
    /// Sends a client asked for to an address other than the target, not sent.
    public var refusedDestinations: [String: Int] = [:]
    /// TFTP ports that could not be opened (out of descriptors or ports).
    public var portFailures = 0

    public var report: RunReport {
        var r = RunReport(mode: "real",
                          title: "pxe-sim: \(clients.count) \(options.persona.rawValue) clients against \(options.target) on \(interface.name) (\(interface.address)), seed \(options.seed)",
                          clients: clients, wall: wall, packetsSent: packetsSent, packetsReceived: packetsReceived)
        if portFailures > 0 { r.notes.append("TFTP ports that could not be opened: \(portFailures)") }
        if foreignReplies > 0 { r.notes.append("replies from other servers ignored: \(foreignReplies)") }
        for (d, n) in refusedDestinations.sorted(by: { $0.key < $1.key }) {
            r.notes.append("not sent (only \(options.target.address) is a target): \(n) to \(d)")
        }
        return r
    }
}

/// Client `index`'s MAC: locally administered (02:…), two bytes from the seed, three from
/// the index, so every client of a run differs and a seed gives the same MACs each time.
public func virtualMAC(index: Int, seed: UInt64) -> [UInt8] {
    var g = SplitMix64(seed: seed)
    let r = g.next()
    return [0x02, UInt8(truncatingIfNeeded: r >> 8), UInt8(truncatingIfNeeded: r),
            UInt8((index >> 16) & 0xff), UInt8((index >> 8) & 0xff), UInt8(index & 0xff)]
}

/// Drives `BootClient`s over real sockets. One DHCP socket bound to 0.0.0.0:68 on the
/// interface (SO_BROADCAST, SO_BINDTOIFINDEX) carries every client's DHCP: clients set
/// the broadcast flag, and replies are handed to the client whose chaddr they carry (the
/// client itself checks the xid). Each TFTP transfer gets an ephemeral UDP port on the
/// interface's address, mapped to the port number the client chose. Everything runs on
/// one event loop; the clients are confined to it.
public final class RealRun: @unchecked Sendable {
    public let options: RealRunOptions
    let interface: HostInterface
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let factory: NIOPortFactory
    var dhcpPort: UDPPort?
    var http: HTTPClient?
    let dhcpDestination: Endpoint

    final class Slot {
        let index: Int
        let persona: Persona
        let mac: [UInt8]
        let client: BootClient
        var ports: [UInt16: any BoundPort] = [:]
        /// The client's wake-up instant, and the one timer that serves it. A TFTP client asks
        /// for a new instant with every block; cancelling and rescheduling NIO's timer each
        /// time costs a search of the loop's timer heap (a third of a 1,000-client storm's
        /// CPU). The timer stays armed while the deadline only moves later, and re-arms
        /// itself for the deadline when it fires early.
        var deadline: Instant?
        var wake: Scheduled<Void>?
        var wakeAt: Instant?
        var poweredOn: Instant = .zero
        var started = false
        var done = false
        init(index: Int, persona: Persona, mac: [UInt8], client: BootClient) {
            self.index = index; self.persona = persona; self.mac = mac; self.client = client
        }
    }
    var slots: [Slot] = []
    var byMAC: [[UInt8]: Int] = [:]
    var startDeadline = NIODeadline.now()
    var finished = 0
    var ended = false
    var result: RealRunResult
    var endPromise: EventLoopPromise<Void>?

    public init(_ options: RealRunOptions) throws(RealRunError) {
        self.options = options
        let index = if_nametoindex(options.interface)
        guard index > 0 else { throw RealRunError("no interface named \(options.interface)") }
        guard let iface = HostInterface.all().first(where: { $0.name == options.interface }) else {
            throw RealRunError("interface \(options.interface) has no IPv4 address (or is down): TFTP replies need one")
        }
        interface = iface
        let loopback = iface.address.value >> 24 == 127
        dhcpDestination = Endpoint(options.unicast || loopback ? options.target.address : .broadcast, options.target.port)
        // One socket per TFTP transfer: thousands of clients at once need more descriptors
        // than the usual soft limit of 1024.
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
            let want = rlim_t(options.clients * 2 + 256)
            if limit.rlim_cur < want {
                limit.rlim_cur = min(want, limit.rlim_max)
                _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            }
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        factory = NIOPortFactory(loop: loop)
        result = RealRunResult(options: options, clients: [], wall: .zero, interface: iface)
        // Off port 67 the server answers on port+1 (dnsmasq's --dhcp-alternate-port, bootd's).
        let clientPort: UInt16 = options.target.port == 67 ? 68 : options.target.port &+ 1
        // Hundreds of clients' OFFERs and ACKs arrive on this one socket within milliseconds:
        // a 4 MiB receive buffer (past rmem_max when root; `listen` falls back by itself).
        let receive: @Sendable (Datagram) -> Void = { [unowned self] d in self.dhcpReceived(d) }
        do {
            dhcpPort = try NIOPortFactory.listen(service: "pxe-sim DHCP client", on: loop, address: .any, port: clientPort,
                                                 interfaceIndex: Int(index), receiveBuffer: 4 << 20, receive: receive)
        } catch {
            try? group.syncShutdownGracefully()
            throw RealRunError("\(error) (is a DHCP client such as dhclient running on \(options.interface)?)")
        }
        for i in 0..<options.clients {
            let (persona, os) = Scenario.persona(for: i, options.persona)
            let mac = virtualMAC(index: i, seed: options.seed)
            var o = ClientOptions()
            o.continueToOS = os
            o.broadcastFlag = true
            o.checksum = false   // nothing to compare it with: the bytes counted against tsize suffice
            let hex = String(i, radix: 16)
            let uuid = "5ce1ab00-7700-4a11-9e00-" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex
            let client = BootClient(persona: persona, mac: mac, uuid: uuid,
                                    seed: options.seed &+ UInt64(i) &* 0x9E37_79B9_7F4A_7C15, options: o)
            slots.append(Slot(index: i, persona: persona, mac: mac, client: client))
            byMAC[mac] = i
        }
        // Each transfer socket keeps a receive buffer of this size: the largest block any
        // client asks for, not 64 KiB per socket (1,000 clients would hold 64 MiB).
        let blksizes = slots.compactMap { $0.persona.tftpProfile }
            .flatMap { $0.options + ($0.probe?.options ?? []) }
            .filter { $0.name.lowercased() == TFTPOption.blksize }.compactMap { Int($0.value) }
        factory.transferReceiveSize = max(516, (blksizes.max() ?? 512) + 4)
    }

    var now: Instant { Instant(nanoseconds: Int64(NIODeadline.now().uptimeNanoseconds) - Int64(startDeadline.uptimeNanoseconds)) }

    /// Runs every client to its end or to the timeout. `progress` gets a line every half
    /// second (on the loop's thread).
    public func run(progress: (@Sendable (String) -> Void)? = nil) throws -> RealRunResult {
        let done = try loop.submit { [self] () -> EventLoopFuture<Void> in
            self.startDeadline = .now()
            let promise = self.loop.makePromise(of: Void.self)
            self.endPromise = promise
            for slot in self.slots {
                let i = slot.index
                let delay = self.options.rate > 0 ? Double(i) / self.options.rate : 0
                if delay == 0 { self.startClient(i) } else {
                    self.loop.scheduleTask(in: .nanoseconds(Int64(delay * 1e9))) { self.startClient(i) }
                }
            }
            self.loop.scheduleTask(in: .nanoseconds(self.options.timeout.nanosecondCount)) { self.end() }
            if let progress {
                self.loop.scheduleRepeatedTask(initialDelay: .milliseconds(500), delay: .milliseconds(500)) { task in
                    if self.ended { task.cancel(); return }
                    progress(self.progressLine())
                }
            }
            if self.slots.isEmpty { self.end() }
            return promise.futureResult
        }.wait()
        try done.wait()
        try? http?.syncShutdown()
        try? group.syncShutdownGracefully()
        return result
    }

    func progressLine() -> String {
        let d = slots.filter(\.done)
        let booted = d.filter { $0.client.outcome.succeeded }.count
        return RunReport.progressLine(elapsed: now - .zero, started: slots.filter(\.started).count, booted: booted,
                                      failed: d.count - booted, total: slots.count)
    }

    func startClient(_ i: Int) {
        guard !ended else { return }
        let slot = slots[i]
        slot.started = true
        slot.poweredOn = now
        perform(i, slot.client.start(at: slot.poweredOn))
    }

    func dhcpReceived(_ d: Datagram) {
        guard !ended else { return }
        guard d.peer.address == options.target.address else { result.foreignReplies += 1; return }
        guard let m = try? DHCPMessage(parsing: d.payload), m.op == .reply,
              let i = byMAC[m.clientHardwareAddress], !slots[i].done else { return }
        result.packetsReceived += 1
        var delivered = d
        delivered.local.port = 68
        perform(i, slots[i].client.receive(delivered, at: now))
    }

    func perform(_ i: Int, _ actions: [ClientAction]) {
        let slot = slots[i]
        guard !slot.done, !ended else { return }
        for action in actions {
            switch action {
            case var .send(d):
                if d.local.port == 68 {
                    d.peer = dhcpDestination
                    result.packetsSent += 1
                    dhcpPort?.send(d)
                } else if d.peer.address != options.target.address {
                    result.refusedDestinations["\(d.peer.address)", default: 0] += 1
                } else if let p = slot.ports[d.local.port] {
                    result.packetsSent += 1
                    p.send(d)
                }
            case let .bindPort(port):
                guard port != 68 else { continue }
                let address = interface.address
                let opened = factory.openPort(address: address, port: 0) { [unowned self] d in
                    let run = self   // one strong reference per datagram, not one per use
                    let slot = run.slots[i]
                    guard !run.ended, !slot.done else { return }
                    run.result.packetsReceived += 1
                    var delivered = d
                    delivered.local = Endpoint(address, port)
                    run.perform(i, slot.client.receive(delivered, at: run.now))
                }
                if opened == nil { result.portFailures += 1 }
                slot.ports[port] = opened
            case let .releasePort(port):
                slot.ports.removeValue(forKey: port)?.close()
            case let .wakeUp(at):
                slot.deadline = at
                if let armed = slot.wakeAt, armed <= at, slot.wake != nil { continue }
                arm(slot, at: at)
            case let .httpGet(url):
                httpGet(url, for: i)
            case .finished:
                finishClient(i)
                return
            }
        }
    }

    /// (Re)arms `slot`'s one timer for `at`.
    func arm(_ slot: Slot, at: Instant) {
        slot.wake?.cancel()
        slot.wakeAt = at
        let delay = max(0, at.nanoseconds - now.nanoseconds)
        let i = slot.index
        slot.wake = loop.scheduleTask(in: .nanoseconds(delay)) { [unowned self] in
            let slot = self.slots[i]
            slot.wake = nil; slot.wakeAt = nil
            guard let deadline = slot.deadline else { return }
            let now = self.now
            if deadline > now { self.arm(slot, at: deadline); return }   // moved on meanwhile
            slot.deadline = nil
            self.perform(i, slot.client.wake(at: now))
        }
    }

    func httpGet(_ url: String, for i: Int) {
        // Only the target: http://ADDRESS[:port]/...
        let rest = url.drop { $0 != "/" }.dropFirst(2)
        let host = rest.prefix { $0 != ":" && $0 != "/" }
        guard url.hasPrefix("http://"), IPv4Address(String(host)) == options.target.address else {
            result.refusedDestinations[url, default: 0] += 1
            perform(i, slots[i].client.httpCompleted(status: 0, body: [], at: now))
            return
        }
        if http == nil { http = HTTPClient(eventLoopGroupProvider: .shared(group)) }
        result.packetsSent += 1
        http!.get(url: url, deadline: .now() + .seconds(30)).hop(to: loop).whenComplete { [unowned self] r in
            guard !self.ended else { return }
            self.result.packetsReceived += 1
            switch r {
            case let .success(response):
                var body = response.body ?? ByteBuffer()
                let bytes = body.readBytes(length: body.readableBytes) ?? []
                self.perform(i, self.slots[i].client.httpCompleted(status: Int(response.status.code), body: bytes, at: self.now))
            case .failure:
                self.perform(i, self.slots[i].client.httpCompleted(status: 0, body: [], at: self.now))
            }
        }
    }

    func finishClient(_ i: Int) {
        let slot = slots[i]
        slot.done = true
        slot.wake?.cancel(); slot.wake = nil; slot.deadline = nil
        for (_, p) in slot.ports { p.close() }
        slot.ports.removeAll()
        finished += 1
        if finished == slots.count { end() }
    }

    func end() {
        guard !ended else { return }
        ended = true
        result.wall = now - .zero
        for slot in slots {
            slot.wake?.cancel()
            for (_, p) in slot.ports { p.close() }
            slot.ports.removeAll()
        }
        dhcpPort?.close()
        result.clients = slots.map {
            ReportClient(index: $0.index, mac: $0.mac, persona: personaName($0.persona), outcome: $0.client.outcome,
                         poweredOn: $0.poweredOn, unfinished: !$0.done)
        }
        endPromise?.succeed(())
    }
}
