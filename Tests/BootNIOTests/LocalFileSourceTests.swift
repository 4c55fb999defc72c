import BootCore
import BootNIO
import Foundation
import NIOCore
import NIOPosix
import Testing

/// The local TFTP root: shared descriptors and the in-memory copy of boot files.
@Suite("BootNIO local file source", .serialized)
struct LocalFileSourceTests {
    /// Runs `body` on a fresh loop with a source over `dir`, waiting for `done` to be called.
    func withSource(_ dir: TempDir, maxOpenFiles: Int = 512,
                    _ body: @escaping (LocalFileSource, @escaping () -> Void) -> Void) throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        defer { try? pool.syncShutdownGracefully(); try? group.syncShutdownGracefully() }
        let loop = group.next()
        let finished = loop.makePromise(of: Void.self)
        let root = dir.path
        try loop.submit {
            let source = try LocalFileSource(root: root, loop: loop, pool: pool, maxOpenFiles: maxOpenFiles)
            body(source) { finished.succeed() }
        }.wait()
        try finished.futureResult.wait()
    }

    @Test("600 transfers of one boot file share one descriptor and one read; each gets the right bytes")
    func manyTransfersOneFile() throws {
        let dir = TempDir()
        let content = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
        dir.write("loader.efi", content)
        final class Results { var chunks: [[UInt8]] = []; var errors: [String] = []; var distinct = -1; var loads = -1 }
        let results = Results()
        try withSource(dir, maxOpenFiles: 8) { source, done in
            var handles: [FileHandleID] = []
            let n = 600
            for _ in 0..<n {
                source.open("loader.efi") { r in
                    switch r {
                    case .success(let h): handles.append(h)
                    case .failure(let e): results.errors.append("\(e)")
                    }
                    guard handles.count + results.errors.count == n else { return }
                    results.distinct = source.distinctOpenFiles
                    var pending = handles.count
                    for (i, h) in handles.enumerated() {
                        source.read(h, offset: (i % 5) * 65536, count: 65536) { r in
                            if case let .success(b) = r { results.chunks.append(Array(b)) } else { results.errors.append("read \(r)") }
                            pending -= 1
                            if pending == 0 {
                                results.loads = source.cacheLoads
                                for h in handles { source.close(h) }
                                done()
                            }
                        }
                    }
                }
            }
        }
        #expect(results.errors.isEmpty, "\(results.errors.prefix(3))")
        #expect(results.distinct == 1)
        #expect(results.loads == 1)
        #expect(results.chunks.count == 600)
        // Every chunk is one of the five slices of the file.
        let slices = (0..<5).map { Array(content[($0 * 65536)..<min(content.count, ($0 + 1) * 65536)]) }
        #expect(results.chunks.allSatisfy { slices.contains($0) })
        #expect(Set(results.chunks.map(\.count)) == [65536, 300_000 - 4 * 65536])
    }

    @Test("a file replaced between two transfers is served anew; escapes are still refused")
    func replacedFileAndEscapes() throws {
        let dir = TempDir()
        dir.write("f", [1, 2, 3])
        final class Results { var first: [UInt8] = []; var second: [UInt8] = []; var escape = "" }
        let results = Results()
        try withSource(dir) { source, done in
            source.open("f") { r in
                guard case let .success(h) = r else { return }
                source.read(h, offset: 0, count: 100) { r in
                    if case let .success(b) = r { results.first = Array(b) }
                    // Replaced while the first transfer still holds it: new inode, new size.
                    try? FileManager.default.removeItem(atPath: dir.path + "/f")
                    dir.write("f", [9, 9, 9, 9])
                    source.open("f") { r in
                        guard case let .success(h2) = r else { return }
                        source.read(h2, offset: 0, count: 100) { r in
                            if case let .success(b) = r { results.second = Array(b) }
                            source.close(h); source.close(h2)
                            source.open("../etc/passwd") { r in
                                if case let .failure(e) = r { results.escape = "\(e)" }
                                done()
                            }
                        }
                    }
                }
            }
        }
        #expect(results.first == [1, 2, 3])
        #expect(results.second == [9, 9, 9, 9])
        #expect(results.escape.contains("accessDenied") && results.escape.contains("in file name"))
    }
}
