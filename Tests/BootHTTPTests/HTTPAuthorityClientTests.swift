import AsyncHTTPClient
import BootCore
import BootHTTP
import Logging
import NIOCore
import NIOPosix
import Testing

let mac1: [UInt8] = [0xAA, 0xBB, 0xCC, 0x00, 0x11, 0x22]
let uuid1 = "4c4c4544-0035-4210-8047-b3c04f4e3432"

func demo(delay: Duration = .zero) -> DemoAuthority {
    DemoAuthority(allowed: [
        DemoAuthority.key("AA-BB-CC-00-11-22")!: .init(hostName: "node1", bootFile: "pxelinux.0"),
        DemoAuthority.key(uuid1)!: .init(hostName: "node2"),
    ], delay: delay)
}

/// Asks `client` on `loop` as the daemon does; also reports whether the answer came on the loop.
func ask(_ client: HTTPAuthorityClient, _ query: AuthorityQuery, on loop: any EventLoop) async -> (AuthorityAnswer, Bool) {
    let c = Unchecked(value: client)
    return await onLoop(loop) { done in c.value.query(query) { done(($0, loop.inEventLoop)) } }
}

func authorityClient(port: Int, timeout: Duration = .seconds(30), http: HTTPClient, loop: any EventLoop) -> HTTPAuthorityClient {
    let settings = HTTPAuthoritySettings(location: HTTPLocation(host: "127.0.0.1", port: UInt16(port)),
                                         pxePath: "/boot", dhcpPath: "/linux", timeout: timeout)
    var logger = Logger(label: "test.authority-client")
    logger.logLevel = .critical
    return HTTPAuthorityClient(settings: settings, client: http, eventLoop: loop, logger: logger)!
}

