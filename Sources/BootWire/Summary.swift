// One-line descriptions of packets, for logs, traces and bootwire-dump.

extension DHCPMessage {
    /// `DISCOVER xid=0x… chaddr=… 60="PXEClient:…" 93=[x64 UEFI] …`; with `verbose`, every
    /// option, otherwise the notable ones and the list of option codes.
    public func summary(verbose: Bool = false) -> String {
        var parts = [messageType.map(\.description) ?? (op == .request ? "BOOTREQUEST" : "BOOTREPLY")]
        parts.append("xid=0x" + String(xid, radix: 16))
        parts.append("chaddr=" + clientHardwareAddress.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: ":"))
        if ciaddr != .any { parts.append("ciaddr=\(ciaddr)") }
        if yiaddr != .any { parts.append("yiaddr=\(yiaddr)") }
        if siaddr != .any { parts.append("siaddr=\(siaddr)") }
        if giaddr != .any { parts.append("giaddr=\(giaddr)") }
        if broadcastFlag { parts.append("broadcast") }
        if let f = bootFileName { parts.append("file=\"\(f)\"") }
        for o in options {
            switch o.code {
            case 53: continue
            case 60: if let v = try? value(.vendorClassIdentifier) { parts.append("60=\"\(v)\"") }
            case 93: if let a = try? value(.clientArchitectures) { parts.append("93=[\(a.map(\.description).joined(separator: ","))]") }
            case 94: if let n = try? value(.clientNetworkInterface) { parts.append("94=\(n)") }
            case 97: if let id = try? value(.clientMachineID) { parts.append("97=\(id.uuid ?? wireHex(id.identifier))") }
            case 77: if let u = try? value(.userClass) { parts.append("77=\(u.classes)") }
            case 67: if let f = try? value(.bootfileName) { parts.append("67=\"\(f)\"") }
            case 54, 50, 1, 28:
                parts.append("\(o.code)=\(IPv4Address(bytes: o.data).map(\.description) ?? wireHex(o.data))")
            default:
                if verbose { parts.append("\(o.code)=\(wirePrintable(o.data))") }
            }
        }
        if !verbose { parts.append("options=\(options.codes)") }
        return "DHCP " + parts.joined(separator: " ")
    }
}

extension TFTPPacket {
    /// `RRQ "file" octet blksize=1468`, `DATA #3 1468 bytes`, `ACK #3`, `ERROR 1 "…"`, `OACK …`.
    public var summary: String {
        switch self {
        case let .readRequest(r), let .writeRequest(r):
            let kind = opcode == .readRequest ? "RRQ" : "WRQ"
            let name = r.filename.map { "\"\($0)\"" } ?? wireHex(r.filenameBytes)
            return (["TFTP \(kind) \(name) \(r.mode.rawValue)"] + r.options.map(\.description)).joined(separator: " ")
        case let .data(block, payload): return "TFTP DATA #\(block) \(payload.count) bytes"
        case let .ack(block): return "TFTP ACK #\(block)"
        case let .error(e): return "TFTP ERROR \(e.code.rawValue) \"\(e.message)\""
        case let .optionAck(opts): return (["TFTP OACK"] + opts.map(\.description)).joined(separator: " ")
        }
    }
}

func wireHex(_ bytes: [UInt8]) -> String {
    bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

func wirePrintable(_ bytes: [UInt8]) -> String {
    if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return "\"" + String(decoding: bytes, as: UTF8.self) + "\"" }
    return "0x" + wireHex(bytes)
}
