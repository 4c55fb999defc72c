import PXESimKit
import Testing
import BootWire

// Replay conformance: one named test per fixture. A broken rule fails the fixture's test
// with lines "<capture> DHCP #n OFFER at 0.012s: OFFER rule "option 60 = ..." broken: ...".

let namedRules: [String: FixtureRules] = pxeFixtureRules
    .merging(linuxFixtureRules) { a, _ in a }
    .merging(tftpFixtureRules) { a, _ in a }
    .merging(bootdFixtureRules) { a, _ in a }

func conform(_ name: String) throws {
    let rules = try #require(namedRules[name], "no named rules for \(name)")
    let t = try replay(name)
    let broken = rules.check(t)
    #expect(broken.isEmpty, "\(broken.count) replay rules broken:\n\(broken.joined(separator: "\n"))")
    // The named rules must be at least as strict as the generic starter rules.
    let generic = genericRules(t).check(t)
    #expect(generic.isEmpty, "generic rules broken:\n\(generic.joined(separator: "\n"))")
}

@Suite("Replay conformance") struct ReplayConformance {
    @Test("replay dhcp-ipxe-bios: iPXE under SeaBIOS, DHCP + boot.ipxe + 2 payloads") func ipxeBIOS() throws { try conform("dhcp-ipxe-bios") }
    @Test("replay dhcp-ipxe-uefi: iPXE under OVMF") func ipxeUEFI() throws { try conform("dhcp-ipxe-uefi") }
    @Test("replay dhcp-ovmf-uefi: EDK2 native PXE, size query then windowed download") func ovmf() throws { try conform("dhcp-ovmf-uefi") }
    @Test("replay dhcp-ovmf-uefi-nouuid: EDK2 with a null UUID") func ovmfNoUUID() throws { try conform("dhcp-ovmf-uefi-nouuid") }
    @Test("replay dhcp-dhclient: isc dhclient bind, renew, release") func dhclient() throws { try conform("dhcp-dhclient") }
    @Test("replay dhcp-udhcpc: busybox udhcpc bind, renew, release") func udhcpc() throws { try conform("dhcp-udhcpc") }
    @Test("replay tftp-hpa: two plain RFC 1350 reads") func tftpHPA() throws { try conform("tftp-hpa") }
    @Test("replay tftp-hpa-notfound: ERROR 1") func tftpHPANotFound() throws { try conform("tftp-hpa-notfound") }
    @Test("replay tftp-atftp-blksize: blksize 1428 and 1024") func atftpBlksize() throws { try conform("tftp-atftp-blksize") }
    @Test("replay tftp-atftp-windowsize: windowsize 8 granted") func atftpWindowsize() throws { try conform("tftp-atftp-windowsize") }
    @Test("replay tftp-curl: blksize, tsize, timeout") func curl() throws { try conform("tftp-curl") }
    @Test("replay tftp-busybox: tsize, blksize 1024") func busybox() throws { try conform("tftp-busybox") }

    /// The same real clients served by bootd itself (Fixtures/pcap-bootd, made with
    /// `bootd --capture`): a change that breaks what a real client did with bootd's
    /// answers fails here, without QEMU.
    @Test("replay bootd's own capture", arguments: bootdFixtureRules.keys.sorted())
    func bootdCapture(_ name: String) throws { try conform(name) }

    /// Every capture with a replay configuration is replayed: the named ones above, and
    /// any a user added with Fixtures/add-capture (checked by the generic starter rules
    /// until named rules are written for it).
    @Test("replay every capture with a configuration (generic rules for unnamed ones)",
          arguments: replayableCaptures())
    func everyCapture(_ name: String) throws {
        let t = try replay(name)
        if namedRules[name] != nil {
            #expect(!(t.dhcp.isEmpty && t.tftp.isEmpty), "\(name): nothing replayed")
            return
        }
        let broken = genericRules(t).check(t)
        #expect(!(t.dhcp.isEmpty && t.tftp.isEmpty), "\(name): no client DHCP or TFTP request in the capture")
        #expect(broken.isEmpty, "\(name): generic replay rules broken:\n\(broken.joined(separator: "\n"))")
    }

    /// What `pxe-sim replay FILE` prints: one line per client request with its verdict.
    @Test("pxe-sim replay's verdicts: one line per request, every one ok", arguments: replayableCaptures())
    func verdictLines(_ name: String) throws {
        let t = try replay(name)
        let lines = verdicts(t)
        #expect(lines.count == t.dhcp.count + t.tftp.count, "\(lines.map(\.text))")
        let notOK = lines.filter { !$0.ok }.map { $0.text }
        #expect(notOK.isEmpty, "\(notOK)")
        for (i, x) in t.dhcp.enumerated() where x.reply != nil {
            #expect(lines[i].text.contains("→ \(x.reply!.messageType!)"), "\(lines[i].text)")
        }
    }

    @Test("every fixture under Fixtures/pcap has a replay configuration and named rules")
    func everyFixtureCovered() {
        let replayable = Set(replayableCaptures())
        for name in namedRules.keys.sorted() { #expect(replayable.contains(name), "\(name): no Fixtures/replay/\(name).ini or capture") }
        #expect(replayable.isSuperset(of: namedRules.keys))
    }
}
