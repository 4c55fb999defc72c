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
            do { line = try DHCPMessage(parsing: d.payload).summary(verbose: verbose) } catch {
                line = "DHCP malformed: \(error)"; status = 1
            }
        } else if d.destination.port == 69 || tftpPeers.contains(d.source) || tftpPeers.contains(d.destination) {
            writeSeed("tftp", d.payload)
            do {
                let p = try TFTPPacket(parsing: d.payload)
                if case .readRequest = p { tftpPeers.insert(d.source) }
                line = p.summary
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
