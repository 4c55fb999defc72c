import Testing
import BootWire
@testable import BootCore

// Engine tests: explicit events in, the actions a user would see out (datagrams on the
// wire, leases stored, authority questions, notify datagrams).

let server = IPv4Address(10, 77, 0, 1)
let t0 = Instant(nanoseconds: 1_000_000_000)

func mac(_ last: UInt8) -> [UInt8] { [0x52, 0x54, 0x00, 0x00, 0x00, last] }

enum Persona { case bios, uefi, ipxe, plain }

/// A client message as the real clients of Fixtures/ build them.
func clientMessage(_ type: DHCPMessageType?, mac: [UInt8], persona: Persona = .bios, xid: UInt32 = 0x1234,
                   ciaddr: IPv4Address = .any, giaddr: IPv4Address = .any, requested: IPv4Address? = nil,
                   serverID: IPv4Address? = nil, uuid: String? = "00112233-4455-6677-8899-aabbccddeeff",
                   extra: (inout DHCPMessage) throws -> Void = { _ in }) throws -> DHCPMessage {
    var m = DHCPMessage(op: .request, xid: xid, ciaddr: ciaddr, giaddr: giaddr, chaddr: mac)
    if let type { try m.setValue(type, for: .messageType) }
    if let requested { try m.setValue(requested, for: .requestedIPAddress) }
    if let serverID { try m.setValue(serverID, for: .serverIdentifier) }
    switch persona {
    case .bios, .ipxe:
        try m.setValue("PXEClient:Arch:00000:UNDI:002001", for: .vendorClassIdentifier)
        try m.setValue([.x86BIOS], for: .clientArchitectures)
    case .uefi:
        try m.setValue("PXEClient:Arch:00007:UNDI:003000", for: .vendorClassIdentifier)
        try m.setValue([.x64UEFI], for: .clientArchitectures)
    case .plain:
        break
    }
    if persona != .plain, let uuid { try m.setValue(ClientMachineID(uuid: uuid)!, for: .clientMachineID) }
    if persona == .ipxe {
        try m.setValue(.plain(Array("iPXE".utf8)), for: .userClass)
        m.options[code: 175] = [19, 1, 1]
    }
    try m.setValue([1, 3, 6, 43, 60, 66, 67], for: .parameterRequestList)
    try extra(&m)
    return m
}

func datagram(_ m: DHCPMessage, from: Endpoint = Endpoint(.any, 68)) throws -> Datagram {
    Datagram(payload: try m.serialized(), peer: from, local: Endpoint(.broadcast, 67), interface: 2)
}

extension [DHCPServerAction] {
    var sent: [(to: Endpoint, message: DHCPMessage)] {
        compactMap { if case let .send(d) = $0 { (d.peer, try! DHCPMessage(parsing: d.payload)) } else { nil } }
    }
    var stored: [LeaseRecord] { compactMap { if case let .storeLease(r) = $0 { r } else { nil } } }
    var queries: [(AuthorityQuery, UInt64)] { compactMap { if case let .queryAuthority(q, id) = $0 { (q, id) } else { nil } } }
    var notified: [String] { compactMap { if case let .notify(d) = $0 { String(decoding: d.payload, as: UTF8.self) } else { nil } } }
    var logs: [String] { compactMap { if case let .log(l) = $0 { l.message } else { nil } } }
}

func settings(_ change: (inout DHCPServerSettings) -> Void = { _ in }) -> DHCPServerSettings {
    var s = DHCPServerSettings(serverAddress: server, poolStart: IPv4Address(10, 77, 0, 100), poolCount: 10,
                               dnsServers: [server], domainName: "lab",
                               bootFiles: BootFileSettings(defaultFile: "pxelinux.0",
                                                        byArchitecture: [7: "bootx64.efi", 11: "bootaa64.efi"],
                                                        iPXE: "http://10.77.0.1/boot.ipxe"))
    change(&s)
    return s
}

