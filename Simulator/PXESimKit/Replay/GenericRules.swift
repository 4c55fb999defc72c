import BootWire

// Starter rules for a capture nobody has written rules for yet (Fixtures/add-capture).
// They are derived from the capture itself and check less than the named rules:
// - DHCP: every client message gets a reply of the type the reference server sent (or
//   silence where it was silent); the xid is echoed; yiaddr is inside the pool or the
//   client's static address; option 54 is present; a client that sent option 60
//   "PXEClient..." gets 60 "PXEClient" and its 97 echoed.
// - TFTP: the OACK is what bootd's negotiation should grant for the RRQ's options
//   (blksize as asked up to 65464, tsize = the file's size, timeout as asked, windowsize
//   up to 64; no OACK for an RRQ without options); DATA blocks are the file's, from
//   Fixtures/replay/<capture>.ini's root; ERROR where the reference sent ERROR.
// They do not know what the capture's server was configured to hand out (boot file,
// lease time, router): write those into named rules (Rules*.swift) once the fixture
// shows a bug.
package func genericRules(_ t: ReplayTranscript) -> FixtureRules {
    var r = FixtureRules(capture: t.name)
    for x in t.dhcp {
        guard let type = x.request.messageType else { continue }
        let want = x.reference.first?.messageType
        var checks: [DHCPCheck] = [.present(54, because: "server identifier, RFC 2131 table 3")]
        if want == .offer || (want == .ack && type == .request) { checks.append(.yiaddrInPoolOrStatic) }
        if let v = x.request.options[code: 60], v.starts(with: Array("PXEClient".utf8)) {
            checks.append(.option(60, text: "PXEClient", because: "PXE 2.1: the client sent PXEClient"))
            if x.request.options[code: 97] != nil { checks.append(.echoes(97, because: "PXE 2.1")) }
        }
        r.dhcp.append(DHCPRule(request: type, reply: want, checks: checks))
    }
    for x in t.tftp {
        let asked: TFTPTransferOptions? = TFTPTransferOptions.validatingLeniently(x.request.options).options
        let size = t.files.bytes(x.file)?.count
        var oack: [String: String] = [:]
        if let b = asked?.blksize { oack["blksize"] = String(min(b, 65464)) }
        if asked?.tsize != nil, let size { oack["tsize"] = String(size) }
        if let to = asked?.timeout { oack["timeout"] = String(to) }
        if let w = asked?.windowsize { oack["windowsize"] = String(min(w, 64)) }
        let serverError = x.reference.serverPackets.compactMap { p -> UInt16? in
            if case let .error(e) = p.packet { return e.code.rawValue } else { return nil }
        }.first
        var clientAborts = false
        if case .error = x.reference.clientPackets.first?.packet { clientAborts = true }
        var blocks: [Int]?
        if serverError == nil, !clientAborts, let size {
            let b = Int(oack["blksize"] ?? "512")!
            blocks = Array(repeating: b, count: size / b) + [size % b]
        }
        r.tftp.append(TFTPRule(file: x.file, oack: serverError != nil || oack.isEmpty ? nil : oack, blocks: blocks, error: serverError))
    }
    return r
}
