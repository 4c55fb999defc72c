// bootd's micro-benchmarks on package-benchmark: `cd Benchmarks && swift package benchmark`.
// Throughput, wall clock and mallocs per operation of the wire codecs, the engines, a whole
// simulated boot and the configuration parser. The operations are BootBenchKit's, the
// same that Benchmarks/instructions/run counts instructions of. Measured, never asserted.
import Benchmark
import BootBenchKit
import BootWire

let benchmarks: @Sendable () -> Void = {
    let metrics: [BenchmarkMetric] = [.wallClock, .throughput, .mallocCountTotal]
    // Cheap operations run 1000 times per measured iteration; the figures are per operation.
    let perKilo = Benchmark.Configuration(metrics: metrics, scalingFactor: .kilo, maxDuration: .seconds(1))
    let perOne = Benchmark.Configuration(metrics: metrics, scalingFactor: .one, maxDuration: .seconds(1))

    // DHCP decode and encode of each capture's client DISCOVER and REQUEST (Fixtures/pcap,
    // read with PcapKit here, before any measurement).
    let captured: [CapturedDHCPMessage]
    do { captured = try capturedClientMessages() } catch { fatalError("\(error)") }
    for c in captured {
        let bytes = c.bytes
        Benchmark("DHCP decode \(c.name)", configuration: perKilo) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try DHCPMessage(parsing: bytes))
            }
        }
    }
    for c in captured {
        let message = c.message
        Benchmark("DHCP encode \(c.name)", configuration: perKilo) { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(try message.serialized())
            }
        }
    }

    // The engines, event in → actions out. Drivers are built and checked once, here; the
    // measured closures run only the operation.
    let dora: DORADriver
    let block = TFTPWindowDriver(blksize: 1468, windowsize: 1)
    let window = TFTPWindowDriver(blksize: 1468, windowsize: 8)
    let boot = SimulatedBootDriver()
    let ini: INIParseDriver
    do {
        dora = try DORADriver()
        ini = try INIParseDriver()
        try dora.check(); try block.check(); try window.check(); try boot.check(); try ini.check()
    } catch { fatalError("\(error)") }

    Benchmark("DHCPServer DORA (new client)", configuration: perKilo) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(dora.run()) }
    }
    Benchmark("TFTPServer ACK→DATA (blksize 1468)", configuration: perKilo) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(block.run()) }
    }
    Benchmark("TFTPServer ACK→window (blksize 1468, windowsize 8)", configuration: perKilo) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(window.run()) }
    }

    // A whole boot through the daemon composition on SimNet.
    Benchmark("Simulated boot (1 BIOS client, 64 KiB)", configuration: perOne) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(boot.run()) }
    }
    // The same boot without the simulated world's set-up (configuration, SimNet, boot files).
    Benchmark("Simulated boot, run only (1 BIOS client, 64 KiB)", configuration: perOne) { benchmark in
        let scenario = try boot.makeScenario()
        benchmark.startMeasurement()
        blackHole(boot.run(scenario))
    }

    Benchmark("INI parse pybootd-sample.ini", configuration: perOne) { benchmark in
        for _ in benchmark.scaledIterations { blackHole(ini.run()) }
    }
}
