// bootd-demo-authority: the example HTTP access authority for `[http]` / `access = http`.
//
//   bootd-demo-authority --port 8000 --allow AA-BB-CC-DD-EE-FF=node1 \
//       --allow 4c4c4544-0035-4210-8047-b3c04f4e3432=node2,pxelinux.0 --list allowed.txt
//
// Allows the listed MACs and UUIDs on /boot (PXE phase) and /linux (OS phase), answering
// 200 with `Client: NAME` (and `File: NAME`) lines; 401 for everyone else.
import BootHTTP
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
typealias Glibc = Darwin
#endif

let usage = """
    usage: bootd-demo-authority [--host ADDRESS] [--port PORT] [--allow MAC_OR_UUID[=HOSTNAME[,FILE]]]...
                                [--list FILE] [--pxe-path /boot] [--dhcp-path /linux] [--delay SECONDS]
      --allow   may be repeated; --list reads one `KEY [HOSTNAME [FILE]]` a line (# comments)
    """

func fail(_ message: String) -> Never {
    FileHandleStderr.write("bootd-demo-authority: \(message)\n\(usage)\n")
    exit(2)
}

enum FileHandleStderr {
    static func write(_ s: String) { _ = s.withCString { Glibc.write(2, $0, strlen($0)) } }
}

func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

var host = "0.0.0.0", port = 8000
var authority = DemoAuthority(allowed: [:])
var args = CommandLine.arguments.dropFirst()
@MainActor func value(_ flag: String) -> String {
    guard let v = args.popFirst() else { fail("\(flag) needs a value") }
    return v
}
while let arg = args.popFirst() {
    switch arg {
    case "--host": host = value(arg)
    case "--port": guard let p = Int(value(arg)), (0...65535).contains(p) else { fail("bad --port") }; port = p
    case "--allow":
        do { let (k, e) = try DemoAuthority.parseAllow(value(arg)); authority.allowed[k] = e } catch { fail("\(error)") }
    case "--list":
        let path = value(arg)
        guard let text = readFile(path) else { fail("cannot read \(path)") }
        do { authority.allowed.merge(try DemoAuthority.parseList(text)) { $1 } } catch { fail("\(path): \(error)") }
    case "--pxe-path": authority.pxePath = value(arg)
    case "--dhcp-path": authority.dhcpPath = value(arg)
    case "--delay": guard let d = Double(value(arg)), d >= 0 else { fail("bad --delay") }; authority.delay = .milliseconds(Int(d * 1000))
    case "-h", "--help": print(usage); exit(0)
    default: fail("unknown argument \(arg)")
    }
}

LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
do {
    try await authority.run(host: host, port: port)
} catch {
    fail("\(error)")
}
