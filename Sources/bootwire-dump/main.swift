// bootwire-dump: decode the DHCP/BOOTP/PXE and TFTP packets of a capture with bootd's own
// parsers, one line each (like `tshark`, but with bootd's view of every field and its
// exact error for a packet it refuses). With --corpus DIR it also writes each payload as
// a seed input for the fuzz targets (DIR/corpus-dhcp, DIR/corpus-tftp).
//
//   bootwire-dump [-v] [--corpus DIR] FILE.pcap|FILE.pcapng...
import BootWire
import PcapKit
#if canImport(Glibc)
import Glibc
#endif

var verbose = false
var corpus: String?
var files: [String] = []
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "-v", "--verbose": verbose = true
    case "--corpus":
        guard let d = args.popFirst() else { fail("--corpus needs a directory") }
        corpus = d
    case "-h", "--help":
        print("usage: bootwire-dump [-v] [--corpus DIR] FILE.pcap...")
        exit(0)
    default:
        if a.hasPrefix("-") { fail("unknown option \(a)") }
        files.append(a)
    }
}
if files.isEmpty { fail("usage: bootwire-dump [-v] [--corpus DIR] FILE.pcap...") }

func fail(_ message: String) -> Never {
    eprint("bootwire-dump: \(message)\n")
    exit(2)
}

func eprint(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

func hex(_ bytes: [UInt8]) -> String {
    bytes.map { b in (b < 16 ? "0" : "") + String(b, radix: 16) }.joined()
}

func printable(_ bytes: [UInt8]) -> String {
    if bytes.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return "\"" + String(decoding: bytes, as: UTF8.self) + "\"" }
    return "0x" + hex(bytes)
}

@MainActor func describeDHCP(_ m: DHCPMessage) -> String {
    var parts = [m.messageType.map(\.description) ?? (m.op == .request ? "BOOTREQUEST" : "BOOTREPLY")]
    parts.append("xid=0x" + String(m.xid, radix: 16))
    parts.append("chaddr=" + m.clientHardwareAddress.map { (($0 < 16) ? "0" : "") + String($0, radix: 16) }.joined(separator: ":"))
    if m.ciaddr != .any { parts.append("ciaddr=\(m.ciaddr)") }
    if m.yiaddr != .any { parts.append("yiaddr=\(m.yiaddr)") }
    if m.siaddr != .any { parts.append("siaddr=\(m.siaddr)") }
    if m.giaddr != .any { parts.append("giaddr=\(m.giaddr)") }
    if m.broadcastFlag { parts.append("broadcast") }
    if let f = m.bootFileName { parts.append("file=\"\(f)\"") }
    for o in m.options {
        switch o.code {
        case 53: continue
        case 60: if let v = try? m.value(.vendorClassIdentifier) { parts.append("60=\"\(v)\"") }
        case 93: if let a = try? m.value(.clientArchitectures) { parts.append("93=[\(a.map(\.description).joined(separator: ","))]") }
        case 94: if let n = try? m.value(.clientNetworkInterface) { parts.append("94=\(n)") }
        case 97: if let id = try? m.value(.clientMachineID) { parts.append("97=\(id.uuid ?? hex(id.identifier))") }
        case 77: if let u = try? m.value(.userClass) { parts.append("77=\(u.classes)") }
        case 54, 50, 1, 28:
            parts.append("\(o.code)=\(IPv4Address(bytes: o.data).map(\.description) ?? hex(o.data))")
        default:
            if verbose { parts.append("\(o.code)=\(printable(o.data))") }
        }
    }
    if !verbose { parts.append("options=\(m.options.codes)") }
    return "DHCP " + parts.joined(separator: " ")
}

func describeTFTP(_ p: TFTPPacket) -> String {
    switch p {
    case let .readRequest(r), let .writeRequest(r):
        let kind = p.opcode == .readRequest ? "RRQ" : "WRQ"
        let name = r.filename.map { "\"\($0)\"" } ?? hex(r.filenameBytes)
        return "TFTP \(kind) \(name) \(r.mode.rawValue) " + r.options.map(\.description).joined(separator: " ")
    case let .data(block, payload): return "TFTP DATA #\(block) \(payload.count) bytes"
    case let .ack(block): return "TFTP ACK #\(block)"
    case let .error(e): return "TFTP ERROR \(e.code.rawValue) \"\(e.message)\""
    case let .optionAck(opts): return "TFTP OACK " + opts.map(\.description).joined(separator: " ")
    }
}

var seeds = 0
@MainActor func writeSeed(_ kind: String, _ payload: [UInt8]) {
    guard let dir = corpus else { return }
    let path = "\(dir)/corpus-\(kind)"
    mkdir(dir, 0o755); mkdir(path, 0o755)
    // Name by content so reruns do not multiply the corpus.
    var h: UInt64 = 0xcbf29ce484222325
    for b in payload { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    guard let f = fopen("\(path)/\(kind)-\(String(h, radix: 16))", "wb") else { fail("cannot write in \(path)") }
    _ = payload.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
    seeds += 1
}

var status: Int32 = 0
for file in files {
    let datagrams: [UDPDatagram]
    do { datagrams = try udpDatagrams(inFile: file) } catch {
        eprint("bootwire-dump: \(error)\n")
        status = 1
        continue
    }
    print("# \(file): \(datagrams.count) UDP datagrams")
    var tftpPeers = Set<UDPEndpoint>()
    let start = datagrams.first?.timestamp
    for d in datagrams {
        let t = start.map { d.timestamp.duration(since: $0) } ?? .zero
        let (s, atto) = t.components
        let ms = Int(atto / 1_000_000_000_000_000)
        let time = "\(s).\(String(1000 + ms).dropFirst())"
        let route = "\(d.source) > \(d.destination)"
        let ports = [d.source.port, d.destination.port]
        let line: String
        if ports.contains(67) || ports.contains(68) {
            writeSeed("dhcp", d.payload)
            do { line = describeDHCP(try DHCPMessage(parsing: d.payload)) } catch {
                line = "DHCP malformed: \(error)"; status = 1
            }
        } else if d.destination.port == 69 || tftpPeers.contains(d.source) || tftpPeers.contains(d.destination) {
            writeSeed("tftp", d.payload)
            do {
                let p = try TFTPPacket(parsing: d.payload)
                if case .readRequest = p { tftpPeers.insert(d.source) }
                line = describeTFTP(p)
            } catch {
                line = "TFTP malformed: \(error)"; status = 1
            }
        } else {
            continue
        }
        print("\(time) \(route) \(line)")
    }
}
if corpus != nil { print("# wrote \(seeds) seed inputs under \(corpus!)") }
exit(status)
