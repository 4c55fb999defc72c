import BootCore
import BootWire
import PXEClient

/// One client's run, for the reports of both modes (simulated and real sockets).
public struct ReportClient: Hashable, Sendable {
    public var index: Int
    public var mac: [UInt8]
    public var persona: String
    public var outcome: ClientOutcome
    /// When the client was started (power-on), on the run's clock.
    public var poweredOn: Instant
    /// The run ended (its `--timeout`) before this client finished.
    public var unfinished: Bool
    public init(index: Int, mac: [UInt8], persona: String, outcome: ClientOutcome, poweredOn: Instant, unfinished: Bool = false) {
        self.index = index; self.mac = mac; self.persona = persona; self.outcome = outcome
        self.poweredOn = poweredOn; self.unfinished = unfinished
    }
    public var booted: Bool { !unfinished && outcome.succeeded }
    /// Why it did not boot, in a few words; nil when it booted.
    public var failureReason: String? {
        if unfinished { return "unfinished when the run timed out" }
        return outcome.failure?.reason
    }
}

/// p50/p90/p99/max of one phase's durations, over the clients that booted.
public struct PhaseTimes: Hashable, Sendable {
    public var count: Int
    public var p50: Duration, p90: Duration, p99: Duration, max: Duration
    public init(_ values: [Duration]) {
        let s = values.sorted()
        count = s.count
        p50 = percentile(s, 50); p90 = percentile(s, 90); p99 = percentile(s, 99); max = s.last ?? .zero
    }
}

/// What a run of many clients came to: the table people read, `--json`, `--timeline`.
public struct RunReport: Sendable {
    /// "simulated" or "real".
    public var mode: String
    /// First line of the table (what ran against what).
    public var title: String
    public var clients: [ReportClient]
    /// Wall-clock time of the run.
    public var wall: Duration
    /// Packets sent and received by the clients (the simulator: every packet on the network).
    public var packetsSent: Int
    public var packetsReceived: Int
    /// Lines printed after the numbers (server counters, notes).
    public var notes: [String] = []
    public init(mode: String, title: String, clients: [ReportClient], wall: Duration, packetsSent: Int, packetsReceived: Int) {
        self.mode = mode; self.title = title; self.clients = clients; self.wall = wall
        self.packetsSent = packetsSent; self.packetsReceived = packetsReceived
    }

    public var booted: Int { clients.filter(\.booted).count }
    public var failed: Int { clients.count - booted }
    public var failuresByReason: [String: Int] {
        var r: [String: Int] = [:]
        for c in clients { if let f = c.failureReason { r[f, default: 0] += 1 } }
        return r
    }
    private func span(_ a: Instant?, _ b: Instant?) -> Duration? { a.flatMap { a in b.map { $0 - a } } }
    private var ok: [ReportClient] { clients.filter(\.booted) }
    public var dhcp: PhaseTimes { PhaseTimes(ok.compactMap { span($0.outcome.timings.dhcpStarted, $0.outcome.timings.dhcpFinished) }) }
    public var tftp: PhaseTimes { PhaseTimes(ok.compactMap { span($0.outcome.timings.tftpStarted, $0.outcome.timings.tftpFinished) }) }
    public var http: PhaseTimes { PhaseTimes(ok.compactMap { span($0.outcome.timings.httpStarted, $0.outcome.timings.httpFinished) }) }
    public var bootTimes: PhaseTimes { PhaseTimes(ok.compactMap { c in c.outcome.timings.finished.map { $0 - c.poweredOn } }) }
    public var bytes: Int { clients.reduce(0) { $0 + $1.outcome.bytesReceived } }
    public var retransmissions: Int { clients.reduce(0) { $0 + $1.outcome.counters.retransmissions } }
    public var discovers: Int { clients.reduce(0) { $0 + $1.outcome.counters.discovers } }

