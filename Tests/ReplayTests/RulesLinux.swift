import PXESimKit
import BootWire

// Rules for the Linux DHCP clients (isc dhclient, busybox udhcpc): DISCOVER, REQUEST,
// a unicast renewal at T1 (ciaddr set, no 50/54), and a RELEASE.

func linuxReplyChecks(address: String, t1: UInt32 = 60, t2: UInt32 = 105) -> [DHCPCheck] {
    [
        .yiaddr(address),
        .sameAsReference(54), .sameAsReference(51), // lease 120 s (dhcp-host ...,2m / lease_time = 120)
        .sameAsReference(1), .sameAsReference(3), .sameAsReference(28),
        .option(58, seconds: t1, because: "T1 = lease/2 (RFC 2131 section 4.4.5); dnsmasq's 4 s is dhcp-option=tag:linux,T1,4, a capture setting bootd has no key for"),
        .option(59, seconds: t2, because: "T2 = lease*7/8; dnsmasq's 100 s is a capture setting as above"),
        .absent(60, because: "not a PXE client"), .absent(43, because: "not a PXE client"),
        .absent(67, because: "no boot file for a plain DHCP client"),
        .file(nil, because: "no boot file for a plain DHCP client"),
    ]
}

func linuxRules(_ capture: String, address: String, t1: UInt32 = 60, t2: UInt32 = 105) -> FixtureRules {
    let checks = linuxReplyChecks(address: address, t1: t1, t2: t2)
    return FixtureRules(capture: capture, dhcp: [
        DHCPRule(request: .discover, reply: .offer,
                 checks: checks + [.destination("255.255.255.255", because: "ciaddr 0: bootd broadcasts (RFC 2131 section 4.1); dnsmasq unicast to yiaddr")]),
        DHCPRule(request: .request, reply: .ack,
                 checks: checks + [.destination("255.255.255.255", because: "ciaddr 0, as the OFFER")], rewrites: requestRewrites),
        DHCPRule(request: .request, reply: .ack,
                 checks: checks + [.destination(address, because: "RENEWING: ciaddr set, unicast to it as dnsmasq did")],
                 rewrites: "ciaddr rewritten to the address bootd acknowledged (equal by configuration); sent unicast to bootd's address"),
        DHCPRule(request: .release, reply: nil,
                 rewrites: "ciaddr and option 54 from bootd's ACK; RFC 2131 section 4.4.6: no reply to a RELEASE"),
    ], tftp: [])
}

let linuxFixtureRules: [String: FixtureRules] = [
    "dhcp-dhclient": linuxRules("dhcp-dhclient", address: "10.77.0.111"),
    "dhcp-udhcpc": linuxRules("dhcp-udhcpc", address: "10.77.0.112"),
]
