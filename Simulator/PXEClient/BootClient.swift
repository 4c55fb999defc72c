import BootWire
import BootCore

/// A virtual boot client as a sans-IO state machine: events in, each with its instant;
/// actions out. It reads no clock and no global generator: transaction ids, TFTP ports and
/// jitter come from the generator it was given. Usable over SimNet or real sockets.
///
/// Phases: DHCP (DISCOVER → OFFER → REQUEST → ACK; NAK → DISCOVER again with a new xid),
/// then the boot file (TFTP from siaddr / 66 / 54, or for iPXE an `http://` name through
/// `.httpGet`), then optionally the OS's plain DHCP exchange.
public final class BootClient {
    public let persona: Persona
    public let mac: [UInt8]
    public let uuid: String?
    public let options: ClientOptions
    public private(set) var outcome = ClientOutcome()
    public var isFinished: Bool { phase == .done }

    private var random: any RandomNumberGenerator
    private let tftpProfile: TFTPProfile?

    enum Phase: Equatable { case idle, dhcp, tftp, http, done }
    private var phase: Phase = .idle
    private var deadline: Instant?

    // DHCP exchange
    private enum DHCPStage { case firmware, os }
    private var stage: DHCPStage = .firmware
    private var profile: DHCPProfile = .dhclient
    private var xid: UInt32 = 0
    private var exchangeStarted: Instant = .zero
    private var requesting: DHCPMessage?   // the OFFER being requested
    private var candidates: [DHCPMessage] = []
    private var sawOffer = false
    private var attempt = 0
    private var nakCount = 0
    private var lastDHCP: DHCPMessage?

    // TFTP transfer
    private var tftpServer: Endpoint = Endpoint(.any, 69)
    private var localAddress: IPv4Address = .any
    private var port: UInt16 = 0
    private var tid: Endpoint?
    private var probing = false
    private var requestOptions: [TFTPOption] = []
    private var blksize = 512
    private var windowsize = 1
    private var tsize: Int?
    private var nextBlock = 1
    private var inWindow = 0
    private var reackSent = false
    private var gotOACK = false
    private var lastTFTP: [UInt8] = []
    private var tftpAttempt = 0
    private var received: [UInt8] = []

    public convenience init(persona: Persona, mac: [UInt8], uuid: String? = nil, seed: UInt64,
                            options: ClientOptions = ClientOptions()) {
        self.init(persona: persona, mac: mac, uuid: uuid, generator: SplitMix64(seed: seed), options: options)
    }

    public init(persona: Persona, mac: [UInt8], uuid: String? = nil, generator: some RandomNumberGenerator,
                options: ClientOptions = ClientOptions()) {
        self.persona = persona; self.mac = mac; self.uuid = uuid
        self.random = generator; self.options = options
        self.tftpProfile = options.tftpProfile ?? persona.tftpProfile
    }

    // MARK: Events

    public func start(at now: Instant) -> [ClientAction] {
        guard phase == .idle else { return [] }
        outcome.timings.started = now
        if let p = persona.dhcpProfile {
            profile = p
            return [.bindPort(68)] + startDHCP(.firmware, at: now)
        }
        guard let target = options.tftpTarget, let file = options.tftpFile else {
            return finish(.noTFTPServer, at: now)
        }
        return startTFTP(server: target, file: file, from: options.clientAddress, at: now)
    }

    public func receive(_ datagram: Datagram, at now: Instant) -> [ClientAction] {
        outcome.counters.received += 1
        switch phase {
        case .dhcp where datagram.local.port == 68: return receiveDHCP(datagram, at: now)
        case .tftp where datagram.local.port == port: return receiveTFTP(datagram, at: now)
        default:
            outcome.counters.ignored += 1
            return []
        }
    }

    public func wake(at now: Instant) -> [ClientAction] {
        guard let d = deadline, now >= d else { return [] }
        deadline = nil
        switch phase {
        case .dhcp: return dhcpTimeout(at: now)
        case .tftp: return tftpTimeout(at: now)
        case .http: return finish(.httpTimeout, at: now)
        case .idle, .done: return []
        }
    }

