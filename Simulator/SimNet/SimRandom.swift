import BootCore

/// A seeded generator: xoshiro256** (Blackman and Vigna), its state filled by SplitMix64
/// from the seed. Every random choice of a simulated run comes from one of these, so a run
/// is a pure function of its seed.
///
/// Streams fork by label and index (`fork("client", 7)`): a fork depends only on the
/// parent's *seed* and the label, never on how much of the parent was consumed, so adding
/// a client or drawing one more number somewhere does not change another stream.
public final class SimRandom: RandomNumberGenerator, RandomSource {
    /// The seed this stream was made from (for reports: a failing seed is a reproduction).
    public let seed: UInt64
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        self.seed = seed
        var sm = seed
        s0 = SimRandom.splitMix(&sm); s1 = SimRandom.splitMix(&sm)
        s2 = SimRandom.splitMix(&sm); s3 = SimRandom.splitMix(&sm)
        if s0 | s1 | s2 | s3 == 0 { s0 = 1 }  // xoshiro's one forbidden state
    }

    @inline(__always)
    static func splitMix(_ state: inout UInt64) -> UInt64 { SplitMix64.step(&state) }

    /// An independent stream named `label` (and `index`): same parent seed, same label and
    /// index → same stream. The label is hashed with FNV-1a (stable across runs, unlike
    /// `Hasher`).
    public func fork(_ label: String, _ index: UInt64 = 0) -> SimRandom {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in label.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        var m = seed ^ 0x5851_F42D_4C95_7F2D
        var x = SimRandom.splitMix(&m) ^ h
        x = SimRandom.splitMix(&x) ^ index
        return SimRandom(seed: SimRandom.splitMix(&x))
    }

    @inline(__always)
    public func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in 0 ..< `bound` (Lemire's multiply-shift with rejection); 0 when bound is 0.
    @inline(__always)
    public func below(_ bound: UInt64) -> UInt64 {
        guard bound > 0 else { return 0 }
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return m.high
    }

    /// Uniform in [0, 1) with 53 bits.
    @inline(__always)
    public func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// True with probability `p`. Draws nothing when `p` ≤ 0 or ≥ 1.
    @inline(__always)
    public func chance(_ p: Double) -> Bool {
        if p <= 0 { return false }
        if p >= 1 { return true }
        return unit() < p
    }

    /// `count` random bytes.
    public func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](); out.reserveCapacity(count)
        while out.count < count {
            var v = next()
            for _ in 0..<min(8, count - out.count) { out.append(UInt8(truncatingIfNeeded: v)); v >>= 8 }
        }
        return out
    }
}

