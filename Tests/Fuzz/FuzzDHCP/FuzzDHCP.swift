// libFuzzer target for the DHCP parser and serialiser. See Fuzz/README.md.
//
// Invariants checked on every input (a violation traps, so libFuzzer saves the input):
// - parsing returns or throws a WireError, never traps or hangs;
// - every typed option reader returns or throws, never traps;
// - a parsed message serialises, and the result parses back to the same message;
// - serialising within the client's maximum size never exceeds it.
import BootWire
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDHCP(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    checkDHCP(bytes)
    return 0
}

func checkDHCP(_ bytes: [UInt8]) {
    guard let m = try? DHCPMessage(parsing: bytes) else { return }
    _ = try? m.value(.subnetMask)
    _ = try? m.value(.routers)
    _ = try? m.value(.domainNameServers)
    _ = try? m.value(.hostName)
    _ = try? m.value(.leaseTime)
    _ = try? m.value(.parameterRequestList)
    _ = try? m.value(.maximumMessageSize)
    _ = try? m.value(.vendorClassIdentifier).flatMap { PXEVendorClass($0) }
    _ = try? m.value(.clientIdentifier)
    _ = try? m.value(.userClass)?.classes
    _ = try? m.value(.relayAgentInformation)?.linkSelection
    _ = try? m.value(.clientArchitectures)?.map(\.description)
    _ = try? m.value(.clientNetworkInterface)
    _ = try? m.value(.clientMachineID)?.uuid
    _ = try? m.value(.iPXEEncapsulated)
    if let pxe = try? m.value(.pxeVendorOptions) {
        _ = try? pxe.bootServers(); _ = try? pxe.bootMenu(); _ = try? pxe.menuPrompt(); _ = try? pxe.bootItem()
    }
    let out: [UInt8]
    do { out = try m.serialized() } catch {
        fatalError("a parsed message failed to serialise: \(error)")
    }
    guard let back = try? DHCPMessage(parsing: out), back == m else {
        fatalError("serialised message does not parse back to the same message")
    }
    let limit = m.maximumReplySize
    if let limited = try? m.serialized(maximumSize: limit), limited.count > max(limit, 300) {
        fatalError("serialised \(limited.count) bytes past the limit of \(limit)")
    }
}

#if !BOOTD_FUZZING
/// Built without libFuzzer, the target replays inputs: each argument is a file or a
/// directory of files (a corpus, or crash-* files libFuzzer saved).
@main
struct ReplayDHCP {
    static func main() { replayInputs(CommandLine.arguments.dropFirst(), through: checkDHCP) }
}
#endif
