// swift-tools-version:6.1
// bootd's micro-benchmarks, a package of their own so that the main package's build and
// `swift test` never fetch or build the benchmark framework. See README.md here.
//   cd Benchmarks && swift package benchmark          package-benchmark: throughput, mallocs
//   Benchmarks/instructions/run                       instructions per operation (callgrind)
import PackageDescription

let package = Package(
    name: "bootd-benchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        // Named, so that the identity does not depend on the checkout directory's name.
        .package(name: "bootd", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        // The measured operations, shared by both harnesses so they measure the same code.
        .target(name: "BootBenchKit", dependencies: [
            .product(name: "BootWire", package: "bootd"),
            .product(name: "BootCore", package: "bootd"),
            .product(name: "PcapKit", package: "bootd"),
            .product(name: "PXESimKit", package: "bootd"),
        ]),
        // N iterations of one operation, for instruction counts under callgrind.
        .executableTarget(name: "bootd-instructions", dependencies: ["BootBenchKit"]),
        // package-benchmark suite (the plugin finds targets under Benchmarks/).
        .executableTarget(
            name: "BootBenchmarks",
            dependencies: [
                "BootBenchKit",
                .product(name: "BootWire", package: "bootd"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/BootBenchmarks",
            // The drivers are single-threaded classes captured by package-benchmark's
            // @Sendable closures, which run them on one thread: Swift 5 mode keeps that a warning.
            swiftSettings: [.swiftLanguageMode(.v5)],
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
