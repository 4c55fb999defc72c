import Foundation
import Testing
import BootWire
import PcapKit

/// Fixtures/manifest.json is written by Fixtures/facts.py, an independent decoder (Python,
/// standard library only). These tests hold bootd's parsers to it, message by message,
/// and assert the values the real clients are known to send.

struct Manifest: @unchecked Sendable {
    let captures: [String: [String: Any]]

    static let shared: Manifest = {
        let url = fixturesDirectory.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url),
              let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let captures = root["captures"] as? [String: [String: Any]] else {
            return Manifest(captures: [:])
        }
        return Manifest(captures: captures)
    }()

    static var captureNames: [String] { shared.captures.keys.sorted() }
}

func hexBytes(_ s: String) -> [UInt8] {
    var out: [UInt8] = []
    var i = s.startIndex
    while i < s.endIndex, let j = s.index(i, offsetBy: 2, limitedBy: s.endIndex) {
        out.append(UInt8(s[i..<j], radix: 16) ?? 0)
        i = j
    }
    return out
}

func macString(_ b: [UInt8]) -> String {
    b.map { String(format: "%02x", $0) }.joined(separator: ":")
}

@Suite("Fixtures against the independent decoder")
struct FixtureManifestTests {
    @Test("the manifest lists every capture in Fixtures/pcap")
    func manifestComplete() {
        let files = fixtureCaptures().filter { $0.hasPrefix("pcap/") }.map { String($0.dropFirst(5)) }
        #expect(!files.isEmpty)
        #expect(Set(files) == Set(Manifest.captureNames))
    }

    @Test("each DHCP message decodes to the same header and options as facts.py says",
          arguments: Manifest.captureNames)
    func dhcpAgrees(_ name: String) throws {
        let entry = try #require(Manifest.shared.captures[name])
        let expected = entry["dhcp"] as? [[String: Any]] ?? []
        let traffic = try FixtureTraffic(path: "pcap/" + name)
        #expect(traffic.dhcp.count == expected.count)
        for (i, (got, want)) in zip(traffic.dhcp.map(\.message), expected).enumerated() {
            let at = "\(name) DHCP message \(i)"
            #expect(Int(got.op.rawValue) == want["op"] as? Int, "\(at)")
            #expect(Int(got.htype) == want["htype"] as? Int, "\(at)")
            #expect(Int(got.hlen) == want["hlen"] as? Int, "\(at)")
            #expect(Int(got.flags) == want["flags"] as? Int, "\(at)")
            #expect(got.broadcastFlag == want["broadcast_flag"] as? Bool, "\(at)")
            #expect(got.ciaddr.description == want["ciaddr"] as? String, "\(at)")
            #expect(got.yiaddr.description == want["yiaddr"] as? String, "\(at)")
            #expect(got.siaddr.description == want["siaddr"] as? String, "\(at)")
            #expect(got.giaddr.description == want["giaddr"] as? String, "\(at)")
            #expect(macString(got.clientHardwareAddress) == want["chaddr"] as? String, "\(at)")
            #expect(got.messageType?.description == want["type"] as? String, "\(at)")
            #expect(got.options.codes.map(Int.init) == want["option_order"] as? [Int], "\(at)")
            let options = want["options"] as? [String: String] ?? [:]
            for option in got.options {
                #expect(option.data == hexBytes(options[String(option.code)] ?? "-"), "\(at) option \(option.code)")
            }
        }
    }

