import BootCore
import BootWire
import PXEClient

/// Seconds with millisecond precision: "1.234".
func seconds(_ d: Duration) -> String {
    let ns = d.nanosecondCount
    let ms = (ns + 500_000) / 1_000_000
    let frac = String(1000 + ms % 1000).dropFirst()
    return "\(ms / 1000).\(frac)"
}

/// The p-th percentile (nearest rank) of sorted values.
func percentile(_ sorted: [Duration], _ p: Int) -> Duration {
    guard !sorted.isEmpty else { return .zero }
    let rank = max(1, Int((Double(p) / 100 * Double(sorted.count)).rounded(.up)))
    return sorted[min(sorted.count, rank) - 1]
}

extension ClientFailure {
    /// A short name for the report's failure table.
    var reason: String {
        switch self {
        case .noOffer: "no OFFER"
        case .noBootFile: "OFFER without a boot file"
        case .noAck: "no ACK"
        case .nakLoop: "NAK loop"
        case .noTFTPServer: "no TFTP server"
        case let .tftpError(code, message): "TFTP error \(code) (\(message))"
        case .tftpTimeout: "TFTP timeout"
        case .badOACK: "bad OACK"
        case .tftpProtocol: "TFTP protocol error"
        case .badTsize: "tsize differs from the data"
        case .fileTooLarge: "file too large"
        case let .httpError(status): "HTTP \(status)"
        case .httpTimeout: "HTTP timeout"
        }
    }
}

extension ScenarioResult {
    /// The command line that reproduces this run.
    public var reproduce: String {
        var s = "pxe-sim --clients \(options.clients) --seed \(options.seed) --persona \(options.persona.rawValue)"
        if options.loss > 0 { s += " --loss \(options.loss)" }
        if options.bootFileSize != 64 * 1024 { s += " --file-size \(options.bootFileSize)" }
        return s
    }

    /// The report people read. Depends only on the scenario's options: the same options
    /// print the same report.
    public func render() -> String {
        var lines: [String] = []
        let lossText = options.loss > 0 ? ", loss \(options.loss)" : ""
        lines.append("pxe-sim: \(options.clients) \(options.persona.rawValue) clients, seed \(options.seed)\(lossText), boot files of \(options.bootFileSize) bytes")
        let rebooted = clients.filter { $0.outcome.succeeded && $0.attempts > 1 }.count
        lines.append("booted \(booted)/\(clients.count) in \(seconds(virtualDuration)) s of virtual time"
                     + (rebooted > 0 ? " (\(rebooted) after a reboot)" : ""))
        if failed > 0 {
            var reasons: [String: Int] = [:]
            for c in clients { if let f = c.outcome.failure { reasons[f.reason, default: 0] += 1 } }
            lines.append("failed \(failed):")
            for (r, n) in reasons.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
                lines.append("  \(n)  \(r)")
            }
        }
        func row(_ name: String, _ values: [Duration]) -> String {
            let s = values.sorted()
            let cells = [percentile(s, 50), percentile(s, 90), percentile(s, 99), s.last ?? .zero].map { seconds($0) }
            return name.padding(20) + cells.map { $0.leftPadding(9) }.joined() + "   (\(values.count))"
        }
        let ok = clients.filter { $0.outcome.succeeded }
        func span(_ a: Instant?, _ b: Instant?) -> Duration? { a.flatMap { a in b.map { $0 - a } } }
        lines.append("times in seconds".padding(20) + ["p50", "p90", "p99", "max"].map { $0.leftPadding(9) }.joined())
        lines.append(row("DHCP", ok.compactMap { span($0.outcome.timings.dhcpStarted, $0.outcome.timings.dhcpFinished) }))
        lines.append(row("TFTP", ok.compactMap { span($0.outcome.timings.tftpStarted, $0.outcome.timings.tftpFinished) }))
        let http = ok.compactMap { span($0.outcome.timings.httpStarted, $0.outcome.timings.httpFinished) }
        if !http.isEmpty { lines.append(row("HTTP", http)) }
        let os = ok.compactMap { span($0.outcome.timings.osDHCPStarted, $0.outcome.timings.osDHCPFinished) }
        if !os.isEmpty { lines.append(row("OS DHCP", os)) }
        lines.append(row("power-on to booted", ok.compactMap { c in c.outcome.timings.finished.map { $0 - c.poweredOn } }))
        let bytes = clients.reduce(0) { $0 + $1.outcome.bytesReceived }
        let retransmits = clients.reduce(0) { $0 + $1.outcome.counters.retransmissions }
        lines.append("bytes delivered \(bytes); packets sent \(network.sent), delivered \(network.delivered), dropped \(network.dropped)")
        lines.append("retransmissions: clients \(retransmits), server \(tftp?.retransmissions ?? 0)")
        if let d = dhcp {
            lines.append("server DHCP: \(d.offers) offers, \(d.acks) acks, \(d.naks) naks, \(d.malformed) malformed, \(d.refusedByAccess + d.refusedNotPXE) refused, \(d.poolExhausted) pool exhausted")
        }
        if let t = tftp {
            lines.append("server TFTP: \(t.sessionsStarted) transfers, \(t.sessionsCompleted) completed, \(t.clientErrors) ended by the client (size probes), \(max(0, t.sessionsFailed - t.clientErrors)) failed")
        }
        lines.append("simulated events \(events)")
        if let v = violation { lines.append("INVARIANT BROKEN: \(v)") }
        if !ok.isEmpty || failed > 0 { lines.append("reproduce: \(reproduce)") }
        return lines.joined(separator: "\n")
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
    func leftPadding(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
