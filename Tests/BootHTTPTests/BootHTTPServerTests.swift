import BootCore
import BootHTTP
import BootWire
import Foundation
import Testing

/// The daemon's decision for loopback tests: `HTTPAccessRules` itself, without check_ip
/// (loopback is always allowed by the rules anyway).
let openRules: BootHTTPServer.Decide = { target, client in
    HTTPAccessRules(checkIP: false).decide(target: target, client: client, leases: [], at: .zero)
}

@Suite("BootHTTPServer with curl", .enabled(if: hasCurl, "curl is not installed at /usr/bin/curl (apt-get install curl)"))
struct BootHTTPServerCurlTests {
    let root: TempRoot
    init() throws { root = try TempRoot() }

    @Test("GET of a whole file is byte-identical, with Content-Length and Accept-Ranges")
    func wholeFile() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let r = try await curl(["http://127.0.0.1:\(port)/a.bin"])
            #expect(r.status == 200)
            #expect(r.body == root.bytes("a.bin"))
            #expect(r.header("content-length") == "1000")
            #expect(r.header("accept-ranges") == "bytes")
            let nested = try await curl(["http://127.0.0.1:\(port)/sub/dir/boot.ipxe"])
            #expect(nested.status == 200)
            #expect(nested.body == Array("#!ipxe\nboot\n".utf8))
            let empty = try await curl(["http://127.0.0.1:\(port)/empty.bin"])
            #expect(empty.status == 200 && empty.body.isEmpty)
            let spaced = try await curl(["http://127.0.0.1:\(port)/with%20space%2Bplus.bin"])
            #expect(spaced.status == 200 && spaced.body == root.bytes("with space+plus.bin"))
        }
    }

    @Test("Content-Type by extension, case-insensitive; no extension or an unknown one is octet-stream")
    func contentType() async throws {
        let root = self.root
        let files = ["boot.ipxe": "text/plain", "MENU.CFG": "text/plain", "grub.Conf": "text/plain",
                     "cmdline": "application/octet-stream", "x.cmdline": "text/plain", "i.HTM": "text/html",
                     "d.iso": "application/x-iso9660-image", "k.efi": "application/octet-stream",
                     "sub.txt/vmlinuz": "application/octet-stream", "archive.tar.gz": "application/octet-stream",
                     "page.html.txt": "text/plain", "dot.": "application/octet-stream"]
        try FileManager.default.createDirectory(atPath: root.path + "/sub.txt", withIntermediateDirectories: true)
        for name in files.keys { try Data("x".utf8).write(to: URL(fileURLWithPath: root.path + "/" + name)) }
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            for (name, type) in files.sorted(by: { $0.key < $1.key }) {
                let r = try await curl(["http://127.0.0.1:\(port)/\(name)"])
                #expect(r.status == 200 && r.header("content-type") == type, "\(name): \(r.status) \(r.header("content-type") ?? "-")")
            }
        }
    }

    @Test("Range: bytes=100-199 gives 206, Content-Range and exactly those bytes")
    func range() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let url = "http://127.0.0.1:\(port)/a.bin"
            let r = try await curl(["-H", "Range: bytes=100-199", url])
            #expect(r.status == 206)
            #expect(r.body == Array(root.bytes("a.bin")[100...199]))
            #expect(r.header("content-range") == "bytes 100-199/1000")
            #expect(r.header("content-length") == "100")
            let suffix = try await curl(["-H", "Range: bytes=-10", url])
            #expect(suffix.status == 206 && suffix.body == Array(root.bytes("a.bin")[990...]))
            let open = try await curl(["-H", "Range: bytes=900-", url])
            #expect(open.status == 206 && open.body == Array(root.bytes("a.bin")[900...]))
            let clamped = try await curl(["-H", "Range: bytes=950-5000", url])
            #expect(clamped.status == 206 && clamped.header("content-range") == "bytes 950-999/1000")
            let big = try await curl(["-H", "Range: bytes=1000000-1999999", "http://127.0.0.1:\(port)/big.bin"])
            #expect(big.status == 206 && big.body == Array(root.bytes("big.bin")[1_000_000...1_999_999]))
        }
    }

    @Test("A range past the end is 416 with Content-Range: bytes */size")
    func unsatisfiable() async throws {
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let r = try await curl(["-H", "Range: bytes=1000-", "http://127.0.0.1:\(port)/a.bin"])
            #expect(r.status == 416)
            #expect(r.header("content-range") == "bytes */1000")
        }
    }

    @Test("HEAD gives the headers of GET and no body")
    func head() async throws {
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let r = try await curl(["-I", "http://127.0.0.1:\(port)/big.bin"])
            #expect(r.status == 200)
            #expect(r.header("content-length") == "\(3 << 20)")
            // curl -I writes the headers where the body would go: nothing else may follow.
            #expect(r.body.count == r.headers.utf8.count)
        }
    }

    @Test("A query string does not change the file (PyBootd answered 404)")
    func queryString() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let r = try await curl(["http://127.0.0.1:\(port)/a.bin?mac=AA-BB-CC-DD-EE-FF&arch=x64"])
            #expect(r.status == 200 && r.body == root.bytes("a.bin"))
        }
    }

    @Test("'..' and encoded escapes are 400", arguments: [
        "/../outside/secret.txt", "/sub/../../outside/secret.txt", "/%2e%2e/outside/secret.txt",
        "/sub/%2E%2E/%2e%2e/outside/secret.txt", "/..%2foutside%2fsecret.txt", "/a.bin%00", "/bad%zz",
    ])
    func escapes(target: String) async throws {
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let r = try await curl(["--path-as-is", "http://127.0.0.1:\(port)\(target)"])
            #expect(r.status == 400, "\(target)")
            #expect(!r.body.contains(Array("secret".utf8)))
        }
    }

    @Test("A symlink leading out of the root is refused; one inside is served")
    func symlinks() async throws {
        let root = self.root
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let leak = try await curl(["http://127.0.0.1:\(port)/leak.txt"])
            #expect(leak.status == 403)
            let dir = try await curl(["http://127.0.0.1:\(port)/leakdir/secret.txt"])
            #expect(dir.status == 403)
            let alias = try await curl(["http://127.0.0.1:\(port)/alias.bin"])
            #expect(alias.status == 200 && alias.body == root.bytes("a.bin"))
        }
    }

    @Test("Missing files and directories are 404")
    func missing() async throws {
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let nope = try await curl(["http://127.0.0.1:\(port)/nope.bin"])
            #expect(nope.status == 404)
            let dir = try await curl(["http://127.0.0.1:\(port)/sub/dir"])
            #expect(dir.status == 404)
        }
    }

    @Test("check_ip: a client without a lease is refused with 403")
    func checkIPRefusal() async throws {
        // Loopback is always allowed by the rules; ask them as if the request came from
        // 10.0.0.9, which holds no lease, and let 10.0.0.7 (leased) through.
        let leases = [LeaseRecord(mac: [2, 0, 0, 0, 0, 7], address: IPv4Address(10, 0, 0, 7), expires: nil)]
        let refusing: BootHTTPServer.Decide = { target, _ in
            HTTPAccessRules(checkIP: true).decide(target: target, client: IPv4Address(10, 0, 0, 9), leases: leases, at: .zero)
        }
        try await withHTTPServer(root: root.path, decide: refusing) { port in
            let r = try await curl(["http://127.0.0.1:\(port)/a.bin"])
            #expect(r.status == 403)
            #expect(r.body.isEmpty)
        }
        let leased: BootHTTPServer.Decide = { target, _ in
            HTTPAccessRules(checkIP: true).decide(target: target, client: IPv4Address(10, 0, 0, 7), leases: leases, at: .zero)
        }
        try await withHTTPServer(root: root.path, decide: leased) { port in
            let r = try await curl(["http://127.0.0.1:\(port)/a.bin"])
            #expect(r.status == 200)
        }
    }

    @Test("The decision sees the raw target and the client's address")
    func decisionInputs() async throws {
        let seen = Counter()
        let recording: BootHTTPServer.Decide = { target, client in
            await seen.add("\(client) \(target)")
            return await openRules(target, client)
        }
        try await withHTTPServer(root: root.path, decide: recording) { port in
            _ = try await curl(["http://127.0.0.1:\(port)/a.bin?x=1"])
        }
        #expect(await seen.targets == ["127.0.0.1 /a.bin?x=1"])
    }

    @Test("32 concurrent curls all complete byte-identical (PyBootd's 5-slot queue overflowed)")
    func concurrentClients() async throws {
        let root = self.root
        let expected = root.bytes("big.bin")
        try await withHTTPServer(root: root.path, decide: openRules) { port in
            let results = try await withThrowingTaskGroup(of: CurlResult.self) { group in
                for _ in 0..<32 { group.addTask { try await curl(["http://127.0.0.1:\(port)/big.bin"]) } }
                var all: [CurlResult] = []
                for try await r in group { all.append(r) }
                return all
            }
            #expect(results.count == 32)
            #expect(results.allSatisfy { $0.status == 200 && $0.body == expected })
        }
    }
}

@Suite("BootHTTPServer start-up")
struct BootHTTPServerStartTests {
    @Test("A missing root is a clear start-up error")
    func missingRoot() {
        #expect(throws: BootHTTPServerError.self) {
            _ = try BootHTTPServer(address: IPv4Address(127, 0, 0, 1), port: 0, root: "/nonexistent/bootd-root", decide: openRules)
        }
    }
}
