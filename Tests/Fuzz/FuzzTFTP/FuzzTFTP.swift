// libFuzzer target for the TFTP parser, option validation and serialiser. See Fuzz/README.md.
//
// Invariants (a violation traps, so libFuzzer saves the input):
// - parsing returns or throws a WireError whose offset lies inside the input;
// - option validation (strict and lenient) returns or throws, and agrees: strict succeeds
//   exactly when lenient rejects nothing;
// - a parsed packet that serialises parses back to the same packet.
import BootWire
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTFTP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    checkTFTP(bytes)
    return 0
}

func checkTFTP(_ bytes: [UInt8]) {
    let packet: TFTPPacket
    do { packet = try TFTPPacket(parsing: bytes) } catch {
        if error.offset < 0 || error.offset > bytes.count {
            fatalError("error offset \(error.offset) outside a \(bytes.count)-byte input: \(error)")
        }
        return
    }
    switch packet {
    case let .readRequest(r), let .writeRequest(r):
        let strict = try? r.transferOptions()
        let lenient = TFTPTransferOptions.validatingLeniently(r.options)
        if (strict != nil) != lenient.rejected.isEmpty {
            fatalError("strict and lenient option validation disagree")
        }
    default: break
    }
    guard let out = try? packet.serialized() else { return }
    guard let back = try? TFTPPacket(parsing: out), back == packet else {
        fatalError("serialised packet does not parse back to the same packet")
    }
}

#if !BOOTD_FUZZING
/// Built without libFuzzer, the target replays inputs: each argument is a file or a
/// directory of files (a corpus, or crash-* files libFuzzer saved).
@main
struct ReplayTFTP {
    static func main() { replayInputs(CommandLine.arguments.dropFirst(), through: checkTFTP) }
}
#endif