/// DISCOVER then REQUEST of the offered address; returns the ACK's actions.
@discardableResult
func dora(_ engine: DHCPServer, mac m: [UInt8], persona: Persona = .bios, at now: Instant = t0) throws -> (offer: DHCPMessage?, ack: [DHCPServerAction]) {
    let offerActions = engine.handle(try datagram(clientMessage(.discover, mac: m, persona: persona)), at: now)
    guard let offer = offerActions.sent.first?.message else { return (nil, offerActions) }
    let ack = engine.handle(try datagram(clientMessage(.request, mac: m, persona: persona, requested: offer.yiaddr, serverID: server)), at: now)
    return (offer, ack)
}

@Suite("DHCP engine")
struct DHCPServerTests {
    @Test("a BIOS PXE client gets a full OFFER and ACK, the lease stored before the ACK leaves")
    func pxeDORA() throws {
        let engine = DHCPServer(settings: settings())
        let offerActions = engine.handle(try datagram(clientMessage(.discover, mac: mac(1))), at: t0)
        let (to, offer) = try #require(offerActions.sent.first)
        #expect(to == Endpoint(.broadcast, 68))
        #expect(offer.messageType == .offer)
        #expect(offer.xid == 0x1234)
        #expect(offer.yiaddr == IPv4Address(10, 77, 0, 100))
        #expect(offer.siaddr == server)
        #expect(offer.bootFileName == "pxelinux.0")
        #expect(try offer.value(.serverIdentifier) == server)
        #expect(try offer.value(.leaseTime) == 86400)
        #expect(try offer.value(.subnetMask) == IPv4Address(255, 255, 255, 0))
        #expect(try offer.value(.routers) == [server])
        #expect(try offer.value(.domainNameServers) == [server])
        #expect(try offer.value(.vendorClassIdentifier) == "PXEClient")
        #expect(offer.options[code: 97] == [0] + ClientMachineID(uuid: "00112233-4455-6677-8899-aabbccddeeff")!.identifier)
        #expect(offer.options[code: 43] == [6, 1, 8, 255])
        #expect(try offer.value(.tftpServerName) == "10.77.0.1")
        #expect(try offer.value(.bootfileName) == "pxelinux.0")
        #expect(offerActions.stored.isEmpty)

        let ack = engine.handle(try datagram(clientMessage(.request, mac: mac(1), requested: offer.yiaddr, serverID: server)), at: t0)
        let storeIndex = try #require(ack.firstIndex { if case .storeLease = $0 { true } else { false } })
        let sendIndex = try #require(ack.firstIndex { if case .send = $0 { true } else { false } })
        #expect(storeIndex < sendIndex)
        #expect(ack.sent.first?.message.messageType == .ack)
        #expect(ack.sent.first?.message.yiaddr == offer.yiaddr)
        #expect(ack.stored.first?.pxeBooted == true)
        #expect(engine.lease(for: mac(1))?.address == offer.yiaddr)
    }

    @Test("boot file by option 93, by option 60's Arch field, default fallback, iPXE's own file")
    func bootFileChoice() throws {
        let engine = DHCPServer(settings: settings())
        #expect(try dora(engine, mac: mac(1), persona: .uefi).offer?.bootFileName == "bootx64.efi")
        #expect(try dora(engine, mac: mac(2), persona: .bios).offer?.bootFileName == "pxelinux.0")
        let ipxe = try #require(try dora(engine, mac: mac(3), persona: .ipxe).offer)
        #expect(ipxe.bootFileName == "http://10.77.0.1/boot.ipxe")
        #expect(ipxe.options[code: 175] == [176, 1, 1])
        // Only option 60 (no 93): ARM64 UEFI.
        let arm = try clientMessage(.discover, mac: mac(4), persona: .plain) {
            try $0.setValue("PXEClient:Arch:00011:UNDI:003000", for: .vendorClassIdentifier)
        }
        #expect(engine.handle(try datagram(arm), at: t0).sent.first?.message.bootFileName == "bootaa64.efi")
        // An architecture with no entry falls back to the default instead of being dropped.
        let odd = try clientMessage(.discover, mac: mac(5), persona: .plain) {
            try $0.setValue("PXEClient:Arch:00009:UNDI:003000", for: .vendorClassIdentifier)
        }
        #expect(engine.handle(try datagram(odd), at: t0).sent.first?.message.bootFileName == "pxelinux.0")
    }

