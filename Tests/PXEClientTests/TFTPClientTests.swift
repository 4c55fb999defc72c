import Testing
import BootWire
import BootCore
import PXEClient

let session = Endpoint(serverIP, 40000)

/// A TFTP-only client with the given RRQ options.
func tftpClient(_ opts: [TFTPOption], seed: UInt64 = 9, keep: Bool = true) -> BootClient {
    var o = ClientOptions()
    o.tftpTarget = Endpoint(serverIP, 69); o.tftpFile = "boot.bin"; o.clientAddress = leased
    o.tftpProfile = TFTPProfile(options: opts, schedule: RetransmissionSchedule(waits: Array(repeating: .seconds(5), count: 5)))
    o.keepBytes = keep
    return BootClient(persona: .tftp(.atftp), mac: mac1, seed: seed, options: o)
}

func file(_ count: Int) -> [UInt8] { (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) } }

@Suite("TFTP")
struct TFTPClientTests {
    @Test("after the ACK, a UEFI client probes the size (tsize, blksize 1468, windowsize 4), aborts with ERROR, then downloads from a new port")
    func uefiProbeThenDownload() throws {
        var keep = ClientOptions(); keep.keepBytes = true
        let c = BootClient(persona: .uefiPXE, mac: mac1, seed: 2, options: keep)
        let a = dora(c, file: "bootx64.efi")
        let probePort = try #require(a.boundPorts.first)
        let rrq = try #require(a.datagrams.first)
        #expect(rrq.peer == Endpoint(serverIP, 69))
        #expect(rrq.local == Endpoint(leased, probePort))
        #expect(a.tftp.first == .readRequest(TFTPRequest(filename: "bootx64.efi", options: options(["tsize": 0, "blksize": 1468, "windowsize": 4]))))

        let body = file(1468 * 5 + 100)
        let b = c.receive(tftpPacket(.optionAck(options(["tsize": body.count, "blksize": 1468, "windowsize": 4])), from: session, to: probePort), at: at(1))
        #expect(b.datagrams[0].peer == session)
        #expect(b.tftp[0] == .error(TFTPError(code: .optionNegotiationRefused, message: "User aborted the transfer")))
        #expect(b.contains(.releasePort(probePort)))
        let port = try #require(b.boundPorts.first)
        #expect(port != probePort)
        #expect(b.tftp[1] == .readRequest(TFTPRequest(filename: "bootx64.efi", options: options(["blksize": 1468, "windowsize": 4]))))

        let s2 = Endpoint(serverIP, 40001)
        #expect(c.receive(tftpPacket(.optionAck(options(["blksize": 1468, "windowsize": 4])), from: s2, to: port), at: at(1)).acks == [0])
        var acks: [UInt16] = []
        var last: [ClientAction] = []
        for i in 0..<6 {
            let chunk = Array(body[(i * 1468)..<min(body.count, (i + 1) * 1468)])
            last = c.receive(tftpPacket(.data(block: UInt16(i + 1), payload: chunk), from: s2, to: port), at: at(2))
            acks += last.acks
        }
        #expect(acks == [4, 6])
        let o = try #require(last.outcome)
        #expect(o.succeeded)
        #expect(o.bytes.map { $0 == body } == true)
        #expect(o.bytesReceived == body.count)
        #expect(o.checksum == ClientOutcome.fnv1a(body))
        #expect(o.negotiated?.windowsize == 4)
        #expect(o.leasedAddress == leased && o.server == serverIP && o.bootFile == "bootx64.efi")
        #expect(o.tftpServer == Endpoint(serverIP, 69))
        #expect(o.timings.dhcpStarted == at(0) && o.timings.dhcpFinished == at(0))
        #expect(o.timings.tftpStarted == at(0) && o.timings.tftpFinished == at(2))
        #expect(o.counters.discovers == 1 && o.counters.requests == 1 && o.counters.blocks == 6)
    }

    @Test("the legacy ROM probes with tsize alone, aborts with ERROR 0 TFTP Aborted, and downloads with blksize 1456; a wrong size fails with badTsize")
    func legacyProbeAndBadTsize() throws {
        let c = BootClient(persona: .biosPXE, mac: mac1, seed: 2)
        let a = dora(c)
        #expect(a.tftp.first == .readRequest(TFTPRequest(filename: "pxelinux.0", options: options(["tsize": 0]))))
        let b = c.receive(tftpPacket(.optionAck(options(["tsize": 1000])), from: session, to: a.boundPorts[0]), at: at(1))
        #expect(b.tftp[0] == .error(TFTPError(code: .notDefined, message: "TFTP Aborted")))
        #expect(b.tftp[1] == .readRequest(TFTPRequest(filename: "pxelinux.0", options: options(["blksize": 1456]))))
        let port = b.boundPorts[0]
        _ = c.receive(tftpPacket(.optionAck(options(["blksize": 1456])), from: session, to: port), at: at(1))
        let end = c.receive(tftpPacket(.data(block: 1, payload: file(900)), from: session, to: port), at: at(1))
        #expect(end.acks == [1])
        #expect(end.outcome?.failure == .badTsize(announced: 1000, received: 900))
    }

