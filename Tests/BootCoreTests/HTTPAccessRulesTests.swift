import Testing
import BootWire
@testable import BootCore

@Suite("HTTP access rules")
struct HTTPAccessRulesTests {
    let leased = IPv4Address(10, 77, 0, 100)
    let stranger = IPv4Address(10, 77, 0, 200)
    let now = Instant(nanoseconds: 10_000_000_000)
    var leases: [LeaseRecord] {
        [LeaseRecord(mac: [1, 2, 3, 4, 5, 6], address: leased, expires: now + .seconds(60)),
         LeaseRecord(mac: [1, 2, 3, 4, 5, 7], address: IPv4Address(10, 77, 0, 101), expires: now)]
    }

    @Test("check_ip: a leased address may fetch, a stranger or an expired lease may not, loopback may")
    func checkIP() {
        let rules = HTTPAccessRules(checkIP: true)
        #expect(rules.decide(target: "/boot.ipxe", client: leased, leases: leases, at: now) == .serve(path: "boot.ipxe"))
        #expect(rules.decide(target: "/boot.ipxe", client: stranger, leases: leases, at: now)
                == .forbidden("10.77.0.200 holds no lease from this server (check_ip)"))
        #expect(rules.decide(target: "/boot.ipxe", client: IPv4Address(10, 77, 0, 101), leases: leases, at: now)
                != .serve(path: "boot.ipxe"))
        #expect(rules.decide(target: "/x", client: IPv4Address(127, 0, 0, 1), leases: [], at: now) == .serve(path: "x"))
        #expect(HTTPAccessRules(checkIP: false).decide(target: "/x", client: stranger, leases: [], at: now) == .serve(path: "x"))
    }

    @Test("a query string does not name the file (PyBootd answered 404)")
    func queryString() {
        let rules = HTTPAccessRules(checkIP: false)
        #expect(rules.decide(target: "/boot.ipxe?mac=52:54:00:00:00:01&platform=efi", client: stranger, leases: [], at: now)
                == .serve(path: "boot.ipxe"))
        #expect(rules.decide(target: "/images/vmlinuz%2D6.1", client: stranger, leases: [], at: now) == .serve(path: "images/vmlinuz-6.1"))
    }

    @Test("paths never leave the root: .., encoded .., NUL, bad escapes")
    func containment() {
        let rules = HTTPAccessRules(checkIP: false)
        for bad in ["/../etc/passwd", "/a/../../etc/passwd", "/%2e%2e/etc/passwd", "/a%2F..%2F..%2Fb", "/x%00y", "/%zz", "/%4"] {
            guard case .badRequest = rules.decide(target: bad, client: stranger, leases: [], at: now) else {
                Issue.record("\(bad) was not refused"); continue
            }
        }
        #expect(rules.decide(target: "//etc//passwd", client: stranger, leases: [], at: now) == .serve(path: "etc/passwd"))
    }
}