    public func httpCompleted(status: Int, body: [UInt8], at now: Instant) -> [ClientAction] {
        guard phase == .http else { return [] }
        deadline = nil
        outcome.timings.httpFinished = now
        outcome.httpStatus = status
        guard (200..<300).contains(status) else { return finish(.httpError(status: status), at: now) }
        collect(body[...])
        return bootFileDone(at: now)
    }

    // MARK: DHCP

    private func startDHCP(_ stage: DHCPStage, at now: Instant) -> [ClientAction] {
        phase = .dhcp
        self.stage = stage
        if stage == .firmware { outcome.timings.dhcpStarted = now } else { outcome.timings.osDHCPStarted = now }
        exchangeStarted = now
        return discover(at: now)
    }

    private func discover(at now: Instant) -> [ClientAction] {
        xid = UInt32(truncatingIfNeeded: random.next())
        requesting = nil; candidates = []; attempt = 0
        let m = message(.discover, at: now)
        outcome.counters.discovers += 1
        return sendDHCP(m, at: now)
    }

    private func request(_ offer: DHCPMessage, at now: Instant) -> [ClientAction] {
        requesting = offer; candidates = []; attempt = 0
        let m = message(.request, at: now)
        outcome.counters.requests += 1
        return sendDHCP(m, at: now)
    }

    /// A DISCOVER or REQUEST as the persona builds it (RFC 2131 section 4.4.1 table 5).
    private func message(_ type: DHCPMessageType, at now: Instant) -> DHCPMessage {
        let secs = UInt16(clamping: (now - exchangeStarted).components.seconds)
        var m = DHCPMessage(op: .request, xid: xid, secs: secs, chaddr: mac)
        m.broadcastFlag = profile.broadcastFlag || options.broadcastFlag
        var o = DHCPOptions()
        o[code: 53] = [type.rawValue]
        if type == .request, let offer = requesting {
            // Section 4.3.2, SELECTING: 50 = yiaddr of the OFFER, 54 = its server.
            o[code: 50] = offer.yiaddr.bytes
            if let sid = serverID(of: offer) { o[code: 54] = sid.bytes }
        }
        if let size = profile.maximumMessageSize { o[code: 57] = [UInt8(size >> 8), UInt8(size & 0xff)] }
        o[code: 55] = profile.parameterRequestList
        if profile.sendsClientIdentifier { o[code: 61] = [1] + mac }
        if profile.sendsMachineID {
            let id = profile.zeroMachineID ? nil : uuid.flatMap { ClientMachineID(uuid: $0) }
            o[code: 97] = [0] + (id?.identifier ?? [UInt8](repeating: 0, count: 16))
        }
        if let nic = profile.networkInterface { o[code: 94] = [nic.type, nic.major, nic.minor] }
        if let arch = profile.architectures { o[code: 93] = arch.flatMap { [UInt8($0.rawValue >> 8), UInt8($0.rawValue & 0xff)] } }
        if let vc = profile.vendorClass { o[code: 60] = Array(vc.utf8) }
        if let uc = profile.userClass { try? o.setValue(uc, for: .userClass) }
        if let ipxe = profile.iPXEOptions { try? o.setValue(ipxe, for: .iPXEEncapsulated) }
        if let host = profile.hostName { o[code: 12] = Array(host.utf8) }
        m.options = o
        return m
    }

    private func sendDHCP(_ m: DHCPMessage, at now: Instant) -> [ClientAction] {
        lastDHCP = m
        // Built from valid parts: serialising cannot fail.
        let payload = (try? m.serialized()) ?? []
        outcome.counters.sent += 1
        let wait = jittered(profile.schedule, attempt)
        deadline = now + wait
        return [.send(Datagram(payload: payload, peer: Endpoint(.broadcast, 67), local: Endpoint(.any, 68))),
                .wakeUp(at: now + wait)]
    }

