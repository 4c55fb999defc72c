import BootCore
import BootWire
#if canImport(Glibc)
import Glibc
#endif

/// Durable leases: an append-only journal in the state directory (`leases` file).
///
/// Format: UTF-8 text, one record per line, fields separated by one space:
///
///     L <mac> <ip> <expires> <pxe> <uuid> <hostname> <check>
///     R <mac> <check>
///
/// `L` stores (or replaces) the binding of `<mac>` (hex octets joined by `:`), `R` removes
/// it. `<expires>` is wall-clock Unix time in nanoseconds or `-` (no expiry; the daemon's
/// monotonic instants are converted on write and back on load, so expiry survives a
/// reboot); `<pxe>` is 0 or 1; `<uuid>` and `<hostname>` are `-` when absent, otherwise
/// percent-encoded (space, `%`, newline and bytes outside printable ASCII). `<check>` is
/// the FNV-1a 32-bit hash, 8 hex digits, of everything before the space preceding it.
/// A first line `bootd-leases 1` names the format. An address belongs to one client: an
/// `L` line for an address that an earlier line gave to another client supersedes that
/// client's record (so a load is decided by the order of the lines alone).
///
/// Durability (group commit): `store` and `remove` buffer their line; `sync` appends every
/// buffered line with one `write` and one `fdatasync`. The journal is grown ahead of its
/// data, 1 MiB at a time, filled with empty lines (newline bytes): an append then rewrites
/// bytes the file already has, the file's size does not change, and `fdatasync` writes the
/// data alone, not the inode as well (on this project's ext4 VM a commit's fdatasync went
/// from ~240 to ~41 µs). A reader sees trailing empty lines, which load skips; a graceful
/// close cuts them off. A write torn by a crash leaves a line cut short and followed by
/// the filler: its check fails and it is ignored. The daemon holds each ACK until the
/// `sync` after its lease's `store` has returned, and syncs once per batch of datagrams, so
/// under load many leases share one disk flush and no ACK leaves before its lease is on
/// disk. A crash can only leave the last line torn (no newline, or a bad check): it is
/// ignored on load, and the file is compacted (rewritten whole to a temporary file, fsynced,
/// renamed over the journal, directory fsynced) at load and whenever the journal holds more
/// than twice the live records plus 1024 lines.
///
/// One process owns a state directory: `lock` in it is held with flock(2) from `init` to
/// `close` (the kernel lets go when the process dies), and a second bootd on the same
/// directory fails to start, naming the owner's pid, instead of compacting the journal
/// under the first one.
public final class LeaseFile: LeaseStore {
    public let directory: String
    public let path: String
    private var fd: Int32 = -1
    private var lockFD: Int32 = -1
    /// The live records: one client an address, the last line written wins.
    private var live = LeaseBindings()
    private var journalLines = 0
    private let monotonicNow: () -> Instant
    public private(set) var ignoredLines = 0
    public private(set) var writeErrors = 0
    /// fdatasync in every `sync` (turn off only in benchmarks).
    public var syncEachWrite = true
    /// Lines not yet written (group commit).
    private var pending: [UInt8] = []
    private var pendingLines = 0
    /// Number of `sync` calls that wrote something: one disk flush each.
    public private(set) var commits = 0
    /// Where the next line goes, and the end of the file (data, then pre-grown empty lines).
    private var writeOffset = 0
    private var fileSize = 0
    /// How far ahead of its data the journal is grown.
    static let growth = 1 << 20

