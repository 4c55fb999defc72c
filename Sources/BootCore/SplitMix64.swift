/// SplitMix64 (Steele, Lea and Flood): a tiny seeded generator. Not for production
/// randomness (bootd's `SystemRandomSource` is the system generator); it makes what must
/// be a pure function of a seed so: the virtual clients, the simulator's streams (which
/// fill their state from it) and the property tests. One definition for all of them.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 { Self.step(&state) }

    /// One step of the sequence on a bare state.
    @inline(__always)
    public static func step(_ state: inout UInt64) -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
