import Testing
import BootWire
import BootCore
import PXEClient

@Suite("DHCP: what each persona sends")
struct PersonaDHCPTests {
    @Test("a legacy BIOS PXE ROM's DISCOVER: 60, 93 = 0, 94 = 1.2.1, 97 = UUID in SMBIOS order, 57 = 1260, broadcast, no 77/175")
    func biosDiscover() throws {
        let c = BootClient(persona: .biosPXE, mac: mac1, uuid: uuid1, seed: 1)
        let actions = c.start(at: at(0))
        #expect(actions.first == .bindPort(68))
        let d = try #require(actions.datagrams.first)
        #expect(d.peer == Endpoint(.broadcast, 67))
        #expect(d.local == Endpoint(.any, 68))
        let m = try DHCPMessage(parsing: d.payload)
        #expect(m.messageType == .discover)
        #expect(m.clientHardwareAddress == mac1)
        #expect(m.broadcastFlag)
        #expect(try m.value(.vendorClassIdentifier) == "PXEClient:Arch:00000:UNDI:002001")
        #expect(try m.value(.clientArchitectures) == [.x86BIOS])
        #expect(try m.value(.clientNetworkInterface) == ClientNetworkInterface(type: 1, major: 2, minor: 1))
        #expect(try m.value(.clientMachineID) == ClientMachineID(uuid: uuid1))
        #expect(m.options[code: 97] == [0, 0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
                                        0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        #expect(try m.value(.maximumMessageSize) == 1260)
        let prl = try #require(try m.value(.parameterRequestList))
        #expect(Set([1, 3, 43, 60, 66, 67, 97] + Array(128...135)).isSubset(of: Set(prl)))
        #expect(m.options[code: 77] == nil && m.options[code: 175] == nil)
        #expect(actions.wakes == [at(4)])
    }

    @Test("EDK2's DISCOVER: 60 UNDI 003000, 93 = 7, 94 = 1.3.0, 97 zero UUID, 57 = 1472")
    func uefiDiscover() throws {
        let c = BootClient(persona: .uefiPXE, mac: mac1, uuid: uuid1, seed: 1)
        let m = try #require(c.start(at: at(0)).dhcp.first)
        #expect(try m.value(.vendorClassIdentifier) == "PXEClient:Arch:00007:UNDI:003000")
        #expect(m.options[code: 93] == [0, 7])
        #expect(try m.value(.clientNetworkInterface)?.description == "1.3.0")
        #expect(m.options[code: 97] == [0] + [UInt8](repeating: 0, count: 16))
        #expect(try m.value(.maximumMessageSize) == 1472)
        #expect(m.options[code: 77] == nil)
    }

    @Test("iPXE's DISCOVER: 77 = the bytes of iPXE (no length prefix), 175 with HTTP, 61, 57 = 1472", arguments: [Firmware.bios, .efi])
    func iPXEDiscover(firmware: Firmware) throws {
        let c = BootClient(persona: .iPXE(firmware), mac: mac1, uuid: uuid1, seed: 1)
        let m = try #require(c.start(at: at(0)).dhcp.first)
        #expect(m.options[code: 77] == Array("iPXE".utf8))
        let encap = try #require(try m.value(.iPXEEncapsulated))
        #expect(encap.contains(DHCPSubOption(code: 19, data: [1])))
        #expect(encap.contains(DHCPSubOption(code: 21, data: [1])))
        #expect(m.options[code: 61] == [1] + mac1)
        #expect(try m.value(.maximumMessageSize) == 1472)
        #expect(try m.value(.clientMachineID) == ClientMachineID(uuid: uuid1))
        #expect(try m.value(.parameterRequestList)?.contains(175) == true)
        if firmware == .bios {
            #expect(try m.value(.vendorClassIdentifier) == "PXEClient:Arch:00000:UNDI:002001")
            #expect(m.options[code: 93] == [0, 0])
            #expect(m.options[code: 94] == [1, 2, 1])
        } else {
            #expect(try m.value(.vendorClassIdentifier) == "PXEClient:Arch:00007:UNDI:003010")
            #expect(m.options[code: 93] == [0, 7])
            #expect(m.options[code: 94] == [1, 3, 10])
        }
    }

