import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// The number of CPUs this process may run on: its affinity mask (taskset, systemd's
/// CPUAffinity=, a container's cpuset), which NIO's `System.coreCount` does not read, so an
/// event-loop group sized by it puts no two loops on one CPU. Read from the
/// `Cpus_allowed:` line of /proc/self/status (Swift's Glibc has no sched_getaffinity);
/// `System.coreCount` where that cannot be read.
public enum AllowedCPUs {
    public static var count: Int {
        #if os(Linux)
        if let n = maskCount(procStatus()), n > 0 { return min(n, System.coreCount) }
        #endif
        return System.coreCount
    }

    /// The CPUs in a `Cpus_allowed:` mask ("ff", "00000000,00000003") within `status`.
    static func maskCount(_ status: String?) -> Int? {
        guard let status,
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") })
        else { return nil }
        var n = 0
        for c in line.dropFirst("Cpus_allowed:".count) where c != "," && !c.isWhitespace {
            guard let digit = c.hexDigitValue else { return nil }
            n += digit.nonzeroBitCount
        }
        return n
    }

    private static func procStatus() -> String? {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            bytes += chunk[0..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