    private func jittered(_ s: RetransmissionSchedule, _ i: Int) -> Duration {
        let base = s.waits[min(i, s.waits.count - 1)]
        guard s.jitter > .zero else { return base }
        let span = UInt64(max(0, s.jitter.nanosecondCount / 500_000))   // twice the jitter, in ms
        let offset = Int64(random.next() % (span + 1)) - Int64(span / 2)
        return base + .milliseconds(offset)
    }

    private func serverID(of m: DHCPMessage) -> IPv4Address? {
        m.options[code: 54].flatMap { IPv4Address(bytes: $0) }
    }

    private func bootFileName(of m: DHCPMessage) -> String? {
        if let f = (try? m.value(.bootfileName)) ?? nil, !f.isEmpty { return f }
        return m.bootFileName
    }

    private func receiveDHCP(_ d: Datagram, at now: Instant) -> [ClientAction] {
        guard let m = try? DHCPMessage(parsing: d.payload), m.op == .reply, m.xid == xid,
              m.clientHardwareAddress == mac else {
            outcome.counters.ignored += 1
            return []
        }
        switch (m.messageType, requesting) {
        case (.offer?, nil):
            outcome.counters.offers += 1
            guard m.yiaddr != .any else { outcome.counters.ignored += 1; return [] }
            sawOffer = true
            if stage == .firmware && profile.needsBootFile && bootFileName(of: m) == nil {
                return []
            }
            candidates.append(m)
            if options.offerCollectionWindow > .zero {
                if candidates.count == 1 {
                    deadline = now + options.offerCollectionWindow
                    return [.wakeUp(at: now + options.offerCollectionWindow)]
                }
                return []
            }
            return request(m, at: now)
        case (.ack?, let offer?):
            if let sid = serverID(of: offer), let ackSID = serverID(of: m), sid != ackSID {
                outcome.counters.ignored += 1
                return []
            }
            nakCount = 0
            return acknowledged(m, offer: offer, at: now)
        case (.nak?, let offer?):
            if let sid = serverID(of: offer), let nakSID = serverID(of: m), sid != nakSID {
                outcome.counters.ignored += 1
                return []
            }
            outcome.counters.naks += 1
            nakCount += 1
            if nakCount >= options.maximumNAKs { return finish(.nakLoop(nakCount), at: now) }
            // RFC 2131 section 3.1 step 5: back to INIT.
            return discover(at: now)
        default:
            outcome.counters.ignored += 1
            return []
        }
    }

    private func dhcpTimeout(at now: Instant) -> [ClientAction] {
        if requesting == nil, let best = candidates.first(where: { bootFileName(of: $0) != nil }) ?? candidates.first {
            return request(best, at: now)   // end of the offer collection window
        }
        attempt += 1
        guard attempt < profile.schedule.waits.count, let m = lastDHCP else {
            if requesting != nil { return finish(.noAck, at: now) }
            return finish(sawOffer ? .noBootFile : .noOffer, at: now)
        }
        var again = m
        again.secs = UInt16(clamping: (now - exchangeStarted).components.seconds)
        outcome.counters.retransmissions += 1
        let wait = jittered(profile.schedule, attempt)
        lastDHCP = again
        outcome.counters.sent += 1
        deadline = now + wait
        return [.send(Datagram(payload: (try? again.serialized()) ?? [], peer: Endpoint(.broadcast, 67),
                               local: Endpoint(.any, 68))),
                .wakeUp(at: now + wait)]
    }