    @Test("the pool skips the server, network and broadcast addresses")
    func poolSkipsReserved() throws {
        let engine = DHCPServer(settings: settings {
            $0.poolStart = IPv4Address(10, 77, 0, 0); $0.poolCount = 3
        })
        var got: [IPv4Address] = []
        for i in 1...3 { if let o = try dora(engine, mac: mac(UInt8(i))).offer { got.append(o.yiaddr) } }
        #expect(got == [IPv4Address(10, 77, 0, 2)])
        #expect(engine.counters.poolExhausted == 2)
        let top = DHCPServer(settings: settings { $0.poolStart = IPv4Address(10, 77, 0, 254); $0.poolCount = 2 })
        #expect(try dora(top, mac: mac(1)).offer?.yiaddr == IPv4Address(10, 77, 0, 254))
        #expect(try dora(top, mac: mac(2)).offer == nil)
    }

    @Test("pool exhaustion is counted and logged, never thrown")
    func exhaustion() throws {
        let engine = DHCPServer(settings: settings { $0.poolCount = 2 })
        try dora(engine, mac: mac(1)); try dora(engine, mac: mac(2))
        let (offer, actions) = try dora(engine, mac: mac(3))
        #expect(offer == nil)
        #expect(engine.counters.poolExhausted == 1)
        #expect(actions.logs.contains { $0.contains("exhausted") })
    }

    @Test("bindings are sticky, and survive a restart through the lease store")
    func sticky() throws {
        let engine = DHCPServer(settings: settings())
        let (_, ack1) = try dora(engine, mac: mac(7))
        let first = try #require(ack1.stored.first)
        try dora(engine, mac: mac(8))
        #expect(try dora(engine, mac: mac(7)).offer?.yiaddr == first.address)
        let restarted = DHCPServer(settings: settings(), leases: engine.leases)
        #expect(try dora(restarted, mac: mac(7)).offer?.yiaddr == first.address)
        #expect(try dora(restarted, mac: mac(9)).offer?.yiaddr == IPv4Address(10, 77, 0, 102))
    }

    @Test("static bindings come first, also outside the pool")
    func staticBinding() throws {
        let engine = DHCPServer(settings: settings { $0.staticBindings = [mac(1): IPv4Address(10, 77, 0, 50), mac(2): IPv4Address(10, 77, 0, 100)] })
        #expect(try dora(engine, mac: mac(1)).offer?.yiaddr == IPv4Address(10, 77, 0, 50))
        // 10.77.0.100 is mac(2)'s static address: nobody else gets it.
        #expect(try dora(engine, mac: mac(3)).offer?.yiaddr == IPv4Address(10, 77, 0, 101))
        #expect(try dora(engine, mac: mac(2)).offer?.yiaddr == IPv4Address(10, 77, 0, 100))
    }

    @Test("REQUEST for an address that is not the client's is NAKed, to broadcast")
    func nak() throws {
        let engine = DHCPServer(settings: settings())
        try dora(engine, mac: mac(1))
        try dora(engine, mac: mac(2))
        // mac(2) asks for mac(1)'s address in INIT-REBOOT.
        let a = engine.handle(try datagram(clientMessage(.request, mac: mac(2), requested: IPv4Address(10, 77, 0, 100))), at: t0)
        let (to, reply) = try #require(a.sent.first)
        #expect(reply.messageType == .nak)
        #expect(to == Endpoint(.broadcast, 68))
        #expect(reply.yiaddr == .any)
        #expect(engine.lease(for: mac(1))?.address == IPv4Address(10, 77, 0, 100))
        // An address off the network: NAK.
        let off = engine.handle(try datagram(clientMessage(.request, mac: mac(2), requested: IPv4Address(192, 168, 1, 5))), at: t0)
        #expect(off.sent.first?.message.messageType == .nak)
        // INIT-REBOOT of a client we know nothing of, for a free address: silent (RFC 2131 4.3.2).
        let unknown = engine.handle(try datagram(clientMessage(.request, mac: mac(3), requested: IPv4Address(10, 77, 0, 105))), at: t0)
        #expect(unknown.sent.isEmpty)
        #expect(engine.lease(for: mac(3)) == nil)
    }