    /// Creates the directory when missing. `monotonicNow` is the daemon clock's now.
    public init(directory: String, monotonicNow: @escaping () -> Instant) throws(LeaseFileError) {
        self.directory = directory
        self.path = directory + "/leases"
        self.monotonicNow = monotonicNow
        try Self.makeDirectories(directory)
        lockFD = try Self.lock(directory)
        do { readJournal(); try compact() } catch {
            Glibc.close(lockFD); lockFD = -1
            throw error
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        if lockFD >= 0 { Glibc.close(lockFD) }
    }

    /// Takes the directory's lock, or says which process holds it.
    static func lock(_ dir: String) throws(LeaseFileError) -> Int32 {
        let path = dir + "/lock"
        let l = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard l >= 0 else { throw LeaseFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        guard flock(l, LOCK_EX | LOCK_NB) == 0 else {
            let why = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = pread(l, &buf, buf.count, 0)
            Glibc.close(l)
            guard why == EWOULDBLOCK else { throw LeaseFileError("cannot lock \(path): \(String(cString: strerror(why)))") }
            let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingSpaces : "unknown"
            throw LeaseFileError("state directory \(dir) is in use by another bootd (pid \(pid)): one bootd a state directory (use --state-dir DIR)")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(l, 0)
        _ = pwrite(l, text, text.count, 0)
        return l
    }

    static func makeDirectories(_ dir: String) throws(LeaseFileError) {
        var partial = dir.hasPrefix("/") ? "" : "."
        for c in dir.split(separator: "/") {
            partial += "/" + c
            if mkdir(partial, 0o750) != 0 && errno != EEXIST {
                throw LeaseFileError("cannot create state directory \(dir): \(String(cString: strerror(errno)))")
            }
        }
        if access(dir, W_OK) != 0 {
            throw LeaseFileError("state directory \(dir) is not writable: \(String(cString: strerror(errno))) (use --state-dir DIR)")
        }
    }

    // MARK: LeaseStore

    public func load() -> [LeaseRecord] { live.sorted }

    public func store(_ record: LeaseRecord) {
        live.store(record)
        append(encode(record))
    }

    public func remove(mac: [UInt8]) {
        guard live.remove(mac) else { return }
        append(Self.withCheck("R \(Self.macField(mac))"))
    }

    public var hasUnsyncedChanges: Bool { !pending.isEmpty }

    /// Writes every buffered line at once and syncs them (one flush for the whole batch).
    /// False when the write or the flush failed (a full disk, an I/O error): the lines stay
    /// buffered and are written again, at the same place, by the next `sync`.
    @discardableResult
    public func sync() -> Bool {
        guard !pending.isEmpty else { return true }
        let end = writeOffset + pending.count
        let grownTo = end > fileSize ? end + Self.growth : fileSize
        guard fd >= 0, Self.fill(fd, from: fileSize, to: grownTo), Self.writeAll(fd, pending, at: writeOffset),
              !syncEachWrite || fdatasync(fd) == 0 else {
            failureReason = "\(path): " + String(cString: strerror(errno))
            writeErrors += 1
            return false
        }
        fileSize = grownTo
        writeOffset = end
        pending.removeAll(keepingCapacity: true)
        commits += 1
        journalLines += pendingLines
        pendingLines = 0
        if journalLines > 2 * live.count + 1024 { try? compact() }
        return true
    }

    /// Why the last failed `sync` failed (strerror).
    public private(set) var failureReason: String?

    /// Writes what is buffered and flushes to disk (shutdown), without the pre-grown tail.
    public func flush() {
        sync()
        guard fd >= 0 else { return }
        if fileSize > writeOffset, ftruncate(fd, off_t(writeOffset)) == 0 { fileSize = writeOffset }
        _ = fsync(fd)
    }

    /// Fills the file with newline bytes from `start` to `end` (growing it: one size change
    /// per megabyte of journal, synced with the commit that needed it).
    private static func fill(_ fd: Int32, from start: Int, to end: Int) -> Bool {
        guard end > start else { return true }
        let filler = [UInt8](repeating: UInt8(ascii: "\n"), count: min(64 * 1024, end - start))
        var at = start
        while at < end {
            let n = min(filler.count, end - at)
            guard writeAll(fd, n == filler.count ? filler : Array(filler[0..<n]), at: at) else { return false }
            at += n
        }
        return true
    }

    public func close() {
        flush()
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        if lockFD >= 0 { Glibc.close(lockFD); lockFD = -1 }
    }

    // MARK: Journal

    private func append(_ line: String) {
        pending.append(contentsOf: line.utf8)
        pending.append(UInt8(ascii: "\n"))
        pendingLines += 1
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int? = nil) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { b in
                offset.map { pwrite(fd, b.baseAddress! + done, bytes.count - done, off_t($0 + done)) }
                    ?? write(fd, b.baseAddress! + done, bytes.count - done)
            }
            if n < 0 { if errno == EINTR { continue }; return false }
            done += n
        }
        return true
    }

    private func readJournal() {
        guard let f = fopen(path, "r") else { return }
        defer { fclose(f) }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            data += buf[0..<n]
        }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // Without a final newline the last line is torn (or empty).
        if let last = lines.last { if !last.isEmpty { ignoredLines += 1 }; lines.removeLast() }
        for raw in lines {
            guard let line = String(validating: raw, as: UTF8.self) else { ignoredLines += 1; continue }
            if line.hasPrefix("bootd-leases ") || line.isEmpty { continue }
            guard let body = Self.checked(line) else { ignoredLines += 1; continue }
            let f = body.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            switch f.first {
            case "L" where f.count == 7:
                guard let mac = Self.parseMAC(f[1]), let ip = IPv4Address(f[2]) else { ignoredLines += 1; continue }
                var expires: Instant?
                if f[3] != "-" {
                    guard let wall = Int64(f[3]) else { ignoredLines += 1; continue }
                    expires = Instant(nanoseconds: monotonicNow().nanoseconds &+ (wall &- Self.wallNow()))
                }
                live.store(LeaseRecord(mac: mac, address: ip, expires: expires, pxeBooted: f[4] == "1",
                                    uuid: Self.decodeText(f[5]), hostName: Self.decodeText(f[6])))
            case "R" where f.count == 2:
                guard let mac = Self.parseMAC(f[1]) else { ignoredLines += 1; continue }
                live.remove(mac)
            default:
                ignoredLines += 1
            }
        }
    }