    @Test("each TFTP transfer: the RRQ options, the OACK, and DATA blocks equal to the boot file",
          arguments: Manifest.captureNames)
    func tftpAgrees(_ name: String) throws {
        let entry = try #require(Manifest.shared.captures[name])
        let expected = entry["tftp"] as? [[String: Any]] ?? []
        let traffic = try FixtureTraffic(path: "pcap/" + name)
        // Split by transfer: an RRQ starts one; packets between its client endpoint and
        // the server belong to it until the next RRQ from the same endpoint.
        struct Transfer { var client: UDPEndpoint; var request: TFTPRequest; var oack: [TFTPOption]?; var blocks: [UInt16: [UInt8]] = [:]; var order: [UInt16] = []; var errors: [TFTPError] = [] }
        var transfers: [Transfer] = []
        for (d, p) in traffic.tftp {
            if case let .readRequest(r) = p {
                if let last = transfers.last, last.client == d.source, last.request == r, last.blocks.isEmpty, last.oack == nil { continue }
                transfers.append(Transfer(client: d.source, request: r))
                continue
            }
            guard let i = transfers.lastIndex(where: { $0.client == d.destination || $0.client == d.source }) else {
                Issue.record("\(name): TFTP packet outside a transfer"); continue
            }
            switch p {
            case let .optionAck(o): transfers[i].oack = o
            case let .data(block, payload):
                if transfers[i].blocks[block] == nil { transfers[i].order.append(block) }
                transfers[i].blocks[block] = payload
            case let .error(e): transfers[i].errors.append(e)
            default: break
            }
        }
        #expect(transfers.count == expected.count, "\(name)")
        for (t, want) in zip(transfers, expected) {
            let rrq = want["rrq"] as? [String: Any] ?? [:]
            #expect(t.request.filename == rrq["file"] as? String)
            #expect(t.request.mode.rawValue == rrq["mode"] as? String)
            #expect(t.request.options.map { [$0.name, $0.value] } == rrq["options"] as? [[String]], "\(name) \(t.request.filename ?? "")")
            _ = try t.request.transferOptions()
            let oack = want["oack_options"] as? [[String]]
            #expect(t.oack?.map { [$0.name, $0.value] } == oack, "\(name)")
            #expect(t.blocks.count == want["data_blocks"] as? Int, "\(name)")
            #expect(t.errors.map { Int($0.code.rawValue) } == (want["errors"] as? [[String: Any]] ?? []).map { $0["code"] as? Int ?? -1 })
            if want["complete"] as? Bool == true, let file = t.request.filename {
                let bytes = t.order.flatMap { t.blocks[$0]! }
                let source = try Data(contentsOf: fixturesDirectory.appendingPathComponent("tftproot/" + file))
                #expect(bytes == [UInt8](source), "\(name): \(file) delivered byte-identical")
            }
        }
    }

    // MARK: What the real clients sent

    func discover(_ name: String) throws -> DHCPMessage {
        try #require(FixtureTraffic(path: "pcap/" + name).dhcp(.discover).first)
    }

    @Test("QEMU's iPXE in BIOS mode: 60, 93 = 0, 94 = 1.2.1, 77 = iPXE without a length prefix, 175, UUID")
    func iPXEBIOS() throws {
        let m = try discover("dhcp-ipxe-bios.pcap")
        #expect(try m.value(.vendorClassIdentifier) == "PXEClient:Arch:00000:UNDI:002001")
        #expect(try m.value(.clientArchitectures) == [.x86BIOS])
        #expect(try m.value(.clientNetworkInterface) == ClientNetworkInterface(type: 1, major: 2, minor: 1))
        #expect(try m.value(.userClass) == .plain(Array("iPXE".utf8)))
        let ipxe = try #require(try m.value(.iPXEEncapsulated))
        #expect(ipxe.first { $0.code == 177 }?.data == [0x01, 0x1a, 0xf4, 0x10, 0x00])
        #expect(ipxe.first { $0.code == 235 }?.data == [0x01, 0x00, 0x00])
        #expect(ipxe.contains { $0.code == 19 })
        #expect(try m.value(.clientMachineID)?.uuid == "5ce1ab00-7700-4a11-9e00-000000000001")
        #expect(try m.value(.maximumMessageSize) == 1472)
        #expect(try m.value(.clientIdentifier) == ClientIdentifier(type: 1, identifier: [0x52, 0x54, 0, 0, 0, 1]))
        #expect(PXEVendorClass(try m.value(.vendorClassIdentifier)!)?.architecture == .x86BIOS)
    }