    @Test("a plain DHCP client sends 61 and dhclient's 55, and no PXE option")
    func plainDiscover() throws {
        let c = BootClient(persona: .plainDHCP, mac: mac1, uuid: uuid1, seed: 1)
        let m = try #require(c.start(at: at(0)).dhcp.first)
        #expect(m.options[code: 60] == nil && m.options[code: 93] == nil && m.options[code: 97] == nil)
        #expect(m.options[code: 61] == [1] + mac1)
        #expect(try m.value(.parameterRequestList) == [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42])
        #expect(!m.broadcastFlag)
    }

    @Test("ClientOptions.broadcastFlag sets the BOOTP broadcast flag in DISCOVER and REQUEST of any persona")
    func forcedBroadcastFlag() throws {
        var o = ClientOptions()
        o.broadcastFlag = true
        let c = BootClient(persona: .plainDHCP, mac: mac1, uuid: uuid1, seed: 1, options: o)
        let discover = try #require(c.start(at: at(0)).dhcp.first)
        #expect(discover.broadcastFlag)
        let request = try #require(c.receive(reply(.offer, to: discover), at: at(0.1)).dhcp.first)
        #expect(request.messageType == .request && request.broadcastFlag)
    }
}

@Suite("DHCP: the exchange")
struct DHCPExchangeTests {
    @Test("the REQUEST carries 50 = yiaddr and 54 = server id of the OFFER, with the DISCOVER's xid")
    func requestFromOffer() throws {
        let c = BootClient(persona: .uefiPXE, mac: mac1, seed: 7)
        let discover = try #require(c.start(at: at(0)).dhcp.first)
        let other = IPv4Address(10, 77, 0, 3)
        let actions = c.receive(reply(.offer, to: discover, yiaddr: IPv4Address(10, 77, 0, 150), serverID: other), at: at(0.5))
        let request = try #require(actions.dhcp.first)
        #expect(request.messageType == .request)
        #expect(request.xid == discover.xid)
        #expect(try request.value(.requestedIPAddress) == IPv4Address(10, 77, 0, 150))
        #expect(try request.value(.serverIdentifier) == other)
        #expect(request.ciaddr == .any)
        #expect(try request.value(.vendorClassIdentifier) == "PXEClient:Arch:00007:UNDI:003000")
        #expect(actions.datagrams.first?.peer == Endpoint(.broadcast, 67))
        #expect(actions.wakes == [at(4.5)])
    }

    @Test("replies with another xid or MAC, and OFFERs without a boot file for a PXE ROM, are ignored")
    func ignoresOthers() throws {
        let c = BootClient(persona: .biosPXE, mac: mac1, seed: 7)
        var discover = try #require(c.start(at: at(0)).dhcp.first)
        discover.xid &+= 1
        #expect(c.receive(reply(.offer, to: discover), at: at(1)).isEmpty)
        discover.xid &-= 1
        #expect(c.receive(reply(.offer, to: discover, file: nil), at: at(1)).isEmpty)
        #expect(c.receive(reply(.offer, to: discover), at: at(1)).dhcp.first?.messageType == .request)
    }

    @Test("a PXE ROM sends DISCOVER at 0, 4, 12, 28 s (waits 4, 8, 16, 32), same xid, then fails at 60 s")
    func pxeSchedule() throws {
        let c = BootClient(persona: .biosPXE, mac: mac1, seed: 3)
        let first = try #require(c.start(at: at(0)).dhcp.first)
        var sentAt: [Double] = [0]
        var next = at(4)
        #expect(c.wake(at: at(3.9)).isEmpty)   // early wake: nothing
        while true {
            let a = c.wake(at: next)
            if let o = a.outcome {
                #expect(o.failure == .noOffer)
                #expect(o.counters.retransmissions == 3)
                #expect(o.counters.sent == 4)
                #expect(next == at(60))
                break
            }
            let m = try #require(a.dhcp.first)
            #expect(m.xid == first.xid)
            #expect(m.secs == UInt16(next.nanoseconds / 1_000_000_000))
            sentAt.append(Double(next.nanoseconds) / 1e9)
            next = try #require(a.wakes.first)
        }
        #expect(sentAt == [0, 4, 12, 28])
    }