    /// Rewrites the journal with only the live records: temp file, fsync, rename, fsync dir.
    public func compact() throws(LeaseFileError) {
        let tmp = path + ".tmp"
        let t = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard t >= 0 else { throw LeaseFileError("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        var text = "bootd-leases 1\n"
        for r in load() { text += encode(r) + "\n" }
        guard Self.writeAll(t, Array(text.utf8)), fsync(t) == 0 else {
            Glibc.close(t)
            throw LeaseFileError("cannot write \(tmp): \(String(cString: strerror(errno)))")
        }
        Glibc.close(t)
        guard rename(tmp, path) == 0 else { throw LeaseFileError("cannot rename \(tmp): \(String(cString: strerror(errno)))") }
        let d = Glibc.open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if d >= 0 { _ = fsync(d); Glibc.close(d) }
        if fd >= 0 { Glibc.close(fd) }
        fd = Glibc.open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LeaseFileError("cannot open \(path): \(String(cString: strerror(errno)))") }
        writeOffset = text.utf8.count
        fileSize = writeOffset
        journalLines = live.count
        // The rewrite holds every live record: buffered lines are durable now.
        pending.removeAll(keepingCapacity: true)
        pendingLines = 0
    }

    // MARK: Encoding

    func encode(_ r: LeaseRecord) -> String {
        let expires = r.expires.map { String(Self.wallNow() &+ ($0.nanoseconds &- monotonicNow().nanoseconds)) } ?? "-"
        return Self.withCheck("L \(Self.macField(r.mac)) \(r.address) \(expires) \(r.pxeBooted ? 1 : 0) \(Self.encodeText(r.uuid)) \(Self.encodeText(r.hostName))")
    }

    static func wallNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    static func macField(_ mac: [UInt8]) -> String {
        if mac.isEmpty { return "-" }
        var out: [UInt8] = []
        out.reserveCapacity(mac.count * 3)
        for (i, b) in mac.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(upperHex(b >> 4)); out.append(upperHex(b & 15))
        }
        return String(decoding: out, as: UTF8.self)
    }
    @inline(__always) static func upperHex(_ n: UInt8) -> UInt8 { n < 10 ? 48 + n : 55 + n }

    static func parseMAC(_ s: String) -> [UInt8]? {
        if s == "-" { return [] }
        var out: [UInt8] = []
        for p in s.split(separator: ":") { guard let b = UInt8(p, radix: 16) else { return nil }; out.append(b) }
        return out
    }

    static func encodeText(_ s: String?) -> String {
        guard let s else { return "-" }
        var out = ""
        for b in s.utf8 {
            if b > 0x20 && b < 0x7F && b != UInt8(ascii: "%") && !(s.utf8.count == 1 && b == UInt8(ascii: "-")) {
                out.unicodeScalars.append(UnicodeScalar(b))
            } else {
                out += "%" + (b < 16 ? "0" : "") + String(b, radix: 16, uppercase: true)
            }
        }
        return out.isEmpty ? "%" : out
    }

    static func decodeText(_ s: String) -> String? {
        if s == "-" { return nil }
        if s == "%" { return "" }
        var bytes: [UInt8] = []
        var u = Array(s.utf8)[...]
        while let c = u.first {
            if c == UInt8(ascii: "%"), u.count >= 3, let b = UInt8(String(decoding: u.dropFirst().prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(b); u = u.dropFirst(3)
            } else { bytes.append(c); u = u.dropFirst() }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func fnv1a(_ s: Substring) -> UInt32 {
        var h: UInt32 = 0x811C_9DC5
        for b in s.utf8 { h = (h ^ UInt32(b)) &* 0x0100_0193 }
        return h
    }

    static func withCheck(_ body: String) -> String {
        let h = String(fnv1a(Substring(body)), radix: 16)
        return body + " " + String(repeating: "0", count: 8 - h.count) + h
    }

    /// The line without its check, when the check matches.
    static func checked(_ line: String) -> Substring? {
        guard let space = line.lastIndex(of: " ") else { return nil }
        let body = line[..<space]
        let check = line[line.index(after: space)...]
        guard check.count == 8, UInt32(check, radix: 16) == fnv1a(body) else { return nil }
        return body
    }
}

public struct LeaseFileError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ d: String) { description = d }
}

fileprivate extension String {
    var trimmingSpaces: String {
        String(unicodeScalars.filter { !$0.properties.isWhitespace })
    }
}