    private func acknowledged(_ ack: DHCPMessage, offer: DHCPMessage, at now: Instant) -> [ClientAction] {
        deadline = nil
        requesting = nil
        if stage == .os {
            outcome.timings.osDHCPFinished = now
            outcome.osLeasedAddress = ack.yiaddr
            return finish(nil, at: now)
        }
        outcome.timings.dhcpFinished = now
        outcome.leasedAddress = ack.yiaddr
        outcome.server = serverID(of: ack) ?? serverID(of: offer)
        guard persona != .plainDHCP else { return finish(nil, at: now) }
        guard let file = bootFileName(of: ack) ?? bootFileName(of: offer) else { return finish(.noBootFile, at: now) }
        outcome.bootFile = file
        if case .iPXE = persona, file.hasPrefix("http://") || file.hasPrefix("https://") {
            outcome.httpURL = file
            guard options.fetchHTTP else { return bootFileDone(at: now) }
            phase = .http
            outcome.timings.httpStarted = now
            deadline = now + options.httpTimeout
            return [.httpGet(file), .wakeUp(at: now + options.httpTimeout)]
        }
        var path = file
        var host: IPv4Address?
        if case .iPXE = persona, file.hasPrefix("tftp://") {
            // tftp://server/path
            let rest = file.dropFirst(7)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            host = IPv4Address(String(rest[..<slash]))
            path = String(rest[slash...].dropFirst())
        }
        // PXE 2.1: the TFTP server is siaddr; else 66 (as an address); else the DHCP server.
        let tftpHost = host
            ?? (ack.siaddr != .any ? ack.siaddr : nil)
            ?? ((try? ack.value(.tftpServerName)).flatMap { $0 }.flatMap { IPv4Address($0) })
            ?? outcome.server
        guard let tftpHost, tftpProfile != nil else { return finish(.noTFTPServer, at: now) }
        return startTFTP(server: Endpoint(tftpHost, 69), file: path, from: ack.yiaddr, at: now)
    }

    private func bootFileDone(at now: Instant) -> [ClientAction] {
        if options.continueToOS && persona.dhcpProfile != nil {
            profile = .dhclient
            return startDHCP(.os, at: now)
        }
        return finish(nil, at: now)
    }

    // MARK: TFTP

    private var tftpFile = ""

    private func startTFTP(server: Endpoint, file: String, from address: IPv4Address, at now: Instant) -> [ClientAction] {
        phase = .tftp
        outcome.timings.tftpStarted = now
        outcome.tftpServer = server
        outcome.bootFile = file
        tftpServer = server; localAddress = address; tftpFile = file
        let profile = tftpProfile!
        if let probe = profile.probe {
            probing = true
            return sendRRQ(probe.options, at: now)
        }
        return sendRRQ(profile.options, at: now)
    }

    private func newPort() -> UInt16 {
        UInt16(1024 + random.next() % UInt64(65535 - 1024))
    }

    private func sendRRQ(_ opts: [TFTPOption], at now: Instant) -> [ClientAction] {
        var out: [ClientAction] = []
        if port != 0 { out.append(.releasePort(port)) }
        port = newPort()
        out.append(.bindPort(port))
        tid = nil; gotOACK = false; nextBlock = 1; inWindow = 0; reackSent = false
        blksize = 512; windowsize = 1
        requestOptions = opts
        tftpAttempt = 0
        let rrq = TFTPPacket.readRequest(TFTPRequest(filename: tftpFile, mode: .octet, options: opts))
        return out + sendTFTP((try? rrq.serialized()) ?? [], to: tftpServer, at: now)
    }

    private func sendTFTP(_ payload: [UInt8], to peer: Endpoint, at now: Instant, remember: Bool = true) -> [ClientAction] {
        outcome.counters.sent += 1
        let send = ClientAction.send(Datagram(payload: payload, peer: peer, local: Endpoint(localAddress, port)))
        guard remember else { return [send] }
        lastTFTP = payload
        let at = now + jittered(tftpProfile!.schedule, tftpAttempt)
        deadline = at
        return [send, .wakeUp(at: at)]
    }

    private func tftpTimeout(at now: Instant) -> [ClientAction] {
        tftpAttempt += 1
        guard tftpAttempt < tftpProfile!.schedule.waits.count else { return finish(.tftpTimeout, at: now) }
        outcome.counters.retransmissions += 1
        inWindow = 0
        // Before the first reply the RRQ goes to port 69; after, to the session's TID.
        return sendTFTP(lastTFTP, to: tid ?? tftpServer, at: now)
    }

