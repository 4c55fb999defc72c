import BootCore
import BootWire

// The rule DSL of replay conformance. A fixture's rules say, per client DHCP message, what
// bootd must answer (`DHCPRule`), and per TFTP transfer what it must grant and send
// (`TFTPRule`). Every check has a text; a check that differs on purpose from dnsmasq says
// why (`because:`). `check(_:)` returns the broken rules as readable lines, so a failing
// replay test names the fixture, the message and the rule.

/// One check of a DHCP reply.
package struct DHCPCheck: Sendable {
    package var text: String
    package var test: @Sendable (DHCPExchange, DHCPMessage, ReplayTranscript) -> String?
    package init(text: String, test: @escaping @Sendable (DHCPExchange, DHCPMessage, ReplayTranscript) -> String?) {
        self.text = text; self.test = test
    }

    /// Option `code` present with exactly these bytes.
    package static func option(_ code: UInt8, hex want: String, because: String? = nil) -> DHCPCheck {
        DHCPCheck(text: "option \(code) = \(want)" + (because.map { " (\($0))" } ?? "")) { _, r, _ in
            guard let v = r.options[code: code] else { return "option \(code) missing" }
            return hex(v) == want ? nil : "option \(code) is \(hex(v)), want \(want)"
        }
    }
    package static func option(_ code: UInt8, text want: String, because: String? = nil) -> DHCPCheck {
        DHCPCheck(text: "option \(code) = \"\(want)\"" + (because.map { " (\($0))" } ?? "")) { _, r, _ in
            guard let v = r.options[code: code] else { return "option \(code) missing" }
            return v == Array(want.utf8) ? nil : "option \(code) is \"\(String(decoding: v, as: UTF8.self))\" (\(hex(v))), want \"\(want)\""
        }
    }
    package static func option(_ code: UInt8, ip want: String) -> DHCPCheck { option(code, hex: hex(IPv4Address(want)!.bytes)) }
    package static func option(_ code: UInt8, seconds: UInt32, because: String? = nil) -> DHCPCheck {
        option(code, hex: String(format: "%08x", seconds), because: because)
    }
    package static func present(_ code: UInt8, because: String) -> DHCPCheck {
        DHCPCheck(text: "option \(code) present (\(because))") { _, r, _ in r.options[code: code] == nil ? "option \(code) missing" : nil }
    }
    package static func absent(_ code: UInt8, because: String) -> DHCPCheck {
        DHCPCheck(text: "option \(code) absent (\(because))") { _, r, _ in
            r.options[code: code].map { "option \(code) present: \(hex($0))" }
        }
    }
    /// Option `code` of the client's message echoed byte for byte (PXE 2.1: 97).
    package static func echoes(_ code: UInt8, because: String) -> DHCPCheck {
        DHCPCheck(text: "option \(code) echoed (\(because))") { x, r, _ in
            guard let sent = x.request.options[code: code] else { return "the client sent no option \(code)" }
            guard let v = r.options[code: code] else { return "option \(code) missing" }
            return v == sent ? nil : "option \(code) is \(hex(v)), the client sent \(hex(sent))"
        }
    }
    /// Same bytes as dnsmasq's reply in the capture.
    package static func sameAsReference(_ code: UInt8) -> DHCPCheck {
        DHCPCheck(text: "option \(code) as dnsmasq sent it") { x, r, _ in
            guard let ref = x.reference.first?.options[code: code] else { return "dnsmasq sent no option \(code): bad rule" }
            guard let v = r.options[code: code] else { return "option \(code) missing (dnsmasq: \(hex(ref)))" }
            return v == ref ? nil : "option \(code) is \(hex(v)), dnsmasq sent \(hex(ref))"
        }
    }
    package static func yiaddr(_ want: String) -> DHCPCheck {
        DHCPCheck(text: "yiaddr \(want) (the static address, dnsmasq's dhcp-host)") { x, r, _ in
            r.yiaddr.description == want ? nil : "yiaddr is \(r.yiaddr), want \(want)"
        }
    }
    package static let yiaddrAsReference = DHCPCheck(text: "yiaddr as dnsmasq's") { x, r, _ in
        guard let ref = x.reference.first else { return "no dnsmasq reply to compare" }
        return r.yiaddr == ref.yiaddr ? nil : "yiaddr is \(r.yiaddr), dnsmasq's \(ref.yiaddr)"
    }
    package static let yiaddrInPoolOrStatic = DHCPCheck(text: "yiaddr inside the pool or the client's static address") { _, r, t in
        guard let s = t.dhcpSettings else { return "no DHCP settings" }
        if s.staticBindings[r.clientHardwareAddress] == r.yiaddr { return nil }
        let inPool = r.yiaddr.value >= s.poolStart.value && Int(r.yiaddr.value - s.poolStart.value) < s.poolCount
        return inPool ? nil : "yiaddr \(r.yiaddr) is outside the pool \(s.poolStart)+\(s.poolCount) and the static table"
    }
    package static func siaddr(_ want: String, because: String) -> DHCPCheck {
        DHCPCheck(text: "siaddr \(want) (\(because))") { _, r, _ in r.siaddr.description == want ? nil : "siaddr is \(r.siaddr), want \(want)" }
    }
    package static func file(_ want: String?, because: String) -> DHCPCheck {
        DHCPCheck(text: "file field \(want.map { "\"\($0)\"" } ?? "empty") (\(because))") { _, r, _ in
            r.bootFileName == want ? nil : "file field is \(r.bootFileName.map { "\"\($0)\"" } ?? "empty"), want \(want.map { "\"\($0)\"" } ?? "empty")"
        }
    }
    package static func destination(_ ip: String, because: String) -> DHCPCheck {
        DHCPCheck(text: "sent to \(ip):68 (\(because))") { x, r, _ in
            let d = x.replies[0].datagram.peer
            return d == Endpoint(IPv4Address(ip)!, 68) ? nil : "sent to \(d), want \(ip):68"
        }
    }
    package static let fitsClientLimit = DHCPCheck(text: "reply fits the client's option 57 (or 576 bytes)") { x, _, _ in
        let n = x.replies[0].datagram.payload.count
        return n <= x.request.maximumReplySize ? nil : "reply is \(n) bytes, the client takes \(x.request.maximumReplySize)"
    }
}

