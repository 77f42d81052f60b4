import RedCore

/// `FROM t TABLESAMPLE {BERNOULLI | SYSTEM} (percent) [REPEATABLE (seed)]`: each row of `t` kept
/// with probability `percent` / 100, as PostgreSQL's sampling methods keep them.
///
/// The parser makes the item `(SELECT * FROM t WHERE __tablesample(method, percent, seed, t)) AS
/// t`, so the sample filters the scan and the rest of the query sees an ordinary table. Without
/// REPEATABLE each row is kept by a draw of the session's `random()` (so `setseed` repeats it);
/// with it, by a hash of the seed and the row's values, so the same seed picks the same rows
/// while the table is unchanged. Differences from PostgreSQL: SYSTEM samples rows, not pages
/// (each row is kept or not on its own, as with BERNOULLI), the rows a seed picks are not
/// PostgreSQL's (and rows of equal values are kept or dropped together: the hash reads values,
/// and a column named as the table stands for its row), and a view may be sampled too.
enum TableSample {
    static let functionName = "__tablesample"
    static let methods: Set<String> = ["bernoulli", "system"]

    static var function: ScalarFunction {
        ScalarFunction(name: functionName, arity: 5...5, acceptsNull: true, isDeterministicWithinStatement: false) { a, c in
            // (method, percent, seed, REPEATABLE given, the row)
            if a[1].isNull { throw RedError(.invalidArgument, "TABLESAMPLE parameter cannot be null") }
            if a[3] == .boolean(true), a[2].isNull { throw RedError(.invalidArgument, "TABLESAMPLE REPEATABLE parameter cannot be null") }
            guard let percent = a[1].doubleValue, percent >= 0, percent <= 100 else {
                throw RedError(.invalidArgument, "sample percentage must be between 0 and 100", condition: "2202H")
            }
            if percent == 100 { return .boolean(true) }
            let draw: Double
            if a[2].isNull {
                draw = c.random?.next() ?? Double.random(in: 0..<1)
            } else {
                guard let seed = a[2].doubleValue else { throw RedError(.datatypeMismatch, "REPEATABLE expects a number, got \(a[2].kindName)") }
                draw = hashedDraw(seed: seed, row: a[4])
            }
            return .boolean(draw * 100 < percent)
        }
    }

    /// A number in [0, 1) from `seed` and the row's values: FNV-1a over both, then SplitMix64's
    /// finalizer to spread the bits.
    static func hashedDraw(seed: Double, row: Value) -> Double {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ byte: UInt8) { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        withUnsafeBytes(of: seed.bitPattern) { for byte in $0 { mix(byte) } }
        for byte in row.displayText.utf8 { mix(byte) }
        var z = hash
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) * 0x1p-53
    }
}
