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
}

/// MAC address text as PyBootd's notify and logs write it: upper case, colons.
public func macText(_ mac: [UInt8]) -> String {
    mac.map { b in
        let s = String(b, radix: 16, uppercase: true)
        return s.count == 1 ? "0" + s : s
    }.joined(separator: ":")
}