/// What bootd must answer to one client DHCP message.
package struct DHCPRule: Sendable {
    package var request: DHCPMessageType
    /// nil: bootd must stay silent.
    package var reply: DHCPMessageType?
    package var checks: [DHCPCheck] = []
    /// Which fields of the client's message are rewritten from bootd's replies, and why.
    package var rewrites: String = ""
    package init(request: DHCPMessageType, reply: DHCPMessageType?, checks: [DHCPCheck] = [], rewrites: String = "") {
        self.request = request; self.reply = reply; self.checks = checks; self.rewrites = rewrites
    }
}

/// What bootd must do with one TFTP transfer.
package struct TFTPRule: Sendable {
    package var file: String
    /// Every option bootd must grant in its OACK, with the value (tsize: the file's size);
    /// nil: no OACK (DATA 1 or ERROR answers the RRQ). Options not listed must be absent.
    package var oack: [String: String]?
    /// Why the OACK differs from dnsmasq's, when it does.
    package var oackDiffers: String? = nil
    /// DATA block sizes, in order; nil when no data is expected.
    package var blocks: [Int]?
    /// bootd's ERROR code, when the transfer must fail.
    package var error: UInt16? = nil
    package var rewrites: String = "client packets go to bootd's transfer port; ACKs follow bootd's window"
    package init(file: String, oack: [String: String]?, oackDiffers: String? = nil, blocks: [Int]?, error: UInt16? = nil,
                 rewrites: String = "client packets go to bootd's transfer port; ACKs follow bootd's window") {
        self.file = file; self.oack = oack; self.oackDiffers = oackDiffers; self.blocks = blocks; self.error = error
        self.rewrites = rewrites
    }
}