    private func errorPacket(_ code: TFTPErrorCode, _ message: String) -> [UInt8] {
        (try? TFTPPacket.error(TFTPError(code: code, message: message)).serialized()) ?? []
    }

    private func ack(_ block: UInt16, at now: Instant) -> [ClientAction] {
        tftpAttempt = 0
        return sendTFTP((try? TFTPPacket.ack(block: block).serialized()) ?? [], to: tid!, at: now)
    }

    private func receiveTFTP(_ d: Datagram, at now: Instant) -> [ClientAction] {
        // RFC 1350 section 4: the first reply fixes the server's TID; anything from another
        // endpoint gets ERROR 5 and does not disturb the transfer.
        if let tid, d.peer != tid {
            return wrongTID(d, at: now)
        }
        if tid == nil && d.peer.address != tftpServer.address {
            return wrongTID(d, at: now)
        }
        // DATA, nearly every datagram of a transfer: its payload read in place (no parse
        // into a TFTPPacket, no copy). Anything else, or a block too large, takes the parser.
        let p = d.payload
        if p.count >= 4, p[0] == 0, p[1] == 3, p.count - 4 <= TFTPPacket.maximumDataPayload {
            if tid == nil { tid = d.peer }
            return data(UInt16(p[2]) << 8 | UInt16(p[3]), p[4...], at: now)
        }
        guard let packet = try? TFTPPacket(parsing: d.payload) else {
            outcome.counters.ignored += 1
            return []
        }
        switch packet {
        case let .error(e):
            if tid == nil { tid = d.peer }
            deadline = nil
            return finish(.tftpError(code: e.code.rawValue, message: e.message), at: now)
        case let .optionAck(granted):
            if tid == nil { tid = d.peer }
            return oack(granted, at: now)
        case let .data(block, payload):
            if tid == nil { tid = d.peer }
            return data(block, payload[...], at: now)
        default:
            outcome.counters.ignored += 1
            return []
        }
    }

    private func wrongTID(_ d: Datagram, at now: Instant) -> [ClientAction] {
        outcome.counters.wrongTID += 1
        outcome.counters.sent += 1
        return [.send(Datagram(payload: errorPacket(.unknownTransferID, "Unknown transfer ID"), peer: d.peer,
                               local: Endpoint(localAddress, port)))]
    }

    private func oack(_ granted: [TFTPOption], at now: Instant) -> [ClientAction] {
        if gotOACK && nextBlock == 1 {
            // Our ACK 0 was lost and the server sent its OACK again.
            return ack(0, at: now)
        }
        guard !gotOACK, nextBlock == 1 else { outcome.counters.ignored += 1; return [] }
        // RFC 2347: an OACK only acknowledges options that were asked for, with values no
        // larger than asked (blksize RFC 2348, windowsize RFC 7440); anything else is refused.
        let reason: String?
        var typed = TFTPTransferOptions()
        if requestOptions.isEmpty {
            reason = "OACK to a request without options"
        } else if let odd = granted.first(where: { g in !requestOptions.contains { $0.isNamed(g.name) } }) {
            reason = "option \(odd.name) was not requested"
        } else {
            do {
                typed = try TFTPTransferOptions(validating: granted)
                let asked = (try? TFTPTransferOptions(validating: requestOptions)) ?? TFTPTransferOptions()
                if let b = typed.blksize, let a = asked.blksize, b > a { reason = "blksize \(b) above the \(a) asked" }
                else if let w = typed.windowsize, let a = asked.windowsize, w > a { reason = "windowsize \(w) above the \(a) asked" }
                else { reason = nil }
            } catch {
                reason = "\(error)"
            }
        }
        if let reason {
            let refuse = errorPacket(.optionNegotiationRefused, "Bad OACK")
            let out = sendTFTP(refuse, to: tid!, at: now, remember: false)
            return out + finish(.badOACK(reason), at: now)
        }
        if let t = typed.tsize { tsize = t }
        if probing, let probe = tftpProfile?.probe {
            // The size is known: abandon this transfer and ask again for the download.
            probing = false
            let abort = (try? TFTPPacket.error(probe.abort).serialized()) ?? []
            let out = sendTFTP(abort, to: tid!, at: now, remember: false)
            return out + sendRRQ(tftpProfile!.options, at: now)
        }
        gotOACK = true
        outcome.negotiated = typed
        blksize = typed.blksize ?? 512
        windowsize = typed.windowsize ?? 1
        return ack(0, at: now)
    }

