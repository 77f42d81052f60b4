import RedCore
import Synchronization

/// What `setseed(x)` gives a session: `random()` calls that repeat. PostgreSQL keeps one
/// generator per backend; a session here keeps this one, and until `setseed` is called
/// `random()` draws from the system's generator instead (unpredictable, as PostgreSQL's is
/// seeded from a strong source at start). The values differ from PostgreSQL's (its generator
/// is an implementation detail); what holds is that one seed gives one sequence.
///
/// The generator is SplitMix64 (Steele, Lea and Flood, 2014): 64 bits of state, a full
/// period, and good enough statistics for sampling and test data.
public final class SessionRandom: Sendable {
    private let state = Mutex<UInt64?>(nil)

    public init() {}

    /// `setseed(x)`, for x in [-1, 1] (22023 outside, as PostgreSQL).
    func seed(_ x: Double) throws {
        guard x >= -1, x <= 1 else {
            throw RedError(.invalidArgument, "setseed parameter \(Value.float(x).displayText) is out of allowed range [-1,1]")
        }
        state.withLock { $0 = UInt64(bitPattern: Int64(x * Double(Int64.max / 2))) }
    }

    /// The next value in [0, 1): the seeded sequence's, or the system's when never seeded.
    func next() -> Double {
        let bits: UInt64? = state.withLock { s in
            guard var z = s else { return nil }
            z &+= 0x9E37_79B9_7F4A_7C15
            s = z
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        guard let bits else { return Double.random(in: 0..<1) }
        return Double(bits >> 11) * 0x1p-53  // the top 53 bits: every double in [0, 1) a multiple of 2^-53
    }

    /// `random()` and `setseed(x)` (void, sent as NULL). A statement without a session (nil
    /// `ExecutionContext.random`) draws from the system's generator, and cannot seed it.
    static var functions: [ScalarFunction] {
        [
            ScalarFunction(name: "random", arity: 0...0, acceptsNull: false, isDeterministicWithinStatement: false) { _, c in
                .float(c.random?.next() ?? Double.random(in: 0..<1))
            },
            ScalarFunction(name: "setseed", arity: 1...1, acceptsNull: false, isDeterministicWithinStatement: false) { a, c in
                guard let x = a[0].doubleValue else { throw RedError(.datatypeMismatch, "setseed expects a number, got \(a[0].kindName)") }
                guard let random = c.random else { throw RedError(.featureNotSupported, "setseed needs a session") }
                try random.seed(x)
                return .null
            },
        ]
    }
}