    @Test("QEMU's iPXE under UEFI: 93 = 7, 94 = 1.3.10")
    func iPXEUEFI() throws {
        let m = try discover("dhcp-ipxe-uefi.pcap")
        #expect(try m.value(.clientArchitectures) == [.x64UEFI])
        #expect(try m.value(.clientNetworkInterface)?.description == "1.3.10")
        #expect(try m.value(.userClass)?.contains("iPXE") == true)
        #expect(try m.value(.clientMachineID)?.uuid == "5ce1ab00-7700-4a11-9e00-000000000002")
    }

    @Test("OVMF's own PXE: 93 = 7, 94 = 1.3.0, the UUID in SMBIOS order, 57 = 65280 in REQUEST")
    func ovmf() throws {
        let traffic = try FixtureTraffic(path: "pcap/dhcp-ovmf-uefi.pcap")
        let m = try #require(traffic.dhcp(.discover).first)
        #expect(try m.value(.vendorClassIdentifier) == "PXEClient:Arch:00007:UNDI:003000")
        #expect(try m.value(.clientArchitectures) == [.x64UEFI])
        #expect(try m.value(.clientNetworkInterface)?.description == "1.3.0")
        #expect(m.options[code: 97] == hexBytes("0000abe15c0077114a9e00000000000003"))
        #expect(try m.value(.clientMachineID)?.uuid == "5ce1ab00-7700-4a11-9e00-000000000003")
        #expect(try m.value(.userClass) == nil)
        #expect(m.broadcastFlag)
        let request = try #require(traffic.dhcp(.request).first)
        #expect(try request.value(.maximumMessageSize) == 65280)
        #expect(traffic.readRequests.first?.options.map(\.description) == ["tsize=0", "blksize=1468", "windowsize=4"])
        let nouuid = try discover("dhcp-ovmf-uefi-nouuid.pcap")
        #expect(try nouuid.value(.clientMachineID)?.uuid == "00000000-0000-0000-0000-000000000000")
    }

    @Test("dhclient and udhcpc: plain DHCP, their request lists, renew with ciaddr, release")
    func linuxClients() throws {
        let dh = try FixtureTraffic(path: "pcap/dhcp-dhclient.pcap")
        #expect(try dh.dhcp(.discover).first?.value(.parameterRequestList) == [1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42])
        #expect(try dh.dhcp(.discover).first?.value(.vendorClassIdentifier) == nil)
        #expect(dh.dhcp(.request).last?.ciaddr == IPv4Address(10, 77, 0, 111))
        #expect(dh.dhcp(.release).first?.ciaddr == IPv4Address(10, 77, 0, 111))
        let ud = try FixtureTraffic(path: "pcap/dhcp-udhcpc.pcap")
        let d = try #require(ud.dhcp(.discover).first)
        #expect(try d.value(.vendorClassIdentifier) == "udhcp 1.35.0")
        #expect(try d.value(.maximumMessageSize) == 576)
        #expect(try d.value(.parameterRequestList) == [1, 3, 6, 12, 15, 28, 42])
    }

    @Test("dnsmasq's replies: option 67 with a trailing NUL reads as the plain name")
    func dnsmasqReplies() throws {
        let t = try FixtureTraffic(path: "pcap/dhcp-ipxe-bios.pcap")
        let ack = try #require(t.dhcp(.ack).first)
        #expect(try ack.value(.bootfileName) == "boot.ipxe")
        #expect(ack.options[code: 67]?.last == 0)
        #expect(ack.options[code: 175] == [0xb0, 0x01, 0x01, 0xff])
        #expect(try ack.value(.iPXEEncapsulated) == [DHCPSubOption(code: 176, data: [1])])
        #expect(ack.yiaddr == IPv4Address(10, 77, 0, 101))
        #expect(try ack.value(.serverIdentifier) == IPv4Address(10, 77, 0, 1))
    }
}
