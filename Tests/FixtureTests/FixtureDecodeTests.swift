import Testing
import BootWire
import PcapKit

@Suite("Fixtures decode")
struct FixtureDecodeTests {
    @Test("Fixtures/ holds captures")
    func capturesExist() {
        #expect(fixtureCaptures().count >= 6, "captures found: \(fixtureCaptures())")
    }

    @Test("every DHCP and TFTP packet of every capture decodes, and re-encodes to a message that decodes the same",
          arguments: fixtureCaptures())
    func everyPacketDecodes(_ path: String) throws {
        let traffic = try FixtureTraffic(path: path)
        #expect(traffic.failures.isEmpty, "\(path): \(traffic.failures)")
        #expect(!traffic.dhcp.isEmpty || !traffic.tftp.isEmpty, "\(path) has no DHCP or TFTP traffic")
        for (d, m) in traffic.dhcp {
            let again = try DHCPMessage(parsing: m.serialized())
            #expect(again == m, "\(path) record \(d.recordIndex ?? -1)")
            // Every option bootd reads is well formed in what real clients and dnsmasq send.
            _ = try m.value(.vendorClassIdentifier)
            _ = try m.value(.clientArchitectures)
            _ = try m.value(.clientNetworkInterface)
            _ = try m.value(.clientMachineID)
            _ = try m.value(.userClass)
            _ = try m.value(.iPXEEncapsulated)
            _ = try m.value(.parameterRequestList)
            _ = try m.value(.maximumMessageSize)
            _ = try m.value(.serverIdentifier)
            _ = try m.value(.leaseTime)
            _ = try m.value(.subnetMask)
            _ = try m.value(.pxeVendorOptions)
        }
        for (d, p) in traffic.tftp {
            if let out = try? p.serialized() {
                #expect(try TFTPPacket(parsing: out) == p, "\(path) record \(d.recordIndex ?? -1)")
            }
            if case let .readRequest(r) = p { _ = try r.transferOptions() }
        }
    }
}
