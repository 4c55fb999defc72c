/// Shared by the test targets.
///
/// SplitMix64 (BootCore's, the one the simulator uses): seeded, so that every property
/// test is reproducible from its seed (print the seed in a failure message).
@_exported import struct BootCore.SplitMix64

extension SplitMix64 {
    public mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) }
    }
}
