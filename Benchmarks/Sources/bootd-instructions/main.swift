// bootd-instructions OPERATION N: runs N iterations of one operation, for instruction
// counts under callgrind (Benchmarks/instructions/run runs it at two N and takes the
// difference, which cancels start-up and set-up). Every operation is checked once before
// the loop, so a count is never that of a broken operation.
//   dora         DISCOVER → OFFER, REQUEST → ACK through DHCPServer, for a new client,
//                with bootd's default log level (info: an OFFER and an ACK line built)
//   dora-quiet   the same at log level warning (no per-message line), as the peers benchmark runs
//   tftp-block   TFTPServer: ACK in → DATA out (blksize 1468, windowsize 1)
//   tftp-window  TFTPServer: ACK in → 8 DATA out (blksize 1468, windowsize 8)
//   sim-boot     a whole simulated boot through BootDaemon (1 BIOS client, 64 KiB file),
//                the simulated world's set-up included
//   sim-boot-run the same; instructions/run counts only Scenario.run() (callgrind's
//                --toggle-collect), i.e. the boot without the set-up
//   ini-parse    Fixtures/config/pybootd-sample.ini through ConfigurationLoader
import BootBenchKit

#if canImport(Glibc)
import Glibc
#endif

let operations = ["dora", "dora-quiet", "tftp-block", "tftp-window", "sim-boot", "sim-boot-run", "ini-parse"]
let args = CommandLine.arguments
guard args.count == 3, operations.contains(args[1]), let n = Int(args[2]), n >= 0 else {
    print("usage: bootd-instructions \(operations.joined(separator: "|")) N")
    exit(2)
}

/// Keeps results alive so the optimiser cannot drop the work.
var sink = 0

do {
    switch args[1] {
    case "dora", "dora-quiet":
        let d = try DORADriver(logLevel: args[1] == "dora" ? .info : .warning)
        try d.check()
        for _ in 0..<n { sink &+= d.run() }
        guard n == 0 || sink == 2 * n else { throw BenchmarkSetupError("dora: \(sink) replies for \(n) DORAs") }
    case "tftp-block", "tftp-window":
        let windowsize = args[1] == "tftp-block" ? 1 : 8
        let d = TFTPWindowDriver(blksize: 1468, windowsize: windowsize)
        try d.check()
        for _ in 0..<n { sink &+= d.run() }
        guard sink == windowsize * n else { throw BenchmarkSetupError("\(args[1]): \(sink) blocks for \(n) windows") }
    case "sim-boot", "sim-boot-run":
        let d = SimulatedBootDriver()
        try d.check()
        for _ in 0..<n { sink &+= d.run() }
        guard sink == n else { throw BenchmarkSetupError("sim-boot: \(sink) of \(n) booted") }
    default:
        let d = try INIParseDriver()
        try d.check()
        for _ in 0..<n { sink &+= d.run() }
        guard sink == n else { throw BenchmarkSetupError("ini-parse: \(sink) of \(n) parsed") }
    }
} catch {
    print("bootd-instructions: \(error)")
    exit(1)
}
print("\(args[1]) \(n) ok")
