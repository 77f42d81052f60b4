import RedCore
import Testing

/// A repeated object key keeps its last value, moved to the end, however many keys the
/// object has (past 16 the parser finds repeats through an index rather than a scan, which
/// made objects of many keys quadratic).
@Suite struct JSONDuplicateKeyTests {
    /// The rule stated plainly, for comparison.
    static func expected(_ pairs: [(String, Int)]) -> [(String, Int)] {
        var out: [(String, Int)] = []
        for (key, value) in pairs {
            out.removeAll { $0.0 == key }
            out.append((key, value))
        }
        return out
    }

    @Test(arguments: [3, 15, 16, 17, 40, 3_000])
    func lastValueWinsAndMovesToTheEnd(_ distinct: Int) throws {
        var generator = SplitMix(seed: UInt64(distinct))
        let pairs = (0..<(distinct * 2)).map { i in ("k\(Int(generator.next() % UInt64(distinct)))", i) }
        let text = "{" + pairs.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        guard case .object(let members) = try JSONValue.parse(text) else { Issue.record("not an object"); return }
        let want = Self.expected(pairs)
        #expect(members.map(\.0) == want.map(\.0))
        #expect(members.map(\.1) == want.map { JSONValue.integer(Int64($0.1)) })
    }

    struct SplitMix {
        var state: UInt64
        init(seed: UInt64) { state = seed }
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }
}
