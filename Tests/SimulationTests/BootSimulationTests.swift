import Foundation
import Testing
import BootCore
import BootWire
import PXEClient
import PXESimKit

/// Whole boots of virtual clients through the real daemon composition on SimNet. Every
/// scenario checks its invariants as it runs (no address to two clients, leases inside the
/// pool, every download identical to the served file, sessions end, bounded tables).

func scenario(_ change: (inout ScenarioOptions) -> Void) throws -> ScenarioResult {
    var o = ScenarioOptions()
    change(&o)
    return try Scenario(o).run()
}

/// How many seeds the fault-mix test runs: a few hundred by default, more with
/// BOOTD_SIM_SEEDS=N (e.g. in a nightly job).
let simulationSeeds: Int = ProcessInfo.processInfo.environment["BOOTD_SIM_SEEDS"].flatMap(Int.init) ?? 240

@Suite("Simulated boots")
struct BootSimulationTests {
    @Test("50 mixed clients boot through the daemon: BIOS, UEFI, iPXE and the OS stage")
    func mixedBoot() throws {
        let r = try scenario { $0.clients = 50; $0.seed = 1 }
        #expect(r.violation == nil)
        #expect(r.booted == 50, "\(r.render())")
        // Each persona got what its firmware needs.
        for c in r.clients {
            switch c.persona {
            case .biosPXE: #expect(c.outcome.bootFile == "pxelinux.0"); #expect(c.outcome.bytesReceived == 65536)
            case .uefiPXE: #expect(c.outcome.bootFile == "bootx64.efi"); #expect(c.outcome.negotiated?.windowsize == 4)
            case .iPXE: #expect(c.outcome.httpURL == "http://10.77.0.1/boot.ipxe"); #expect(c.outcome.httpStatus == 200)
            default: break
            }
        }
        // The OS stage kept the address of the PXE stage (sticky binding).
        for c in r.clients where c.index % 5 == 4 {
            #expect(c.outcome.osLeasedAddress == c.outcome.leasedAddress)
        }
        #expect(Set(r.clients.compactMap(\.outcome.leasedAddress)).count == 50)
    }

    @Test("a BIOS storm: each PXE ROM's size probe and download overlap; [tftpd] max_transfers bounds them, the rest retry")
    func transferLimit() throws {
        func storm(_ maxTransfers: Int?) throws -> ScenarioResult {
            try scenario {
                $0.clients = 120; $0.persona = .bios; $0.powerOnSpread = .zero; $0.reboots = 0
                $0.loss = 0; $0.jitter = .zero
                if let maxTransfers {
                    $0.configurationText = demoConfiguration + "\nmax_transfers = \(maxTransfers)\n"
                }
            }
        }
        // The default (4096) holds every probe and every download at once: no RRQ waits.
        let open = try storm(nil)
        #expect(open.violation == nil)
        #expect(open.booted == 120, "\(open.render())")
        #expect(open.tftp?.refusedBusy == 0)
        #expect(open.clients.allSatisfy { $0.outcome.counters.retransmissions == 0 })
        // 100 at once: the RRQs beyond it are dropped, their clients retransmit and still boot.
        let bounded = try storm(100)
        #expect(bounded.violation == nil)
        #expect(bounded.booted == 120, "\(bounded.render())")
        #expect((bounded.tftp?.refusedBusy ?? 0) > 0)
        #expect(bounded.clients.contains { $0.outcome.counters.retransmissions > 0 })
    }

    @Test("the same seed gives the same run, packet for packet; another seed another one")
    func determinism() throws {
        func run(_ seed: UInt64) throws -> (String, [String]) {
            let r = try scenario {
                $0.clients = 12; $0.seed = seed; $0.loss = 0.05; $0.reordering = 0.05; $0.duplication = 0.05
                $0.tracePackets = true; $0.keepServerLog = true
            }
            return (r.render(), r.serverLog)
        }
        let a = try run(42), b = try run(42), c = try run(43)
        #expect(a.0 == b.0)
        #expect(a.1 == b.1)
        #expect(a.1.count > 500)
        #expect(a.1 != c.1)
    }

    @Test("with 20% loss every client still boots (rebooting when its firmware gives up)")
    func lossyNetwork() throws {
        let r = try scenario { $0.clients = 40; $0.seed = 7; $0.loss = 0.2 }
        #expect(r.violation == nil)
        #expect(r.booted == 40, "\(r.render())")
        #expect(r.network.droppedLoss > 0)
        #expect(r.clients.reduce(0) { $0 + $1.outcome.counters.retransmissions } > 0)
    }

