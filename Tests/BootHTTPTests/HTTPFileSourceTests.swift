import AsyncHTTPClient
import BootCore
import BootHTTP
import Logging
import NIOCore
import NIOPosix
import Testing

typealias OpenResult = Result<FileHandleID, FileSourceError>

func open(_ source: Unchecked<HTTPFileSource>, _ path: String, on loop: any EventLoop) async -> OpenResult {
    await onLoop(loop) { done in source.value.open(path) { done($0) } }
}

func read(_ source: Unchecked<HTTPFileSource>, _ h: FileHandleID, _ offset: Int, _ count: Int,
          on loop: any EventLoop) async -> Result<ArraySlice<UInt8>, FileSourceError> {
    await onLoop(loop) { done in source.value.read(h, offset: offset, count: count) { done($0) } }
}

func readBytes(_ source: Unchecked<HTTPFileSource>, _ h: FileHandleID, _ offset: Int, _ count: Int,
               on loop: any EventLoop) async -> [UInt8]? {
    (try? await read(source, h, offset, count, on: loop).get()).map { Array($0) }
}

func size(_ source: Unchecked<HTTPFileSource>, _ h: FileHandleID, on loop: any EventLoop) async -> Int {
    await onLoop(loop) { done in done(source.value.size(of: h)) }
}

/// Runs `body` with a file source whose prefix is an HTTP server on a temp root; the
/// counter sees every request the server gets.
func withRemoteRoot(_ body: @Sendable (TempRoot, Unchecked<HTTPFileSource>, Counter, any EventLoop) async throws -> Void) async throws {
    let root = try TempRoot()
    let requests = Counter()
    let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
    let loop = MultiThreadedEventLoopGroup.singleton.next()
    let decide: BootHTTPServer.Decide = { target, client in
        await requests.add(target)
        return HTTPAccessRules(checkIP: false).decide(target: target, client: client, leases: [], at: .zero)
    }
    do {
        try await withHTTPServer(root: root.path, decide: decide) { port in
            var logger = Logger(label: "test.http-root")
            logger.logLevel = .critical
            let source = HTTPFileSource(prefix: "http://127.0.0.1:\(port)", client: http, eventLoop: loop,
                                        cacheLimit: 4 << 20, logger: logger)
            try await body(root, Unchecked(value: source), requests, loop)
        }
    } catch {
        try await http.shutdown()
        throw error
    }
    try await http.shutdown()
}

@Suite("HTTPFileSource against the HTTP server")
struct HTTPFileSourceTests {
    @Test("Size is known at open; reads are exact, short only at the end")
    func sizeAndReads() async throws {
        try await withRemoteRoot { root, source, _, loop in
            guard case let .success(h) = await open(source, "a.bin", on: loop) else { Issue.record("open failed"); return }
            #expect(await size(source, h, on: loop) == 1000)
            #expect(await readBytes(source, h, 100, 50, on: loop) == Array(root.bytes("a.bin")[100..<150]))
            #expect(await readBytes(source, h, 990, 512, on: loop) == Array(root.bytes("a.bin")[990...]))
            #expect(await readBytes(source, h, 1000, 512, on: loop) == [])
            await onLoop(loop) { done in source.value.close(h); done(()) }
            guard case let .success(n) = await open(source, "sub/dir/boot.ipxe", on: loop) else { Issue.record("nested"); return }
            #expect(await readBytes(source, n, 0, 512, on: loop) == Array("#!ipxe\nboot\n".utf8))
            guard case let .success(s) = await open(source, "with space+plus.bin", on: loop) else { Issue.record("encoded"); return }
            #expect(await size(source, s, on: loop) == 777)
            #expect(source.value.url(for: "with space+plus.bin").hasSuffix("/with%20space%2Bplus.bin"))
        }
    }

    @Test("404 is notFound, and is not cached")
    func notFound() async throws {
        try await withRemoteRoot { _, source, requests, loop in
            #expect(await open(source, "nope.bin", on: loop) == .failure(.notFound))
            #expect(await open(source, "nope.bin", on: loop) == .failure(.notFound))
            #expect(await requests.count == 2)
        }
    }

    @Test("A symlink out of the server's root is accessDenied (403)")
    func forbidden() async throws {
        try await withRemoteRoot { _, source, _, loop in
            guard case .failure(.accessDenied) = await open(source, "leak.txt", on: loop) else {
                Issue.record("expected accessDenied"); return
            }
        }
    }

    @Test("A second open is served from the cache: no new request")
    func caching() async throws {
        try await withRemoteRoot { root, source, requests, loop in
            guard case .success = await open(source, "big.bin", on: loop) else { Issue.record("first open"); return }
            guard case let .success(h) = await open(source, "big.bin", on: loop) else { Issue.record("second open"); return }
            #expect(await requests.count == 1)
            #expect(source.value.fetchCount == 1)
            #expect(await readBytes(source, h, 2_000_000, 8192, on: loop)
                == Array(root.bytes("big.bin")[2_000_000..<2_008_192]))
        }
    }

    @Test("The cache is bounded: the least recently used file is evicted; open handles still read")
    func eviction() async throws {
        try await withRemoteRoot { root, source, requests, loop in
            // cacheLimit is 4 MiB and big.bin is 3 MiB: a.bin and big.bin fit, a second big file would not.
            guard case let .success(h) = await open(source, "big.bin", on: loop) else { Issue.record("big"); return }
            guard case .success = await open(source, "a.bin", on: loop) else { Issue.record("a"); return }
            #expect(await onLoop(loop) { done in done(source.value.isCached("big.bin") && source.value.isCached("a.bin")) })
            try FileManagerCopy.copy(root.path + "/big.bin", to: root.path + "/big2.bin")
            guard case .success = await open(source, "big2.bin", on: loop) else { Issue.record("big2"); return }
            #expect(await onLoop(loop) { done in done(!source.value.isCached("big.bin") && source.value.isCached("big2.bin")) })
            #expect(await readBytes(source, h, 0, 16, on: loop) == Array(root.bytes("big.bin")[0..<16]))
            #expect(await requests.count == 3)
        }
    }

    @Test("Concurrent opens of one path share one fetch")
    func sharedFetch() async throws {
        try await withRemoteRoot { _, source, requests, loop in
            let results: [OpenResult] = await onLoop(loop) { done in
                var all: [OpenResult] = []
                for _ in 0..<8 {
                    source.value.open("big.bin") { r in
                        all.append(r)
                        if all.count == 8 { done(all) }
                    }
                }
            }
            #expect(results.count == 8)
            #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
            #expect(Set(results.compactMap { try? $0.get() }).count == 8)
            #expect(await requests.count == 1)
        }
    }

    @Test("A server that is down is an ioError")
    func serverDown() async throws {
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let port = try await withDemoAuthority(demo()) { $0 }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let source = Unchecked(value: HTTPFileSource(prefix: "http://127.0.0.1:\(port)/files/", client: http, eventLoop: loop,
                                                     fetchTimeout: .seconds(2), logger: logger))
        guard case .failure(.ioError) = await open(source, "a.bin", on: loop) else { Issue.record("expected ioError"); return }
        try await http.shutdown()
    }
}

import Foundation
enum FileManagerCopy {
    static func copy(_ from: String, to: String) throws { try FileManager.default.copyItem(atPath: from, toPath: to) }
}
