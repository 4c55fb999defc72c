import PXESimKit
import BootWire

// Rules for the PXE fixtures: iPXE (BIOS, UEFI) and EDK2's native PXE (with and without
// an SMBIOS UUID), served by dnsmasq (Fixtures/dnsmasq/dnsmasq.conf) and by bootd with
// Fixtures/replay/<capture>.ini.

/// What every OFFER/ACK to a PXE client must carry, whoever served it.
func pxeReplyChecks(address: String, bootFile: String, broadcastFlag: Bool) -> [DHCPCheck] {
    [
        .yiaddr(address),
        .sameAsReference(54), // server identifier 10.77.0.1
        .sameAsReference(51), // lease 3600 s
        .sameAsReference(58), .sameAsReference(59), // T1 1800, T2 3150: bootd's lease/2, lease*7/8 agree
        .sameAsReference(1), .sameAsReference(3), .sameAsReference(28),
        .option(60, text: "PXEClient", because: "PXE 2.1 section 2.2.4: a PXE ROM takes an offer without it for a plain DHCP offer; dnsmasq's dhcp-boot mode (no pxe-service) leaves it out"),
        .echoes(97, because: "PXE 2.1 / RFC 4578 section 2.3: the client machine identifier is echoed; dnsmasq does not"),
        .present(43, because: "PXE 2.1 vendor options: discovery control bit 3, boot the file named here without boot-server discovery"),
        .siaddr("10.77.0.1", because: "the TFTP server, as dnsmasq's"),
        .file(bootFile, because: "bootd fills the BOOTP file field as well as option 67, so ROMs that read only the field boot too; dnsmasq leaves it empty"),
        .option(67, text: bootFile, because: "without dnsmasq's trailing NUL: RFC 2132 options are counted, not NUL-terminated; the clients booted with either"),
        .option(66, text: "10.77.0.1", because: "the client asked for 66 in option 55; dnsmasq names the server only in siaddr"),
        .destination("255.255.255.255", because: broadcastFlag
            ? "the client set the broadcast flag (EDK2): dnsmasq broadcast too"
            : "RFC 2131 section 4.1 lets a server broadcast when ciaddr is 0; bootd always does (EDK2 ignores a subnet broadcast, and a unicast to yiaddr needs an ARP entry); dnsmasq unicast to yiaddr by MAC"),
    ]
}

let iPXEChecks: [DHCPCheck] = [
    .option(175, hex: "b00101", because: "iPXE encapsulated 176 = 1 (skip the proxyDHCP wait), as dnsmasq's dhcp-option=encap:175,176,1; dnsmasq adds an END byte inside (b00101ff), bootd does not: RFC 2132 encapsulated options need none"),
]
let edk2Checks: [DHCPCheck] = [
    .absent(175, because: "EDK2 is not iPXE: it sent no 175"),
]

let requestRewrites = "xid as captured; option 54 rewritten to bootd's server id, option 50 to the address bootd offered (both equal dnsmasq's here, by configuration)"

func pxeRules(_ capture: String, address: String, bootFile: String, broadcastFlag: Bool, extra: [DHCPCheck], tftp: [TFTPRule]) -> FixtureRules {
    let checks = pxeReplyChecks(address: address, bootFile: bootFile, broadcastFlag: broadcastFlag) + extra
    return FixtureRules(capture: capture, dhcp: [
        DHCPRule(request: .discover, reply: .offer, checks: checks, rewrites: "none: the DISCOVER is sent as captured"),
        DHCPRule(request: .request, reply: .ack, checks: checks, rewrites: requestRewrites),
    ], tftp: tftp)
}

/// iPXE fetches its script with blksize 1432 and tsize 0, then the script's two payloads:
/// bootd grants what dnsmasq granted, in lock-step (no windowsize asked).
let iPXETransfers: [TFTPRule] = [
    TFTPRule(file: "boot.ipxe", oack: ["blksize": "1432", "tsize": "358"], blocks: [358]),
    TFTPRule(file: "payload-3000.bin", oack: ["blksize": "1432", "tsize": "3000"], blocks: [1432, 1432, 136]),
    TFTPRule(file: "payload-2048.bin", oack: ["blksize": "1432", "tsize": "2048"], blocks: [1432, 616]),
]

/// EDK2 asks the size first (tsize 0, blksize 1468, windowsize 4) and aborts with ERROR 8
/// after the OACK (replayed as captured), then downloads with blksize 1468, windowsize 4.
/// dnsmasq ignored windowsize; bootd grants it (RFC 7440), so the download is windowed:
/// the replayed client ACKs block 4 once the window of four is out, not each block.
let edk2Transfers: [TFTPRule] = [
    TFTPRule(file: "bootx64.efi", oack: ["blksize": "1468", "tsize": "5000", "windowsize": "4"],
             oackDiffers: "windowsize 4 granted (RFC 7440); dnsmasq does not implement it", blocks: nil,
             rewrites: "the client's ERROR 8 goes to bootd's transfer port"),
    TFTPRule(file: "bootx64.efi", oack: ["blksize": "1468", "windowsize": "4"],
             oackDiffers: "windowsize 4 granted (RFC 7440); dnsmasq does not implement it",
             blocks: [1468, 1468, 1468, 596],
             rewrites: "ACK 0 to bootd's transfer port, then one ACK per window of 4 (the capture has one per block)"),
]

let pxeFixtureRules: [String: FixtureRules] = [
    "dhcp-ipxe-bios": pxeRules("dhcp-ipxe-bios", address: "10.77.0.101", bootFile: "boot.ipxe", broadcastFlag: false,
                               extra: iPXEChecks, tftp: iPXETransfers),
    "dhcp-ipxe-uefi": pxeRules("dhcp-ipxe-uefi", address: "10.77.0.102", bootFile: "boot.ipxe", broadcastFlag: false,
                               extra: iPXEChecks, tftp: iPXETransfers),
    "dhcp-ovmf-uefi": pxeRules("dhcp-ovmf-uefi", address: "10.77.0.103", bootFile: "bootx64.efi", broadcastFlag: true,
                               extra: edk2Checks, tftp: edk2Transfers),
    // No -uuid: option 97 is type 0 + 16 zero bytes; bootd still echoes it (a PXE
    // client's identifier, even a null one) and still takes the client for PXE.
    "dhcp-ovmf-uefi-nouuid": pxeRules("dhcp-ovmf-uefi-nouuid", address: "10.77.0.104", bootFile: "bootx64.efi", broadcastFlag: true,
                                      extra: edk2Checks + [.option(97, hex: "00" + String(repeating: "00", count: 16))], tftp: edk2Transfers),
]
