/// A log line an engine wants written. The daemon maps it to swift-log; tests read it.
public struct LogRecord: Hashable, Sendable, CustomStringConvertible {
    public enum Level: Int, Hashable, Sendable, Comparable, CustomStringConvertible {
        case debug, info, warning, error, critical
        public static func < (l: Level, r: Level) -> Bool { l.rawValue < r.rawValue }
        public var description: String { ["debug", "info", "warning", "error", "critical"][rawValue] }
    }
    public var level: Level
    public var message: String
    public init(_ level: Level, _ message: String) { self.level = level; self.message = message }
    public var description: String { "\(level): \(message)" }

    /// The message as one line of plain text: control characters (newline, carriage
    /// return, escape and the rest of C0, DEL, C1) become `\xNN`, and a backslash `\\`,
    /// so a file name or host name from the network cannot forge a log line or drive the
    /// terminal that shows the log. Messages without them are returned as they are.
    public var escapedMessage: String {
        guard message.unicodeScalars.contains(where: Self.needsEscape) else { return message }
        var out = ""
        out.reserveCapacity(message.utf8.count + 8)
        for u in message.unicodeScalars {
            if u == "\\" { out += "\\\\" }
            else if Self.needsEscape(u) {
                let h = String(u.value, radix: 16, uppercase: true)
                out += "\\x" + (h.count < 2 ? "0" + h : h)
            } else { out.unicodeScalars.append(u) }
        }
        return out
    }

    static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0) || u == "\\"
    }
}

/// MAC address text as PyBootd's notify and logs write it: upper case, colons.
public func macText(_ mac: [UInt8]) -> String {
    mac.map { b in
        let s = String(b, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }.joined(separator: ":")
}
