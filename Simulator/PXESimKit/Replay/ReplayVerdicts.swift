import BootCore
import BootWire

/// One line of `pxe-sim replay`: a client request, bootd's reply, and the verdict.
public struct ReplayLine: Sendable {
    public var text: String
    public var ok: Bool
    public init(text: String, ok: Bool) { self.text = text; self.ok = ok }
}

/// The transcript as lines, each checked by the generic replay rules (GenericRules.swift):
/// "DHCP #0 DISCOVER xid 1a2b3c4d → OFFER 10.77.0.100 file undionly.kpxe: ok".
package func verdicts(_ t: ReplayTranscript) -> [ReplayLine] {
    let broken = genericRules(t).check(t)
    var out: [ReplayLine] = []
    for p in t.problems { out.append(ReplayLine(text: "capture: \(p)", ok: false)) }
    for x in t.dhcp {
        let prefix = "\(t.name) DHCP #\(x.index) "
        let mine = broken.filter { $0.hasPrefix(prefix) }
        let request = x.request.messageType.map(\.description) ?? "BOOTREQUEST"
        let replies = x.replies.isEmpty ? "no reply" : x.replies.map { r in
            let m = r.message
            var s = (m.messageType.map(\.description) ?? "BOOTREPLY") + " \(m.yiaddr)"
            if let f = m.bootFileName { s += " file \(f)" }
            return s + " to \(r.datagram.peer)"
        }.joined(separator: ", ")
        let want = x.reference.first.map { " (capture's server: \($0.messageType.map(\.description) ?? "BOOTREPLY"))" } ?? " (capture's server: silent)"
        let xid = String(x.request.xid, radix: 16)
        let verdict = mine.isEmpty ? "ok" : "NOT OK: " + mine.map { String($0.dropFirst(prefix.count)) }.joined(separator: "; ")
        out.append(ReplayLine(text: "DHCP #\(x.index) at \(x.time) \(request) xid \(xid) → \(replies)\(want): \(verdict)", ok: mine.isEmpty))
    }
    for (k, x) in t.tftp.enumerated() {
        let prefix = "\(t.name) TFTP #\(k) "
        let mine = broken.filter { $0.hasPrefix(prefix) }
        var what: [String] = []
        if let o = x.oack { what.append("OACK " + o.map(\.description).joined(separator: " ")) }
        if !x.blocks.isEmpty { what.append("\(x.blocks.count) blocks, \(x.data.count) bytes" + (x.completed ? "" : " (incomplete)")) }
        for e in x.errorsFromServer { what.append("ERROR \(e.code.rawValue) \(e.message)") }
        let verdict = mine.isEmpty ? "ok" : "NOT OK: " + mine.map { String($0.dropFirst(prefix.count)) }.joined(separator: "; ")
        out.append(ReplayLine(text: "TFTP #\(k) RRQ \(x.file) \(x.request.options.map(\.description).joined(separator: " ")) → \(what.isEmpty ? "nothing" : what.joined(separator: ", ")): \(verdict)", ok: mine.isEmpty))
    }
    let counted = broken.filter { line in !(t.dhcp.indices.contains { line.hasPrefix("\(t.name) DHCP #\($0) ") } || t.tftp.indices.contains { line.hasPrefix("\(t.name) TFTP #\($0) ") }) }
    for line in counted where !t.problems.contains(where: { line.hasSuffix($0) }) {
        out.append(ReplayLine(text: line, ok: false))
    }
    return out
}
