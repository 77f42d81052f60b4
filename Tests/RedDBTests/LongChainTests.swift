import Testing
import RedCore
import RedDB

/// Left-deep chains (`1 + 1 + …`, `x = 1 OR x = 2 …`, `UNION` after `UNION`, join after join)
/// are built by a loop in the parser, but binding, planning and evaluating them recurse once
/// per link. With no limit, a statement of a few hundred kilobytes of `+1` overflowed the
/// stack and took the server down; now a chain deeper than `max_expression_depth` (2,500)
/// is a 42601 error, and a long one under it runs in full.
@Suite struct LongChainTests {
    @Test func chainsUnderTheLimitRunAndLongerOnesAreRefused() async throws {
        let db = try await Database.inMemory()
        let s = db.session()
        try await s.execute("CREATE TABLE t (x INT)")
        try await s.execute("INSERT INTO t VALUES (1), (2), (3)")

        let sum = "SELECT " + Array(repeating: "1", count: 900).joined(separator: " + ")
        #expect(try await s.execute(sum).rows == [[.integer(900)]])
        let ors = "SELECT x FROM t WHERE " + (4...900).map { "x = \($0)" }.joined(separator: " OR ") + " OR x = 2"
        #expect(try await s.execute(ors).rows == [[.integer(2)]])
        let concatenated = "SELECT " + Array(repeating: "'a'", count: 900).joined(separator: " || ")
        #expect(try await s.execute(concatenated).rows == [[.text(String(repeating: "a", count: 900))]])
        let unions = Array(repeating: "SELECT 1", count: 300).joined(separator: " UNION ALL ")
        #expect(try await s.execute("SELECT count(*) FROM (\(unions)) u").rows == [[.integer(300)]])

        for tooLong in [
            "SELECT " + Array(repeating: "1", count: 200_000).joined(separator: "+"),
            "SELECT x FROM t WHERE " + Array(repeating: "x=1", count: 100_000).joined(separator: " OR "),
            Array(repeating: "SELECT 1", count: 50_000).joined(separator: " UNION "),
            "SELECT 1 FROM " + Array(repeating: "t", count: 50_000).joined(separator: ", "),
            "SELECT 1 FROM t" + String(repeating: " CROSS JOIN t", count: 50_000),
        ] {
            #expect(await sqlState { try await s.execute(tooLong) } == "42601")
        }
    }
}
