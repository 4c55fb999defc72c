import BootCore
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// swift-log backends for `[logger] type`: stderr, stdout, file, syslog, none.
public enum BootLogging {
    /// A factory for `LoggingSystem.bootstrap` or for `Logger(label:factory:)`.
    public static func makeHandler(output: LoggerSettings.Output, level: Logger.Level,
                                   resolvePath: (String) -> String = { $0 }) throws(LogSetupError) -> @Sendable (String) -> any LogHandler {
        switch output {
        case .stderr: return { label in LineLogHandler(label: label, level: level, sink: FileSink(fd: 2)) }
        case .stdout: return { label in LineLogHandler(label: label, level: level, sink: FileSink(fd: 1)) }
        case .none: return { _ in SwiftLogNoOpLogHandler() }
        case .syslog:
            openlog("bootd", LOG_PID | LOG_NDELAY, LOG_DAEMON)
            return { label in SyslogLogHandler(label: label, level: level) }
        case .file(let p):
            let path = resolvePath(p)
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                throw LogSetupError("[logger] file: cannot open \(path): \(String(cString: strerror(errno)))")
            }
            let sink = FileSink(fd: fd)
            return { label in LineLogHandler(label: label, level: level, sink: sink) }
        }
    }

    public static func level(_ l: LoggerSettings.Level) -> Logger.Level {
        switch l {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        case .critical: .critical
        }
    }

    /// Passes an engine's `LogRecord` to a swift-log logger.
    /// The engines' level for a swift-log level (trace counts as debug).
    public static func recordLevel(_ level: Logger.Level) -> LogRecord.Level {
        switch level {
        case .trace, .debug: return .debug
        case .info, .notice: return .info
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }

    public static func log(_ record: LogRecord, to logger: Logger) {
        let level: Logger.Level
        switch record.level {
        case .debug: level = .debug
        case .info: level = .info
        case .warning: level = .warning
        case .error: level = .error
        case .critical: level = .critical
        }
        logger.log(level: level, "\(record.escapedMessage)")
    }
}

public struct LogSetupError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A descriptor written with one `write(2)` per line (O_APPEND for files), so lines from
/// different threads never interleave.
struct FileSink: Sendable {
    var fd: Int32
    func write(_ line: String) {
        var bytes = Array(line.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }
}

/// One line per record: `2026-01-02T03:04:05.678Z info bootd: message key=value`.
/// Each line is one `write(2)`, so concurrent lines never mix.
struct LineLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    let sink: FileSink

    init(label: String, level: Logger.Level, sink: FileSink) {
        self.label = label; self.logLevel = level; self.sink = sink
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var all = metadata
        if let m = event.metadata { all.merge(m) { $1 } }
        let extra = all.isEmpty ? "" : " " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let line = "\(timestamp()) \(event.level) \(label): \(event.message)\(extra)\n"
        sink.write(line)
    }

    func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = tm()
        var secs = ts.tv_sec
        gmtime_r(&secs, &t)
        var buf = [CChar](repeating: 0, count: 32)
        let n = strftime(&buf, buf.count, "%Y-%m-%dT%H:%M:%S", &t)
        let ms = Int(ts.tv_nsec / 1_000_000)
        let base = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return base + "." + String(1000 + ms).dropFirst() + "Z"
    }
}

/// syslog(3), facility daemon; levels map to LOG_DEBUG ... LOG_CRIT.
struct SyslogLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    init(label: String, level: Logger.Level) { self.label = label; self.logLevel = level }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        let priority: Int32
        switch event.level {
        case .trace, .debug: priority = LOG_DEBUG
        case .info: priority = LOG_INFO
        case .notice: priority = LOG_NOTICE
        case .warning: priority = LOG_WARNING
        case .error: priority = LOG_ERR
        case .critical: priority = LOG_CRIT
        }
        "\(event.message)".withCString { msg in
            "%s".withCString { fmt in
                withVaList([msg]) { vsyslog(priority, fmt, $0) }
            }
        }
    }
}
