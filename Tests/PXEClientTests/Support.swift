import Testing
import BootWire
import BootCore
import PXEClient

// Crafted server replies, and views of what a client sent.

let serverIP = IPv4Address(10, 77, 0, 1)
let leased = IPv4Address(10, 77, 0, 100)
let mac1: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
let uuid1 = "00112233-4455-6677-8899-aabbccddeeff"

func at(_ seconds: Double) -> Instant { Instant(nanoseconds: Int64(seconds * 1_000_000_000)) }

extension [ClientAction] {
    var datagrams: [Datagram] { compactMap { if case let .send(d) = $0 { d } else { nil } } }
    var dhcp: [DHCPMessage] { datagrams.compactMap { try? DHCPMessage(parsing: $0.payload) } }
    var tftp: [TFTPPacket] { datagrams.compactMap { try? TFTPPacket(parsing: $0.payload) } }
    var wakes: [Instant] { compactMap { if case let .wakeUp(i) = $0 { i } else { nil } } }
    var outcome: ClientOutcome? { compactMap { if case let .finished(o) = $0 { o } else { nil } }.first }
    var boundPorts: [UInt16] { compactMap { if case let .bindPort(p) = $0 { p } else { nil } } }
    var acks: [UInt16] { tftp.compactMap { if case let .ack(b) = $0 { b } else { nil } } }
}

/// A server reply to `request` as a DHCP server would send it (to 255.255.255.255:68).
func reply(_ type: DHCPMessageType, to request: DHCPMessage, yiaddr: IPv4Address = leased,
           siaddr: IPv4Address = serverIP, file: String? = "pxelinux.0", serverID: IPv4Address = serverIP,
           extra: (inout DHCPMessage) -> Void = { _ in }) -> Datagram {
    var m = DHCPMessage(op: .reply, xid: request.xid, flags: request.flags,
                        yiaddr: type == .nak ? .any : yiaddr, siaddr: type == .nak ? .any : siaddr,
                        chaddr: request.clientHardwareAddress)
    m.bootFileName = type == .nak ? nil : file
    m.options[code: 53] = [type.rawValue]
    m.options[code: 54] = serverID.bytes
    if type != .nak { m.options[code: 51] = [0, 0, 0x0e, 0x10]; m.options[code: 1] = [255, 255, 255, 0] }
    extra(&m)
    return Datagram(payload: try! m.serialized(), peer: Endpoint(serverID, 67), local: Endpoint(.broadcast, 68))
}

func tftpPacket(_ p: TFTPPacket, from peer: Endpoint, to port: UInt16) -> Datagram {
    Datagram(payload: try! p.serialized(), peer: peer, local: Endpoint(leased, port))
}

func options(_ pairs: KeyValuePairs<String, Int>) -> [TFTPOption] {
    pairs.map { TFTPOption(name: $0.key, value: String($0.value)) }
}

/// Runs DORA for a client whose persona does DHCP; returns the actions after the ACK.
func dora(_ c: BootClient, file: String? = "pxelinux.0", now: Instant = at(0)) -> [ClientAction] {
    let discover = c.start(at: now).dhcp[0]
    let request = c.receive(reply(.offer, to: discover, file: file), at: now).dhcp[0]
    return c.receive(reply(.ack, to: request, file: file), at: now)
}