    private func data(_ block: UInt16, _ payload: ArraySlice<UInt8>, at now: Instant) -> [ClientAction] {
        if probing {
            // The server ignored the probe's options: this is the download.
            probing = false
            requestOptions = tftpProfile?.probe?.options ?? []
        }
        let expected = UInt16(truncatingIfNeeded: nextBlock)
        guard block == expected else {
            outcome.counters.outOfOrderBlocks += 1
            // RFC 7440 section 4: on a gap (or a window sent again) ACK the last block
            // received in order, once until the transfer moves on; the timer covers the rest.
            guard !reackSent, nextBlock > 1 || gotOACK else { return [] }
            reackSent = true
            inWindow = 0
            return ack(UInt16(truncatingIfNeeded: nextBlock - 1), at: now)
        }
        guard payload.count <= blksize else {
            let out = sendTFTP(errorPacket(.illegalOperation, "Block too large"), to: tid!, at: now, remember: false)
            return out + finish(.tftpProtocol("block \(block) has \(payload.count) bytes, blksize \(blksize)"), at: now)
        }
        if outcome.bytesReceived + payload.count > options.maximumFileSize {
            let out = sendTFTP(errorPacket(.diskFull, "File too large"), to: tid!, at: now, remember: false)
            return out + finish(.fileTooLarge, at: now)
        }
        outcome.counters.blocks += 1
        collect(payload)
        nextBlock += 1     // block numbers roll over 65535 → 0 on the wire
        inWindow += 1
        reackSent = false
        if payload.count < blksize {
            // RFC 1350 section 6: a short block ends the transfer; ACK it and stop.
            let out = ack(block, at: now)
            deadline = nil
            outcome.timings.tftpFinished = now
            let release: [ClientAction] = [.releasePort(port)]
            port = 0
            if let tsize, tsize != outcome.bytesReceived {
                return out.filter { if case .wakeUp = $0 { false } else { true } } + release
                    + finish(.badTsize(announced: tsize, received: outcome.bytesReceived), at: now)
            }
            return out.filter { if case .wakeUp = $0 { false } else { true } } + release + bootFileDone(at: now)
        }
        if inWindow >= windowsize {
            inWindow = 0
            return ack(block, at: now)
        }
        // Mid-window: no ACK, but the server is alive: restart the timer.
        tftpAttempt = 0
        let at = now + jittered(tftpProfile!.schedule, 0)
        deadline = at
        return [.wakeUp(at: at)]
    }

    private func collect(_ bytes: ArraySlice<UInt8>) {
        outcome.bytesReceived += bytes.count
        if options.checksum { outcome.checksum = ClientOutcome.fnv1a(bytes, from: outcome.checksum) }
        if options.keepBytes { received += bytes }
    }

    // MARK: End

    private func finish(_ failure: ClientFailure?, at now: Instant) -> [ClientAction] {
        var out: [ClientAction] = []
        if port != 0 { out.append(.releasePort(port)); port = 0 }
        if persona.dhcpProfile != nil { out.append(.releasePort(68)) }
        phase = .done
        deadline = nil
        outcome.failure = failure
        outcome.timings.finished = now
        if phase == .done, outcome.timings.tftpStarted != nil, outcome.timings.tftpFinished == nil {
            outcome.timings.tftpFinished = now
        }
        if options.keepBytes { outcome.bytes = received }
        out.append(.finished(outcome))
        return out
    }
}
