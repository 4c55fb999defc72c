// swift-tools-version:6.1
// bootd: a network-boot server (BOOTP/DHCP with PXE, TFTP, HTTP). See README.md and DESIGN.md.
import PackageDescription

let package = Package(
    name: "bootd",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "BootWire", targets: ["BootWire"]),
        .library(name: "PcapKit", targets: ["PcapKit"]),
        .library(name: "BootCore", targets: ["BootCore"]),
        .library(name: "BootNIO", targets: ["BootNIO"]),
        // For Benchmarks/ (a separate package): whole simulated boots.
        .library(name: "PXESimKit", targets: ["PXESimKit"]),
        .executable(name: "bootd", targets: ["bootd"]),
        .executable(name: "pxe-sim", targets: ["pxe-sim"]),
        .executable(name: "bootwire-dump", targets: ["bootwire-dump"]),
        .executable(name: "fuzz-dhcp", targets: ["FuzzDHCP"]),
        .executable(name: "fuzz-tftp", targets: ["FuzzTFTP"]),
        .library(name: "BootHTTP", targets: ["BootHTTP"]),
        .executable(name: "bootd-demo-authority", targets: ["bootd-demo-authority"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // Wire formats only: DHCP/BOOTP/PXE and TFTP. No I/O, no dependencies.
        // Release builds optimise across module boundaries: the engines call BootWire's
        // generic option accessors on every message, and without this they run unspecialised
        // (run-time generic metadata lookups were a visible share of a DORA's profile).
        .target(name: "BootWire", swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
        // Engines, ports, configuration: sans-IO, no networking library.
        .target(name: "BootCore", dependencies: ["BootWire"],
                swiftSettings: [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]),
        // The simulator: deterministic network, virtual time, faults, simulated ports.
        // Release builds drop the dynamic exclusivity checks here: they were ~40% of a
        // simulated boot's time (every class-property access of the event loop). Debug
        // builds, where the tests run, keep them.
        .target(name: "SimNet", dependencies: ["BootCore", "BootWire"], path: "Simulator/SimNet",
                swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]),
        // Virtual boot clients (BIOS PXE, UEFI PXE, iPXE, plain DHCP, TFTP) as sans-IO
        // state machines: over SimNet or real sockets, against any server.
        .target(name: "PXEClient", dependencies: ["BootCore", "BootWire"], path: "Simulator/PXEClient"),
        // Scenarios: virtual clients booting through the daemon composition on SimNet.
        // Also the reports (table, JSON, SVG timeline) and capture replay shared by tests and pxe-sim.
        .target(name: "PXESimKit", dependencies: ["SimNet", "PXEClient", "BootCore", "BootWire", "PcapKit"],
                path: "Simulator/PXESimKit"),
        // The same virtual clients over real sockets (SwiftNIO) against any DHCP/TFTP server.
        .target(name: "PXENet", dependencies: [
            "PXEClient", "PXESimKit", "BootNIO", "BootCore", "BootWire",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], path: "Simulator/PXENet"),
        // pxe-sim: boot virtual clients through the daemon on the simulator, or against a
        // real server (--target); replay captures.
        .executableTarget(name: "pxe-sim", dependencies: [
            "PXESimKit", "PXENet", "BootCore", "BootWire",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Simulator/pxe-sim"),
        // Production ports on SwiftNIO: UDP transport, event-loop clock, local file source,
        // lease file, logging backends, host interfaces. The HTTP pieces live in
        // Sources/BootNIO/HTTP* (separate change).
        .target(name: "BootNIO", dependencies: [
            "BootCore", "BootWire", "PcapKit", "CBootSocket",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The daemon: PyBootd-compatible command line over BootNIO.
        .executableTarget(name: "bootd", dependencies: [
            "BootNIO", "BootHTTP", "BootCore", "BootWire", "PcapKit",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], exclude: ["systemd"]),
        // sendmmsg(2), which Swift's Glibc module does not declare (BootNIO's listening ports).
        .target(name: "CBootSocket"),
        // libpcap, as Debian's libpcap-dev ships it.
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // Reading and writing captures; frames to UDP datagrams.
        .target(name: "PcapKit", dependencies: ["CPcap"]),

        // Decodes the DHCP and TFTP packets of a capture with bootd's parsers.
        .executableTarget(name: "bootwire-dump", dependencies: ["BootWire", "PcapKit"]),

        // libFuzzer targets. Built normally they are replay drivers that run each file
        // named on the command line through the same checks; Tests/Fuzz/README.md has the
        // fuzzing build (-DBOOTD_FUZZING drops the replay main for libFuzzer's).
        .target(name: "FuzzSupport", path: "Tests/Fuzz/FuzzSupport"),
        .executableTarget(name: "FuzzDHCP", dependencies: ["BootWire", "FuzzSupport"], path: "Tests/Fuzz/FuzzDHCP",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(name: "FuzzTFTP", dependencies: ["BootWire", "FuzzSupport"], path: "Tests/Fuzz/FuzzTFTP",
                          swiftSettings: [.unsafeFlags(["-parse-as-library"])]),

        // HTTP on real sockets: the [http] authority client, the remote TFTP root
        // ([tftpd] root = http://...), and the -H / [httpd] file server.
        // The file server is plain NIOHTTP1 (file bodies go out with sendfile); Hummingbird
        // serves only the demo authority.
        .target(name: "BootHTTP", dependencies: [
            "BootCore", "BootWire",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The demo access authority (PyBootd's test server): allows listed MACs/UUIDs.
        .executableTarget(name: "bootd-demo-authority", dependencies: [
            "BootHTTP",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "BootHTTPTests", dependencies: [
            "BootHTTP", "BootCore", "BootWire", "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Helpers shared by test targets (a seeded generator for property tests; blocking
        // work off Swift concurrency's pool).
        .target(name: "TestSupport", dependencies: ["BootCore"], path: "Tests/TestSupport"),
        .testTarget(name: "BootWireTests", dependencies: ["BootWire", "TestSupport"]),
        .testTarget(name: "BootCoreTests", dependencies: ["BootCore"]),
        .testTarget(name: "SimulationTests", dependencies: ["SimNet", "PXEClient", "PXESimKit", "BootCore", "BootWire"]),
        .testTarget(name: "PXEClientTests", dependencies: ["PXEClient", "BootCore", "BootWire"]),
        .testTarget(name: "PcapKitTests", dependencies: ["PcapKit", "TestSupport"]),
        // Replay conformance: captured clients replayed into the daemon composition.
        .testTarget(name: "ReplayTests", dependencies: ["PXESimKit", "BootCore", "BootWire", "PcapKit"]),
        .testTarget(name: "BootNIOTests", dependencies: [
            "BootNIO", "BootCore", "BootWire", "PXEClient", "PcapKit", "TestSupport",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(
            name: "FixtureTests",
            dependencies: ["BootWire", "PcapKit"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
