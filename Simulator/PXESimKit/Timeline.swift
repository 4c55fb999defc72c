import BootCore
import PXEClient

extension RunReport {
    /// `--timeline`: each client's phases (DHCP, TFTP, HTTP) as coloured bars on a time
    /// axis, one row per client (`<g class="row">`), a red mark where a client gave up.
    /// Past `maximumRows` clients every k-th is drawn (the title says which), so a storm of
    /// thousands stays readable. Hand-written SVG 1.1.
    public func timelineSVG(maximumRows: Int = 400) -> String {
        let step = clients.count <= maximumRows ? 1 : (clients.count + maximumRows - 1) / maximumRows
        let shown = stride(from: 0, to: clients.count, by: step).map { clients[$0] }
        let origin = clients.map(\.poweredOn).min() ?? .zero
        func end(_ c: ReportClient) -> Instant {
            if c.unfinished { return max(c.poweredOn, .zero + wall) }   // still going when the run ended
            let t = c.outcome.timings
            return [t.finished, t.httpFinished, t.tftpFinished, t.dhcpFinished, t.osDHCPFinished, c.poweredOn].compactMap { $0 }.max() ?? origin
        }
        let last = clients.map(end).max() ?? origin
        let span = max(1e-3, (last - origin) / .seconds(1))
        let rowHeight = shown.count > 200 ? 2.0 : (shown.count > 60 ? 4.0 : 10.0)
        let left = 80.0, top = 40.0, width = 900.0
        let height = top + Double(shown.count) * rowHeight + 40
        func x(_ i: Instant) -> Double {
            let d = i - origin
            let s = d / .seconds(1)
            return left + width * s / span
        }
        func f(_ v: Double) -> String { String(format2(v)) }
        var out: [String] = []
        out.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(left + width + 20))\" height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"11\">")
        let thinned = step > 1 ? " (every \(step)th of \(clients.count) clients)" : ""
        out.append("<title>\(xmlEscape(title))</title>")
        out.append("<text x=\"\(f(left))\" y=\"14\">\(xmlEscape(title)): \(booted)/\(clients.count) booted\(xmlEscape(thinned))</text>")
        // Legend
        var lx = left
        for (name, colour) in [("DHCP", dhcpColour), ("TFTP", tftpColour), ("HTTP", httpColour), ("OS DHCP", osColour), ("failed", failColour)] {
            out.append("<rect x=\"\(f(lx))\" y=\"20\" width=\"10\" height=\"10\" fill=\"\(colour)\"/><text x=\"\(f(lx + 14))\" y=\"29\">\(name)</text>")
            lx += 80
        }
        // Time axis: about ten ticks at a round step.
        let axisY = top + Double(shown.count) * rowHeight + 4
        out.append("<line x1=\"\(f(left))\" y1=\"\(f(axisY))\" x2=\"\(f(left + width))\" y2=\"\(f(axisY))\" stroke=\"black\"/>")
        let tick = roundStep(span / 10)
        var t = 0.0
        while t <= span + 1e-9 {
            let tx = left + width * t / span
            out.append("<line x1=\"\(f(tx))\" y1=\"\(f(top))\" x2=\"\(f(tx))\" y2=\"\(f(axisY + 4))\" stroke=\"#ddd\"/>")
            out.append("<text x=\"\(f(tx))\" y=\"\(f(axisY + 16))\" text-anchor=\"middle\">\(format2(t))s</text>")
            t += tick
        }
        out.append("<text x=\"\(f(left + width))\" y=\"\(f(axisY + 30))\" text-anchor=\"end\">time since the first client started (\(mode == "simulated" ? "virtual" : "wall") seconds)</text>")
        for (row, c) in shown.enumerated() {
            let y = top + Double(row) * rowHeight
            let h = max(1, rowHeight - (rowHeight > 4 ? 2 : 0))
            let label = macText(c.mac)
            out.append("<g class=\"row\" data-client=\"\(c.index)\"><title>client \(c.index) \(label) \(c.persona): \(xmlEscape(c.failureReason ?? "booted"))</title>")
            if rowHeight >= 10 {
                out.append("<text x=\"\(f(left - 4))\" y=\"\(f(y + h - 1))\" text-anchor=\"end\" font-size=\"8\">\(c.index)</text>")
            }
            let tm = c.outcome.timings
            for (a, b, colour) in [(tm.dhcpStarted, tm.dhcpFinished, dhcpColour), (tm.tftpStarted, tm.tftpFinished, tftpColour),
                                   (tm.httpStarted, tm.httpFinished, httpColour), (tm.osDHCPStarted, tm.osDHCPFinished, osColour)] {
                guard let a else { continue }
                let b = b ?? (c.booted ? a : end(c))
                out.append("<rect x=\"\(f(x(a)))\" y=\"\(f(y))\" width=\"\(f(max(0.5, x(b) - x(a))))\" height=\"\(f(h))\" fill=\"\(colour)\"/>")
            }
            if !c.booted {
                out.append("<rect x=\"\(f(x(end(c)) - 1))\" y=\"\(f(y))\" width=\"3\" height=\"\(f(h))\" fill=\"\(failColour)\"/>")
            }
            out.append("</g>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}

private let dhcpColour = "#4e79a7", tftpColour = "#59a14f", httpColour = "#f28e2b", osColour = "#b07aa1", failColour = "#e15759"

/// 1, 2 or 5 times a power of ten, at least `x`.
private func roundStep(_ x: Double) -> Double {
    var p = 0.001
    while true {
        for m in [1.0, 2.0, 5.0] where p * m >= x { return p * m }
        p *= 10
    }
}

/// A number with at most two decimals, no exponent.
private func format2(_ v: Double) -> String {
    let c = Int64((v * 100).rounded())
    let sign = c < 0 ? "-" : ""
    let a = abs(c)
    return a % 100 == 0 ? "\(sign)\(a / 100)" : "\(sign)\(a / 100).\(String(100 + a % 100).dropFirst())"
}

func xmlEscape(_ s: String) -> String {
    var o = ""
    for ch in s {
        switch ch {
        case "&": o += "&amp;"
        case "<": o += "&lt;"
        case ">": o += "&gt;"
        case "\"": o += "&quot;"
        default: o.append(ch)
        }
    }
    return o
}