    @Test("OFFERs without a boot file only: the PXE ROM ends with noBootFile")
    func noBootFile() throws {
        let c = BootClient(persona: .biosPXE, mac: mac1, seed: 3)
        let d = try #require(c.start(at: at(0)).dhcp.first)
        _ = c.receive(reply(.offer, to: d, file: nil), at: at(1))
        for t in [4.0, 12, 28, 60] { _ = c.wake(at: at(t)) }
        #expect(c.outcome.failure == .noBootFile)
    }

    @Test("dhclient-like backoff: 4, 8, 16, 32, 64 s each within ±1 s, reproducible from the seed")
    func plainBackoff() throws {
        func waits(seed: UInt64) -> [Int64] {
            let c = BootClient(persona: .plainDHCP, mac: mac1, seed: seed)
            var last = at(0)
            var next = c.start(at: last).wakes[0]
            var out: [Int64] = []
            while true {
                out.append(Int64(((next - last) / .milliseconds(1)).rounded()))
                last = next
                let a = c.wake(at: next)
                if a.outcome != nil { break }
                next = a.wakes[0]
            }
            return out
        }
        let w = waits(seed: 11)
        #expect(w.count == 5)
        for (got, base) in zip(w, [4000, 8000, 16000, 32000, 64000] as [Int64]) {
            #expect(abs(got - base) <= 1000)
        }
        #expect(w == waits(seed: 11))
        #expect(w != waits(seed: 12))
    }

    @Test("a NAK sends the client back to DISCOVER with a new xid; too many NAKs end in nakLoop")
    func nak() throws {
        var o = ClientOptions(); o.maximumNAKs = 2
        let c = BootClient(persona: .biosPXE, mac: mac1, seed: 5, options: o)
        let d1 = try #require(c.start(at: at(0)).dhcp.first)
        let r1 = try #require(c.receive(reply(.offer, to: d1), at: at(0)).dhcp.first)
        let d2 = try #require(c.receive(reply(.nak, to: r1), at: at(1)).dhcp.first)
        #expect(d2.messageType == .discover)
        #expect(d2.xid != d1.xid)
        let r2 = try #require(c.receive(reply(.offer, to: d2), at: at(1)).dhcp.first)
        let end = c.receive(reply(.nak, to: r2), at: at(2))
        #expect(end.outcome?.failure == .nakLoop(2))
        #expect(end.outcome?.counters.naks == 2)
    }

    @Test("with a collection window the client waits, then requests the first OFFER naming a boot file")
    func collectionWindow() throws {
        var o = ClientOptions(); o.offerCollectionWindow = .seconds(2)
        let c = BootClient(persona: .iPXE(.bios), mac: mac1, seed: 5, options: o)
        let d = try #require(c.start(at: at(0)).dhcp.first)
        let a = c.receive(reply(.offer, to: d, yiaddr: IPv4Address(10, 77, 0, 50), file: nil), at: at(0.1))
        #expect(a.dhcp.isEmpty && a.wakes == [at(2.1)])
        #expect(c.receive(reply(.offer, to: d, yiaddr: IPv4Address(10, 77, 0, 60), serverID: IPv4Address(10, 77, 0, 3)), at: at(0.5)).isEmpty)
        let r = try #require(c.wake(at: at(2.1)).dhcp.first)
        #expect(try r.value(.requestedIPAddress) == IPv4Address(10, 77, 0, 60))
        #expect(try r.value(.serverIdentifier) == IPv4Address(10, 77, 0, 3))
    }

    @Test("same seed, same packets; another seed, another xid")
    func determinism() throws {
        func run(_ seed: UInt64) -> [ClientAction] {
            let c = BootClient(persona: .uefiPXE, mac: mac1, uuid: uuid1, seed: seed)
            var all = c.start(at: at(0))
            let d = all.dhcp[0]
            all += c.receive(reply(.offer, to: d), at: at(1))
            all += c.receive(reply(.ack, to: all.dhcp[1]), at: at(1))
            all += c.wake(at: at(5))
            return all
        }
        #expect(run(42) == run(42))
        #expect(run(42).dhcp[0].xid != run(43).dhcp[0].xid)
        #expect(run(42).boundPorts != run(43).boundPorts)
    }
}