@Suite("HTTPAuthorityClient against the demo authority")
struct HTTPAuthorityClientTests {
    @Test("The request is PyBootd's: location + phase path, mac=AA-BB-…, uuid")
    func requestFormat() async throws {
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        defer { _ = http.shutdown() }
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let client = authorityClient(port: 8000, http: http, loop: loop)
        #expect(client.url(for: AuthorityQuery(mac: mac1, uuid: nil, phase: .pxe))
            == "http://127.0.0.1:8000/boot?mac=AA-BB-CC-00-11-22")
        #expect(client.url(for: AuthorityQuery(mac: mac1, uuid: uuid1, phase: .dhcp))
            == "http://127.0.0.1:8000/linux?mac=AA-BB-CC-00-11-22&uuid=\(uuid1)")
        try await http.shutdown()
    }

    @Test("Body parsing: Client: and File: lines; 401/403 deny; other statuses fail")
    func answers() {
        #expect(HTTPAuthorityClient.answer(status: 200, body: "Client: node1\r\nFile: boot.efi\r\n")
            == .allowed(hostName: "node1", bootFile: "boot.efi"))
        #expect(HTTPAuthorityClient.answer(status: 200, body: "") == .allowed(hostName: nil, bootFile: nil))
        #expect(HTTPAuthorityClient.answer(status: 200, body: "client:  n2 \nnoise\n") == .allowed(hostName: "n2", bootFile: nil))
        #expect(HTTPAuthorityClient.answer(status: 401, body: "Client: x") == .denied)
        #expect(HTTPAuthorityClient.answer(status: 403, body: "") == .denied)
        guard case .failed = HTTPAuthorityClient.answer(status: 500, body: "") else { Issue.record("500 must fail"); return }
    }

    @Test("Allowed MAC (PXE phase) and UUID (OS phase), answered on the daemon's loop")
    func allowed() async throws {
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await withDemoAuthority(demo()) { port in
            let client = Unchecked(value: authorityClient(port: port, http: http, loop: loop))
            let (a, onLoop1) = await ask(client.value, AuthorityQuery(mac: mac1, uuid: nil, phase: .pxe), on: loop)
            #expect(a == .allowed(hostName: "node1", bootFile: "pxelinux.0"))
            #expect(onLoop1)
            let (b, _) = await ask(client.value, AuthorityQuery(mac: [2, 0, 0, 0, 0, 1], uuid: uuid1, phase: .dhcp), on: loop)
            #expect(b == .allowed(hostName: "node2", bootFile: nil))
        }
        try await http.shutdown()
    }

    @Test("An unknown client is denied (401)")
    func denied() async throws {
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await withDemoAuthority(demo()) { port in
            let client = Unchecked(value: authorityClient(port: port, http: http, loop: loop))
            let (a, _) = await ask(client.value, AuthorityQuery(mac: [2, 0, 0, 0, 0, 9], uuid: nil, phase: .pxe), on: loop)
            #expect(a == .denied)
        }
        try await http.shutdown()
    }

    @Test("Server down (connection refused): that request fails")
    func refused() async throws {
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        // Find a port nothing listens on: run the demo authority, stop it, reuse its port.
        let port = try await withDemoAuthority(demo()) { $0 }
        let client = authorityClient(port: port, timeout: .seconds(2), http: http, loop: loop)
        let (a, onLoop1) = await ask(client, AuthorityQuery(mac: mac1, uuid: nil, phase: .pxe), on: loop)
        guard case .failed = a else { Issue.record("expected failed, got \(a)"); return }
        #expect(onLoop1)
        try await http.shutdown()
    }

    @Test("Slow server: the timeout fails that request only; others are answered")
    func timeout() async throws {
        let http = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        try await withDemoAuthority(demo(delay: .seconds(3))) { slowPort in
            try await withDemoAuthority(demo()) { fastPort in
                let slow = Unchecked(value: authorityClient(port: slowPort, timeout: .milliseconds(500), http: http, loop: loop))
                let fast = Unchecked(value: authorityClient(port: fastPort, http: http, loop: loop))
                async let slowAnswer = ask(slow.value, AuthorityQuery(mac: mac1, uuid: nil, phase: .pxe), on: loop)
                async let fastAnswer = ask(fast.value, AuthorityQuery(mac: mac1, uuid: nil, phase: .pxe), on: loop)
                let (s, f) = await (slowAnswer, fastAnswer)
                guard case let .failed(reason) = s.0 else { Issue.record("expected failed, got \(s.0)"); return }
                #expect(reason.contains("timeout"))
                #expect(f.0 == .allowed(hostName: "node1", bootFile: "pxelinux.0"))
                // A wrong path (404) fails only its own request too.
                var settings = fast.value.settings
                settings.pxePath = "/nowhere"
                let wrong = HTTPAuthorityClient(settings: settings, client: http, eventLoop: loop)!
                let (w, _) = await ask(wrong, AuthorityQuery(mac: mac1, uuid: nil, phase: .pxe), on: loop)
                guard case .failed = w else { Issue.record("expected failed, got \(w)"); return }
            }
        }
        try await http.shutdown()
    }
}

@Suite("DemoAuthority")
struct DemoAuthorityTests {
    @Test("--allow and list files")
    func parsing() throws {
        let (k, e) = try DemoAuthority.parseAllow("aa:bb:cc:00:11:22=node1,pxelinux.0")
        #expect(k == "aabbcc001122" && e == .init(hostName: "node1", bootFile: "pxelinux.0"))
        let list = try DemoAuthority.parseList("# hosts\nAA-BB-CC-00-11-22 node1\n\(uuid1)=node2 # x\n02-00-00-00-00-01\n")
        #expect(list.count == 3)
        #expect(list["aabbcc001122"] == .init(hostName: "node1"))
        #expect(list[DemoAuthority.key(uuid1)!] == .init(hostName: "node2"))
        #expect(throws: DemoAuthority.ParseError.self) { _ = try DemoAuthority.parseList("not-a-mac node\n") }
    }

    @Test("Answers: 200 with Client/File lines, 401, 404 for other paths")
    func answers() {
        let d = demo()
        #expect(d.answer(path: "/boot", mac: "AA-BB-CC-00-11-22", uuid: nil) == (200, "Client: node1\nFile: pxelinux.0\n"))
        #expect(d.answer(path: "/linux", mac: "02-00-00-00-00-01", uuid: uuid1.uppercased()).status == 200)
        #expect(d.answer(path: "/boot", mac: "02-00-00-00-00-01", uuid: nil).status == 401)
        #expect(d.answer(path: "/other", mac: "AA-BB-CC-00-11-22", uuid: nil).status == 404)
    }
}
