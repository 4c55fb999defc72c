import Testing
import TestSupport
@testable import BootWire

/// Builds raw DHCP bytes by hand: header fields at their RFC 2131 offsets, then the cookie
/// and the given option bytes, so malformed packets can be made exactly.
func rawDHCP(op: UInt8 = 1, hlen: UInt8 = 6, cookie: [UInt8] = [99, 130, 83, 99],
             file: [UInt8] = [], sname: [UInt8] = [], options: [UInt8]) -> [UInt8] {
    var b = [UInt8](repeating: 0, count: 236)
    b[0] = op; b[1] = 1; b[2] = hlen
    b[4...7] = [0xde, 0xad, 0xbe, 0xef]
    b[28...33] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]
    for (i, x) in sname.enumerated() { b[44 + i] = x }
    for (i, x) in file.enumerated() { b[108 + i] = x }
    return b + cookie + options
}

@Suite("DHCP wire format")
struct DHCPWireTests {
    // MARK: Malformed input, each with the exact error

    struct Bad: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let error: WireError
        var testDescription: String { name }
    }

    static let malformed: [Bad] = [
        Bad(name: "empty packet", bytes: [],
            error: WireError(field: "op", offset: 0, reason: .truncated(needed: 1, available: 0))),
        Bad(name: "truncated inside xid", bytes: [1, 1, 6, 0, 0xde, 0xad],
            error: WireError(field: "xid", offset: 4, reason: .truncated(needed: 4, available: 2))),
        Bad(name: "truncated header (100 bytes)", bytes: Array(rawDHCP(options: []).prefix(100)),
            error: WireError(field: "sname", offset: 44, reason: .truncated(needed: 64, available: 56))),
        Bad(name: "no magic cookie (236 bytes)", bytes: Array(rawDHCP(options: []).prefix(236)),
            error: WireError(field: "magic cookie", offset: 236, reason: .truncated(needed: 4, available: 0))),
        Bad(name: "bad magic cookie", bytes: rawDHCP(cookie: [99, 130, 83, 100], options: [255]),
            error: WireError(field: "magic cookie", offset: 236, reason: .badMagicCookie(0x6382_5364))),
        Bad(name: "op 3", bytes: rawDHCP(op: 3, options: [255]),
            error: WireError(field: "op", offset: 0, reason: .outOfRange(value: 3, allowed: 1...2))),
        Bad(name: "hlen 17", bytes: rawDHCP(hlen: 17, options: [255]),
            error: WireError(field: "hlen", offset: 2, reason: .outOfRange(value: 17, allowed: 0...16))),
        Bad(name: "option running past the end", bytes: rawDHCP(options: [53, 1, 1, 12, 10, 0x61, 0x62]),
            error: WireError(field: "option 12", offset: 245, reason: .truncated(needed: 10, available: 2))),
        Bad(name: "option without its length byte", bytes: rawDHCP(options: [53, 1, 1, 12]),
            error: WireError(field: "option 12 length", offset: 244, reason: .truncated(needed: 1, available: 0))),
        Bad(name: "missing end option", bytes: rawDHCP(options: [53, 1, 1]),
            error: WireError(field: "end option", offset: 243, reason: .missingTerminator)),
        Bad(name: "no options at all", bytes: rawDHCP(options: []),
            error: WireError(field: "end option", offset: 240, reason: .missingTerminator)),
        Bad(name: "option 53 of length 2", bytes: rawDHCP(options: [53, 2, 1, 1, 255]),
            error: WireError(field: "option 53", offset: 240, reason: .invalid("length 2, must be 1"))),
        Bad(name: "overload value 4", bytes: rawDHCP(options: [53, 1, 1, 52, 1, 4, 255]),
            error: WireError(field: "option 52", offset: 245, reason: .outOfRange(value: 4, allowed: 1...3))),
        Bad(name: "overload of length 2", bytes: rawDHCP(options: [52, 2, 1, 1, 255]),
            error: WireError(field: "option 52", offset: 240, reason: .invalid("length 2, must be 1"))),
        Bad(name: "overload pointing to garbage in file",
            bytes: rawDHCP(file: [12, 200, 0x61], options: [53, 1, 1, 52, 1, 1, 255]),
            error: WireError(field: "option 12", offset: 110, reason: .truncated(needed: 200, available: 126))),
        Bad(name: "overloaded file without end option",
            bytes: rawDHCP(file: [12, 1, 0x61], options: [53, 1, 1, 52, 1, 1, 255]),
            error: WireError(field: "end option in file", offset: 236, reason: .missingTerminator)),
        Bad(name: "overloaded sname without end option",
            bytes: rawDHCP(file: [255], sname: [15, 3, 0x61, 0x62, 0x63], options: [52, 1, 3, 255]),
            error: WireError(field: "end option in sname", offset: 108, reason: .missingTerminator)),
    ]

    @Test("malformed packets give the exact error", arguments: malformed)
    func malformedPacket(_ bad: Bad) {
        #expect(throws: bad.error) { try DHCPMessage(parsing: bad.bytes) }
    }

    @Test("malformed option values give the exact error when read")
    func malformedOptionValues() throws {
        // Options start at 240; each case puts the bad option first.
        let m57 = try DHCPMessage(parsing: rawDHCP(options: [57, 2, 0x01, 0xf4, 255]))
        #expect(throws: WireError(field: "option 57", offset: 242, reason: .outOfRange(value: 500, allowed: 576...65535))) {
            try m57.value(.maximumMessageSize)
        }
        #expect(m57.maximumReplySize == 548)
        let m1 = try DHCPMessage(parsing: rawDHCP(options: [1, 3, 255, 255, 255, 255]))
        #expect(throws: WireError(field: "option 1", offset: 241, reason: .outOfRange(value: 3, allowed: 4...4))) {
            try m1.value(.subnetMask)
        }
        let m3 = try DHCPMessage(parsing: rawDHCP(options: [3, 6, 10, 0, 0, 1, 10, 0, 255]))
        #expect(throws: WireError(field: "option 3", offset: 241, reason: .invalid("length 6, must be a multiple of 4, at least 4"))) {
            try m3.value(.routers)
        }
        let m97 = try DHCPMessage(parsing: rawDHCP(options: [97, 5, 0, 1, 2, 3, 4, 255]))
        #expect(throws: WireError(field: "option 97", offset: 242, reason: .invalid("type 0 needs a 16-byte UUID, got 4 bytes"))) {
            try m97.value(.clientMachineID)
        }
        let m93 = try DHCPMessage(parsing: rawDHCP(options: [93, 3, 0, 7, 0, 255]))
        #expect(throws: WireError(field: "option 93", offset: 241, reason: .invalid("length 3, must be a multiple of 2, at least 2"))) {
            try m93.value(.clientArchitectures)
        }
        // PXE vendor sub-option 6 claims 5 bytes, 1 remains.
        let m43 = try DHCPMessage(parsing: rawDHCP(options: [43, 3, 6, 5, 8, 255]))
        #expect(throws: WireError(field: "option 43.6", offset: 244, reason: .truncated(needed: 5, available: 1))) {
            try m43.value(.pxeVendorOptions)
        }
        let m82 = try DHCPMessage(parsing: rawDHCP(options: [82, 3, 1, 4, 0xaa, 255]))
        #expect(throws: WireError(field: "option 82.1", offset: 244, reason: .truncated(needed: 4, available: 1))) {
            try m82.value(.relayAgentInformation)
        }
        let m61 = try DHCPMessage(parsing: rawDHCP(options: [61, 1, 1, 255]))
        #expect(throws: WireError(field: "option 61", offset: 241, reason: .outOfRange(value: 1, allowed: 2...Int.max))) {
            try m61.value(.clientIdentifier)
        }
    }

    // MARK: Structure

    @Test("a minimal message is padded to the 300-byte BOOTP minimum and ends with one END")
    func padding() throws {
        var m = DHCPMessage(op: .reply, xid: 0x01020304, chaddr: [1, 2, 3, 4, 5, 6])
        try m.setValue(.offer, for: .messageType)
        let bytes = try m.serialized()
        #expect(bytes.count == 300)
        #expect(Array(bytes[236..<244]) == [99, 130, 83, 99, 53, 1, 2, 255])
        #expect(bytes[244...].allSatisfy { $0 == 0 })
        #expect(try DHCPMessage(parsing: bytes) == m)
    }

    @Test("header fields sit at their RFC 2131 offsets")
    func headerOffsets() throws {
        var m = DHCPMessage(op: .request, htype: 1, hlen: 6, hops: 2, xid: 0xAABBCCDD, secs: 0x0102, flags: 0,
                            ciaddr: IPv4Address(10, 0, 0, 1), yiaddr: IPv4Address(10, 0, 0, 2),
                            siaddr: IPv4Address(10, 0, 0, 3), giaddr: IPv4Address(10, 0, 0, 4),
                            chaddr: [0x52, 0x54, 0, 0, 0, 1])
        m.broadcastFlag = true
        m.serverHostName = "srv"
        m.bootFileName = "pxelinux.0"
        let b = try m.serialized()
        #expect(Array(b[0..<4]) == [1, 1, 6, 2])
        #expect(Array(b[4..<8]) == [0xAA, 0xBB, 0xCC, 0xDD])
        #expect(Array(b[8..<12]) == [1, 2, 0x80, 0])
        #expect(Array(b[12..<28]) == [10, 0, 0, 1, 10, 0, 0, 2, 10, 0, 0, 3, 10, 0, 0, 4])
        #expect(Array(b[28..<34]) == [0x52, 0x54, 0, 0, 0, 1])
        #expect(Array(b[44..<48]) == Array("srv".utf8) + [0])
        #expect(Array(b[108..<119]) == Array("pxelinux.0".utf8) + [0])
        let back = try DHCPMessage(parsing: b)
        #expect(back.broadcastFlag)
        #expect(back.clientHardwareAddress == [0x52, 0x54, 0, 0, 0, 1])
        #expect(back.bootFileName == "pxelinux.0")
        #expect(back.serverHostName == "srv")
    }

    @Test("options longer than 255 bytes are split and concatenated (RFC 3396)")
    func longOptions() throws {
        var m = DHCPMessage(op: .reply)
        let long = (0..<300).map { UInt8($0 & 0x7f) }
        m.options[code: 77] = long
        let b = try m.serialized()
        #expect(Array(b[240..<242]) == [77, 255])
        #expect(Array(b[242..<497]) == Array(long[0..<255]))
        #expect(Array(b[497..<499]) == [77, 45])
        #expect(Array(b[499..<544]) == Array(long[255...]))
        #expect(b[544] == 255)
        #expect(try DHCPMessage(parsing: b).options[code: 77] == long)
    }

    @Test("instances spread over options, file and sname are concatenated in that order")
    func concatenationOrder() throws {
        let bytes = rawDHCP(file: [12, 2, 0x63, 0x64, 255], sname: [12, 1, 0x65, 255],
                            options: [53, 1, 1, 12, 2, 0x61, 0x62, 52, 1, 3, 255])
        let m = try DHCPMessage(parsing: bytes)
        #expect(try m.value(.hostName) == "abcde")
        #expect(m.options.codes == [53, 12])
        #expect(m.file.allSatisfy { $0 == 0 })
        #expect(m.bootFileName == nil)
    }

    @Test("serialising within the client's maximum size uses file and sname when needed")
    func overloadOnSerialise() throws {
        var m = DHCPMessage(op: .reply, xid: 7, chaddr: [1, 2, 3, 4, 5, 6])
        try m.setValue(.ack, for: .messageType)
        for code: UInt8 in 100...104 { m.options[code: code] = [UInt8](repeating: code, count: 70) }
        let limit = 548
        // 3 + 5 * 72 = 363 bytes of options: more than 548 - 240 - 1 = 307.
        let b = try m.serialized(maximumSize: limit)
        #expect(b.count <= limit)
        #expect(Array(b[240..<243]) == [52, 1, 1])
        let back = try DHCPMessage(parsing: b)
        #expect(back == m)
        // Too much for options + file + sname: refused, never truncated.
        m.options[code: 105] = [UInt8](repeating: 1, count: 250)
        #expect(throws: WireError.self) { try m.serialized(maximumSize: limit) }
        // A used file field is never overwritten with options.
        m.options[code: 105] = nil
        m.bootFileName = "boot.efi"
        #expect(throws: WireError.self) { try m.serialized(maximumSize: limit) }
        #expect(try m.serialized(maximumSize: 1472 - 28).count > 548)
    }

    @Test("maximumReplySize follows option 57 less IP and UDP headers")
    func maximumReplySize() throws {
        var m = DHCPMessage(op: .request)
        #expect(m.maximumReplySize == 548)
        try m.setValue(1472, for: .maximumMessageSize)
        #expect(m.maximumReplySize == 1444)
        #expect(throws: WireError(field: "option 57", offset: -1, reason: .outOfRange(value: 300, allowed: 576...65535))) {
            try m.setValue(300, for: .maximumMessageSize)
        }
    }

    @Test("serialisation refuses values that would make an invalid packet")
    func refusesInvalid() {
        var m = DHCPMessage(op: .reply)
        m.options[code: 255] = [1]
        #expect(throws: WireError.self) { try m.serialized() }
        m = DHCPMessage(op: .reply)
        m.options[code: 52] = [1]
        #expect(throws: WireError.self) { try m.serialized() }
        m = DHCPMessage(op: .reply)
        m.file = [UInt8](repeating: 0x41, count: 129)
        #expect(throws: WireError(field: "file", offset: 108, reason: .outOfRange(value: 129, allowed: 0...128))) {
            try m.serialized()
        }
        m = DHCPMessage(op: .reply)
        m.options[code: 53] = [1, 2]
        #expect(throws: WireError(field: "option 53", offset: -1, reason: .invalid("length 2, must be 1"))) {
            try m.serialized()
        }
        m = DHCPMessage(op: .reply, hlen: 17)
        #expect(throws: WireError.self) { try m.serialized() }
        m = DHCPMessage(op: .reply)
        #expect(throws: WireError.self) { try m.setValue("a\u{0}b", for: .hostName) }
        #expect(throws: WireError.self) { try m.setValue([], for: .routers) }
        #expect(throws: WireError.self) { try m.setValue(ClientMachineID(type: 0, identifier: [1, 2]), for: .clientMachineID) }
        #expect(throws: WireError.self) { try m.setValue(.rfc3004([[]]), for: .userClass) }
    }

    // MARK: Typed options

    @Test("typed options round-trip through the wire")
    func typedOptions() throws {
        var m = DHCPMessage(op: .reply, chaddr: [0x52, 0x54, 0, 0, 0, 9])
        try m.setValue(.ack, for: .messageType)
        try m.setValue(IPv4Address(10, 77, 0, 1), for: .serverIdentifier)
        try m.setValue(IPv4Address(255, 255, 255, 0), for: .subnetMask)
        try m.setValue([IPv4Address(10, 77, 0, 1)], for: .routers)
        try m.setValue([IPv4Address(10, 77, 0, 1), IPv4Address(10, 77, 0, 2)], for: .domainNameServers)
        try m.setValue("node7", for: .hostName)
        try m.setValue("lab.example", for: .domainName)
        try m.setValue(IPv4Address(10, 77, 0, 255), for: .broadcastAddress)
        try m.setValue(86400, for: .leaseTime)
        try m.setValue(43200, for: .renewalTime)
        try m.setValue(75600, for: .rebindingTime)
        try m.setValue(12, for: .bootFileSize)
        try m.setValue("PXEClient", for: .vendorClassIdentifier)
        try m.setValue("10.77.0.1", for: .tftpServerName)
        try m.setValue("undionly.kpxe", for: .bootfileName)
        try m.setValue(ClientIdentifier(type: 1, identifier: [0x52, 0x54, 0, 0, 0, 9]), for: .clientIdentifier)
        try m.setValue([ClientArchitecture.x64UEFI], for: .clientArchitectures)
        try m.setValue(ClientNetworkInterface(major: 3, minor: 16), for: .clientNetworkInterface)
        try m.setValue([DHCPSubOption(code: 176, data: [1])], for: .iPXEEncapsulated)
        try m.setValue(.rfc3004([Array("iPXE".utf8), Array("x".utf8)]), for: .userClass)
        var pxe = PXEVendorOptions()
        pxe.discoveryControl = [.useBootFile, .disableMulticast]
        try pxe.setBootServers([PXEBootServer(type: 0x8000, addresses: [IPv4Address(10, 77, 0, 1)])])
        try pxe.setBootMenu([PXEBootMenuItem(type: 0x8000, description: "bootd")])
        try pxe.setMenuPrompt(PXEMenuPrompt(timeout: 0, prompt: "PXE"))
        pxe.setBootItem(PXEBootItem(type: 0x8000, layer: 0))
        try m.setValue(pxe, for: .pxeVendorOptions)
        let uuid = try #require(ClientMachineID(uuid: "12345678-9abc-def0-1122-334455667788"))
        try m.setValue(uuid, for: .clientMachineID)
        try m.setValue([1, 3, 6, 43, 60, 66, 67, 97], for: .parameterRequestList)

        let back = try DHCPMessage(parsing: m.serialized())
        #expect(back == m)
        #expect(back.messageType == .ack)
        #expect(try back.value(.serverIdentifier) == IPv4Address(10, 77, 0, 1))
        #expect(try back.value(.domainNameServers)?.count == 2)
        #expect(try back.value(.leaseTime) == 86400)
        #expect(try back.value(.clientArchitectures) == [.x64UEFI])
        #expect(try back.value(.clientNetworkInterface)?.description == "1.3.16")
        #expect(try back.value(.userClass)?.classes == ["iPXE", "x"])
        let pxeBack = try #require(try back.value(.pxeVendorOptions))
        #expect(pxeBack.discoveryControl == [.useBootFile, .disableMulticast])
        #expect(try pxeBack.bootServers() == [PXEBootServer(type: 0x8000, addresses: [IPv4Address(10, 77, 0, 1)])])
        #expect(try pxeBack.bootMenu()?.first?.description == "bootd")
        #expect(try pxeBack.menuPrompt() == PXEMenuPrompt(timeout: 0, prompt: "PXE"))
        #expect(try pxeBack.bootItem() == PXEBootItem(type: 0x8000, layer: 0))
        #expect(try back.value(.clientMachineID)?.uuid == "12345678-9abc-def0-1122-334455667788")
    }

    @Test("PXE vendor options: exact bytes of discovery control 8 (PXE 2.1 section 2.4)")
    func pxeVendorBytes() throws {
        var m = DHCPMessage(op: .reply)
        var pxe = PXEVendorOptions()
        pxe.discoveryControl = .useBootFile
        try m.setValue(pxe, for: .pxeVendorOptions)
        #expect(m.options[code: 43] == [6, 1, 8, 255])
    }

    @Test("UUID in option 97 is in SMBIOS order: first three fields little-endian")
    func uuidByteOrder() throws {
        let id = try #require(ClientMachineID(uuid: "00112233-4455-6677-8899-aabbccddeeff"))
        #expect(id.identifier == [0x33, 0x22, 0x11, 0x00, 0x55, 0x44, 0x77, 0x66,
                                  0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff])
        #expect(id.uuid == "00112233-4455-6677-8899-aabbccddeeff")
        #expect(ClientMachineID(uuid: "not-a-uuid") == nil)
        #expect(ClientMachineID(type: 1, identifier: [1]).uuid == nil)
    }

    @Test("option 77: iPXE's plain string and RFC 3004's list are both read")
    func userClassForms() throws {
        #expect(UserClass(decoding: Array("iPXE".utf8)) == .plain(Array("iPXE".utf8)))
        #expect(UserClass(decoding: Array("iPXE".utf8)).contains("iPXE"))
        #expect(UserClass(decoding: [4] + Array("iPXE".utf8)) == .rfc3004([Array("iPXE".utf8)]))
        #expect(UserClass(decoding: [2, 0x61, 0x62, 1, 0x63]).classes == ["ab", "c"])
        // A zero length item is not RFC 3004: taken as plain.
        #expect(UserClass(decoding: [0, 0x61]) == .plain([0, 0x61]))
    }

    @Test("option 60 in PXE form names the architecture and UNDI version")
    func pxeVendorClass() throws {
        let v = try #require(PXEVendorClass("PXEClient:Arch:00007:UNDI:003000"))
        #expect(v.isPXEClient && v.architecture == .x64UEFI && v.undiMajor == 3 && v.undiMinor == 0)
        let h = try #require(PXEVendorClass("HTTPClient:Arch:00016:UNDI:003001"))
        #expect(h.isHTTPClient && h.architecture == .x64UEFIHTTP && h.architecture!.isHTTPBoot)
        let bare = try #require(PXEVendorClass("PXEClient"))
        #expect(bare.architecture == nil)
        #expect(PXEVendorClass("MSFT 5.0") == nil)
        #expect(PXEVendorClass("PXEClient:Arch:7:UNDI:x")?.architecture == nil)
        #expect(ClientArchitecture.arm64UEFI.description == "ARM 64-bit UEFI")
        #expect(ClientArchitecture(rawValue: 7).fiveDigits == "00007")
        #expect(ClientArchitecture(rawValue: 999).description == "architecture 999")
    }

    @Test("relay agent information sub-options (RFC 3046)")
    func relayAgent() throws {
        let m = try DHCPMessage(parsing: rawDHCP(options: [82, 12, 1, 4, 0, 1, 0, 2, 5, 4, 10, 9, 8, 0, 255]))
        let info = try #require(try m.value(.relayAgentInformation))
        #expect(info.circuitID == [0, 1, 0, 2])
        #expect(info.linkSelection == IPv4Address(10, 9, 8, 0))
        #expect(info.remoteID == nil)
    }

    // MARK: Properties over generated messages

    static func randomMessage(_ g: inout SplitMix64) -> DHCPMessage {
        var m = DHCPMessage(
            op: Bool.random(using: &g) ? .request : .reply,
            htype: UInt8.random(in: 0...255, using: &g), hlen: UInt8.random(in: 0...16, using: &g),
            hops: UInt8.random(in: 0...255, using: &g), xid: UInt32.random(in: 0...UInt32.max, using: &g),
            secs: UInt16.random(in: 0...UInt16.max, using: &g), flags: UInt16.random(in: 0...UInt16.max, using: &g),
            ciaddr: IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g)),
            yiaddr: IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g)),
            siaddr: IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g)),
            giaddr: IPv4Address(UInt32.random(in: 0...UInt32.max, using: &g)),
            chaddr: g.bytes(16))
        if Bool.random(using: &g) { m.sname = g.bytes(64) }
        if Bool.random(using: &g) { m.file = g.bytes(128) }
        var codes = Set<UInt8>()
        for _ in 0..<Int.random(in: 0...12, using: &g) {
            let code = UInt8.random(in: 1...254, using: &g)
            guard code != 52, codes.insert(code).inserted else { continue }
            let n = Int.random(in: 0...10, using: &g) == 0 ? Int.random(in: 256...700, using: &g)
                                                             : Int.random(in: 0...40, using: &g)
            m.options[code: code] = code == 53 ? [UInt8.random(in: 1...9, using: &g)] : g.bytes(n)
        }
        return m
    }

    @Test("parse(serialise(m)) == m over generated messages", arguments: [1, 2, 3, 42, 2026] as [UInt64])
    func roundTrip(seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        for i in 0..<1000 {
            let m = Self.randomMessage(&g)
            let bytes = try m.serialized()
            #expect(bytes.count >= 300)
            let back = try DHCPMessage(parsing: bytes)
            #expect(back == m, "seed \(seed) message \(i)")
            // With a client limit: either it fits (maybe overloaded) and reads back the same,
            // or serialisation refuses.
            let limit = Int.random(in: 548...1500, using: &g)
            if let limited = try? m.serialized(maximumSize: limit) {
                #expect(limited.count <= limit, "seed \(seed) message \(i)")
                #expect(try DHCPMessage(parsing: limited).options == m.options, "seed \(seed) message \(i)")
            } else {
                let optionBytes = try m.options.encodedInstances().reduce(0) { $0 + $1.count }
                #expect(240 + optionBytes + 1 > limit, "seed \(seed) message \(i) refused though it fits")
            }
        }
    }

    @Test("mutated packets never crash the parser or the typed readers", arguments: [7, 8] as [UInt64])
    func mutationsNeverCrash(seed: UInt64) throws {
        var g = SplitMix64(seed: seed)
        var parsed = 0
        for _ in 0..<20_000 {
            var b = try Self.randomMessage(&g).serialized()
            for _ in 0..<Int.random(in: 1...8, using: &g) {
                switch Int.random(in: 0...2, using: &g) {
                case 0: b[Int.random(in: 0..<b.count, using: &g)] = UInt8.random(in: 0...255, using: &g)
                case 1: b.removeLast(Int.random(in: 0...b.count, using: &g) / 4)
                default: if b.count > 240 { b[Int.random(in: 236..<b.count, using: &g)] = [0, 52, 255, 1, 3].randomElement(using: &g)! }
                }
                if b.isEmpty { break }
            }
            guard let m = try? DHCPMessage(parsing: b) else { continue }
            parsed += 1
            _ = try? m.value(.pxeVendorOptions)?.bootServers()
            _ = try? m.value(.pxeVendorOptions)?.bootMenu()
            _ = try? m.value(.relayAgentInformation)
            _ = try? m.value(.clientMachineID)?.uuid
            _ = try? m.value(.userClass)
            _ = try? m.value(.iPXEEncapsulated)
            _ = try? m.value(.clientArchitectures)
            _ = m.maximumReplySize
            _ = try? m.serialized(maximumSize: m.maximumReplySize)
        }
        #expect(parsed > 0)
    }
}