    /// The table: booted, failures by reason, phase times, bytes, packets, wall time.
    public func renderTable() -> String {
        var lines = [title]
        lines.append("booted \(booted)/\(clients.count) in \(seconds(wall)) s wall time")
        if failed > 0 {
            lines.append("failed \(failed):")
            for (r, n) in failuresByReason.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                lines.append("  \(n)  \(r)")
            }
        }
        func row(_ name: String, _ t: PhaseTimes) -> String {
            name.padding(20) + [t.p50, t.p90, t.p99, t.max].map { seconds($0).leftPadding(9) }.joined() + "   (\(t.count))"
        }
        lines.append("times in seconds".padding(20) + ["p50", "p90", "p99", "max"].map { $0.leftPadding(9) }.joined())
        lines.append(row("DHCP", dhcp))
        lines.append(row("TFTP", tftp))
        if http.count > 0 { lines.append(row("HTTP", http)) }
        lines.append(row("start to booted", bootTimes))
        lines.append("bytes received \(bytes); packets sent \(packetsSent), received \(packetsReceived)")
        lines.append("retransmissions \(retransmissions); DISCOVERs \(discovers)")
        lines += notes
        return lines.joined(separator: "\n")
    }

    /// `--json`: stable keys (README, "pxe-sim"); times in seconds.
    public func json(extra: [(String, String)] = []) -> String {
        func sec(_ d: Duration) -> String { jsonNumber(d / .seconds(1)) }
        func phase(_ t: PhaseTimes) -> String {
            "{\"count\": \(t.count), \"p50\": \(sec(t.p50)), \"p90\": \(sec(t.p90)), \"p99\": \(sec(t.p99)), \"max\": \(sec(t.max))}"
        }
        let reasons = failuresByReason.sorted { $0.key < $1.key }.map { "\(jsonString($0.key)): \($0.value)" }.joined(separator: ", ")
        var fields: [(String, String)] = [
            ("mode", jsonString(mode)),
            ("clients", "\(clients.count)"),
            ("booted", "\(booted)"),
            ("failed", "\(failed)"),
            ("failuresByReason", "{\(reasons)}"),
            ("wallSeconds", sec(wall)),
            ("dhcp", phase(dhcp)),
            ("tftp", phase(tftp)),
            ("http", phase(http)),
            ("bootSeconds", phase(bootTimes)),
            ("bytes", "\(bytes)"),
            ("packets", "\(packetsSent + packetsReceived)"),
            ("packetsSent", "\(packetsSent)"),
            ("packetsReceived", "\(packetsReceived)"),
            ("retransmissions", "\(retransmissions)"),
            ("discovers", "\(discovers)"),
        ]
        fields += extra
        return "{\n" + fields.map { "  \(jsonString($0.0)): \($0.1)" }.joined(separator: ",\n") + "\n}\n"
    }

    /// One line for stderr while the run goes.
    public static func progressLine(elapsed: Duration, started: Int, booted: Int, failed: Int, total: Int) -> String {
        "[\(seconds(elapsed).leftPadding(8)) s] started \(started)/\(total), booted \(booted), failed \(failed), running \(started - booted - failed)"
    }
}

func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if u.value < 0x20 {
                let h = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
            } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

func jsonNumber(_ x: Double) -> String {
    guard x.isFinite else { return "0" }
    // Microsecond precision, no exponent.
    let us = Int64((x * 1_000_000).rounded())
    let sign = us < 0 ? "-" : ""
    let a = abs(us)
    let frac = String(1_000_000 + a % 1_000_000).dropFirst()
    return "\(sign)\(a / 1_000_000).\(frac)"
}

extension ScenarioResult {
    /// The simulated run in the report shared with real runs (times are virtual).
    public func report(wall: Duration) -> RunReport {
        let rows = clients.map {
            ReportClient(index: $0.index, mac: $0.mac, persona: personaName($0.persona), outcome: $0.outcome, poweredOn: $0.poweredOn)
        }
        var r = RunReport(mode: "simulated", title: "pxe-sim: \(options.clients) \(options.persona.rawValue) clients, seed \(options.seed)",
                          clients: rows, wall: wall, packetsSent: network.sent, packetsReceived: network.delivered)
        r.notes = ["virtual time \(seconds(virtualDuration)) s"]
        return r
    }
}

/// A persona's name in reports.
public func personaName(_ p: Persona) -> String {
    switch p {
    case .biosPXE: "bios"
    case .uefiPXE: "uefi"
    case .iPXE(.bios): "ipxe-bios"
    case .iPXE(.efi): "ipxe-efi"
    case .plainDHCP: "dhcp"
    case let .tftp(f): "tftp-\(f)"
    }
}