    @Test("a client identifier (option 61) comes back unaltered in OFFER, ACK and NAK (RFC 6842); none is invented")
    func clientIdentifierEchoed() throws {
        let engine = DHCPServer(settings: settings { $0.allowSimpleDHCP = true })
        let id: [UInt8] = [1, 0x52, 0x54, 0x00, 0x00, 0x00, 0x07]
        let withID: (inout DHCPMessage) throws -> Void = { $0.options[code: 61] = id }
        let offer = try #require(engine.handle(try datagram(clientMessage(.discover, mac: mac(7), persona: .plain, extra: withID)), at: t0).sent.first?.message)
        #expect(offer.messageType == .offer)
        #expect(offer.options[code: 61] == id)
        let ack = try #require(engine.handle(try datagram(clientMessage(.request, mac: mac(7), persona: .plain, requested: offer.yiaddr,
                                                                        serverID: server, extra: withID)), at: t0).sent.first?.message)
        #expect(ack.messageType == .ack)
        #expect(ack.options[code: 61] == id)
        let nak = try #require(engine.handle(try datagram(clientMessage(.request, mac: mac(7), persona: .plain, requested: IPv4Address(192, 168, 1, 5),
                                                                        extra: withID)), at: t0).sent.first?.message)
        #expect(nak.messageType == .nak)
        #expect(nak.options[code: 61] == id)
        // A client that sent none gets none.
        let (plainOffer, _) = try dora(engine, mac: mac(8), persona: .bios)
        #expect(try #require(plainOffer).options[code: 61] == nil)
    }

    @Test("renewing unicasts the ACK to ciaddr; rebinding for a stranger's address is NAKed")
    func renew() throws {
        let engine = DHCPServer(settings: settings())
        let addr = try #require(try dora(engine, mac: mac(1)).offer?.yiaddr)
        let later = t0 + .seconds(40000)
        let a = engine.handle(try datagram(clientMessage(.request, mac: mac(1), ciaddr: addr), from: Endpoint(addr, 68)), at: later)
        let (to, ack) = try #require(a.sent.first)
        #expect(ack.messageType == .ack)
        #expect(to == Endpoint(addr, 68))
        #expect(ack.ciaddr == addr)
        #expect(a.stored.first?.expires == later + .seconds(86400))
        try dora(engine, mac: mac(2))
        let b = engine.handle(try datagram(clientMessage(.request, mac: mac(2), ciaddr: addr)), at: later)
        #expect(b.sent.first?.message.messageType == .nak)
    }

    @Test("SELECTING another server's offer releases ours silently")
    func otherServer() throws {
        let engine = DHCPServer(settings: settings())
        let offer = try #require(engine.handle(try datagram(clientMessage(.discover, mac: mac(1))), at: t0).sent.first?.message)
        let a = engine.handle(try datagram(clientMessage(.request, mac: mac(1), requested: offer.yiaddr, serverID: IPv4Address(10, 77, 0, 3))), at: t0)
        #expect(a.sent.isEmpty)
        #expect(engine.lease(for: mac(1)) == nil)
    }

    @Test("lease(holding:) finds the binding of an address (what check_ip asks), and follows it when the client moves or declines")
    func leaseHolding() throws {
        let engine = DHCPServer(settings: settings())
        let a1 = try #require(try dora(engine, mac: mac(1)).offer?.yiaddr)
        let a2 = try #require(try dora(engine, mac: mac(2)).offer?.yiaddr)
        #expect(engine.lease(holding: a1)?.mac == mac(1))
        #expect(engine.lease(holding: a2)?.mac == mac(2))
        #expect(engine.lease(holding: IPv4Address(10, 77, 0, 250)) == nil)
        // Every binding the table lists is found by its address, and only those.
        for r in engine.leases { #expect(engine.lease(holding: r.address) == r) }
        _ = engine.handle(try datagram(clientMessage(.decline, mac: mac(1), requested: a1, serverID: server)), at: t0)
        #expect(engine.lease(holding: a1) == nil)
        #expect(engine.lease(holding: a2)?.mac == mac(2))
    }

    @Test("DECLINE marks the address bad: nobody gets it while held back")
    func decline() throws {
        let engine = DHCPServer(settings: settings())
        let addr = try #require(try dora(engine, mac: mac(1)).offer?.yiaddr)
        let a = engine.handle(try datagram(clientMessage(.decline, mac: mac(1), requested: addr, serverID: server)), at: t0)
        #expect(a.contains(.removeLease(mac: mac(1))))
        #expect(engine.counters.declines == 1)
        #expect(try dora(engine, mac: mac(1)).offer?.yiaddr != addr)
        #expect(try dora(engine, mac: mac(2)).offer?.yiaddr != addr)
        // A DECLINE for someone else's address changes nothing.
        let other = try #require(engine.lease(for: mac(2))?.address)
        _ = engine.handle(try datagram(clientMessage(.decline, mac: mac(3), requested: other, serverID: server)), at: t0)
        #expect(engine.lease(for: mac(2))?.address == other)
    }

    @Test("RELEASE frees the address for others when the pool needs it, sticky otherwise")
    func release() throws {
        let engine = DHCPServer(settings: settings { $0.poolCount = 1 })
        let addr = try #require(try dora(engine, mac: mac(1)).offer?.yiaddr)
        #expect(try dora(engine, mac: mac(2)).offer == nil)
        let r = engine.handle(try datagram(clientMessage(.release, mac: mac(1), ciaddr: addr, serverID: server), from: Endpoint(addr, 68)), at: t0)
        #expect(r.stored.first?.expires == t0)
        #expect(try dora(engine, mac: mac(2), at: t0 + .seconds(1)).offer?.yiaddr == addr)
        #expect(engine.lease(for: mac(1)) == nil)
        // A RELEASE of an address the client does not hold is ignored.
        let bogus = engine.handle(try datagram(clientMessage(.release, mac: mac(3), ciaddr: addr)), at: t0)
        #expect(bogus.stored.isEmpty)
        #expect(engine.lease(for: mac(2))?.address == addr)
    }

    @Test("INFORM gets configuration without an address or lease, unicast to ciaddr")
    func inform() throws {
        let engine = DHCPServer(settings: settings { $0.allowSimpleDHCP = true })
        let a = engine.handle(try datagram(clientMessage(.inform, mac: mac(1), persona: .plain, ciaddr: IPv4Address(10, 77, 0, 200))), at: t0)
        let (to, ack) = try #require(a.sent.first)
        #expect(ack.messageType == .ack)
        #expect(to == Endpoint(IPv4Address(10, 77, 0, 200), 68))
        #expect(ack.yiaddr == .any)
        #expect(try ack.value(.leaseTime) == nil)
        #expect(try ack.value(.subnetMask) != nil)
        #expect(engine.lease(for: mac(1)) == nil)
    }

    @Test("plain DHCP clients are served only after a PXE boot of the same MAC, unless allow_simple_dhcp")
    func pxeThenOS() throws {
        let engine = DHCPServer(settings: settings())
        #expect(try dora(engine, mac: mac(1), persona: .plain).offer == nil)
        #expect(engine.counters.refusedNotPXE == 1)
        let pxeAddress = try #require(try dora(engine, mac: mac(1), persona: .bios).offer?.yiaddr)
        let (os, ack) = try dora(engine, mac: mac(1), persona: .plain)
        #expect(os?.yiaddr == pxeAddress)
        #expect(os?.bootFileName == nil)
        #expect(os?.options[code: 60] == nil)
        #expect(ack.sent.first?.message.messageType == .ack)
        let simple = DHCPServer(settings: settings { $0.allowSimpleDHCP = true })
        #expect(try dora(simple, mac: mac(2), persona: .plain).offer != nil)
    }

    @Test("[mac] with masks decides, and a static or leased MAC has no bypass")
    func macACL() throws {
        let list = [
            MACRule(MACAddressPattern(bytes: mac(9)), false),
            MACRule(MACAddressPattern(bytes: [0x52, 0x54, 0x00], prefixBits: 24), true),
        ]
        let engine = DHCPServer(settings: settings {
            $0.access = .macList(list); $0.staticBindings = [mac(9): IPv4Address(10, 77, 0, 9)]
        })
        #expect(try dora(engine, mac: mac(1)).offer != nil)
        #expect(try dora(engine, mac: mac(9)).offer == nil)
        #expect(try dora(engine, mac: [0x52, 0x55, 0, 0, 0, 1]).offer == nil)
        #expect(engine.counters.refusedByAccess == 2)
        // mac(1) has a lease; the list now blocks it: the lease does not let it through.
        let blocked = DHCPServer(settings: settings { $0.access = .macList([MACRule(MACAddressPattern(bytes: mac(1)), false)]) },
                                 leases: engine.leases)
        #expect(try dora(blocked, mac: mac(1)).offer == nil)
        let renew = blocked.handle(try datagram(clientMessage(.request, mac: mac(1), ciaddr: IPv4Address(10, 77, 0, 100))), at: t0)
        #expect(renew.sent.isEmpty)
    }

    @Test("[uuid] decides by option 97, and by the UUID the MAC showed in its PXE phase")
    func uuidACL() throws {
        let allowed = "00112233-4455-6677-8899-aabbccddeeff"
        let engine = DHCPServer(settings: settings { $0.access = .uuidList([UUIDRule(MachineUUID(allowed)!, true),
                                                                   UUIDRule(MachineUUID("99999999-4455-6677-8899-aabbccddeeff")!, false)]) })
        #expect(try dora(engine, mac: mac(1)).offer != nil)
        let other = try clientMessage(.discover, mac: mac(2), uuid: "99999999-4455-6677-8899-aabbccddeeff")
        #expect(engine.handle(try datagram(other), at: t0).sent.isEmpty)
        // OS stage of mac(1): no option 97, the UUID from its PXE phase is used.
        #expect(try dora(engine, mac: mac(1), persona: .plain).offer != nil)
    }

    @Test("the authority is asked asynchronously; other clients are served meanwhile")
    func authority() throws {
        let engine = DHCPServer(settings: settings { $0.access = .authority })
        let a = engine.handle(try datagram(clientMessage(.discover, mac: mac(1))), at: t0)
        #expect(a.sent.isEmpty)
        let (q, id) = try #require(a.queries.first)
        #expect(q == AuthorityQuery(mac: mac(1), uuid: "00112233-4455-6677-8899-aabbccddeeff", phase: .pxe))
        #expect(a.contains(.wakeUp(at: t0 + .seconds(5))))
        // A retransmission does not ask again.
        #expect(engine.handle(try datagram(clientMessage(.discover, mac: mac(1), xid: 0x9999)), at: t0).queries.isEmpty)
        // A second client is asked about independently; its denial touches nobody else.
        let b = engine.handle(try datagram(clientMessage(.discover, mac: mac(2))), at: t0)
        let id2 = try #require(b.queries.first?.1)
        #expect(engine.authorityAnswered(id: id2, .denied, at: t0).sent.isEmpty)
        let answered = engine.authorityAnswered(id: id, .allowed(hostName: "node1", bootFile: "special.0"), at: t0)
        let offer = try #require(answered.sent.first?.message)
        #expect(offer.xid == 0x9999)
        #expect(try offer.value(.hostName) == "node1")
        #expect(offer.bootFileName == "special.0")
        // Once allowed, the REQUEST goes through without asking again (always_check off).
        let ack = engine.handle(try datagram(clientMessage(.request, mac: mac(1), requested: offer.yiaddr, serverID: server)), at: t0)
        #expect(ack.sent.first?.message.messageType == .ack)
        #expect(ack.stored.first?.hostName == "node1")
    }

    @Test("an authority that does not answer in time denies that request only")
    func authorityTimeout() throws {
        let engine = DHCPServer(settings: settings { $0.access = .authority; $0.authorityTimeout = .seconds(2) })
        let a = engine.handle(try datagram(clientMessage(.discover, mac: mac(1))), at: t0)
        let id = try #require(a.queries.first?.1)
        #expect(engine.wake(at: t0 + .seconds(1)).isEmpty)
        #expect(engine.wake(at: t0 + .seconds(2)).logs.first?.contains("no answer from the authority") == true)
        #expect(engine.pendingQueries == 0)
        #expect(engine.authorityAnswered(id: id, .allowed(hostName: nil, bootFile: nil), at: t0 + .seconds(3)).isEmpty)
        let failed = engine.handle(try datagram(clientMessage(.discover, mac: mac(2))), at: t0)
        let id2 = try #require(failed.queries.first?.1)
        #expect(engine.authorityAnswered(id: id2, .failed("connection refused"), at: t0).sent.isEmpty)
        #expect(engine.counters.authorityFailures == 2)
    }

    @Test("plain DHCP clients go through the authority too, in the dhcp phase")
    func authorityOSPhase() throws {
        let engine = DHCPServer(settings: settings { $0.access = .authority; $0.allowSimpleDHCP = true })
        let a = engine.handle(try datagram(clientMessage(.discover, mac: mac(1), persona: .plain)), at: t0)
        #expect(a.queries.first?.0.phase == .dhcp)
        #expect(a.sent.isEmpty)
    }

    @Test("pending authority questions are bounded")
    func authorityBound() throws {
        let engine = DHCPServer(settings: settings { $0.access = .authority; $0.maxPendingQueries = 3 })
        for i in 1...5 { _ = engine.handle(try datagram(clientMessage(.discover, mac: mac(UInt8(i)))), at: t0) }
        #expect(engine.pendingQueries == 3)
        #expect(engine.counters.pendingOverflow == 2)
    }

    @Test("relayed requests are answered to giaddr:67; buggy clients get 255.255.255.255")
    func destinations() throws {
        let engine = DHCPServer(settings: settings { $0.buggyClients = [MACRule(MACAddressPattern(bytes: mac(5)), true)] })
        let relayed = engine.handle(try datagram(clientMessage(.discover, mac: mac(1), giaddr: IPv4Address(10, 77, 0, 254))), at: t0)
        #expect(relayed.sent.first?.to == Endpoint(IPv4Address(10, 77, 0, 254), 67))
        #expect(relayed.sent.first?.message.giaddr == IPv4Address(10, 77, 0, 254))
        let addr = try #require(try dora(engine, mac: mac(5)).offer?.yiaddr)
        let renew = engine.handle(try datagram(clientMessage(.request, mac: mac(5), ciaddr: addr)), at: t0)
        #expect(renew.sent.first?.to == Endpoint(.broadcast, 68))
    }

    @Test("notify datagrams follow the reply: BOOT for PXE, LEASE for the OS, RELEASE")
    func notify() throws {
        let target = Endpoint(IPv4Address(127, 0, 0, 1), 9999)
        let engine = DHCPServer(settings: settings { $0.notifyTargets = [target] })
        let (_, ack) = try dora(engine, mac: mac(1))
        #expect(ack.notified == ["BOOT,00112233-4455-6677-8899-aabbccddeeff,52:54:00:00:00:01,10.77.0.100"])
        let sendIndex = try #require(ack.firstIndex { if case .send = $0 { true } else { false } })
        let notifyIndex = try #require(ack.firstIndex { if case .notify = $0 { true } else { false } })
        #expect(sendIndex < notifyIndex)
        let (_, os) = try dora(engine, mac: mac(1), persona: .plain)
        #expect(os.notified == ["LEASE,00112233-4455-6677-8899-aabbccddeeff,52:54:00:00:00:01,10.77.0.100"])
    }

    @Test("PyBootd defects: short packets, bad lengths, no END, overload, no option 55 never stall or crash")
    func hostilePackets() throws {
        let engine = DHCPServer(settings: settings())
        let good = try clientMessage(.discover, mac: mac(1)).serialized()
        let hostile: [[UInt8]] = [[], [1], Array(good.prefix(100)), Array(good.prefix(240)),
                                  Array(good.prefix(243)), good.enumerated().map { $0.offset == 241 ? 200 : $0.element }]
        for h in hostile {
            let a = engine.handle(Datagram(payload: h, peer: Endpoint(.any, 68), local: Endpoint(.broadcast, 67)), at: t0)
            #expect(a.sent.isEmpty)
        }
        #expect(engine.counters.malformed == hostile.count)
        // iPXE asks no option 13 and, here, sends no option 55 at all: still answered.
        let no55 = try clientMessage(.discover, mac: mac(2), persona: .ipxe) { $0.options[code: 55] = nil }
        #expect(engine.handle(try datagram(no55), at: t0).sent.first?.message.messageType == .offer)
        // Options overloaded into file and sname are honoured.
        var overloaded = try clientMessage(.discover, mac: mac(3))
        for c: UInt8 in 200...204 { overloaded.options[code: c] = [UInt8](repeating: c, count: 60) }
        let bytes = try overloaded.serialized(maximumSize: 548)
        #expect(bytes[240..<243] == [52, 1, 1])
        let r = engine.handle(Datagram(payload: bytes, peer: Endpoint(.any, 68), local: Endpoint(.broadcast, 67)), at: t0)
        #expect(r.sent.first?.message.options[code: 97] != nil)
    }

    @Test("replies fit the client's maximum message size and carry one END")
    func replySize() throws {
        let engine = DHCPServer(settings: settings {
            $0.dnsServers = (1...60).map { IPv4Address(10, 77, 1, UInt8($0)) }
        })
        let a = engine.handle(try datagram(clientMessage(.discover, mac: mac(1))), at: t0)
        guard case let .send(d)? = a.first(where: { if case .send = $0 { true } else { false } }) else {
            Issue.record("no reply"); return
        }
        #expect(d.payload.count <= 548)
        let m = try DHCPMessage(parsing: d.payload)
        #expect(try m.value(.domainNameServers)?.count == 60)
        // Walk the options: exactly one END, followed only by padding (PyBootd wrote two).
        var i = 240
        while i < d.payload.count, d.payload[i] != 255 {
            i += d.payload[i] == 0 ? 1 : 2 + Int(d.payload[i + 1])
        }
        #expect(i < d.payload.count)
        #expect(d.payload[(i + 1)...].allSatisfy { $0 == 0 })
    }
}

@Test("a request relayed from another network gets nothing; one relayed from the served network is answered via giaddr")
func relayFromOtherNetworkIgnored() throws {
    let server = DHCPServer(settings: settings { $0.allowSimpleDHCP = true }, leases: [])
    let foreign = try datagram(clientMessage(.discover, mac: mac(40), persona: .plain, giaddr: IPv4Address(192, 168, 9, 1)),
                               from: Endpoint(IPv4Address(192, 168, 9, 1), 67))
    let out = server.handle(foreign, at: t0)
    #expect(out.sent.isEmpty)
    #expect(out.logs.contains { $0.contains("ignored DHCP from relay 192.168.9.1") })
    let local = try datagram(clientMessage(.discover, mac: mac(41), persona: .plain, giaddr: IPv4Address(10, 77, 0, 2)),
                             from: Endpoint(IPv4Address(10, 77, 0, 2), 67))
    let reply = try #require(server.handle(local, at: t0).sent.first)
    #expect(reply.to == Endpoint(IPv4Address(10, 77, 0, 2), 67))
    #expect(reply.message.messageType == .offer)
}
