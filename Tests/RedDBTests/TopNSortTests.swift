import Testing
import RedCore
@testable import RedDB

/// ORDER BY … LIMIT keeps only LIMIT + OFFSET rows while sorting (`SortNode.topN`). Whatever
/// the keys, ties, NULLs, directions, limits and offsets, the rows must be the full sort's
/// (stable: ties in input order) sliced as LIMIT/OFFSET slice them.
@Suite struct TopNSortTests {
    @Test func topNIsTheFullSortSliced() async throws {
        let s = try await Database.inMemory().session()
        _ = try await s.execute("CREATE TABLE t (id int PRIMARY KEY, a int, b text)")
        var random = VectorSearchTests.Generator(state: 0x70B_450_47)  // replayable
        var values: [String] = []
        for id in 1...300 {
            let a = Int.random(in: 0..<6, using: &random) == 0 ? "NULL" : String(Int.random(in: 0..<20, using: &random))
            let b = Int.random(in: 0..<6, using: &random) == 0 ? "NULL" : "'\(["x", "y", "z"][Int.random(in: 0..<3, using: &random)])'"
            values.append("(\(id), \(a), \(b))")
        }
        _ = try await s.execute("INSERT INTO t VALUES " + values.joined(separator: ", "))
        let orders = ["a", "a DESC", "a NULLS FIRST", "a DESC NULLS LAST", "b, a DESC", "a + 0", "b DESC, a NULLS FIRST", "lower(b)"]
        for _ in 0..<60 {
            let order = orders[Int.random(in: 0..<orders.count, using: &random)]
            let base = "SELECT id, a, b FROM t\(Int.random(in: 0..<3, using: &random) == 0 ? " WHERE a > 5" : "") ORDER BY \(order)"
            let all = try await s.execute(base).rows.map { $0.map(\.displayText) }
            let limit = [0, 1, 2, 7, 50, 299, 300, 1000][Int.random(in: 0..<8, using: &random)]
            let offset = [0, 0, 1, 3, 290][Int.random(in: 0..<5, using: &random)]
            let sql = base + " LIMIT \(limit)" + (offset > 0 ? " OFFSET \(offset)" : "")
            let got = try await s.execute(sql).rows.map { $0.map(\.displayText) }
            #expect(got == Array(all.dropFirst(offset).prefix(limit)), "\(sql)")
        }
        let plan = try await s.execute("EXPLAIN SELECT id FROM t ORDER BY a LIMIT 3").rows.map { $0.map(\.displayText).joined() }.joined(separator: "\n")
        #expect(plan.contains("Sort (top-N heapsort)"))
        // LIMIT NULL and LIMIT ALL return every row; a parameter limit is read when the sort opens.
        #expect(try await s.execute("SELECT id FROM t ORDER BY a LIMIT NULL").rows.count == 300)
        #expect(try await s.execute("SELECT id FROM t ORDER BY a LIMIT ALL").rows.count == 300)
        #expect(try await s.execute("SELECT id FROM t ORDER BY a, id LIMIT $1 OFFSET $2", parameters: [.integer(2), .integer(1)]).rows.count == 2)
        await #expect(throws: RedError.self) { try await s.execute("SELECT id FROM t ORDER BY a LIMIT -1") }
        // A LIMIT that is not the same when evaluated twice is left to LimitNode alone.
        _ = try await s.execute("CREATE SEQUENCE s")
        #expect(try await s.execute("SELECT id FROM t ORDER BY a, id LIMIT nextval('s')").rows.count == 1)
        #expect(try await s.execute("SELECT currval('s')").rows[0][0].displayText == "1")
        #expect(try await s.execute("EXPLAIN SELECT id FROM t ORDER BY a LIMIT nextval('s')").rows.map { $0.map(\.displayText).joined() }.joined().contains("top-N") == false)
        #expect(try await s.execute("SELECT id FROM t ORDER BY a LIMIT 9223372036854775807 OFFSET 1").rows.count == 299)
        // DISTINCT ON sits between the sort and the LIMIT: the sort keeps every row.
        let distinct = try await s.execute("SELECT DISTINCT ON (b) b, id FROM t ORDER BY b, id LIMIT 3").rows.map { $0.map(\.displayText) }
        #expect(distinct.count == 3 && distinct.map { $0[0] } == ["x", "y", "z"])
    }
}
