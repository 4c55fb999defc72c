import TestSupport
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Root and `ip netns`: the lab (Tests/Lab/bootd-lab-test) can build its namespaces.
let labAvailable: Bool = {
    guard getuid() == 0, installed("ip"), installed("python3") else { return false }
    return (try? runBlocking("ip", ["netns", "list"]).status) == 0  // evaluated once, before the tests
}()

/// The built bootd against real clients in network namespaces: dhclient and udhcpc (lease and
/// renewal), QEMU's iPXE ROM in BIOS mode (DHCP, HTTP script from bootd -H, TFTP), kill -9
/// and restart keeping every lease, the --capture files in tshark. See the script's header.
@Suite("BootNIO lab: real clients in network namespaces", .serialized)
struct LabTests {
    // Skipped unless root with a working `ip netns` (namespaces and tap devices need root);
    // the script itself prints "SKIP: <reason>" and succeeds when a client or QEMU is missing.
    @Test("bootd-lab-test passes every check",
          .enabled(if: bootdBinary != nil, "bootd not built"),
          .enabled(if: labAvailable, "needs root and `ip netns` (network namespaces): run swift test as root"),
          .timeLimit(.minutes(3)))
    func lab() async throws {
        let script = repositoryRoot + "/Tests/Lab/bootd-lab-test"
        let r = try await runWithDeadline(script, [bootdBinary!], seconds: 170)
        print(r.output)
        if r.output.hasPrefix("SKIP:") { print("bootd-lab-test skipped: \(r.output)") }
        #expect(r.status == 0, "bootd-lab-test exited with \(r.status):\n\(r.output)")
    }
}

/// Every example configuration run as a user would on 192.168.50.0/24 in namespaces: a real
/// DHCP client gets the lease and boot file the example promises, the file downloads, and
/// SIGTERM stops bootd with status 0 (Tests/Lab/bootd-examples-test).
@Suite("BootNIO lab: each example configuration serves real clients", .serialized)
struct ExampleLabTests {
    @Test("bootd-examples-test passes every check",
          .enabled(if: bootdBinary != nil, "bootd not built"),
          .enabled(if: labAvailable, "needs root and `ip netns` (network namespaces): run swift test as root"),
          .timeLimit(.minutes(3)))
    func examples() async throws {
        let script = repositoryRoot + "/Tests/Lab/bootd-examples-test"
        let binDir = (bootdBinary! as NSString).deletingLastPathComponent
        let r = try await runWithDeadline(script, [binDir], seconds: 170)
        print(r.output)
        if r.output.hasPrefix("SKIP:") { print("bootd-examples-test skipped: \(r.output)") }
        #expect(r.status == 0, "bootd-examples-test exited with \(r.status):\n\(r.output)")
    }
}

/// Runs a program with a deadline (SIGTERM, then its teardown trap runs), combined output.
func runWithDeadline(_ path: String, _ args: [String], seconds: Double) async throws -> (status: Int32, output: String) {
    try await onThread { Result { try runWithDeadlineBlocking(path, args, seconds: seconds) } }.get()
}

private func runWithDeadlineBlocking(_ path: String, _ args: [String], seconds: Double) throws -> (status: Int32, output: String) {
    // The test process blocks most signals and Process() passes its mask on: through exec,
    // bash could not trap SIGTERM nor udhcpc/bootd be stopped by it (the lab then hangs).
    // python3 (a prerequisite of the lab) clears the mask and restores default dispositions.
    let reset = "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); "
        + "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE)]; "
        + "os.execv(sys.argv[1], sys.argv[1:])"
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    p.arguments = ["-c", reset, path] + args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let pid = p.processIdentifier
    let timer = DispatchWorkItem { kill(pid, SIGTERM) }
    DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: timer)
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    timer.cancel()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}
