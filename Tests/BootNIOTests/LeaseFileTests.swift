import BootCore
@testable import BootNIO
import BootWire
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing

@Suite("BootNIO lease file")
struct LeaseFileTests {
    let now: () -> Instant = { Instant(nanoseconds: 1_000_000_000_000) }

    @Test func recordsSurviveReopening() throws {
        let dir = TempDir()
        do {
            let f = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
            f.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 6], address: IPv4Address(10, 0, 0, 100),
                                expires: now() + .seconds(3600), pxeBooted: true, uuid: "00112233-4455-6677-8899-aabbccddeeff", hostName: "node 1%"))
            f.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 7], address: IPv4Address(10, 0, 0, 101), expires: nil))
            f.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 8], address: IPv4Address(10, 0, 0, 102), expires: nil))
            f.remove(mac: [1, 2, 3, 4, 5, 8])
            f.sync()
            // Not closed: as after kill -9, every change was synced before any ACK.
        }
        let g = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        let records = g.load()
        #expect(records.count == 2)
        let first = try #require(records.first { $0.mac == [1, 2, 3, 4, 5, 6] })
        #expect(first.address == IPv4Address(10, 0, 0, 100))
        #expect(first.pxeBooted)
        #expect(first.uuid == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(first.hostName == "node 1%")
        // Expiry went through wall-clock time and back: within a second of what it was.
        let expires = try #require(first.expires)
        #expect(abs((expires - (now() + .seconds(3600))).components.seconds) <= 1)
        #expect(records.first { $0.mac == [1, 2, 3, 4, 5, 7] }?.expires == nil)
        #expect(g.ignoredLines == 0)
    }

    /// A journal of two leases (…:06, then …:07) in `dir`/state: synced and left open, as
    /// after kill -9, or closed. `damage` then changes its bytes, and the reload must keep
    /// the first lease and ignore the damaged second line. Returns the state directory.
    func secondLineDamaged(in dir: TempDir, closed: Bool, damage: (inout Data) throws -> Void) throws -> String {
        let state = dir.path + "/state"
        do {
            let f = try LeaseFile(directory: state, monotonicNow: now)
            f.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 6], address: IPv4Address(10, 0, 0, 100), expires: nil))
            f.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 7], address: IPv4Address(10, 0, 0, 101), expires: nil))
            if closed { f.close() } else { f.sync() }
        }
        let path = state + "/leases"
        var bytes = try #require(FileManager.default.contents(atPath: path))
        try damage(&bytes)
        try bytes.write(to: URL(fileURLWithPath: path))
        let g = try LeaseFile(directory: state, monotonicNow: now)
        #expect(g.load().map(\.mac) == [[1, 2, 3, 4, 5, 6]])
        #expect(g.ignoredLines == 1)
        return state
    }

    @Test func tornLastLineIsIgnored() throws {
        // A crash in the middle of the last write: the end of its last line never reached
        // the disk, so the journal's pre-grown empty lines are still there instead.
        let dir = TempDir()
        let state = try secondLineDamaged(in: dir, closed: false) { bytes in
            let lastLineEnd = try #require(bytes.lastIndex { $0 != UInt8(ascii: "\n") })
            bytes.replaceSubrange(lastLineEnd - 9...lastLineEnd, with: [UInt8](repeating: UInt8(ascii: "\n"), count: 10))
        }
        // The reload compacted the journal: the torn line is gone for good.
        let h = try LeaseFile(directory: state, monotonicNow: now)
        #expect(h.ignoredLines == 0)
        #expect(h.load().count == 1)
    }

    @Test func fileCutInsideItsLastLineLosesOnlyThatLine() throws {
        // A journal that ends without a newline (cut inside a line while it grew, or
        // written by an older bootd): the cut line is ignored, the rest loads.
        let dir = TempDir()
        _ = try secondLineDamaged(in: dir, closed: true) { $0.removeLast(10) }
    }

    @Test func commitsRewriteThePreGrownFileAndCloseTrimsIt() throws {
        // Appends go into space the file already has: its size stays put from one commit
        // to the next (fdatasync then writes data only), and a graceful close leaves plain
        // text that ends with the last record.
        let dir = TempDir()
        let f = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        func size() throws -> Int { try #require(try FileManager.default.attributesOfItem(atPath: f.path)[.size] as? Int) }
        f.store(LeaseRecord(mac: [3, 0, 0, 0, 0, 1], address: IPv4Address(10, 0, 0, 1), expires: nil))
        f.sync()
        let grown = try size()
        #expect(grown > 1 << 20)
        for i in 2...200 {
            f.store(LeaseRecord(mac: [3, 0, 0, 0, 0, UInt8(i)], address: IPv4Address(10, 0, 0, UInt8(i)), expires: nil))
            f.sync()
        }
        #expect(try size() == grown)
        // Another reader sees every record now, then empty lines.
        let text = try String(contentsOfFile: f.path, encoding: .utf8)
        #expect(text.split(separator: "\n").count == 201)   // header + 200 records
        #expect(try LeaseFile(directory: dir.path + "/state2", monotonicNow: now).load().isEmpty)
        f.close()
        let closed = try String(contentsOfFile: f.path, encoding: .utf8)
        #expect(closed.hasSuffix("\n") && !closed.hasSuffix("\n\n"))
        #expect(closed.split(separator: "\n", omittingEmptySubsequences: false).count == 202)
        let g = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        #expect(g.load().count == 200)
        #expect(g.ignoredLines == 0)
    }

    @Test func damagedLineIsIgnoredByItsCheck() throws {
        let dir = TempDir()
        let state = dir.path + "/state"
        do {
            let f = try LeaseFile(directory: state, monotonicNow: now)
            f.store(LeaseRecord(mac: [1, 2, 3, 4, 5, 6], address: IPv4Address(10, 0, 0, 100), expires: nil))
            f.sync()
        }
        let path = state + "/leases"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text = text.replacingOccurrences(of: "10.0.0.100", with: "10.0.0.109")
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let g = try LeaseFile(directory: state, monotonicNow: now)
        #expect(g.load().isEmpty)
        #expect(g.ignoredLines == 1)
    }

    @Test func storedWhenSyncReturns() throws {
        // Durability order: the daemon sends the ACK after sync returns; by then the line
        // is in the file (written and fdatasync'ed), readable by another opener.
        let dir = TempDir()
        let f = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        f.store(LeaseRecord(mac: [9, 9, 9, 9, 9, 9], address: IPv4Address(10, 0, 0, 150), expires: nil))
        #expect(f.hasUnsyncedChanges)
        #expect(try String(contentsOfFile: f.path, encoding: .utf8) == "bootd-leases 1\n")
        f.sync()
        #expect(!f.hasUnsyncedChanges)
        let text = try String(contentsOfFile: f.path, encoding: .utf8)
        #expect(text.hasPrefix("bootd-leases 1\n"))
        #expect(text.contains("L 09:09:09:09:09:09 10.0.0.150 - 0 - - "))
        #expect(text.hasSuffix("\n"))
    }

    @Test func compactionKeepsOnlyLiveRecords() throws {
        let dir = TempDir()
        let f = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        f.syncEachWrite = false
        for i in 0..<3000 {
            f.store(LeaseRecord(mac: [0, 0, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)], address: IPv4Address(10, 0, 0, 1), expires: nil))
            f.remove(mac: [0, 0, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)])
            if i % 100 == 99 { f.sync() }
        }
        f.store(LeaseRecord(mac: [1, 1, 1, 1, 1, 1], address: IPv4Address(10, 0, 0, 2), expires: nil))
        f.sync()
        let lines = try String(contentsOfFile: f.path, encoding: .utf8).split(separator: "\n").count
        #expect(lines < 1100)
        f.close()   // one owner a directory: the reader below is the next bootd
        #expect(try LeaseFile(directory: dir.path + "/state", monotonicNow: now).load().count == 1)
    }

    @Test func oneSyncCommitsAWholeBatch() throws {
        // Group commit: 500 leases made between two syncs reach the disk in one write.
        let dir = TempDir()
        let f = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        for i in 0..<500 {
            f.store(LeaseRecord(mac: [2, 0, 0, 0, UInt8(i >> 8), UInt8(i & 0xff)],
                                address: IPv4Address(10, 0, UInt8(i >> 8), UInt8(i & 0xff)), expires: nil))
        }
        f.remove(mac: [2, 0, 0, 0, 0, 7])
        f.sync()
        f.sync()   // nothing new: no second flush
        #expect(f.commits == 1)
        f.close()
        let g = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        #expect(g.load().count == 499)
        #expect(g.load().contains { $0.mac == [2, 0, 0, 0, 1, 0xF3] && $0.address == IPv4Address(10, 0, 1, 0xF3) })
    }

    /// The two-machines case of issue 15: A held 10.77.0.100 and released it, then C was
    /// given it. The journal holds both lines; a load must give the address to C, the last
    /// written, on every load (it did by dictionary order, so on some restarts to A).
    @Test func theLastClientWrittenForAnAddressOwnsItAfterALoad() throws {
        let dir = TempDir()
        let state = dir.path + "/state"
        let a: [UInt8] = [0xAA, 0, 0, 0, 0, 1], c: [UInt8] = [0xCC, 0, 0, 0, 0, 3]
        let address = IPv4Address(10, 77, 0, 100)
        do {
            let f = try LeaseFile(directory: state, monotonicNow: now)
            f.store(LeaseRecord(mac: a, address: address, expires: Instant(nanoseconds: now().nanoseconds - 5_000_000_000)))   // released
            f.store(LeaseRecord(mac: c, address: address, expires: now() + .seconds(3600)))
            f.sync()
            #expect(f.load().map(\.mac) == [c])
        }
        // A journal as an older bootd left it: both lines, never compacted. Every reload
        // (and its compaction) keeps C alone.
        let f = try LeaseFile(directory: state + "-old", monotonicNow: now)
        f.close()
        let header = "bootd-leases 1\n"
        let lines = [
            LeaseFile.withCheck("L AA:00:00:00:00:01 10.77.0.100 \(LeaseFile.wallNow() - 5_000_000_000) 0 - -"),
            LeaseFile.withCheck("L CC:00:00:00:00:03 10.77.0.100 \(LeaseFile.wallNow() + 3_600_000_000_000) 1 - -"),
        ]
        try (header + lines.joined(separator: "\n") + "\n").write(toFile: state + "-old/leases", atomically: false, encoding: .utf8)
        for _ in 0..<20 {
            let g = try LeaseFile(directory: state + "-old", monotonicNow: now)
            #expect(g.load().map(\.mac) == [c])
            #expect(g.load().first?.pxeBooted == true)
            g.close()
        }
        // A client that moves to another address gives up the first: a third client may
        // then hold it, and the mover keeps its new one.
        let g = try LeaseFile(directory: state + "-move", monotonicNow: now)
        g.store(LeaseRecord(mac: a, address: IPv4Address(10, 77, 0, 101), expires: nil))
        g.store(LeaseRecord(mac: a, address: IPv4Address(10, 77, 0, 102), expires: nil))
        g.store(LeaseRecord(mac: c, address: IPv4Address(10, 77, 0, 101), expires: nil))
        g.close()
        let h = try LeaseFile(directory: state + "-move", monotonicNow: now)
        #expect(h.load().map(\.address) == [IPv4Address(10, 77, 0, 101), IPv4Address(10, 77, 0, 102)])
        #expect(h.load().map(\.mac) == [c, a])
    }

    /// The full-disk case of issue 15: a commit that cannot be written says so (the daemon
    /// then sends no ACK), keeps its lines, and writes them once there is room.
    @Test func aFullDiskFailsTheSyncAndTheLinesAreWrittenLater() throws {
        guard getuid() == 0 else {
            print("SKIPPED aFullDiskFailsTheSyncAndTheLinesAreWrittenLater: mounting a small tmpfs needs root")
            return
        }
        let dir = TempDir()
        let mount = dir.path + "/small"
        try FileManager.default.createDirectory(atPath: mount, withIntermediateDirectories: true)
        #expect(Glibc.mount("tmpfs", mount, "tmpfs", 0, "size=2m") == 0, "mount tmpfs: \(String(cString: strerror(errno)))")
        defer { _ = umount(mount) }
        let f = try LeaseFile(directory: mount + "/state", monotonicNow: now)
        // Fill the file system.
        let junk = FileHandle(forWritingAtPath: { FileManager.default.createFile(atPath: mount + "/junk", contents: nil); return mount + "/junk" }())!
        let block = Data(repeating: 0, count: 64 * 1024)
        while (try? junk.write(contentsOf: block)) != nil {}
        try junk.close()
        let r = LeaseRecord(mac: [5, 5, 5, 5, 5, 5], address: IPv4Address(10, 0, 0, 5), expires: nil)
        f.store(r)
        #expect(!f.sync())
        #expect(f.hasUnsyncedChanges)
        #expect(f.writeErrors == 1)
        #expect(f.failureReason?.contains("No space left") == true)
        try FileManager.default.removeItem(atPath: mount + "/junk")
        #expect(f.sync())
        #expect(!f.hasUnsyncedChanges)
        f.close()
        let g = try LeaseFile(directory: mount + "/state", monotonicNow: now)
        #expect(g.load() == [r])
    }

    @Test func oneOwnerAStateDirectory() throws {
        let dir = TempDir()
        let f = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        #expect {
            _ = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        } throws: { error in
            "\(error)".contains("is in use by another bootd (pid \(getpid()))")
        }
        f.close()
        // Closed: the directory is free again.
        let g = try LeaseFile(directory: dir.path + "/state", monotonicNow: now)
        g.close()
    }
}