    @Test("windowed ACKs and block rollover: 65536+ blocks of 8 bytes, an ACK for each 4th block, numbers wrapping 65535 → 0")
    func windowRollover() throws {
        let c = tftpClient(options(["blksize": 8, "windowsize": 4]), keep: false)
        let start = c.start(at: at(0))
        let port = start.boundPorts[0]
        #expect(start.tftp == [.readRequest(TFTPRequest(filename: "boot.bin", options: options(["blksize": 8, "windowsize": 4])))])
        #expect(c.receive(tftpPacket(.optionAck(options(["blksize": 8, "windowsize": 4])), from: session, to: port), at: at(0)).acks == [0])
        let full = 65_537
        var acks: [UInt16] = []
        var expected: [UInt16] = []
        var checksum = ClientOutcome.fnvOffset
        var last: [ClientAction] = []
        for n in 1...(full + 1) {
            let payload = n <= full ? [UInt8](repeating: UInt8(n & 0xff), count: 8) : [1, 2, 3]
            checksum = ClientOutcome.fnv1a(payload, from: checksum)
            last = c.receive(tftpPacket(.data(block: UInt16(truncatingIfNeeded: n), payload: payload), from: session, to: port), at: at(1))
            acks += last.acks
            if n % 4 == 0 || n == full + 1 { expected.append(UInt16(truncatingIfNeeded: n)) }
        }
        #expect(acks == expected)
        #expect(acks.contains(0) && acks.last == UInt16(truncatingIfNeeded: full + 1))
        let o = try #require(last.outcome)
        #expect(o.succeeded)
        #expect(o.bytesReceived == full * 8 + 3)
        #expect(o.checksum == checksum)
    }

    @Test("a gap in a window is answered once with an ACK of the last block in order")
    func gap() throws {
        let c = tftpClient(options(["blksize": 8, "windowsize": 4]))
        let port = c.start(at: at(0)).boundPorts[0]
        _ = c.receive(tftpPacket(.optionAck(options(["blksize": 8, "windowsize": 4])), from: session, to: port), at: at(0))
        let data = { (b: UInt16) in tftpPacket(.data(block: b, payload: [UInt8](repeating: 0, count: 8)), from: session, to: port) }
        #expect(c.receive(data(1), at: at(0)).acks == [])
        #expect(c.receive(data(3), at: at(0)).acks == [1])   // 2 lost
        #expect(c.receive(data(4), at: at(0)).acks == [])    // once only
        #expect(c.receive(data(2), at: at(0)).acks == [])    // window restarts at 2
        #expect(c.receive(data(3), at: at(0)).acks == [])
        #expect(c.receive(data(4), at: at(0)).acks == [])
        #expect(c.receive(data(5), at: at(0)).acks == [5])
        #expect(c.outcome.counters.outOfOrderBlocks == 2)
    }

    @Test("without options: DATA 1 straight away, an ACK per block; tftp-hpa sends no options")
    func noOptions() throws {
        var o = ClientOptions()
        o.tftpTarget = Endpoint(serverIP, 69); o.tftpFile = "a"; o.clientAddress = leased
        let c = BootClient(persona: .tftp(.tftpHPA), mac: mac1, seed: 1, options: o)
        let s = c.start(at: at(0))
        #expect(s.tftp == [.readRequest(TFTPRequest(filename: "a", options: []))])
        let port = s.boundPorts[0]
        #expect(c.receive(tftpPacket(.data(block: 1, payload: file(512)), from: session, to: port), at: at(0)).acks == [1])
        let end = c.receive(tftpPacket(.data(block: 2, payload: []), from: session, to: port), at: at(0))
        #expect(end.acks == [2])
        #expect(end.outcome?.succeeded == true && end.outcome?.bytesReceived == 512)
    }

    @Test("an OACK granting more than asked, or an option not asked, is refused with ERROR 8")
    func badOACK() throws {
        for granted in [options(["blksize": 1500]), options(["blksize": 512, "windowsize": 2])] {
            let c = tftpClient(options(["blksize": 1432]))
            let port = c.start(at: at(0)).boundPorts[0]
            let a = c.receive(tftpPacket(.optionAck(granted), from: session, to: port), at: at(0))
            guard case let .error(e)? = a.tftp.first else { Issue.record("no ERROR"); continue }
            #expect(e.code == .optionNegotiationRefused)
            guard case .badOACK? = a.outcome?.failure else { Issue.record("not badOACK"); continue }
        }
    }