    @Test("many seeds and fault mixes: every invariant holds, every client boots",
          arguments: [
            (loss: 0.0, duplication: 0.0, reordering: 0.0),
            (loss: 0.1, duplication: 0.0, reordering: 0.0),
            (loss: 0.0, duplication: 0.2, reordering: 0.0),
            (loss: 0.0, duplication: 0.0, reordering: 0.2),
            (loss: 0.1, duplication: 0.1, reordering: 0.1),
            (loss: 0.3, duplication: 0.05, reordering: 0.05),
          ])
    func faultMixes(_ mix: (loss: Double, duplication: Double, reordering: Double)) throws {
        let runs = max(1, simulationSeeds / 6)
        for seed in 1...UInt64(runs) {
            let r = try scenario {
                $0.clients = 5; $0.seed = seed * 7919; $0.loss = mix.loss
                $0.duplication = mix.duplication; $0.reordering = mix.reordering
                $0.bootFileSize = 16 * 1024; $0.reboots = 6
            }
            #expect(r.violation == nil, "seed \(r.options.seed): \(r.violation ?? "")")
            #expect(r.ok, "\(r.render())")
            if !r.ok { break }
        }
    }

    @Test("the server crashes twice mid-storm: leases survive, no address is given twice, all boot")
    func crashAndRestart() throws {
        let r = try scenario {
            $0.clients = 60; $0.seed = 3; $0.persona = .dhcp
            $0.powerOnSpread = .seconds(20)
            $0.serverCrashes = [.seconds(5), .seconds(12)]
            $0.keepServerLog = true
        }
        #expect(r.serverCrashes == 2)
        #expect(r.violation == nil)
        #expect(r.booted == 60, "\(r.render())")
        #expect(r.serverLog.contains { $0.hasSuffix("server restarted") })
        // The installed OS got the address its PXE stage had, across the restarts.
        for c in r.clients { #expect(c.outcome.osLeasedAddress == c.outcome.leasedAddress) }
    }

    @Test("access = http: denied clients get nothing, the others boot, a slow authority blocks nobody")
    func authority() throws {
        let config = demoConfiguration.replacingOccurrences(of: "access = none", with: "access = http")
            + "\n[http]\nlocation = http://10.77.0.2:8000\npxe = /boot\ndhcp = /linux\ntimeout = 2\n"
        let r = try scenario {
            $0.clients = 20; $0.seed = 5; $0.persona = .bios
            $0.configurationText = config
            $0.deniedClients = [3, 7, 11]
            $0.authorityLatency = .milliseconds(300)
            $0.reboots = 0
        }
        #expect(r.violation == nil)
        #expect(r.booted == 17, "\(r.render())")
        for i in [3, 7, 11] {
            #expect(r.clients[i].outcome.failure == .noOffer)
            #expect(r.clients[i].outcome.leasedAddress == nil)
        }
        #expect((r.dhcp?.refusedByAccess ?? 0) >= 3)
    }

    @Test("an authority that never answers denies the request, and the client is told nothing")
    func authorityTimeouts() throws {
        let config = demoConfiguration.replacingOccurrences(of: "access = none", with: "access = http")
            + "\n[http]\nlocation = http://10.77.0.2:8000\ntimeout = 1\n"
        let r = try scenario {
            $0.clients = 10; $0.seed = 9; $0.persona = .bios
            $0.configurationText = config; $0.authorityTimeoutRate = 1; $0.reboots = 0
        }
        #expect(r.booted == 0)
        #expect((r.dhcp?.authorityFailures ?? 0) > 0)
        #expect(r.violation == nil)
    }

    @Test("a pool smaller than the crowd: the pool is exhausted, counted, and nobody shares an address")
    func smallPool() throws {
        let config = demoConfiguration.replacingOccurrences(of: "pool_count = 4096", with: "pool_count = 8")
        let r = try scenario {
            $0.clients = 12; $0.seed = 2; $0.persona = .bios; $0.configurationText = config; $0.reboots = 0
        }
        #expect(r.booted == 8)
        #expect(r.violation == nil)
        #expect((r.dhcp?.poolExhausted ?? 0) > 0)
        #expect(Set(r.clients.compactMap(\.outcome.leasedAddress)).count == 8)
    }
}
