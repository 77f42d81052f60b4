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
        // Keys repeat in a scattered order: i × a prime, modulo the number of distinct keys.
        let pairs = (0..<(distinct * 2)).map { i in ("k\(i * 7_919 % distinct)", i) }
        let text = "{" + pairs.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
        guard case .object(let members) = try JSONValue.parse(text) else { Issue.record("not an object"); return }
        let want = Self.expected(pairs)
        #expect(members.map(\.0) == want.map(\.0))
        #expect(members.map(\.1) == want.map { JSONValue.integer(Int64($0.1)) })
    }
}