    @Test("an ERROR from the server ends the boot with its code and message")
    func serverError() throws {
        let c = BootClient(persona: .iPXE(.efi), mac: mac1, seed: 4)
        let a = dora(c, file: "missing.efi")
        #expect(a.tftp.first == .readRequest(TFTPRequest(filename: "missing.efi", options: options(["blksize": 1432, "tsize": 0]))))
        let e = c.receive(tftpPacket(.error(TFTPError(code: .fileNotFound, message: "File not found")), from: Endpoint(serverIP, 69), to: a.boundPorts[0]), at: at(1))
        #expect(e.outcome?.failure == .tftpError(code: 1, message: "File not found"))
        #expect(e.contains(.releasePort(a.boundPorts[0])) && e.contains(.releasePort(68)))
    }

    @Test("a packet from another TID gets ERROR 5 and does not disturb the transfer")
    func wrongTID() throws {
        let c = tftpClient([])
        let port = c.start(at: at(0)).boundPorts[0]
        #expect(c.receive(tftpPacket(.data(block: 1, payload: file(512)), from: session, to: port), at: at(0)).acks == [1])
        let stranger = Endpoint(serverIP, 40999)
        let e = c.receive(tftpPacket(.data(block: 2, payload: file(10)), from: stranger, to: port), at: at(0))
        #expect(e.datagrams.map(\.peer) == [stranger])
        #expect(e.tftp == [.error(TFTPError(code: .unknownTransferID, message: "Unknown transfer ID"))])
        #expect(e.outcome == nil)
        let end = c.receive(tftpPacket(.data(block: 2, payload: file(10)), from: session, to: port), at: at(0))
        #expect(end.outcome?.succeeded == true)
        #expect(end.outcome?.bytesReceived == 522)
        #expect(end.outcome?.counters.wrongTID == 1)
    }

    @Test("timeouts: the RRQ goes again to port 69, the last ACK to the TID, every 5 s, then tftpTimeout")
    func timeouts() throws {
        let c = tftpClient([])
        let s = c.start(at: at(0))
        let port = s.boundPorts[0]
        #expect(s.wakes == [at(5)])
        let r = c.wake(at: at(5))
        #expect(r.datagrams.first?.peer == Endpoint(serverIP, 69))
        #expect(r.tftp.first == s.tftp.first)
        #expect(c.receive(tftpPacket(.data(block: 1, payload: file(512)), from: session, to: port), at: at(6)).wakes == [at(11)])
        var t = 11.0
        for _ in 0..<4 {
            let a = c.wake(at: at(t))
            #expect(a.acks == [1] && a.datagrams.first?.peer == session)
            t += 5
        }
        #expect(c.wake(at: at(t)).outcome?.failure == .tftpTimeout)
        #expect(c.outcome.counters.retransmissions == 5)
    }
}

@Suite("iPXE HTTP and the OS phase")
struct HTTPAndOSTests {
    @Test("iPXE given an http:// boot file asks for it, then the OS does a plain DORA")
    func httpThenOS() throws {
        var o = ClientOptions(); o.continueToOS = true
        let c = BootClient(persona: .iPXE(.bios), mac: mac1, uuid: uuid1, seed: 8, options: o)
        let url = "http://10.77.0.1:8080/boot.ipxe"
        let a = dora(c, file: url, now: at(1))
        #expect(a.contains(.httpGet(url)))
        #expect(a.wakes == [at(31)])
        let os = c.httpCompleted(status: 200, body: Array("#!ipxe\n".utf8), at: at(2))
        let d = try #require(os.dhcp.first)
        #expect(d.messageType == .discover)
        #expect(d.options[code: 60] == nil && d.options[code: 77] == nil)
        let r = try #require(c.receive(reply(.offer, to: d, yiaddr: IPv4Address(10, 77, 0, 101), file: nil), at: at(3)).dhcp.first)
        let end = c.receive(reply(.ack, to: r, yiaddr: IPv4Address(10, 77, 0, 101), file: nil), at: at(3))
        let out = try #require(end.outcome)
        #expect(out.succeeded)
        #expect(out.httpURL == url && out.httpStatus == 200 && out.bytesReceived == 7)
        #expect(out.leasedAddress == leased && out.osLeasedAddress == IPv4Address(10, 77, 0, 101))
        #expect(out.timings.httpStarted == at(1) && out.timings.httpFinished == at(2))
        #expect(out.timings.osDHCPStarted == at(2) && out.timings.osDHCPFinished == at(3))
        #expect(out.timings.tftpStarted == nil)
    }

    @Test("an HTTP error status fails with httpError; no answer fails with httpTimeout")
    func httpFailures() throws {
        let c1 = BootClient(persona: .iPXE(.efi), mac: mac1, seed: 8)
        _ = dora(c1, file: "http://x/boot.ipxe")
        #expect(c1.httpCompleted(status: 404, body: [], at: at(1)).outcome?.failure == .httpError(status: 404))
        let c2 = BootClient(persona: .iPXE(.efi), mac: mac1, seed: 8)
        _ = dora(c2, file: "http://x/boot.ipxe")
        #expect(c2.wake(at: at(30)).outcome?.failure == .httpTimeout)
    }
}