package struct FixtureRules: Sendable {
    package var capture: String
    package var dhcp: [DHCPRule] = []
    package var tftp: [TFTPRule] = []
    package init(capture: String, dhcp: [DHCPRule] = [], tftp: [TFTPRule] = []) {
        self.capture = capture; self.dhcp = dhcp; self.tftp = tftp
    }
}

extension FixtureRules {
    /// The broken rules, one line each.
    package func check(_ t: ReplayTranscript) -> [String] {
        var out: [String] = t.problems.map { "\(capture): \($0)" }
        if t.dhcp.count != dhcp.count {
            out.append("\(capture): \(t.dhcp.count) client DHCP messages replayed, the rules expect \(dhcp.count)")
        }
        for (x, rule) in zip(t.dhcp, dhcp) {
            let at = "\(capture) DHCP #\(x.index) \(x.request.messageType.map(\.description) ?? "BOOTREQUEST") at \(x.time)"
            if x.request.messageType != rule.request {
                out.append("\(at): the rules expect a \(rule.request) here"); continue
            }
            guard let want = rule.reply else {
                if !x.replies.isEmpty { out.append("\(at): bootd must stay silent, it sent \(x.replies.map { $0.message.messageType?.description ?? "?" })") }
                continue
            }
            guard let r = x.reply else { out.append("\(at): no reply, want \(want)"); continue }
            if x.replies.count > 1 { out.append("\(at): \(x.replies.count) replies, want one") }
            if r.messageType != want { out.append("\(at): reply is \(r.messageType.map(\.description) ?? "BOOTREPLY"), want \(want)"); continue }
            if r.xid != x.request.xid { out.append("\(at): xid \(r.xid), the client's is \(x.request.xid)") }
            if r.chaddr != x.request.chaddr { out.append("\(at): chaddr not the client's") }
            for c in rule.checks + [.fitsClientLimit] {
                if let why = c.test(x, r, t) { out.append("\(at): \(want) rule \"\(c.text)\" broken: \(why)") }
            }
        }
        if t.tftp.count != tftp.count {
            out.append("\(capture): \(t.tftp.count) TFTP transfers replayed, the rules expect \(tftp.count)")
        }
        for (k, (x, rule)) in zip(t.tftp, tftp).enumerated() {
            let at = "\(capture) TFTP #\(k) \(x.file)"
            if x.file != rule.file { out.append("\(at): the rules expect \(rule.file)"); continue }
            let trace = " [trace: \(x.trace.joined(separator: ", "))]"
            if let code = rule.error {
                if x.errorsFromServer.first?.code.rawValue != code {
                    out.append("\(at): want ERROR \(code), got \(x.errorsFromServer.map { "ERROR \($0.code.rawValue)" })" + trace)
                }
            } else if !x.errorsFromServer.isEmpty {
                out.append("\(at): unexpected ERROR \(x.errorsFromServer.map { "\($0.code.rawValue) \($0.message)" })" + trace)
            }
            switch (rule.oack, x.oack) {
            case (nil, nil): break
            case (nil, let got?): out.append("\(at): OACK \(got) where none is expected" + trace)
            case (_?, nil): out.append("\(at): no OACK, want \(rule.oack!)" + trace)
            case let (want?, got?):
                var gotMap: [String: String] = [:]
                for o in got { gotMap[o.name.lowercased()] = o.value }
                if gotMap != want {
                    out.append("\(at): OACK \(got.map(\.description).joined(separator: " ")), want \(want.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))" + trace)
                }
            }
            if let sizes = rule.blocks {
                let got = x.blocks.map(\.count)
                if got != sizes { out.append("\(at): DATA blocks \(got), want \(sizes)" + trace) }
                if !x.completed { out.append("\(at): transfer did not complete" + trace) }
                if let want = t.files.bytes(x.file), x.data != want {
                    out.append("\(at): the DATA received (\(x.data.count) bytes) differ from the file (\(want.count) bytes)")
                }
            } else if !x.blocks.isEmpty {
                out.append("\(at): \(x.blocks.count) DATA blocks where none are expected" + trace)
            }
            if x.duplicateBlocks > 0 { out.append("\(at): \(x.duplicateBlocks) DATA retransmissions with no loss" + trace) }
        }
        return out
    }
}
